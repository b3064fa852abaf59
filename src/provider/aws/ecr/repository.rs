//! `aws:ecr/Repository` (Terraform `aws_ecr_repository`). The name and the
//! encryption force a replacement; tag mutability, scan on push and tags
//! change in place. A repository holding images is deleted only with
//! `force_delete`.

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration as EcrEncryption, EncryptionType, ImageScanningConfiguration,
    ImageTagMutability, Repository as EcrRepository,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_repository_name, describe, live_tags, to_tags, Ecr};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::one_of;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanningConfiguration {
    /// Scan each image for vulnerabilities when it is pushed.
    pub scan_on_push: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionConfiguration {
    /// `AES256` or `KMS`.
    pub encryption_type: String,
    /// With `KMS`: the key's ARN; unset uses the account's `aws/ecr` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<Input<String>>,
}

impl Default for EncryptionConfiguration {
    fn default() -> Self {
        EncryptionConfiguration {
            encryption_type: "AES256".into(),
            kms_key: None,
        }
    }
}

impl EncryptionConfiguration {
    pub fn kms(key: impl Into<Input<String>>) -> Self {
        EncryptionConfiguration {
            encryption_type: "KMS".into(),
            kms_key: Some(key.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Repository {
    pub name: String,
    /// `MUTABLE` or `IMMUTABLE` (a pushed tag cannot be moved).
    pub image_tag_mutability: String,
    pub image_scanning_configuration: ScanningConfiguration,
    /// Unset: AES256 (what AWS reports then is not drift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// Delete the repository even when it holds images (only the delete uses it).
    pub force_delete: bool,
    pub tags: Tags,
}

impl Default for Repository {
    fn default() -> Self {
        Repository {
            name: String::new(),
            image_tag_mutability: "MUTABLE".into(),
            image_scanning_configuration: ScanningConfiguration::default(),
            encryption_configuration: None,
            force_delete: false,
            tags: Tags::new(),
        }
    }
}

impl Repository {
    pub fn new(name: &str) -> Self {
        Repository {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Repository {
    const TYPE: &'static str = "aws:ecr/Repository";
}

impl Resource<Repository> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<name>`: what an image reference starts with.
    pub fn repository_url(&self) -> Output<String> {
        self.output("repository_url")
    }
    pub fn registry_id(&self) -> Output<String> {
        self.output("registry_id")
    }
}

fn ours(cx: &Call<'_, Ecr>, tags: &Tags) -> bool {
    tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v))
}

fn outputs(r: &EcrRepository) -> serde_json::Value {
    json!({
        "id": r.repository_name(),
        "name": r.repository_name(),
        "arn": r.repository_arn(),
        "registry_id": r.registry_id(),
        "repository_url": r.repository_uri(),
    })
}

#[async_trait]
impl AwsResource for Repository {
    type Service = Ecr;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "encryption_configuration"],
        unique_name: &["name"],
        optional_computed: &[
            "encryption_configuration",
            "encryption_configuration.kms_key",
        ],
        write_only: &["force_delete"],
        terraform: &[Tf {
            resource: "aws_ecr_repository",
            args: &[
                ("name", "name"),
                ("image_tag_mutability", "image_tag_mutability"),
                (
                    "image_scanning_configuration.scan_on_push",
                    "image_scanning_configuration.scan_on_push",
                ),
                (
                    "encryption_configuration.encryption_type",
                    "encryption_configuration.encryption_type",
                ),
                (
                    "encryption_configuration.kms_key",
                    "encryption_configuration.kms_key",
                ),
                ("force_delete", "force_delete"),
                ("tags", "tags"),
            ],
            import_id: "{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_repository_name("name", &self.name)?;
        one_of(
            "image_tag_mutability",
            &self.image_tag_mutability,
            &["MUTABLE", "IMMUTABLE"],
        )?;
        if let Some(e) = &self.encryption_configuration {
            one_of(
                "encryption_configuration.encryption_type",
                &e.encryption_type,
                &["AES256", "KMS"],
            )?;
            if let Some(k) = &e.kms_key {
                if e.encryption_type != "KMS" {
                    return Err(ProviderError::invalid(
                        "encryption_configuration.kms_key",
                        k.known()
                            .map_or("(known after apply)".into(), |k| format!("{k:?}")),
                        "needs encryption_type = \"KMS\"",
                    ));
                }
                if let Some(k) = k.known() {
                    crate::provider::aws::check_arn(
                        "encryption_configuration.kms_key",
                        k,
                        "kms",
                        "key/",
                        "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
                    )?;
                }
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ecr>) -> Result<String, ProviderError> {
        let encryption = match &self.encryption_configuration {
            Some(e) => Some(
                EcrEncryption::builder()
                    .encryption_type(EncryptionType::from(e.encryption_type.as_str()))
                    .set_kms_key(match &e.kms_key {
                        Some(k) => Some(k.require("encryption_configuration.kms_key")?.clone()),
                        None => None,
                    })
                    .build()
                    .map_err(|e| cx.fatal(e.to_string()))?,
            ),
            None => None,
        };
        let tags = to_tags(&cx.all_tags(&self.tags));
        let made = cx
            .try_send("CreateRepository", |c| {
                c.create_repository()
                    .repository_name(&self.name)
                    .image_tag_mutability(ImageTagMutability::from(
                        self.image_tag_mutability.as_str(),
                    ))
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder()
                            .scan_on_push(self.image_scanning_configuration.scan_on_push)
                            .build(),
                    )
                    .set_encryption_configuration(encryption.clone())
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await;
        match made {
            Ok(_) => Ok(self.name.clone()),
            // Our own repository from an earlier attempt: carry on from it.
            Err(f) if f.code == "RepositoryAlreadyExistsException" => {
                if self.find(cx).await?.is_empty() {
                    Err(f.error)
                } else {
                    Ok(self.name.clone())
                }
            }
            Err(f) => Err(f.error),
        }
    }

    async fn read(
        cx: &Call<'_, Ecr>,
        name: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(r) = describe(cx, name).await? else {
            return Ok(None);
        };
        let arn = r.repository_arn().unwrap_or_default();
        let args = Repository {
            name: name.to_string(),
            image_tag_mutability: r
                .image_tag_mutability()
                .map_or("MUTABLE", |m| m.as_str())
                .to_string(),
            image_scanning_configuration: ScanningConfiguration {
                scan_on_push: r
                    .image_scanning_configuration()
                    .is_some_and(|s| s.scan_on_push()),
            },
            encryption_configuration: r.encryption_configuration().map(|e| {
                EncryptionConfiguration {
                    encryption_type: e.encryption_type().as_str().to_string(),
                    kms_key: e.kms_key().map(|k| Input::Value(k.to_string())),
                }
            }),
            force_delete: declared.force_delete,
            tags: cx.own_tags(&live_tags(cx, arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: outputs(&r),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Ecr>,
        name: &str,
    ) -> Result<(), ProviderError> {
        if old.image_tag_mutability != self.image_tag_mutability {
            cx.send("PutImageTagMutability", |c| {
                c.put_image_tag_mutability()
                    .repository_name(name)
                    .image_tag_mutability(ImageTagMutability::from(
                        self.image_tag_mutability.as_str(),
                    ))
                    .send()
            })
            .await?;
        }
        if old.image_scanning_configuration != self.image_scanning_configuration {
            cx.send("PutImageScanningConfiguration", |c| {
                c.put_image_scanning_configuration()
                    .repository_name(name)
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder()
                            .scan_on_push(self.image_scanning_configuration.scan_on_push)
                            .build(),
                    )
                    .send()
            })
            .await?;
        }
        if old.tags != self.tags {
            let r = describe(cx, name)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("repository {name} is gone")))?;
            cx.update_tags(
                r.repository_arn().unwrap_or_default(),
                &old.tags,
                &self.tags,
            )
            .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Ecr>, name: &str) -> Result<(), ProviderError> {
        let done = cx
            .try_send("DeleteRepository", |c| {
                c.delete_repository()
                    .repository_name(name)
                    .force(self.force_delete)
                    .send()
            })
            .await;
        match done {
            Ok(_) => {}
            Err(f) if f.code == "RepositoryNotEmptyException" => {
                return Err(ProviderError::Fatal(format!(
                    "repository {name} holds images: set force_delete = true to delete them with it ({})",
                    f.message
                )))
            }
            Err(f) => return Err(f.error),
        }
        Wait::new("ECR repository", &["present"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, name).await? {
                    Some(_) => Seen::State("present".to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Ecr>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a repository of that name with our URN tag.
        let Some(r) = describe(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        let tags = live_tags(cx, r.repository_arn().unwrap_or_default()).await?;
        Ok(if ours(cx, &tags) {
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

    fn p() -> Typed<Repository> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(p().validate(&json!({"name": "morket/backend"})).is_ok());
        let e = p()
            .validate(&json!({"name": "morket/backend", "image_tag_mutability": "SOMETIMES"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("image_tag_mutability") && e.contains("SOMETIMES"),
            "{e}"
        );
        let e = p()
            .validate(&json!({"name": "r1", "encryption_configuration":
                {"encryption_type": "AES256", "kms_key": "arn:aws:kms:us-east-1:1:key/k"}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("encryption_configuration.kms_key"), "{e}");
        let e = p()
            .validate(&json!({"name": "r1", "encryption_configuration":
                {"encryption_type": "KMS", "kms_key": "alias/x"}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kms_key") && e.contains("alias/x"), "{e}");
    }
}
