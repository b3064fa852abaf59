//! `aws:rds/DbClusterInstance` (Terraform `aws_rds_cluster_instance`): an
//! Aurora instance in a cluster. The first one becomes the writer, the rest
//! are readers (output `writer`).

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster as RdsCluster, DbInstance as RdsInstance};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::db::{self, Db};
use super::instance::check_instance_class;
use super::{check_identifier, check_identifier_input, from_tags, require_opt, Rds};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbClusterInstance {
    /// Lowercase letters, digits, hyphens; starts with a letter; at most 63.
    pub identifier: String,
    pub cluster_identifier: Input<String>,
    /// e.g. `db.r6g.large`.
    pub instance_class: String,
    pub engine: String,
    pub availability_zone: Option<String>,
    /// Failover priority, 0 (first) to 15.
    pub promotion_tier: i32,
    pub publicly_accessible: bool,
    pub db_parameter_group_name: Option<Input<String>>,
    /// Without it, changes wait for the maintenance window (output
    /// `pending_modified_values` shows them meanwhile).
    pub apply_immediately: bool,
    pub tags: Tags,
}

impl Default for DbClusterInstance {
    fn default() -> Self {
        DbClusterInstance {
            identifier: String::new(),
            cluster_identifier: Input::default(),
            instance_class: String::new(),
            engine: "aurora-postgresql".into(),
            availability_zone: None,
            promotion_tier: 0,
            publicly_accessible: false,
            db_parameter_group_name: None,
            apply_immediately: false,
            tags: Tags::new(),
        }
    }
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
            ..Default::default()
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

#[async_trait]
impl AwsResource for DbClusterInstance {
    type Service = Rds;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "identifier",
            "cluster_identifier",
            "engine",
            "availability_zone",
        ],
        unique_name: &["identifier"],
        computed_on_update: &["pending_modified_values"],
        optional_computed: &["availability_zone", "db_parameter_group_name"],
        write_only: &["apply_immediately"],
        terraform: &[Tf {
            resource: "aws_rds_cluster_instance",
            args: &[
                // Never sent: AWS's default, said so Terraform agrees.
                ("=true", "auto_minor_version_upgrade"),
                ("identifier", "identifier"),
                ("cluster_identifier", "cluster_identifier"),
                ("instance_class", "instance_class"),
                ("engine", "engine"),
                ("availability_zone", "availability_zone"),
                ("promotion_tier", "promotion_tier"),
                ("publicly_accessible", "publicly_accessible"),
                ("db_parameter_group_name", "db_parameter_group_name"),
                ("apply_immediately", "apply_immediately"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_identifier("identifier", &self.identifier, 63)?;
        check_identifier_input("cluster_identifier", &self.cluster_identifier, 63)?;
        check_instance_class("instance_class", &self.instance_class)?;
        one_of(
            "engine",
            &self.engine,
            &["aurora-postgresql", "aurora-mysql"],
        )?;
        in_range("promotion_tier", self.promotion_tier, 0..=15)?;
        if let Some(g) = &self.db_parameter_group_name {
            check_identifier_input("db_parameter_group_name", g, 255)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Rds>) -> Result<String, ProviderError> {
        let cluster = self.cluster_identifier.require("cluster_identifier")?;
        let params = require_opt("db_parameter_group_name", &self.db_parameter_group_name)?;
        // A cluster still backing up after its create, or modifying, refuses
        // new members for a while (InvalidDBClusterStateFault).
        cx.send_retrying("CreateDBInstance", &[db::CLUSTER_BUSY], |c| {
            c.create_db_instance()
                .db_instance_identifier(&self.identifier)
                .db_cluster_identifier(cluster)
                .db_instance_class(&self.instance_class)
                .engine(&self.engine)
                .set_availability_zone(self.availability_zone.clone())
                .promotion_tier(self.promotion_tier)
                .publicly_accessible(self.publicly_accessible)
                .set_db_parameter_group_name(params.clone())
                .set_tags(Some(cx.create_tags(&self.tags)))
                .send()
        })
        .await?;
        Ok(self.identifier.clone())
    }

    async fn after_create(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        db::wait_created::<RdsInstance>(cx, id).await.map(drop)
    }

    async fn read(
        cx: &Call<'_, Rds>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(i) = db::live::<RdsInstance>(cx, id).await? else {
            return Ok(None);
        };
        // Applied values; pending ones are in `pending_modified_values`.
        let args = DbClusterInstance {
            identifier: id.to_string(),
            cluster_identifier: Input::Value(
                i.db_cluster_identifier().unwrap_or_default().to_string(),
            ),
            instance_class: i.db_instance_class().unwrap_or_default().to_string(),
            engine: i.engine().unwrap_or_default().to_string(),
            availability_zone: i.availability_zone().map(str::to_string),
            promotion_tier: i.promotion_tier().unwrap_or_default(),
            publicly_accessible: i.publicly_accessible().unwrap_or(false),
            db_parameter_group_name: i
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .map(|s| Input::Value(s.to_string())),
            apply_immediately: false,
            tags: cx.own_tags(&from_tags(i.tag_list())),
        };
        let outputs = json!({
            "id": id,
            "identifier": id,
            "arn": i.db_instance_arn(),
            "cluster_identifier": i.db_cluster_identifier(),
            "endpoint": i.endpoint().and_then(|e| e.address()),
            "port": i.endpoint().and_then(|e| e.port()),
            "writer": is_writer(cx, &i).await?,
            "availability_zone": i.availability_zone(),
            "engine_version": i.engine_version(),
            "dbi_resource_id": i.dbi_resource_id(),
            "pending_modified_values": i.pending(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        let live: RdsInstance = db::existing(cx, id).await?;
        let c = cx.client().await;
        let mut req = c
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(self.apply_immediately);
        let mut any = false;
        if self.instance_class != old.instance_class {
            req = req.db_instance_class(&self.instance_class);
            any = true;
        }
        if self.promotion_tier != old.promotion_tier {
            req = req.promotion_tier(self.promotion_tier);
            any = true;
        }
        if self.publicly_accessible != old.publicly_accessible {
            req = req.publicly_accessible(self.publicly_accessible);
            any = true;
        }
        if self.db_parameter_group_name != old.db_parameter_group_name {
            if let Some(g) = require_opt("db_parameter_group_name", &self.db_parameter_group_name)?
            {
                req = req.db_parameter_group_name(g);
                any = true;
            }
        }
        if any {
            cx.send_retrying("ModifyDBInstance", &[db::INSTANCE_BUSY], |_| {
                req.clone().send()
            })
            .await?;
            db::wait_updated::<RdsInstance>(cx, id).await?;
        }
        cx.update_tags(live.arn(), &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        // Aurora instances take no final snapshot (the cluster's backups cover them).
        db::delete::<RdsInstance>(cx, id, None).await
    }

    async fn find(&self, cx: &Call<'_, Rds>) -> Result<Vec<String>, ProviderError> {
        // Plain instances carry other URNs, so the tag alone tells them apart.
        db::find::<RdsInstance>(cx).await
    }
}

/// Whether the cluster lists the instance as its writer.
async fn is_writer(cx: &Call<'_, Rds>, i: &RdsInstance) -> Result<bool, ProviderError> {
    let Some(cluster) = i.db_cluster_identifier() else {
        return Ok(false);
    };
    let id = i.db_instance_identifier();
    Ok(RdsCluster::describe(cx, cluster).await?.is_some_and(|c| {
        c.db_cluster_members()
            .iter()
            .any(|m| m.db_instance_identifier() == id && m.is_cluster_writer() == Some(true))
    }))
}
