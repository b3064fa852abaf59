//! `aws:logs/ResourcePolicy` (Terraform `aws_cloudwatch_log_resource_policy`):
//! an account-wide CloudWatch Logs resource policy, which lets AWS services
//! (OpenSearch, Route 53, EventBridge) write into log groups. The name is the
//! id and forces a replacement; the document changes in place.
//!
//! Resource policies carry no tags, and PutResourcePolicy overwrites one of
//! the same name: a create first looks, and carries on only from a policy
//! whose document is the declared one (ours, from an interrupted attempt);
//! `find` takes only such a match. A policy of that name with another
//! document is someone else's and is an error. An account holds at most 10
//! (LimitExceededException, passed on).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Logs;
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::iam::{check_policy, normal_policy};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::{field_diff, Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcePolicy {
    /// 1 to 255 characters.
    pub policy_name: String,
    /// An IAM policy document (JSON), at most 5120 characters; compared
    /// parsed.
    pub policy_document: Input<String>,
}

impl ResourcePolicy {
    pub fn new(policy_name: &str, policy_document: impl Into<Input<String>>) -> Self {
        ResourcePolicy {
            policy_name: policy_name.into(),
            policy_document: policy_document.into(),
        }
    }
}

impl ResourceArgs for ResourcePolicy {
    const TYPE: &'static str = "aws:logs/ResourcePolicy";
}

impl Resource<ResourcePolicy> {
    pub fn policy_name(&self) -> Output<String> {
        self.output("policy_name")
    }
}

const BUSY: Retry = Retry::conflict(&["OperationAbortedException"], Duration::from_secs(120));

/// The policy of this name, if any (the API lists them all, a page at a time).
async fn describe(cx: &Call<'_, Logs>, name: &str) -> Result<Option<String>, ProviderError> {
    let mut token: Option<String> = None;
    loop {
        let page = cx
            .send("DescribeResourcePolicies", |c| {
                c.describe_resource_policies()
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        if let Some(p) = page
            .resource_policies()
            .iter()
            .find(|p| p.policy_name() == Some(name))
        {
            return Ok(Some(p.policy_document().unwrap_or_default().to_string()));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(None),
        }
    }
}

fn normalized(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(s) = v.get("policy_document").and_then(Value::as_str) {
        v["policy_document"] = normal_policy(s);
    }
    v
}

impl ResourcePolicy {
    async fn put(&self, cx: &Call<'_, Logs>) -> Result<(), ProviderError> {
        let doc = self.policy_document.require("policy_document")?;
        // Another change to the account's policies in flight (the list is
        // account-wide: every stack of the account writes it).
        cx.send_retrying("PutResourcePolicy", &[BUSY], |c| {
            c.put_resource_policy()
                .policy_name(&self.policy_name)
                .policy_document(doc)
                .send()
        })
        .await
        .map(drop)
    }

    fn same_document(&self, live: &str) -> bool {
        self.policy_document
            .known()
            .is_some_and(|d| normal_policy(d) == normal_policy(live))
    }
}

#[async_trait]
impl AwsResource for ResourcePolicy {
    type Service = Logs;
    const SCHEMA: Schema = Schema {
        force_new: &["policy_name"],
        unique_name: &["policy_name"],
        normalize: &[("policy_document", Norm::Json)],
        terraform: &[Tf {
            resource: "aws_cloudwatch_log_resource_policy",
            args: &[
                ("policy_name", "policy_name"),
                ("policy_document", "policy_document"),
            ],
            import_id: "{policy_name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let n = &self.policy_name;
        if n.is_empty() || n.len() > 255 {
            return Err(ProviderError::invalid(
                "policy_name",
                format!("{n:?}"),
                "1 to 255 characters",
            ));
        }
        if let Some(d) = self.policy_document.known() {
            if d.len() > 5120 {
                return Err(ProviderError::invalid(
                    "policy_document",
                    format!("({} characters)", d.len()),
                    "at most 5120 characters",
                ));
            }
            check_policy("policy_document", d)?;
        }
        Ok(())
    }

    fn diff(old: &Value, new: &Value) -> Diff {
        field_diff(&normalized(old), &normalized(new), Self::SCHEMA.force_new)
    }

    async fn create(&self, cx: &Call<'_, Logs>) -> Result<String, ProviderError> {
        if let Some(live) = describe(cx, &self.policy_name).await? {
            if self.same_document(&live) {
                return Ok(self.policy_name.clone());
            }
            return Err(ProviderError::invalid(
                "policy_name",
                format!("{:?}", self.policy_name),
                "the account already has a CloudWatch Logs resource policy of this name with \
                 another document; import it or choose another name",
            ));
        }
        self.put(cx).await?;
        Ok(self.policy_name.clone())
    }

    async fn read(
        cx: &Call<'_, Logs>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(doc) = describe(cx, id).await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            args: ResourcePolicy::new(id, Input::Value(doc)),
            outputs: json!({"id": id, "policy_name": id}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Logs>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        let same = match (old.policy_document.known(), self.policy_document.known()) {
            (Some(a), Some(b)) => normal_policy(a) == normal_policy(b),
            _ => false,
        };
        if !same {
            self.put(cx).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Logs>, id: &str) -> Result<(), ProviderError> {
        cx.send("DeleteResourcePolicy", |c| {
            c.delete_resource_policy().policy_name(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Logs>) -> Result<Vec<String>, ProviderError> {
        // See the module comment: only the declared document is ours.
        Ok(match describe(cx, &self.policy_name).await? {
            Some(live) if self.same_document(&live) => vec![self.policy_name.clone()],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_field_and_value() {
        let ok = ResourcePolicy::new(
            "opensearch-logs",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"logs:PutLogEvents","Resource":"*"}]}"#,
        );
        assert!(ok.check().is_ok());
        let e = ResourcePolicy {
            policy_name: String::new(),
            ..ok.clone()
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(e.contains("policy_name"), "{e}");
        let e = ResourcePolicy::new("p", "not json")
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy_document"), "{e}");
    }

    #[test]
    fn a_reformatted_document_is_no_change() {
        let a = json!({"policy_name": "p", "policy_document": r#"{"Version":"2012-10-17","Statement":[]}"#});
        let b = json!({"policy_name": "p", "policy_document": "{ \"Statement\": [], \"Version\": \"2012-10-17\" }"});
        assert!(ResourcePolicy::diff(&a, &b).changed.is_empty());
    }
}
