//! `aws:wafv2/WebAclAssociation` (Terraform `aws_wafv2_web_acl_association`):
//! a REGIONAL web ACL in front of an ALB (or API Gateway stage, AppSync
//! API, Cognito user pool, App Runner service). Both ARNs force a
//! replacement. Its id is Terraform's, `<web ACL ARN>,<resource ARN>`.
//!
//! A resource has at most one web ACL, and associating is idempotent, so
//! the association has no tags and is found again by its resource. Another
//! ACL on the resource now (set by hand) reads as this association gone,
//! so the next `up` associates ours again: a replacement, made before the
//! old one is deleted, would take ours off again.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_acl_arn, Wafv2, UNAVAILABLE};
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebAclAssociation {
    /// The protected resource (an ALB: `Resource<LoadBalancer>::arn()`).
    pub resource_arn: Input<String>,
    /// `Resource<WebAcl>::arn()`.
    pub web_acl_arn: Input<String>,
}

impl WebAclAssociation {
    pub fn new(
        web_acl_arn: impl Into<Input<String>>,
        resource_arn: impl Into<Input<String>>,
    ) -> Self {
        WebAclAssociation {
            resource_arn: resource_arn.into(),
            web_acl_arn: web_acl_arn.into(),
        }
    }
}

impl ResourceArgs for WebAclAssociation {
    const TYPE: &'static str = "aws:wafv2/WebAclAssociation";
}

/// The services whose resources take a regional web ACL, and the resource
/// part each begins with.
const PROTECTABLE: &[(&str, &str)] = &[
    ("elasticloadbalancing", "loadbalancer/app/"),
    ("apigateway", "/restapis/"),
    ("appsync", "apis/"),
    ("cognito-idp", "userpool/"),
    ("apprunner", "service/"),
    ("ec2", "verified-access-instance/"),
    ("amplify", "apps/"),
];

fn check_resource_arn(arn: &str) -> Result<(), ProviderError> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = p.len() == 6
        && p[0] == "arn"
        && PROTECTABLE
            .iter()
            .any(|(svc, prefix)| p[2] == *svc && p[5].starts_with(prefix));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            "resource_arn",
            format!("{arn:?}"),
            "expected the ARN of an application load balancer (loadbalancer/app/...), API Gateway stage, AppSync API, Cognito user pool, App Runner service, Verified Access instance or Amplify app (network load balancers take no web ACL)",
        ))
    }
}

/// `(web ACL ARN, resource ARN)` of an id; ARNs hold no commas.
fn parts(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(',').ok_or_else(|| {
        ProviderError::Fatal(format!(
            "{id:?} is not a web ACL association id (<web ACL ARN>,<resource ARN>)"
        ))
    })
}

/// The ARN of the web ACL `resource` has now, if any.
async fn acl_of(cx: &Call<'_, Wafv2>, resource: &str) -> Result<Option<String>, ProviderError> {
    Ok(cx
        .find("GetWebACLForResource", |c| {
            c.get_web_acl_for_resource().resource_arn(resource).send()
        })
        .await?
        .and_then(|o| o.web_acl().map(|a| a.arn().to_string())))
}

#[async_trait]
impl AwsResource for WebAclAssociation {
    type Service = Wafv2;
    const SCHEMA: Schema = Schema {
        force_new: &["resource_arn", "web_acl_arn"],
        terraform: &[Tf {
            resource: "aws_wafv2_web_acl_association",
            args: &[
                ("resource_arn", "resource_arn"),
                ("web_acl_arn", "web_acl_arn"),
            ],
            import_id: "{web_acl_arn},{resource_arn}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(a) = self.web_acl_arn.known() {
            check_acl_arn("web_acl_arn", a)?;
        }
        if let Some(r) = self.resource_arn.known() {
            check_resource_arn(r)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Wafv2>) -> Result<String, ProviderError> {
        let acl = self.web_acl_arn.require("web_acl_arn")?;
        let resource = self.resource_arn.require("resource_arn")?;
        // A web ACL moments old, or an ALB still provisioning, is
        // "unavailable": Terraform retries for its 10-minute create timeout.
        let wait = Retry {
            budget: 2 * UNAVAILABLE.budget,
            ..UNAVAILABLE
        };
        cx.send_retrying("AssociateWebACL", &[wait], |c| {
            c.associate_web_acl()
                .web_acl_arn(acl)
                .resource_arn(resource)
                .send()
        })
        .await?;
        Ok(format!("{acl},{resource}"))
    }

    async fn read(
        cx: &Call<'_, Wafv2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (acl, resource) = parts(id)?;
        if acl_of(cx, resource).await?.as_deref() != Some(acl) {
            return Ok(None);
        }
        Ok(Some(Live {
            args: WebAclAssociation::new(acl.to_string(), resource.to_string()),
            outputs: json!({"id": id}),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        _cx: &Call<'_, Wafv2>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        // Every input forces a replacement.
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Wafv2>, id: &str) -> Result<(), ProviderError> {
        let (acl, resource) = parts(id)?;
        // Another ACL on the resource now is not ours to take off.
        match acl_of(cx, resource).await? {
            Some(now) if now == acl => {}
            _ => return Ok(()),
        }
        cx.send("DisassociateWebACL", |c| {
            c.disassociate_web_acl().resource_arn(resource).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Wafv2>) -> Result<Vec<String>, ProviderError> {
        let (Some(acl), Some(resource)) = (self.web_acl_arn.known(), self.resource_arn.known())
        else {
            return Ok(Vec::new());
        };
        Ok(match acl_of(cx, resource).await? {
            Some(now) if &now == acl => vec![format!("{acl},{resource}")],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACL: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/morket/abc";
    const ALB: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/morket/0123";

    #[test]
    fn arns_are_checked_before_any_call() {
        WebAclAssociation::new(ACL, ALB).check().unwrap();
        let nlb = ALB.replace("/app/", "/net/");
        let e = WebAclAssociation::new(ACL, nlb.as_str())
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("resource_arn") && e.contains("loadbalancer/net/"),
            "{e}"
        );
        let e = WebAclAssociation::new("morket", ALB)
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("web_acl_arn = \"morket\""), "{e}");
        assert_eq!(parts(&format!("{ACL},{ALB}")).unwrap(), (ACL, ALB));
        assert!(parts(ACL).is_err());
    }
}
