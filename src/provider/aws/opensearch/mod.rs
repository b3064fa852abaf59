//! Amazon OpenSearch Service resource types and the service as the call
//! helper sees it: domains are named by name, tagged by ARN.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_opensearch::types::Tag;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod domain;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<domain::Domain>::new(aws));
}

/// OpenSearch as the call helper sees it; tags go by ARN.
pub struct OpenSearch;

#[async_trait]
impl Service for OpenSearch {
    type Client = aws_sdk_opensearch::Client;
    const NAME: &'static str = "opensearch";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_opensearch::Client {
        aws.opensearch().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.opensearch
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("RemoveTags", |c| {
                c.remove_tags()
                    .arn(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("AddTags", |c| {
                c.add_tags()
                    .arn(arn)
                    .set_tag_list(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

impl Call<'_, OpenSearch> {
    /// All live tags of the domain with this ARN.
    pub async fn live_tags(&self, arn: &str) -> Result<Tags, ProviderError> {
        let out = self
            .send("ListTags", |c| c.list_tags().arn(arn).send())
            .await?;
        Ok(from_tags(out.tag_list()))
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
