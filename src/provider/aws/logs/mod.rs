//! CloudWatch Logs resource types (log groups) and their shared helpers.

use std::collections::HashMap;
use std::sync::Arc;

use super::tags::{self, Tags};
use super::{error, Aws};
use crate::provider::{Ctx, ProviderError, Registry};

pub mod log_group;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(log_group::LogGroupProvider::new(aws));
}

/// The values `retention_in_days` may take (CloudWatch refuses others).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Log group names: 1 to 512 characters of a-z, A-Z, 0-9 and `._-/#`.
pub fn check_log_group_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let ok = (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{name:?}"),
            "1 to 512 characters of a-z, A-Z, 0-9, '.', '_', '-', '/', '#'",
        ))
    }
}

/// Every tag for the create call: defaults, own, engine tags.
pub(crate) fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> HashMap<String, String> {
    tags::merged(&aws.settings.default_tags, own, ctx)
        .into_iter()
        .collect()
}

/// The tags of a log group (or any CloudWatch Logs resource) by ARN.
pub(crate) async fn list_tags(aws: &Aws, ctx: &Ctx, arn: &str) -> Result<Tags, ProviderError> {
    aws.limits.logs.acquire().await;
    let out = aws
        .logs()
        .await
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| error::map(&ctx.urn, "ListTagsForResource", e))?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

pub(crate) fn has_urn(ctx: &Ctx, t: &Tags) -> bool {
    t.get(tags::URN_TAG).is_some_and(|v| ctx.urn_tag_matches(v))
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
    let logs = aws.logs().await;
    if !remove.is_empty() {
        aws.limits.logs.acquire().await;
        logs.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "UntagResource", e))?;
    }
    if !set.is_empty() {
        aws.limits.logs.acquire().await;
        logs.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "TagResource", e))?;
    }
    Ok(())
}
