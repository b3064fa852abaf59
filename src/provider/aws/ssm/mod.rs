//! Systems Manager lookups (parameters, such as the public AMI parameters).

use std::sync::Arc;

use async_trait::async_trait;

use super::call::Call;
use super::limits::TokenBucket;
use super::lookup::Looked;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod parameter;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Looked::<parameter::GetParameter>::new(aws));
}

/// SSM as the call helper sees it.
pub struct Ssm;

#[async_trait]
impl Service for Ssm {
    type Client = aws_sdk_ssm::Client;
    const NAME: &'static str = "ssm";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_ssm::Client {
        aws.ssm().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.ssm
    }

    /// Only lookups use SSM so far: nothing of ours is tagged there.
    async fn retag(
        _cx: &Call<'_, Self>,
        key: &str,
        _set: &Tags,
        _remove: &[String],
    ) -> Result<(), ProviderError> {
        Err(ProviderError::Fatal(format!(
            "SSM object {key}: morket-stack manages no SSM objects (lookups only)"
        )))
    }
}
