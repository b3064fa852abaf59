//! `aws:secretsmanager/SecretVersion` (Terraform
//! `aws_secretsmanager_secret_version`): the current value of a secret.
//! The value is a secret input (a `random` password, a secret output, or a
//! string interpolated from them): sealed in state, `(sensitive)` in plans
//! and on screen. A read fetches the `AWSCURRENT` value and hands it back
//! sealed the same way, so a value changed out of band is drift without any
//! plaintext stored. A new value puts a new version that takes
//! `AWSCURRENT` (in place: the id is the secret's ARN).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_secret_id, describe, SecretsManager};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

pub const CURRENT: &str = "AWSCURRENT";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretVersion {
    /// The secret (its ARN, from `Resource<Secret>::arn()`, or its name).
    pub secret_id: Input<String>,
    /// The value; must be secret (`Input::secret`, a secret output such as
    /// `RandomPassword::result()`, or an interpolation with a secret part).
    pub secret_string: Input<String>,
}

impl SecretVersion {
    pub fn new(secret_id: impl Into<Input<String>>, secret_string: Input<String>) -> Self {
        SecretVersion {
            secret_id: secret_id.into(),
            secret_string,
        }
    }
}

impl ResourceArgs for SecretVersion {
    const TYPE: &'static str = "aws:secretsmanager/SecretVersion";
}

impl Resource<SecretVersion> {
    /// The secret's ARN.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The version holding `AWSCURRENT` (changes with each new value).
    pub fn version_id(&self) -> Output<String> {
        self.output("version_id")
    }
}

/// What GetSecretValue answers for a secret deleted or in its recovery window.
fn deleted(message: &str) -> bool {
    message.contains("because it was deleted") || message.contains("marked for deletion")
}

#[async_trait]
impl AwsResource for SecretVersion {
    type Service = SecretsManager;
    const SCHEMA: Schema = Schema {
        force_new: &["secret_id"],
        computed_on_update: &["version_id"],
        terraform: &[Tf {
            resource: "aws_secretsmanager_secret_version",
            args: &[
                ("secret_id", "secret_id"),
                ("secret_string", "secret_string"),
            ],
            import_id: "{id}|{outputs.version_id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_secret_id("secret_id", &self.secret_id)?;
        match &self.secret_string {
            // Plaintext would be stored and shown as it is: refused, without
            // echoing it.
            Input::Value(_) => Err(ProviderError::invalid(
                "secret_string",
                "(a plain value)",
                "must be secret: Input::secret(..), a secret output (RandomPassword::result()) \
                 or an interpolation with a secret part",
            )),
            Input::Secret(s) if s.is_empty() || s.len() > 65536 => Err(ProviderError::invalid(
                "secret_string",
                crate::value::SENSITIVE_TEXT,
                "must be 1 to 65536 bytes",
            )),
            _ => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, SecretsManager>) -> Result<String, ProviderError> {
        put(self, cx, self.secret_id.require("secret_id")?).await
    }

    async fn read(
        cx: &Call<'_, SecretsManager>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let got = cx
            .try_send("GetSecretValue", |c| {
                c.get_secret_value()
                    .secret_id(id)
                    .version_stage(CURRENT)
                    .send()
            })
            .await;
        let v = match got {
            Ok(v) => v,
            Err(f) if matches!(f.error, ProviderError::NotFound(_)) => return Ok(None),
            Err(f) if f.code == "InvalidRequestException" && deleted(&f.message) => {
                return Ok(None)
            }
            Err(f) => return Err(f.error),
        };
        let arn = v.arn().unwrap_or(id).to_string();
        // The declared id when it names this secret (by ARN or by name).
        let secret_id = match declared.secret_id.known() {
            Some(d) if d == &arn || Some(d.as_str()) == v.name() => declared.secret_id.clone(),
            _ => Input::Value(arn.clone()),
        };
        let args = SecretVersion {
            secret_id,
            secret_string: Input::Secret(v.secret_string().unwrap_or_default().to_string()),
        };
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": arn,
                "arn": arn,
                "version_id": v.version_id(),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, SecretsManager>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        if !same_secret(&old.secret_string, &self.secret_string) {
            put(self, cx, arn).await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        _cx: &Call<'_, SecretsManager>,
        _arn: &str,
    ) -> Result<(), ProviderError> {
        // Terraform removes a version's stages but AWSCURRENT, which AWS never
        // lets go ("can only move staging label AWSCURRENT"); this resource's
        // version is the current one, so nothing is removed: the value stays
        // until a new one is put or its secret is deleted.
        Ok(())
    }

    async fn find(&self, cx: &Call<'_, SecretsManager>) -> Result<Vec<String>, ProviderError> {
        // Versions carry no tags: a secret with a current value is ours to
        // adopt (the next plan corrects a different value).
        let Some(id) = self.secret_id.known() else {
            return Ok(Vec::new());
        };
        let Some(s) = describe(cx, id).await? else {
            return Ok(Vec::new());
        };
        let current = s
            .version_ids_to_stages()
            .is_some_and(|m| m.values().any(|st| st.iter().any(|x| x == CURRENT)));
        Ok(s.arn()
            .filter(|_| current)
            .map(str::to_string)
            .into_iter()
            .collect())
    }
}

/// Puts `v`'s value as the new `AWSCURRENT` version of `secret`; returns the
/// secret's ARN. The SDK fills in the idempotency token, so a resend of the
/// same request after a lost answer makes no second version.
async fn put(
    v: &SecretVersion,
    cx: &Call<'_, SecretsManager>,
    secret: &str,
) -> Result<String, ProviderError> {
    let value = v.secret_string.require("secret_string")?;
    let out = cx
        .send_retrying("PutSecretValue", &[Retry::NEW_OBJECT], |c| {
            c.put_secret_value()
                .secret_id(secret)
                .secret_string(value)
                .send()
        })
        .await?;
    Ok(out.arn().unwrap_or(secret).to_string())
}

/// Whether two values are the same (secret or not).
fn same_secret(a: &Input<String>, b: &Input<String>) -> bool {
    a.known() == b.known() && a.known().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<SecretVersion> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn the_value_must_be_secret_and_is_never_echoed() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        assert!(p()
            .validate(&json!({"secret_id": arn, "secret_string": {"$secret": "pw"}}))
            .is_ok());
        assert!(p()
            .validate(&json!({"secret_id": arn, "secret_string": {"$unknown": true}}))
            .is_ok());
        let e = p()
            .validate(&json!({"secret_id": arn, "secret_string": "hunter2"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret_string") && !e.contains("hunter2"), "{e}");
        let e = p()
            .validate(&json!({"secret_id": "arn:aws:s3:::b", "secret_string": {"$secret": "x"}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("secret_id") && e.contains("arn:aws:s3:::b"),
            "{e}"
        );
    }

    #[test]
    fn deleted_messages() {
        assert!(deleted(
            "You can't perform this operation on the secret because it was marked for deletion."
        ));
        assert!(!deleted("nope"));
    }
}
