//! A fake cloud provider for tests and benchmarks (feature `test-provider`).
//!
//! [`TestProvider`] manages `test:index/Thing` resources in a [`TestCloud`]:
//! random ids, `morket:urn` / `morket:stack` tags (adoption looks them up, as
//! it will on AWS), configurable latency and injected failures. The cloud logs
//! every call with start and end times so tests can assert ordering and
//! parallelism, and can persist to a directory so that two processes (a killed
//! `up` and the next one) share it.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
pub use tokio::time::Instant;

use super::{parse, Created, Ctx, Provider, ProviderError, ReadResult};
use crate::model::{Input, Output, Resource, ResourceArgs, Urn};
use crate::value;

/// Inputs of a `test:index/Thing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestArgs {
    /// Updatable in place; echoed as the `value` output.
    pub value: Input<String>,
    /// Changing it forces a replacement.
    #[serde(default)]
    pub replace_key: String,
    /// References to other resources, to build arbitrary DAGs.
    #[serde(default)]
    pub refs: Vec<Input<String>>,
    /// Overrides the provider's latency for this resource.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub secret_in: Option<Input<String>>,
}

impl TestArgs {
    pub fn new(value: impl Into<Input<String>>) -> Self {
        TestArgs {
            value: value.into(),
            replace_key: String::new(),
            refs: Vec::new(),
            latency_ms: None,
            secret_in: None,
        }
    }
}

impl ResourceArgs for TestArgs {
    const TYPE: &'static str = "test:index/Thing";
}

impl Resource<TestArgs> {
    pub fn value(&self) -> Output<String> {
        self.output("value")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// Random secret generated at create.
    pub fn secret_out(&self) -> Output<String> {
        self.output("secret_out")
    }
}

/// Which provider call an event or an injected failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    Create,
    /// The second call of a two-step create (as `ModifyVpcAttribute` after
    /// `CreateVpc`).
    Configure,
    Read,
    Update,
    Delete,
    FindByUrn,
}

/// What a two-step create leaves as `value` between its steps.
pub const UNCONFIGURED: &str = "<unconfigured>";

/// One provider call, from entry to return (latency included).
#[derive(Debug, Clone)]
pub struct Event {
    pub urn: Urn,
    pub op: Op,
    pub start: Instant,
    pub end: Instant,
    pub ok: bool,
}

impl Event {
    /// Whether the two calls ran at the same time.
    pub fn overlaps(&self, other: &Event) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// One object in the fake cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudObject {
    pub id: String,
    /// The `morket:urn` tag.
    pub urn_tag: String,
    /// The `morket:stack` tag.
    pub stack_tag: String,
    pub value: String,
    /// Whether `value` was given as a secret.
    #[serde(default)]
    pub value_secret: bool,
    pub replace_key: String,
    #[serde(default)]
    pub secret_in: Option<String>,
    pub secret_out: String,
    /// Milliseconds since the epoch at create (for lagging lookups).
    #[serde(default)]
    pub created_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl CloudObject {
    /// The URN in the `morket:urn` tag, without the state lineage.
    pub fn urn(&self) -> &str {
        self.urn_tag
            .rsplit_once('#')
            .map_or(self.urn_tag.as_str(), |(u, _)| u)
    }

    pub fn arn(&self) -> String {
        format!("arn:test:::{}", self.id)
    }

    fn outputs(&self) -> Value {
        let v = Value::String(self.value.clone());
        json!({
            "id": self.id,
            "value": if self.value_secret { value::secret(v) } else { v },
            "arn": self.arn(),
            "secret_out": self.secret_out,
        })
    }
}

/// The fake cloud. Share it between providers and assertions via `Arc`.
#[derive(Debug, Default)]
pub struct TestCloud {
    objects: Mutex<BTreeMap<String, CloudObject>>,
    events: Mutex<Vec<Event>>,
    creates: Mutex<BTreeMap<Urn, usize>>,
    deletes: Mutex<BTreeMap<Urn, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    dir: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the cloud from the others.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn fatal(what: impl std::fmt::Display, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Fatal(format!("test cloud: {what}: {e}"))
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl TestCloud {
    /// An in-memory cloud.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cloud stored as one JSON file per object in `dir`, reloaded on every
    /// call so separate processes see each other's changes.
    pub fn persistent(dir: impl AsRef<Path>) -> io::Result<Self> {
        fs::create_dir_all(dir.as_ref())?;
        Ok(TestCloud {
            dir: Some(dir.as_ref().to_path_buf()),
            ..Self::default()
        })
    }

    /// Locks the object map, refreshed from disk when persistent.
    fn objects_locked(
        &self,
    ) -> Result<MutexGuard<'_, BTreeMap<String, CloudObject>>, ProviderError> {
        let mut g = lock(&self.objects);
        if let Some(dir) = &self.dir {
            let mut fresh = BTreeMap::new();
            for entry in fs::read_dir(dir).map_err(|e| fatal(dir.display(), e))? {
                let path = entry.map_err(|e| fatal(dir.display(), e))?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let data = match fs::read(&path) {
                    Ok(d) => d,
                    // Deleted by another process between listing and reading.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(fatal(path.display(), e)),
                };
                let o: CloudObject =
                    serde_json::from_slice(&data).map_err(|e| fatal(path.display(), e))?;
                fresh.insert(o.id.clone(), o);
            }
            *g = fresh;
        }
        Ok(g)
    }

    fn put(
        &self,
        map: &mut BTreeMap<String, CloudObject>,
        o: CloudObject,
    ) -> Result<(), ProviderError> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{}.json", o.id));
            let tmp = dir.join(format!(".{}.{}.tmp", o.id, random_hex(4)));
            let data = serde_json::to_vec_pretty(&o).map_err(|e| fatal(&o.id, e))?;
            fs::write(&tmp, data)
                .and_then(|_| fs::rename(&tmp, &path))
                .map_err(|e| fatal(path.display(), e))?;
        }
        map.insert(o.id.clone(), o);
        Ok(())
    }

    fn remove(
        &self,
        map: &mut BTreeMap<String, CloudObject>,
        id: &str,
    ) -> Result<bool, ProviderError> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{id}.json"));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(fatal(path.display(), e)),
            }
        }
        Ok(map.remove(id).is_some())
    }

    /// All live objects by id.
    pub fn objects(&self) -> BTreeMap<String, CloudObject> {
        self.objects_locked().map(|g| g.clone()).unwrap_or_default()
    }

    pub fn get(&self, id: &str) -> Option<CloudObject> {
        self.objects().remove(id)
    }

    /// Live objects whose `morket:urn` tag names `urn` (any lineage).
    pub fn by_urn(&self, urn: &str) -> Vec<CloudObject> {
        self.objects()
            .into_values()
            .filter(|o| o.urn() == urn)
            .collect()
    }

    /// Number of live objects per URN (more than one means a leak).
    pub fn count_by_urn(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for o in self.objects().into_values() {
            *out.entry(o.urn().to_string()).or_insert(0) += 1;
        }
        out
    }

    /// Every call made through this instance, in order of completion.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    pub fn clear_events(&self) {
        lock(&self.events).clear();
    }

    /// Successful creates of `urn` through this instance.
    pub fn creates(&self, urn: &Urn) -> usize {
        lock(&self.creates).get(urn).copied().unwrap_or(0)
    }

    /// Successful deletes of `urn` through this instance.
    pub fn deletes(&self, urn: &Urn) -> usize {
        lock(&self.deletes).get(urn).copied().unwrap_or(0)
    }

    /// Most calls that were in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Changes an object out of band (drift). False if it does not exist.
    pub fn set_value(&self, id: &str, v: &str) -> bool {
        let Ok(mut g) = self.objects_locked() else {
            return false;
        };
        let Some(mut o) = g.get(id).cloned() else {
            return false;
        };
        o.value = v.to_string();
        self.put(&mut g, o).is_ok()
    }

    /// Deletes an object out of band.
    pub fn remove_object(&self, id: &str) -> bool {
        match self.objects_locked() {
            Ok(mut g) => self.remove(&mut g, id).unwrap_or(false),
            Err(_) => false,
        }
    }
}

/// Counts a call in flight until dropped.
struct InFlight<'a>(&'a TestCloud);

impl<'a> InFlight<'a> {
    fn enter(c: &'a TestCloud) -> Self {
        let n = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.max_in_flight.fetch_max(n, Ordering::SeqCst);
        InFlight(c)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The provider for `test:index/Thing`. Build with [`TestProvider::new`] and
/// the builder methods; keep `cloud()` for assertions.
pub struct TestProvider {
    cloud: Arc<TestCloud>,
    latency: Duration,
    fail_on: Vec<(String, Op)>,
    fail_after: Vec<(String, Op)>,
    fatal_after: Vec<(String, Op)>,
    two_step: bool,
    barrier: Option<PathBuf>,
    lookup_lag: Duration,
    fail_times: Vec<(String, u32)>,
    /// Calls seen per (fail_times entry, urn).
    attempts: Mutex<HashMap<(usize, Urn), u32>>,
    concurrency: Option<(&'static str, usize)>,
}

impl Default for TestProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl TestProvider {
    /// No latency, no failures, a fresh in-memory cloud.
    pub fn new() -> Self {
        TestProvider {
            cloud: Arc::new(TestCloud::new()),
            latency: Duration::ZERO,
            fail_on: Vec::new(),
            fail_after: Vec::new(),
            fatal_after: Vec::new(),
            two_step: false,
            barrier: None,
            lookup_lag: Duration::ZERO,
            fail_times: Vec::new(),
            attempts: Mutex::new(HashMap::new()),
            concurrency: None,
        }
    }

    /// Time every call takes (unless a resource sets `latency_ms`).
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// Fails `op` with a fatal error for resources whose name contains `name`.
    pub fn fail_on(mut self, name: &str, op: Op) -> Self {
        self.fail_on.push((name.to_string(), op));
        self
    }

    /// Makes the change, then fails `op` for resources whose name contains
    /// `name` with a retryable error, as a timeout whose request ran: the
    /// caller cannot tell whether anything changed.
    pub fn fail_after(mut self, name: &str, op: Op) -> Self {
        self.fail_after.push((name.to_string(), op));
        self
    }

    /// Makes the change, then fails `op` with a definite error, as a wait
    /// that ended in a failed state (an ECS deployment the circuit breaker
    /// failed): the object is as declared, the operation failed.
    pub fn fatal_after(mut self, name: &str, op: Op) -> Self {
        self.fatal_after.push((name.to_string(), op));
        self
    }

    /// Creates in two calls: the object first (with value [`UNCONFIGURED`]),
    /// then its value ([`Op::Configure`]). A failure of the second call is a
    /// partial create.
    pub fn two_step(mut self) -> Self {
        self.two_step = true;
        self
    }

    /// Between the two steps of a create, writes `<dir>/<name>.reached` and
    /// waits until `<dir>/<name>.go` exists, so a test can kill the process
    /// exactly there.
    pub fn barrier(mut self, dir: impl Into<PathBuf>) -> Self {
        self.barrier = Some(dir.into());
        self
    }

    /// `find_by_urn` misses objects younger than `lag`, as AWS's
    /// tag-filtered describes do; reported through `Provider::lookup_lag`.
    pub fn lookup_lag(mut self, lag: Duration) -> Self {
        self.lookup_lag = lag;
        self
    }

    /// The first `n` create/update/delete calls of each resource whose name
    /// contains `name` fail with a retryable error.
    pub fn fail_times(mut self, name: &str, n: u32) -> Self {
        self.fail_times.push((name.to_string(), n));
        self
    }

    /// Reported through [`Provider::concurrency`]; the engine enforces it.
    pub fn concurrency_limit(mut self, service: &'static str, n: usize) -> Self {
        self.concurrency = Some((service, n));
        self
    }

    pub fn backend(mut self, cloud: Arc<TestCloud>) -> Self {
        self.cloud = cloud;
        self
    }

    pub fn cloud(&self) -> Arc<TestCloud> {
        self.cloud.clone()
    }

    /// Runs one call: latency, injected failures, then `f`; logs the event.
    async fn call<T>(
        &self,
        ctx: &Ctx,
        op: Op,
        inputs: &Value,
        f: impl FnOnce(&TestCloud) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let start = Instant::now();
        let res = {
            let _flight = InFlight::enter(&self.cloud);
            let latency = inputs
                .get("latency_ms")
                .and_then(Value::as_u64)
                .map(Duration::from_millis)
                .unwrap_or(self.latency);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            match self.injected(ctx, op) {
                Some(e) => Err(e),
                None => f(&self.cloud).and_then(|v| match self.injected_after(ctx, op) {
                    Some(e) => Err(e),
                    None => Ok(v),
                }),
            }
        };
        lock(&self.cloud.events).push(Event {
            urn: ctx.urn.clone(),
            op,
            start,
            end: Instant::now(),
            ok: res.is_ok(),
        });
        res
    }

    fn injected_after(&self, ctx: &Ctx, op: Op) -> Option<ProviderError> {
        let name = ctx.urn.name();
        if self
            .fatal_after
            .iter()
            .any(|(n, o)| *o == op && name.contains(n.as_str()))
        {
            return Some(ProviderError::Fatal(format!(
                "injected failure after the change: {op:?} {}",
                ctx.urn
            )));
        }
        self.fail_after
            .iter()
            .any(|(n, o)| *o == op && name.contains(n.as_str()))
            .then(|| {
                ProviderError::Retryable(format!(
                    "injected timeout after the change: {op:?} {}",
                    ctx.urn
                ))
            })
    }

    /// Waits at the barrier between the two steps of a create.
    async fn wait_at_barrier(&self, ctx: &Ctx) -> Result<(), ProviderError> {
        let Some(dir) = &self.barrier else {
            return Ok(());
        };
        let name = ctx.urn.name();
        fs::write(dir.join(format!("{name}.reached")), b"").map_err(|e| fatal(dir.display(), e))?;
        let go = dir.join(format!("{name}.go"));
        while !go.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    fn injected(&self, ctx: &Ctx, op: Op) -> Option<ProviderError> {
        let name = ctx.urn.name();
        if self
            .fail_on
            .iter()
            .any(|(n, o)| *o == op && name.contains(n.as_str()))
        {
            return Some(ProviderError::Fatal(format!(
                "injected failure: {op:?} {}",
                ctx.urn
            )));
        }
        if matches!(op, Op::Create | Op::Update | Op::Delete) {
            let mut attempts = lock(&self.attempts);
            for (i, (n, times)) in self.fail_times.iter().enumerate() {
                if name.contains(n.as_str()) {
                    let seen = attempts.entry((i, ctx.urn.clone())).or_insert(0);
                    *seen += 1;
                    if *seen <= *times {
                        return Some(ProviderError::Retryable(format!(
                            "injected throttling {seen}/{times}: {op:?} {}",
                            ctx.urn
                        )));
                    }
                }
            }
        }
        None
    }
}

fn known(field: &str, v: &Input<String>) -> Result<String, ProviderError> {
    v.known()
        .cloned()
        .ok_or_else(|| ProviderError::invalid(field, "(unknown)", "must be known at apply time"))
}

/// Live inputs: what the cloud holds, plus the given inputs it does not store.
/// Without inputs (`null`: an object read by id alone, as `import` does when
/// the declaration is not known yet), only what the cloud holds, as the AWS
/// types answer.
fn live_inputs(o: &CloudObject, inputs: &Value) -> Value {
    let mut out = if inputs.is_object() {
        inputs.clone()
    } else {
        json!({})
    };
    if let Value::Object(m) = &mut out {
        let v = Value::String(o.value.clone());
        m.insert(
            "value".into(),
            if o.value_secret { value::secret(v) } else { v },
        );
        m.insert("replace_key".into(), Value::String(o.replace_key.clone()));
    }
    out
}

#[async_trait]
impl Provider for TestProvider {
    fn type_name(&self) -> &'static str {
        TestArgs::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["replace_key"]
    }

    fn secret_outputs(&self) -> &'static [&'static str] {
        &["secret_out"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["value"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        self.concurrency
    }

    fn lookup_lag(&self) -> Duration {
        self.lookup_lag
    }

    /// Rejects a `value` starting with `!invalid` (a hook for validation
    /// tests) and latencies over ten minutes.
    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let a: TestArgs = parse(inputs)?;
        if let Some(v) = a.value.known() {
            if v.starts_with("!invalid") {
                let shown = if a.value.is_secret() {
                    value::SENSITIVE_TEXT.to_string()
                } else {
                    format!("{v:?}")
                };
                return Err(ProviderError::invalid(
                    "value",
                    shown,
                    "starts with !invalid",
                ));
            }
        }
        if let Some(ms) = a.latency_ms {
            if ms > 600_000 {
                return Err(ProviderError::invalid(
                    "latency_ms",
                    ms,
                    "must be at most 600000",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let a: TestArgs = parse(inputs)?;
        let v = known("value", &a.value)?;
        let secret_in = a
            .secret_in
            .as_ref()
            .map(|s| known("secret_in", s))
            .transpose()?;
        let (first, value_secret) = if self.two_step {
            (UNCONFIGURED.to_string(), false)
        } else {
            (v.clone(), a.value.is_secret())
        };
        let created = self
            .call(ctx, Op::Create, inputs, |cloud| {
                let mut g = cloud.objects_locked()?;
                let o = CloudObject {
                    id: format!("t-{}", random_hex(6)),
                    urn_tag: ctx.urn_tag(),
                    stack_tag: ctx.stack.clone(),
                    value: first,
                    value_secret,
                    created_ms: now_ms(),
                    replace_key: a.replace_key.clone(),
                    secret_in,
                    secret_out: random_hex(16),
                };
                let created = Created {
                    id: o.id.clone(),
                    outputs: o.outputs(),
                };
                cloud.put(&mut g, o)?;
                *lock(&cloud.creates).entry(ctx.urn.clone()).or_insert(0) += 1;
                Ok(created)
            })
            .await?;
        if !self.two_step {
            return Ok(created);
        }
        self.wait_at_barrier(ctx)
            .await
            .map_err(|e| ProviderError::partial(&created.id, e))?;
        let id = created.id.clone();
        let secret = a.value.is_secret();
        self.call(ctx, Op::Configure, inputs, |cloud| {
            let mut g = cloud.objects_locked()?;
            let mut o = g
                .get(&id)
                .cloned()
                .ok_or_else(|| ProviderError::NotFound(format!("test object {id}")))?;
            o.value = v;
            o.value_secret = secret;
            let out = Created {
                id: o.id.clone(),
                outputs: o.outputs(),
            };
            cloud.put(&mut g, o)?;
            Ok(out)
        })
        .await
        .map_err(|e| ProviderError::partial(&created.id, e))
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        self.call(ctx, Op::Read, inputs, |cloud| {
            let g = cloud.objects_locked()?;
            Ok(g.get(id).map(|o| ReadResult {
                inputs: live_inputs(o, inputs),
                outputs: o.outputs(),
            }))
        })
        .await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        _old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let a: TestArgs = parse(new_inputs)?;
        let v = known("value", &a.value)?;
        let secret_in = a
            .secret_in
            .as_ref()
            .map(|s| known("secret_in", s))
            .transpose()?;
        self.call(ctx, Op::Update, new_inputs, |cloud| {
            let mut g = cloud.objects_locked()?;
            let mut o = g
                .get(id)
                .cloned()
                .ok_or_else(|| ProviderError::NotFound(format!("test object {id}")))?;
            o.value = v;
            o.value_secret = a.value.is_secret();
            o.secret_in = secret_in;
            let out = o.outputs();
            cloud.put(&mut g, o)?;
            Ok(out)
        })
        .await
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.call(ctx, Op::Delete, inputs, |cloud| {
            let mut g = cloud.objects_locked()?;
            cloud.remove(&mut g, id)?;
            *lock(&cloud.deletes).entry(ctx.urn.clone()).or_insert(0) += 1;
            Ok(())
        })
        .await
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        // Only an object made from these inputs: the old half of a
        // replacement has the same tags but another (force-new) replace_key.
        let replace_key = inputs
            .get("replace_key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let lag = self.lookup_lag.as_millis() as u64;
        let now = now_ms();
        self.call(ctx, Op::FindByUrn, inputs, |cloud| {
            let g = cloud.objects_locked()?;
            Ok(g.values()
                .filter(|o| {
                    ctx.urn_tag_matches(&o.urn_tag)
                        && o.created_ms + lag <= now
                        && o.stack_tag == ctx.stack
                        && o.replace_key == replace_key
                })
                .map(|o| Created {
                    id: o.id.clone(),
                    outputs: o.outputs(),
                })
                .collect())
        })
        .await
    }
}

/// Inputs of a `test:index/getValue` lookup: reads `key` from a
/// [`TestLookup`]'s table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupArgs {
    pub key: Input<String>,
}

impl ResourceArgs for LookupArgs {
    const TYPE: &'static str = "test:index/getValue";
}

impl Resource<LookupArgs> {
    pub fn value(&self) -> Output<String> {
        self.output("value")
    }
}

/// A lookup provider over a table of keys, counting its reads; it can be
/// switched to answer as an AWS provider without credentials does.
#[derive(Default)]
pub struct TestLookup {
    table: Mutex<HashMap<String, String>>,
    reads: AtomicUsize,
    no_credentials: std::sync::atomic::AtomicBool,
}

impl TestLookup {
    pub fn new() -> Arc<Self> {
        Arc::new(TestLookup::default())
    }
    pub fn set(&self, key: &str, value: &str) {
        lock(&self.table).insert(key.into(), value.into());
    }
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    pub fn set_no_credentials(&self, yes: bool) {
        self.no_credentials.store(yes, Ordering::SeqCst);
    }
    fn answer(&self, inputs: &Value) -> Result<Created, ProviderError> {
        if self.no_credentials.load(Ordering::SeqCst) {
            return Err(ProviderError::NoCredentials(
                "no credentials in the test chain".into(),
            ));
        }
        self.reads.fetch_add(1, Ordering::SeqCst);
        let args: LookupArgs = parse(inputs)?;
        let key = args.key.require("key")?.clone();
        match lock(&self.table).get(&key) {
            Some(v) => Ok(Created {
                id: key,
                outputs: json!({ "value": v }),
            }),
            None => Err(ProviderError::invalid(
                "key",
                format!("{key:?}"),
                "no such key",
            )),
        }
    }
}

#[async_trait]
impl Provider for Arc<TestLookup> {
    fn type_name(&self) -> &'static str {
        LookupArgs::TYPE
    }
    fn is_lookup(&self) -> bool {
        true
    }
    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        parse::<LookupArgs>(inputs).map(|_| ())
    }
    async fn create(&self, _ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        self.answer(inputs)
    }
    async fn read(
        &self,
        _ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let c = self.answer(inputs)?;
        Ok(Some(ReadResult {
            inputs: inputs.clone(),
            outputs: c.outputs,
        }))
    }
    async fn update(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _old: &Value,
        new: &Value,
        _outputs: &Value,
    ) -> Result<Value, ProviderError> {
        Ok(self.answer(new)?.outputs)
    }
    async fn delete(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(name: &str) -> Ctx {
        Ctx::new("dev", Urn::new("dev", "", TestArgs::TYPE, name))
    }

    fn args(v: &str) -> Value {
        serde_json::to_value(TestArgs::new(v)).unwrap()
    }

    #[test]
    fn validation_names_field_and_value_and_accepts_unknowns() {
        let p = TestProvider::new();
        match p.validate(&args("!invalid x")).unwrap_err() {
            ProviderError::InvalidInput { field, value, .. } => {
                assert_eq!(field, "value");
                assert_eq!(value, "\"!invalid x\"");
            }
            other => panic!("{other:?}"),
        }
        let e = p
            .validate(&json!({"value": "a", "latency_ms": 700000}))
            .unwrap_err();
        assert!(
            matches!(e, ProviderError::InvalidInput { ref field, ref value, .. } if field == "latency_ms" && value == "700000")
        );
        let e = p.validate(&json!({"value": "a", "nope": 1})).unwrap_err();
        assert!(
            matches!(e, ProviderError::InvalidInput { ref field, .. } if field == "nope"),
            "{e}"
        );
        p.validate(&json!({"value": value::unknown(), "refs": [value::unknown()], "secret_in": value::unknown()}))
            .unwrap();
    }

    #[tokio::test]
    async fn lifecycle_tags_drift_and_adoption() {
        let p = TestProvider::new();
        let cloud = p.cloud();
        assert_eq!(p.secret_outputs(), &["secret_out"]);
        let c = p.create(&ctx("a"), &args("one")).await.unwrap();
        assert!(c.id.starts_with("t-") && c.id.len() == 14, "{}", c.id);
        assert!(c.id[2..].chars().all(|ch| ch.is_ascii_hexdigit()));
        assert_eq!(c.outputs["arn"], json!(format!("arn:test:::{}", c.id)));
        assert_eq!(c.outputs["value"], json!("one"));
        assert_eq!(c.outputs["id"], json!(c.id));
        assert_eq!(c.outputs["secret_out"].as_str().unwrap().len(), 32);
        let o = cloud.get(&c.id).unwrap();
        assert_eq!(o.urn_tag, ctx("a").urn.as_str());
        assert_eq!(o.stack_tag, "dev");

        // Drift made out of band shows in read's live inputs.
        assert!(cloud.set_value(&c.id, "drifted"));
        let r = p
            .read(&ctx("a"), &c.id, &args("one"), &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.inputs["value"], json!("drifted"));
        assert_eq!(p.diff(&args("one"), &r.inputs).changed, vec!["value"]);

        // Update in place; replace_key forces new.
        let out = p
            .update(&ctx("a"), &c.id, &args("one"), &args("two"), &c.outputs)
            .await
            .unwrap();
        assert_eq!(out["value"], json!("two"));
        assert_eq!(cloud.get(&c.id).unwrap().value, "two");
        let mut rk = TestArgs::new("two");
        rk.replace_key = "k2".into();
        assert_eq!(
            p.diff(&args("two"), &serde_json::to_value(rk).unwrap())
                .replace,
            vec!["replace_key"]
        );

        // Adoption by urn tag, scoped to the stack.
        let found = p
            .find_by_urn(&ctx("a"), &args("two"))
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(found.id, c.id);
        assert!(p
            .find_by_urn(&ctx("b"), &args("two"))
            .await
            .unwrap()
            .is_empty());
        let other_stack = Ctx::new("prod", ctx("a").urn);
        assert!(p
            .find_by_urn(&other_stack, &args("two"))
            .await
            .unwrap()
            .is_empty());

        p.delete(&ctx("a"), &c.id, &args("two"), &out)
            .await
            .unwrap();
        assert_eq!(
            p.read(&ctx("a"), &c.id, &args("two"), &out).await.unwrap(),
            None
        );
        p.delete(&ctx("a"), &c.id, &args("two"), &out)
            .await
            .unwrap();
        let err = p
            .update(&ctx("a"), &c.id, &args("two"), &args("3"), &out)
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::NotFound(_)), "{err}");
        assert_eq!(cloud.creates(&ctx("a").urn), 1);
        assert_eq!(cloud.deletes(&ctx("a").urn), 2);
        assert!(cloud.objects().is_empty());
        let ops: Vec<Op> = cloud.events().iter().map(|e| e.op).collect();
        assert_eq!(
            ops,
            vec![
                Op::Create,
                Op::Read,
                Op::Update,
                Op::FindByUrn,
                Op::FindByUrn,
                Op::FindByUrn,
                Op::Delete,
                Op::Read,
                Op::Delete,
                Op::Update
            ]
        );
        assert!(!cloud.events().last().unwrap().ok);
    }

    #[tokio::test]
    async fn secret_value_stays_secret_in_outputs_and_live_inputs() {
        let p = TestProvider::new();
        let mut a = TestArgs::new(Input::secret("pw"));
        a.secret_in = Some(Input::secret("s"));
        let inputs = serde_json::to_value(a).unwrap();
        let c = p.create(&ctx("s"), &inputs).await.unwrap();
        assert_eq!(c.outputs["value"], value::secret(json!("pw")));
        let r = p
            .read(&ctx("s"), &c.id, &inputs, &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.inputs["value"], value::secret(json!("pw")));
        assert_eq!(
            p.cloud().get(&c.id).unwrap().secret_in.as_deref(),
            Some("s")
        );
        assert!(p.diff(&inputs, &r.inputs).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn latency_applies_and_concurrent_calls_overlap() {
        let p = Arc::new(TestProvider::new().latency(Duration::from_millis(500)));
        let t0 = Instant::now();
        let (ca, cb, ia, ib) = (ctx("a"), ctx("b"), args("1"), args("2"));
        let (a, b) = tokio::join!(p.create(&ca, &ia), p.create(&cb, &ib));
        a.unwrap();
        b.unwrap();
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_millis(500) && elapsed < Duration::from_millis(600),
            "{elapsed:?}"
        );
        let ev = p.cloud().events();
        assert_eq!(ev.len(), 2);
        assert!(ev[0].overlaps(&ev[1]));
        assert!(ev
            .iter()
            .all(|e| e.end - e.start >= Duration::from_millis(500)));
        assert_eq!(p.cloud().max_in_flight(), 2);

        // Per-resource override; sequential calls do not overlap.
        let mut slow = TestArgs::new("3");
        slow.latency_ms = Some(2000);
        let t1 = Instant::now();
        p.create(&ctx("c"), &serde_json::to_value(slow).unwrap())
            .await
            .unwrap();
        assert!(t1.elapsed() >= Duration::from_secs(2));
        let ev = p.cloud().events();
        assert!(!ev[1].overlaps(&ev[2]));
        assert!(ev[2].start >= ev[1].end);
    }

    #[tokio::test]
    async fn injected_fatal_failures_match_name_and_op() {
        let p = TestProvider::new()
            .fail_on("bad", Op::Create)
            .fail_on("sticky", Op::Delete);
        let e = p.create(&ctx("my-bad-one"), &args("x")).await.unwrap_err();
        assert!(
            matches!(e, ProviderError::Fatal(_)) && !e.is_retryable(),
            "{e}"
        );
        assert!(
            p.cloud().objects().is_empty(),
            "failed create must not leave an object"
        );
        let c = p.create(&ctx("sticky"), &args("x")).await.unwrap();
        let e = p
            .delete(&ctx("sticky"), &c.id, &args("x"), &c.outputs)
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Fatal(_)));
        assert_eq!(p.cloud().objects().len(), 1);
        assert_eq!(p.cloud().creates(&ctx("my-bad-one").urn), 0);
        // Deleted out of band: read reports it gone.
        assert!(p.cloud().remove_object(&c.id));
        let r = p.read(&ctx("sticky"), &c.id, &args("x"), &c.outputs).await;
        assert_eq!(r.unwrap(), None);
    }

    #[tokio::test]
    async fn retryable_failures_for_the_first_n_calls() {
        let p = TestProvider::new()
            .fail_times("flaky", 2)
            .concurrency_limit("things", 3);
        assert_eq!(p.concurrency(), Some(("things", 3)));
        for i in 1..=2 {
            let e = p.create(&ctx("flaky"), &args("x")).await.unwrap_err();
            assert!(e.is_retryable(), "attempt {i}: {e}");
        }
        let c = p.create(&ctx("flaky"), &args("x")).await.unwrap();
        // Counted per resource: another matching name gets its own n failures.
        assert!(p
            .create(&ctx("flaky-2"), &args("y"))
            .await
            .unwrap_err()
            .is_retryable());
        // Later calls of the first resource succeed.
        p.update(&ctx("flaky"), &c.id, &args("x"), &args("z"), &c.outputs)
            .await
            .unwrap();
        let cloud = p.cloud();
        assert_eq!(cloud.creates(&ctx("flaky").urn), 1);
        let oks: Vec<bool> = cloud.events().iter().map(|e| e.ok).collect();
        assert_eq!(oks, vec![false, false, true, false, true]);
        assert_eq!(
            cloud.count_by_urn().get(ctx("flaky").urn.as_str()),
            Some(&1)
        );
    }

    #[tokio::test]
    async fn persistent_cloud_is_shared_through_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            TestProvider::new().backend(Arc::new(TestCloud::persistent(dir.path()).unwrap()));
        let c = first.create(&ctx("p"), &args("v1")).await.unwrap();
        assert!(dir.path().join(format!("{}.json", c.id)).exists());

        // A second instance (as in the next process) sees and adopts it.
        let cloud2 = Arc::new(TestCloud::persistent(dir.path()).unwrap());
        let second = TestProvider::new().backend(cloud2.clone());
        let found = second
            .find_by_urn(&ctx("p"), &args("v1"))
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            found,
            Created {
                id: c.id.clone(),
                outputs: c.outputs.clone()
            }
        );
        assert_eq!(
            cloud2.count_by_urn(),
            BTreeMap::from([(ctx("p").urn.to_string(), 1)])
        );

        // Changes by one are visible to the other on its next call.
        second
            .update(&ctx("p"), &c.id, &args("v1"), &args("v2"), &c.outputs)
            .await
            .unwrap();
        let r = first
            .read(&ctx("p"), &c.id, &args("v1"), &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.outputs["value"], json!("v2"));
        assert!(first.cloud().set_value(&c.id, "oob"));
        assert_eq!(cloud2.get(&c.id).unwrap().value, "oob");
        second
            .delete(&ctx("p"), &c.id, &args("v2"), &c.outputs)
            .await
            .unwrap();
        assert_eq!(
            first
                .read(&ctx("p"), &c.id, &args("v2"), &c.outputs)
                .await
                .unwrap(),
            None
        );
        assert!(first.cloud().objects().is_empty());
        let leftover: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(leftover.is_empty(), "{leftover:?}");
    }
}
