//! SNS resource types (topics, subscriptions) and their shared helpers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod topic;
pub mod topic_subscription;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<topic::Topic>::new(aws.clone()));
    registry.register(Typed::<topic_subscription::TopicSubscription>::new(aws));
}

/// SNS as the call helper sees it; tags go by topic ARN.
pub struct Sns;

#[async_trait]
impl Service for Sns {
    type Client = aws_sdk_sns::Client;
    const NAME: &'static str = "sns";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_sns::Client {
        aws.sns().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.sns
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

/// The tags of a topic.
pub async fn live_tags(cx: &Call<'_, Sns>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource_arn(arn).send()
        })
        .await?;
    Ok(from_tags(out.tags()))
}
