//! `aws:elb/getServiceAccount` (Terraform `data "aws_elb_service_account"`):
//! who delivers a load balancer's access logs in a region, for the log
//! bucket's policy. Regions opened before August 2022 deliver from an
//! AWS-owned account; later ones from the service principal
//! `logdelivery.elasticloadbalancing.amazonaws.com`. The answer is AWS's
//! published table, so the read makes no call.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::S3;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::aws::validate::check_region;
use crate::provider::schema::Tf;
use crate::provider::ProviderError;

/// The service principal of regions without a delivery account.
pub const LOG_DELIVERY_SERVICE: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

/// Elastic Load Balancing's log-delivery accounts (AWS documentation,
/// "Access logs for your Application Load Balancer").
const ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
    ("cn-north-1", "638102146993"),
    ("cn-northwest-1", "037604701340"),
];

/// The delivery account of `region`, if it has one.
pub fn account_for(region: &str) -> Option<&'static str> {
    ACCOUNTS.iter().find(|(r, _)| *r == region).map(|(_, a)| *a)
}

/// The policy principal (`("AWS", arn)` or `("Service", name)`) that
/// delivers access logs in `region`.
pub fn principal_for(region: &str) -> (&'static str, String) {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    match account_for(region) {
        Some(a) => ("AWS", format!("arn:{partition}:iam::{a}:root")),
        None => ("Service", LOG_DELIVERY_SERVICE.to_string()),
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GetElbServiceAccount {
    /// The region (default: the stack's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl ResourceArgs for GetElbServiceAccount {
    const TYPE: &'static str = "aws:elb/getServiceAccount";
}

impl Resource<GetElbServiceAccount> {
    /// `AWS` or `Service`: the principal kind of a bucket policy statement.
    pub fn principal_type(&self) -> Output<String> {
        self.output("principal_type")
    }
    /// The account root ARN or the service principal name.
    pub fn principal(&self) -> Output<String> {
        self.output("principal")
    }
}

#[async_trait]
impl AwsLookup for GetElbServiceAccount {
    type Service = S3;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_elb_service_account",
        args: &[("region", "region")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(r) = &self.region {
            check_region("region", r)?;
        }
        Ok(())
    }

    async fn read(&self, cx: &Call<'_, S3>) -> Result<(String, Value), ProviderError> {
        let region = match &self.region {
            Some(r) => r.clone(),
            None => cx
                .aws
                .config()
                .await
                .region()
                .map(|r| r.to_string())
                .ok_or_else(|| {
                    ProviderError::invalid("region", "(unset)", "no region is configured")
                })?,
        };
        let (kind, principal) = principal_for(&region);
        let account = account_for(&region).unwrap_or_default();
        Ok((
            region.clone(),
            json!({
                "region": region,
                "account_id": account,
                "principal_type": kind,
                "principal": principal,
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_regions_name_an_account_new_ones_the_service() {
        assert_eq!(
            principal_for("us-east-1"),
            ("AWS", "arn:aws:iam::127311923021:root".to_string())
        );
        assert_eq!(
            principal_for("eu-west-1"),
            ("AWS", "arn:aws:iam::156460612806:root".to_string())
        );
        assert_eq!(
            principal_for("cn-north-1").1,
            "arn:aws-cn:iam::638102146993:root"
        );
        assert_eq!(
            principal_for("eu-central-2"),
            ("Service", LOG_DELIVERY_SERVICE.to_string())
        );
    }
}
