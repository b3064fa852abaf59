//! `aws:lb/TargetGroup` (Terraform `aws_lb_target_group`). Name, port,
//! protocol, VPC and target type force a replacement; the health check and
//! the deregistration delay change in place.
//!
//! Names are unique per region (`unique_name`), so a replacement that keeps
//! the name must delete the old group first; the engine refuses that plan
//! while a listener or rule of the stack forwards to the group. Give a
//! replaced group a new name (Terraform's answer is `name_prefix` with
//! `create_before_destroy`): it is then created before the old one goes, the
//! rule moves to it, and the delete passes. A delete AWS refuses because
//! something still forwards to the group (`ResourceInUse`) is retried for 2
//! minutes, as Terraform does, then fails saying so.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as SdkTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    arn_suffix, check_name, describe_by_arns, own_tags, sdk_tags, tagged_ours, tags_of, Elbv2,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_id, in_range, one_of};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetGroup {
    /// 1 to 32 letters, digits and hyphens.
    pub name: String,
    pub port: i32,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    pub vpc_id: Input<String>,
    /// `ip` (Fargate tasks) or `instance`.
    pub target_type: String,
    pub health_check: HealthCheck,
    /// Seconds a deregistering target drains (0 to 3600; AWS's default 300).
    pub deregistration_delay: i32,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    pub enabled: bool,
    pub path: String,
    /// HTTP codes: `200`, `200,302` or `200-299`.
    pub matcher: String,
    /// Seconds between checks (5 to 300).
    pub interval: i32,
    /// Seconds without an answer that fail a check (2 to 120, below `interval`).
    pub timeout: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    /// `traffic-port` or a port number.
    pub port: String,
    pub protocol: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            enabled: true,
            path: "/".into(),
            matcher: "200".into(),
            interval: 30,
            timeout: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            port: "traffic-port".into(),
            protocol: "HTTP".into(),
        }
    }
}

impl Default for TargetGroup {
    fn default() -> Self {
        TargetGroup {
            name: String::new(),
            port: 80,
            protocol: "HTTP".into(),
            vpc_id: Input::default(),
            target_type: "ip".into(),
            health_check: HealthCheck::default(),
            deregistration_delay: 300,
            tags: Tags::new(),
        }
    }
}

impl TargetGroup {
    pub fn new(name: &str, port: i32, vpc_id: impl Into<Input<String>>) -> Self {
        TargetGroup {
            name: name.into(),
            port,
            vpc_id: vpc_id.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for TargetGroup {
    const TYPE: &'static str = "aws:lb/TargetGroup";
}

impl Resource<TargetGroup> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `targetgroup/<name>/<id>`: the `TargetGroup` dimension of its metrics.
    pub fn arn_suffix(&self) -> Output<String> {
        self.output("arn_suffix")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// `DeleteTargetGroup` while a listener or rule still forwards to the group
/// (Terraform retries it for 2 minutes: the listener's own change may be on
/// its way).
const IN_USE: Retry = Retry::conflict(&["ResourceInUse"], Duration::from_secs(120));

async fn by_arn(cx: &Call<'_, Elbv2>, arn: &str) -> Result<Option<SdkTargetGroup>, ProviderError> {
    Ok(cx
        .find("DescribeTargetGroups", |c| {
            c.describe_target_groups().target_group_arns(arn).send()
        })
        .await?
        .and_then(|o| o.target_groups().first().cloned()))
}

async fn by_name(
    cx: &Call<'_, Elbv2>,
    name: &str,
) -> Result<Option<SdkTargetGroup>, ProviderError> {
    Ok(cx
        .find("DescribeTargetGroups", |c| {
            c.describe_target_groups().names(name).send()
        })
        .await?
        .and_then(|o| o.target_groups().first().cloned()))
}

/// The group's attributes; `None` when it is gone.
async fn attributes(
    cx: &Call<'_, Elbv2>,
    arn: &str,
) -> Result<Option<Vec<TargetGroupAttribute>>, ProviderError> {
    Ok(cx
        .find("DescribeTargetGroupAttributes", |c| {
            c.describe_target_group_attributes()
                .target_group_arn(arn)
                .send()
        })
        .await?
        .map(|o| o.attributes().to_vec()))
}

/// A group as read: `tg` described, its attributes and own tags.
fn live(
    arn: &str,
    tg: &SdkTargetGroup,
    attrs: &[TargetGroupAttribute],
    tags: Tags,
) -> Live<TargetGroup> {
    let delay = attrs
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value())
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let d = HealthCheck::default();
    let name = tg.target_group_name().unwrap_or_default().to_string();
    let args = TargetGroup {
        name: name.clone(),
        port: tg.port().unwrap_or_default(),
        protocol: tg.protocol().map_or("", |p| p.as_str()).to_string(),
        vpc_id: Input::Value(tg.vpc_id().unwrap_or_default().to_string()),
        target_type: tg.target_type().map_or("", |t| t.as_str()).to_string(),
        health_check: HealthCheck {
            enabled: tg.health_check_enabled().unwrap_or(d.enabled),
            path: tg.health_check_path().map_or(d.path, str::to_string),
            matcher: tg
                .matcher()
                .and_then(|m| m.http_code())
                .map_or(d.matcher, str::to_string),
            interval: tg.health_check_interval_seconds().unwrap_or(d.interval),
            timeout: tg.health_check_timeout_seconds().unwrap_or(d.timeout),
            healthy_threshold: tg.healthy_threshold_count().unwrap_or(d.healthy_threshold),
            unhealthy_threshold: tg
                .unhealthy_threshold_count()
                .unwrap_or(d.unhealthy_threshold),
            port: tg.health_check_port().map_or(d.port, str::to_string),
            protocol: tg
                .health_check_protocol()
                .map_or(d.protocol, |p| p.as_str().to_string()),
        },
        deregistration_delay: delay,
        tags,
    };
    Live {
        args,
        outputs: json!({
            "id": arn,
            "arn": arn,
            "arn_suffix": arn_suffix(arn),
            "name": name,
        }),
    }
}

fn check_matcher(v: &str) -> bool {
    !v.is_empty()
        && v.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            ends.all(|c| c.parse::<u16>().is_ok_and(|n| (200..=499).contains(&n)))
        })
}

#[async_trait]
impl AwsResource for TargetGroup {
    type Service = Elbv2;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "port", "protocol", "vpc_id", "target_type"],
        unique_name: &["name"],
        terraform: &[Tf {
            resource: "aws_lb_target_group",
            args: &[
                ("name", "name"),
                ("port", "port"),
                ("protocol", "protocol"),
                ("vpc_id", "vpc_id"),
                ("target_type", "target_type"),
                ("health_check", "health_check"),
                ("deregistration_delay", "deregistration_delay"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        in_range("port", self.port, 1..=65535)?;
        one_of("protocol", &self.protocol, &["HTTP", "HTTPS"])?;
        check_id("vpc_id", &self.vpc_id, "vpc")?;
        one_of("target_type", &self.target_type, &["ip", "instance"])?;
        in_range("deregistration_delay", self.deregistration_delay, 0..=3600)?;
        let h = &self.health_check;
        if !h.path.starts_with('/') || h.path.len() > 1024 {
            return Err(ProviderError::invalid(
                "health_check.path",
                format!("{:?}", h.path),
                "a path starting with / (at most 1024 characters)",
            ));
        }
        if !check_matcher(&h.matcher) {
            return Err(ProviderError::invalid(
                "health_check.matcher",
                format!("{:?}", h.matcher),
                "HTTP codes 200 to 499: \"200\", \"200,302\" or \"200-299\"",
            ));
        }
        in_range("health_check.interval", h.interval, 5..=300)?;
        in_range("health_check.timeout", h.timeout, 2..=120)?;
        if h.timeout >= h.interval {
            return Err(ProviderError::invalid(
                "health_check.timeout",
                h.timeout,
                format!("must be less than health_check.interval ({})", h.interval),
            ));
        }
        in_range(
            "health_check.healthy_threshold",
            h.healthy_threshold,
            2..=10,
        )?;
        in_range(
            "health_check.unhealthy_threshold",
            h.unhealthy_threshold,
            2..=10,
        )?;
        if h.port != "traffic-port" && h.port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(ProviderError::invalid(
                "health_check.port",
                format!("{:?}", h.port),
                "\"traffic-port\" or a port 1 to 65535",
            ));
        }
        one_of("health_check.protocol", &h.protocol, &["HTTP", "HTTPS"])?;
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Elbv2>) -> Result<String, ProviderError> {
        // CreateTargetGroup answers with an existing group of the same name
        // and settings instead of failing: only our own is carried on from.
        if let Some(tg) = by_name(cx, &self.name).await? {
            let arn = tg.target_group_arn().unwrap_or_default().to_string();
            if tagged_ours(cx, vec![arn.clone()]).await?.is_empty() {
                return Err(cx.fatal(format!(
                    "a target group named {:?} already exists and is not this resource's ({arn}); names are unique per region",
                    self.name
                )));
            }
            return Ok(arn);
        }
        let vpc = self.vpc_id.require("vpc_id")?;
        let h = &self.health_check;
        let out = cx
            .send("CreateTargetGroup", |c| {
                c.create_target_group()
                    .name(&self.name)
                    .port(self.port)
                    .protocol(ProtocolEnum::from(self.protocol.as_str()))
                    .vpc_id(vpc)
                    .target_type(TargetTypeEnum::from(self.target_type.as_str()))
                    .health_check_enabled(h.enabled)
                    .health_check_path(&h.path)
                    .health_check_port(&h.port)
                    .health_check_protocol(ProtocolEnum::from(h.protocol.as_str()))
                    .health_check_interval_seconds(h.interval)
                    .health_check_timeout_seconds(h.timeout)
                    .healthy_threshold_count(h.healthy_threshold)
                    .unhealthy_threshold_count(h.unhealthy_threshold)
                    .matcher(Matcher::builder().http_code(&h.matcher).build())
                    .set_tags(Some(sdk_tags(&cx.all_tags(&self.tags))))
                    .send()
            })
            .await?;
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateTargetGroup returned no target group ARN"))
    }

    async fn after_create(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        // The delay is an attribute, a second call; AWS's default needs none.
        if self.deregistration_delay == TargetGroup::default().deregistration_delay {
            return Ok(());
        }
        self.set_delay(cx, arn).await
    }

    async fn read(
        cx: &Call<'_, Elbv2>,
        arn: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(tg) = by_arn(cx, arn).await? else {
            return Ok(None);
        };
        let Some(attrs) = attributes(cx, arn).await? else {
            return Ok(None);
        };
        let tags = own_tags(cx, arn).await?;
        Ok(Some(live(arn, &tg, &attrs, tags)))
    }

    // One DescribeTargetGroups and one DescribeTags per 20 ARNs; the
    // attributes have no batch form (one DescribeTargetGroupAttributes each).
    async fn read_many(
        cx: &Call<'_, Elbv2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let arns: Vec<&str> = items.iter().map(|(a, _)| a.as_str()).collect();
        let groups = describe_by_arns(&arns, |chunk| async move {
            Ok(cx
                .find("DescribeTargetGroups", |c| {
                    c.describe_target_groups()
                        .set_target_group_arns(Some(chunk.clone()))
                        .send()
                })
                .await?
                .map(|o| {
                    o.target_groups()
                        .iter()
                        .filter_map(|t| Some((t.target_group_arn()?.to_string(), t.clone())))
                        .collect()
                }))
        })
        .await?;
        let mut attrs = BTreeMap::new();
        for arn in groups.keys() {
            if let Some(a) = attributes(cx, arn).await? {
                attrs.insert(arn.clone(), a);
            }
        }
        let tags = tags_of(cx, &attrs.keys().cloned().collect::<Vec<_>>()).await?;
        Ok(items
            .iter()
            .map(|(arn, _)| {
                let (tg, a) = (groups.get(arn)?, attrs.get(arn)?);
                let own = tags.get(arn).map(|t| cx.own_tags(t)).unwrap_or_default();
                Some(live(arn, tg, a, own))
            })
            .collect())
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Elbv2>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        if old.health_check != self.health_check {
            let h = &self.health_check;
            cx.send("ModifyTargetGroup", |c| {
                c.modify_target_group()
                    .target_group_arn(arn)
                    .health_check_enabled(h.enabled)
                    .health_check_path(&h.path)
                    .health_check_port(&h.port)
                    .health_check_protocol(ProtocolEnum::from(h.protocol.as_str()))
                    .health_check_interval_seconds(h.interval)
                    .health_check_timeout_seconds(h.timeout)
                    .healthy_threshold_count(h.healthy_threshold)
                    .unhealthy_threshold_count(h.unhealthy_threshold)
                    .matcher(Matcher::builder().http_code(&h.matcher).build())
                    .send()
            })
            .await?;
        }
        if old.deregistration_delay != self.deregistration_delay {
            self.set_delay(cx, arn).await?;
        }
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        let r = cx
            .try_send_retrying("DeleteTargetGroup", &[IN_USE], |c| {
                c.delete_target_group().target_group_arn(arn).send()
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(f) if f.code == "ResourceInUse" => Err(cx.fatal(format!(
                "target group {arn} is still used by a listener or rule ({}); \
                 remove what forwards to it first, or give its replacement a new name",
                f.message
            ))),
            Err(f) => Err(f.error),
        }
    }

    async fn find(&self, cx: &Call<'_, Elbv2>) -> Result<Vec<String>, ProviderError> {
        let Some(tg) = by_name(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        tagged_ours(
            cx,
            tg.target_group_arn()
                .into_iter()
                .map(str::to_string)
                .collect(),
        )
        .await
    }
}

impl TargetGroup {
    async fn set_delay(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        let attr = TargetGroupAttribute::builder()
            .key(DEREGISTRATION_DELAY)
            .value(self.deregistration_delay.to_string())
            .build();
        cx.send_retrying("ModifyTargetGroupAttributes", &[Retry::NEW_OBJECT], |c| {
            c.modify_target_group_attributes()
                .target_group_arn(arn)
                .attributes(attr.clone())
                .send()
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<TargetGroup> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = json!({"name": "backend", "port": 8080, "vpc_id": "vpc-1"});
        assert!(p().validate(&ok).is_ok());
        for (patch, field, value) in [
            (json!({"port": 0}), "port", "0"),
            (json!({"protocol": "TCP"}), "protocol", "TCP"),
            (json!({"target_type": "lambda"}), "target_type", "lambda"),
            (
                json!({"deregistration_delay": 4000}),
                "deregistration_delay",
                "4000",
            ),
            (
                json!({"health_check": {"path": "health"}}),
                "health_check.path",
                "health",
            ),
            (
                json!({"health_check": {"matcher": "2xx"}}),
                "health_check.matcher",
                "2xx",
            ),
            (
                json!({"health_check": {"interval": 10, "timeout": 10}}),
                "health_check.timeout",
                "10",
            ),
            (
                json!({"health_check": {"healthy_threshold": 1}}),
                "health_check.healthy_threshold",
                "1",
            ),
        ] {
            let mut v = ok.clone();
            v.as_object_mut()
                .unwrap()
                .extend(patch.as_object().unwrap().clone());
            let e = p().validate(&v).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
        assert!(check_matcher("200-299") && check_matcher("200,302"));
        assert!(!check_matcher("600") && !check_matcher(""));
    }
}
