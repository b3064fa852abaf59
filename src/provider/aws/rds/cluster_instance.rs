//! `aws:rds/DbClusterInstance` (Terraform `aws_rds_cluster_instance`): an
//! Aurora instance in a cluster. The first one becomes the writer, the rest
//! are readers (output `writer`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::db::{self, describe_live, find_tagged, wait_available};
use super::instance::check_instance_class;
use super::{
    check_identifier, check_identifier_input, create_tags, from_tags, known, known_opt,
    none_if_gone, update_tags,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbClusterInstance {
    /// Lowercase letters, digits, hyphens; starts with a letter; at most 63.
    pub identifier: String,
    pub cluster_identifier: Input<String>,
    /// e.g. `db.r6g.large`.
    pub instance_class: String,
    #[serde(default = "aurora_postgresql")]
    pub engine: String,
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Failover priority, 0 (first) to 15.
    #[serde(default)]
    pub promotion_tier: i32,
    #[serde(default)]
    pub publicly_accessible: bool,
    #[serde(default)]
    pub db_parameter_group_name: Option<Input<String>>,
    #[serde(default)]
    pub apply_immediately: bool,
    #[serde(default)]
    pub tags: Tags,
}

fn aurora_postgresql() -> String {
    "aurora-postgresql".into()
}

impl DbClusterInstance {
    pub fn new(
        identifier: &str,
        cluster_identifier: impl Into<Input<String>>,
        instance_class: &str,
    ) -> Self {
        DbClusterInstance {
            identifier: identifier.into(),
            cluster_identifier: cluster_identifier.into(),
            instance_class: instance_class.into(),
            engine: aurora_postgresql(),
            availability_zone: None,
            promotion_tier: 0,
            publicly_accessible: false,
            db_parameter_group_name: None,
            apply_immediately: false,
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for DbClusterInstance {
    const TYPE: &'static str = "aws:rds/DbClusterInstance";
}

impl Resource<DbClusterInstance> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The instance's own DNS name.
    pub fn endpoint(&self) -> Output<String> {
        self.output("endpoint")
    }
    pub fn port(&self) -> Output<i64> {
        self.output("port")
    }
    /// Whether this instance is the cluster's writer.
    pub fn writer(&self) -> Output<bool> {
        self.output("writer")
    }
    pub fn availability_zone(&self) -> Output<String> {
        self.output("availability_zone")
    }
}

pub struct DbClusterInstanceProvider {
    aws: Arc<Aws>,
}

impl DbClusterInstanceProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        DbClusterInstanceProvider { aws }
    }

    /// Whether the cluster lists this instance as its writer.
    async fn is_writer(&self, ctx: &Ctx, i: &RdsInstance) -> Result<bool, ProviderError> {
        let (Some(cluster), Some(id)) = (i.db_cluster_identifier(), i.db_instance_identifier())
        else {
            return Ok(false);
        };
        self.aws.limits.rds.acquire().await;
        let r = self
            .aws
            .rds()
            .await
            .describe_db_clusters()
            .db_cluster_identifier(cluster)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBClusters", e));
        Ok(none_if_gone(r)?
            .and_then(|o| o.db_clusters().first().cloned())
            .map(|c| {
                c.db_cluster_members().iter().any(|m| {
                    m.db_instance_identifier() == Some(id) && m.is_cluster_writer() == Some(true)
                })
            })
            .unwrap_or(false))
    }

    async fn outputs(&self, ctx: &Ctx, i: &RdsInstance) -> Result<Value, ProviderError> {
        let id = i.db_instance_identifier().unwrap_or_default();
        Ok(json!({
            "id": id,
            "identifier": id,
            "arn": i.db_instance_arn(),
            "cluster_identifier": i.db_cluster_identifier(),
            "endpoint": i.endpoint().and_then(|e| e.address()),
            "port": i.endpoint().and_then(|e| e.port()),
            "writer": self.is_writer(ctx, i).await?,
            "availability_zone": i.availability_zone(),
            "engine_version": i.engine_version(),
            "dbi_resource_id": i.dbi_resource_id(),
        }))
    }
}

#[async_trait]
impl Provider for DbClusterInstanceProvider {
    fn type_name(&self) -> &'static str {
        DbClusterInstance::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "identifier",
            "cluster_identifier",
            "engine",
            "availability_zone",
        ]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["identifier"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("rds", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let d: DbClusterInstance = parse(inputs)?;
        check_identifier("identifier", &d.identifier, 63)?;
        check_identifier_input("cluster_identifier", &d.cluster_identifier, 63)?;
        check_instance_class("instance_class", &d.instance_class)?;
        if !matches!(d.engine.as_str(), "aurora-postgresql" | "aurora-mysql") {
            return Err(ProviderError::invalid(
                "engine",
                format!("{:?}", d.engine),
                "must be \"aurora-postgresql\" or \"aurora-mysql\"",
            ));
        }
        if !(0..=15).contains(&d.promotion_tier) {
            return Err(ProviderError::invalid(
                "promotion_tier",
                d.promotion_tier,
                "must be between 0 and 15",
            ));
        }
        if let Some(g) = &d.db_parameter_group_name {
            check_identifier_input("db_parameter_group_name", g, 255)?;
        }
        tags::validate(&d.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let d: DbClusterInstance = parse(inputs)?;
        let req = self
            .aws
            .rds()
            .await
            .create_db_instance()
            .db_instance_identifier(&d.identifier)
            .db_cluster_identifier(known(ctx, "cluster_identifier", &d.cluster_identifier)?)
            .db_instance_class(&d.instance_class)
            .engine(&d.engine)
            .set_availability_zone(d.availability_zone.clone())
            .promotion_tier(d.promotion_tier)
            .publicly_accessible(d.publicly_accessible)
            .set_db_parameter_group_name(
                known_opt(ctx, "db_parameter_group_name", &d.db_parameter_group_name)?
                    .map(str::to_string),
            )
            .set_tags(Some(create_tags(&self.aws, ctx, &d.tags)));
        self.aws.limits.rds.acquire().await;
        req.send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateDBInstance", e))?;
        let live: RdsInstance = wait_available(&self.aws, ctx, &d.identifier).await?;
        Ok(Created {
            id: d.identifier.clone(),
            outputs: self.outputs(ctx, &live).await?,
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(i) = describe_live::<RdsInstance>(&self.aws, ctx, id).await? else {
            return Ok(None);
        };
        let d: DbClusterInstance = parse(inputs)?;
        let live = DbClusterInstance {
            identifier: id.to_string(),
            cluster_identifier: Input::Value(
                i.db_cluster_identifier().unwrap_or_default().to_string(),
            ),
            instance_class: i.db_instance_class().unwrap_or_default().to_string(),
            engine: i.engine().unwrap_or_default().to_string(),
            availability_zone: d
                .availability_zone
                .as_ref()
                .and(i.availability_zone().map(str::to_string)),
            promotion_tier: i.promotion_tier().unwrap_or_default(),
            publicly_accessible: i.publicly_accessible().unwrap_or(false),
            db_parameter_group_name: d.db_parameter_group_name.as_ref().and(
                i.db_parameter_groups()
                    .first()
                    .and_then(|g| g.db_parameter_group_name())
                    .map(|s| Input::Value(s.to_string())),
            ),
            apply_immediately: d.apply_immediately,
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(i.tag_list())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(ctx, &i).await?,
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
        let (o, n): (DbClusterInstance, DbClusterInstance) =
            (parse(old_inputs)?, parse(new_inputs)?);
        let mut req = self
            .aws
            .rds()
            .await
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(n.apply_immediately);
        let mut any = false;
        if n.instance_class != o.instance_class {
            req = req.db_instance_class(&n.instance_class);
            any = true;
        }
        if n.promotion_tier != o.promotion_tier {
            req = req.promotion_tier(n.promotion_tier);
            any = true;
        }
        if n.publicly_accessible != o.publicly_accessible {
            req = req.publicly_accessible(n.publicly_accessible);
            any = true;
        }
        if n.db_parameter_group_name != o.db_parameter_group_name {
            if let Some(g) = &n.db_parameter_group_name {
                req = req.db_parameter_group_name(known(ctx, "db_parameter_group_name", g)?);
                any = true;
            }
        }
        if any {
            self.aws.limits.rds.acquire().await;
            req.send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyDBInstance", e))?;
        }
        if o.tags != n.tags {
            let arn = old_outputs["arn"].as_str().unwrap_or_default();
            update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        }
        let live: RdsInstance = wait_available(&self.aws, ctx, id).await?;
        self.outputs(ctx, &live).await
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        // Aurora instances take no final snapshot (the cluster's backups cover them).
        db::delete::<RdsInstance>(&self.aws, ctx, id, None).await
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let mut out = Vec::new();
        for i in find_tagged::<RdsInstance>(&self.aws, ctx).await? {
            out.push(Created {
                id: i.db_instance_identifier().unwrap_or_default().to_string(),
                outputs: self.outputs(ctx, &i).await?,
            });
        }
        Ok(out)
    }
}
