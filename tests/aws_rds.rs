//! aws:rds/* through the engine against moto: subnet and parameter groups, an
//! Aurora PostgreSQL cluster with a writer and a reader, a plain PostgreSQL
//! instance. Create (tags in the create call), update in place, replace,
//! out-of-band drift read, no-op preview, delete; validation before any call.
//! Real-AWS behaviour, one test each: calls refused while an object is busy
//! (moto's fault switch), automatic minor upgrades, and the AWS-like mode's
//! transitions and conflicts. What moto never shows (modifying after a
//! modify, storage-optimization, pending changes, creating without an
//! endpoint) and the calls moto gets wrong run against aws-smithy-mocks.

mod support;

use std::sync::Arc;

use morket_stack::model::{HasUrn, Input, ResourceArgs, ResourceOptions, Stack, Urn};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::iam::role::Role;
use morket_stack::provider::aws::rds::cluster::DbCluster;
use morket_stack::provider::aws::rds::cluster_instance::DbClusterInstance;
use morket_stack::provider::aws::rds::cluster_parameter_group::DbClusterParameterGroup;
use morket_stack::provider::aws::rds::instance::DbInstance;
use morket_stack::provider::aws::rds::parameter_group::DbParameterGroup;
use morket_stack::provider::aws::rds::subnet_group::DbSubnetGroup;
use morket_stack::provider::aws::rds::{self as rds, Parameter};
use morket_stack::provider::aws::{self, Aws};
use morket_stack::provider::{Ctx, ProviderError};
use morket_stack::retry::RetryPolicy;
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{
    create_security_group, create_subnet, create_vpc, ctx, offline_engine, registry, settings,
    step, tag_urn, Env, STACK, TIME_SCALE,
};

async fn env() -> Env {
    Env::new(settings()).await
}

/// What these tests look up in moto beyond the shared set-up.
trait RdsEnv {
    fn rds(&self) -> aws_sdk_rds::Client;
    /// A VPC with three subnets in three zones.
    async fn subnets(&self) -> Vec<String>;
    async fn security_group(&self, name: &str) -> String;
    async fn tags(&self, arn: &str) -> aws::tags::Tags;
    async fn cluster(&self, id: &str) -> Option<aws_sdk_rds::types::DbCluster>;
    async fn instance(&self, id: &str) -> Option<aws_sdk_rds::types::DbInstance>;
    /// The user-set parameters of a cluster parameter group, sorted.
    async fn cluster_params(&self, group: &str) -> Vec<(String, String)>;
    /// The user-set parameters of a parameter group, sorted.
    async fn instance_params(&self, group: &str) -> Vec<(String, String)>;
}

impl RdsEnv for Env {
    fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.conf)
    }

    async fn subnets(&self) -> Vec<String> {
        let vpc = create_vpc(&self.ec2, "10.0.0.0/16").await;
        let mut out = Vec::new();
        for (i, az) in ["us-east-1a", "us-east-1b", "us-east-1c"]
            .iter()
            .enumerate()
        {
            out.push(create_subnet(&self.ec2, &vpc, &format!("10.0.{i}.0/24"), Some(az)).await);
        }
        out
    }

    async fn security_group(&self, name: &str) -> String {
        create_security_group(&self.ec2, name, "db", None).await
    }

    async fn tags(&self, arn: &str) -> aws::tags::Tags {
        rds::from_tags(
            self.rds()
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .unwrap()
                .tag_list(),
        )
    }

    async fn cluster(&self, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
        self.rds()
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .ok()
            .and_then(|o| o.db_clusters().first().cloned())
    }

    async fn instance(&self, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
        self.rds()
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .ok()
            .and_then(|o| o.db_instances().first().cloned())
    }

    async fn cluster_params(&self, group: &str) -> Vec<(String, String)> {
        let out = self
            .rds()
            .describe_db_cluster_parameters()
            .db_cluster_parameter_group_name(group)
            .source("user")
            .send()
            .await
            .unwrap();
        name_values(out.parameters())
    }

    async fn instance_params(&self, group: &str) -> Vec<(String, String)> {
        let out = self
            .rds()
            .describe_db_parameters()
            .db_parameter_group_name(group)
            .source("user")
            .send()
            .await
            .unwrap();
        name_values(out.parameters())
    }
}

fn name_values(ps: &[aws_sdk_rds::types::Parameter]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = ps
        .iter()
        .map(|p| {
            (
                p.parameter_name().unwrap().to_string(),
                p.parameter_value().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pv(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

// ---------------------------------------------------------------- groups

struct Groups {
    sng: DbSubnetGroup,
    cpg: DbClusterParameterGroup,
    pg: DbParameterGroup,
    pg_opts: ResourceOptions,
}

fn groups_stack(g: &Groups) -> (Stack, Urn, Urn, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let a = st.root().resource("db", g.sng.clone()).unwrap();
    let b = st.root().resource("cluster-params", g.cpg.clone()).unwrap();
    let c = st
        .root()
        .resource_with("params", g.pg.clone(), g.pg_opts.clone())
        .unwrap();
    (st, a.urn().clone(), b.urn().clone(), c.urn().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_and_parameter_groups_lifecycle() {
    let mut e = env().await;
    let subnets = e.subnets().await;

    let mut sng = DbSubnetGroup::new(
        "morket-db",
        vec![subnets[0].clone().into(), subnets[1].clone().into()],
    );
    sng.tags.insert("Name".into(), "morket-db".into());
    let mut cpg = DbClusterParameterGroup::new("morket-cluster", "aurora-postgresql15");
    cpg.parameters = vec![Parameter::new("log_min_duration_statement", "500")];
    cpg.tags.insert("Name".into(), "cluster-params".into());
    let mut pg = DbParameterGroup::new("morket-pg", "postgres15");
    let mut wm = Parameter::new("work_mem", "4096");
    wm.apply_method = "pending-reboot".into();
    pg.parameters = vec![wm];
    let mut g = Groups {
        sng,
        cpg,
        pg,
        pg_opts: ResourceOptions::new(),
    };

    // Create, with every tag in the create call.
    let (s1, u_sng, u_cpg, u_pg) = groups_stack(&g);
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 3);
    let out = e.outputs(&u_sng);
    assert_eq!(out["name"], "morket-db");
    let live = e
        .rds()
        .describe_db_subnet_groups()
        .db_subnet_group_name("morket-db")
        .send()
        .await
        .unwrap();
    let live = &live.db_subnet_groups()[0];
    let mut ids: Vec<&str> = live
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    ids.sort();
    let mut want = vec![subnets[0].as_str(), subnets[1].as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(out["vpc_id"].as_str(), live.vpc_id());
    let t = e.tags(out["arn"].as_str().unwrap()).await;
    assert_eq!(t["Name"], "morket-db");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), u_sng.as_str());
    assert_eq!(t["morket:stack"], STACK);
    let t = e.tags(e.outputs(&u_cpg)["arn"].as_str().unwrap()).await;
    assert_eq!(tag_urn(&t["morket:urn"]), u_cpg.as_str());
    let t = e.tags(e.outputs(&u_pg)["arn"].as_str().unwrap()).await;
    assert_eq!(tag_urn(&t["morket:urn"]), u_pg.as_str());
    assert_eq!(
        e.cluster_params("morket-cluster").await,
        pv(&[("log_min_duration_statement", "500")])
    );
    assert_eq!(
        e.instance_params("morket-pg").await,
        pv(&[("work_mem", "4096")])
    );
    e.no_changes(&s1).await;

    // Update in place: description (subnet group), parameter values, a new
    // parameter, tags. (Subnet changes: see the mock test, moto loses the group.)
    // (The description goes through ModifyDBSubnetGroup, which moto gets wrong.)
    g.sng.tags.insert("Name".into(), "renamed".into());
    g.cpg.parameters = vec![
        Parameter::new("log_min_duration_statement", "1000"),
        Parameter::new("log_connections", "1"),
    ];
    g.cpg.tags.insert("Tier".into(), "db".into());
    g.pg.parameters[0].value = "8192".into();
    g.pg.tags.insert("Tier".into(), "db".into());
    let (s2, ..) = groups_stack(&g);
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &u_sng).action, Action::Update);
    assert_eq!(step(&plan, &u_sng).changed, vec!["tags"]);
    assert_eq!(step(&plan, &u_cpg).action, Action::Update);
    assert_eq!(step(&plan, &u_pg).action, Action::Update);
    assert_eq!(
        e.tags(e.outputs(&u_sng)["arn"].as_str().unwrap()).await["Name"],
        "renamed"
    );
    assert_eq!(
        e.cluster_params("morket-cluster").await,
        pv(&[
            ("log_connections", "1"),
            ("log_min_duration_statement", "1000")
        ])
    );
    assert_eq!(
        e.instance_params("morket-pg").await,
        pv(&[("work_mem", "8192")])
    );
    let t = e.tags(e.outputs(&u_cpg)["arn"].as_str().unwrap()).await;
    assert_eq!(
        (t["Tier"].as_str(), t["Name"].as_str()),
        ("db", "cluster-params")
    );
    e.no_changes(&s2).await;

    // Out-of-band change, then a read returns the live value.
    e.rds()
        .modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name("morket-cluster")
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("log_connections")
                .parameter_value("0")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await
        .unwrap();
    e.rds()
        .add_tags_to_resource()
        .resource_name(e.outputs(&u_pg)["arn"].as_str().unwrap())
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("Owner")
                .value("ops")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let read = e.read(&u_cpg).await.expect("live");
    assert_eq!(
        read["parameters"],
        json!([
            {"name": "log_min_duration_statement", "value": "1000", "apply_method": "immediate"},
            {"name": "log_connections", "value": "0", "apply_method": "immediate"},
        ])
    );
    let read = e.read(&u_pg).await.expect("live");
    assert_eq!(read["tags"], json!({"Owner": "ops", "Tier": "db"}));
    assert_eq!(read["family"], "postgres15");
    // AWS does not return apply_method; the declared one stands.
    assert_eq!(
        read["parameters"],
        json!([{"name": "work_mem", "value": "8192", "apply_method": "pending-reboot"}])
    );

    // Force-new: new names (create before delete), a new family (delete first:
    // the name stays).
    g.sng.name = "morket-db-2".into();
    g.cpg.name = "morket-cluster-2".into();
    g.pg.family = "postgres16".into();
    g.pg_opts = ResourceOptions::new().delete_before_replace(true);
    let (s3, ..) = groups_stack(&g);
    let plan = e.up(&s3).await;
    assert_eq!(step(&plan, &u_sng).action, Action::Replace);
    assert_eq!(step(&plan, &u_sng).replace_fields, vec!["name"]);
    assert_eq!(step(&plan, &u_cpg).action, Action::Replace);
    assert_eq!(step(&plan, &u_pg).action, Action::Replace);
    assert_eq!(step(&plan, &u_pg).replace_fields, vec!["family"]);
    let names: Vec<String> = e
        .rds()
        .describe_db_subnet_groups()
        .send()
        .await
        .unwrap()
        .db_subnet_groups()
        .iter()
        .filter_map(|g| g.db_subnet_group_name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["morket-db-2"], "old group deleted, one new");
    assert!(e
        .rds()
        .describe_db_cluster_parameter_groups()
        .db_cluster_parameter_group_name("morket-cluster")
        .send()
        .await
        .is_err());
    let cpgs = e
        .rds()
        .describe_db_cluster_parameter_groups()
        .db_cluster_parameter_group_name("morket-cluster-2")
        .send()
        .await
        .unwrap();
    assert_eq!(cpgs.db_cluster_parameter_groups().len(), 1);
    let pgs = e
        .rds()
        .describe_db_parameter_groups()
        .db_parameter_group_name("morket-pg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        pgs.db_parameter_groups()[0].db_parameter_group_family(),
        Some("postgres16")
    );
    assert_eq!(
        e.instance_params("morket-pg").await,
        pv(&[("work_mem", "8192")])
    );
    e.no_changes(&s3).await;

    // Delete.
    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e
        .rds()
        .describe_db_subnet_groups()
        .send()
        .await
        .unwrap()
        .db_subnet_groups()
        .is_empty());
    for name in ["morket-cluster-2"] {
        assert!(e
            .rds()
            .describe_db_cluster_parameter_groups()
            .db_cluster_parameter_group_name(name)
            .send()
            .await
            .is_err());
    }
    // moto answers an unknown name with an empty list, AWS with DBParameterGroupNotFound.
    assert!(e
        .rds()
        .describe_db_parameter_groups()
        .db_parameter_group_name("morket-pg")
        .send()
        .await
        .map(|o| o.db_parameter_groups().is_empty())
        .unwrap_or(true));
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- Aurora

struct Aurora {
    cluster: DbCluster,
    writer: DbClusterInstance,
    reader: DbClusterInstance,
}

struct AuroraUrns {
    sng: Urn,
    cluster: Urn,
    writer: Urn,
    reader: Urn,
}

fn aurora_stack(subnets: &[String], a: &Aurora) -> (Stack, AuroraUrns) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let sng = root
        .resource(
            "db",
            DbSubnetGroup::new(
                "aurora-db",
                subnets.iter().map(|s| s.clone().into()).collect(),
            ),
        )
        .unwrap();
    let cpg = root
        .resource(
            "cluster-params",
            DbClusterParameterGroup::new("aurora-params", "aurora-postgresql15"),
        )
        .unwrap();
    let mut c = a.cluster.clone();
    c.db_subnet_group_name = Some(sng.name().into());
    c.db_cluster_parameter_group_name = Some(cpg.name().into());
    let cluster = root.resource("main", c).unwrap();
    let mut w = a.writer.clone();
    w.cluster_identifier = cluster.cluster_identifier().into();
    let writer = root.resource("writer", w).unwrap();
    let mut r = a.reader.clone();
    r.cluster_identifier = cluster.cluster_identifier().into();
    // The reader comes after the writer, so the writer is the first instance.
    let reader = root
        .resource_with("reader", r, ResourceOptions::new().depends_on(&writer))
        .unwrap();
    let urns = AuroraUrns {
        sng: sng.urn().clone(),
        cluster: cluster.urn().clone(),
        writer: writer.urn().clone(),
        reader: reader.urn().clone(),
    };
    (st, urns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_cluster_with_writer_and_reader() {
    let mut e = env().await;
    let subnets = e.subnets().await;
    let sg = e.security_group("aurora").await;

    let mut cluster = DbCluster::new("morket-aurora", "morket_admin");
    cluster.engine_version = Some("15.4".into());
    cluster.database_name = Some("morket".into());
    cluster.backup_retention_period = 7;
    cluster.preferred_backup_window = Some("03:00-04:00".into());
    cluster.deletion_protection = true;
    cluster.skip_final_snapshot = true;
    cluster.tags.insert("Name".into(), "morket-aurora".into());
    let writer = DbClusterInstance::new("morket-aurora-1", "x", "db.r6g.large");
    let mut reader = DbClusterInstance::new("morket-aurora-2", "x", "db.r6g.large");
    reader.promotion_tier = 1;
    let mut a = Aurora {
        cluster,
        writer,
        reader,
    };

    // Create.
    let (s1, u) = aurora_stack(&subnets, &a);
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 5);
    let c = e.cluster("morket-aurora").await.expect("cluster");
    assert_eq!(c.engine(), Some("aurora-postgresql"));
    assert_eq!(c.engine_version(), Some("15.4"));
    assert_eq!(c.database_name(), Some("morket"));
    assert_eq!(c.db_subnet_group(), Some("aurora-db"));
    assert_eq!(c.db_cluster_parameter_group(), Some("aurora-params"));
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.deletion_protection(), Some(true));
    assert_eq!(c.backup_retention_period(), Some(7));
    let t = rds::from_tags(c.tag_list());
    assert_eq!(t["Name"], "morket-aurora");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), u.cluster.as_str());
    let out = e.outputs(&u.cluster);
    let secret = c.master_user_secret().and_then(|s| s.secret_arn()).unwrap();
    assert_eq!(out["master_user_secret_arn"], secret);
    assert!(secret.starts_with("arn:aws:secretsmanager:"));
    assert_eq!(out["endpoint"].as_str(), c.endpoint());
    assert_eq!(out["reader_endpoint"].as_str(), c.reader_endpoint());
    assert_eq!(out["port"], 5432);
    assert_eq!(out["arn"].as_str(), c.db_cluster_arn());
    assert_eq!(
        out["cluster_resource_id"].as_str(),
        c.db_cluster_resource_id()
    );
    let w = e.outputs(&u.writer);
    let r = e.outputs(&u.reader);
    assert_eq!(w["writer"], true);
    assert_eq!(r["writer"], false);
    assert!(w["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("morket-aurora-1."));
    assert_eq!(w["port"], 5432);
    let wi = e.instance("morket-aurora-1").await.unwrap();
    assert_eq!(wi.db_cluster_identifier(), Some("morket-aurora"));
    assert_eq!(
        tag_urn(&rds::from_tags(wi.tag_list())["morket:urn"]),
        u.writer.as_str()
    );
    assert_eq!(wi.publicly_accessible(), Some(false));
    e.no_changes(&s1).await;

    // A major version upgrade without allow_major_version_upgrade fails, naming the field.
    a.cluster.engine_version = Some("16.1".into());
    let (s_bad, _) = aurora_stack(&subnets, &a);
    let msg = e.up_failing(&s_bad).await;
    assert!(
        msg.contains("engine_version") && msg.contains("allow_major_version_upgrade"),
        "{msg}"
    );
    assert_eq!(
        e.cluster("morket-aurora").await.unwrap().engine_version(),
        Some("15.4")
    );

    // Update in place.
    a.cluster.allow_major_version_upgrade = true;
    a.cluster.apply_immediately = true;
    a.cluster.backup_retention_period = 14;
    a.cluster.preferred_backup_window = Some("05:00-05:30".into());
    a.cluster.preferred_maintenance_window = Some("sun:07:00-sun:08:00".into());
    a.cluster.vpc_security_group_ids = vec![sg.clone().into()];
    a.cluster.deletion_protection = false;
    a.cluster.tags.insert("Name".into(), "renamed".into());
    a.reader.instance_class = "db.r6g.xlarge".into();
    a.reader.promotion_tier = 2;
    a.reader.tags.insert("Role".into(), "reader".into());
    let (s2, _) = aurora_stack(&subnets, &a);
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &u.cluster).action, Action::Update);
    assert_eq!(step(&plan, &u.reader).action, Action::Update);
    assert!(plan
        .steps
        .iter()
        .all(|s| s.urn != u.writer && s.urn != u.sng));
    let c = e.cluster("morket-aurora").await.unwrap();
    assert_eq!(c.engine_version(), Some("16.1"));
    assert_eq!(c.backup_retention_period(), Some(14));
    assert_eq!(c.preferred_backup_window(), Some("05:00-05:30"));
    assert_eq!(
        c.preferred_maintenance_window(),
        Some("sun:07:00-sun:08:00")
    );
    assert_eq!(
        c.vpc_security_groups()[0].vpc_security_group_id(),
        Some(sg.as_str())
    );
    assert_eq!(c.deletion_protection(), Some(false));
    assert_eq!(rds::from_tags(c.tag_list())["Name"], "renamed");
    assert_eq!(e.outputs(&u.cluster)["engine_version"], "16.1");
    let ri = e.instance("morket-aurora-2").await.unwrap();
    assert_eq!(ri.db_instance_class(), Some("db.r6g.xlarge"));
    assert_eq!(ri.promotion_tier(), Some(2));
    assert_eq!(rds::from_tags(ri.tag_list())["Role"], "reader");
    e.no_changes(&s2).await;

    // Out-of-band change, then a read returns the live value.
    e.rds()
        .modify_db_cluster()
        .db_cluster_identifier("morket-aurora")
        .backup_retention_period(21)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    e.rds()
        .modify_db_instance()
        .db_instance_identifier("morket-aurora-1")
        .db_instance_class("db.r6g.2xlarge")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let read = e.read(&u.cluster).await.expect("live");
    assert_eq!(read["backup_retention_period"], 21);
    assert_eq!(read["engine_version"], "16.1");
    assert_eq!(read["tags"], json!({"Name": "renamed"}));
    let read = e.read(&u.writer).await.expect("live");
    assert_eq!(read["instance_class"], "db.r6g.2xlarge");
    assert_eq!(read["cluster_identifier"], "morket-aurora");

    // Force-new on an instance: a new identifier replaces it.
    a.reader.identifier = "morket-aurora-3".into();
    let (s3, _) = aurora_stack(&subnets, &a);
    let plan = e.up(&s3).await;
    assert_eq!(step(&plan, &u.reader).action, Action::Replace);
    assert_eq!(step(&plan, &u.reader).replace_fields, vec!["identifier"]);
    assert!(
        e.instance("morket-aurora-2").await.is_none(),
        "old reader gone"
    );
    let ri = e.instance("morket-aurora-3").await.unwrap();
    assert_eq!(ri.db_cluster_identifier(), Some("morket-aurora"));
    let c = e.cluster("morket-aurora").await.unwrap();
    let members: Vec<&str> = c
        .db_cluster_members()
        .iter()
        .filter_map(|m| m.db_instance_identifier())
        .collect();
    assert_eq!(members.len(), 2, "{members:?}");
    assert_eq!(e.outputs(&u.reader)["writer"], false);
    e.no_changes(&s3).await;

    // Delete: instances before the cluster, the cluster waited out.
    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.cluster("morket-aurora").await.is_none());
    assert!(e
        .rds()
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

fn cluster_stack(c: &DbCluster, opts: ResourceOptions) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource_with("main", c.clone(), opts).unwrap();
    (st, r.urn().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_deletion_protection_and_replacement() {
    let mut e = env().await;
    let mut c = DbCluster::new("morket-a", "morket_admin");
    c.deletion_protection = true;
    c.final_snapshot_identifier = Some("morket-a-final".into());
    let (s1, u) = cluster_stack(&c, ResourceOptions::new());
    e.up(&s1).await;
    assert_eq!(e.id(&u), "morket-a");

    // Destroy refuses while deletion protection is on, and says why.
    let (_, report) = e.eng.destroy(&s1, &e.cancel).await.unwrap();
    assert!(!report.is_success());
    let msg = format!("{:?}", report.ops[0].status);
    assert!(msg.contains("deletion_protection"), "{msg}");
    assert!(e.cluster("morket-a").await.is_some());

    // The plan turns protection off first; then deletes go through.
    c.deletion_protection = false;
    let (s2, _) = cluster_stack(&c, ResourceOptions::new());
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &u).changed, vec!["deletion_protection"]);
    assert_eq!(
        e.cluster("morket-a").await.unwrap().deletion_protection(),
        Some(false)
    );

    // Force-new: a new identifier replaces the cluster (create before delete);
    // the old one leaves a final snapshot.
    c.cluster_identifier = "morket-b".into();
    c.final_snapshot_identifier = Some("morket-b-final".into());
    let (s3, _) = cluster_stack(&c, ResourceOptions::new());
    let plan = e.up(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert_eq!(step(&plan, &u).replace_fields, vec!["cluster_identifier"]);
    assert_eq!(e.id(&u), "morket-b");
    assert!(e.cluster("morket-a").await.is_none(), "old cluster gone");
    assert!(e.cluster("morket-b").await.is_some());
    let snaps = e
        .rds()
        .describe_db_cluster_snapshots()
        .send()
        .await
        .unwrap();
    assert!(snaps
        .db_cluster_snapshots()
        .iter()
        .any(|s| s.db_cluster_snapshot_identifier() == Some("morket-a-final")));

    // (Force-new with the same identifier, delete first, is not run here: moto
    // names the automatic snapshot rds:<id>-<minute> and refuses a second
    // cluster of the same identifier within the minute.)
    e.no_changes(&s3).await;

    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.cluster("morket-b").await.is_none());

    // A protection set outside the engine: AWS refuses; the error says what to do.
    let c2 = DbCluster::new("morket-c", "morket_admin");
    let (s5, u5) = cluster_stack(&c2, ResourceOptions::new());
    e.up(&s5).await;
    e.rds()
        .modify_db_cluster()
        .db_cluster_identifier("morket-c")
        .deletion_protection(true)
        .send()
        .await
        .unwrap();
    let rec = e.st.resource(&u5).unwrap().unwrap();
    let err = e
        .reg
        .get(DbCluster::TYPE)
        .unwrap()
        .delete(&ctx(&u5), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Fatal(m) if m.contains("deletion_protection")),
        "{err:?}"
    );
}

/// Snapshots carry the tags and the PostgreSQL log goes to CloudWatch: both
/// sent on create, read back (no change on the next plan), and the flag
/// turned off in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_snapshot_tags_and_log_exports() {
    let mut e = env().await;
    let mut c = DbCluster::new("morket-logs", "morket_admin");
    c.copy_tags_to_snapshot = true;
    c.enabled_cloudwatch_logs_exports = vec!["postgresql".into()];
    c.skip_final_snapshot = true;
    let (s1, u) = cluster_stack(&c, ResourceOptions::new());
    e.up(&s1).await;
    let live = e.cluster("morket-logs").await.unwrap();
    assert_eq!(live.copy_tags_to_snapshot(), Some(true));
    assert_eq!(live.enabled_cloudwatch_logs_exports(), ["postgresql"]);
    e.no_changes(&s1).await;
    c.copy_tags_to_snapshot = false;
    let (s2, _) = cluster_stack(&c, ResourceOptions::new());
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(step(&plan, &u).changed, vec!["copy_tags_to_snapshot"]);
    assert_eq!(
        e.cluster("morket-logs")
            .await
            .unwrap()
            .copy_tags_to_snapshot(),
        Some(false)
    );
    // A log type of the other engine is refused before any call.
    c.enabled_cloudwatch_logs_exports = vec!["slowquery".into()];
    let msg = preview_error(c).await;
    assert!(
        msg.contains("enabled_cloudwatch_logs_exports[0]") && msg.contains("slowquery"),
        "{msg}"
    );
    destroy(&mut e, &s2).await;
}

// ---------------------------------------------------------------- PostgreSQL

fn pg_stack(subnets: &[String], d: &DbInstance) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let sng = root
        .resource(
            "db",
            DbSubnetGroup::new("pg-db", subnets.iter().map(|s| s.clone().into()).collect()),
        )
        .unwrap();
    let pg = root
        .resource("params", DbParameterGroup::new("pg-params", "postgres15"))
        .unwrap();
    let mut d = d.clone();
    d.db_subnet_group_name = Some(sng.name().into());
    d.parameter_group_name = Some(pg.name().into());
    let r = root.resource("postgres", d).unwrap();
    (st, r.urn().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instance_lifecycle() {
    let mut e = env().await;
    let subnets = e.subnets().await;
    let sg = e.security_group("pg").await;
    const PW: &str = "first-Secret-1";

    let mut d = DbInstance::new("morket-pg", "db.t4g.micro", 20, "morket", Input::secret(PW));
    d.engine_version = Some("15.4".into());
    d.db_name = Some("morket".into());
    d.skip_final_snapshot = true;
    d.apply_immediately = true;
    d.tags.insert("Name".into(), "morket-pg".into());
    let (s1, u) = pg_stack(&subnets, &d);
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 3);
    let i = e.instance("morket-pg").await.unwrap();
    assert_eq!(i.engine(), Some("postgres"));
    assert_eq!(i.storage_type(), Some("gp3"));
    assert_eq!(i.allocated_storage(), Some(20));
    assert_eq!(i.storage_encrypted(), Some(true));
    assert_eq!(i.db_name(), Some("morket"));
    assert_eq!(i.master_username(), Some("morket"));
    assert_eq!(
        i.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some("pg-db")
    );
    assert_eq!(
        i.db_parameter_groups()[0].db_parameter_group_name(),
        Some("pg-params")
    );
    let t = rds::from_tags(i.tag_list());
    assert_eq!(t["Name"], "morket-pg");
    assert_eq!(tag_urn(&t["morket:urn"]), u.as_str());
    let rec = e.st.resource(&u).unwrap().unwrap();
    let address = i.endpoint().unwrap().address().unwrap();
    assert_eq!(rec.outputs["address"], address);
    assert_eq!(rec.outputs["endpoint"], format!("{address}:5432"));
    assert_eq!(rec.outputs["port"], 5432);
    assert!(
        !rec.outputs.to_string().contains(PW),
        "no password in outputs"
    );
    e.no_changes(&s1).await;

    // Shrinking storage is refused, naming the field.
    let mut shrink = d.clone();
    shrink.allocated_storage = 10;
    let err = e
        .eng
        .preview(&pg_stack(&subnets, &shrink).0, &PlanOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("allocated_storage"), "{err}");
    shrink.allocated_storage = 25;
    let mut smaller = shrink.clone();
    e.up(&pg_stack(&subnets, &shrink).0).await;
    smaller.allocated_storage = 21;
    let msg = e.up_failing(&pg_stack(&subnets, &smaller).0).await;
    assert!(
        msg.contains("allocated_storage") && msg.contains("grow"),
        "{msg}"
    );
    d.allocated_storage = 25;

    // Update in place, including a new password (secret).
    d.password = Some(Input::secret("second-Secret-2"));
    d.allocated_storage = 40;
    d.instance_class = "db.t4g.small".into();
    d.backup_retention_period = 7;
    d.multi_az = true;
    d.deletion_protection = true;
    d.vpc_security_group_ids = vec![sg.clone().into()];
    d.tags.insert("Name".into(), "renamed".into());
    let (s2, _) = pg_stack(&subnets, &d);
    let plan = e.up(&s2).await;
    let st2 = step(&plan, &u);
    assert_eq!(st2.action, Action::Update);
    assert!(
        st2.changed.contains(&"password".to_string()),
        "{:?}",
        st2.changed
    );
    let i = e.instance("morket-pg").await.unwrap();
    assert_eq!(i.allocated_storage(), Some(40));
    assert_eq!(i.db_instance_class(), Some("db.t4g.small"));
    assert_eq!(i.backup_retention_period(), Some(7));
    assert_eq!(i.multi_az(), Some(true));
    assert_eq!(i.deletion_protection(), Some(true));
    assert_eq!(
        i.vpc_security_groups()[0].vpc_security_group_id(),
        Some(sg.as_str())
    );
    assert_eq!(rds::from_tags(i.tag_list())["Name"], "renamed");
    let rec = e.st.resource(&u).unwrap().unwrap();
    assert!(!rec.outputs.to_string().contains("second-Secret-2"));
    e.no_changes(&s2).await;

    // Out-of-band change, then a read returns the live value.
    e.rds()
        .modify_db_instance()
        .db_instance_identifier("morket-pg")
        .backup_retention_period(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert_eq!(read["backup_retention_period"], 3);
    assert_eq!(read["allocated_storage"], 40);
    assert_eq!(read["db_subnet_group_name"], "pg-db");

    // Force-new: a new identifier (protection off first, in the same plan's update? no:
    // the old instance is deleted with its recorded inputs, so turn it off first).
    d.deletion_protection = false;
    e.up(&pg_stack(&subnets, &d).0).await;
    d.identifier = "morket-pg-2".into();
    let (s3, _) = pg_stack(&subnets, &d);
    let plan = e.up(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert_eq!(step(&plan, &u).replace_fields, vec!["identifier"]);
    assert!(e.instance("morket-pg").await.is_none(), "old instance gone");
    assert!(e.instance("morket-pg-2").await.is_some());
    e.no_changes(&s3).await;

    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e
        .rds()
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- adoption

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_by_urn_returns_every_tagged_resource() {
    let e = env().await;
    let c = DbCluster::new("morket-find", "morket_admin");
    let (s, u) = cluster_stack(&c, ResourceOptions::new());
    let inputs = s.resources()[0].inputs.clone();
    let ctx = ctx(&u);
    let p = e.reg.get(DbCluster::TYPE).unwrap();
    let created = p.create(&ctx, &inputs).await.unwrap();
    // An untagged cluster of another stack is not ours.
    e.rds()
        .create_db_cluster()
        .db_cluster_identifier("someone-else")
        .engine("aurora-postgresql")
        .master_username("x_admin")
        .manage_master_user_password(true)
        .send()
        .await
        .unwrap();
    let found = p.find_by_urn(&ctx, &inputs).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    assert_eq!(found[0].outputs["arn"], created.outputs["arn"]);

    let g = DbSubnetGroup::new("find-db", vec!["subnet-1".into(), "subnet-2".into()]);
    let mut st = Stack::new(STACK).unwrap();
    let gu = st.root().resource("db", g).unwrap().urn().clone();
    let ginputs = st.resources()[0].inputs.clone();
    let subnets = e.subnets().await;
    let mut ginputs_live = ginputs.clone();
    ginputs_live["subnet_ids"] = json!([subnets[0], subnets[1]]);
    let gctx = support::aws::ctx(&gu);
    let gp = e.reg.get(DbSubnetGroup::TYPE).unwrap();
    assert!(gp
        .find_by_urn(&gctx, &ginputs_live)
        .await
        .unwrap()
        .is_empty());
    gp.create(&gctx, &ginputs_live).await.unwrap();
    let found = gp.find_by_urn(&gctx, &ginputs_live).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "find-db");
    // Same name, another URN: not adopted.
    let other = support::aws::ctx(&Urn::new(STACK, "", DbSubnetGroup::TYPE, "other"));
    assert!(gp
        .find_by_urn(&other, &ginputs_live)
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------- real-AWS behaviour

/// An engine over moto whose own retry of a whole operation is off, so only
/// the type's retries can carry a refused call through.
async fn env_without_engine_retry() -> Env {
    let mut e = env().await;
    e.eng.options.retry = RetryPolicy::none();
    e
}

/// `fired` and `seen` of the `i`th armed fault.
fn fault(e: &Env, i: usize) -> (u64, u64) {
    let f = &e.moto.faults_fired()["faults"][i];
    (f["fired"].as_u64().unwrap(), f["seen"].as_u64().unwrap())
}

async fn destroy(e: &mut Env, s: &Stack) {
    let (_, report) = e.eng.destroy(s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.st.resources().unwrap().is_empty());
}

fn disposable_cluster(id: &str) -> DbCluster {
    let mut c = DbCluster::new(id, "morket_admin");
    c.skip_final_snapshot = true;
    c.apply_immediately = true;
    c
}

/// Aurora holds a cluster in `backing-up` or `modifying` on its own, and
/// ModifyDBCluster answers InvalidDBClusterStateFault meanwhile: retried in
/// the same `up`, and the change is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_modify_while_busy_is_retried() {
    let mut e = env_without_engine_retry().await;
    let mut c = disposable_cluster("morket-busy");
    let (s1, u) = cluster_stack(&c, ResourceOptions::new());
    e.up(&s1).await;
    c.backup_retention_period = 9;
    let (s2, _) = cluster_stack(&c, ResourceOptions::new());
    e.moto
        .fail("ModifyDBCluster", "InvalidDBClusterStateFault", 400, 3);
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(fault(&e, 0), (3, 4), "three refusals, then the call");
    let live = e.cluster("morket-busy").await.unwrap();
    assert_eq!(live.backup_retention_period(), Some(9));
    e.no_changes(&s2).await;
}

/// DeleteDBCluster answers InvalidDBClusterStateFault while the cluster is
/// backing up or modifying: retried, and the one destroy removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_delete_while_busy_is_retried() {
    let mut e = env_without_engine_retry().await;
    let (s, _) = cluster_stack(&disposable_cluster("morket-gone"), ResourceOptions::new());
    e.up(&s).await;
    e.moto
        .fail("DeleteDBCluster", "InvalidDBClusterStateFault", 400, 3);
    destroy(&mut e, &s).await;
    assert_eq!(fault(&e, 0), (3, 4));
    assert!(e.cluster("morket-gone").await.is_none());
}

/// A cluster still busy after its create (backing up) refuses new members
/// with InvalidDBClusterStateFault: CreateDBInstance is retried, and the one
/// `up` makes exactly one instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_create_in_a_busy_cluster_is_retried() {
    let mut e = env_without_engine_retry().await;
    let mut st = Stack::new(STACK).unwrap();
    let cluster = st
        .root()
        .resource("main", disposable_cluster("morket-members"))
        .unwrap();
    let writer = DbClusterInstance::new(
        "morket-members-1",
        cluster.cluster_identifier(),
        "db.r6g.large",
    );
    let writer = st.root().resource("writer", writer).unwrap();
    e.moto
        .fail("CreateDBInstance", "InvalidDBClusterStateFault", 400, 3);
    e.up(&st).await;
    assert_eq!(fault(&e, 0), (3, 4));
    let all = e.rds().describe_db_instances().send().await.unwrap();
    let ids: Vec<&str> = all
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier())
        .collect();
    assert_eq!(ids, vec!["morket-members-1"], "one instance");
    assert_eq!(e.outputs(&writer)["writer"], true);
    destroy(&mut e, &st).await;
}

/// ModifyDBInstance answers InvalidDBInstanceState while the instance is
/// backing up or modifying: retried in the same `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_modify_while_busy_is_retried() {
    let mut e = env_without_engine_retry().await;
    let mut d = DbInstance::new(
        "morket-pg-busy",
        "db.t4g.micro",
        20,
        "morket",
        Input::secret("first-Secret-1"),
    );
    d.skip_final_snapshot = true;
    d.apply_immediately = true;
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("postgres", d.clone()).unwrap();
    e.up(&st).await;
    d.backup_retention_period = 5;
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("postgres", d).unwrap();
    e.moto
        .fail("ModifyDBInstance", "InvalidDBInstanceState", 400, 3);
    e.up(&st).await;
    assert_eq!(fault(&e, 0), (3, 4));
    let live = e.instance("morket-pg-busy").await.unwrap();
    assert_eq!(live.backup_retention_period(), Some(5));
    destroy(&mut e, &st).await;
}

/// A parameter group used by a database being created, modified or deleted
/// answers InvalidDBParameterGroupState: modify and delete are retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_group_busy_is_retried() {
    let mut e = env_without_engine_retry().await;
    let mut g = DbClusterParameterGroup::new("morket-busy-params", "aurora-postgresql15");
    g.parameters = vec![Parameter::new("log_min_duration_statement", "500")];
    let stack = |g: &DbClusterParameterGroup| {
        let mut st = Stack::new(STACK).unwrap();
        st.root().resource("params", g.clone()).unwrap();
        st
    };
    e.up(&stack(&g)).await;
    g.parameters[0].value = "900".into();
    e.moto.fail(
        "ModifyDBClusterParameterGroup",
        "InvalidDBParameterGroupState",
        400,
        3,
    );
    e.up(&stack(&g)).await;
    assert_eq!(fault(&e, 0), (3, 4));
    assert_eq!(
        e.cluster_params("morket-busy-params").await,
        pv(&[("log_min_duration_statement", "900")])
    );
    e.moto.fail(
        "DeleteDBClusterParameterGroup",
        "InvalidDBParameterGroupState",
        400,
        3,
    );
    destroy(&mut e, &stack(&g)).await;
    assert_eq!(fault(&e, 1), (3, 4));
    assert!(e
        .rds()
        .describe_db_cluster_parameter_groups()
        .db_cluster_parameter_group_name("morket-busy-params")
        .send()
        .await
        .map(|o| o.db_cluster_parameter_groups().is_empty())
        .unwrap_or(true));
}

/// AWS upgrades minor versions on its own (auto minor version upgrade) and
/// refuses an in-place downgrade: a newer live minor reads as the declared
/// version, a later declaration below it sends no version, and a major-only
/// declaration matches any minor of it. Optional inputs AWS fills in (subnet
/// group, security groups) read as left out when left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_minor_upgrades_are_no_drift_and_never_undone() {
    let mut e = env().await;
    let mut c = disposable_cluster("morket-ver");
    c.engine_version = Some("15.4".into());
    let (s1, u) = cluster_stack(&c, ResourceOptions::new());
    e.up(&s1).await;
    // AWS's automatic minor upgrade in the maintenance window.
    e.rds()
        .modify_db_cluster()
        .db_cluster_identifier("morket-ver")
        .engine_version("15.10")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert_eq!(read["engine_version"], "15.4");
    assert_eq!(read["db_subnet_group_name"], json!(null));
    assert_eq!(read["vpc_security_group_ids"], json!([]));
    assert_eq!(e.outputs(&u)["engine_version"], "15.4");

    // A declaration below what runs sends no version (AWS would refuse it).
    c.engine_version = Some("15.6".into());
    c.backup_retention_period = 3;
    let (s2, _) = cluster_stack(&c, ResourceOptions::new());
    e.up(&s2).await;
    let live = e.cluster("morket-ver").await.unwrap();
    assert_eq!(live.engine_version(), Some("15.10"));
    assert_eq!(live.backup_retention_period(), Some(3));
    assert_eq!(e.outputs(&u)["engine_version"], "15.10");

    // A major alone matches whatever minor AWS runs.
    let rec = e.st.resource(&u).unwrap().unwrap();
    let mut declared = rec.inputs.clone();
    declared["engine_version"] = json!("15");
    let read = e
        .reg
        .get(DbCluster::TYPE)
        .unwrap()
        .read(&ctx(&u), &rec.id, &declared, &rec.outputs)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(read.inputs["engine_version"], "15");
    destroy(&mut e, &s2).await;
}

/// Against moto answering like AWS: clusters and instances `creating`
/// without endpoints for a minute, `modifying` for 30 s after a modify and
/// `deleting` for 30 s after a delete, calls on them refused meanwhile. One
/// `up`, one update and one destroy each succeed with the engine's own retry
/// off, and every output endpoint is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_against_aws_like_transitions_and_conflicts() {
    let mut e = env_without_engine_retry().await;
    let subnets = e.subnets().await;
    e.moto
        .aws_like(json!({"on": ["transitions", "conflicts"], "scale": TIME_SCALE}));
    let mut a = Aurora {
        cluster: disposable_cluster("morket-like"),
        writer: DbClusterInstance::new("morket-like-1", "x", "db.r6g.large"),
        reader: DbClusterInstance::new("morket-like-2", "x", "db.r6g.large"),
    };
    a.reader.promotion_tier = 1;
    a.reader.apply_immediately = true;
    a.cluster.enabled_cloudwatch_logs_exports = vec!["postgresql".into()];
    let (s1, u) = aurora_stack(&subnets, &a);
    e.up(&s1).await;
    let out = e.outputs(&u.cluster);
    assert!(out["endpoint"].is_string(), "{out}");
    assert!(e.outputs(&u.writer)["endpoint"].is_string());
    assert!(e.outputs(&u.reader)["endpoint"].is_string());

    a.cluster.backup_retention_period = 5;
    a.cluster.copy_tags_to_snapshot = true;
    a.reader.promotion_tier = 2;
    let (s2, _) = aurora_stack(&subnets, &a);
    e.up(&s2).await;
    let live = e.cluster("morket-like").await.unwrap();
    assert_eq!(live.backup_retention_period(), Some(5));
    assert_eq!(live.copy_tags_to_snapshot(), Some(true));
    assert_eq!(live.enabled_cloudwatch_logs_exports(), ["postgresql"]);
    assert_eq!(
        e.instance("morket-like-2").await.unwrap().promotion_tier(),
        Some(2)
    );

    destroy(&mut e, &s2).await;
    assert!(e.cluster("morket-like").await.is_none());
    let fired = e.moto.aws_like_fired();
    assert!(
        fired["fired"]["transitions"]["DescribeDBClusters"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{fired}"
    );
}

/// Performance Insights and Enhanced Monitoring on an Aurora instance
/// monitored through a role made in the same `up`: RDS refuses a role IAM
/// has not propagated (AWS-like "iam"), so the create is retried until it
/// goes through. Both are read back (no change on the next plan), changed
/// in place, and monitoring is turned off again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_insights_and_monitoring_through_a_new_role() {
    let mut e = env_without_engine_retry().await;
    // The peer's windows 5 times the engine's AWS time: a new role stays
    // unknown to RDS for 0.5 s, longer than the calls between CreateRole
    // and CreateDBInstance, and shorter than the engine's propagation
    // retry (1.2 s).
    e.moto
        .aws_like(json!({"on": ["iam", "transitions"], "scale": 5.0 * TIME_SCALE}));
    let stack = |i: &DbClusterInstance| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let cluster = root
            .resource("main", disposable_cluster("morket-pi"))
            .unwrap();
        // Made once the cluster is up, right before the instance that
        // names it: the role is moments old when RDS first sees it.
        let mut role = Role::for_service("morket-rds-monitoring", "monitoring.rds.amazonaws.com");
        role.managed_policy_arns =
            vec!["arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole".into()];
        let role = root
            .resource_with(
                "monitoring",
                role,
                ResourceOptions::new().depends_on(&cluster),
            )
            .unwrap();
        let mut i = i.clone();
        i.cluster_identifier = cluster.cluster_identifier().into();
        if i.monitoring_interval > 0 {
            i.monitoring_role_arn = Some(role.arn().into());
        }
        let u = root.resource("writer", i).unwrap().urn().clone();
        (st, u)
    };
    let mut i = DbClusterInstance::new("morket-pi-1", "x", "db.r6g.large");
    i.apply_immediately = true;
    i.performance_insights_enabled = true;
    i.monitoring_interval = 60;
    let (s1, u) = stack(&i);
    e.up(&s1).await;
    let live = e.instance("morket-pi-1").await.unwrap();
    assert_eq!(live.performance_insights_enabled(), Some(true));
    assert_eq!(live.performance_insights_retention_period(), Some(7));
    assert_eq!(live.monitoring_interval(), Some(60));
    assert!(live
        .monitoring_role_arn()
        .is_some_and(|r| r.ends_with(":role/morket-rds-monitoring")));
    let fired = e.moto.aws_like_fired();
    assert!(
        fired["fired"]["iam"]["CreateDBInstance"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{fired}"
    );
    e.no_changes(&s1).await;

    i.performance_insights_retention_period = Some(31);
    i.monitoring_interval = 30;
    let (s2, _) = stack(&i);
    let plan = e.up(&s2).await;
    assert_eq!(
        step(&plan, &u).changed,
        vec![
            "monitoring_interval",
            "performance_insights_retention_period"
        ]
    );
    let live = e.instance("morket-pi-1").await.unwrap();
    assert_eq!(live.performance_insights_retention_period(), Some(31));
    assert_eq!(live.monitoring_interval(), Some(30));

    i.monitoring_interval = 0;
    let (s3, _) = stack(&i);
    let plan = e.up(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(
        e.instance("morket-pi-1")
            .await
            .unwrap()
            .monitoring_interval(),
        Some(0)
    );
    destroy(&mut e, &s3).await;
}

// ---------------------------------------------------------------- validation

async fn preview_error(d: impl ResourceArgs) -> String {
    // No moto: validation happens before any call.
    support::aws::preview_error(&mut offline_engine(settings()), d).await
}

#[tokio::test]
async fn validation_names_field_and_value_before_any_call() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            preview_error(DbCluster::new("Morket_Bad", "admin_user")).await,
            "cluster_identifier",
            "Morket_Bad",
        ),
        (
            preview_error(DbCluster::new(
                &format!("a{}", "b".repeat(63)),
                "admin_user",
            ))
            .await,
            "cluster_identifier",
            "abbb",
        ),
        (
            {
                let mut c = DbCluster::new("ok", "admin_user");
                c.preferred_backup_window = Some("03:00-03:15".into());
                preview_error(c).await
            },
            "preferred_backup_window",
            "03:00-03:15",
        ),
        (
            {
                let mut c = DbCluster::new("ok", "admin_user");
                c.backup_retention_period = 36;
                preview_error(c).await
            },
            "backup_retention_period",
            "36",
        ),
        (
            {
                let mut c = DbCluster::new("ok", "admin_user");
                c.engine = "postgres".into();
                preview_error(c).await
            },
            "engine",
            "postgres",
        ),
        (
            {
                let mut c = DbCluster::new("ok", "admin_user");
                c.master_password = Some(Input::secret("long-enough-1"));
                preview_error(c).await
            },
            "master_password",
            "conflicts",
        ),
        (
            {
                let mut i = DbClusterInstance::new("ok-1", "ok", "db.r6g.large");
                i.monitoring_interval = 45;
                preview_error(i).await
            },
            "monitoring_interval",
            "45",
        ),
        (
            {
                let mut i = DbClusterInstance::new("ok-1", "ok", "db.r6g.large");
                i.monitoring_interval = 60;
                preview_error(i).await
            },
            "monitoring_interval",
            "monitoring_role_arn",
        ),
        (
            {
                let mut i = DbClusterInstance::new("ok-1", "ok", "db.r6g.large");
                i.monitoring_interval = 60;
                i.monitoring_role_arn = Some("rds-monitoring".into());
                preview_error(i).await
            },
            "monitoring_role_arn",
            "rds-monitoring",
        ),
        (
            {
                let mut i = DbClusterInstance::new("ok-1", "ok", "db.r6g.large");
                i.performance_insights_enabled = true;
                i.performance_insights_retention_period = Some(30);
                preview_error(i).await
            },
            "performance_insights_retention_period",
            "30",
        ),
        (
            {
                let mut i = DbClusterInstance::new("ok-1", "ok", "db.t3.medium");
                i.engine = "aurora-mysql".into();
                i.performance_insights_enabled = true;
                preview_error(i).await
            },
            "performance_insights_enabled",
            "db.t3.medium",
        ),
        (
            preview_error(DbSubnetGroup::new(
                "Bad Name",
                vec!["subnet-1".into(), "subnet-2".into()],
            ))
            .await,
            "name",
            "Bad Name",
        ),
        (
            preview_error(DbSubnetGroup::new("one", vec!["subnet-1".into()])).await,
            "subnet_ids",
            "1",
        ),
        (
            {
                let mut g = DbClusterParameterGroup::new("cp", "aurora-postgresql15");
                let mut p = Parameter::new("x", "1");
                p.apply_method = "later".into();
                g.parameters = vec![p];
                preview_error(g).await
            },
            "parameters[0].apply_method",
            "later",
        ),
        (
            preview_error(DbParameterGroup::new("pg", "Postgres 15")).await,
            "family",
            "Postgres 15",
        ),
        (
            preview_error(DbClusterInstance::new("w", "c", "r6g.large")).await,
            "instance_class",
            "r6g.large",
        ),
        (
            {
                let mut i = DbClusterInstance::new("w", "c", "db.r6g.large");
                i.promotion_tier = 16;
                preview_error(i).await
            },
            "promotion_tier",
            "16",
        ),
        (
            preview_error(DbInstance::new(
                "pg",
                "db.t4g.micro",
                20,
                "postgres",
                Input::secret("long-enough-1"),
            ))
            .await,
            "username",
            "postgres",
        ),
        (
            preview_error(DbInstance::new(
                "pg",
                "db.t4g.micro",
                20,
                "app",
                Input::secret("short"),
            ))
            .await,
            "password",
            "(secret)",
        ),
        (
            {
                let mut i = DbInstance::new(
                    "pg",
                    "db.t4g.micro",
                    20,
                    "app",
                    Input::secret("long-enough-1"),
                );
                i.storage_type = "ssd".into();
                preview_error(i).await
            },
            "storage_type",
            "ssd",
        ),
        (
            preview_error(DbInstance::new(
                "pg",
                "db.t4g.micro",
                10,
                "app",
                Input::secret("long-enough-1"),
            ))
            .await,
            "allocated_storage",
            "10",
        ),
    ];
    for (msg, field, value) in cases {
        assert!(
            msg.contains(field) && msg.contains(value),
            "{field}/{value}: {msg}"
        );
    }
    // A secret password never shows in an error.
    let msg = preview_error(DbInstance::new(
        "pg",
        "db.t4g.micro",
        20,
        "app",
        Input::secret("bad pass word"),
    ))
    .await;
    assert!(!msg.contains("bad pass word"), "{msg}");
}

// ---------------------------------------------------------------- mocks

// moto's ModifyDBSubnetGroup removes the group from its store (it pops the
// group and never puts it back), moto answers ResetDBClusterParameterGroup
// and ResetDBParameterGroup with an HTML 500, and moto's clusters and
// instances are available at once and never pending; these paths run
// against aws-smithy-mocks instead.
mod mocked {
    use super::*;
    use std::time::{Duration, Instant};

    use aws_sdk_rds::operation::create_db_cluster::CreateDbClusterOutput;
    use aws_sdk_rds::operation::describe_db_cluster_parameter_groups::DescribeDbClusterParameterGroupsOutput;
    use aws_sdk_rds::operation::describe_db_cluster_parameters::DescribeDbClusterParametersOutput;
    use aws_sdk_rds::operation::describe_db_clusters::{
        DescribeDBClustersError, DescribeDbClustersOutput,
    };
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::describe_db_parameter_groups::DescribeDbParameterGroupsOutput;
    use aws_sdk_rds::operation::describe_db_parameters::DescribeDbParametersOutput;
    use aws_sdk_rds::operation::describe_db_subnet_groups::DescribeDbSubnetGroupsOutput;
    use aws_sdk_rds::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_rds::operation::modify_db_cluster::ModifyDbClusterOutput;
    use aws_sdk_rds::operation::modify_db_cluster_parameter_group::ModifyDbClusterParameterGroupOutput;
    use aws_sdk_rds::operation::modify_db_instance::ModifyDbInstanceOutput;
    use aws_sdk_rds::operation::modify_db_subnet_group::ModifyDbSubnetGroupOutput;
    use aws_sdk_rds::operation::reset_db_cluster_parameter_group::ResetDbClusterParameterGroupOutput;
    use aws_sdk_rds::operation::reset_db_parameter_group::ResetDbParameterGroupOutput;
    use aws_sdk_rds::types::error::DbClusterNotFoundFault;
    use aws_sdk_rds::types::{
        DbCluster as SdkCluster, DbClusterParameterGroup as SdkClusterGroup,
        DbInstance as SdkInstance, DbParameterGroup as SdkParameterGroup,
        DbSubnetGroup as SdkGroup, Endpoint, PendingModifiedValues, Subnet,
    };
    use aws_sdk_rds::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    use morket_stack::provider::Registry;

    fn ctx(t: &str) -> Ctx {
        support::aws::ctx(&Urn::new(STACK, "", t, "x"))
    }

    fn provider_with(client: Client) -> Registry {
        registry(Arc::new(Aws::new(settings()).with_rds(client)))
    }

    fn v(x: &impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(x).unwrap()
    }

    fn no_tags() -> ListTagsForResourceOutput {
        ListTagsForResourceOutput::builder().build()
    }

    /// Cluster `c` in `status`, with an endpoint or not.
    fn cluster(status: &str, endpoint: bool) -> DescribeDbClustersOutput {
        let c = SdkCluster::builder()
            .db_cluster_identifier("c")
            .db_cluster_arn("arn:aws:rds:us-east-1:1:cluster:c")
            .status(status)
            .engine("aurora-postgresql")
            .engine_version("15.10")
            .master_username("admin_user")
            .backup_retention_period(7);
        let c = if endpoint {
            c.endpoint("c.cluster-x.us-east-1.rds.amazonaws.com")
                .port(5432)
        } else {
            c
        };
        DescribeDbClustersOutput::builder()
            .db_clusters(c.build())
            .build()
    }

    /// Instance `pg` in `status` with `class` and `storage` GiB, and the
    /// changes AWS holds for the maintenance window.
    fn instance(
        status: &str,
        class: &str,
        storage: i32,
        pending: Option<PendingModifiedValues>,
    ) -> DescribeDbInstancesOutput {
        DescribeDbInstancesOutput::builder()
            .db_instances(
                SdkInstance::builder()
                    .db_instance_identifier("pg")
                    .db_instance_arn("arn:aws:rds:us-east-1:1:db:pg")
                    .db_instance_status(status)
                    .engine("postgres")
                    .db_instance_class(class)
                    .allocated_storage(storage)
                    .endpoint(
                        Endpoint::builder()
                            .address("pg.x.us-east-1.rds.amazonaws.com")
                            .port(5432)
                            .build(),
                    )
                    .set_pending_modified_values(pending)
                    .build(),
            )
            .build()
    }

    fn pg() -> DbInstance {
        DbInstance::new(
            "pg",
            "db.t4g.micro",
            20,
            "app",
            Input::secret("first-Secret-1"),
        )
    }

    #[tokio::test]
    async fn subnet_ids_update_calls_modify_db_subnet_group() {
        let group = || {
            SdkGroup::builder()
                .db_subnet_group_name("morket-db")
                .db_subnet_group_arn("arn:aws:rds:us-east-1:1:subgrp:morket-db")
                .vpc_id("vpc-1")
                .subnets(Subnet::builder().subnet_identifier("subnet-a").build())
                .subnets(Subnet::builder().subnet_identifier("subnet-c").build())
                .build()
        };
        let modify = mock!(Client::modify_db_subnet_group)
            .match_requests(|r| {
                r.db_subnet_group_name() == Some("morket-db")
                    && r.subnet_ids() == ["subnet-a", "subnet-c"]
            })
            .then_output(move || {
                ModifyDbSubnetGroupOutput::builder()
                    .db_subnet_group(group())
                    .build()
            });
        let describe = mock!(Client::describe_db_subnet_groups).then_output(move || {
            DescribeDbSubnetGroupsOutput::builder()
                .db_subnet_groups(group())
                .build()
        });
        let tags = mock!(Client::list_tags_for_resource).then_output(no_tags);
        let client = mock_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            &[&modify, &describe, &tags]
        );
        let reg = provider_with(client);
        let p = reg.get(DbSubnetGroup::TYPE).unwrap();
        let old = DbSubnetGroup::new("morket-db", vec!["subnet-a".into(), "subnet-b".into()]);
        let mut new = old.clone();
        new.subnet_ids = vec!["subnet-a".into(), "subnet-c".into()];
        let out = p
            .update(
                &ctx(DbSubnetGroup::TYPE),
                "morket-db",
                &v(&old),
                &v(&new),
                &json!({"id": "morket-db", "arn": "arn:aws:rds:us-east-1:1:subgrp:morket-db"}),
            )
            .await
            .unwrap();
        assert_eq!(modify.num_calls(), 1);
        assert_eq!(out["vpc_id"], "vpc-1");
        // The same set in another order is no change.
        let mut same = old.clone();
        same.subnet_ids.reverse();
        let d = p.diff(&v(&old), &v(&same));
        assert!(d.replace.is_empty());
    }

    #[tokio::test]
    async fn removed_parameters_are_reset() {
        let reset = mock!(Client::reset_db_cluster_parameter_group)
            .match_requests(|r| {
                r.db_cluster_parameter_group_name() == Some("cp")
                    && r.parameters().len() == 1
                    && r.parameters()[0].parameter_name() == Some("log_connections")
            })
            .then_output(|| ResetDbClusterParameterGroupOutput::builder().build());
        let modify = mock!(Client::modify_db_cluster_parameter_group)
            .match_requests(|r| {
                r.parameters().len() == 1
                    && r.parameters()[0].parameter_name() == Some("log_min_duration_statement")
                    && r.parameters()[0].parameter_value() == Some("200")
            })
            .then_output(|| ModifyDbClusterParameterGroupOutput::builder().build());
        let reset_pg = mock!(Client::reset_db_parameter_group)
            .match_requests(|r| {
                r.db_parameter_group_name() == Some("pg")
                    && r.parameters()[0].parameter_name() == Some("work_mem")
            })
            .then_output(|| ResetDbParameterGroupOutput::builder().build());
        // The read that ends the update.
        let groups = mock!(Client::describe_db_cluster_parameter_groups).then_output(|| {
            DescribeDbClusterParameterGroupsOutput::builder()
                .db_cluster_parameter_groups(
                    SdkClusterGroup::builder()
                        .db_cluster_parameter_group_name("cp")
                        .db_parameter_group_family("aurora-postgresql15")
                        .description("Managed by morket-stack")
                        .db_cluster_parameter_group_arn("arn:x")
                        .build(),
                )
                .build()
        });
        let params = mock!(Client::describe_db_cluster_parameters).then_output(|| {
            DescribeDbClusterParametersOutput::builder()
                .parameters(
                    aws_sdk_rds::types::Parameter::builder()
                        .parameter_name("log_min_duration_statement")
                        .parameter_value("200")
                        .build(),
                )
                .build()
        });
        let pg_groups = mock!(Client::describe_db_parameter_groups).then_output(|| {
            DescribeDbParameterGroupsOutput::builder()
                .db_parameter_groups(
                    SdkParameterGroup::builder()
                        .db_parameter_group_name("pg")
                        .db_parameter_group_family("postgres15")
                        .description("Managed by morket-stack")
                        .db_parameter_group_arn("arn:y")
                        .build(),
                )
                .build()
        });
        let pg_params = mock!(Client::describe_db_parameters)
            .then_output(|| DescribeDbParametersOutput::builder().build());
        let tags = mock!(Client::list_tags_for_resource).then_output(no_tags);
        let client = mock_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            &[&reset, &modify, &reset_pg, &groups, &params, &pg_groups, &pg_params, &tags]
        );
        let reg = provider_with(client);

        let mut old = DbClusterParameterGroup::new("cp", "aurora-postgresql15");
        old.parameters = vec![
            Parameter::new("log_min_duration_statement", "100"),
            Parameter::new("log_connections", "1"),
        ];
        let mut new = old.clone();
        new.parameters = vec![Parameter::new("log_min_duration_statement", "200")];
        let out = reg
            .get(DbClusterParameterGroup::TYPE)
            .unwrap()
            .update(
                &ctx(DbClusterParameterGroup::TYPE),
                "cp",
                &v(&old),
                &v(&new),
                &json!({"id": "cp", "arn": "arn:x"}),
            )
            .await
            .unwrap();
        assert_eq!((reset.num_calls(), modify.num_calls()), (1, 1));
        assert_eq!(out["arn"], "arn:x");

        let mut old = DbParameterGroup::new("pg", "postgres15");
        old.parameters = vec![Parameter::new("work_mem", "4096")];
        let new = DbParameterGroup::new("pg", "postgres15");
        reg.get(DbParameterGroup::TYPE)
            .unwrap()
            .update(
                &ctx(DbParameterGroup::TYPE),
                "pg",
                &v(&old),
                &v(&new),
                &json!({"id": "pg", "arn": "arn:y"}),
            )
            .await
            .unwrap();
        assert_eq!(reset_pg.num_calls(), 1);
    }

    // moto accepts the new password but cannot show it; the request is checked here.
    #[tokio::test]
    async fn password_change_sends_master_user_password() {
        let modify = mock!(Client::modify_db_instance)
            .match_requests(|r| {
                r.db_instance_identifier() == Some("pg")
                    && r.master_user_password() == Some("second-Secret-2")
                    && r.db_instance_class().is_none()
            })
            .then_output(|| ModifyDbInstanceOutput::builder().build());
        let describe = mock!(Client::describe_db_instances)
            .then_output(|| instance("available", "db.t4g.micro", 20, None));
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&modify, &describe]);
        let reg = provider_with(client);
        let old = pg();
        let mut new = old.clone();
        new.password = Some(Input::secret("second-Secret-2"));
        let out = reg
            .get(DbInstance::TYPE)
            .unwrap()
            .update(
                &ctx(DbInstance::TYPE),
                "pg",
                &v(&old),
                &v(&new),
                &json!({"id": "pg", "arn": "arn:z"}),
            )
            .await
            .unwrap();
        assert_eq!(modify.num_calls(), 1);
        assert!(!out.to_string().contains("second-Secret-2"));
    }

    /// AWS leaves `available` a few seconds after ModifyDBCluster and holds
    /// `modifying` for a while: the update polls only after the delay and
    /// returns once `available` is seen twice in a row after it.
    #[tokio::test]
    async fn cluster_modify_waits_out_modifying() {
        let modify = mock!(Client::modify_db_cluster)
            .match_requests(|r| {
                r.db_cluster_identifier() == Some("c")
                    && r.backup_retention_period() == Some(14)
                    && r.apply_immediately() == Some(true)
                    && r.engine_version().is_none()
            })
            .then_output(|| ModifyDbClusterOutput::builder().build());
        let describe = mock!(Client::describe_db_clusters)
            .sequence()
            .output(|| cluster("available", true)) // before the modify
            .output(|| cluster("modifying", true))
            .times(2)
            .output(|| cluster("available", true))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&modify, &describe]);
        let reg = provider_with(client);
        let mut old = DbCluster::new("c", "admin_user");
        old.engine_version = Some("15.10".into());
        let mut new = old.clone();
        new.backup_retention_period = 14;
        new.apply_immediately = true;
        let started = Instant::now();
        reg.get(DbCluster::TYPE)
            .unwrap()
            .update(&ctx(DbCluster::TYPE), "c", &v(&old), &v(&new), &json!({}))
            .await
            .unwrap();
        assert_eq!(modify.num_calls(), 1);
        // Before, two modifying, two available, the read at the end.
        assert_eq!(describe.num_calls(), 6);
        // The first poll came after Terraform's 30 s (times the test scale).
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    /// Log exports change against what runs (moto's ModifyDBCluster ignores
    /// CloudwatchLogsExportConfiguration, so this path runs here): the
    /// types to turn on and the types to turn off, with the snapshot tag
    /// flag in the same call.
    #[tokio::test]
    async fn cluster_log_exports_turn_on_and_off_against_what_runs() {
        let modify = mock!(Client::modify_db_cluster)
            .match_requests(|r| {
                let logs = r.cloudwatch_logs_export_configuration();
                r.copy_tags_to_snapshot() == Some(true)
                    && logs.is_some_and(|l| {
                        l.enable_log_types() == ["postgresql"]
                            && l.disable_log_types() == ["iam-db-auth-error"]
                    })
            })
            .then_output(|| ModifyDbClusterOutput::builder().build());
        let live = |logs: &[&str]| {
            let logs: Vec<String> = logs.iter().map(|l| l.to_string()).collect();
            move || {
                let mut out = cluster("available", true);
                let c = out.db_clusters.as_mut().and_then(|c| c.first_mut());
                if let Some(c) = c {
                    c.enabled_cloudwatch_logs_exports = Some(logs.clone());
                }
                out
            }
        };
        let describe = mock!(Client::describe_db_clusters)
            .sequence()
            .output(live(&["iam-db-auth-error"]))
            .output(live(&["postgresql"]))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&modify, &describe]);
        let reg = provider_with(client);
        // State says none; AWS has one turned on outside the engine.
        let old = DbCluster::new("c", "admin_user");
        let mut new = old.clone();
        new.copy_tags_to_snapshot = true;
        new.enabled_cloudwatch_logs_exports = vec!["postgresql".into()];
        reg.get(DbCluster::TYPE)
            .unwrap()
            .update(&ctx(DbCluster::TYPE), "c", &v(&old), &v(&new), &json!({}))
            .await
            .unwrap();
        assert_eq!(modify.num_calls(), 1);
    }

    /// A storage change ends in `storage-optimization`, which lasts hours
    /// with the instance usable: the update returns instead of timing out.
    #[tokio::test]
    async fn storage_optimization_ends_the_wait_after_a_storage_change() {
        let modify = mock!(Client::modify_db_instance)
            .match_requests(|r| r.allocated_storage() == Some(40))
            .then_output(|| ModifyDbInstanceOutput::builder().build());
        let describe = mock!(Client::describe_db_instances)
            .sequence()
            .output(|| instance("available", "db.t4g.micro", 20, None))
            .output(|| instance("modifying", "db.t4g.micro", 20, None))
            .output(|| instance("storage-optimization", "db.t4g.micro", 40, None))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&modify, &describe]);
        let reg = provider_with(client);
        let old = pg();
        let mut new = old.clone();
        new.allocated_storage = 40;
        new.apply_immediately = true;
        let p = reg.get(DbInstance::TYPE).unwrap();
        p.update(&ctx(DbInstance::TYPE), "pg", &v(&old), &v(&new), &json!({}))
            .await
            .unwrap();
        assert_eq!(modify.num_calls(), 1);
        // Before, modifying, two storage-optimization, the read.
        assert_eq!(describe.num_calls(), 5);
        let read = p
            .read(&ctx(DbInstance::TYPE), "pg", &v(&new), &json!({}))
            .await
            .unwrap()
            .expect("live");
        assert_eq!(read.inputs["allocated_storage"], 40);
    }

    /// With `apply_immediately = false` AWS holds the change for the
    /// maintenance window: the update says so in `pending_modified_values`
    /// and a read reports the applied value, not the declared one.
    #[tokio::test]
    async fn pending_changes_are_shown_not_hidden() {
        let modify = mock!(Client::modify_db_instance)
            .match_requests(|r| {
                r.db_instance_class() == Some("db.t4g.small")
                    && r.apply_immediately() == Some(false)
            })
            .then_output(|| ModifyDbInstanceOutput::builder().build());
        let describe = mock!(Client::describe_db_instances)
            .sequence()
            .output(|| instance("available", "db.t4g.micro", 20, None))
            .output(|| {
                let pending = PendingModifiedValues::builder()
                    .db_instance_class("db.t4g.small")
                    .build();
                let mut out = instance("available", "db.t4g.micro", 20, Some(pending));
                // A static parameter changed earlier waits for a reboot too.
                out.db_instances.as_mut().unwrap()[0].db_parameter_groups =
                    Some(vec![aws_sdk_rds::types::DbParameterGroupStatus::builder()
                        .db_parameter_group_name("pg-params")
                        .parameter_apply_status("pending-reboot")
                        .build()]);
                out
            })
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&modify, &describe]);
        let reg = provider_with(client);
        let old = pg();
        let mut new = old.clone();
        new.instance_class = "db.t4g.small".into();
        let p = reg.get(DbInstance::TYPE).unwrap();
        let out = p
            .update(&ctx(DbInstance::TYPE), "pg", &v(&old), &v(&new), &json!({}))
            .await
            .unwrap();
        assert_eq!(modify.num_calls(), 1);
        assert_eq!(
            out["pending_modified_values"],
            json!({"instance_class": "db.t4g.small", "reboot_for_parameters": ["pg-params"]})
        );
        let read = p
            .read(&ctx(DbInstance::TYPE), "pg", &v(&new), &out)
            .await
            .unwrap()
            .expect("live");
        assert_eq!(read.inputs["instance_class"], "db.t4g.micro");
    }

    /// Right after CreateDBCluster the cluster may not be found yet, then is
    /// `creating` without an endpoint, then `available` before its endpoint
    /// shows: the create waits for the endpoint, so outputs have it.
    #[tokio::test]
    async fn cluster_create_waits_for_its_endpoint() {
        let create = mock!(Client::create_db_cluster)
            .match_requests(|r| r.db_cluster_identifier() == Some("c"))
            .then_output(|| CreateDbClusterOutput::builder().build());
        let describe = mock!(Client::describe_db_clusters)
            .sequence()
            .error(|| {
                DescribeDBClustersError::DbClusterNotFoundFault(
                    DbClusterNotFoundFault::builder()
                        .meta(
                            ErrorMetadata::builder()
                                .code("DBClusterNotFoundFault")
                                .message("DBCluster c not found.")
                                .build(),
                        )
                        .build(),
                )
            })
            .output(|| cluster("creating", false))
            .output(|| cluster("available", false))
            .output(|| cluster("available", true))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&create, &describe]);
        let reg = provider_with(client);
        let mut c = DbCluster::new("c", "admin_user");
        c.skip_final_snapshot = true;
        let created = reg
            .get(DbCluster::TYPE)
            .unwrap()
            .create(&ctx(DbCluster::TYPE), &v(&c))
            .await
            .unwrap();
        assert_eq!(create.num_calls(), 1);
        assert_eq!(created.id, "c");
        assert_eq!(
            created.outputs["endpoint"],
            "c.cluster-x.us-east-1.rds.amazonaws.com"
        );
        // Not found, creating, available without endpoint, available, the read.
        assert_eq!(describe.num_calls(), 5);
    }
}
