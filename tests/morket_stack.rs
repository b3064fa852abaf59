//! The Morket stack's configuration and planned properties, per criterion of
//! seed 000, checked on the plan from an empty state (no AWS calls).

#[path = "../stacks/mod.rs"]
#[allow(dead_code)]
mod stacks;

// Per-component tests, in their own files.
#[path = "morket_stack/app.rs"]
mod app;
#[path = "morket_stack/clickhouse_secret.rs"]
mod clickhouse_secret;
#[path = "morket_stack/edge_backup.rs"]
mod edge_backup;
#[path = "morket_stack/observability.rs"]
mod observability;
#[path = "morket_stack/terraform.rs"]
mod terraform;

use std::path::Path;

use morket_stack::engine::Engine;
use morket_stack::plan::{Action, Plan, PlanOptions};
use morket_stack::secrets::{self, Crypter};
use morket_stack::state::{MemoryStore, StateStore};
use serde_json::Value;

fn stacks_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks"))
}

fn load(name: &str) -> stacks::Loaded {
    stacks::load(stacks_dir(), name, None, &stacks::StackEnv::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loads `name` with one line of its file replaced.
fn load_edited(name: &str, from: &str, to: &str) -> Result<stacks::Loaded, String> {
    let text = std::fs::read_to_string(stacks_dir().join(format!("{name}.toml"))).unwrap();
    assert!(text.contains(from), "{from:?} not in {name}.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    stacks::load(
        stacks_dir(),
        name,
        Some(&path),
        &stacks::StackEnv::default(),
    )
    .map_err(|e| e.to_string())
}

fn preview(loaded: &stacks::Loaded) -> Plan {
    let mut store = MemoryStore::new(loaded.stack.name());
    store
        .set_crypter(Crypter::new(&secrets::random_key()))
        .unwrap();
    let mut eng = Engine::new(Box::new(store), loaded.registry.clone());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(eng.preview(&loaded.stack, &PlanOptions::default()))
        .unwrap()
}

fn step_inputs<'a>(plan: &'a Plan, urn_suffix: &str) -> &'a Value {
    let s = plan
        .steps
        .iter()
        .find(|s| s.urn.as_str().ends_with(urn_suffix))
        .unwrap_or_else(|| panic!("no step ending in {urn_suffix}"));
    assert_eq!(s.action, Action::Create);
    s.planned_inputs.as_ref().unwrap()
}

#[test]
fn both_environments_load_and_plan_from_empty_state() {
    for env in ["staging", "production"] {
        let loaded = load(env);
        let plan = preview(&loaded);
        assert!(plan.counts().create > 0, "{env}");
        assert_eq!(
            plan.counts().create,
            loaded.stack.resources().len(),
            "{env}: everything is created"
        );
    }
}

#[test]
fn r2_1_vpc_cidr_and_r2_6_tags() {
    let plan = preview(&load("staging"));
    let vpc = step_inputs(&plan, "network::aws:ec2/Vpc::vpc");
    assert_eq!(vpc["cidr_block"], "10.0.0.0/16");
    assert_eq!(vpc["tags"]["Name"], "morket-staging-vpc");
    let cfg = stacks::morket::config::MorketConfig::load(&stacks::ConfigFile {
        path: stacks_dir().join("staging.toml"),
        table: std::fs::read_to_string(stacks_dir().join("staging.toml"))
            .unwrap()
            .parse()
            .unwrap(),
    })
    .unwrap();
    let tags = cfg.default_tags();
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tags["Environment"], "staging");
    assert_eq!(tags["Module"], "infrastructure");
}

#[test]
fn r19_config_errors_name_file_key_and_value() {
    let cases = [
        (
            "nat_gateways = 1",
            "nat_gateways = 3",
            "network.nat_gateways = 3",
        ),
        ("memory = 512", "memory = 700", "ecs.backend.memory = 700"),
        (
            "engine_version = \"15.14\"",
            "engine_version = \"14.9\"",
            "aurora.engine_version = \"14.9\"",
        ),
        (
            "log_retention_days = 30",
            "log_retention_days = 31",
            "log_retention_days = 31",
        ),
        (
            "monitoring_interval = 60",
            "monitoring_interval = 20",
            "aurora.monitoring_interval = 20",
        ),
        (
            "performance_insights_retention_days = 7",
            "performance_insights_retention_days = 30",
            "aurora.performance_insights_retention_days = 30",
        ),
        (
            "deployment_mode = \"SINGLE_INSTANCE\"",
            "deployment_mode = \"ACTIVE_STANDBY_MULTI_AZ\"",
            "rabbitmq.deployment_mode",
        ),
        (
            "snapshot_hour = 2",
            "snapshot_hour = 24",
            "opensearch.snapshot_hour = 24",
        ),
        (
            "vpc_cidr = \"10.0.0.0/16\"",
            "vpc_cidr = \"10.0.0.1/16\"",
            "network.vpc_cidr",
        ),
        (
            "region = \"us-east-1\"",
            "region = \"us-east-1\"\nbogus_key = 1",
            "bogus_key",
        ),
    ];
    for (from, to, want) in cases {
        let err = load_edited("staging", from, to)
            .err()
            .unwrap_or_else(|| panic!("{to:?} was accepted"));
        assert!(err.contains("staging.toml"), "{err}");
        assert!(err.contains(want), "{to:?}: {err}");
    }
}

fn count_type(plan: &Plan, type_name: &str) -> usize {
    plan.steps
        .iter()
        .filter(|s| s.type_name == type_name)
        .count()
}

#[test]
fn r2_2_public_and_private_subnets_per_az_and_r2_3_nat_per_environment() {
    for (env, nats) in [("staging", 1), ("production", 2)] {
        let plan = preview(&load(env));
        let mut azs_public = Vec::new();
        let mut azs_private = Vec::new();
        for s in plan
            .steps
            .iter()
            .filter(|s| s.type_name == "aws:ec2/Subnet")
        {
            let i = s.planned_inputs.as_ref().unwrap();
            let az = i["availability_zone"].as_str().unwrap().to_string();
            match i["tags"]["Tier"].as_str().unwrap() {
                "public" => {
                    // No automatic public IPs: the ALB and NAT gateways
                    // have their own.
                    assert_eq!(i["map_public_ip_on_launch"], false, "{}", s.urn);
                    azs_public.push(az)
                }
                "private" => {
                    assert_eq!(i["map_public_ip_on_launch"], false, "{}", s.urn);
                    azs_private.push(az)
                }
                t => panic!("tier {t}"),
            }
        }
        azs_public.sort();
        azs_private.sort();
        assert_eq!(azs_public, vec!["us-east-1a", "us-east-1b"], "{env}");
        assert_eq!(azs_private, vec!["us-east-1a", "us-east-1b"], "{env}");
        assert_eq!(count_type(&plan, "aws:ec2/InternetGateway"), 1, "{env}");
        assert_eq!(count_type(&plan, "aws:ec2/NatGateway"), nats, "{env}");
        assert_eq!(count_type(&plan, "aws:ec2/Eip"), nats, "{env}");
        // Every NAT gateway sits in a public subnet.
        for s in plan
            .steps
            .iter()
            .filter(|s| s.type_name == "aws:ec2/NatGateway")
        {
            let subnet_ref = &s.new.as_ref().unwrap().inputs["subnet_id"]["$ref"]["urn"];
            assert!(
                subnet_ref.as_str().unwrap().contains("::public-"),
                "{subnet_ref}"
            );
        }
    }
}

#[test]
fn r2_3_private_subnets_route_through_a_nat_and_public_through_the_igw() {
    for (env, nats) in [("staging", 1usize), ("production", 2)] {
        let plan = preview(&load(env));
        let routes: Vec<&Value> = plan
            .steps
            .iter()
            .filter(|s| s.type_name == "aws:ec2/Route")
            .map(|s| &s.new.as_ref().unwrap().inputs)
            .collect();
        assert_eq!(
            routes.len(),
            3,
            "{env}: one public and one per private table"
        );
        let via_igw = routes
            .iter()
            .filter(|r| {
                r["gateway_id"]["$ref"]["urn"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("::igw"))
            })
            .count();
        assert_eq!(via_igw, 1, "{env}");
        let mut nat_targets: Vec<&str> = routes
            .iter()
            .filter_map(|r| r["nat_gateway_id"]["$ref"]["urn"].as_str())
            .collect();
        assert_eq!(nat_targets.len(), 2, "{env}");
        nat_targets.sort();
        nat_targets.dedup();
        assert_eq!(
            nat_targets.len(),
            nats,
            "{env}: private tables share the NAT in staging"
        );
        for r in &routes {
            assert_eq!(r["destination_cidr_block"], "0.0.0.0/0");
        }
        assert_eq!(
            count_type(&plan, "aws:ec2/RouteTableAssociation"),
            4,
            "{env}"
        );
    }
}

/// The name part of the URN a `$ref` input points at.
fn ref_name(v: &Value) -> String {
    v["$ref"]["urn"]
        .as_str()
        .map(|u| u.rsplit("::").next().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn r2_4_security_groups_admit_exactly_the_listed_ingress() {
    let plan = preview(&load("staging"));
    let mut rules: Vec<(String, i64, String)> = plan
        .steps
        .iter()
        .filter(|s| s.type_name == "aws:ec2/SecurityGroupRule")
        .map(|s| {
            let i = &s.new.as_ref().unwrap().inputs;
            assert_eq!(i["type"], "ingress", "{}", s.urn);
            assert_eq!(i["protocol"], "tcp", "{}", s.urn);
            assert_eq!(i["from_port"], i["to_port"], "{}", s.urn);
            let source = match i["cidr_blocks"].as_array().filter(|a| !a.is_empty()) {
                Some(c) => c
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                None => ref_name(&i["source_security_group_id"]),
            };
            (
                ref_name(&i["security_group_id"]),
                i["from_port"].as_i64().unwrap(),
                source,
            )
        })
        .collect();
    rules.sort();
    let mut want: Vec<(String, i64, String)> = [
        ("sg-alb", 443, "0.0.0.0/0"),
        ("sg-alb", 80, "0.0.0.0/0"),
        ("sg-ecs", 3000, "sg-alb"),
        ("sg-ecs", 8001, "sg-alb"),
        ("sg-aurora", 5432, "sg-ecs"),
        ("sg-redis", 6379, "sg-ecs"),
        ("sg-rabbitmq", 5671, "sg-ecs"),
        ("sg-opensearch", 443, "sg-ecs"),
        ("sg-clickhouse", 8123, "sg-ecs"),
        ("sg-clickhouse", 9000, "sg-ecs"),
        ("sg-temporal", 7233, "sg-ecs"),
        // The Temporal server's own store (temporal component, R12.5).
        ("sg-aurora", 5432, "sg-temporal"),
    ]
    .iter()
    .map(|(g, p, s)| (g.to_string(), *p, s.to_string()))
    .collect();
    want.sort();
    assert_eq!(rules, want);
    assert_eq!(count_type(&plan, "aws:ec2/SecurityGroup"), 8);
}

/// The declared inputs (with `$ref`s) of the one step of `type_name` whose
/// URN ends with `suffix`.
fn declared<'a>(plan: &'a Plan, suffix: &str) -> &'a Value {
    &plan
        .steps
        .iter()
        .find(|s| s.urn.as_str().ends_with(suffix))
        .unwrap_or_else(|| panic!("no step ending in {suffix}"))
        .new
        .as_ref()
        .unwrap()
        .inputs
}

fn of_type<'a>(plan: &'a Plan, type_name: &str) -> Vec<&'a Value> {
    plan.steps
        .iter()
        .filter(|s| s.type_name == type_name)
        .map(|s| &s.new.as_ref().unwrap().inputs)
        .collect()
}

fn ref_names(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = v.as_array().unwrap().iter().map(ref_name).collect();
    names.sort();
    names
}

const PRIVATE: [&str; 2] = ["private-us-east-1a", "private-us-east-1b"];

#[test]
fn r3_1_ecs_cluster_has_fargate_capacity_and_container_insights() {
    let plan = preview(&load("staging"));
    let c = declared(&plan, "ecs::aws:ecs/Cluster::cluster");
    assert_eq!(
        c["capacity_providers"],
        serde_json::json!(["FARGATE", "FARGATE_SPOT"])
    );
    assert_eq!(
        c["default_capacity_provider_strategy"][0]["capacity_provider"],
        "FARGATE"
    );
    assert_eq!(c["container_insights"], "enabled");
}

#[test]
fn r5_aurora_cluster_instances_and_parameters() {
    for (env, protection, class) in [
        ("staging", false, "db.t4g.medium"),
        ("production", true, "db.r6g.large"),
    ] {
        let plan = preview(&load(env));
        let c = declared(&plan, "aurora::aws:rds/DbCluster::cluster");
        // R5.1, 5.2
        assert_eq!(c["engine"], "aurora-postgresql", "{env}");
        assert!(
            c["engine_version"].as_str().unwrap().starts_with("15."),
            "{env}"
        );
        assert_eq!(c["storage_encrypted"], true, "{env}");
        assert!(c["kms_key_id"].is_null(), "{env}: the default AWS KMS key");
        assert_eq!(c["deletion_protection"], protection, "{env}");
        // R5.3
        assert_eq!(c["backup_retention_period"], 7, "{env}");
        assert_eq!(c["preferred_backup_window"], "03:00-04:00", "{env}");
        // R5.7: RDS keeps the master password in Secrets Manager.
        assert_eq!(c["manage_master_user_password"], true, "{env}");
        assert!(c["master_password"].is_null(), "{env}");
        // R5.6
        assert_eq!(
            ref_names(&c["vpc_security_group_ids"]),
            vec!["sg-aurora"],
            "{env}"
        );
        assert_eq!(
            ref_name(&c["db_subnet_group_name"]),
            "subnet-group",
            "{env}"
        );
        let sng = declared(&plan, "aurora::aws:rds/DbSubnetGroup::subnet-group");
        assert_eq!(ref_names(&sng["subnet_ids"]), PRIVATE, "{env}");
        // R5.5
        assert_eq!(
            ref_name(&c["db_cluster_parameter_group_name"]),
            "cluster-parameter-group"
        );
        let pg = declared(
            &plan,
            "aurora::aws:rds/DbClusterParameterGroup::cluster-parameter-group",
        );
        assert_eq!(pg["family"], "aurora-postgresql15");
        let params: Vec<(String, String)> = pg["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().into(),
                    p["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert!(params.contains(&(
            "shared_preload_libraries".into(),
            "pg_stat_statements".into()
        )));
        assert!(params.contains(&("log_min_duration_statement".into(), "1000".into())));
        // R5.1: a writer and a reader in different AZs.
        let instances = of_type(&plan, "aws:rds/DbClusterInstance");
        assert_eq!(instances.len(), 2, "{env}");
        let mut azs: Vec<&str> = instances
            .iter()
            .map(|i| i["availability_zone"].as_str().unwrap())
            .collect();
        azs.sort();
        azs.dedup();
        assert_eq!(azs.len(), 2, "{env}: {azs:?}");
        for i in &instances {
            assert_eq!(i["instance_class"], class, "{env}");
            assert_eq!(ref_name(&i["cluster_identifier"]), "cluster", "{env}");
            assert_eq!(i["publicly_accessible"], false, "{env}");
        }
    }
}

#[test]
fn r6_clickhouse_instance_volume_and_user_data() {
    for (env, size, ty) in [
        ("staging", 100, "m6i.large"),
        ("production", 500, "m6i.xlarge"),
    ] {
        let plan = preview(&load(env));
        let lt = declared(&plan, "clickhouse::aws:ec2/LaunchTemplate::launch-template");
        assert_eq!(lt["instance_type"], ty, "{env}");
        assert_eq!(
            ref_names(&lt["vpc_security_group_ids"]),
            vec!["sg-clickhouse"]
        );
        let ud = lt["user_data"].as_str().unwrap();
        assert!(
            ud.contains("https://packages.clickhouse.com/deb stable main"),
            "R6.1/6.4"
        );
        assert!(ud.contains("apt-get install -yq clickhouse-server"));
        assert!(ud.contains("/var/lib/clickhouse xfs"), "R6.2");
        assert!(
            ud.contains("<http_port>8123</http_port>") && ud.contains("<tcp_port>9000</tcp_port>")
        );
        assert!(ud.contains("systemctl restart clickhouse-server"));
        let cfg_mem = if env == "staging" {
            "6000000000"
        } else {
            "12000000000"
        };
        assert!(
            ud.contains(&format!("<max_memory_usage>{cfg_mem}</max_memory_usage>")),
            "{env}"
        );
        // The script is valid bash.
        let check = std::process::Command::new("bash")
            .args(["-n", "-c", ud])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );

        let inst = declared(&plan, "clickhouse::aws:ec2/Instance::instance");
        assert_eq!(ref_name(&inst["launch_template_id"]), "launch-template");
        // A template change replaces the instance (user data runs once).
        assert_eq!(
            ref_name(&inst["launch_template_version"]),
            "launch-template"
        );
        assert_eq!(inst["launch_template_version"]["$ref"]["attr"], "version");
        assert_eq!(
            ref_name(&inst["subnet_id"]),
            "private-us-east-1a",
            "R6.1 private subnet"
        );
        let vol = declared(&plan, "clickhouse::aws:ec2/Volume::data");
        assert_eq!(vol["type"], "gp3", "{env}");
        assert_eq!(vol["size"], size, "{env}");
        assert_eq!(vol["iops"], 3000, "{env}");
        assert_eq!(
            vol["availability_zone"], "us-east-1a",
            "same AZ as the instance"
        );
        let att = declared(
            &plan,
            "clickhouse::aws:ec2/VolumeAttachment::data-attachment",
        );
        assert_eq!(ref_name(&att["volume_id"]), "data");
        assert_eq!(ref_name(&att["instance_id"]), "instance");
    }
}

#[test]
fn r7_redis_replication_group_per_environment() {
    for (env, nodes, failover) in [("staging", 1, false), ("production", 2, true)] {
        let plan = preview(&load(env));
        let rg = declared(
            &plan,
            "redis::aws:elasticache/ReplicationGroup::replication-group",
        );
        assert!(
            rg["engine_version"].as_str().unwrap().starts_with("7."),
            "{env}"
        );
        assert_eq!(rg["num_cache_clusters"], nodes, "{env}");
        assert_eq!(rg["automatic_failover_enabled"], failover, "{env}");
        assert_eq!(rg["multi_az_enabled"], failover, "{env}");
        // R7.2
        assert_eq!(ref_names(&rg["security_group_ids"]), vec!["sg-redis"]);
        let sng = declared(&plan, "redis::aws:elasticache/SubnetGroup::subnet-group");
        assert_eq!(ref_names(&sng["subnet_ids"]), PRIVATE);
        // R7.3
        assert_eq!(rg["at_rest_encryption_enabled"], true);
        assert_eq!(rg["transit_encryption_enabled"], true);
        // R7.4
        let pg = declared(
            &plan,
            "redis::aws:elasticache/ParameterGroup::parameter-group",
        );
        assert_eq!(pg["family"], "redis7");
        assert_eq!(
            pg["parameters"],
            serde_json::json!([{"name": "maxmemory-policy", "value": "allkeys-lru"}])
        );
        assert_eq!(ref_name(&rg["parameter_group_name"]), "parameter-group");
        // R7.5
        assert_eq!(rg["snapshot_retention_limit"], 3);
        // R7.6: the AUTH token is generated and referenced, never written here.
        assert_eq!(ref_name(&rg["auth_token"]), "auth-token");
        assert_eq!(rg["auth_token"]["$ref"]["attr"], "result");
    }
}

#[test]
fn r8_rabbitmq_broker_per_environment() {
    for (env, mode, subnets) in [
        ("staging", "SINGLE_INSTANCE", 1),
        ("production", "CLUSTER_MULTI_AZ", 2),
    ] {
        let plan = preview(&load(env));
        let b = declared(&plan, "rabbitmq::aws:mq/Broker::broker");
        assert_eq!(b["engine_type"], "RABBITMQ");
        // R8.1 asks for 3.11, which Amazon MQ no longer creates (end of
        // support 2025-02-17): 3.13 is the oldest it accepts.
        assert_eq!(b["engine_version"], "3.13", "{env}");
        assert_eq!(b["host_instance_type"], "mq.m5.large");
        assert_eq!(b["deployment_mode"], mode, "{env}");
        assert_eq!(b["subnet_ids"].as_array().unwrap().len(), subnets, "{env}");
        for s in ref_names(&b["subnet_ids"]) {
            assert!(s.starts_with("private-"), "{env}: {s}");
        }
        assert_eq!(ref_names(&b["security_groups"]), vec!["sg-rabbitmq"]);
        assert_eq!(b["publicly_accessible"], false);
        assert_eq!(b["logs"]["general"], true, "R8.3");
        assert_eq!(ref_name(&b["users"][0]["password"]), "admin-password");
    }
}

#[test]
fn r9_opensearch_domain_per_environment() {
    for (env, count, zones) in [("staging", 1, false), ("production", 2, true)] {
        let plan = preview(&load(env));
        let d = declared(&plan, "opensearch::aws:opensearch/Domain::domain");
        assert!(d["engine_version"]
            .as_str()
            .unwrap()
            .starts_with("OpenSearch_2."));
        assert_eq!(d["cluster_config"]["instance_count"], count, "{env}");
        assert_eq!(
            d["cluster_config"]["zone_awareness_enabled"], zones,
            "{env}"
        );
        // R9.2, 9.3
        assert_eq!(d["ebs_options"]["volume_type"], "gp3");
        assert_eq!(d["encrypt_at_rest"]["enabled"], true);
        assert_eq!(d["node_to_node_encryption"]["enabled"], true);
        assert_eq!(d["domain_endpoint_options"]["enforce_https"], true);
        // R9.4: in the VPC, reachable only through the OpenSearch group.
        assert_eq!(
            ref_names(&d["vpc_options"]["security_group_ids"]),
            vec!["sg-opensearch"]
        );
        assert_eq!(
            d["vpc_options"]["subnet_ids"].as_array().unwrap().len(),
            count as usize
        );
        // The policy names the account the caller-identity lookup answers.
        let refs = morket_stack::value::refs(&d["access_policies"]);
        assert!(
            refs.iter()
                .all(|(u, _)| u.ends_with("account::aws:sts/getCallerIdentity::caller")),
            "{refs:?}"
        );
        let resolved = morket_stack::value::resolve(&d["access_policies"], &mut |_, a| {
            morket_stack::value::Resolved::Known(Value::from(match a {
                "account_id" => "123456789012",
                "partition" => "aws",
                other => panic!("unexpected attribute {other}"),
            }))
        });
        let policy: Value = serde_json::from_str(resolved.as_str().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"],
            serde_json::json!([{
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "es:ESHttp*",
                "Resource": format!("arn:aws:es:us-east-1:123456789012:domain/morket-{env}/*"),
            }]),
            "{env}"
        );
        // R9.5
        assert_eq!(d["snapshot_options"]["automated_snapshot_start_hour"], 2);
        // R9.6: master user with a generated password.
        assert_eq!(d["advanced_security_options"]["enabled"], true);
        assert_eq!(
            ref_name(&d["advanced_security_options"]["master_user_password"]),
            "master-password"
        );
    }
}

#[test]
fn production_data_stores_are_protected_and_staging_ones_are_not() {
    for (env, protected) in [("staging", false), ("production", true)] {
        let plan = preview(&load(env));
        let mut seen = 0;
        for s in &plan.steps {
            let component = s.urn.component_path();
            if ["aurora", "redis", "rabbitmq", "opensearch", "clickhouse"].contains(&component) {
                seen += 1;
                assert_eq!(
                    s.new.as_ref().unwrap().options.protect,
                    protected,
                    "{env}: {}",
                    s.urn
                );
            }
        }
        assert!(seen >= 15, "{env}: {seen}");
        // The network stays unprotected so that a change can still replace it.
        let vpc = plan
            .steps
            .iter()
            .find(|s| s.type_name == "aws:ec2/Vpc")
            .unwrap();
        assert!(!vpc.new.as_ref().unwrap().options.protect);
    }
}

#[test]
fn no_secret_is_written_into_the_declaration() {
    for env in ["staging", "production"] {
        let loaded = load(env);
        let text = serde_json::to_string(&preview(&loaded)).unwrap();
        for needle in [
            "\"password\":\"",
            "\"auth_token\":\"",
            "\"master_user_password\":\"",
        ] {
            assert!(!text.contains(needle), "{env}: {needle}");
        }
    }
}

#[test]
fn r2_5_vpc_flow_logs_to_cloudwatch_through_a_role() {
    for (env, retention) in [("staging", 30), ("production", 90)] {
        let plan = preview(&load(env));
        let flow = declared(&plan, "network::aws:ec2/FlowLog::flow-log");
        assert_eq!(ref_name(&flow["vpc_id"]), "vpc");
        assert_eq!(flow["traffic_type"], "ALL");
        assert_eq!(flow["log_destination_type"], "cloud-watch-logs");
        assert_eq!(ref_name(&flow["log_group_name"]), "flow-log-group");
        assert_eq!(
            ref_name(&flow["deliver_logs_permission_arn"]),
            "flow-log-role"
        );
        assert_eq!(flow["deliver_logs_permission_arn"]["$ref"]["attr"], "arn");
        let group = declared(&plan, "network::aws:logs/LogGroup::flow-log-group");
        assert_eq!(group["retention_in_days"], retention, "{env}");
        let role = declared(&plan, "network::aws:iam/Role::flow-log-role");
        assert_eq!(role["name"], format!("morket-{env}-vpc-flow-logs"));
        let trust: Value =
            serde_json::from_str(role["assume_role_policy"].as_str().unwrap()).unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"],
            "vpc-flow-logs.amazonaws.com"
        );
        let policy: Value = serde_json::from_str(
            role["inline_policies"]["publish-flow-logs"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let actions = policy["Statement"][0]["Action"].as_array().unwrap();
        assert!(actions.contains(&Value::from("logs:PutLogEvents")));
        for r in policy["Statement"][0]["Resource"].as_array().unwrap() {
            assert!(
                r.as_str()
                    .unwrap()
                    .contains(&format!("/morket/{env}/vpc-flow-logs")),
                "{r}"
            );
        }
    }
}

/// `depends_on` of the declared resource whose URN ends in `suffix`.
fn depends_on(loaded: &stacks::Loaded, suffix: &str) -> Vec<String> {
    let d = loaded
        .stack
        .resources()
        .iter()
        .find(|d| d.urn.as_str().ends_with(suffix))
        .unwrap_or_else(|| panic!("no resource ending in {suffix}"));
    d.options.depends_on.iter().map(|u| u.to_string()).collect()
}

/// Orderings real AWS needs that references alone do not give: ClickHouse's
/// first boot downloads it through the NAT gateway; the first instance of an
/// Aurora cluster becomes its writer; OpenSearch in a VPC and ECS capacity
/// providers need their service-linked roles (declared once per account and
/// never deleted by `destroy`).
#[test]
fn orderings_real_aws_needs() {
    for env in ["staging", "production"] {
        let loaded = load(env);
        let ch = depends_on(&loaded, "clickhouse::aws:ec2/Instance::instance");
        assert!(
            ch.iter()
                .any(|u| u.contains("aws:ec2/Route::private-default-")),
            "{env}: {ch:?}"
        );
        assert!(
            ch.iter()
                .any(|u| u.contains("aws:ec2/RouteTableAssociation::private-rta-")),
            "{env}: {ch:?}"
        );
        let reader = depends_on(&loaded, "aws:rds/DbClusterInstance::reader-1");
        assert!(
            reader.iter().any(|u| u.ends_with("::writer")),
            "{env}: {reader:?}"
        );
        assert!(depends_on(&loaded, "aws:rds/DbClusterInstance::writer").is_empty());
        for (what, role) in [
            (
                "opensearch::aws:opensearch/Domain::domain",
                "opensearch-role",
            ),
            ("ecs::aws:ecs/Cluster::cluster", "ecs-role"),
            (
                "aws:elasticache/ReplicationGroup::replication-group",
                "elasticache-role",
            ),
            ("aurora::aws:rds/DbCluster::cluster", "rds-role"),
        ] {
            let deps = depends_on(&loaded, what);
            assert!(
                deps.iter()
                    .any(|u| u.ends_with(&format!("aws:iam/ServiceLinkedRole::{role}"))),
                "{env}: {what}: {deps:?}"
            );
        }
    }
}

/// `--set KEY=VALUE` overrides a key of the stack file before the program
/// checks it: the plan has the value, and a bad key or value is refused
/// naming it, as in the file.
#[test]
fn set_overrides_are_checked_like_the_file() {
    let with = |set: &[(&str, &str)]| {
        let env = stacks::StackEnv {
            set: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        stacks::load(stacks_dir(), "staging", None, &env).map_err(|e| e.to_string())
    };
    let refused = |set: &[(&str, &str)]| match with(set) {
        Ok(_) => panic!("{set:?} was accepted"),
        Err(e) => e,
    };
    let loaded = with(&[("redis.snapshot_retention_days", "5")]).unwrap();
    let plan = preview(&loaded);
    let rg = step_inputs(
        &plan,
        "redis::aws:elasticache/ReplicationGroup::replication-group",
    );
    assert_eq!(rg["snapshot_retention_limit"], 5);

    let err = refused(&[("clickhouse.volume_iops", "1")]);
    assert!(
        err.contains("clickhouse.volume_iops") && err.contains('1'),
        "{err}"
    );
    let err = refused(&[("redis.no_such_key", "1")]);
    assert!(err.contains("no_such_key"), "{err}");
    // A key that holds a string keeps it a string: the environment check,
    // not a type error, answers.
    let err = refused(&[("environment", "123")]);
    assert!(err.contains("environment") && err.contains("123"), "{err}");
    let err = refused(&[("project", "demo")]);
    assert!(err.contains("project") && err.contains("--set"), "{err}");
    let err = refused(&[("region.x", "1")]);
    assert!(err.contains("region is not a table"), "{err}");
}

/// The parts of a `$concat` string: text as it is, references as
/// `<ref:name.attr>`.
fn joined(v: &Value) -> String {
    let part = |p: &Value| match p.as_str() {
        Some(s) => s.to_string(),
        // An interpolation inside one (a policy naming a built ARN).
        None if p.get("$concat").is_some() => joined(p),
        None => format!(
            "<ref:{}.{}>",
            ref_name(p),
            p["$ref"]["attr"].as_str().unwrap_or("")
        ),
    };
    match v.get("$concat").and_then(Value::as_array) {
        Some(parts) => parts.iter().map(part).collect(),
        None => part(v),
    }
}

#[test]
fn r11_every_secret_is_listed_valued_from_random_and_never_written_here() {
    for (env, recovery) in [("staging", 0), ("production", 30)] {
        let plan = preview(&load(env));
        // R11.1: every listed secret, named per environment.
        let mut names: Vec<String> = of_type(&plan, "aws:secretsmanager/Secret")
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        let want: Vec<String> = [
            "clickhouse",
            "encryption-key",
            "jwt",
            "opensearch",
            "rabbitmq",
            "redis",
            "service-api-key",
            "webhook-hmac",
        ]
        .iter()
        .map(|k| format!("morket/{env}/{k}"))
        .collect();
        assert_eq!(names, want, "{env}");
        for s in of_type(&plan, "aws:secretsmanager/Secret") {
            assert_eq!(s["recovery_window_in_days"], recovery, "{env}");
        }
        // Values come from the generated passwords by reference: the
        // declaration holds no secret text.
        let value = |key: &str| {
            joined(
                &declared(
                    &plan,
                    &format!("secrets::aws:secretsmanager/SecretVersion::{key}-value"),
                )["secret_string"],
            )
        };
        assert_eq!(value("jwt"), "<ref:jwt-generated.result>");
        assert_eq!(value("webhook-hmac"), "<ref:webhook-hmac-generated.result>");
        assert_eq!(
            value("redis"),
            r#"{"auth_token":"<ref:auth-token.result>"}"#
        );
        assert_eq!(
            value("rabbitmq"),
            r#"{"username":"morket_admin","password":"<ref:admin-password.result>"}"#
        );
        assert_eq!(
            value("opensearch"),
            r#"{"username":"morket_admin","password":"<ref:master-password.result>"}"#
        );
        assert_eq!(
            value("clickhouse"),
            r#"{"username":"morket_admin","password":"<ref:clickhouse-password.result>"}"#
        );
        for key in ["jwt", "encryption-key", "service-api-key", "webhook-hmac"] {
            let p = declared(
                &plan,
                &format!("secrets::random:index/RandomPassword::{key}-generated"),
            );
            assert_eq!(p["length"], 64);
            assert_eq!(p["special"], false);
        }
        // R5.4 / R11.4: Aurora's RDS-managed secret rotates every 30 days,
        // without a Lambda.
        let rot = declared(
            &plan,
            "secrets::aws:secretsmanager/SecretRotation::aurora-rotation",
        );
        assert_eq!(ref_name(&rot["secret_id"]), "cluster");
        assert_eq!(rot["secret_id"]["$ref"]["attr"], "master_user_secret_arn");
        assert_eq!(rot["rotation_rules"]["automatically_after_days"], 30);
        assert!(rot.get("rotation_lambda_arn").is_none_or(Value::is_null));
    }
}

#[test]
fn r17_ecr_repositories_scan_encrypt_and_expire() {
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        for app in ["backend", "scraper", "frontend"] {
            let r = declared(&plan, &format!("registry::aws:ecr/Repository::{app}"));
            // R17.1 (names carry the environment: one account holds both).
            assert_eq!(r["name"], format!("morket-{env}-{app}"));
            // R17.2
            assert_eq!(r["image_scanning_configuration"]["scan_on_push"], true);
            // R17.4: KMS with the account's default key.
            assert_eq!(r["encryption_configuration"]["encryption_type"], "KMS");
            assert!(r["encryption_configuration"].get("kms_key").is_none());
            assert_eq!(r["force_delete"], env == "staging");
            // R17.3
            let lc = declared(
                &plan,
                &format!("registry::aws:ecr/LifecyclePolicy::{app}-lifecycle"),
            );
            assert_eq!(ref_name(&lc["repository"]), app);
            let rules = lc["policy"]["rules"].as_array().unwrap();
            assert_eq!(rules.len(), 2);
            let untagged = &rules[0]["selection"];
            assert_eq!(untagged["tag_status"], "untagged");
            assert_eq!(untagged["count_type"], "sinceImagePushed");
            assert_eq!(untagged["count_unit"], "days");
            assert_eq!(untagged["count_number"], 7);
            let tagged = &rules[1]["selection"];
            assert_eq!(tagged["tag_status"], "tagged");
            assert_eq!(tagged["tag_pattern_list"], serde_json::json!(["*"]));
            assert_eq!(tagged["count_type"], "imageCountMoreThan");
            assert_eq!(tagged["count_number"], 20);
        }
    }
}

/// The built site (R14.7): `--set frontend.site_dir=DIR` declares the sync
/// of DIR's files into the site bucket, invalidating `/*` on the
/// distribution, kept when a later deploy leaves it out (retained, not
/// emptied); pages are revalidated, hashed assets cached for good. A
/// directory without index.html, or none, is refused naming the key.
#[test]
fn a_site_dir_declares_the_sync_with_its_cache_headers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<html></html>").unwrap();
    std::fs::write(dir.path().join("assets/app.3f2a.js"), "let a;").unwrap();
    std::fs::write(dir.path().join("favicon.ico"), "icon").unwrap();
    let with_site = |d: &Path| stacks::StackEnv {
        set: vec![("frontend.site_dir".into(), d.display().to_string())],
        ..Default::default()
    };
    let loaded = stacks::load(stacks_dir(), "staging", None, &with_site(dir.path())).unwrap();
    let plan = preview(&loaded);
    let site = step_inputs(&plan, "::edge::aws:s3/SiteSync::site");
    let files = &site["files"];
    assert_eq!(files.as_object().unwrap().len(), 3, "{site:#}");
    assert_eq!(files["index.html"]["cache_control"], "no-cache");
    assert_eq!(
        files["index.html"]["content_type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(
        files["assets/app.3f2a.js"]["cache_control"],
        "public, max-age=31536000, immutable"
    );
    assert!(files["favicon.ico"]["cache_control"].is_null());
    assert_eq!(site["invalidation_paths"], serde_json::json!(["/*"]));
    let decl = loaded
        .stack
        .resources()
        .iter()
        .find(|r| r.urn.as_str().ends_with("::aws:s3/SiteSync::site"))
        .unwrap();
    assert!(decl.options.retain_on_delete);

    // No site_dir: no site in the stack.
    let plain = preview(&load("staging"));
    assert!(!plain
        .steps
        .iter()
        .any(|s| s.urn.as_str().contains("SiteSync")));

    let empty = tempfile::tempdir().unwrap();
    for (bad, says) in [
        (empty.path().to_path_buf(), "index.html"),
        (
            Path::new("/nonexistent/dist").to_path_buf(),
            "/nonexistent/dist",
        ),
    ] {
        let err = stacks::load(stacks_dir(), "staging", None, &with_site(&bad))
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("frontend.site_dir") && err.contains(says),
            "{err}"
        );
    }
}
