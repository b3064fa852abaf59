//! The executor: applies a plan's schedule concurrently. A step starts as soon
//! as every op it depends on has finished, within `parallel` and per-service
//! limits. The executor loop is the single writer of state: it commits a
//! pending row before each provider call and the result after it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::model::Urn;
use crate::plan::{self, Action, Op, Plan, Step};
use crate::provider::{Created, Ctx, Provider, ProviderError, Registry};
use crate::retry::RetryPolicy;
use crate::state::{OpEffect, OpKind, PendingOp, ResourceState, StateError, StateStore};
use crate::value::{self, Resolved};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("checkpoint failed, apply stopped: {0}")]
    State(#[from] StateError),
    #[error("{0}: no provider for resource type {1}")]
    UnknownType(Urn, String),
}

/// Cooperative cancellation (Ctrl-C): start nothing new, finish what runs.
#[derive(Clone, Default)]
pub struct Cancel(Arc<(AtomicBool, Notify)>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// What the engine reports while it works; the CLI turns these into output.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    OpStarted {
        urn: Urn,
        kind: OpKind,
    },
    OpRetrying {
        urn: Urn,
        kind: OpKind,
        attempt: u32,
        error: String,
    },
    OpFinished {
        urn: Urn,
        kind: OpKind,
        elapsed: Duration,
    },
    OpFailed {
        urn: Urn,
        kind: OpKind,
        error: String,
    },
    OpSkipped {
        urn: Urn,
        kind: OpKind,
        because: Urn,
    },
    PendingResolved {
        urn: Urn,
        kind: OpKind,
        outcome: String,
    },
    WaitingForLock {
        holder: String,
    },
    StaleLockReleased {
        holder: String,
    },
    Cancelling,
}

pub trait EventSink: Send + Sync {
    fn event(&self, e: &Event);
}

/// Discards events.
pub struct NoEvents;
impl EventSink for NoEvents {
    fn event(&self, _: &Event) {}
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum OpStatus {
    Done,
    /// Nothing to do at apply time (inputs turned out unchanged).
    Unchanged,
    Failed(String),
    /// A dependency failed (named).
    Skipped(String),
    /// Cancelled before it started.
    NotStarted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpReport {
    pub urn: Urn,
    pub kind: OpKind,
    pub status: OpStatus,
    pub attempts: u32,
    /// Offsets from the start of the apply.
    pub started: Option<Duration>,
    pub finished: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub ops: Vec<OpReport>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub not_started: usize,
}

impl ApplyReport {
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for o in &self.ops {
            match o.status {
                OpStatus::Done | OpStatus::Unchanged => t.done += 1,
                OpStatus::Failed(_) => t.failed += 1,
                OpStatus::Skipped(_) => t.skipped += 1,
                OpStatus::NotStarted => t.not_started += 1,
            }
        }
        t
    }

    pub fn is_success(&self) -> bool {
        let t = self.tally();
        t.failed == 0 && t.skipped == 0 && t.not_started == 0 && !self.cancelled
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    pub parallel: usize,
    pub retry: RetryPolicy,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            parallel: 10,
            retry: RetryPolicy::default(),
        }
    }
}

enum Outcome {
    Created(Created),
    Updated(Value),
    Deleted,
}

struct Finished {
    op: usize,
    result: Result<Outcome, ProviderError>,
    attempts: u32,
    /// The inputs the provider was called with: what state records.
    inputs: Value,
}

/// Calls the provider for one op, retrying retryable errors per `policy`.
#[allow(clippy::too_many_arguments)]
async fn run_op(
    provider: Arc<dyn Provider>,
    ctx: Ctx,
    kind: OpKind,
    id: String,
    old: Option<(Value, Value)>,
    new_inputs: Value,
    policy: RetryPolicy,
    events: Arc<dyn EventSink>,
) -> (Result<Outcome, ProviderError>, u32) {
    let mut attempt = 1;
    loop {
        let r = match kind {
            OpKind::Create | OpKind::CreateReplacement => provider
                .create(&ctx, &new_inputs)
                .await
                .map(Outcome::Created),
            OpKind::Update => {
                let (oi, oo) = old.as_ref().expect("update has old state");
                provider
                    .update(&ctx, &id, oi, &new_inputs, oo)
                    .await
                    .map(Outcome::Updated)
            }
            OpKind::Delete | OpKind::DeleteReplaced => {
                let (oi, oo) = old.as_ref().expect("delete has old state");
                match provider.delete(&ctx, &id, oi, oo).await {
                    Ok(()) | Err(ProviderError::NotFound(_)) => Ok(Outcome::Deleted),
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Err(e) if e.is_retryable() => match policy.backoff(attempt) {
                Some(wait) => {
                    events.event(&Event::OpRetrying {
                        urn: ctx.urn.clone(),
                        kind,
                        attempt,
                        error: e.to_string(),
                    });
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return (Err(e), attempt),
            },
            other => return (other, attempt),
        }
    }
}

/// Resolves a declaration's references against what exists now.
pub fn resolve_live(inputs: &Value, live: &HashMap<Urn, ResourceState>) -> Result<Value, String> {
    let mut missing = None;
    let v = value::resolve(
        inputs,
        &mut |u, a| match Urn::parse(u).ok().and_then(|u| live.get(&u)) {
            Some(r) => Resolved::Known(plan::state_attr(r, a)),
            None => {
                missing.get_or_insert_with(|| u.to_string());
                Resolved::Unknown
            }
        },
    );
    match missing {
        Some(u) => Err(format!("referenced resource {u} does not exist")),
        None => Ok(v),
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Applies `plan` to `store`. State errors stop the run (after in-flight calls
/// finish); provider errors fail their op and skip its dependents.
pub async fn execute(
    plan: &Plan,
    store: &mut dyn StateStore,
    registry: &Registry,
    opts: &ExecOptions,
    cancel: &Cancel,
    events: Arc<dyn EventSink>,
) -> Result<ApplyReport, ExecError> {
    let t0 = Instant::now();
    let ops = plan::schedule(plan);
    let mut live: HashMap<Urn, ResourceState> = store
        .resources()?
        .into_iter()
        .map(|r| (r.urn.clone(), r))
        .collect();

    let mut providers: Vec<Arc<dyn Provider>> = Vec::with_capacity(ops.len());
    for op in &ops {
        let s = &plan.steps[op.step];
        let p = registry
            .get(&s.type_name)
            .ok_or_else(|| ExecError::UnknownType(s.urn.clone(), s.type_name.clone()))?;
        providers.push(p.clone());
    }

    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    let mut waiting: Vec<usize> = ops.iter().map(|o| o.deps.len()).collect();
    for (i, op) in ops.iter().enumerate() {
        for &d in &op.deps {
            dependents[d].push(i);
        }
    }
    let mut reports: Vec<OpReport> = ops
        .iter()
        .map(|o| OpReport {
            urn: plan.steps[o.step].urn.clone(),
            kind: o.kind,
            status: OpStatus::NotStarted,
            attempts: 0,
            started: None,
            finished: None,
        })
        .collect();
    let mut ready: VecDeque<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut by_service: HashMap<&'static str, usize> = HashMap::new();
    let mut pending_ids: HashMap<usize, i64> = HashMap::new();
    let mut fatal: Option<StateError> = None;
    let mut cancelled = false;

    // Metadata-only changes (options, dependencies) need no provider call.
    for s in plan.steps.iter().filter(|s| s.action == Action::Same) {
        if let (Some(old), Some(new)) = (&s.old, &s.new) {
            let mut r = old.clone();
            r.dependencies = new.dependencies();
            r.options = new.options.clone();
            r.parent = new.parent.clone();
            let pid = store.begin_op(&pending(s, OpKind::Update, &r.id, r.inputs.clone()))?;
            store.end_op(pid, &OpEffect::Upsert(r.clone()))?;
            live.insert(r.urn.clone(), r);
        }
    }

    loop {
        if !cancelled && cancel.is_cancelled() {
            cancelled = true;
            events.event(&Event::Cancelling);
        }
        // Start whatever fits.
        if !cancelled && fatal.is_none() {
            let mut deferred = VecDeque::new();
            while let Some(i) = ready.pop_front() {
                if running.len() >= opts.parallel.max(1) {
                    deferred.push_back(i);
                    continue;
                }
                let limit = providers[i].concurrency();
                if let Some((svc, max)) = limit {
                    if by_service.get(svc).copied().unwrap_or(0) >= max {
                        deferred.push_back(i);
                        continue;
                    }
                }
                match start_op(
                    i,
                    &ops[i],
                    plan,
                    &providers[i],
                    &live,
                    store,
                    opts,
                    &events,
                    &mut running,
                ) {
                    Ok(Started::Spawned(pid)) => {
                        pending_ids.insert(i, pid);
                        if let Some((svc, _)) = limit {
                            *by_service.entry(svc).or_default() += 1;
                        }
                        reports[i].started = Some(t0.elapsed());
                        events.event(&Event::OpStarted {
                            urn: reports[i].urn.clone(),
                            kind: ops[i].kind,
                        });
                    }
                    Ok(Started::Nothing) => {
                        reports[i].status = OpStatus::Unchanged;
                        reports[i].started = Some(t0.elapsed());
                        reports[i].finished = reports[i].started;
                        release(i, &dependents, &mut waiting, &mut ready);
                    }
                    Ok(Started::Invalid(msg)) => {
                        fail(i, msg, &ops, &dependents, &mut reports, events.as_ref());
                    }
                    Err(e) => {
                        fatal = Some(e);
                        break;
                    }
                }
            }
            ready.extend(deferred);
        }
        if running.is_empty() {
            break;
        }
        let done = tokio::select! {
            d = running.join_next() => d,
            _ = cancel.cancelled(), if !cancelled => continue,
        };
        let Some(done) = done else { break };
        let f = done.expect("provider tasks do not panic");
        let i = f.op;
        reports[i].attempts = f.attempts;
        reports[i].finished = Some(t0.elapsed());
        if let Some((svc, _)) = providers[i].concurrency() {
            *by_service.entry(svc).or_default() -= 1;
        }
        let pid = pending_ids
            .remove(&i)
            .expect("started ops have a pending row");
        let step = &plan.steps[ops[i].step];
        match f.result {
            Ok(outcome) => {
                let effect = effect_of(&ops[i], step, outcome, f.inputs, &providers[i], &live);
                if let Err(e) = store.end_op(pid, &effect) {
                    fatal.get_or_insert(e);
                    reports[i].status = OpStatus::Failed("checkpoint failed".into());
                    continue;
                }
                match &effect {
                    OpEffect::Upsert(r) | OpEffect::Replace(r) => {
                        live.insert(r.urn.clone(), r.clone());
                    }
                    OpEffect::Remove(u) => {
                        live.remove(u);
                    }
                    _ => {}
                }
                reports[i].status = OpStatus::Done;
                events.event(&Event::OpFinished {
                    urn: step.urn.clone(),
                    kind: ops[i].kind,
                    elapsed: reports[i].finished.unwrap_or_default()
                        - reports[i].started.unwrap_or_default(),
                });
                release(i, &dependents, &mut waiting, &mut ready);
            }
            Err(e) => {
                if let Err(se) = store.end_op(pid, &OpEffect::Nothing) {
                    fatal.get_or_insert(se);
                }
                fail(
                    i,
                    e.to_string(),
                    &ops,
                    &dependents,
                    &mut reports,
                    events.as_ref(),
                );
            }
        }
    }
    if let Some(e) = fatal {
        return Err(e.into());
    }
    Ok(ApplyReport {
        ops: reports,
        cancelled,
        elapsed: t0.elapsed(),
    })
}

fn release(
    i: usize,
    dependents: &[Vec<usize>],
    waiting: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    for &d in &dependents[i] {
        waiting[d] -= 1;
        if waiting[d] == 0 {
            ready.push_back(d);
        }
    }
}

/// Marks op `i` failed and every op downstream of it skipped.
fn fail(
    i: usize,
    msg: String,
    ops: &[Op],
    dependents: &[Vec<usize>],
    reports: &mut [OpReport],
    events: &dyn EventSink,
) {
    events.event(&Event::OpFailed {
        urn: reports[i].urn.clone(),
        kind: ops[i].kind,
        error: msg.clone(),
    });
    reports[i].status = OpStatus::Failed(msg);
    let because = reports[i].urn.clone();
    let mut work: Vec<usize> = dependents[i].clone();
    while let Some(d) = work.pop() {
        if reports[d].status == OpStatus::NotStarted {
            reports[d].status = OpStatus::Skipped(because.to_string());
            events.event(&Event::OpSkipped {
                urn: reports[d].urn.clone(),
                kind: ops[d].kind,
                because: because.clone(),
            });
            work.extend(&dependents[d]);
        }
    }
}

fn pending(s: &Step, kind: OpKind, id: &str, inputs: Value) -> PendingOp {
    PendingOp {
        id: 0,
        urn: s.urn.clone(),
        kind,
        type_name: s.type_name.clone(),
        resource_id: id.to_string(),
        inputs,
        started_at: now_rfc3339(),
    }
}

enum Started {
    Spawned(i64),
    Nothing,
    Invalid(String),
}

/// Resolves inputs, commits the pending row, then spawns the provider call.
#[allow(clippy::too_many_arguments)]
fn start_op(
    i: usize,
    op: &Op,
    plan: &Plan,
    provider: &Arc<dyn Provider>,
    live: &HashMap<Urn, ResourceState>,
    store: &mut dyn StateStore,
    opts: &ExecOptions,
    events: &Arc<dyn EventSink>,
    running: &mut JoinSet<Finished>,
) -> Result<Started, StateError> {
    let s = &plan.steps[op.step];
    let ctx = Ctx {
        stack: plan.stack.clone(),
        urn: s.urn.clone(),
    };
    let (id, old, new_inputs) = match op.kind {
        OpKind::Create | OpKind::CreateReplacement | OpKind::Update => {
            let decl = s
                .new
                .as_ref()
                .expect("create and update steps carry the declaration");
            let mut inputs = match resolve_live(&decl.inputs, live) {
                Ok(v) => v,
                Err(msg) => return Ok(Started::Invalid(msg)),
            };
            let current = live.get(&s.urn);
            if let Some(o) = current.filter(|_| op.kind == OpKind::Update) {
                for path in &decl.options.ignore_changes {
                    value::set_path(&mut inputs, path, value::get_path(&o.inputs, path).cloned());
                }
                if provider.diff(&o.inputs, &inputs).is_empty() {
                    return Ok(Started::Nothing);
                }
            }
            if let Err(e) = provider.validate(&inputs) {
                return Ok(Started::Invalid(e.to_string()));
            }
            match (op.kind, current) {
                (OpKind::Update, Some(o)) => (
                    o.id.clone(),
                    Some((o.inputs.clone(), o.outputs.clone())),
                    inputs,
                ),
                (OpKind::Update, None) => {
                    return Ok(Started::Invalid("resource is not in state".into()))
                }
                _ => (String::new(), None, inputs),
            }
        }
        OpKind::Delete | OpKind::DeleteReplaced => {
            // The plan's old state is the state at apply time (serial checked);
            // `live` already holds the new half of a replacement.
            let Some(o) = s.old.as_ref() else {
                return Ok(Started::Nothing);
            };
            (
                o.id.clone(),
                Some((o.inputs.clone(), o.outputs.clone())),
                Value::Null,
            )
        }
    };
    let pid = store.begin_op(&pending(s, op.kind, &id, new_inputs.clone()))?;
    // As in Pulumi, retain_on_delete also keeps the old half of a replacement.
    let retain = matches!(op.kind, OpKind::Delete | OpKind::DeleteReplaced)
        && s.old.as_ref().is_some_and(|o| o.options.retain_on_delete);
    if retain {
        // retain_on_delete: forget it, leave the real resource alone.
        running.spawn(async move {
            Finished {
                op: i,
                result: Ok(Outcome::Deleted),
                attempts: 0,
                inputs: Value::Null,
            }
        });
        return Ok(Started::Spawned(pid));
    }
    let (p, policy, ev, kind) = (provider.clone(), opts.retry, events.clone(), op.kind);
    running.spawn(async move {
        let (result, attempts) =
            run_op(p, ctx, kind, id, old, new_inputs.clone(), policy, ev).await;
        Finished {
            op: i,
            result,
            attempts,
            inputs: new_inputs,
        }
    });
    Ok(Started::Spawned(pid))
}

/// The state change a successful op makes.
fn effect_of(
    op: &Op,
    s: &Step,
    outcome: Outcome,
    inputs: Value,
    provider: &Arc<dyn Provider>,
    live: &HashMap<Urn, ResourceState>,
) -> OpEffect {
    // `inputs` were resolved (and `ignore_changes` applied to an update) when
    // the op started; they are what the resource now has.
    let record = |id: String, mut outputs: Value| {
        let decl = s
            .new
            .as_ref()
            .expect("creates and updates carry the declaration");
        value::mark_secret_fields(&mut outputs, provider.secret_outputs());
        ResourceState {
            urn: s.urn.clone(),
            type_name: s.type_name.clone(),
            id,
            inputs,
            outputs,
            dependencies: decl.dependencies(),
            parent: decl.parent.clone(),
            options: decl.options.clone(),
        }
    };
    match (op.kind, outcome) {
        (OpKind::Create, Outcome::Created(c)) => OpEffect::Upsert(record(c.id, c.outputs)),
        (OpKind::CreateReplacement, Outcome::Created(c)) if s.delete_before_replace => {
            OpEffect::Upsert(record(c.id, c.outputs))
        }
        (OpKind::CreateReplacement, Outcome::Created(c)) => {
            OpEffect::Replace(record(c.id, c.outputs))
        }
        (OpKind::Update, Outcome::Updated(outputs)) => {
            let id = live.get(&s.urn).map(|o| o.id.clone()).unwrap_or_default();
            OpEffect::Upsert(record(id, outputs))
        }
        (OpKind::Delete, _) => OpEffect::Remove(s.urn.clone()),
        (OpKind::DeleteReplaced, _) if s.condemned || !s.delete_before_replace => {
            let id = s.old.as_ref().map(|o| o.id.clone()).unwrap_or_default();
            OpEffect::RemoveCondemned {
                urn: s.urn.clone(),
                id,
            }
        }
        (OpKind::DeleteReplaced, _) => OpEffect::Remove(s.urn.clone()),
        (_, _) => OpEffect::Nothing,
    }
}
