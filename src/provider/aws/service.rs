//! One AWS service as the call helper sees it: its client, its rate-limit
//! buckets, how many of its operations run at once, and its tag API. Each
//! service module implements it once (`ec2::Ec2`, ...), so a type file never
//! names a bucket or writes tag calls.

use async_trait::async_trait;

use super::call::Call;
use super::limits::TokenBucket;
use super::tags::Tags;
use super::Aws;
use crate::provider::ProviderError;

#[async_trait]
pub trait Service: Sized + Send + Sync + 'static {
    type Client: Send + Sync + 'static;
    /// Short name, for logs and the engine's per-service concurrency.
    const NAME: &'static str;
    /// Operations of this service in flight at once (on top of `--parallel`).
    const CONCURRENCY: usize;

    async fn client(aws: &Aws) -> &Self::Client;

    /// The rate-limit bucket a request of `op` takes its token from.
    fn bucket<'a>(aws: &'a Aws, op: &str) -> &'a TokenBucket;

    /// Sets `set` and removes `remove` on the object named `key` (an id or an
    /// ARN, as the service names objects in its tag calls).
    async fn retag(
        cx: &Call<'_, Self>,
        key: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError>;
}
