//! `aws:secretsmanager/SecretRotation` (Terraform
//! `aws_secretsmanager_secret_rotation`): a secret's rotation schedule. A
//! secret another service manages (the RDS master user secret of
//! `manage_master_user_password`) rotates without a Lambda: only the
//! schedule is set. The id is the secret's ARN; a delete cancels rotation.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::RotationRulesType;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_secret_id, describe, SecretsManager};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

/// When the secret rotates: every N days or on a schedule (exactly one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationRules {
    /// 1 to 1000 days between rotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    /// `rate(10 days)` or `cron(0 16 1,15 * ? *)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// The rotation window, e.g. `3h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

impl RotationRules {
    pub fn every_days(days: i64) -> Self {
        RotationRules {
            automatically_after_days: Some(days),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretRotation {
    /// The secret (ARN or name); an RDS-managed master secret's ARN is the
    /// cluster's `master_user_secret_arn()`.
    pub secret_id: Input<String>,
    pub rotation_rules: RotationRules,
    /// The rotation function; none for secrets another service manages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_lambda_arn: Option<Input<String>>,
    /// Rotate once now as well (only the create and update requests use it).
    pub rotate_immediately: bool,
}

impl SecretRotation {
    /// The schedule of a managed secret: every `days` days, no Lambda.
    pub fn managed(secret_id: impl Into<Input<String>>, days: i64) -> Self {
        SecretRotation {
            secret_id: secret_id.into(),
            rotation_rules: RotationRules::every_days(days),
            ..Default::default()
        }
    }
}

impl ResourceArgs for SecretRotation {
    const TYPE: &'static str = "aws:secretsmanager/SecretRotation";
}

impl Resource<SecretRotation> {
    /// The secret's ARN.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// Secrets Manager cannot invoke a new Lambda yet, or assume a new role
/// (Terraform retries both codes for its propagation timeout).
const PROPAGATION: Retry = Retry::conflict(
    &["AccessDeniedException", "InvalidRequestException"],
    Duration::from_secs(120),
);

impl SecretRotation {
    async fn rotate(
        &self,
        cx: &Call<'_, SecretsManager>,
        secret: &str,
    ) -> Result<String, ProviderError> {
        let r = &self.rotation_rules;
        let rules = RotationRulesType::builder()
            .set_automatically_after_days(if r.schedule_expression.is_some() {
                None
            } else {
                r.automatically_after_days
            })
            .set_schedule_expression(r.schedule_expression.clone())
            .set_duration(r.duration.clone())
            .build();
        let lambda = self
            .rotation_lambda_arn
            .as_ref()
            .map(|l| l.require("rotation_lambda_arn").cloned())
            .transpose()?;
        let out = cx
            .send_retrying("RotateSecret", &[PROPAGATION], |c| {
                c.rotate_secret()
                    .secret_id(secret)
                    .rotation_rules(rules.clone())
                    .set_rotation_lambda_arn(lambda.clone())
                    .rotate_immediately(self.rotate_immediately)
                    .send()
            })
            .await?;
        Ok(out.arn().unwrap_or(secret).to_string())
    }
}

#[async_trait]
impl AwsResource for SecretRotation {
    type Service = SecretsManager;
    const SCHEMA: Schema = Schema {
        force_new: &["secret_id"],
        write_only: &["rotate_immediately"],
        terraform: &[Tf {
            resource: "aws_secretsmanager_secret_rotation",
            args: &[
                ("secret_id", "secret_id"),
                (
                    "rotation_rules.automatically_after_days",
                    "rotation_rules.automatically_after_days",
                ),
                (
                    "rotation_rules.schedule_expression",
                    "rotation_rules.schedule_expression",
                ),
                ("rotation_rules.duration", "rotation_rules.duration"),
                ("rotation_lambda_arn", "rotation_lambda_arn"),
                ("rotate_immediately", "rotate_immediately"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_secret_id("secret_id", &self.secret_id)?;
        let r = &self.rotation_rules;
        match (r.automatically_after_days, &r.schedule_expression) {
            (Some(d), None) => {
                validate::in_range("rotation_rules.automatically_after_days", d, 1..=1000)?
            }
            (None, Some(e)) => {
                let ok = (e.starts_with("rate(") || e.starts_with("cron(")) && e.ends_with(')');
                if !ok {
                    return Err(ProviderError::invalid(
                        "rotation_rules.schedule_expression",
                        format!("{e:?}"),
                        "expected rate(<n> days|hours) or cron(...)",
                    ));
                }
            }
            (Some(d), Some(e)) => {
                return Err(ProviderError::invalid(
                    "rotation_rules",
                    format!("automatically_after_days = {d}, schedule_expression = {e:?}"),
                    "set one of automatically_after_days and schedule_expression, not both",
                ))
            }
            (None, None) => {
                return Err(ProviderError::invalid(
                    "rotation_rules",
                    "{}",
                    "set automatically_after_days or schedule_expression",
                ))
            }
        }
        if let Some(d) = &r.duration {
            let ok = d.len() >= 2
                && d.ends_with('h')
                && d[..d.len() - 1].chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(ProviderError::invalid(
                    "rotation_rules.duration",
                    format!("{d:?}"),
                    "expected hours like 3h",
                ));
            }
        }
        if let Some(l) = self.rotation_lambda_arn.as_ref().and_then(Input::known) {
            crate::provider::aws::check_arn(
                "rotation_lambda_arn",
                l,
                "lambda",
                "function:",
                "a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)",
            )?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, SecretsManager>) -> Result<String, ProviderError> {
        self.rotate(cx, self.secret_id.require("secret_id")?).await
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
        // Rotation turned off: no rules (drift that the update turns on again).
        let rules = s
            .rotation_rules()
            .filter(|_| s.rotation_enabled() == Some(true))
            .map(|r| {
                let schedule = r.schedule_expression().filter(|e| !e.is_empty());
                RotationRules {
                    // With a schedule AWS also reports the days it works out.
                    automatically_after_days: if schedule.is_some() {
                        None
                    } else {
                        r.automatically_after_days()
                    },
                    schedule_expression: schedule.map(str::to_string),
                    duration: r.duration().map(str::to_string),
                }
            })
            .unwrap_or_default();
        let secret_id = match declared.secret_id.known() {
            Some(d) if d == &arn || Some(d.as_str()) == s.name() => declared.secret_id.clone(),
            _ => Input::Value(arn.clone()),
        };
        let args = SecretRotation {
            secret_id,
            rotation_rules: rules,
            rotation_lambda_arn: s
                .rotation_lambda_arn()
                .filter(|l| !l.is_empty())
                .map(|l| Input::Value(l.to_string())),
            rotate_immediately: declared.rotate_immediately,
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": arn, "arn": arn}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, SecretsManager>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let (ol, nl) = (
            old.rotation_lambda_arn.as_ref().and_then(Input::known),
            self.rotation_lambda_arn.as_ref().and_then(Input::known),
        );
        if old.rotation_rules != self.rotation_rules || ol != nl {
            self.rotate(cx, arn).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, SecretsManager>, arn: &str) -> Result<(), ProviderError> {
        // A secret another service manages (RDS's master password) keeps
        // rotating as that service wants: its rotation cannot be cancelled
        // without a Lambda, and it goes with the secret. Forgetting it is all.
        if describe(cx, arn)
            .await?
            .is_some_and(|s| s.owning_service().is_some())
        {
            return Ok(());
        }
        match cx
            .try_send("CancelRotateSecret", |c| {
                c.cancel_rotate_secret().secret_id(arn).send()
            })
            .await
        {
            Ok(_) => Ok(()),
            // The secret went first (deleted, or in its recovery window).
            Err(f) if f.code == "InvalidRequestException" && f.message.contains("deleted") => {
                Ok(())
            }
            Err(f) => Err(f.error),
        }
    }

    async fn find(&self, cx: &Call<'_, SecretsManager>) -> Result<Vec<String>, ProviderError> {
        // The secret is the natural key: one that rotates is adopted.
        let Some(id) = self.secret_id.known() else {
            return Ok(Vec::new());
        };
        Ok(describe(cx, id)
            .await?
            .filter(|s| s.rotation_enabled() == Some(true))
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

    fn p() -> Typed<SecretRotation> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1-AbCdEf";
        let ok = serde_json::to_value(SecretRotation::managed(arn, 30)).unwrap();
        assert!(p().validate(&ok).is_ok(), "{:?}", p().validate(&ok));
        let e = p()
            .validate(&serde_json::to_value(SecretRotation::managed(arn, 0)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("automatically_after_days") && e.contains('0'),
            "{e}"
        );
        let e = p()
            .validate(
                &json!({"secret_id": arn, "rotation_rules": {"schedule_expression": "daily"}}),
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedule_expression") && e.contains("daily"),
            "{e}"
        );
        let e = p()
            .validate(&json!({"secret_id": arn}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rotation_rules"), "{e}");
    }
}
