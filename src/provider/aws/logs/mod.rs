//! CloudWatch Logs resource types (log groups, metric filters, resource
//! policies) and their shared helpers.

use std::sync::Arc;

use async_trait::async_trait;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod log_group;
pub mod metric_filter;
pub mod resource_policy;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<log_group::LogGroup>::new(aws.clone()));
    registry.register(Typed::<metric_filter::MetricFilter>::new(aws.clone()));
    registry.register(Typed::<resource_policy::ResourcePolicy>::new(aws));
}

/// CloudWatch Logs as the call helper sees it; tags go by ARN.
pub struct Logs;

#[async_trait]
impl Service for Logs {
    type Client = aws_sdk_cloudwatchlogs::Client;
    const NAME: &'static str = "logs";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_cloudwatchlogs::Client {
        aws.logs().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.logs
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("UntagResource", |c| {
                c.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagResource", |c| {
                c.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The values `retention_in_days` may take (CloudWatch refuses others).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Log group names: 1 to 512 characters of a-z, A-Z, 0-9 and `._-/#`.
pub fn check_log_group_name(field: &str, name: &str) -> Result<(), ProviderError> {
    super::validate::name_chars(
        field,
        name,
        1..=512,
        "._-/#",
        "1 to 512 characters of a-z, A-Z, 0-9, '.', '_', '-', '/', '#'",
    )
}
