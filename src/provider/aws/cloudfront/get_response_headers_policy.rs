//! `aws:cloudfront/getResponseHeadersPolicy` (Terraform `data
//! "aws_cloudfront_response_headers_policy"`): a response headers policy by
//! name, AWS's managed ones (`Managed-SecurityHeadersPolicy`: HSTS,
//! X-Content-Type-Options, X-Frame-Options, Referrer-Policy, X-XSS-Protection)
//! or the account's own. Outputs its id, what a cache behavior takes.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::CloudFront;
use crate::model::ResourceArgs;
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::schema::Tf;
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GetResponseHeadersPolicy {
    /// The policy's name, e.g. `Managed-SecurityHeadersPolicy`.
    pub name: String,
}

impl GetResponseHeadersPolicy {
    pub fn named(name: &str) -> Self {
        GetResponseHeadersPolicy { name: name.into() }
    }
}

impl ResourceArgs for GetResponseHeadersPolicy {
    const TYPE: &'static str = "aws:cloudfront/getResponseHeadersPolicy";
}

#[async_trait]
impl AwsLookup for GetResponseHeadersPolicy {
    type Service = CloudFront;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_cloudfront_response_headers_policy",
        args: &[("name", "name")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        let n = &self.name;
        if n.is_empty() || n.len() > 128 {
            return Err(ProviderError::invalid(
                "name",
                format!("{n:?}"),
                "1 to 128 characters, e.g. \"Managed-SecurityHeadersPolicy\"",
            ));
        }
        Ok(())
    }

    async fn read(&self, cx: &Call<'_, CloudFront>) -> Result<(String, Value), ProviderError> {
        // Managed and custom ones in one list, a page at a time.
        let mut marker: Option<String> = None;
        loop {
            let out = cx
                .send("ListResponseHeadersPolicies", |c| {
                    c.list_response_headers_policies()
                        .set_marker(marker.clone())
                        .send()
                })
                .await?;
            let list = out.response_headers_policy_list();
            let found = list.into_iter().flat_map(|l| l.items()).find(|s| {
                s.response_headers_policy()
                    .and_then(|p| p.response_headers_policy_config())
                    .is_some_and(|c| c.name() == self.name)
            });
            if let Some(p) = found.and_then(|s| s.response_headers_policy()) {
                let id = p.id().to_string();
                return Ok((
                    id.clone(),
                    json!({"id": id, "name": self.name, "type": found.map(|s| s.r#type().as_str())}),
                ));
            }
            match list.and_then(|l| l.next_marker()) {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => {
                    return Err(ProviderError::invalid(
                        "name",
                        format!("{:?}", self.name),
                        "no CloudFront response headers policy (managed or this account's) has this name",
                    ))
                }
            }
        }
    }
}
