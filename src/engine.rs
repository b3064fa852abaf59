//! The embedded API: `preview`, `up`, `apply`, `destroy` on a declared stack.
//! A Rust program calls these in-process and gets typed results; the CLI is a
//! thin layer over them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::adopt::{self, Lookup};
use crate::drift::{self, LiveRow, Refreshed};
use crate::exec::{self, ApplyReport, Cancel, Event, EventSink, ExecError, ExecOptions, NoEvents};
use crate::model::{Stack, Urn};
use crate::plan::{self, Plan, PlanError, PlanOptions, StateView};
use crate::provider::{Created, Ctx, ProviderError, ReadResult, Registry};
use crate::retry::RetryPolicy;
use crate::state::{
    self, HistoryEntry, LockInfo, OpEffect, OpKind, PendingOp, ResourceState, StateError,
    StateStore,
};
use crate::value::{self, Resolved};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("the plan was made for stack {plan}, not {stack}")]
    WrongStack { plan: String, stack: String },
    #[error("state changed since the plan was made (plan serial {plan}, state serial {state}); run preview again")]
    StalePlan { plan: u64, state: u64 },
    #[error("plan file version {0} is not supported")]
    PlanVersion(u32),
    #[error("plan file: {0}")]
    PlanFile(String),
    #[error("pending {kind} of {urn} cannot be resolved: {error}")]
    Pending {
        urn: Urn,
        kind: &'static str,
        error: String,
    },
    #[error("the plan was made against another state of stack {stack} (lineage {plan}, this state is {state}); run preview against this state")]
    WrongLineage {
        stack: String,
        plan: String,
        state: String,
    },
    #[error(
        "the plan no longer matches the interrupted operations it saw: {0}; run preview again"
    )]
    PendingChanged(String),
    #[error("lookup {urn}: {error}")]
    Lookup { urn: Urn, error: String },
    #[error("reading {type_name} ({count} in state): {error}")]
    Read {
        type_name: String,
        count: usize,
        error: String,
    },
    #[error("listing objects tagged morket:stack={stack}: {error}")]
    Inventory { stack: String, error: String },
    #[error("import {urn}: {reason}")]
    Import { urn: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub parallel: usize,
    pub retry: RetryPolicy,
    /// How long a mutating command waits for the lock; zero fails at once.
    pub lock_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            parallel: 10,
            retry: RetryPolicy::default(),
            lock_timeout: Duration::ZERO,
        }
    }
}

pub struct Engine {
    store: Box<dyn StateStore>,
    registry: Registry,
    events: Arc<dyn EventSink>,
    pub options: EngineOptions,
    /// The lock this engine holds across calls (see [`Engine::lock`]).
    held: Option<LockInfo>,
    /// When this process first looked up each pending create: the lookup
    /// lag runs from there (see `resolve_pending`).
    first_looked: std::sync::Mutex<HashMap<i64, std::time::SystemTime>>,
}

/// How an interrupted operation was settled.
struct Resolution {
    pending_id: i64,
    effect: OpEffect,
    urn: Urn,
    kind: OpKind,
    outcome: String,
}

impl Engine {
    pub fn new(store: Box<dyn StateStore>, registry: Registry) -> Self {
        Engine {
            store,
            registry,
            events: Arc::new(NoEvents),
            options: EngineOptions::default(),
            held: None,
            first_looked: Default::default(),
        }
    }

    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    pub fn with_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    pub fn store(&self) -> &dyn StateStore {
        self.store.as_ref()
    }

    pub fn store_mut(&mut self) -> &mut dyn StateStore {
        self.store.as_mut()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The plan as JSON with every secret sealed with the state's key, for
    /// `preview --out`.
    pub fn seal_plan(&self, plan: &Plan) -> Result<serde_json::Value, EngineError> {
        let c = self
            .store
            .crypter()
            .ok_or(StateError::Secrets(crate::secrets::SecretsError::NoKey))?;
        let v = serde_json::to_value(plan).map_err(|e| EngineError::PlanFile(e.to_string()))?;
        Ok(c.seal(&v))
    }

    /// Reads a plan saved by [`Engine::seal_plan`].
    pub fn unseal_plan(&self, v: &serde_json::Value) -> Result<Plan, EngineError> {
        let c = self
            .store
            .crypter()
            .ok_or(StateError::Secrets(crate::secrets::SecretsError::NoKey))?;
        let plain = c.unseal(v).map_err(StateError::from)?;
        serde_json::from_value(plain).map_err(|e| EngineError::PlanFile(e.to_string()))
    }

    pub fn state_view(&self) -> Result<StateView, StateError> {
        let v = self.store.view()?;
        Ok(StateView {
            serial: v.serial,
            lineage: self.store.lineage()?,
            resources: v.resources,
            condemned: v.condemned,
            pending: v.pending,
            looked_up: HashMap::new(),
        })
    }

    /// Plans without changing anything. Pending operations of an interrupted
    /// run are looked up (read-only) and planned as `up` will settle them.
    pub async fn preview(
        &mut self,
        stack: &Stack,
        opts: &PlanOptions,
    ) -> Result<Plan, EngineError> {
        let mut view = self.state_view()?;
        let resolutions = self.resolve_pending(&view.pending, stack).await?;
        let pending = view.pending.clone();
        apply_in_memory(&mut view, &resolutions);
        // Terraform's plan: read what is live first, record nothing yet.
        let refreshed = if opts.refresh && !opts.destroy {
            let rows = self.read_live(&view.resources).await?;
            let r = drift::refresh(&rows, &view.pending, &|t| self.secret_outputs(t));
            drift::apply_refresh(&mut view.resources, &r);
            r
        } else {
            Vec::new()
        };
        view.looked_up = self.read_lookups(stack, &view, opts).await?;
        let mut plan = plan::plan(stack, &view, &self.registry, opts)?;
        plan.refreshed = refreshed;
        plan.pending = pending;
        plan.settled = resolutions
            .iter()
            .map(|r| plan::Settled {
                pending_id: r.pending_id,
                outcome: fingerprint(&r.effect),
            })
            .collect();
        Ok(plan)
    }

    /// Preview then apply, under one lock.
    pub async fn up(
        &mut self,
        stack: &Stack,
        opts: &PlanOptions,
        cancel: &Cancel,
    ) -> Result<(Plan, ApplyReport), EngineError> {
        let op = if opts.destroy { "destroy" } else { "up" };
        let lock = self.lock_if_needed(op).await?;
        let result = async {
            let serial_before = self.store.serial()?;
            let pending = self.store.pending()?;
            let resolutions = self.resolve_pending(&pending, stack).await?;
            self.settle(resolutions)?;
            if opts.refresh && !opts.destroy {
                let rows = self.read_live(&self.store.resources()?).await?;
                let pending = self.store.pending()?;
                let refreshed = drift::refresh(&rows, &pending, &|t| self.secret_outputs(t));
                self.record_refreshed(&refreshed)?;
            }
            let mut view = self.state_view()?;
            view.looked_up = self.read_lookups(stack, &view, opts).await?;
            let plan = plan::plan(stack, &view, &self.registry, opts)?;
            let report = self.execute(&plan, cancel, op, serial_before).await?;
            Ok((plan, report))
        }
        .await;
        self.unlock_after(lock, result)
    }

    /// Releases a lock taken for one call; an unlock error never hides the
    /// call's own error.
    fn unlock_after<T>(
        &mut self,
        lock: Option<LockInfo>,
        result: Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let Some(lock) = lock else { return result };
        let unlocked = self.unlock(&lock);
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// Applies a plan made by `preview` (in this process or loaded from a
    /// file). Refused when state changed since the plan was made.
    pub async fn apply(
        &mut self,
        stack: &Stack,
        plan: &Plan,
        cancel: &Cancel,
    ) -> Result<ApplyReport, EngineError> {
        if plan.version != plan::PLAN_VERSION {
            return Err(EngineError::PlanVersion(plan.version));
        }
        if plan.stack != stack.name() {
            return Err(EngineError::WrongStack {
                plan: plan.stack.clone(),
                stack: stack.name().to_string(),
            });
        }
        let op = if plan.destroy { "destroy" } else { "up" };
        let lock = self.lock_if_needed(op).await?;
        let result = async {
            let lineage = self.store.lineage()?;
            if plan.lineage != lineage {
                return Err(EngineError::WrongLineage {
                    stack: plan.stack.clone(),
                    plan: plan.lineage.clone(),
                    state: lineage,
                });
            }
            let serial = self.store.serial()?;
            if serial != plan.serial {
                return Err(EngineError::StalePlan {
                    plan: plan.serial,
                    state: serial,
                });
            }
            let pending = self.store.pending()?;
            let seen: Vec<i64> = plan.pending.iter().map(|p| p.id).collect();
            let now: Vec<i64> = pending.iter().map(|p| p.id).collect();
            if seen != now {
                return Err(EngineError::PendingChanged(format!(
                    "the plan saw pending operations {seen:?}, state has {now:?}"
                )));
            }
            // Settle again, for real, and only if the answer is the one the
            // plan was made with (lookups are eventually consistent).
            let resolutions = self.resolve_pending(&pending, stack).await?;
            for r in &resolutions {
                let now = fingerprint(&r.effect);
                let then = plan
                    .settled
                    .iter()
                    .find(|s| s.pending_id == r.pending_id)
                    .map(|s| s.outcome.as_str());
                if then != Some(now.as_str()) {
                    return Err(EngineError::PendingChanged(format!(
                        "the pending {} of {} settles as {now} now, the plan assumed {}",
                        r.kind.as_str(),
                        r.urn,
                        then.unwrap_or("nothing")
                    )));
                }
            }
            self.settle(resolutions)?;
            let serial = self.store.serial()?;
            // What preview read live is recorded as preview showed it.
            self.record_refreshed(&plan.refreshed)?;
            self.execute(plan, cancel, op, serial).await
        }
        .await;
        self.unlock_after(lock, result)
    }

    /// Deletes every resource of the stack.
    pub async fn destroy(
        &mut self,
        stack: &Stack,
        cancel: &Cancel,
    ) -> Result<(Plan, ApplyReport), EngineError> {
        let opts = PlanOptions {
            destroy: true,
            ..Default::default()
        };
        self.up(stack, &opts, cancel).await
    }

    async fn execute(
        &mut self,
        plan: &Plan,
        cancel: &Cancel,
        op: &str,
        serial_before: u64,
    ) -> Result<ApplyReport, EngineError> {
        let started = now();
        let t0 = Instant::now();
        let exec_opts = ExecOptions {
            parallel: self.options.parallel,
            retry: self.options.retry,
        };
        let result = exec::execute(
            plan,
            self.store.as_mut(),
            &self.registry,
            &exec_opts,
            cancel,
            self.events.clone(),
        )
        .await;
        let (label, summary) = match &result {
            Ok(r) => {
                let t = r.tally();
                let label = if r.cancelled {
                    "cancelled"
                } else if r.is_success() {
                    "ok"
                } else {
                    "failed"
                };
                (
                    label,
                    json!({"done": t.done, "failed": t.failed, "skipped": t.skipped,
                    "not_started": t.not_started, "counts": plan.counts(),
                    "elapsed_ms": t0.elapsed().as_millis() as u64}),
                )
            }
            Err(e) => ("failed", json!({"error": e.to_string()})),
        };
        let entry = HistoryEntry {
            id: 0,
            operation: op.to_string(),
            started_at: started,
            finished_at: now(),
            result: label.to_string(),
            who: state::lock::new_lock_info(op).who,
            summary,
            serial_before,
            serial_after: self.store.serial().unwrap_or(serial_before),
        };
        self.store.append_history(&entry)?;
        Ok(result?)
    }

    /// Locks for one call unless the caller already holds the lock through
    /// [`Engine::lock`] (as the CLI does across preview, prompt and apply).
    async fn lock_if_needed(&mut self, op: &str) -> Result<Option<LockInfo>, EngineError> {
        if self.held.is_some() {
            return Ok(None);
        }
        Ok(Some(self.lock(op).await?))
    }

    /// Takes the state lock, waiting up to `lock_timeout`; held until
    /// [`Engine::unlock`]. Every pending-operation write made while it is
    /// held checks that it still is (a forced release stops the run). A lock
    /// whose holder is certainly dead (same host, boot and pid namespace, and
    /// its process gone) is released with a warning event; any other is
    /// reported, never released.
    pub async fn lock(&mut self, operation: &str) -> Result<LockInfo, EngineError> {
        let info = state::lock::new_lock_info(operation);
        let deadline = Instant::now() + self.options.lock_timeout;
        let mut announced = false;
        loop {
            let waiting = Instant::now() < deadline;
            match self.store.try_lock(&info) {
                Ok(()) => {
                    self.held = Some(info.clone());
                    self.store.set_fence(Some(info.id.clone()));
                    return Ok(info);
                }
                Err(StateError::Locked(held)) if held.stale => {
                    self.events.event(&Event::StaleLockReleased {
                        holder: held.to_string(),
                    });
                    match self.store.unlock(&held.holder.id) {
                        // Another waiter released it first: race for it again.
                        Ok(()) | Err(StateError::LockMismatch(..)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(StateError::Locked(held)) if waiting => {
                    if !announced {
                        self.events.event(&Event::WaitingForLock {
                            holder: held.to_string(),
                        });
                        announced = true;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                // SQLITE_BUSY past busy_timeout: still waiting for the lock.
                Err(StateError::Db(_)) if waiting => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn unlock(&mut self, lock: &LockInfo) -> Result<(), EngineError> {
        if self.held.as_ref().is_some_and(|h| h.id == lock.id) {
            self.held = None;
            self.store.set_fence(None);
        }
        Ok(self.store.unlock(&lock.id)?)
    }

    /// The outputs of `type_name` that are secrets.
    fn secret_outputs(&self, type_name: &str) -> Vec<&'static str> {
        self.registry
            .get(type_name)
            .map(|p| p.secret_outputs().to_vec())
            .unwrap_or_default()
    }

    /// Reads every row live, read-only: type by type through the provider's
    /// `read_many` (one describe per page where the API allows), up to
    /// `parallel` types at once. Lookups are left out (`read_lookups`).
    pub async fn read_live(&self, rows: &[ResourceState]) -> Result<Vec<LiveRow>, EngineError> {
        let lineage = self.store.lineage()?;
        let stack = self.store.stack().to_string();
        let mut by_type: std::collections::BTreeMap<&str, Vec<&ResourceState>> = Default::default();
        for r in rows {
            let p = self
                .registry
                .get(&r.type_name)
                .ok_or_else(|| EngineError::Read {
                    type_name: r.type_name.clone(),
                    count: 1,
                    error: "no provider for this type in the stack's program".into(),
                })?;
            if !p.is_lookup() {
                by_type.entry(r.type_name.as_str()).or_default().push(r);
            }
        }
        let permits = Arc::new(tokio::sync::Semaphore::new(self.options.parallel.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (type_name, group) in by_type {
            let provider = self.registry.get(type_name).expect("checked above").clone();
            let items: Vec<crate::provider::ReadItem> = group
                .iter()
                .map(|r| crate::provider::ReadItem {
                    ctx: Ctx {
                        lineage: lineage.clone(),
                        ..Ctx::new(stack.clone(), r.urn.clone())
                    },
                    id: r.id.clone(),
                    inputs: r.inputs.clone(),
                    outputs: r.outputs.clone(),
                })
                .collect();
            let recorded: Vec<ResourceState> = group.into_iter().cloned().collect();
            let permits = permits.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let read = provider.read_many(&items).await;
                (recorded, read)
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        while let Some(joined) = tasks.join_next().await {
            let (recorded, read) = joined.map_err(|e| EngineError::Read {
                type_name: "?".into(),
                count: 0,
                error: e.to_string(),
            })?;
            let lives = read.map_err(|e| EngineError::Read {
                type_name: recorded[0].type_name.clone(),
                count: recorded.len(),
                error: e.to_string(),
            })?;
            out.extend(
                recorded
                    .into_iter()
                    .zip(lives)
                    .map(|(recorded, live)| LiveRow { recorded, live }),
            );
        }
        out.sort_by(|a, b| a.recorded.urn.cmp(&b.recorded.urn));
        Ok(out)
    }

    /// Drift: every resource in state read live and compared with what state
    /// recorded, and the objects tagged with the stack that state does not
    /// know. Reads only: no lock, no write, no mutating call (the store may
    /// be opened read only).
    pub async fn drift(&self) -> Result<drift::Report, EngineError> {
        Ok(self.observe().await?.0)
    }

    /// One read of everything live: the drift report and the rows it read.
    /// State is read again after the live reads: an operation that started
    /// or finished meanwhile (an `up` running beside) makes its rows pending,
    /// not drift.
    async fn observe(&self) -> Result<(drift::Report, Vec<LiveRow>, Vec<PendingOp>), EngineError> {
        let view = self.store.view()?;
        let mut rows = self.read_live(&view.resources).await?;
        let stack = self.store.stack().to_string();
        let mut tagged = Vec::new();
        if view
            .resources
            .iter()
            .chain(&view.condemned)
            .any(|r| r.type_name.starts_with("aws:"))
        {
            for inv in self.registry.inventories() {
                tagged.extend(
                    inv.tagged(&stack)
                        .await
                        .map_err(|e| EngineError::Inventory {
                            stack: stack.clone(),
                            error: e.to_string(),
                        })?,
                );
            }
        }
        let after = self.store.view()?;
        let mut pending = view.pending.clone();
        if after.serial != view.serial {
            pending.extend(after.pending.iter().cloned());
            pending.sort_by_key(|p| p.id);
            pending.dedup_by_key(|p| p.id);
            let now: HashMap<&Urn, &ResourceState> =
                after.resources.iter().map(|r| (&r.urn, r)).collect();
            rows.retain(|r| now.get(&r.recorded.urn) == Some(&&r.recorded));
        }
        let known: Vec<ResourceState> = view
            .resources
            .iter()
            .chain(&view.condemned)
            .chain(&after.resources)
            .chain(&after.condemned)
            .cloned()
            .collect();
        let report = drift::report(&stack, now(), view.serial, &rows, &known, &tagged, &pending);
        Ok((report, rows, pending))
    }

    /// `refresh`, first half: the drift report and what recording the live
    /// values would change, from one read. Reads only.
    pub async fn refresh_read(&self) -> Result<(drift::Report, Vec<Refreshed>, u64), EngineError> {
        let (report, rows, pending) = self.observe().await?;
        let refreshed = drift::refresh(&rows, &pending, &|t| self.secret_outputs(t));
        let serial = report.serial;
        Ok((report, refreshed, serial))
    }

    /// `refresh`, second half: records `refreshed` under the lock, refused if
    /// state moved since it was read at `serial`.
    pub async fn refresh_write(
        &mut self,
        serial: u64,
        refreshed: &[Refreshed],
    ) -> Result<(), EngineError> {
        let lock = self.lock_if_needed("refresh").await?;
        let result = (|| {
            let now_serial = self.store.serial()?;
            if now_serial != serial {
                return Err(EngineError::StalePlan {
                    plan: serial,
                    state: now_serial,
                });
            }
            let started = now();
            self.record_refreshed(refreshed)?;
            self.store.append_history(&HistoryEntry {
                id: 0,
                operation: "refresh".into(),
                started_at: started,
                finished_at: now(),
                result: "ok".into(),
                who: state::lock::new_lock_info("refresh").who,
                summary: json!({"recorded": refreshed.len()}),
                serial_before: serial,
                serial_after: self.store.serial()?,
            })?;
            Ok(())
        })();
        self.unlock_after(lock, result)
    }

    /// Records refreshed rows (under the lock), each through a pending row
    /// like any other change of state.
    fn record_refreshed(&mut self, refreshed: &[Refreshed]) -> Result<(), EngineError> {
        for r in refreshed {
            let (row, effect) = match r {
                Refreshed::Changed { row, .. } => {
                    ((**row).clone(), OpEffect::Upsert((**row).clone()))
                }
                Refreshed::Gone { urn, .. } => match self.store.resource(urn)? {
                    Some(row) => (row, OpEffect::Remove(urn.clone())),
                    None => continue,
                },
            };
            let pid = self.store.begin_op(&PendingOp {
                id: 0,
                urn: row.urn.clone(),
                kind: OpKind::Update,
                type_name: row.type_name.clone(),
                resource_id: row.id.clone(),
                inputs: row.inputs.clone(),
                started_at: now(),
            })?;
            self.store.end_op(pid, &effect)?;
            self.events.event(&Event::PendingResolved {
                urn: row.urn.clone(),
                kind: OpKind::Update,
                outcome: match r {
                    Refreshed::Changed { .. } => "recorded as it is live (refresh)".into(),
                    Refreshed::Gone { .. } => {
                        "deleted outside morket-stack: forgotten (refresh)".into()
                    }
                },
            });
        }
        Ok(())
    }

    /// Adopts the existing object `id` into state as the declared `urn`
    /// (Terraform's `import`): the type must be declared there, the object
    /// must exist, and state must not track it already. Recorded as it is
    /// live; the next preview shows how it differs from the declaration.
    pub async fn import(
        &mut self,
        stack: &Stack,
        urn: &Urn,
        id: &str,
    ) -> Result<ResourceState, EngineError> {
        let fail = |reason: String| EngineError::Import {
            urn: urn.to_string(),
            reason,
        };
        let decl = stack.get(urn).ok_or_else(|| {
            fail(format!(
                "not declared in stack {}; import adopts an object under a URN the program declares (see `morket-stack graph {}`)",
                stack.name(),
                stack.name()
            ))
        })?;
        let provider = self
            .registry
            .get(&decl.type_name)
            .ok_or_else(|| fail(format!("no provider for type {}", decl.type_name)))?
            .clone();
        if provider.is_lookup() {
            return Err(fail(format!(
                "{} is a lookup: it is read, not imported",
                decl.type_name
            )));
        }
        if id.trim().is_empty() || id.trim() != id {
            return Err(fail(format!(
                "id {id:?} is empty or has surrounding spaces"
            )));
        }
        let lock = self.lock_if_needed("import").await?;
        let result = async {
            if let Some(r) = self.store.resource(urn)? {
                return Err(fail(format!(
                    "already in state as {}; `morket-stack state rm` it first to import another object",
                    r.id
                )));
            }
            if let Some(p) = self.store.pending()?.into_iter().find(|p| &p.urn == urn) {
                return Err(fail(format!(
                    "an interrupted {} of it is pending; run `morket-stack up` to settle it first",
                    p.kind.as_str()
                )));
            }
            if let Some(r) = self
                .store
                .resources()?
                .into_iter()
                .find(|r| r.id == id && r.type_name == decl.type_name)
            {
                return Err(fail(format!("{id} is already managed as {}", r.urn)));
            }
            // The declaration normalises the read where it is known now.
            let rows: HashMap<Urn, ResourceState> = self
                .store
                .resources()?
                .into_iter()
                .map(|r| (r.urn.clone(), r))
                .collect();
            let declared = value::resolve(&decl.inputs, &mut |u, a| {
                match Urn::parse(u).ok().and_then(|u| rows.get(&u)) {
                    Some(r) => Resolved::Known(plan::state_attr(r, a)),
                    None => Resolved::Unknown,
                }
            });
            let declared = if value::contains_unknown(&declared) {
                serde_json::Value::Null
            } else {
                declared
            };
            let ctx = Ctx {
                lineage: self.store.lineage()?,
                ..Ctx::new(stack.name(), urn.clone())
            };
            let live = provider
                .read(&ctx, id, &declared, &serde_json::Value::Null)
                .await
                .map_err(|e| fail(format!("reading {} {id}: {e}", decl.type_name)))?
                .ok_or_else(|| fail(format!("no {} with id {id} exists", decl.type_name)))?;
            let mut outputs = live.outputs;
            value::mark_secret_fields(&mut outputs, provider.secret_outputs());
            let row = ResourceState {
                urn: urn.clone(),
                type_name: decl.type_name.clone(),
                id: id.to_string(),
                inputs: live.inputs,
                outputs,
                dependencies: decl.dependencies(),
                parent: decl.parent.clone(),
                options: decl.options.clone(),
                tainted: false,
            };
            let pid = self.store.begin_op(&PendingOp {
                id: 0,
                urn: urn.clone(),
                kind: OpKind::Update,
                type_name: row.type_name.clone(),
                resource_id: id.to_string(),
                inputs: row.inputs.clone(),
                started_at: now(),
            })?;
            let serial_before = self.store.serial()?;
            self.store.end_op(pid, &OpEffect::Upsert(row.clone()))?;
            self.store.append_history(&HistoryEntry {
                id: 0,
                operation: "import".into(),
                started_at: now(),
                finished_at: now(),
                result: "ok".into(),
                who: state::lock::new_lock_info("import").who,
                summary: json!({"urn": urn, "id": id}),
                serial_before,
                serial_after: self.store.serial()?,
            })?;
            Ok(row)
        }
        .await;
        self.unlock_after(lock, result)
    }

    /// Writes the settlement of pending operations (under the lock).
    fn settle(&mut self, resolutions: Vec<Resolution>) -> Result<(), EngineError> {
        for r in resolutions {
            self.store.end_op(r.pending_id, &r.effect)?;
            self.events.event(&Event::PendingResolved {
                urn: r.urn,
                kind: r.kind,
                outcome: r.outcome,
            });
        }
        Ok(())
    }

    /// Decides, through the providers, what each interrupted operation did,
    /// reading only. A create that happened is adopted as it is live (found
    /// by its URN, then read: an interrupted multi-call create is recorded
    /// half-done and the next plan finishes it); an update is recorded as it
    /// is live; a delete that happened is recorded. An empty lookup counts
    /// only once the provider's lookup lag has passed since the call began.
    /// Reads the stack's lookups that need it, before planning (the plan
    /// itself does no IO): a lookup with no recorded answer, whose inputs
    /// changed, or every one under `refresh`. Its inputs must be known now
    /// (other lookups' answers); one that waits on a resource's change is
    /// read at apply. Without credentials a lookup stays unread and the
    /// plan shows it as known after apply. A no-op preview calls nothing.
    async fn read_lookups(
        &self,
        stack: &Stack,
        view: &StateView,
        opts: &PlanOptions,
    ) -> Result<HashMap<Urn, Created>, EngineError> {
        let mut read: HashMap<Urn, Created> = HashMap::new();
        if opts.destroy {
            return Ok(read);
        }
        let is_lookup = |t: &str| self.registry.get(t).is_some_and(|p| p.is_lookup());
        let rows: HashMap<&Urn, &ResourceState> =
            view.resources.iter().map(|r| (&r.urn, r)).collect();
        // Declaration order: a lookup's inputs can only name lookups
        // declared before it.
        for d in stack.resources() {
            let Some(provider) = self.registry.get(&d.type_name).filter(|p| p.is_lookup()) else {
                continue;
            };
            let inputs = value::resolve(&d.inputs, &mut |u, a| {
                let Ok(u) = Urn::parse(u) else {
                    return Resolved::Unknown;
                };
                if let Some(c) = read.get(&u) {
                    return Resolved::Known(c.attr(a));
                }
                match rows.get(&u) {
                    Some(r) if is_lookup(&r.type_name) => Resolved::Known(plan::state_attr(r, a)),
                    _ => Resolved::Unknown,
                }
            });
            // Bad inputs are the plan's to report, with every other error.
            if value::contains_unknown(&inputs) || provider.validate(&inputs).is_err() {
                continue;
            }
            let recorded = rows.get(&d.urn).is_some_and(|o| {
                plan::lookup_recorded(provider.as_ref(), o, &d.type_name, &inputs)
            });
            if recorded && !opts.refresh {
                continue;
            }
            let ctx = Ctx {
                lineage: view.lineage.clone(),
                ..Ctx::new(stack.name(), d.urn.clone())
            };
            match provider.create(&ctx, &inputs).await {
                Ok(mut c) => {
                    value::mark_secret_fields(&mut c.outputs, provider.secret_outputs());
                    read.insert(d.urn.clone(), c);
                }
                Err(ProviderError::NoCredentials(_)) => continue,
                Err(e) => {
                    return Err(EngineError::Lookup {
                        urn: d.urn.clone(),
                        error: e.to_string(),
                    })
                }
            }
        }
        Ok(read)
    }

    async fn resolve_pending(
        &self,
        pending: &[PendingOp],
        stack: &Stack,
    ) -> Result<Vec<Resolution>, EngineError> {
        let lineage = self.store.lineage()?;
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let provider = self
                .registry
                .get(&p.type_name)
                .ok_or_else(|| EngineError::Pending {
                    urn: p.urn.clone(),
                    kind: p.kind.as_str(),
                    error: format!("no provider for type {}", p.type_name),
                })?;
            let ctx = Ctx {
                lineage: lineage.clone(),
                ..Ctx::new(stack.name(), p.urn.clone())
            };
            let err = |e: crate::provider::ProviderError| EngineError::Pending {
                urn: p.urn.clone(),
                kind: p.kind.as_str(),
                error: e.to_string(),
            };
            // A lookup's interrupted read left nothing in the cloud.
            if provider.is_lookup() {
                out.push(Resolution {
                    pending_id: p.id,
                    effect: OpEffect::Nothing,
                    urn: p.urn.clone(),
                    kind: p.kind,
                    outcome: "a lookup changes nothing; it is read again".into(),
                });
                continue;
            }
            let current = self.store.resource(&p.urn)?;
            let decl = stack.get(&p.urn);
            let record = |id: String, read: Option<ReadResult>| {
                let tainted = read.is_none();
                let (inputs, mut outputs) = match read {
                    Some(r) => (r.inputs, r.outputs),
                    None => (p.inputs.clone(), json!({ "id": id })),
                };
                crate::value::mark_secret_fields(&mut outputs, provider.secret_outputs());
                ResourceState {
                    urn: p.urn.clone(),
                    type_name: p.type_name.clone(),
                    id,
                    inputs,
                    outputs,
                    dependencies: decl.map(|d| d.dependencies()).unwrap_or_default(),
                    parent: decl.map(|d| d.parent.clone()).unwrap_or_default(),
                    options: decl.map(|d| d.options.clone()).unwrap_or_default(),
                    tainted,
                }
            };
            let (effect, outcome) = match p.kind {
                OpKind::Create | OpKind::CreateReplacement => {
                    // Never adopt an id state already tracks: the old half
                    // of a replacement carries the same URN tag.
                    let tracked: Vec<String> = current
                        .iter()
                        .cloned()
                        .chain(
                            self.store
                                .condemned()?
                                .into_iter()
                                .filter(|c| c.urn == p.urn),
                        )
                        .map(|r| r.id)
                        .collect();
                    // When the killed run last sent the create is unknown (a
                    // retry may have followed the row's start by minutes), so
                    // the lag runs from this process's first lookup: an
                    // absent object is proven absent only a full lag later.
                    let began = *self
                        .first_looked
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(p.id)
                        .or_insert_with(std::time::SystemTime::now);
                    let found = adopt::look_up_settled(
                        provider.as_ref(),
                        &ctx,
                        &p.inputs,
                        &tracked,
                        began,
                        self.registry.lookup_lag(&p.type_name),
                        None,
                        &self.events,
                    )
                    .await
                    .map_err(err)?
                    .unwrap_or(Lookup::Absent);
                    match found {
                        Lookup::Found(found) => {
                            let read = adopt::read_back(
                                provider.as_ref(),
                                &ctx,
                                &found.id,
                                &p.inputs,
                                &found.outputs,
                            )
                            .await;
                            let outcome = match &read {
                                Some(_) => format!("adopted {} found by its URN, as it is live", found.id),
                                None => format!(
                                    "adopted {} found by its URN; it could not be read, so it is tainted and will be replaced",
                                    found.id
                                ),
                            };
                            let r = record(found.id, read);
                            if p.kind == OpKind::CreateReplacement && current.is_some() {
                                (OpEffect::Replace(r), outcome)
                            } else {
                                (OpEffect::Upsert(r), outcome)
                            }
                        }
                        Lookup::Absent => (
                            OpEffect::Nothing,
                            "not created; will be retried".to_string(),
                        ),
                        Lookup::Ambiguous(ids) => {
                            return Err(err(Lookup::ambiguity(&ctx, &ids)));
                        }
                    }
                }
                OpKind::Update => match current.filter(|c| c.id == p.resource_id) {
                    // Part of the update may have happened: what is live is
                    // recorded, so the next plan converges on the declaration
                    // even if it was reverted meanwhile.
                    Some(c) => match provider
                        .read(&ctx, &c.id, &c.inputs, &c.outputs)
                        .await
                        .map_err(err)?
                    {
                        Some(live) => {
                            let mut outputs = live.outputs;
                            crate::value::mark_secret_fields(
                                &mut outputs,
                                provider.secret_outputs(),
                            );
                            let r = ResourceState {
                                inputs: live.inputs,
                                outputs,
                                ..c
                            };
                            (OpEffect::Upsert(r), "recorded as it is live".into())
                        }
                        None => (
                            OpEffect::Remove(p.urn.clone()),
                            "gone; will be created again".into(),
                        ),
                    },
                    None => (OpEffect::Nothing, "nothing to record".into()),
                },
                OpKind::Delete | OpKind::DeleteReplaced => {
                    let old = self
                        .store
                        .resources()?
                        .into_iter()
                        .chain(self.store.condemned()?)
                        .find(|r| r.urn == p.urn && r.id == p.resource_id);
                    let gone = match &old {
                        Some(o) => provider
                            .read(&ctx, &o.id, &o.inputs, &o.outputs)
                            .await
                            .map_err(err)?
                            .is_none(),
                        None => true,
                    };
                    let effect = match (gone, current) {
                        (false, _) => OpEffect::Nothing,
                        (true, Some(c)) if c.id == p.resource_id => OpEffect::Remove(p.urn.clone()),
                        (true, _) => OpEffect::RemoveCondemned {
                            urn: p.urn.clone(),
                            id: p.resource_id.clone(),
                        },
                    };
                    let outcome = if gone {
                        "deleted"
                    } else {
                        "still exists; will be retried"
                    };
                    (effect, outcome.to_string())
                }
            };
            out.push(Resolution {
                pending_id: p.id,
                effect,
                urn: p.urn.clone(),
                kind: p.kind,
                outcome,
            });
        }
        Ok(out)
    }
}

/// A short, comparable account of what settling does: ids and a digest of
/// the recorded inputs (no plaintext, as plan files carry it). Outputs are
/// left out: status-like attributes move between preview and apply.
fn fingerprint(e: &OpEffect) -> String {
    let digest = |r: &ResourceState| {
        use sha2::Digest;
        let body = serde_json::to_vec(&(&r.inputs, r.tainted)).unwrap_or_default();
        hex::encode(&sha2::Sha256::digest(body)[..8])
    };
    match e {
        OpEffect::Nothing => "nothing".into(),
        OpEffect::Upsert(r) => format!("record {} ({})", r.id, digest(r)),
        OpEffect::Replace(r) => format!("record {} as the replacement ({})", r.id, digest(r)),
        OpEffect::Remove(u) => format!("remove {u}"),
        OpEffect::RemoveCondemned { id, .. } => format!("remove old {id}"),
        OpEffect::Rename { from, to } => format!("rename {from} to {}", to.urn),
    }
}

/// What settling would do, applied to an in-memory view (for preview).
fn apply_in_memory(view: &mut StateView, resolutions: &[Resolution]) {
    let mut by_urn: HashMap<Urn, ResourceState> = view
        .resources
        .drain(..)
        .map(|r| (r.urn.clone(), r))
        .collect();
    for r in resolutions {
        match &r.effect {
            OpEffect::Nothing => {}
            OpEffect::Upsert(s) => {
                by_urn.insert(s.urn.clone(), s.clone());
            }
            OpEffect::Replace(s) => {
                if let Some(old) = by_urn.insert(s.urn.clone(), s.clone()) {
                    view.condemned.push(old);
                }
            }
            OpEffect::Remove(u) => {
                by_urn.remove(u);
            }
            OpEffect::RemoveCondemned { urn, id } => {
                view.condemned.retain(|c| !(&c.urn == urn && &c.id == id))
            }
            OpEffect::Rename { from, to } => {
                by_urn.remove(from);
                by_urn.insert(to.urn.clone(), to.clone());
            }
        }
    }
    view.resources = by_urn.into_values().collect();
    view.resources.sort_by(|a, b| a.urn.cmp(&b.urn));
    view.pending
        .retain(|p| !resolutions.iter().any(|r| r.pending_id == p.id));
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
