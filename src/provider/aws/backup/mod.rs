//! AWS Backup resource types (vault, plan, selection), the `Backup` service
//! and what they share: tags by ARN and the name rules.

use std::sync::Arc;

use async_trait::async_trait;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::validate::name_chars;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod plan;
pub mod selection;
pub mod vault;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<vault::Vault>::new(aws.clone()))
        .register(Typed::<plan::Plan>::new(aws.clone()))
        .register(Typed::<selection::Selection>::new(aws));
}

/// AWS Backup as the call helper sees it; tags go by ARN.
pub struct Backup;

#[async_trait]
impl Service for Backup {
    type Client = aws_sdk_backup::Client;
    const NAME: &'static str = "backup";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_backup::Client {
        aws.backup().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.backup
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
                    .set_tag_key_list(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagResource", |c| {
                c.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

pub(crate) async fn live_tags(cx: &Call<'_, Backup>, arn: &str) -> Result<Tags, ProviderError> {
    let pages = cx
        .pages(
            "ListTags",
            cx.client()
                .await
                .list_tags()
                .resource_arn(arn)
                .into_paginator()
                .send(),
        )
        .await?;
    Ok(pages
        .iter()
        .filter_map(|p| p.tags())
        .flat_map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect())
}

/// Plan, rule and selection names: 1 to 50 letters, digits, `-`, `_`, `.`.
pub fn check_name(field: &str, name: &str) -> Result<(), ProviderError> {
    name_chars(
        field,
        name,
        1..=50,
        "-_.",
        "1 to 50 letters, digits, '-', '_' or '.'",
    )
}

/// Vault names: 2 to 50 letters, digits, `-` or `_`.
pub fn check_vault_name(field: &str, name: &str) -> Result<(), ProviderError> {
    name_chars(
        field,
        name,
        2..=50,
        "-_",
        "2 to 50 letters, digits, '-' or '_'",
    )
}
