//! aws:iam/Role, aws:iam/InstanceProfile and aws:logs/LogGroup through the
//! engine against moto: create (tags in the create call), update each
//! updatable field in place, replace, out-of-band drift read, no-op preview,
//! delete; validation before any call; adoption; a VPC flow log publishing
//! to a log group through a role; an instance launched with a fresh
//! instance profile under the AWS-like peer. What moto lacks
//! (AssociateKmsKey, DisassociateKmsKey) runs against aws-smithy-mocks.

mod support;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use morket_stack::model::{HasUrn, ResourceArgs, Stack, Urn};
use morket_stack::plan::Action;
use morket_stack::provider::aws::ec2::flow_log::FlowLog;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::iam::role::{service_trust_policy, Role};
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::{self, iam, Aws};
use morket_stack::provider::Registry;
use morket_stack::state::StateStore;
use serde_json::{json, Value};
use support::aws::{self as shared, ctx, offline_engine, settings, step, tag_urn, STACK};

const ACCOUNT: &str = "123456789012";

/// The shared environment plus the SDK clients these tests check moto with.
struct Env {
    h: shared::Env,
    iam: aws_sdk_iam::Client,
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
        iam: aws_sdk_iam::Client::new(&h.conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&h.conf),
        h,
    }
}

/// The preview error of a stack of one resource, with no AWS behind it.
async fn preview_error(d: impl morket_stack::model::ResourceArgs) -> String {
    shared::preview_error(&mut offline_engine(settings()), d).await
}

impl Env {
    /// A customer-managed policy to attach (a fixture, made with the SDK).
    async fn policy(&self, name: &str) -> String {
        let doc = allow(&["s3:GetObject"], "*");
        self.iam
            .create_policy()
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }

    async fn role(&self, name: &str) -> Option<aws_sdk_iam::types::Role> {
        self.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.role().cloned())
    }

    async fn attached(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect();
        v.sort();
        v
    }

    /// Inline policies, decoded and parsed.
    async fn inline(&self, name: &str) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let names = self
            .iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap();
        for p in names.policy_names() {
            let doc = self
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(p)
                .send()
                .await
                .unwrap();
            out.insert(
                p.clone(),
                serde_json::from_str(&iam::url_decode(doc.policy_document())).unwrap(),
            );
        }
        out
    }

    async fn log_groups(&self) -> Vec<aws_sdk_cloudwatchlogs::types::LogGroup> {
        self.logs
            .describe_log_groups()
            .send()
            .await
            .unwrap()
            .log_groups()
            .to_vec()
    }

    async fn flow_logs(&self) -> Vec<aws_sdk_ec2::types::FlowLog> {
        self.ec2
            .describe_flow_logs()
            .send()
            .await
            .unwrap()
            .flow_logs()
            .to_vec()
    }

    async fn log_group_tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap()
            .tags()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }
}

fn allow(actions: &[&str], resource: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
    })
    .to_string()
}

fn parsed(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// The same document, pretty-printed (as a hand-written declaration would be).
fn pretty(s: &str) -> String {
    serde_json::to_string_pretty(&parsed(s)).unwrap()
}

fn one(r: Role) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let u = st.root().resource("flow-logs", r).unwrap().urn().clone();
    (st, u)
}

// ---------------------------------------------------------------- Role

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_lifecycle() {
    let mut e = env().await;
    let (p1, p2, p3) = (
        e.policy("p1").await,
        e.policy("p2").await,
        e.policy("p3").await,
    );
    let logs_doc = allow(&["logs:PutLogEvents"], "*");

    let mut r = Role::for_service("morket-flow-logs", "vpc-flow-logs.amazonaws.com");
    r.description = Some("flow logs".into());
    r.managed_policy_arns = vec![p1.clone().into()];
    r.inline_policies
        .insert("logs".into(), logs_doc.clone().into());
    r.tags.insert("Name".into(), "flow-logs".into());

    // Create, with every tag in the create call.
    let (s1, u) = one(r.clone());
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let live = e.role("morket-flow-logs").await.expect("role");
    assert_eq!(live.description(), Some("flow logs"));
    assert_eq!(live.max_session_duration(), Some(3600));
    assert_eq!(
        parsed(&iam::url_decode(
            live.assume_role_policy_document().unwrap()
        )),
        parsed(&service_trust_policy("vpc-flow-logs.amazonaws.com"))
    );
    let t = iam::from_tags(live.tags());
    assert_eq!(t["Name"], "flow-logs");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), u.as_str());
    assert_eq!(t["morket:stack"], STACK);
    assert_eq!(e.attached("morket-flow-logs").await, vec![p1.clone()]);
    assert_eq!(
        e.inline("morket-flow-logs").await,
        BTreeMap::from([("logs".to_string(), parsed(&logs_doc))])
    );
    let out = e.outputs(&u);
    assert_eq!(out["id"], "morket-flow-logs");
    assert_eq!(out["name"], "morket-flow-logs");
    assert_eq!(
        out["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/morket-flow-logs")
    );
    assert_eq!(out["unique_id"].as_str(), Some(live.role_id()));

    // The same documents, formatted differently, and the ARNs in another
    // order: no change.
    let mut same = r.clone();
    same.assume_role_policy = pretty(&r.assume_role_policy);
    same.inline_policies
        .insert("logs".into(), pretty(&logs_doc).into());
    e.no_changes(&one(same).0).await;

    // Update each field in place: trust policy, description, session length,
    // managed policies (attach two, detach one), inline policies (change one,
    // add one), tags.
    let trust2 = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["vpc-flow-logs.amazonaws.com", "ec2.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }],
    })
    .to_string();
    let logs_doc2 = allow(&["logs:PutLogEvents", "logs:CreateLogStream"], "*");
    let extra_doc = allow(&["ec2:DescribeVpcs"], "*");
    r.assume_role_policy = trust2.clone();
    r.description = Some("flow logs, v2".into());
    r.max_session_duration = 7200;
    r.managed_policy_arns = vec![p3.clone().into(), p2.clone().into()];
    r.inline_policies
        .insert("logs".into(), logs_doc2.clone().into());
    r.inline_policies
        .insert("extra".into(), extra_doc.clone().into());
    r.tags.insert("Team".into(), "net".into());
    let (s2, _) = one(r.clone());
    let plan = e.up_stable(&s2).await;
    let st2 = step(&plan, &u);
    assert_eq!(st2.action, Action::Update);
    assert_eq!(
        st2.changed,
        vec![
            "assume_role_policy",
            "description",
            "inline_policies",
            "managed_policy_arns",
            "max_session_duration",
            "tags"
        ]
    );
    let live = e.role("morket-flow-logs").await.unwrap();
    assert_eq!(live.description(), Some("flow logs, v2"));
    assert_eq!(live.max_session_duration(), Some(7200));
    assert_eq!(
        parsed(&iam::url_decode(
            live.assume_role_policy_document().unwrap()
        )),
        parsed(&trust2)
    );
    assert_eq!(iam::from_tags(live.tags())["Team"], "net");
    let mut want = vec![p2.clone(), p3.clone()];
    want.sort();
    assert_eq!(e.attached("morket-flow-logs").await, want);
    assert_eq!(
        e.inline("morket-flow-logs").await,
        BTreeMap::from([
            ("extra".to_string(), parsed(&extra_doc)),
            ("logs".to_string(), parsed(&logs_doc2)),
        ])
    );
    assert_eq!(e.outputs(&u)["unique_id"].as_str(), Some(live.role_id()));

    // Each updatable field alone is an in-place update of that field.
    r.inline_policies.remove("extra");
    let plan = e.up_stable(&one(r.clone()).0).await;
    assert_eq!(step(&plan, &u).changed, vec!["inline_policies"]);
    assert_eq!(
        e.inline("morket-flow-logs")
            .await
            .keys()
            .collect::<Vec<_>>(),
        vec!["logs"]
    );
    r.description = None;
    let plan = e.up_stable(&one(r.clone()).0).await;
    assert_eq!(step(&plan, &u).changed, vec!["description"]);
    let d = e.role("morket-flow-logs").await.unwrap();
    assert!(d.description().unwrap_or("").is_empty(), "{d:?}");

    // Out-of-band changes, then a read returns the live values.
    e.iam
        .update_role()
        .role_name("morket-flow-logs")
        .description("changed by hand")
        .max_session_duration(3600)
        .send()
        .await
        .unwrap();
    e.iam
        .put_role_policy()
        .role_name("morket-flow-logs")
        .policy_name("rogue")
        .policy_document(allow(&["s3:*"], "*"))
        .send()
        .await
        .unwrap();
    e.iam
        .attach_role_policy()
        .role_name("morket-flow-logs")
        .policy_arn(&p1)
        .send()
        .await
        .unwrap();
    e.iam
        .untag_role()
        .role_name("morket-flow-logs")
        .tag_keys("Team")
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert_eq!(read["description"], "changed by hand");
    assert_eq!(read["max_session_duration"], 3600);
    assert_eq!(read["tags"], json!({"Name": "flow-logs"}));
    assert_eq!(read["inline_policies"]["logs"], json!(logs_doc2));
    assert_eq!(
        parsed(read["inline_policies"]["rogue"].as_str().unwrap()),
        parsed(&allow(&["s3:*"], "*"))
    );
    let mut arns: Vec<String> =
        serde_json::from_value(read["managed_policy_arns"].clone()).unwrap();
    arns.sort();
    let mut want = vec![p1.clone(), p2.clone(), p3.clone()];
    want.sort();
    assert_eq!(arns, want);
    // The trust policy comes back decoded; the declared text is kept as it means the same.
    assert_eq!(read["assume_role_policy"], json!(trust2));
    // The live view differs from the declaration exactly where it drifted.
    let d = e
        .reg
        .get(Role::TYPE)
        .unwrap()
        .diff(&read, &serde_json::to_value(&r).unwrap());
    assert_eq!(
        d.changed,
        vec![
            "description",
            "inline_policies",
            "managed_policy_arns",
            "max_session_duration",
            "tags"
        ]
    );

    // Import by id: a read with nothing but the name gives the whole role.
    let imported = e
        .reg
        .get(Role::TYPE)
        .unwrap()
        .read(&ctx(&u), "morket-flow-logs", &Value::Null, &Value::Null)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(imported.inputs["name"], "morket-flow-logs");
    assert_eq!(
        parsed(imported.inputs["assume_role_policy"].as_str().unwrap()),
        parsed(&trust2)
    );
    assert_eq!(imported.outputs, e.outputs(&u));

    // Force-new: a new name replaces the role (create before delete). The old
    // role still has the out-of-band policies; delete removes them all first.
    r.name = "morket-flow-logs-2".into();
    let (s3, _) = one(r.clone());
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert_eq!(step(&plan, &u).replace_fields, vec!["name"]);
    assert!(e.role("morket-flow-logs").await.is_none(), "old role gone");
    assert!(e.role("morket-flow-logs-2").await.is_some());
    assert_eq!(e.attached("morket-flow-logs-2").await, want[1..].to_vec());
    assert_eq!(
        e.outputs(&u)["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/morket-flow-logs-2")
    );

    // Delete.
    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.role("morket-flow-logs-2").await.is_none());
    assert!(e.st.resources().unwrap().is_empty());
}

// ---------------------------------------------------------------- LogGroup

fn group_stack(g: &LogGroup) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let u = st.root().resource("flow", g.clone()).unwrap().urn().clone();
    (st, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_group_lifecycle() {
    let mut e = env().await;
    let mut g = LogGroup::new("/morket/vpc-flow");
    g.retention_in_days = Some(30);
    g.tags.insert("Name".into(), "flow".into());

    // Create, with every tag in the create call; the ARN without ":*".
    let (s1, u) = group_stack(&g);
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let live = e.log_groups().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].log_group_name(), Some("/morket/vpc-flow"));
    assert_eq!(live[0].retention_in_days(), Some(30));
    let arn = format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/morket/vpc-flow");
    assert_eq!(live[0].arn(), Some(format!("{arn}:*").as_str()));
    let out = e.outputs(&u);
    assert_eq!(out["arn"], arn);
    assert_eq!(out["name"], "/morket/vpc-flow");
    assert_eq!(out["id"], "/morket/vpc-flow");
    let t = e.log_group_tags(&arn).await;
    assert_eq!(t["Name"], "flow");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), u.as_str());
    assert_eq!(t["morket:stack"], STACK);

    // Update in place: retention, tags; then no retention (never expire).
    g.retention_in_days = Some(90);
    g.tags.insert("Team".into(), "net".into());
    let plan = e.up_stable(&group_stack(&g).0).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(step(&plan, &u).changed, vec!["retention_in_days", "tags"]);
    assert_eq!(e.log_groups().await[0].retention_in_days(), Some(90));
    assert_eq!(e.log_group_tags(&arn).await["Team"], "net");
    g.retention_in_days = None;
    g.tags.remove("Team");
    let plan = e.up_stable(&group_stack(&g).0).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(e.log_groups().await[0].retention_in_days(), None);
    assert!(!e.log_group_tags(&arn).await.contains_key("Team"));
    g.retention_in_days = Some(14);
    let (s2, _) = group_stack(&g);
    e.up_stable(&s2).await;
    assert_eq!(e.log_groups().await[0].retention_in_days(), Some(14));

    // Out-of-band change, then a read returns the live value.
    e.logs
        .put_retention_policy()
        .log_group_name("/morket/vpc-flow")
        .retention_in_days(365)
        .send()
        .await
        .unwrap();
    e.logs
        .tag_resource()
        .resource_arn(&arn)
        .tags("Owner", "ops")
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert_eq!(read["retention_in_days"], 365);
    assert_eq!(read["tags"], json!({"Name": "flow", "Owner": "ops"}));
    assert_eq!(read["name"], "/morket/vpc-flow");

    // Force-new: a new name replaces the group.
    g.name = "/morket/vpc-flow-2".into();
    let (s3, _) = group_stack(&g);
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert_eq!(step(&plan, &u).replace_fields, vec!["name"]);
    let names: Vec<String> = e
        .log_groups()
        .await
        .iter()
        .filter_map(|g| g.log_group_name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["/morket/vpc-flow-2"], "old group deleted");
    assert_eq!(e.log_groups().await[0].retention_in_days(), Some(14));

    // Delete.
    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.log_groups().await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_group_lookup_is_by_exact_name() {
    // DescribeLogGroups filters by prefix: a longer name must not stand in.
    let e = env().await;
    e.logs
        .create_log_group()
        .log_group_name("/morket/app-other")
        .send()
        .await
        .unwrap();
    let (st, u) = group_stack(&LogGroup::new("/morket/app"));
    let p = e.reg.get(LogGroup::TYPE).unwrap();
    let c = ctx(&u);
    assert!(p
        .read(&c, "/morket/app", &Value::Null, &Value::Null)
        .await
        .unwrap()
        .is_none());
    let inputs = st.resources()[0].inputs.clone();
    assert!(p.find_by_urn(&c, &inputs).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- flow log

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_log_publishes_to_log_group_through_role() {
    let mut e = env().await;
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let vpc = root.resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let mut g = LogGroup::new("/morket/staging/vpc-flow");
    g.retention_in_days = Some(30);
    let group = root.resource("flow", g).unwrap();
    let mut r = Role::for_service("morket-staging-flow-logs", "vpc-flow-logs.amazonaws.com");
    r.inline_policies.insert(
        "publish".into(),
        allow(
            &[
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
            ],
            "*",
        )
        .into(),
    );
    let role = root.resource("flow-logs", r).unwrap();
    let fl = root
        .resource("flow", FlowLog::new(vpc.id(), group.name(), role.arn()))
        .unwrap();
    let fl_urn = fl.urn().clone();

    let plan = e.up_stable(&st).await;
    assert_eq!(plan.counts().create, 4);
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/morket-staging-flow-logs");
    assert_eq!(e.outputs(role.urn())["arn"], role_arn);
    let flows = e.flow_logs().await;
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(
        f.resource_id(),
        Some(e.outputs(vpc.urn())["id"].as_str().unwrap())
    );
    assert_eq!(f.log_group_name(), Some("/morket/staging/vpc-flow"));
    assert_eq!(
        f.log_destination_type().map(|t| t.as_str()),
        Some("cloud-watch-logs")
    );
    assert_eq!(f.deliver_logs_permission_arn(), Some(role_arn.as_str()));
    // moto marks delivery FAILED when the group does not exist at creation:
    // SUCCESS shows the log group was made first (the reference orders it).
    assert_eq!(
        f.deliver_logs_status(),
        Some("SUCCESS"),
        "{:?}",
        f.deliver_logs_error_message()
    );
    assert_eq!(e.outputs(&fl_urn)["deliver_logs_status"], "SUCCESS");

    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.flow_logs().await.is_empty());
    assert!(e.log_groups().await.is_empty());
    assert!(e.role("morket-staging-flow-logs").await.is_none());
}

// ---------------------------------------------------------------- adoption

/// `find_by_urn` finds the resource only under its own URN, and a retried
/// create (after `interrupted` undoes part of the first) adopts it; the same
/// name under another URN is refused with `conflict`.
async fn adopts_only_its_own(
    e: &Env,
    st: &Stack,
    u: &Urn,
    conflict: &str,
    interrupted: impl std::future::Future<Output = ()>,
) {
    let d = &st.resources()[0];
    let (inputs, id) = (&d.inputs, d.inputs["name"].as_str().unwrap());
    let p = e.reg.get(u.type_name()).unwrap();
    let c = ctx(u);
    assert!(p.find_by_urn(&c, inputs).await.unwrap().is_empty());
    let created = p.create(&c, inputs).await.unwrap();
    let found = p.find_by_urn(&c, inputs).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].outputs, created.outputs);
    interrupted.await;
    assert_eq!(p.create(&c, inputs).await.unwrap(), created);
    let other = ctx(&Urn::new(STACK, "", u.type_name(), "other"));
    assert!(p.find_by_urn(&other, inputs).await.unwrap().is_empty());
    let err = p.create(&other, inputs).await.unwrap_err();
    assert!(err.to_string().contains(conflict), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_by_urn_and_a_retried_create_adopt_only_our_own() {
    let e = env().await;
    let mut r = Role::for_service("adopt-me", "ec2.amazonaws.com");
    r.inline_policies
        .insert("logs".into(), allow(&["logs:PutLogEvents"], "*").into());
    let (st, u) = one(r);
    // As if CreateRole went through and PutRolePolicy did not: the retry carries on.
    let lost_policy = async {
        e.iam
            .delete_role_policy()
            .role_name("adopt-me")
            .policy_name("logs")
            .send()
            .await
            .unwrap();
    };
    adopts_only_its_own(&e, &st, &u, "EntityAlreadyExists", lost_policy).await;
    assert_eq!(e.inline("adopt-me").await.len(), 1);

    let mut g = LogGroup::new("/adopt/me");
    g.retention_in_days = Some(7);
    let (st, u) = group_stack(&g);
    // As if CreateLogGroup went through and PutRetentionPolicy did not.
    let lost_retention = async {
        e.logs
            .delete_retention_policy()
            .log_group_name("/adopt/me")
            .send()
            .await
            .unwrap();
    };
    adopts_only_its_own(&e, &st, &u, "ResourceAlreadyExists", lost_retention).await;
    assert_eq!(e.log_groups().await[0].retention_in_days(), Some(7));
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn validation_names_field_and_value_before_any_call() {
    let trust = service_trust_policy("vpc-flow-logs.amazonaws.com");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            {
                let mut g = LogGroup::new("/vpc/flow");
                g.retention_in_days = Some(45);
                preview_error(g).await
            },
            "retention_in_days",
            "45",
        ),
        (
            preview_error(LogGroup::new("bad name!")).await,
            "name",
            "bad name!",
        ),
        (
            preview_error(Role::new("r", "{\"Statement\": [")).await,
            "assume_role_policy",
            "{\\\"Statement\\\": [",
        ),
        (
            {
                let mut r = Role::new("r", &trust);
                r.inline_policies.insert("logs".into(), "not json".into());
                preview_error(r).await
            },
            "inline_policies.logs",
            "not json",
        ),
        (
            {
                let mut r = Role::new("r", &trust);
                r.max_session_duration = 60;
                preview_error(r).await
            },
            "max_session_duration",
            "60",
        ),
        (
            preview_error(Role::new("no spaces allowed", &trust)).await,
            "name",
            "no spaces allowed",
        ),
        (
            {
                let mut r = Role::new("r", &trust);
                r.managed_policy_arns = vec!["ReadOnlyAccess".into()];
                preview_error(r).await
            },
            "managed_policy_arns[0]",
            "ReadOnlyAccess",
        ),
    ];
    for (msg, field, value) in cases {
        assert!(
            msg.contains(field) && msg.contains(value),
            "{field}/{value}: {msg}"
        );
    }
}

// ---------------------------------------------------------------- mocks

// moto implements neither AssociateKmsKey nor DisassociateKmsKey (no handler
// in moto/logs/responses.py), so a KMS key change runs against
// aws-smithy-mocks.
mod mocked {
    use super::*;
    use aws_sdk_cloudwatchlogs::operation::associate_kms_key::AssociateKmsKeyOutput;
    use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
    use aws_sdk_cloudwatchlogs::operation::disassociate_kms_key::DisassociateKmsKeyOutput;
    use aws_sdk_cloudwatchlogs::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[tokio::test]
    async fn kms_key_change_associates_and_disassociates() {
        let describe = mock!(Client::describe_log_groups).then_output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    aws_sdk_cloudwatchlogs::types::LogGroup::builder()
                        .log_group_name("/vpc/flow")
                        .arn("arn:aws:logs:us-east-1:123456789012:log-group:/vpc/flow:*")
                        .build(),
                )
                .build()
        });
        let associate = mock!(Client::associate_kms_key)
            .match_requests(|r| {
                r.log_group_name() == Some("/vpc/flow") && r.kms_key_id() == Some(KEY)
            })
            .then_output(|| AssociateKmsKeyOutput::builder().build());
        let disassociate = mock!(Client::disassociate_kms_key)
            .match_requests(|r| r.log_group_name() == Some("/vpc/flow"))
            .then_output(|| DisassociateKmsKeyOutput::builder().build());
        // The update ends with a read: outputs are built in one place.
        let tags = mock!(Client::list_tags_for_resource).then_output(|| {
            aws_sdk_cloudwatchlogs::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .build()
        });
        let client = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            &[&describe, &associate, &disassociate, &tags]
        );
        let aws_conn = Arc::new(Aws::new(settings()).with_logs(client));
        let mut reg = Registry::new();
        aws::register(&mut reg, aws_conn);
        let p = reg.get(LogGroup::TYPE).unwrap();
        let c = ctx(&Urn::new(STACK, "", LogGroup::TYPE, "flow"));
        let plain = LogGroup::new("/vpc/flow");
        let mut keyed = plain.clone();
        keyed.kms_key_id = Some(KEY.into());
        let (plain, keyed) = (
            serde_json::to_value(&plain).unwrap(),
            serde_json::to_value(&keyed).unwrap(),
        );
        let d = p.diff(&plain, &keyed);
        assert_eq!(
            (d.changed.clone(), d.replace.len()),
            (vec!["kms_key_id".to_string()], 0)
        );
        let out = p
            .update(&c, "/vpc/flow", &plain, &keyed, &json!({}))
            .await
            .unwrap();
        assert_eq!(
            out["arn"],
            "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/flow"
        );
        assert_eq!((associate.num_calls(), disassociate.num_calls()), (1, 0));
        p.update(&c, "/vpc/flow", &keyed, &plain, &json!({}))
            .await
            .unwrap();
        assert_eq!((associate.num_calls(), disassociate.num_calls()), (1, 1));
    }
}

/// `CreateRole` succeeds and the first policy call fails: the role is
/// recorded as it is live (no policies yet), and the next `up` attaches
/// them: one role, with every declared policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_whose_policy_call_fails_is_recorded_and_finished() {
    let mut e = env().await;
    let p1 = e.policy("p1").await;
    let logs_doc = allow(&["logs:PutLogEvents"], "*");
    let mut r = Role::for_service("morket-task", "ecs-tasks.amazonaws.com");
    r.managed_policy_arns = vec![p1.clone().into()];
    r.inline_policies
        .insert("logs".into(), logs_doc.clone().into());
    let (s, u) = one(r);
    e.moto.fail("PutRolePolicy", "ServiceFailure", 400, 1);
    let failed = e.up_failing(&s).await;
    assert!(failed.contains("ServiceFailure"), "{failed}");
    assert!(failed.contains("(after creating morket-task)"), "{failed}");
    assert!(e.role("morket-task").await.is_some());
    let rec = e.st.resource(&u).unwrap().expect("the role is in state");
    assert_eq!(rec.id, "morket-task");
    assert!(!rec.tainted);
    assert!(e.inline("morket-task").await.is_empty());
    assert_eq!(e.moto.faults_fired()["faults"][0]["fired"], 1);
    let plan = e.up_stable(&s).await;
    assert_eq!(plan.counts().create, 0);
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(e.attached("morket-task").await, vec![p1]);
    assert_eq!(
        e.inline("morket-task").await,
        BTreeMap::from([("logs".to_string(), parsed(&logs_doc))])
    );
}

// ------------------------------------------------------ lookups (data sources)

use morket_stack::provider::aws::ec2::availability_zones::GetAvailabilityZones;
use morket_stack::provider::aws::ec2::launch_template::LaunchTemplate;
use morket_stack::provider::aws::ssm::parameter::{GetParameter, UBUNTU_2404_AMD64};
use morket_stack::provider::aws::sts::caller_identity::GetCallerIdentity;

/// The account, the region's Ubuntu AMI and its zones, read while planning
/// (moto answers STS and EC2; the peer seeds Canonical's SSM parameter), a
/// launch template built on the AMI's answer, then a no-op preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_answer_while_planning_and_feed_resources() {
    let mut e = env().await;
    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let caller = root.resource("caller", GetCallerIdentity {}).unwrap();
    let ami = root
        .resource("ami", GetParameter::new(UBUNTU_2404_AMD64))
        .unwrap();
    let zones = root
        .resource(
            "zones",
            GetAvailabilityZones::requiring(&["us-east-1a".into(), "us-east-1b".into()]),
        )
        .unwrap();
    let lt = root
        .resource(
            "lt",
            LaunchTemplate::new("lookups", ami.value(), "t3.micro"),
        )
        .unwrap();

    let plan = e.eng.preview(&s, &Default::default()).await.unwrap();
    for r in [caller.urn(), ami.urn(), zones.urn()] {
        assert_eq!(step(&plan, r).action, Action::Read, "{r}");
    }
    let who = &step(&plan, &caller).looked_up.as_ref().unwrap().outputs;
    assert_eq!(
        (who["account_id"].as_str(), who["partition"].as_str()),
        (Some(ACCOUNT), Some("aws"))
    );
    let image = step(&plan, &ami).looked_up.as_ref().unwrap().outputs["value"].clone();
    assert!(image.as_str().unwrap().starts_with("ami-"), "{image}");
    let names = &step(&plan, &zones).looked_up.as_ref().unwrap().outputs["names"];
    assert!(names.as_array().unwrap().len() >= 2, "{names}");
    assert_eq!(
        step(&plan, &lt).planned_inputs.as_ref().unwrap()["image_id"],
        image
    );

    e.up_stable(&s).await;
    assert_eq!(e.outputs(&ami)["value"], image, "recorded in state");
    let versions = e
        .ec2
        .describe_launch_template_versions()
        .launch_template_name("lookups")
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    assert_eq!(Some(image.as_str().unwrap()), data.image_id());
}

/// The preview error of a stack of one lookup `args`, against moto.
async fn lookup_error(e: &mut Env, args: impl ResourceArgs) -> String {
    let mut s = Stack::new(STACK).unwrap();
    s.root().resource("x", args).unwrap();
    e.eng
        .preview(&s, &Default::default())
        .await
        .unwrap_err()
        .to_string()
}

/// Answers that cannot be planned on fail the preview, naming the field and
/// the value, before anything is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_that_find_nothing_fail_the_preview() {
    let mut e = env().await;
    let err = lookup_error(
        &mut e,
        GetAvailabilityZones::requiring(&["us-east-1z".into()]),
    )
    .await;
    assert!(
        err.contains("require[0]") && err.contains("us-east-1z") && err.contains("us-east-1a"),
        "{err}"
    );
    let err = lookup_error(&mut e, GetParameter::new("/morket/no-such-parameter")).await;
    assert!(
        err.contains("name")
            && err.contains("/morket/no-such-parameter")
            && err.contains("no such SSM parameter"),
        "{err}"
    );
    assert!(e.st.resources().unwrap().is_empty());
    // Bad inputs are refused before any call.
    let bad = preview_error(GetAvailabilityZones {
        state: Some("gone".into()),
        require: Vec::new(),
    })
    .await;
    assert!(bad.contains("state") && bad.contains("gone"), "{bad}");
    let bad = preview_error(GetParameter::new("has spaces")).await;
    assert!(bad.contains("name") && bad.contains("has spaces"), "{bad}");
}

/// Without credentials a preview still plans: the lookups are read at apply
/// and what uses them is known after apply.
#[tokio::test]
async fn without_credentials_lookups_are_known_after_apply() {
    let conf = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let aws = Arc::new(Aws::with_config(settings(), conf));
    let mut eng =
        morket_stack::engine::Engine::new(Box::new(shared::store()), shared::registry(aws));
    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let ami = root
        .resource("ami", GetParameter::new(UBUNTU_2404_AMD64))
        .unwrap();
    let lt = root
        .resource(
            "lt",
            LaunchTemplate::new("lookups", ami.value(), "t3.micro"),
        )
        .unwrap();
    let plan = eng.preview(&s, &Default::default()).await.unwrap();
    assert_eq!(step(&plan, &ami).action, Action::Create);
    let image = &step(&plan, &lt).planned_inputs.as_ref().unwrap()["image_id"];
    assert!(morket_stack::value::is_unknown(image), "{image}");
}

/// An existing network (made outside the stack) found by tag, its subnets
/// in zone order, and a group the stack makes in it; none or several VPCs
/// matching fail the preview naming what was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_vpc_and_its_subnets_are_found_by_lookup() {
    use morket_stack::provider::aws::ec2::get_subnets::GetSubnets;
    use morket_stack::provider::aws::ec2::get_vpc::GetVpc;
    use morket_stack::provider::aws::ec2::security_group::SecurityGroup;
    let mut e = env().await;
    let ec2 = e.ec2.clone();
    let tag = |id: &str, k: &str, v: &str| {
        ec2.create_tags()
            .resources(id)
            .tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
            .send()
    };
    let vpc = shared::create_vpc(&e.ec2, "10.9.0.0/16").await;
    tag(&vpc, "Name", "shared").await.unwrap();
    let b = shared::create_subnet(&e.ec2, &vpc, "10.9.2.0/24", Some("us-east-1b")).await;
    let a = shared::create_subnet(&e.ec2, &vpc, "10.9.1.0/24", Some("us-east-1a")).await;
    let other = shared::create_subnet(&e.ec2, &vpc, "10.9.3.0/24", Some("us-east-1a")).await;
    for s in [&a, &b] {
        tag(s, "Tier", "private").await.unwrap();
    }
    tag(&other, "Tier", "public").await.unwrap();

    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let net = root
        .resource("net", GetVpc::by_tag("Name", "shared"))
        .unwrap();
    let private = root
        .resource(
            "private",
            GetSubnets::in_vpc(net.id()).tagged("Tier", "private"),
        )
        .unwrap();
    let sg = root
        .resource("sg", SecurityGroup::new("in-shared", net.id()))
        .unwrap();
    let plan = e.eng.preview(&s, &Default::default()).await.unwrap();
    let found = &step(&plan, &net).looked_up.as_ref().unwrap().outputs;
    assert_eq!(
        (found["id"].as_str(), found["cidr_block"].as_str()),
        (Some(vpc.as_str()), Some("10.9.0.0/16"))
    );
    let subnets = &step(&plan, &private).looked_up.as_ref().unwrap().outputs;
    assert_eq!(
        subnets["ids"],
        json!([a, b]),
        "zone order, public one left out"
    );
    assert_eq!(
        step(&plan, &sg).planned_inputs.as_ref().unwrap()["vpc_id"],
        json!(vpc)
    );
    e.up_stable(&s).await;

    // A second VPC with the same tag: ambiguous, refused on --refresh.
    let twin = shared::create_vpc(&e.ec2, "10.8.0.0/16").await;
    tag(&twin, "Name", "shared").await.unwrap();
    let refresh = morket_stack::plan::PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let err = e.eng.preview(&s, &refresh).await.unwrap_err().to_string();
    assert!(
        err.contains("tags") && err.contains("2 VPCs match") && err.contains(&twin),
        "{err}"
    );
    let err = lookup_error(&mut e, GetVpc::by_id("vpc-0123456789abcdef0")).await;
    assert!(
        err.contains("vpc-0123456789abcdef0") && err.contains("no VPC matches"),
        "{err}"
    );
    let bad = preview_error(GetVpc::default()).await;
    assert!(
        bad.contains("id") && bad.contains("give the VPC id or the tags"),
        "{bad}"
    );
}

// ---------------------------------------------------------------- InstanceProfile

use morket_stack::provider::aws::ec2::instance::Instance;
use morket_stack::provider::aws::iam::instance_profile::InstanceProfile;

impl Env {
    async fn profile(&self, name: &str) -> Option<aws_sdk_iam::types::InstanceProfile> {
        self.iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.instance_profile)
    }
}

fn profile_role(p: &aws_sdk_iam::types::InstanceProfile) -> Vec<String> {
    p.roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect()
}

/// Two EC2 roles and a profile holding the first (by reference to its name).
fn profile_stack(role: &str, path: &str, tags: &[(&str, &str)]) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let a = root
        .resource("a", Role::for_service("ip-role-a", "ec2.amazonaws.com"))
        .unwrap();
    let b = root
        .resource("b", Role::for_service("ip-role-b", "ec2.amazonaws.com"))
        .unwrap();
    let mut p = InstanceProfile::new("morket-ip", if role == "a" { a.name() } else { b.name() });
    p.path = path.into();
    p.tags = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let u = root.resource("profile", p).unwrap().urn().clone();
    (st, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_profile_lifecycle() {
    let mut e = env().await;

    // Create: path, role and every tag in the create call.
    let (s1, u) = profile_stack("a", "/morket/", &[("Name", "ip")]);
    let plan = e.up_stable(&s1).await;
    assert_eq!(step(&plan, &u).action, Action::Create);
    let live = e.profile("morket-ip").await.expect("profile");
    assert_eq!(live.path(), "/morket/");
    assert_eq!(profile_role(&live), vec!["ip-role-a"]);
    let t = iam::from_tags(live.tags());
    assert_eq!(t["Name"], "ip");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), u.as_str());
    assert_eq!(t["morket:stack"], STACK);
    let out = e.outputs(&u);
    assert_eq!(out["id"], "morket-ip");
    assert_eq!(out["name"], "morket-ip");
    assert_eq!(
        out["arn"],
        format!("arn:aws:iam::{ACCOUNT}:instance-profile/morket/morket-ip")
    );
    assert_eq!(out["unique_id"].as_str(), Some(live.instance_profile_id()));
    assert_eq!(out["role"], "ip-role-a");

    // The role changes in place: the old one is removed, the new one added.
    let (s2, _) = profile_stack("b", "/morket/", &[("Name", "ip")]);
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(step(&plan, &u).changed, vec!["role"]);
    let live = e.profile("morket-ip").await.unwrap();
    assert_eq!(profile_role(&live), vec!["ip-role-b"]);
    assert_eq!(
        e.outputs(&u)["unique_id"].as_str(),
        Some(live.instance_profile_id()),
        "the same profile"
    );

    // Tags change in place.
    let (s3, _) = profile_stack("b", "/morket/", &[("Name", "ip"), ("Team", "data")]);
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &u).changed, vec!["tags"]);
    let t = iam::from_tags(e.profile("morket-ip").await.unwrap().tags());
    assert_eq!(t["Team"], "data");
    let (s3, _) = profile_stack("b", "/morket/", &[("Name", "ip")]);
    e.up_stable(&s3).await;
    let t = iam::from_tags(e.profile("morket-ip").await.unwrap().tags());
    assert!(!t.contains_key("Team"), "{t:?}");
    assert!(t.contains_key("morket:urn"), "engine tags kept");

    // Out-of-band: the role removed and a tag added show on read.
    e.iam
        .remove_role_from_instance_profile()
        .instance_profile_name("morket-ip")
        .role_name("ip-role-b")
        .send()
        .await
        .unwrap();
    e.iam
        .tag_instance_profile()
        .instance_profile_name("morket-ip")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("Owner")
                .value("hand")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert!(read.get("role").is_none_or(Value::is_null), "{read}");
    assert_eq!(read["tags"], json!({"Name": "ip", "Owner": "hand"}));
    assert_eq!(read["path"], "/morket/");
    e.iam
        .add_role_to_instance_profile()
        .instance_profile_name("morket-ip")
        .role_name("ip-role-b")
        .send()
        .await
        .unwrap();

    // Force-new: another path replaces it (one name: the old one goes first).
    let (s4, _) = profile_stack("b", "/", &[("Name", "ip")]);
    let plan = e.up_stable(&s4).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert_eq!(step(&plan, &u).replace_fields, vec!["path"]);
    let live = e.profile("morket-ip").await.unwrap();
    assert_eq!(live.path(), "/");
    assert_eq!(profile_role(&live), vec!["ip-role-b"]);

    // Destroy: the role is removed from the profile, then both go.
    let (_, report) = e.h.eng.destroy(&s4, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.profile("morket-ip").await.is_none());
    assert!(e.role("ip-role-b").await.is_none());
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_profile_interrupted_create_is_found_and_finished() {
    let mut e = env().await;
    e.iam
        .create_role()
        .role_name("ip-role")
        .assume_role_policy_document(service_trust_policy("ec2.amazonaws.com"))
        .send()
        .await
        .unwrap();
    let mut st = Stack::new(STACK).unwrap();
    let u = st
        .root()
        .resource("profile", InstanceProfile::new("adopt-ip", "ip-role"))
        .unwrap()
        .urn()
        .clone();
    // As if CreateInstanceProfile went through and AddRoleToInstanceProfile
    // did not: the retried create carries on and adds the role.
    let lost_role = async {
        e.iam
            .remove_role_from_instance_profile()
            .instance_profile_name("adopt-ip")
            .role_name("ip-role")
            .send()
            .await
            .unwrap();
    };
    adopts_only_its_own(&e, &st, &u, "EntityAlreadyExists", lost_role).await;
    assert_eq!(
        profile_role(&e.profile("adopt-ip").await.unwrap()),
        vec!["ip-role"]
    );

    // A run killed after its create returned: the next `up` adopts the
    // profile instead of creating a second one.
    let mut st = Stack::new(STACK).unwrap();
    let u = st
        .root()
        .resource("killed", InstanceProfile::new("killed-ip", "ip-role-2"))
        .unwrap()
        .urn()
        .clone();
    e.iam
        .create_role()
        .role_name("ip-role-2")
        .assume_role_policy_document(service_trust_policy("ec2.amazonaws.com"))
        .send()
        .await
        .unwrap();
    let inputs = st.resources()[0].inputs.clone();
    let created = e.interrupted_create(&u, &inputs).await;
    let plan = e.up_stable(&st).await;
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(e.id(&u), created.id);
    assert!(e.st.pending().unwrap().is_empty());
    assert_eq!(e.find(&u).await, vec!["killed-ip".to_string()]);
    assert_eq!(
        profile_role(&e.profile("killed-ip").await.unwrap()),
        vec!["ip-role-2"]
    );
}

#[tokio::test]
async fn instance_profile_validation_names_field_and_value() {
    let cases = [
        (
            preview_error(InstanceProfile::new("no spaces", "r")).await,
            "name",
            "no spaces",
        ),
        (
            {
                let mut p = InstanceProfile::new("p", "r");
                p.path = "morket".into();
                preview_error(p).await
            },
            "path",
            "morket",
        ),
        (
            preview_error(InstanceProfile::new(
                "p",
                "arn:aws:iam::123456789012:role/r",
            ))
            .await,
            "role",
            "not its ARN",
        ),
        (
            preview_error(InstanceProfile::new("p", "x".repeat(65))).await,
            "role",
            "xxxxxxxx",
        ),
    ];
    for (msg, field, value) in cases {
        assert!(
            msg.contains(field) && msg.contains(value),
            "{field}/{value}: {msg}"
        );
    }
}

/// Real AWS refuses RunInstances for a few seconds after the instance
/// profile it names was created ("Invalid IAM Instance Profile name"); the
/// AWS-like peer does the same and the instance is created all the same,
/// once, by the retry Terraform also makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_with_a_fresh_instance_profile_is_created_despite_the_refusal() {
    let mut e = shared::Env::aws_like(settings()).await;
    let iam = aws_sdk_iam::Client::new(&e.conf);
    let vpc = shared::create_vpc(&e.ec2, "10.7.0.0/16").await;
    // A new VPC is unknown to EC2 for its consistency window (0.5 s).
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let subnet = shared::create_subnet(&e.ec2, &vpc, "10.7.1.0/24", None).await;
    iam.create_role()
        .role_name("fresh-role")
        .assume_role_policy_document(service_trust_policy("ec2.amazonaws.com"))
        .send()
        .await
        .unwrap();
    let template = || {
        let mut lt = LaunchTemplate::new("with-profile", "ami-12c6146b", "t3.micro");
        lt.iam_instance_profile_name = Some("fresh-profile".into());
        lt
    };
    // The template first (CreateLaunchTemplate does not check the profile),
    // so that RunInstances follows the profile's creation at once.
    let mut s1 = Stack::new(STACK).unwrap();
    s1.root().resource("lt", template()).unwrap();
    e.up(&s1).await;
    // The subnet's and template's consistency windows (0.5 s) pass.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;

    iam.create_instance_profile()
        .instance_profile_name("fresh-profile")
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name("fresh-profile")
        .role_name("fresh-role")
        .send()
        .await
        .unwrap();
    let mut s2 = Stack::new(STACK).unwrap();
    let mut root = s2.root();
    let lt = root.resource("lt", template()).unwrap();
    let inst = root
        .resource(
            "instance",
            Instance::from_launch_template(lt.id(), subnet.as_str()),
        )
        .unwrap();
    let plan = e.up(&s2).await;
    assert_eq!(step(&plan, &inst).action, Action::Create);
    let fired = e.moto.aws_like_fired();
    assert!(
        fired["fired"]["iam"]["RunInstances"].as_u64() >= Some(1),
        "the peer refused the launch first: {fired}"
    );
    let running: Vec<String> = e
        .ec2
        .describe_instances()
        .filters(shared::stack_filter())
        .send()
        .await
        .unwrap()
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    assert_eq!(running, vec![e.id(&inst)], "one instance");
}

use morket_stack::provider::aws::logs::resource_policy::ResourcePolicy;

fn es_may_write(resource: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "es.amazonaws.com"},
            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
            "Resource": resource,
        }],
    })
    .to_string()
}

/// A CloudWatch Logs resource policy: created, the same document formatted
/// otherwise is no change, a new document is put in place, and destroy
/// removes it. A policy of that name already in the account with another
/// document is not taken over: the create fails naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_resource_policy_lifecycle() {
    let mut e = env().await;
    let live = |e: &Env| {
        let logs = e.logs.clone();
        async move {
            logs.describe_resource_policies()
                .send()
                .await
                .unwrap()
                .resource_policies()
                .iter()
                .map(|p| {
                    (
                        p.policy_name().unwrap_or_default().to_string(),
                        parsed(p.policy_document().unwrap_or_default()),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let stack = |doc: String| {
        let mut st = Stack::new(STACK).unwrap();
        let u = st
            .root()
            .resource("policy", ResourcePolicy::new("opensearch-logs", doc))
            .unwrap()
            .urn()
            .clone();
        (st, u)
    };
    let doc = es_may_write("arn:aws:logs:us-east-1:123456789012:log-group:/aws/opensearch/*");
    let (s1, u) = stack(doc.clone());
    e.up_stable(&s1).await;
    assert_eq!(
        live(&e).await,
        vec![("opensearch-logs".to_string(), parsed(&doc))]
    );
    assert_eq!(e.id(&u), "opensearch-logs");
    e.no_changes(&stack(pretty(&doc)).0).await;

    let doc2 = es_may_write("arn:aws:logs:us-east-1:123456789012:log-group:/aws/search/*");
    let (s2, _) = stack(doc2.clone());
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(live(&e).await[0].1, parsed(&doc2));

    let cancel = e.cancel.clone();
    let (_, report) = e.eng.destroy(&s2, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(live(&e).await.is_empty());

    // Someone else's policy of that name.
    e.logs
        .put_resource_policy()
        .policy_name("opensearch-logs")
        .policy_document(es_may_write("*"))
        .send()
        .await
        .unwrap();
    let msg = e.up_failing(&s1).await;
    assert!(
        msg.contains("policy_name") && msg.contains("opensearch-logs"),
        "{msg}"
    );
    assert_eq!(live(&e).await[0].1, parsed(&es_may_write("*")));
}
