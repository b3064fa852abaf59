//! `aws:elasticache/ParameterGroup` (Terraform `aws_elasticache_parameter_group`).
//! Only the parameters set here are managed; a parameter left out goes back
//! to the family default.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{CacheParameterGroup, ParameterNameValue};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_description, check_name, ElastiCache};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::one_of;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParameterGroup {
    pub name: String,
    /// CacheParameterGroupFamily, e.g. `redis7`.
    pub family: String,
    pub description: String,
    /// Parameters set in the group, sorted by name.
    pub parameters: Vec<Parameter>,
    pub tags: Tags,
}

impl Default for ParameterGroup {
    fn default() -> Self {
        ParameterGroup {
            name: String::new(),
            family: String::new(),
            description: "Managed by morket-stack".into(),
            parameters: Vec::new(),
            tags: Tags::new(),
        }
    }
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

/// Modify and Reset take at most 20 parameters per call.
const BATCH: usize = 20;

/// The group is busy applying an earlier change to its clusters.
const BUSY: Retry = Retry::conflict(
    &["InvalidCacheParameterGroupState"],
    Duration::from_secs(300),
);

impl ParameterGroup {
    pub fn new(name: &str, family: &str) -> Self {
        ParameterGroup {
            name: name.into(),
            family: family.into(),
            ..Default::default()
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

    fn map(&self) -> BTreeMap<&str, &str> {
        self.parameters
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
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

#[async_trait]
impl AwsResource for ParameterGroup {
    type Service = ElastiCache;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "family", "description"],
        unique_name: &["name"],
        normalize: &[("parameters", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_elasticache_parameter_group",
            args: &[
                ("name", "name"),
                ("family", "family"),
                ("description", "description"),
                ("parameters", "parameter"),
                ("tags", "tags"),
            ],
            import_id: "{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        one_of("family", &self.family, FAMILIES)?;
        check_description(&self.description)?;
        let mut seen = BTreeSet::new();
        for p in &self.parameters {
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
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, ElastiCache>) -> Result<String, ProviderError> {
        let out = cx
            .send("CreateCacheParameterGroup", |c| {
                c.create_cache_parameter_group()
                    .cache_parameter_group_name(&self.name)
                    .cache_parameter_group_family(&self.family)
                    .description(&self.description)
                    .set_tags(Some(cx.create_tags(&self.tags)))
                    .send()
            })
            .await?;
        Ok(out
            .cache_parameter_group()
            .and_then(|g| g.cache_parameter_group_name())
            .unwrap_or(&self.name)
            .to_string())
    }

    async fn after_create(
        &self,
        cx: &Call<'_, ElastiCache>,
        id: &str,
    ) -> Result<(), ProviderError> {
        // A new group has only family defaults; the parameters are an update.
        let fresh = ParameterGroup {
            parameters: Vec::new(),
            ..self.clone()
        };
        set_parameters(cx, id, &fresh, self, &[Retry::NEW_OBJECT, BUSY]).await
    }

    async fn read(
        cx: &Call<'_, ElastiCache>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(g) = describe(cx, id).await? else {
            return Ok(None);
        };
        let pages = cx
            .pages(
                "DescribeCacheParameters",
                cx.client()
                    .await
                    .describe_cache_parameters()
                    .cache_parameter_group_name(id)
                    // Only what was set: a family has hundreds of defaults.
                    .source("user")
                    .into_paginator()
                    .send(),
            )
            .await;
        let pages = match pages {
            Err(ProviderError::NotFound(_)) => return Ok(None),
            p => p?,
        };
        let mut parameters: Vec<Parameter> = pages
            .iter()
            .flat_map(|p| p.parameters())
            .filter_map(|p| {
                Some(Parameter {
                    name: p.parameter_name()?.to_string(),
                    value: p.parameter_value().unwrap_or("").to_string(),
                })
            })
            .collect();
        parameters.sort_by(|a, b| a.name.cmp(&b.name));
        let args = ParameterGroup {
            name: g.cache_parameter_group_name().unwrap_or(id).to_string(),
            family: g.cache_parameter_group_family().unwrap_or("").into(),
            description: g.description().unwrap_or("").into(),
            parameters,
            tags: cx.own_tags(&cx.live_tags(g.arn().unwrap_or_default()).await?),
        };
        let outputs = json!({
            "id": g.cache_parameter_group_name(),
            "name": g.cache_parameter_group_name(),
            "arn": g.arn(),
            "family": g.cache_parameter_group_family(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, ElastiCache>,
        id: &str,
    ) -> Result<(), ProviderError> {
        set_parameters(cx, id, old, self, &[BUSY]).await?;
        if old.tags != self.tags {
            let g = describe(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("cache parameter group {id}")))?;
            cx.update_tags(g.arn().unwrap_or_default(), &old.tags, &self.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, ElastiCache>, id: &str) -> Result<(), ProviderError> {
        // Refused while a cluster being deleted still uses it (Terraform: 3 minutes).
        let busy = Retry::conflict(
            &["InvalidCacheParameterGroupState"],
            Duration::from_secs(180),
        );
        cx.send_retrying("DeleteCacheParameterGroup", &[busy], |c| {
            c.delete_cache_parameter_group()
                .cache_parameter_group_name(id)
                .send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, ElastiCache>) -> Result<Vec<String>, ProviderError> {
        let pages = cx
            .pages(
                "DescribeCacheParameterGroups",
                cx.client()
                    .await
                    .describe_cache_parameter_groups()
                    .into_paginator()
                    .send(),
            )
            .await?;
        // Engine defaults (default.redis7, ...) carry no tags.
        let groups: Vec<(&str, &str)> = pages
            .iter()
            .flat_map(|p| p.cache_parameter_groups())
            .filter_map(|g| Some((g.cache_parameter_group_name()?, g.arn()?)))
            .filter(|(name, _)| !name.starts_with("default."))
            .collect();
        cx.tagged(&groups).await
    }
}

/// Resets the parameters `new` leaves out to their defaults, then sets the
/// changed ones, 20 per call (Terraform's order).
async fn set_parameters(
    cx: &Call<'_, ElastiCache>,
    id: &str,
    old: &ParameterGroup,
    new: &ParameterGroup,
    retries: &[Retry],
) -> Result<(), ProviderError> {
    let (om, nm) = (old.map(), new.map());
    let removed: Vec<ParameterNameValue> = om
        .keys()
        .filter(|k| !nm.contains_key(*k))
        .map(|k| ParameterNameValue::builder().parameter_name(*k).build())
        .collect();
    let set: Vec<ParameterNameValue> = nm
        .iter()
        .filter(|(k, v)| om.get(*k) != Some(*v))
        .map(|(k, v)| {
            ParameterNameValue::builder()
                .parameter_name(*k)
                .parameter_value(*v)
                .build()
        })
        .collect();
    for chunk in removed.chunks(BATCH) {
        cx.send_retrying("ResetCacheParameterGroup", retries, |c| {
            c.reset_cache_parameter_group()
                .cache_parameter_group_name(id)
                .reset_all_parameters(false)
                .set_parameter_name_values(Some(chunk.to_vec()))
                .send()
        })
        .await?;
    }
    for chunk in set.chunks(BATCH) {
        cx.send_retrying("ModifyCacheParameterGroup", retries, |c| {
            c.modify_cache_parameter_group()
                .cache_parameter_group_name(id)
                .set_parameter_name_values(Some(chunk.to_vec()))
                .send()
        })
        .await?;
    }
    Ok(())
}

async fn describe(
    cx: &Call<'_, ElastiCache>,
    name: &str,
) -> Result<Option<CacheParameterGroup>, ProviderError> {
    let out = cx
        .find("DescribeCacheParameterGroups", |c| {
            c.describe_cache_parameter_groups()
                .cache_parameter_group_name(name)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| o.cache_parameter_groups().first().cloned()))
}
