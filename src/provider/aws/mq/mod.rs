//! Amazon MQ resource types (RabbitMQ brokers) and the service as the call
//! helper sees it: brokers are named by id, tagged by ARN.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod broker;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<broker::Broker>::new(aws));
}

/// Amazon MQ as the call helper sees it; tags go by ARN.
pub struct Mq;

#[async_trait]
impl Service for Mq {
    type Client = aws_sdk_mq::Client;
    const NAME: &'static str = "mq";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_mq::Client {
        aws.mq().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.mq
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("DeleteTags", |c| {
                c.delete_tags()
                    .resource_arn(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("CreateTags", |c| {
                c.create_tags()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

pub fn from_tags(t: Option<&HashMap<String, String>>) -> Tags {
    t.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}
