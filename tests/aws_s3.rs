//! aws:s3/Bucket through the engine against moto: create with every
//! configuration (read back with the SDK), update each in place, drift read,
//! no-op preview, a bucket holding objects refused without force_destroy and
//! emptied with it, adoption of an interrupted create by its URN tag, and a
//! same-named bucket that is not ours refused, naming the field.

mod support;

use std::ops::{Deref, DerefMut};

use morket_stack::model::{HasUrn, Stack, Urn};
use morket_stack::plan::Action;
use morket_stack::provider::aws::s3::bucket::{
    Bucket, LifecycleRule, LifecycleTransition, Logging,
};
use morket_stack::state::StateStore;
use serde_json::{json, Value};
use support::aws::{self as shared, settings, step, tag_urn, STACK};

struct Env {
    h: shared::Env,
    s3: aws_sdk_s3::Client,
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
    let conf = aws_sdk_s3::config::Builder::from(&h.conf)
        .force_path_style(true)
        .build();
    Env {
        s3: aws_sdk_s3::Client::from_conf(conf),
        h,
    }
}

impl Env {
    async fn tags(&self, b: &str) -> std::collections::BTreeMap<String, String> {
        self.s3
            .get_bucket_tagging()
            .bucket(b)
            .send()
            .await
            .map(|o| {
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn exists(&self, b: &str) -> bool {
        self.s3.head_bucket().bucket(b).send().await.is_ok()
    }

    async fn policy(&self, b: &str) -> Option<Value> {
        self.s3
            .get_bucket_policy()
            .bucket(b)
            .send()
            .await
            .ok()
            .and_then(|o| o.policy().map(|p| serde_json::from_str(p).unwrap()))
    }
}

fn one(b: &Bucket) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let u = st.root().resource("logs", b.clone()).unwrap().urn().clone();
    (st, u)
}

fn log_delivery_policy(bucket: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "elb-log-delivery",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::127311923021:root"},
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/alb/AWSLogs/123456789012/*"),
        }],
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_lifecycle() {
    let mut e = env().await;
    let name = "morket-staging-alb-logs";
    let mut b = Bucket::private(name);
    b.lifecycle_rules = vec![LifecycleRule {
        id: "expire-logs".into(),
        enabled: true,
        prefix: "alb/".into(),
        expiration_days: Some(90),
        abort_incomplete_multipart_upload_days: Some(7),
        transitions: vec![LifecycleTransition {
            days: 30,
            storage_class: "STANDARD_IA".into(),
        }],
        ..Default::default()
    }];
    b.policy = Some(log_delivery_policy(name).into());
    b.tags.insert("Name".into(), "alb-logs".into());

    // Create: every configuration, read back with the SDK.
    let (s1, u) = one(&b);
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let v =
        e.s3.get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    let enc =
        e.s3.get_bucket_encryption()
            .bucket(name)
            .send()
            .await
            .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let pab =
        e.s3.get_public_access_block()
            .bucket(name)
            .send()
            .await
            .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(pab.block_public_acls(), Some(true));
    assert_eq!(pab.restrict_public_buckets(), Some(true));
    let own =
        e.s3.get_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await
            .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let lc =
        e.s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await
            .unwrap();
    let r = &lc.rules()[0];
    assert_eq!(r.id(), Some("expire-logs"));
    assert_eq!(r.expiration().and_then(|x| x.days()), Some(90));
    assert_eq!(r.transitions()[0].days(), Some(30));
    assert_eq!(
        r.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(7)
    );
    assert_eq!(
        e.policy(name).await.unwrap(),
        serde_json::from_str::<Value>(&log_delivery_policy(name)).unwrap()
    );
    let t = e.tags(name).await;
    assert_eq!(t["Name"], "alb-logs");
    assert_eq!(tag_urn(&t["morket:urn"]), u.as_str());
    let out = e.outputs(&u);
    assert_eq!(out["arn"], format!("arn:aws:s3:::{name}"));
    assert_eq!(
        out["bucket_regional_domain_name"],
        format!("{name}.s3.us-east-1.amazonaws.com")
    );

    // Update in place: versioning suspended, a KMS key, lifecycle, policy
    // gone, tags.
    b.versioning = Some("Suspended".into());
    b.lifecycle_rules[0].expiration_days = Some(365);
    b.policy = None;
    b.tags.insert("Team".into(), "platform".into());
    let plan = e.up_stable(&one(&b).0).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    let mut changed = step(&plan, &u).changed.clone();
    changed.sort();
    assert_eq!(
        changed,
        vec!["lifecycle_rules", "policy", "tags", "versioning"]
    );
    let v =
        e.s3.get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Suspended"));
    assert!(e.policy(name).await.is_none());
    assert_eq!(e.tags(name).await["Team"], "platform");

    // Out-of-band change: a read shows it, a preview plans it back.
    e.s3.delete_bucket_lifecycle()
        .bucket(name)
        .send()
        .await
        .unwrap();
    let read = e.read(&u).await.expect("live");
    assert!(read.get("lifecycle_rules").is_none(), "{read}");
    assert_eq!(read["versioning"], "Suspended");

    // A bucket holding objects: refused without force_destroy, with a clear
    // reason; emptied (every version) with it.
    for k in ["a.log", "b.log"] {
        e.s3.put_object()
            .bucket(name)
            .key(k)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let (_, report) = e.h.eng.destroy(&s1, &e.h.cancel).await.unwrap();
    assert!(!report.is_success());
    let msg = shared::failures(&report).join("\n");
    assert!(msg.contains("force_destroy"), "{msg}");
    assert!(e.exists(name).await, "kept");
    b.force_destroy = true;
    let (s2, _) = one(&b);
    // force_destroy is write-only: a change of it alone updates state only.
    e.up(&s2).await;
    let (_, report) = e.h.eng.destroy(&s2, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(!e.exists(name).await);
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_name_replaces_and_validation_precedes_calls() {
    let mut e = env().await;
    let mut b = Bucket::new("morket-exports-a");
    let (s1, u) = one(&b);
    e.up_stable(&s1).await;
    b.bucket = "morket-exports-b".into();
    let plan = e.up_stable(&one(&b).0).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    assert!(!e.exists("morket-exports-a").await);
    assert!(e.exists("morket-exports-b").await);

    // Bad input fails the preview, naming the field and value.
    let mut bad = Bucket::new("Morket_Exports");
    let msg = shared::preview_error(&mut shared::offline_engine(settings()), bad.clone()).await;
    assert!(
        msg.contains("bucket") && msg.contains("Morket_Exports"),
        "{msg}"
    );
    bad.bucket = "morket-ok".into();
    bad.versioning = Some("Yes".into());
    let msg = shared::preview_error(&mut shared::offline_engine(settings()), bad).await;
    assert!(msg.contains("versioning") && msg.contains("Yes"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_is_found_and_a_stranger_is_refused() {
    let mut e = env().await;
    let b = Bucket::private("morket-frontend");
    let (s1, u) = one(&b);
    let inputs = s1.resources()[0].inputs.clone();
    let made = e.interrupted_create(&u, &inputs).await;
    assert_eq!(made.id, "morket-frontend");
    // The next up finds it by its URN tag instead of failing on the name.
    let plan = e.up_stable(&s1).await;
    assert!(e.exists("morket-frontend").await);
    assert_eq!(e.id(&u), "morket-frontend");
    assert!(plan.counts().create <= 1);
    assert_eq!(e.find(&u).await, vec!["morket-frontend".to_string()]);

    let (_, report) = e.h.eng.destroy(&s1, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");

    // Somebody else's bucket of the same name (no URN tag) is not taken over.
    e.s3.create_bucket()
        .bucket("morket-taken")
        .send()
        .await
        .unwrap();
    let (s2, _) = one(&Bucket::new("morket-taken"));
    let (_, report) =
        e.h.eng
            .up(&s2, &Default::default(), &e.h.cancel)
            .await
            .unwrap();
    let msg = shared::failures(&report).join("\n");
    assert!(
        msg.contains("bucket") && msg.contains("morket-taken") && msg.contains("not this resource"),
        "{msg}"
    );
}

/// Server access logs into a second bucket whose policy admits S3's log
/// delivery under the prefix (S3 refuses the configuration otherwise; moto
/// checks the policy, its Resource exactly `<target>/<prefix>*`). Read back with no change on the next
/// plan, moved to another prefix, turned off in place; a target without the
/// grant fails the `up` naming S3's reason, and the bucket logging into
/// itself is refused before any call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_access_logs_into_another_bucket() {
    let mut e = env().await;
    let grant = |prefix: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::morket-s3-logs/{prefix}*"),
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::morket-logged"}},
            }],
        })
        .to_string()
    };
    let stack = |target_policy: Option<String>, logging: Option<&str>| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut target = Bucket::new("morket-s3-logs");
        target.policy = target_policy.map(Into::into);
        let target = root.resource("target", target).unwrap();
        let mut b = Bucket::new("morket-logged");
        b.logging = logging.map(|prefix| Logging {
            target_bucket: target.bucket().into(),
            target_prefix: prefix.into(),
        });
        let u = root.resource("logged", b).unwrap().urn().clone();
        (st, u)
    };
    let logging = |e: &Env| {
        let s3 = e.s3.clone();
        async move {
            s3.get_bucket_logging()
                .bucket("morket-logged")
                .send()
                .await
                .unwrap()
                .logging_enabled()
                .map(|l| (l.target_bucket().to_string(), l.target_prefix().to_string()))
        }
    };

    // No grant: S3's refusal, named, and state keeps the bucket it made.
    let (s0, u) = stack(None, Some("s3/morket-logged/"));
    let msg = e.up_failing(&s0).await;
    assert!(msg.contains("InvalidTargetBucketForLogging"), "{msg}");
    assert!(e.st.resource(&u).unwrap().is_some());

    let (s1, _) = stack(Some(grant("s3/morket-logged/")), Some("s3/morket-logged/"));
    e.up_stable(&s1).await;
    assert_eq!(
        logging(&e).await,
        Some(("morket-s3-logs".into(), "s3/morket-logged/".into()))
    );
    e.no_changes(&s1).await;

    let (s2, _) = stack(Some(grant("s3/other/")), Some("s3/other/"));
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &u).changed, vec!["logging"]);
    assert_eq!(
        logging(&e).await,
        Some(("morket-s3-logs".into(), "s3/other/".into()))
    );

    let (s3, _) = stack(Some(grant("s3/other/")), None);
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(logging(&e).await, None);

    let mut selfish = Bucket::new("morket-selfish");
    selfish.logging = Some(Logging {
        target_bucket: "morket-selfish".into(),
        target_prefix: String::new(),
    });
    let msg = shared::preview_error(&mut shared::offline_engine(settings()), selfish).await;
    assert!(
        msg.contains("logging.target_bucket") && msg.contains("morket-selfish"),
        "{msg}"
    );
}
