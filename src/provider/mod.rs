//! The provider layer: one [`Provider`] per resource type. Only providers talk to
//! the outside world (AWS, the local filesystem for `local:`); the engine drives
//! them through this trait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Input, Urn};
use crate::value;

pub mod aws;
pub mod local;
pub mod random;
pub mod schema;
#[cfg(feature = "test-provider")]
pub mod testing;
pub mod time;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ProviderError {
    #[error("not found: {0}")]
    NotFound(String),
    /// Worth another attempt (transient network errors, timeouts, 5xx):
    /// the request may have run.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Refused by a rate limit: worth another attempt, and nothing ran.
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("invalid input {field} = {value}: {reason}")]
    InvalidInput {
        field: String,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Fatal(String),
    /// The provider has no credentials: nothing was called. A preview
    /// leaves such a lookup unread, shown as known after apply.
    #[error("no credentials: {0}")]
    NoCredentials(String),
    /// A create made `id` and then failed (a later call of a multi-call
    /// create): the object exists and the engine must track it.
    #[error("{error} (after creating {id})")]
    Partial {
        id: String,
        error: Box<ProviderError>,
    },
}

impl ProviderError {
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        ProviderError::InvalidInput {
            field: field.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Retryable(_) | ProviderError::Throttled(_)
        )
    }

    /// Wraps an error that followed the create of `id`.
    pub fn partial(id: impl Into<String>, error: ProviderError) -> Self {
        match error {
            // The id of the first object is the one to track.
            p @ ProviderError::Partial { .. } => p,
            e => ProviderError::Partial {
                id: id.into(),
                error: Box::new(e),
            },
        }
    }

    /// Whether a failed create may have created something anyway: a timeout
    /// or a 5xx can hide a request that ran.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            ProviderError::Retryable(_) | ProviderError::Partial { .. }
        )
    }
}

impl From<crate::model::ModelError> for ProviderError {
    fn from(e: crate::model::ModelError) -> Self {
        ProviderError::Fatal(e.to_string())
    }
}

/// Runs the rest of a multi-call create: an error becomes a partial create
/// of `id`, so the engine records the object instead of forgetting it.
pub async fn finish_create<T>(
    id: &str,
    rest: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    rest.await.map_err(|e| ProviderError::partial(id, e))
}

/// Context of one provider call.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub stack: String,
    pub urn: Urn,
    /// The state's lineage (a random id made with the state); carried in the
    /// URN tag so two states of one stack name never adopt each other's
    /// objects. Empty: untagged by lineage.
    pub lineage: String,
}

impl Ctx {
    pub fn new(stack: impl Into<String>, urn: Urn) -> Self {
        Ctx {
            stack: stack.into(),
            urn,
            lineage: String::new(),
        }
    }

    /// The value of the `morket:urn` tag for objects made in this context.
    pub fn urn_tag(&self) -> String {
        if self.lineage.is_empty() {
            self.urn.to_string()
        } else {
            format!("{}#{}", self.urn, self.lineage)
        }
    }

    /// Whether a `morket:urn` tag value names this resource of this state.
    /// Objects tagged before lineage existed (the bare URN) match too.
    pub fn urn_tag_matches(&self, tag: &str) -> bool {
        // A name may hold `#`; the lineage (hex) never does.
        tag == self.urn.as_str()
            || tag.rsplit_once('#').is_some_and(|(urn, lineage)| {
                urn == self.urn.as_str() && (self.lineage.is_empty() || lineage == self.lineage)
            })
    }

    /// Values for a tag filter (EC2's, where `*` is a wildcard) that finds
    /// this resource's objects: lineage-tagged and older bare-URN ones; with
    /// no lineage, those of any lineage (as [`Ctx::urn_tag_matches`]).
    pub fn urn_tag_values(&self) -> Vec<String> {
        let any = format!("{}#*", self.urn);
        let own = if self.lineage.is_empty() {
            any
        } else {
            self.urn_tag()
        };
        vec![self.urn.to_string(), own]
    }
}

/// What a create (or an adoption) produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub id: String,
    pub outputs: Value,
}

impl Created {
    /// Output `attr`; `id` falls back to the provider id (as for state rows).
    pub fn attr(&self, attr: &str) -> Value {
        match self.outputs.get(attr) {
            Some(v) => v.clone(),
            None if attr == "id" => Value::String(self.id.clone()),
            None => Value::Null,
        }
    }
}

/// What a read of a live resource found: its inputs as they are now (for drift)
/// and its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResult {
    pub inputs: Value,
    pub outputs: Value,
}

/// One object of a batched read ([`Provider::read_many`]).
#[derive(Debug, Clone)]
pub struct ReadItem {
    pub ctx: Ctx,
    pub id: String,
    pub inputs: Value,
    pub outputs: Value,
}

/// A type's schema table and its input field names (for the checks of the
/// table against the struct and against Terraform's schema).
#[derive(Debug, Clone)]
pub struct TypeSchema {
    /// A lookup: the Terraform types are data sources.
    pub data: bool,
    pub schema: schema::Schema,
    pub fields: Vec<String>,
}

impl TypeSchema {
    /// The table of input struct `T` (its field names read through serde).
    pub fn of<T: DeserializeOwned>(data: bool, schema: schema::Schema) -> TypeSchema {
        TypeSchema {
            data,
            schema,
            fields: schema::struct_fields::<T>()
                .iter()
                .map(|f| f.to_string())
                .collect(),
        }
    }
}

/// Fields that differ between old and new inputs, and those of them that force
/// a replacement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub changed: Vec<String>,
    pub replace: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// The default diff: compares top-level fields; a changed field listed in
/// `force_new` forces a replacement. An unknown new value counts as changed.
pub fn field_diff(old: &Value, new: &Value, force_new: &[&str]) -> Diff {
    let empty = serde_json::Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut d = Diff::default();
    for k in keys {
        let (ov, nv) = (
            o.get(k).unwrap_or(&Value::Null),
            n.get(k).unwrap_or(&Value::Null),
        );
        let changed = value::contains_unknown(nv) || !same_value(ov, nv);
        if changed {
            d.changed.push(k.clone());
            if force_new.contains(&k.as_str()) {
                d.replace.push(k.clone());
            }
        }
    }
    d
}

/// Equality that treats a secret and its plaintext as equal (state may hold a
/// value as secret that the declaration gives in the open, or the reverse).
pub fn same_value(a: &Value, b: &Value) -> bool {
    // Cheap path first: planning compares every field of every resource.
    a == b
        || ((value::contains_secret(a) || value::contains_secret(b))
            && value::reveal(a) == value::reveal(b))
}

/// The output in which a type reports what AWS accepted but applies later
/// (RDS `PendingModifiedValues`, parameters waiting for a reboot); the apply
/// report lists it, so a change held for the maintenance window is not taken
/// for done.
pub const DEFERRED_OUTPUT: &str = "pending_modified_values";

/// The concrete values of a list input at apply time.
pub fn require_all<T: Clone>(field: &str, v: &[Input<T>]) -> Result<Vec<T>, ProviderError> {
    v.iter()
        .map(|i| i.require(field).cloned().map_err(Into::into))
        .collect()
}

/// The concrete value of an optional input at apply time.
pub fn require_opt<T: Clone>(
    field: &str,
    v: &Option<Input<T>>,
) -> Result<Option<T>, ProviderError> {
    v.as_ref()
        .map(|i| i.require(field).cloned().map_err(Into::into))
        .transpose()
}

/// Deserializes inputs into a provider's typed struct; a mismatch is an
/// invalid-input error naming the field.
pub fn parse<T: DeserializeOwned>(inputs: &Value) -> Result<T, ProviderError> {
    T::deserialize(inputs).map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .split('`')
            .nth(1)
            .map(str::to_string)
            .unwrap_or_else(|| "inputs".into());
        ProviderError::invalid(&field, "(see reason)", msg)
    })
}

/// One resource type's lifecycle. Implementations must be idempotent enough
/// that a retried call after a crash is safe (adoption goes through
/// [`Provider::find_by_urn`]).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// `pkg:module/Type`, e.g. `random:index/RandomPassword`.
    fn type_name(&self) -> &'static str;

    /// Input fields whose change forces a replacement.
    fn force_new(&self) -> &'static [&'static str] {
        &[]
    }

    /// Output attributes that hold secrets; they are sealed in state.
    fn secret_outputs(&self) -> &'static [&'static str] {
        &[]
    }

    /// Outputs that an in-place update may change; they are unknown in a preview.
    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &[]
    }

    /// Service key and its concurrency limit, applied on top of `--parallel`.
    fn concurrency(&self) -> Option<(&'static str, usize)> {
        None
    }

    /// Checks inputs before any call. Inputs may hold unknowns (in a preview);
    /// errors name the field and the value.
    fn validate(&self, inputs: &Value) -> Result<(), ProviderError>;

    fn diff(&self, old: &Value, new: &Value) -> Diff {
        field_diff(old, new, self.force_new())
    }

    /// A lookup (a data source): `create` and `update` read, `read` reads
    /// again, `delete` forgets; nothing in the cloud changes. The engine
    /// reads it while planning when its inputs are known.
    fn is_lookup(&self) -> bool {
        false
    }

    /// Input fields that together name the resource uniquely in its account
    /// (or parent). A replacement that keeps them must delete the old
    /// resource first: AWS would refuse a second one of that name, or (ECS)
    /// hand back the old one.
    fn unique_name(&self) -> &'static [&'static str] {
        &[]
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError>;

    /// Reads the live resource; `None` when it no longer exists.
    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError>;

    /// Updates in place; returns the new outputs.
    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError>;

    /// Deletes; deleting something already gone is success.
    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<(), ProviderError>;

    /// Finds the resources this stack created for `ctx.urn` (adoption after a
    /// crash between the create call and its checkpoint). `inputs` are the
    /// inputs the interrupted create was given. Every match is returned: the
    /// old half of a replacement carries the same URN, and only the engine
    /// knows which ids state already tracks.
    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let _ = (ctx, inputs);
        Ok(Vec::new())
    }

    /// Reads many objects of this type; one answer per item, in order. Types
    /// whose API describes many ids per page read them in few calls.
    async fn read_many(
        &self,
        items: &[ReadItem],
    ) -> Result<Vec<Option<ReadResult>>, ProviderError> {
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.push(self.read(&i.ctx, &i.id, &i.inputs, &i.outputs).await?);
        }
        Ok(out)
    }

    /// The schema table of a schema-driven type (`None` for the others).
    fn schema(&self) -> Option<TypeSchema> {
        None
    }

    /// How long after a create [`Provider::find_by_urn`] may still miss the
    /// object (tag-filtered describes lag on AWS). An empty lookup proves
    /// absence only once this long has passed since the create call.
    fn lookup_lag(&self) -> Duration {
        Duration::ZERO
    }
}

/// A live object carrying a stack's tag, as an [`Inventory`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub arn: String,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Lists every live object that carries a stack's tag, across types: drift
/// compares it with state to find objects state does not know. Read-only.
#[async_trait]
pub trait Inventory: Send + Sync + 'static {
    async fn tagged(&self, stack: &str) -> Result<Vec<Tagged>, ProviderError>;
}

/// Providers by type name.
#[derive(Clone, Default)]
pub struct Registry {
    by_type: HashMap<&'static str, Arc<dyn Provider>>,
    inventories: Vec<Arc<dyn Inventory>>,
    /// Lookup lags set for types from outside (AWS types, by their settings).
    lags: HashMap<&'static str, Duration>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The providers that ship with the engine: `random`, `local`, `time`.
    pub fn builtin() -> Self {
        let mut r = Self::new();
        r.register(random::RandomPasswordProvider)
            .register(random::RandomIdProvider)
            .register(local::FileProvider)
            .register(time::SleepProvider);
        r
    }

    pub fn register(&mut self, p: impl Provider) -> &mut Self {
        self.by_type.insert(p.type_name(), Arc::new(p));
        self
    }

    pub fn register_arc(&mut self, p: Arc<dyn Provider>) -> &mut Self {
        self.by_type.insert(p.type_name(), p);
        self
    }

    pub fn add_inventory(&mut self, i: Arc<dyn Inventory>) -> &mut Self {
        self.inventories.push(i);
        self
    }

    /// The inventories of tagged objects (one per cloud).
    pub fn inventories(&self) -> &[Arc<dyn Inventory>] {
        &self.inventories
    }

    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_type.get(type_name)
    }

    /// Every registered provider, by type name.
    pub fn providers(&self) -> impl Iterator<Item = (&'static str, &Arc<dyn Provider>)> {
        self.by_type.iter().map(|(t, p)| (*t, p))
    }

    /// Sets the lookup lag of every registered type whose name starts with
    /// `prefix` (e.g. `aws:`), in place of the provider's own.
    pub fn set_lookup_lag(&mut self, prefix: &str, lag: Duration) -> &mut Self {
        for t in self.by_type.keys().filter(|t| t.starts_with(prefix)) {
            self.lags.insert(t, lag);
        }
        self
    }

    /// How long a lookup by URN of `type_name` may miss a just-created object
    /// (see [`Provider::lookup_lag`]).
    pub fn lookup_lag(&self, type_name: &str) -> Duration {
        match (self.lags.get(type_name), self.by_type.get(type_name)) {
            (Some(lag), _) => *lag,
            (None, Some(p)) => p.lookup_lag(),
            (None, None) => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// AWS types lag by their settings; the others by their own provider.
    #[test]
    fn lookup_lag_of_aws_types_comes_from_the_settings() {
        let mut r = Registry::builtin();
        let settings = aws::AwsSettings {
            lookup_lag: std::time::Duration::from_secs(7),
            ..Default::default()
        };
        aws::register(&mut r, Arc::new(aws::Aws::new(settings)));
        assert_eq!(
            r.lookup_lag("aws:ec2/Vpc"),
            std::time::Duration::from_secs(7)
        );
        assert_eq!(
            r.lookup_lag("aws:iam/Role"),
            std::time::Duration::from_secs(7)
        );
        assert_eq!(
            r.lookup_lag("random:index/RandomId"),
            std::time::Duration::ZERO
        );
        assert_eq!(r.lookup_lag("no:such/Type"), std::time::Duration::ZERO);
    }

    #[test]
    fn field_diff_marks_force_new_and_unknowns() {
        let old = json!({"a": 1, "b": "x", "c": {"$secret": "s"}});
        let new = json!({"a": 2, "b": {"$unknown": true}, "c": "s"});
        let d = field_diff(&old, &new, &["b"]);
        assert_eq!(d.changed, vec!["a", "b"]);
        assert_eq!(d.replace, vec!["b"]);
    }
}
