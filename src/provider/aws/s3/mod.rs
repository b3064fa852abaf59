//! S3 resource types (buckets, a static site's objects) and their shared
//! helpers. A bucket's sub-configurations (versioning, encryption, ...) are
//! separate S3 calls whose "none set" answer is an error code, not an empty
//! reply.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::types::{Tag, Tagging};

use super::call::{Call, Failure};
use super::limits::TokenBucket;
use super::lookup::Looked;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod bucket;
pub mod bucket_policy;
pub mod elb_service_account;
pub mod site_sync;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<bucket::Bucket>::new(aws.clone()))
        .register(Typed::<bucket_policy::BucketPolicy>::new(aws.clone()))
        .register(Typed::<site_sync::SiteSync>::new(aws.clone()))
        .register(Looked::<elb_service_account::GetElbServiceAccount>::new(
            aws,
        ));
}

/// S3 as the call helper sees it. Its tag call replaces the whole set, so
/// retag reads the live set first.
pub struct S3;

#[async_trait]
impl Service for S3 {
    type Client = aws_sdk_s3::Client;
    const NAME: &'static str = "s3";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_s3::Client {
        aws.s3().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.s3
    }

    async fn retag(
        cx: &Call<'_, Self>,
        bucket: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        let mut tags = live_tags(cx, bucket).await?;
        for k in remove {
            tags.remove(k);
        }
        tags.extend(set.clone());
        put_tags(cx, bucket, &tags).await
    }
}

/// The answer of a call whose "not configured" is the error `absent`.
pub(crate) fn optional<O>(r: Result<O, Failure>, absent: &str) -> Result<Option<O>, ProviderError> {
    match r {
        Ok(o) => Ok(Some(o)),
        Err(f) if f.code == absent => Ok(None),
        Err(f) => Err(f.error),
    }
}

pub(crate) fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

pub(crate) async fn live_tags(cx: &Call<'_, S3>, bucket: &str) -> Result<Tags, ProviderError> {
    let out = optional(
        cx.try_send("GetBucketTagging", |c| {
            c.get_bucket_tagging().bucket(bucket).send()
        })
        .await,
        "NoSuchTagSet",
    )?;
    Ok(out
        .map(|o| {
            o.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        })
        .unwrap_or_default())
}

pub(crate) async fn put_tags(
    cx: &Call<'_, S3>,
    bucket: &str,
    tags: &Tags,
) -> Result<(), ProviderError> {
    if tags.is_empty() {
        return cx
            .send("DeleteBucketTagging", |c| {
                c.delete_bucket_tagging().bucket(bucket).send()
            })
            .await
            .map(drop);
    }
    let tagging = Tagging::builder()
        .set_tag_set(Some(to_tags(tags)))
        .build()
        .map_err(|e| ProviderError::invalid("tags", "(see reason)", e.to_string()))?;
    cx.send_retrying("PutBucketTagging", &[super::call::Retry::NEW_OBJECT], |c| {
        c.put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging.clone())
            .send()
    })
    .await
    .map(drop)
}

/// Bucket names: 3 to 63 lowercase letters, digits, dots and hyphens,
/// beginning and ending with a letter or digit, not an IP address, no `..`,
/// and none of the prefixes and suffixes S3 reserves.
pub fn check_bucket_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let bad = |why: &str| Err(ProviderError::invalid(field, format!("{name:?}"), why));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return bad("only lowercase letters, digits, '.' and '-' are allowed");
    }
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge(name.chars().next()) || !edge(name.chars().last()) {
        return bad("must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("no '..', '.-' or '-.'");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not look like an IP address");
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(p) {
            return bad(&format!("the prefix {p:?} is reserved"));
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(s) {
            return bad(&format!("the suffix {s:?} is reserved"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["morket-alb-logs", "a.b.c", "abc", "x1-2"] {
            assert!(check_bucket_name("bucket", ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Morket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
        ] {
            let e = check_bucket_name("bucket", bad).unwrap_err().to_string();
            assert!(e.contains("bucket") && e.contains(bad), "{e}");
        }
    }
}
