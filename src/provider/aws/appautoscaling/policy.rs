//! `aws:appautoscaling/Policy` (Terraform `aws_appautoscaling_policy`): a
//! target-tracking scaling policy on a scalable target. The policy name
//! and the target's key are the identity (force new); PutScalingPolicy is
//! both the create and the update.
//!
//! Morket R3.7 says "scale up at 70 %, scale down at 30 %". Target tracking
//! holds one target: the stack declares `target_value = 70` on
//! `ECSServiceAverageCPUUtilization` with scale-in allowed, so AWS adds
//! tasks above 70 % and removes them when the average falls clearly below it
//! (its own low alarm, about 10 % under the target). That is the behaviour
//! AWS recommends over a threshold pair; a literal 30 % scale-in point
//! needs step scaling with two CloudWatch alarms, which this type does not
//! model.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_target_key, split_target_id, target_id, AppAutoScaling, ECS, ECS_DESIRED_COUNT};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

/// The only policy type this type writes.
pub const TARGET_TRACKING: &str = "TargetTrackingScaling";

/// Metrics in percent: a target above 100 can never be reached.
const PERCENT_METRICS: &[&str] = &[
    "ECSServiceAverageCPUUtilization",
    "ECSServiceAverageMemoryUtilization",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// 1 to 256 printable characters, no `/` (it separates the id's parts).
    pub name: String,
    pub service_namespace: String,
    /// The scalable target's resource id (`Resource<Target>::resource_id()`,
    /// which also orders the policy after its target).
    pub resource_id: Input<String>,
    pub scalable_dimension: String,
    /// `TargetTrackingScaling` (the only type supported here).
    pub policy_type: String,
    pub target_tracking: TargetTracking,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetTracking {
    /// The value the metric is held at (70.0 for 70 % CPU).
    pub target_value: f64,
    /// A predefined metric: `ECSServiceAverageCPUUtilization`, ...
    pub predefined_metric_type: String,
    /// `app/<alb>/<id>/targetgroup/<tg>/<id>`, for `ALBRequestCountPerTarget` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<Input<String>>,
    /// Seconds after a scale-in before the next one.
    pub scale_in_cooldown: i32,
    /// Seconds after a scale-out before the next one.
    pub scale_out_cooldown: i32,
    /// Only scale out; never remove capacity.
    pub disable_scale_in: bool,
}

impl Default for TargetTracking {
    fn default() -> Self {
        TargetTracking {
            target_value: 70.0,
            predefined_metric_type: "ECSServiceAverageCPUUtilization".into(),
            resource_label: None,
            scale_in_cooldown: 300,
            scale_out_cooldown: 60,
            disable_scale_in: false,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            name: String::new(),
            service_namespace: ECS.into(),
            resource_id: Input::Value(String::new()),
            scalable_dimension: ECS_DESIRED_COUNT.into(),
            policy_type: TARGET_TRACKING.into(),
            target_tracking: TargetTracking::default(),
        }
    }
}

impl Policy {
    /// A target-tracking policy named `name` on an ECS service's desired
    /// count (`resource_id` from the scalable target).
    pub fn ecs_target_tracking(
        name: &str,
        resource_id: impl Into<Input<String>>,
        target_tracking: TargetTracking,
    ) -> Self {
        Policy {
            name: name.into(),
            resource_id: resource_id.into(),
            target_tracking,
            ..Default::default()
        }
    }
}

impl ResourceArgs for Policy {
    const TYPE: &'static str = "aws:appautoscaling/Policy";
}

impl Resource<Policy> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The CloudWatch alarms AWS made for the policy.
    pub fn alarm_arns(&self) -> Output<Vec<String>> {
        self.output("alarm_arns")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

/// `<target id>/<policy name>`, Terraform's import id of a policy.
fn policy_id(p: &Policy, resource_id: &str) -> String {
    format!(
        "{}/{}",
        target_id(&p.service_namespace, resource_id, &p.scalable_dimension),
        p.name
    )
}

fn split_policy_id(id: &str) -> Result<((&str, &str, &str), &str), ProviderError> {
    let (target, name) = id
        .rsplit_once('/')
        .ok_or_else(|| ProviderError::Fatal(format!("{id:?} is not <target id>/<policy name>")))?;
    Ok((split_target_id(target)?, name))
}

async fn describe(
    cx: &Call<'_, AppAutoScaling>,
    (ns, rid, dim): (&str, &str, &str),
    name: &str,
) -> Result<Option<ScalingPolicy>, ProviderError> {
    let pages = cx
        .pages(
            "DescribeScalingPolicies",
            cx.client()
                .await
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::from(ns))
                .resource_id(rid)
                .scalable_dimension(ScalableDimension::from(dim))
                .policy_names(name)
                .into_paginator()
                .send(),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.scaling_policies())
        .find(|p| p.policy_name() == name && p.resource_id() == rid)
        .cloned())
}

impl TargetTracking {
    fn to_aws(&self) -> Result<TargetTrackingScalingPolicyConfiguration, ProviderError> {
        let label = match &self.resource_label {
            Some(l) => Some(l.require("target_tracking.resource_label")?.clone()),
            None => None,
        };
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::from(self.predefined_metric_type.as_str()))
            .set_resource_label(label)
            .build()
            .map_err(|e| ProviderError::Fatal(e.to_string()))?;
        TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(self.target_value)
            .predefined_metric_specification(metric)
            .scale_in_cooldown(self.scale_in_cooldown)
            .scale_out_cooldown(self.scale_out_cooldown)
            .disable_scale_in(self.disable_scale_in)
            .build()
            .map_err(|e| ProviderError::Fatal(e.to_string()))
    }

    fn from_aws(c: &TargetTrackingScalingPolicyConfiguration) -> Self {
        let metric = c.predefined_metric_specification();
        TargetTracking {
            target_value: c.target_value(),
            predefined_metric_type: metric
                .map(|m| m.predefined_metric_type().as_str().to_string())
                .unwrap_or_default(),
            resource_label: metric
                .and_then(|m| m.resource_label())
                .map(|l| Input::Value(l.to_string())),
            // AWS reports the cooldowns it applies; unset ones are 0 there.
            scale_in_cooldown: c.scale_in_cooldown().unwrap_or_default(),
            scale_out_cooldown: c.scale_out_cooldown().unwrap_or_default(),
            disable_scale_in: c.disable_scale_in().unwrap_or_default(),
        }
    }
}

impl Policy {
    /// PutScalingPolicy, the create and the update. Terraform retries it
    /// while the new target is not visible yet (`ObjectNotFoundException`)
    /// and while the service cannot reach the resource yet
    /// (`FailedResourceAccessException`), for its propagation timeout.
    async fn put(&self, cx: &Call<'_, AppAutoScaling>) -> Result<String, ProviderError> {
        let rid = self.resource_id.require("resource_id")?;
        let config = self.target_tracking.to_aws()?;
        cx.send_retrying(
            "PutScalingPolicy",
            &[Retry::conflict(
                &["ObjectNotFoundException", "FailedResourceAccessException"],
                std::time::Duration::from_secs(120),
            )],
            |c| {
                c.put_scaling_policy()
                    .policy_name(&self.name)
                    .service_namespace(ServiceNamespace::from(self.service_namespace.as_str()))
                    .resource_id(rid)
                    .scalable_dimension(ScalableDimension::from(self.scalable_dimension.as_str()))
                    .policy_type(PolicyType::from(self.policy_type.as_str()))
                    .target_tracking_scaling_policy_configuration(config.clone())
                    .send()
            },
        )
        .await?;
        Ok(policy_id(self, rid))
    }
}

#[async_trait]
impl AwsResource for Policy {
    type Service = AppAutoScaling;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "service_namespace", "resource_id", "scalable_dimension"],
        unique_name: &["name", "service_namespace", "resource_id", "scalable_dimension"],
        computed_on_update: &["alarm_arns"],
        terraform: &[Tf {
            resource: "aws_appautoscaling_policy",
            args: &[
                ("name", "name"),
                ("service_namespace", "service_namespace"),
                ("resource_id", "resource_id"),
                ("scalable_dimension", "scalable_dimension"),
                ("policy_type", "policy_type"),
                (
                    "target_tracking.target_value",
                    "target_tracking_scaling_policy_configuration.target_value",
                ),
                (
                    "target_tracking.predefined_metric_type",
                    "target_tracking_scaling_policy_configuration.predefined_metric_specification.predefined_metric_type",
                ),
                (
                    "target_tracking.resource_label",
                    "target_tracking_scaling_policy_configuration.predefined_metric_specification.resource_label",
                ),
                (
                    "target_tracking.scale_in_cooldown",
                    "target_tracking_scaling_policy_configuration.scale_in_cooldown",
                ),
                (
                    "target_tracking.scale_out_cooldown",
                    "target_tracking_scaling_policy_configuration.scale_out_cooldown",
                ),
                (
                    "target_tracking.disable_scale_in",
                    "target_tracking_scaling_policy_configuration.disable_scale_in",
                ),
            ],
            import_id: "{service_namespace}/{resource_id}/{scalable_dimension}/{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let name_ok = (1..=256).contains(&self.name.chars().count())
            && self.name.chars().all(|c| !c.is_control() && c != '/');
        if !name_ok {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 256 printable characters, without '/'",
            ));
        }
        check_target_key(
            &self.service_namespace,
            &self.resource_id,
            &self.scalable_dimension,
        )?;
        one_of("policy_type", &self.policy_type, &[TARGET_TRACKING])?;
        let t = &self.target_tracking;
        one_of(
            "target_tracking.predefined_metric_type",
            &t.predefined_metric_type,
            MetricType::values(),
        )?;
        let max = if PERCENT_METRICS.contains(&t.predefined_metric_type.as_str()) {
            100.0
        } else {
            f64::MAX
        };
        if !(t.target_value > 0.0 && t.target_value <= max) {
            return Err(ProviderError::invalid(
                "target_tracking.target_value",
                t.target_value,
                if max == 100.0 {
                    "a percentage above 0 and at most 100"
                } else {
                    "must be above 0"
                },
            ));
        }
        let needs_label = t.predefined_metric_type == "ALBRequestCountPerTarget";
        if needs_label != t.resource_label.is_some() {
            return Err(ProviderError::invalid(
                "target_tracking.resource_label",
                t.resource_label
                    .as_ref()
                    .and_then(Input::known)
                    .map_or("(unset)".to_string(), |l| format!("{l:?}")),
                "is required by ALBRequestCountPerTarget and refused by other metrics",
            ));
        }
        in_range(
            "target_tracking.scale_in_cooldown",
            t.scale_in_cooldown,
            0..=86_400,
        )?;
        in_range(
            "target_tracking.scale_out_cooldown",
            t.scale_out_cooldown,
            0..=86_400,
        )?;
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, AppAutoScaling>) -> Result<String, ProviderError> {
        // An upsert: the policy of an earlier attempt is written again.
        self.put(cx).await
    }

    async fn read(
        cx: &Call<'_, AppAutoScaling>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (key, name) = split_policy_id(id)?;
        let Some(p) = describe(cx, key, name).await? else {
            return Ok(None);
        };
        let (ns, rid, dim) = key;
        let args = Policy {
            name: name.to_string(),
            service_namespace: ns.to_string(),
            resource_id: Input::Value(rid.to_string()),
            scalable_dimension: dim.to_string(),
            policy_type: p.policy_type().as_str().to_string(),
            target_tracking: p
                .target_tracking_scaling_policy_configuration()
                .map(TargetTracking::from_aws)
                .unwrap_or_default(),
        };
        let alarms: Vec<&str> = p.alarms().iter().map(|a| a.alarm_arn()).collect();
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": id,
                "name": name,
                "arn": p.policy_arn(),
                "alarm_arns": alarms,
            }),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        cx: &Call<'_, AppAutoScaling>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        self.put(cx).await.map(drop)
    }

    async fn delete(&self, cx: &Call<'_, AppAutoScaling>, id: &str) -> Result<(), ProviderError> {
        let ((ns, rid, dim), name) = split_policy_id(id)?;
        // Not-found (the target was deregistered, which deletes its
        // policies) is done; the adapter sees to that.
        cx.send_retrying(
            "DeleteScalingPolicy",
            &[Retry::conflict(
                &["FailedResourceAccessException"],
                std::time::Duration::from_secs(120),
            )],
            |c| {
                c.delete_scaling_policy()
                    .policy_name(name)
                    .service_namespace(ServiceNamespace::from(ns))
                    .resource_id(rid)
                    .scalable_dimension(ScalableDimension::from(dim))
                    .send()
            },
        )
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, AppAutoScaling>) -> Result<Vec<String>, ProviderError> {
        // Policies carry no tags: the name on the target is the identity.
        let Some(rid) = self.resource_id.known() else {
            return Ok(Vec::new());
        };
        let key = (
            self.service_namespace.as_str(),
            rid.as_str(),
            self.scalable_dimension.as_str(),
        );
        Ok(describe(cx, key, &self.name)
            .await?
            .map(|_| policy_id(self, rid))
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

    fn p() -> Typed<Policy> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    fn cpu() -> Policy {
        Policy::ecs_target_tracking("cpu", "service/c/s", TargetTracking::default())
    }

    #[test]
    fn ids_round_trip() {
        let id = policy_id(&cpu(), "service/c/s");
        assert_eq!(id, "ecs/service/c/s/ecs:service:DesiredCount/cpu");
        assert_eq!(
            split_policy_id(&id).unwrap(),
            ((ECS, "service/c/s", ECS_DESIRED_COUNT), "cpu")
        );
    }

    #[test]
    fn validation_names_field_and_value() {
        let v = |p: &Policy| p.check().map_err(|e| e.to_string());
        assert!(v(&cpu()).is_ok());
        assert!(p().validate(&serde_json::to_value(cpu()).unwrap()).is_ok());
        let mut bad = cpu();
        bad.target_tracking.target_value = 170.0;
        let e = v(&bad).unwrap_err();
        assert!(e.contains("target_tracking.target_value = 170"), "{e}");
        let mut bad = cpu();
        bad.target_tracking.predefined_metric_type = "CPU".into();
        let e = v(&bad).unwrap_err();
        assert!(e.contains("predefined_metric_type = \"CPU\""), "{e}");
        let mut bad = cpu();
        bad.policy_type = "StepScaling".into();
        assert!(v(&bad)
            .unwrap_err()
            .contains("policy_type = \"StepScaling\""));
        let mut bad = cpu();
        bad.target_tracking.scale_in_cooldown = -1;
        assert!(v(&bad).unwrap_err().contains("scale_in_cooldown = -1"));
        let mut bad = cpu();
        bad.name = "a/b".into();
        assert!(v(&bad).unwrap_err().contains("name = \"a/b\""));
        let mut bad = cpu();
        bad.target_tracking.predefined_metric_type = "ALBRequestCountPerTarget".into();
        assert!(v(&bad).unwrap_err().contains("resource_label"));
    }
}
