//! `aws:ec2/LaunchTemplate` (Terraform `aws_launch_template`).
//!
//! An update never edits a version: it creates a new version with the full
//! data (CreateLaunchTemplateVersion) and makes it the default
//! (ModifyLaunchTemplate), as Terraform does with `update_default_version`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    RequestLaunchTemplateData, ResourceType, ResponseLaunchTemplateData, VolumeType,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplate {
    /// Unique in the region; 3 to 128 characters of `[A-Za-z0-9().\-/_]`.
    pub name: String,
    pub image_id: String,
    pub instance_type: String,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub vpc_security_group_ids: Vec<Input<String>>,
    /// Plain text (e.g. a shell script); base64-encoded for the API. May be secret.
    #[serde(default)]
    pub user_data: Option<Input<String>>,
    #[serde(default)]
    pub iam_instance_profile_name: Option<Input<String>>,
    #[serde(default)]
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    #[serde(default)]
    pub metadata_options: MetadataOptions,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDeviceMapping {
    pub device_name: String,
    /// GiB.
    pub volume_size: i32,
    #[serde(default = "gp3")]
    pub volume_type: String,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default = "yes")]
    pub delete_on_termination: bool,
}

impl BlockDeviceMapping {
    pub fn new(device_name: &str, volume_size: i32) -> Self {
        BlockDeviceMapping {
            device_name: device_name.into(),
            volume_size,
            volume_type: gp3(),
            encrypted: true,
            delete_on_termination: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataOptions {
    /// `required` (IMDSv2 only) or `optional`.
    #[serde(default = "required")]
    pub http_tokens: String,
    /// `enabled` or `disabled`.
    #[serde(default = "enabled")]
    pub http_endpoint: String,
    /// 1 to 64.
    #[serde(default = "one")]
    pub http_put_response_hop_limit: i32,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            http_tokens: required(),
            http_endpoint: enabled(),
            http_put_response_hop_limit: 1,
        }
    }
}

fn gp3() -> String {
    "gp3".into()
}
fn yes() -> bool {
    true
}
fn required() -> String {
    "required".into()
}
fn enabled() -> String {
    "enabled".into()
}
fn one() -> i32 {
    1
}

impl LaunchTemplate {
    pub fn new(name: &str, image_id: &str, instance_type: &str) -> Self {
        LaunchTemplate {
            name: name.into(),
            image_id: image_id.into(),
            instance_type: instance_type.into(),
            key_name: None,
            vpc_security_group_ids: Vec::new(),
            user_data: None,
            iam_instance_profile_name: None,
            block_device_mappings: Vec::new(),
            metadata_options: MetadataOptions::default(),
            tags: Tags::new(),
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
    if ami.starts_with("ami-") && ami.len() > 4 {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{ami:?}"),
            "expected an AMI id like \"ami-0abc...\"",
        ))
    }
}

fn check_known_prefix(field: &str, v: &Input<String>, prefix: &str) -> Result<(), ProviderError> {
    match v.known() {
        Some(s) if !s.starts_with(prefix) => Err(ProviderError::invalid(
            field,
            format!("{s:?}"),
            format!("expected an id starting with {prefix:?}"),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn check_sg_ids(field: &str, ids: &[Input<String>]) -> Result<(), ProviderError> {
    for id in ids {
        check_known_prefix(field, id, "sg-")?;
    }
    Ok(())
}

fn known<'a>(field: &str, v: &'a Input<String>) -> Result<&'a str, ProviderError> {
    v.known()
        .map(String::as_str)
        .ok_or_else(|| ProviderError::invalid(field, "(unknown)", "not known at apply time"))
}

pub(crate) fn known_all(field: &str, v: &[Input<String>]) -> Result<Vec<String>, ProviderError> {
    v.iter()
        .map(|i| known(field, i).map(str::to_string))
        .collect()
}

pub struct LaunchTemplateProvider {
    aws: Arc<Aws>,
}

impl LaunchTemplateProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        LaunchTemplateProvider { aws }
    }

    fn data(&self, lt: &LaunchTemplate) -> Result<RequestLaunchTemplateData, ProviderError> {
        let mut b = RequestLaunchTemplateData::builder()
            .image_id(&lt.image_id)
            .instance_type(InstanceType::from(lt.instance_type.as_str()))
            .set_key_name(lt.key_name.clone())
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_tokens(LaunchTemplateHttpTokensState::from(
                        lt.metadata_options.http_tokens.as_str(),
                    ))
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                        lt.metadata_options.http_endpoint.as_str(),
                    ))
                    .http_put_response_hop_limit(lt.metadata_options.http_put_response_hop_limit)
                    .build(),
            );
        let sgs = known_all("vpc_security_group_ids", &lt.vpc_security_group_ids)?;
        if !sgs.is_empty() {
            b = b.set_security_group_ids(Some(sgs));
        }
        if let Some(u) = &lt.user_data {
            let text = known("user_data", u)?;
            b = b.user_data(base64::engine::general_purpose::STANDARD.encode(text));
        }
        if let Some(p) = &lt.iam_instance_profile_name {
            b = b.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(known("iam_instance_profile_name", p)?)
                    .build(),
            );
        }
        for m in &lt.block_device_mappings {
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

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::LaunchTemplate>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_launch_templates()
            .launch_template_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.launch_templates().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeLaunchTemplates", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn default_data(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<ResponseLaunchTemplateData>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions("$Default")
            .send()
            .await
        {
            Ok(out) => Ok(out
                .launch_template_versions()
                .first()
                .and_then(|v| v.launch_template_data())
                .cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeLaunchTemplateVersions", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn outputs(&self, lt: &aws_sdk_ec2::types::LaunchTemplate) -> Value {
        let id = lt.launch_template_id().unwrap_or_default();
        // CreatedBy is `arn:<partition>:iam::<account>:<principal>`.
        let (partition, account) = lt
            .created_by()
            .map(|c| {
                let p: Vec<&str> = c.split(':').collect();
                (
                    p.get(1).copied().unwrap_or("aws").to_string(),
                    p.get(4).copied().unwrap_or_default().to_string(),
                )
            })
            .unwrap_or_else(|| ("aws".into(), String::new()));
        let region = self
            .aws
            .config()
            .await
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        json!({
            "id": id,
            "arn": format!("arn:{partition}:ec2:{region}:{account}:launch-template/{id}"),
            "name": lt.launch_template_name(),
            "latest_version": lt.latest_version_number(),
            // The same, as text: what an Instance's launch_template_version takes.
            "version": lt.latest_version_number().map(|n| n.to_string()),
            "default_version": lt.default_version_number(),
        })
    }
}

#[async_trait]
impl Provider for LaunchTemplateProvider {
    fn type_name(&self) -> &'static str {
        LaunchTemplate::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["latest_version", "default_version", "version"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let v: LaunchTemplate = parse(inputs)?;
        let name_ok = (3..=128).contains(&v.name.len())
            && v.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "().-/_".contains(c));
        if !name_ok {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", v.name),
                "3 to 128 characters of letters, digits and ().-/_",
            ));
        }
        check_ami("image_id", &v.image_id)?;
        check_instance_type("instance_type", &v.instance_type)?;
        check_sg_ids("vpc_security_group_ids", &v.vpc_security_group_ids)?;
        if let Some(u) = v.user_data.as_ref().and_then(Input::known) {
            // The API limit is 16 KB after base64 encoding.
            let encoded = u.len().div_ceil(3) * 4;
            if encoded > 16 * 1024 {
                return Err(ProviderError::invalid(
                    "user_data",
                    format!("({} bytes)", u.len()),
                    "at most 16 KB once base64-encoded",
                ));
            }
        }
        for (i, m) in v.block_device_mappings.iter().enumerate() {
            let f = |n: &str| format!("block_device_mappings[{i}].{n}");
            if !m.device_name.starts_with("/dev/") && !m.device_name.starts_with("xvd") {
                return Err(ProviderError::invalid(
                    &f("device_name"),
                    format!("{:?}", m.device_name),
                    "expected a device like /dev/sdf or /dev/xvda",
                ));
            }
            if !VOLUME_TYPES.contains(&m.volume_type.as_str()) {
                return Err(ProviderError::invalid(
                    &f("volume_type"),
                    format!("{:?}", m.volume_type),
                    format!("must be one of {VOLUME_TYPES:?}"),
                ));
            }
            if !(1..=65536).contains(&m.volume_size) {
                return Err(ProviderError::invalid(
                    &f("volume_size"),
                    m.volume_size,
                    "must be between 1 and 65536 GiB",
                ));
            }
        }
        let mo = &v.metadata_options;
        if !matches!(mo.http_tokens.as_str(), "required" | "optional") {
            return Err(ProviderError::invalid(
                "metadata_options.http_tokens",
                format!("{:?}", mo.http_tokens),
                "must be \"required\" or \"optional\"",
            ));
        }
        if !matches!(mo.http_endpoint.as_str(), "enabled" | "disabled") {
            return Err(ProviderError::invalid(
                "metadata_options.http_endpoint",
                format!("{:?}", mo.http_endpoint),
                "must be \"enabled\" or \"disabled\"",
            ));
        }
        if !(1..=64).contains(&mo.http_put_response_hop_limit) {
            return Err(ProviderError::invalid(
                "metadata_options.http_put_response_hop_limit",
                mo.http_put_response_hop_limit,
                "must be between 1 and 64",
            ));
        }
        tags::validate(&v.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let v: LaunchTemplate = parse(inputs)?;
        let data = self.data(&v)?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_launch_template()
            .launch_template_name(&v.name)
            .launch_template_data(data)
            .tag_specifications(tag_spec(
                &self.aws,
                ctx,
                ResourceType::LaunchTemplate,
                &v.tags,
            ))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateLaunchTemplate", e))?;
        let lt = out.launch_template().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateLaunchTemplate returned no template",
                ctx.urn
            ))
        })?;
        Ok(Created {
            id: lt.launch_template_id().unwrap_or_default().to_string(),
            outputs: self.outputs(lt).await,
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(lt) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let Some(d) = self.default_data(ctx, id).await? else {
            return Ok(None);
        };
        // Keep user data sealed if it was declared secret.
        let secret_user_data = parse::<LaunchTemplate>(inputs)
            .ok()
            .and_then(|o| o.user_data)
            .is_some_and(|u| u.is_secret());
        let user_data = d
            .user_data()
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .ok()
                    .and_then(|raw| String::from_utf8(raw).ok())
                    .unwrap_or_else(|| b.to_string())
            })
            .map(|s| {
                if secret_user_data {
                    Input::Secret(s)
                } else {
                    Input::Value(s)
                }
            });
        let mo = d.metadata_options();
        let live = LaunchTemplate {
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
                            .map(|t| t.as_str().to_string())
                            .unwrap_or_else(gp3),
                        encrypted: ebs.and_then(|e| e.encrypted()).unwrap_or(false),
                        delete_on_termination: ebs
                            .and_then(|e| e.delete_on_termination())
                            .unwrap_or(true),
                    }
                })
                .collect(),
            metadata_options: MetadataOptions {
                http_tokens: mo
                    .and_then(|m| m.http_tokens())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "optional".into()),
                http_endpoint: mo
                    .and_then(|m| m.http_endpoint())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(enabled),
                http_put_response_hop_limit: mo
                    .and_then(|m| m.http_put_response_hop_limit())
                    .unwrap_or(1),
            },
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(lt.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(&lt).await,
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (o, n): (LaunchTemplate, LaunchTemplate) = (parse(old_inputs)?, parse(new_inputs)?);
        let strip = |l: &LaunchTemplate| {
            let mut l = l.clone();
            l.tags = Tags::new();
            serde_json::to_value(l).expect("serializable")
        };
        if !crate::provider::same_value(&strip(&o), &strip(&n)) {
            let ec2 = self.aws.ec2().await;
            self.aws.limits.ec2_mutating.acquire().await;
            let out = ec2
                .create_launch_template_version()
                .launch_template_id(id)
                .launch_template_data(self.data(&n)?)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "CreateLaunchTemplateVersion", e))?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| {
                    ProviderError::Fatal(format!(
                        "{}: CreateLaunchTemplateVersion returned no version number",
                        ctx.urn
                    ))
                })?;
            self.aws.limits.ec2_mutating.acquire().await;
            ec2.modify_launch_template()
                .launch_template_id(id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyLaunchTemplate", e))?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(lt) => Ok(self.outputs(&lt).await),
            None => Err(ProviderError::NotFound(format!(
                "{}: launch template {id} disappeared during update",
                ctx.urn
            ))),
        }
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteLaunchTemplate", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_launch_templates()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeLaunchTemplates", e))?;
        let mut found = Vec::new();
        for lt in out.launch_templates() {
            found.push(Created {
                id: lt.launch_template_id().unwrap_or_default().to_string(),
                outputs: self.outputs(lt).await,
            });
        }
        Ok(found)
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
