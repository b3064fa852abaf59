//! `aws:appautoscaling/Target` (Terraform `aws_appautoscaling_target`): a
//! resource registered with Application Auto Scaling and its capacity
//! range. Namespace, resource id and dimension are the identity (force
//! new); RegisterScalableTarget is both the create and the update.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    check_target_key, ecs_resource_id, split_target_id, target_id, AppAutoScaling, ECS,
    ECS_DESIRED_COUNT,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::in_range;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Target {
    /// `ecs`, `dynamodb`, ... (the SDK's `ServiceNamespace` values).
    pub service_namespace: String,
    /// For ECS `service/<cluster>/<service>` ([`Target::ecs_service`]).
    pub resource_id: Input<String>,
    /// A dimension of the namespace: `ecs:service:DesiredCount`.
    pub scalable_dimension: String,
    pub min_capacity: i32,
    pub max_capacity: i32,
    /// The role Application Auto Scaling acts with; AWS uses its
    /// service-linked role when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<Input<String>>,
    /// Tags on the target's ARN; read back only when declared (see `read`).
    pub tags: Tags,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            service_namespace: ECS.into(),
            resource_id: Input::Value(String::new()),
            scalable_dimension: ECS_DESIRED_COUNT.into(),
            min_capacity: 1,
            max_capacity: 1,
            role_arn: None,
            tags: Tags::new(),
        }
    }
}

impl Target {
    /// The desired count of ECS service `service` in `cluster`, between
    /// `min` and `max` tasks.
    pub fn ecs_service(
        cluster: impl Into<Input<String>>,
        service: impl Into<Input<String>>,
        min: i32,
        max: i32,
    ) -> Self {
        Target {
            resource_id: ecs_resource_id(cluster, service),
            min_capacity: min,
            max_capacity: max,
            ..Default::default()
        }
    }
}

impl ResourceArgs for Target {
    const TYPE: &'static str = "aws:appautoscaling/Target";
}

impl Resource<Target> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The resource id (what a policy's `resource_id` takes).
    pub fn resource_id(&self) -> Output<String> {
        self.output("resource_id")
    }
    pub fn service_namespace(&self) -> Output<String> {
        self.output("service_namespace")
    }
    pub fn scalable_dimension(&self) -> Output<String> {
        self.output("scalable_dimension")
    }
}

/// The target of exactly this key (the API filters by resource id).
async fn describe(
    cx: &Call<'_, AppAutoScaling>,
    namespace: &str,
    resource_id: &str,
    dimension: &str,
) -> Result<Option<ScalableTarget>, ProviderError> {
    let pages = cx
        .pages(
            "DescribeScalableTargets",
            cx.client()
                .await
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::from(namespace))
                .resource_ids(resource_id)
                .scalable_dimension(ScalableDimension::from(dimension))
                .into_paginator()
                .send(),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.scalable_targets())
        .find(|t| {
            t.resource_id() == resource_id
                && t.service_namespace().as_str() == namespace
                && t.scalable_dimension().as_str() == dimension
        })
        .cloned())
}

async fn live_tags(cx: &Call<'_, AppAutoScaling>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource_arn(arn).send()
        })
        .await?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

impl Target {
    /// RegisterScalableTarget, the create and the update. Terraform retries
    /// it while the role cannot be assumed yet and while a just-created ECS
    /// service is not visible to Application Auto Scaling.
    async fn register(
        &self,
        cx: &Call<'_, AppAutoScaling>,
        tags: Option<&Tags>,
    ) -> Result<String, ProviderError> {
        let rid = self.resource_id.require("resource_id")?;
        let role = match &self.role_arn {
            Some(r) => Some(r.require("role_arn")?.clone()),
            None => None,
        };
        let tags = tags.map(|t| t.clone().into_iter().collect());
        let out = cx
            .send_retrying(
                "RegisterScalableTarget",
                &[
                    Retry::propagation("ValidationException", "Unable to assume IAM role"),
                    Retry::propagation("ValidationException", "ECS service doesn't exist"),
                ],
                |c| {
                    c.register_scalable_target()
                        .service_namespace(ServiceNamespace::from(self.service_namespace.as_str()))
                        .resource_id(rid)
                        .scalable_dimension(ScalableDimension::from(
                            self.scalable_dimension.as_str(),
                        ))
                        .min_capacity(self.min_capacity)
                        .max_capacity(self.max_capacity)
                        .set_role_arn(role.clone())
                        .set_tags(tags.clone())
                        .send()
                },
            )
            .await?;
        Ok(out.scalable_target_arn().unwrap_or_default().to_string())
    }
}

#[async_trait]
impl AwsResource for Target {
    type Service = AppAutoScaling;
    const SCHEMA: Schema = Schema {
        force_new: &["service_namespace", "resource_id", "scalable_dimension"],
        unique_name: &["service_namespace", "resource_id", "scalable_dimension"],
        optional_computed: &["role_arn"],
        terraform: &[Tf {
            resource: "aws_appautoscaling_target",
            args: &[
                ("service_namespace", "service_namespace"),
                ("resource_id", "resource_id"),
                ("scalable_dimension", "scalable_dimension"),
                ("min_capacity", "min_capacity"),
                ("max_capacity", "max_capacity"),
                ("role_arn", "role_arn"),
                ("tags", "tags"),
            ],
            import_id: "{service_namespace}/{resource_id}/{scalable_dimension}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_target_key(
            &self.service_namespace,
            &self.resource_id,
            &self.scalable_dimension,
        )?;
        in_range("min_capacity", self.min_capacity, 0..=i32::MAX)?;
        in_range("max_capacity", self.max_capacity, 0..=i32::MAX)?;
        if self.min_capacity > self.max_capacity {
            return Err(ProviderError::invalid(
                "min_capacity",
                self.min_capacity,
                format!("must not exceed max_capacity ({})", self.max_capacity),
            ));
        }
        if let Some(r) = self.role_arn.as_ref().and_then(Input::known) {
            check_arn(
                "role_arn",
                r,
                "iam",
                "role/",
                "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            )?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, AppAutoScaling>) -> Result<String, ProviderError> {
        // An upsert: a target left by an earlier attempt is registered again.
        self.register(cx, Some(&cx.all_tags(&self.tags))).await?;
        Ok(target_id(
            &self.service_namespace,
            self.resource_id.require("resource_id")?,
            &self.scalable_dimension,
        ))
    }

    async fn read(
        cx: &Call<'_, AppAutoScaling>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (ns, rid, dim) = split_target_id(id)?;
        let Some(t) = describe(cx, ns, rid, dim).await? else {
            return Ok(None);
        };
        let arn = t.scalable_target_arn().unwrap_or_default().to_string();
        // Tags are read only when declared: the tag API is the one part of
        // the service the test peer (moto) lacks, and targets are found by
        // their key, not by tag.
        let tags = if declared.tags.is_empty() {
            Tags::new()
        } else {
            cx.own_tags(&live_tags(cx, &arn).await?)
        };
        let args = Target {
            service_namespace: ns.to_string(),
            resource_id: Input::Value(rid.to_string()),
            scalable_dimension: dim.to_string(),
            min_capacity: t.min_capacity(),
            max_capacity: t.max_capacity(),
            role_arn: Some(t.role_arn())
                .filter(|r| !r.is_empty())
                .map(|r| Input::Value(r.to_string())),
            tags,
        };
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": id,
                "arn": arn,
                "resource_id": rid,
                "service_namespace": ns,
                "scalable_dimension": dim,
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, AppAutoScaling>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let (ns, rid, dim) = split_target_id(id)?;
        let arn = if (old.min_capacity, old.max_capacity, &old.role_arn)
            != (self.min_capacity, self.max_capacity, &self.role_arn)
        {
            self.register(cx, None).await?
        } else {
            String::new()
        };
        if old.tags != self.tags {
            let arn = if arn.is_empty() {
                describe(cx, ns, rid, dim)
                    .await?
                    .and_then(|t| t.scalable_target_arn().map(str::to_string))
                    .ok_or_else(|| ProviderError::NotFound(format!("scalable target {id}")))?
            } else {
                arn
            };
            cx.update_tags(&arn, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, AppAutoScaling>, id: &str) -> Result<(), ProviderError> {
        let (ns, rid, dim) = split_target_id(id)?;
        cx.send("DeregisterScalableTarget", |c| {
            c.deregister_scalable_target()
                .service_namespace(ServiceNamespace::from(ns))
                .resource_id(rid)
                .scalable_dimension(ScalableDimension::from(dim))
                .send()
        })
        .await?;
        // Terraform waits until the target no longer describes.
        Wait::new("scalable target", &["registered"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, ns, rid, dim).await? {
                    Some(t) => Seen::State("registered".to_string(), t),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, AppAutoScaling>) -> Result<Vec<String>, ProviderError> {
        // One target per key in an account: the key is the identity.
        let Some(rid) = self.resource_id.known() else {
            return Ok(Vec::new());
        };
        Ok(
            describe(cx, &self.service_namespace, rid, &self.scalable_dimension)
                .await?
                .map(|_| target_id(&self.service_namespace, rid, &self.scalable_dimension))
                .into_iter()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Target> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = serde_json::to_value(Target::ecs_service("c", "s", 2, 10)).unwrap();
        assert_eq!(ok["resource_id"], "service/c/s");
        assert!(p().validate(&ok).is_ok());
        let e = p()
            .validate(&serde_json::to_value(Target::ecs_service("c", "s", 5, 2)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_capacity = 5") && e.contains("(2)"), "{e}");
        let mut bad = ok.clone();
        bad["role_arn"] = json!("arn:aws:iam::1:user/x");
        let e = p().validate(&bad).unwrap_err().to_string();
        assert!(e.contains("role_arn") && e.contains("user/x"), "{e}");
    }
}
