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
use crate::provider::aws::check_arn;
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
    /// Performance Insights: per-query database load (7 days are free).
    pub performance_insights_enabled: bool,
    /// Days of Performance Insights history: 7, 31 times 1 to 23 months,
    /// or 731. Unset, AWS keeps 7.
    pub performance_insights_retention_period: Option<i32>,
    /// Enhanced Monitoring: OS metrics every this many seconds (0 is off;
    /// 1, 5, 10, 15, 30 or 60).
    pub monitoring_interval: i32,
    /// The role RDS assumes to publish them, trusted by
    /// `monitoring.rds.amazonaws.com`; needed when the interval is not 0.
    pub monitoring_role_arn: Option<Input<String>>,
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
            performance_insights_enabled: false,
            performance_insights_retention_period: None,
            monitoring_interval: 0,
            monitoring_role_arn: None,
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
        optional_computed: &[
            "availability_zone",
            "db_parameter_group_name",
            "performance_insights_retention_period",
            "monitoring_role_arn",
        ],
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
                (
                    "performance_insights_enabled",
                    "performance_insights_enabled",
                ),
                (
                    "performance_insights_retention_period",
                    "performance_insights_retention_period",
                ),
                ("monitoring_interval", "monitoring_interval"),
                ("monitoring_role_arn", "monitoring_role_arn"),
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
        self.check_insights()?;
        self.check_monitoring()
    }

    async fn create(&self, cx: &Call<'_, Rds>) -> Result<String, ProviderError> {
        let cluster = self.cluster_identifier.require("cluster_identifier")?;
        let params = require_opt("db_parameter_group_name", &self.db_parameter_group_name)?;
        let role = require_opt("monitoring_role_arn", &self.monitoring_role_arn)?;
        // A cluster still backing up after its create, or modifying, refuses
        // new members for a while (InvalidDBClusterStateFault); a monitoring
        // role made moments ago is not assumable yet.
        let retry = [db::CLUSTER_BUSY, db::MONITORING_ROLE];
        cx.send_retrying("CreateDBInstance", &retry, |c| {
            c.create_db_instance()
                .db_instance_identifier(&self.identifier)
                .db_cluster_identifier(cluster)
                .db_instance_class(&self.instance_class)
                .engine(&self.engine)
                .set_availability_zone(self.availability_zone.clone())
                .promotion_tier(self.promotion_tier)
                .publicly_accessible(self.publicly_accessible)
                .set_db_parameter_group_name(params.clone())
                .enable_performance_insights(self.performance_insights_enabled)
                .set_performance_insights_retention_period(
                    self.performance_insights_retention_period,
                )
                .monitoring_interval(self.monitoring_interval)
                .set_monitoring_role_arn(role.clone())
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
            performance_insights_enabled: i.performance_insights_enabled().unwrap_or(false),
            performance_insights_retention_period: i.performance_insights_retention_period(),
            monitoring_interval: i.monitoring_interval().unwrap_or(0),
            monitoring_role_arn: i.monitoring_role_arn().map(|r| Input::Value(r.to_string())),
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
        if self.performance_insights_enabled != old.performance_insights_enabled
            || self.performance_insights_retention_period
                != old.performance_insights_retention_period
        {
            req = req
                .enable_performance_insights(self.performance_insights_enabled)
                .set_performance_insights_retention_period(
                    self.performance_insights_retention_period,
                );
            any = true;
        }
        // Sent together, as AWS checks the pair.
        if self.monitoring_interval != old.monitoring_interval
            || self.monitoring_role_arn != old.monitoring_role_arn
        {
            req = req
                .monitoring_interval(self.monitoring_interval)
                .set_monitoring_role_arn(require_opt(
                    "monitoring_role_arn",
                    &self.monitoring_role_arn,
                )?);
            any = true;
        }
        if any {
            let retry = [db::INSTANCE_BUSY, db::MONITORING_ROLE];
            cx.send_retrying("ModifyDBInstance", &retry, |_| req.clone().send())
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

impl DbClusterInstance {
    fn check_insights(&self) -> Result<(), ProviderError> {
        if let Some(days) = self.performance_insights_retention_period {
            if !self.performance_insights_enabled {
                return Err(ProviderError::invalid(
                    "performance_insights_retention_period",
                    days,
                    "is set while performance_insights_enabled is false",
                ));
            }
            if !(days == 7 || days == 731 || (days % 31 == 0 && (31..=713).contains(&days))) {
                return Err(ProviderError::invalid(
                    "performance_insights_retention_period",
                    days,
                    "must be 7, 31 times 1 to 23 (months), or 731",
                ));
            }
        }
        // Aurora MySQL has no Performance Insights on db.t2, db.t3 and the
        // smallest db.t4g classes.
        let burstable = ["db.t2.", "db.t3.", "db.t4g.micro", "db.t4g.small"]
            .iter()
            .any(|p| self.instance_class.starts_with(p));
        if self.performance_insights_enabled && self.engine == "aurora-mysql" && burstable {
            return Err(ProviderError::invalid(
                "performance_insights_enabled",
                true,
                format!(
                    "is not available for aurora-mysql on {}",
                    self.instance_class
                ),
            ));
        }
        Ok(())
    }

    fn check_monitoring(&self) -> Result<(), ProviderError> {
        const INTERVALS: [i32; 7] = [0, 1, 5, 10, 15, 30, 60];
        if !INTERVALS.contains(&self.monitoring_interval) {
            return Err(ProviderError::invalid(
                "monitoring_interval",
                self.monitoring_interval,
                format!("must be one of {INTERVALS:?} (seconds)"),
            ));
        }
        match (self.monitoring_interval, &self.monitoring_role_arn) {
            (0, Some(r)) => Err(ProviderError::invalid(
                "monitoring_role_arn",
                r.known().map_or("(an output)", String::as_str),
                "is set while monitoring_interval is 0",
            )),
            (n, None) if n != 0 => Err(ProviderError::invalid(
                "monitoring_interval",
                n,
                "needs a monitoring_role_arn",
            )),
            // A name or another ARN would meet the propagation retry's message.
            (_, Some(r)) => match r.known() {
                Some(arn) => check_arn(
                    "monitoring_role_arn",
                    arn,
                    "iam",
                    "role/",
                    "an IAM role ARN",
                ),
                None => Ok(()),
            },
            _ => Ok(()),
        }
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
