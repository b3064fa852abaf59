//! `aws:ecs/Cluster` (Terraform `aws_ecs_cluster` + `aws_ecs_cluster_capacity_providers`).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, ClusterField, ClusterSetting, ClusterSettingName,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{create_tags, from_tags, has_urn, update_tags};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// 1 to 255 letters, digits, hyphens and underscores.
    pub name: String,
    /// e.g. `["FARGATE", "FARGATE_SPOT"]`.
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    #[serde(default)]
    pub default_capacity_provider_strategy: Vec<CapacityProviderStrategy>,
    /// The `containerInsights` setting: `enabled`, `enhanced` or `disabled`.
    #[serde(default = "disabled")]
    pub container_insights: String,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityProviderStrategy {
    pub capacity_provider: String,
    /// 0 to 1000.
    #[serde(default)]
    pub weight: i32,
    /// 0 to 100000; only one provider of a strategy may have a base.
    #[serde(default)]
    pub base: i32,
}

fn disabled() -> String {
    "disabled".into()
}

impl Cluster {
    pub fn new(name: &str) -> Self {
        Cluster {
            name: name.into(),
            capacity_providers: Vec::new(),
            default_capacity_provider_strategy: Vec::new(),
            container_insights: disabled(),
            tags: Tags::new(),
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

pub struct ClusterProvider {
    aws: Arc<Aws>,
}

fn outputs(c: &aws_sdk_ecs::types::Cluster) -> Value {
    json!({
        "id": c.cluster_arn(),
        "arn": c.cluster_arn(),
        "name": c.cluster_name(),
    })
}

fn strategy(
    s: &[CapacityProviderStrategy],
) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
    s.iter()
        .map(|i| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&i.capacity_provider)
                .weight(i.weight)
                .base(i.base)
                .build()
                .map_err(|e| {
                    ProviderError::invalid(
                        "default_capacity_provider_strategy",
                        &i.capacity_provider,
                        e.to_string(),
                    )
                })
        })
        .collect()
}

fn insights(v: &str) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(v)
        .build()
}

impl ClusterProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        ClusterProvider { aws }
    }

    /// The cluster, or `None` when missing or INACTIVE (deleted).
    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ecs::types::Cluster>, ProviderError> {
        let all = self.describe_many(ctx, vec![id.to_string()]).await?;
        Ok(all.into_iter().find(|c| c.status() != Some("INACTIVE")))
    }

    async fn describe_many(
        &self,
        ctx: &Ctx,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ecs::types::Cluster>, ProviderError> {
        self.aws.limits.ecs.acquire().await;
        match self
            .aws
            .ecs()
            .await
            .describe_clusters()
            .set_clusters(Some(ids))
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
        {
            Ok(out) => Ok(out.clusters().to_vec()),
            Err(e) => match error::map(&ctx.urn, "DescribeClusters", e) {
                ProviderError::NotFound(_) => Ok(Vec::new()),
                other => Err(other),
            },
        }
    }

    async fn put_capacity_providers(
        &self,
        ctx: &Ctx,
        arn: &str,
        c: &Cluster,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ecs.acquire().await;
        self.aws
            .ecs()
            .await
            .put_cluster_capacity_providers()
            .cluster(arn)
            .set_capacity_providers(Some(c.capacity_providers.clone()))
            .set_default_capacity_provider_strategy(Some(strategy(
                &c.default_capacity_provider_strategy,
            )?))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "PutClusterCapacityProviders", e))?;
        Ok(())
    }
}

#[async_trait]
impl Provider for ClusterProvider {
    fn type_name(&self) -> &'static str {
        Cluster::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ecs", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let c: Cluster = parse(inputs)?;
        if c.name.is_empty()
            || c.name.len() > 255
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", c.name),
                "1 to 255 letters, digits, hyphens and underscores",
            ));
        }
        if !matches!(
            c.container_insights.as_str(),
            "enabled" | "enhanced" | "disabled"
        ) {
            return Err(ProviderError::invalid(
                "container_insights",
                format!("{:?}", c.container_insights),
                "must be \"enabled\", \"enhanced\" or \"disabled\"",
            ));
        }
        let mut with_base = 0;
        for s in &c.default_capacity_provider_strategy {
            if !c.capacity_providers.contains(&s.capacity_provider) {
                return Err(ProviderError::invalid(
                    "default_capacity_provider_strategy.capacity_provider",
                    format!("{:?}", s.capacity_provider),
                    "must be one of capacity_providers",
                ));
            }
            if !(0..=1000).contains(&s.weight) {
                return Err(ProviderError::invalid(
                    "default_capacity_provider_strategy.weight",
                    s.weight,
                    "must be between 0 and 1000",
                ));
            }
            if !(0..=100_000).contains(&s.base) {
                return Err(ProviderError::invalid(
                    "default_capacity_provider_strategy.base",
                    s.base,
                    "must be between 0 and 100000",
                ));
            }
            if s.base > 0 {
                with_base += 1;
            }
        }
        if with_base > 1 {
            return Err(ProviderError::invalid(
                "default_capacity_provider_strategy.base",
                with_base,
                "only one capacity provider of a strategy can have a base",
            ));
        }
        tags::validate(&c.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let c: Cluster = parse(inputs)?;
        self.aws.limits.ecs.acquire().await;
        let out = self
            .aws
            .ecs()
            .await
            .create_cluster()
            .cluster_name(&c.name)
            .settings(insights(&c.container_insights))
            .set_capacity_providers(
                (!c.capacity_providers.is_empty()).then(|| c.capacity_providers.clone()),
            )
            .set_default_capacity_provider_strategy(
                (!c.default_capacity_provider_strategy.is_empty())
                    .then(|| strategy(&c.default_capacity_provider_strategy))
                    .transpose()?,
            )
            .set_tags(Some(create_tags(&self.aws, ctx, &c.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateCluster", e))?;
        let cluster = out.cluster().ok_or_else(|| {
            ProviderError::Fatal(format!("{}: CreateCluster returned no cluster", ctx.urn))
        })?;
        Ok(Created {
            id: cluster.cluster_arn().unwrap_or_default().to_string(),
            outputs: outputs(cluster),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(c) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let live = Cluster {
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
                .map(str::to_string)
                .unwrap_or_else(disabled),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(c.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: outputs(&c),
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
        let (o, n): (Cluster, Cluster) = (parse(old_inputs)?, parse(new_inputs)?);
        if o.container_insights != n.container_insights {
            self.aws.limits.ecs.acquire().await;
            self.aws
                .ecs()
                .await
                .update_cluster()
                .cluster(id)
                .settings(insights(&n.container_insights))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpdateCluster", e))?;
        }
        if o.capacity_providers != n.capacity_providers
            || o.default_capacity_provider_strategy != n.default_capacity_provider_strategy
        {
            self.put_capacity_providers(ctx, id, &n).await?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(c) => Ok(outputs(&c)),
            None => Err(ProviderError::NotFound(format!(
                "{}: cluster {id} disappeared during update",
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
        self.aws.limits.ecs.acquire().await;
        match self
            .aws
            .ecs()
            .await
            .delete_cluster()
            .cluster(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => match error::map(&ctx.urn, "DeleteCluster", e) {
                ProviderError::NotFound(_) => return Ok(()),
                // Services still draining: settles on its own.
                ProviderError::Fatal(m) if m.contains("ClusterContains") => {
                    return Err(ProviderError::Retryable(m))
                }
                other => return Err(other),
            },
        }
        let start = Instant::now();
        loop {
            let all = self.describe_many(ctx, vec![id.to_string()]).await?;
            match all.first().and_then(|c| c.status()) {
                None | Some("INACTIVE") => return Ok(()),
                Some(state) if start.elapsed() >= self.aws.settings.wait_timeout => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: cluster {id} still {state} after {:?}",
                        ctx.urn, self.aws.settings.wait_timeout
                    )))
                }
                Some(_) => tokio::time::sleep(self.aws.settings.poll_interval).await,
            }
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let ecs = self.aws.ecs().await;
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            self.aws.limits.ecs.acquire().await;
            let out = ecs
                .list_clusters()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ListClusters", e))?;
            arns.extend(out.cluster_arns().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for chunk in arns.chunks(100) {
            for c in self.describe_many(ctx, chunk.to_vec()).await? {
                if c.status() == Some("ACTIVE") && has_urn(c.tags(), ctx) {
                    found.push(Created {
                        id: c.cluster_arn().unwrap_or_default().to_string(),
                        outputs: outputs(&c),
                    });
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_must_name_a_listed_provider() {
        let p = ClusterProvider::new(Arc::new(Aws::new(Default::default())));
        let mut c = Cluster::new("apps");
        c.capacity_providers = vec!["FARGATE".into()];
        c.default_capacity_provider_strategy = vec![CapacityProviderStrategy {
            capacity_provider: "FARGATE_SPOT".into(),
            weight: 1,
            base: 0,
        }];
        let e = p.validate(&serde_json::to_value(&c).unwrap()).unwrap_err();
        assert!(e.to_string().contains("FARGATE_SPOT"), "{e}");
        c.capacity_providers.push("FARGATE_SPOT".into());
        assert!(p.validate(&serde_json::to_value(&c).unwrap()).is_ok());
    }
}
