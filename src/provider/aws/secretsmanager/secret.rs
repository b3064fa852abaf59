//! `aws:secretsmanager/Secret` (Terraform `aws_secretsmanager_secret`): the
//! secret's container (name, description, KMS key, tags); its value is a
//! [`super::secret_version::SecretVersion`]. The name is unique per region
//! and forces a replacement; a delete keeps the secret recoverable for
//! `recovery_window_in_days` (0: gone at once).

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{describe, describe_any, from_tags, secret_name_ok, to_tags, SecretsManager};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Failure, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Secret {
    /// Unique in the region: 1 to 512 characters of a-z, A-Z, 0-9, `/_+=.@-`.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The KMS key (ARN, id or alias) that encrypts the values; unset: the
    /// account's `aws/secretsmanager` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Input<String>>,
    /// Days a deleted secret stays recoverable (7 to 30), or 0 to delete it
    /// at once. Only the delete uses it.
    pub recovery_window_in_days: i64,
    pub tags: Tags,
}

impl Default for Secret {
    fn default() -> Self {
        Secret {
            name: String::new(),
            description: None,
            kms_key_id: None,
            // Terraform's default.
            recovery_window_in_days: 30,
            tags: Tags::new(),
        }
    }
}

impl Secret {
    pub fn new(name: &str) -> Self {
        Secret {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Secret {
    const TYPE: &'static str = "aws:secretsmanager/Secret";
}

impl Resource<Secret> {
    /// The secret's ARN (also its id): what a version, a rotation, an ECS
    /// `secrets` entry and an IAM policy name.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

/// The text AWS answers while a secret of that name waits out its recovery
/// window (or, just after a force delete, is still being removed).
fn scheduled_for_deletion(message: &str) -> bool {
    message.contains("scheduled for deletion") || message.contains("was deleted")
}

/// Re-creating a name just force-deleted: AWS frees it within moments
/// (Terraform retries these for its propagation timeout, 2 minutes).
const RECREATE: [Retry; 2] = [
    Retry::propagation("InvalidRequestException", "scheduled for deletion"),
    Retry::propagation("InvalidRequestException", "was deleted"),
];

impl Secret {
    fn ours(cx: &Call<'_, SecretsManager>, s: &DescribeSecretOutput) -> bool {
        from_tags(s.tags())
            .get(URN_TAG)
            .is_some_and(|v| cx.ctx.urn_tag_matches(v))
    }

    /// CreateSecret, sent again while `retries` cover its failure.
    async fn create_call(
        &self,
        cx: &Call<'_, SecretsManager>,
        retries: &[Retry],
    ) -> Result<String, Failure> {
        let kms = self.kms_key_id.as_ref().and_then(Input::known).cloned();
        let tags = to_tags(&cx.all_tags(&self.tags));
        cx.try_send_retrying("CreateSecret", retries, |c| {
            c.create_secret()
                .name(&self.name)
                .set_description(self.description.clone())
                .set_kms_key_id(kms.clone())
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await
        .map(|o| o.arn().unwrap_or(&self.name).to_string())
    }
}

#[async_trait]
impl AwsResource for Secret {
    type Service = SecretsManager;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        unique_name: &["name"],
        write_only: &["recovery_window_in_days"],
        terraform: &[Tf {
            resource: "aws_secretsmanager_secret",
            args: &[
                ("name", "name"),
                ("description", "description"),
                ("kms_key_id", "kms_key_id"),
                ("recovery_window_in_days", "recovery_window_in_days"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if !secret_name_ok(&self.name) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 512 characters of a-z, A-Z, 0-9 and /_+=.@-",
            ));
        }
        if let Some(d) = &self.description {
            if d.len() > 2048 {
                return Err(ProviderError::invalid(
                    "description",
                    format!("{:.40?}…", d),
                    "at most 2048 characters",
                ));
            }
        }
        if self.recovery_window_in_days != 0 {
            validate::in_range(
                "recovery_window_in_days",
                self.recovery_window_in_days,
                7..=30,
            )
            .map_err(|_| {
                ProviderError::invalid(
                    "recovery_window_in_days",
                    self.recovery_window_in_days,
                    "must be 0 (delete without recovery) or between 7 and 30",
                )
            })?;
        }
        if let Some(k) = self.kms_key_id.as_ref().and_then(Input::known) {
            if k.is_empty() || k.chars().any(char::is_whitespace) {
                return Err(ProviderError::invalid(
                    "kms_key_id",
                    format!("{k:?}"),
                    "expected a KMS key ARN, key id or alias/<name>",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, SecretsManager>) -> Result<String, ProviderError> {
        if let Some(k) = &self.kms_key_id {
            k.require("kms_key_id")?;
        }
        let f = match self.create_call(cx, &[]).await {
            Ok(arn) => return Ok(arn),
            Err(f) => f,
        };
        // AWS answers a name held by a deleted secret with
        // InvalidRequestException "scheduled for deletion" (moto with
        // ResourceExistsException, as for a live one).
        let held = f.code == "InvalidRequestException" && scheduled_for_deletion(&f.message);
        if f.code != "ResourceExistsException" && !held {
            return Err(f.error);
        }
        match describe_any(cx, &self.name).await? {
            // Our own secret from an earlier attempt: carry on from it.
            Some(s) if Self::ours(cx, &s) && s.deleted_date().is_none() => {
                return Ok(s.arn().unwrap_or(&self.name).to_string())
            }
            // Ours, in its recovery window (a destroyed stack brought up
            // again): restore it rather than fail until the window ends.
            Some(s) if Self::ours(cx, &s) => {
                let arn = s.arn().unwrap_or(&self.name).to_string();
                match cx
                    .try_send("RestoreSecret", |c| {
                        c.restore_secret().secret_id(&arn).send()
                    })
                    .await
                {
                    Ok(_) => return Ok(arn),
                    // Force-deleted: it cannot come back, and its name frees soon.
                    Err(r) if r.code == "InvalidRequestException" => {}
                    Err(r) => return Err(r.error),
                }
            }
            _ => {}
        }
        if !held {
            return Err(f.error);
        }
        // A force delete frees the name within moments (Terraform retries
        // for its propagation timeout); anyone else's recovery window does not.
        self.create_call(cx, &RECREATE).await.map_err(|f| f.error)
    }

    async fn after_create(
        &self,
        cx: &Call<'_, SecretsManager>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        // A restored secret keeps what it had: bring it to the declaration.
        let Some(live) = Self::read(cx, arn, self).await? else {
            return Ok(());
        };
        if live.args != *self {
            self.update(&live.args, cx, arn).await?;
        }
        Ok(())
    }

    async fn read(
        cx: &Call<'_, SecretsManager>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(s) = describe(cx, id).await? else {
            return Ok(None);
        };
        let arn = s.arn().unwrap_or(id).to_string();
        let name = s.name().unwrap_or_default().to_string();
        let args = Secret {
            name: name.clone(),
            description: s
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            kms_key_id: s.kms_key_id().map(|k| Input::Value(k.to_string())),
            recovery_window_in_days: declared.recovery_window_in_days,
            tags: cx.own_tags(&from_tags(s.tags())),
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": arn, "arn": arn, "name": name}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, SecretsManager>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let (ok, nk) = (
            old.kms_key_id.as_ref().and_then(Input::known),
            self.kms_key_id.as_ref().and_then(Input::known),
        );
        if old.description != self.description || ok != nk {
            // No key is the account's default key, named by its alias.
            let key = match (ok, nk) {
                (_, Some(k)) => Some(k.clone()),
                (Some(_), None) => Some("alias/aws/secretsmanager".to_string()),
                (None, None) => None,
            };
            cx.send("UpdateSecret", |c| {
                c.update_secret()
                    .secret_id(arn)
                    .description(self.description.clone().unwrap_or_default())
                    .set_kms_key_id(key.clone())
                    .send()
            })
            .await?;
        }
        if old.tags != self.tags {
            cx.update_tags(arn, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, SecretsManager>, arn: &str) -> Result<(), ProviderError> {
        let window = self.recovery_window_in_days;
        cx.send("DeleteSecret", |c| {
            let r = c.delete_secret().secret_id(arn);
            if window == 0 {
                r.force_delete_without_recovery(true).send()
            } else {
                r.recovery_window_in_days(window).send()
            }
        })
        .await?;
        // Gone once DescribeSecret shows it deleted (or not at all).
        Wait::new("secret", &["present"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, arn).await? {
                    Some(_) => Seen::State("present".to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, SecretsManager>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a live secret of that name with our URN tag.
        Ok(describe(cx, &self.name)
            .await?
            .filter(|s| Self::ours(cx, s))
            .and_then(|s| s.arn().map(str::to_string))
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Secret> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(p().validate(&json!({"name": "morket/db"})).is_ok());
        assert!(p()
            .validate(&json!({"name": "x", "recovery_window_in_days": 0}))
            .is_ok());
        let e = p()
            .validate(&json!({"name": "x", "recovery_window_in_days": 3}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("recovery_window_in_days") && e.contains('3'),
            "{e}"
        );
        let e = p()
            .validate(&json!({"name": "a b"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("name") && e.contains("a b"), "{e}");
    }

    #[test]
    fn deletion_messages() {
        assert!(scheduled_for_deletion(
            "You can't create this secret because a secret with this name is already scheduled for deletion."
        ));
        assert!(!scheduled_for_deletion("other"));
    }
}
