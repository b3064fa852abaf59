//! What an AWS type file implements ([`AwsResource`]) and the one adapter
//! ([`Typed`]) that turns it into an engine [`Provider`]. The adapter does
//! the shared work: parse and serialise, tag checks, a create that fails
//! after its first call reports the id (partial create), create / update /
//! find end with `read` so outputs are built in one place, not-found on
//! delete is done, and the read contract of the schema table.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::call::{backoff, Call, Retry};
use super::service::Service;
use super::tags::{self, Tags};
use super::Aws;
use crate::model::ResourceArgs;
use crate::provider::schema::{self, Schema};
use crate::provider::{
    finish_create, parse, Created, Ctx, Diff, Provider, ProviderError, ReadResult, TypeSchema,
};

/// A live object as read: its inputs as they are now, and its outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Live<T> {
    pub args: T,
    pub outputs: Value,
}

/// One AWS resource type. Inputs are the typed struct; every method talks to
/// AWS only through the [`Call`] it is given.
#[async_trait]
pub trait AwsResource: ResourceArgs + Clone + PartialEq + Default + std::fmt::Debug {
    type Service: Service;
    const SCHEMA: Schema;

    /// The region the object lives in when it is not the stack's (a
    /// `region` input, as Terraform's provider has on every resource).
    fn region(&self) -> Option<&str> {
        None
    }

    /// Checks beyond the types (ranges, formats, combinations); inputs may
    /// hold unknowns in a preview. Errors name the field and the value.
    fn check(&self) -> Result<(), ProviderError>;

    /// The diff (default: fields, with the schema's force-new fields).
    fn diff(old: &Value, new: &Value) -> Diff {
        crate::provider::field_diff(old, new, Self::SCHEMA.force_new)
    }

    /// The create call; returns the id as soon as AWS gave one.
    async fn create(&self, cx: &Call<'_, Self::Service>) -> Result<String, ProviderError>;

    /// What the create call could not set and the waits before the object is
    /// usable. A failure here is a partial create of `id`.
    async fn after_create(
        &self,
        cx: &Call<'_, Self::Service>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let _ = (cx, id);
        Ok(())
    }

    /// Reads the live object; `None` when it does not exist. `declared` is
    /// the declaration it was made from (see DESIGN.md, "The read contract").
    async fn read(
        cx: &Call<'_, Self::Service>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError>;

    /// Reads many objects; a type whose API describes many ids per page
    /// overrides it (EC2 above all). One answer per item, in order.
    async fn read_many(
        cx: &Call<'_, Self::Service>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let mut out = Vec::with_capacity(items.len());
        for (id, declared) in items {
            out.push(Self::read(cx, id, declared).await?);
        }
        Ok(out)
    }

    /// Changes the live object from `old` to `self` in place.
    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Self::Service>,
        id: &str,
    ) -> Result<(), ProviderError>;

    /// Deletes and waits until gone; not-found counts as done.
    async fn delete(&self, cx: &Call<'_, Self::Service>, id: &str) -> Result<(), ProviderError>;

    /// Ids of objects tagged with this resource's URN (or found by its
    /// natural key, for types without tags).
    async fn find(&self, cx: &Call<'_, Self::Service>) -> Result<Vec<String>, ProviderError>;
}

/// A live object's outputs plus the versions AWS runs (`engine_version_actual`).
fn with_actuals<T: AwsResource>(mut outputs: Value, live_inputs: &Value) -> Value {
    let actual = schema::actual_versions(&T::SCHEMA, live_inputs, &outputs);
    if let Value::Object(o) = &mut outputs {
        o.extend(actual);
    }
    outputs
}

/// The outputs of a live read, with the versions AWS runs.
fn live_outputs<T: AwsResource>(live: Live<T>) -> Value {
    let inputs = serde_json::to_value(&live.args).expect("inputs serialise");
    with_actuals::<T>(live.outputs, &inputs)
}

/// The engine-facing provider of an [`AwsResource`].
pub struct Typed<T> {
    aws: Arc<Aws>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Typed<T> {
    pub fn new(aws: Arc<Aws>) -> Self {
        Typed {
            aws,
            _type: PhantomData,
        }
    }
}

impl<T: AwsResource> Typed<T> {
    fn live(&self, declared: &Value, live: Live<T>) -> ReadResult {
        let mut inputs = serde_json::to_value(live.args).expect("inputs serialise");
        let outputs = with_actuals::<T>(live.outputs, &inputs);
        schema::normalize(&T::SCHEMA, declared, &mut inputs);
        ReadResult { inputs, outputs }
    }

    /// The first read of a new object: not-found is eventual consistency
    /// for [`Retry::NEW_OBJECT`]'s budget.
    async fn read_new(
        &self,
        cx: &Call<'_, T::Service>,
        id: &str,
        declared: &T,
    ) -> Result<Live<T>, ProviderError> {
        let start = Instant::now();
        let grace = cx.settings().scaled(Retry::NEW_OBJECT.budget);
        let mut attempt = 0;
        loop {
            if let Some(live) = T::read(cx, id, declared).await? {
                return Ok(live);
            }
            if start.elapsed() >= grace {
                return Err(ProviderError::NotFound(format!(
                    "{id} was created but is not found"
                )));
            }
            tokio::time::sleep(backoff(cx.settings(), attempt)).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl<T: AwsResource> Provider for Typed<T> {
    fn type_name(&self) -> &'static str {
        T::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        T::SCHEMA.force_new
    }

    fn secret_outputs(&self) -> &'static [&'static str] {
        T::SCHEMA.secret_outputs
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        T::SCHEMA.computed_on_update
    }

    fn unique_name(&self) -> &'static [&'static str] {
        T::SCHEMA.unique_name
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some((T::Service::NAME, T::Service::CONCURRENCY))
    }

    fn schema(&self) -> Option<TypeSchema> {
        Some(TypeSchema::of::<T>(false, T::SCHEMA))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let args: T = parse(inputs)?;
        if let Some(t) = inputs.get("tags").filter(|t| t.is_object()) {
            tags::validate(&parse::<Tags>(t)?)?;
        }
        args.check()
    }

    fn diff(&self, old: &Value, new: &Value) -> Diff {
        T::diff(old, new)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let args: T = parse(inputs)?;
        let aws = self.aws.in_region(args.region()).await;
        let cx = Call::new(&aws, ctx);
        let id = args.create(&cx).await?;
        finish_create(&id, async {
            args.after_create(&cx, &id).await?;
            let live = self.read_new(&cx, &id, &args).await?;
            Ok(Created {
                id: id.clone(),
                outputs: live_outputs(live),
            })
        })
        .await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        // No declaration (an object read by id alone): the live values as they are.
        if inputs.is_null() {
            let cx = Call::new(&self.aws, ctx);
            return Ok(T::read(&cx, id, &T::default())
                .await?
                .map(|live| ReadResult {
                    inputs: serde_json::to_value(live.args).expect("inputs serialise"),
                    outputs: live.outputs,
                }));
        }
        let declared: T = parse(inputs)?;
        let aws = self.aws.in_region(declared.region()).await;
        let cx = Call::new(&aws, ctx);
        Ok(T::read(&cx, id, &declared)
            .await?
            .map(|live| self.live(inputs, live)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (old, new): (T, T) = (parse(old_inputs)?, parse(new_inputs)?);
        let aws = self.aws.in_region(new.region()).await;
        let cx = Call::new(&aws, ctx);
        new.update(&old, &cx, id).await?;
        match T::read(&cx, id, &new).await? {
            Some(live) => Ok(live_outputs(live)),
            None => Err(ProviderError::NotFound(format!(
                "{id} disappeared during the update"
            ))),
        }
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        // Deletes go by id; the inputs only refine how (a final snapshot).
        let args: T = if inputs.is_null() {
            T::default()
        } else {
            parse(inputs)?
        };
        let aws = self.aws.in_region(args.region()).await;
        match args.delete(&Call::new(&aws, ctx), id).await {
            Err(ProviderError::NotFound(_)) => Ok(()),
            r => r,
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let args: T = parse(inputs)?;
        let aws = self.aws.in_region(args.region()).await;
        let cx = Call::new(&aws, ctx);
        let mut found = Vec::new();
        for id in args.find(&cx).await? {
            // Gone between the listing and the read: nothing to adopt.
            if let Some(live) = T::read(&cx, &id, &args).await? {
                found.push(Created {
                    id,
                    outputs: live_outputs(live),
                });
            }
        }
        Ok(found)
    }

    async fn read_many(
        &self,
        items: &[crate::provider::ReadItem],
    ) -> Result<Vec<Option<ReadResult>>, ProviderError> {
        let Some(first) = items.first() else {
            return Ok(Vec::new());
        };
        let mut typed = Vec::with_capacity(items.len());
        for i in items {
            typed.push((i.id.clone(), parse::<T>(&i.inputs)?));
        }
        // One call per region: the batch is split where regions differ.
        let mut lives = Vec::with_capacity(typed.len());
        let mut start = 0;
        while start < typed.len() {
            let region = typed[start].1.region();
            let end = typed[start..]
                .iter()
                .position(|(_, t)| t.region() != region)
                .map_or(typed.len(), |n| start + n);
            let aws = self.aws.in_region(region).await;
            let cx = Call::new(&aws, &first.ctx);
            lives.extend(T::read_many(&cx, &typed[start..end]).await?);
            start = end;
        }
        Ok(lives
            .into_iter()
            .zip(items)
            .map(|(l, i)| l.map(|l| self.live(&i.inputs, l)))
            .collect())
    }
}
