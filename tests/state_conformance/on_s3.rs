//! The S3 backend on moto: the suite's factory, and what only a remote
//! state has (forced releases fencing a live holder, one request per
//! checkpoint, kill -9 between checkpoints, versions and rollback).

use super::*;
use crate::support::moto::{moto, Moto};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use morket_stack::state::remote::{RemoteStore, LOCK_GENERATION_META};
use morket_stack::state::s3::{S3Blob, S3Url};

pub const BUCKET: &str = "state-test";

pub struct S3Backend {
    _moto: Option<Moto>,
    pub moto_url: String,
    pub url: S3Url,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// SDK config for moto at `url`, loaded without a request: each store gets
/// its own, so no pooled connection outlives the runtime that made it.
fn config(url: &str) -> aws_config::SdkConfig {
    block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "moto",
            ))
            .load(),
    )
}

fn s3_client(url: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config(url))
            .force_path_style(true)
            .build(),
    )
}

/// A fresh moto with a versioned bucket; the state under `team/stacks`.
pub fn backend() -> S3Backend {
    let m = moto();
    let url = m.url.clone();
    let s3 = s3_client(&url);
    block_on(async {
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        s3.put_bucket_versioning()
            .bucket(BUCKET)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    S3Backend {
        _moto: Some(m),
        moto_url: url,
        url: S3Url::parse(&format!("s3://{BUCKET}/team/stacks")).unwrap(),
    }
}

impl S3Backend {
    /// The same bucket, another prefix (a second, separate state).
    pub fn at(&self, prefix: &str) -> S3Backend {
        S3Backend {
            _moto: None,
            moto_url: self.moto_url.clone(),
            url: S3Url::parse(&format!("s3://{BUCKET}/{prefix}")).unwrap(),
        }
    }

    pub fn store(&self) -> RemoteStore<S3Blob> {
        let blob = S3Blob::with_config(self.url.clone(), &config(&self.moto_url)).unwrap();
        RemoteStore::open(blob, &self.url.prefix, STACK).unwrap()
    }

    pub fn raw(&self) -> impl Fn() -> Box<dyn StateStore> + '_ {
        move || Box::new(self.store()) as Box<dyn StateStore>
    }

    pub fn factory(&self) -> impl Fn() -> Box<dyn StateStore> + '_ {
        move || keyed(self.raw()())
    }

    /// The state object's bytes, straight from the bucket.
    pub fn object(&self) -> Vec<u8> {
        let key = format!("{}/{STACK}.db", self.url.prefix);
        let s3 = s3_client(&self.moto_url);
        block_on(async {
            s3.get_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
                .to_vec()
        })
    }
}

#[test]
fn s3_export_import_roundtrip() {
    let a = backend();
    let b = a.at("other");
    export_import_roundtrip(&a.factory(), &b.factory());
}

#[test]
fn s3_wrong_key_refused() {
    let b = backend();
    wrong_key_refused(&b.factory(), &b.raw());
}

#[test]
fn s3_no_key_no_plaintext() {
    let b = backend();
    no_key_no_plaintext(&b.factory(), &b.raw());
}

#[test]
fn s3_secret_plaintext_never_stored() {
    let b = backend();
    let mut s = b.factory()();
    let mut r = res("a", "a");
    r.inputs["password"] = json!({"$secret": CANARY});
    apply(&mut *s, "a", OpKind::Create, OpEffect::Upsert(r));
    s.begin_op(&op("c", OpKind::Create, json!({"pw": {"$secret": CANARY}})))
        .unwrap();
    let bytes = b.object();
    assert!(contains(&bytes, "test:x/Thing"), "sanity: plain data");
    assert!(
        !contains(&bytes, CANARY),
        "secret plaintext in the S3 object"
    );
    let again = b.factory()();
    let r = again.resource(&urn("a")).unwrap().unwrap();
    assert_eq!(r.inputs["password"], json!({"$secret": CANARY}));
}

/// One checkpoint is one conditional PUT: nothing is read first, and the
/// row is in the bucket when `begin_op` returns.
#[test]
fn s3_a_checkpoint_is_one_conditional_put() {
    let b = backend();
    let mut s = b.factory()();
    let info = new_lock_info("up");
    s.try_lock(&info).unwrap();
    s.set_fence(Some(info.id.clone()));
    b._moto.as_ref().unwrap().clear_requests();
    let id = s.begin_op(&op("a", OpKind::Create, json!({}))).unwrap();
    let seen = b._moto.as_ref().unwrap().requests();
    let calls: Vec<String> = seen
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("PUT ") && calls[0].ends_with("/dev.db"),
        "{calls:?}"
    );
    assert_eq!(b.factory()().pending().unwrap().len(), 1, "durable in S3");
    s.end_op(id, &OpEffect::Upsert(res("a", "a1"))).unwrap();
    assert_eq!(
        b.factory()().resources().unwrap(),
        vec![res("a", "a1")],
        "the result too"
    );
    s.unlock(&info.id).unwrap();
}

/// `lock release` of a live holder's lock: the holder stops at its next
/// write even when nobody has taken the lock since, and writes nothing.
#[test]
fn s3_forced_release_stops_the_holder_at_its_next_write() {
    let b = backend();
    let mut holder = b.factory()();
    let info = new_lock_info("up");
    holder.try_lock(&info).unwrap();
    holder.set_fence(Some(info.id.clone()));
    let pid = holder
        .begin_op(&op("a", OpKind::Create, json!({})))
        .unwrap();
    let before = b.object();

    let mut admin = b.factory()();
    admin.unlock(&info.id).unwrap();
    assert_eq!(admin.lock_status().unwrap(), None);

    match holder.end_op(pid, &OpEffect::Upsert(res("a", "a1"))) {
        Err(StateError::LockLost { held, now }) => {
            assert_eq!(held, info.id);
            assert_eq!(now, "nobody");
        }
        r => panic!("expected LockLost, got {r:?}"),
    }
    let after = b.factory()();
    assert!(after.resources().unwrap().is_empty(), "nothing overwritten");
    assert_eq!(
        after.pending().unwrap().len(),
        1,
        "a's row stays for settling"
    );
    assert_ne!(b.object(), before, "the release bumped the generation");
    // The next holder takes over from the state the old one left.
    let mut next = b.factory()();
    let theirs = new_lock_info("up");
    next.try_lock(&theirs).unwrap();
    assert_eq!(next.pending().unwrap().len(), 1);
    assert_eq!(
        next.meta(LOCK_GENERATION_META).unwrap().as_deref(),
        Some("3"),
        "taken, forced free, taken again"
    );
    next.unlock(&theirs.id).unwrap();
}

const S3_VICTIM_ENV: &str = "MORKET_STATE_TEST_S3_VICTIM";

/// What a process checkpointed to S3 survives `kill -9`; a handle opened
/// elsewhere sees its rows, and its lock is reported with its holder.
#[test]
fn s3_checkpoints_survive_kill_9() {
    use std::io::BufRead;
    if let Ok(spec) = std::env::var(S3_VICTIM_ENV) {
        let (moto_url, url) = spec.split_once('\n').unwrap();
        let url = S3Url::parse(url).unwrap();
        let blob = S3Blob::with_config(url.clone(), &config(moto_url)).unwrap();
        let mut s = keyed(Box::new(
            RemoteStore::open(blob, &url.prefix, STACK).unwrap(),
        ));
        let info = new_lock_info("up");
        s.try_lock(&info).unwrap();
        s.set_fence(Some(info.id));
        let mut r = res("a", "a");
        r.inputs["pw"] = json!({"$secret": "x"});
        apply(&mut *s, "a", OpKind::Create, OpEffect::Upsert(r));
        s.begin_op(&op("b", OpKind::Create, json!({}))).unwrap();
        println!("VICTIM COMMITTED");
        std::thread::sleep(std::time::Duration::from_secs(60));
        return;
    }
    let b = backend();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "on_s3::s3_checkpoints_survive_kill_9",
            "--nocapture",
        ])
        .env(S3_VICTIM_ENV, format!("{}\n{}", b.moto_url, b.url))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let committed = out
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("VICTIM COMMITTED"));
    assert!(committed, "victim did not get to commit");
    child.kill().unwrap();
    child.wait().unwrap();
    let s = b.factory()();
    let a = s.resource(&urn("a")).unwrap().expect("checkpointed row");
    assert_eq!(a.inputs["pw"], json!({"$secret": "x"}));
    assert_eq!(s.pending().unwrap().len(), 1);
    let holder = s.lock_status().unwrap().expect("the victim's lock");
    assert_eq!(holder.pid, child.id());
    // Same host, boot and namespace, process gone: provably stale.
    let r = b.raw()().try_lock(&new_lock_info("up"));
    match r {
        Err(StateError::Locked(held)) => assert!(held.stale),
        r => panic!("expected Locked, got {r:?}"),
    }
}

/// A deleted state object is not taken for a new, empty state (the next
/// `up` would create everything again): opening fails, saying how to
/// restore it, and restoring a version brings back the state as it was.
#[test]
fn s3_a_deleted_state_is_refused_then_restored_from_a_version() {
    use morket_stack::state::remote::{self, Blob};
    let b = backend();
    let mut s = b.factory()();
    apply(
        &mut *s,
        "a",
        OpKind::Create,
        OpEffect::Upsert(res("a", "a1")),
    );
    let lineage = s.lineage().unwrap();
    drop(s);
    let key = format!("{}/{STACK}.db", b.url.prefix);
    let s3 = s3_client(&b.moto_url);
    block_on(async {
        s3.delete_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap()
    });
    let blob = S3Blob::with_config(b.url.clone(), &config(&b.moto_url)).unwrap();
    let err = RemoteStore::open(blob, &b.url.prefix, STACK).unwrap_err();
    assert!(err.to_string().contains("was deleted"), "{err}");
    assert!(err.to_string().contains("state rollback"), "{err}");

    let blob = S3Blob::with_config(b.url.clone(), &config(&b.moto_url)).unwrap();
    let versions = remote::list_versions(&blob, &b.url.prefix, STACK, 10).unwrap();
    assert!(
        versions[0].0.deleted,
        "newest is the delete marker: {versions:?}"
    );
    let (v, summary) = versions
        .iter()
        .find(|(_, s)| s.is_some_and(|(_, r, _)| r == 1))
        .expect("a version holding a");
    assert!(summary.is_some());
    let info = new_lock_info("state rollback");
    assert!(remote::restore_deleted(&blob, &b.url.prefix, STACK, &v.id, &info).unwrap());
    assert!(blob
        .get(&format!("{}/{STACK}.lock", b.url.prefix))
        .unwrap()
        .is_none());
    let s = b.factory()();
    assert_eq!(s.lineage().unwrap(), lineage);
    assert_eq!(s.resources().unwrap(), vec![res("a", "a1")]);
    // Not deleted now: nothing to restore.
    assert!(!remote::restore_deleted(&blob, &b.url.prefix, STACK, &v.id, &info).unwrap());
}

/// An SDK retry of a lock PUT that had landed finds our own lock: taken,
/// not "locked by" ourselves.
#[test]
fn s3_a_lock_put_that_landed_before_its_retry_is_ours() {
    use morket_stack::state::remote::{Blob, Cond};
    let b = backend();
    let mut s = b.factory()();
    let info = new_lock_info("up");
    let blob = S3Blob::with_config(b.url.clone(), &config(&b.moto_url)).unwrap();
    let body = serde_json::to_vec(&info).unwrap();
    blob.put(
        &format!("{}/{STACK}.lock", b.url.prefix),
        &body,
        Cond::Absent,
    )
    .unwrap();
    s.try_lock(&info).unwrap();
    s.set_fence(Some(info.id.clone()));
    apply(
        &mut *s,
        "a",
        OpKind::Create,
        OpEffect::Upsert(res("a", "a1")),
    );
    s.set_fence(None);
    s.unlock(&info.id).unwrap();
    assert_eq!(b.factory()().lock_status().unwrap(), None);
}
