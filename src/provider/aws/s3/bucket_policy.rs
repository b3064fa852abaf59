//! `aws:s3/BucketPolicy` (Terraform `aws_s3_bucket_policy`): a bucket's
//! policy as a resource of its own, for policies that name objects made after
//! the bucket (a CloudFront distribution's ARN in an origin-access condition)
//! and would otherwise make a cycle. A bucket declares its policy either here
//! or in `Bucket::policy`, not both. The bucket is the identity.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{optional, S3};
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::iam::{check_policy, normal_policy};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::{field_diff, Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BucketPolicy {
    /// The bucket's name.
    pub bucket: Input<String>,
    /// The policy, a JSON document (compared parsed).
    pub policy: Input<String>,
}

impl BucketPolicy {
    pub fn new(bucket: impl Into<Input<String>>, policy: impl Into<Input<String>>) -> Self {
        BucketPolicy {
            bucket: bucket.into(),
            policy: policy.into(),
        }
    }
}

impl ResourceArgs for BucketPolicy {
    const TYPE: &'static str = "aws:s3/BucketPolicy";
}

fn normalized(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(s) = v.get("policy").and_then(Value::as_str) {
        v["policy"] = normal_policy(s);
    }
    v
}

async fn live_policy(cx: &Call<'_, S3>, bucket: &str) -> Result<Option<String>, ProviderError> {
    match cx
        .try_send("GetBucketPolicy", |c| {
            c.get_bucket_policy().bucket(bucket).send()
        })
        .await
    {
        Err(f) if matches!(f.error, ProviderError::NotFound(_)) => Ok(None),
        r => Ok(optional(r, "NoSuchBucketPolicy")?.and_then(|o| o.policy().map(str::to_string))),
    }
}

async fn put(cx: &Call<'_, S3>, bucket: &str, doc: &str) -> Result<(), ProviderError> {
    // A principal just created (a role, a distribution) can take a while to
    // be accepted, as Terraform retries.
    cx.send_retrying(
        "PutBucketPolicy",
        &[
            Retry::NEW_OBJECT,
            Retry::propagation("MalformedPolicy", "Invalid principal"),
        ],
        |c| c.put_bucket_policy().bucket(bucket).policy(doc).send(),
    )
    .await
    .map(drop)
}

#[async_trait]
impl AwsResource for BucketPolicy {
    type Service = S3;
    const SCHEMA: Schema = Schema {
        force_new: &["bucket"],
        normalize: &[("policy", Norm::Json)],
        terraform: &[Tf {
            resource: "aws_s3_bucket_policy",
            args: &[("bucket", "bucket"), ("policy", "policy")],
            import_id: "{bucket}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(b) = self.bucket.known() {
            super::check_bucket_name("bucket", b)?;
        }
        if let Some(p) = self.policy.known() {
            check_policy("policy", p)?;
        }
        Ok(())
    }

    fn diff(old: &Value, new: &Value) -> Diff {
        field_diff(&normalized(old), &normalized(new), Self::SCHEMA.force_new)
    }

    async fn create(&self, cx: &Call<'_, S3>) -> Result<String, ProviderError> {
        let bucket = self.bucket.require("bucket")?;
        put(cx, bucket, self.policy.require("policy")?).await?;
        Ok(bucket.clone())
    }

    async fn read(
        cx: &Call<'_, S3>,
        bucket: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(doc) = live_policy(cx, bucket).await? else {
            return Ok(None);
        };
        // The declared text when it means the same (S3 reformats it).
        let doc = match declared.policy.known() {
            Some(d) if normal_policy(d) == normal_policy(&doc) => d.clone(),
            _ => doc,
        };
        Ok(Some(Live {
            args: BucketPolicy {
                bucket: Input::Value(bucket.to_string()),
                policy: Input::Value(doc),
            },
            outputs: json!({"id": bucket, "bucket": bucket}),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        cx: &Call<'_, S3>,
        bucket: &str,
    ) -> Result<(), ProviderError> {
        put(cx, bucket, self.policy.require("policy")?).await
    }

    async fn delete(&self, cx: &Call<'_, S3>, bucket: &str) -> Result<(), ProviderError> {
        cx.send("DeleteBucketPolicy", |c| {
            c.delete_bucket_policy().bucket(bucket).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, S3>) -> Result<Vec<String>, ProviderError> {
        // Policies carry no tags: ours is the bucket's policy when it is the
        // one declared (what an interrupted create left); any other policy
        // is someone else's and is left alone.
        let (Some(bucket), Some(doc)) = (self.bucket.known(), self.policy.known()) else {
            return Ok(Vec::new());
        };
        Ok(match live_policy(cx, bucket).await? {
            Some(live) if normal_policy(&live) == normal_policy(doc) => vec![bucket.clone()],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    #[test]
    fn validation_and_formatting() {
        let p: Typed<BucketPolicy> = Typed::new(Arc::new(Aws::new(Default::default())));
        let e = p
            .validate(&json!({"bucket": "abc", "policy": "[]"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy") && e.contains("[]"), "{e}");
        let a = json!({"bucket": "abc", "policy": "{\"Statement\": []}"});
        let b = json!({"bucket": "abc", "policy": "{\"Statement\":[ ]}"});
        assert!(BucketPolicy::diff(&a, &b).changed.is_empty());
    }
}
