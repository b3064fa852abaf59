//! ECR resource types (repositories, their lifecycle and access policies)
//! and their shared helpers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecr::types::{Repository as EcrRepository, Tag};

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod lifecycle_policy;
pub mod repository;
pub mod repository_policy;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<repository::Repository>::new(aws.clone()))
        .register(Typed::<lifecycle_policy::LifecyclePolicy>::new(aws.clone()))
        .register(Typed::<repository_policy::RepositoryPolicy>::new(aws));
}

/// ECR as the call helper sees it; tags go by repository ARN.
pub struct Ecr;

#[async_trait]
impl Service for Ecr {
    type Client = aws_sdk_ecr::Client;
    const NAME: &'static str = "ecr";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_ecr::Client {
        aws.ecr().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.ecr
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

/// The repository of exactly this name, if it exists.
pub(crate) async fn describe(
    cx: &Call<'_, Ecr>,
    name: &str,
) -> Result<Option<EcrRepository>, ProviderError> {
    let out = cx
        .find("DescribeRepositories", |c| {
            c.describe_repositories().repository_names(name).send()
        })
        .await?;
    Ok(out.and_then(|o| {
        o.repositories()
            .iter()
            .find(|r| r.repository_name() == Some(name))
            .cloned()
    }))
}

pub(crate) async fn live_tags(cx: &Call<'_, Ecr>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource_arn(arn).send()
        })
        .await?;
    Ok(from_tags(out.tags()))
}

/// Repository names: 2 to 256 characters, lowercase letters, digits and
/// `._-/` between alphanumerics (namespaces with `/`).
pub fn check_repository_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let b = name.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (2..=256).contains(&b.len())
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&c| alnum(c) || b"._-/".contains(&c))
        && !b
            .windows(2)
            .any(|w| !(alnum(w[0]) || alnum(w[1]) || w == b"__"));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{name:?}"),
            "2 to 256 characters: lowercase letters and digits, separated by single '.', '-', '/', or '_'/'__'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in ["morket/backend", "ab", "a.b-c_d", "a__b"] {
            assert!(check_repository_name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["a", "Morket", "-a", "a/", "a//b", "a b"] {
            let e = check_repository_name("name", bad).unwrap_err().to_string();
            assert!(e.contains("name") && e.contains(bad), "{e}");
        }
    }
}
