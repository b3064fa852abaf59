//! What an AWS lookup file implements ([`AwsLookup`]) and its adapter
//! ([`Looked`]) to the engine's [`Provider`]. A lookup is Terraform's data
//! source: read-only, recorded in state, read while planning when its inputs
//! are known (see DESIGN.md, "Lookups"). Nothing in the cloud is created,
//! changed or deleted, so there are no tags, waits or partial creates.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::call::Call;
use super::service::Service;
use super::Aws;
use crate::model::ResourceArgs;
use crate::provider::schema::{Schema, Tf};
use crate::provider::{parse, Created, Ctx, Diff, Provider, ProviderError, ReadResult, TypeSchema};

/// One AWS lookup. Inputs are the typed struct; the answer is an id (what
/// was found) and the outputs other resources reference.
#[async_trait]
pub trait AwsLookup: ResourceArgs + Clone + Default + std::fmt::Debug {
    type Service: Service;
    /// Outputs that hold secrets (sealed in state, hidden on screen).
    const SECRET_OUTPUTS: &'static [&'static str] = &[];
    /// The Terraform data source it becomes (arguments as in [`Tf`]).
    const TERRAFORM: &'static [Tf];
    /// Outputs named otherwise in Terraform: (output, attribute).
    const TF_ATTRS: &'static [(&'static str, &'static str)] = &[];

    /// Checks beyond the types; errors name the field and the value.
    fn check(&self) -> Result<(), ProviderError>;

    /// Reads the answer. Not found is an error naming what was looked for:
    /// a lookup that finds nothing cannot be planned on.
    async fn read(&self, cx: &Call<'_, Self::Service>) -> Result<(String, Value), ProviderError>;
}

/// The engine-facing provider of an [`AwsLookup`].
pub struct Looked<T> {
    aws: Arc<Aws>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Looked<T> {
    pub fn new(aws: Arc<Aws>) -> Self {
        Looked {
            aws,
            _type: PhantomData,
        }
    }
}

impl<T: AwsLookup> Looked<T> {
    async fn answer(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let args: T = parse(inputs)?;
        // Asked before any call: a preview without credentials shows the
        // lookup as known after apply instead of failing.
        self.aws
            .credentials()
            .await
            .map_err(ProviderError::NoCredentials)?;
        let (id, outputs) = args.read(&Call::new(&self.aws, ctx)).await?;
        Ok(Created { id, outputs })
    }
}

#[async_trait]
impl<T: AwsLookup> Provider for Looked<T> {
    fn type_name(&self) -> &'static str {
        T::TYPE
    }

    fn is_lookup(&self) -> bool {
        true
    }

    fn secret_outputs(&self) -> &'static [&'static str] {
        T::SECRET_OUTPUTS
    }

    fn schema(&self) -> Option<TypeSchema> {
        Some(TypeSchema::of::<T>(
            true,
            Schema {
                terraform: T::TERRAFORM,
                tf_attrs: T::TF_ATTRS,
                ..Schema::NONE
            },
        ))
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some((T::Service::NAME, T::Service::CONCURRENCY))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        parse::<T>(inputs)?.check()
    }

    /// Any input change reads again; nothing is ever replaced.
    fn diff(&self, old: &Value, new: &Value) -> Diff {
        crate::provider::field_diff(old, new, &[])
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        self.answer(ctx, inputs).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let c = self.answer(ctx, inputs).await?;
        Ok(Some(ReadResult {
            inputs: inputs.clone(),
            outputs: c.outputs,
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _id: &str,
        _old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        Ok(self.answer(ctx, new_inputs).await?.outputs)
    }

    /// Forgetting a lookup changes nothing in the cloud.
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
