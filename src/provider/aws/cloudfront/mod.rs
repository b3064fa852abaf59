//! CloudFront resource types (origin access controls, distributions, the
//! response headers policy lookup) and
//! their shared helpers. CloudFront is a global service: its API lives in
//! us-east-1 whatever the stack's region, and every change names the
//! object's current ETag (`IfMatch`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{Tag, TagKeys, Tags as CfTags};

use super::call::{Call, Failure};
use super::limits::TokenBucket;
use super::lookup::Looked;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod distribution;
pub mod get_response_headers_policy;
pub mod origin_access_control;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<origin_access_control::OriginAccessControl>::new(
            aws.clone(),
        ))
        .register(Typed::<distribution::Distribution>::new(aws.clone()))
        .register(Looked::<
            get_response_headers_policy::GetResponseHeadersPolicy,
        >::new(aws));
}

/// CloudFront as the call helper sees it; tags go by ARN.
pub struct CloudFront;

#[async_trait]
impl Service for CloudFront {
    type Client = aws_sdk_cloudfront::Client;
    const NAME: &'static str = "cloudfront";
    const CONCURRENCY: usize = 4;

    async fn client(aws: &Aws) -> &aws_sdk_cloudfront::Client {
        aws.cloudfront().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.cloudfront
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            let keys = TagKeys::builder().set_items(Some(remove.to_vec())).build();
            cx.send("UntagResource", |c| {
                c.untag_resource()
                    .resource(arn)
                    .tag_keys(keys.clone())
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            let tags = to_tags(set);
            cx.send("TagResource", |c| {
                c.tag_resource().resource(arn).tags(tags.clone()).send()
            })
            .await?;
        }
        Ok(())
    }
}

pub(crate) fn to_tags(t: &Tags) -> CfTags {
    CfTags::builder()
        .set_items(Some(
            t.iter()
                .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                .collect(),
        ))
        .build()
}

/// The tags on the object `arn`.
pub(crate) async fn live_tags(cx: &Call<'_, CloudFront>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource(arn).send()
        })
        .await?;
    Ok(out
        .tags()
        .map(|t| {
            t.items()
                .iter()
                .map(|t| {
                    (
                        t.key().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// CloudFront's not-found codes are `NoSuch<Thing>`, which the shared error
/// map does not know: the answer of a get, `None` when the object is gone.
pub(crate) fn found<O>(r: Result<O, Failure>) -> Result<Option<O>, ProviderError> {
    match r {
        Ok(o) => Ok(Some(o)),
        Err(f) if is_gone(&f) => Ok(None),
        Err(f) => Err(f.error),
    }
}

/// A failure that says the object does not exist.
pub(crate) fn is_gone(f: &Failure) -> bool {
    f.code.starts_with("NoSuch") || matches!(f.error, ProviderError::NotFound(_))
}

/// Values a set-valued field holds live, in the declared order when they are
/// the same set (CloudFront does not keep the order of a set).
pub(crate) fn as_declared<T: Clone + PartialEq>(live: Vec<T>, declared: &[T]) -> Vec<T> {
    let same = live.len() == declared.len()
        && live.iter().all(|l| declared.contains(l))
        && declared.iter().all(|d| live.contains(d));
    if same {
        declared.to_vec()
    } else {
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_keep_the_declared_order_only_when_equal() {
        let d = vec!["GET", "HEAD"];
        assert_eq!(as_declared(vec!["HEAD", "GET"], &d), d);
        assert_eq!(
            as_declared(vec!["HEAD", "GET", "OPTIONS"], &d),
            vec!["HEAD", "GET", "OPTIONS"]
        );
        assert_eq!(as_declared(vec!["HEAD"], &d), vec!["HEAD"]);
    }
}
