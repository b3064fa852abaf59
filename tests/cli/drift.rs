//! `drift`, `refresh`, `preview --refresh` / `up --refresh` and `import`, as
//! processes of the built binary over the `testbed` stack (docs/drift.md).
//! Drift is made out of band by editing the persisted test cloud (one JSON
//! file per object in `cloud/`), as someone would in the AWS console.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::*;

const THING: &str = "test:index/Thing";
const WEBHOOK_ENV: &str = "MORKET_STACK_DRIFT_WEBHOOK";

/// The file of the one cloud object whose `morket:urn` tag names `urn`.
#[track_caller]
fn cloud_file(env: &Env, urn: &str) -> PathBuf {
    let ids: Vec<String> = env
        .cloud()
        .into_iter()
        .filter(|(_, u)| u == urn)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids.len(), 1, "cloud objects of {urn}: {ids:?}");
    env.path(&format!("cloud/{}.json", ids[0]))
}

/// Changes the `value` of `urn`'s object out of band (written aside, then
/// renamed, as the provider writes it: a reader never sees half a file).
#[track_caller]
fn set_cloud_value(env: &Env, urn: &str, v: &str) {
    let path = cloud_file(env, urn);
    let mut o: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    o["value"] = json!(v);
    let tmp = env.path("cloud/.oob.tmp");
    fs::write(&tmp, serde_json::to_vec_pretty(&o).unwrap()).unwrap();
    fs::rename(&tmp, &path).unwrap();
}

/// Deletes `urn`'s object out of band; returns its file name and bytes, to
/// put it back.
#[track_caller]
fn delete_cloud_object(env: &Env, urn: &str) -> (PathBuf, Vec<u8>) {
    let path = cloud_file(env, urn);
    let bytes = fs::read(&path).unwrap();
    fs::remove_file(&path).unwrap();
    (path, bytes)
}

/// The id state records for `urn`.
#[track_caller]
fn state_id(env: &Env, stack: &str, urn: &str) -> String {
    env.state_list(stack)
        .into_iter()
        .find(|(u, _)| u == urn)
        .unwrap_or_else(|| panic!("{urn} not in state"))
        .1
}

/// The serial shown by `state list`.
#[track_caller]
fn serial(env: &Env, stack: &str) -> u64 {
    let o = env.ok(&["state", "list", stack]);
    let last = o.stdout.lines().last().unwrap();
    last.split("serial ")
        .nth(1)
        .and_then(|s| s.trim_end_matches('.').parse().ok())
        .unwrap_or_else(|| panic!("no serial in {o:?}"))
}

/// Everything state holds that a command could change: the export (serial,
/// resources, pending operations) and the history.
fn snapshot(env: &Env, stack: &str) -> (Value, Value) {
    let e = env.ok(&["state", "export", stack]);
    let h = env.ok(&["history", stack, "--json"]);
    (
        serde_json::from_str(&e.stdout).expect("state export is JSON"),
        serde_json::from_str(&h.stdout).expect("history --json is JSON"),
    )
}

/// A `drift` command with no webhook from the test's own environment.
fn drift_cmd(env: &Env, args: &[&str]) -> Command {
    let mut c = env.cmd(args);
    c.env_remove(WEBHOOK_ENV);
    c
}

fn drift(env: &Env, args: &[&str]) -> Out {
    out_of(drift_cmd(env, args).output().unwrap())
}

/// `drift STACK --json`: its output and the parsed report.
#[track_caller]
fn drift_json(env: &Env, stack: &str) -> (Out, Value) {
    let o = drift(env, &["drift", stack, "--json"]);
    assert!(o.code == 0 || o.code == 2, "{o:?}");
    let r: Value = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("drift --json is not JSON ({e}):\n{o:?}"));
    (o, r)
}

/// The fields of a schema `morket-stack/drift` version 1 report that every
/// report has, checked against each other and the exit code.
#[track_caller]
fn assert_report_shape(o: &Out, r: &Value, stack: &str) {
    assert_eq!(r["schema"], "morket-stack/drift", "{r:#}");
    assert_eq!(r["version"], 1, "{r:#}");
    assert_eq!(r["stack"], stack, "{r:#}");
    let at = r["checked_at"].as_str().expect("checked_at");
    assert!(at.ends_with('Z') && at.contains('T'), "checked_at {at:?}");
    assert!(r["serial"].is_u64(), "{r:#}");
    for list in [
        "modified",
        "deleted",
        "unmanaged",
        "informational",
        "pending",
    ] {
        assert!(r[list].is_array(), "{list} in {r:#}");
    }
    for list in ["modified", "deleted", "unmanaged", "informational"] {
        assert_eq!(
            r["summary"][list].as_u64(),
            Some(r[list].as_array().unwrap().len() as u64),
            "summary.{list} in {r:#}"
        );
    }
    let drifted = ["modified", "deleted", "unmanaged"]
        .iter()
        .any(|l| !r[*l].as_array().unwrap().is_empty());
    assert_eq!(r["drifted"], drifted, "{r:#}");
    assert_eq!(o.code, if drifted { 2 } else { 0 }, "{o:?}");
}

// ---------------------------------------------------------------------------

/// Right after `up`: `drift` exits 0 and says so; `--json` is a v1 report
/// with nothing in any list; `--out` writes that same report, owner-only.
#[test]
fn drift_after_up_is_clean_in_text_json_and_out_file() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let serial = serial(&env, "tb");

    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("No drift"), "{o:?}");
    assert!(o.stdout.contains("3 resources"), "{o:?}");

    let (o, r) = drift_json(&env, "tb");
    assert_report_shape(&o, &r, "tb");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(r["drifted"], false);
    assert_eq!(r["serial"], serial, "{r:#}");
    assert_eq!(
        r["summary"],
        json!({"resources": 3, "modified": 0, "deleted": 0, "unmanaged": 0, "informational": 0})
    );
    for list in [
        "modified",
        "deleted",
        "unmanaged",
        "informational",
        "pending",
    ] {
        assert_eq!(r[list], json!([]), "{list}");
    }

    // An older, world-readable file of that name is narrowed too.
    fs::write(env.path("report.json"), "old").unwrap();
    fs::set_permissions(env.path("report.json"), fs::Permissions::from_mode(0o644)).unwrap();
    let o = drift(&env, &["drift", "tb", "--json", "--out", "report.json"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(mode(&env.path("report.json")), 0o600, "--out file mode");
    let printed: Value = serde_json::from_str(&o.stdout).unwrap();
    let written: Value = serde_json::from_str(&env.read("report.json")).unwrap();
    assert_eq!(printed, written, "--out and --json differ");
    assert_report_shape(&o, &written, "tb");

    // Without --json: text on stdout, the JSON report in the file.
    fs::remove_file(env.path("report.json")).unwrap();
    let o = drift(&env, &["drift", "tb", "--out", "report.json"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("No drift"), "{o:?}");
    assert_eq!(mode(&env.path("report.json")), 0o600, "--out file mode");
    let written: Value = serde_json::from_str(&env.read("report.json")).unwrap();
    assert_eq!(written["drifted"], false);
    assert_eq!(written["schema"], "morket-stack/drift");

    // Only a notifying run keeps its report (a look by hand never hides
    // the next alert); it names every object: private. Nothing drifted and
    // nothing was kept before, so nothing is posted (port 9 is never asked).
    let kept = env.path("state/tb.drift.json");
    assert!(!kept.exists(), "a run without --notify keeps no report");
    // A CI secret that is not set arrives as an empty variable: no notify.
    let mut c = drift_cmd(&env, &["drift", "tb"]);
    c.env(WEBHOOK_ENV, "");
    let o = out_of(c.output().unwrap());
    assert_eq!(o.code, 0, "an empty webhook variable is no webhook: {o:?}");
    assert!(!kept.exists());
    let o = drift(
        &env,
        &["drift", "tb", "--notify", "http://127.0.0.1:9/hook"],
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(kept.exists());
    assert_eq!(mode(&kept), 0o600, "kept report mode");
}

/// A value changed out of band is `modified` with the field's path and both
/// values, a deleted object is `deleted`; both exit 2. Put back out of band,
/// the same check exits 0 again.
#[test]
fn out_of_band_change_and_delete_are_drift_with_exit_2() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let (changed, gone) = (thing("tb", 1), thing("tb", 2));
    let changed_id = state_id(&env, "tb", &changed);
    let gone_id = state_id(&env, "tb", &gone);
    let before = snapshot(&env, "tb");

    set_cloud_value(&env, &changed, "oob");
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stdout.contains(&changed), "{o:?}");
    assert!(o.stdout.contains("value"), "{o:?}");
    assert!(o.stdout.contains("oob"), "{o:?}");
    assert!(o.stdout.contains("Drift in stack tb"), "{o:?}");
    assert!(!o.stdout.contains("No drift"), "{o:?}");

    let (o, r) = drift_json(&env, "tb");
    assert_report_shape(&o, &r, "tb");
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(
        r["modified"],
        json!([{
            "urn": changed, "type": THING, "id": changed_id,
            "fields": [{"path": "value", "recorded": "v", "live": "oob"}],
        }]),
        "{r:#}"
    );
    assert_eq!(r["deleted"], json!([]), "{r:#}");
    assert_eq!(r["summary"]["resources"], 3);

    let (path, bytes) = delete_cloud_object(&env, &gone);
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stdout.contains(&gone), "{o:?}");
    assert!(o.stdout.contains(&gone_id), "{o:?}");
    let (o, r) = drift_json(&env, "tb");
    assert_report_shape(&o, &r, "tb");
    assert_eq!(
        r["deleted"],
        json!([{"urn": gone, "type": THING, "id": gone_id}]),
        "{r:#}"
    );
    assert_eq!(r["modified"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(r["summary"]["modified"], 1);
    assert_eq!(r["summary"]["deleted"], 1);

    // Only the deletion left.
    set_cloud_value(&env, &changed, "v");
    let (o, r) = drift_json(&env, "tb");
    assert_report_shape(&o, &r, "tb");
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(r["modified"], json!([]), "{r:#}");
    assert_eq!(r["summary"]["deleted"], 1);

    // Everything as recorded again: never 2 without drift.
    fs::write(&path, bytes).unwrap();
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("No drift"), "{o:?}");
    let (o, r) = drift_json(&env, "tb");
    assert_report_shape(&o, &r, "tb");
    assert_eq!(r["drifted"], false);

    // None of these checks wrote state.
    assert_eq!(snapshot(&env, "tb"), before);
}

/// `drift` while an `up` holds the lock mid-apply (a create waits at the
/// barrier): it neither waits for nor fails on the lock, reports the
/// `up`'s in-flight create as pending (not drift), still finds drift, and
/// writes nothing to state; the `up` then finishes.
#[test]
fn drift_runs_while_an_up_holds_the_lock_and_writes_no_state() {
    let env = Env::new();
    env.barrier_stack("tb", 3, 1, "v");
    env.go_all(3);
    env.ok(&["up", "tb", "--yes"]);
    // Two more things: the create of thing-3 stops at the barrier.
    env.barrier_stack("tb", 5, 1, "v");
    let mut holder = env.spawn(&["up", "tb", "--yes", "--parallel", "1"], "holder");
    env.wait_for("thing-3 at the barrier", &mut holder, "holder", || {
        env.reached("thing-3")
    });
    let lock = env.lock_id("tb");
    let before = snapshot(&env, "tb");
    let db = |f: &str| fs::read(env.path(&format!("state/{f}"))).ok();
    let files_before = (db("tb.db"), db("tb.db-wal"));

    let (o, r) = drift_json(&env, "tb");
    assert_report_shape(&o, &r, "tb");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stderr.contains("locked"), "{o:?}");
    assert_eq!(r["summary"]["resources"], 3, "{r:#}");
    assert_eq!(
        r["pending"],
        json!([{"urn": thing("tb", 3), "kind": "create"}]),
        "{r:#}"
    );
    assert_eq!(r["serial"], before.0["serial"], "{r:#}");

    set_cloud_value(&env, &thing("tb", 0), "oob");
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stdout.contains(&thing("tb", 0)), "{o:?}");
    assert!(!o.stderr.contains("locked"), "{o:?}");

    // What writes state waits for the lock (fails at once without
    // --lock-timeout), naming the holder.
    for args in [
        &["refresh", "tb", "--yes"][..],
        &["import", "tb", &thing("tb", 4), "t-000000000000"],
    ] {
        let o = env.run(args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert!(o.stderr.contains("locked by"), "{args:?}: {o:?}");
        assert!(o.stderr.contains(&format!("pid {}", holder.id())), "{o:?}");
    }

    assert_eq!(
        (db("tb.db"), db("tb.db-wal")),
        files_before,
        "drift changed the state files"
    );
    assert_eq!(snapshot(&env, "tb"), before);
    assert_eq!(env.lock_id("tb"), lock, "the holder's lock was touched");
    assert!(
        holder.try_wait().unwrap().is_none(),
        "{}",
        env.log("holder")
    );

    set_cloud_value(&env, &thing("tb", 0), "v");
    env.go_all(5);
    let status = env.wait_exit(&mut holder, "holder");
    assert!(status.success(), "{}", env.log("holder"));
    assert_converged(&env, "tb", 5, "v");
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 0, "{o:?}");
}

/// `drift` of a stack that was never applied (its stack file exists) is an
/// error naming the stack, and creates no state, key or report file.
#[test]
fn drift_without_state_fails_and_creates_nothing() {
    let env = Env::new();
    env.stack("tb", &testbed(2, 1, 0, "v"));
    for args in [
        &["drift", "tb"][..],
        &["drift", "tb", "--json", "--out", "report.json"],
    ] {
        let o = drift(&env, args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert!(o.stderr.contains("no state for stack"), "{o:?}");
        assert!(o.stderr.contains("tb"), "{o:?}");
        assert!(o.stdout.is_empty(), "{o:?}");
    }
    assert!(!env.path("report.json").exists());
    for f in ["tb.db", "tb.db-wal", "tb.db-shm", "tb.key", "tb.drift.json"] {
        assert!(!env.path(&format!("state/{f}")).exists(), "state/{f}");
    }
    let left: Vec<_> = fs::read_dir(env.path("state"))
        .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "the state directory holds {left:?}");
    // The stack still works from scratch afterwards.
    env.ok(&["up", "tb", "--yes"]);
    assert_eq!(drift(&env, &["drift", "tb"]).code, 0);
}

/// One request the webhook received.
#[derive(Debug, Clone)]
struct Request {
    head: String,
    body: String,
}

/// A webhook on 127.0.0.1 that answers 200 to everything and records each
/// request. Its thread ends with the test process.
struct Hook {
    url: String,
    path: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    fn start(path: &str) -> Hook {
        Hook::answering(path, "200 OK")
    }

    /// A webhook answering every request with `status` (`"500 Internal
    /// Server Error"`).
    fn answering(path: &str, status: &'static str) -> Hook {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rs = requests.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let rs = rs.clone();
                std::thread::spawn(move || {
                    if let Err(e) = serve(&mut s, &rs, status) {
                        eprintln!("webhook: {e}");
                    }
                });
            }
        });
        Hook {
            url: format!("http://{addr}{path}"),
            path: path.to_string(),
            requests,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The `text` of the last request, checked to be a JSON POST to the
    /// webhook's path.
    #[track_caller]
    fn last_text(&self) -> String {
        let r = self.requests().pop().expect("no request");
        let first = r.head.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("POST {} HTTP/1.1", self.path)),
            "{r:?}"
        );
        assert!(
            r.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{r:?}"
        );
        let v: Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {r:?}"));
        v["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text in {v}"))
            .to_string()
    }
}

fn serve(s: &mut TcpStream, requests: &Mutex<Vec<Request>>, status: &str) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    requests.lock().unwrap().push(Request { head, body });
    s.write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    s.flush()
}

/// `--notify` posts `{"text"}` only when the drift differs from the previous
/// run's: once when it appears, not again while it stays, once when it
/// clears, once when it comes back; the URL may come from
/// `MORKET_STACK_DRIFT_WEBHOOK`, and never shows in the output.
#[test]
fn notify_posts_only_when_the_drift_changes() {
    let env = Env::new();
    let secret = "T0000/B0000/drift-webhook-secret-4f9a";
    let hook = Hook::start(&format!("/services/{secret}"));
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let changed = thing("tb", 1);
    let mut outputs = Vec::new();
    let mut notify = |env: &Env| {
        let o = drift(env, &["drift", "tb", "--notify", &hook.url]);
        outputs.push(o.all());
        o
    };

    // No drift and nothing before: nothing to say.
    let o = notify(&env);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(hook.requests().len(), 0, "{:?}", hook.requests());

    set_cloud_value(&env, &changed, "oob");
    let o = notify(&env);
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(hook.requests().len(), 1, "{:?}", hook.requests());
    let text = hook.last_text();
    assert!(text.contains(&changed), "{text}");
    // Named apart from the URNs (which carry it too).
    assert!(
        text.replace(&changed, "").contains("tb"),
        "the stack is not named: {text}"
    );
    assert!(text.contains("1 modified"), "{text}");

    // The same drift again: nothing posted.
    let o = notify(&env);
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(hook.requests().len(), 1, "{:?}", hook.requests());

    // Cleared (`up --refresh` puts the value back): posted once.
    env.ok(&["up", "tb", "--refresh", "--yes"]);
    let o = notify(&env);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(hook.requests().len(), 2, "{:?}", hook.requests());
    let text = hook.last_text();
    assert!(text.contains("tb") && text.contains("no drift"), "{text}");
    let o = notify(&env);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(hook.requests().len(), 2, "{:?}", hook.requests());

    // The same drift as before the clear is news again.
    set_cloud_value(&env, &changed, "oob");
    let o = notify(&env);
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(hook.requests().len(), 3, "{:?}", hook.requests());
    assert!(hook.last_text().contains(&changed));

    // The URL from the environment, for a new drift (a deletion).
    let gone = thing("tb", 2);
    delete_cloud_object(&env, &gone);
    let mut c = drift_cmd(&env, &["drift", "tb"]);
    c.env(WEBHOOK_ENV, &hook.url);
    let o = out_of(c.output().unwrap());
    outputs.push(o.all());
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(hook.requests().len(), 4, "{:?}", hook.requests());
    let text = hook.last_text();
    assert!(text.contains(&gone) && text.contains("deleted"), "{text}");
    // ... and again with the same drift: nothing.
    let mut c = drift_cmd(&env, &["drift", "tb", "--json"]);
    c.env(WEBHOOK_ENV, &hook.url);
    let o = out_of(c.output().unwrap());
    outputs.push(o.all());
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(hook.requests().len(), 4, "{:?}", hook.requests());

    for out in &outputs {
        assert!(!out.contains(secret), "the webhook URL is printed:\n{out}");
        assert!(
            !out.contains(&hook.url),
            "the webhook URL is printed:\n{out}"
        );
    }
    assert!(!env.read("state/tb.drift.json").contains(secret));
}

/// `refresh --yes` records what is live (a changed value, a deleted object
/// forgotten) without touching the cloud, so `drift` is clean after it and
/// `preview` plans the way back; without `--yes` and no terminal it refuses
/// and records nothing.
#[test]
fn refresh_records_live_values_and_refuses_without_yes() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let (changed, gone) = (thing("tb", 1), thing("tb", 2));
    set_cloud_value(&env, &changed, "oob");
    delete_cloud_object(&env, &gone);
    let before = snapshot(&env, "tb");

    let o = env.run(&["refresh", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("--yes"), "{o:?}");
    assert_eq!(snapshot(&env, "tb"), before, "refused, yet state changed");
    env.assert_unlocked("tb");
    assert_eq!(drift(&env, &["drift", "tb"]).code, 2);

    let o = env.ok(&["refresh", "tb", "--yes"]);
    assert!(o.stdout.contains(&changed), "{o:?}");
    assert!(o.stdout.contains(&gone), "{o:?}");
    assert!(o.stdout.contains("Recorded 2 resource(s)"), "{o:?}");
    env.assert_unlocked("tb");
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("No drift"), "{o:?}");

    // State holds the live value and forgot the deleted object; the cloud
    // is as it was.
    let shown = env.ok(&["state", "show", "tb", &changed]);
    let row: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(row["inputs"]["value"], "oob", "{row:#}");
    let listed: Vec<String> = env.state_list("tb").into_iter().map(|(u, _)| u).collect();
    assert_eq!(listed, [thing("tb", 0), changed.clone()]);
    assert_eq!(env.cloud_values()[&changed], ["oob"]);
    assert!(!env.cloud_values().contains_key(&gone));
    let after = snapshot(&env, "tb");
    assert!(
        after.0["serial"].as_u64() > before.0["serial"].as_u64(),
        "serial {} -> {}",
        before.0["serial"],
        after.0["serial"]
    );
    assert_eq!(after.1[0]["operation"], "refresh", "{:#}", after.1);

    // A second refresh finds nothing to record.
    let o = env.ok(&["refresh", "tb"]);
    assert!(o.stdout.contains("nothing to refresh"), "{o:?}");

    // The declaration differs from what state now records: preview plans
    // it back, and up converges.
    let p = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(p.code, 2, "{p:?}");
    assert!(
        p.stdout
            .contains("Plan: 1 to create, 1 to update, 0 to replace, 0 to delete."),
        "{p:?}"
    );
    env.ok(&["up", "tb", "--yes"]);
    assert_converged(&env, "tb", 3, "v");
}

/// `preview --refresh` shows what changed out of band and plans it back,
/// writing nothing (a plain `preview` plans from state and sees nothing);
/// `up --refresh --yes` puts the declared value back and recreates the
/// deleted object.
#[test]
fn preview_refresh_plans_the_way_back_and_up_refresh_takes_it() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let (changed, gone) = (thing("tb", 1), thing("tb", 2));
    let gone_id = state_id(&env, "tb", &gone);
    set_cloud_value(&env, &changed, "oob");
    delete_cloud_object(&env, &gone);
    let before = snapshot(&env, "tb");
    let cloud_before = env.cloud_values();

    let o = env.ok(&["preview", "tb", "--refresh"]);
    assert!(o.stdout.contains("Changed outside morket-stack"), "{o:?}");
    let changed_line = o
        .stdout
        .lines()
        .position(|l| l.trim_start().starts_with('~') && l.contains(&changed))
        .unwrap_or_else(|| panic!("{changed} not shown as changed: {o:?}"));
    let field = o.stdout.lines().nth(changed_line + 1).unwrap();
    assert!(
        field.contains("value") && field.contains("oob"),
        "{field:?} in {o:?}"
    );
    assert!(
        o.stdout
            .lines()
            .any(|l| l.contains(&gone) && l.contains(&gone_id) && l.contains("deleted")),
        "{o:?}"
    );
    assert!(
        o.stdout
            .contains("Plan: 1 to create, 1 to update, 0 to replace, 0 to delete."),
        "{o:?}"
    );
    let o = env.run(&["preview", "tb", "--refresh", "--expect-no-changes"]);
    assert_eq!(o.code, 2, "{o:?}");
    let o = env.run(&["preview", "tb", "--refresh", "--json"]);
    assert_eq!(o.code, 0, "{o:?}");
    serde_json::from_str::<Value>(&o.stdout).expect("preview --refresh --json is JSON");
    // Drift compares with state; a plain preview plans from state.
    let o = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");

    assert_eq!(
        snapshot(&env, "tb"),
        before,
        "preview --refresh wrote state"
    );
    assert_eq!(env.cloud_values(), cloud_before);
    assert_eq!(drift(&env, &["drift", "tb"]).code, 2);

    let o = env.ok(&["up", "tb", "--refresh", "--yes"]);
    assert!(o.stdout.contains(&changed), "{o:?}");
    assert_converged(&env, "tb", 3, "v");
    assert_ne!(state_id(&env, "tb", &gone), gone_id, "recreated");
    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 0, "{o:?}");
}

/// `import` adopts an object `state rm` forgot back under its URN; an
/// undeclared URN, an id that does not exist, an id state already manages
/// and a URN already in state are each refused naming it, and leave state
/// as it was.
#[test]
fn import_adopts_an_object_and_refuses_bad_urns_and_ids() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let all = env.state_list("tb");
    let (t1, t2) = (thing("tb", 1), thing("tb", 2));
    let id1 = state_id(&env, "tb", &t1);
    let id2 = state_id(&env, "tb", &t2);
    env.ok(&["state", "rm", "tb", &t2]);
    let p = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(p.code, 2, "forgotten, so planned as a create: {p:?}");
    let before = snapshot(&env, "tb");

    #[track_caller]
    fn refused(env: &Env, before: &(Value, Value), urn: &str, id: &str, names: &[&str]) {
        let o = env.run(&["import", "tb", urn, id]);
        assert_eq!(o.code, 1, "import {urn} {id}: {o:?}");
        for n in names {
            assert!(o.stderr.contains(n), "{n:?} not named: {o:?}");
        }
        assert_eq!(
            &snapshot(env, "tb"),
            before,
            "refused import {urn} {id} changed state"
        );
        env.assert_unlocked("tb");
    }

    let undeclared = thing("tb", 9);
    refused(
        &env,
        &before,
        &undeclared,
        &id2,
        &[&undeclared, "not declared"],
    );
    let missing = "t-000000000000";
    refused(&env, &before, &t2, missing, &[&t2, missing]);
    refused(&env, &before, &t2, &id1, &[&t2, &id1, &t1]);

    let o = env.ok(&["import", "tb", &t2, &id2]);
    assert!(o.stdout.contains(&id2) && o.stdout.contains(&t2), "{o:?}");
    assert_eq!(env.state_list("tb"), all);
    let o = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(drift(&env, &["drift", "tb"]).code, 0);

    let before = snapshot(&env, "tb");
    refused(&env, &before, &t2, &id2, &[&t2, "already in state"]);
    assert_converged(&env, "tb", 3, "v");
}

/// A webhook that fails (an error status, a refused connection): `drift`
/// exits 1 saying the post failed, without printing the URL even with `-vv`,
/// and, as nothing was posted, the next run posts the same drift.
#[test]
fn a_failed_notify_exits_1_hides_the_url_and_posts_next_time() {
    let env = Env::new();
    let secret = "T0000/B0000/failing-webhook-secret-77c1";
    env.stack("tb", &testbed(2, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let changed = thing("tb", 0);
    set_cloud_value(&env, &changed, "oob");

    let failing = Hook::answering(&format!("/services/{secret}"), "500 Internal Server Error");
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        format!("http://{addr}/services/{secret}")
    };
    for (url, verbose) in [
        (&failing.url, false),
        (&failing.url, true),
        (&refused, false),
    ] {
        let mut args = vec!["drift", "tb", "--notify", url];
        if verbose {
            args.insert(0, "-vv");
        }
        let mut c = drift_cmd(&env, &args);
        c.env_remove("RUST_LOG");
        let o = out_of(c.output().unwrap());
        assert_eq!(o.code, 1, "{url}: {o:?}");
        assert!(o.stderr.contains("--notify"), "{o:?}");
        assert!(
            !o.all().contains(secret),
            "the webhook URL is printed:\n{o:?}"
        );
        assert!(!o.all().contains(url.as_str()), "{o:?}");
    }
    assert_eq!(failing.requests().len(), 2, "{:?}", failing.requests());

    let hook = Hook::start(&format!("/services/{secret}"));
    let o = drift(&env, &["drift", "tb", "--notify", &hook.url]);
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(hook.requests().len(), 1, "the drift was never posted");
    assert!(hook.last_text().contains(&changed));

    // Not a URL: refused without echoing it. (It is checked only when a
    // post is due, so the drift changes first.)
    set_cloud_value(&env, &changed, "oob2");
    let o = drift(&env, &["drift", "tb", "--notify", secret]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(!o.all().contains(secret), "{o:?}");
}

/// `drift` never makes a key: with the key file gone it fails (state holds
/// sealed secrets) and creates none; a wrong key from the environment fails
/// too. State is unchanged either way.
#[test]
fn drift_with_a_missing_or_wrong_key_fails_and_makes_no_key() {
    let env = Env::new();
    env.stack("tb", &testbed(2, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let before = snapshot(&env, "tb");
    let key = env.path("state/tb.key");
    let aside = env.path("tb.key.aside");
    fs::rename(&key, &aside).unwrap();

    let o = drift(&env, &["drift", "tb"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("key"), "{o:?}");
    assert!(!key.exists(), "drift made a new key file");

    fs::rename(&aside, &key).unwrap();
    let mut c = drift_cmd(&env, &["drift", "tb"]);
    c.env("MORKET_STACK_SECRET_KEY", "11".repeat(32));
    let o = out_of(c.output().unwrap());
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("key"), "{o:?}");
    assert_eq!(snapshot(&env, "tb"), before);
    assert_eq!(drift(&env, &["drift", "tb"]).code, 0);
}

/// `import` of a resource whose declaration refers to one that state does
/// not hold yet (imported in the wrong order) records what is live, not
/// nothing: the next plan updates the reference and replaces nothing.
#[test]
fn import_before_its_dependency_records_the_live_object_and_replaces_nothing() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let all = env.state_list("tb");
    let (t0, t1) = (thing("tb", 0), thing("tb", 1));
    let (id0, id1) = (state_id(&env, "tb", &t0), state_id(&env, "tb", &t1));
    env.ok(&["state", "rm", "tb", &t0]);
    env.ok(&["state", "rm", "tb", &t1]);

    // thing-1 refers to thing-0, which state does not hold.
    env.ok(&["import", "tb", &t1, &id1]);
    let shown = env.ok(&["state", "show", "tb", &t1]);
    let row: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(row["inputs"]["value"], "v", "{row:#}");
    assert_eq!(row["inputs"]["replace_key"], "", "{row:#}");
    env.ok(&["import", "tb", &t0, &id0]);
    assert_eq!(env.state_list("tb"), all);

    let p = env.run(&["preview", "tb", "--diff"]);
    assert_eq!(p.code, 0, "{p:?}");
    assert!(
        !p.stdout.contains("+/-") && !p.stdout.contains("-/+"),
        "{p:?}"
    );
    assert!(p.stdout.contains(" 0 to replace, 0 to delete."), "{p:?}");
    assert!(p.stdout.contains("0 to create"), "{p:?}");
    env.ok(&["up", "tb", "--yes"]);
    assert_eq!(env.state_list("tb"), all, "an imported object was replaced");
    assert_converged(&env, "tb", 3, "v");
}
