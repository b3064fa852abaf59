//! Process-level tests: the real `morket-stack` binary, each test in its own
//! temporary directory with its own stacks and state directories.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_morket-stack");

struct Env {
    dir: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn out_of(o: Output) -> Out {
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("stacks")).unwrap();
        Env { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    fn stack(&self, name: &str, toml: &str) {
        self.write(&format!("stacks/{name}.toml"), toml);
    }

    /// The binary with this test's directories; `state_dir` relative to it.
    fn cmd_in(&self, state_dir: &str, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .args([
                "--no-color",
                "--stacks-dir",
                "stacks",
                "--state-dir",
                state_dir,
            ])
            .args(args)
            .env_remove("MORKET_STACK_SECRET_KEY")
            .env_remove("MORKET_STACK_PASSPHRASE")
            .env_remove("MORKET_STACK_STATE_DIR")
            .env_remove("MORKET_STACK_STACKS_DIR")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in("state", args)
    }

    fn run(&self, args: &[&str]) -> Out {
        out_of(self.cmd(args).output().unwrap())
    }

    fn run_in(&self, state_dir: &str, args: &[&str]) -> Out {
        out_of(self.cmd_in(state_dir, args).output().unwrap())
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, 0, "morket-stack {args:?} failed:\n{o:?}");
        o
    }

    /// Starts the binary in the background, output to files under `logs/`.
    fn spawn(&self, args: &[&str], log: &str) -> Child {
        fs::create_dir_all(self.path("logs")).unwrap();
        let so = fs::File::create(self.path(&format!("logs/{log}.out"))).unwrap();
        let se = fs::File::create(self.path(&format!("logs/{log}.err"))).unwrap();
        self.cmd(args)
            .stdout(Stdio::from(so))
            .stderr(Stdio::from(se))
            .spawn()
            .unwrap()
    }

    fn log(&self, log: &str) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.read(&format!("logs/{log}.out")),
            self.read(&format!("logs/{log}.err"))
        )
    }

    /// The URN in the `morket:urn` tag (lineage cut off) of every object of
    /// the persisted test cloud, by object id.
    fn cloud(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let Ok(rd) = fs::read_dir(self.path("cloud")) else {
            return m;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Ok(data) = fs::read(&p) else { continue };
            let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            m.insert(
                v["id"].as_str().unwrap().to_string(),
                v["urn_tag"]
                    .as_str()
                    .unwrap()
                    .split('#')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
        m
    }

    /// `state list`: (urn, id) of every resource.
    fn state_list(&self, stack: &str) -> Vec<(String, String)> {
        self.state_list_in("state", stack)
    }

    fn state_list_in(&self, state_dir: &str, stack: &str) -> Vec<(String, String)> {
        let o = self.run_in(state_dir, &["state", "list", stack]);
        assert_eq!(o.code, 0, "{o:?}");
        let lines: Vec<&str> = o.stdout.lines().collect();
        let (last, rows) = lines.split_last().unwrap();
        assert!(last.contains("resource(s)"), "{o:?}");
        let rows: Vec<(String, String)> = rows
            .iter()
            .map(|l| {
                let (u, i) = l.split_once("  ").unwrap();
                (u.to_string(), i.to_string())
            })
            .collect();
        assert!(
            last.starts_with(&format!("{} resource(s)", rows.len())),
            "{o:?}"
        );
        rows
    }
}

fn testbed(count: u32, chains: u32, latency_ms: u64, value: &str) -> String {
    format!(
        "project = \"testbed\"\ncloud_dir = \"cloud\"\ncount = {count}\nchains = {chains}\n\
         latency_ms = {latency_ms}\nvalue = \"{value}\"\n"
    )
}

fn thing(stack: &str, i: u32) -> String {
    format!("{stack}::::test:index/Thing::thing-{i}")
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    t0.elapsed()
}

/// Every `thing-i` has exactly one cloud object, and the cloud and the state
/// hold the same resources.
#[track_caller]
fn assert_cloud_matches_state(env: &Env, stack: &str, count: u32) {
    let cloud = env.cloud();
    let mut per_urn: BTreeMap<&str, usize> = BTreeMap::new();
    for u in cloud.values() {
        *per_urn.entry(u).or_default() += 1;
    }
    for i in 0..count {
        let u = thing(stack, i);
        assert_eq!(
            per_urn.get(u.as_str()).copied().unwrap_or(0),
            1,
            "objects for {u}; cloud: {cloud:#?}"
        );
    }
    assert_eq!(per_urn.len(), count as usize, "cloud: {cloud:#?}");
    let state: BTreeSet<(String, String)> = env.state_list(stack).into_iter().collect();
    let cloud_set: BTreeSet<(String, String)> = cloud
        .iter()
        .map(|(id, u)| (u.clone(), id.clone()))
        .collect();
    assert_eq!(state, cloud_set, "state and cloud differ");
}

// ---------------------------------------------------------------------------

#[test]
fn binary_has_the_testbed_project() {
    let env = Env::new();
    env.stack("x", "project = \"nope\"\n");
    let o = env.run(&["preview", "x"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("testbed"),
        "the binary under test lacks the test-provider feature:\n{o:?}"
    );
}

fn kill_mid_apply(kill_after: usize) {
    let env = Env::new();
    let count = 24;
    env.stack("tb", &testbed(count, 4, 300, "v"));
    let t0 = Instant::now();
    let mut child = env.spawn(&["up", "tb", "--yes", "--parallel", "4"], "killed");
    let waited = wait_until(
        &format!("{kill_after} cloud objects"),
        Duration::from_secs(20),
        || env.cloud().len() >= kill_after,
    );
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the first run finished before the kill:\n{}",
        env.log("killed")
    );
    let at_kill = env.cloud().len();
    assert!(
        at_kill < count as usize,
        "killed too late: {at_kill} objects"
    );
    eprintln!("kill after {kill_after}: killed at {waited:?} with {at_kill} objects in the cloud");

    let t1 = Instant::now();
    let o = env.run(&["up", "tb", "--yes"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stderr.contains("stale lock"),
        "the second run should report the stale lock:\n{o:?}"
    );
    eprintln!(
        "kill after {kill_after}: recovery run took {:?}, total {:?}",
        t1.elapsed(),
        t0.elapsed()
    );
    assert_cloud_matches_state(&env, "tb", count);
    let o = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");
    let o = env.ok(&["lock", "status", "tb"]);
    assert!(o.stdout.contains("not locked"), "{o:?}");
}

#[test]
fn kill_9_early_in_apply_then_up_recovers() {
    kill_mid_apply(4);
}

#[test]
fn kill_9_late_in_apply_then_up_recovers() {
    kill_mid_apply(12);
}

#[test]
fn second_process_fails_fast_on_the_lock_and_a_third_waits() {
    let env = Env::new();
    env.stack("tb", &testbed(8, 1, 300, "v"));
    // Create the state and key file before anything runs concurrently.
    env.ok(&["state", "list", "tb"]);
    let mut first = env.spawn(&["up", "tb", "--yes"], "first");
    let pid = first.id();
    wait_until("the lock", Duration::from_secs(20), || {
        env.run(&["lock", "status", "tb"])
            .stdout
            .contains("Locked by")
    });
    let st = env.ok(&["lock", "status", "tb"]);
    assert!(st.stdout.contains(&format!("pid {pid}")), "{st:?}");
    assert!(st.stdout.contains("Lock id: "), "{st:?}");
    assert!(!st.stdout.contains("STALE"), "{st:?}");

    let second = env.run(&["up", "tb", "--yes"]);
    assert_eq!(second.code, 1, "{second:?}");
    assert!(second.stderr.contains("locked by"), "{second:?}");
    assert!(second.stderr.contains(&format!("pid {pid}")), "{second:?}");
    // It failed without waiting: the holder is still running.
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended too soon:\n{}",
        env.log("first")
    );
    let third = env.run(&["--lock-timeout", "30s", "up", "tb", "--yes"]);
    assert!(
        third.stderr.contains("Waiting for the state lock"),
        "{third:?}"
    );
    let status = first.wait().unwrap();
    assert!(status.success(), "first run:\n{}", env.log("first"));
    assert_eq!(third.code, 0, "{third:?}");
    assert_cloud_matches_state(&env, "tb", 8);
    let o = env.run(&["preview", "tb", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");
}

#[test]
fn lock_of_a_killed_process_is_stale_and_can_be_released() {
    let env = Env::new();
    env.stack("tb", &testbed(8, 1, 300, "v"));
    env.ok(&["state", "list", "tb"]);
    let mut child = env.spawn(&["up", "tb", "--yes"], "killed");
    wait_until("the lock", Duration::from_secs(20), || {
        env.run(&["lock", "status", "tb"])
            .stdout
            .contains("Locked by")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let st = env.ok(&["lock", "status", "tb"]);
    assert!(st.stdout.contains("STALE"), "{st:?}");
    let id = st
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Lock id: "))
        .unwrap_or_else(|| panic!("no lock id in {st:?}"))
        .trim()
        .to_string();
    let o = env.ok(&["lock", "release", "tb", &id]);
    assert!(o.stdout.contains(&id), "{o:?}");
    let st = env.ok(&["lock", "status", "tb"]);
    assert!(st.stdout.contains("not locked"), "{st:?}");
    // No stale lock left for the next run to report.
    let o = env.ok(&["up", "tb", "--yes"]);
    assert!(!o.stderr.contains("stale lock"), "{o:?}");
    assert_cloud_matches_state(&env, "tb", 8);
}

const DEMO: &str = "project = \"demo\"\noutput_dir = \"out/demo\"\npassword_length = 24\nworkers = 3\nsettle = \"0s\"\n";
const PASSWORD_URN: &str = "demo::::random:index/RandomPassword::db-password";
const PASSWORD_FILE_URN: &str = "demo::::local:index/File::db-password-file";

#[track_caller]
fn assert_no_secret(secret: &str, what: &str, text: &str) {
    assert!(
        !text.contains(secret),
        "the secret appears in {what}:\n{text}"
    );
}

#[test]
fn demo_end_to_end_keeps_the_secret_out_of_everything() {
    let env = Env::new();
    env.stack("demo", DEMO);
    let up = env.ok(&["up", "demo", "--yes"]);
    assert!(up.stderr.contains("Created secret key file"), "{up:?}");
    let key = env.path("state/demo.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode {mode:o}");
    }
    assert!(
        up.stdout.contains("db_password = \"(sensitive)\""),
        "{up:?}"
    );
    let secret = env.read("out/demo/db-password");
    assert_eq!(secret.len(), 24);
    for i in 0..3 {
        assert!(env.path(&format!("out/demo/worker-{i}.id")).exists());
    }
    assert_no_secret(&secret, "up", &up.all());

    // The key notice only once.
    let o = env.ok(&["preview", "demo", "--diff"]);
    assert!(!o.stderr.contains("Created secret key file"), "{o:?}");
    assert_no_secret(&secret, "preview --diff", &o.all());
    let o = env.ok(&["preview", "demo", "--json"]);
    assert_no_secret(&secret, "preview --json", &o.all());
    serde_json::from_str::<serde_json::Value>(&o.stdout).expect("preview --json is JSON");
    let list = env.state_list("demo");
    assert!(list.iter().any(|(u, _)| u == PASSWORD_URN), "{list:?}");
    assert!(list.iter().any(|(u, _)| u == PASSWORD_FILE_URN), "{list:?}");
    for (u, _) in &list {
        let o = env.ok(&["state", "show", "demo", u]);
        assert_no_secret(&secret, &format!("state show {u}"), &o.all());
    }
    let o = env.ok(&["state", "show", "demo", PASSWORD_URN]);
    assert!(o.stdout.contains("(sensitive)"), "{o:?}");
    let o = env.ok(&["state", "export", "demo"]);
    assert_no_secret(&secret, "state export", &o.all());
    let o = env.ok(&["history", "demo"]);
    assert_no_secret(&secret, "history", &o.all());
    let o = env.ok(&["history", "demo", "--json"]);
    assert_no_secret(&secret, "history --json", &o.all());
    for f in ["state/demo.db", "state/demo.db-wal"] {
        if let Ok(bytes) = fs::read(env.path(f)) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the secret appears in {f}"
            );
        }
    }

    let o = env.run(&["preview", "demo", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");

    env.stack("demo", &DEMO.replace("workers = 3", "workers = 4"));
    let o = env.run(&["preview", "demo", "--expect-no-changes"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stdout
            .contains("Plan: 2 to create, 0 to update, 0 to replace, 0 to delete."),
        "{o:?}"
    );
    let o = env.ok(&["up", "demo", "--yes"]);
    assert_no_secret(&secret, "second up", &o.all());
    assert!(env.path("out/demo/worker-3.id").exists());

    let o = env.ok(&["destroy", "demo", "--yes"]);
    assert_no_secret(&secret, "destroy", &o.all());
    assert!(!env.path("out/demo/db-password").exists());
    for i in 0..4 {
        assert!(!env.path(&format!("out/demo/worker-{i}.id")).exists());
    }
    assert!(env.state_list("demo").is_empty());
}

#[test]
fn config_errors_name_the_file_key_and_value_and_write_nothing() {
    let env = Env::new();
    let file = "stacks/demo.toml";

    env.stack("demo", &format!("{DEMO}colour = \"blue\"\n"));
    let o = env.run(&["up", "demo", "--yes"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains(file), "{o:?}");
    assert!(o.stderr.contains("colour"), "{o:?}");

    env.stack(
        "demo",
        &DEMO.replace("password_length = 24", "password_length = 5"),
    );
    let o = env.run(&["up", "demo", "--yes"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains(file), "{o:?}");
    assert!(o.stderr.contains("password_length"), "{o:?}");
    assert!(o.stderr.contains("password_length = 5"), "{o:?}");

    env.stack("demo", "project = \"nope\"\n");
    let o = env.run(&["preview", "demo"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains(file), "{o:?}");
    assert!(o.stderr.contains("nope"), "{o:?}");
    assert!(o.stderr.contains("demo"), "{o:?}");
    assert!(o.stderr.contains("testbed"), "{o:?}");

    let o = env.run(&["up", "missing", "--yes"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("missing.toml"), "{o:?}");

    assert!(!env.path("state/demo.db").exists());
    assert!(!env.path("state/missing.db").exists());
    assert!(!env.path("out").exists());
}

#[test]
fn saved_plan_applies_keeps_secrets_sealed_and_goes_stale() {
    let env = Env::new();
    env.stack("demo", DEMO);
    let o = env.ok(&["preview", "demo", "--out", "p1.json"]);
    assert!(o.stderr.contains("p1.json"), "{o:?}");
    assert!(!env.path("out/demo/db-password").exists());
    let o = env.ok(&["up", "demo", "--plan", "p1.json"]);
    assert!(o.stdout.contains("db_password = \"(sensitive)\""), "{o:?}");
    let secret = env.read("out/demo/db-password");

    // A plan that replaces the password carries the old one, sealed.
    env.stack(
        "demo",
        &DEMO.replace("password_length = 24", "password_length = 30"),
    );
    env.ok(&["preview", "demo", "--out", "p2.json"]);
    assert_no_secret(&secret, "p2.json", &env.read("p2.json"));
    let o = env.ok(&["up", "demo", "--plan", "p2.json"]);
    assert_no_secret(&secret, "up --plan", &o.all());
    let secret2 = env.read("out/demo/db-password");
    assert_eq!(secret2.len(), 30);
    let o = env.run(&["preview", "demo", "--expect-no-changes"]);
    assert_eq!(o.code, 0, "{o:?}");

    // Plan, then change state some other way: the plan is refused.
    let base = DEMO.replace("password_length = 24", "password_length = 30");
    env.stack("demo", &base.replace("workers = 3", "workers = 4"));
    env.ok(&["preview", "demo", "--out", "p3.json"]);
    env.stack("demo", &base.replace("workers = 3", "workers = 5"));
    env.ok(&["up", "demo", "--yes"]);
    let before = env.state_list("demo");
    let o = env.run(&["up", "demo", "--plan", "p3.json"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("state changed since the plan was made"),
        "{o:?}"
    );
    assert_eq!(env.state_list("demo"), before);
}

#[test]
fn saved_plan_on_testbed_goes_stale_after_another_up() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "a"));
    env.ok(&["preview", "tb", "--out", "plan.json"]);
    env.ok(&["up", "tb", "--plan", "plan.json"]);
    assert_cloud_matches_state(&env, "tb", 3);
    env.stack("tb", &testbed(3, 1, 0, "b"));
    env.ok(&["preview", "tb", "--out", "old.json"]);
    env.stack("tb", &testbed(3, 1, 0, "c"));
    env.ok(&["up", "tb", "--yes"]);
    let o = env.run(&["up", "tb", "--plan", "old.json"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("state changed since the plan was made"),
        "{o:?}"
    );
}

#[test]
fn up_without_yes_and_no_terminal_refuses() {
    let env = Env::new();
    env.stack("demo", DEMO);
    let o = env.run(&["up", "demo"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("--yes"), "{o:?}");
    assert!(!env.path("out").exists());
    assert!(env.state_list("demo").is_empty());
    let o = env.run(&["destroy", "demo"]);
    assert_eq!(o.code, 0, "nothing to destroy: {o:?}");
}

#[test]
fn state_rm_and_export_import_round_trip() {
    let env = Env::new();
    env.stack("tb", &testbed(3, 1, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    let all = env.state_list("tb");
    assert_eq!(all.len(), 3);
    let gone = thing("tb", 2);
    let o = env.ok(&["state", "rm", "tb", &gone]);
    assert!(o.stdout.contains(&gone), "{o:?}");
    let after = env.state_list("tb");
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|(u, _)| *u != gone), "{after:?}");
    // The object itself is untouched.
    assert_eq!(env.cloud().len(), 3);

    env.ok(&["state", "export", "tb", "--out", "export.json"]);
    fs::create_dir_all(env.path("state2")).unwrap();
    fs::copy(env.path("state/tb.key"), env.path("state2/tb.key")).unwrap();
    let o = env.run_in("state2", &["state", "import", "tb", "export.json"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.state_list_in("state2", "tb"), after);
    // The imported state is usable: its secrets open with the copied key.
    let o = env.run_in("state2", &["state", "show", "tb", &thing("tb", 0)]);
    assert_eq!(o.code, 0, "{o:?}");
}

#[test]
fn graph_dot_has_edges() {
    let env = Env::new();
    env.stack("tb", &testbed(4, 2, 0, "v"));
    let o = env.ok(&["graph", "tb", "--format", "dot"]);
    assert!(o.stdout.contains("->"), "{o:?}");
    assert!(o.stdout.contains("digraph"), "{o:?}");
    let o = env.ok(&["graph", "tb"]);
    assert!(o.stdout.contains(" <- "), "{o:?}");
}

#[test]
fn embedded_example_runs() {
    // Tests run from target/<profile>/deps; `cargo test` builds examples
    // into target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let example = profile_dir.join("examples").join("embedded");
    assert!(
        example.exists(),
        "{} not found: build examples first (`cargo test` does; `cargo test --test cli` \
         alone may not -- run `cargo build --examples`)",
        example.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let o = out_of(
        Command::new(&example)
            .arg(dir.path())
            .env_remove("MORKET_STACK_SECRET_KEY")
            .env_remove("MORKET_STACK_PASSPHRASE")
            .output()
            .unwrap(),
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("embedded: ok"), "{o:?}");
}

#[test]
fn kill_9_mid_destroy_then_destroy_finishes() {
    let env = Env::new();
    let count = 16;
    env.stack("tb", &testbed(count, 4, 0, "v"));
    env.ok(&["up", "tb", "--yes"]);
    assert_cloud_matches_state(&env, "tb", count);
    env.stack("tb", &testbed(count, 4, 300, "v"));
    let mut child = env.spawn(&["destroy", "tb", "--yes", "--parallel", "4"], "killed");
    wait_until("some deletes", Duration::from_secs(20), || {
        env.cloud().len() <= count as usize - 4
    });
    child.kill().unwrap();
    assert!(
        !child.wait().unwrap().success(),
        "destroy finished before the kill:\n{}",
        env.log("killed")
    );
    assert!(!env.cloud().is_empty(), "killed too late");
    let o = env.ok(&["destroy", "tb", "--yes"]);
    assert!(o.stderr.contains("stale lock"), "{o:?}");
    assert!(env.cloud().is_empty(), "{:#?}", env.cloud());
    assert!(env.state_list("tb").is_empty());
}

#[test]
fn interrupt_stops_cleanly_and_releases_the_lock() {
    let env = Env::new();
    let count = 16;
    env.stack("tb", &testbed(count, 2, 300, "v"));
    env.ok(&["state", "list", "tb"]);
    let mut child = env.spawn(&["up", "tb", "--yes", "--parallel", "2"], "interrupted");
    wait_until("2 cloud objects", Duration::from_secs(20), || {
        env.cloud().len() >= 2
    });
    // SAFETY: signalling our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let status = child.wait().unwrap();
    let log = env.log("interrupted");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("Interrupt"), "{log}");
    let n = env.cloud().len();
    assert!(n < count as usize, "interrupted too late: {log}");
    // In-flight operations were checkpointed: state and cloud agree.
    let state: BTreeSet<(String, String)> = env.state_list("tb").into_iter().collect();
    let cloud: BTreeSet<(String, String)> = env
        .cloud()
        .iter()
        .map(|(id, u)| (u.clone(), id.clone()))
        .collect();
    assert_eq!(state, cloud, "{log}");
    let st = env.ok(&["lock", "status", "tb"]);
    assert!(st.stdout.contains("not locked"), "{st:?}");
    let o = env.ok(&["up", "tb", "--yes"]);
    assert!(!o.stderr.contains("stale lock"), "{o:?}");
    assert_cloud_matches_state(&env, "tb", count);
}
