//! Engine integration tests: planning, rendering, scheduling, failures,
//! cancellation, crash recovery, secrets, plan files, targets and locking,
//! all against the in-process test provider.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use morket_stack::engine::{Engine, EngineError, EngineOptions};
use morket_stack::exec::{Cancel, Event, EventSink, ExecError, OpReport, OpStatus, Tally};
use morket_stack::model::{
    Declared, HasUrn, Input, Resource, ResourceArgs, ResourceOptions, Stack, Urn,
};
use morket_stack::plan::{Action, Plan, PlanOptions};
use morket_stack::provider::testing::{self, Op, TestArgs, TestCloud, TestProvider};
use morket_stack::provider::{Created, Ctx, Provider, ProviderError, ReadResult, Registry};
use morket_stack::render::{self, Style};
use morket_stack::retry::RetryPolicy;
use morket_stack::secrets::{self, Crypter};
use morket_stack::state::{self, MemoryStore, OpKind, PendingOp, StateError, StateStore};

// ---------------------------------------------------------------- helpers

const STACK: &str = "dev";
const PLAIN: Style = Style {
    color: false,
    diff: false,
};

fn urn(name: &str) -> Urn {
    Urn::new(STACK, "", TestArgs::TYPE, name)
}

fn mem_store() -> MemoryStore {
    let mut s = MemoryStore::new(STACK);
    s.set_crypter(Crypter::new(&secrets::random_key())).unwrap();
    s
}

fn fast_options() -> EngineOptions {
    EngineOptions {
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..EngineOptions::default()
    }
}

/// An engine over `store` with `provider`; returns the provider's cloud too.
fn engine_with(
    store: impl StateStore + 'static,
    provider: TestProvider,
) -> (Engine, Arc<TestCloud>) {
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register(provider);
    (
        Engine::new(Box::new(store), reg).with_options(fast_options()),
        cloud,
    )
}

fn args(v: &str) -> TestArgs {
    TestArgs::new(v)
}

fn refs(v: &str, to: &[&Resource<TestArgs>]) -> TestArgs {
    let mut a = TestArgs::new(v);
    a.refs = to.iter().map(|r| r.id().into()).collect();
    a
}

fn no_opts() -> PlanOptions {
    PlanOptions::default()
}

fn step_action(plan: &Plan, name: &str) -> Option<Action> {
    plan.steps
        .iter()
        .find(|s| s.urn == urn(name))
        .map(|s| s.action)
}

fn op<'a>(ops: &'a [OpReport], name: &str) -> &'a OpReport {
    ops.iter()
        .find(|o| o.urn == urn(name))
        .unwrap_or_else(|| panic!("no op for {name} in {ops:?}"))
}

fn state_names(store: &dyn StateStore) -> Vec<String> {
    let mut v: Vec<String> = store
        .resources()
        .unwrap()
        .into_iter()
        .map(|r| r.urn.name().to_string())
        .collect();
    v.sort();
    v
}

/// The single provider event for (name, op); panics if not exactly one.
fn event(cloud: &TestCloud, name: &str, op: Op) -> testing::Event {
    let ev: Vec<_> = cloud
        .events()
        .into_iter()
        .filter(|e| e.urn == urn(name) && e.op == op && e.ok)
        .collect();
    assert_eq!(ev.len(), 1, "{name} {op:?}: {ev:?}");
    ev.into_iter().next().unwrap()
}

fn assert_one_object_per_urn(cloud: &TestCloud) {
    for (u, n) in cloud.count_by_urn() {
        assert_eq!(n, 1, "{u} has {n} objects: {:?}", cloud.objects());
    }
}

fn assert_text(actual: &str, expected: &str) {
    assert_eq!(
        actual, expected,
        "\n--- actual ---\n{actual}--- expected ---\n{expected}"
    );
}

/// Records every engine event.
#[derive(Default)]
struct Collect(Mutex<Vec<Event>>);
impl EventSink for Collect {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

/// Cancels on the first op that starts.
struct CancelOnFirstStart(Cancel);
impl EventSink for CancelOnFirstStart {
    fn event(&self, e: &Event) {
        if matches!(e, Event::OpStarted { .. }) {
            self.0.cancel();
        }
    }
}

// ------------------------------------------------------ 1. plan snapshots

struct Shape {
    subnet_value: &'static str,
    extra_key: &'static str,
    extra_dbr: bool,
    with_extra: bool,
}

const BASE: Shape = Shape {
    subnet_value: "10.0.1.0/24",
    extra_key: "",
    extra_dbr: false,
    with_extra: true,
};

fn snapshot_stack(s: &Shape) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let net = root.resource("net", args("10.0.0.0/16")).unwrap();
    let subnet = root
        .resource("subnet", refs(s.subnet_value, &[&net]))
        .unwrap();
    let mut app = refs("app-v1", &[&subnet]);
    app.secret_in = Some(Input::secret("hunter2-db-password"));
    root.resource("app", app).unwrap();
    if s.with_extra {
        let mut extra = args("extra");
        extra.replace_key = s.extra_key.into();
        root.resource_with(
            "extra",
            extra,
            ResourceOptions::new().delete_before_replace(s.extra_dbr),
        )
        .unwrap();
    }
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_text_snapshots_for_every_action() {
    let (mut eng, _cloud) = engine_with(mem_store(), TestProvider::new());
    let cancel = Cancel::new();

    // Create against empty state.
    let st = snapshot_stack(&BASE);
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_text(
        &render::plan_text(&plan, PLAIN),
        concat!(
            "Stack dev:\n\n",
            "    + dev::::test:index/Thing::extra\n",
            "    + dev::::test:index/Thing::net\n",
            "    + dev::::test:index/Thing::subnet\n",
            "    + dev::::test:index/Thing::app\n",
            "\nPlan: 4 to create, 0 to update, 0 to replace, 0 to delete.\n",
        ),
    );

    // JSON: secrets redacted, references to not-yet-created ids unknown.
    let j = render::plan_json(&plan);
    let steps = j["steps"].as_array().unwrap();
    let find = |n: &str| {
        steps
            .iter()
            .find(|s| s["urn"] == urn(n).as_str())
            .unwrap_or_else(|| panic!("{n} in {j}"))
    };
    assert_eq!(find("app")["after"]["secret_in"], "(sensitive)");
    assert_eq!(
        find("subnet")["after"]["refs"],
        serde_json::json!(["(known after apply)"])
    );
    assert_eq!(
        find("app")["after"]["refs"],
        serde_json::json!(["(known after apply)"])
    );
    assert_eq!(j["summary"]["create"], 4);
    assert!(!j.to_string().contains("hunter2-db-password"), "{j}");

    eng.up(&st, &no_opts(), &cancel).await.unwrap();
    let same = eng.preview(&st, &no_opts()).await.unwrap();
    assert!(!same.has_changes());
    assert_eq!(
        render::plan_text(&same, PLAIN),
        "No changes. Stack dev is up to date (4 resources).\n"
    );

    // Update in place.
    let st = snapshot_stack(&Shape {
        subnet_value: "10.0.2.0/24",
        ..BASE
    });
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_text(
        &render::plan_text(&plan, PLAIN),
        concat!(
            "Stack dev:\n\n",
            "    ~ dev::::test:index/Thing::subnet\n",
            "      ~ value: \"10.0.1.0/24\" => \"10.0.2.0/24\"\n",
            "\nPlan: 0 to create, 1 to update, 0 to replace, 0 to delete.\n",
        ),
    );

    // Force-new change: create-before-delete replacement.
    let st = snapshot_stack(&Shape {
        extra_key: "k2",
        ..BASE
    });
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_text(
        &render::plan_text(&plan, PLAIN),
        concat!(
            "Stack dev:\n\n",
            "  +/- dev::::test:index/Thing::extra (create replacement, then delete)\n",
            "      ~ replace_key: \"\" => \"k2\" # forces replacement\n",
            "\nPlan: 0 to create, 0 to update, 1 to replace, 0 to delete.\n",
        ),
    );

    // The same with delete_before_replace.
    let st = snapshot_stack(&Shape {
        extra_key: "k2",
        extra_dbr: true,
        ..BASE
    });
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_text(
        &render::plan_text(&plan, PLAIN),
        concat!(
            "Stack dev:\n\n",
            "  -/+ dev::::test:index/Thing::extra (delete, then create)\n",
            "      ~ replace_key: \"\" => \"k2\" # forces replacement\n",
            "\nPlan: 0 to create, 0 to update, 1 to replace, 0 to delete.\n",
        ),
    );

    // Removed from the declaration.
    let st = snapshot_stack(&Shape {
        with_extra: false,
        ..BASE
    });
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_text(
        &render::plan_text(&plan, PLAIN),
        concat!(
            "Stack dev:\n\n",
            "    - dev::::test:index/Thing::extra\n",
            "\nPlan: 0 to create, 0 to update, 0 to replace, 1 to delete.\n",
        ),
    );
}

// ------------------------------------------------------------- 2. cycles

fn declared(name: &str, depends_on: &[&str]) -> Declared {
    Declared {
        urn: urn(name),
        type_name: TestArgs::TYPE.to_string(),
        inputs: serde_json::to_value(args(name)).unwrap(),
        options: ResourceOptions {
            depends_on: depends_on.iter().map(|d| urn(d)).collect(),
            ..Default::default()
        },
        parent: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_cycle_is_reported_with_its_path() {
    let (mut eng, cloud) = engine_with(mem_store(), TestProvider::new());
    let mut st = Stack::new(STACK).unwrap();
    st.push(declared("a", &["b"])).unwrap();
    st.push(declared("b", &["c"])).unwrap();
    st.push(declared("c", &["a"])).unwrap();
    st.push(declared("free", &[])).unwrap();
    let err = eng.preview(&st, &no_opts()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("dependency cycle: "), "{msg}");
    for n in ["a", "b", "c"] {
        assert!(msg.contains(urn(n).as_str()), "{msg}");
    }
    assert!(!msg.contains("::free"), "{msg}");
    // The path closes on itself: first and last node agree.
    let path: Vec<&str> = msg["dependency cycle: ".len()..].split(" -> ").collect();
    assert_eq!(path.len(), 4, "{msg}");
    assert_eq!(path[0], path[3], "{msg}");
    // Nothing is applied either.
    assert!(eng.up(&st, &no_opts(), &Cancel::new()).await.is_err());
    assert!(cloud.objects().is_empty());
}

// ------------------------------------------------------------ 3. protect

fn protect_stack(with_p: bool, protect: bool, key: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    if with_p {
        let mut a = args("precious");
        a.replace_key = key.into();
        root.resource_with("p", a, ResourceOptions::new().protect(protect))
            .unwrap();
    }
    root.resource("q", args("plain")).unwrap();
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resources_refuse_delete_and_replace_until_unprotected() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&protect_stack(true, true, ""), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(store.resource(&urn("p")).unwrap().unwrap().options.protect);

    let err = eng
        .preview(&protect_stack(false, true, ""), &no_opts())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("protected") && msg.contains("cannot be deleted"),
        "{msg}"
    );
    assert!(msg.contains(urn("p").as_str()), "{msg}");

    let err = eng
        .preview(&protect_stack(true, true, "k2"), &no_opts())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("protected") && msg.contains("cannot be replaced"),
        "{msg}"
    );
    assert!(msg.contains("replace_key"), "{msg}");
    // up refuses as well and touches nothing.
    assert!(eng
        .up(&protect_stack(false, true, ""), &no_opts(), &cancel)
        .await
        .is_err());
    assert_eq!(cloud.by_urn(urn("p").as_str()).len(), 1);
    assert_eq!(cloud.deletes(&urn("p")), 0);

    // Unprotect: a metadata-only change, no provider call.
    cloud.clear_events();
    let unprot = protect_stack(true, false, "");
    let plan = eng.preview(&unprot, &no_opts()).await.unwrap();
    assert!(!plan.has_changes());
    assert_eq!(step_action(&plan, "p"), Some(Action::Same));
    eng.up(&unprot, &no_opts(), &cancel).await.unwrap();
    assert!(cloud.events().is_empty(), "{:?}", cloud.events());
    assert!(!store.resource(&urn("p")).unwrap().unwrap().options.protect);

    let gone = protect_stack(false, false, "");
    let plan = eng.preview(&gone, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "p"), Some(Action::Delete));
    eng.up(&gone, &no_opts(), &cancel).await.unwrap();
    assert!(cloud.by_urn(urn("p").as_str()).is_empty());
    assert_eq!(state_names(&store), vec!["q"]);
}

// ------------------------------------------------- 4. replacement order

fn replace_stack(key: &str, dbr: bool) -> Stack {
    replace_stack_y(key, dbr, "")
}

/// As `replace_stack`, with y's force-new key.
fn replace_stack_y(key: &str, dbr: bool, y_key: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let mut xa = args("x");
    xa.replace_key = key.into();
    let x = root
        .resource_with("x", xa, ResourceOptions::new().delete_before_replace(dbr))
        .unwrap();
    let mut ya = refs("y", &[&x]);
    ya.replace_key = y_key.into();
    root.resource("y", ya).unwrap();
    st
}

fn y_refs(store: &MemoryStore) -> serde_json::Value {
    store.resource(&urn("y")).unwrap().unwrap().inputs["refs"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_orders_create_delete_and_dependents() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(20)),
    );
    let cancel = Cancel::new();
    eng.up(&replace_stack("k1", false), &no_opts(), &cancel)
        .await
        .unwrap();
    let x0 = store.resource(&urn("x")).unwrap().unwrap().id;
    assert_eq!(y_refs(&store), serde_json::json!([x0]));

    // Create before delete: new x, then y moves to it, then old x goes.
    cloud.clear_events();
    let (plan, report) = eng
        .up(&replace_stack("k2", false), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(step_action(&plan, "x"), Some(Action::Replace));
    assert_eq!(step_action(&plan, "y"), Some(Action::Update));
    let create_x = event(&cloud, "x", Op::Create);
    let update_y = event(&cloud, "y", Op::Update);
    let delete_x = event(&cloud, "x", Op::Delete);
    assert!(create_x.end <= delete_x.start, "{create_x:?} {delete_x:?}");
    assert!(create_x.end <= update_y.start, "{create_x:?} {update_y:?}");
    assert!(update_y.end <= delete_x.start, "{update_y:?} {delete_x:?}");
    let x1 = store.resource(&urn("x")).unwrap().unwrap().id;
    assert_ne!(x0, x1);
    assert!(cloud.get(&x0).is_none());
    assert_eq!(y_refs(&store), serde_json::json!([x1]));
    assert!(store.condemned().unwrap().is_empty());
    assert_one_object_per_urn(&cloud);
    assert_eq!(cloud.count_by_urn().len(), 2);

    // Delete before replace under y, which would only be updated: x would
    // be deleted from under it, so the plan is refused, naming both.
    let serial = store.serial().unwrap();
    let err = eng
        .up(&replace_stack("k3", true), &no_opts(), &cancel)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x must be replaced with delete_before_replace")
            && err.contains("test:index/Thing::y still use(s) it"),
        "{err}"
    );
    assert_eq!(store.serial().unwrap(), serial, "nothing was written");

    // With y replaced too, both go first (dependent first), then come back.
    cloud.clear_events();
    let (plan, report) = eng
        .up(&replace_stack_y("k3", true, "y2"), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(plan
        .steps
        .iter()
        .all(|s| s.action == Action::Replace && s.delete_before_replace));
    let delete_x = event(&cloud, "x", Op::Delete);
    let create_x = event(&cloud, "x", Op::Create);
    let delete_y = event(&cloud, "y", Op::Delete);
    let create_y = event(&cloud, "y", Op::Create);
    assert!(delete_y.end <= delete_x.start, "{delete_y:?} {delete_x:?}");
    assert!(delete_x.end <= create_x.start, "{delete_x:?} {create_x:?}");
    assert!(create_x.end <= create_y.start, "{create_x:?} {create_y:?}");
    let x2 = store.resource(&urn("x")).unwrap().unwrap().id;
    assert!(cloud.get(&x1).is_none());
    assert_eq!(y_refs(&store), serde_json::json!([x2]));
    assert_one_object_per_urn(&cloud);
    assert_eq!(cloud.count_by_urn().len(), 2);
    assert!(!eng
        .preview(&replace_stack_y("k3", true, "y2"), &no_opts())
        .await
        .unwrap()
        .has_changes());
}

// --------------------------------------------------------- 5. concurrency

/// Chains `p1 <- p2 <- p3` for each prefix; returns the edges (dependent, dependency).
fn chains(prefixes: &[&str], len: usize) -> (Stack, Vec<(String, String)>) {
    let mut st = Stack::new(STACK).unwrap();
    let mut edges = Vec::new();
    let mut root = st.root();
    for p in prefixes {
        let mut prev: Option<Resource<TestArgs>> = None;
        for i in 1..=len {
            let name = format!("{p}{i}");
            let a = match &prev {
                Some(r) => {
                    edges.push((name.clone(), r.urn().name().to_string()));
                    refs(&name, &[r])
                }
                None => args(&name),
            };
            prev = Some(root.resource(&name, a).unwrap());
        }
    }
    (st, edges)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_chains_run_concurrently_and_edges_are_respected() {
    let (mut eng, cloud) = engine_with(
        mem_store(),
        TestProvider::new().latency(Duration::from_millis(50)),
    );
    eng.options.parallel = 10;
    let (st, edges) = chains(&["a", "b"], 3);
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    let ev = cloud.events();
    assert_eq!(ev.len(), 6);
    let chain_of = |e: &testing::Event| e.urn.name().chars().next().unwrap();
    assert!(
        ev.iter().any(|a| ev
            .iter()
            .any(|b| chain_of(a) != chain_of(b) && a.overlaps(b))),
        "no overlap between chains: {ev:?}"
    );
    assert_eq!(edges.len(), 4);
    for (dependent, dependency) in &edges {
        let d = event(&cloud, dependent, Op::Create);
        let p = event(&cloud, dependency, Op::Create);
        assert!(
            d.start >= p.end,
            "{dependent} started before {dependency} ended"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_one_runs_one_call_at_a_time() {
    let (mut eng, cloud) = engine_with(
        mem_store(),
        TestProvider::new().latency(Duration::from_millis(20)),
    );
    eng.options.parallel = 1;
    let (st, _) = chains(&["a", "b"], 3);
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    let ev = cloud.events();
    assert_eq!(ev.len(), 6);
    for (i, a) in ev.iter().enumerate() {
        for b in &ev[i + 1..] {
            assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
        }
    }
    assert_eq!(cloud.max_in_flight(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_service_concurrency_limit_is_enforced() {
    let (mut eng, cloud) = engine_with(
        mem_store(),
        TestProvider::new()
            .latency(Duration::from_millis(100))
            .concurrency_limit("svc", 2),
    );
    let (st, _) = chains(&["a", "b", "c", "d", "e", "f"], 1);
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    assert_eq!(cloud.objects().len(), 6);
    assert!(cloud.max_in_flight() <= 2, "{}", cloud.max_in_flight());
    assert_eq!(cloud.max_in_flight(), 2, "the limit is used, not undercut");
}

// ------------------------------------------------------------ 6. failure

fn abcd() -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let a = root.resource("a", args("a")).unwrap();
    let b = root.resource("b", refs("b", &[&a])).unwrap();
    root.resource("c", refs("c", &[&b])).unwrap();
    root.resource("d", args("d")).unwrap();
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_create_skips_dependents_and_next_up_converges() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new().fail_on("b", Op::Create));
    let st = abcd();
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(!report.is_success());
    assert_eq!(op(&report.ops, "a").status, OpStatus::Done);
    assert!(
        matches!(&op(&report.ops, "b").status, OpStatus::Failed(e) if e.contains("injected failure")),
        "{report:?}"
    );
    assert_eq!(
        op(&report.ops, "c").status,
        OpStatus::Skipped(urn("b").to_string())
    );
    assert_eq!(op(&report.ops, "d").status, OpStatus::Done);
    assert_eq!(
        report.tally(),
        Tally {
            done: 2,
            failed: 1,
            skipped: 1,
            not_started: 0
        }
    );
    let text = render::report_text(&report, PLAIN);
    assert!(
        text.contains("Apply failed: 2 done, 1 failed, 1 skipped"),
        "{text}"
    );
    assert_eq!(state_names(&store), vec!["a", "d"]);
    assert!(store.pending().unwrap().is_empty());
    assert!(cloud.by_urn(urn("b").as_str()).is_empty());
    assert!(cloud.by_urn(urn("c").as_str()).is_empty());
    assert_eq!(store.lock_status().unwrap(), None);

    // Same store and cloud, failure gone: only b and c are created.
    let (mut eng2, _) = engine_with(store.clone(), TestProvider::new().backend(cloud.clone()));
    let (plan, report) = eng2.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let c = plan.counts();
    assert_eq!((c.create, c.update, c.replace, c.delete), (2, 0, 0, 0));
    for n in ["a", "b", "c", "d"] {
        assert_eq!(cloud.creates(&urn(n)), 1, "{n}");
    }
    assert_eq!(state_names(&store), vec!["a", "b", "c", "d"]);
    assert_one_object_per_urn(&cloud);
    assert!(!eng2.preview(&st, &no_opts()).await.unwrap().has_changes());
}

// -------------------------------------------------------------- 7. retry

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_are_retried_until_success() {
    let sink = Arc::new(Collect::default());
    let (eng, cloud) = engine_with(mem_store(), TestProvider::new().fail_times("x", 2));
    let mut eng = eng.with_events(sink.clone());
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args("x")).unwrap();
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    let x = op(&report.ops, "x");
    assert_eq!(x.status, OpStatus::Done);
    assert_eq!(x.attempts, 3);
    assert_eq!(cloud.creates(&urn("x")), 1);
    // Before each create is issued again, the engine looks it up by URN.
    let calls: Vec<(Op, bool)> = cloud.events().iter().map(|e| (e.op, e.ok)).collect();
    assert_eq!(
        calls,
        vec![
            (Op::Create, false),
            (Op::FindByUrn, true),
            (Op::Create, false),
            (Op::FindByUrn, true),
            (Op::Create, true)
        ]
    );
    let retries = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::OpRetrying { .. }))
        .count();
    assert_eq!(retries, 2);

    // Out of attempts: the op fails after max_attempts.
    let (mut eng, cloud) = engine_with(mem_store(), TestProvider::new().fail_times("x", 10));
    eng.options.retry.max_attempts = 3;
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    let x = op(&report.ops, "x");
    assert!(matches!(x.status, OpStatus::Failed(_)), "{x:?}");
    assert_eq!(x.attempts, 3);
    assert!(cloud.objects().is_empty());
}

// ------------------------------------------------------------- 8. cancel

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_finishes_running_ops_and_starts_nothing_new() {
    let store = mem_store();
    let cancel = Cancel::new();
    let (eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(200)),
    );
    let mut eng = eng.with_events(Arc::new(CancelOnFirstStart(cancel.clone())));
    let (st, _) = chains(&["n"], 5);
    let (_, report) = eng.up(&st, &no_opts(), &cancel).await.unwrap();
    assert!(report.cancelled);
    assert!(!report.is_success());
    let done: Vec<String> = report
        .ops
        .iter()
        .filter(|o| o.status == OpStatus::Done)
        .map(|o| o.urn.name().to_string())
        .collect();
    assert_eq!(done, vec!["n1"]);
    let t = report.tally();
    assert_eq!((t.done, t.not_started, t.failed, t.skipped), (1, 4, 0, 0));
    assert!(report
        .ops
        .iter()
        .filter(|o| o.urn != urn("n1"))
        .all(|o| o.status == OpStatus::NotStarted && o.started.is_none()));
    assert_eq!(state_names(&store), done);
    assert_eq!(cloud.objects().len(), 1);
    assert_eq!(store.lock_status().unwrap(), None);
    assert!(store.pending().unwrap().is_empty());
    let text = render::report_text(&report, PLAIN);
    assert!(
        text.starts_with("Cancelled: 1 done, 0 failed, 0 skipped, 4 not started"),
        "{text}"
    );
}

// --------------------------------------------------- 9. crash recovery

fn pending_create(name: &str, inputs: &serde_json::Value) -> PendingOp {
    PendingOp {
        id: 0,
        urn: urn(name),
        kind: OpKind::Create,
        type_name: TestArgs::TYPE.to_string(),
        resource_id: String::new(),
        inputs: inputs.clone(),
        started_at: "2026-01-01T00:00:00Z".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_adopted_or_retried() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());

    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args("made")).unwrap();
    st.root().resource("y", args("lost")).unwrap();
    let xin = serde_json::to_value(args("made")).unwrap();
    let yin = serde_json::to_value(args("lost")).unwrap();

    // A crash after the provider call for x, and before it for y.
    store.begin_op(&pending_create("x", &xin)).unwrap();
    let ctx = Ctx::new(STACK, urn("x"));
    let made = provider.create(&ctx, &xin).await.unwrap();
    store.begin_op(&pending_create("y", &yin)).unwrap();
    assert_eq!(store.pending().unwrap().len(), 2);

    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(plan.pending.len(), 2);
    assert_eq!(step_action(&plan, "x"), None, "x is adopted, not created");
    assert_eq!(step_action(&plan, "y"), Some(Action::Create));
    let text = render::plan_text(&plan, PLAIN);
    assert!(
        text.starts_with(
            "2 pending operation(s) from an interrupted run will be resolved first:\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("  ! create {}\n", urn("x"))),
        "{text}"
    );
    // Preview changes nothing.
    assert_eq!(store.pending().unwrap().len(), 2);
    assert!(store.resources().unwrap().is_empty());

    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap().id, made.id);
    assert_eq!(cloud.creates(&urn("x")), 1);
    assert_eq!(cloud.creates(&urn("y")), 1);
    assert_eq!(cloud.count_by_urn().get(urn("x").as_str()), Some(&1));
    assert_eq!(cloud.count_by_urn().get(urn("y").as_str()), Some(&1));
    assert_eq!(state_names(&store), vec!["x", "y"]);
    assert!(!eng.preview(&st, &no_opts()).await.unwrap().has_changes());
}

// ----------------------------------------------------------- 10. secrets

const CANARY: &str = "PLAINTEXT-CANARY-9";

fn secret_stack(t_key: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let mut sa = args("s");
    sa.secret_in = Some(Input::secret(CANARY));
    let s = root.resource("s", sa).unwrap();
    let mut ta = TestArgs::new(s.secret_out());
    ta.replace_key = t_key.into();
    root.resource("t", ta).unwrap();
    st
}

fn dir_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect()
}

fn assert_absent(haystack: &str, secrets: &[&str], what: &str) {
    for s in secrets {
        assert!(!haystack.contains(s), "{what} leaks {s}: {haystack}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_disk_renderings_or_plan_files() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = state::keys::open_sqlite(dir.path(), STACK).unwrap();
    let (mut eng, cloud) = engine_with(store, TestProvider::new());
    let cancel = Cancel::new();

    let create = eng.preview(&secret_stack(""), &no_opts()).await.unwrap();
    let (_, report) = eng
        .up(&secret_stack(""), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let s_obj = cloud.by_urn(urn("s").as_str()).remove(0);
    assert_eq!(s_obj.secret_in.as_deref(), Some(CANARY));
    let secret_out = s_obj.secret_out.clone();
    let t_obj = cloud.by_urn(urn("t").as_str()).remove(0);
    assert_eq!(t_obj.value, secret_out, "t got s's secret_out");
    assert!(
        t_obj.value_secret,
        "a secret output stays secret downstream"
    );
    let secrets = [CANARY, secret_out.as_str()];

    // Plans that carry both secrets: a replacement of t and a destroy.
    let replace = eng.preview(&secret_stack("k2"), &no_opts()).await.unwrap();
    let destroy = eng
        .preview(
            &secret_stack(""),
            &PlanOptions {
                destroy: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let raw = serde_json::to_string(&destroy).unwrap();
    assert!(
        raw.contains(CANARY) && raw.contains(&secret_out),
        "the test must see the secrets"
    );
    assert!(serde_json::to_string(&replace)
        .unwrap()
        .contains(&secret_out));

    for (name, plan) in [
        ("create", &create),
        ("replace", &replace),
        ("destroy", &destroy),
    ] {
        for style in [
            PLAIN,
            Style {
                color: true,
                diff: true,
            },
        ] {
            assert_absent(&render::plan_text(plan, style), &secrets, name);
        }
        assert_absent(&render::plan_json(plan).to_string(), &secrets, name);
        let sealed = eng.seal_plan(plan).unwrap();
        assert_absent(&sealed.to_string(), &secrets, name);
        assert_eq!(&eng.unseal_plan(&sealed).unwrap(), plan, "{name}");
    }
    let diff_text = render::plan_text(
        &destroy,
        Style {
            color: false,
            diff: true,
        },
    );
    assert!(
        diff_text.contains("- secret_in = (sensitive)"),
        "{diff_text}"
    );
    assert_absent(&render::report_text(&report, PLAIN), &secrets, "report");

    // The state files, open and after close.
    let check_files = || {
        let files = dir_bytes(dir.path());
        assert!(
            files.iter().any(|(p, _)| p.ends_with(".db")),
            "{:?}",
            files.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for (path, bytes) in files {
            for s in &secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{path} holds {s}"
                );
            }
        }
    };
    check_files();
    let (_, report) = eng
        .up(&secret_stack("k2"), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    check_files();
    drop(eng);
    check_files();
}

// ---------------------------------------------------- 11. up --plan

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plan_is_refused_once_state_moves_on() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let st = abcd();
    let old = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(old.serial, store.serial().unwrap());
    eng.up(&st, &no_opts(), &cancel).await.unwrap();

    let err = eng.apply(&st, &old, &cancel).await.unwrap_err();
    assert!(
        matches!(err, EngineError::StalePlan { plan, state } if plan == old.serial && state > plan),
        "{err:?}"
    );
    assert_eq!(cloud.objects().len(), 4, "the stale plan created nothing");
    assert_eq!(store.lock_status().unwrap(), None);

    // A fresh plan applies, and exactly as shown.
    let mut st2 = Stack::new(STACK).unwrap();
    {
        let mut root = st2.root();
        let a = root.resource("a", args("a2")).unwrap();
        let b = root.resource("b", refs("b", &[&a])).unwrap();
        root.resource("c", refs("c", &[&b])).unwrap();
        root.resource("d", args("d")).unwrap();
    }
    let fresh = eng.preview(&st2, &no_opts()).await.unwrap();
    assert_eq!(fresh.counts().update, 1);
    let report = eng.apply(&st2, &fresh, &cancel).await.unwrap();
    assert!(report.is_success());
    let a_id = store.resource(&urn("a")).unwrap().unwrap().id;
    assert_eq!(cloud.get(&a_id).unwrap().value, "a2");
    // And a second apply of the same plan is stale.
    assert!(matches!(
        eng.apply(&st2, &fresh, &cancel).await,
        Err(EngineError::StalePlan { .. })
    ));
}

// ------------------------------------------------------------ 12. target

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_creates_only_the_target_and_its_dependencies() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let st = abcd();
    let opts = PlanOptions {
        targets: vec![urn("b")],
        ..Default::default()
    };
    let (plan, report) = eng.up(&st, &opts, &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    assert_eq!(plan.counts().create, 2);
    assert_eq!(state_names(&store), vec!["a", "b"]);
    assert!(cloud.by_urn(urn("c").as_str()).is_empty());
    assert!(cloud.by_urn(urn("d").as_str()).is_empty());
    assert_eq!(cloud.objects().len(), 2);

    let bad = PlanOptions {
        targets: vec![urn("nope")],
        ..Default::default()
    };
    let err = eng.preview(&st, &bad).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("names no declared or managed resource"),
        "{err}"
    );
}

// ---------------------------------------------------- 13. ignore_changes

fn ignoring(value: &str, key: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut a = args(value);
    a.replace_key = key.into();
    st.root()
        .resource_with("x", a, ResourceOptions::new().ignore_changes("value"))
        .unwrap();
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_fields_plan_no_changes() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&ignoring("v1", ""), &no_opts(), &cancel)
        .await
        .unwrap();
    let plan = eng.preview(&ignoring("v2", ""), &no_opts()).await.unwrap();
    assert!(!plan.has_changes(), "{plan:?}");
    assert_eq!(
        render::plan_text(&plan, PLAIN),
        "No changes. Stack dev is up to date (1 resources).\n"
    );
    cloud.clear_events();
    eng.up(&ignoring("v2", ""), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(cloud.events().is_empty());
    let id = store.resource(&urn("x")).unwrap().unwrap().id;
    assert_eq!(cloud.get(&id).unwrap().value, "v1");

    // Fields not ignored are still planned.
    let plan = eng
        .preview(&ignoring("v3", "k2"), &no_opts())
        .await
        .unwrap();
    let s = plan.steps.iter().find(|s| s.urn == urn("x")).unwrap();
    assert_eq!(s.action, Action::Replace);
    assert_eq!(s.changed, vec!["replace_key"]);
}

// ---------------------------------------------------------- 14. drift

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_does_not_refresh_out_of_band_changes() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args("v1")).unwrap();
    eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    let id = store.resource(&urn("x")).unwrap().unwrap().id;
    assert!(cloud.set_value(&id, "drifted"));
    cloud.clear_events();
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(
        render::plan_text(&plan, PLAIN),
        "No changes. Stack dev is up to date (1 resources).\n"
    );
    assert!(cloud.events().is_empty(), "preview made provider calls");
    assert_eq!(cloud.get(&id).unwrap().value, "drifted");
}

// ------------------------------------------------------------- 15. lock

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_holder_is_named_and_waiters_get_it_when_released() {
    let store_a = mem_store();
    let store_b = store_a.clone();
    let (mut eng_a, cloud) = engine_with(store_a.clone(), TestProvider::new());
    let (eng_b, _) = engine_with(store_b, TestProvider::new().backend(cloud.clone()));
    let sink = Arc::new(Collect::default());
    let mut eng_b = eng_b.with_events(sink.clone());
    let st = abcd();

    let held = eng_a.lock("up").await.unwrap();
    assert_eq!(store_a.lock_status().unwrap().as_ref(), Some(&held));
    let err = eng_b.up(&st, &no_opts(), &Cancel::new()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("locked by"), "{msg}");
    assert!(msg.contains(&held.who), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains(&held.id), "{msg}");
    assert!(cloud.objects().is_empty());
    assert_eq!(
        store_a.lock_status().unwrap().as_ref(),
        Some(&held),
        "B left A's lock alone"
    );

    // B waits; A lets go after 300ms.
    eng_b.options.lock_timeout = Duration::from_secs(2);
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        eng_a.unlock(&held).unwrap();
        eng_a
    });
    let (_, report) = eng_b.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    release.await.unwrap();
    assert_eq!(cloud.objects().len(), 4);
    assert!(sink
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::WaitingForLock { holder } if holder.contains("pid"))));
    assert_eq!(store_a.lock_status().unwrap(), None);
}

// ------------------------------------------------------------- extras

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_delete_is_recorded_not_repeated() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args("x")).unwrap();
    st.root().resource("keep", args("keep")).unwrap();
    eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    let x = store.resource(&urn("x")).unwrap().unwrap();

    // A crash after the provider deleted x, before state recorded it.
    store
        .begin_op(&PendingOp {
            id: 0,
            urn: urn("x"),
            kind: OpKind::Delete,
            type_name: TestArgs::TYPE.into(),
            resource_id: x.id.clone(),
            inputs: x.inputs.clone(),
            started_at: "2026-01-01T00:00:00Z".into(),
        })
        .unwrap();
    let ctx = Ctx::new(STACK, urn("x"));
    provider
        .delete(&ctx, &x.id, &x.inputs, &x.outputs)
        .await
        .unwrap();

    let mut gone = Stack::new(STACK).unwrap();
    gone.root().resource("keep", args("keep")).unwrap();
    let plan = eng.preview(&gone, &no_opts()).await.unwrap();
    assert_eq!(plan.pending.len(), 1);
    assert_eq!(step_action(&plan, "x"), None, "{plan:?}");
    let (_, report) = eng.up(&gone, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    assert_eq!(cloud.deletes(&urn("x")), 1, "not deleted twice");
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(state_names(&store), vec!["keep"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_replacement_adopts_the_new_object() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    eng.up(&replace_stack("k1", false), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let old = store.resource(&urn("x")).unwrap().unwrap();

    // Crash right after the replacement of x was created.
    let mut new_args = args("x");
    new_args.replace_key = "k2".into();
    let new_inputs = serde_json::to_value(&new_args).unwrap();
    store
        .begin_op(&PendingOp {
            kind: OpKind::CreateReplacement,
            ..pending_create("x", &new_inputs)
        })
        .unwrap();
    let ctx = Ctx::new(STACK, urn("x"));
    let made = provider.create(&ctx, &new_inputs).await.unwrap();
    assert_eq!(cloud.by_urn(urn("x").as_str()).len(), 2);

    let (_, report) = eng
        .up(&replace_stack("k2", false), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let now = store.resource(&urn("x")).unwrap().unwrap();
    assert_eq!(
        now.id, made.id,
        "the new object is adopted, not the old one"
    );
    assert!(cloud.get(&old.id).is_none(), "the old half is deleted");
    assert!(cloud.get(&made.id).is_some());
    assert_one_object_per_urn(&cloud);
    assert!(store.condemned().unwrap().is_empty());
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(y_refs(&store), serde_json::json!([made.id]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_delete_of_replaced_half_is_condemned_and_retried() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&replace_stack("k1", false), &no_opts(), &cancel)
        .await
        .unwrap();
    let x0 = store.resource(&urn("x")).unwrap().unwrap().id;

    let (mut bad, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .fail_on("x", Op::Delete),
    );
    let (_, report) = bad
        .up(&replace_stack("k2", false), &no_opts(), &cancel)
        .await
        .unwrap();
    let del = report
        .ops
        .iter()
        .find(|o| o.kind == OpKind::DeleteReplaced)
        .unwrap();
    assert!(matches!(del.status, OpStatus::Failed(_)), "{report:?}");
    let x1 = store.resource(&urn("x")).unwrap().unwrap().id;
    assert_ne!(x0, x1);
    let condemned: Vec<String> = store
        .condemned()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(condemned, vec![x0.clone()]);
    assert_eq!(cloud.by_urn(urn("x").as_str()).len(), 2);

    let plan = eng
        .preview(&replace_stack("k2", false), &no_opts())
        .await
        .unwrap();
    let text = render::plan_text(&plan, PLAIN);
    assert!(
        text.contains(&format!("    - {} (old half of a replacement)\n", urn("x"))),
        "{text}"
    );
    let (_, report) = eng
        .up(&replace_stack("k2", false), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(store.condemned().unwrap().is_empty());
    assert!(cloud.get(&x0).is_none());
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap().id, x1);
    assert_one_object_per_urn(&cloud);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_replacement_create_keeps_the_old_resource() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&replace_stack("k1", false), &no_opts(), &cancel)
        .await
        .unwrap();
    let before = store.resource(&urn("x")).unwrap().unwrap();
    let (mut bad, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .fail_on("x", Op::Create),
    );
    let (_, report) = bad
        .up(&replace_stack("k2", false), &no_opts(), &cancel)
        .await
        .unwrap();
    let t = report.tally();
    // create x failed; y's update and the delete of old x are skipped.
    assert_eq!((t.done, t.failed, t.skipped), (0, 1, 2), "{report:?}");
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap(), before);
    assert!(cloud.get(&before.id).is_some());
    assert!(store.condemned().unwrap().is_empty());
    assert_one_object_per_urn(&cloud);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_before_replace_takes_replaced_dependents_first() {
    fn st(key: &str) -> Stack {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut xa = args("x");
        xa.replace_key = key.into();
        let x = root
            .resource_with("x", xa, ResourceOptions::new().delete_before_replace(true))
            .unwrap();
        let mut ya = refs("y", &[&x]);
        ya.replace_key = key.into();
        root.resource("y", ya).unwrap();
        st
    }
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(10)),
    );
    let cancel = Cancel::new();
    eng.up(&st("k1"), &no_opts(), &cancel).await.unwrap();
    cloud.clear_events();
    let plan = eng.preview(&st("k2"), &no_opts()).await.unwrap();
    let text = render::plan_text(&plan, PLAIN);
    assert!(
        text.contains(&format!("  -/+ {} (delete, then create)", urn("y"))),
        "{text}"
    );
    let report = eng.apply(&st("k2"), &plan, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let (dy, dx) = (
        event(&cloud, "y", Op::Delete),
        event(&cloud, "x", Op::Delete),
    );
    let (cx, cy) = (
        event(&cloud, "x", Op::Create),
        event(&cloud, "y", Op::Create),
    );
    assert!(dy.end <= dx.start, "y goes before x");
    assert!(dx.end <= cx.start, "old x before new x");
    assert!(cx.end <= cy.start, "new x before new y");
    assert_one_object_per_urn(&cloud);
    let x = store.resource(&urn("x")).unwrap().unwrap().id;
    assert_eq!(y_refs(&store), serde_json::json!([x]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_deletes_dependents_first_and_retain_on_delete_keeps_objects() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(10)),
    );
    let cancel = Cancel::new();
    let mut st = Stack::new(STACK).unwrap();
    {
        let mut root = st.root();
        let a = root.resource("a", args("a")).unwrap();
        let b = root.resource("b", refs("b", &[&a])).unwrap();
        root.resource("c", refs("c", &[&b])).unwrap();
        root.resource_with(
            "kept",
            args("k"),
            ResourceOptions::new().retain_on_delete(true),
        )
        .unwrap();
    }
    eng.up(&st, &no_opts(), &cancel).await.unwrap();
    let kept_id = store.resource(&urn("kept")).unwrap().unwrap().id;
    cloud.clear_events();
    let (plan, report) = eng.destroy(&st, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().delete, 4);
    let (da, db, dc) = (
        event(&cloud, "a", Op::Delete),
        event(&cloud, "b", Op::Delete),
        event(&cloud, "c", Op::Delete),
    );
    assert!(dc.end <= db.start && db.end <= da.start);
    assert!(store.resources().unwrap().is_empty());
    assert_eq!(cloud.deletes(&urn("kept")), 0);
    assert_eq!(
        cloud.objects().into_keys().collect::<Vec<_>>(),
        vec![kept_id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_dependent_delete_keeps_its_dependency() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let st = abcd();
    eng.up(&st, &no_opts(), &cancel).await.unwrap();
    let (mut bad, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .fail_on("c", Op::Delete),
    );
    let (_, report) = bad.destroy(&st, &cancel).await.unwrap();
    assert!(matches!(op(&report.ops, "c").status, OpStatus::Failed(_)));
    assert_eq!(
        op(&report.ops, "b").status,
        OpStatus::Skipped(urn("c").to_string())
    );
    assert_eq!(
        op(&report.ops, "a").status,
        OpStatus::Skipped(urn("c").to_string())
    );
    assert_eq!(op(&report.ops, "d").status, OpStatus::Done);
    assert_eq!(state_names(&store), vec!["a", "b", "c"]);
    assert_eq!(cloud.objects().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_records_what_was_created_despite_ignore_changes() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&ignoring("v1", ""), &no_opts(), &cancel)
        .await
        .unwrap();
    // value is ignored, but a replacement creates from the declaration.
    let (_, report) = eng
        .up(&ignoring("v3", "k2"), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let x = store.resource(&urn("x")).unwrap().unwrap();
    let live = cloud.get(&x.id).unwrap();
    assert_eq!(live.value, "v3");
    assert_eq!(x.inputs["value"], "v3", "state records what was created");
    assert_eq!(x.inputs["replace_key"], "k2");
    assert!(!eng
        .preview(&ignoring("v3", "k2"), &no_opts())
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_update_leaves_state_as_it_was() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args("v1")).unwrap();
    eng.up(&st, &no_opts(), &cancel).await.unwrap();
    let before = store.resource(&urn("x")).unwrap().unwrap();
    let serial = store.serial().unwrap();

    let (mut bad, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .fail_on("x", Op::Update),
    );
    let mut st2 = Stack::new(STACK).unwrap();
    st2.root().resource("x", args("v2")).unwrap();
    let (_, report) = bad.up(&st2, &no_opts(), &cancel).await.unwrap();
    assert!(matches!(op(&report.ops, "x").status, OpStatus::Failed(_)));
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap(), before);
    assert!(store.pending().unwrap().is_empty());
    // One step for the pending row, one for recording x as read live after
    // the failure (unchanged, as the update failed before changing it).
    assert_eq!(store.serial().unwrap(), serial + 2);
    let hist = store.history(10).unwrap();
    assert!(hist.iter().any(|h| h.result == "failed"), "{hist:?}");
    // The next up retries the update.
    let plan = eng.preview(&st2, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), Some(Action::Update));
    eng.up(&st2, &no_opts(), &cancel).await.unwrap();
    assert_eq!(cloud.get(&before.id).unwrap().value, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_of_an_update_see_new_outputs_or_stay_unchanged() {
    fn st(value: &str, latency: Option<u64>) -> Stack {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut xa = args(value);
        xa.latency_ms = latency;
        let x = root.resource("x", xa).unwrap();
        root.resource("y", TestArgs::new(x.value())).unwrap();
        st
    }
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&st("v1", None), &no_opts(), &cancel).await.unwrap();
    let y_id = store.resource(&urn("y")).unwrap().unwrap().id;
    assert_eq!(cloud.get(&y_id).unwrap().value, "v1");

    // x's value changes: y's input is unknown in the plan and follows at apply.
    let plan = eng.preview(&st("v2", None), &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "y"), Some(Action::Update));
    let j = render::plan_json(&plan);
    let y = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["urn"] == urn("y").as_str())
        .unwrap();
    assert_eq!(y["after"]["value"], "(known after apply)");
    eng.apply(&st("v2", None), &plan, &cancel).await.unwrap();
    assert_eq!(cloud.get(&y_id).unwrap().value, "v2");
    assert_eq!(
        store.resource(&urn("y")).unwrap().unwrap().inputs["value"],
        "v2"
    );

    // x changes but not its value: y is planned (unknown) yet unchanged at apply.
    cloud.clear_events();
    let (plan, report) = eng
        .up(&st("v2", Some(1)), &no_opts(), &cancel)
        .await
        .unwrap();
    assert_eq!(step_action(&plan, "y"), Some(Action::Update));
    assert_eq!(op(&report.ops, "y").status, OpStatus::Unchanged);
    assert_eq!(op(&report.ops, "x").status, OpStatus::Done);
    assert!(report.is_success());
    assert!(cloud.events().iter().all(|e| e.urn != urn("y")));
    assert!(!eng
        .preview(&st("v2", Some(1)), &no_opts())
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_resource_is_deleted_after_its_dependent_lets_go() {
    fn st(with_x: bool) -> Stack {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        if with_x {
            let x = root.resource("x", args("x")).unwrap();
            root.resource("y", refs("y", &[&x])).unwrap();
        } else {
            root.resource("y", args("y")).unwrap();
        }
        st
    }
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(10)),
    );
    let cancel = Cancel::new();
    eng.up(&st(true), &no_opts(), &cancel).await.unwrap();
    cloud.clear_events();
    let (plan, report) = eng.up(&st(false), &no_opts(), &cancel).await.unwrap();
    assert!(report.is_success());
    assert_eq!(step_action(&plan, "y"), Some(Action::Update));
    assert_eq!(step_action(&plan, "x"), Some(Action::Delete));
    let (uy, dx) = (
        event(&cloud, "y", Op::Update),
        event(&cloud, "x", Op::Delete),
    );
    assert!(uy.end <= dx.start, "{uy:?} {dx:?}");
    assert_eq!(state_names(&store), vec!["y"]);
    assert!(store
        .resource(&urn("y"))
        .unwrap()
        .unwrap()
        .dependencies
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_refuses_protected_resources() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let st = protect_stack(true, true, "");
    eng.up(&st, &no_opts(), &cancel).await.unwrap();
    let err = eng.destroy(&st, &cancel).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is protected and cannot be deleted"),
        "{err}"
    );
    assert_eq!(cloud.objects().len(), 2, "nothing deleted, q included");
    assert_eq!(store.lock_status().unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lock_of_a_dead_process_is_released() {
    let mut store = mem_store();
    let mut dead = state::lock::new_lock_info("up");
    dead.pid = 999_999_999;
    store.try_lock(&dead).unwrap();
    let sink = Arc::new(Collect::default());
    let (eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let mut eng = eng.with_events(sink.clone());
    let (_, report) = eng.up(&abcd(), &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    assert_eq!(cloud.objects().len(), 4);
    assert!(sink
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::StaleLockReleased { holder } if holder.contains(&dead.id))));
    assert_eq!(store.lock_status().unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plan_with_pending_ops_settles_them_on_apply() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let sink = Arc::new(Collect::default());
    let mut eng = Engine::new(Box::new(store.clone()), reg)
        .with_options(fast_options())
        .with_events(sink.clone());
    let mut st = Stack::new(STACK).unwrap();
    let x = st.root().resource("x", args("made")).unwrap();
    st.root().resource("y", refs("y", &[&x])).unwrap();
    let xin = serde_json::to_value(args("made")).unwrap();
    store.begin_op(&pending_create("x", &xin)).unwrap();
    let ctx = Ctx::new(STACK, urn("x"));
    let made = provider.create(&ctx, &xin).await.unwrap();

    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), None);
    assert_eq!(step_action(&plan, "y"), Some(Action::Create));
    // y's reference to x is known in the preview: x is adopted.
    assert_eq!(
        plan.steps[0].planned_inputs.as_ref().unwrap()["refs"],
        serde_json::json!([made.id])
    );
    let sealed = eng.seal_plan(&plan).unwrap();
    let report = eng
        .apply(&st, &eng.unseal_plan(&sealed).unwrap(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(cloud.creates(&urn("x")), 1);
    assert_eq!(y_refs(&store), serde_json::json!([made.id]));
    assert!(sink.0.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::PendingResolved { urn: u, outcome, .. } if *u == urn("x") && outcome.contains("adopted")
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_updates_render_as_sensitive() {
    fn st(secret: &str) -> Stack {
        let mut st = Stack::new(STACK).unwrap();
        let mut a = args("x");
        a.secret_in = Some(Input::secret(secret));
        st.root().resource("x", a).unwrap();
        st
    }
    let (mut eng, cloud) = engine_with(mem_store(), TestProvider::new());
    eng.up(&st("OLD-SECRET-1"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let plan = eng.preview(&st("NEW-SECRET-2"), &no_opts()).await.unwrap();
    assert_text(
        &render::plan_text(&plan, PLAIN),
        concat!(
            "Stack dev:\n\n",
            "    ~ dev::::test:index/Thing::x\n",
            "      ~ secret_in: (sensitive) => (sensitive)\n",
            "\nPlan: 0 to create, 1 to update, 0 to replace, 0 to delete.\n",
        ),
    );
    let j = render::plan_json(&plan).to_string();
    assert_absent(&j, &["OLD-SECRET-1", "NEW-SECRET-2"], "plan json");
    eng.up(&st("NEW-SECRET-2"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let obj = cloud.objects().into_values().next().unwrap();
    assert_eq!(obj.secret_in.as_deref(), Some("NEW-SECRET-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopted_resource_no_longer_declared_is_deleted() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    let xin = serde_json::to_value(args("orphan")).unwrap();
    store.begin_op(&pending_create("x", &xin)).unwrap();
    let ctx = Ctx::new(STACK, urn("x"));
    provider.create(&ctx, &xin).await.unwrap();
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("other", args("o")).unwrap();
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), Some(Action::Delete));
    assert_eq!(step_action(&plan, "other"), Some(Action::Create));
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(cloud.by_urn(urn("x").as_str()).is_empty(), "no leak");
    assert_eq!(state_names(&store), vec!["other"]);
    assert!(store.pending().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeted_delete_touches_only_the_named_resource() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&abcd(), &no_opts(), &cancel).await.unwrap();
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("a", args("a")).unwrap();
    // b, c, d removed; only d is targeted.
    let opts = PlanOptions {
        targets: vec![urn("d")],
        ..Default::default()
    };
    let (plan, report) = eng.up(&st, &opts, &cancel).await.unwrap();
    assert!(report.is_success());
    assert_eq!(plan.counts().delete, 1);
    assert_eq!(state_names(&store), vec!["a", "b", "c"]);
    assert!(cloud.by_urn(urn("d").as_str()).is_empty());
    assert_eq!(cloud.objects().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_are_reported_without_revealing_secrets() {
    let (mut eng, cloud) = engine_with(mem_store(), TestProvider::new());
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("plain", args("!invalid plain")).unwrap();
    st.root()
        .resource(
            "hidden",
            TestArgs::new(Input::secret("!invalid TOP-SECRET-7")),
        )
        .unwrap();
    st.root().resource("fine", args("ok")).unwrap();
    let err = eng.preview(&st, &no_opts()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("2 invalid input(s):"), "{msg}");
    assert!(msg.contains(urn("plain").as_str()), "{msg}");
    assert!(msg.contains(urn("hidden").as_str()), "{msg}");
    assert!(msg.contains("\"!invalid plain\""), "{msg}");
    assert!(!msg.contains("TOP-SECRET-7"), "{msg}");
    assert!(msg.contains("(sensitive)"), "{msg}");
    assert!(eng.up(&st, &no_opts(), &Cancel::new()).await.is_err());
    assert!(cloud.objects().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protect_all_in_a_component_is_inherited() {
    fn st(with_db: bool) -> Stack {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        root.resource("web", args("w")).unwrap();
        if with_db {
            let mut data = root
                .component("app:Data", "data")
                .unwrap()
                .protect_all(true);
            data.resource("db", args("d")).unwrap();
        }
        st
    }
    let store = mem_store();
    let (mut eng, _cloud) = engine_with(store.clone(), TestProvider::new());
    eng.up(&st(true), &no_opts(), &Cancel::new()).await.unwrap();
    let db = Urn::new(STACK, "data", TestArgs::TYPE, "db");
    let rec = store.resource(&db).unwrap().unwrap();
    assert!(rec.options.protect);
    assert_eq!(rec.parent, "data");
    let err = eng.preview(&st(false), &no_opts()).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("{db} is protected")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_for_another_stack_or_version_are_refused() {
    let (mut eng, cloud) = engine_with(mem_store(), TestProvider::new());
    let st = abcd();
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    let other = Stack::new("prod").unwrap();
    assert!(matches!(
        eng.apply(&other, &plan, &Cancel::new()).await,
        Err(EngineError::WrongStack { .. })
    ));
    let mut future = plan.clone();
    future.version += 1;
    assert!(matches!(
        eng.apply(&st, &future, &Cancel::new()).await,
        Err(EngineError::PlanVersion(_))
    ));
    assert!(cloud.objects().is_empty());
    // Unknown type and unknown dependency are plan errors.
    let mut bad = Stack::new(STACK).unwrap();
    bad.push(Declared {
        type_name: "nope:index/Thing".into(),
        urn: Urn::new(STACK, "", "nope:index/Thing", "n"),
        ..declared("n", &[])
    })
    .unwrap();
    let err = eng.preview(&bad, &no_opts()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("no provider for resource type nope:index/Thing"),
        "{err}"
    );
    let mut bad = Stack::new(STACK).unwrap();
    bad.push(declared("a", &["ghost"])).unwrap();
    let err = eng.preview(&bad, &no_opts()).await.unwrap_err();
    assert!(
        err.to_string().contains("not declared in this stack"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_run_is_recorded_in_history_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = state::keys::open_sqlite(dir.path(), STACK).unwrap();
    let cancel = Cancel::new();
    let (eng, cloud) = engine_with(
        store,
        TestProvider::new().latency(Duration::from_millis(50)),
    );
    let mut eng = eng.with_events(Arc::new(CancelOnFirstStart(cancel.clone())));
    let (st, _) = chains(&["n"], 3);
    let (_, report) = eng.up(&st, &no_opts(), &cancel).await.unwrap();
    assert!(report.cancelled);
    let hist = eng.store().history(10).unwrap();
    assert_eq!(hist[0].result, "cancelled", "{hist:?}");
    assert!(eng.store().pending().unwrap().is_empty());
    assert_eq!(eng.store().lock_status().unwrap(), None);
    drop(eng);

    // Reopen the state, as the next process would.
    let (store, _) = state::keys::open_sqlite(dir.path(), STACK).unwrap();
    let (mut eng, _) = engine_with(store, TestProvider::new().backend(cloud.clone()));
    let (plan, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    assert_eq!(plan.counts().create, 2);
    assert_eq!(cloud.objects().len(), 3);
    assert_one_object_per_urn(&cloud);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untargeted_resources_keep_their_recorded_dependencies() {
    let store = mem_store();
    let (mut eng, _cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let mut st = Stack::new(STACK).unwrap();
    {
        let mut root = st.root();
        let x = root.resource("x", args("x")).unwrap();
        let z = root.resource("z", args("z")).unwrap();
        root.resource("y", refs("y", &[&x])).unwrap();
        root.resource_with("w", args("w"), ResourceOptions::new().depends_on(&z))
            .unwrap();
    }
    eng.up(&st, &no_opts(), &cancel).await.unwrap();
    let before_y = store.resource(&urn("y")).unwrap().unwrap();
    let before_w = store.resource(&urn("w")).unwrap().unwrap();

    // y moves from x to z and w drops its depends_on, but only z is targeted.
    let mut st2 = Stack::new(STACK).unwrap();
    {
        let mut root = st2.root();
        root.resource("x", args("x")).unwrap();
        let z = root.resource("z", args("z2")).unwrap();
        root.resource("y", refs("y", &[&z])).unwrap();
        root.resource("w", args("w")).unwrap();
    }
    let opts = PlanOptions {
        targets: vec![urn("z")],
        ..Default::default()
    };
    let (plan, report) = eng.up(&st2, &opts, &cancel).await.unwrap();
    assert!(report.is_success());
    assert_eq!(step_action(&plan, "z"), Some(Action::Update));
    assert_eq!(step_action(&plan, "y"), None, "{plan:?}");
    assert_eq!(step_action(&plan, "w"), None, "{plan:?}");
    let y = store.resource(&urn("y")).unwrap().unwrap();
    assert_eq!(y, before_y, "y's dependencies still match its inputs");
    assert_eq!(store.resource(&urn("w")).unwrap().unwrap(), before_w);

    // A full up then records both.
    eng.up(&st2, &no_opts(), &cancel).await.unwrap();
    assert_eq!(
        store.resource(&urn("y")).unwrap().unwrap().dependencies,
        vec![urn("z")]
    );
    assert!(store
        .resource(&urn("w"))
        .unwrap()
        .unwrap()
        .options
        .depends_on
        .is_empty());
}

/// A provider whose adoption lookup finds the *old* half of a replacement
/// (as a provider searching by tag alone may): the engine must not adopt it.
struct OldHalfFinder(Arc<TestProvider>);

#[async_trait::async_trait]
impl Provider for OldHalfFinder {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn force_new(&self) -> &'static [&'static str] {
        self.0.force_new()
    }
    fn secret_outputs(&self) -> &'static [&'static str] {
        self.0.secret_outputs()
    }
    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        self.0.outputs_changed_by_update()
    }
    fn validate(&self, inputs: &serde_json::Value) -> Result<(), ProviderError> {
        self.0.validate(inputs)
    }
    async fn create(
        &self,
        ctx: &Ctx,
        inputs: &serde_json::Value,
    ) -> Result<Created, ProviderError> {
        self.0.create(ctx, inputs).await
    }
    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &serde_json::Value,
        outputs: &serde_json::Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        self.0.read(ctx, id, inputs, outputs).await
    }
    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &serde_json::Value,
        new_inputs: &serde_json::Value,
        old_outputs: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError> {
        self.0
            .update(ctx, id, old_inputs, new_inputs, old_outputs)
            .await
    }
    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &serde_json::Value,
        outputs: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.0.delete(ctx, id, inputs, outputs).await
    }
    async fn find_by_urn(
        &self,
        ctx: &Ctx,
        inputs: &serde_json::Value,
    ) -> Result<Vec<Created>, ProviderError> {
        let key = inputs["replace_key"].as_str().unwrap_or("").to_string();
        let cloud = self.0.cloud();
        let o = cloud
            .by_urn(ctx.urn.as_str())
            .into_iter()
            .find(|o| o.replace_key != key);
        match o {
            Some(o) => {
                let mut old_inputs = inputs.clone();
                old_inputs["replace_key"] = o.replace_key.clone().into();
                self.0.find_by_urn(ctx, &old_inputs).await
            }
            None => self.0.find_by_urn(ctx, inputs).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_never_takes_the_live_old_half_of_a_replacement() {
    let mut store = mem_store();
    let inner = Arc::new(TestProvider::new());
    let cloud = inner.cloud();
    let mut reg = Registry::new();
    reg.register(OldHalfFinder(inner.clone()));
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    eng.up(&replace_stack("k1", false), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let old = store.resource(&urn("x")).unwrap().unwrap();

    let mut new_args = args("x");
    new_args.replace_key = "k2".into();
    let new_inputs = serde_json::to_value(&new_args).unwrap();
    store
        .begin_op(&PendingOp {
            kind: OpKind::CreateReplacement,
            ..pending_create("x", &new_inputs)
        })
        .unwrap();
    let ctx = Ctx::new(STACK, urn("x"));
    inner.create(&ctx, &new_inputs).await.unwrap();

    let (_, report) = eng
        .up(&replace_stack("k2", false), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    // The half made before the crash cannot be told apart and may leak, but
    // state must point at a live object made from the new inputs.
    let now = store.resource(&urn("x")).unwrap().unwrap();
    let live = cloud.get(&now.id).expect("state points at a live object");
    assert_eq!(live.replace_key, "k2");
    assert!(cloud.get(&old.id).is_none(), "the old half is gone");
    assert!(store.condemned().unwrap().is_empty());
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(y_refs(&store), serde_json::json!([now.id]));
    assert!(!eng
        .preview(&replace_stack("k2", false), &no_opts())
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_on_delete_keeps_the_old_half_of_a_replacement() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let declare = |key: &str| {
        let mut st = Stack::new(STACK).unwrap();
        let mut a = args("v");
        a.replace_key = key.into();
        st.root()
            .resource_with("r", a, ResourceOptions::new().retain_on_delete(true))
            .unwrap();
        st
    };
    eng.up(&declare("one"), &no_opts(), &cancel).await.unwrap();
    let old_id = store.resource(&urn("r")).unwrap().unwrap().id;
    let (plan, report) = eng.up(&declare("two"), &no_opts(), &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().replace, 1);
    let new_id = store.resource(&urn("r")).unwrap().unwrap().id;
    assert_ne!(old_id, new_id);
    assert_eq!(
        cloud.deletes(&urn("r")),
        0,
        "the old half is kept, not deleted"
    );
    let mut ids: Vec<String> = cloud.objects().into_keys().collect();
    ids.sort();
    let mut want = vec![old_id, new_id];
    want.sort();
    assert_eq!(ids, want);
    assert!(
        store.condemned().unwrap().is_empty(),
        "state forgets the old half"
    );
}

// ------------------------------------- 16. never lose track (issue 7)

/// The context the engine gives a provider for `name` in `store`: the
/// state's lineage is part of the URN tag.
fn ctx_in(store: &dyn StateStore, name: &str) -> Ctx {
    Ctx {
        lineage: store.lineage().unwrap(),
        ..Ctx::new(STACK, urn(name))
    }
}

fn inputs_of(a: &TestArgs) -> serde_json::Value {
    serde_json::to_value(a).unwrap()
}

/// `x` with `value`, and `y` referencing x's id.
fn x_then_y(value: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let x = root.resource("x", args(value)).unwrap();
    root.resource("y", refs("y", &[&x])).unwrap();
    st
}

/// Only `x`, with `value`.
fn only_x(value: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args(value)).unwrap();
    st
}

/// Calls made for `name`, in order, with whether they succeeded.
fn calls(cloud: &TestCloud, name: &str) -> Vec<(Op, bool)> {
    cloud
        .events()
        .iter()
        .filter(|e| e.urn == urn(name))
        .map(|e| (e.op, e.ok))
        .collect()
}

fn position(events: &[Event], what: impl Fn(&Event) -> bool) -> usize {
    events
        .iter()
        .position(what)
        .unwrap_or_else(|| panic!("no such event in {events:?}"))
}

/// A create that timed out after it ran is looked up by its URN and
/// recorded, never issued again: one object, state tracks it, the next plan
/// has no changes. With a lagging lookup the first miss proves nothing: the
/// engine says it waits, waits out the lag and finds the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_that_times_out_after_it_ran_is_found_not_repeated() {
    for lag in [Duration::ZERO, Duration::from_millis(300)] {
        let store = mem_store();
        let sink = Arc::new(Collect::default());
        let (eng, cloud) = engine_with(
            store.clone(),
            TestProvider::new()
                .fail_after("x", Op::Create)
                .lookup_lag(lag),
        );
        let mut eng = eng.with_events(sink.clone());
        let st = x_then_y("v");
        let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
        assert!(report.is_success(), "{lag:?}: {report:?}");
        assert_eq!(op(&report.ops, "x").attempts, 1, "{lag:?}");
        assert_eq!(cloud.creates(&urn("x")), 1, "{lag:?}");
        assert_one_object_per_urn(&cloud);
        let x = store.resource(&urn("x")).unwrap().unwrap();
        assert_eq!(cloud.by_urn(urn("x").as_str())[0].id, x.id);
        assert_eq!(x.inputs["value"], "v");
        assert!(!x.tainted);
        assert_eq!(y_refs(&store), serde_json::json!([x.id]));
        assert!(store.pending().unwrap().is_empty());

        // Looked up (twice when the first lookup fell inside the lag), read
        // back, never created again.
        let mut want = vec![(Op::Create, false), (Op::FindByUrn, true)];
        if !lag.is_zero() {
            want.push((Op::FindByUrn, true));
        }
        want.push((Op::Read, true));
        assert_eq!(calls(&cloud, "x"), want, "{lag:?}");
        let events = sink.0.lock().unwrap().clone();
        let waits = events
            .iter()
            .filter(|e| matches!(e, Event::WaitingForLookup { urn: u, .. } if *u == urn("x")))
            .count();
        assert_eq!(waits, usize::from(!lag.is_zero()), "{events:?}");
        if !lag.is_zero() {
            let started = position(
                &events,
                |e| matches!(e, Event::OpStarted { urn: u, .. } if *u == urn("x")),
            );
            let waiting = position(&events, |e| matches!(e, Event::WaitingForLookup { .. }));
            let finished = position(
                &events,
                |e| matches!(e, Event::OpFinished { urn: u, .. } if *u == urn("x")),
            );
            assert!(started < waiting && waiting < finished, "{events:?}");
        }

        let (plan, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
        assert!(!plan.has_changes(), "{lag:?}: {plan:?}");
        assert!(report.ops.is_empty());
        assert_eq!(cloud.creates(&urn("x")), 1);
    }
}

/// A two-step create whose second step fails leaves an object: it is
/// recorded as it is live (unconfigured), its dependents are skipped, the
/// next plan finishes it with an update, not a second create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_create_failing_its_second_step_is_recorded_and_finished() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().two_step().fail_on("x", Op::Configure),
    );
    let st = x_then_y("v");
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    let x = store.resource(&urn("x")).unwrap().unwrap();
    assert!(
        matches!(&op(&report.ops, "x").status, OpStatus::Failed(e)
            if e.contains("injected failure") && e.contains(&x.id)),
        "{report:?}"
    );
    assert_eq!(
        op(&report.ops, "y").status,
        OpStatus::Skipped(urn("x").to_string())
    );
    assert_eq!(x.inputs["value"], testing::UNCONFIGURED, "recorded live");
    assert!(!x.tainted);
    let objects = cloud.by_urn(urn("x").as_str());
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0].id, x.id);
    assert_eq!(objects[0].value, testing::UNCONFIGURED);
    assert!(cloud.by_urn(urn("y").as_str()).is_empty());
    assert!(store.pending().unwrap().is_empty());

    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn == urn("x")).unwrap();
    assert_eq!(step.action, Action::Update, "{plan:?}");
    assert_eq!(step.changed, vec!["value"]);
    assert_eq!(step_action(&plan, "y"), Some(Action::Create));

    // A new run (a fresh provider on the same cloud) converges.
    let (mut fresh, _) = engine_with(
        store.clone(),
        TestProvider::new().two_step().backend(cloud.clone()),
    );
    let (_, report) = fresh.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(op(&report.ops, "x").kind, OpKind::Update);
    assert_eq!(cloud.get(&x.id).unwrap().value, "v");
    let now = store.resource(&urn("x")).unwrap().unwrap();
    assert_eq!(
        (now.id.as_str(), &now.inputs["value"]),
        (x.id.as_str(), &serde_json::json!("v"))
    );
    assert_eq!(cloud.creates(&urn("x")), 1);
    assert_eq!(cloud.deletes(&urn("x")), 0);
    assert_one_object_per_urn(&cloud);
    assert_eq!(y_refs(&store), serde_json::json!([x.id]));
    assert!(!fresh.preview(&st, &no_opts()).await.unwrap().has_changes());
}

/// A create whose last step failed definitely with the object as declared
/// (an ECS service whose first deployment the circuit breaker failed): the
/// operation fails and the object is recorded as read. When the last step
/// may have run (a timeout), an object read as declared is a finished create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definite_failure_after_create_fails_even_when_read_as_declared() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new()
            .two_step()
            .fatal_after("x", Op::Configure),
    );
    let st = x_then_y("v");
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(
        matches!(&op(&report.ops, "x").status, OpStatus::Failed(e)
            if e.contains("injected failure after the change")),
        "{report:?}"
    );
    assert_eq!(
        op(&report.ops, "y").status,
        OpStatus::Skipped(urn("x").to_string())
    );
    let x = store.resource(&urn("x")).unwrap().unwrap();
    assert_eq!(x.inputs["value"], "v", "recorded as read");
    assert!(!x.tainted);
    assert_eq!(cloud.by_urn(urn("x").as_str()).len(), 1);
    assert!(store.pending().unwrap().is_empty());

    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new()
            .two_step()
            .fail_after("x", Op::Configure),
    );
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.creates(&urn("x")), 1);
    assert_one_object_per_urn(&cloud);
}

/// The same, where the object cannot even be read back: the row is tainted
/// and the next plan replaces it, so exactly one object ends up alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_partial_create_is_tainted_and_replaced() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new()
            .two_step()
            .fail_on("x", Op::Configure)
            .fail_on("x", Op::Read),
    );
    let st = x_then_y("v");
    let (_, report) = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(
        matches!(op(&report.ops, "x").status, OpStatus::Failed(_)),
        "{report:?}"
    );
    assert_eq!(
        op(&report.ops, "y").status,
        OpStatus::Skipped(urn("x").to_string())
    );
    let tainted = store.resource(&urn("x")).unwrap().unwrap();
    assert!(tainted.tainted, "{tainted:?}");
    let objects = cloud.by_urn(urn("x").as_str());
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].id, tainted.id, "state tracks the object made");
    assert!(store.pending().unwrap().is_empty());

    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn == urn("x")).unwrap();
    assert_eq!(step.action, Action::Replace, "{plan:?}");
    assert_eq!(step.changed, vec!["(tainted)"]);
    assert!(
        render::plan_text(&plan, PLAIN).contains(&format!(
            "{} (create replacement, then delete) (tainted",
            urn("x")
        )),
        "{}",
        render::plan_text(&plan, PLAIN)
    );

    let (mut fresh, _) = engine_with(
        store.clone(),
        TestProvider::new().two_step().backend(cloud.clone()),
    );
    let (_, report) = fresh.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let x = store.resource(&urn("x")).unwrap().unwrap();
    assert!(!x.tainted);
    assert_ne!(x.id, tainted.id);
    assert!(
        cloud.get(&tainted.id).is_none(),
        "the tainted object is deleted"
    );
    assert_eq!(cloud.get(&x.id).unwrap().value, "v");
    assert_eq!(cloud.creates(&urn("x")), 2);
    assert_eq!(cloud.deletes(&urn("x")), 1);
    assert_one_object_per_urn(&cloud);
    assert!(store.condemned().unwrap().is_empty());
    assert_eq!(y_refs(&store), serde_json::json!([x.id]));
    assert!(!fresh.preview(&st, &no_opts()).await.unwrap().has_changes());
}

/// An update interrupted after its call ran, then the declaration reverted:
/// the pending update is settled by reading the resource live, so the plan
/// updates it back (recording the declared value would plan `Same` and
/// leave the cloud on the value the user reverted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_update_then_revert_converges() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    eng.up(&only_x("A"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let x = store.resource(&urn("x")).unwrap().unwrap();

    // A crash right after the provider updated x to B.
    let b = inputs_of(&args("B"));
    store
        .begin_op(&PendingOp {
            kind: OpKind::Update,
            resource_id: x.id.clone(),
            ..pending_create("x", &b)
        })
        .unwrap();
    provider
        .update(&ctx_in(&store, "x"), &x.id, &x.inputs, &b, &x.outputs)
        .await
        .unwrap();
    assert_eq!(cloud.get(&x.id).unwrap().value, "B");

    // Declared A again.
    let plan = eng.preview(&only_x("A"), &no_opts()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn == urn("x"));
    assert_eq!(step.map(|s| s.action), Some(Action::Update), "{plan:?}");
    assert_eq!(step.unwrap().changed, vec!["value"]);
    let (_, report) = eng
        .up(&only_x("A"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.get(&x.id).unwrap().value, "A");
    let now = store.resource(&urn("x")).unwrap().unwrap();
    assert_eq!(
        (now.id.as_str(), &now.inputs["value"]),
        (x.id.as_str(), &serde_json::json!("A"))
    );
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(cloud.objects().len(), 1);
    assert!(!eng
        .preview(&only_x("A"), &no_opts())
        .await
        .unwrap()
        .has_changes());
}

/// A failed update whose call ran (a timeout after the change) is recorded
/// as read live, so reverting the declaration converges too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_update_then_revert_converges() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    eng.up(&only_x("A"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let id = store.resource(&urn("x")).unwrap().unwrap().id;

    let (mut bad, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .fail_after("x", Op::Update),
    );
    bad.options.retry.max_attempts = 1;
    let (_, report) = bad
        .up(&only_x("B"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let x = op(&report.ops, "x");
    assert!(
        matches!(&x.status, OpStatus::Failed(e) if e.contains("injected timeout")),
        "{report:?}"
    );
    assert_eq!(x.attempts, 1);
    assert_eq!(cloud.get(&id).unwrap().value, "B", "the update ran");
    assert_eq!(
        store.resource(&urn("x")).unwrap().unwrap().inputs["value"],
        "B",
        "state records what is live"
    );
    assert!(store.pending().unwrap().is_empty());

    let plan = eng.preview(&only_x("A"), &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), Some(Action::Update), "{plan:?}");
    let (_, report) = eng
        .up(&only_x("A"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.get(&id).unwrap().value, "A");
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap().id, id);
    assert_eq!(cloud.objects().len(), 1);
    assert!(!eng
        .preview(&only_x("A"), &no_opts())
        .await
        .unwrap()
        .has_changes());
}

/// A saved plan to create x, applied after another run committed a pending
/// create of x, made the object and died: refused (the pending row moved
/// the serial), and nothing is created twice. A fresh preview adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plan_is_refused_after_another_run_crashed_mid_create() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    let cancel = Cancel::new();
    let st = only_x("v");
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), Some(Action::Create));
    assert!(plan.pending.is_empty());

    // The other run.
    let xin = inputs_of(&args("v"));
    store.begin_op(&pending_create("x", &xin)).unwrap();
    let made = provider.create(&ctx_in(&store, "x"), &xin).await.unwrap();

    let err = eng.apply(&st, &plan, &cancel).await.unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::StalePlan { .. } | EngineError::PendingChanged(_)
        ),
        "{err:?}"
    );
    assert_eq!(cloud.creates(&urn("x")), 1, "nothing created twice");
    assert_eq!(cloud.objects().len(), 1);
    assert!(store.resources().unwrap().is_empty(), "nothing settled");
    assert_eq!(store.pending().unwrap().len(), 1);
    assert_eq!(store.lock_status().unwrap(), None);

    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), None, "adopted: {plan:?}");
    let report = eng.apply(&st, &plan, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap().id, made.id);
    assert_eq!(cloud.creates(&urn("x")), 1);
    assert!(store.pending().unwrap().is_empty());
}

/// A plan made against one state is refused by another state of the same
/// stack name, even at the same serial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_for_another_state_of_the_same_stack_is_refused() {
    let a = mem_store();
    let b = mem_store();
    let (la, lb) = (a.lineage().unwrap(), b.lineage().unwrap());
    assert!(!la.is_empty() && la != lb);
    let (mut eng_a, cloud) = engine_with(a.clone(), TestProvider::new());
    let (mut eng_b, _) = engine_with(b.clone(), TestProvider::new().backend(cloud.clone()));
    let st = abcd();
    let plan = eng_a.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(plan.lineage, la);
    assert_eq!(plan.serial, b.serial().unwrap(), "only the lineage differs");
    let err = eng_b.apply(&st, &plan, &Cancel::new()).await.unwrap_err();
    match &err {
        EngineError::WrongLineage { stack, plan, state } => {
            assert_eq!((stack.as_str(), plan, state), (STACK, &la, &lb));
        }
        other => panic!("{other:?}"),
    }
    assert!(cloud.objects().is_empty());
    assert!(b.resources().unwrap().is_empty());
    assert_eq!(b.lock_status().unwrap(), None);
    // The state it was made for takes it.
    let report = eng_a.apply(&st, &plan, &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.objects().len(), 4);
}

/// Preview settles a pending create as "not created" (the object is not
/// there yet); at apply the object is there. The plan was made on the
/// other answer: refused, naming the resource, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_is_refused_when_a_pending_create_settles_differently_at_apply() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    let cancel = Cancel::new();
    let st = only_x("v");
    let xin = inputs_of(&args("v"));
    let pid = store.begin_op(&pending_create("x", &xin)).unwrap();

    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(plan.pending.len(), 1);
    assert_eq!(
        plan.settled,
        vec![morket_stack::plan::Settled {
            pending_id: pid,
            outcome: "nothing".into()
        }]
    );
    assert_eq!(step_action(&plan, "x"), Some(Action::Create));

    // The interrupted create lands (or a lagging lookup catches up).
    let made = provider.create(&ctx_in(&store, "x"), &xin).await.unwrap();
    let serial = store.serial().unwrap();
    assert_eq!(serial, plan.serial);
    let err = eng.apply(&st, &plan, &cancel).await.unwrap_err();
    match &err {
        EngineError::PendingChanged(why) => {
            assert!(why.contains(urn("x").as_str()), "{why}");
            assert!(why.contains("assumed nothing"), "{why}");
            assert!(why.contains(&made.id), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cloud.creates(&urn("x")), 1);
    assert_eq!(cloud.objects().len(), 1);
    assert!(store.resources().unwrap().is_empty());
    assert_eq!(store.pending().unwrap().len(), 1);
    assert_eq!(store.serial().unwrap(), serial, "nothing was written");
    assert_eq!(store.lock_status().unwrap(), None);

    // Previewed again, it is adopted.
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    let report = eng.apply(&st, &plan, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(store.resource(&urn("x")).unwrap().unwrap().id, made.id);
    assert_eq!(cloud.creates(&urn("x")), 1);
}

/// x is replaced create-before-delete while y, which uses x, fails its
/// update: x's old half stays condemned. The next run deletes it only after
/// y has moved to the new x.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condemned_old_half_is_deleted_after_its_dependent_moves() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    eng.up(&replace_stack("k1", false), &no_opts(), &cancel)
        .await
        .unwrap();
    let x0 = store.resource(&urn("x")).unwrap().unwrap().id;

    let (mut bad, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .fail_on("y", Op::Update),
    );
    let (_, report) = bad
        .up(&replace_stack("k2", false), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(
        matches!(op(&report.ops, "y").status, OpStatus::Failed(_)),
        "{report:?}"
    );
    let x1 = store.resource(&urn("x")).unwrap().unwrap().id;
    assert_ne!(x0, x1);
    let condemned: Vec<String> = store
        .condemned()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(condemned, vec![x0.clone()]);
    assert_eq!(
        y_refs(&store),
        serde_json::json!([x0]),
        "y still uses old x"
    );

    // Same latency for both: run together, the delete would start before
    // the update ends.
    let (mut next, _) = engine_with(
        store.clone(),
        TestProvider::new()
            .backend(cloud.clone())
            .latency(Duration::from_millis(30)),
    );
    cloud.clear_events();
    let (plan, report) = next
        .up(&replace_stack("k2", false), &no_opts(), &cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(step_action(&plan, "y"), Some(Action::Update));
    assert!(plan
        .steps
        .iter()
        .any(|s| s.urn == urn("x") && s.condemned && s.action == Action::Delete));
    let update_y = event(&cloud, "y", Op::Update);
    let delete_x = event(&cloud, "x", Op::Delete);
    assert!(update_y.end <= delete_x.start, "{update_y:?} {delete_x:?}");
    let (uy, dx) = (
        op(&report.ops, "y"),
        report
            .ops
            .iter()
            .find(|o| o.kind == OpKind::DeleteReplaced)
            .unwrap(),
    );
    assert!(uy.finished.unwrap() <= dx.started.unwrap(), "{report:?}");
    assert!(cloud.get(&x0).is_none());
    assert!(store.condemned().unwrap().is_empty());
    assert_eq!(y_refs(&store), serde_json::json!([x1]));
    assert_one_object_per_urn(&cloud);
}

/// `--target b` where b and its dependent c are both removed: c goes too,
/// and before b; resources outside the target are left alone, even with a
/// pending change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeted_delete_takes_its_dependents_along() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(10)),
    );
    let cancel = Cancel::new();
    eng.up(&abcd(), &no_opts(), &cancel).await.unwrap();
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("a", args("a2")).unwrap();
    st.root().resource("d", args("d")).unwrap();
    let opts = PlanOptions {
        targets: vec![urn("b")],
        ..Default::default()
    };
    cloud.clear_events();
    let (plan, report) = eng.up(&st, &opts, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(step_action(&plan, "b"), Some(Action::Delete));
    assert_eq!(step_action(&plan, "c"), Some(Action::Delete));
    assert_eq!(step_action(&plan, "a"), None, "a is not targeted: {plan:?}");
    assert_eq!(plan.counts().delete, 2);
    let (dc, db) = (
        event(&cloud, "c", Op::Delete),
        event(&cloud, "b", Op::Delete),
    );
    assert!(dc.end <= db.start, "{dc:?} {db:?}");
    assert_eq!(state_names(&store), vec!["a", "d"]);
    assert!(cloud
        .events()
        .iter()
        .all(|e| e.urn != urn("a") && e.urn != urn("d")));
    assert_eq!(cloud.objects().len(), 2);
    let a = store.resource(&urn("a")).unwrap().unwrap();
    assert_eq!(cloud.get(&a.id).unwrap().value, "a");
}

/// A resource renamed (or moved into a component) with an alias keeps its
/// object: renamed in state, never deleted and created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliased_resource_is_renamed_in_state_not_recreated() {
    let store = mem_store();
    let (mut eng, cloud) = engine_with(store.clone(), TestProvider::new());
    let cancel = Cancel::new();
    let mut v1 = Stack::new(STACK).unwrap();
    {
        let mut root = v1.root();
        let old = root.resource("old", args("v")).unwrap();
        root.resource("user", refs("u", &[&old])).unwrap();
    }
    eng.up(&v1, &no_opts(), &cancel).await.unwrap();
    let id = store.resource(&urn("old")).unwrap().unwrap().id;

    // Renamed.
    let mut v2 = Stack::new(STACK).unwrap();
    {
        let mut root = v2.root();
        let new = root
            .resource_with("new", args("v"), ResourceOptions::new().alias(urn("old")))
            .unwrap();
        root.resource("user", refs("u", &[&new])).unwrap();
    }
    let plan = eng.preview(&v2, &no_opts()).await.unwrap();
    assert!(!plan.has_changes(), "{plan:?}");
    let step = plan.steps.iter().find(|s| s.urn == urn("new")).unwrap();
    assert_eq!(step.action, Action::Same);
    assert_eq!(step.renamed_from, Some(urn("old")));
    assert_eq!(step_action(&plan, "old"), None, "no delete: {plan:?}");
    let text = render::plan_text(&plan, PLAIN);
    assert!(
        text.contains(&format!("{} (renamed from {})", urn("new"), urn("old"))),
        "{text}"
    );
    cloud.clear_events();
    let report = eng.apply(&v2, &plan, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(cloud.events().is_empty(), "{:?}", cloud.events());
    assert_eq!(state_names(&store), vec!["new", "user"]);
    let new = store.resource(&urn("new")).unwrap().unwrap();
    assert_eq!(new.id, id);
    let user = store.resource(&urn("user")).unwrap().unwrap();
    assert_eq!(user.dependencies, vec![urn("new")]);
    assert_eq!(user.inputs["refs"], serde_json::json!([id]));
    assert_eq!(cloud.creates(&urn("old")), 1);
    assert_eq!(cloud.creates(&urn("new")), 0);
    assert_eq!(cloud.deletes(&urn("old")) + cloud.deletes(&urn("new")), 0);
    assert_eq!(cloud.get(&id).unwrap().value, "v");
    let again = eng.preview(&v2, &no_opts()).await.unwrap();
    assert!(again.steps.is_empty(), "{again:?}");

    // Moved into a component, with a changed value: an update in place.
    let moved = Urn::new(STACK, "grp", TestArgs::TYPE, "new");
    let mut v3 = Stack::new(STACK).unwrap();
    {
        let mut root = v3.root();
        let new = root
            .component("app:Group", "grp")
            .unwrap()
            .resource_with("new", args("v2"), ResourceOptions::new().alias(urn("new")))
            .unwrap();
        root.resource("user", refs("u", &[&new])).unwrap();
    }
    let plan = eng.preview(&v3, &no_opts()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn == moved).unwrap();
    assert_eq!(step.action, Action::Update, "{plan:?}");
    assert_eq!(step.renamed_from, Some(urn("new")));
    let c = plan.counts();
    assert_eq!((c.create, c.update, c.replace, c.delete), (0, 1, 0, 0));
    cloud.clear_events();
    let report = eng.apply(&v3, &plan, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let ops: Vec<Op> = cloud
        .events()
        .iter()
        .filter(|e| e.urn == moved)
        .map(|e| e.op)
        .collect();
    assert_eq!(ops, vec![Op::Update]);
    let row = store.resource(&moved).unwrap().unwrap();
    assert_eq!(row.id, id);
    assert_eq!(row.parent, "grp");
    assert!(store.resource(&urn("new")).unwrap().is_none());
    assert_eq!(cloud.get(&id).unwrap().value, "v2");
    assert_eq!(cloud.objects().len(), 2);
    assert_eq!(cloud.creates(&moved), 0);
    assert_eq!(cloud.deletes(&moved) + cloud.deletes(&urn("new")), 0);
    let again = eng.preview(&v3, &no_opts()).await.unwrap();
    assert!(again.steps.is_empty(), "{again:?}");
}

/// Two untracked objects carry x's URN (leftovers of earlier failures) and
/// a pending create of x is to be settled: adopting either could take a
/// stale orphan. The run fails naming both, adopting and creating nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_untracked_objects_with_one_urn_are_refused_not_adopted() {
    let mut store = mem_store();
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register_arc(provider.clone());
    let mut eng = Engine::new(Box::new(store.clone()), reg).with_options(fast_options());
    let xin = inputs_of(&args("v"));
    let ctx = ctx_in(&store, "x");
    let one = provider.create(&ctx, &xin).await.unwrap();
    let two = provider.create(&ctx, &xin).await.unwrap();
    store.begin_op(&pending_create("x", &xin)).unwrap();
    let st = x_then_y("v");
    let serial = store.serial().unwrap();

    let preview = eng.preview(&st, &no_opts()).await.unwrap_err().to_string();
    let err = eng
        .up(&st, &no_opts(), &Cancel::new())
        .await
        .unwrap_err()
        .to_string();
    for msg in [&preview, &err] {
        assert!(msg.contains(urn("x").as_str()), "{msg}");
        assert!(msg.contains(&one.id) && msg.contains(&two.id), "{msg}");
    }
    assert!(store.resources().unwrap().is_empty(), "nothing adopted");
    assert_eq!(store.pending().unwrap().len(), 1);
    assert_eq!(store.serial().unwrap(), serial);
    assert_eq!(cloud.creates(&urn("x")), 2, "nothing created");
    assert_eq!(cloud.creates(&urn("y")), 0);
    assert_eq!(cloud.objects().len(), 2);
    assert_eq!(store.lock_status().unwrap(), None);
}

/// Two states of one stack name share an account: B's pending create of x
/// never adopts the object A made for x (B creates its own), while an
/// object tagged with the bare URN (made before lineage existed) is adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_is_limited_to_this_states_lineage() {
    let provider = Arc::new(TestProvider::new());
    let cloud = provider.cloud();
    let xin = inputs_of(&args("v"));
    let st = only_x("v");
    let engine_on = |store: &MemoryStore| {
        let mut reg = Registry::new();
        reg.register_arc(provider.clone());
        Engine::new(Box::new(store.clone()), reg).with_options(fast_options())
    };

    let a = mem_store();
    let theirs = provider.create(&ctx_in(&a, "x"), &xin).await.unwrap();
    let mut b = mem_store();
    b.begin_op(&pending_create("x", &xin)).unwrap();
    let mut eng_b = engine_on(&b);
    let plan = eng_b.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(step_action(&plan, "x"), Some(Action::Create), "{plan:?}");
    let (_, report) = eng_b.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let ours = store_id(&b, "x");
    assert_ne!(ours, theirs.id, "A's object is not adopted");
    assert!(cloud.get(&theirs.id).is_some(), "and left alone");
    assert_eq!(
        cloud.get(&ours).unwrap().urn_tag,
        format!("{}#{}", urn("x"), b.lineage().unwrap())
    );
    assert_eq!(cloud.creates(&urn("x")), 2);
    assert!(b.pending().unwrap().is_empty());

    // An object from before lineage: the bare URN tag, adopted.
    let old = provider
        .create(&Ctx::new(STACK, urn("x")), &xin)
        .await
        .unwrap();
    assert_eq!(cloud.get(&old.id).unwrap().urn_tag, urn("x").as_str());
    let mut c = mem_store();
    c.begin_op(&pending_create("x", &xin)).unwrap();
    let mut eng_c = engine_on(&c);
    let (plan, report) = eng_c.up(&st, &no_opts(), &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(step_action(&plan, "x"), None, "adopted: {plan:?}");
    assert_eq!(store_id(&c, "x"), old.id);
    assert_eq!(cloud.creates(&urn("x")), 3, "C created nothing");
}

fn store_id(store: &dyn StateStore, name: &str) -> String {
    store.resource(&urn(name)).unwrap().unwrap().id
}

/// Cancels when the delete half of x's delete-first replacement starts.
struct CancelOnDeleteReplaced(Cancel);
impl EventSink for CancelOnDeleteReplaced {
    fn event(&self, e: &Event) {
        if matches!(e, Event::OpStarted { urn: u, kind: OpKind::DeleteReplaced } if *u == urn("x"))
        {
            self.0.cancel();
        }
    }
}

/// A cancel that arrives while the delete half of a delete-first
/// replacement runs still lets its create half run: x is not left deleted.
/// Everything else that had not started stays not started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_does_not_split_a_delete_before_replace() {
    fn st(key: &str, with_n: bool) -> Stack {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut xa = args("x");
        xa.replace_key = key.into();
        let x = root
            .resource_with("x", xa, ResourceOptions::new().delete_before_replace(true))
            .unwrap();
        if with_n {
            root.resource("n", refs("n", &[&x])).unwrap();
        }
        st
    }
    let store = mem_store();
    let cancel = Cancel::new();
    let (eng, cloud) = engine_with(
        store.clone(),
        TestProvider::new().latency(Duration::from_millis(20)),
    );
    let mut eng = eng.with_events(Arc::new(CancelOnDeleteReplaced(cancel.clone())));
    eng.up(&st("k1", false), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    let x0 = store_id(&store, "x");

    let (plan, report) = eng.up(&st("k2", true), &no_opts(), &cancel).await.unwrap();
    assert!(plan
        .steps
        .iter()
        .any(|s| s.urn == urn("x") && s.action == Action::Replace && s.delete_before_replace));
    assert!(cancel.is_cancelled());
    assert!(report.cancelled, "{report:?}");
    let status = |kind: OpKind| {
        report
            .ops
            .iter()
            .find(|o| o.urn == urn("x") && o.kind == kind)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(status(OpKind::DeleteReplaced), OpStatus::Done);
    assert_eq!(status(OpKind::CreateReplacement), OpStatus::Done);
    assert_eq!(op(&report.ops, "n").status, OpStatus::NotStarted);
    let x1 = store_id(&store, "x");
    assert_ne!(x0, x1);
    assert!(cloud.get(&x0).is_none());
    assert_eq!(cloud.get(&x1).unwrap().replace_key, "k2");
    assert!(cloud.by_urn(urn("n").as_str()).is_empty());
    assert_eq!(state_names(&store), vec!["x"]);
    assert!(store.pending().unwrap().is_empty());
}

/// Forces the state lock away (as `lock release` from another shell) when
/// the first op finishes, through another handle on the same state, and
/// lets another run take it.
struct StealLockOnFirstFinish {
    other: Mutex<Option<Box<dyn StateStore>>>,
    thief: state::LockInfo,
}
impl EventSink for StealLockOnFirstFinish {
    fn event(&self, e: &Event) {
        if !matches!(e, Event::OpFinished { .. }) {
            return;
        }
        if let Some(mut s) = self.other.lock().unwrap().take() {
            let held = s.lock_status().unwrap().expect("the apply holds the lock");
            s.unlock(&held.id).unwrap();
            s.try_lock(&self.thief).unwrap();
        }
    }
}

/// A forced release of the lock during an apply stops the apply at its next
/// state write: nothing after that is started, and the new holder keeps
/// the lock. For both stores (the fence is checked in the write itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_lock_release_stops_the_apply_at_its_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let memory = mem_store();
    let sqlite = || -> Box<dyn StateStore> {
        Box::new(state::keys::open_sqlite(dir.path(), STACK).unwrap().0)
    };
    let mem = || -> Box<dyn StateStore> { Box::new(memory.clone()) };
    // Per store: the apply's handle, and another (the other shell's).
    for (kind, mine, other) in [("memory", mem(), mem()), ("sqlite", sqlite(), sqlite())] {
        let thief = state::lock::new_lock_info("up");
        let provider = TestProvider::new();
        let cloud = provider.cloud();
        let mut reg = Registry::new();
        reg.register(provider);
        let mut eng = Engine::new(mine, reg)
            .with_options(fast_options())
            .with_events(Arc::new(StealLockOnFirstFinish {
                other: Mutex::new(Some(other)),
                thief: thief.clone(),
            }));
        let (st, _) = chains(&["n"], 3);
        let err = eng.up(&st, &no_opts(), &Cancel::new()).await.unwrap_err();
        match &err {
            EngineError::Exec(ExecError::State(StateError::LockLost { now, .. })) => {
                assert!(now.contains(&thief.id), "{kind}: {err}")
            }
            other => panic!("{kind}: {other:?}"),
        }
        assert_eq!(state_names(eng.store()), vec!["n1"], "{kind}");
        assert!(
            eng.store().pending().unwrap().is_empty(),
            "{kind}: n2 was never begun"
        );
        let called: Vec<String> = cloud
            .events()
            .iter()
            .map(|e| e.urn.name().to_string())
            .collect();
        assert_eq!(
            called,
            vec!["n1"],
            "{kind}: nothing started after the release"
        );
        assert_eq!(
            eng.store().lock_status().unwrap(),
            Some(thief),
            "{kind}: the new holder keeps it"
        );
    }
}

// ---------------------------------------------------------------- lookups

fn lookup_engine(lookup: &Arc<testing::TestLookup>) -> (Engine, Arc<TestCloud>) {
    let provider = TestProvider::new();
    let cloud = provider.cloud();
    let mut reg = Registry::new();
    reg.register(provider);
    reg.register(lookup.clone());
    (
        Engine::new(Box::new(mem_store()), reg).with_options(fast_options()),
        cloud,
    )
}

/// A lookup `ami` (key `key`) and a thing `app` whose value is its answer.
fn lookup_stack(key: &str) -> Stack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let ami = root
        .resource("ami", testing::LookupArgs { key: key.into() })
        .unwrap();
    root.resource("app", TestArgs::new(ami.value())).unwrap();
    st
}

fn lookup_urn() -> Urn {
    Urn::new(STACK, "", testing::LookupArgs::TYPE, "ami")
}

#[tokio::test]
async fn lookups_are_read_while_planning_recorded_and_read_again_only_when_asked() {
    let lookup = testing::TestLookup::new();
    lookup.set("ubuntu", "ami-1");
    lookup.set("debian", "ami-9");
    let (mut eng, cloud) = lookup_engine(&lookup);

    // First preview: read while planning, so the dependent's value is known.
    let plan = eng
        .preview(&lookup_stack("ubuntu"), &no_opts())
        .await
        .unwrap();
    assert_eq!(lookup.reads(), 1);
    let read = plan.steps.iter().find(|s| s.urn == lookup_urn()).unwrap();
    assert_eq!(read.action, Action::Read);
    assert_eq!(read.looked_up.as_ref().unwrap().outputs["value"], "ami-1");
    let app = plan.steps.iter().find(|s| s.urn == urn("app")).unwrap();
    assert_eq!(app.planned_inputs.as_ref().unwrap()["value"], "ami-1");
    let text = render::plan_text(&plan, PLAIN);
    assert!(
        text.contains("<= ") && text.contains("value = \"ami-1\""),
        "{text}"
    );
    assert!(text.contains("1 lookup read."), "{text}");

    // Applying the very plan records the answer without calling again.
    let report = eng
        .apply(&lookup_stack("ubuntu"), &plan, &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success());
    assert_eq!(lookup.reads(), 1, "apply records what preview read");
    let row = eng.store().resource(&lookup_urn()).unwrap().unwrap();
    assert_eq!(
        (row.id.as_str(), &row.outputs["value"]),
        ("ubuntu", &serde_json::json!("ami-1"))
    );
    let obj = cloud.by_urn(urn("app").as_str());
    assert_eq!(obj.len(), 1);

    // A no-op preview makes no call.
    let plan = eng
        .preview(&lookup_stack("ubuntu"), &no_opts())
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{}", render::plan_text(&plan, PLAIN));
    assert_eq!(lookup.reads(), 1);

    // A new answer upstream is not seen until asked for (no surprise
    // replacements); --refresh reads it, and the dependent follows.
    lookup.set("ubuntu", "ami-2");
    let plan = eng
        .preview(&lookup_stack("ubuntu"), &no_opts())
        .await
        .unwrap();
    assert!(!plan.has_changes());
    assert_eq!(lookup.reads(), 1);
    let refresh = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = eng
        .preview(&lookup_stack("ubuntu"), &refresh)
        .await
        .unwrap();
    assert_eq!(lookup.reads(), 2);
    let read = plan.steps.iter().find(|s| s.urn == lookup_urn()).unwrap();
    assert_eq!(
        (read.action, read.changed.clone()),
        (Action::Read, vec!["value".to_string()])
    );
    assert_eq!(step_action(&plan, "app"), Some(Action::Update));
    let text = render::plan_text(&plan, PLAIN);
    assert!(text.contains("~ value: \"ami-1\" => \"ami-2\""), "{text}");

    // Changed inputs are read again without --refresh.
    let plan = eng
        .preview(&lookup_stack("debian"), &no_opts())
        .await
        .unwrap();
    assert_eq!(lookup.reads(), 3);
    let app = plan.steps.iter().find(|s| s.urn == urn("app")).unwrap();
    assert_eq!(app.planned_inputs.as_ref().unwrap()["value"], "ami-9");

    // Destroy forgets the lookup with no call.
    let (_, report) = eng
        .destroy(&lookup_stack("ubuntu"), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success());
    assert!(eng.store().resources().unwrap().is_empty());
    assert_eq!(lookup.reads(), 3);
}

#[tokio::test]
async fn without_credentials_a_preview_shows_lookups_known_after_apply() {
    let lookup = testing::TestLookup::new();
    lookup.set("ubuntu", "ami-1");
    lookup.set_no_credentials(true);
    let (mut eng, _) = lookup_engine(&lookup);
    let plan = eng
        .preview(&lookup_stack("ubuntu"), &no_opts())
        .await
        .unwrap();
    assert_eq!(step_action(&plan, "app"), Some(Action::Create));
    let l = plan.steps.iter().find(|s| s.urn == lookup_urn()).unwrap();
    assert_eq!(l.action, Action::Create, "read at apply");
    let app = plan.steps.iter().find(|s| s.urn == urn("app")).unwrap();
    assert!(morket_stack::value::is_unknown(
        &app.planned_inputs.as_ref().unwrap()["value"]
    ));
    let diff = Style {
        color: false,
        diff: true,
    };
    assert!(render::plan_text(&plan, diff).contains("+ value = (known after apply)"));
}

#[tokio::test]
async fn a_lookup_that_finds_nothing_fails_the_preview_naming_the_field() {
    let lookup = testing::TestLookup::new();
    let (mut eng, cloud) = lookup_engine(&lookup);
    let err = eng
        .preview(&lookup_stack("nope"), &no_opts())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EngineError::Lookup { .. }), "{text}");
    assert!(
        text.contains("key") && text.contains("\"nope\"") && text.contains("ami"),
        "{text}"
    );
    let err = eng
        .up(&lookup_stack("nope"), &no_opts(), &Cancel::new())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Lookup { .. }));
    assert!(
        cloud.objects().is_empty(),
        "nothing is created before the lookup is answered"
    );
}

#[tokio::test]
async fn a_lookup_on_a_new_resource_is_read_at_apply() {
    let lookup = testing::TestLookup::new();
    lookup.set("k1", "answer");
    let (mut eng, _) = lookup_engine(&lookup);
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let key = root.resource("key", TestArgs::new("k1")).unwrap();
    root.resource(
        "ami",
        testing::LookupArgs {
            key: key.value().into(),
        },
    )
    .unwrap();
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert_eq!(lookup.reads(), 0, "its input is not known while planning");
    let l = plan.steps.iter().find(|s| s.urn == lookup_urn()).unwrap();
    assert_eq!(l.action, Action::Create);
    let report = eng.apply(&st, &plan, &Cancel::new()).await.unwrap();
    assert!(report.is_success());
    assert_eq!(lookup.reads(), 1);
    let row = eng.store().resource(&lookup_urn()).unwrap().unwrap();
    assert_eq!(row.outputs["value"], "answer");
    let plan = eng.preview(&st, &no_opts()).await.unwrap();
    assert!(!plan.has_changes());
    assert_eq!(lookup.reads(), 1, "recorded: not read again");
}

// ------------------------------------------------- changes applied later

/// A provider whose updates AWS holds for the maintenance window: the
/// outputs carry `pending_modified_values`, as RDS types fill it.
struct Deferring;

#[async_trait::async_trait]
impl Provider for Deferring {
    fn type_name(&self) -> &'static str {
        TestArgs::TYPE
    }
    fn validate(&self, _inputs: &serde_json::Value) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn create(
        &self,
        _ctx: &Ctx,
        _inputs: &serde_json::Value,
    ) -> Result<Created, ProviderError> {
        Ok(Created {
            id: "db-1".into(),
            outputs: serde_json::json!({ "pending_modified_values": null }),
        })
    }
    async fn read(
        &self,
        _ctx: &Ctx,
        _id: &str,
        inputs: &serde_json::Value,
        outputs: &serde_json::Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        Ok(Some(ReadResult {
            inputs: inputs.clone(),
            outputs: outputs.clone(),
        }))
    }
    async fn update(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _old: &serde_json::Value,
        new: &serde_json::Value,
        _outputs: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError> {
        Ok(serde_json::json!({
            "pending_modified_values": { "instance_class": new["value"] }
        }))
    }
    async fn delete(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _inputs: &serde_json::Value,
        _outputs: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[tokio::test]
async fn changes_held_for_later_are_reported_not_taken_for_done() {
    let mut reg = Registry::new();
    reg.register(Deferring);
    let mut eng = Engine::new(Box::new(mem_store()), reg).with_options(fast_options());
    let stack = |v: &str| {
        let mut st = Stack::new(STACK).unwrap();
        st.root().resource("db", args(v)).unwrap();
        st
    };
    let (_, report) = eng
        .up(&stack("small"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    assert!(
        report.ops.iter().all(|o| o.deferred.is_none()),
        "a create applies at once"
    );
    assert!(!render::report_text(&report, PLAIN).contains("applied later"));
    let (_, report) = eng
        .up(&stack("large"), &no_opts(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success());
    assert_eq!(
        op(&report.ops, "db").deferred,
        Some(serde_json::json!({ "instance_class": "large" }))
    );
    let text = render::report_text(&report, PLAIN);
    assert!(text.contains("applied later by AWS"), "{text}");
    assert!(
        text.contains(r#"pending dev::::test:index/Thing::db: {"instance_class":"large"}"#),
        "{text}"
    );
}
