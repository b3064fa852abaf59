//! The S3 state backend through the binary, against moto: runners with
//! separate working directories sharing one state in a bucket (the lock race,
//! `kill -9` on one and recovery from another, a forced `lock release`
//! during an apply), `state migrate` there and back, versions and rollback,
//! and `drift` reading the S3 state without the lock.
//!
//! The "cloud" is the testbed's directory, shared by both working
//! directories as AWS would be; the key file is handed to the second
//! directory out of band (it never goes to S3).

use super::*;
use crate::support::moto::{moto, Moto};

const BUCKET: &str = "morket-state-test";

/// Moto for one test, with a versioned bucket; commands get its endpoint.
fn s3(_env: &Env) -> Moto {
    let m = moto();
    *S3_ENDPOINT.lock().unwrap() = Some(m.url.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&m.sdk_config().await)
                .force_path_style(true)
                .build(),
        );
        c.create_bucket().bucket(BUCKET).send().await.unwrap();
        c.put_bucket_versioning()
            .bucket(BUCKET)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    m
}

fn url() -> String {
    format!("s3://{BUCKET}/team")
}

/// The testbed stack on the S3 backend; cloud and barrier directories are
/// absolute, so another working directory reaches the same "cloud".
fn s3_stack(env: &Env, count: u32, latency_ms: u64, barrier: bool) -> String {
    let mut t = format!(
        "project = \"testbed\"\ncloud_dir = \"{}\"\ncount = {count}\nchains = 1\n\
         latency_ms = {latency_ms}\nvalue = \"v\"\n",
        env.path("cloud").display()
    );
    if barrier {
        fs::create_dir_all(env.path("barrier")).unwrap();
        t += &format!(
            "two_step = true\nbarrier_dir = \"{}\"\n",
            env.path("barrier").display()
        );
    }
    t += &format!("\n[backend]\nurl = \"{}\"\n", url());
    env.stack("tb", &t);
    t
}

/// A second working directory: the same stack file, an empty state
/// directory holding only the key file.
fn second_workdir(env: &Env, stack_toml: &str) -> PathBuf {
    let dir = env.path("runner-b");
    fs::create_dir_all(dir.join("stacks")).unwrap();
    fs::create_dir_all(dir.join("state")).unwrap();
    fs::write(dir.join("stacks/tb.toml"), stack_toml).unwrap();
    fs::copy(env.path("state/tb.key"), dir.join("state/tb.key")).expect("the key file");
    dir
}

/// Every `thing-i` once in the cloud and in the S3 state, read from `dir`.
#[track_caller]
fn assert_converged_at(env: &Env, dir: &Path, count: u32) {
    let o = out_of(cmd_at(dir, &["state", "list", "tb"]).output().unwrap());
    assert_eq!(o.code, 0, "{o:?}");
    let state: BTreeSet<(String, String)> = o
        .stdout
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(u, i)| (u.to_string(), i.to_string()))
        .collect();
    let cloud: BTreeSet<(String, String)> =
        env.cloud().into_iter().map(|(id, u)| (u, id)).collect();
    assert_eq!(
        state,
        cloud,
        "state (from {}) and cloud differ",
        dir.display()
    );
    assert_cloud_matches_state(env, "tb", count);
    let o = out_of(
        cmd_at(dir, &["preview", "tb", "--expect-no-changes"])
            .output()
            .unwrap(),
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(env.pending("tb").is_empty());
    env.assert_unlocked("tb");
}

#[test]
fn s3_two_working_directories_race_for_the_lock() {
    let env = Env::new();
    let _m = s3(&env);
    let count = 3;
    let toml = s3_stack(&env, count, 0, true);
    env.ok(&["state", "list", "tb"]); // the state object and the key file
    let b = second_workdir(&env, &toml);
    let mut first = env.spawn(&["up", "tb", "--yes"], "first");
    let pid = first.id();
    env.wait_for("thing-0 at the barrier", &mut first, "first", || {
        env.reached("thing-0")
    });

    let second = out_of(cmd_at(&b, &["up", "tb", "--yes"]).output().unwrap());
    assert_eq!(second.code, 1, "{second:?}");
    assert!(second.stderr.contains("locked by"), "{second:?}");
    assert!(second.stderr.contains(&format!("pid {pid}")), "{second:?}");

    let mut third = env.spawn_cmd(
        cmd_at(&b, &["--lock-timeout", "600s", "up", "tb", "--yes"]),
        "third",
    );
    env.wait_for_log(&mut third, "third", "Waiting for the state lock");
    assert!(first.try_wait().unwrap().is_none(), "{}", env.log("first"));
    env.go_all(count);
    assert!(
        env.wait_exit(&mut first, "first").success(),
        "{}",
        env.log("first")
    );
    assert!(
        env.wait_exit(&mut third, "third").success(),
        "{}",
        env.log("third")
    );
    assert!(
        env.log("third").contains("No changes."),
        "the waiter planned after the first run's state:\n{}",
        env.log("third")
    );
    assert_converged_at(&env, &b, count);
}

#[test]
fn s3_kill_9_mid_apply_then_up_from_an_empty_working_directory_converges() {
    let env = Env::new();
    let _m = s3(&env);
    let count = 16;
    let toml = s3_stack(&env, count, 300, false);
    env.ok(&["state", "list", "tb"]);
    let b = second_workdir(&env, &toml);
    let mut child = env.spawn(&["up", "tb", "--yes", "--parallel", "4"], "killed");
    wait_until("6 cloud objects", Duration::from_secs(60), || {
        env.cloud().len() >= 6
    });
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success(), "{}", env.log("killed"));
    let at_kill = env.cloud().len();
    assert!(at_kill < count as usize, "killed too late: {at_kill}");

    let o = out_of(cmd_at(&b, &["up", "tb", "--yes"]).output().unwrap());
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("stale lock"), "{o:?}");
    assert!(
        !b.join("state/tb.db").exists(),
        "the second runner used S3, not a local file"
    );
    assert_converged_at(&env, &b, count);
}

#[test]
fn s3_forced_lock_release_stops_the_apply_at_its_next_write() {
    let env = Env::new();
    let _m = s3(&env);
    let count = 3;
    let toml = s3_stack(&env, count, 0, true);
    env.ok(&["state", "list", "tb"]);
    let b = second_workdir(&env, &toml);
    let mut first = env.spawn(&["up", "tb", "--yes"], "first");
    env.wait_for("thing-0 at the barrier", &mut first, "first", || {
        env.reached("thing-0")
    });
    let id = env.lock_id("tb");
    let st = out_of(cmd_at(&b, &["lock", "status", "tb"]).output().unwrap());
    assert!(st.stdout.contains(&format!("pid {}", first.id())), "{st:?}");
    let o = out_of(
        cmd_at(&b, &["lock", "release", "tb", &id])
            .output()
            .unwrap(),
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.pending("tb").len(), 1, "thing-0's create is pending");

    env.go_all(count);
    let status = env.wait_exit(&mut first, "first");
    assert!(!status.success(), "{}", env.log("first"));
    assert!(
        env.log("first").contains("no longer holds the state lock"),
        "{}",
        env.log("first")
    );
    // Nothing the released run did after the release reached the state.
    assert!(
        env.state_list("tb").is_empty(),
        "{:?}",
        env.state_list("tb")
    );
    assert_eq!(env.pending("tb").len(), 1);
    assert_eq!(env.cloud().len(), 1, "thing-0 exists in the cloud");
    // The next run settles thing-0 by its tag and finishes the stack.
    let o = out_of(cmd_at(&b, &["up", "tb", "--yes"]).output().unwrap());
    assert_eq!(o.code, 0, "{o:?}");
    assert_converged_at(&env, &b, count);
}

#[test]
fn s3_state_migrate_there_and_back_keeps_state_and_history() {
    let env = Env::new();
    let _m = s3(&env);
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let before = env.state_list("tb");
    let to = url();
    let o = env.ok(&["state", "migrate", "tb", "--to", &to]);
    assert!(o.stdout.contains("3 resource(s)"), "{o:?}");
    // The old copy refuses use, naming where the state went.
    let o = env.run(&["preview", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains(&to) && o.stderr.contains("state migrate"),
        "{o:?}"
    );
    let s3 = ["--backend", to.as_str()];
    let list = env.ok(&[&s3[..], &["state", "list", "tb"]].concat());
    for (u, i) in &before {
        assert!(list.stdout.contains(&format!("{u}  {i}")), "{list:?}");
    }
    let o = env.run(&[&s3[..], &["preview", "tb", "--expect-no-changes"]].concat());
    assert_eq!(o.code, 0, "{o:?}");
    let h = env.ok(&[&s3[..], &["history", "tb"]].concat());
    assert!(
        h.stdout.contains("up"),
        "history moved with the state: {h:?}"
    );
    // A migration onto a live state is refused.
    env.stack("tb", &testbed(3, 1, 0, "v"));
    let o = env.run_in("other", &["up", "tb", "--yes"]);
    assert_eq!(o.code, 0, "{o:?}");
    let o = env.run_in("other", &["state", "migrate", "tb", "--to", &to]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("already holds a state"), "{o:?}");
    // And back.
    let o = env.ok(&[&s3[..], &["state", "migrate", "tb", "--to", "local"]].concat());
    assert!(o.stdout.contains("3 resource(s)"), "{o:?}");
    let o = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.state_list("tb"), before);
    let o = env.run(&[&s3[..], &["state", "list", "tb"]].concat());
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("moved"), "{o:?}");
}

#[test]
fn s3_versions_and_a_rollback_that_cannot_orphan() {
    let env = Env::new();
    let _m = s3(&env);
    s3_stack(&env, 3, 0, false);
    env.ok(&["up", "tb", "--yes"]);
    let full = env.state_list("tb");
    assert_eq!(full.len(), 3);
    let rm = thing("tb", 2);
    env.ok(&["state", "rm", "tb", &rm]); // a mistake to undo
    assert_eq!(env.state_list("tb").len(), 2);
    let v = env.ok(&["state", "versions", "tb"]);
    let rows: Vec<&str> = v.stdout.lines().collect();
    assert!(
        rows[0].contains("(current)") && rows[0].contains("2 resource(s)"),
        "{v:?}"
    );
    let with_3 = rows
        .iter()
        .find(|l| l.contains("3 resource(s)"))
        .unwrap_or_else(|| panic!("a version with all three: {v:?}"));
    let id = with_3.split_whitespace().next().unwrap();
    let empty = rows
        .iter()
        .rev()
        .find(|l| l.contains(" 0 resource(s)"))
        .unwrap_or_else(|| panic!("the first, empty version: {v:?}"));
    let empty_id = empty.split_whitespace().next().unwrap();

    let o = env.ok(&["state", "rollback", "tb", id, "--yes"]);
    assert!(
        o.stdout.contains(&rm),
        "names the row it brings back: {o:?}"
    );
    assert_eq!(env.state_list("tb"), full);
    let o = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");
    let h = env.ok(&["history", "tb"]);
    assert!(h.stdout.contains("state rollback"), "{h:?}");

    // Back to before anything existed would forget three live objects.
    let o = env.run(&["state", "rollback", "tb", empty_id, "--yes"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("orphaned"), "{o:?}");
    assert_eq!(
        env.state_list("tb"),
        full,
        "a refused rollback changes nothing"
    );
    env.assert_unlocked("tb");
    // Local state has no versions: a clear error, not an empty list.
    let o = env.run(&["--backend", "local", "state", "versions", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("S3"), "{o:?}");
}

#[test]
fn s3_drift_reads_the_state_without_the_lock() {
    let env = Env::new();
    let m = s3(&env);
    let count = 2;
    s3_stack(&env, count, 0, true);
    env.ok(&["state", "list", "tb"]);
    // An apply holds the lock, waiting at the barrier of its first create.
    let mut up = env.spawn(&["up", "tb", "--yes"], "up");
    env.wait_for("thing-0 at the barrier", &mut up, "up", || {
        env.reached("thing-0")
    });
    m.clear_requests();
    let o = env.run(&["drift", "tb"]);
    assert!(o.code == 0 || o.code == 2, "{o:?}");
    let s3_calls: Vec<String> = m
        .requests()
        .into_iter()
        .filter(|r| r.service == "s3")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(!s3_calls.is_empty(), "drift read the state from S3");
    assert!(
        s3_calls.iter().all(|c| c.starts_with("GET ")),
        "drift only reads S3: {s3_calls:?}"
    );
    assert!(
        env.run(&["lock", "status", "tb"])
            .stdout
            .contains("Lock id"),
        "drift left the apply's lock alone"
    );
    env.go_all(count);
    assert!(env.wait_exit(&mut up, "up").success(), "{}", env.log("up"));
    assert_converged_at(&env, &env.path(""), count);
}

/// The bootstrap: `up state-bucket` (its own state local) makes the state
/// bucket as the README says, and stacks can then keep their state in it.
#[test]
fn s3_bootstrap_stack_makes_a_versioned_encrypted_tls_only_bucket() {
    let env = Env::new();
    let m = s3(&env);
    let bucket = "team-state-bootstrap";
    let file =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/state-bucket.toml"))
            .unwrap()
            .replace("morket-stack-state-example", bucket);
    env.stack("state-bucket", &file);
    let o = env.ok(&["up", "state-bucket", "--yes"]);
    assert!(o.stdout.contains(&format!("s3://{bucket}/stacks")), "{o:?}");
    assert!(
        env.path("state/state-bucket.db").exists(),
        "its own state is local"
    );
    let o = env.run(&["preview", "state-bucket", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&m.sdk_config().await)
                .force_path_style(true)
                .build(),
        );
        let v = c
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
        let e = c
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let rule = &e.server_side_encryption_configuration().unwrap().rules()[0];
        let d = rule.apply_server_side_encryption_by_default().unwrap();
        assert_eq!(d.sse_algorithm().as_str(), "aws:kms");
        let p = c
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let p = p.public_access_block_configuration().unwrap();
        assert_eq!(
            (
                p.block_public_acls(),
                p.block_public_policy(),
                p.ignore_public_acls(),
                p.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true))
        );
        let policy = c.get_bucket_policy().bucket(bucket).send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let st = &policy["Statement"][0];
        assert_eq!(st["Effect"], "Deny", "{policy}");
        assert_eq!(
            st["Condition"]["Bool"]["aws:SecureTransport"], "false",
            "{policy}"
        );
    });
    // Its policy refuses anything but TLS: the local peer speaks plain
    // HTTP, so using it as a backend here is refused, with a clear error.
    env.stack("tb", &testbed(2, 1, 0, "v"));
    let url = format!("s3://{bucket}/stacks");
    let o = env.run(&["--backend", &url, "up", "tb", "--yes"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("HTTP 403") && o.stderr.contains("TLS"),
        "{o:?}"
    );
    assert!(env.cloud().is_empty(), "nothing applied without state");
}

/// Backend settings are checked before anything is opened, naming the
/// file, key and value; `--set` cannot move a stack's state.
#[test]
fn backend_settings_errors_name_the_key_and_value() {
    let env = Env::new();
    env.stack(
        "tb",
        &format!(
            "{}\n[backend]\nurl = \"gs://bucket\"\n",
            testbed(1, 1, 0, "v")
        ),
    );
    let o = env.run(&["state", "list", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("[backend] url") && o.stderr.contains("gs://bucket"),
        "{o:?}"
    );
    env.stack(
        "tb",
        &format!(
            "{}\n[backend]\nurl = \"s3://Bad_Bucket/x\"\n",
            testbed(1, 1, 0, "v")
        ),
    );
    let o = env.run(&["preview", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("Bad_Bucket"), "{o:?}");
    env.stack(
        "tb",
        &format!(
            "{}\n[backend]\nurl = \"local\"\nbucket = \"x\"\n",
            testbed(1, 1, 0, "v")
        ),
    );
    let o = env.run(&["preview", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("backend.bucket"), "{o:?}");
    env.stack("tb", &testbed(1, 1, 0, "v"));
    let o = env.run(&["preview", "tb", "--set", "backend.url=s3://x-bucket"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("backend.url"), "{o:?}");
    let o = env.run(&["--backend", "ftp://x", "state", "list", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("--backend") && o.stderr.contains("ftp://x"),
        "{o:?}"
    );
    assert!(!env.path("state/tb.db").exists(), "nothing was opened");
}
