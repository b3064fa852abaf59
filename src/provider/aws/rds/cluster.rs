//! `aws:rds/DbCluster` (Terraform `aws_rds_cluster`): an Aurora cluster.

use async_trait::async_trait;
use aws_sdk_rds::types::{CloudwatchLogsExportConfiguration, DbCluster as RdsCluster};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::db::{self, check_db_name, check_master_password, check_sg_ids, check_username, Db};
use super::{
    check_backup_window, check_identifier, check_identifier_input, check_maintenance_window,
    from_tags, input_vec, require_all, require_opt, same_set, Rds,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbCluster {
    /// Lowercase letters, digits, hyphens; starts with a letter; at most 63.
    pub cluster_identifier: String,
    /// `aurora-postgresql` or `aurora-mysql`.
    pub engine: String,
    /// e.g. `15.10`, or a major (`15`) for AWS's default minor; the engine
    /// default when absent. A newer minor that AWS applied on its own is no
    /// change. A major upgrade needs `allow_major_version_upgrade`.
    pub engine_version: Option<String>,
    pub allow_major_version_upgrade: bool,
    pub database_name: Option<String>,
    pub master_username: String,
    /// RDS keeps the master password in Secrets Manager (output `master_user_secret_arn`).
    pub manage_master_user_password: bool,
    /// Only without `manage_master_user_password`; give it as a secret.
    pub master_password: Option<Input<String>>,
    pub db_subnet_group_name: Option<Input<String>>,
    pub vpc_security_group_ids: Vec<Input<String>>,
    pub db_cluster_parameter_group_name: Option<Input<String>>,
    pub storage_encrypted: bool,
    pub kms_key_id: Option<Input<String>>,
    pub deletion_protection: bool,
    /// Snapshots (automated and final) carry the cluster's tags.
    pub copy_tags_to_snapshot: bool,
    /// Logs published to CloudWatch Logs: `postgresql` (aurora-postgresql);
    /// `audit`, `error`, `general`, `slowquery` (aurora-mysql);
    /// `iam-db-auth-error` (both).
    pub enabled_cloudwatch_logs_exports: Vec<String>,
    /// Days, 1 to 35.
    pub backup_retention_period: i32,
    /// `hh24:mi-hh24:mi` UTC, at least 30 minutes.
    pub preferred_backup_window: Option<String>,
    /// `ddd:hh24:mi-ddd:hh24:mi` UTC.
    pub preferred_maintenance_window: Option<String>,
    /// On delete: skip the final snapshot. Without it a final snapshot named
    /// `final_snapshot_identifier` (or `<cluster>-final-<unix time>`) is taken.
    pub skip_final_snapshot: bool,
    pub final_snapshot_identifier: Option<String>,
    /// Without it, changes wait for the maintenance window (output
    /// `pending_modified_values` shows them meanwhile).
    pub apply_immediately: bool,
    pub tags: Tags,
}

impl Default for DbCluster {
    fn default() -> Self {
        DbCluster {
            cluster_identifier: String::new(),
            engine: "aurora-postgresql".into(),
            engine_version: None,
            allow_major_version_upgrade: false,
            database_name: None,
            master_username: String::new(),
            manage_master_user_password: true,
            master_password: None,
            db_subnet_group_name: None,
            vpc_security_group_ids: Vec::new(),
            db_cluster_parameter_group_name: None,
            storage_encrypted: true,
            kms_key_id: None,
            deletion_protection: false,
            copy_tags_to_snapshot: false,
            enabled_cloudwatch_logs_exports: Vec::new(),
            backup_retention_period: 1,
            preferred_backup_window: None,
            preferred_maintenance_window: None,
            skip_final_snapshot: false,
            final_snapshot_identifier: None,
            apply_immediately: false,
            tags: Tags::new(),
        }
    }
}

impl DbCluster {
    pub fn new(cluster_identifier: &str, master_username: &str) -> Self {
        DbCluster {
            cluster_identifier: cluster_identifier.into(),
            master_username: master_username.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for DbCluster {
    const TYPE: &'static str = "aws:rds/DbCluster";
}

impl Resource<DbCluster> {
    pub fn cluster_identifier(&self) -> Output<String> {
        self.output("cluster_identifier")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn endpoint(&self) -> Output<String> {
        self.output("endpoint")
    }
    pub fn reader_endpoint(&self) -> Output<String> {
        self.output("reader_endpoint")
    }
    pub fn port(&self) -> Output<i64> {
        self.output("port")
    }
    /// The Secrets Manager secret RDS keeps the master password in (its ARN, not the value).
    pub fn master_user_secret_arn(&self) -> Output<String> {
        self.output("master_user_secret_arn")
    }
    pub fn cluster_resource_id(&self) -> Output<String> {
        self.output("cluster_resource_id")
    }
}

#[async_trait]
impl AwsResource for DbCluster {
    type Service = Rds;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "cluster_identifier",
            "engine",
            "database_name",
            "master_username",
            "db_subnet_group_name",
            "storage_encrypted",
            "kms_key_id",
        ],
        unique_name: &["cluster_identifier"],
        computed_on_update: &[
            "engine_version",
            "master_user_secret_arn",
            "pending_modified_values",
        ],
        optional_computed: &[
            "engine_version",
            "db_subnet_group_name",
            "vpc_security_group_ids",
            "db_cluster_parameter_group_name",
            "kms_key_id",
            "preferred_backup_window",
            "preferred_maintenance_window",
        ],
        write_only: &[
            "allow_major_version_upgrade",
            "master_password",
            "skip_final_snapshot",
            "final_snapshot_identifier",
            "apply_immediately",
        ],
        normalize: &[
            ("engine_version", Norm::VersionPrefix),
            ("vpc_security_group_ids", Norm::Set),
            ("enabled_cloudwatch_logs_exports", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_rds_cluster",
            args: &[
                ("cluster_identifier", "cluster_identifier"),
                ("engine", "engine"),
                ("engine_version", "engine_version"),
                ("allow_major_version_upgrade", "allow_major_version_upgrade"),
                ("database_name", "database_name"),
                ("master_username", "master_username"),
                ("manage_master_user_password", "manage_master_user_password"),
                ("master_password", "master_password"),
                ("db_subnet_group_name", "db_subnet_group_name"),
                ("vpc_security_group_ids", "vpc_security_group_ids"),
                (
                    "db_cluster_parameter_group_name",
                    "db_cluster_parameter_group_name",
                ),
                ("storage_encrypted", "storage_encrypted"),
                ("kms_key_id", "kms_key_id"),
                ("deletion_protection", "deletion_protection"),
                ("copy_tags_to_snapshot", "copy_tags_to_snapshot"),
                (
                    "enabled_cloudwatch_logs_exports",
                    "enabled_cloudwatch_logs_exports",
                ),
                ("backup_retention_period", "backup_retention_period"),
                ("preferred_backup_window", "preferred_backup_window"),
                (
                    "preferred_maintenance_window",
                    "preferred_maintenance_window",
                ),
                ("skip_final_snapshot", "skip_final_snapshot"),
                ("final_snapshot_identifier", "final_snapshot_identifier"),
                ("apply_immediately", "apply_immediately"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        tf_attrs: &[("master_user_secret_arn", "master_user_secret[0].secret_arn")],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_identifier("cluster_identifier", &self.cluster_identifier, 63)?;
        one_of(
            "engine",
            &self.engine,
            &["aurora-postgresql", "aurora-mysql"],
        )?;
        if let Some(v) = &self.engine_version {
            if !v.starts_with(|ch: char| ch.is_ascii_digit()) {
                return Err(ProviderError::invalid(
                    "engine_version",
                    format!("{v:?}"),
                    "expected a version like 15.10",
                ));
            }
        }
        if let Some(n) = &self.database_name {
            check_db_name("database_name", n)?;
        }
        check_username("master_username", &self.master_username)?;
        check_master_password(
            "master_password",
            &self.master_password,
            self.manage_master_user_password,
        )?;
        if let Some(g) = self.db_subnet_group_name.as_ref().and_then(Input::known) {
            if g.is_empty() {
                return Err(ProviderError::invalid(
                    "db_subnet_group_name",
                    "\"\"",
                    "must not be empty",
                ));
            }
        }
        if let Some(g) = &self.db_cluster_parameter_group_name {
            check_identifier_input("db_cluster_parameter_group_name", g, 255)?;
        }
        check_sg_ids("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        if self.kms_key_id.is_some() && !self.storage_encrypted {
            return Err(ProviderError::invalid(
                "kms_key_id",
                "(set)",
                "needs storage_encrypted = true",
            ));
        }
        in_range(
            "backup_retention_period",
            self.backup_retention_period,
            1..=35,
        )?;
        let logs: &[&str] = if self.engine == "aurora-mysql" {
            &[
                "audit",
                "error",
                "general",
                "slowquery",
                "iam-db-auth-error",
            ]
        } else {
            &["postgresql", "iam-db-auth-error"]
        };
        for (i, l) in self.enabled_cloudwatch_logs_exports.iter().enumerate() {
            one_of(&format!("enabled_cloudwatch_logs_exports[{i}]"), l, logs)?;
        }
        if let Some(w) = &self.preferred_backup_window {
            check_backup_window("preferred_backup_window", w, 30)?;
        }
        if let Some(w) = &self.preferred_maintenance_window {
            check_maintenance_window("preferred_maintenance_window", w)?;
        }
        if let Some(s) = &self.final_snapshot_identifier {
            check_identifier("final_snapshot_identifier", s, 255)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Rds>) -> Result<String, ProviderError> {
        let password = require_opt("master_password", &self.master_password)?;
        let subnet_group = require_opt("db_subnet_group_name", &self.db_subnet_group_name)?;
        let sgs = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        let params = require_opt(
            "db_cluster_parameter_group_name",
            &self.db_cluster_parameter_group_name,
        )?;
        let kms = require_opt("kms_key_id", &self.kms_key_id)?;
        cx.send("CreateDBCluster", |c| {
            c.create_db_cluster()
                .db_cluster_identifier(&self.cluster_identifier)
                .engine(&self.engine)
                .set_engine_version(self.engine_version.clone())
                .set_database_name(self.database_name.clone())
                .master_username(&self.master_username)
                .set_master_user_password(password.clone())
                .manage_master_user_password(self.manage_master_user_password)
                .set_db_subnet_group_name(subnet_group.clone())
                .set_vpc_security_group_ids(Some(sgs.clone()))
                .set_db_cluster_parameter_group_name(params.clone())
                .storage_encrypted(self.storage_encrypted)
                .set_kms_key_id(kms.clone())
                .deletion_protection(self.deletion_protection)
                .copy_tags_to_snapshot(self.copy_tags_to_snapshot)
                .set_enable_cloudwatch_logs_exports(
                    (!self.enabled_cloudwatch_logs_exports.is_empty())
                        .then(|| self.enabled_cloudwatch_logs_exports.clone()),
                )
                .backup_retention_period(self.backup_retention_period)
                .set_preferred_backup_window(self.preferred_backup_window.clone())
                .set_preferred_maintenance_window(self.preferred_maintenance_window.clone())
                .set_tags(Some(cx.create_tags(&self.tags)))
                .send()
        })
        .await?;
        Ok(self.cluster_identifier.clone())
    }

    async fn after_create(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        db::wait_created::<RdsCluster>(cx, id).await.map(drop)
    }

    async fn read(
        cx: &Call<'_, Rds>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(c) = db::live::<RdsCluster>(cx, id).await? else {
            return Ok(None);
        };
        let str = |s: Option<&str>| s.map(str::to_string);
        let input = |s: Option<&str>| s.map(|s| Input::Value(s.to_string()));
        // Applied values; what waits for the maintenance window is in the
        // `pending_modified_values` output, so a refresh shows the
        // difference until then.
        let args = DbCluster {
            cluster_identifier: id.to_string(),
            engine: c.engine().unwrap_or_default().to_string(),
            engine_version: db::reported_version(
                declared.engine_version.as_deref(),
                c.engine_version(),
            ),
            database_name: str(c.database_name()),
            master_username: c.master_username().unwrap_or_default().to_string(),
            manage_master_user_password: c.master_user_secret().is_some(),
            db_subnet_group_name: input(c.db_subnet_group()),
            vpc_security_group_ids: input_vec(
                c.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                    .collect(),
            ),
            db_cluster_parameter_group_name: input(c.db_cluster_parameter_group()),
            storage_encrypted: c.storage_encrypted().unwrap_or(false),
            kms_key_id: input(c.kms_key_id()),
            deletion_protection: c.deletion_protection().unwrap_or(false),
            copy_tags_to_snapshot: c.copy_tags_to_snapshot().unwrap_or(false),
            enabled_cloudwatch_logs_exports: c.enabled_cloudwatch_logs_exports().to_vec(),
            backup_retention_period: c.backup_retention_period().unwrap_or(1),
            preferred_backup_window: str(c.preferred_backup_window()),
            preferred_maintenance_window: str(c.preferred_maintenance_window()),
            tags: cx.own_tags(&from_tags(c.tag_list())),
            ..Default::default()
        };
        let outputs = json!({
            "id": id,
            "cluster_identifier": id,
            "arn": c.db_cluster_arn(),
            "endpoint": c.endpoint(),
            "reader_endpoint": c.reader_endpoint(),
            "port": c.port(),
            "engine_version": c.engine_version(),
            "master_user_secret_arn": c.master_user_secret().and_then(|s| s.secret_arn()),
            "cluster_resource_id": c.db_cluster_resource_id(),
            "hosted_zone_id": c.hosted_zone_id(),
            "pending_modified_values": c.pending(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        let live: RdsCluster = db::existing(cx, id).await?;
        let c = cx.client().await;
        let mut req = c
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .apply_immediately(self.apply_immediately);
        let mut any = false;
        if let Some((v, major)) = db::version_change(
            live.engine_version(),
            self.engine_version.as_deref(),
            self.allow_major_version_upgrade,
        )? {
            req = req.engine_version(v).allow_major_version_upgrade(major);
            any = true;
        }
        if !same_set(&old.vpc_security_group_ids, &self.vpc_security_group_ids) {
            let sgs = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
            req = req.set_vpc_security_group_ids(Some(sgs));
            any = true;
        }
        if self.db_cluster_parameter_group_name != old.db_cluster_parameter_group_name {
            if let Some(g) = require_opt(
                "db_cluster_parameter_group_name",
                &self.db_cluster_parameter_group_name,
            )? {
                req = req.db_cluster_parameter_group_name(g);
                any = true;
            }
        }
        if self.deletion_protection != old.deletion_protection {
            req = req.deletion_protection(self.deletion_protection);
            any = true;
        }
        if self.backup_retention_period != old.backup_retention_period {
            req = req.backup_retention_period(self.backup_retention_period);
            any = true;
        }
        if self.copy_tags_to_snapshot != old.copy_tags_to_snapshot {
            req = req.copy_tags_to_snapshot(self.copy_tags_to_snapshot);
            any = true;
        }
        // Against what runs: the types to turn on and off.
        let live_logs = live.enabled_cloudwatch_logs_exports();
        let on: Vec<String> = (self.enabled_cloudwatch_logs_exports.iter())
            .filter(|l| !live_logs.contains(l))
            .cloned()
            .collect();
        let off: Vec<String> = live_logs
            .iter()
            .filter(|l| !self.enabled_cloudwatch_logs_exports.contains(l))
            .cloned()
            .collect();
        if !on.is_empty() || !off.is_empty() {
            req = req.cloudwatch_logs_export_configuration(
                CloudwatchLogsExportConfiguration::builder()
                    .set_enable_log_types((!on.is_empty()).then_some(on))
                    .set_disable_log_types((!off.is_empty()).then_some(off))
                    .build(),
            );
            any = true;
        }
        if self.preferred_backup_window != old.preferred_backup_window {
            if let Some(w) = &self.preferred_backup_window {
                req = req.preferred_backup_window(w);
                any = true;
            }
        }
        if self.preferred_maintenance_window != old.preferred_maintenance_window {
            if let Some(w) = &self.preferred_maintenance_window {
                req = req.preferred_maintenance_window(w);
                any = true;
            }
        }
        if self.manage_master_user_password != old.manage_master_user_password {
            req = req.manage_master_user_password(self.manage_master_user_password);
            any = true;
        }
        if let Some(p) = db::new_password(&old.master_password, &self.master_password) {
            req = req.master_user_password(p);
            any = true;
        }
        if any {
            // Aurora goes through backing-up and modifying on its own.
            cx.send_retrying("ModifyDBCluster", &[db::CLUSTER_BUSY], |_| {
                req.clone().send()
            })
            .await?;
            db::wait_updated::<RdsCluster>(cx, id).await?;
        }
        cx.update_tags(live.arn(), &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        db::delete::<RdsCluster>(
            cx,
            id,
            Some(db::Deletion {
                deletion_protection: self.deletion_protection,
                skip_final_snapshot: self.skip_final_snapshot,
                final_snapshot_identifier: &self.final_snapshot_identifier,
            }),
        )
        .await
    }

    async fn find(&self, cx: &Call<'_, Rds>) -> Result<Vec<String>, ProviderError> {
        db::find::<RdsCluster>(cx).await
    }
}
