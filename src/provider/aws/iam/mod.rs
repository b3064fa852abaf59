//! IAM resource types (roles) and their shared helpers: tags, policy
//! documents. IAM is global: one endpoint and one rate limit per account.

use std::sync::Arc;

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::tags::{self, Tags};
use super::{error, Aws};
use crate::provider::{Ctx, ProviderError, Registry};

pub mod role;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(role::RoleProvider::new(aws));
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

/// Every tag for the create call: defaults, own, engine tags.
pub(crate) fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> Vec<Tag> {
    to_tags(&tags::merged(&aws.settings.default_tags, own, ctx))
}

pub(crate) fn has_urn(ctx: &Ctx, t: &[Tag]) -> bool {
    t.iter()
        .any(|t| t.key() == tags::URN_TAG && ctx.urn_tag_matches(t.value()))
}

/// Applies a change of a role's own tags (defaults and engine tags stay).
pub(crate) async fn update_role_tags(
    aws: &Aws,
    ctx: &Ctx,
    role: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tags::own_changes(&aws.settings.default_tags, old, new, ctx);
    let iam = aws.iam().await;
    if !remove.is_empty() {
        aws.limits.iam.acquire().await;
        iam.untag_role()
            .role_name(role)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "UntagRole", e))?;
    }
    if !set.is_empty() {
        aws.limits.iam.acquire().await;
        iam.tag_role()
            .role_name(role)
            .set_tags(Some(to_tags(&set)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "TagRole", e))?;
    }
    Ok(())
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
