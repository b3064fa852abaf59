//! `aws:rds/DbSubnetGroup` (Terraform `aws_db_subnet_group`).

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup as RdsSubnetGroup;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{input_vec, require_all, same_set, Rds};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbSubnetGroup {
    /// Lowercase; letters, digits, spaces, `.`, `_`, `-`; at most 255; not `default`.
    pub name: String,
    pub description: String,
    /// Subnets in at least two availability zones.
    pub subnet_ids: Vec<Input<String>>,
    pub tags: Tags,
}

/// The description of groups that give none.
pub(crate) const MANAGED: &str = "Managed by morket-stack";

impl Default for DbSubnetGroup {
    fn default() -> Self {
        DbSubnetGroup {
            name: String::new(),
            description: MANAGED.into(),
            subnet_ids: Vec::new(),
            tags: Tags::new(),
        }
    }
}

impl DbSubnetGroup {
    pub fn new(name: &str, subnet_ids: Vec<Input<String>>) -> Self {
        DbSubnetGroup {
            name: name.into(),
            subnet_ids,
            ..Default::default()
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

#[async_trait]
impl AwsResource for DbSubnetGroup {
    type Service = Rds;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        unique_name: &["name"],
        normalize: &[("subnet_ids", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_db_subnet_group",
            args: &[
                ("name", "name"),
                ("description", "description"),
                ("subnet_ids", "subnet_ids"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let ok = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ' ' | '.' | '_' | '-')
        };
        if self.name.is_empty() || self.name.len() > 255 || !self.name.chars().all(ok) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 255 lowercase letters, digits, spaces, periods, underscores or hyphens",
            ));
        }
        if self.name == "default" {
            return Err(ProviderError::invalid("name", "\"default\"", "is reserved"));
        }
        if self.description.is_empty() || self.description.len() > 255 {
            return Err(ProviderError::invalid(
                "description",
                format!("{:?}", self.description),
                "1 to 255 characters",
            ));
        }
        if self.subnet_ids.len() < 2 {
            return Err(ProviderError::invalid(
                "subnet_ids",
                self.subnet_ids.len(),
                "needs subnets in at least two availability zones",
            ));
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Rds>) -> Result<String, ProviderError> {
        let subnets = require_all("subnet_ids", &self.subnet_ids)?;
        cx.send("CreateDBSubnetGroup", |c| {
            c.create_db_subnet_group()
                .db_subnet_group_name(&self.name)
                .db_subnet_group_description(&self.description)
                .set_subnet_ids(Some(subnets.clone()))
                .set_tags(Some(cx.create_tags(&self.tags)))
                .send()
        })
        .await?;
        Ok(self.name.clone())
    }

    async fn read(
        cx: &Call<'_, Rds>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(g) = describe(cx, id).await? else {
            return Ok(None);
        };
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        let args = DbSubnetGroup {
            name: id.to_string(),
            description: g.db_subnet_group_description().unwrap_or_default().into(),
            subnet_ids: input_vec(
                g.subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(str::to_string))
                    .collect(),
            ),
            tags: cx.own_tags(&cx.tags_of(arn).await?),
        };
        let outputs = json!({
            "id": id,
            "name": id,
            "arn": arn,
            "vpc_id": g.vpc_id(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        if self.description != old.description || !same_set(&old.subnet_ids, &self.subnet_ids) {
            // SubnetIds is required even when only the description changes.
            let subnets = require_all("subnet_ids", &self.subnet_ids)?;
            cx.send("ModifyDBSubnetGroup", |c| {
                c.modify_db_subnet_group()
                    .db_subnet_group_name(id)
                    .db_subnet_group_description(&self.description)
                    .set_subnet_ids(Some(subnets.clone()))
                    .send()
            })
            .await?;
        }
        if self.tags != old.tags {
            let g = describe(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("DB subnet group {id} is gone")))?;
            let arn = g.db_subnet_group_arn().unwrap_or_default();
            cx.update_tags(arn, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        cx.send("DeleteDBSubnetGroup", |c| {
            c.delete_db_subnet_group().db_subnet_group_name(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Rds>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a group of that name carrying our URN tag.
        let Some(g) = describe(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        let tags = cx
            .tags_of(g.db_subnet_group_arn().unwrap_or_default())
            .await?;
        Ok(if cx.is_ours(&tags) {
            vec![self.name.clone()]
        } else {
            Vec::new()
        })
    }
}

async fn describe(cx: &Call<'_, Rds>, name: &str) -> Result<Option<RdsSubnetGroup>, ProviderError> {
    let out = cx
        .find("DescribeDBSubnetGroups", |c| {
            c.describe_db_subnet_groups()
                .db_subnet_group_name(name)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| o.db_subnet_groups().first().cloned()))
}
