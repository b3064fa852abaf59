//! `aws:logs/LogGroup` (Terraform `aws_cloudwatch_log_group`). The name is
//! the identity and forces a replacement; retention and the KMS key change in
//! place.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup as CwLogGroup;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_log_group_name, Logs, RETENTION_DAYS};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogGroup {
    /// 1 to 512 characters of a-z, A-Z, 0-9 and `._-/#`.
    pub name: String,
    /// Days to keep events (one of [`RETENTION_DAYS`]); unset keeps them forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    /// ARN of the KMS key that encrypts the group's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Input<String>>,
    pub tags: Tags,
}

impl LogGroup {
    pub fn new(name: &str) -> Self {
        LogGroup {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for LogGroup {
    const TYPE: &'static str = "aws:logs/LogGroup";
}

impl Resource<LogGroup> {
    /// The group name (what a flow log's `log_group_name` takes).
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// The group ARN, without the `:*` that DescribeLogGroups appends.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// The ARN IAM policies and tagging take: DescribeLogGroups' `arn` ends in
/// `:*` (all streams); `logGroupArn` does not, but older responses lack it.
fn group_arn(g: &CwLogGroup) -> String {
    g.log_group_arn()
        .or(g.arn())
        .map(|a| a.strip_suffix(":*").unwrap_or(a).to_string())
        .unwrap_or_default()
}

/// The group of exactly this name (the API filters by prefix only).
async fn describe(cx: &Call<'_, Logs>, name: &str) -> Result<Option<CwLogGroup>, ProviderError> {
    let pages = cx
        .pages(
            "DescribeLogGroups",
            cx.client()
                .await
                .describe_log_groups()
                .log_group_name_prefix(name)
                .into_paginator()
                .send(),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.log_groups())
        .find(|g| g.log_group_name() == Some(name))
        .cloned())
}

async fn live_tags(cx: &Call<'_, Logs>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource_arn(arn).send()
        })
        .await?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

#[async_trait]
impl AwsResource for LogGroup {
    type Service = Logs;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        unique_name: &["name"],
        terraform: &[Tf {
            resource: "aws_cloudwatch_log_group",
            args: &[
                ("name", "name"),
                ("retention_in_days", "retention_in_days"),
                ("kms_key_id", "kms_key_id"),
                ("tags", "tags"),
            ],
            import_id: "{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_log_group_name("name", &self.name)?;
        if let Some(d) = self.retention_in_days {
            if !RETENTION_DAYS.contains(&d) {
                return Err(ProviderError::invalid(
                    "retention_in_days",
                    d,
                    format!("must be one of {RETENTION_DAYS:?} (or unset to keep events forever)"),
                ));
            }
        }
        if let Some(k) = self.kms_key_id.as_ref().and_then(Input::known) {
            check_arn(
                "kms_key_id",
                k,
                "kms",
                "key/",
                "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
            )?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Logs>) -> Result<String, ProviderError> {
        let kms = match &self.kms_key_id {
            Some(k) => Some(k.require("kms_key_id")?.clone()),
            None => None,
        };
        let made = cx
            .try_send("CreateLogGroup", |c| {
                c.create_log_group()
                    .log_group_name(&self.name)
                    .set_kms_key_id(kms.clone())
                    .set_tags(Some(cx.all_tags(&self.tags).into_iter().collect()))
                    .send()
            })
            .await;
        match made {
            Ok(_) => Ok(self.name.clone()),
            // Our own group from an earlier attempt (by its URN tag): carry
            // on from it; anyone else's stays an error.
            Err(f) if f.code == "ResourceAlreadyExistsException" => {
                if self.find(cx).await?.is_empty() {
                    Err(f.error)
                } else {
                    Ok(self.name.clone())
                }
            }
            Err(f) => Err(f.error),
        }
    }

    async fn after_create(&self, cx: &Call<'_, Logs>, id: &str) -> Result<(), ProviderError> {
        // Retention is a second call.
        let fresh = LogGroup {
            retention_in_days: None,
            ..self.clone()
        };
        self.update(&fresh, cx, id).await
    }

    async fn read(
        cx: &Call<'_, Logs>,
        name: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(g) = describe(cx, name).await? else {
            return Ok(None);
        };
        let arn = group_arn(&g);
        let args = LogGroup {
            name: name.to_string(),
            retention_in_days: g.retention_in_days(),
            kms_key_id: g.kms_key_id().map(|k| Input::Value(k.to_string())),
            tags: cx.own_tags(&live_tags(cx, &arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": name, "name": name, "arn": arn}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Logs>,
        name: &str,
    ) -> Result<(), ProviderError> {
        if old.retention_in_days != self.retention_in_days {
            match self.retention_in_days {
                Some(days) => cx
                    .send("PutRetentionPolicy", |c| {
                        c.put_retention_policy()
                            .log_group_name(name)
                            .retention_in_days(days)
                            .send()
                    })
                    .await
                    .map(drop)?,
                None => cx
                    .send("DeleteRetentionPolicy", |c| {
                        c.delete_retention_policy().log_group_name(name).send()
                    })
                    .await
                    .map(drop)?,
            }
        }
        let (ok, nk) = (
            old.kms_key_id.as_ref().and_then(Input::known),
            self.kms_key_id.as_ref().and_then(Input::known),
        );
        if ok != nk {
            match nk {
                Some(key) => cx
                    .send("AssociateKmsKey", |c| {
                        c.associate_kms_key()
                            .log_group_name(name)
                            .kms_key_id(key)
                            .send()
                    })
                    .await
                    .map(drop)?,
                None => cx
                    .send("DisassociateKmsKey", |c| {
                        c.disassociate_kms_key().log_group_name(name).send()
                    })
                    .await
                    .map(drop)?,
            }
        }
        if old.tags != self.tags {
            let g = describe(cx, name)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("log group {name} is gone")))?;
            cx.update_tags(&group_arn(&g), &old.tags, &self.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Logs>, name: &str) -> Result<(), ProviderError> {
        cx.send("DeleteLogGroup", |c| {
            c.delete_log_group().log_group_name(name).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Logs>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a group of that name carrying our URN tag.
        let Some(g) = describe(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        let tags = live_tags(cx, &group_arn(&g)).await?;
        let ours = tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v));
        Ok(if ours {
            vec![self.name.clone()]
        } else {
            Vec::new()
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

    fn p() -> Typed<LogGroup> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = json!({"name": "/vpc/flow-logs", "retention_in_days": 30});
        assert!(p().validate(&ok).is_ok());
        let e = p()
            .validate(&json!({"name": "x", "retention_in_days": 31}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("retention_in_days") && e.contains("31"), "{e}");
        let e = p()
            .validate(&json!({"name": "a b"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("name") && e.contains("a b"), "{e}");
        let e = p()
            .validate(&json!({"name": "x", "kms_key_id": "alias/logs"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kms_key_id") && e.contains("alias/logs"), "{e}");
    }

    #[test]
    fn arn_loses_the_streams_suffix() {
        let g = CwLogGroup::builder()
            .log_group_name("/a")
            .arn("arn:aws:logs:us-east-1:1:log-group:/a:*")
            .build();
        assert_eq!(group_arn(&g), "arn:aws:logs:us-east-1:1:log-group:/a");
    }
}
