//! The S3 state backend against moto: checkpoints per second, requests and
//! bytes per checkpoint, at the size of a production-like state (170
//! resources), beside the local SQLite store on the same machine.
//!
//! `cargo bench --bench state_s3` (starts moto from the venv, or uses
//! `MORKET_TEST_MOTO_URL`) prints one JSON object per line on stdout:
//! `{"bench": NAME, "value": N, "unit": U}`. Commentary goes to stderr.
//! Moto answers in about a millisecond on loopback; S3 from a runner in the
//! bucket's region takes 20-60 ms per PUT, so real rates are lower.

#[path = "../tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

use std::time::Instant;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use morket_stack::model::{ResourceOptions, Urn};
use morket_stack::secrets::Crypter;
use morket_stack::state::remote::RemoteStore;
use morket_stack::state::s3::{S3Blob, S3Url};
use morket_stack::state::{
    lock, LockInfo, OpEffect, OpKind, PendingOp, ResourceState, SqliteStore, StateStore,
};
use serde_json::json;

const STACK: &str = "bench";
const RESOURCES: usize = 170;
const STEPS: usize = 100;

fn emit(name: &str, value: f64, unit: &str) {
    let v = (value * 1000.0).round() / 1000.0;
    println!("{}", json!({"bench": name, "value": v, "unit": unit}));
}

fn row(i: usize) -> ResourceState {
    // About the size of a real row: a dozen inputs, twenty outputs.
    let inputs: serde_json::Map<String, serde_json::Value> = (0..12)
        .map(|k| {
            (
                format!("input_{k}"),
                json!(format!("value-{i}-{k}-abcdefghijklmnop")),
            )
        })
        .collect();
    let outputs: serde_json::Map<String, serde_json::Value> = (0..20)
        .map(|k| {
            (
                format!("output_{k}"),
                json!(format!("arn:aws:svc:us-east-1:123456789012:thing/{i}-{k}")),
            )
        })
        .collect();
    ResourceState {
        urn: Urn::new(STACK, "", "aws:bench/Thing", &format!("thing-{i}")),
        type_name: "aws:bench/Thing".into(),
        id: format!("thing-{i:08x}"),
        inputs: serde_json::Value::Object(inputs),
        outputs: serde_json::Value::Object(outputs),
        dependencies: vec![],
        parent: String::new(),
        options: ResourceOptions::new(),
        tainted: false,
    }
}

fn op(r: &ResourceState) -> PendingOp {
    PendingOp {
        id: 0,
        urn: r.urn.clone(),
        kind: OpKind::Update,
        type_name: r.type_name.clone(),
        resource_id: r.id.clone(),
        inputs: r.inputs.clone(),
        started_at: "2026-12-06T00:00:00Z".into(),
    }
}

/// Fills `s` with the production-sized state under the lock; returns the lock.
fn populate(s: &mut dyn StateStore) -> LockInfo {
    s.set_crypter(Crypter::new(&[7; 32])).unwrap();
    let info = lock::new_lock_info("bench");
    s.try_lock(&info).unwrap();
    s.set_fence(Some(info.id.clone()));
    let mut snap = s.export().unwrap();
    snap.resources = (0..RESOURCES).map(row).collect();
    s.import(&snap).unwrap();
    info
}

/// Checkpoints per second: STEPS updates, each a pending row and a result.
fn checkpoints(s: &mut dyn StateStore) -> f64 {
    let t = Instant::now();
    for i in 0..STEPS {
        let mut r = row(i % RESOURCES);
        r.outputs["step"] = json!(i);
        let id = s.begin_op(&op(&r)).unwrap();
        s.end_op(id, &OpEffect::Upsert(r)).unwrap();
    }
    (2 * STEPS) as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let m = moto::moto();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(m.sdk_config());
    let setup = rt.block_on(m.sdk_config());
    let c = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&setup)
            .force_path_style(true)
            .build(),
    );
    rt.block_on(async {
        c.create_bucket()
            .bucket("bench-state")
            .send()
            .await
            .unwrap();
        c.put_bucket_versioning()
            .bucket("bench-state")
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });

    let dir = tempfile::tempdir().unwrap();
    let mut local = SqliteStore::open(&dir.path().join("bench.db"), STACK).unwrap();
    populate(&mut local);
    let local_rate = checkpoints(&mut local);

    let url = S3Url::parse("s3://bench-state/stacks").unwrap();
    let blob = S3Blob::with_config(url.clone(), &config).unwrap();
    let mut remote = RemoteStore::open(blob, &url.prefix, STACK).unwrap();
    populate(&mut remote);
    m.clear_requests();
    let remote_rate = checkpoints(&mut remote);
    let requests = m.requests();
    let puts = requests.iter().filter(|r| r.method == "PUT").count();
    let bytes = remote.to_copy_bytes().unwrap().len();
    let size = rt.block_on(async {
        c.head_object()
            .bucket("bench-state")
            .key("stacks/bench.db")
            .send()
            .await
            .unwrap()
            .content_length()
            .unwrap_or(0)
    });
    eprintln!(
        "{} checkpoints: local {local_rate:.0}/s, S3 on moto {remote_rate:.0}/s; \
         {} requests ({puts} PUT) for {} checkpoints; state object {size} bytes \
         ({bytes} compacted) with {RESOURCES} resources",
        2 * STEPS,
        requests.len(),
        2 * STEPS
    );
    emit("checkpoints_per_s_local", local_rate, "checkpoints/s");
    emit("checkpoints_per_s_s3_moto", remote_rate, "checkpoints/s");
    emit(
        "s3_requests_per_checkpoint",
        requests.len() as f64 / (2 * STEPS) as f64,
        "requests",
    );
    emit("s3_bytes_per_checkpoint", size as f64, "bytes");
}
