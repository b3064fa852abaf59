//! AWS WAF (v2) resource types (web ACL, its association with a load
//! balancer, its logging) and the `Wafv2` service: tags by ARN, web ACL
//! ARNs taken apart, the lock token every change needs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_wafv2::types::{Scope, Tag};

use super::call::{Call, Retry};
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod logging_configuration;
pub mod web_acl;
pub mod web_acl_association;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<web_acl::WebAcl>::new(aws.clone()))
        .register(Typed::<web_acl_association::WebAclAssociation>::new(
            aws.clone(),
        ))
        .register(Typed::<logging_configuration::LoggingConfiguration>::new(
            aws,
        ));
}

/// AWS WAF as the call helper sees it; tags go by ARN.
pub struct Wafv2;

#[async_trait]
impl Service for Wafv2 {
    type Client = aws_sdk_wafv2::Client;
    const NAME: &'static str = "wafv2";
    const CONCURRENCY: usize = 4;

    async fn client(aws: &Aws) -> &aws_sdk_wafv2::Client {
        aws.wafv2().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.wafv2
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
            let tags = wire_tags(set)?;
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

/// Tags as WAF takes them.
pub(crate) fn wire_tags(tags: &Tags) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ProviderError::Fatal(e.to_string()))
        })
        .collect()
}

pub(crate) async fn live_tags(cx: &Call<'_, Wafv2>, arn: &str) -> Result<Tags, ProviderError> {
    let mut tags = Tags::new();
    let mut marker: Option<String> = None;
    loop {
        let page = cx
            .send("ListTagsForResource", |c| {
                c.list_tags_for_resource()
                    .resource_arn(arn)
                    .set_next_marker(marker.clone())
                    .send()
            })
            .await?;
        let listed = page
            .tag_info_for_resource()
            .map(|i| i.tag_list())
            .unwrap_or_default();
        for t in listed {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
        // A marker with an empty page would never end.
        match page.next_marker() {
            Some(m) if !m.is_empty() && !listed.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(tags),
        }
    }
}

/// A web ACL taken apart from its ARN
/// (`arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>`;
/// `global` for CloudFront's).
#[derive(Debug, Clone, PartialEq)]
pub struct AclRef {
    pub name: String,
    pub id: String,
    pub scope: Scope,
}

pub fn parse_acl_arn(arn: &str) -> Option<AclRef> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || p[0] != "arn" || p[2] != "wafv2" {
        return None;
    }
    let parts: Vec<&str> = p[5].split('/').collect();
    let scope = match parts.as_slice() {
        ["regional", "webacl", _, _] => Scope::Regional,
        ["global", "webacl", _, _] => Scope::Cloudfront,
        _ => return None,
    };
    let (name, id) = (parts[2], parts[3]);
    if name.is_empty() || id.is_empty() {
        return None;
    }
    Some(AclRef {
        name: name.to_string(),
        id: id.to_string(),
        scope,
    })
}

/// Checks that `arn` is a REGIONAL web ACL's ARN (a CLOUDFRONT one is set
/// on the distribution, and lives in us-east-1: not supported yet).
pub fn check_acl_arn(field: &str, arn: &str) -> Result<(), ProviderError> {
    match parse_acl_arn(arn) {
        Some(a) if a.scope == Scope::Regional => Ok(()),
        Some(_) => Err(ProviderError::invalid(
            field,
            format!("{arn:?}"),
            "a REGIONAL web ACL (a CLOUDFRONT one is set on the distribution; not supported yet)",
        )),
        None => Err(ProviderError::invalid(
            field,
            format!("{arn:?}"),
            "expected a web ACL ARN (arn:<partition>:wafv2:<region>:<account>:regional/webacl/<name>/<id>)",
        )),
    }
}

/// A web ACL created or changed moments ago, or a load balancer still
/// provisioning, is not yet usable: Terraform retries these for 5 to 10
/// minutes.
pub const UNAVAILABLE: Retry =
    Retry::conflict(&["WAFUnavailableEntityException"], Duration::from_secs(300));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_arns_come_apart() {
        let a = parse_acl_arn(
            "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/morket-staging/a1b2-c3",
        )
        .unwrap();
        assert_eq!(
            a,
            AclRef {
                name: "morket-staging".into(),
                id: "a1b2-c3".into(),
                scope: Scope::Regional
            }
        );
        let g = parse_acl_arn("arn:aws:wafv2:us-east-1:123456789012:global/webacl/cf/x").unwrap();
        assert_eq!(g.scope, Scope::Cloudfront);
        assert!(parse_acl_arn("arn:aws:wafv2:eu-west-1:1:regional/ipset/n/i").is_none());
        assert!(parse_acl_arn("morket-staging").is_none());
        let e = check_acl_arn(
            "web_acl_arn",
            "arn:aws:wafv2:us-east-1:1:global/webacl/cf/x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("web_acl_arn") && e.contains("CLOUDFRONT"), "{e}");
    }
}
