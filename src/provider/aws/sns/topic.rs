//! `aws:sns/Topic` (Terraform `aws_sns_topic`): a standard topic. The name is
//! the identity and forces a replacement; the display name, the KMS key and
//! tags change in place. The id is the topic ARN, as Terraform's.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{live_tags, to_tags, Sns};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topic {
    /// 1 to 256 letters, digits, `-` and `_` (FIFO topics are not modelled).
    pub name: String,
    /// The sender name of SMS and email notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// KMS key id, alias or ARN for server-side encryption (`alias/aws/sns`
    /// for the AWS-managed key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Input<String>>,
    pub tags: Tags,
}

impl Topic {
    pub fn new(name: &str) -> Self {
        Topic {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Topic {
    const TYPE: &'static str = "aws:sns/Topic";
}

impl Resource<Topic> {
    /// What alarm actions and subscriptions take.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

fn name_ok(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The ARN of the topic named `name`, if there is one (topics are listed,
/// not looked up by name).
async fn arn_of(cx: &Call<'_, Sns>, name: &str) -> Result<Option<String>, ProviderError> {
    let pages = cx
        .pages(
            "ListTopics",
            cx.client().await.list_topics().into_paginator().send(),
        )
        .await?;
    let suffix = format!(":{name}");
    Ok(pages
        .iter()
        .flat_map(|p| p.topics())
        .filter_map(|t| t.topic_arn())
        .find(|a| a.ends_with(&suffix))
        .map(str::to_string))
}

/// The attributes of a topic; `None` when it does not exist.
async fn attributes(
    cx: &Call<'_, Sns>,
    arn: &str,
) -> Result<Option<HashMap<String, String>>, ProviderError> {
    Ok(cx
        .find("GetTopicAttributes", |c| {
            c.get_topic_attributes().topic_arn(arn).send()
        })
        .await?
        .map(|o| o.attributes().cloned().unwrap_or_default()))
}

#[async_trait]
impl AwsResource for Topic {
    type Service = Sns;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        unique_name: &["name"],
        terraform: &[Tf {
            resource: "aws_sns_topic",
            args: &[
                ("name", "name"),
                ("display_name", "display_name"),
                ("kms_master_key_id", "kms_master_key_id"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if !name_ok(&self.name) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 256 letters, digits, '-' and '_'",
            ));
        }
        if let Some(d) = &self.display_name {
            if d.is_empty() || d.chars().count() > 100 {
                return Err(ProviderError::invalid(
                    "display_name",
                    format!("{d:?}"),
                    "1 to 100 characters (leave it unset for none)",
                ));
            }
        }
        if let Some(k) = self.kms_master_key_id.as_ref().and_then(Input::known) {
            if k.is_empty() {
                return Err(ProviderError::invalid(
                    "kms_master_key_id",
                    "\"\"",
                    "a KMS key id, alias or ARN (leave it unset for no encryption)",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Sns>) -> Result<String, ProviderError> {
        // CreateTopic answers with the existing topic of that name: check
        // first that it is not someone else's (ours from an earlier attempt
        // carries our URN tag and is carried on from).
        if let Some(arn) = arn_of(cx, &self.name).await? {
            if self.find(cx).await?.is_empty() {
                return Err(cx.fatal(format!(
                    "an SNS topic named {:?} already exists ({arn}) and is not this resource's",
                    self.name
                )));
            }
            return Ok(arn);
        }
        let mut attrs = HashMap::new();
        if let Some(d) = &self.display_name {
            attrs.insert("DisplayName".to_string(), d.clone());
        }
        if let Some(k) = &self.kms_master_key_id {
            attrs.insert(
                "KmsMasterKeyId".to_string(),
                k.require("kms_master_key_id")?.clone(),
            );
        }
        let out = cx
            .send("CreateTopic", |c| {
                c.create_topic()
                    .name(&self.name)
                    .set_attributes(Some(attrs.clone()))
                    .set_tags(Some(to_tags(&cx.all_tags(&self.tags))))
                    .send()
            })
            .await?;
        out.topic_arn()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateTopic returned no topic ARN"))
    }

    async fn read(
        cx: &Call<'_, Sns>,
        arn: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(a) = attributes(cx, arn).await? else {
            return Ok(None);
        };
        let name = arn.rsplit(':').next().unwrap_or_default().to_string();
        let args = Topic {
            name: name.clone(),
            display_name: a.get("DisplayName").filter(|d| !d.is_empty()).cloned(),
            kms_master_key_id: a
                .get("KmsMasterKeyId")
                .filter(|k| !k.is_empty())
                .map(|k| Input::Value(k.clone())),
            tags: cx.own_tags(&live_tags(cx, arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": arn, "arn": arn, "name": name}),
        }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Sns>, arn: &str) -> Result<(), ProviderError> {
        // An empty value removes the attribute.
        let set = |name: &'static str, value: String| async move {
            cx.send("SetTopicAttributes", |c| {
                c.set_topic_attributes()
                    .topic_arn(arn)
                    .attribute_name(name)
                    .attribute_value(&value)
                    .send()
            })
            .await
            .map(drop)
        };
        if old.display_name != self.display_name {
            set("DisplayName", self.display_name.clone().unwrap_or_default()).await?;
        }
        let (ok, nk) = (
            old.kms_master_key_id.as_ref().and_then(Input::known),
            self.kms_master_key_id.as_ref().and_then(Input::known),
        );
        if ok != nk {
            set("KmsMasterKeyId", nk.cloned().unwrap_or_default()).await?;
        }
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Sns>, arn: &str) -> Result<(), ProviderError> {
        cx.send("DeleteTopic", |c| c.delete_topic().topic_arn(arn).send())
            .await?;
        // Terraform waits until GetTopicAttributes answers NotFound.
        Wait::new("SNS topic", &["exists"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match attributes(cx, arn).await? {
                    Some(_) => Seen::State("exists".to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Sns>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a topic of that name carrying our URN tag.
        let Some(arn) = arn_of(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        let tags = live_tags(cx, &arn).await?;
        let ours = tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v));
        Ok(if ours { vec![arn] } else { Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Topic> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(p()
            .validate(&json!({"name": "morket-alarms", "display_name": "Morket"}))
            .is_ok());
        let e = p()
            .validate(&json!({"name": "bad.name"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("name") && e.contains("bad.name"), "{e}");
        let e = p()
            .validate(&json!({"name": "a", "display_name": ""}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("display_name"), "{e}");
    }
}
