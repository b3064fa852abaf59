//! aws:ecs/{Cluster, TaskDefinition, Service} through the engine against moto;
//! the service-linked role's propagation against the AWS-like peer; draining
//! services with moto's fault switch; and the service rollout waits (steady
//! state, rollback), the cluster's provisioning, the new revision's listing
//! and throttling with aws-smithy-mocks, where moto cannot play the part;
//! one-off task runs (aws:ecs/TaskRun) against the AWS-like peer.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ecs::types::{
    ClusterField, ClusterSetting, ClusterSettingName, Deployment, DeploymentRolloutState,
    ServiceField, TaskDefinitionField,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, ResourceOptions, Stack, Urn};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ecs::cluster::{CapacityProviderStrategy, Cluster};
use morket_stack::provider::aws::ecs::service::{AwsVpcConfig, Service, ServiceLoadBalancer};
use morket_stack::provider::aws::ecs::task_definition::{
    Container, EnvVar, Health, LogConfig, PortMap, SecretRef, TaskDefinition,
};
use morket_stack::provider::aws::ecs::task_run::TaskRun;
use morket_stack::provider::aws::iam::service_linked_role::ServiceLinkedRole;
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::{self, Aws, AwsSettings};
use morket_stack::provider::{Ctx, ProviderError};
use morket_stack::state::StateStore;
use serde_json::{json, Value};
use support::aws::{
    create_security_group, create_subnet, create_vpc, ctx, registry, step, store, tag_urn, Env,
    AWS_LIKE_SCALE, STACK,
};

fn settings() -> AwsSettings {
    AwsSettings {
        wait_timeout: Duration::from_secs(30),
        ..support::aws::settings()
    }
}

async fn clusters(ecs: &aws_sdk_ecs::Client, name: &str) -> Vec<aws_sdk_ecs::types::Cluster> {
    ecs.describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .unwrap()
        .clusters()
        .to_vec()
}

async fn active_clusters(ecs: &aws_sdk_ecs::Client) -> Vec<aws_sdk_ecs::types::Cluster> {
    let arns = ecs
        .list_clusters()
        .send()
        .await
        .unwrap()
        .cluster_arns()
        .to_vec();
    if arns.is_empty() {
        return Vec::new();
    }
    ecs.describe_clusters()
        .set_clusters(Some(arns))
        .include(ClusterField::Tags)
        .send()
        .await
        .unwrap()
        .clusters()
        .iter()
        .filter(|c| c.status() == Some("ACTIVE"))
        .cloned()
        .collect()
}

fn cluster_stack(c: Cluster) -> (Stack, Resource<Cluster>) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource("apps", c).unwrap();
    (st, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_lifecycle_against_moto() {
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);

    // Create with capacity providers, a strategy, insights and tags.
    let mut c = Cluster::new("apps");
    c.capacity_providers = vec!["FARGATE".into(), "FARGATE_SPOT".into()];
    c.default_capacity_provider_strategy = vec![CapacityProviderStrategy {
        capacity_provider: "FARGATE".into(),
        weight: 1,
        base: 1,
    }];
    c.container_insights = "enabled".into();
    c.tags.insert("Name".into(), "apps".into());
    let (s1, r) = cluster_stack(c.clone());
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let arn = rec.id.clone();
    assert!(arn.ends_with(":cluster/apps"), "{arn}");
    assert_eq!(rec.outputs["arn"], json!(arn));
    assert_eq!(rec.outputs["name"], json!("apps"));
    let live = clusters(&ecs, "apps").await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].capacity_providers(), ["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(live[0].default_capacity_provider_strategy()[0].base(), 1);
    assert_eq!(live[0].settings()[0].value(), Some("enabled"));
    let tags = aws::ecs::from_tags(live[0].tags());
    assert_eq!(tags["Name"], "apps");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());

    e.no_changes(&s1).await;

    // In place: insights off, another strategy, a tag changed.
    c.container_insights = "disabled".into();
    c.default_capacity_provider_strategy = vec![
        CapacityProviderStrategy {
            capacity_provider: "FARGATE".into(),
            weight: 1,
            base: 0,
        },
        CapacityProviderStrategy {
            capacity_provider: "FARGATE_SPOT".into(),
            weight: 3,
            base: 0,
        },
    ];
    c.tags.insert("Name".into(), "renamed".into());
    let (s2, _) = cluster_stack(c.clone());
    let plan = e.up(&s2).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(
        plan.steps[0].changed,
        vec![
            "container_insights",
            "default_capacity_provider_strategy",
            "tags"
        ]
    );
    let live = clusters(&ecs, "apps").await;
    assert_eq!(live[0].settings()[0].value(), Some("disabled"));
    assert_eq!(live[0].default_capacity_provider_strategy().len(), 2);
    assert_eq!(live[0].default_capacity_provider_strategy()[1].weight(), 3);
    assert_eq!(aws::ecs::from_tags(live[0].tags())["Name"], "renamed");
    e.no_changes(&s2).await;

    // Out of band: insights back on; a read sees it.
    ecs.update_cluster()
        .cluster(&arn)
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value("enabled")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let read = e
        .reg
        .get(Cluster::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &arn, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["container_insights"], json!("enabled"));
    assert_eq!(read.inputs["tags"], json!({"Name": "renamed"}));
    assert_eq!(
        read.inputs["capacity_providers"],
        json!(["FARGATE", "FARGATE_SPOT"])
    );
    // Put it back as declared for the rest of the test.
    ecs.update_cluster()
        .cluster(&arn)
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value("disabled")
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Force-new: the name.
    c.name = "apps2".into();
    let (s3, _) = cluster_stack(c.clone());
    let plan = e.up(&s3).await;
    assert_eq!(plan.steps[0].action, Action::Replace);
    assert_eq!(plan.steps[0].replace_fields, vec!["name"]);
    let live = active_clusters(&ecs).await;
    assert_eq!(live.len(), 1, "old cluster deleted");
    assert_eq!(live[0].cluster_name(), Some("apps2"));
    assert_eq!(clusters(&ecs, "apps").await[0].status(), Some("INACTIVE"));

    // Adoption finds it by its URN tag.
    let found = e
        .reg
        .get(Cluster::TYPE)
        .unwrap()
        .find_by_urn(&ctx(r.urn()), &s3.resources()[0].inputs)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].id.ends_with("/apps2"));

    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(active_clusters(&ecs).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

fn web_container(image: &str) -> Container {
    let mut c = Container::new("web", image);
    c.port_mappings = vec![PortMap {
        container_port: 8080,
        protocol: "tcp".into(),
    }];
    c.environment = vec![EnvVar {
        name: "MODE".into(),
        value: Input::secret("production"),
    }];
    c.secrets = vec![SecretRef {
        name: "DB_PASSWORD".into(),
        value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".into(),
    }];
    c.command = vec!["serve".into(), "--port=8080".into()];
    c.log_configuration = Some(LogConfig {
        log_driver: "awslogs".into(),
        options: BTreeMap::from([
            ("awslogs-group".to_string(), Input::from("/ecs/web")),
            ("awslogs-region".to_string(), Input::from("us-east-1")),
            ("awslogs-stream-prefix".to_string(), Input::from("web")),
        ]),
    });
    c.health_check = Some(Health {
        command: vec![
            "CMD-SHELL".into(),
            "curl -f http://localhost:8080/ || exit 1".into(),
        ],
        interval: 30,
        timeout: 5,
        retries: 3,
        start_period: 10,
    });
    c
}

fn task_def(image: &str) -> TaskDefinition {
    let mut t = TaskDefinition::new("web", "256", "512", vec![web_container(image)]);
    t.execution_role_arn = Some("arn:aws:iam::123456789012:role/ecsTaskExecutionRole".into());
    t.tags.insert("Name".into(), "web".into());
    t
}

async fn revisions(
    ecs: &aws_sdk_ecs::Client,
    status: aws_sdk_ecs::types::TaskDefinitionStatus,
) -> Vec<String> {
    ecs.list_task_definitions()
        .family_prefix("web")
        .status(status)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_definition_revisions_against_moto() {
    use aws_sdk_ecs::types::TaskDefinitionStatus::{Active, Inactive};
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let stack = |t: TaskDefinition| {
        let mut s = Stack::new(STACK).unwrap();
        let r = s.root().resource("web", t).unwrap();
        (s, r)
    };

    let mut t = task_def("nginx:1.27");
    let (s1, r) = stack(t.clone());
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let arn1 = rec.id.clone();
    assert!(arn1.ends_with("task-definition/web:1"), "{arn1}");
    assert_eq!(rec.outputs["revision"], json!(1));
    assert_eq!(rec.outputs["family"], json!("web"));
    let out = ecs
        .describe_task_definition()
        .task_definition(&arn1)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    let td = out.task_definition().unwrap();
    assert_eq!(td.cpu(), Some("256"));
    assert_eq!(td.memory(), Some("512"));
    assert_eq!(td.network_mode().map(|m| m.as_str()), Some("awsvpc"));
    let c = &td.container_definitions()[0];
    assert_eq!(c.image(), Some("nginx:1.27"));
    assert_eq!(c.environment()[0].value(), Some("production"));
    assert_eq!(
        c.secrets()[0].value_from(),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    );
    assert_eq!(c.port_mappings()[0].container_port(), Some(8080));
    assert_eq!(
        c.log_configuration().unwrap().options().unwrap()["awslogs-group"],
        "/ecs/web"
    );
    assert_eq!(c.health_check().unwrap().start_period(), Some(10));
    let tags = aws::ecs::from_tags(out.tags());
    assert_eq!(tags["Name"], "web");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());

    e.no_changes(&s1).await;

    // Any change registers a new revision: an update whose arn is unknown in preview.
    t.container_definitions[0].image = "nginx:1.28".into();
    let (s2, _) = stack(t.clone());
    let p = e.eng.preview(&s2, &PlanOptions::default()).await.unwrap();
    assert_eq!(p.steps[0].action, Action::Update);
    let plan = e.up(&s2).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changed, vec!["container_definitions"]);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let arn2 = rec.outputs["arn"].as_str().unwrap().to_string();
    assert!(arn2.ends_with("task-definition/web:2"), "{arn2}");
    assert_eq!(rec.outputs["id"], json!(arn2));
    assert_eq!(rec.outputs["revision"], json!(2));
    let td2 = ecs
        .describe_task_definition()
        .task_definition(&arn2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        td2.task_definition().unwrap().container_definitions()[0].image(),
        Some("nginx:1.28")
    );
    // The previous revision stays ACTIVE for a service rollback.
    assert_eq!(revisions(&ecs, Active).await.len(), 2);
    e.no_changes(&s2).await;

    // Out of band: a tag added to the revision; a read sees it.
    ecs.tag_resource()
        .resource_arn(&arn2)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("Owner")
                .value("ops")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let read = e
        .reg
        .get(TaskDefinition::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["tags"], json!({"Name": "web", "Owner": "ops"}));
    assert_eq!(read.outputs["revision"], json!(2));
    assert_eq!(
        read.inputs["container_definitions"][0]["image"],
        json!("nginx:1.28")
    );
    assert_eq!(
        read.inputs["container_definitions"][0]["environment"][0]["value"],
        json!("production")
    );

    // Adoption: both revisions carry the URN; they are one resource, named
    // by its first revision and read as its newest.
    let found = e
        .reg
        .get(TaskDefinition::TYPE)
        .unwrap()
        .find_by_urn(&ctx(r.urn()), &s2.resources()[0].inputs)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, arn1);
    assert_eq!(found[0].outputs["revision"], json!(2));

    // Destroy deregisters the current and the earlier revision.
    let (_, report) = e.eng.destroy(&s2, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(revisions(&ecs, Active).await.is_empty());
    assert_eq!(revisions(&ecs, Inactive).await.len(), 2);
    assert!(e.st.resources().unwrap().is_empty());
}

/// A VPC, a subnet and two security groups made directly in moto's EC2 (the
/// EC2 types live in other modules); services need existing ones.
async fn network(ec2: &aws_sdk_ec2::Client) -> (String, String, String) {
    let vpc = create_vpc(ec2, "10.9.0.0/16").await;
    let subnet = create_subnet(ec2, &vpc, "10.9.1.0/24", None).await;
    let sg = |name: &'static str| create_security_group(ec2, name, name, Some(vpc.as_str()));
    (subnet, sg("web-a").await, sg("web-b").await)
}

async fn services(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    names: &[&str],
) -> Vec<aws_sdk_ecs::types::Service> {
    ecs.describe_services()
        .cluster(cluster)
        .set_services(Some(names.iter().map(|s| s.to_string()).collect()))
        .include(ServiceField::Tags)
        .send()
        .await
        .unwrap()
        .services()
        .to_vec()
}

// moto never runs a service's tasks (the rollout stays IN_PROGRESS), so the
// lifecycle here runs with wait_for_steady_state = false; the waits are
// covered with mocked responses below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_lifecycle_against_moto() {
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let (subnet, sg_a, sg_b) = network(&e.ec2).await;

    let build = |svc: &dyn Fn(&mut Service)| {
        let mut s = Stack::new(STACK).unwrap();
        let mut root = s.root();
        let c = root.resource("apps", Cluster::new("apps")).unwrap();
        let t = root.resource("web-td", task_def("nginx:1.27")).unwrap();
        let mut v = Service::new("web", c.arn(), t.arn());
        v.desired_count = 1;
        v.wait_for_steady_state = false;
        v.network_configuration = Some(AwsVpcConfig {
            subnets: vec![subnet.clone().into()],
            security_groups: vec![sg_a.clone().into()],
            assign_public_ip: false,
        });
        v.tags.insert("Name".into(), "web".into());
        svc(&mut v);
        let r = root.resource("web", v).unwrap();
        drop(root);
        (s, r)
    };

    let (s1, r) = build(&|_| {});
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 3);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let arn = rec.id.clone();
    assert!(arn.contains(":service/"), "{arn}");
    assert_eq!(rec.outputs["name"], json!("web"));
    let cluster_arn = rec.outputs["cluster"].as_str().unwrap().to_string();
    assert!(cluster_arn.ends_with(":cluster/apps"));
    let live = services(&ecs, "apps", &["web"]).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].desired_count(), 1);
    assert!(live[0]
        .task_definition()
        .unwrap()
        .ends_with("task-definition/web:1"));
    let vpc = live[0]
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(vpc.subnets(), std::slice::from_ref(&subnet));
    assert_eq!(vpc.security_groups(), std::slice::from_ref(&sg_a));
    let tags = aws::ecs::from_tags(live[0].tags());
    assert_eq!(tags["Name"], "web");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());

    e.no_changes(&s1).await;

    // In place: desired count, security groups, a tag.
    let (s2, _) = build(&|v| {
        v.desired_count = 2;
        v.network_configuration.as_mut().unwrap().security_groups =
            vec![sg_a.clone().into(), sg_b.clone().into()];
        v.tags.insert("Tier".into(), "front".into());
    });
    let plan = e.up(&s2).await;
    let step = plan.steps.iter().find(|s| &s.urn == r.urn()).unwrap();
    assert_eq!(step.action, Action::Update);
    assert_eq!(
        step.changed,
        vec!["desired_count", "network_configuration", "tags"]
    );
    let live = services(&ecs, "apps", &["web"]).await;
    assert_eq!(live[0].desired_count(), 2);
    let vpc = live[0]
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(vpc.security_groups(), [sg_a.clone(), sg_b.clone()]);
    assert_eq!(aws::ecs::from_tags(live[0].tags())["Tier"], "front");
    e.no_changes(&s2).await;

    // Out of band: scaled to 3; a read sees it.
    ecs.update_service()
        .cluster("apps")
        .service("web")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let read = e
        .reg
        .get(Service::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &arn, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["desired_count"], json!(3));
    assert_eq!(read.inputs["tags"], json!({"Name": "web", "Tier": "front"}));
    ecs.update_service()
        .cluster("apps")
        .service("web")
        .desired_count(2)
        .send()
        .await
        .unwrap();

    // Force-new: the name.
    let (s3, _) = build(&|v| {
        v.desired_count = 2;
        v.network_configuration.as_mut().unwrap().security_groups =
            vec![sg_a.clone().into(), sg_b.clone().into()];
        v.tags.insert("Tier".into(), "front".into());
        v.name = "web2".into();
    });
    let plan = e.up(&s3).await;
    let step = plan.steps.iter().find(|s| &s.urn == r.urn()).unwrap();
    assert_eq!(step.action, Action::Replace);
    assert_eq!(step.replace_fields, vec!["name"]);
    let old = services(&ecs, "apps", &["web"]).await;
    assert_eq!(old[0].status(), Some("INACTIVE"), "old service deleted");
    let active: Vec<String> = ecs
        .list_services()
        .cluster("apps")
        .send()
        .await
        .unwrap()
        .service_arns()
        .to_vec();
    let live: Vec<_> = services(
        &ecs,
        "apps",
        &active.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await
    .into_iter()
    .filter(|s| s.status() == Some("ACTIVE"))
    .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].service_name(), Some("web2"));
    e.no_changes(&s3).await;

    // Adoption by tag within the cluster.
    let mut inputs = s3.get(r.urn()).unwrap().inputs.clone();
    inputs["cluster"] = json!(cluster_arn);
    let found = e
        .reg
        .get(Service::TYPE)
        .unwrap()
        .find_by_urn(&ctx(r.urn()), &inputs)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].outputs["name"], json!("web2"));

    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        services(&ecs, "apps", &["web2"]).await[0].status(),
        Some("INACTIVE")
    );
    assert!(active_clusters(&ecs).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

/// `Provider::read_many` reads many services with one `DescribeServices`
/// per cluster and 10 services (the API's limit): each as its single read,
/// `None` for a service that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_read_many_at_once() {
    use morket_stack::provider::ReadItem;
    let mut e = Env::new(settings()).await;
    let (subnet, sg_a, _) = network(&e.ec2).await;
    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let apps = root.resource("apps", Cluster::new("apps")).unwrap();
    let jobs = root.resource("jobs", Cluster::new("jobs")).unwrap();
    let t = root.resource("web-td", task_def("nginx:1.27")).unwrap();
    let mut urns = Vec::new();
    for (n, cluster) in (0..13).map(|n| (n, if n < 12 { &apps } else { &jobs })) {
        let mut v = Service::new(&format!("web-{n}"), cluster.arn(), t.arn());
        v.desired_count = n % 3;
        v.wait_for_steady_state = false;
        v.network_configuration = Some(AwsVpcConfig {
            subnets: vec![subnet.clone().into()],
            security_groups: vec![sg_a.clone().into()],
            assign_public_ip: false,
        });
        v.tags.insert("Name".into(), format!("web-{n}"));
        urns.push(root.resource(&format!("web-{n}"), v).unwrap().urn().clone());
    }
    drop(root);
    e.up(&s).await;

    let item = |u: &Urn, id: Option<&str>| {
        let rec = e.st.resource(u).unwrap().unwrap();
        ReadItem {
            ctx: ctx(u),
            id: id.map_or(rec.id, str::to_string),
            inputs: rec.inputs,
            outputs: rec.outputs,
        }
    };
    let mut items: Vec<ReadItem> = urns.iter().map(|u| item(u, None)).collect();
    let gone = items[0].id.replace("/web-0", "/gone");
    items.push(item(&urns[0], Some(&gone)));
    let p = e.reg.get(Service::TYPE).unwrap();
    let sent = |e: &Env| {
        e.moto
            .requests()
            .iter()
            .filter(|q| q.operation == "DescribeServices")
            .count()
    };

    e.moto.clear_requests();
    let mut single = Vec::new();
    for i in &items {
        single.push(p.read(&i.ctx, &i.id, &i.inputs, &i.outputs).await.unwrap());
    }
    assert_eq!(sent(&e), 14, "one per service read alone");

    e.moto.clear_requests();
    let read = p.read_many(&items).await.unwrap();
    assert_eq!(sent(&e), 3, "13 ids on apps: two requests; one on jobs");
    assert_eq!(read, single, "as read one by one");
    for (u, got) in urns.iter().zip(&read) {
        let rec = e.st.resource(u).unwrap().unwrap();
        let got = got.as_ref().expect("exists");
        assert_eq!(
            (&got.inputs, &got.outputs),
            (&rec.inputs, &rec.outputs),
            "{u}: no drift"
        );
    }
    assert_eq!(read[5].as_ref().unwrap().inputs["desired_count"], json!(2));
    assert!(read[13].is_none(), "{gone} does not exist");
}

#[tokio::test]
async fn bad_inputs_fail_preview_naming_field_and_value() {
    // No moto: validation happens before any call (no endpoint is configured).
    let reg = registry(Arc::new(Aws::new(settings())));
    type Declare = Box<dyn Fn(&mut Stack)>;
    let cases: Vec<(Declare, &str, &str)> = vec![
        (
            Box::new(|s| {
                s.root()
                    .resource(
                        "t",
                        TaskDefinition::new("web", "256", "4096", vec![web_container("nginx")]),
                    )
                    .unwrap();
            }),
            "memory",
            "cpu 256 / memory 4096",
        ),
        (
            Box::new(|s| {
                let mut c = Cluster::new("apps");
                c.container_insights = "on".into();
                s.root().resource("c", c).unwrap();
            }),
            "container_insights",
            "\"on\"",
        ),
        (
            Box::new(|s| {
                let mut t = TaskDefinition::new("web", "256", "512", vec![web_container("nginx")]);
                t.container_definitions[0].port_mappings[0].container_port = 70000;
                s.root().resource("t", t).unwrap();
            }),
            "container_definitions.web.port_mappings.container_port",
            "70000",
        ),
        (
            Box::new(|s| {
                let mut v = Service::new("web", "apps", "arn:td");
                v.network_configuration = Some(AwsVpcConfig {
                    subnets: vec!["subnet-1".into()],
                    security_groups: vec![],
                    assign_public_ip: false,
                });
                v.deployment_minimum_healthy_percent = 150;
                s.root().resource("s", v).unwrap();
            }),
            "deployment_minimum_healthy_percent",
            "150",
        ),
        (
            Box::new(|s| {
                let mut v = Service::new("web", "apps", "arn:td");
                v.network_configuration = Some(AwsVpcConfig {
                    subnets: vec!["subnet-1".into()],
                    security_groups: vec![],
                    assign_public_ip: false,
                });
                v.steady_state_timeout = "soon".into();
                s.root().resource("s", v).unwrap();
            }),
            "steady_state_timeout",
            "soon",
        ),
    ];
    for (declare, field, value) in cases {
        let mut s = Stack::new(STACK).unwrap();
        declare(&mut s);
        let mut eng = Engine::new(Box::new(store()), reg.clone());
        let e = eng
            .preview(&s, &PlanOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(field) && e.contains(value), "{field}: {e}");
    }
}

// ---- aws-smithy-mocks: what moto cannot do ----

const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/apps";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/apps/web";
const OLD_TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";
const NEW_TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";

fn mocked_service(
    state: DeploymentRolloutState,
    deployment: &str,
    running: i32,
) -> aws_sdk_ecs::types::Service {
    aws_sdk_ecs::types::Service::builder()
        .service_arn(SERVICE_ARN)
        .service_name("web")
        .cluster_arn(CLUSTER_ARN)
        .status("ACTIVE")
        .desired_count(2)
        .deployments(
            Deployment::builder()
                .id(deployment)
                .status("PRIMARY")
                .rollout_state(state)
                .rollout_state_reason("tasks failed to start")
                .desired_count(2)
                .running_count(running)
                .build(),
        )
        .build()
}

fn service_inputs(td: &str, desired: i32, timeout: &str) -> Value {
    let mut v = Service::new("web", CLUSTER_ARN, td);
    v.desired_count = desired;
    v.steady_state_timeout = timeout.into();
    v.network_configuration = Some(AwsVpcConfig {
        subnets: vec!["subnet-1".into()],
        security_groups: vec!["sg-1".into()],
        assign_public_ip: false,
    });
    serde_json::to_value(v).unwrap()
}

/// A mocked ECS where UpdateService records the task definition it was given
/// and DescribeServices answers with `rollout(describe call number, rolled back?)`.
fn rollout_mock(
    rollout: impl Fn(usize, bool) -> (DeploymentRolloutState, &'static str, i32) + Send + Sync + 'static,
) -> (
    aws_sdk_ecs::Client,
    Arc<Mutex<Vec<String>>>,
    Arc<AtomicUsize>,
) {
    let updates = Arc::new(Mutex::new(Vec::<String>::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let u = updates.clone();
    // UpdateService answers with the PRIMARY deployment it started: the
    // one the first describe after it shows.
    let rollout = Arc::new(rollout);
    let first = rollout.clone();
    let update = mock!(aws_sdk_ecs::Client::update_service).then_compute_output(move |req| {
        let mut seen = u.lock().unwrap();
        seen.push(req.task_definition().unwrap_or_default().to_string());
        let (_, id, _) = (*first)(0, seen.len() > 1);
        aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder()
            .service(mocked_service(DeploymentRolloutState::InProgress, id, 0))
            .build()
    });
    let u = updates.clone();
    let describe = mock!(aws_sdk_ecs::Client::describe_services).then_compute_output(move |_| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        let rolled_back = u.lock().unwrap().len() > 1;
        let (state, id, running) = (*rollout)(n, rolled_back);
        aws_sdk_ecs::operation::describe_services::DescribeServicesOutput::builder()
            .services(mocked_service(state, id, running))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&update, &describe]);
    (client, updates, calls)
}

fn service_ctx() -> Ctx {
    ctx(&Urn::new(STACK, "", Service::TYPE, "web"))
}

#[tokio::test]
async fn service_update_waits_for_the_rollout_to_complete() {
    // Not against moto: its services never run tasks, so a rollout never completes.
    use DeploymentRolloutState::*;
    let (client, updates, _) = rollout_mock(|n, _| match n {
        0 | 1 => (InProgress, "ecs-svc/2", 1),
        // COMPLETED but not all tasks running yet: still waiting.
        2 => (Completed, "ecs-svc/2", 1),
        _ => (Completed, "ecs-svc/2", 2),
    });
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let p = reg.get(Service::TYPE).unwrap();
    let out = p
        .update(
            &service_ctx(),
            SERVICE_ARN,
            &service_inputs(OLD_TD, 1, "5s"),
            &service_inputs(NEW_TD, 2, "5s"),
            &json!({"cluster": CLUSTER_ARN}),
        )
        .await
        .unwrap();
    assert_eq!(out["id"], json!(SERVICE_ARN));
    assert_eq!(
        *updates.lock().unwrap(),
        vec![NEW_TD.to_string()],
        "no rollback"
    );
}

#[tokio::test]
async fn a_rollout_must_be_seen_steady_twice_in_a_row() {
    // Not against moto: its rollouts never complete.
    use DeploymentRolloutState::*;
    let (client, updates, polls) = rollout_mock(|n, _| match n {
        // Steady once, then a task is stopped and replaced: not yet.
        0 => (Completed, "ecs-svc/2", 2),
        1 => (InProgress, "ecs-svc/2", 1),
        _ => (Completed, "ecs-svc/2", 2),
    });
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    reg.get(Service::TYPE)
        .unwrap()
        .update(
            &service_ctx(),
            SERVICE_ARN,
            &service_inputs(OLD_TD, 2, "5s"),
            &service_inputs(NEW_TD, 2, "5s"),
            &json!({"cluster": CLUSTER_ARN}),
        )
        .await
        .unwrap();
    // Steady at polls 2 and 3, then the read that builds the outputs.
    assert_eq!(polls.load(Ordering::SeqCst), 5);
    assert_eq!(*updates.lock().unwrap(), vec![NEW_TD.to_string()]);
}

#[tokio::test]
async fn failed_rollout_is_rolled_back_to_the_previous_task_definition() {
    // Not against moto: its rollouts stay IN_PROGRESS and never reach FAILED.
    use DeploymentRolloutState::*;
    let (client, updates, _) = rollout_mock(|n, rolled_back| match (n, rolled_back) {
        (_, true) => (Completed, "ecs-svc/3", 2),
        (0, false) => (InProgress, "ecs-svc/2", 0),
        (_, false) => (Failed, "ecs-svc/2", 0),
    });
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let p = reg.get(Service::TYPE).unwrap();
    let e = p
        .update(
            &service_ctx(),
            SERVICE_ARN,
            &service_inputs(OLD_TD, 2, "5s"),
            &service_inputs(NEW_TD, 2, "5s"),
            &json!({"cluster": CLUSTER_ARN}),
        )
        .await
        .unwrap_err();
    let ProviderError::Fatal(msg) = &e else {
        panic!("{e:?}")
    };
    assert!(msg.contains("deployment ecs-svc/2 FAILED"), "{msg}");
    assert!(
        msg.contains("rolled back to the previous task definition"),
        "{msg}"
    );
    assert!(msg.contains(OLD_TD), "{msg}");
    assert_eq!(
        *updates.lock().unwrap(),
        vec![NEW_TD.to_string(), OLD_TD.to_string()],
        "the rollback UpdateService carried the previous task definition"
    );
}

#[tokio::test]
async fn rollout_past_the_timeout_is_rolled_back() {
    // Not against moto: there a rollout never settles either way, so the
    // rollback could not be seen to complete.
    use DeploymentRolloutState::*;
    let (client, updates, _) = rollout_mock(|_, rolled_back| {
        if rolled_back {
            (Completed, "ecs-svc/3", 2)
        } else {
            (InProgress, "ecs-svc/2", 1)
        }
    });
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let p = reg.get(Service::TYPE).unwrap();
    let started = std::time::Instant::now();
    let e = p
        .update(
            &service_ctx(),
            SERVICE_ARN,
            &service_inputs(OLD_TD, 2, "200ms"),
            &service_inputs(NEW_TD, 2, "200ms"),
            &json!({"cluster": CLUSTER_ARN}),
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(200));
    let msg = e.to_string();
    assert!(
        msg.contains("deployment ecs-svc/2 still IN_PROGRESS with 1/2 tasks running after 200ms"),
        "{msg}"
    );
    assert!(
        msg.contains("rolled back to the previous task definition"),
        "{msg}"
    );
    assert_eq!(
        *updates.lock().unwrap(),
        vec![NEW_TD.to_string(), OLD_TD.to_string()]
    );
}

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

#[tokio::test]
async fn throttled_call_is_retried_by_the_sdk() {
    // Not against moto: it never throttles.
    let describe = mock!(aws_sdk_ecs::Client::describe_clusters)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| {
            aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder()
                .clusters(
                    aws_sdk_ecs::types::Cluster::builder()
                        .cluster_arn(CLUSTER_ARN)
                        .cluster_name("apps")
                        .status("ACTIVE")
                        .build(),
                )
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::Sequential, &[&describe], |c| c
        .retry_config(
            aws_sdk_ecs::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let urn = Urn::new(STACK, "", Cluster::TYPE, "apps");
    let read = reg
        .get(Cluster::TYPE)
        .unwrap()
        .read(
            &ctx(&urn),
            CLUSTER_ARN,
            &serde_json::to_value(Cluster::new("apps")).unwrap(),
            &json!({}),
        )
        .await
        .unwrap()
        .expect("found after the retry");
    assert_eq!(read.outputs["name"], json!("apps"));
    assert_eq!(describe.num_calls(), 2);
}

fn cluster_output(status: &str) -> aws_sdk_ecs::types::Cluster {
    aws_sdk_ecs::types::Cluster::builder()
        .cluster_arn(CLUSTER_ARN)
        .cluster_name("apps")
        .status(status)
        .build()
}

#[tokio::test]
async fn a_throttled_create_is_sent_again_by_the_call_helper() {
    // Not against moto: it never throttles. SDK retries are off here, so the
    // second attempt is the call helper's, within the same create.
    let create = mock!(aws_sdk_ecs::Client::create_cluster)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| {
            aws_sdk_ecs::operation::create_cluster::CreateClusterOutput::builder()
                .cluster(cluster_output("ACTIVE"))
                .build()
        })
        .build();
    let describe = mock!(aws_sdk_ecs::Client::describe_clusters).then_output(|| {
        aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder()
            .clusters(cluster_output("ACTIVE"))
            .build()
    });
    let list = mock!(aws_sdk_ecs::Client::list_clusters).then_output(|| {
        aws_sdk_ecs::operation::list_clusters::ListClustersOutput::builder().build()
    });
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        &[&create, &describe, &list],
        |c| c.retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())
    );
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let st = store();
    let mut eng = Engine::new(Box::new(st.clone()), reg);
    let (s, r) = cluster_stack(Cluster::new("apps"));
    let (_, report) = eng
        .up(&s, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(create.num_calls(), 2, "throttled once, then created");
    assert_eq!(list.num_calls(), 0, "no engine retry, so no lookup");
    assert_eq!(st.resource(r.urn()).unwrap().unwrap().id, CLUSTER_ARN);
}

#[tokio::test]
async fn a_new_cluster_is_waited_for_while_provisioning() {
    // Not against moto: its clusters are ACTIVE at once. AWS shows
    // PROVISIONING while capacity providers attach.
    let create = mock!(aws_sdk_ecs::Client::create_cluster).then_output(|| {
        aws_sdk_ecs::operation::create_cluster::CreateClusterOutput::builder()
            .cluster(cluster_output("PROVISIONING"))
            .build()
    });
    let polls = Arc::new(AtomicUsize::new(0));
    let n = polls.clone();
    let describe = mock!(aws_sdk_ecs::Client::describe_clusters).then_compute_output(move |_| {
        let state = match n.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => "PROVISIONING",
            _ => "ACTIVE",
        };
        aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder()
            .clusters(cluster_output(state))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&create, &describe]);
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let mut c = Cluster::new("apps");
    c.capacity_providers = vec!["FARGATE".into()];
    let created = reg
        .get(Cluster::TYPE)
        .unwrap()
        .create(
            &ctx(&Urn::new(STACK, "", Cluster::TYPE, "apps")),
            &serde_json::to_value(c).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.id, CLUSTER_ARN);
    // Two PROVISIONING polls, the ACTIVE one, then the read.
    assert_eq!(polls.load(Ordering::SeqCst), 4);
}

// ---- real-AWS behaviour through the engine ----

/// A stack of a cluster (with capacity providers when `capacity`), the web
/// task definition and a service on `subnet` and `sgs` (no steady-state
/// wait: moto never runs tasks); `role`, when given, is declared and both
/// the cluster and the service depend on it, as in the Morket stack.
struct Web {
    subnet: String,
    sgs: Vec<String>,
    capacity: bool,
    role: bool,
}

impl Web {
    fn stack(
        &self,
        svc: &dyn Fn(&mut Service),
        opts: ResourceOptions,
    ) -> (Stack, Resource<Cluster>, Resource<Service>) {
        let mut s = Stack::new(STACK).unwrap();
        let mut root = s.root();
        let mut opts = opts;
        let mut copts = ResourceOptions::new();
        if self.role {
            let role = root
                .resource("ecs-role", ServiceLinkedRole::new("ecs.amazonaws.com"))
                .unwrap();
            opts = opts.depends_on(&role);
            copts = copts.depends_on(&role);
        }
        let mut cluster = Cluster::new("apps");
        if self.capacity {
            cluster.capacity_providers = vec!["FARGATE".into(), "FARGATE_SPOT".into()];
        }
        let c = root.resource_with("apps", cluster, copts).unwrap();
        let t = root.resource("web-td", task_def("nginx:1.27")).unwrap();
        let mut v = Service::new("web", c.arn(), t.arn());
        v.wait_for_steady_state = false;
        v.network_configuration = Some(AwsVpcConfig {
            subnets: vec![self.subnet.clone().into()],
            security_groups: self.sgs.iter().map(|g| g.clone().into()).collect(),
            assign_public_ip: false,
        });
        svc(&mut v);
        let r = root.resource_with("web", v, opts).unwrap();
        drop(root);
        (s, c, r)
    }
}

/// ACTIVE services of the `apps` cluster.
async fn active_services(ecs: &aws_sdk_ecs::Client) -> Vec<aws_sdk_ecs::types::Service> {
    let arns = ecs
        .list_services()
        .cluster("apps")
        .send()
        .await
        .unwrap()
        .service_arns()
        .to_vec();
    let names: Vec<&str> = arns.iter().map(String::as_str).collect();
    services(ecs, "apps", &names)
        .await
        .into_iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .collect()
}

/// moto answering like AWS (`scripts/aws_like.py`), switched on after the
/// network is made (the peer would hide the young VPC from the security
/// group's create). The provider runs at [`AWS_LIKE_SCALE`] (a 6 s
/// propagation budget); the peer's windows at 0.1 (the role is "new" for
/// 1 s): wider than the gap between the role's create and the next one on a
/// slow machine, well inside the budget.
async fn aws_like() -> (Env, String, String) {
    let e = Env::new(AwsSettings {
        time_scale: AWS_LIKE_SCALE,
        max_attempts: 2,
        ..settings()
    })
    .await;
    let (subnet, sg, _) = network(&e.ec2).await;
    // moto builds its IAM backend on first use, slower than the window.
    aws_sdk_iam::Client::new(&e.conf)
        .list_roles()
        .send()
        .await
        .unwrap();
    e.moto.aws_like(json!({"on": "all", "scale": 0.1}));
    (e, subnet, sg)
}

/// Requests of `op` the AWS-like peer refused for the missing or new
/// service-linked role.
fn slr_refused(e: &Env, op: &str) -> u64 {
    e.moto.aws_like_fired()["fired"]["slr"][op]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_created_while_the_ecs_service_linked_role_is_missing_needs_one_up() {
    let (mut e, subnet, sg) = aws_like().await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let web = Web {
        subnet,
        sgs: vec![sg],
        capacity: false,
        role: true,
    };
    let (s, _, r) = web.stack(&|_| {}, ResourceOptions::new());
    e.up_stable(&s).await;
    assert!(
        slr_refused(&e, "CreateService") > 0,
        "CreateService met the new role: {:?}",
        e.moto.aws_like_fired()
    );
    let live = active_services(&ecs).await;
    assert_eq!(live.len(), 1, "one service");
    assert_eq!(live[0].service_arn(), Some(e.id(&r).as_str()));
    let (_, report) = e.eng.destroy(&s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(active_clusters(&ecs).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_capacity_providers_waits_for_the_new_ecs_service_linked_role() {
    let (mut e, _, _) = aws_like().await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let role = root
        .resource("ecs-role", ServiceLinkedRole::new("ecs.amazonaws.com"))
        .unwrap();
    let mut c = Cluster::new("apps");
    c.capacity_providers = vec!["FARGATE".into(), "FARGATE_SPOT".into()];
    c.default_capacity_provider_strategy = vec![CapacityProviderStrategy {
        capacity_provider: "FARGATE".into(),
        weight: 1,
        base: 0,
    }];
    let r = root
        .resource_with("apps", c, ResourceOptions::new().depends_on(&role))
        .unwrap();
    drop(root);
    e.up_stable(&s).await;
    assert!(
        slr_refused(&e, "CreateCluster") > 0,
        "CreateCluster met the new role: {:?}",
        e.moto.aws_like_fired()
    );
    let live = active_clusters(&ecs).await;
    assert_eq!(live.len(), 1, "one cluster");
    assert_eq!(live[0].cluster_arn(), Some(e.id(&r).as_str()));
    assert_eq!(live[0].capacity_providers(), ["FARGATE", "FARGATE_SPOT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_delete_waits_while_its_services_drain() {
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let (s, _) = cluster_stack(Cluster::new("apps"));
    e.up(&s).await;
    // AWS refuses the delete while services deleted moments ago drain.
    e.moto
        .fail("DeleteCluster", "ClusterContainsServicesException", 400, 3);
    let (_, report) = e.eng.destroy(&s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(e.moto.faults_fired()["faults"][0]["fired"], json!(3));
    assert!(active_clusters(&ecs).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_leaves_an_autoscaled_desired_count_alone() {
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let (subnet, sg_a, sg_b) = network(&e.ec2).await;
    let web = |sgs: Vec<String>| Web {
        subnet: subnet.clone(),
        sgs,
        capacity: false,
        role: false,
    };
    let (s1, _, r) = web(vec![sg_a.clone()]).stack(&|_| {}, ResourceOptions::new());
    e.up(&s1).await;
    // Application Auto Scaling scales the service out.
    ecs.update_service()
        .cluster("apps")
        .service("web")
        .desired_count(3)
        .send()
        .await
        .unwrap();

    // Another setting changes; the count, unchanged in the declaration, is not sent.
    let two = web(vec![sg_a.clone(), sg_b.clone()]);
    let (s2, _, _) = two.stack(&|_| {}, ResourceOptions::new());
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &r).changed, vec!["network_configuration"]);
    let live = services(&ecs, "apps", &["web"]).await;
    assert_eq!(live[0].desired_count(), 3, "the scale-out stays");
    assert_eq!(
        live[0]
            .network_configuration()
            .unwrap()
            .awsvpc_configuration()
            .unwrap()
            .security_groups(),
        [sg_a, sg_b]
    );

    // With ignore_changes a declared count is not even planned.
    let (s3, _, _) = two.stack(
        &|v| v.desired_count = 5,
        ResourceOptions::new().ignore_changes("desired_count"),
    );
    e.no_changes(&s3).await;
    e.up(&s3).await;
    assert_eq!(services(&ecs, "apps", &["web"]).await[0].desired_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancers_change_in_place() {
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let (subnet, sg, _) = network(&e.ec2).await;
    let tg = |n: &str| {
        format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{n}/0123456789abcdef"
        )
    };
    let web = Web {
        subnet,
        sgs: vec![sg],
        capacity: false,
        role: false,
    };
    let behind = |group: &str| {
        let arn = tg(group);
        web.stack(
            &move |v| {
                v.load_balancers = vec![ServiceLoadBalancer {
                    target_group_arn: arn.clone().into(),
                    container_name: "web".into(),
                    container_port: 8080,
                }];
            },
            ResourceOptions::new(),
        )
    };
    let (s1, _, r) = behind("blue");
    e.up(&s1).await;
    let id = e.id(&r);

    let (s2, _, _) = behind("green");
    let plan = e.up(&s2).await;
    let st = step(&plan, &r);
    assert_eq!(
        st.action,
        Action::Update,
        "UpdateService takes load balancers"
    );
    assert_eq!(st.changed, vec!["load_balancers"]);
    assert_eq!(e.id(&r), id, "the same service");
    let live = services(&ecs, "apps", &["web"]).await;
    assert_eq!(
        live[0].load_balancers()[0].target_group_arn(),
        Some(tg("green").as_str())
    );
    e.no_changes(&s2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_registered_elsewhere_is_not_taken_for_ours() {
    use aws_sdk_ecs::types::TaskDefinitionStatus::Active;
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let mut s = Stack::new(STACK).unwrap();
    let r = s.root().resource("web", task_def("nginx:1.27")).unwrap();
    e.up(&s).await;
    // A pipeline registers the family's next revision.
    ecs.register_task_definition()
        .family("web")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("nginx:canary")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let live = e.read(&r).await.unwrap();
    assert_eq!(
        live["container_definitions"][0]["image"],
        json!("nginx:1.27")
    );
    e.no_changes(&s).await;
    let (_, report) = e.eng.destroy(&s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let left = revisions(&ecs, Active).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].ends_with("task-definition/web:2"),
        "the pipeline's stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resources_in_one_family_keep_their_own_revisions() {
    // As a replacement and the resource it replaces do for a moment.
    use aws_sdk_ecs::types::TaskDefinitionStatus::Active;
    let mut e = Env::new(settings()).await;
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let stack = |a_image: &str| {
        let mut s = Stack::new(STACK).unwrap();
        let mut root = s.root();
        let a = root.resource("a", task_def(a_image)).unwrap();
        let b = root
            .resource_with(
                "b",
                task_def("httpd:2"),
                ResourceOptions::new().depends_on(&a),
            )
            .unwrap();
        drop(root);
        (s, a, b)
    };
    let (s1, a, b) = stack("nginx:1.27");
    e.up(&s1).await;
    assert!(e.id(&a).ends_with("web:1") && e.id(&b).ends_with("web:2"));
    // a's update registers web:3, newer than b's revision.
    let (s2, _, _) = stack("nginx:1.28");
    e.up(&s2).await;
    assert!(e.outputs(&a)["arn"].as_str().unwrap().ends_with("web:3"));
    assert_eq!(
        e.read(&b).await.unwrap()["container_definitions"][0]["image"],
        json!("httpd:2")
    );
    assert_eq!(
        e.read(&a).await.unwrap()["container_definitions"][0]["image"],
        json!("nginx:1.28")
    );
    e.no_changes(&s2).await;

    // Dropping a deregisters web:1 and web:3, not b's web:2.
    let mut s3 = Stack::new(STACK).unwrap();
    s3.root().resource("b", task_def("httpd:2")).unwrap();
    e.up(&s3).await;
    let left = revisions(&ecs, Active).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with("web:2"), "{left:?}");
    e.no_changes(&s3).await;
}

// ---- aws-smithy-mocks: requests and timings moto cannot show ----

const LINKED_ROLE_MISSING: &str = r#"{"__type":"InvalidParameterException","message":"Unable to assume the service linked role. Please verify that the ECS service linked role exists."}"#;

#[tokio::test]
async fn create_service_sends_one_client_token_across_its_retries() {
    // Not against moto: it ignores client tokens.
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let t = tokens.clone();
    let create = mock!(aws_sdk_ecs::Client::create_service)
        .match_requests(move |req| {
            t.lock()
                .unwrap()
                .push(req.client_token().unwrap_or_default().to_string());
            true
        })
        .sequence()
        .http_status(400, Some(LINKED_ROLE_MISSING.into()))
        .output(|| {
            aws_sdk_ecs::operation::create_service::CreateServiceOutput::builder()
                .service(mocked_service(
                    DeploymentRolloutState::InProgress,
                    "ecs-svc/1",
                    0,
                ))
                .build()
        })
        .build();
    let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        aws_sdk_ecs::operation::describe_services::DescribeServicesOutput::builder()
            .services(mocked_service(
                DeploymentRolloutState::Completed,
                "ecs-svc/1",
                2,
            ))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&create, &describe]);
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let created = reg
        .get(Service::TYPE)
        .unwrap()
        .create(&service_ctx(), &service_inputs(NEW_TD, 2, "5s"))
        .await
        .unwrap();
    assert_eq!(created.id, SERVICE_ARN);
    assert_eq!(create.num_calls(), 2, "refused once, then created");
    let tokens = tokens.lock().unwrap();
    assert!(!tokens.is_empty());
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    assert!((1..=36).contains(&tokens[0].len()), "{tokens:?}");
}

#[tokio::test]
async fn a_new_revision_is_waited_for_until_it_is_listed() {
    // Not against moto: its listing never lags.
    use aws_sdk_ecs::types::{Tag, TaskDefinition as Td, TaskDefinitionStatus};
    let register = mock!(aws_sdk_ecs::Client::register_task_definition).then_output(|| {
        aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput::builder()
            .task_definition(
                Td::builder()
                    .task_definition_arn(NEW_TD)
                    .revision(2)
                    .build(),
            )
            .build()
    });
    let lists = Arc::new(AtomicUsize::new(0));
    let n = lists.clone();
    let list = mock!(aws_sdk_ecs::Client::list_task_definitions).then_compute_output(move |_| {
        let arns = if n.fetch_add(1, Ordering::SeqCst) == 0 {
            vec![OLD_TD.to_string()]
        } else {
            vec![OLD_TD.to_string(), NEW_TD.to_string()]
        };
        aws_sdk_ecs::operation::list_task_definitions::ListTaskDefinitionsOutput::builder()
            .set_task_definition_arns(Some(arns))
            .build()
    });
    let describe =
        mock!(aws_sdk_ecs::Client::describe_task_definition).then_compute_output(|req| {
            let arn = req.task_definition().unwrap_or_default().to_string();
            let rev = if arn == NEW_TD { 2 } else { 1 };
            let tags = (rev == 2)
                .then(|| vec![Tag::builder().key("morket:revision-of").value("1").build()]);
            aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput::builder(
            )
            .task_definition(
                Td::builder()
                    .task_definition_arn(arn)
                    .family("web")
                    .revision(rev)
                    .status(TaskDefinitionStatus::Active)
                    .build(),
            )
            .set_tags(tags)
            .build()
        });
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        &[&register, &list, &describe]
    );
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let old = serde_json::to_value(task_def("nginx:1.27")).unwrap();
    let new = serde_json::to_value(task_def("nginx:1.28")).unwrap();
    let out = reg
        .get(TaskDefinition::TYPE)
        .unwrap()
        .update(
            &ctx(&Urn::new(STACK, "", TaskDefinition::TYPE, "web")),
            OLD_TD,
            &old,
            &new,
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(out["arn"], json!(NEW_TD));
    assert_eq!(out["revision"], json!(2));
    assert!(
        lists.load(Ordering::SeqCst) >= 3,
        "listed again until it showed"
    );
}

#[tokio::test]
async fn a_circuit_breaker_rollback_never_seen_failing_is_still_a_failure() {
    // Not against moto. AWS's circuit breaker marks our deployment FAILED and
    // starts a rollback deployment that becomes PRIMARY; a poll that misses
    // the moment sees only a PRIMARY deployment completing, on the old task
    // definition. Following our deployment's id tells the two apart.
    use DeploymentRolloutState::*;
    let (client, updates, _) = rollout_mock(|n, rolled_back| match (n, rolled_back) {
        (_, true) => (Completed, "ecs-svc/4", 2),
        (0, false) => (InProgress, "ecs-svc/2", 0),
        // The breaker's rollback, already done when next seen.
        (_, false) => (Completed, "ecs-svc/3", 2),
    });
    let reg = registry(Arc::new(Aws::new(settings()).with_ecs(client)));
    let e = reg
        .get(Service::TYPE)
        .unwrap()
        .update(
            &service_ctx(),
            SERVICE_ARN,
            &service_inputs(OLD_TD, 2, "5s"),
            &service_inputs(NEW_TD, 2, "5s"),
            &json!({"cluster": CLUSTER_ARN}),
        )
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("deployment ecs-svc/2 FAILED: replaced by deployment ecs-svc/3"),
        "{msg}"
    );
    assert!(
        msg.contains("rolled back to the previous task definition"),
        "{msg}"
    );
    assert_eq!(
        *updates.lock().unwrap(),
        vec![NEW_TD.to_string(), OLD_TD.to_string()]
    );
}

/// One migration job: a cluster, its log group, a task definition logging
/// to it, the run of `script` (`sh -c`, which the peer plays: echo, exit),
/// and a log group standing in for what waits for the migrations (a
/// service's new revision), kept `retention` days.
fn job_stack(
    net: &(String, String, String),
    script: &str,
    retention: i32,
) -> (Stack, Resource<TaskRun>, Resource<LogGroup>) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let cluster = root.resource("jobs", Cluster::new("jobs")).unwrap();
    let group = root
        .resource("migrate-logs", LogGroup::new("/ecs/jobs-migrate"))
        .unwrap();
    let mut c = Container::new("migrate", "backend:1.4");
    c.log_configuration = Some(LogConfig {
        log_driver: "awslogs".into(),
        options: [
            ("awslogs-group".to_string(), group.name().into()),
            ("awslogs-region".to_string(), "us-east-1".into()),
            ("awslogs-stream-prefix".to_string(), "ecs".into()),
        ]
        .into(),
    });
    let td = root
        .resource(
            "migrate-task",
            TaskDefinition::new("jobs-migrate", "256", "512", vec![c]),
        )
        .unwrap();
    let mut run = TaskRun::new(cluster.arn(), td.arn(), "migrate");
    run.command = vec!["sh".into(), "-c".into(), script.into()];
    run.network_configuration = Some(AwsVpcConfig {
        subnets: vec![net.0.as_str().into()],
        security_groups: vec![net.1.as_str().into()],
        assign_public_ip: false,
    });
    run.log_lines = 5;
    let run = root.resource("migrate", run).unwrap();
    let mut app = LogGroup::new("/ecs/jobs-app");
    app.retention_in_days = Some(retention);
    let app = root
        .resource_with(
            "app-logs",
            app,
            ResourceOptions::new().depends_on(run.urn()),
        )
        .unwrap();
    (st, run, app)
}

/// aws:ecs/TaskRun against the AWS-like peer, whose RunTask tasks go
/// PROVISIONING → … → STOPPED in time and exit with their script's code,
/// writing its echoes to the awslogs stream (scripts/moto_server.py): a run
/// waits for its task to stop; a non-zero exit fails the apply with the log
/// tail before anything that depends on it is touched, is recorded as it
/// ended and runs again on the next up; a run a killed apply started is
/// found by its URN tag and not started twice; destroy leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_run_runs_to_completion_and_a_failed_run_stops_the_apply() {
    let (mut e, subnet, sg) = aws_like().await;
    let net = (subnet, sg, String::new());
    let logs = aws_sdk_cloudwatchlogs::Client::new(&e.conf);
    let ecs = aws_sdk_ecs::Client::new(&e.conf);
    let run_tasks = |e: &Env| {
        e.moto
            .requests()
            .iter()
            .filter(|q| q.operation == "RunTask")
            .count()
    };
    let retention = |logs: aws_sdk_cloudwatchlogs::Client| async move {
        logs.describe_log_groups()
            .log_group_name_prefix("/ecs/jobs-app")
            .send()
            .await
            .unwrap()
            .log_groups()[0]
            .retention_in_days()
    };

    // A run that succeeds: the task stopped with 0, its lines logged.
    let (s1, run, app) = job_stack(&net, "echo applying 0042; echo done in 12 ms; exit 0", 7);
    e.up_stable(&s1).await;
    let rec = e.st.resource(run.urn()).unwrap().unwrap();
    assert_eq!(rec.inputs["exit_code"], json!(0));
    assert_eq!(rec.outputs["last_status"], json!("STOPPED"));
    let task = ecs
        .describe_tasks()
        .cluster("jobs")
        .tasks(&rec.id)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .clone();
    assert_eq!(task.started_by(), Some("morket-stack"));
    assert_eq!(task.containers()[0].exit_code(), Some(0));
    let tags = aws::ecs::from_tags(task.tags());
    assert_eq!(tag_urn(&tags["morket:urn"]), run.urn().as_str());
    let stream = format!("ecs/migrate/{}", rec.id.rsplit('/').next().unwrap());
    let lines: Vec<String> = logs
        .get_log_events()
        .log_group_name("/ecs/jobs-migrate")
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap()
        .events()
        .iter()
        .map(|l| l.message().unwrap().to_string())
        .collect();
    assert_eq!(lines, ["applying 0042", "done in 12 ms"]);
    assert_eq!(run_tasks(&e), 1);

    // A run that exits 3: the apply fails naming the code, with the log
    // tail; what depends on it (retention 7 → 14) is not touched.
    let failing = "echo applying 0043; echo relation accounts already exists; exit 3";
    let (s2, _, _) = job_stack(&net, failing, 14);
    let err = e.up_failing(&s2).await;
    assert!(
        err.contains("container migrate exited with code 3")
            && err.contains("relation accounts already exists"),
        "{err}"
    );
    assert_eq!(
        retention(logs.clone()).await,
        Some(7),
        "the dependent moved"
    );
    let rec = e.st.resource(run.urn()).unwrap().unwrap();
    assert_eq!(rec.inputs["exit_code"], json!(3), "recorded as it ended");
    assert_eq!(run_tasks(&e), 2);
    let p = e.eng.preview(&s2, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&p, &run).action, Action::Replace, "run again");
    assert_eq!(step(&p, &app).action, Action::Update);

    // Fixed: it runs again, then the dependent moves.
    let (s3, _, _) = job_stack(&net, "echo applying 0043; exit 0", 14);
    e.up_stable(&s3).await;
    assert_eq!(retention(logs.clone()).await, Some(14));
    assert_eq!(run_tasks(&e), 3);
    assert_eq!(
        e.st.resource(run.urn()).unwrap().unwrap().inputs["exit_code"],
        json!(0)
    );

    // A run a killed apply started (the create returned, the checkpoint
    // never came) is found by its URN tag and recorded, not run twice.
    let (s4, _, _) = job_stack(&net, "echo applying 0044; exit 0", 14);
    let mut inputs = e.st.resource(run.urn()).unwrap().unwrap().inputs;
    inputs["command"][2] = json!("echo applying 0044; exit 0");
    let created = e.interrupted_create(&run, &inputs).await;
    assert_eq!(run_tasks(&e), 4);
    e.up_stable(&s4).await;
    assert_eq!(run_tasks(&e), 4, "the interrupted run was adopted");
    assert_eq!(e.id(&run), created.id);

    let (_, report) = e.eng.destroy(&s4, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.st.resources().unwrap().is_empty());
}
