//! `aws:elasticache/ParameterGroup` (Terraform `aws_elasticache_parameter_group`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{CacheParameterGroup, ParameterNameValue};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_name, create_tags, has_urn_tag, list_tags, none_if_missing, update_tags};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterGroup {
    pub name: String,
    /// CacheParameterGroupFamily, e.g. `redis7`.
    pub family: String,
    #[serde(default = "default_description")]
    pub description: String,
    /// Parameters set in the group, sorted by name.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub tags: Tags,
}

fn default_description() -> String {
    "Managed by morket-stack".into()
}

const FAMILIES: &[&str] = &[
    "memcached1.4",
    "memcached1.5",
    "memcached1.6",
    "redis2.6",
    "redis2.8",
    "redis3.2",
    "redis4.0",
    "redis5.0",
    "redis6.x",
    "redis7",
    "valkey7",
    "valkey8",
];

/// ModifyCacheParameterGroup takes at most 20 parameters per call.
const BATCH: usize = 20;

impl ParameterGroup {
    pub fn new(name: &str, family: &str) -> Self {
        ParameterGroup {
            name: name.into(),
            family: family.into(),
            description: default_description(),
            parameters: Vec::new(),
            tags: Tags::new(),
        }
    }

    pub fn parameter(mut self, name: &str, value: &str) -> Self {
        self.parameters.retain(|p| p.name != name);
        self.parameters.push(Parameter {
            name: name.into(),
            value: value.into(),
        });
        self.parameters.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    fn map(&self) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect()
    }
}

impl ResourceArgs for ParameterGroup {
    const TYPE: &'static str = "aws:elasticache/ParameterGroup";
}

impl Resource<ParameterGroup> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

pub struct ParameterGroupProvider {
    aws: Arc<Aws>,
}

impl ParameterGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        ParameterGroupProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<CacheParameterGroup>, ProviderError> {
        self.aws.limits.elasticache.acquire().await;
        let r = self
            .aws
            .elasticache()
            .await
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeCacheParameterGroups", e));
        Ok(none_if_missing(r)?.and_then(|o| o.cache_parameter_groups().first().cloned()))
    }

    /// The parameters the user set (source `user`), sorted by name.
    async fn user_parameters(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Vec<Parameter>, ProviderError> {
        let mut params = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.aws.limits.elasticache.acquire().await;
            let out = self
                .aws
                .elasticache()
                .await
                .describe_cache_parameters()
                .cache_parameter_group_name(name)
                .source("user")
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeCacheParameters", e))?;
            for p in out.parameters() {
                if let Some(n) = p.parameter_name() {
                    params.push(Parameter {
                        name: n.to_string(),
                        value: p.parameter_value().unwrap_or("").to_string(),
                    });
                }
            }
            marker = out.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        params.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(params)
    }

    async fn modify(
        &self,
        ctx: &Ctx,
        name: &str,
        set: &[(String, String)],
    ) -> Result<(), ProviderError> {
        for chunk in set.chunks(BATCH) {
            self.aws.limits.elasticache.acquire().await;
            self.aws
                .elasticache()
                .await
                .modify_cache_parameter_group()
                .cache_parameter_group_name(name)
                .set_parameter_name_values(Some(
                    chunk
                        .iter()
                        .map(|(k, v)| {
                            ParameterNameValue::builder()
                                .parameter_name(k)
                                .parameter_value(v)
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyCacheParameterGroup", e))?;
        }
        Ok(())
    }

    fn outputs(g: &CacheParameterGroup) -> Value {
        json!({
            "id": g.cache_parameter_group_name(),
            "name": g.cache_parameter_group_name(),
            "arn": g.arn(),
            "family": g.cache_parameter_group_family(),
        })
    }
}

#[async_trait]
impl Provider for ParameterGroupProvider {
    fn type_name(&self) -> &'static str {
        ParameterGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name", "family", "description"]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("elasticache", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: ParameterGroup = parse(inputs)?;
        check_name("name", &g.name)?;
        if !FAMILIES.contains(&g.family.as_str()) {
            return Err(ProviderError::invalid(
                "family",
                format!("{:?}", g.family),
                format!("must be one of {}", FAMILIES.join(", ")),
            ));
        }
        if g.description.is_empty() {
            return Err(ProviderError::invalid(
                "description",
                "\"\"",
                "must not be empty",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &g.parameters {
            if p.name.is_empty() {
                return Err(ProviderError::invalid(
                    "parameters",
                    "\"\"",
                    "parameter names must not be empty",
                ));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(ProviderError::invalid(
                    "parameters",
                    format!("{:?}", p.name),
                    "parameter set twice",
                ));
            }
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: ParameterGroup = parse(inputs)?;
        self.aws.limits.elasticache.acquire().await;
        let out = self
            .aws
            .elasticache()
            .await
            .create_cache_parameter_group()
            .cache_parameter_group_name(&g.name)
            .cache_parameter_group_family(&g.family)
            .description(&g.description)
            .set_tags(Some(create_tags(&self.aws, ctx, &g.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateCacheParameterGroup", e))?;
        let pg = out.cache_parameter_group().cloned().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateCacheParameterGroup returned no parameter group",
                ctx.urn
            ))
        })?;
        let id = pg
            .cache_parameter_group_name()
            .unwrap_or(&g.name)
            .to_string();
        let set: Vec<(String, String)> = g.map().into_iter().collect();
        if !set.is_empty() {
            self.modify(ctx, &id, &set).await?;
        }
        Ok(Created {
            id,
            outputs: Self::outputs(&pg),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(g) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let parameters = match none_if_missing(self.user_parameters(ctx, id).await)? {
            Some(p) => p,
            None => return Ok(None),
        };
        let live_tags = list_tags(&self.aws, ctx, g.arn().unwrap_or_default()).await?;
        let live = ParameterGroup {
            name: g.cache_parameter_group_name().unwrap_or(id).to_string(),
            family: g.cache_parameter_group_family().unwrap_or("").to_string(),
            description: g.description().unwrap_or("").to_string(),
            parameters,
            tags: tags::own_view(&self.aws.settings.default_tags, &live_tags),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&g),
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (o, n): (ParameterGroup, ParameterGroup) = (parse(old_inputs)?, parse(new_inputs)?);
        let (om, nm) = (o.map(), n.map());
        let set: Vec<(String, String)> = nm
            .iter()
            .filter(|(k, v)| om.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let removed: Vec<String> = om
            .keys()
            .filter(|k| !nm.contains_key(*k))
            .cloned()
            .collect();
        if !set.is_empty() {
            self.modify(ctx, id, &set).await?;
        }
        // Removed parameters go back to the family default.
        for chunk in removed.chunks(BATCH) {
            self.aws.limits.elasticache.acquire().await;
            self.aws
                .elasticache()
                .await
                .reset_cache_parameter_group()
                .cache_parameter_group_name(id)
                .reset_all_parameters(false)
                .set_parameter_name_values(Some(
                    chunk
                        .iter()
                        .map(|k| ParameterNameValue::builder().parameter_name(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ResetCacheParameterGroup", e))?;
        }
        if o.tags != n.tags {
            let arn = old_outputs["arn"].as_str().unwrap_or_default().to_string();
            update_tags(&self.aws, ctx, &arn, &o.tags, &n.tags).await?;
        }
        match self.describe(ctx, id).await? {
            Some(g) => Ok(Self::outputs(&g)),
            None => Err(ProviderError::NotFound(format!(
                "{}: cache parameter group {id} disappeared during update",
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
        self.aws.limits.elasticache.acquire().await;
        let r = self
            .aws
            .elasticache()
            .await
            .delete_cache_parameter_group()
            .cache_parameter_group_name(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteCacheParameterGroup", e));
        none_if_missing(r).map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.aws.limits.elasticache.acquire().await;
            let out = self
                .aws
                .elasticache()
                .await
                .describe_cache_parameter_groups()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeCacheParameterGroups", e))?;
            for g in out.cache_parameter_groups() {
                // Engine defaults (default.redis7...) carry no tags.
                let Some(arn) = g.arn() else { continue };
                if has_urn_tag(&self.aws, ctx, arn).await? {
                    found.push(Created {
                        id: g
                            .cache_parameter_group_name()
                            .unwrap_or_default()
                            .to_string(),
                        outputs: Self::outputs(g),
                    });
                }
            }
            marker = out.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        Ok(found)
    }
}
