//! `aws:backup/Vault` (Terraform `aws_backup_vault`): where recovery points
//! are kept, encrypted with a KMS key. Name and key force a replacement.
//! `force_destroy` deletes the recovery points first, as Terraform does;
//! otherwise AWS refuses to delete a vault that holds any.

use async_trait::async_trait;
use aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultOutput;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_vault_name, live_tags, Backup};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vault {
    /// 2 to 50 letters, digits, `-` or `_`.
    pub name: String,
    /// The KMS key of the recovery points; AWS's default Backup key when
    /// left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<Input<String>>,
    /// Delete the vault's recovery points on destroy.
    pub force_destroy: bool,
    pub tags: Tags,
}

impl Vault {
    pub fn new(name: &str) -> Self {
        Vault {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Vault {
    const TYPE: &'static str = "aws:backup/Vault";
}

impl Resource<Vault> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The vault name (what a plan rule's `target_vault_name` takes).
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn recovery_points(&self) -> Output<i64> {
        self.output("recovery_points")
    }
}

async fn describe(
    cx: &Call<'_, Backup>,
    name: &str,
) -> Result<Option<DescribeBackupVaultOutput>, ProviderError> {
    cx.find("DescribeBackupVault", |c| {
        c.describe_backup_vault().backup_vault_name(name).send()
    })
    .await
}

/// ARNs of the vault's recovery points.
async fn recovery_points(cx: &Call<'_, Backup>, name: &str) -> Result<Vec<String>, ProviderError> {
    let pages = cx
        .pages(
            "ListRecoveryPointsByBackupVault",
            cx.client()
                .await
                .list_recovery_points_by_backup_vault()
                .backup_vault_name(name)
                .into_paginator()
                .send(),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.recovery_points())
        .filter_map(|r| r.recovery_point_arn().map(str::to_string))
        .collect())
}

#[async_trait]
impl AwsResource for Vault {
    type Service = Backup;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "kms_key_arn"],
        unique_name: &["name"],
        optional_computed: &["kms_key_arn"],
        // A delete-time option AWS does not keep.
        write_only: &["force_destroy"],
        terraform: &[Tf {
            resource: "aws_backup_vault",
            args: &[
                ("name", "name"),
                ("kms_key_arn", "kms_key_arn"),
                ("force_destroy", "force_destroy"),
                ("tags", "tags"),
            ],
            import_id: "{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_vault_name("name", &self.name)?;
        if let Some(k) = self.kms_key_arn.as_ref().and_then(Input::known) {
            check_arn(
                "kms_key_arn",
                k,
                "kms",
                "key/",
                "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
            )?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Backup>) -> Result<String, ProviderError> {
        let kms = match &self.kms_key_arn {
            Some(k) => Some(k.require("kms_key_arn")?.clone()),
            None => None,
        };
        let tags: std::collections::HashMap<String, String> =
            cx.all_tags(&self.tags).into_iter().collect();
        let made = cx
            .try_send("CreateBackupVault", |c| {
                c.create_backup_vault()
                    .backup_vault_name(&self.name)
                    .set_encryption_key_arn(kms.clone())
                    .set_backup_vault_tags(Some(tags.clone()))
                    .send()
            })
            .await;
        match made {
            Ok(_) => Ok(self.name.clone()),
            // Our own vault from an earlier attempt (by its URN tag): carry
            // on from it; anyone else's stays an error.
            Err(f) if f.code == "AlreadyExistsException" => {
                self.find(cx).await?.pop().ok_or(f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    async fn read(
        cx: &Call<'_, Backup>,
        name: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(v) = describe(cx, name).await? else {
            return Ok(None);
        };
        let arn = v.backup_vault_arn().unwrap_or_default().to_string();
        let args = Vault {
            name: name.to_string(),
            kms_key_arn: v.encryption_key_arn().map(|k| Input::Value(k.to_string())),
            force_destroy: declared.force_destroy,
            tags: cx.own_tags(&live_tags(cx, &arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": name,
                "name": name,
                "arn": arn,
                "recovery_points": v.number_of_recovery_points(),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Backup>,
        name: &str,
    ) -> Result<(), ProviderError> {
        // force_destroy is only read at delete time.
        if old.tags != self.tags {
            let v = describe(cx, name)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("backup vault {name} is gone")))?;
            cx.update_tags(
                v.backup_vault_arn().unwrap_or_default(),
                &old.tags,
                &self.tags,
            )
            .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Backup>, name: &str) -> Result<(), ProviderError> {
        if self.force_destroy {
            for rp in recovery_points(cx, name).await? {
                match cx
                    .send("DeleteRecoveryPoint", |c| {
                        c.delete_recovery_point()
                            .backup_vault_name(name)
                            .recovery_point_arn(&rp)
                            .send()
                    })
                    .await
                {
                    Ok(_) | Err(ProviderError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            // Recovery points are deleted asynchronously (EXPIRED/DELETING).
            Wait::new("recovery points of backup vault", &["deleting"], &[])
                .until_gone(cx.settings(), || async {
                    let left = recovery_points(cx, name).await?;
                    Ok(if left.is_empty() {
                        Seen::Gone
                    } else {
                        Seen::State("deleting".to_string(), left.len())
                    })
                })
                .await?;
        }
        cx.send("DeleteBackupVault", |c| {
            c.delete_backup_vault().backup_vault_name(name).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Backup>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a vault of that name carrying our URN tag.
        let Some(v) = describe(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        let tags = live_tags(cx, v.backup_vault_arn().unwrap_or_default()).await?;
        let ours = tags.get(URN_TAG).is_some_and(|t| cx.ctx.urn_tag_matches(t));
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

    #[test]
    fn validation_names_field_and_value() {
        assert!(Vault::new("morket-staging").check().is_ok());
        let e = Vault::new("a").check().unwrap_err().to_string();
        assert!(e.contains("name = \"a\""), "{e}");
        let mut v = Vault::new("ok_vault");
        v.kms_key_arn = Some("alias/aws/backup".into());
        let e = v.check().unwrap_err().to_string();
        assert!(
            e.contains("kms_key_arn") && e.contains("alias/aws/backup"),
            "{e}"
        );
    }
}
