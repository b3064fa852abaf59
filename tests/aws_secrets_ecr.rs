//! Secrets Manager (Secret, SecretVersion, SecretRotation) and ECR
//! (Repository, LifecyclePolicy, RepositoryPolicy) through the engine against
//! moto: create (read back with the SDK), update in place, force-new
//! replacement, drift, no-op preview, destroy, validation before any call,
//! interrupted creates adopted. A secret's value comes from a
//! `random:index/RandomPassword` and never shows in plaintext in state or
//! plan. SecretRotation runs against aws-smithy-mocks: moto's rotate_secret
//! without a Lambda breaks the secret's AWSCURRENT version.

mod support;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, Stack, Urn};
use morket_stack::plan::{Action, Plan, PlanOptions};
use morket_stack::provider::aws::ecr::lifecycle_policy::{
    LifecycleDocument, LifecyclePolicy, LifecycleRule,
};
use morket_stack::provider::aws::ecr::repository::{EncryptionConfiguration, Repository};
use morket_stack::provider::aws::ecr::repository_policy::RepositoryPolicy;
use morket_stack::provider::aws::secretsmanager::secret::Secret;
use morket_stack::provider::aws::secretsmanager::secret_rotation::{RotationRules, SecretRotation};
use morket_stack::provider::aws::secretsmanager::secret_version::SecretVersion;
use morket_stack::provider::random::RandomPassword;
use morket_stack::render::{self, Style};
use morket_stack::state::StateStore;
use morket_stack::value;
use serde_json::{json, Value};
use support::aws::{self as shared, offline_engine, settings, step, tag_urn, STACK};

const ACCOUNT: &str = "123456789012";

struct Env {
    h: shared::Env,
    sm: aws_sdk_secretsmanager::Client,
    ecr: aws_sdk_ecr::Client,
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
        sm: aws_sdk_secretsmanager::Client::new(&h.conf),
        ecr: aws_sdk_ecr::Client::new(&h.conf),
        h,
    }
}

impl Env {
    async fn value(&self, id: &str) -> String {
        self.sm
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .unwrap()
            .secret_string()
            .unwrap()
            .to_string()
    }

    async fn describe(
        &self,
        id: &str,
    ) -> Option<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput> {
        self.sm.describe_secret().secret_id(id).send().await.ok()
    }

    /// Version id → its stages.
    async fn stages(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        self.sm
            .list_secret_version_ids()
            .secret_id(id)
            .send()
            .await
            .unwrap()
            .versions()
            .iter()
            .map(|v| {
                (
                    v.version_id().unwrap().to_string(),
                    v.version_stages().to_vec(),
                )
            })
            .collect()
    }

    async fn repo(&self, name: &str) -> Option<aws_sdk_ecr::types::Repository> {
        self.ecr
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.repositories().first().cloned())
    }

    async fn repo_tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.ecr
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

    /// The plaintext `password` is in none of: the state export, the plan
    /// text (plain and diff), the sealed plan file.
    fn never_plaintext(&self, plan: &Plan, password: &str) {
        for style in [
            Style::default(),
            Style {
                color: false,
                diff: true,
            },
        ] {
            let text = render::plan_text(plan, style);
            assert!(!text.contains(password), "plaintext in the plan:\n{text}");
        }
        let file = self.eng.seal_plan(plan).unwrap().to_string();
        assert!(!file.contains(password), "plaintext in the plan file");
        let snap = serde_json::to_string(&self.st.export().unwrap()).unwrap();
        assert!(!snap.contains(password), "plaintext in the state");
    }

    /// The generated password of `pw`, from state.
    fn password(&self, pw: &Resource<RandomPassword>) -> String {
        let out = self.st.resource(pw.urn()).unwrap().unwrap().outputs["result"].clone();
        assert!(value::as_secret(&out).is_some(), "the result is secret");
        value::reveal(&out).as_str().unwrap().to_string()
    }
}

/// The fields where a live read differs from what state holds for `r`.
fn drift<A>(e: &Env, r: &Resource<A>, read: &Value) -> Vec<String> {
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    e.reg
        .get(r.urn().type_name())
        .unwrap()
        .diff(read, &rec.inputs)
        .changed
}

fn parsed(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// The preview error of a stack of one resource, with no AWS behind it.
async fn preview_error(d: impl ResourceArgs) -> String {
    shared::preview_error(&mut offline_engine(settings()), d).await
}

// ---------------------------------------------------------------- secrets

struct Secrets {
    st: Stack,
    pw: Resource<RandomPassword>,
    secret: Resource<Secret>,
    version: Resource<SecretVersion>,
}

/// A password, the secret and its value (`value` makes it from the password).
fn secrets(
    pw_len: u32,
    s: &Secret,
    value: impl Fn(&Resource<RandomPassword>) -> Input<String>,
) -> Secrets {
    let mut st = Stack::new(STACK).unwrap();
    let pw = st
        .root()
        .resource("db-password", RandomPassword::new(pw_len))
        .unwrap();
    let secret = st.root().resource("db", s.clone()).unwrap();
    let version = st
        .root()
        .resource("db-value", SecretVersion::new(secret.arn(), value(&pw)))
        .unwrap();
    Secrets {
        st,
        pw,
        secret,
        version,
    }
}

fn plain(pw: &Resource<RandomPassword>) -> Input<String> {
    pw.result().into()
}

fn as_json(pw: &Resource<RandomPassword>) -> Input<String> {
    Input::interpolate(
        r#"{"username":"app","password":"{pw}","port":5432}"#,
        &[("pw", pw.result().into())],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_and_version_lifecycle() {
    let mut e = env().await;
    let mut s = Secret::new("morket/staging/db");
    s.description = Some("database".into());
    s.tags.insert("Name".into(), "db".into());

    // Create: the value in AWS is the generated password; the secret's
    // properties and every tag are in place.
    let d = secrets(32, &s, plain);
    let plan = e.up_stable(&d.st).await;
    assert_eq!(plan.counts().create, 3);
    let password = e.password(&d.pw);
    assert_eq!(password.len(), 32);
    assert_eq!(e.value("morket/staging/db").await, password);
    let live = e.describe("morket/staging/db").await.unwrap();
    let arn = live.arn().unwrap().to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:morket/staging/db-"
        )),
        "{arn}"
    );
    assert_eq!(live.description(), Some("database"));
    let tags: BTreeMap<_, _> = live
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["Name"], "db");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(tags["morket:urn"]), d.secret.urn().as_str());
    let out = e.outputs(&d.secret);
    assert_eq!(out["arn"], arn);
    assert_eq!(out["id"], arn);
    assert_eq!(out["name"], "morket/staging/db");
    assert_eq!(e.id(&d.secret), arn);
    let vout = e.outputs(&d.version);
    assert_eq!(vout["arn"], arn);
    let v1 = vout["version_id"].as_str().unwrap().to_string();
    assert_eq!(e.stages(&arn).await[&v1], vec!["AWSCURRENT"]);
    // The state holds the value sealed, the plan shows it as sensitive.
    e.never_plaintext(&plan, &password);
    let rec = e.st.resource(d.version.urn()).unwrap().unwrap();
    assert!(value::as_secret(&rec.inputs["secret_string"]).is_some());

    // Update in place: description, tags.
    s.description = Some("database, v2".into());
    s.tags.insert("Team".into(), "data".into());
    let d = secrets(32, &s, plain);
    let plan = e.up_stable(&d.st).await;
    assert_eq!(step(&plan, &d.secret).action, Action::Update);
    assert_eq!(step(&plan, &d.secret).changed, vec!["description", "tags"]);
    assert_eq!(plan.counts().update, 1);
    let live = e.describe(&arn).await.unwrap();
    assert_eq!(live.description(), Some("database, v2"));
    assert!(live.tags().iter().any(|t| t.key() == Some("Team")));

    // A new value (a JSON document around the password) is a new version in
    // place: AWSCURRENT moves to it, the old one becomes AWSPREVIOUS.
    let d = secrets(32, &s, as_json);
    let plan = e.up_stable(&d.st).await;
    let st = step(&plan, &d.version);
    assert_eq!(st.action, Action::Update);
    assert_eq!(st.changed, vec!["secret_string"]);
    e.never_plaintext(&plan, &password);
    let doc = parsed(&e.value(&arn).await);
    assert_eq!(
        doc,
        json!({"username": "app", "password": password, "port": 5432})
    );
    let v2 = e.outputs(&d.version)["version_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(v1, v2);
    let stages = e.stages(&arn).await;
    assert_eq!(stages[&v2], vec!["AWSCURRENT"]);
    assert_eq!(stages[&v1], vec!["AWSPREVIOUS"]);
    assert_eq!(e.id(&d.version), arn, "the id stays the secret's ARN");

    // A new password (regenerated: unknown in the preview) is a new value too.
    let d = secrets(40, &s, as_json);
    let p = e.eng.preview(&d.st, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&p, &d.pw).action, Action::Replace);
    assert_eq!(step(&p, &d.version).action, Action::Update);
    assert!(
        !p.steps.iter().any(|s| &s.urn == d.secret.urn()),
        "the secret is unchanged"
    );
    let plan = e.up_stable(&d.st).await;
    let password2 = e.password(&d.pw);
    assert_eq!(password2.len(), 40);
    assert_eq!(parsed(&e.value(&arn).await)["password"], json!(password2));
    e.never_plaintext(&plan, &password2);

    // Drift: the value and the description changed by hand. The read shows
    // both (the value sealed, as a secret) and differs from state exactly there.
    e.sm.put_secret_value()
        .secret_id(&arn)
        .secret_string("by hand")
        .send()
        .await
        .unwrap();
    e.sm.update_secret()
        .secret_id(&arn)
        .description("by hand")
        .send()
        .await
        .unwrap();
    let read = e.read(&d.version).await.expect("live");
    assert_eq!(read["secret_string"], json!({"$secret": "by hand"}));
    assert_eq!(drift(&e, &d.version, &read), vec!["secret_string"]);
    let read = e.read(&d.secret).await.expect("live");
    assert_eq!(read["description"], "by hand");
    assert_eq!(drift(&e, &d.secret, &read), vec!["description"]);

    // Force-new: another name replaces the secret and its value; the old
    // secret is kept for its 30-day recovery window (DeletedDate set).
    s.name = "morket/staging/db2".into();
    let d = secrets(40, &s, as_json);
    let plan = e.up_stable(&d.st).await;
    assert_eq!(step(&plan, &d.secret).action, Action::Replace);
    assert_eq!(step(&plan, &d.secret).replace_fields, vec!["name"]);
    assert_eq!(step(&plan, &d.version).action, Action::Replace);
    let old = e.describe(&arn).await.expect("recoverable");
    assert!(old.deleted_date().is_some(), "{old:?}");
    let arn2 = e.id(&d.secret);
    assert_ne!(arn2, arn);
    assert_eq!(parsed(&e.value(&arn2).await)["password"], json!(password2));
    assert!(e.read(&d.secret).await.is_some());

    // Destroy without recovery: the secret is gone at once.
    s.recovery_window_in_days = 0;
    let d = secrets(40, &s, as_json);
    let plan = e.up_stable(&d.st).await;
    assert_eq!(
        step(&plan, &d.secret).changed,
        vec!["recovery_window_in_days"]
    );
    let (_, report) = e.h.eng.destroy(&d.st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(
        e.describe(&arn2).await.is_none(),
        "deleted without recovery"
    );
    assert!(e.st.resources().unwrap().is_empty());
}

/// A destroyed secret waits out its recovery window; bringing the stack up
/// again restores our own secret instead of failing on the name, and
/// someone else's deleted secret of a name is an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_window_and_recreate_after_destroy() {
    let mut e = env().await;
    let mut s = Secret::new("morket/staging/api-key");
    s.recovery_window_in_days = 7;
    let d = secrets(24, &s, plain);
    e.up_stable(&d.st).await;
    let arn = e.id(&d.secret);
    let (_, report) = e.h.eng.destroy(&d.st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let gone = e.describe(&arn).await.expect("kept for recovery");
    let deleted = gone.deleted_date().expect("DeletedDate").secs();
    let created = gone.created_date().map_or(deleted, |c| c.secs());
    assert!(deleted >= created);
    // A read treats the deleted secret as gone.
    assert!(e.st.resources().unwrap().is_empty());

    // Up again: the name is held by our deleted secret; it is restored.
    let plan = e.up_stable(&d.st).await;
    assert_eq!(plan.counts().create, 3);
    assert_eq!(e.id(&d.secret), arn, "the same secret, restored");
    let live = e.describe(&arn).await.unwrap();
    assert!(live.deleted_date().is_none());
    assert_eq!(e.value(&arn).await, e.password(&d.pw));

    // Someone else's secret in its recovery window: an error naming it.
    let other =
        e.sm.create_secret()
            .name("someone/else")
            .send()
            .await
            .unwrap();
    e.sm.delete_secret()
        .secret_id(other.arn().unwrap())
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let mut st = Stack::new(STACK).unwrap();
    st.root()
        .resource("other", Secret::new("someone/else"))
        .unwrap();
    // AWS says "scheduled for deletion" (InvalidRequestException), moto
    // "already exists" (ResourceExistsException); the AWS answer and the
    // restore after it are covered with aws-smithy-mocks below.
    let msg = e.up_failing(&st).await;
    assert!(
        msg.contains("someone/else already exists") || msg.contains("scheduled for deletion"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_secret_and_repository_creates_are_adopted() {
    let mut e = env().await;
    let mut st = Stack::new(STACK).unwrap();
    let secret = st
        .root()
        .resource("db", Secret::new("morket/adopt"))
        .unwrap();
    let repo = st
        .root()
        .resource("backend", Repository::new("morket/adopt"))
        .unwrap();
    let inputs: BTreeMap<Urn, Value> = st
        .resources()
        .iter()
        .map(|r| (r.urn.clone(), r.inputs.clone()))
        .collect();
    // The process "died" after each create returned, before the checkpoint.
    let cs = e.interrupted_create(&secret, &inputs[secret.urn()]).await;
    let cr = e.interrupted_create(&repo, &inputs[repo.urn()]).await;

    let mut eng = Engine::new(Box::new(e.st.clone()), e.reg.clone());
    let (plan, report) = eng
        .up(&st, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(e.id(&secret), cs.id);
    assert_eq!(e.id(&repo), cr.id);
    assert!(e.st.pending().unwrap().is_empty());
    assert_eq!(e.find(&secret).await, vec![cs.id.clone()]);
    assert_eq!(e.find(&repo).await, vec!["morket/adopt".to_string()]);
    let n =
        e.sm.list_secrets()
            .send()
            .await
            .unwrap()
            .secret_list()
            .len();
    assert_eq!(n, 1, "no duplicate secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_field_and_value() {
    let mut s = Secret::new("morket/db");
    s.recovery_window_in_days = 3;
    let e = preview_error(s).await;
    assert!(
        e.contains("recovery_window_in_days") && e.contains('3'),
        "{e}"
    );
    let e = preview_error(Secret::new("bad name")).await;
    assert!(e.contains("name") && e.contains("bad name"), "{e}");

    let arn = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf");
    let e = preview_error(SecretVersion::new(
        arn.as_str(),
        Input::Value("hunter2".into()),
    ))
    .await;
    assert!(
        e.contains("secret_string") && e.contains("must be secret"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "the value is never echoed: {e}");

    let e = preview_error(SecretRotation::managed(arn.as_str(), 1001)).await;
    assert!(
        e.contains("rotation_rules.automatically_after_days") && e.contains("1001"),
        "{e}"
    );

    let mut r = Repository::new("morket/backend");
    r.image_tag_mutability = "SOMETIMES".into();
    let e = preview_error(r).await;
    assert!(
        e.contains("image_tag_mutability") && e.contains("SOMETIMES"),
        "{e}"
    );
    let e = preview_error(Repository::new("Morket")).await;
    assert!(e.contains("name") && e.contains("Morket"), "{e}");

    let e = preview_error(LifecyclePolicy::new(
        "morket/backend",
        vec![LifecycleRule::keep_newest(1, "tagged", &[], 10)],
    ))
    .await;
    assert!(
        e.contains("policy.rules[0].selection.tag_status") && e.contains("tagged"),
        "{e}"
    );
    let e = preview_error(LifecyclePolicy::new(
        "morket/backend",
        vec![
            LifecycleRule::keep_newest(5, "tagged", &["v"], 10),
            LifecycleRule::expire_after_days(5, "untagged", 7),
        ],
    ))
    .await;
    assert!(
        e.contains("policy.rules[1].rule_priority") && e.contains('5'),
        "{e}"
    );

    let e = preview_error(RepositoryPolicy::new("morket/backend", "{not json")).await;
    assert!(e.contains("policy") && e.contains("{not json"), "{e}");
}

// ---------------------------------------------------------------- ECR

fn pull_policy(principal: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "pull",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }],
    })
    .to_string()
}

struct Registry {
    st: Stack,
    repo: Resource<Repository>,
    lifecycle: Resource<LifecyclePolicy>,
    policy: Resource<RepositoryPolicy>,
}

fn registry(r: &Repository, rules: Vec<LifecycleRule>, policy: &str) -> Registry {
    let mut st = Stack::new(STACK).unwrap();
    let repo = st.root().resource("backend", r.clone()).unwrap();
    let lifecycle = st
        .root()
        .resource(
            "backend-lifecycle",
            LifecyclePolicy::new(repo.name(), rules),
        )
        .unwrap();
    let policy = st
        .root()
        .resource("backend-policy", RepositoryPolicy::new(repo.name(), policy))
        .unwrap();
    Registry {
        st,
        repo,
        lifecycle,
        policy,
    }
}

fn rules() -> Vec<LifecycleRule> {
    vec![
        LifecycleRule::keep_newest(1, "tagged", &["v"], 30),
        LifecycleRule::expire_after_days(2, "untagged", 7),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_lifecycle_and_policies() {
    let mut e = env().await;
    let mut r = Repository::new("morket/backend");
    r.image_tag_mutability = "IMMUTABLE".into();
    r.image_scanning_configuration.scan_on_push = true;
    r.tags.insert("Name".into(), "backend".into());
    let reader = format!("arn:aws:iam::{ACCOUNT}:root");

    // Create: scan on push, immutable tags, AES256, every tag; the lifecycle
    // and access policies as ECR keeps them.
    let g = registry(&r, rules(), &pull_policy(&reader));
    let plan = e.up_stable(&g.st).await;
    assert_eq!(plan.counts().create, 3);
    let live = e.repo("morket/backend").await.expect("repository");
    assert_eq!(
        live.image_tag_mutability().map(|m| m.as_str()),
        Some("IMMUTABLE")
    );
    assert!(live.image_scanning_configuration().unwrap().scan_on_push());
    let arn = format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/morket/backend");
    assert_eq!(live.repository_arn(), Some(arn.as_str()));
    let out = e.outputs(&g.repo);
    assert_eq!(out["arn"], arn);
    assert_eq!(out["name"], "morket/backend");
    assert_eq!(out["registry_id"], ACCOUNT);
    assert_eq!(
        out["repository_url"],
        format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/morket/backend")
    );
    let t = e.repo_tags(&arn).await;
    assert_eq!(t["Name"], "backend");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), g.repo.urn().as_str());
    let text = e
        .ecr
        .get_lifecycle_policy()
        .repository_name("morket/backend")
        .send()
        .await
        .unwrap()
        .lifecycle_policy_text()
        .unwrap()
        .to_string();
    assert_eq!(
        parsed(&text),
        json!({"rules": [
            {"rulePriority": 1, "action": {"type": "expire"}, "selection":
                {"tagStatus": "tagged", "tagPrefixList": ["v"],
                 "countType": "imageCountMoreThan", "countNumber": 30}},
            {"rulePriority": 2, "action": {"type": "expire"}, "selection":
                {"tagStatus": "untagged", "countType": "sinceImagePushed",
                 "countUnit": "days", "countNumber": 7}},
        ]})
    );
    let policy = e
        .ecr
        .get_repository_policy()
        .repository_name("morket/backend")
        .send()
        .await
        .unwrap();
    assert_eq!(
        parsed(policy.policy_text().unwrap()),
        parsed(&pull_policy(&reader))
    );
    assert_eq!(e.outputs(&g.lifecycle)["registry_id"], ACCOUNT);
    assert_eq!(e.outputs(&g.policy)["repository"], "morket/backend");

    // The same policy pretty-printed: no change.
    let pretty = serde_json::to_string_pretty(&parsed(&pull_policy(&reader))).unwrap();
    e.no_changes(&registry(&r, rules(), &pretty).st).await;

    // Update in place: mutability, tags, the rules, the policy. (Turning
    // scan on push off is covered with aws-smithy-mocks: the SDK leaves a
    // false `scanOnPush` out, which AWS reads as false and moto ignores.)
    r.image_tag_mutability = "MUTABLE".into();
    r.tags.insert("Team".into(), "platform".into());
    let mut rules2 = rules();
    rules2[0].selection.count_number = 50;
    rules2[1].description = Some("untagged go after a week".into());
    let other = format!("arn:aws:iam::{ACCOUNT}:role/ci");
    let g = registry(&r, rules2.clone(), &pull_policy(&other));
    let plan = e.up_stable(&g.st).await;
    assert_eq!(step(&plan, &g.repo).action, Action::Update);
    assert_eq!(
        step(&plan, &g.repo).changed,
        vec!["image_tag_mutability", "tags"]
    );
    assert_eq!(step(&plan, &g.lifecycle).action, Action::Update);
    assert_eq!(step(&plan, &g.policy).action, Action::Update);
    let live = e.repo("morket/backend").await.unwrap();
    assert_eq!(
        live.image_tag_mutability().map(|m| m.as_str()),
        Some("MUTABLE")
    );
    assert!(live.image_scanning_configuration().unwrap().scan_on_push());
    assert_eq!(e.repo_tags(&arn).await["Team"], "platform");
    let text = e
        .ecr
        .get_lifecycle_policy()
        .repository_name("morket/backend")
        .send()
        .await
        .unwrap()
        .lifecycle_policy_text()
        .unwrap()
        .to_string();
    assert_eq!(
        LifecycleDocument::from_json(&text),
        Some(LifecycleDocument {
            rules: rules2.clone()
        })
    );
    let policy = e
        .ecr
        .get_repository_policy()
        .repository_name("morket/backend")
        .send()
        .await
        .unwrap();
    assert_eq!(
        parsed(policy.policy_text().unwrap()),
        parsed(&pull_policy(&other))
    );

    // Drift: mutability, scanning, the rules and the policy changed by hand.
    e.ecr
        .put_image_tag_mutability()
        .repository_name("morket/backend")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    e.ecr
        .put_lifecycle_policy()
        .repository_name("morket/backend")
        .lifecycle_policy_text(
            LifecycleDocument {
                rules: vec![LifecycleRule::expire_after_days(1, "any", 3)],
            }
            .to_json()
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    e.ecr
        .set_repository_policy()
        .repository_name("morket/backend")
        .policy_text(pull_policy(&reader))
        .send()
        .await
        .unwrap();
    let read_repo = e.read(&g.repo).await.expect("live");
    assert_eq!(read_repo["image_tag_mutability"], "IMMUTABLE");
    assert_eq!(
        read_repo["tags"],
        json!({"Name": "backend", "Team": "platform"})
    );
    let read_lc = e.read(&g.lifecycle).await.expect("live");
    assert_eq!(
        read_lc["policy"]["rules"][0]["selection"]["tag_status"],
        "any"
    );
    let read_pol = e.read(&g.policy).await.expect("live");
    assert_eq!(
        parsed(read_pol["policy"].as_str().unwrap()),
        parsed(&pull_policy(&reader))
    );
    assert_eq!(drift(&e, &g.repo, &read_repo), vec!["image_tag_mutability"]);
    assert_eq!(drift(&e, &g.lifecycle, &read_lc), vec!["policy"]);
    assert_eq!(drift(&e, &g.policy, &read_pol), vec!["policy"]);

    // Force-new: KMS encryption replaces the repository (delete first: the
    // name stays), and its policies with it.
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/0f3d5e3c-6c1c-4b7e-9d55-4b7a1c2d3e4f");
    r.encryption_configuration = Some(EncryptionConfiguration::kms(key.as_str()));
    let g = registry(&r, rules2.clone(), &pull_policy(&other));
    let plan = e.up_stable(&g.st).await;
    assert_eq!(step(&plan, &g.repo).action, Action::Replace);
    assert_eq!(
        step(&plan, &g.repo).replace_fields,
        vec!["encryption_configuration"]
    );
    let live = e.repo("morket/backend").await.unwrap();
    let enc = live.encryption_configuration().unwrap();
    assert_eq!(enc.encryption_type().as_str(), "KMS");
    assert_eq!(enc.kms_key(), Some(key.as_str()));
    assert!(e
        .ecr
        .get_lifecycle_policy()
        .repository_name("morket/backend")
        .send()
        .await
        .is_ok());
    assert!(e
        .ecr
        .get_repository_policy()
        .repository_name("morket/backend")
        .send()
        .await
        .is_ok());

    // A repository holding an image is deleted only with force_delete.
    e.ecr
        .put_image()
        .repository_name("morket/backend")
        .image_tag("v1")
        .image_manifest(
            json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": 7023, "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
                "layers": []})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let mut only_repo = Stack::new(STACK).unwrap();
    only_repo.root().resource("backend", r.clone()).unwrap();
    let (_, report) = e.h.eng.destroy(&only_repo, &e.h.cancel).await.unwrap();
    assert!(!report.is_success());
    let msg = shared::failures(&report).join("\n");
    assert!(msg.contains("force_delete"), "{msg}");
    assert!(e.repo("morket/backend").await.is_some());
    r.force_delete = true;
    let mut only_repo = Stack::new(STACK).unwrap();
    let repo = only_repo.root().resource("backend", r.clone()).unwrap();
    let plan = e.up_stable(&only_repo).await;
    assert_eq!(step(&plan, &repo).changed, vec!["force_delete"]);
    let (_, report) = e.h.eng.destroy(&only_repo, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.repo("morket/backend").await.is_none());
    assert!(e.st.resources().unwrap().is_empty());
}

/// Rotation of the RDS-managed master secret: every 30 days, no Lambda.
/// aws-smithy-mocks stands in for Secrets Manager: moto's rotate_secret
/// without a Lambda breaks the secret's AWSCURRENT version.
mod rotation {
    use std::sync::Arc;

    use aws_sdk_secretsmanager::operation::cancel_rotate_secret::CancelRotateSecretOutput;
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    use aws_sdk_secretsmanager::operation::rotate_secret::RotateSecretOutput;
    use aws_sdk_secretsmanager::types::RotationRulesType;
    use aws_sdk_secretsmanager::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use morket_stack::provider::aws::Aws;

    use super::*;
    use support::aws::{ctx, registry};

    const ARN: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-0a1b2c-AbCdEf";

    fn described(days: Option<i64>) -> DescribeSecretOutput {
        DescribeSecretOutput::builder()
            .arn(ARN)
            .name("rds!cluster-0a1b2c")
            .owning_service("rds")
            .rotation_enabled(days.is_some())
            .set_rotation_rules(days.map(|d| {
                RotationRulesType::builder()
                    .automatically_after_days(d)
                    .build()
            }))
            .build()
    }

    fn v(x: &impl serde::Serialize) -> Value {
        serde_json::to_value(x).unwrap()
    }

    #[tokio::test]
    async fn managed_secret_rotates_every_30_days_without_a_lambda() {
        let rotate = mock!(Client::rotate_secret)
            .match_requests(|r| {
                r.secret_id() == Some(ARN)
                    && r.rotation_lambda_arn().is_none()
                    && r.rotate_immediately() == Some(false)
                    && r.rotation_rules()
                        .and_then(|x| x.automatically_after_days())
                        == Some(30)
                    && r.rotation_rules()
                        .and_then(|x| x.schedule_expression())
                        .is_none()
            })
            .then_output(|| RotateSecretOutput::builder().arn(ARN).build());
        let describe = mock!(Client::describe_secret).then_output(|| described(Some(30)));
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            &[&rotate, &describe]
        );
        let reg = registry(Arc::new(Aws::new(settings()).with_secretsmanager(client)));
        let p = reg.get(SecretRotation::TYPE).unwrap();
        let r = SecretRotation::managed(ARN, 30);
        let cx = ctx(&Urn::new(STACK, "", SecretRotation::TYPE, "master"));
        let made = p.create(&cx, &v(&r)).await.unwrap();
        assert_eq!(made.id, ARN);
        assert_eq!(made.outputs["arn"], ARN);
        assert_eq!(rotate.num_calls(), 1);
        // The read gives back the declaration.
        let read = p
            .read(&cx, ARN, &v(&r), &made.outputs)
            .await
            .unwrap()
            .expect("live");
        assert_eq!(read.inputs, v(&r));
        assert!(p.diff(&read.inputs, &v(&r)).is_empty());
    }

    #[tokio::test]
    async fn schedule_changes_in_place_and_delete_cancels_rotation() {
        let rotate = mock!(Client::rotate_secret)
            .match_requests(|r| {
                r.rotation_rules().and_then(|x| x.schedule_expression()) == Some("rate(10 days)")
                    && r.rotation_rules()
                        .and_then(|x| x.automatically_after_days())
                        .is_none()
                    && r.rotation_rules().and_then(|x| x.duration()) == Some("3h")
            })
            .then_output(|| RotateSecretOutput::builder().arn(ARN).build());
        // AWS reports the days it works out from a schedule: not a change.
        let describe = mock!(Client::describe_secret).then_output(|| {
            let mut d = described(Some(10));
            d.rotation_rules = Some(
                RotationRulesType::builder()
                    .automatically_after_days(10)
                    .schedule_expression("rate(10 days)")
                    .duration("3h")
                    .build(),
            );
            d
        });
        let cancel = mock!(Client::cancel_rotate_secret)
            .match_requests(|r| r.secret_id() == Some(ARN))
            .then_output(|| CancelRotateSecretOutput::builder().arn(ARN).build());
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            &[&rotate, &describe, &cancel]
        );
        let reg = registry(Arc::new(Aws::new(settings()).with_secretsmanager(client)));
        let p = reg.get(SecretRotation::TYPE).unwrap();
        let cx = ctx(&Urn::new(STACK, "", SecretRotation::TYPE, "master"));
        let old = SecretRotation::managed(ARN, 30);
        let mut new = old.clone();
        new.rotation_rules = RotationRules {
            automatically_after_days: None,
            schedule_expression: Some("rate(10 days)".into()),
            duration: Some("3h".into()),
        };
        let d = p.diff(&v(&old), &v(&new));
        assert_eq!(d.changed, vec!["rotation_rules"]);
        assert!(d.replace.is_empty(), "in place");
        let out = p
            .update(&cx, ARN, &v(&old), &v(&new), &json!({"arn": ARN}))
            .await
            .unwrap();
        assert_eq!(out["arn"], ARN);
        assert_eq!(rotate.num_calls(), 1);
        let read = p
            .read(&cx, ARN, &v(&new), &out)
            .await
            .unwrap()
            .expect("live");
        assert!(p.diff(&read.inputs, &v(&new)).is_empty(), "{read:?}");
        // RDS manages this secret: its rotation goes with it, nothing to cancel.
        p.delete(&cx, ARN, &v(&new), &out).await.unwrap();
        assert_eq!(cancel.num_calls(), 0);
    }

    #[tokio::test]
    async fn delete_cancels_the_rotation_of_a_secret_of_ours() {
        let describe = mock!(Client::describe_secret).then_output(|| {
            let mut d = described(Some(30));
            d.owning_service = None;
            d
        });
        let cancel = mock!(Client::cancel_rotate_secret)
            .match_requests(|r| r.secret_id() == Some(ARN))
            .then_output(|| CancelRotateSecretOutput::builder().arn(ARN).build());
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            &[&describe, &cancel]
        );
        let reg = registry(Arc::new(Aws::new(settings()).with_secretsmanager(client)));
        let p = reg.get(SecretRotation::TYPE).unwrap();
        let cx = ctx(&Urn::new(STACK, "", SecretRotation::TYPE, "own"));
        let r = SecretRotation::managed(ARN, 30);
        p.delete(&cx, ARN, &v(&r), &json!({"arn": ARN}))
            .await
            .unwrap();
        assert_eq!(cancel.num_calls(), 1);
    }

    #[tokio::test]
    async fn rotation_turned_off_by_hand_is_drift() {
        let describe = mock!(Client::describe_secret).then_output(|| described(None));
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&describe]);
        let reg = registry(Arc::new(Aws::new(settings()).with_secretsmanager(client)));
        let p = reg.get(SecretRotation::TYPE).unwrap();
        let cx = ctx(&Urn::new(STACK, "", SecretRotation::TYPE, "master"));
        let r = SecretRotation::managed(ARN, 30);
        let read = p
            .read(&cx, ARN, &v(&r), &json!({}))
            .await
            .unwrap()
            .expect("the secret is there");
        assert_eq!(p.diff(&read.inputs, &v(&r)).changed, vec!["rotation_rules"]);
        // Nothing adopts a secret that does not rotate.
        assert!(p.find_by_urn(&cx, &v(&r)).await.unwrap().is_empty());
    }
}

/// AWS answers that moto gives differently, with aws-smithy-mocks.
mod aws_answers {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
    use aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_ecr::operation::put_image_scanning_configuration::PutImageScanningConfigurationOutput;
    use aws_sdk_ecr::types::{
        ImageScanningConfiguration, ImageTagMutability, Repository as EcrRepository,
    };
    use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    use aws_sdk_secretsmanager::operation::restore_secret::RestoreSecretOutput;
    use aws_sdk_secretsmanager::types::error::InvalidRequestException;
    use aws_sdk_secretsmanager::types::Tag;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use aws_smithy_types::DateTime;
    use morket_stack::provider::aws::Aws;

    use super::*;
    use support::aws::{ctx, registry};

    fn v(x: &impl serde::Serialize) -> Value {
        serde_json::to_value(x).unwrap()
    }

    /// The SDK sends no `scanOnPush` for false; AWS reads that as off
    /// (moto keeps the old setting).
    #[tokio::test]
    async fn scan_on_push_off_is_an_update_in_place() {
        let arn = format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/morket/backend");
        let put = mock!(aws_sdk_ecr::Client::put_image_scanning_configuration)
            .match_requests(|r| {
                r.repository_name() == Some("morket/backend")
                    && r.image_scanning_configuration()
                        .is_some_and(|c| !c.scan_on_push())
            })
            .then_output(|| PutImageScanningConfigurationOutput::builder().build());
        let a = arn.clone();
        let describe = mock!(aws_sdk_ecr::Client::describe_repositories).then_output(move || {
            DescribeRepositoriesOutput::builder()
                .repositories(
                    EcrRepository::builder()
                        .repository_name("morket/backend")
                        .repository_arn(&a)
                        .registry_id(ACCOUNT)
                        .repository_uri(format!(
                            "{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/morket/backend"
                        ))
                        .image_tag_mutability(ImageTagMutability::Immutable)
                        .image_scanning_configuration(
                            ImageScanningConfiguration::builder()
                                .scan_on_push(false)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let tags = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
            .then_output(|| ListTagsForResourceOutput::builder().build());
        let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&put, &describe, &tags]);
        let reg = registry(Arc::new(Aws::new(settings()).with_ecr(client)));
        let p = reg.get(Repository::TYPE).unwrap();
        let cx = ctx(&Urn::new(STACK, "", Repository::TYPE, "backend"));
        let mut old = Repository::new("morket/backend");
        old.image_tag_mutability = "IMMUTABLE".into();
        old.image_scanning_configuration.scan_on_push = true;
        let mut new = old.clone();
        new.image_scanning_configuration.scan_on_push = false;
        let d = p.diff(&v(&old), &v(&new));
        assert_eq!(d.changed, vec!["image_scanning_configuration"]);
        assert!(d.replace.is_empty());
        let out = p
            .update(&cx, "morket/backend", &v(&old), &v(&new), &json!({}))
            .await
            .unwrap();
        assert_eq!(put.num_calls(), 1);
        assert_eq!(out["arn"], arn);
        let read = p
            .read(&cx, "morket/backend", &v(&new), &out)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.inputs, v(&new));
    }

    /// AWS refuses a name held by a deleted secret with
    /// InvalidRequestException "scheduled for deletion" (moto answers
    /// ResourceExistsException). Ours is restored and the create goes on.
    #[tokio::test]
    async fn a_name_held_by_our_deleted_secret_is_restored() {
        const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:morket/db-AbCdEf";
        let urn = Urn::new(STACK, "", Secret::TYPE, "db");
        let restored = Arc::new(AtomicBool::new(false));
        let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_error(|| {
            let m = "You can't create this secret because a secret with this name is already \
                     scheduled for deletion.";
            CreateSecretError::InvalidRequestException(
                InvalidRequestException::builder()
                    .message(m)
                    .meta(
                        ErrorMetadata::builder()
                            .code("InvalidRequestException")
                            .message(m)
                            .build(),
                    )
                    .build(),
            )
        });
        let (r, u) = (restored.clone(), urn.to_string());
        let describe =
            mock!(aws_sdk_secretsmanager::Client::describe_secret).then_output(move || {
                DescribeSecretOutput::builder()
                    .arn(ARN)
                    .name("morket/db")
                    .set_deleted_date((!r.load(Ordering::SeqCst)).then(|| DateTime::from_secs(1)))
                    .tags(Tag::builder().key("morket:urn").value(&u).build())
                    .build()
            });
        let r = restored.clone();
        let restore = mock!(aws_sdk_secretsmanager::Client::restore_secret)
            .match_requests(|x| x.secret_id() == Some(ARN))
            .then_output(move || {
                r.store(true, Ordering::SeqCst);
                RestoreSecretOutput::builder().arn(ARN).build()
            });
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            &[&create, &describe, &restore]
        );
        let reg = registry(Arc::new(Aws::new(settings()).with_secretsmanager(client)));
        let p = reg.get(Secret::TYPE).unwrap();
        let made = p
            .create(&ctx(&urn), &v(&Secret::new("morket/db")))
            .await
            .unwrap();
        assert_eq!(made.id, ARN);
        assert_eq!(create.num_calls(), 1, "no retries: the name is ours");
        assert_eq!(restore.num_calls(), 1);

        // Someone else's: no restore; the create is retried while a force
        // delete would free the name, then fails with AWS's message.
        restored.store(false, Ordering::SeqCst);
        let other = ctx(&Urn::new(STACK, "", Secret::TYPE, "other"));
        let e = p
            .create(&other, &v(&Secret::new("morket/db")))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheduled for deletion"), "{e}");
        assert_eq!(restore.num_calls(), 1);
        assert!(create.num_calls() > 2, "retried: {}", create.num_calls());
    }
}
