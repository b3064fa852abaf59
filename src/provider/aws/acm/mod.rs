//! ACM resource types (certificates and their DNS validation) and their
//! shared helpers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_acm::types::Tag;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod certificate;
pub mod certificate_validation;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<certificate::Certificate>::new(aws.clone()));
    registry.register(Typed::<certificate_validation::CertificateValidation>::new(
        aws,
    ));
}

/// ACM as the call helper sees it; tags go by certificate ARN.
pub struct Acm;

#[async_trait]
impl Service for Acm {
    type Client = aws_sdk_acm::Client;
    const NAME: &'static str = "acm";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_acm::Client {
        aws.acm().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.acm
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            let keys: Vec<Tag> = remove
                .iter()
                .map(|k| Tag::builder().key(k).build().expect("key set"))
                .collect();
            cx.send("RemoveTagsFromCertificate", |c| {
                c.remove_tags_from_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(keys.clone()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("AddTagsToCertificate", |c| {
                c.add_tags_to_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// Tags as ACM takes them.
pub fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key set"))
        .collect()
}

/// The tags of a certificate.
pub async fn live_tags(cx: &Call<'_, Acm>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForCertificate", |c| {
            c.list_tags_for_certificate().certificate_arn(arn).send()
        })
        .await?;
    Ok(out
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// A certificate's domain name: at most 253 characters of letters, digits,
/// `-` and `.`, labels of 1 to 63, an optional leading `*.`, no final dot
/// (ACM's rules, and Terraform's "cannot end with a period").
pub fn check_domain(field: &str, name: &str) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{name:?}"), why.to_string());
    if name.ends_with('.') {
        return Err(bad("cannot end with a period"));
    }
    if name.is_empty() || name.len() > 253 {
        return Err(bad("must be 1 to 253 characters"));
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    let labels: Vec<&str> = rest.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("expected a fully qualified name like app.example.com"));
    }
    for l in labels {
        let ok = (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-');
        if !ok {
            return Err(bad(
                "labels are 1 to 63 letters, digits or '-' (a wildcard only as a leading '*.')",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_checked_naming_field_and_value() {
        for ok in ["example.com", "*.example.com", "a-b.c.example.com"] {
            assert!(check_domain("domain_name", ok).is_ok(), "{ok}");
        }
        for bad in [
            "example.com.",
            "localhost",
            "a..b.com",
            "a.*.com",
            "-a.com",
            "a b.com",
            "",
        ] {
            let e = check_domain("domain_name", bad).unwrap_err().to_string();
            assert!(e.contains("domain_name") && e.contains(bad), "{e}");
        }
    }
}
