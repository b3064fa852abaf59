//! The provider layer: one [`Provider`] per resource type. Only providers talk to
//! the outside world (AWS, the local filesystem for `local:`); the engine drives
//! them through this trait.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Urn;
use crate::value;

pub mod aws;
pub mod local;
pub mod random;
#[cfg(feature = "test-provider")]
pub mod testing;
pub mod time;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ProviderError {
    #[error("not found: {0}")]
    NotFound(String),
    /// Worth another attempt (throttling, transient network errors).
    #[error("retryable: {0}")]
    Retryable(String),
    #[error("invalid input {field} = {value}: {reason}")]
    InvalidInput {
        field: String,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Fatal(String),
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
        matches!(self, ProviderError::Retryable(_))
    }
}

/// Context of one provider call.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub stack: String,
    pub urn: Urn,
}

/// What a create (or an adoption) produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub id: String,
    pub outputs: Value,
}

/// What a read of a live resource found: its inputs as they are now (for drift)
/// and its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResult {
    pub inputs: Value,
    pub outputs: Value,
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
}

/// Providers by type name.
#[derive(Clone, Default)]
pub struct Registry {
    by_type: HashMap<&'static str, Arc<dyn Provider>>,
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

    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_type.get(type_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_diff_marks_force_new_and_unknowns() {
        let old = json!({"a": 1, "b": "x", "c": {"$secret": "s"}});
        let new = json!({"a": 2, "b": {"$unknown": true}, "c": "s"});
        let d = field_diff(&old, &new, &["b"]);
        assert_eq!(d.changed, vec!["a", "b"]);
        assert_eq!(d.replace, vec!["b"]);
    }
}
