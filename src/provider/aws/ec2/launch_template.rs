//! `aws:ec2/LaunchTemplate` (Terraform `aws_launch_template`).
//!
//! An update never edits a version: it creates a new version with the full
//! data (CreateLaunchTemplateVersion) and makes it the default
//! (ModifyLaunchTemplate), as Terraform does with `update_default_version`.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    RequestLaunchTemplateData, ResourceType, VolumeType,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_id, in_range, one_of};
use crate::provider::schema::{Conv, Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaunchTemplate {
    /// Unique in the region; 3 to 128 characters of `[A-Za-z0-9().\-/_]`.
    pub name: String,
    /// An AMI id, or a lookup's answer (`GetParameter::value`).
    pub image_id: Input<String>,
    pub instance_type: String,
    pub key_name: Option<String>,
    pub vpc_security_group_ids: Vec<Input<String>>,
    /// Plain text (e.g. a shell script); base64-encoded for the API. May be secret.
    pub user_data: Option<Input<String>>,
    pub iam_instance_profile_name: Option<Input<String>>,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub metadata_options: MetadataOptions,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlockDeviceMapping {
    pub device_name: String,
    /// GiB.
    pub volume_size: i32,
    pub volume_type: String,
    pub encrypted: bool,
    pub delete_on_termination: bool,
}

impl Default for BlockDeviceMapping {
    fn default() -> Self {
        BlockDeviceMapping {
            device_name: String::new(),
            volume_size: 0,
            volume_type: "gp3".into(),
            encrypted: true,
            delete_on_termination: true,
        }
    }
}

impl BlockDeviceMapping {
    pub fn new(device_name: &str, volume_size: i32) -> Self {
        BlockDeviceMapping {
            device_name: device_name.into(),
            volume_size,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataOptions {
    /// `required` (IMDSv2 only) or `optional`.
    pub http_tokens: String,
    /// `enabled` or `disabled`.
    pub http_endpoint: String,
    /// 1 to 64.
    pub http_put_response_hop_limit: i32,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            http_tokens: "required".into(),
            http_endpoint: "enabled".into(),
            http_put_response_hop_limit: 1,
        }
    }
}

impl LaunchTemplate {
    pub fn new(name: &str, image_id: impl Into<Input<String>>, instance_type: &str) -> Self {
        LaunchTemplate {
            name: name.into(),
            image_id: image_id.into(),
            instance_type: instance_type.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for LaunchTemplate {
    const TYPE: &'static str = "aws:ec2/LaunchTemplate";
}

impl Resource<LaunchTemplate> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn latest_version(&self) -> Output<i64> {
        self.output("latest_version")
    }
    /// The latest version as text. An instance launched from it with this
    /// version is replaced when the template changes.
    pub fn version(&self) -> Output<String> {
        self.output("version")
    }
    pub fn default_version(&self) -> Output<i64> {
        self.output("default_version")
    }
}

pub(crate) const VOLUME_TYPES: &[&str] = &["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

/// Instance types look like `family.size` (`t3.micro`, `m7i.2xlarge`).
pub(crate) fn check_instance_type(field: &str, t: &str) -> Result<(), ProviderError> {
    let ok = t.split_once('.').is_some_and(|(f, s)| {
        !f.is_empty()
            && !s.is_empty()
            && f.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{t:?}"),
            "expected an instance type like \"t3.micro\"",
        ))
    }
}

pub(crate) fn check_ami(field: &str, ami: &str) -> Result<(), ProviderError> {
    check_id(field, &Input::Value(ami.to_string()), "ami")
}

pub(crate) fn check_sg_ids(field: &str, ids: &[Input<String>]) -> Result<(), ProviderError> {
    ids.iter().try_for_each(|id| check_id(field, id, "sg"))
}

pub(crate) use crate::provider::require_all;

#[async_trait]
impl AwsResource for LaunchTemplate {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        tf_attrs: &[("version", "latest_version")],
        force_new: &["name"],
        computed_on_update: &["latest_version", "default_version", "version"],
        normalize: &[("vpc_security_group_ids", Norm::Set)],
        // Terraform takes user_data base64-encoded (the SDK encodes it
        // here), and needs `update_default_version = true` for what an
        // update does here (the new version becomes the default).
        tf_values: &[("user_data", Conv::Call("base64encode"))],
        terraform: &[Tf {
            resource: "aws_launch_template",
            args: &[
                ("=true", "update_default_version"),
                ("name", "name"),
                ("image_id", "image_id"),
                ("instance_type", "instance_type"),
                ("key_name", "key_name"),
                ("vpc_security_group_ids", "vpc_security_group_ids"),
                ("user_data", "user_data"),
                ("iam_instance_profile_name", "iam_instance_profile.name"),
                (
                    "block_device_mappings.device_name",
                    "block_device_mappings.device_name",
                ),
                (
                    "block_device_mappings.volume_size",
                    "block_device_mappings.ebs.volume_size",
                ),
                (
                    "block_device_mappings.volume_type",
                    "block_device_mappings.ebs.volume_type",
                ),
                (
                    "block_device_mappings.encrypted",
                    "block_device_mappings.ebs.encrypted",
                ),
                (
                    "block_device_mappings.delete_on_termination",
                    "block_device_mappings.ebs.delete_on_termination",
                ),
                (
                    "metadata_options.http_tokens",
                    "metadata_options.http_tokens",
                ),
                (
                    "metadata_options.http_endpoint",
                    "metadata_options.http_endpoint",
                ),
                (
                    "metadata_options.http_put_response_hop_limit",
                    "metadata_options.http_put_response_hop_limit",
                ),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let name_ok = (3..=128).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "().-/_".contains(c));
        if !name_ok {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "3 to 128 characters of letters, digits and ().-/_",
            ));
        }
        if let Some(ami) = self.image_id.known() {
            check_ami("image_id", ami)?;
        }
        check_instance_type("instance_type", &self.instance_type)?;
        check_sg_ids("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        if let Some(u) = self.user_data.as_ref().and_then(Input::known) {
            // The API limit is 16 KB after base64 encoding.
            if u.len().div_ceil(3) * 4 > 16 * 1024 {
                return Err(ProviderError::invalid(
                    "user_data",
                    format!("({} bytes)", u.len()),
                    "at most 16 KB once base64-encoded",
                ));
            }
        }
        for (i, m) in self.block_device_mappings.iter().enumerate() {
            let f = |n: &str| format!("block_device_mappings[{i}].{n}");
            if !m.device_name.starts_with("/dev/") && !m.device_name.starts_with("xvd") {
                return Err(ProviderError::invalid(
                    &f("device_name"),
                    format!("{:?}", m.device_name),
                    "expected a device like /dev/sdf or /dev/xvda",
                ));
            }
            one_of(&f("volume_type"), &m.volume_type, VOLUME_TYPES)?;
            in_range(&f("volume_size"), m.volume_size, 1..=65536)?;
        }
        let mo = &self.metadata_options;
        one_of(
            "metadata_options.http_tokens",
            &mo.http_tokens,
            &["required", "optional"],
        )?;
        one_of(
            "metadata_options.http_endpoint",
            &mo.http_endpoint,
            &["enabled", "disabled"],
        )?;
        in_range(
            "metadata_options.http_put_response_hop_limit",
            mo.http_put_response_hop_limit,
            1..=64,
        )
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let data = self.data()?;
        // The SDK fills in the ClientToken of CreateLaunchTemplate (and of
        // CreateLaunchTemplateVersion), so its own retries make one template.
        let out = cx
            .send("CreateLaunchTemplate", |c| {
                c.create_launch_template()
                    .launch_template_name(&self.name)
                    .launch_template_data(data.clone())
                    .tag_specifications(cx.tag_spec(ResourceType::LaunchTemplate, &self.tags))
                    .send()
            })
            .await?;
        out.launch_template()
            .and_then(|t| t.launch_template_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateLaunchTemplate returned no template"))
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let lt = cx
            .find("DescribeLaunchTemplates", |c| {
                c.describe_launch_templates().launch_template_ids(id).send()
            })
            .await?
            .and_then(|o| o.launch_templates().first().cloned());
        let Some(lt) = lt else { return Ok(None) };
        let d = cx
            .find("DescribeLaunchTemplateVersions", |c| {
                c.describe_launch_template_versions()
                    .launch_template_id(id)
                    .versions("$Default")
                    .send()
            })
            .await?
            .and_then(|o| o.launch_template_versions().first().cloned())
            .and_then(|v| v.launch_template_data);
        let Some(d) = d else { return Ok(None) };
        let user_data = d.user_data().map(|b| {
            let text = base64::engine::general_purpose::STANDARD
                .decode(b)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .unwrap_or_else(|| b.to_string());
            // Sealed again if it was declared secret.
            match &declared.user_data {
                Some(Input::Secret(_)) => Input::Secret(text),
                _ => Input::Value(text),
            }
        });
        let mo = d.metadata_options();
        let args = LaunchTemplate {
            name: lt.launch_template_name().unwrap_or_default().into(),
            image_id: d.image_id().unwrap_or_default().into(),
            instance_type: d
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            key_name: d.key_name().map(str::to_string),
            vpc_security_group_ids: d
                .security_group_ids()
                .iter()
                .map(|s| Input::Value(s.clone()))
                .collect(),
            user_data,
            iam_instance_profile_name: d
                .iam_instance_profile()
                .and_then(|p| p.name())
                .map(|n| Input::Value(n.to_string())),
            block_device_mappings: d
                .block_device_mappings()
                .iter()
                .map(|m| {
                    let ebs = m.ebs();
                    BlockDeviceMapping {
                        device_name: m.device_name().unwrap_or_default().into(),
                        volume_size: ebs.and_then(|e| e.volume_size()).unwrap_or_default(),
                        volume_type: ebs
                            .and_then(|e| e.volume_type())
                            .map_or("gp3", |t| t.as_str())
                            .into(),
                        encrypted: ebs.and_then(|e| e.encrypted()).unwrap_or(false),
                        delete_on_termination: ebs
                            .and_then(|e| e.delete_on_termination())
                            .unwrap_or(true),
                    }
                })
                .collect(),
            metadata_options: MetadataOptions {
                // What AWS applies when a template leaves them out.
                http_tokens: mo
                    .and_then(|m| m.http_tokens())
                    .map_or("optional", |t| t.as_str())
                    .into(),
                http_endpoint: mo
                    .and_then(|m| m.http_endpoint())
                    .map_or("enabled", |t| t.as_str())
                    .into(),
                http_put_response_hop_limit: mo
                    .and_then(|m| m.http_put_response_hop_limit())
                    .unwrap_or(1),
            },
            tags: cx.own_tags(&from_tags(lt.tags())),
        };
        // CreatedBy is `arn:<partition>:iam::<account>:<principal>`.
        let account = lt
            .created_by()
            .and_then(|c| c.split(':').nth(4))
            .unwrap_or_default();
        let outputs = json!({
            "id": id,
            "arn": cx.arn("ec2", account, &format!("launch-template/{id}")).await,
            "name": lt.launch_template_name(),
            "latest_version": lt.latest_version_number(),
            // The same, as text: what an Instance's launch_template_version takes.
            "version": lt.latest_version_number().map(|n| n.to_string()),
            "default_version": lt.default_version_number(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        let data_of = |l: &Self| {
            serde_json::to_value(LaunchTemplate {
                tags: Tags::new(),
                ..l.clone()
            })
            .expect("inputs serialise")
        };
        if !crate::provider::same_value(&data_of(old), &data_of(self)) {
            let data = self.data()?;
            let out = cx
                .send("CreateLaunchTemplateVersion", |c| {
                    c.create_launch_template_version()
                        .launch_template_id(id)
                        .launch_template_data(data.clone())
                        .send()
                })
                .await?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| {
                    cx.fatal("CreateLaunchTemplateVersion returned no version number")
                })?;
            // The new version may not be visible to this call yet.
            cx.send_retrying("ModifyLaunchTemplate", &[Retry::NEW_OBJECT], |c| {
                c.modify_launch_template()
                    .launch_template_id(id)
                    .default_version(version.to_string())
                    .send()
            })
            .await?;
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.send("DeleteLaunchTemplate", |c| {
            c.delete_launch_template().launch_template_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let stream = cx
            .client()
            .await
            .describe_launch_templates()
            .filters(cx.urn_filter())
            .into_paginator()
            .send();
        Ok(cx
            .pages("DescribeLaunchTemplates", stream)
            .await?
            .iter()
            .flat_map(|p| p.launch_templates())
            .filter_map(|t| t.launch_template_id().map(str::to_string))
            .collect())
    }
}

impl LaunchTemplate {
    /// The template data of a version, at apply time.
    fn data(&self) -> Result<RequestLaunchTemplateData, ProviderError> {
        let mo = &self.metadata_options;
        let groups = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        let mut b = RequestLaunchTemplateData::builder()
            .image_id(self.image_id.require("image_id")?)
            .instance_type(InstanceType::from(self.instance_type.as_str()))
            .set_key_name(self.key_name.clone())
            .set_security_group_ids((!groups.is_empty()).then_some(groups))
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_tokens(LaunchTemplateHttpTokensState::from(mo.http_tokens.as_str()))
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                        mo.http_endpoint.as_str(),
                    ))
                    .http_put_response_hop_limit(mo.http_put_response_hop_limit)
                    .build(),
            );
        if let Some(u) = &self.user_data {
            b = b.user_data(
                base64::engine::general_purpose::STANDARD.encode(u.require("user_data")?),
            );
        }
        if let Some(p) = &self.iam_instance_profile_name {
            b = b.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(p.require("iam_instance_profile_name")?)
                    .build(),
            );
        }
        for m in &self.block_device_mappings {
            b = b.block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name(&m.device_name)
                    .ebs(
                        LaunchTemplateEbsBlockDeviceRequest::builder()
                            .volume_size(m.volume_size)
                            .volume_type(VolumeType::from(m.volume_type.as_str()))
                            .encrypted(m.encrypted)
                            .delete_on_termination(m.delete_on_termination)
                            .build(),
                    )
                    .build(),
            );
        }
        Ok(b.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_type_and_ami_shapes() {
        assert!(check_instance_type("instance_type", "m7i.2xlarge").is_ok());
        let e = check_instance_type("instance_type", "large").unwrap_err();
        assert!(e.to_string().contains("instance_type") && e.to_string().contains("large"));
        assert!(check_ami("image_id", "ami-123").is_ok());
        assert!(check_ami("image_id", "img-1").is_err());
    }
}
