//! aws:mq/Broker and aws:opensearch/Domain through the engine against moto:
//! create, update in place, replace, out-of-band drift read, no-op preview,
//! delete, adoption by tag, offline validation, and secrets (a RandomPassword
//! feeding the broker user and the OpenSearch master user) kept out of the plan
//! text and sealed in state. What real AWS does and moto does not runs against
//! the AWS-like peer (`Env::aws_like`: slow creates and reboots, 409
//! ConflictException while busy, the OpenSearch service-linked role; moto's
//! fault switch does not match these REST-JSON services). The calls moto cannot
//! show (RebootBroker is a no-op there, UpgradeDomain does not exist, RabbitMQ
//! users that AWS never returns, the CreatorRequestId sent) are covered with
//! aws-smithy-mocks.

mod support;

use std::sync::Arc;
use std::time::Duration;

use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, ResourceOptions, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::iam::service_linked_role::ServiceLinkedRole;
use morket_stack::provider::aws::mq::broker::{Broker, BrokerUser, MaintenanceWindow};
use morket_stack::provider::aws::opensearch::domain::{
    AdvancedSecurityOptions, Domain, Enabled, VpcOptions,
};
use morket_stack::provider::aws::{self, Aws, AwsSettings};
use morket_stack::provider::random::RandomPassword;
use morket_stack::render::{self, Style};
use morket_stack::state::StateStore;
use morket_stack::value;
use serde_json::json;
use support::aws::{ctx, offline_engine, registry, tag_urn, Env, STACK};

fn settings() -> AwsSettings {
    AwsSettings {
        poll_interval: Duration::from_millis(10),
        wait_timeout: Duration::from_secs(30),
        max_attempts: 2,
        ..support::aws::settings()
    }
}

/// A VPC and one subnet per AZ given, then whatever `f` declares.
fn net_stack<T: ResourceArgs>(
    azs: &[&str],
    f: impl FnOnce(Vec<Input<String>>) -> T,
) -> (Stack, Resource<T>) {
    let mut st = Stack::new(STACK).unwrap();
    let vpc = st.root().resource("vpc", Vpc::new("10.0.0.0/16")).unwrap();
    let mut subnets = Vec::new();
    for (i, az) in azs.iter().enumerate() {
        let mut s = Subnet::new(vpc.id(), &format!("10.0.{i}.0/24"));
        s.availability_zone = Some(az.to_string());
        let r = st.root().resource(&format!("subnet-{i}"), s).unwrap();
        subnets.push(Input::from(r.id()));
    }
    let r = st.root().resource("main", f(subnets)).unwrap();
    (st, r)
}

fn broker(subnets: Vec<Input<String>>) -> Broker {
    let mut b = Broker::new(
        "orders",
        "3.13",
        "mq.m5.large",
        subnets[0].clone(),
        BrokerUser::new("admin", Input::secret("Initial-pass-123")),
    );
    b.tags.insert("Name".into(), "orders".into());
    b
}

async fn our_brokers(mq: &aws_sdk_mq::Client) -> Vec<String> {
    mq.list_brokers()
        .send()
        .await
        .unwrap()
        .broker_summaries()
        .iter()
        .filter_map(|b| b.broker_id().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_lifecycle_against_moto() {
    let mut e = Env::new(settings()).await;
    let mq = aws_sdk_mq::Client::new(&e.conf);

    // Create: tags in the create call, subnet from a Subnet resource.
    let mut decl = None;
    let (s1, r) = net_stack(&["us-east-1a"], |s| {
        let b = broker(s);
        decl = Some(b.clone());
        b
    });
    let mut b = decl.unwrap();
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 3);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let id = rec.id.clone();
    let subnet_id =
        e.st.resources()
            .unwrap()
            .into_iter()
            .find(|x| x.urn.name() == "subnet-0")
            .unwrap()
            .id;
    let live = mq.describe_broker().broker_id(&id).send().await.unwrap();
    assert_eq!(live.broker_name(), Some("orders"));
    assert_eq!(live.engine_type().unwrap().as_str(), "RABBITMQ");
    assert_eq!(live.engine_version(), Some("3.13"));
    assert_eq!(live.host_instance_type(), Some("mq.m5.large"));
    assert_eq!(live.deployment_mode().unwrap().as_str(), "SINGLE_INSTANCE");
    assert_eq!(live.subnet_ids(), std::slice::from_ref(&subnet_id));
    assert_eq!(live.publicly_accessible(), Some(false));
    assert_eq!(live.users()[0].username(), Some("admin"));
    let tags = live.tags().unwrap();
    assert_eq!(tags["Name"], "orders");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());
    assert_eq!(rec.outputs["arn"].as_str(), live.broker_arn());
    assert!(rec.outputs["amqps_endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("amqps://")));
    assert!(rec.outputs["console_url"]
        .as_str()
        .is_some_and(|e| e.starts_with("https://")));

    e.no_changes(&s1).await;

    // Update in place: every updatable field, and the one-step major
    // upgrade 3.13 -> 4.2, which needs an mq.m7g host. Users are create-only
    // (see `rabbitmq_user_changes_are_refused_before_any_call`).
    b.engine_version = "4.2".into();
    b.host_instance_type = "mq.m7g.large".into();
    b.security_groups = vec!["sg-0123456789abcdef0".into()];
    b.logs.general = true;
    b.maintenance_window_start_time = Some(MaintenanceWindow {
        day_of_week: "MONDAY".into(),
        time_of_day: "03:00".into(),
        time_zone: "UTC".into(),
    });
    b.tags.insert("Name".into(), "orders-2".into());
    let b2 = b.clone();
    let (s2, _) = net_stack(&["us-east-1a"], move |_| b2);
    let plan = e.up(&s2).await;
    let step = plan.steps.iter().find(|s| s.urn == *r.urn()).unwrap();
    assert_eq!(step.action, Action::Update);
    assert_eq!(
        step.changed,
        vec![
            "engine_version",
            "host_instance_type",
            "logs",
            "maintenance_window_start_time",
            "security_groups",
            "tags",
        ]
    );
    let live = mq.describe_broker().broker_id(&id).send().await.unwrap();
    assert_eq!(live.engine_version(), Some("4.2"));
    assert_eq!(live.host_instance_type(), Some("mq.m7g.large"));
    assert_eq!(live.security_groups(), ["sg-0123456789abcdef0"]);
    assert_eq!(live.auto_minor_version_upgrade(), Some(true));
    assert_eq!(live.logs().and_then(|l| l.general()), Some(true));
    assert_eq!(
        live.maintenance_window_start_time()
            .and_then(|w| w.time_of_day()),
        Some("03:00")
    );
    assert_eq!(live.tags().unwrap()["Name"], "orders-2");
    e.no_changes(&s2).await;

    // Never down: refused before any call.
    let mut down = b.clone();
    down.engine_version = "3.13".into();
    let (s_down, _) = net_stack(&["us-east-1a"], move |_| down);
    let msg = e.up_failing(&s_down).await;
    assert!(
        msg.contains("engine_version") && msg.contains("never downgrades"),
        "{msg}"
    );
    let live = mq.describe_broker().broker_id(&id).send().await.unwrap();
    assert_eq!(live.engine_version(), Some("4.2"));

    // Out-of-band change: read returns the live value, and the declared
    // users (AWS returns none for RabbitMQ).
    mq.update_broker()
        .broker_id(&id)
        .host_instance_type("mq.m7g.xlarge")
        .send()
        .await
        .unwrap();
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let read = e
        .reg
        .get(Broker::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["host_instance_type"], json!("mq.m7g.xlarge"));
    assert_eq!(read.inputs["tags"], json!({"Name": "orders-2"}));
    assert_eq!(read.inputs["users"], rec.inputs["users"]);

    // Force-new: a new name replaces the broker.
    b.broker_name = "orders-v2".into();
    let b3 = b.clone();
    let (s3, _) = net_stack(&["us-east-1a"], move |_| b3);
    let plan = e.up(&s3).await;
    let step = plan.steps.iter().find(|s| s.urn == *r.urn()).unwrap();
    assert_eq!(step.action, Action::Replace);
    assert_eq!(step.replace_fields, vec!["broker_name"]);
    let ids = our_brokers(&mq).await;
    assert_eq!(ids.len(), 1, "old broker deleted: {ids:?}");
    assert_ne!(ids[0], id);
    e.no_changes(&s3).await;

    // Adoption: find_by_urn finds exactly the live broker.
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let found = e
        .reg
        .get(Broker::TYPE)
        .unwrap()
        .find_by_urn(&ctx(r.urn()), &rec.inputs)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, ids[0]);

    // Delete.
    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_brokers(&mq).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

fn domain() -> Domain {
    let mut d = Domain::new("logs-staging");
    d.access_policies = Some(Input::Value(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"es:ESHttpGet","Resource":"*"}]}"#.into(),
    ));
    d.tags.insert("Name".into(), "logs".into());
    d
}

fn domain_stack(d: Domain) -> (Stack, Resource<Domain>) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource("search", d).unwrap();
    (st, r)
}

async fn our_domains(os: &aws_sdk_opensearch::Client) -> Vec<String> {
    os.list_domain_names()
        .send()
        .await
        .unwrap()
        .domain_names()
        .iter()
        .filter_map(|d| d.domain_name().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_lifecycle_against_moto() {
    let mut e = Env::new(settings()).await;
    let os = aws_sdk_opensearch::Client::new(&e.conf);
    let cancel = Cancel::new();
    let opts = PlanOptions::default();

    let mut d = domain();
    let (s1, r) = domain_stack(d.clone());
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    assert_eq!(rec.id, "logs-staging");
    let live = os
        .describe_domain()
        .domain_name("logs-staging")
        .send()
        .await
        .unwrap()
        .domain_status
        .unwrap();
    assert_eq!(live.engine_version(), Some("OpenSearch_2.11"));
    let c = live.cluster_config().unwrap();
    assert_eq!(c.instance_type().unwrap().as_str(), "t3.small.search");
    assert_eq!(c.instance_count(), Some(1));
    let ebs = live.ebs_options().unwrap();
    assert_eq!(ebs.volume_type().unwrap().as_str(), "gp3");
    assert_eq!(ebs.volume_size(), Some(10));
    assert_eq!(
        live.encryption_at_rest_options().and_then(|o| o.enabled()),
        Some(true)
    );
    assert_eq!(
        live.domain_endpoint_options()
            .and_then(|o| o.enforce_https()),
        Some(true)
    );
    let tags = aws::opensearch::from_tags(
        os.list_tags()
            .arn(live.arn())
            .send()
            .await
            .unwrap()
            .tag_list(),
    );
    assert_eq!(tags["Name"], "logs");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());
    assert_eq!(rec.outputs["id"].as_str(), Some(live.domain_id()));
    assert_eq!(rec.outputs["arn"].as_str(), Some(live.arn()));
    assert_eq!(
        rec.outputs["endpoint"].as_str(),
        Some("logs-staging.us-east-1.es.amazonaws.com")
    );

    e.no_changes(&s1).await;
    // The same policy, formatted differently, is no change.
    let mut reformatted = d.clone();
    let pol: serde_json::Value =
        serde_json::from_str(d.access_policies.as_ref().unwrap().known().unwrap()).unwrap();
    reformatted.access_policies = Some(Input::Value(serde_json::to_string_pretty(&pol).unwrap()));
    let p = e
        .eng
        .preview(&domain_stack(reformatted).0, &opts)
        .await
        .unwrap();
    assert!(!p.has_changes(), "{:?}", p.steps);

    // Update in place: only instance_count and zone awareness change in the
    // cluster block, yet the whole block goes (instance_type must survive).
    d.cluster_config.instance_count = 2;
    d.cluster_config.zone_awareness_enabled = true;
    d.cluster_config.availability_zone_count = Some(2);
    d.ebs_options.volume_size = 20;
    d.ebs_options.throughput = Some(250);
    d.snapshot_options.automated_snapshot_start_hour = 3;
    d.domain_endpoint_options.tls_security_policy = "Policy-Min-TLS-1-2-PFS-2023-10".into();
    d.access_policies = Some(Input::Value(
        r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
    ));
    d.tags.insert("Name".into(), "logs-2".into());
    let (s2, _) = domain_stack(d.clone());
    let plan = e.up(&s2).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(
        plan.steps[0].changed,
        vec![
            "access_policies",
            "cluster_config",
            "domain_endpoint_options",
            "ebs_options",
            "snapshot_options",
            "tags"
        ]
    );
    let live = os
        .describe_domain()
        .domain_name("logs-staging")
        .send()
        .await
        .unwrap()
        .domain_status
        .unwrap();
    let c = live.cluster_config().unwrap();
    assert_eq!(c.instance_type().unwrap().as_str(), "t3.small.search");
    assert_eq!(c.instance_count(), Some(2));
    assert_eq!(c.zone_awareness_enabled(), Some(true));
    assert_eq!(
        c.zone_awareness_config()
            .and_then(|z| z.availability_zone_count()),
        Some(2)
    );
    let ebs = live.ebs_options().unwrap();
    assert_eq!(ebs.volume_size(), Some(20));
    assert_eq!(ebs.volume_type().unwrap().as_str(), "gp3");
    assert_eq!(ebs.throughput(), Some(250));
    assert_eq!(
        live.snapshot_options()
            .and_then(|s| s.automated_snapshot_start_hour()),
        Some(3)
    );
    assert_eq!(
        live.domain_endpoint_options()
            .and_then(|o| o.tls_security_policy())
            .map(|p| p.as_str()),
        Some("Policy-Min-TLS-1-2-PFS-2023-10")
    );
    assert_eq!(
        live.access_policies(),
        Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
    );
    let tags = aws::opensearch::from_tags(
        os.list_tags()
            .arn(live.arn())
            .send()
            .await
            .unwrap()
            .tag_list(),
    );
    assert_eq!(tags["Name"], "logs-2");
    e.no_changes(&s2).await;

    // Out-of-band change, then read returns the live value.
    os.update_domain_config()
        .domain_name("logs-staging")
        .snapshot_options(
            aws_sdk_opensearch::types::SnapshotOptions::builder()
                .automated_snapshot_start_hour(5)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let read = e
        .reg
        .get(Domain::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.inputs["snapshot_options"]["automated_snapshot_start_hour"],
        json!(5)
    );
    assert_eq!(read.inputs["cluster_config"]["instance_count"], json!(2));
    assert_eq!(read.inputs["tags"], json!({"Name": "logs-2"}));

    // Force-new: a new name (create the new domain, then delete the old one).
    d.domain_name = "logs-staging-2".into();
    let (s3, _) = domain_stack(d.clone());
    let plan = e.up(&s3).await;
    assert_eq!(plan.steps[0].action, Action::Replace);
    assert_eq!(plan.steps[0].replace_fields, vec!["domain_name"]);
    assert_eq!(our_domains(&os).await, vec!["logs-staging-2".to_string()]);

    // Force-new: node-to-node encryption off.
    d.node_to_node_encryption = Enabled { enabled: false };
    let (s4, _) = domain_stack(d.clone());
    let p = e.eng.preview(&s4, &opts).await.unwrap();
    assert_eq!(p.steps[0].action, Action::Replace);
    assert_eq!(p.steps[0].replace_fields, vec!["node_to_node_encryption"]);

    // Adoption finds exactly the live domain.
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let found = e
        .reg
        .get(Domain::TYPE)
        .unwrap()
        .find_by_urn(&ctx(r.urn()), &rec.inputs)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "logs-staging-2");

    let (_, report) = e.eng.destroy(&s3, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_domains(&os).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

/// A RandomPassword feeds the broker's admin password and the OpenSearch
/// master password (a VPC domain); the plaintext appears neither in the plan
/// text nor in the exported state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_password_feeds_both_services_and_stays_secret() {
    let mut e = Env::new(settings()).await;
    let opts = PlanOptions::default();

    let mut st_decl = Stack::new(STACK).unwrap();
    let mut pw = RandomPassword::new(24);
    // Amazon MQ refuses , : = in passwords.
    pw.override_special = Some("!#%&*-_+?".into());
    pw.min_upper = 1;
    pw.min_lower = 1;
    pw.min_numeric = 1;
    pw.min_special = 1;
    let pw = st_decl.root().resource("admin-password", pw).unwrap();
    let vpc = st_decl
        .root()
        .resource("vpc", Vpc::new("10.0.0.0/16"))
        .unwrap();
    let subnet = st_decl
        .root()
        .resource("subnet", Subnet::new(vpc.id(), "10.0.1.0/24"))
        .unwrap();
    let b = Broker::new(
        "events",
        "3.13",
        "mq.m5.large",
        subnet.id(),
        BrokerUser::new("admin", pw.result()),
    );
    let broker = st_decl.root().resource("broker", b).unwrap();
    let mut d = Domain::new("search-secure");
    d.vpc_options = Some(VpcOptions {
        subnet_ids: vec![subnet.id().into()],
        security_group_ids: vec![],
    });
    d.advanced_security_options = AdvancedSecurityOptions {
        enabled: true,
        internal_user_database_enabled: true,
        master_user_name: Some("master".into()),
        master_user_password: Some(pw.result().into()),
    };
    let dom = st_decl.root().resource("search", d).unwrap();

    let plan = e.up(&st_decl).await;
    let secret = e.st.resource(pw.urn()).unwrap().unwrap().outputs["result"].clone();
    let secret = value::reveal(&secret);
    let secret = secret.as_str().expect("plaintext password").to_string();
    assert_eq!(secret.len(), 24);

    // The plan text, plain and with every field's diff.
    for style in [
        Style::default(),
        Style {
            color: false,
            diff: true,
        },
    ] {
        let text = render::plan_text(&plan, style);
        assert!(text.contains("aws:mq/Broker"), "{text}");
        assert!(
            !text.contains(&secret),
            "plaintext in the plan text:\n{text}"
        );
    }
    // A change of the domain's policy: the diff shows neither password.
    let p = e.eng.preview(&st_decl, &opts).await.unwrap();
    assert!(!p.has_changes(), "{:?}", p.steps);
    assert!(!render::plan_text(
        &p,
        Style {
            color: false,
            diff: true
        }
    )
    .contains(&secret));

    // The state export holds sealed values only.
    let snap = serde_json::to_string(&e.st.export().unwrap()).unwrap();
    assert!(!snap.contains(&secret), "plaintext in the exported state");
    let broker_state = e.st.resource(broker.urn()).unwrap().unwrap();
    assert_eq!(
        value::reveal(&broker_state.inputs["users"][0]["password"]),
        json!(secret),
        "the broker got the generated password"
    );
    let dom_state = e.st.resource(dom.urn()).unwrap().unwrap();
    assert_eq!(
        value::reveal(&dom_state.inputs["advanced_security_options"]["master_user_password"]),
        json!(secret)
    );
    // A VPC domain's endpoint is its VPC endpoint.
    assert_eq!(
        dom_state.outputs["endpoint"],
        json!("search-secure.us-east-1.es.amazonaws.com")
    );

    let (_, report) = e.eng.destroy(&st_decl, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_fail_the_preview_naming_field_and_value() {
    // No moto: validation runs before any call, so no endpoint is needed.
    let mut eng = offline_engine(settings());
    let opts = PlanOptions::default();
    let user = || BrokerUser::new("admin", Input::secret("Good-password-1"));
    let base = || Broker::new("orders", "3.13", "mq.m5.large", "subnet-1", user());

    let cases: Vec<(Broker, &str, &str)> = vec![
        (
            Broker {
                deployment_mode: "ACTIVE_STANDBY_MULTI_AZ".into(),
                ..base()
            },
            "deployment_mode",
            "ACTIVE_STANDBY_MULTI_AZ",
        ),
        (
            Broker {
                deployment_mode: "CLUSTER_MULTI_AZ".into(),
                ..base()
            },
            "subnet_ids",
            "1",
        ),
        (
            Broker {
                broker_name: "bad name!".into(),
                ..base()
            },
            "broker_name",
            "bad name!",
        ),
        (
            Broker {
                engine_type: "ACTIVEMQ".into(),
                ..base()
            },
            "engine_type",
            "ACTIVEMQ",
        ),
        (
            Broker {
                engine_version: "latest".into(),
                ..base()
            },
            "engine_version",
            "latest",
        ),
        (
            {
                let mut b = base();
                b.logs.audit = true;
                b
            },
            "logs.audit",
            "true",
        ),
        // Amazon MQ no longer creates 3.11 (end of support), takes
        // major.minor only, and runs 4.2 on mq.m7g only.
        (
            Broker {
                engine_version: "3.11.20".into(),
                ..base()
            },
            "engine_version",
            "3.11.20",
        ),
        (
            Broker {
                engine_version: "4.2".into(),
                ..base()
            },
            "host_instance_type",
            "mq.m7g",
        ),
        (
            Broker {
                auto_minor_version_upgrade: false,
                ..base()
            },
            "auto_minor_version_upgrade",
            "3.13",
        ),
        (
            {
                let mut b = base();
                b.users[0].password = Input::secret("has:colon-in-it");
                b
            },
            "users[0].password",
            "':'",
        ),
    ];
    for (b, field, value) in cases {
        let mut st = Stack::new(STACK).unwrap();
        st.root().resource("b", b).unwrap();
        let msg = eng.preview(&st, &opts).await.unwrap_err().to_string();
        assert!(msg.contains(field) && msg.contains(value), "{field}: {msg}");
        assert!(!msg.contains("has:colon-in-it"), "secret echoed: {msg}");
    }

    let dcases: Vec<(Domain, &str, &str)> = vec![
        (Domain::new("Logs"), "domain_name", "Logs"),
        (Domain::new("9logs"), "domain_name", "9logs"),
        (
            {
                let mut d = Domain::new("logs");
                d.cluster_config.zone_awareness_enabled = true;
                d.cluster_config.instance_count = 3;
                d
            },
            "cluster_config.instance_count",
            "3",
        ),
        (
            {
                let mut d = Domain::new("logs");
                d.ebs_options.ebs_enabled = false;
                d
            },
            "ebs_options.ebs_enabled",
            "false",
        ),
        (
            {
                let mut d = Domain::new("logs");
                d.snapshot_options.automated_snapshot_start_hour = 24;
                d
            },
            "snapshot_options.automated_snapshot_start_hour",
            "24",
        ),
        (
            {
                let mut d = Domain::new("logs");
                d.access_policies = Some(Input::Value("not json".into()));
                d
            },
            "access_policies",
            "not json",
        ),
        (
            {
                let mut d = Domain::new("logs");
                d.advanced_security_options = AdvancedSecurityOptions {
                    enabled: true,
                    internal_user_database_enabled: true,
                    master_user_name: Some("master".into()),
                    master_user_password: Some(Input::secret("weakpassword")),
                };
                d
            },
            "advanced_security_options.master_user_password",
            "upper-case",
        ),
    ];
    for (d, field, value) in dcases {
        let mut st = Stack::new(STACK).unwrap();
        st.root().resource("d", d).unwrap();
        let msg = eng.preview(&st, &opts).await.unwrap_err().to_string();
        assert!(msg.contains(field) && msg.contains(value), "{field}: {msg}");
        assert!(!msg.contains("weakpassword"), "secret echoed: {msg}");
    }
}

// moto's RebootBroker is a no-op and its brokers never leave RUNNING, so
// whether the provider reboots (and only when a change needs it), and waits
// out the reboot AWS shows a moment later, is only observable on a mocked
// client.
#[tokio::test]
async fn broker_update_reboots_only_when_the_change_needs_it() {
    use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
    use aws_sdk_mq::operation::reboot_broker::RebootBrokerOutput;
    use aws_sdk_mq::operation::update_broker::UpdateBrokerOutput;
    use aws_sdk_mq::types::BrokerState;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::sync::atomic::{AtomicUsize, Ordering};

    // After the reboot: RUNNING once (AWS is late to show it), then
    // REBOOT_IN_PROGRESS twice, then RUNNING.
    let since_reboot = Arc::new(AtomicUsize::new(usize::MAX));
    let s = since_reboot.clone();
    let update = mock!(aws_sdk_mq::Client::update_broker)
        .then_output(|| UpdateBrokerOutput::builder().build());
    let reboot = mock!(aws_sdk_mq::Client::reboot_broker).then_compute_output(move |_| {
        s.store(0, Ordering::SeqCst);
        RebootBrokerOutput::builder().build()
    });
    let s = since_reboot.clone();
    let describe = mock!(aws_sdk_mq::Client::describe_broker).then_compute_output(move |_| {
        let n = s.load(Ordering::SeqCst);
        if n != usize::MAX {
            s.store(n + 1, Ordering::SeqCst);
        }
        let state = match n {
            1 | 2 => BrokerState::RebootInProgress,
            _ => BrokerState::Running,
        };
        DescribeBrokerOutput::builder()
            .broker_id("b-1")
            .broker_state(state)
            .build()
    });
    let client = mock_client!(
        aws_sdk_mq,
        RuleMode::MatchAny,
        [&update, &reboot, &describe]
    );
    let aws_conn = Arc::new(Aws::new(settings()).with_mq(client));
    let reg = registry(aws_conn);
    let p = reg.get(Broker::TYPE).unwrap();
    let urn = morket_stack::model::Urn::new(STACK, "", Broker::TYPE, "b");
    let old = Broker::new(
        "orders",
        "3.13",
        "mq.m5.large",
        "subnet-1",
        BrokerUser::new("admin", Input::secret("Good-password-1")),
    );
    let outs = json!({"arn": "arn:aws:mq:us-east-1:123456789012:broker:orders:b-1"});

    // Security groups apply without a reboot.
    let mut n = old.clone();
    n.security_groups = vec!["sg-1".into()];
    p.update(
        &ctx(&urn),
        "b-1",
        &serde_json::to_value(&old).unwrap(),
        &serde_json::to_value(&n).unwrap(),
        &outs,
    )
    .await
    .unwrap();
    assert_eq!(update.num_calls(), 1);
    assert_eq!(reboot.num_calls(), 0, "no reboot for security groups");

    // A new instance type is pending until a reboot: reboot, then wait until
    // the reboot AWS shows is over (RUNNING twice in a row).
    let mut n2 = n.clone();
    n2.host_instance_type = "mq.m5.xlarge".into();
    let out = p
        .update(
            &ctx(&urn),
            "b-1",
            &serde_json::to_value(&n).unwrap(),
            &serde_json::to_value(&n2).unwrap(),
            &outs,
        )
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 2);
    assert_eq!(reboot.num_calls(), 1);
    assert!(
        since_reboot.load(Ordering::SeqCst) >= 5,
        "waited through REBOOT_IN_PROGRESS: {} describes",
        since_reboot.load(Ordering::SeqCst)
    );
    assert_eq!(out["id"], json!("b-1"));
}

// moto has no UpgradeDomain, so an engine version change runs on a mocked
// client: it must go through UpgradeDomain (not UpdateDomainConfig) and wait
// until UpgradeProcessing is over.
#[tokio::test]
async fn domain_engine_version_change_upgrades_and_waits() {
    use aws_sdk_opensearch::operation::describe_domain::DescribeDomainOutput;
    use aws_sdk_opensearch::operation::list_tags::ListTagsOutput;
    use aws_sdk_opensearch::operation::update_domain_config::UpdateDomainConfigOutput;
    use aws_sdk_opensearch::operation::upgrade_domain::UpgradeDomainOutput;
    use aws_sdk_opensearch::types::DomainStatus;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let status = |upgrading: bool| {
        DomainStatus::builder()
            .domain_id("123456789012/logs")
            .domain_name("logs")
            .arn("arn:aws:es:us-east-1:123456789012:domain/logs")
            .engine_version(if upgrading {
                "OpenSearch_2.11"
            } else {
                "OpenSearch_2.13"
            })
            .processing(false)
            .upgrade_processing(upgrading)
            .endpoint("logs.us-east-1.es.amazonaws.com")
            .build()
            .unwrap()
    };
    let upgrade = mock!(aws_sdk_opensearch::Client::upgrade_domain)
        .match_requests(|r| r.target_version() == Some("OpenSearch_2.13"))
        .then_output(|| UpgradeDomainOutput::builder().build());
    let config = mock!(aws_sdk_opensearch::Client::update_domain_config)
        .then_output(|| UpdateDomainConfigOutput::builder().build());
    let describe = mock!(aws_sdk_opensearch::Client::describe_domain)
        .sequence()
        .output(move || {
            DescribeDomainOutput::builder()
                .domain_status(status(true))
                .build()
        })
        .output(move || {
            DescribeDomainOutput::builder()
                .domain_status(status(false))
                .build()
        })
        .repeatedly()
        .build();
    let tags = mock!(aws_sdk_opensearch::Client::list_tags)
        .then_output(|| ListTagsOutput::builder().build());
    let client = mock_client!(
        aws_sdk_opensearch,
        RuleMode::MatchAny,
        [&upgrade, &config, &describe, &tags]
    );
    let aws_conn = Arc::new(Aws::new(settings()).with_opensearch(client));
    let reg = registry(aws_conn);
    let p = reg.get(Domain::TYPE).unwrap();
    let urn = morket_stack::model::Urn::new(STACK, "", Domain::TYPE, "d");
    let old = Domain::new("logs");
    let mut new = old.clone();
    new.engine_version = "OpenSearch_2.13".into();
    let out = p
        .update(
            &ctx(&urn),
            "logs",
            &serde_json::to_value(&old).unwrap(),
            &serde_json::to_value(&new).unwrap(),
            &json!({"arn": "arn:aws:es:us-east-1:123456789012:domain/logs"}),
        )
        .await
        .unwrap();
    assert_eq!(upgrade.num_calls(), 1);
    assert_eq!(config.num_calls(), 0, "no config block changed");
    assert!(describe.num_calls() >= 3, "waited for the upgrade");
    assert_eq!(out["endpoint"], json!("logs.us-east-1.es.amazonaws.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_broker_create_is_adopted_by_its_urn_tag() {
    let mut e = Env::new(settings()).await;
    let mq = aws_sdk_mq::Client::new(&e.conf);
    let mut s = Stack::new(STACK).unwrap();
    let r = s
        .root()
        .resource(
            "broker",
            Broker::new(
                "adopted",
                "3.13",
                "mq.m5.large",
                "subnet-0123456789abcdef0",
                BrokerUser::new("admin", Input::secret("Good-password-1")),
            ),
        )
        .unwrap();
    let inputs = s.resources()[0].inputs.clone();
    // The process "died" after CreateBroker returned, before the checkpoint.
    let created = e.interrupted_create(&r, &inputs).await;
    let mut eng = Engine::new(Box::new(e.st.clone()), e.reg);
    let (plan, report) = eng
        .up(&s, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(e.st.resource(r.urn()).unwrap().unwrap().id, created.id);
    assert_eq!(our_brokers(&mq).await, vec![created.id.clone()]);
    assert!(e.st.pending().unwrap().is_empty());
}

/// The AWS-like peer's scale for the modify waits: its 3 s lag becomes 0.6 s
/// (a request to it takes about 0.2 s), its 30 s of processing 6 s.
const SLOW_PEER: f64 = 0.2;

/// The declared broker with a literal subnet: for tests that need no VPC.
fn lone_broker(name: &str) -> Broker {
    Broker::new(
        name,
        "3.13",
        "mq.m5.large",
        "subnet-0123456789abcdef0",
        BrokerUser::new("admin", Input::secret("Good-password-1")),
    )
}

fn broker_stack(b: Broker) -> (Stack, Resource<Broker>) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource("broker", b).unwrap();
    (st, r)
}

// B4: Amazon MQ takes RabbitMQ users at create only (UpdateUser is
// ActiveMQ-only). A change of them fails the update before any call, naming
// the field, so no other part of the change is half applied; a rename of the
// admin is refused the same way, never a replacement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_user_changes_are_refused_before_any_call() {
    let mut e = Env::new(settings()).await;
    let mq = aws_sdk_mq::Client::new(&e.conf);
    let b = lone_broker("users");
    let (s1, r) = broker_stack(b.clone());
    e.up(&s1).await;
    let id = e.id(&r);

    let mut password = b.clone();
    password.users[0].password = Input::secret("Another-pass-789");
    password.host_instance_type = "mq.m5.xlarge".into();
    let mut rename = b.clone();
    rename.users[0].username = "root".into();
    let mut console = b.clone();
    console.users[0].console_access = true;
    for changed in [password, rename, console] {
        let (s, _) = broker_stack(changed);
        let p = e.eng.preview(&s, &PlanOptions::default()).await.unwrap();
        assert_eq!(support::aws::step(&p, &r).action, Action::Update);
        let msg = e.up_failing(&s).await;
        assert!(
            msg.contains("users") && msg.contains("ActiveMQ-only"),
            "{msg}"
        );
        assert!(!msg.contains("Another-pass-789"), "secret echoed: {msg}");
        let live = mq.describe_broker().broker_id(&id).send().await.unwrap();
        assert_eq!(
            live.host_instance_type(),
            Some("mq.m5.large"),
            "no call made"
        );
        assert_eq!(our_brokers(&mq).await, vec![id.clone()], "not replaced");
    }
    e.no_changes(&s1).await;
}

// B4 / S12: DescribeBroker lists no RabbitMQ users on AWS (moto lists them).
// Read keeps the declared users, so a refresh never plans a replacement;
// AWS's patch version and maintenance window mean the declared ones.
#[tokio::test]
async fn broker_read_keeps_the_declared_users_aws_does_not_return() {
    use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
    use aws_sdk_mq::types::{BrokerState, DayOfWeek, DeploymentMode, EngineType, WeeklyStartTime};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let describe = mock!(aws_sdk_mq::Client::describe_broker).then_output(|| {
        DescribeBrokerOutput::builder()
            .broker_id("b-1")
            .broker_arn("arn:aws:mq:us-east-1:123456789012:broker:orders:b-1")
            .broker_name("orders")
            .broker_state(BrokerState::Running)
            .engine_type(EngineType::Rabbitmq)
            .engine_version("3.13.7")
            .host_instance_type("mq.m5.large")
            .deployment_mode(DeploymentMode::SingleInstance)
            .subnet_ids("subnet-0123456789abcdef0")
            .publicly_accessible(false)
            .auto_minor_version_upgrade(true)
            .logs(
                aws_sdk_mq::types::LogsSummary::builder()
                    .general(false)
                    .general_log_group("g")
                    .build(),
            )
            .maintenance_window_start_time(
                WeeklyStartTime::builder()
                    .day_of_week(DayOfWeek::Sunday)
                    .time_of_day("02:00")
                    .time_zone("UTC")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_mq, RuleMode::MatchAny, [&describe]);
    let reg = registry(Arc::new(Aws::new(settings()).with_mq(client)));
    let p = reg.get(Broker::TYPE).unwrap();
    let urn = morket_stack::model::Urn::new(STACK, "", Broker::TYPE, "broker");
    let declared = serde_json::to_value(lone_broker("orders")).unwrap();
    let read = p
        .read(&ctx(&urn), "b-1", &declared, &json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["users"], declared["users"]);
    assert_eq!(read.inputs["engine_version"], json!("3.13"));
    let d = p.diff(&declared, &read.inputs);
    assert!(d.is_empty(), "{d:?}");
}

// S11: the CreatorRequestId is random per create, and the same on every
// resend of one create (here a throttled first attempt): a later create with
// the same inputs (destroy then up, a replacement) never gets an old broker.
#[tokio::test]
async fn broker_creator_request_id_is_random_per_create_and_kept_on_resends() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use aws_sdk_mq::operation::create_broker::{CreateBrokerError, CreateBrokerOutput};
    use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
    use aws_sdk_mq::types::BrokerState;
    use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (t, n) = (tokens.clone(), calls.clone());
    let create = mock!(aws_sdk_mq::Client::create_broker).then_compute_response(move |r| {
        t.lock()
            .unwrap()
            .push(r.creator_request_id().unwrap_or_default().to_string());
        if n.fetch_add(1, Ordering::SeqCst) == 0 {
            let meta = ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build();
            return MockResponse::Error(CreateBrokerError::generic(meta));
        }
        MockResponse::Output(CreateBrokerOutput::builder().broker_id("b-1").build())
    });
    let describe = mock!(aws_sdk_mq::Client::describe_broker).then_output(|| {
        DescribeBrokerOutput::builder()
            .broker_id("b-1")
            .broker_state(BrokerState::Running)
            .build()
    });
    // No SDK retries: the resend is the call helper's, which builds the
    // request again from the closure.
    let client = mock_client!(aws_sdk_mq, RuleMode::MatchAny, [&create, &describe], |c| c
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let reg = registry(Arc::new(Aws::new(settings()).with_mq(client)));
    let p = reg.get(Broker::TYPE).unwrap();
    let urn = morket_stack::model::Urn::new(STACK, "", Broker::TYPE, "broker");
    let inputs = serde_json::to_value(lone_broker("orders")).unwrap();
    for _ in 0..2 {
        let made = p.create(&ctx(&urn), &inputs).await.unwrap();
        assert_eq!(made.id, "b-1");
    }
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 3, "one throttled resend: {tokens:?}");
    assert!(tokens
        .iter()
        .all(|t| t.starts_with("morket-") && t.len() > 20));
    assert_eq!(tokens[0], tokens[1], "a resend keeps its token");
    assert_ne!(tokens[1], tokens[2], "a new create gets a new token");
}

// Minor: encryption at rest and node-to-node encryption turn on in place
// (only turning them off replaces the domain, and its data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_encryption_turns_on_in_place() {
    let mut e = Env::new(settings()).await;
    let os = aws_sdk_opensearch::Client::new(&e.conf);
    let mut d = Domain::new("plain");
    d.encrypt_at_rest.enabled = false;
    d.node_to_node_encryption.enabled = false;
    let (s1, r) = domain_stack(d.clone());
    e.up(&s1).await;
    let (s2, _) = domain_stack(Domain::new("plain"));
    let plan = e.up(&s2).await;
    let step = support::aws::step(&plan, &r);
    assert_eq!(step.action, Action::Update);
    assert_eq!(
        step.changed,
        vec!["encrypt_at_rest", "node_to_node_encryption"]
    );
    let live = os
        .describe_domain()
        .domain_name("plain")
        .send()
        .await
        .unwrap()
        .domain_status
        .unwrap();
    assert_eq!(
        live.encryption_at_rest_options().and_then(|o| o.enabled()),
        Some(true)
    );
    assert_eq!(
        live.node_to_node_encryption_options()
            .and_then(|o| o.enabled()),
        Some(true)
    );
    assert_eq!(our_domains(&os).await, vec!["plain".to_string()]);
    e.no_changes(&s2).await;
}

// S6 (create): under the AWS-like peer a new broker is CREATION_IN_PROGRESS,
// without instances, for a while; the create waits for RUNNING, so its
// endpoint is in the outputs.
// S6 (modify): a change that needs a reboot; AWS shows REBOOT_IN_PROGRESS a
// moment after RebootBroker. The update waits past it: right after the `up`
// (and past the peer's lag) the broker is RUNNING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_waits_out_creation_and_reboot_against_aws_like_peer() {
    let mut e = Env::aws_like(settings()).await;
    let mq = aws_sdk_mq::Client::new(&e.conf);
    let b = lone_broker("slow");
    let (s1, r) = broker_stack(b.clone());
    e.up_stable(&s1).await;
    assert!(
        e.outputs(&r)["amqps_endpoint"]
            .as_str()
            .is_some_and(|a| a.starts_with("amqps://")),
        "{}",
        e.outputs(&r)
    );
    let seen = e.aws_like_fired();
    assert!(
        seen.get("transitions").copied().unwrap_or(0) >= 1,
        "{seen:?}"
    );

    // A request to the peer takes about 0.2 s, longer than its 3 s lag at
    // the common scale: slow the peer (open windows keep their end) so that
    // the lag outlasts a request, as on AWS.
    e.moto.aws_like(json!({"on": "all", "scale": SLOW_PEER}));
    let mut bigger = b.clone();
    bigger.host_instance_type = "mq.m5.xlarge".into();
    let (s2, _) = broker_stack(bigger);
    let started = std::time::Instant::now();
    e.up(&s2).await;
    // 30 s of AWS time before the first poll.
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // Past the lag: an `up` that returned early would see the reboot now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let live = mq
        .describe_broker()
        .broker_id(e.id(&r))
        .send()
        .await
        .unwrap();
    assert_eq!(live.broker_state().map(|s| s.as_str()), Some("RUNNING"));
    assert_eq!(live.host_instance_type(), Some("mq.m5.xlarge"));
    let (_, report) = e.eng.destroy(&s2, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_brokers(&mq).await.is_empty());
}

// S7: UpdateBroker answers 409 ConflictException while the broker reboots;
// the update is sent again until it is accepted, in one `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_update_retries_a_conflict_while_rebooting_against_aws_like_peer() {
    let mut e = Env::aws_like(settings()).await;
    let mq = aws_sdk_mq::Client::new(&e.conf);
    let b = lone_broker("busy");
    let (s1, r) = broker_stack(b.clone());
    e.up(&s1).await;
    let id = e.id(&r);
    // Someone reboots it; past the peer's lag it is REBOOT_IN_PROGRESS.
    mq.reboot_broker().broker_id(&id).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = e.aws_like_fired().get("conflicts").copied().unwrap_or(0);
    let mut guarded = b.clone();
    guarded.security_groups = vec!["sg-0123456789abcdef0".into()];
    let (s2, _) = broker_stack(guarded);
    e.up(&s2).await;
    let after = e.aws_like_fired().get("conflicts").copied().unwrap_or(0);
    assert!(after > before, "UpdateBroker met a conflict: {after}");
    let live = mq.describe_broker().broker_id(&id).send().await.unwrap();
    assert_eq!(live.security_groups(), ["sg-0123456789abcdef0"]);
    assert_eq!(our_brokers(&mq).await, vec![id]);
}

// S6 (create): a new domain is Processing without an endpoint for a while;
// the create requires both settled, so the endpoint output is set.
// S6 (modify): Processing is still false right after UpdateDomainConfig; the
// update waits before its first poll, so right after the `up` (past the
// peer's lag) the domain is not processing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_waits_for_its_endpoint_and_its_changes_against_aws_like_peer() {
    let mut e = Env::aws_like(settings()).await;
    let os = aws_sdk_opensearch::Client::new(&e.conf);
    let mut d = Domain::new("slow-logs");
    let (s1, r) = domain_stack(d.clone());
    e.up_stable(&s1).await;
    assert_eq!(
        e.outputs(&r)["endpoint"],
        json!("slow-logs.us-east-1.es.amazonaws.com")
    );
    let seen = e.aws_like_fired();
    assert!(
        seen.get("transitions").copied().unwrap_or(0) >= 1,
        "{seen:?}"
    );

    // As for the broker: the peer's lag must outlast a request.
    e.moto.aws_like(json!({"on": "all", "scale": SLOW_PEER}));
    d.snapshot_options.automated_snapshot_start_hour = 4;
    let (s2, _) = domain_stack(d);
    e.up(&s2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let live = os
        .describe_domain()
        .domain_name("slow-logs")
        .send()
        .await
        .unwrap()
        .domain_status
        .unwrap();
    assert_eq!(live.processing(), Some(false));
    assert_eq!(
        live.snapshot_options()
            .and_then(|s| s.automated_snapshot_start_hour()),
        Some(4)
    );
    let (_, report) = e.eng.destroy(&s2, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_domains(&os).await.is_empty());
}

// S7: UpdateDomainConfig answers ValidationException "A change/update is in
// progress" (as OpenSearch does) while the domain is processing another
// change; the update is sent again until accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_update_retries_a_conflict_while_processing_against_aws_like_peer() {
    let mut e = Env::aws_like(settings()).await;
    let os = aws_sdk_opensearch::Client::new(&e.conf);
    let mut d = Domain::new("busy-logs");
    let (s1, _) = domain_stack(d.clone());
    e.up(&s1).await;
    // Someone changes it; past the peer's lag it is processing.
    os.update_domain_config()
        .domain_name("busy-logs")
        .snapshot_options(
            aws_sdk_opensearch::types::SnapshotOptions::builder()
                .automated_snapshot_start_hour(5)
                .build(),
        )
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = e.aws_like_fired().get("conflicts").copied().unwrap_or(0);
    d.ebs_options.volume_size = 20;
    let (s2, _) = domain_stack(d);
    e.up(&s2).await;
    let after = e.aws_like_fired().get("conflicts").copied().unwrap_or(0);
    assert!(after > before, "UpdateDomainConfig met a conflict: {after}");
    let live = os
        .describe_domain()
        .domain_name("busy-logs")
        .send()
        .await
        .unwrap()
        .domain_status
        .unwrap();
    assert_eq!(live.ebs_options().and_then(|e| e.volume_size()), Some(20));
}

fn vpc_domain() -> Domain {
    let mut d = Domain::new("vpc-logs");
    d.vpc_options = Some(VpcOptions {
        subnet_ids: vec!["subnet-0123456789abcdef0".into()],
        security_group_ids: vec![],
    });
    d
}

// B3: a VPC domain needs OpenSearch's service-linked role. Without it the
// create fails (after the propagation retries) saying what to declare; with
// `aws:iam/ServiceLinkedRole` declared and depended on, one `up` succeeds,
// riding out the new role's propagation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_domain_needs_the_service_linked_role_against_aws_like_peer() {
    let mut e = Env::aws_like(settings()).await;
    let os = aws_sdk_opensearch::Client::new(&e.conf);
    let (s1, _) = domain_stack(vpc_domain());
    let msg = e.up_failing(&s1).await;
    assert!(
        msg.contains("AWSServiceRoleForAmazonOpenSearchService")
            && msg.contains("aws:iam/ServiceLinkedRole")
            && msg.contains("opensearchservice.amazonaws.com"),
        "{msg}"
    );
    let refused = e.aws_like_fired().get("slr").copied().unwrap_or(0);
    assert!(
        refused >= 2,
        "retried while the role was missing: {refused}"
    );
    assert!(our_domains(&os).await.is_empty());

    let mut st = Stack::new(STACK).unwrap();
    let role = st
        .root()
        .resource(
            "opensearch-role",
            ServiceLinkedRole::new("opensearchservice.amazonaws.com"),
        )
        .unwrap();
    let dom = st
        .root()
        .resource_with(
            "search",
            vpc_domain(),
            ResourceOptions::new().depends_on(&role),
        )
        .unwrap();
    e.up(&st).await;
    assert_eq!(our_domains(&os).await, vec!["vpc-logs".to_string()]);
    assert_eq!(
        e.outputs(&dom)["endpoint"],
        json!("vpc-logs.us-east-1.es.amazonaws.com")
    );
    let fired = e.aws_like_fired().get("slr").copied().unwrap_or(0);
    assert!(
        fired > refused,
        "the new role was still propagating: {fired}"
    );
}

// S6 (create): AWS can report a new domain with Processing false before it
// has an endpoint; the create waits for both, as Terraform does, so the
// `endpoint` output is never null.
#[tokio::test]
async fn domain_create_waits_for_the_endpoint() {
    use aws_sdk_opensearch::operation::create_domain::CreateDomainOutput;
    use aws_sdk_opensearch::operation::describe_domain::DescribeDomainOutput;
    use aws_sdk_opensearch::operation::list_tags::ListTagsOutput;
    use aws_sdk_opensearch::types::DomainStatus;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let status = |endpoint: bool| {
        let b = DomainStatus::builder()
            .domain_id("123456789012/logs")
            .domain_name("logs")
            .arn("arn:aws:es:us-east-1:123456789012:domain/logs")
            .engine_version("OpenSearch_2.11")
            .processing(false);
        let b = if endpoint {
            b.endpoint("logs.us-east-1.es.amazonaws.com")
        } else {
            b
        };
        DescribeDomainOutput::builder()
            .domain_status(b.build().unwrap())
            .build()
    };
    let create = mock!(aws_sdk_opensearch::Client::create_domain)
        .then_output(|| CreateDomainOutput::builder().build());
    let describe = mock!(aws_sdk_opensearch::Client::describe_domain)
        .sequence()
        .output(move || status(false))
        .times(2)
        .output(move || status(true))
        .repeatedly()
        .build();
    let tags = mock!(aws_sdk_opensearch::Client::list_tags)
        .then_output(|| ListTagsOutput::builder().build());
    let client = mock_client!(
        aws_sdk_opensearch,
        RuleMode::MatchAny,
        [&create, &describe, &tags]
    );
    let reg = registry(Arc::new(Aws::new(settings()).with_opensearch(client)));
    let p = reg.get(Domain::TYPE).unwrap();
    let urn = morket_stack::model::Urn::new(STACK, "", Domain::TYPE, "d");
    let made = p
        .create(
            &ctx(&urn),
            &serde_json::to_value(Domain::new("logs")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(made.id, "logs");
    assert_eq!(
        made.outputs["endpoint"],
        json!("logs.us-east-1.es.amazonaws.com")
    );
    assert!(describe.num_calls() >= 3, "{}", describe.num_calls());
}

/// Published logs under the AWS-like peer: two log groups, the resource
/// policy that admits OpenSearch to them (put moments before, so OpenSearch
/// first refuses the domain, as AWS does while the policy propagates; the
/// create is retried), the domain publishing both. Read back with no change;
/// the audit log taken out is left disabled in AWS, as OpenSearch keeps it;
/// audit logs without fine-grained access control are refused before any
/// call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_publishes_logs_through_a_log_resource_policy() {
    use morket_stack::provider::aws::logs::log_group::LogGroup;
    use morket_stack::provider::aws::logs::resource_policy::ResourcePolicy;
    use morket_stack::provider::aws::opensearch::domain::LogPublishing;

    let mut e = Env::aws_like(settings()).await;
    let os = aws_sdk_opensearch::Client::new(&e.conf);
    let stack = |types: &[&str]| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut d = domain();
        let mut arns = Vec::new();
        for t in ["application", "audit"] {
            let g = root
                .resource(
                    &format!("{t}-logs"),
                    LogGroup::new(&format!("/aws/opensearch/logs/{t}")),
                )
                .unwrap();
            arns.push(Input::from(g.arn()));
        }
        let doc = Input::interpolate(
            &json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "es.amazonaws.com"},
                    "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                    "Resource": ["{a}:*", "{b}:*"],
                }],
            })
            .to_string(),
            &[("a", arns[0].clone()), ("b", arns[1].clone())],
        );
        let policy = root
            .resource(
                "log-policy",
                ResourcePolicy::new("logs-staging-opensearch", doc),
            )
            .unwrap();
        for (t, arn) in [("ES_APPLICATION_LOGS", &arns[0]), ("AUDIT_LOGS", &arns[1])] {
            if types.contains(&t) {
                d.log_publishing_options.push(LogPublishing {
                    log_type: t.into(),
                    cloudwatch_log_group_arn: arn.clone(),
                    enabled: true,
                });
            }
        }
        d.advanced_security_options = AdvancedSecurityOptions {
            enabled: true,
            internal_user_database_enabled: true,
            master_user_name: Some("admin".into()),
            master_user_password: Some(Input::secret("Str0ng-Passw0rd!")),
        };
        let r = root
            .resource_with("search", d, ResourceOptions::new().depends_on(&policy))
            .unwrap();
        (st, r)
    };
    let published = |os: &aws_sdk_opensearch::Client| {
        let os = os.clone();
        async move {
            let d = os
                .describe_domain()
                .domain_name("logs-staging")
                .send()
                .await
                .unwrap()
                .domain_status
                .unwrap();
            let mut v: Vec<(String, bool, String)> = d
                .log_publishing_options()
                .into_iter()
                .flatten()
                .map(|(t, o)| {
                    (
                        t.as_str().to_string(),
                        o.enabled().unwrap_or(false),
                        o.cloud_watch_logs_log_group_arn()
                            .unwrap_or_default()
                            .rsplit(':')
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        }
    };

    let (s1, r) = stack(&["ES_APPLICATION_LOGS", "AUDIT_LOGS"]);
    e.up_stable(&s1).await;
    assert_eq!(
        published(&os).await,
        vec![
            (
                "AUDIT_LOGS".into(),
                true,
                "/aws/opensearch/logs/audit".into()
            ),
            (
                "ES_APPLICATION_LOGS".into(),
                true,
                "/aws/opensearch/logs/application".into()
            ),
        ]
    );
    let fired = e.moto.aws_like_fired();
    assert!(
        fired["fired"]["iam"]["CreateDomain"].as_u64().unwrap_or(0) > 0,
        "{fired}"
    );

    let (s2, _) = stack(&["ES_APPLICATION_LOGS"]);
    let plan = e.up_stable(&s2).await;
    assert_eq!(
        support::aws::step(&plan, &r).changed,
        vec!["log_publishing_options"]
    );
    assert_eq!(
        published(&os).await,
        vec![
            (
                "AUDIT_LOGS".into(),
                false,
                "/aws/opensearch/logs/audit".into()
            ),
            (
                "ES_APPLICATION_LOGS".into(),
                true,
                "/aws/opensearch/logs/application".into()
            ),
        ]
    );

    let mut d = domain();
    d.log_publishing_options.push(LogPublishing {
        log_type: "AUDIT_LOGS".into(),
        cloudwatch_log_group_arn: "arn:aws:logs:us-east-1:123456789012:log-group:audit".into(),
        enabled: true,
    });
    let msg = support::aws::preview_error(&mut offline_engine(settings()), d).await;
    assert!(
        msg.contains("log_publishing_options[0].log_type") && msg.contains("AUDIT_LOGS"),
        "{msg}"
    );
    // DescribeLogGroups' form of the ARN would read back as a change for ever.
    let mut d = domain();
    d.log_publishing_options.push(LogPublishing {
        log_type: "ES_APPLICATION_LOGS".into(),
        cloudwatch_log_group_arn: "arn:aws:logs:us-east-1:123456789012:log-group:app:*".into(),
        enabled: true,
    });
    let msg = support::aws::preview_error(&mut offline_engine(settings()), d).await;
    assert!(
        msg.contains("log_publishing_options[0].cloudwatch_log_group_arn")
            && msg.contains("log-group:app:*"),
        "{msg}"
    );
}
