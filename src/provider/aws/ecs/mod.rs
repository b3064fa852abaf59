//! ECS resource types (cluster, task definition, service, one-off task run)
//! and the `Ecs` service: client, rate-limit bucket, tags by ARN.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;

use super::call::{Call, Retry};
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::{self, Tags};
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod cluster;
pub mod service;
pub mod task_definition;
pub mod task_run;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<cluster::Cluster>::new(aws.clone()))
        .register(Typed::<task_definition::TaskDefinition>::new(aws.clone()))
        .register(Typed::<service::Service>::new(aws.clone()))
        .register(Typed::<task_run::TaskRun>::new(aws));
}

/// ECS as the call helper sees it; tags go by ARN.
pub struct Ecs;

#[async_trait]
impl Service for Ecs {
    type Client = aws_sdk_ecs::Client;
    const NAME: &'static str = "ecs";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_ecs::Client {
        aws.ecs().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.ecs
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
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// ECS answers a create naming capacity providers, or any CreateService,
/// this way while the account's `AWSServiceRoleForECS` is missing or new
/// (declare `aws:iam/ServiceLinkedRole` for `ecs.amazonaws.com` and depend
/// on it); Terraform retries it for the IAM propagation time.
pub(crate) const LINKED_ROLE: Retry = Retry::propagation(
    "InvalidParameterException",
    "Unable to assume the service linked role",
);

impl Call<'_, Ecs> {
    /// Every tag for the create call (defaults, own, engine tags), so the
    /// object is never untagged.
    pub fn create_tags(&self, own: &Tags) -> Vec<Tag> {
        to_tags(&self.all_tags(own))
    }

    /// Whether live tags carry this resource's URN.
    pub fn is_ours(&self, live: &Tags) -> bool {
        live.get(tags::URN_TAG)
            .is_some_and(|v| self.ctx.urn_tag_matches(v))
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

/// ECS names: 1 to 255 letters, digits, hyphens and underscores.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let ok = (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{name:?}"),
            "1 to 255 letters, digits, hyphens and underscores",
        ))
    }
}
