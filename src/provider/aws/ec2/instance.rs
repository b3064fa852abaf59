//! `aws:ec2/Instance` (Terraform `aws_instance`).
//!
//! From a launch template (`launch_template_id` + `launch_template_version`) or
//! from `image_id` + `instance_type`. A change of `instance_type` is applied in
//! place by stop → ModifyInstanceAttribute → start, as Terraform does.
//! Adoption goes through the `morket:urn` tag only: no ClientToken is sent,
//! since a replacement re-uses the URN and AWS would hand back the old instance.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeValue, Filter, InstanceType, LaunchTemplateSpecification, ResourceType,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::launch_template::{check_ami, check_instance_type, check_sg_ids, known_all};
use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    #[serde(default)]
    pub launch_template_id: Option<Input<String>>,
    /// A version number, `$Default` or `$Latest`; only with `launch_template_id`
    /// (default `$Default`).
    #[serde(default)]
    pub launch_template_version: Option<Input<String>>,
    /// Required without a launch template.
    #[serde(default)]
    pub image_id: Option<String>,
    /// Required without a launch template.
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<Input<String>>,
    #[serde(default)]
    pub vpc_security_group_ids: Vec<Input<String>>,
    #[serde(default)]
    pub private_ip: Option<String>,
    #[serde(default)]
    pub tags: Tags,
}

impl Instance {
    pub fn new(image_id: &str, instance_type: &str, subnet_id: impl Into<Input<String>>) -> Self {
        Instance {
            launch_template_id: None,
            launch_template_version: None,
            image_id: Some(image_id.into()),
            instance_type: Some(instance_type.into()),
            subnet_id: Some(subnet_id.into()),
            vpc_security_group_ids: Vec::new(),
            private_ip: None,
            tags: Tags::new(),
        }
    }

    pub fn from_launch_template(
        launch_template_id: impl Into<Input<String>>,
        subnet_id: impl Into<Input<String>>,
    ) -> Self {
        Instance {
            launch_template_id: Some(launch_template_id.into()),
            launch_template_version: Some("$Default".into()),
            image_id: None,
            instance_type: None,
            subnet_id: Some(subnet_id.into()),
            vpc_security_group_ids: Vec::new(),
            private_ip: None,
            tags: Tags::new(),
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

/// One poll of a waiter: done with a value, or still in `state`.
pub(crate) enum Poll<T> {
    Done(T),
    Pending(String),
}

/// Polls every `poll_interval` until done, for at most `wait_timeout`.
pub(crate) async fn wait_until<T, F, Fut>(
    aws: &Aws,
    ctx: &Ctx,
    what: &str,
    target: &str,
    mut poll: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let deadline = tokio::time::Instant::now() + aws.settings.wait_timeout;
    loop {
        match poll().await? {
            Poll::Done(t) => return Ok(t),
            Poll::Pending(state) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(ProviderError::Fatal(format!(
                        "{}: timed out after {:?} waiting for {what} to be {target}; it is {state}",
                        ctx.urn, aws.settings.wait_timeout
                    )));
                }
                tokio::time::sleep(aws.settings.poll_interval).await;
            }
        }
    }
}

/// Own tags without the ones AWS adds itself (`aws:ec2launchtemplate:id`, ...).
pub(crate) fn live_own_tags(aws: &Aws, live: &[aws_sdk_ec2::types::Tag]) -> Tags {
    let mut t = tags::own_view(&aws.settings.default_tags, &from_tags(live));
    t.retain(|k, _| !k.to_ascii_lowercase().starts_with("aws:"));
    t
}

fn state_of(i: &aws_sdk_ec2::types::Instance) -> String {
    i.state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub struct InstanceProvider {
    aws: Arc<Aws>,
}

impl InstanceProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        InstanceProvider { aws }
    }

    /// The instance, or `None` when it is gone or terminated.
    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<(aws_sdk_ec2::types::Instance, String)>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.reservations().iter().find_map(|r| {
                r.instances()
                    .first()
                    .filter(|i| state_of(i) != "terminated")
                    .map(|i| (i.clone(), r.owner_id().unwrap_or_default().to_string()))
            })),
            Err(e) => match error::map(&ctx.urn, "DescribeInstances", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn wait_state(
        &self,
        ctx: &Ctx,
        id: &str,
        target: &str,
    ) -> Result<(aws_sdk_ec2::types::Instance, String), ProviderError> {
        wait_until(
            &self.aws,
            ctx,
            &format!("instance {id}"),
            target,
            move || async move {
                match self.describe(ctx, id).await? {
                    Some((i, owner)) if state_of(&i) == target => Ok(Poll::Done((i, owner))),
                    Some((i, _)) => Ok(Poll::Pending(state_of(&i))),
                    None => Err(ProviderError::Fatal(format!(
                        "{}: instance {id} was terminated while waiting for {target}",
                        ctx.urn
                    ))),
                }
            },
        )
        .await
    }

    async fn outputs(&self, i: &aws_sdk_ec2::types::Instance, owner: &str) -> Value {
        let id = i.instance_id().unwrap_or_default();
        let region = self
            .aws
            .config()
            .await
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let eni = i
            .network_interfaces()
            .iter()
            .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
            .or_else(|| i.network_interfaces().first())
            .and_then(|n| n.network_interface_id());
        json!({
            "id": id,
            "arn": format!("arn:aws:ec2:{region}:{owner}:instance/{id}"),
            "instance_type": i.instance_type().map(|t| t.as_str()),
            "private_ip": i.private_ip_address(),
            "public_ip": i.public_ip_address(),
            "availability_zone": i.placement().and_then(|p| p.availability_zone()),
            "subnet_id": i.subnet_id(),
            "primary_network_interface_id": eni,
        })
    }

    async fn modify_groups(
        &self,
        ctx: &Ctx,
        id: &str,
        groups: Vec<String>,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        self.aws
            .ec2()
            .await
            .modify_instance_attribute()
            .instance_id(id)
            .set_groups(Some(groups))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ModifyInstanceAttribute", e))?;
        Ok(())
    }

    /// stop → modify → start; AWS refuses a type change on a running instance.
    async fn change_type(&self, ctx: &Ctx, id: &str, t: &str) -> Result<(), ProviderError> {
        let ec2 = self.aws.ec2().await;
        self.aws.limits.ec2_mutating.acquire().await;
        ec2.stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "StopInstances", e))?;
        self.wait_state(ctx, id, "stopped").await?;
        self.aws.limits.ec2_mutating.acquire().await;
        ec2.modify_instance_attribute()
            .instance_id(id)
            .instance_type(AttributeValue::builder().value(t).build())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ModifyInstanceAttribute", e))?;
        self.aws.limits.ec2_mutating.acquire().await;
        ec2.start_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "StartInstances", e))?;
        self.wait_state(ctx, id, "running").await?;
        Ok(())
    }
}

#[async_trait]
impl Provider for InstanceProvider {
    fn type_name(&self) -> &'static str {
        Instance::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "launch_template_id",
            "launch_template_version",
            "image_id",
            "subnet_id",
            "private_ip",
        ]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["instance_type", "public_ip"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let v: Instance = parse(inputs)?;
        if v.launch_template_id.is_none() {
            if v.image_id.is_none() {
                return Err(ProviderError::invalid(
                    "image_id",
                    "(none)",
                    "required unless launch_template_id is set",
                ));
            }
            if v.instance_type.is_none() {
                return Err(ProviderError::invalid(
                    "instance_type",
                    "(none)",
                    "required unless launch_template_id is set",
                ));
            }
            if let Some(ver) = &v.launch_template_version {
                return Err(ProviderError::invalid(
                    "launch_template_version",
                    ver.known()
                        .map_or("(a reference)".to_string(), |v| format!("{v:?}")),
                    "needs launch_template_id",
                ));
            }
        }
        if let Some(Input::Value(id) | Input::Secret(id)) = &v.launch_template_id {
            if !id.starts_with("lt-") {
                return Err(ProviderError::invalid(
                    "launch_template_id",
                    format!("{id:?}"),
                    "expected an id starting with \"lt-\"",
                ));
            }
        }
        if let Some(Input::Value(ver) | Input::Secret(ver)) = &v.launch_template_version {
            if !(ver == "$Default" || ver == "$Latest" || ver.parse::<u64>().is_ok_and(|n| n > 0)) {
                return Err(ProviderError::invalid(
                    "launch_template_version",
                    format!("{ver:?}"),
                    "must be a version number, \"$Default\" or \"$Latest\"",
                ));
            }
        }
        if let Some(a) = &v.image_id {
            check_ami("image_id", a)?;
        }
        if let Some(t) = &v.instance_type {
            check_instance_type("instance_type", t)?;
        }
        if let Some(Input::Value(s) | Input::Secret(s)) = &v.subnet_id {
            if !s.starts_with("subnet-") {
                return Err(ProviderError::invalid(
                    "subnet_id",
                    format!("{s:?}"),
                    "expected an id starting with \"subnet-\"",
                ));
            }
        }
        check_sg_ids("vpc_security_group_ids", &v.vpc_security_group_ids)?;
        if let Some(ip) = &v.private_ip {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(ProviderError::invalid(
                    "private_ip",
                    format!("{ip:?}"),
                    "not an IPv4 address",
                ));
            }
        }
        tags::validate(&v.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let v: Instance = parse(inputs)?;
        let mut req = self
            .aws
            .ec2()
            .await
            .run_instances()
            .min_count(1)
            .max_count(1)
            .set_image_id(v.image_id.clone())
            .set_instance_type(v.instance_type.as_deref().map(InstanceType::from))
            .set_private_ip_address(v.private_ip.clone())
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::Instance, &v.tags));
        if let Some(lt) = &v.launch_template_id {
            let lt = known_all("launch_template_id", std::slice::from_ref(lt))?.remove(0);
            req = req.launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(lt)
                    .version(match &v.launch_template_version {
                        Some(ver) => {
                            known_all("launch_template_version", std::slice::from_ref(ver))?
                                .remove(0)
                        }
                        None => "$Default".into(),
                    })
                    .build(),
            );
        }
        if let Some(s) = &v.subnet_id {
            req = req.subnet_id(known_all("subnet_id", std::slice::from_ref(s))?.remove(0));
        }
        let sgs = known_all("vpc_security_group_ids", &v.vpc_security_group_ids)?;
        if !sgs.is_empty() {
            req = req.set_security_group_ids(Some(sgs));
        }
        self.aws.limits.ec2_mutating.acquire().await;
        let out = req
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "RunInstances", e))?;
        let id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .ok_or_else(|| {
                ProviderError::Fatal(format!("{}: RunInstances returned no instance", ctx.urn))
            })?
            .to_string();
        let (inst, owner) = self
            .wait_state(ctx, &id, "running")
            .await
            .map_err(|e| ProviderError::partial(&id, e))?;
        let outputs = self.outputs(&inst, &owner).await;
        Ok(Created { id, outputs })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some((i, owner)) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let declared: Option<Instance> = parse(inputs).ok();
        // Fields left to the launch template are not declared; keep them out
        // of the live view so they do not show as drift.
        let has = |f: fn(&Instance) -> bool| declared.as_ref().is_none_or(f);
        let live = Instance {
            launch_template_id: declared.as_ref().and_then(|d| d.launch_template_id.clone()),
            launch_template_version: declared
                .as_ref()
                .and_then(|d| d.launch_template_version.clone()),
            image_id: has(|d| d.image_id.is_some())
                .then(|| i.image_id().map(str::to_string))
                .flatten(),
            instance_type: has(|d| d.instance_type.is_some())
                .then(|| i.instance_type().map(|t| t.as_str().to_string()))
                .flatten(),
            subnet_id: has(|d| d.subnet_id.is_some())
                .then(|| i.subnet_id().map(|s| Input::Value(s.to_string())))
                .flatten(),
            vpc_security_group_ids: if has(|d| !d.vpc_security_group_ids.is_empty()) {
                i.security_groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(|s| Input::Value(s.to_string())))
                    .collect()
            } else {
                Vec::new()
            },
            private_ip: has(|d| d.private_ip.is_some())
                .then(|| i.private_ip_address().map(str::to_string))
                .flatten(),
            tags: live_own_tags(&self.aws, i.tags()),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(&i, &owner).await,
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
        let (o, n): (Instance, Instance) = (parse(old_inputs)?, parse(new_inputs)?);
        if let Some(t) = &n.instance_type {
            if n.instance_type != o.instance_type {
                self.change_type(ctx, id, t).await?;
            }
        }
        let (og, ng) = (
            known_all("vpc_security_group_ids", &o.vpc_security_group_ids).unwrap_or_default(),
            known_all("vpc_security_group_ids", &n.vpc_security_group_ids)?,
        );
        if og != ng && !ng.is_empty() {
            self.modify_groups(ctx, id, ng).await?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some((i, owner)) => Ok(self.outputs(&i, &owner).await),
            None => Err(ProviderError::NotFound(format!(
                "{}: instance {id} disappeared during update",
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
            .terminate_instances()
            .instance_ids(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => match error::map(&ctx.urn, "TerminateInstances", e) {
                ProviderError::NotFound(_) => return Ok(()),
                other => return Err(other),
            },
        }
        wait_until(
            &self.aws,
            ctx,
            &format!("instance {id}"),
            "terminated",
            move || async move {
                Ok(match self.describe(ctx, id).await? {
                    None => Poll::Done(()),
                    Some((i, _)) => Poll::Pending(state_of(&i)),
                })
            },
        )
        .await
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_instances()
            .filters(urn_filter(ctx))
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .set_values(Some(
                        ["pending", "running", "stopping", "stopped"]
                            .map(String::from)
                            .to_vec(),
                    ))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeInstances", e))?;
        let mut found = Vec::new();
        for r in out.reservations() {
            for i in r.instances() {
                found.push(Created {
                    id: i.instance_id().unwrap_or_default().to_string(),
                    outputs: self.outputs(i, r.owner_id().unwrap_or_default()).await,
                });
            }
        }
        Ok(found)
    }
}
