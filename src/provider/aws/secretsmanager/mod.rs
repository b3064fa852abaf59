//! Secrets Manager resource types (secrets, their current value, rotation)
//! and their shared helpers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::model::Input;
use crate::provider::{ProviderError, Registry};

pub mod secret;
pub mod secret_rotation;
pub mod secret_version;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<secret::Secret>::new(aws.clone()))
        .register(Typed::<secret_version::SecretVersion>::new(aws.clone()))
        .register(Typed::<secret_rotation::SecretRotation>::new(aws));
}

/// Secrets Manager as the call helper sees it; tags go by secret id or ARN.
pub struct SecretsManager;

#[async_trait]
impl Service for SecretsManager {
    type Client = aws_sdk_secretsmanager::Client;
    const NAME: &'static str = "secretsmanager";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_secretsmanager::Client {
        aws.secretsmanager().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.secretsmanager
    }

    async fn retag(
        cx: &Call<'_, Self>,
        secret: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("UntagResource", |c| {
                c.untag_resource()
                    .secret_id(secret)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagResource", |c| {
                c.tag_resource()
                    .secret_id(secret)
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
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_tags(t: &[Tag]) -> Tags {
    t.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// DescribeSecret of `id` (name or ARN), deleted ones included.
pub(crate) async fn describe_any(
    cx: &Call<'_, SecretsManager>,
    id: &str,
) -> Result<Option<DescribeSecretOutput>, ProviderError> {
    cx.find("DescribeSecret", |c| {
        c.describe_secret().secret_id(id).send()
    })
    .await
}

/// The secret `id` if it exists: one scheduled for deletion (`DeletedDate`)
/// is gone for every purpose but a restore (Terraform's `findSecretByID`).
pub(crate) async fn describe(
    cx: &Call<'_, SecretsManager>,
    id: &str,
) -> Result<Option<DescribeSecretOutput>, ProviderError> {
    Ok(describe_any(cx, id)
        .await?
        .filter(|s| s.deleted_date().is_none()))
}

/// A secret named by `secret_id`: an ARN of Secrets Manager or a name.
pub(crate) fn check_secret_id(field: &str, v: &Input<String>) -> Result<(), ProviderError> {
    if let Some(s) = v.known() {
        let ok = if s.starts_with("arn:") {
            let p: Vec<&str> = s.splitn(7, ':').collect();
            p.len() == 7 && p[2] == "secretsmanager" && p[5] == "secret" && !p[6].is_empty()
        } else {
            // Secrets other services manage are named `rds!...`.
            secret_name_ok(&s.replace('!', "-"))
        };
        if !ok {
            return Err(ProviderError::invalid(
                field,
                format!("{s:?}"),
                "expected a secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>) or name",
            ));
        }
    }
    Ok(())
}

/// Secret names: 1 to 512 characters of a-z, A-Z, 0-9 and `/_+=.@-`.
pub(crate) fn secret_name_ok(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}
