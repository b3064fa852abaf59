//! `aws:ecs/Cluster` (Terraform `aws_ecs_cluster` + `aws_ecs_cluster_capacity_providers`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster as EcsCluster, ClusterField, ClusterSetting,
    ClusterSettingName,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_name, from_tags, Ecs, LINKED_ROLE};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// 1 to 255 letters, digits, hyphens and underscores.
    pub name: String,
    /// e.g. `["FARGATE", "FARGATE_SPOT"]`.
    pub capacity_providers: Vec<String>,
    pub default_capacity_provider_strategy: Vec<CapacityProviderStrategy>,
    /// The `containerInsights` setting: `enabled`, `enhanced` or `disabled`.
    pub container_insights: String,
    pub tags: Tags,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            name: String::new(),
            capacity_providers: Vec::new(),
            default_capacity_provider_strategy: Vec::new(),
            container_insights: "disabled".into(),
            tags: Tags::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacityProviderStrategy {
    pub capacity_provider: String,
    /// 0 to 1000.
    pub weight: i32,
    /// 0 to 100000; only one provider of a strategy may have a base.
    pub base: i32,
}

impl Cluster {
    pub fn new(name: &str) -> Self {
        Cluster {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Cluster {
    const TYPE: &'static str = "aws:ecs/Cluster";
}

impl Resource<Cluster> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

/// Codes DeleteCluster answers while the cluster's services and tasks drain
/// or a capacity-provider change runs; Terraform retries them.
const DRAINING: &[&str] = &[
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "ClusterContainsContainerInstancesException",
    "UpdateInProgressException",
];

fn strategy(s: &[CapacityProviderStrategy]) -> Vec<CapacityProviderStrategyItem> {
    s.iter()
        .filter_map(|i| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&i.capacity_provider)
                .weight(i.weight)
                .base(i.base)
                .build()
                .ok()
        })
        .collect()
}

fn insights(v: &str) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(v)
        .build()
}

/// The cluster, or `None` when missing or INACTIVE (deleted).
async fn describe(cx: &Call<'_, Ecs>, id: &str) -> Result<Option<EcsCluster>, ProviderError> {
    let out = cx
        .find("DescribeClusters", |c| {
            c.describe_clusters()
                .clusters(id)
                .include(ClusterField::Tags)
                .include(ClusterField::Settings)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| {
        o.clusters()
            .iter()
            .find(|c| c.status() != Some("INACTIVE"))
            .cloned()
    }))
}

/// What a wait sees of the cluster: its status, or its capacity-provider
/// attachments' status when `attachments`.
async fn seen(cx: &Call<'_, Ecs>, id: &str, attachments: bool) -> Result<Seen<()>, ProviderError> {
    Ok(match describe(cx, id).await? {
        None => Seen::Gone,
        Some(c) if attachments => Seen::State(
            c.attachments_status().unwrap_or("UPDATE_COMPLETE").into(),
            (),
        ),
        Some(c) => Seen::State(c.status().unwrap_or("ACTIVE").into(), ()),
    })
}

#[async_trait]
impl AwsResource for Cluster {
    type Service = Ecs;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        // CreateCluster answers with the existing cluster of that name.
        unique_name: &["name"],
        normalize: &[("capacity_providers", Norm::Set)],
        terraform: &[
            Tf {
                resource: "aws_ecs_cluster",
                args: &[
                    ("name", "name"),
                    ("=containerInsights", "setting.name"),
                    ("container_insights", "setting.value"),
                    ("tags", "tags"),
                ],
                import_id: "{name}",
            },
            Tf {
                resource: "aws_ecs_cluster_capacity_providers",
                args: &[
                    ("name", "cluster_name"),
                    ("capacity_providers", "capacity_providers"),
                    (
                        "default_capacity_provider_strategy",
                        "default_capacity_provider_strategy",
                    ),
                ],
                import_id: "{name}",
            },
        ],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        one_of(
            "container_insights",
            &self.container_insights,
            &["enabled", "enhanced", "disabled"],
        )?;
        let field = |f: &str| format!("default_capacity_provider_strategy.{f}");
        for s in &self.default_capacity_provider_strategy {
            if !self.capacity_providers.contains(&s.capacity_provider) {
                return Err(ProviderError::invalid(
                    &field("capacity_provider"),
                    format!("{:?}", s.capacity_provider),
                    "must be one of capacity_providers",
                ));
            }
            in_range(&field("weight"), s.weight, 0..=1000)?;
            in_range(&field("base"), s.base, 0..=100_000)?;
        }
        let with_base = self
            .default_capacity_provider_strategy
            .iter()
            .filter(|s| s.base > 0)
            .count();
        if with_base > 1 {
            return Err(ProviderError::invalid(
                &field("base"),
                with_base,
                "only one capacity provider of a strategy can have a base",
            ));
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ecs>) -> Result<String, ProviderError> {
        let providers =
            (!self.capacity_providers.is_empty()).then(|| self.capacity_providers.clone());
        let strategy = (!self.default_capacity_provider_strategy.is_empty())
            .then(|| strategy(&self.default_capacity_provider_strategy));
        // Idempotent by name: a retry returns the cluster the first one made.
        let out = cx
            .send_retrying("CreateCluster", &[LINKED_ROLE], |c| {
                c.create_cluster()
                    .cluster_name(&self.name)
                    .settings(insights(&self.container_insights))
                    .set_capacity_providers(providers.clone())
                    .set_default_capacity_provider_strategy(strategy.clone())
                    .set_tags(Some(cx.create_tags(&self.tags)))
                    .send()
            })
            .await?;
        out.cluster()
            .and_then(|c| c.cluster_arn())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateCluster returned no cluster"))
    }

    async fn after_create(&self, cx: &Call<'_, Ecs>, arn: &str) -> Result<(), ProviderError> {
        // Capacity providers attach while the cluster is PROVISIONING.
        Wait::new("cluster", &["PROVISIONING"], &["ACTIVE"])
            .after_create()
            .until(cx.settings(), || seen(cx, arn, false))
            .await
    }

    async fn read(
        cx: &Call<'_, Ecs>,
        arn: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(c) = describe(cx, arn).await? else {
            return Ok(None);
        };
        let args = Cluster {
            name: c.cluster_name().unwrap_or_default().into(),
            capacity_providers: c.capacity_providers().to_vec(),
            default_capacity_provider_strategy: c
                .default_capacity_provider_strategy()
                .iter()
                .map(|s| CapacityProviderStrategy {
                    capacity_provider: s.capacity_provider().into(),
                    weight: s.weight(),
                    base: s.base(),
                })
                .collect(),
            container_insights: c
                .settings()
                .iter()
                .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
                .and_then(|s| s.value())
                .unwrap_or("disabled")
                .into(),
            tags: cx.own_tags(&from_tags(c.tags())),
        };
        let outputs = json!({
            "id": c.cluster_arn(),
            "arn": c.cluster_arn(),
            "name": c.cluster_name(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ecs>, arn: &str) -> Result<(), ProviderError> {
        if old.container_insights != self.container_insights {
            cx.send("UpdateCluster", |c| {
                c.update_cluster()
                    .cluster(arn)
                    .settings(insights(&self.container_insights))
                    .send()
            })
            .await?;
        }
        if old.capacity_providers != self.capacity_providers
            || old.default_capacity_provider_strategy != self.default_capacity_provider_strategy
        {
            let strategy = strategy(&self.default_capacity_provider_strategy);
            // One change at a time per cluster.
            let busy = Retry::conflict(&["UpdateInProgressException"], Duration::from_secs(600));
            cx.send_retrying("PutClusterCapacityProviders", &[LINKED_ROLE, busy], |c| {
                c.put_cluster_capacity_providers()
                    .cluster(arn)
                    .set_capacity_providers(Some(self.capacity_providers.clone()))
                    .set_default_capacity_provider_strategy(Some(strategy.clone()))
                    .send()
            })
            .await?;
            Wait::new(
                "cluster capacity providers",
                &["UPDATE_IN_PROGRESS"],
                &["UPDATE_COMPLETE"],
            )
            .until(cx.settings(), || seen(cx, arn, true))
            .await?;
        }
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ecs>, arn: &str) -> Result<(), ProviderError> {
        // Services deleted moments ago still drain their tasks.
        let draining = Retry::conflict(DRAINING, cx.settings().delete_timeout);
        cx.send_retrying("DeleteCluster", &[draining], |c| {
            c.delete_cluster().cluster(arn).send()
        })
        .await?;
        Wait::new("cluster", &["ACTIVE", "DEPROVISIONING"], &[])
            .until_gone(cx.settings(), || seen(cx, arn, false))
            .await
    }

    async fn find(&self, cx: &Call<'_, Ecs>) -> Result<Vec<String>, ProviderError> {
        // The name is unique in the region: that cluster, if it carries our URN.
        Ok(describe(cx, &self.name)
            .await?
            .filter(|c| cx.is_ours(&from_tags(c.tags())))
            .and_then(|c| c.cluster_arn().map(str::to_string))
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_must_name_a_listed_provider() {
        let mut c = Cluster::new("apps");
        c.capacity_providers = vec!["FARGATE".into()];
        c.default_capacity_provider_strategy = vec![CapacityProviderStrategy {
            capacity_provider: "FARGATE_SPOT".into(),
            weight: 1,
            base: 0,
        }];
        let e = c.check().unwrap_err();
        assert!(e.to_string().contains("FARGATE_SPOT"), "{e}");
        c.capacity_providers.push("FARGATE_SPOT".into());
        assert!(c.check().is_ok());
        c.default_capacity_provider_strategy[0].weight = 1001;
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("weight") && e.contains("1001"), "{e}");
    }
}
