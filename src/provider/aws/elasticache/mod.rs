//! ElastiCache resource types and their shared helpers (tags by ARN).

use std::sync::Arc;

use aws_sdk_elasticache::types::Tag;

use super::error;
use super::tags::{self, Tags};
use super::Aws;
use crate::provider::{Ctx, ProviderError, Registry};

pub mod parameter_group;
pub mod replication_group;
pub mod subnet_group;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(subnet_group::SubnetGroupProvider::new(aws.clone()));
    registry.register(parameter_group::ParameterGroupProvider::new(aws.clone()));
    registry.register(replication_group::ReplicationGroupProvider::new(aws));
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

/// Every tag for the create call: defaults, own tags, engine tags.
pub(crate) fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> Vec<Tag> {
    to_tags(&tags::merged(&aws.settings.default_tags, own, ctx))
}

/// Live tags of the resource with this ARN.
pub(crate) async fn list_tags(aws: &Aws, ctx: &Ctx, arn: &str) -> Result<Tags, ProviderError> {
    aws.limits.elasticache.acquire().await;
    let out = aws
        .elasticache()
        .await
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| error::map(&ctx.urn, "ListTagsForResource", e))?;
    Ok(from_tags(out.tag_list()))
}

/// Whether the live resource with this ARN carries `morket:urn` = ctx.urn.
pub(crate) async fn has_urn_tag(aws: &Aws, ctx: &Ctx, arn: &str) -> Result<bool, ProviderError> {
    match list_tags(aws, ctx, arn).await {
        Ok(t) => Ok(t.get(tags::URN_TAG).is_some_and(|v| ctx.urn_tag_matches(v))),
        Err(ProviderError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Applies a change of the resource's own tags (defaults and engine tags stay).
pub(crate) async fn update_tags(
    aws: &Aws,
    ctx: &Ctx,
    arn: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tags::own_changes(&aws.settings.default_tags, old, new, ctx);
    let client = aws.elasticache().await;
    if !remove.is_empty() {
        aws.limits.elasticache.acquire().await;
        client
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "RemoveTagsFromResource", e))?;
    }
    if !set.is_empty() {
        aws.limits.elasticache.acquire().await;
        client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(to_tags(&set)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "AddTagsToResource", e))?;
    }
    Ok(())
}

/// `Ok(None)` for a NotFound error, the value otherwise.
pub(crate) fn none_if_missing<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Names of cache subnet groups and parameter groups: 1-255 characters,
/// letters, digits and hyphens, starting with a letter, no `--`, no trailing `-`.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{name:?}"), why.to_string());
    if name.is_empty() || name.len() > 255 {
        return Err(bad("must be 1 to 255 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(bad("must start with a letter"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad("only letters, digits and hyphens"));
    }
    if name.contains("--") || name.ends_with('-') {
        return Err(bad("no two consecutive hyphens and no trailing hyphen"));
    }
    Ok(())
}
