//! `aws:ec2/Instance` (Terraform `aws_instance`).
//!
//! From a launch template (`launch_template_id` + `launch_template_version`) or
//! from `image_id` + `instance_type`. A change of `instance_type` is applied in
//! place by stop → ModifyInstanceAttribute → start, as Terraform does.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeValue, InstanceType, LaunchTemplateSpecification, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::launch_template::{check_ami, check_instance_type, check_sg_ids, require_all};
use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::check_id;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    pub launch_template_id: Option<Input<String>>,
    /// A version number, `$Default` or `$Latest`; only with `launch_template_id`
    /// (default `$Default`).
    pub launch_template_version: Option<Input<String>>,
    /// Required without a launch template.
    pub image_id: Option<String>,
    /// Required without a launch template.
    pub instance_type: Option<String>,
    pub subnet_id: Option<Input<String>>,
    pub vpc_security_group_ids: Vec<Input<String>>,
    pub private_ip: Option<String>,
    pub tags: Tags,
}

impl Instance {
    pub fn new(image_id: &str, instance_type: &str, subnet_id: impl Into<Input<String>>) -> Self {
        Instance {
            image_id: Some(image_id.into()),
            instance_type: Some(instance_type.into()),
            subnet_id: Some(subnet_id.into()),
            ..Default::default()
        }
    }

    pub fn from_launch_template(
        launch_template_id: impl Into<Input<String>>,
        subnet_id: impl Into<Input<String>>,
    ) -> Self {
        Instance {
            launch_template_id: Some(launch_template_id.into()),
            launch_template_version: Some("$Default".into()),
            subnet_id: Some(subnet_id.into()),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Instance {
    const TYPE: &'static str = "aws:ec2/Instance";
}

impl Resource<Instance> {
    pub fn private_ip(&self) -> Output<String> {
        self.output("private_ip")
    }
    pub fn public_ip(&self) -> Output<String> {
        self.output("public_ip")
    }
    pub fn availability_zone(&self) -> Output<String> {
        self.output("availability_zone")
    }
    pub fn primary_network_interface_id(&self) -> Output<String> {
        self.output("primary_network_interface_id")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// An instance profile (or its role) made moments ago is not yet valid for
/// RunInstances; Terraform retries these for its IAM propagation time.
/// Nothing was launched, so sending the request again is safe.
const PROFILE_PROPAGATION: [Retry; 2] = [
    Retry::propagation("InvalidParameterValue", "Invalid IAM Instance Profile"),
    Retry::propagation("InvalidParameterValue", " has no associated IAM Roles"),
];

// The tags AWS puts on an instance launched from a template.
const LT_ID_TAG: &str = "aws:ec2launchtemplate:id";
const LT_VERSION_TAG: &str = "aws:ec2launchtemplate:version";

#[async_trait]
impl AwsResource for Instance {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "launch_template_id",
            "launch_template_version",
            "image_id",
            "subnet_id",
            "private_ip",
        ],
        // A stop and start gives a new public address.
        computed_on_update: &["instance_type", "public_ip"],
        // Left to the launch template or to AWS when not declared.
        optional_computed: &[
            "image_id",
            "instance_type",
            "subnet_id",
            "private_ip",
            "vpc_security_group_ids",
        ],
        normalize: &[("vpc_security_group_ids", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_instance",
            args: &[
                ("launch_template_id", "launch_template.id"),
                ("launch_template_version", "launch_template.version"),
                ("image_id", "ami"),
                ("instance_type", "instance_type"),
                ("subnet_id", "subnet_id"),
                ("vpc_security_group_ids", "vpc_security_group_ids"),
                ("private_ip", "private_ip"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if self.launch_template_id.is_none() {
            for (field, set) in [
                ("image_id", self.image_id.is_some()),
                ("instance_type", self.instance_type.is_some()),
            ] {
                if !set {
                    return Err(ProviderError::invalid(
                        field,
                        "(none)",
                        "required unless launch_template_id is set",
                    ));
                }
            }
            if let Some(v) = &self.launch_template_version {
                return Err(ProviderError::invalid(
                    "launch_template_version",
                    v.known()
                        .map_or("(a reference)".to_string(), |v| format!("{v:?}")),
                    "needs launch_template_id",
                ));
            }
        }
        if let Some(lt) = &self.launch_template_id {
            check_id("launch_template_id", lt, "lt")?;
        }
        if let Some(v) = self.launch_template_version.as_ref().and_then(Input::known) {
            if !(v == "$Default" || v == "$Latest" || v.parse::<u64>().is_ok_and(|n| n > 0)) {
                return Err(ProviderError::invalid(
                    "launch_template_version",
                    format!("{v:?}"),
                    "must be a version number, \"$Default\" or \"$Latest\"",
                ));
            }
        }
        if let Some(a) = &self.image_id {
            check_ami("image_id", a)?;
        }
        if let Some(t) = &self.instance_type {
            check_instance_type("instance_type", t)?;
        }
        if let Some(s) = &self.subnet_id {
            check_id("subnet_id", s, "subnet")?;
        }
        check_sg_ids("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        if let Some(ip) = &self.private_ip {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(ProviderError::invalid(
                    "private_ip",
                    format!("{ip:?}"),
                    "not an IPv4 address",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let template = match &self.launch_template_id {
            Some(lt) => Some(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(lt.require("launch_template_id")?)
                    .version(match &self.launch_template_version {
                        Some(v) => v.require("launch_template_version")?.as_str(),
                        None => "$Default",
                    })
                    .build(),
            ),
            None => None,
        };
        let subnet = match &self.subnet_id {
            Some(s) => Some(s.require("subnet_id")?.clone()),
            None => None,
        };
        let groups = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        // The SDK fills in RunInstances' ClientToken, so its own retries of
        // this request launch one instance; a run that died after the call is
        // adopted through the URN tag.
        let out = cx
            .send_retrying("RunInstances", &PROFILE_PROPAGATION, |c| {
                c.run_instances()
                    .min_count(1)
                    .max_count(1)
                    .set_launch_template(template.clone())
                    .set_image_id(self.image_id.clone())
                    .set_instance_type(self.instance_type.as_deref().map(InstanceType::from))
                    .set_subnet_id(subnet.clone())
                    .set_security_group_ids((!groups.is_empty()).then(|| groups.clone()))
                    .set_private_ip_address(self.private_ip.clone())
                    .tag_specifications(cx.tag_spec(ResourceType::Instance, &self.tags))
                    .send()
            })
            .await?;
        out.instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("RunInstances returned no instance"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // A new instance may be unknown to DescribeInstances for a while
        // (AWS's own eventual-consistency example).
        wait_for(
            cx,
            id,
            Wait::new("instance", &["pending"], &["running"]).after_create(),
        )
        .await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some((i, owner)) = describe(cx, id).await? else {
            return Ok(None);
        };
        if name(&i) == "terminated" {
            return Ok(None);
        }
        let aws_tag = |k: &str| {
            i.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .map(|v| Input::Value(v.to_string()))
        };
        let own: Vec<_> = i
            .tags()
            .iter()
            .filter(|t| !t.key().is_some_and(|k| k.starts_with("aws:")))
            .cloned()
            .collect();
        // `$Default`, `$Latest` (and no version: `$Default`) name a version
        // only at launch; a number is compared with the one launched.
        let by_number = |v: &Input<String>| v.known().is_some_and(|v| !v.starts_with('$'));
        let args = Instance {
            launch_template_id: aws_tag(LT_ID_TAG).or_else(|| declared.launch_template_id.clone()),
            launch_template_version: match &declared.launch_template_version {
                Some(v) if by_number(v) => aws_tag(LT_VERSION_TAG).or_else(|| Some(v.clone())),
                other => other.clone(),
            },
            image_id: i.image_id().map(str::to_string),
            instance_type: i.instance_type().map(|t| t.as_str().to_string()),
            subnet_id: i.subnet_id().map(|s| Input::Value(s.to_string())),
            vpc_security_group_ids: i
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(|s| Input::Value(s.to_string())))
                .collect(),
            private_ip: i.private_ip_address().map(str::to_string),
            tags: cx.own_tags(&from_tags(&own)),
        };
        let eni = i
            .network_interfaces()
            .iter()
            .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
            .or_else(|| i.network_interfaces().first())
            .and_then(|n| n.network_interface_id());
        let outputs = json!({
            "id": id,
            "arn": cx.arn("ec2", &owner, &format!("instance/{id}")).await,
            "instance_type": i.instance_type().map(|t| t.as_str()),
            "private_ip": i.private_ip_address(),
            "public_ip": i.public_ip_address(),
            "availability_zone": i.placement().and_then(|p| p.availability_zone()),
            "subnet_id": i.subnet_id(),
            "primary_network_interface_id": eni,
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        if let Some(t) = &self.instance_type {
            if self.instance_type != old.instance_type {
                change_type(cx, id, t).await?;
            }
        }
        let groups = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        if self.vpc_security_group_ids != old.vpc_security_group_ids && !groups.is_empty() {
            cx.send("ModifyInstanceAttribute", |c| {
                c.modify_instance_attribute()
                    .instance_id(id)
                    .set_groups(Some(groups.clone()))
                    .send()
            })
            .await?;
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.send("TerminateInstances", |c| {
            c.terminate_instances().instance_ids(id).send()
        })
        .await?;
        Wait::new(
            "instance",
            &["pending", "running", "shutting-down", "stopping", "stopped"],
            &[],
        )
        .until_gone(cx.settings(), || async {
            Ok(match describe(cx, id).await? {
                Some((i, _)) if name(&i) != "terminated" => Seen::State(name(&i).to_string(), ()),
                _ => Seen::Gone,
            })
        })
        .await
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let stream = cx
            .client()
            .await
            .describe_instances()
            .filters(cx.urn_filter())
            .filters(filter(
                "instance-state-name",
                ["pending", "running", "stopping", "stopped"],
            ))
            .into_paginator()
            .send();
        Ok(cx
            .pages("DescribeInstances", stream)
            .await?
            .iter()
            .flat_map(|p| p.reservations())
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect())
    }
}

/// The instance in any state (`terminated` too) and its account; `None`
/// when DescribeInstances does not know the id.
async fn describe(
    cx: &Call<'_, Ec2>,
    id: &str,
) -> Result<Option<(aws_sdk_ec2::types::Instance, String)>, ProviderError> {
    let out = cx
        .find("DescribeInstances", |c| {
            c.describe_instances().instance_ids(id).send()
        })
        .await?;
    Ok(out.and_then(|o| {
        o.reservations().iter().find_map(|r| {
            let owner = r.owner_id().unwrap_or_default().to_string();
            r.instances().first().map(|i| (i.clone(), owner))
        })
    }))
}

fn name(i: &aws_sdk_ec2::types::Instance) -> &str {
    i.state()
        .and_then(|s| s.name())
        .map_or("unknown", |n| n.as_str())
}

/// Waits as `w` says; an instance that ends up `terminated` fails the wait
/// with AWS's reason (`Server.InsufficientInstanceCapacity`, ...).
async fn wait_for(cx: &Call<'_, Ec2>, id: &str, w: Wait<'_>) -> Result<(), ProviderError> {
    w.until(cx.settings(), || async {
        Ok(match describe(cx, id).await? {
            None => Seen::Gone,
            Some((i, _)) => {
                let reason = i.state_reason().and_then(|r| r.message());
                let state = match (name(&i), reason) {
                    (s @ ("terminated" | "shutting-down"), Some(r)) => format!("{s} ({r})"),
                    (s, _) => s.to_string(),
                };
                Seen::State(state, ())
            }
        })
    })
    .await
}

/// Stops the instance and waits until it is `stopped` (Terraform's
/// `stopInstance`). One that is stopped, terminated or gone is left alone.
pub(crate) async fn stop(cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
    let state = describe(cx, id).await?.map(|(i, _)| name(&i).to_string());
    if !matches!(state.as_deref(), Some("pending" | "running" | "stopping")) {
        return Ok(());
    }
    // A pending instance refuses to stop until it runs.
    let busy = Retry::conflict(&["IncorrectInstanceState"], Duration::from_secs(300));
    cx.send_retrying("StopInstances", &[busy], |c| {
        c.stop_instances().instance_ids(id).send()
    })
    .await?;
    wait_for(
        cx,
        id,
        Wait::new(
            "instance",
            &["pending", "running", "stopping"],
            &["stopped"],
        ),
    )
    .await
}

/// stop → modify → start: AWS refuses a type change on a running instance.
async fn change_type(cx: &Call<'_, Ec2>, id: &str, t: &str) -> Result<(), ProviderError> {
    stop(cx, id).await?;
    cx.send("ModifyInstanceAttribute", |c| {
        c.modify_instance_attribute()
            .instance_id(id)
            .instance_type(AttributeValue::builder().value(t).build())
            .send()
    })
    .await?;
    cx.send("StartInstances", |c| {
        c.start_instances().instance_ids(id).send()
    })
    .await?;
    wait_for(
        cx,
        id,
        Wait::new("instance", &["pending", "stopped"], &["running"]),
    )
    .await
}
