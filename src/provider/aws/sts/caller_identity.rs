//! `aws:sts/getCallerIdentity` (Terraform `data "aws_caller_identity"`):
//! the account the credentials belong to, for ARNs and policies that must
//! name it (an OpenSearch access policy).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Sts;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::schema::Tf;
use crate::provider::ProviderError;

/// No inputs: the answer depends on the credentials alone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCallerIdentity {}

impl ResourceArgs for GetCallerIdentity {
    const TYPE: &'static str = "aws:sts/getCallerIdentity";
}

impl Resource<GetCallerIdentity> {
    /// The 12-digit account id.
    pub fn account_id(&self) -> Output<String> {
        self.output("account_id")
    }
    /// `aws`, `aws-cn` or `aws-us-gov`: the first part of every ARN.
    pub fn partition(&self) -> Output<String> {
        self.output("partition")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

#[async_trait]
impl AwsLookup for GetCallerIdentity {
    type Service = Sts;
    const TERRAFORM: &'static [Tf] = &[
        Tf {
            resource: "aws_caller_identity",
            args: &[],
            import_id: "",
        },
        // The partition is not an attribute of the caller identity.
        Tf {
            resource: "aws_partition",
            args: &[],
            import_id: "",
        },
    ];
    const TF_ATTRS: &'static [(&'static str, &'static str)] =
        &[("partition", ">aws_partition.partition")];

    fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn read(&self, cx: &Call<'_, Sts>) -> Result<(String, Value), ProviderError> {
        let out = cx
            .send("GetCallerIdentity", |c| c.get_caller_identity().send())
            .await?;
        let account = out.account().unwrap_or_default().to_string();
        let arn = out.arn().unwrap_or_default();
        let partition = arn.split(':').nth(1).unwrap_or("aws");
        Ok((
            account.clone(),
            json!({
                "account_id": account,
                "arn": arn,
                "user_id": out.user_id(),
                "partition": partition,
            }),
        ))
    }
}
