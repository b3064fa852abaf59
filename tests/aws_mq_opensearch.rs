//! aws:mq/Broker and aws:opensearch/Domain through the engine against moto:
//! create, update in place, replace, out-of-band drift read, no-op preview,
//! delete, adoption by tag, offline validation, and secrets (a RandomPassword
//! feeding the broker user and the OpenSearch master user) kept out of the plan
//! text and sealed in state. The calls moto cannot show (RebootBroker is a
//! no-op there, UpgradeDomain does not exist) are covered with aws-smithy-mocks.

mod support;

use std::sync::Arc;
use std::time::Duration;

use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
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
        "3.11.20",
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
    assert_eq!(live.engine_version(), Some("3.11.20"));
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

    // Update in place: every updatable field, and the admin password.
    b.engine_version = "3.13".into();
    b.host_instance_type = "mq.m5.xlarge".into();
    b.security_groups = vec!["sg-0123456789abcdef0".into()];
    b.auto_minor_version_upgrade = false;
    b.logs.general = true;
    b.maintenance_window_start_time = Some(MaintenanceWindow {
        day_of_week: "MONDAY".into(),
        time_of_day: "03:00".into(),
        time_zone: "UTC".into(),
    });
    b.users[0].password = Input::secret("Changed-pass-456");
    b.users[0].console_access = true;
    b.tags.insert("Name".into(), "orders-2".into());
    let b2 = b.clone();
    let (s2, _) = net_stack(&["us-east-1a"], move |_| b2);
    let plan = e.up(&s2).await;
    let step = plan.steps.iter().find(|s| s.urn == *r.urn()).unwrap();
    assert_eq!(step.action, Action::Update);
    assert_eq!(
        step.changed,
        vec![
            "auto_minor_version_upgrade",
            "engine_version",
            "host_instance_type",
            "logs",
            "maintenance_window_start_time",
            "security_groups",
            "tags",
            "users"
        ]
    );
    let live = mq.describe_broker().broker_id(&id).send().await.unwrap();
    assert_eq!(live.engine_version(), Some("3.13"));
    assert_eq!(live.host_instance_type(), Some("mq.m5.xlarge"));
    assert_eq!(live.security_groups(), ["sg-0123456789abcdef0"]);
    assert_eq!(live.auto_minor_version_upgrade(), Some(false));
    assert_eq!(live.logs().and_then(|l| l.general()), Some(true));
    assert_eq!(
        live.maintenance_window_start_time()
            .and_then(|w| w.time_of_day()),
        Some("03:00")
    );
    assert_eq!(live.tags().unwrap()["Name"], "orders-2");
    let user = mq
        .describe_user()
        .broker_id(&id)
        .username("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(user.console_access(), Some(true), "UpdateUser was called");
    e.no_changes(&s2).await;

    // Out-of-band change: read returns the live value.
    mq.update_broker()
        .broker_id(&id)
        .host_instance_type("mq.m5.2xlarge")
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
    assert_eq!(read.inputs["host_instance_type"], json!("mq.m5.2xlarge"));
    assert_eq!(read.inputs["tags"], json!({"Name": "orders-2"}));
    assert_eq!(read.inputs["users"][0]["console_access"], json!(true));

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
// whether the provider reboots (and only when a change needs it) is only
// observable on a mocked client.
#[tokio::test]
async fn broker_update_reboots_only_when_the_change_needs_it() {
    use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
    use aws_sdk_mq::operation::reboot_broker::RebootBrokerOutput;
    use aws_sdk_mq::operation::update_broker::UpdateBrokerOutput;
    use aws_sdk_mq::types::BrokerState;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let update = mock!(aws_sdk_mq::Client::update_broker)
        .then_output(|| UpdateBrokerOutput::builder().build());
    let reboot = mock!(aws_sdk_mq::Client::reboot_broker)
        .then_output(|| RebootBrokerOutput::builder().build());
    let describe = mock!(aws_sdk_mq::Client::describe_broker)
        .sequence()
        .output(|| {
            DescribeBrokerOutput::builder()
                .broker_id("b-1")
                .broker_state(BrokerState::RebootInProgress)
                .build()
        })
        .output(|| {
            DescribeBrokerOutput::builder()
                .broker_id("b-1")
                .broker_state(BrokerState::Running)
                .build()
        })
        .repeatedly()
        .build();
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

    // A new instance type is pending until a reboot: reboot, then wait RUNNING.
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
    assert_eq!(out["id"], json!("b-1"));
}

// moto has no UpgradeDomain, so an engine version change runs on a mocked
// client: it must go through UpgradeDomain (not UpdateDomainConfig) and wait
// until UpgradeProcessing is over.
#[tokio::test]
async fn domain_engine_version_change_upgrades_and_waits() {
    use aws_sdk_opensearch::operation::describe_domain::DescribeDomainOutput;
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
    let client = mock_client!(
        aws_sdk_opensearch,
        RuleMode::MatchAny,
        [&upgrade, &config, &describe]
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
    assert!(describe.num_calls() >= 2, "waited for the upgrade");
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
