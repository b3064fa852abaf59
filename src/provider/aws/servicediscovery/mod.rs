//! Cloud Map resource types (private DNS namespace, service), the
//! `ServiceDiscovery` service and what both share: tags by ARN and the wait
//! on an asynchronous operation.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_servicediscovery::types::{Operation, OperationTargetType, Tag};

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::wait::{Seen, Wait};
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod private_dns_namespace;
pub mod service;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<private_dns_namespace::PrivateDnsNamespace>::new(
            aws.clone(),
        ))
        .register(Typed::<service::Service>::new(aws));
}

/// Cloud Map as the call helper sees it; tags go by ARN.
pub struct ServiceDiscovery;

#[async_trait]
impl Service for ServiceDiscovery {
    type Client = aws_sdk_servicediscovery::Client;
    const NAME: &'static str = "servicediscovery";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_servicediscovery::Client {
        aws.servicediscovery().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.servicediscovery
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
            let tags = to_tags(set);
            cx.send("TagResource", |c| {
                c.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

pub(crate) fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value")
        })
        .collect()
}

pub(crate) async fn live_tags(
    cx: &Call<'_, ServiceDiscovery>,
    arn: &str,
) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource_arn(arn).send()
        })
        .await?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// Waits for Cloud Map operation `id` to succeed (Terraform's
/// `waitOperationSucceeded`: SUBMITTED and PENDING until SUCCESS); a failed
/// operation is an error with AWS's code and message. Returns the
/// operation's target of `kind` (the namespace a create made).
pub(crate) async fn wait_operation(
    cx: &Call<'_, ServiceDiscovery>,
    what: &str,
    id: &str,
    kind: OperationTargetType,
) -> Result<Option<String>, ProviderError> {
    let op: Operation = Wait::new(what, &["SUBMITTED", "PENDING"], &["SUCCESS"])
        .after_create()
        .until(cx.settings(), || async {
            let Some(out) = cx
                .find("GetOperation", |c| {
                    c.get_operation().operation_id(id).send()
                })
                .await?
            else {
                return Ok(Seen::Gone);
            };
            let Some(op) = out.operation().cloned() else {
                return Ok(Seen::Gone);
            };
            let status = op
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if status == "FAIL" {
                return Err(ProviderError::Fatal(format!(
                    "{what}: operation {id} failed: {}: {}",
                    op.error_code().unwrap_or_default(),
                    op.error_message().unwrap_or_default()
                )));
            }
            Ok(Seen::State(status, op))
        })
        .await?;
    Ok(op.targets().and_then(|t| t.get(&kind)).cloned())
}
