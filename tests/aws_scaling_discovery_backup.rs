//! aws:appautoscaling/{Target, Policy}, aws:servicediscovery/{PrivateDnsNamespace,
//! Service} and aws:backup/{Vault, Plan, Selection} through the engine against
//! moto: create (properties read back with the SDK), update in place, a
//! force-new change replaces, out-of-band drift read, no-op preview, destroy;
//! validation before any call; interrupted creates found again. moto 5.2 lacks
//! CreateBackupSelection, GetBackupSelection, ListBackupSelections,
//! DeleteBackupSelection and UpdateBackupPlan: the peer (scripts/moto_server.py)
//! adds them, and what neither can show (IAM propagation, asynchronous
//! Cloud Map operations, services still holding instances) runs against
//! aws-smithy-mocks.

mod support;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_mocks::{mock, mock_client, RuleMode};
use morket_stack::engine::Engine;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::appautoscaling::policy::{Policy, TargetTracking};
use morket_stack::provider::aws::appautoscaling::target::Target;
use morket_stack::provider::aws::backup::plan::{Lifecycle, Plan, Rule};
use morket_stack::provider::aws::backup::selection::Selection;
use morket_stack::provider::aws::backup::vault::Vault;
use morket_stack::provider::aws::servicediscovery::private_dns_namespace::PrivateDnsNamespace;
use morket_stack::provider::aws::servicediscovery::service::{DnsRecord, Service};
use morket_stack::provider::aws::{Aws, AwsSettings};
use morket_stack::state::StateStore;
use serde_json::{json, Value};
use support::aws::{
    self as shared, create_vpc, ctx, offline_engine, registry, step, store, tag_urn, STACK,
};

const ACCOUNT: &str = "123456789012";

fn settings() -> AwsSettings {
    AwsSettings {
        wait_timeout: Duration::from_secs(30),
        ..shared::settings()
    }
}

/// The shared environment plus the SDK clients these tests check moto with.
struct Env {
    h: shared::Env,
    scaling: aws_sdk_applicationautoscaling::Client,
    sd: aws_sdk_servicediscovery::Client,
    backup: aws_sdk_backup::Client,
    ecs: aws_sdk_ecs::Client,
    iam: aws_sdk_iam::Client,
}

impl Deref for Env {
    type Target = shared::Env;
    fn deref(&self) -> &shared::Env {
        &self.h
    }
}

impl DerefMut for Env {
    fn deref_mut(&mut self) -> &mut shared::Env {
        &mut self.h
    }
}

async fn env() -> Env {
    let h = shared::Env::new(settings()).await;
    Env {
        scaling: aws_sdk_applicationautoscaling::Client::new(&h.conf),
        sd: aws_sdk_servicediscovery::Client::new(&h.conf),
        backup: aws_sdk_backup::Client::new(&h.conf),
        ecs: aws_sdk_ecs::Client::new(&h.conf),
        iam: aws_sdk_iam::Client::new(&h.conf),
        h,
    }
}

async fn preview_error(d: impl morket_stack::model::ResourceArgs) -> String {
    shared::preview_error(&mut offline_engine(settings()), d).await
}

impl Env {
    /// An ECS cluster and a service in it (fixtures, made with the SDK).
    async fn ecs_service(&self, cluster: &str, service: &str) {
        self.ecs
            .create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .unwrap();
        let td = self
            .ecs
            .register_task_definition()
            .family(service)
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name(service)
                    .image("nginx")
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let arn = td
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string();
        self.ecs
            .create_service()
            .cluster(cluster)
            .service_name(service)
            .task_definition(arn)
            .desired_count(2)
            .send()
            .await
            .unwrap();
    }

    async fn target(
        &self,
        rid: &str,
    ) -> Option<aws_sdk_applicationautoscaling::types::ScalableTarget> {
        self.scaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_ids(rid)
            .send()
            .await
            .unwrap()
            .scalable_targets()
            .first()
            .cloned()
    }

    async fn policies(
        &self,
        rid: &str,
    ) -> Vec<aws_sdk_applicationautoscaling::types::ScalingPolicy> {
        self.scaling
            .describe_scaling_policies()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_id(rid)
            .send()
            .await
            .unwrap()
            .scaling_policies()
            .to_vec()
    }

    async fn sd_tags(&self, arn: &str) -> std::collections::BTreeMap<String, String> {
        self.sd
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    /// A role AWS Backup may assume; returns its ARN.
    async fn backup_role(&self) -> String {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        self.iam
            .create_role()
            .role_name("morket-backup")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap()
            .role()
            .unwrap()
            .arn()
            .to_string()
    }

    /// An EBS volume (ClickHouse's data volume); returns its ARN.
    async fn volume(&self) -> String {
        let id = self
            .ec2
            .create_volume()
            .availability_zone("us-east-1a")
            .size(10)
            .send()
            .await
            .unwrap()
            .volume_id()
            .unwrap()
            .to_string();
        format!("arn:aws:ec2:us-east-1:{ACCOUNT}:volume/{id}")
    }
}

// ---------------------------------------------------------------- scaling

fn scaling_stack(
    t: &Target,
    p: &TargetTracking,
    name: &str,
) -> (Stack, Resource<Target>, Resource<Policy>) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let target = root.resource("backend", t.clone()).unwrap();
    let policy = root
        .resource(
            "backend-cpu",
            Policy::ecs_target_tracking(name, target.resource_id(), p.clone()),
        )
        .unwrap();
    (st, target, policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalable_target_and_target_tracking_policy_lifecycle() {
    let mut e = env().await;
    e.ecs_service("morket-staging", "backend").await;
    let rid = "service/morket-staging/backend";

    // R3.7: 2 to 10 tasks, CPU held at 70 %.
    let mut t = Target::ecs_service("morket-staging", "backend", 2, 10);
    let mut tt = TargetTracking {
        target_value: 70.0,
        predefined_metric_type: "ECSServiceAverageCPUUtilization".into(),
        scale_in_cooldown: 300,
        scale_out_cooldown: 60,
        ..Default::default()
    };
    let (s1, target, policy) = scaling_stack(&t, &tt, "backend-cpu");
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 2);
    let live = e.target(rid).await.expect("target");
    assert_eq!((live.min_capacity(), live.max_capacity()), (2, 10));
    assert_eq!(
        live.scalable_dimension().as_str(),
        "ecs:service:DesiredCount"
    );
    let out = e.outputs(&target);
    assert_eq!(out["id"], format!("ecs/{rid}/ecs:service:DesiredCount"));
    assert_eq!(out["resource_id"], rid);
    assert_eq!(out["arn"].as_str(), live.scalable_target_arn());
    let ps = e.policies(rid).await;
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].policy_name(), "backend-cpu");
    assert_eq!(ps[0].policy_type().as_str(), "TargetTrackingScaling");
    let c = ps[0]
        .target_tracking_scaling_policy_configuration()
        .unwrap();
    assert_eq!(c.target_value(), 70.0);
    assert_eq!(
        c.predefined_metric_specification()
            .unwrap()
            .predefined_metric_type()
            .as_str(),
        "ECSServiceAverageCPUUtilization"
    );
    assert_eq!(
        (c.scale_in_cooldown(), c.scale_out_cooldown()),
        (Some(300), Some(60))
    );
    assert_eq!(c.disable_scale_in(), Some(false));
    let out = e.outputs(&policy);
    assert_eq!(out["arn"].as_str(), Some(ps[0].policy_arn()));
    let alarms: Vec<&str> = ps[0].alarms().iter().map(|a| a.alarm_arn()).collect();
    assert_eq!(out["alarm_arns"], json!(alarms));

    // Update in place: the capacity range, then the policy's target and cooldowns.
    t.min_capacity = 3;
    t.max_capacity = 20;
    tt.target_value = 60.0;
    tt.scale_in_cooldown = 120;
    let (s2, _, _) = scaling_stack(&t, &tt, "backend-cpu");
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &target).action, Action::Update);
    assert_eq!(
        step(&plan, &target).changed,
        vec!["max_capacity", "min_capacity"]
    );
    assert_eq!(step(&plan, &policy).action, Action::Update);
    assert_eq!(step(&plan, &policy).changed, vec!["target_tracking"]);
    let live = e.target(rid).await.unwrap();
    assert_eq!((live.min_capacity(), live.max_capacity()), (3, 20));
    let ps = e.policies(rid).await;
    assert_eq!(ps.len(), 1);
    let c = ps[0]
        .target_tracking_scaling_policy_configuration()
        .unwrap();
    assert_eq!(c.target_value(), 60.0);
    assert_eq!(
        (c.scale_in_cooldown(), c.scale_out_cooldown()),
        (Some(120), Some(60))
    );

    // Out-of-band changes, then a read returns the live values.
    e.scaling
        .register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(
            aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount,
        )
        .min_capacity(1)
        .max_capacity(5)
        .send()
        .await
        .unwrap();
    let read = e.read(&target).await.expect("live");
    assert_eq!(
        (read["min_capacity"].clone(), read["max_capacity"].clone()),
        (json!(1), json!(5))
    );
    assert_eq!(read["resource_id"], rid);
    // The live view differs from what state recorded exactly where it drifted
    // (`up` plans from state; `read` is what a refresh sees).
    let recorded = e.st.resource(target.urn()).unwrap().unwrap().inputs;
    let d = e.reg.get(Target::TYPE).unwrap().diff(&read, &recorded);
    assert_eq!(d.changed, vec!["max_capacity", "min_capacity"]);

    // Force-new: a new policy name replaces the policy.
    let (s3, _, _) = scaling_stack(&t, &tt, "backend-cpu-70");
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &policy).action, Action::Replace);
    assert_eq!(step(&plan, &policy).replace_fields, vec!["name"]);
    let names: Vec<String> = e
        .policies(rid)
        .await
        .iter()
        .map(|p| p.policy_name().to_string())
        .collect();
    assert_eq!(names, vec!["backend-cpu-70"]);

    // Destroy: the policy, then the target.
    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.target(rid).await.is_none());
    assert!(e.policies(rid).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- Cloud Map

fn discovery_stack(
    ns: &PrivateDnsNamespace,
    svc: impl Fn(&Resource<PrivateDnsNamespace>) -> Service,
) -> (Stack, Resource<PrivateDnsNamespace>, Resource<Service>) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let n = root.resource("internal", ns.clone()).unwrap();
    let s = root.resource("temporal", svc(&n)).unwrap();
    (st, n, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_dns_namespace_and_service_lifecycle() {
    let mut e = env().await;
    let vpc = create_vpc(&e.ec2, "10.0.0.0/16").await;
    let mut ns = PrivateDnsNamespace::new("morket.local", vpc.as_str());
    ns.description = Some("Morket internal names".into());
    ns.tags.insert("Name".into(), "morket-local".into());
    let mut ttl = 10;
    let mut svc_tags = std::collections::BTreeMap::new();
    let svc = |ttl: i64, tags: &std::collections::BTreeMap<String, String>| {
        let tags = tags.clone();
        move |n: &Resource<PrivateDnsNamespace>| {
            let mut s = Service::a_records("temporal", n.id(), ttl);
            s.tags = tags.clone();
            s
        }
    };

    // Create: the namespace's operation is waited for; its id comes from it.
    let (s1, n, s) = discovery_stack(&ns, svc(ttl, &svc_tags));
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 2);
    let ns_id = e.id(&n);
    let live =
        e.sd.get_namespace()
            .id(&ns_id)
            .send()
            .await
            .unwrap()
            .namespace()
            .cloned()
            .unwrap();
    assert_eq!(live.name(), Some("morket.local"));
    assert_eq!(live.description(), Some("Morket internal names"));
    assert_eq!(live.r#type().map(|t| t.as_str()), Some("DNS_PRIVATE"));
    let out = e.outputs(&n);
    assert_eq!(out["id"], ns_id);
    assert_eq!(out["arn"].as_str(), live.arn());
    let zone = live
        .properties()
        .and_then(|p| p.dns_properties())
        .and_then(|d| d.hosted_zone_id())
        .unwrap();
    assert_eq!(out["hosted_zone"], zone);
    let t = e.sd_tags(live.arn().unwrap()).await;
    assert_eq!(t["Name"], "morket-local");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), n.urn().as_str());

    let svc_id = e.id(&s);
    let sd = e.sd.clone();
    let get_svc = move |id: String| {
        let sd = sd.clone();
        async move {
            sd.get_service()
                .id(id)
                .send()
                .await
                .unwrap()
                .service()
                .cloned()
                .unwrap()
        }
    };
    let live = get_svc(svc_id.clone()).await;
    assert_eq!(live.name(), Some("temporal"));
    assert_eq!(live.namespace_id(), Some(ns_id.as_str()));
    let dns = live.dns_config().unwrap();
    assert_eq!(dns.routing_policy().map(|p| p.as_str()), Some("MULTIVALUE"));
    let recs: Vec<(&str, i64)> = dns
        .dns_records()
        .iter()
        .map(|r| (r.r#type().as_str(), r.ttl()))
        .collect();
    assert_eq!(recs, vec![("A", 10)]);
    assert!(
        live.health_check_custom_config().is_some(),
        "ECS-managed health"
    );
    assert_eq!(e.outputs(&s)["arn"].as_str(), live.arn());

    // Update in place: the namespace's description; the service's TTL and tags.
    ns.description = Some("Morket service names".into());
    ttl = 30;
    svc_tags.insert("Service".to_string(), "temporal".to_string());
    let (s2, _, _) = discovery_stack(&ns, svc(ttl, &svc_tags));
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &n).action, Action::Update);
    assert_eq!(step(&plan, &n).changed, vec!["description"]);
    assert_eq!(step(&plan, &s).action, Action::Update);
    assert_eq!(step(&plan, &s).changed, vec!["dns_config", "tags"]);
    assert_eq!(e.id(&n), ns_id, "updated, not replaced");
    assert_eq!(
        e.sd.get_namespace()
            .id(&ns_id)
            .send()
            .await
            .unwrap()
            .namespace()
            .unwrap()
            .description(),
        Some("Morket service names")
    );
    let live = get_svc(svc_id.clone()).await;
    assert_eq!(live.dns_config().unwrap().dns_records()[0].ttl(), 30);
    assert_eq!(e.sd_tags(live.arn().unwrap()).await["Service"], "temporal");

    // Out-of-band change, then a read returns the live values.
    e.sd.update_service()
        .id(&svc_id)
        .service(
            aws_sdk_servicediscovery::types::ServiceChange::builder()
                .description("by hand")
                .dns_config(
                    aws_sdk_servicediscovery::types::DnsConfigChange::builder()
                        .dns_records(
                            aws_sdk_servicediscovery::types::DnsRecord::builder()
                                .r#type(aws_sdk_servicediscovery::types::RecordType::A)
                                .ttl(300)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let read = e.read(&s).await.expect("live");
    assert_eq!(read["description"], "by hand");
    assert_eq!(
        read["dns_config"]["dns_records"],
        json!([{"type": "A", "ttl": 300}])
    );
    assert_eq!(read["namespace_id"], ns_id);
    let read = e.read(&n).await.expect("live");
    assert_eq!(read["vpc"], vpc, "not readable: the declared VPC stands");
    let recorded = e.st.resource(s.urn()).unwrap().unwrap().inputs;
    let read = e.read(&s).await.expect("live");
    let d = e.reg.get(Service::TYPE).unwrap().diff(&recorded, &read);
    assert_eq!(d.changed, vec!["description", "dns_config"]);
    assert!(d.replace.is_empty(), "a TTL changes in place");

    // Force-new: SRV records instead of A replace the service.
    let srv = |n: &Resource<PrivateDnsNamespace>| {
        let mut x = svc(30, &svc_tags)(n);
        x.dns_config.dns_records = vec![DnsRecord {
            record_type: "SRV".into(),
            ttl: 30,
        }];
        x
    };
    let (s3, _, _) = discovery_stack(&ns, srv);
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &s).action, Action::Replace);
    assert_eq!(step(&plan, &s).replace_fields, vec!["dns_config"]);
    assert_ne!(e.id(&s), svc_id);
    let services = e.sd.list_services().send().await.unwrap();
    assert_eq!(services.services().len(), 1, "old service deleted");

    // Destroy: the service, then the namespace (an operation waited for).
    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e
        .sd
        .list_services()
        .send()
        .await
        .unwrap()
        .services()
        .is_empty());
    assert!(e
        .sd
        .list_namespaces()
        .send()
        .await
        .unwrap()
        .namespaces()
        .is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- Backup

struct BackupStack {
    st: Stack,
    vault: Resource<Vault>,
    plan: Resource<Plan>,
    selection: Resource<Selection>,
}

fn backup_stack(v: &Vault, days: i64, role: &str, resources: &[String]) -> BackupStack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let vault = root.resource("clickhouse", v.clone()).unwrap();
    let plan = root
        .resource(
            "clickhouse",
            Plan {
                name: "morket-staging-clickhouse".into(),
                rules: vec![Rule::daily(
                    "daily",
                    vault.name(),
                    "cron(0 3 * * ? *)",
                    days,
                )],
                ..Default::default()
            },
        )
        .unwrap();
    let selection = root
        .resource(
            "clickhouse-data",
            Selection {
                name: "clickhouse-data".into(),
                plan_id: plan.id().into(),
                iam_role_arn: role.into(),
                resources: resources.iter().map(|r| Input::from(r.as_str())).collect(),
            },
        )
        .unwrap();
    BackupStack {
        st,
        vault,
        plan,
        selection,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_plan_and_selection_lifecycle() {
    let mut e = env().await;
    let role = e.backup_role().await;
    let vol = e.volume().await;
    // No tags on the vault: moto's ListTags takes the ARN from a path segment
    // the Rust SDK does not send (it reads "tags"), so every read would see none.
    let v = Vault::new("morket-staging-clickhouse");

    // R6.5: the ClickHouse EBS volume, daily, kept 7 days.
    let b = backup_stack(&v, 7, &role, std::slice::from_ref(&vol));
    let plan = e.up_stable(&b.st).await;
    assert_eq!(plan.counts().create, 3);
    let live = e
        .backup
        .describe_backup_vault()
        .backup_vault_name("morket-staging-clickhouse")
        .send()
        .await
        .unwrap();
    let vault_arn = live.backup_vault_arn().unwrap().to_string();
    assert_eq!(e.outputs(&b.vault)["arn"], vault_arn);

    let plan_id = e.id(&b.plan);
    let got = e
        .backup
        .get_backup_plan()
        .backup_plan_id(&plan_id)
        .send()
        .await
        .unwrap();
    let rules = got.backup_plan().unwrap().rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule_name(), "daily");
    assert_eq!(
        rules[0].target_backup_vault_name(),
        "morket-staging-clickhouse"
    );
    assert_eq!(rules[0].schedule_expression(), Some("cron(0 3 * * ? *)"));
    assert_eq!(rules[0].start_window_minutes(), Some(60));
    assert_eq!(rules[0].completion_window_minutes(), Some(180));
    assert_eq!(
        rules[0].lifecycle().and_then(|l| l.delete_after_days()),
        Some(7)
    );
    let out = e.outputs(&b.plan);
    assert_eq!(out["arn"].as_str(), got.backup_plan_arn());
    let version = out["version"].as_str().unwrap().to_string();
    assert_eq!(Some(version.as_str()), got.version_id());

    let (pid, sid) = e
        .id(&b.selection)
        .split_once('|')
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .unwrap();
    assert_eq!(pid, plan_id);
    let sel = e
        .backup
        .get_backup_selection()
        .backup_plan_id(&pid)
        .selection_id(&sid)
        .send()
        .await
        .unwrap();
    let sel = sel.backup_selection().unwrap();
    assert_eq!(sel.selection_name(), "clickhouse-data");
    assert_eq!(sel.iam_role_arn(), role);
    assert_eq!(sel.resources(), std::slice::from_ref(&vol));

    // Update in place: the retention (UpdateBackupPlan, a new version).
    let b2 = backup_stack(&v, 14, &role, std::slice::from_ref(&vol));
    let plan = e.up_stable(&b2.st).await;
    assert_eq!(step(&plan, &b.plan).action, Action::Update);
    assert_eq!(step(&plan, &b.plan).changed, vec!["rules"]);
    assert_eq!(plan.counts().update, 1, "only the plan: {:?}", plan.steps);
    let got = e
        .backup
        .get_backup_plan()
        .backup_plan_id(&plan_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.backup_plan().unwrap().rules()[0]
            .lifecycle()
            .and_then(|l| l.delete_after_days()),
        Some(14)
    );
    assert_ne!(
        e.outputs(&b.plan)["version"],
        json!(version),
        "a new version"
    );

    // Out-of-band change of the plan, then a read returns the live rules.
    let by_hand = aws_sdk_backup::types::BackupPlanInput::builder()
        .backup_plan_name("morket-staging-clickhouse")
        .rules(
            aws_sdk_backup::types::BackupRuleInput::builder()
                .rule_name("daily")
                .target_backup_vault_name("morket-staging-clickhouse")
                .schedule_expression("cron(0 3 * * ? *)")
                .start_window_minutes(60)
                .completion_window_minutes(180)
                .lifecycle(
                    aws_sdk_backup::types::Lifecycle::builder()
                        .delete_after_days(1)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    e.backup
        .update_backup_plan()
        .backup_plan_id(&plan_id)
        .backup_plan(by_hand)
        .send()
        .await
        .unwrap();
    let read = e.read(&b.plan).await.expect("live");
    assert_eq!(read["rules"][0]["lifecycle"], json!({"delete_after": 1}));
    assert_eq!(read["rules"][0]["rule_name"], "daily");

    // Force-new: another volume replaces the selection (AWS cannot update one).
    let vol2 = e.volume().await;
    let b3 = backup_stack(&v, 14, &role, &[vol.clone(), vol2.clone()]);
    let plan = e.up_stable(&b3.st).await;
    assert_eq!(step(&plan, &b.selection).action, Action::Replace);
    assert_eq!(step(&plan, &b.selection).replace_fields, vec!["resources"]);
    let list = e
        .backup
        .list_backup_selections()
        .backup_plan_id(&plan_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        list.backup_selections_list().len(),
        1,
        "old selection deleted"
    );
    assert_ne!(
        list.backup_selections_list()[0].selection_id(),
        Some(sid.as_str())
    );
    // The declared order of the resources is not drift.
    let b4 = backup_stack(&v, 14, &role, &[vol2, vol]);
    e.no_changes(&b4.st).await;

    // Destroy: selection, plan, vault.
    let (_, report) = e.h.eng.destroy(&b4.st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e
        .backup
        .list_backup_vaults()
        .send()
        .await
        .unwrap()
        .backup_vault_list()
        .is_empty());
    let plans = e.backup.list_backup_plans().send().await.unwrap();
    assert!(plans
        .backup_plans_list()
        .iter()
        .all(|p| p.deletion_date().is_some()));
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- adoption

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_found_again() {
    let mut e = env().await;
    e.ecs_service("morket-staging", "scraper").await;
    let vpc = create_vpc(&e.ec2, "10.1.0.0/16").await;
    // moto allows one namespace per VPC (AWS: one per name).
    let vpc2 = create_vpc(&e.ec2, "10.2.0.0/16").await;
    let role = e.backup_role().await;
    let vol = e.volume().await;

    // First the parents, through the engine.
    let mut st0 = Stack::new(STACK).unwrap();
    let mut root = st0.root();
    let target = root
        .resource(
            "scraper",
            Target::ecs_service("morket-staging", "scraper", 2, 10),
        )
        .unwrap();
    let ns = root
        .resource(
            "internal",
            PrivateDnsNamespace::new("morket.local", vpc.as_str()),
        )
        .unwrap();
    let vault = root.resource("vault", Vault::new("morket-vault")).unwrap();
    let plan = root
        .resource(
            "plan",
            Plan {
                name: "morket-plan".into(),
                rules: vec![Rule::daily("daily", vault.name(), "cron(0 3 * * ? *)", 7)],
                ..Default::default()
            },
        )
        .unwrap();
    e.up(&st0).await;
    let (rid, ns_id, plan_id) = (
        e.outputs(&target)["resource_id"]
            .as_str()
            .unwrap()
            .to_string(),
        e.id(&ns),
        e.id(&plan),
    );

    // Then each child's create "returns" in a run killed before its checkpoint.
    let mut st = st0.clone();
    let mut root = st.root();
    let policy = root
        .resource(
            "scraper-cpu",
            Policy::ecs_target_tracking(
                "scraper-cpu",
                target.resource_id(),
                TargetTracking::default(),
            ),
        )
        .unwrap();
    let svc = root
        .resource("temporal", Service::a_records("temporal", ns.id(), 10))
        .unwrap();
    let sel = root
        .resource(
            "sel",
            Selection {
                name: "clickhouse-data".into(),
                plan_id: plan.id().into(),
                iam_role_arn: role.as_str().into(),
                resources: vec![vol.as_str().into()],
            },
        )
        .unwrap();
    // And a namespace whose create finished unseen, found by its URN tag.
    let ns2 = root
        .resource(
            "other",
            PrivateDnsNamespace::new("other.local", vpc2.as_str()),
        )
        .unwrap();
    let resolved = |v: Value, field: &str, with: &str| {
        let mut v = v;
        v[field] = json!(with);
        v
    };
    let mut created = Vec::new();
    for (urn, inputs) in [
        (
            policy.urn().clone(),
            resolved(
                st.get(policy.urn()).unwrap().inputs.clone(),
                "resource_id",
                &rid,
            ),
        ),
        (
            svc.urn().clone(),
            resolved(
                st.get(svc.urn()).unwrap().inputs.clone(),
                "namespace_id",
                &ns_id,
            ),
        ),
        (
            sel.urn().clone(),
            resolved(
                st.get(sel.urn()).unwrap().inputs.clone(),
                "plan_id",
                &plan_id,
            ),
        ),
    ] {
        let c = e.interrupted_create(&urn, &inputs).await;
        created.push((urn, c.id));
    }
    let c = e
        .interrupted_create(ns2.urn(), &st.get(ns2.urn()).unwrap().inputs.clone())
        .await;
    created.push((ns2.urn().clone(), c.id));

    let plan2 = e.up(&st).await;
    assert_eq!(plan2.counts().create, 0, "adopted, not created again");
    for (urn, id) in &created {
        assert_eq!(&e.id(urn), id, "{urn}");
    }
    assert_eq!(e.policies(&rid).await.len(), 1);
    assert_eq!(
        e.sd.list_services().send().await.unwrap().services().len(),
        1
    );
    assert_eq!(
        e.sd.list_namespaces()
            .send()
            .await
            .unwrap()
            .namespaces()
            .len(),
        2
    );
    let sels = e
        .backup
        .list_backup_selections()
        .backup_plan_id(&plan_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sels.backup_selections_list().len(),
        1,
        "no duplicate selection"
    );
    assert!(e.st.pending().unwrap().is_empty());
    e.no_changes(&st).await;

    // Found by URN tag: our own objects, nobody else's.
    assert_eq!(e.find(&ns).await, vec![ns_id.clone()]);
    // (Vaults and plans are found by tag too, but moto's ListTags cannot
    // answer the Rust SDK: see vault_plan_and_selection_lifecycle.)
    let other = ctx(&morket_stack::model::Urn::new(
        STACK,
        "",
        PrivateDnsNamespace::TYPE,
        "x",
    ));
    let p = e.reg.get(PrivateDnsNamespace::TYPE).unwrap();
    let inputs = st.get(ns.urn()).unwrap().inputs.clone();
    assert!(p.find_by_urn(&other, &inputs).await.unwrap().is_empty());
    // A vault of the same name made by someone else is an error, not adopted.
    let vp = e.reg.get(Vault::TYPE).unwrap();
    let err = vp
        .create(&other, &st.get(vault.urn()).unwrap().inputs.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AlreadyExists"), "{err}");
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn validation_errors_name_field_and_value_before_any_call() {
    let tt = TargetTracking {
        target_value: 170.0,
        ..Default::default()
    };
    let mut srv = Service::a_records("temporal", "ns-1", 10);
    srv.dns_config.routing_policy = "LATENCY".into();
    let mut bad_rule = Plan {
        name: "p".into(),
        rules: vec![Rule::daily("daily", "v1", "cron(0 3 * * ? *)", 7)],
        ..Default::default()
    };
    bad_rule.rules[0].lifecycle = Some(Lifecycle {
        cold_storage_after: Some(30),
        delete_after: Some(7),
    });
    let cases = [
        (
            preview_error(Target::ecs_service("c", "s", 5, 2)).await,
            "min_capacity",
            "5",
        ),
        (
            preview_error(Target {
                resource_id: "c/s".into(),
                ..Target::default()
            })
            .await,
            "resource_id",
            "c/s",
        ),
        (
            preview_error(Policy::ecs_target_tracking("cpu", "service/c/s", tt)).await,
            "target_tracking.target_value",
            "170",
        ),
        (
            preview_error(PrivateDnsNamespace::new("morket local", "vpc-0abc")).await,
            "name",
            "morket local",
        ),
        (
            preview_error(srv).await,
            "dns_config.routing_policy",
            "LATENCY",
        ),
        (preview_error(Vault::new("x")).await, "name", "\"x\""),
        (
            preview_error(bad_rule).await,
            "rules[0].lifecycle.delete_after",
            "7",
        ),
        (
            preview_error(Selection {
                name: "s".into(),
                plan_id: "p".into(),
                iam_role_arn: "arn:aws:iam::1:role/r".into(),
                resources: vec!["vol-0abc".into()],
            })
            .await,
            "resources[0]",
            "vol-0abc",
        ),
    ];
    for (e, field, value) in cases {
        assert!(e.contains(field) && e.contains(value), "{field}: {e}");
    }
}

// ---------------------------------------------------------------- mocks

/// An engine over a store and every AWS type, with `aws` as given.
fn mocked_engine(aws: Aws) -> Engine {
    Engine::new(Box::new(store()), registry(Arc::new(aws)))
}

#[tokio::test]
async fn a_selection_create_waits_for_its_new_role() {
    // Not against moto: it never refuses a role. AWS Backup refuses a role
    // made a moment ago ("cannot be assumed") until IAM has propagated it.
    use aws_sdk_backup::operation::create_backup_selection::CreateBackupSelectionOutput;
    use aws_sdk_backup::operation::get_backup_selection::GetBackupSelectionOutput;
    let refused = || {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"InvalidParameterValueException","Message":"IAM Role arn:aws:iam::123456789012:role/new cannot be assumed by AWS Backup"}"#,
            ),
        )
    };
    let create = mock!(aws_sdk_backup::Client::create_backup_selection)
        .sequence()
        .http_response(refused)
        .times(2)
        .output(|| {
            CreateBackupSelectionOutput::builder()
                .selection_id("sel-1")
                .backup_plan_id("plan-1")
                .build()
        })
        .build();
    let get = mock!(aws_sdk_backup::Client::get_backup_selection).then_output(|| {
        GetBackupSelectionOutput::builder()
            .backup_plan_id("plan-1")
            .selection_id("sel-1")
            .backup_selection(
                aws_sdk_backup::types::BackupSelection::builder()
                    .selection_name("clickhouse-data")
                    .iam_role_arn("arn:aws:iam::123456789012:role/new")
                    .resources("arn:aws:ec2:us-east-1:123456789012:volume/vol-1")
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, &[&create, &get], |c| c
        .retry_config(aws_sdk_backup::config::retry::RetryConfig::disabled()));
    let mut eng = mocked_engine(Aws::new(settings()).with_backup(client));
    let mut st = Stack::new(STACK).unwrap();
    st.root()
        .resource(
            "sel",
            Selection {
                name: "clickhouse-data".into(),
                plan_id: "plan-1".into(),
                iam_role_arn: "arn:aws:iam::123456789012:role/new".into(),
                resources: vec!["arn:aws:ec2:us-east-1:123456789012:volume/vol-1".into()],
            },
        )
        .unwrap();
    let (_, report) = eng
        .up(
            &st,
            &PlanOptions::default(),
            &morket_stack::exec::Cancel::new(),
        )
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(create.num_calls(), 3, "refused twice, then created");
}

#[tokio::test]
async fn a_namespace_create_waits_for_its_operation_and_a_failed_one_says_why() {
    // Not against moto: its operations succeed at once. AWS answers
    // CreatePrivateDnsNamespace with an operation that is PENDING for a
    // while; the namespace id is known only from the finished operation.
    use aws_sdk_servicediscovery::operation::create_private_dns_namespace::CreatePrivateDnsNamespaceOutput;
    use aws_sdk_servicediscovery::operation::get_namespace::GetNamespaceOutput;
    use aws_sdk_servicediscovery::operation::get_operation::GetOperationOutput;
    use aws_sdk_servicediscovery::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_servicediscovery::types::{
        Namespace, Operation, OperationStatus, OperationTargetType,
    };
    let op = |status: OperationStatus| {
        let mut o = Operation::builder().id("op-1").status(status.clone());
        if status == OperationStatus::Success {
            o = o.targets(OperationTargetType::Namespace, "ns-1");
        }
        if status == OperationStatus::Fail {
            o = o
                .error_code("CANNOT_CREATE_HOSTED_ZONE")
                .error_message("ConflictingDomainExists");
        }
        GetOperationOutput::builder().operation(o.build()).build()
    };
    let run = |last: OperationStatus| async move {
        let create = mock!(aws_sdk_servicediscovery::Client::create_private_dns_namespace)
            .then_output(|| {
                CreatePrivateDnsNamespaceOutput::builder()
                    .operation_id("op-1")
                    .build()
            });
        let last2 = last.clone();
        let get_op = mock!(aws_sdk_servicediscovery::Client::get_operation)
            .sequence()
            .output(move || op(OperationStatus::Pending))
            .output(move || op(last2.clone()))
            .build();
        let get_ns = mock!(aws_sdk_servicediscovery::Client::get_namespace).then_output(|| {
            GetNamespaceOutput::builder()
                .namespace(
                    Namespace::builder()
                        .id("ns-1")
                        .arn(format!(
                            "arn:aws:servicediscovery:us-east-1:{ACCOUNT}:namespace/ns-1"
                        ))
                        .name("morket.local")
                        .build(),
                )
                .build()
        });
        let tags = mock!(aws_sdk_servicediscovery::Client::list_tags_for_resource)
            .then_output(|| ListTagsForResourceOutput::builder().build());
        let client = mock_client!(
            aws_sdk_servicediscovery,
            RuleMode::MatchAny,
            &[&create, &get_op, &get_ns, &tags]
        );
        let reg = registry(Arc::new(Aws::new(settings()).with_servicediscovery(client)));
        let mut st = Stack::new(STACK).unwrap();
        let n = st
            .root()
            .resource(
                "internal",
                PrivateDnsNamespace::new("morket.local", "vpc-0abc"),
            )
            .unwrap();
        let inputs = st.get(n.urn()).unwrap().inputs.clone();
        let r = reg
            .get(PrivateDnsNamespace::TYPE)
            .unwrap()
            .create(&ctx(&n), &inputs)
            .await;
        (r, get_op.num_calls())
    };
    let (r, polls) = run(OperationStatus::Success).await;
    assert_eq!(r.unwrap().id, "ns-1");
    assert_eq!(polls, 2, "PENDING, then SUCCESS");
    let (r, _) = run(OperationStatus::Fail).await;
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("CANNOT_CREATE_HOSTED_ZONE") && e.contains("ConflictingDomainExists"),
        "{e}"
    );
}
