//! `aws:rds/DbClusterParameterGroup` (Terraform `aws_rds_cluster_parameter_group`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::DbClusterParameterGroup as RdsGroup;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::subnet_group::managed;
use super::{
    check_identifier, check_parameters, create_tags, from_rds_parameters, from_tags, has_urn,
    list_tags, none_if_gone, order_like, parameter_changes, to_rds_parameter, update_tags,
    Parameter, PARAMETERS_PER_CALL,
};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbClusterParameterGroup {
    pub name: String,
    /// e.g. `aurora-postgresql15`.
    pub family: String,
    #[serde(default = "managed")]
    pub description: String,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub tags: Tags,
}

impl DbClusterParameterGroup {
    pub fn new(name: &str, family: &str) -> Self {
        DbClusterParameterGroup {
            name: name.into(),
            family: family.into(),
            description: managed(),
            parameters: Vec::new(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for DbClusterParameterGroup {
    const TYPE: &'static str = "aws:rds/DbClusterParameterGroup";
}

impl Resource<DbClusterParameterGroup> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

pub struct DbClusterParameterGroupProvider {
    aws: Arc<Aws>,
}

impl DbClusterParameterGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        DbClusterParameterGroupProvider { aws }
    }

    async fn describe(&self, ctx: &Ctx, name: &str) -> Result<Option<RdsGroup>, ProviderError> {
        self.aws.limits.rds.acquire().await;
        let r = self
            .aws
            .rds()
            .await
            .describe_db_cluster_parameter_groups()
            .db_cluster_parameter_group_name(name)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBClusterParameterGroups", e));
        Ok(none_if_gone(r)?.and_then(|o| o.db_cluster_parameter_groups().first().cloned()))
    }

    /// The parameters set by the user (source `user`), all pages.
    async fn user_parameters(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Vec<Parameter>, ProviderError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.aws.limits.rds.acquire().await;
            let out = self
                .aws
                .rds()
                .await
                .describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(name)
                .source("user")
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeDBClusterParameters", e))?;
            all.extend(out.parameters().iter().cloned());
            marker = out.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        Ok(from_rds_parameters(&all))
    }

    async fn modify(&self, ctx: &Ctx, name: &str, ps: &[Parameter]) -> Result<(), ProviderError> {
        for chunk in ps.chunks(PARAMETERS_PER_CALL) {
            self.aws.limits.rds.acquire().await;
            self.aws
                .rds()
                .await
                .modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(chunk.iter().map(to_rds_parameter).collect()))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyDBClusterParameterGroup", e))?;
        }
        Ok(())
    }

    async fn reset(&self, ctx: &Ctx, name: &str, ps: &[Parameter]) -> Result<(), ProviderError> {
        for chunk in ps.chunks(PARAMETERS_PER_CALL) {
            let params = chunk
                .iter()
                .map(|p| {
                    aws_sdk_rds::types::Parameter::builder()
                        .parameter_name(&p.name)
                        .apply_method(aws_sdk_rds::types::ApplyMethod::from(
                            p.apply_method.as_str(),
                        ))
                        .build()
                })
                .collect();
            self.aws.limits.rds.acquire().await;
            self.aws
                .rds()
                .await
                .reset_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(params))
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ResetDBClusterParameterGroup", e))?;
        }
        Ok(())
    }

    fn outputs(g: &RdsGroup) -> Value {
        let name = g.db_cluster_parameter_group_name().unwrap_or_default();
        json!({
            "id": name,
            "name": name,
            "arn": g.db_cluster_parameter_group_arn(),
        })
    }
}

#[async_trait]
impl Provider for DbClusterParameterGroupProvider {
    fn type_name(&self) -> &'static str {
        DbClusterParameterGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name", "family", "description"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("rds", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: DbClusterParameterGroup = parse(inputs)?;
        check_identifier("name", &g.name, 255)?;
        if g.family.is_empty()
            || !g
                .family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        {
            return Err(ProviderError::invalid(
                "family",
                format!("{:?}", g.family),
                "expected a parameter group family like aurora-postgresql15",
            ));
        }
        if g.description.is_empty() {
            return Err(ProviderError::invalid(
                "description",
                "\"\"",
                "must not be empty",
            ));
        }
        check_parameters(&g.parameters)?;
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: DbClusterParameterGroup = parse(inputs)?;
        self.aws.limits.rds.acquire().await;
        let out = self
            .aws
            .rds()
            .await
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(&g.name)
            .db_parameter_group_family(&g.family)
            .description(&g.description)
            .set_tags(Some(create_tags(&self.aws, ctx, &g.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateDBClusterParameterGroup", e))?;
        let created = out.db_cluster_parameter_group().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateDBClusterParameterGroup returned no group",
                ctx.urn
            ))
        })?;
        self.modify(ctx, &g.name, &g.parameters).await?;
        Ok(Created {
            id: g.name.clone(),
            outputs: Self::outputs(created),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(g) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let declared: Vec<Parameter> = parse::<DbClusterParameterGroup>(inputs)
            .map(|d| d.parameters)
            .unwrap_or_default();
        let live_tags = list_tags(
            &self.aws,
            ctx,
            g.db_cluster_parameter_group_arn().unwrap_or_default(),
        )
        .await?;
        let live = DbClusterParameterGroup {
            name: id.to_string(),
            family: g
                .db_parameter_group_family()
                .unwrap_or_default()
                .to_string(),
            description: g.description().unwrap_or_default().to_string(),
            parameters: order_like(self.user_parameters(ctx, id).await?, &declared),
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
        let (o, n): (DbClusterParameterGroup, DbClusterParameterGroup) =
            (parse(old_inputs)?, parse(new_inputs)?);
        let (set, reset) = parameter_changes(&o.parameters, &n.parameters);
        self.reset(ctx, id, &reset).await?;
        self.modify(ctx, id, &set).await?;
        if o.tags != n.tags {
            let arn = old_outputs["arn"].as_str().unwrap_or_default();
            update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        }
        Ok(old_outputs.clone())
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
            .delete_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteDBClusterParameterGroup", e));
        none_if_gone(r).map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let g: DbClusterParameterGroup = parse(inputs)?;
        let Some(live) = self.describe(ctx, &g.name).await? else {
            return Ok(Vec::new());
        };
        let t = list_tags(
            &self.aws,
            ctx,
            live.db_cluster_parameter_group_arn().unwrap_or_default(),
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
