//! Amazon OpenSearch Service resource types and their shared helpers.

use std::sync::Arc;

use aws_sdk_opensearch::types::Tag;

use super::error;
use super::tags::{self, Tags};
use super::Aws;
use crate::provider::{Ctx, ProviderError, Registry};

pub mod domain;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(domain::DomainProvider::new(aws));
}

pub fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

pub fn from_tags(t: &[Tag]) -> Tags {
    t.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Every tag of a create call: defaults + own + engine tags.
pub fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> Vec<Tag> {
    to_tags(&tags::merged(&aws.settings.default_tags, own, ctx))
}

pub(crate) async fn list_tags(aws: &Aws, ctx: &Ctx, arn: &str) -> Result<Tags, ProviderError> {
    aws.limits.opensearch.acquire().await;
    let out = aws
        .opensearch()
        .await
        .list_tags()
        .arn(arn)
        .send()
        .await
        .map_err(|e| error::map(&ctx.urn, "ListTags", e))?;
    Ok(from_tags(out.tag_list()))
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
    let os = aws.opensearch().await;
    if !remove.is_empty() {
        aws.limits.opensearch.acquire().await;
        os.remove_tags()
            .arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "RemoveTags", e))?;
    }
    if !set.is_empty() {
        aws.limits.opensearch.acquire().await;
        os.add_tags()
            .arn(arn)
            .set_tag_list(Some(to_tags(&set)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "AddTags", e))?;
    }
    Ok(())
}
