//! ECS resource types (cluster, task definition, service) and their shared
//! helpers (tags, known inputs).

use std::sync::Arc;

use aws_sdk_ecs::types::Tag;

use super::error;
use super::tags::{self, Tags};
use super::Aws;
use crate::model::Input;
use crate::provider::{Ctx, ProviderError, Registry};

pub mod cluster;
pub mod service;
pub mod task_definition;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(cluster::ClusterProvider::new(aws.clone()))
        .register(task_definition::TaskDefinitionProvider::new(aws.clone()))
        .register(service::ServiceProvider::new(aws));
}

pub fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_tags(t: &[Tag]) -> Tags {
    t.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// Every tag for the create call: defaults, own, `morket:stack`, `morket:urn`.
pub(crate) fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> Vec<Tag> {
    to_tags(&tags::merged(&aws.settings.default_tags, own, ctx))
}

/// True when the live tags carry this resource's URN.
pub(crate) fn has_urn(live: &[Tag], ctx: &Ctx) -> bool {
    live.iter().any(|t| {
        t.key() == Some(tags::URN_TAG) && t.value().is_some_and(|v| ctx.urn_tag_matches(v))
    })
}

/// The value of an input that must be known at apply time.
pub(crate) fn known(field: &str, i: &Input<String>) -> Result<String, ProviderError> {
    i.known()
        .cloned()
        .ok_or_else(|| ProviderError::invalid(field, "(unknown)", "must be known at apply time"))
}

/// Applies a change of the resource's own tags with TagResource/UntagResource.
pub(crate) async fn update_tags(
    aws: &Aws,
    ctx: &Ctx,
    arn: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tags::own_changes(&aws.settings.default_tags, old, new, ctx);
    let ecs = aws.ecs().await;
    if !remove.is_empty() {
        aws.limits.ecs.acquire().await;
        ecs.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "UntagResource", e))?;
    }
    if !set.is_empty() {
        aws.limits.ecs.acquire().await;
        ecs.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(to_tags(&set)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "TagResource", e))?;
    }
    Ok(())
}
