//! The Resource Groups Tagging API: every object carrying the stack's
//! `morket:stack` tag, across services, in one paginated call per region
//! (drift's check for objects state does not know). Read-only. IAM objects
//! are not covered by the API; Route 53 records and other untaggable
//! objects carry no tag at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::call::Call;
use super::limits::TokenBucket;
use super::service::Service;
use super::tags::{Tags, STACK_TAG};
use super::Aws;
use crate::model::Urn;
use crate::provider::{Ctx, Inventory, ProviderError, Tagged};

/// The Tagging API as the call helper sees it.
pub struct Tagging;

#[async_trait]
impl Service for Tagging {
    type Client = aws_sdk_resourcegroupstagging::Client;
    const NAME: &'static str = "tagging";
    const CONCURRENCY: usize = 2;

    async fn client(aws: &Aws) -> &Self::Client {
        aws.tagging().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.tagging
    }

    async fn retag(
        _cx: &Call<'_, Self>,
        key: &str,
        _set: &Tags,
        _remove: &[String],
    ) -> Result<(), ProviderError> {
        Err(ProviderError::Fatal(format!(
            "{key}: the inventory only reads tags"
        )))
    }
}

/// The objects of a stack in its region and in us-east-1, where CloudFront
/// and its certificates live.
pub struct StackInventory {
    aws: Arc<Aws>,
}

impl StackInventory {
    pub fn new(aws: Arc<Aws>) -> Self {
        StackInventory { aws }
    }
}

#[async_trait]
impl Inventory for StackInventory {
    async fn tagged(&self, stack: &str) -> Result<Vec<Tagged>, ProviderError> {
        let urn = Urn::parse(&format!("{stack}::::aws:tagging/Inventory::tagged"))?;
        let ctx = Ctx::new(stack, urn);
        let mut out = Vec::new();
        for region in [None, Some("us-east-1")] {
            let aws = self.aws.in_region(region).await;
            if region.is_some() && Arc::ptr_eq(&aws, &self.aws) {
                continue;
            }
            let cx: Call<'_, Tagging> = Call::new(&aws, &ctx);
            let filter = TagFilter::builder()
                .key(STACK_TAG)
                .values(stack.to_string())
                .build();
            let stream = cx
                .client()
                .await
                .get_resources()
                .tag_filters(filter)
                .resources_per_page(100)
                .into_paginator()
                .send();
            for page in cx.pages("GetResources", stream).await? {
                for m in page.resource_tag_mapping_list() {
                    let Some(arn) = m.resource_arn() else {
                        continue;
                    };
                    let tags: BTreeMap<String, String> = m
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect();
                    out.push(Tagged {
                        arn: arn.to_string(),
                        tags,
                    });
                }
            }
        }
        Ok(out)
    }
}
