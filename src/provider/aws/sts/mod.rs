//! STS lookups (who the credentials are: account, ARN).

use std::sync::Arc;

use async_trait::async_trait;

use super::call::Call;
use super::limits::TokenBucket;
use super::lookup::Looked;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod caller_identity;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Looked::<caller_identity::GetCallerIdentity>::new(aws));
}

/// STS as the call helper sees it.
pub struct Sts;

#[async_trait]
impl Service for Sts {
    type Client = aws_sdk_sts::Client;
    const NAME: &'static str = "sts";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_sts::Client {
        aws.sts().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.sts
    }

    /// STS has no taggable objects of ours.
    async fn retag(
        _cx: &Call<'_, Self>,
        key: &str,
        _set: &Tags,
        _remove: &[String],
    ) -> Result<(), ProviderError> {
        Err(ProviderError::Fatal(format!(
            "STS object {key}: STS has nothing to tag"
        )))
    }
}
