//! `aws:elasticache/SubnetGroup` (Terraform `aws_elasticache_subnet_group`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticache::types::CacheSubnetGroup;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_name, create_tags, has_urn_tag, list_tags, none_if_missing, update_tags};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetGroup {
    /// CacheSubnetGroupName; ElastiCache stores it in lowercase.
    pub name: String,
    #[serde(default = "default_description")]
    pub description: String,
    pub subnet_ids: Vec<Input<String>>,
    #[serde(default)]
    pub tags: Tags,
}

fn default_description() -> String {
    "Managed by morket-stack".into()
}

impl SubnetGroup {
    pub fn new(name: &str, subnet_ids: Vec<Input<String>>) -> Self {
        SubnetGroup {
            name: name.into(),
            description: default_description(),
            subnet_ids,
            tags: Tags::new(),
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

fn known_ids(ids: &[Input<String>]) -> Vec<String> {
    ids.iter().filter_map(|i| i.known().cloned()).collect()
}

pub struct SubnetGroupProvider {
    aws: Arc<Aws>,
}

impl SubnetGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        SubnetGroupProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<CacheSubnetGroup>, ProviderError> {
        self.aws.limits.elasticache.acquire().await;
        let r = self
            .aws
            .elasticache()
            .await
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeCacheSubnetGroups", e));
        Ok(none_if_missing(r)?.and_then(|o| o.cache_subnet_groups().first().cloned()))
    }

    fn outputs(g: &CacheSubnetGroup) -> Value {
        let subnets: Vec<&str> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        json!({
            "id": g.cache_subnet_group_name(),
            "name": g.cache_subnet_group_name(),
            "arn": g.arn(),
            "vpc_id": g.vpc_id(),
            "subnet_ids": subnets,
        })
    }
}

#[async_trait]
impl Provider for SubnetGroupProvider {
    fn type_name(&self) -> &'static str {
        SubnetGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["subnet_ids", "vpc_id"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("elasticache", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: SubnetGroup = parse(inputs)?;
        check_name("name", &g.name)?;
        if g.name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", g.name),
                "must be lowercase (ElastiCache stores names in lowercase)",
            ));
        }
        if g.description.is_empty() {
            return Err(ProviderError::invalid(
                "description",
                "\"\"",
                "must not be empty",
            ));
        }
        if g.subnet_ids.is_empty() {
            return Err(ProviderError::invalid(
                "subnet_ids",
                "[]",
                "at least one subnet",
            ));
        }
        let ids = known_ids(&g.subnet_ids);
        for (i, id) in ids.iter().enumerate() {
            if !id.starts_with("subnet-") {
                return Err(ProviderError::invalid(
                    "subnet_ids",
                    format!("{id:?}"),
                    "not a subnet id (subnet-...)",
                ));
            }
            if ids[..i].contains(id) {
                return Err(ProviderError::invalid(
                    "subnet_ids",
                    format!("{id:?}"),
                    "listed twice",
                ));
            }
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: SubnetGroup = parse(inputs)?;
        self.aws.limits.elasticache.acquire().await;
        let out = self
            .aws
            .elasticache()
            .await
            .create_cache_subnet_group()
            .cache_subnet_group_name(&g.name)
            .cache_subnet_group_description(&g.description)
            .set_subnet_ids(Some(known_ids(&g.subnet_ids)))
            .set_tags(Some(create_tags(&self.aws, ctx, &g.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateCacheSubnetGroup", e))?;
        let sg = out.cache_subnet_group().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateCacheSubnetGroup returned no subnet group",
                ctx.urn
            ))
        })?;
        Ok(Created {
            id: sg.cache_subnet_group_name().unwrap_or(&g.name).to_string(),
            outputs: Self::outputs(sg),
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
        let live_tags = list_tags(&self.aws, ctx, g.arn().unwrap_or_default()).await?;
        let live = SubnetGroup {
            name: g.cache_subnet_group_name().unwrap_or(id).to_string(),
            description: g.cache_subnet_group_description().unwrap_or("").to_string(),
            subnet_ids: g
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier())
                .map(|s| Input::Value(s.to_string()))
                .collect(),
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
        let (o, n): (SubnetGroup, SubnetGroup) = (parse(old_inputs)?, parse(new_inputs)?);
        let client = self.aws.elasticache().await;
        let mut latest: Option<CacheSubnetGroup> = None;
        if o.description != n.description || known_ids(&o.subnet_ids) != known_ids(&n.subnet_ids) {
            self.aws.limits.elasticache.acquire().await;
            let out = client
                .modify_cache_subnet_group()
                .cache_subnet_group_name(id)
                .cache_subnet_group_description(&n.description)
                .set_subnet_ids(Some(known_ids(&n.subnet_ids)))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyCacheSubnetGroup", e))?;
            latest = out.cache_subnet_group().cloned();
        }
        let arn = old_outputs["arn"].as_str().unwrap_or_default().to_string();
        if o.tags != n.tags {
            update_tags(&self.aws, ctx, &arn, &o.tags, &n.tags).await?;
        }
        if latest.is_none() {
            latest = self.describe(ctx, id).await?;
        }
        match latest {
            Some(g) => Ok(Self::outputs(&g)),
            None => Err(ProviderError::NotFound(format!(
                "{}: cache subnet group {id} disappeared during update",
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
            .delete_cache_subnet_group()
            .cache_subnet_group_name(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteCacheSubnetGroup", e));
        none_if_missing(r).map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        // The name comes from the inputs; a group of that name is ours only if
        // it carries our URN tag. Other groups are listed too, since the old
        // half of a replacement has a different name.
        let _ = inputs;
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.aws.limits.elasticache.acquire().await;
            let out = self
                .aws
                .elasticache()
                .await
                .describe_cache_subnet_groups()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeCacheSubnetGroups", e))?;
            for g in out.cache_subnet_groups() {
                let Some(arn) = g.arn() else { continue };
                if has_urn_tag(&self.aws, ctx, arn).await? {
                    found.push(Created {
                        id: g.cache_subnet_group_name().unwrap_or_default().to_string(),
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
