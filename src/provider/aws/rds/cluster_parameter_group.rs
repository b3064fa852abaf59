//! `aws:rds/DbClusterParameterGroup` (Terraform `aws_rds_cluster_parameter_group`):
//! the `…DBClusterParameterGroup…` calls behind [`ParameterGroup`].

use async_trait::async_trait;
use aws_sdk_rds::types::Parameter as RdsParameter;

use super::parameter_group::name_values;
use super::parameter_groups::{Kind, LiveGroup, ParameterGroup, GROUP_BUSY, TF_ARGS};
use super::Rds;
use crate::provider::aws::call::Call;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

/// For Aurora clusters.
pub type DbClusterParameterGroup = ParameterGroup<Cluster>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cluster;

#[async_trait]
impl Kind for Cluster {
    const TYPE: &'static str = "aws:rds/DbClusterParameterGroup";
    const SCHEMA: Schema = Schema {
        force_new: &["name", "family", "description"],
        unique_name: &["name"],
        terraform: &[Tf {
            resource: "aws_rds_cluster_parameter_group",
            args: TF_ARGS,
            import_id: "{id}",
        }],
        ..Schema::NONE
    };
    const WHAT: &'static str = "DB cluster parameter group";
    const FAMILY_EXAMPLE: &'static str = "aurora-postgresql15";

    async fn create(cx: &Call<'_, Rds>, g: &DbClusterParameterGroup) -> Result<(), ProviderError> {
        cx.send("CreateDBClusterParameterGroup", |c| {
            c.create_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(&g.name)
                .db_parameter_group_family(&g.family)
                .description(&g.description)
                .set_tags(Some(cx.create_tags(&g.tags)))
                .send()
        })
        .await
        .map(drop)
    }

    async fn describe(cx: &Call<'_, Rds>, name: &str) -> Result<Option<LiveGroup>, ProviderError> {
        let out = cx
            .find("DescribeDBClusterParameterGroups", |c| {
                c.describe_db_cluster_parameter_groups()
                    .db_cluster_parameter_group_name(name)
                    .send()
            })
            .await?;
        Ok(out
            .as_ref()
            .and_then(|o| o.db_cluster_parameter_groups().first())
            .map(|g| LiveGroup {
                family: g.db_parameter_group_family().unwrap_or_default().into(),
                description: g.description().unwrap_or_default().into(),
                arn: g
                    .db_cluster_parameter_group_arn()
                    .unwrap_or_default()
                    .into(),
            }))
    }

    async fn user_parameters(
        cx: &Call<'_, Rds>,
        name: &str,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        let c = cx.client().await;
        let pages = cx
            .pages(
                "DescribeDBClusterParameters",
                c.describe_db_cluster_parameters()
                    .db_cluster_parameter_group_name(name)
                    .source("user")
                    .into_paginator()
                    .send(),
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|p| name_values(p.parameters()))
            .collect())
    }

    async fn modify(
        cx: &Call<'_, Rds>,
        name: &str,
        params: Vec<RdsParameter>,
    ) -> Result<(), ProviderError> {
        cx.send_retrying("ModifyDBClusterParameterGroup", &[GROUP_BUSY], |c| {
            c.modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(params.clone()))
                .send()
        })
        .await
        .map(drop)
    }

    async fn reset(
        cx: &Call<'_, Rds>,
        name: &str,
        params: Vec<RdsParameter>,
    ) -> Result<(), ProviderError> {
        cx.send_retrying("ResetDBClusterParameterGroup", &[GROUP_BUSY], |c| {
            c.reset_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(params.clone()))
                .send()
        })
        .await
        .map(drop)
    }

    async fn delete(cx: &Call<'_, Rds>, name: &str) -> Result<(), ProviderError> {
        cx.send_retrying("DeleteDBClusterParameterGroup", &[GROUP_BUSY], |c| {
            c.delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .send()
        })
        .await
        .map(drop)
    }
}
