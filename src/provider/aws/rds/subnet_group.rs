//! `aws:rds/DbSubnetGroup` (Terraform `aws_db_subnet_group`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup as RdsSubnetGroup;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    create_tags, from_tags, has_urn, input_vec, known_vec, list_tags, none_if_gone, update_tags,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbSubnetGroup {
    /// Lowercase; letters, digits, spaces, `.`, `_`, `-`; at most 255; not `default`.
    pub name: String,
    #[serde(default = "managed")]
    pub description: String,
    /// Subnets in at least two availability zones.
    pub subnet_ids: Vec<Input<String>>,
    #[serde(default)]
    pub tags: Tags,
}

pub(crate) fn managed() -> String {
    "Managed by morket-stack".into()
}

impl DbSubnetGroup {
    pub fn new(name: &str, subnet_ids: Vec<Input<String>>) -> Self {
        DbSubnetGroup {
            name: name.into(),
            description: managed(),
            subnet_ids,
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for DbSubnetGroup {
    const TYPE: &'static str = "aws:rds/DbSubnetGroup";
}

impl Resource<DbSubnetGroup> {
    /// The group name (what clusters and instances take).
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

pub struct DbSubnetGroupProvider {
    aws: Arc<Aws>,
}

impl DbSubnetGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        DbSubnetGroupProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<RdsSubnetGroup>, ProviderError> {
        self.aws.limits.rds.acquire().await;
        let r = self
            .aws
            .rds()
            .await
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBSubnetGroups", e));
        Ok(none_if_gone(r)?.and_then(|o| o.db_subnet_groups().first().cloned()))
    }

    fn outputs(g: &RdsSubnetGroup) -> Value {
        let name = g.db_subnet_group_name().unwrap_or_default();
        json!({
            "id": name,
            "name": name,
            "arn": g.db_subnet_group_arn(),
            "vpc_id": g.vpc_id(),
        })
    }
}

fn subnet_ids(g: &RdsSubnetGroup) -> Vec<String> {
    g.subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect()
}

#[async_trait]
impl Provider for DbSubnetGroupProvider {
    fn type_name(&self) -> &'static str {
        DbSubnetGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("rds", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: DbSubnetGroup = parse(inputs)?;
        let ok = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ' ' | '.' | '_' | '-')
        };
        if g.name.is_empty() || g.name.len() > 255 || !g.name.chars().all(ok) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", g.name),
                "1 to 255 lowercase letters, digits, spaces, periods, underscores or hyphens",
            ));
        }
        if g.name == "default" {
            return Err(ProviderError::invalid("name", "\"default\"", "is reserved"));
        }
        if g.description.is_empty() || g.description.len() > 255 {
            return Err(ProviderError::invalid(
                "description",
                format!("{:?}", g.description),
                "1 to 255 characters",
            ));
        }
        if g.subnet_ids.len() < 2 {
            return Err(ProviderError::invalid(
                "subnet_ids",
                g.subnet_ids.len(),
                "needs subnets in at least two availability zones",
            ));
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: DbSubnetGroup = parse(inputs)?;
        let subnets = known_vec(ctx, "subnet_ids", &g.subnet_ids)?;
        self.aws.limits.rds.acquire().await;
        let out = self
            .aws
            .rds()
            .await
            .create_db_subnet_group()
            .db_subnet_group_name(&g.name)
            .db_subnet_group_description(&g.description)
            .set_subnet_ids(Some(subnets))
            .set_tags(Some(create_tags(&self.aws, ctx, &g.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateDBSubnetGroup", e))?;
        let sg = out.db_subnet_group().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateDBSubnetGroup returned no group",
                ctx.urn
            ))
        })?;
        Ok(Created {
            id: g.name.clone(),
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
        let live_tags =
            list_tags(&self.aws, ctx, g.db_subnet_group_arn().unwrap_or_default()).await?;
        let live = DbSubnetGroup {
            name: id.to_string(),
            description: g
                .db_subnet_group_description()
                .unwrap_or_default()
                .to_string(),
            subnet_ids: input_vec(subnet_ids(&g)),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(&live_tags)),
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
        let (o, n): (DbSubnetGroup, DbSubnetGroup) = (parse(old_inputs)?, parse(new_inputs)?);
        let mut outputs = old_outputs.clone();
        if o.description != n.description || !super::same_set(&o.subnet_ids, &n.subnet_ids) {
            // SubnetIds is required even when only the description changes.
            let subnets = known_vec(ctx, "subnet_ids", &n.subnet_ids)?;
            self.aws.limits.rds.acquire().await;
            let out = self
                .aws
                .rds()
                .await
                .modify_db_subnet_group()
                .db_subnet_group_name(id)
                .db_subnet_group_description(&n.description)
                .set_subnet_ids(Some(subnets))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyDBSubnetGroup", e))?;
            if let Some(g) = out.db_subnet_group() {
                outputs = Self::outputs(g);
            }
        }
        if o.tags != n.tags {
            let arn = outputs["arn"].as_str().unwrap_or_default().to_string();
            update_tags(&self.aws, ctx, &arn, &o.tags, &n.tags).await?;
        }
        Ok(outputs)
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.rds.acquire().await;
        let r = self
            .aws
            .rds()
            .await
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteDBSubnetGroup", e));
        none_if_gone(r).map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        // The name is the identity: a group of that name carrying our URN tag.
        let g: DbSubnetGroup = parse(inputs)?;
        let Some(live) = self.describe(ctx, &g.name).await? else {
            return Ok(Vec::new());
        };
        let t = list_tags(
            &self.aws,
            ctx,
            live.db_subnet_group_arn().unwrap_or_default(),
        )
        .await?;
        Ok(if has_urn(ctx, &t) {
            vec![Created {
                id: g.name,
                outputs: Self::outputs(&live),
            }]
        } else {
            Vec::new()
        })
    }
}
