//! Amazon MQ resource types (RabbitMQ brokers) and their shared helpers.

use std::collections::HashMap;
use std::sync::Arc;

use super::error;
use super::tags::{self, Tags};
use super::Aws;
use crate::provider::{Ctx, ProviderError, Registry};

pub mod broker;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(broker::BrokerProvider::new(aws));
}

/// Every tag of a create call (defaults + own + engine tags), as MQ's map.
pub fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> HashMap<String, String> {
    tags::merged(&aws.settings.default_tags, own, ctx)
        .into_iter()
        .collect()
}

pub fn from_tags(t: Option<&HashMap<String, String>>) -> Tags {
    t.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Applies a change of the resource's own tags on `arn`.
pub(crate) async fn update_tags(
    aws: &Aws,
    ctx: &Ctx,
    arn: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tags::own_changes(&aws.settings.default_tags, old, new, ctx);
    let mq = aws.mq().await;
    if !remove.is_empty() {
        aws.limits.mq.acquire().await;
        mq.delete_tags()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteTags", e))?;
    }
    if !set.is_empty() {
        aws.limits.mq.acquire().await;
        mq.create_tags()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateTags", e))?;
    }
    Ok(())
}
