//! Engine benchmarks: planning large stacks, peak memory of a 10k plan,
//! executor parallelism against a known critical path, and checkpoint
//! throughput against SQLite state.
//!
//! `cargo bench --bench engine` prints one JSON object per line on stdout:
//! `{"bench": NAME, "value": N, "unit": U}`. Commentary goes to stderr.
//!
//! Targets (release build): plan 10k < 100 ms, plan 100k < 1.5 s, peak RSS of
//! a 10k plan < 100 MB, apply/critical-path ratio <= 1.05, >= 2000
//! checkpointed steps/s.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use morket_stack::exec::{self, Cancel, EventSink, ExecOptions, NoEvents};
use morket_stack::model::{Input, Resource, Stack};
use morket_stack::plan::{self, Plan, PlanOptions, StateView};
use morket_stack::provider::testing::{TestArgs, TestProvider};
use morket_stack::provider::Registry;
use morket_stack::secrets::Crypter;
use morket_stack::state::{MemoryStore, ResourceState, SqliteStore, StateStore};
use serde_json::json;

const STACK: &str = "bench";
/// Secrets key of the bench stores.
const KEY: [u8; 32] = [7; 32];
/// Width of one layer of the synthetic DAG.
const LAYER: usize = 100;
/// Env var that turns the bench binary into a child measuring one scenario.
const CHILD_ENV: &str = "MORKET_BENCH_CHILD";

fn emit(name: &str, value: f64, unit: &str) {
    let v = (value * 1000.0).round() / 1000.0;
    println!("{}", json!({"bench": name, "value": v, "unit": unit}));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn registry(provider: TestProvider) -> Registry {
    let mut r = Registry::new();
    r.register(provider);
    r
}

/// The resources resource `i` references: 0-3 resources of the previous
/// layer, chosen deterministically.
fn ref_targets(i: usize) -> Vec<usize> {
    let layer = i / LAYER;
    if layer == 0 {
        return Vec::new();
    }
    let base = (layer - 1) * LAYER;
    let mut out: Vec<usize> = Vec::new();
    for j in 0..(i % 4) {
        let t = base + (i * 7 + j * 13) % LAYER;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn value_of(i: usize) -> String {
    format!("v{i}")
}

fn id_of(i: usize) -> String {
    format!("t-{i:08x}")
}

/// A layered DAG of `n` TestArgs resources; each refs 0-3 of the previous layer.
fn layered_stack(n: usize) -> Stack {
    let mut stack = Stack::new(STACK).expect("stack name");
    let mut handles: Vec<Resource<TestArgs>> = Vec::with_capacity(n);
    {
        let mut root = stack.root();
        for i in 0..n {
            let mut args = TestArgs::new(value_of(i));
            args.refs = ref_targets(i)
                .into_iter()
                .map(|t| Input::from(handles[t].id()))
                .collect();
            handles.push(root.resource(&format!("r{i:06}"), args).expect("declare"));
        }
    }
    stack
}

/// State in which every declared resource of `layered_stack(n)` exists with
/// exactly the declared inputs (references resolved to the targets' ids).
fn applied_state(stack: &Stack) -> StateView {
    let resources = stack
        .resources()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut args = TestArgs::new(value_of(i));
            args.refs = ref_targets(i)
                .into_iter()
                .map(|t| Input::Value(id_of(t)))
                .collect();
            let id = id_of(i);
            ResourceState {
                urn: d.urn.clone(),
                type_name: d.type_name.clone(),
                inputs: serde_json::to_value(&args).expect("inputs"),
                outputs: json!({
                    "id": id,
                    "value": value_of(i),
                    "arn": format!("arn:test:::{id}"),
                }),
                id,
                dependencies: d.dependencies(),
                parent: d.parent.clone(),
                options: d.options.clone(),
                tainted: false,
            }
        })
        .collect();
    StateView {
        serial: 1,
        resources,
        ..Default::default()
    }
}

fn run_plan(stack: &Stack, state: &StateView, reg: &Registry) -> Plan {
    plan::plan(stack, state, reg, &PlanOptions::default()).expect("plan")
}

/// Median wall time of `runs` plans (after one warm-up), in ms.
fn time_plan(
    stack: &Stack,
    state: &StateView,
    reg: &Registry,
    runs: usize,
    check: &dyn Fn(&Plan),
) -> f64 {
    let warm = run_plan(stack, state, reg);
    check(&warm);
    drop(warm);
    let mut xs = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let p = run_plan(stack, state, reg);
        xs.push(ms(t.elapsed()));
        drop(p);
    }
    median(xs)
}

fn bench_plan(n: usize, label: &str, runs: usize) {
    let reg = registry(TestProvider::new());
    let mut declare = Vec::new();
    let mut stack = layered_stack(n);
    for _ in 0..runs.min(3) {
        let t = Instant::now();
        stack = layered_stack(n);
        declare.push(ms(t.elapsed()));
    }
    if n >= 100_000 {
        emit(&format!("declare_{label}_ms"), median(declare), "ms");
    } else {
        eprintln!("declare_{label}: {:.1} ms", median(declare));
    }
    let empty = StateView::default();
    let all_create = |p: &Plan| {
        assert_eq!(p.counts().create, n, "empty state: everything is created");
    };
    let e = time_plan(&stack, &empty, &reg, runs, &all_create);
    let applied = applied_state(&stack);
    let all_same = |p: &Plan| {
        assert!(
            p.steps.is_empty(),
            "applied state: {} steps, expected none",
            p.steps.len()
        );
        assert_eq!(p.unchanged, n);
    };
    let a = time_plan(&stack, &applied, &reg, runs, &all_same);
    emit(&format!("plan_{label}_empty_ms"), e, "ms");
    emit(&format!("plan_{label}_applied_ms"), a, "ms");
    emit(&format!("plan_{label}_ms"), e.max(a), "ms");
}

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// In the child: build the 10k stack and its applied state, plan against
/// both, and print the peak RSS (kB) on stdout.
fn child_plan10k() {
    let before = vm_hwm_kb().unwrap_or(0);
    let reg = registry(TestProvider::new());
    let stack = layered_stack(10_000);
    let applied = applied_state(&stack);
    // One plan alive at a time, as in a CLI run.
    let p1 = run_plan(&stack, &StateView::default(), &reg);
    assert_eq!(p1.counts().create, 10_000);
    drop(p1);
    let p2 = run_plan(&stack, &applied, &reg);
    assert!(p2.steps.is_empty());
    eprintln!("child: VmHWM before building {before} kB");
    println!("{}", vm_hwm_kb().expect("VmHWM in /proc/self/status"));
}

fn bench_peak_rss() {
    let exe = std::env::current_exe().expect("bench binary path");
    let out = Command::new(exe)
        .env(CHILD_ENV, "plan10k")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("re-exec the bench binary");
    assert!(out.status.success(), "child failed: {:?}", out.status);
    let kb: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("child prints VmHWM in kB");
    emit("plan_10k_peak_rss_mb", kb / 1024.0, "MB");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn events() -> Arc<dyn EventSink> {
    Arc::new(NoEvents)
}

/// 10 chains of length 10 plus 100 independent leaves: critical path 10 ops.
fn chains_stack(chains: usize, len: usize, leaves: usize) -> Stack {
    let mut stack = Stack::new(STACK).expect("stack name");
    let mut root = stack.root();
    for c in 0..chains {
        let mut prev: Option<Resource<TestArgs>> = None;
        for k in 0..len {
            let mut args = TestArgs::new(format!("c{c}-{k}"));
            if let Some(p) = &prev {
                args.refs.push(p.id().into());
            }
            prev = Some(root.resource(&format!("c{c}-{k}"), args).expect("declare"));
        }
    }
    for l in 0..leaves {
        root.resource(&format!("leaf{l}"), TestArgs::new(format!("leaf{l}")))
            .expect("declare");
    }
    stack
}

fn bench_critical_path(rt: &tokio::runtime::Runtime) {
    // 100 ms is the order of a real AWS call; tokio's timer adds up to ~1.5 ms
    // per sleep, which at 20 ms would dominate the figure (about 1.08).
    let latency = Duration::from_millis(100);
    let (chains, len, leaves) = (10, 10, 100);
    let stack = chains_stack(chains, len, leaves);
    let opts = ExecOptions {
        parallel: 1000,
        ..Default::default()
    };
    let mut ratios = Vec::new();
    for _ in 0..5 {
        let reg = registry(TestProvider::new().latency(latency));
        let p = run_plan(&stack, &StateView::default(), &reg);
        // TestProvider's `secret_out` output is sealed: the store needs a key.
        let mut store = MemoryStore::new(STACK);
        store.set_crypter(Crypter::new(&KEY)).expect("crypter");
        let t = Instant::now();
        let report = rt
            .block_on(exec::execute(
                &p,
                &mut store,
                &reg,
                &opts,
                &Cancel::new(),
                events(),
            ))
            .expect("execute");
        let wall = t.elapsed();
        assert!(report.is_success(), "apply failed");
        assert_eq!(report.tally().done, chains * len + leaves);
        ratios.push(wall.as_secs_f64() / (latency.as_secs_f64() * len as f64));
        // Where the excess goes along the chains: time inside provider calls
        // (latency + timer slack) versus gaps between a finish and the next start.
        let (mut call, mut gap) = (Vec::new(), Vec::new());
        for c in 0..chains {
            let chain: Vec<_> = (0..len)
                .map(|k| {
                    let name = format!("c{c}-{k}");
                    let o = report
                        .ops
                        .iter()
                        .find(|o| o.urn.name() == name)
                        .expect("op of chain");
                    (
                        o.started.unwrap_or_default(),
                        o.finished.unwrap_or_default(),
                    )
                })
                .collect();
            for (k, (s, f)) in chain.iter().enumerate() {
                call.push(ms(*f - *s));
                if k > 0 {
                    gap.push(ms(*s - chain[k - 1].1));
                }
            }
        }
        eprintln!(
            "critical path: wall {:.1} ms; per op: call median {:.2} ms max {:.2}; gap finish->next start median {:.3} ms max {:.3}",
            ms(wall),
            median(call.clone()),
            call.iter().copied().fold(0.0, f64::max),
            median(gap.clone()),
            gap.iter().copied().fold(0.0, f64::max)
        );
    }
    eprintln!("critical path ratios: {ratios:.3?}");
    emit("apply_critical_path_ratio", median(ratios), "ratio");
}

fn independent_stack(n: usize) -> Stack {
    let mut stack = Stack::new(STACK).expect("stack name");
    let mut root = stack.root();
    for i in 0..n {
        root.resource(&format!("r{i:06}"), TestArgs::new(value_of(i)))
            .expect("declare");
    }
    stack
}

/// Steps/s of `n` zero-latency creates checkpointed to `store`.
fn checkpoint_rate(rt: &tokio::runtime::Runtime, stack: &Stack, store: &mut dyn StateStore) -> f64 {
    let n = stack.resources().len();
    let reg = registry(TestProvider::new());
    let p = run_plan(stack, &StateView::default(), &reg);
    let opts = ExecOptions {
        parallel: 100,
        ..Default::default()
    };
    let t = Instant::now();
    let report = rt
        .block_on(exec::execute(
            &p,
            store,
            &reg,
            &opts,
            &Cancel::new(),
            events(),
        ))
        .expect("execute");
    let wall = t.elapsed();
    assert!(report.is_success(), "apply failed");
    assert_eq!(report.tally().done, n);
    assert_eq!(store.resources().expect("resources").len(), n);
    n as f64 / wall.as_secs_f64()
}

fn bench_checkpoint(rt: &tokio::runtime::Runtime) {
    let n = 2000;
    let stack = independent_stack(n);
    let mut sqlite = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store =
            SqliteStore::open(&dir.path().join("bench.db"), STACK).expect("open sqlite");
        store.set_crypter(Crypter::new(&KEY)).expect("crypter");
        sqlite.push(checkpoint_rate(rt, &stack, &mut store));
    }
    let mut memory = Vec::new();
    for _ in 0..3 {
        let mut store = MemoryStore::new(STACK);
        store.set_crypter(Crypter::new(&KEY)).expect("crypter");
        memory.push(checkpoint_rate(rt, &stack, &mut store));
    }
    eprintln!("checkpoint steps/s sqlite {sqlite:.0?}, memory {memory:.0?}");
    emit("checkpoint_steps_per_s", median(sqlite), "steps/s");
    emit("checkpoint_steps_per_s_memory", median(memory), "steps/s");
}

fn main() {
    if let Ok(which) = std::env::var(CHILD_ENV) {
        match which.as_str() {
            "plan10k" => child_plan10k(),
            other => panic!("unknown {CHILD_ENV}={other}"),
        }
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument selects benches by prefix.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let on = |name: &str| filter.is_empty() || filter.iter().any(|f| name.starts_with(f.as_str()));
    if on("plan") {
        bench_plan(10_000, "10k", 9);
        bench_plan(100_000, "100k", 3);
    }
    if on("plan_10k_peak_rss") || on("rss") {
        bench_peak_rss();
    }
    let rt = runtime();
    if on("apply") {
        bench_critical_path(&rt);
    }
    if on("checkpoint") {
        bench_checkpoint(&rt);
    }
}
