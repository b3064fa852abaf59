//! `aws:elasticache/SubnetGroup` (Terraform `aws_elasticache_subnet_group`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::CacheSubnetGroup;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_description, check_name, require_all, ElastiCache};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::check_id;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubnetGroup {
    /// CacheSubnetGroupName; ElastiCache stores it in lowercase.
    pub name: String,
    pub description: String,
    pub subnet_ids: Vec<Input<String>>,
    pub tags: Tags,
}

impl Default for SubnetGroup {
    fn default() -> Self {
        SubnetGroup {
            name: String::new(),
            description: "Managed by morket-stack".into(),
            subnet_ids: Vec::new(),
            tags: Tags::new(),
        }
    }
}

impl SubnetGroup {
    pub fn new(name: &str, subnet_ids: Vec<Input<String>>) -> Self {
        SubnetGroup {
            name: name.into(),
            subnet_ids,
            ..Default::default()
        }
    }
}

impl ResourceArgs for SubnetGroup {
    const TYPE: &'static str = "aws:elasticache/SubnetGroup";
}

impl Resource<SubnetGroup> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
}

#[async_trait]
impl AwsResource for SubnetGroup {
    type Service = ElastiCache;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        computed_on_update: &["subnet_ids", "vpc_id"],
        normalize: &[("subnet_ids", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_elasticache_subnet_group",
            args: &[
                ("name", "name"),
                ("description", "description"),
                ("subnet_ids", "subnet_ids"),
                ("tags", "tags"),
            ],
            import_id: "{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        if self.name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "must be lowercase (ElastiCache stores names in lowercase)",
            ));
        }
        check_description(&self.description)?;
        if self.subnet_ids.is_empty() {
            return Err(ProviderError::invalid(
                "subnet_ids",
                "[]",
                "at least one subnet",
            ));
        }
        for (i, id) in self.subnet_ids.iter().enumerate() {
            check_id("subnet_ids", id, "subnet")?;
            let Some(v) = id.known() else { continue };
            if self.subnet_ids[..i].iter().any(|o| o.known() == Some(v)) {
                return Err(ProviderError::invalid(
                    "subnet_ids",
                    format!("{v:?}"),
                    "listed twice",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, ElastiCache>) -> Result<String, ProviderError> {
        let subnets = require_all("subnet_ids", &self.subnet_ids)?;
        let out = cx
            .send("CreateCacheSubnetGroup", |c| {
                c.create_cache_subnet_group()
                    .cache_subnet_group_name(&self.name)
                    .cache_subnet_group_description(&self.description)
                    .set_subnet_ids(Some(subnets.clone()))
                    .set_tags(Some(cx.create_tags(&self.tags)))
                    .send()
            })
            .await?;
        Ok(out
            .cache_subnet_group()
            .and_then(|g| g.cache_subnet_group_name())
            .unwrap_or(&self.name)
            .to_string())
    }

    async fn read(
        cx: &Call<'_, ElastiCache>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(g) = describe(cx, id).await? else {
            return Ok(None);
        };
        let subnets: Vec<&str> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        let args = SubnetGroup {
            name: g.cache_subnet_group_name().unwrap_or(id).to_string(),
            description: g.cache_subnet_group_description().unwrap_or("").into(),
            subnet_ids: subnets
                .iter()
                .map(|s| Input::Value(s.to_string()))
                .collect(),
            tags: cx.own_tags(&cx.live_tags(g.arn().unwrap_or_default()).await?),
        };
        let outputs = json!({
            "id": g.cache_subnet_group_name(),
            "name": g.cache_subnet_group_name(),
            "arn": g.arn(),
            "vpc_id": g.vpc_id(),
            "subnet_ids": subnets,
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, ElastiCache>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let subnets = require_all("subnet_ids", &self.subnet_ids)?;
        if old.description != self.description
            || require_all("subnet_ids", &old.subnet_ids)? != subnets
        {
            cx.send("ModifyCacheSubnetGroup", |c| {
                c.modify_cache_subnet_group()
                    .cache_subnet_group_name(id)
                    .cache_subnet_group_description(&self.description)
                    .set_subnet_ids(Some(subnets.clone()))
                    .send()
            })
            .await?;
        }
        if old.tags != self.tags {
            let g = describe(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("cache subnet group {id}")))?;
            cx.update_tags(g.arn().unwrap_or_default(), &old.tags, &self.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, ElastiCache>, id: &str) -> Result<(), ProviderError> {
        // Network interfaces of a just-deleted cluster linger (Terraform: 5 minutes).
        let retry = Retry::conflict(&["DependencyViolation"], Duration::from_secs(300));
        cx.send_retrying("DeleteCacheSubnetGroup", &[retry], |c| {
            c.delete_cache_subnet_group()
                .cache_subnet_group_name(id)
                .send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, ElastiCache>) -> Result<Vec<String>, ProviderError> {
        // Every group is listed: the old half of a replacement has another name.
        let pages = cx
            .pages(
                "DescribeCacheSubnetGroups",
                cx.client()
                    .await
                    .describe_cache_subnet_groups()
                    .into_paginator()
                    .send(),
            )
            .await?;
        let groups: Vec<(&str, &str)> = pages
            .iter()
            .flat_map(|p| p.cache_subnet_groups())
            .filter_map(|g| Some((g.cache_subnet_group_name()?, g.arn()?)))
            .collect();
        cx.tagged(&groups).await
    }
}

async fn describe(
    cx: &Call<'_, ElastiCache>,
    name: &str,
) -> Result<Option<CacheSubnetGroup>, ProviderError> {
    let out = cx
        .find("DescribeCacheSubnetGroups", |c| {
            c.describe_cache_subnet_groups()
                .cache_subnet_group_name(name)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| o.cache_subnet_groups().first().cloned()))
}
