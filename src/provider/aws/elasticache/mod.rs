//! ElastiCache resource types and the service as the call helper sees it:
//! objects are named by their names, tagged by ARN.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticache::types::Tag;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::{Tags, URN_TAG};
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod parameter_group;
pub mod replication_group;
pub mod subnet_group;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<subnet_group::SubnetGroup>::new(aws.clone()))
        .register(Typed::<parameter_group::ParameterGroup>::new(aws.clone()))
        .register(Typed::<replication_group::ReplicationGroup>::new(aws));
}

/// ElastiCache as the call helper sees it; tags go by ARN.
pub struct ElastiCache;

#[async_trait]
impl Service for ElastiCache {
    type Client = aws_sdk_elasticache::Client;
    const NAME: &'static str = "elasticache";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_elasticache::Client {
        aws.elasticache().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.elasticache
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("RemoveTagsFromResource", |c| {
                c.remove_tags_from_resource()
                    .resource_name(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("AddTagsToResource", |c| {
                c.add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

impl Call<'_, ElastiCache> {
    /// Every tag for the create call: defaults, own tags, engine tags.
    pub fn create_tags(&self, own: &Tags) -> Vec<Tag> {
        to_tags(&self.all_tags(own))
    }

    /// All live tags of the object with this ARN; none when it is gone.
    pub async fn live_tags(&self, arn: &str) -> Result<Tags, ProviderError> {
        let out = self
            .find("ListTagsForResource", |c| {
                c.list_tags_for_resource().resource_name(arn).send()
            })
            .await?;
        Ok(out.map(|o| from_tags(o.tag_list())).unwrap_or_default())
    }

    /// The names among `(name, arn)` whose object carries this resource's URN tag.
    pub async fn tagged(&self, objects: &[(&str, &str)]) -> Result<Vec<String>, ProviderError> {
        let mut ours = Vec::new();
        for (name, arn) in objects {
            let tags = self.live_tags(arn).await?;
            if tags
                .get(URN_TAG)
                .is_some_and(|v| self.ctx.urn_tag_matches(v))
            {
                ours.push(name.to_string());
            }
        }
        Ok(ours)
    }
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

pub(crate) use crate::provider::require_all;

pub(crate) use crate::provider::require_opt;

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

/// A description: ElastiCache refuses an empty one.
pub(crate) fn check_description(description: &str) -> Result<(), ProviderError> {
    if description.is_empty() {
        return Err(ProviderError::invalid(
            "description",
            "\"\"",
            "must not be empty",
        ));
    }
    Ok(())
}
