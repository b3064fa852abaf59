//! The observability types through the engine against moto: aws:sns/Topic
//! and TopicSubscription, aws:cloudwatch/MetricAlarm (one metric and metric
//! math) and Dashboard (typed widgets), aws:logs/MetricFilter. Each: create
//! and the properties as AWS stores them, in-place updates, a force-new
//! replacement, out-of-band drift read, no-op preview, destroy; validation
//! before any call; an interrupted create found again, and someone else's
//! object of the same name refused.

mod support;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use morket_stack::model::{HasUrn, Input, ResourceArgs, Stack, Urn};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::cloudwatch::dashboard::{
    Dashboard, MetricLine, MetricWidget, Widget,
};
use morket_stack::provider::aws::cloudwatch::metric_alarm::{
    MetricAlarm, MetricQuery, QueryMetric,
};
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::logs::metric_filter::MetricFilter;
use morket_stack::provider::aws::sns::topic::Topic;
use morket_stack::provider::aws::sns::topic_subscription::TopicSubscription;
use morket_stack::state::StateStore;
use serde_json::{json, Value};
use support::aws::{self as shared, offline_engine, settings, step, tag_urn, STACK};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

struct Env {
    h: shared::Env,
    sns: aws_sdk_sns::Client,
    cw: aws_sdk_cloudwatch::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
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
        sns: aws_sdk_sns::Client::new(&h.conf),
        cw: aws_sdk_cloudwatch::Client::new(&h.conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&h.conf),
        h,
    }
}

async fn preview_error(d: impl ResourceArgs) -> String {
    shared::preview_error(&mut offline_engine(settings()), d).await
}

fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}")
}

impl Env {
    async fn topic_attrs(&self, arn: &str) -> Option<BTreeMap<String, String>> {
        self.sns
            .get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
            .ok()
            .map(|o| {
                o.attributes()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect()
            })
    }

    async fn topics(&self) -> Vec<String> {
        self.sns
            .list_topics()
            .send()
            .await
            .unwrap()
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn().map(str::to_string))
            .collect()
    }

    async fn topic_tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.sns
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

    async fn subscriptions(&self) -> Vec<aws_sdk_sns::types::Subscription> {
        self.sns
            .list_subscriptions()
            .send()
            .await
            .unwrap()
            .subscriptions()
            .to_vec()
    }

    async fn alarm(&self, name: &str) -> Option<aws_sdk_cloudwatch::types::MetricAlarm> {
        self.cw
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap()
            .metric_alarms()
            .first()
            .cloned()
    }

    async fn alarm_names(&self) -> Vec<String> {
        self.cw
            .describe_alarms()
            .send()
            .await
            .unwrap()
            .metric_alarms()
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_string))
            .collect()
    }

    async fn alarm_tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.cw
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect()
    }

    /// The dashboard body, parsed; `None` when there is no such dashboard.
    async fn dashboard(&self, name: &str) -> Option<Value> {
        self.cw
            .get_dashboard()
            .dashboard_name(name)
            .send()
            .await
            .ok()
            .map(|o| serde_json::from_str(o.dashboard_body().unwrap()).unwrap())
    }

    async fn filters(&self, group: &str) -> Vec<aws_sdk_cloudwatchlogs::types::MetricFilter> {
        self.logs
            .describe_metric_filters()
            .log_group_name(group)
            .send()
            .await
            .unwrap()
            .metric_filters()
            .to_vec()
    }
}

fn dims(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> BTreeMap<String, String> {
    a.dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap().to_string(),
                d.value().unwrap().to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- SNS

fn sns_stack(t: &Topic, email: &str) -> (Stack, Urn, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let topic = root.resource("alarms", t.clone()).unwrap();
    let sub = root
        .resource("oncall", TopicSubscription::email(topic.arn(), email))
        .unwrap();
    let (tu, su) = (topic.urn().clone(), sub.urn().clone());
    (st, tu, su)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_and_email_subscription() {
    let mut e = env().await;
    let mut t = Topic::new("morket-staging-alarms");
    t.display_name = Some("Morket alarms".into());
    t.tags.insert("Name".into(), "alarms".into());

    let (s1, tu, su) = sns_stack(&t, "oncall@morket.io");
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 2);
    let arn = topic_arn("morket-staging-alarms");
    assert_eq!(e.outputs(&tu)["arn"], arn);
    assert_eq!(e.outputs(&tu)["name"], "morket-staging-alarms");
    assert_eq!(e.id(&tu), arn);
    let a = e.topic_attrs(&arn).await.expect("topic");
    assert_eq!(a["DisplayName"], "Morket alarms");
    let tags = e.topic_tags(&arn).await;
    assert_eq!(tags["Name"], "alarms");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), tu.as_str());
    // The email subscription: its (pending) ARN kept, not waited for.
    let subs = e.subscriptions().await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].protocol(), Some("email"));
    assert_eq!(subs[0].endpoint(), Some("oncall@morket.io"));
    assert_eq!(subs[0].topic_arn(), Some(arn.as_str()));
    let sub_arn = e.id(&su);
    assert!(sub_arn.starts_with(&format!("{arn}:")), "{sub_arn}");
    assert_eq!(e.outputs(&su)["arn"], sub_arn);
    assert!(e.outputs(&su)["pending_confirmation"].is_boolean());

    // In place: display name, KMS key, tags.
    t.display_name = Some("Morket staging alarms".into());
    t.kms_master_key_id = Some("alias/aws/sns".into());
    t.tags.insert("Team".into(), "ops".into());
    let plan = e.up_stable(&sns_stack(&t, "oncall@morket.io").0).await;
    assert_eq!(step(&plan, &tu).action, Action::Update);
    assert_eq!(
        step(&plan, &tu).changed,
        vec!["display_name", "kms_master_key_id", "tags"]
    );
    assert!(
        plan.steps.iter().all(|s| s.urn != su),
        "subscription unchanged"
    );
    let a = e.topic_attrs(&arn).await.unwrap();
    assert_eq!(a["DisplayName"], "Morket staging alarms");
    assert_eq!(a["KmsMasterKeyId"], "alias/aws/sns");
    assert_eq!(e.topic_tags(&arn).await["Team"], "ops");
    t.kms_master_key_id = None;
    let plan = e.up_stable(&sns_stack(&t, "oncall@morket.io").0).await;
    assert_eq!(step(&plan, &tu).changed, vec!["kms_master_key_id"]);
    assert!(e
        .topic_attrs(&arn)
        .await
        .unwrap()
        .get("KmsMasterKeyId")
        .is_none_or(|k| k.is_empty()));

    // Drift: the display name changed by hand shows on read.
    e.sns
        .set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("DisplayName")
        .attribute_value("by hand")
        .send()
        .await
        .unwrap();
    let read = e.read(&tu).await.expect("live");
    assert_eq!(read["display_name"], "by hand");
    assert_eq!(read["tags"], json!({"Name": "alarms", "Team": "ops"}));
    let d = e
        .reg
        .get(Topic::TYPE)
        .unwrap()
        .diff(&read, &serde_json::to_value(&t).unwrap());
    assert_eq!(d.changed, vec!["display_name"]);

    // A new endpoint replaces the subscription.
    let (s2, _, _) = sns_stack(&t, "ops@morket.io");
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &su).action, Action::Replace);
    assert_eq!(step(&plan, &su).replace_fields, vec!["endpoint"]);
    let subs = e.subscriptions().await;
    let endpoints: Vec<_> = subs.iter().filter_map(|s| s.endpoint()).collect();
    assert!(endpoints.contains(&"ops@morket.io"), "{subs:?}");

    // A new topic name replaces the topic, and the subscription follows it.
    t.name = "morket-staging-alarms-2".into();
    let (s3, _, _) = sns_stack(&t, "ops@morket.io");
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &tu).action, Action::Replace);
    assert_eq!(step(&plan, &tu).replace_fields, vec!["name"]);
    assert_eq!(step(&plan, &su).action, Action::Replace);
    assert_eq!(e.topics().await, vec![topic_arn("morket-staging-alarms-2")]);

    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.topics().await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- alarms

fn cpu_alarm(topic: Input<String>) -> MetricAlarm {
    let mut a = MetricAlarm::on_metric(
        "morket-staging-backend-cpu",
        "AWS/ECS",
        "CPUUtilization",
        "Average",
        300,
        "GreaterThanThreshold",
        80.0,
    );
    a.alarm_description = Some("backend CPU above 80%".into());
    a.dimensions
        .insert("ClusterName".into(), "morket-staging".into());
    a.dimensions.insert("ServiceName".into(), "backend".into());
    a.evaluation_periods = 2;
    a.alarm_actions = vec![topic.clone()];
    a.ok_actions = vec![topic];
    a.tags.insert("Name".into(), "backend-cpu".into());
    a
}

fn alarm_stack(a: impl FnOnce(Input<String>) -> MetricAlarm) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let topic = root
        .resource("alarms", Topic::new("morket-alarms"))
        .unwrap();
    let u = root
        .resource("cpu", a(topic.arn().into()))
        .unwrap()
        .urn()
        .clone();
    (st, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_on_a_metric_lifecycle() {
    let mut e = env().await;
    let topic = topic_arn("morket-alarms");
    let name = "morket-staging-backend-cpu";
    let (s1, u) = alarm_stack(cpu_alarm);
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 2);
    let a = e.alarm(name).await.expect("alarm");
    assert_eq!(a.namespace(), Some("AWS/ECS"));
    assert_eq!(a.metric_name(), Some("CPUUtilization"));
    assert_eq!(
        dims(&a),
        BTreeMap::from([
            ("ClusterName".to_string(), "morket-staging".to_string()),
            ("ServiceName".to_string(), "backend".to_string()),
        ])
    );
    assert_eq!(a.statistic().map(|s| s.as_str()), Some("Average"));
    assert_eq!(a.threshold(), Some(80.0));
    assert_eq!(
        a.comparison_operator().map(|c| c.as_str()),
        Some("GreaterThanThreshold")
    );
    assert_eq!(a.period(), Some(300));
    assert_eq!(a.evaluation_periods(), Some(2));
    assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic));
    assert_eq!(a.ok_actions(), std::slice::from_ref(&topic));
    assert_eq!(a.alarm_description(), Some("backend CPU above 80%"));
    assert_eq!(a.treat_missing_data(), Some("missing"));
    let arn = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}");
    assert_eq!(a.alarm_arn(), Some(arn.as_str()));
    assert_eq!(e.outputs(&u)["arn"], arn);
    assert_eq!(e.id(&u), name);
    let tags = e.alarm_tags(&arn).await;
    assert_eq!(tags["Name"], "backend-cpu");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), u.as_str());

    // In place: everything but the name, through PutMetricAlarm again.
    let changed = |t: Input<String>| {
        let mut a = cpu_alarm(t);
        a.threshold = 85.0;
        a.evaluation_periods = 3;
        a.datapoints_to_alarm = Some(2);
        a.statistic = Some("Maximum".into());
        a.period = Some(60);
        a.treat_missing_data = "breaching".into();
        a.ok_actions = Vec::new();
        a.dimensions.insert("ServiceName".into(), "scraper".into());
        a.tags.insert("Team".into(), "ops".into());
        a
    };
    let (s2, _) = alarm_stack(changed);
    let plan = e.up_stable(&s2).await;
    let st2 = step(&plan, &u);
    assert_eq!(st2.action, Action::Update);
    assert_eq!(
        st2.changed,
        vec![
            "datapoints_to_alarm",
            "dimensions",
            "evaluation_periods",
            "ok_actions",
            "period",
            "statistic",
            "tags",
            "threshold",
            "treat_missing_data"
        ]
    );
    let a = e.alarm(name).await.unwrap();
    assert_eq!(a.threshold(), Some(85.0));
    assert_eq!(a.evaluation_periods(), Some(3));
    assert_eq!(a.datapoints_to_alarm(), Some(2));
    assert_eq!(a.statistic().map(|s| s.as_str()), Some("Maximum"));
    assert_eq!(a.period(), Some(60));
    assert_eq!(a.treat_missing_data(), Some("breaching"));
    assert!(a.ok_actions().is_empty());
    assert_eq!(dims(&a)["ServiceName"], "scraper");
    assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic));
    assert_eq!(e.alarm_tags(&arn).await["Team"], "ops");
    assert_eq!(e.alarm_names().await, vec![name], "updated, not replaced");

    // Drift: the threshold changed with the SDK shows on read and in the diff.
    e.cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ECS")
        .metric_name("CPUUtilization")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("ClusterName")
                .value("morket-staging")
                .build(),
        )
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("ServiceName")
                .value("scraper")
                .build(),
        )
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(3)
        .datapoints_to_alarm(2)
        .threshold(95.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("breaching")
        .alarm_description("backend CPU above 80%")
        .alarm_actions(&topic)
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert_eq!(read["threshold"], 95.0);
    let mut declared = s2.get(&u).unwrap().inputs.clone();
    declared["alarm_actions"] = json!([topic]);
    let d = e.reg.get(MetricAlarm::TYPE).unwrap().diff(&read, &declared);
    assert_eq!(d.changed, vec!["threshold"]);

    // Force-new: a new name replaces the alarm.
    let renamed = |t: Input<String>| MetricAlarm {
        alarm_name: "morket-staging-backend-cpu-2".into(),
        ..changed(t)
    };
    let (s3, _) = alarm_stack(renamed);
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert_eq!(step(&plan, &u).replace_fields, vec!["alarm_name"]);
    assert_eq!(e.alarm_names().await, vec!["morket-staging-backend-cpu-2"]);

    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.alarm_names().await.is_empty());
    assert!(e.topics().await.is_empty());
}

/// The ALB 5xx rate (R16.2: above 5% over 5 minutes) as metric math.
fn rate_alarm(topic: Input<String>) -> MetricAlarm {
    let lb = "app/morket-staging/0123456789abcdef";
    let mut a = MetricAlarm::on_queries(
        "morket-staging-alb-5xx-rate",
        vec![
            MetricQuery::metric(
                "errors",
                QueryMetric::new("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", 300)
                    .dimension("LoadBalancer", lb),
            ),
            MetricQuery::metric(
                "requests",
                QueryMetric::new("AWS/ApplicationELB", "RequestCount", "Sum", 300)
                    .dimension("LoadBalancer", lb),
            ),
            MetricQuery::expression("rate", "100 * errors / requests", "5xx rate (%)"),
        ],
        "GreaterThanThreshold",
        5.0,
    );
    a.treat_missing_data = "notBreaching".into();
    a.alarm_actions = vec![topic];
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_math_5xx_rate_alarm() {
    let mut e = env().await;
    let (s1, u) = alarm_stack(rate_alarm);
    e.up_stable(&s1).await;
    let a = e.alarm("morket-staging-alb-5xx-rate").await.expect("alarm");
    assert_eq!(a.metric_name(), None);
    assert_eq!(a.namespace(), None);
    assert_eq!(a.threshold(), Some(5.0));
    assert_eq!(a.treat_missing_data(), Some("notBreaching"));
    let mut q: Vec<_> = a.metrics().to_vec();
    q.sort_by_key(|q| q.id().unwrap().to_string());
    let ids: Vec<_> = q.iter().map(|q| q.id().unwrap()).collect();
    assert_eq!(ids, vec!["errors", "rate", "requests"]);
    assert_eq!(q[1].expression(), Some("100 * errors / requests"));
    assert_eq!(q[1].label(), Some("5xx rate (%)"));
    assert_eq!(q[1].return_data(), Some(true));
    for (m, metric) in [(&q[0], "HTTPCode_ELB_5XX_Count"), (&q[2], "RequestCount")] {
        assert_eq!(m.return_data(), Some(false));
        let s = m.metric_stat().unwrap();
        assert_eq!(s.stat(), Some("Sum"));
        assert_eq!(s.period(), Some(300));
        let mm = s.metric().unwrap();
        assert_eq!(mm.namespace(), Some("AWS/ApplicationELB"));
        assert_eq!(mm.metric_name(), Some(metric));
        assert_eq!(mm.dimensions()[0].name(), Some("LoadBalancer"));
        assert_eq!(
            mm.dimensions()[0].value(),
            Some("app/morket-staging/0123456789abcdef")
        );
    }
    // The read equals the declaration (queries in AWS's order or ours).
    let read = e.read(&u).await.unwrap();
    let declared = e.st.resource(&u).unwrap().unwrap().inputs;
    assert!(
        e.reg
            .get(MetricAlarm::TYPE)
            .unwrap()
            .diff(&read, &declared)
            .is_empty(),
        "{read:#}"
    );

    // The expression changes in place.
    let changed = |t: Input<String>| {
        let mut a = rate_alarm(t);
        a.metric_query[2].expression = Some("100 * errors / MAX([requests, 1])".into());
        a
    };
    let plan = e.up_stable(&alarm_stack(changed).0).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(step(&plan, &u).changed, vec!["metric_query"]);
    let a = e.alarm("morket-staging-alb-5xx-rate").await.unwrap();
    assert!(a
        .metrics()
        .iter()
        .any(|q| q.expression() == Some("100 * errors / MAX([requests, 1])")));
}

// ---------------------------------------------------------------- dashboard

/// A dashboard whose widgets hold another resource's outputs: the topic's
/// name as a dimension value (as the ALB's ARN suffix would be) and an
/// alarm's ARN.
fn dash_stack(title: &str, name: &str) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let topic = root
        .resource("alarms", Topic::new("morket-alarms"))
        .unwrap();
    let alarm = root.resource("cpu", cpu_alarm(topic.arn().into())).unwrap();
    let d = Dashboard::new(
        name,
        vec![
            Widget::text(
                0,
                0,
                24,
                2,
                Input::interpolate("# Morket staging ({t})", &[("t", topic.name().into())]),
            ),
            Widget::metric(
                0,
                2,
                12,
                6,
                MetricWidget::new(
                    title,
                    REGION,
                    vec![
                        MetricLine::metric("AWS/SNS", "NumberOfMessagesPublished")
                            .dimension("TopicName", topic.name())
                            .with(|o| {
                                o.id = Some("published".into());
                                o.stat = Some("Sum".into());
                            }),
                        MetricLine::metric("AWS/SNS", "NumberOfNotificationsFailed")
                            .dimension("TopicName", topic.name())
                            .with(|o| {
                                o.id = Some("failed".into());
                                o.stat = Some("Sum".into());
                                o.visible = Some(false);
                            }),
                        MetricLine::expression("100 * failed / published", "failure rate", "rate"),
                    ],
                ),
            ),
            Widget::alarms(12, 2, 12, 6, "Alarms", vec![alarm.arn().into()]),
        ],
    );
    let u = root.resource("main", d).unwrap().urn().clone();
    (st, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_from_typed_widgets() {
    let mut e = env().await;
    let (s1, u) = dash_stack("SNS", "morket-staging");
    // Before the topic exists the body is unknown; the preview still plans it.
    let p = e.eng.preview(&s1, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&p, &u).action, Action::Create);
    e.up_stable(&s1).await;

    let alarm_arn =
        format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:morket-staging-backend-cpu");
    let want = json!({"widgets": [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
         "properties": {"markdown": "# Morket staging (morket-alarms)"}},
        {"type": "metric", "x": 0, "y": 2, "width": 12, "height": 6,
         "properties": {"title": "SNS", "region": REGION, "metrics": [
            ["AWS/SNS", "NumberOfMessagesPublished", "TopicName", "morket-alarms",
             {"id": "published", "stat": "Sum"}],
            ["AWS/SNS", "NumberOfNotificationsFailed", "TopicName", "morket-alarms",
             {"id": "failed", "stat": "Sum", "visible": false}],
            [{"expression": "100 * failed / published", "label": "failure rate", "id": "rate"}]]}},
        {"type": "alarm", "x": 12, "y": 2, "width": 12, "height": 6,
         "properties": {"title": "Alarms", "alarms": [alarm_arn]}},
    ]});
    assert_eq!(
        e.dashboard("morket-staging").await.expect("dashboard"),
        want
    );
    assert_eq!(
        e.outputs(&u)["dashboard_arn"],
        format!("arn:aws:cloudwatch::{ACCOUNT}:dashboard/morket-staging")
    );

    // The body changes in place.
    let (s2, _) = dash_stack("SNS deliveries", "morket-staging");
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(step(&plan, &u).changed, vec!["widgets"]);
    let body = e.dashboard("morket-staging").await.unwrap();
    assert_eq!(body["widgets"][1]["properties"]["title"], "SNS deliveries");

    // Drift: a widget edited in the console shows on read, as JSON.
    let mut edited = body.clone();
    edited["widgets"][1]["properties"]["yAxis"] = json!({"left": {"min": 0}});
    e.cw.put_dashboard()
        .dashboard_name("morket-staging")
        .dashboard_body(edited.to_string())
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert_eq!(read["widgets"][1], edited["widgets"][1]);
    let declared = e.st.resource(&u).unwrap().unwrap().inputs;
    assert_eq!(
        e.reg
            .get(Dashboard::TYPE)
            .unwrap()
            .diff(&read, &declared)
            .changed,
        vec!["widgets"]
    );

    // Force-new: a new name replaces the dashboard.
    let (s3, _) = dash_stack("SNS deliveries", "morket-staging-2");
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert!(e.dashboard("morket-staging").await.is_none());
    assert!(e.dashboard("morket-staging-2").await.is_some());

    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.dashboard("morket-staging-2").await.is_none());
}

// ---------------------------------------------------------------- metric filter

fn filter_stack(pattern: &str, filter_name: &str) -> (Stack, Urn, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let mut g = LogGroup::new("/morket/staging/backend");
    g.retention_in_days = Some(30);
    let group = root.resource("backend", g).unwrap();
    let f = root
        .resource(
            "backend-errors",
            MetricFilter::count(
                filter_name,
                group.name(),
                pattern,
                "Morket/staging",
                "BackendErrors",
            ),
        )
        .unwrap();
    // R16.6: more than 10 ERROR entries a minute.
    let mut a = MetricAlarm::on_metric(
        "morket-staging-backend-errors",
        "Morket/staging",
        "BackendErrors",
        "Sum",
        60,
        "GreaterThanThreshold",
        10.0,
    );
    a.treat_missing_data = "notBreaching".into();
    let a = root.resource("backend-errors", a).unwrap();
    let (fu, au) = (f.urn().clone(), a.urn().clone());
    (st, fu, au)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_metric_filter_and_its_alarm() {
    let mut e = env().await;
    let group = "/morket/staging/backend";
    let (s1, fu, au) = filter_stack("ERROR", "backend-errors");
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 3);
    let f = e.filters(group).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].filter_name(), Some("backend-errors"));
    assert_eq!(f[0].filter_pattern(), Some("ERROR"));
    let t = &f[0].metric_transformations()[0];
    assert_eq!(t.metric_name(), "BackendErrors");
    assert_eq!(t.metric_namespace(), "Morket/staging");
    assert_eq!(t.metric_value(), "1");
    assert_eq!(t.default_value(), Some(0.0));
    assert_eq!(e.id(&fu), format!("{group}:backend-errors"));
    assert_eq!(e.outputs(&fu)["metric_name"], "BackendErrors");
    assert_eq!(e.outputs(&fu)["metric_namespace"], "Morket/staging");
    let a = e.alarm("morket-staging-backend-errors").await.unwrap();
    assert_eq!(a.namespace(), Some("Morket/staging"));
    assert_eq!(a.metric_name(), Some("BackendErrors"));
    assert_eq!(a.statistic().map(|s| s.as_str()), Some("Sum"));
    assert_eq!(a.period(), Some(60));
    assert_eq!(a.threshold(), Some(10.0));
    assert_eq!(e.outputs(&au)["arn"], a.alarm_arn().unwrap());

    // Drift: the filter deleted by hand reads as gone.
    e.logs
        .delete_metric_filter()
        .log_group_name(group)
        .filter_name("backend-errors")
        .send()
        .await
        .unwrap();
    assert!(e.read(&fu).await.is_none());

    // Force-new: a new name makes a new filter (the old one is gone already).
    let (s2, _, _) = filter_stack("ERROR", "backend-error-count");
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &fu).action, Action::Replace);
    assert_eq!(step(&plan, &fu).replace_fields, vec!["name"]);
    let f = e.filters(group).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].filter_name(), Some("backend-error-count"));
    assert_eq!(e.id(&fu), format!("{group}:backend-error-count"));

    // The pattern changes in place: PutMetricFilter again, no delete. moto
    // 5.2.5 keeps the old filter beside the new one (AWS replaces it; the
    // mocked test below shows the calls): the newest one moto lists is ours.
    let json_pattern = "{ $.level = \"ERROR\" }";
    let (s3, _, _) = filter_stack(json_pattern, "backend-error-count");
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &fu).action, Action::Update);
    assert_eq!(step(&plan, &fu).changed, vec!["pattern"]);
    let f = e.filters(group).await;
    assert_eq!(f.last().unwrap().filter_pattern(), Some(json_pattern));
    assert_eq!(e.read(&fu).await.unwrap()["pattern"], json_pattern);

    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.alarm_names().await.is_empty());
    assert!(e
        .logs
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
        .is_empty());
}

/// Not against moto (a second PutMetricFilter adds a copy there): an update
/// is one PutMetricFilter with the new pattern and transformation, and no
/// delete, so the metric has no gap.
#[tokio::test]
async fn metric_filter_update_is_one_put() {
    use aws_sdk_cloudwatchlogs::operation::describe_metric_filters::DescribeMetricFiltersOutput;
    use aws_sdk_cloudwatchlogs::operation::put_metric_filter::PutMetricFilterOutput;
    use aws_sdk_cloudwatchlogs::types::{MetricFilter as CwFilter, MetricTransformation};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::sync::{Arc, Mutex};

    let puts = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let p = puts.clone();
    let put =
        mock!(aws_sdk_cloudwatchlogs::Client::put_metric_filter).then_compute_output(move |r| {
            p.lock().unwrap().push((
                r.filter_pattern().unwrap_or_default().to_string(),
                r.metric_transformations()[0].metric_value().to_string(),
            ));
            PutMetricFilterOutput::builder().build()
        });
    let p = puts.clone();
    let describe = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_compute_output(move |_| {
            let (pattern, value) = p.lock().unwrap().last().cloned().unwrap();
            DescribeMetricFiltersOutput::builder()
                .metric_filters(
                    CwFilter::builder()
                        .filter_name("errors")
                        .log_group_name("/morket/app")
                        .filter_pattern(pattern)
                        .metric_transformations(
                            MetricTransformation::builder()
                                .metric_name("Errors")
                                .metric_namespace("Morket")
                                .metric_value(value)
                                .default_value(0.0)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
        });
    let deletes = mock!(aws_sdk_cloudwatchlogs::Client::delete_metric_filter)
        .then_output(|| aws_sdk_cloudwatchlogs::operation::delete_metric_filter::DeleteMetricFilterOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        &[&put, &describe, &deletes]
    );
    let aws = morket_stack::provider::aws::Aws::new(settings()).with_logs(client);
    let reg = shared::registry(Arc::new(aws));
    let old = MetricFilter::count("errors", "/morket/app", "ERROR", "Morket", "Errors");
    let mut new = old.clone();
    new.pattern = "{ $.level = \"ERROR\" }".into();
    new.metric_transformation.value = "2".into();
    puts.lock().unwrap().push(("ERROR".into(), "1".into()));
    let u = Urn::new(STACK, "", MetricFilter::TYPE, "errors");
    let out = reg
        .get(MetricFilter::TYPE)
        .unwrap()
        .update(
            &shared::ctx(&u),
            "/morket/app:errors",
            &serde_json::to_value(&old).unwrap(),
            &serde_json::to_value(&new).unwrap(),
            &Value::Null,
        )
        .await
        .unwrap();
    assert_eq!(out["id"], "/morket/app:errors");
    assert_eq!(
        puts.lock().unwrap()[1..],
        [("{ $.level = \"ERROR\" }".to_string(), "2".to_string())]
    );
    assert_eq!(deletes.num_calls(), 0);
}

/// How many requests of `op` the peer received since it was last cleared.
fn sent(e: &Env, op: &str) -> usize {
    e.moto
        .requests()
        .iter()
        .filter(|q| q.operation == op)
        .count()
}

/// `Provider::read_many` reads many alarms with one `DescribeAlarms` per 100
/// names (the tags stay one `ListTagsForResource` per alarm: that API takes
/// one ARN): each as its single read, `None` for a name that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_are_read_many_at_once() {
    use morket_stack::provider::ReadItem;
    let mut e = env().await;
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let topic = root
        .resource("alarms", Topic::new("morket-alarms"))
        .unwrap();
    let cpu = root.resource("cpu", cpu_alarm(topic.arn().into())).unwrap();
    let rate = root
        .resource("rate", rate_alarm(topic.arn().into()))
        .unwrap();
    let mut m = MetricAlarm::on_metric(
        "morket-staging-memory",
        "AWS/ECS",
        "MemoryUtilization",
        "Maximum",
        60,
        "GreaterThanOrEqualToThreshold",
        90.0,
    );
    m.treat_missing_data = "breaching".into();
    let mem = root.resource("mem", m).unwrap();
    e.up(&st).await;

    let urns = [cpu.urn().clone(), rate.urn().clone(), mem.urn().clone()];
    let item = |u: &Urn, id: &str| {
        let rec = e.st.resource(u).unwrap().unwrap();
        ReadItem {
            ctx: shared::ctx(u),
            id: id.to_string(),
            inputs: rec.inputs,
            outputs: rec.outputs,
        }
    };
    let mut items: Vec<ReadItem> = urns.iter().map(|u| item(u, &e.id(u))).collect();
    items.push(item(&urns[0], "morket-staging-no-such-alarm"));
    let p = e.reg.get(MetricAlarm::TYPE).unwrap();

    e.moto.clear_requests();
    let mut single = Vec::new();
    for i in &items {
        single.push(p.read(&i.ctx, &i.id, &i.inputs, &i.outputs).await.unwrap());
    }
    assert_eq!(sent(&e, "DescribeAlarms"), 4, "one per alarm read alone");

    e.moto.clear_requests();
    let read = p.read_many(&items).await.unwrap();
    assert_eq!(
        sent(&e, "DescribeAlarms"),
        1,
        "one DescribeAlarms for four names"
    );
    assert_eq!(sent(&e, "ListTagsForResource"), 3, "tags per alarm found");
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
    assert!(read[3].is_none(), "no such alarm");

    // Past 100 names: one DescribeAlarms per 100.
    for n in 0..120 {
        e.cw.put_metric_alarm()
            .alarm_name(format!("bulk-{n:03}"))
            .namespace("Morket")
            .metric_name("Errors")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send()
            .await
            .unwrap();
    }
    let bulk: Vec<ReadItem> = (0..120)
        .map(|n| {
            let name = format!("bulk-{n:03}");
            let mut a = MetricAlarm::on_metric(
                &name,
                "Morket",
                "Errors",
                "Sum",
                60,
                "GreaterThanThreshold",
                1.0,
            );
            a.evaluation_periods = 1;
            ReadItem {
                ctx: shared::ctx(&urns[0]),
                id: name,
                inputs: serde_json::to_value(a).unwrap(),
                outputs: json!({}),
            }
        })
        .collect();
    e.moto.clear_requests();
    let read = p.read_many(&bulk).await.unwrap();
    assert_eq!(sent(&e, "DescribeAlarms"), 2, "120 names: two requests");
    for (i, got) in bulk.iter().zip(&read) {
        let got = got.as_ref().expect("exists");
        assert_eq!(got.inputs["alarm_name"], json!(i.id));
        assert_eq!(got.inputs["metric_name"], json!("Errors"));
        assert_eq!(got.outputs["alarm_name"], json!(i.id));
    }
}

// ---------------------------------------------------------------- adoption

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_found_and_others_refused() {
    let mut e = env().await;
    e.logs
        .create_log_group()
        .log_group_name("/morket/app")
        .send()
        .await
        .unwrap();
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let topic = root.resource("t", Topic::new("morket-adopt")).unwrap();
    let alarm = root
        .resource(
            "a",
            MetricAlarm::on_metric(
                "adopt-cpu",
                "AWS/EC2",
                "CPUUtilization",
                "Average",
                300,
                "GreaterThanThreshold",
                80.0,
            ),
        )
        .unwrap();
    let filter = root
        .resource(
            "f",
            MetricFilter::count("errors", "/morket/app", "ERROR", "Morket", "Errors"),
        )
        .unwrap();
    let dash = root
        .resource(
            "d",
            Dashboard::new("adopt", vec![Widget::text(0, 0, 6, 2, "# adopt")]),
        )
        .unwrap();
    let mut created = Vec::new();
    for u in [topic.urn(), alarm.urn(), filter.urn(), dash.urn()] {
        let inputs = st.get(u).unwrap().inputs.clone();
        created.push((u.clone(), e.interrupted_create(u, &inputs).await.id));
    }
    // The subscription's create, interrupted too (its topic now known).
    let mut st2 = st.clone();
    let sub = st2
        .root()
        .resource("s", TopicSubscription::email(topic.arn(), "ops@morket.io"))
        .unwrap();
    let sub_inputs = json!({"topic_arn": topic_arn("morket-adopt"), "protocol": "email",
        "endpoint": "ops@morket.io", "raw_message_delivery": false});
    let _ = e.interrupted_create(sub.urn(), &sub_inputs).await;

    let plan = e.up_stable(&st2).await;
    assert_eq!(
        plan.counts().create,
        0,
        "adopted, not created again: {:?}",
        plan.steps
    );
    for (u, id) in &created {
        assert_eq!(&e.id(u), id, "{u}");
    }
    assert!(e.st.pending().unwrap().is_empty());
    assert_eq!(e.topics().await.len(), 1);
    assert_eq!(e.alarm_names().await.len(), 1);
    assert_eq!(e.filters("/morket/app").await.len(), 1);
    assert_eq!(e.subscriptions().await.len(), 1);

    // The same names, made by someone else, under a new stack: refused, and
    // the other objects are left as they were.
    let (_, report) = e.h.eng.destroy(&st2, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    e.cw.put_metric_alarm()
        .alarm_name("foreign-cpu")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(50.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    e.logs
        .put_metric_filter()
        .log_group_name("/morket/app")
        .filter_name("errors")
        .filter_pattern("WARN")
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name("Warnings")
                .metric_namespace("Other")
                .metric_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    e.cw.put_dashboard()
        .dashboard_name("adopt")
        .dashboard_body(json!({"widgets": []}).to_string())
        .send()
        .await
        .unwrap();
    e.sns
        .create_topic()
        .name("morket-adopt")
        .send()
        .await
        .unwrap();
    // (moto keeps a deleted alarm's tags for the next alarm of that name,
    // so the foreign alarm gets a name ours never had.)
    let mut st4 = Stack::new(STACK).unwrap();
    st4.root()
        .resource(
            "a",
            MetricAlarm::on_metric(
                "foreign-cpu",
                "AWS/EC2",
                "CPUUtilization",
                "Average",
                300,
                "GreaterThanThreshold",
                80.0,
            ),
        )
        .unwrap();
    let err = e.up_failing(&st4).await;
    assert!(
        err.contains("foreign-cpu") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(
        e.alarm("foreign-cpu").await.unwrap().threshold(),
        Some(50.0)
    );
    let err = e.up_failing(&st).await;
    assert!(
        err.contains("errors") && err.contains("another pattern"),
        "{err}"
    );
    assert!(
        err.contains("\"adopt\"") && err.contains("already exists"),
        "{err}"
    );
    assert!(
        err.contains("morket-adopt") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(
        e.filters("/morket/app").await[0].filter_pattern(),
        Some("WARN")
    );
    assert_eq!(e.dashboard("adopt").await.unwrap(), json!({"widgets": []}));
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn validation_names_field_and_value_before_any_call() {
    let t = topic_arn("alarms");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            preview_error(Topic::new("bad.name")).await,
            "name",
            "bad.name",
        ),
        (
            preview_error(TopicSubscription::new(t.as_str(), "pigeon", "x")).await,
            "protocol",
            "pigeon",
        ),
        (
            preview_error(TopicSubscription::email(t.as_str(), "not-an-address")).await,
            "endpoint",
            "not-an-address",
        ),
        (
            preview_error(MetricAlarm {
                comparison_operator: "Above".into(),
                ..cpu_alarm(t.as_str().into())
            })
            .await,
            "comparison_operator",
            "Above",
        ),
        (
            preview_error(MetricAlarm {
                period: Some(90),
                ..cpu_alarm(t.as_str().into())
            })
            .await,
            "period",
            "90",
        ),
        (
            preview_error(MetricAlarm {
                metric_query: rate_alarm(t.as_str().into()).metric_query,
                ..cpu_alarm(t.as_str().into())
            })
            .await,
            "metric_name",
            "metric_query",
        ),
        (
            {
                let mut a = rate_alarm(t.as_str().into());
                a.metric_query[0].return_data = true;
                preview_error(a).await
            },
            "return_data",
            "errors",
        ),
        (
            {
                let mut a = rate_alarm(t.as_str().into());
                a.metric_query[1].id = "Requests".into();
                preview_error(a).await
            },
            "metric_query[1].id",
            "Requests",
        ),
        (
            preview_error(Dashboard::new("d", vec![Widget::text(20, 0, 6, 2, "x")])).await,
            "widgets[0].x",
            "20",
        ),
        (
            preview_error(MetricFilter::count("a:b", "/g", "ERROR", "N", "M")).await,
            "name",
            "a:b",
        ),
        (
            preview_error(MetricFilter::count("f", "/g", "{ $.level = 1", "N", "M")).await,
            "pattern",
            "$.level",
        ),
    ];
    for (e, field, value) in cases {
        assert!(
            e.contains(field) && e.contains(value),
            "{field} {value}: {e}"
        );
    }
}
