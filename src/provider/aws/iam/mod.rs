//! IAM resource types (roles, instance profiles) and their shared helpers: tags, policy
//! documents. IAM is global: one endpoint and one rate limit per account.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod instance_profile;
pub mod policy;
pub mod role;
pub mod service_linked_role;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<role::Role>::new(aws.clone()))
        .register(Typed::<instance_profile::InstanceProfile>::new(aws.clone()))
        .register(Typed::<service_linked_role::ServiceLinkedRole>::new(aws));
}

/// IAM as the call helper sees it. Its tag calls are per entity kind; the
/// types here are roles.
pub struct Iam;

#[async_trait]
impl Service for Iam {
    type Client = aws_sdk_iam::Client;
    const NAME: &'static str = "iam";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_iam::Client {
        aws.iam().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.iam
    }

    async fn retag(
        cx: &Call<'_, Self>,
        role: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("UntagRole", |c| {
                c.untag_role()
                    .role_name(role)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagRole", |c| {
                c.tag_role()
                    .role_name(role)
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// IAM for instance profiles: the same client and rate limit as [`Iam`],
/// but the tag calls of instance profiles.
pub struct InstanceProfiles;

#[async_trait]
impl Service for InstanceProfiles {
    type Client = aws_sdk_iam::Client;
    const NAME: &'static str = "iam";
    const CONCURRENCY: usize = Iam::CONCURRENCY;

    async fn client(aws: &Aws) -> &aws_sdk_iam::Client {
        aws.iam().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.iam
    }

    async fn retag(
        cx: &Call<'_, Self>,
        profile: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("UntagInstanceProfile", |c| {
                c.untag_instance_profile()
                    .instance_profile_name(profile)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagInstanceProfile", |c| {
                c.tag_instance_profile()
                    .instance_profile_name(profile)
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

/// A policy document as parsed JSON, so formatting and key order are no
/// change; text that is not JSON stays as it is.
pub fn normal_policy(s: &str) -> Value {
    serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Checks that `doc` is a JSON policy document (an object with a `Statement`).
pub fn check_policy(field: &str, doc: &str) -> Result<(), ProviderError> {
    let shown = || {
        let mut s: String = doc.chars().take(80).collect();
        if s.len() < doc.len() {
            s.push('…');
        }
        format!("{s:?}")
    };
    match serde_json::from_str::<Value>(doc) {
        Err(e) => Err(ProviderError::invalid(
            field,
            shown(),
            format!("not valid JSON: {e}"),
        )),
        Ok(Value::Object(m)) if m.contains_key("Statement") => Ok(()),
        Ok(_) => Err(ProviderError::invalid(
            field,
            shown(),
            "must be a JSON policy document: an object with a \"Statement\"",
        )),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); decodes `%XX`
/// sequences and leaves anything else, including a stray `%`, as it is.
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_decoding_and_policies() {
        assert_eq!(
            url_decode("%7B%22Version%22%3A%20%222012-10-17%22%7D"),
            r#"{"Version": "2012-10-17"}"#
        );
        assert_eq!(url_decode("caf%C3%A9 100%"), "café 100%");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(
            normal_policy(r#"{"b":1, "a": [1,2]}"#),
            normal_policy("{\n  \"a\": [1, 2],\n  \"b\": 1\n}")
        );
        assert_eq!(normal_policy("not json"), json!("not json"));
        assert!(check_policy("p", r#"{"Statement": []}"#).is_ok());
        let e = check_policy("p", "{nope").unwrap_err().to_string();
        assert!(
            e.contains("p") && e.contains("{nope") && e.contains("JSON"),
            "{e}"
        );
        let e = check_policy("p", "[1]").unwrap_err().to_string();
        assert!(e.contains("Statement"), "{e}");
    }
}
