//! The executor: applies a plan's schedule concurrently. A step starts as soon
//! as every op it depends on has finished, within `parallel` and per-service
//! limits. The executor loop is the single writer of state: it commits a
//! pending row before each provider call and the result after it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::adopt::{self, Lookup};
use crate::model::Urn;
use crate::plan::{self, Action, Op, Plan, Step};
use crate::provider::{Created, Ctx, Provider, ProviderError, ReadResult, Registry};
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
    /// A lookup by URN found nothing yet; absence is proven only after the
    /// provider's lookup lag, so the engine waits this long and looks again.
    WaitingForLookup {
        urn: Urn,
        wait: Duration,
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
    /// What the provider accepted but applies later (a maintenance window,
    /// a reboot): the op's [`crate::provider::DEFERRED_OUTPUT`], redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred: Option<Value>,
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

/// What a failed op left in the cloud.
enum Left {
    /// Nothing, or nothing that state does not already say: the pending row goes.
    Nothing,
    /// An object that must be tracked: a create that failed after its first
    /// side effect (or was found by its URN after failing), or a resource
    /// after a failed update. `read` is its live state; `None` taints it.
    Exists {
        id: String,
        read: Option<ReadResult>,
    },
    /// The resource of a failed update is gone.
    Gone,
    /// Cannot tell now (the lookup failed, was ambiguous or was cancelled):
    /// the pending row stays for the next run to settle.
    Unsettled,
}

struct Failure {
    error: ProviderError,
    left: Box<Left>,
}

struct Finished {
    op: usize,
    result: Result<Outcome, Failure>,
    attempts: u32,
    /// The inputs the provider was called with: what state records.
    inputs: Value,
}

/// One op's provider call, with what it needs to settle a failure.
struct Call {
    provider: Arc<dyn Provider>,
    ctx: Ctx,
    kind: OpKind,
    id: String,
    old: Option<(Value, Value)>,
    new_inputs: Value,
    /// Ids state tracks under this URN (never adopted as a new object).
    tracked: Vec<String>,
    /// The type's lookup lag.
    lag: Duration,
    policy: RetryPolicy,
    events: Arc<dyn EventSink>,
    cancel: Cancel,
}

impl Call {
    fn retrying(&self, attempt: u32, e: &ProviderError) {
        self.events.event(&Event::OpRetrying {
            urn: self.ctx.urn.clone(),
            kind: self.kind,
            attempt,
            error: e.to_string(),
        });
    }

    /// Sleeps before the next attempt; false when cancelled meanwhile.
    async fn backoff(&self, wait: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    /// Calls the provider, retrying retryable errors per the policy.
    async fn run(self) -> (Result<Outcome, Failure>, u32) {
        match self.kind {
            OpKind::Create | OpKind::CreateReplacement => self.create().await,
            OpKind::Update | OpKind::Delete | OpKind::DeleteReplaced => self.change().await,
        }
    }

    /// A create is never issued again before the object is looked up: the
    /// failed call may have made it.
    async fn create(self) -> (Result<Outcome, Failure>, u32) {
        let p = self.provider.as_ref();
        let mut attempt = 1;
        loop {
            let e = match p.create(&self.ctx, &self.new_inputs).await {
                Ok(c) => return (Ok(Outcome::Created(c)), attempt),
                Err(e) => e,
            };
            let called = SystemTime::now();
            if let ProviderError::Partial { id, error } = &e {
                let id = id.clone();
                let definite = !error.is_retryable();
                let read =
                    adopt::read_back(p, &self.ctx, &id, &self.new_inputs, &Value::Null).await;
                if !definite {
                    // A later call that may have run: done if it reads as declared.
                    return (self.exists(e, id, read), attempt);
                }
                // A definite failure after the create (a wait that ended
                // FAILED or timed out) fails the operation even if the object
                // reads as declared: an ECS service whose first deployment the
                // circuit breaker failed does. Recorded as read; unreadable,
                // tainted.
                return (
                    Err(Failure {
                        error: e,
                        left: Box::new(Left::Exists { id, read }),
                    }),
                    attempt,
                );
            }
            // An unambiguous error made nothing; one lookup still catches an
            // object that already existed (AlreadyExists after a lost run).
            let lookup = if e.is_ambiguous() {
                adopt::look_up_settled(
                    p,
                    &self.ctx,
                    &self.new_inputs,
                    &self.tracked,
                    called,
                    self.lag,
                    Some(&self.cancel),
                    &self.events,
                )
                .await
            } else {
                adopt::look_up(p, &self.ctx, &self.new_inputs, &self.tracked)
                    .await
                    .map(Some)
            };
            let left = |l| Failure {
                error: e.clone(),
                left: Box::new(l),
            };
            match lookup {
                Ok(Some(Lookup::Found(c))) => {
                    let read =
                        adopt::read_back(p, &self.ctx, &c.id, &self.new_inputs, &c.outputs).await;
                    return (self.exists(e, c.id, read), attempt);
                }
                Ok(Some(Lookup::Absent)) => {}
                Ok(Some(Lookup::Ambiguous(ids))) => {
                    let error = Lookup::ambiguity(&self.ctx, &ids);
                    return (
                        Err(Failure {
                            error,
                            left: Box::new(Left::Unsettled),
                        }),
                        attempt,
                    );
                }
                Ok(None) => return (Err(left(Left::Unsettled)), attempt),
                Err(le) => {
                    let error =
                        ProviderError::Fatal(format!("{e}; and looking it up by URN failed: {le}"));
                    let left = if e.is_ambiguous() {
                        Left::Unsettled
                    } else {
                        Left::Nothing
                    };
                    return (
                        Err(Failure {
                            error,
                            left: Box::new(left),
                        }),
                        attempt,
                    );
                }
            }
            // Proven absent: safe to create again.
            match policy_backoff(&self.policy, &e, attempt) {
                Some(wait) => {
                    self.retrying(attempt, &e);
                    if !self.backoff(wait).await {
                        return (Err(left(Left::Nothing)), attempt);
                    }
                    attempt += 1;
                }
                None => return (Err(left(Left::Nothing)), attempt),
            }
        }
    }

    /// A create whose outcome was unknown, with the object found in place:
    /// recorded as read. If what was read is what was declared, the create
    /// did finish.
    fn exists(
        &self,
        error: ProviderError,
        id: String,
        read: Option<ReadResult>,
    ) -> Result<Outcome, Failure> {
        match read {
            Some(r) if self.provider.diff(&r.inputs, &self.new_inputs).is_empty() => {
                Ok(Outcome::Created(Created {
                    id,
                    outputs: r.outputs,
                }))
            }
            read => Err(Failure {
                error,
                left: Box::new(Left::Exists { id, read }),
            }),
        }
    }

    async fn change(self) -> (Result<Outcome, Failure>, u32) {
        let p = self.provider.as_ref();
        let (oi, oo) = self
            .old
            .as_ref()
            .expect("updates and deletes have old state");
        let mut attempt = 1;
        loop {
            let r = match self.kind {
                OpKind::Update => p
                    .update(&self.ctx, &self.id, oi, &self.new_inputs, oo)
                    .await
                    .map(Outcome::Updated),
                _ => match p.delete(&self.ctx, &self.id, oi, oo).await {
                    Ok(()) | Err(ProviderError::NotFound(_)) => Ok(Outcome::Deleted),
                    Err(e) => Err(e),
                },
            };
            let e = match r {
                Ok(o) => return (Ok(o), attempt),
                Err(e) => e,
            };
            if let Some(wait) = policy_backoff(&self.policy, &e, attempt) {
                self.retrying(attempt, &e);
                if self.backoff(wait).await {
                    attempt += 1;
                    continue;
                }
            }
            if self.kind != OpKind::Update {
                return (
                    Err(Failure {
                        error: e,
                        left: Box::new(Left::Nothing),
                    }),
                    attempt,
                );
            }
            // A failed update may have changed part of the resource: record
            // what it is now, so a reverted declaration still converges. Read
            // with the old inputs: a write-only value is not known to be set.
            let left = match p.read(&self.ctx, &self.id, oi, oo).await {
                Ok(Some(r)) => Left::Exists {
                    id: self.id.clone(),
                    read: Some(r),
                },
                Ok(None) => Left::Gone,
                Err(_) => Left::Unsettled,
            };
            return (
                Err(Failure {
                    error: e,
                    left: Box::new(left),
                }),
                attempt,
            );
        }
    }
}

/// The wait before another attempt after `e`, if it is worth one.
fn policy_backoff(policy: &RetryPolicy, e: &ProviderError, attempt: u32) -> Option<Duration> {
    if e.is_retryable() {
        policy.backoff(attempt)
    } else {
        None
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

    let mut condemned: HashMap<Urn, Vec<String>> = HashMap::new();
    for c in store.condemned()? {
        condemned.entry(c.urn).or_default().push(c.id);
    }

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
            deferred: None,
        })
        .collect();
    let mut ready: VecDeque<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut by_service: HashMap<&'static str, usize> = HashMap::new();
    let mut pending_ids: HashMap<usize, i64> = HashMap::new();
    let mut task_op: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut fatal: Option<StateError> = None;
    let mut cancelled = false;

    // Lookups read while planning: their answers are recorded as the plan
    // saw them (no call: `up` applies exactly what preview showed).
    for s in plan.steps.iter().filter(|s| s.action == Action::Read) {
        let (Some(new), Some(c), Some(inputs)) = (&s.new, &s.looked_up, &s.planned_inputs) else {
            continue;
        };
        // Secret outputs were marked when the engine read the lookup.
        let r = ResourceState {
            urn: s.urn.clone(),
            type_name: s.type_name.clone(),
            id: c.id.clone(),
            inputs: inputs.clone(),
            outputs: c.outputs.clone(),
            dependencies: new.dependencies(),
            parent: new.parent.clone(),
            options: new.options.clone(),
            tainted: false,
        };
        let pid = store.begin_op(&pending(s, OpKind::Update, &c.id, inputs.clone()))?;
        store.end_op(pid, &OpEffect::Upsert(r.clone()))?;
        live.insert(r.urn.clone(), r);
    }

    // Renames (aliases) come first: every later op finds the resource under
    // its new URN. Metadata-only changes (options, dependencies) need no
    // provider call either.
    for s in &plan.steps {
        let (Some(old), Some(new)) = (&s.old, &s.new) else {
            continue;
        };
        let effect = match &s.renamed_from {
            Some(from) => {
                let mut r = old.clone();
                r.urn = s.urn.clone();
                if s.action == Action::Same {
                    r.dependencies = new.dependencies();
                    r.options = new.options.clone();
                    r.parent = new.parent.clone();
                }
                live.remove(from);
                OpEffect::Rename {
                    from: from.clone(),
                    to: r,
                }
            }
            None if s.action == Action::Same => {
                let mut r = old.clone();
                r.dependencies = new.dependencies();
                r.options = new.options.clone();
                r.parent = new.parent.clone();
                OpEffect::Upsert(r)
            }
            None => continue,
        };
        let pid = store.begin_op(&pending(s, OpKind::Update, &old.id, old.inputs.clone()))?;
        store.end_op(pid, &effect)?;
        if let OpEffect::Upsert(r) | OpEffect::Rename { to: r, .. } = effect {
            live.insert(r.urn.clone(), r);
        }
    }

    loop {
        if !cancelled && cancel.is_cancelled() {
            cancelled = true;
            events.event(&Event::Cancelling);
        }
        // Start whatever fits. Once cancelled, only the create half of a
        // delete-first replacement whose delete is done still starts: a
        // cancel must not leave a resource deleted and never recreated.
        if fatal.is_none() {
            let mut deferred = VecDeque::new();
            let mut batch: Vec<(usize, Box<Ready>)> = Vec::new();
            while let Some(i) = ready.pop_front() {
                let must_finish = ops[i].kind == OpKind::CreateReplacement
                    && plan.steps[ops[i].step].delete_before_replace;
                if cancelled && !must_finish {
                    deferred.push_back(i);
                    continue;
                }
                if running.len() + batch.len() >= opts.parallel.max(1) {
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
                match prepare_op(
                    &ops[i],
                    registry,
                    &condemned,
                    plan,
                    &providers[i],
                    &live,
                    opts,
                    &events,
                    cancel,
                ) {
                    Started::Ready(r) => {
                        if let Some((svc, _)) = limit {
                            *by_service.entry(svc).or_default() += 1;
                        }
                        batch.push((i, r));
                    }
                    Started::Nothing => {
                        reports[i].status = OpStatus::Unchanged;
                        reports[i].started = Some(t0.elapsed());
                        reports[i].finished = reports[i].started;
                        release(i, &dependents, &mut waiting, &mut ready);
                    }
                    Started::Invalid(msg) => {
                        fail(i, msg, &ops, &dependents, &mut reports, events.as_ref());
                    }
                }
            }
            // Group commit: one fsynced transaction for every pending row of
            // this round, then the calls.
            if !batch.is_empty() {
                let rows: Vec<PendingOp> = batch.iter().map(|(_, r)| r.pending.clone()).collect();
                match store.begin_ops(&rows) {
                    Ok(pids) => {
                        for ((i, r), pid) in batch.drain(..).zip(pids) {
                            pending_ids.insert(i, pid);
                            reports[i].started = Some(t0.elapsed());
                            // Before the spawn: the call's own events (retries, lookups) follow it.
                            events.event(&Event::OpStarted {
                                urn: reports[i].urn.clone(),
                                kind: ops[i].kind,
                            });
                            task_op.insert(r.spawn(i, &mut running), i);
                        }
                    }
                    Err(e) => {
                        for (i, _) in batch.drain(..) {
                            if let Some((svc, _)) = providers[i].concurrency() {
                                *by_service.entry(svc).or_default() -= 1;
                            }
                        }
                        fatal = Some(e);
                    }
                }
            }
            ready.extend(deferred);
        }
        if running.is_empty() {
            if cancelled || fatal.is_some() || ready.is_empty() {
                break;
            }
            continue;
        }
        let done = tokio::select! {
            d = running.join_next_with_id() => d,
            _ = cancel.cancelled(), if !cancelled => continue,
        };
        let Some(done) = done else { break };
        // Everything that finished meanwhile, so the next round starts (and
        // commits) their dependents together.
        let mut finished = vec![done];
        while let Some(d) = running.try_join_next_with_id() {
            finished.push(d);
        }
        for done in finished {
            // A provider that panicked: its op fails and its pending row
            // stays (what the call did is unknown); the others run on.
            let f = match done {
                Ok((id, f)) => {
                    task_op.remove(&id);
                    f
                }
                Err(e) => {
                    let Some(i) = task_op.remove(&e.id()) else {
                        continue;
                    };
                    reports[i].finished = Some(t0.elapsed());
                    if let Some((svc, _)) = providers[i].concurrency() {
                        *by_service.entry(svc).or_default() -= 1;
                    }
                    pending_ids.remove(&i);
                    let msg = match e.try_into_panic() {
                        Ok(p) => p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default(),
                        Err(e) => e.to_string(),
                    };
                    let msg = format!(
                        "the provider panicked: {msg}; left pending for the next run to settle"
                    );
                    fail(i, msg, &ops, &dependents, &mut reports, events.as_ref());
                    continue;
                }
            };
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
                            reports[i].deferred = r
                                .outputs
                                .get(crate::provider::DEFERRED_OUTPUT)
                                .filter(|v| {
                                    !v.is_null() && v.as_object().is_none_or(|m| !m.is_empty())
                                })
                                .map(value::redact);
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
                Err(Failure { error, left }) => {
                    let effect = match *left {
                        Left::Nothing => Some(OpEffect::Nothing),
                        Left::Unsettled => None,
                        Left::Gone => Some(OpEffect::Remove(step.urn.clone())),
                        Left::Exists { id, read } => Some(left_effect(
                            &ops[i],
                            step,
                            id,
                            read,
                            f.inputs,
                            &providers[i],
                            &live,
                        )),
                    };
                    // Unsettled: the pending row stays for the next run.
                    if let Some(effect) = effect {
                        if let Err(se) = store.end_op(pid, &effect) {
                            fatal.get_or_insert(se);
                        } else if let OpEffect::Upsert(r) | OpEffect::Replace(r) = &effect {
                            live.insert(r.urn.clone(), r.clone());
                        } else if let OpEffect::Remove(u) = &effect {
                            live.remove(u);
                        }
                    }
                    fail(
                        i,
                        error.to_string(),
                        &ops,
                        &dependents,
                        &mut reports,
                        events.as_ref(),
                    );
                }
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
    /// Ready to run once its pending row is committed.
    Ready(Box<Ready>),
    Nothing,
    Invalid(String),
}

/// A provider call whose pending row is still to be committed.
struct Ready {
    pending: PendingOp,
    /// `None`: retain_on_delete, nothing to call.
    call: Option<Call>,
    inputs: Value,
}

impl Ready {
    fn spawn(self, i: usize, running: &mut JoinSet<Finished>) -> tokio::task::Id {
        let inputs = self.inputs;
        running
            .spawn(async move {
                let (result, attempts) = match self.call {
                    Some(call) => call.run().await,
                    None => (Ok(Outcome::Deleted), 0),
                };
                Finished {
                    op: i,
                    result,
                    attempts,
                    inputs,
                }
            })
            .id()
    }
}

/// Resolves and checks an op's inputs and builds its call; the caller
/// commits the pending row, then spawns it.
#[allow(clippy::too_many_arguments)]
fn prepare_op(
    op: &Op,
    registry: &Registry,
    condemned: &HashMap<Urn, Vec<String>>,
    plan: &Plan,
    provider: &Arc<dyn Provider>,
    live: &HashMap<Urn, ResourceState>,
    opts: &ExecOptions,
    events: &Arc<dyn EventSink>,
    cancel: &Cancel,
) -> Started {
    let s = &plan.steps[op.step];
    let ctx = Ctx {
        lineage: plan.lineage.clone(),
        ..Ctx::new(plan.stack.clone(), s.urn.clone())
    };
    if op.kind == OpKind::Create && live.contains_key(&s.urn) {
        // Settled into state after the plan was made: creating it again
        // would orphan the object state has.
        return Started::Invalid(format!(
            "{} is already in state (an interrupted create was settled since the plan was made); run preview again",
            s.urn
        ));
    }
    let (id, old, new_inputs) = match op.kind {
        OpKind::Create | OpKind::CreateReplacement | OpKind::Update => {
            let decl = s
                .new
                .as_ref()
                .expect("create and update steps carry the declaration");
            let mut inputs = match resolve_live(&decl.inputs, live) {
                Ok(v) => v,
                Err(msg) => return Started::Invalid(msg),
            };
            let current = live.get(&s.urn);
            if let Some(o) = current.filter(|_| op.kind == OpKind::Update) {
                for path in &decl.options.ignore_changes {
                    value::set_path(&mut inputs, path, value::get_path(&o.inputs, path).cloned());
                }
                if provider.diff(&o.inputs, &inputs).is_empty() {
                    return Started::Nothing;
                }
            }
            if let Err(e) = provider.validate(&inputs) {
                return Started::Invalid(e.to_string());
            }
            match (op.kind, current) {
                (OpKind::Update, Some(o)) => (
                    o.id.clone(),
                    Some((o.inputs.clone(), o.outputs.clone())),
                    inputs,
                ),
                (OpKind::Update, None) => {
                    return Started::Invalid("resource is not in state".into())
                }
                _ => (String::new(), None, inputs),
            }
        }
        OpKind::Delete | OpKind::DeleteReplaced => {
            // The plan's old state is the state at apply time (serial checked);
            // `live` already holds the new half of a replacement.
            let Some(o) = s.old.as_ref() else {
                return Started::Nothing;
            };
            (
                o.id.clone(),
                Some((o.inputs.clone(), o.outputs.clone())),
                Value::Null,
            )
        }
    };
    let pending = pending(s, op.kind, &id, new_inputs.clone());
    // As in Pulumi, retain_on_delete also keeps the old half of a replacement.
    let retain = matches!(op.kind, OpKind::Delete | OpKind::DeleteReplaced)
        && s.old.as_ref().is_some_and(|o| o.options.retain_on_delete);
    if retain {
        // retain_on_delete: forget it, leave the real resource alone.
        return Started::Ready(Box::new(Ready {
            pending,
            call: None,
            inputs: Value::Null,
        }));
    }
    // Every id state tracks under this URN, old halves awaiting deletion
    // included: adopting one of those as the new object would point state
    // at something this very plan deletes.
    let tracked = live
        .get(&s.urn)
        .map(|r| r.id.clone())
        .into_iter()
        .chain(s.old.as_ref().map(|o| o.id.clone()))
        .chain(condemned.get(&s.urn).into_iter().flatten().cloned())
        .collect();
    let call = Call {
        provider: provider.clone(),
        ctx,
        kind: op.kind,
        id,
        old,
        new_inputs: new_inputs.clone(),
        tracked,
        lag: registry.lookup_lag(&s.type_name),
        policy: opts.retry,
        events: events.clone(),
        cancel: cancel.clone(),
    };
    Started::Ready(Box::new(Ready {
        pending,
        call: Some(call),
        inputs: new_inputs,
    }))
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
            tainted: false,
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

/// The state change of a failed op that left an object: recorded as read
/// (its live inputs, so the next plan finishes the job), or tainted when it
/// could not be read (the next plan replaces it).
fn left_effect(
    op: &Op,
    s: &Step,
    id: String,
    read: Option<ReadResult>,
    inputs: Value,
    provider: &Arc<dyn Provider>,
    live: &HashMap<Urn, ResourceState>,
) -> OpEffect {
    let tainted = read.is_none();
    let (inputs, outputs) = match read {
        Some(r) => (r.inputs, r.outputs),
        None => (inputs, serde_json::json!({ "id": id })),
    };
    let outcome = match op.kind {
        OpKind::Update => Outcome::Updated(outputs),
        _ => Outcome::Created(Created { id, outputs }),
    };
    match effect_of(op, s, outcome, inputs, provider, live) {
        OpEffect::Upsert(mut r) => {
            r.tainted = tainted;
            OpEffect::Upsert(r)
        }
        OpEffect::Replace(mut r) => {
            r.tainted = tainted;
            OpEffect::Replace(r)
        }
        other => other,
    }
}
