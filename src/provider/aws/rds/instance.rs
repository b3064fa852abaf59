//! `aws:rds/DbInstance` (Terraform `aws_db_instance`): a plain (non-Aurora)
//! RDS instance, e.g. PostgreSQL.

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::db::{self, check_db_name, check_master_password, check_sg_ids, check_username, Db};
use super::{
    check_identifier, check_identifier_input, from_tags, input_vec, require_all, require_opt,
    same_set, Rds,
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
pub struct DbInstance {
    /// Lowercase letters, digits, hyphens; starts with a letter; at most 63.
    pub identifier: String,
    pub engine: String,
    /// e.g. `15.10`, or a major (`15`); a newer minor that AWS applied on its
    /// own is no change.
    pub engine_version: Option<String>,
    pub allow_major_version_upgrade: bool,
    /// e.g. `db.t4g.micro`.
    pub instance_class: String,
    /// GiB; can only grow.
    pub allocated_storage: i32,
    /// `gp3`, `gp2`, `io1`, `io2` or `standard`.
    pub storage_type: String,
    pub storage_encrypted: bool,
    pub kms_key_id: Option<Input<String>>,
    pub db_name: Option<String>,
    pub username: String,
    /// Give it as a secret; never in outputs. A change updates in place.
    pub password: Option<Input<String>>,
    /// RDS keeps the master password in Secrets Manager instead.
    pub manage_master_user_password: bool,
    pub db_subnet_group_name: Option<Input<String>>,
    pub vpc_security_group_ids: Vec<Input<String>>,
    pub parameter_group_name: Option<Input<String>>,
    pub availability_zone: Option<String>,
    pub multi_az: bool,
    pub publicly_accessible: bool,
    /// Days, 0 (off) to 35.
    pub backup_retention_period: i32,
    pub deletion_protection: bool,
    pub skip_final_snapshot: bool,
    pub final_snapshot_identifier: Option<String>,
    /// Without it, changes wait for the maintenance window (output
    /// `pending_modified_values` shows them meanwhile).
    pub apply_immediately: bool,
    pub tags: Tags,
}

impl Default for DbInstance {
    fn default() -> Self {
        DbInstance {
            identifier: String::new(),
            engine: "postgres".into(),
            engine_version: None,
            allow_major_version_upgrade: false,
            instance_class: String::new(),
            allocated_storage: 20,
            storage_type: "gp3".into(),
            storage_encrypted: true,
            kms_key_id: None,
            db_name: None,
            username: String::new(),
            password: None,
            manage_master_user_password: false,
            db_subnet_group_name: None,
            vpc_security_group_ids: Vec::new(),
            parameter_group_name: None,
            availability_zone: None,
            multi_az: false,
            publicly_accessible: false,
            backup_retention_period: 1,
            deletion_protection: false,
            skip_final_snapshot: false,
            final_snapshot_identifier: None,
            apply_immediately: false,
            tags: Tags::new(),
        }
    }
}

impl DbInstance {
    /// A PostgreSQL instance with a master password given as a secret.
    pub fn new(
        identifier: &str,
        instance_class: &str,
        allocated_storage: i32,
        username: &str,
        password: Input<String>,
    ) -> Self {
        DbInstance {
            identifier: identifier.into(),
            instance_class: instance_class.into(),
            allocated_storage,
            username: username.into(),
            password: Some(password),
            ..Default::default()
        }
    }
}

impl ResourceArgs for DbInstance {
    const TYPE: &'static str = "aws:rds/DbInstance";
}

impl Resource<DbInstance> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `address:port`.
    pub fn endpoint(&self) -> Output<String> {
        self.output("endpoint")
    }
    pub fn address(&self) -> Output<String> {
        self.output("address")
    }
    pub fn port(&self) -> Output<i64> {
        self.output("port")
    }
    pub fn master_user_secret_arn(&self) -> Output<String> {
        self.output("master_user_secret_arn")
    }
}

/// Instance classes look like `db.<family>.<size>`.
pub(crate) fn check_instance_class(field: &str, c: &str) -> Result<(), ProviderError> {
    let parts: Vec<&str> = c.split('.').collect();
    if parts.len() < 3 || parts[0] != "db" || parts.iter().any(|p| p.is_empty()) {
        return Err(ProviderError::invalid(
            field,
            format!("{c:?}"),
            "expected an instance class like db.t4g.micro",
        ));
    }
    Ok(())
}

#[async_trait]
impl AwsResource for DbInstance {
    type Service = Rds;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "identifier",
            "engine",
            "db_name",
            "username",
            "storage_encrypted",
            "kms_key_id",
            "availability_zone",
        ],
        unique_name: &["identifier"],
        computed_on_update: &[
            "engine_version",
            "master_user_secret_arn",
            "address",
            "endpoint",
            "pending_modified_values",
        ],
        optional_computed: &[
            "engine_version",
            "kms_key_id",
            "db_subnet_group_name",
            "vpc_security_group_ids",
            "parameter_group_name",
            "availability_zone",
        ],
        write_only: &[
            "allow_major_version_upgrade",
            "password",
            "skip_final_snapshot",
            "final_snapshot_identifier",
            "apply_immediately",
        ],
        normalize: &[
            ("engine_version", Norm::VersionPrefix),
            ("vpc_security_group_ids", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_db_instance",
            args: &[
                ("identifier", "identifier"),
                ("engine", "engine"),
                ("engine_version", "engine_version"),
                ("allow_major_version_upgrade", "allow_major_version_upgrade"),
                ("instance_class", "instance_class"),
                ("allocated_storage", "allocated_storage"),
                ("storage_type", "storage_type"),
                ("storage_encrypted", "storage_encrypted"),
                ("kms_key_id", "kms_key_id"),
                ("db_name", "db_name"),
                ("username", "username"),
                ("password", "password"),
                ("manage_master_user_password", "manage_master_user_password"),
                ("db_subnet_group_name", "db_subnet_group_name"),
                ("vpc_security_group_ids", "vpc_security_group_ids"),
                ("parameter_group_name", "parameter_group_name"),
                ("availability_zone", "availability_zone"),
                ("multi_az", "multi_az"),
                ("publicly_accessible", "publicly_accessible"),
                ("backup_retention_period", "backup_retention_period"),
                ("deletion_protection", "deletion_protection"),
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
        check_identifier("identifier", &self.identifier, 63)?;
        if self.engine.is_empty() || self.engine.starts_with("aurora") {
            return Err(ProviderError::invalid(
                "engine",
                format!("{:?}", self.engine),
                "a plain RDS engine such as postgres (Aurora instances are aws:rds/DbClusterInstance)",
            ));
        }
        check_instance_class("instance_class", &self.instance_class)?;
        one_of(
            "storage_type",
            &self.storage_type,
            &["gp3", "gp2", "io1", "io2", "standard"],
        )?;
        in_range("allocated_storage", self.allocated_storage, 20..=65536)?;
        if let Some(n) = &self.db_name {
            check_db_name("db_name", n)?;
        }
        check_username("username", &self.username)?;
        check_master_password("password", &self.password, self.manage_master_user_password)?;
        if let Some(g) = &self.parameter_group_name {
            check_identifier_input("parameter_group_name", g, 255)?;
        }
        check_sg_ids("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        if self.kms_key_id.is_some() && !self.storage_encrypted {
            return Err(ProviderError::invalid(
                "kms_key_id",
                "(set)",
                "needs storage_encrypted = true",
            ));
        }
        if let (true, Some(az)) = (self.multi_az, &self.availability_zone) {
            return Err(ProviderError::invalid(
                "availability_zone",
                format!("{az:?}"),
                "conflicts with multi_az = true",
            ));
        }
        in_range(
            "backup_retention_period",
            self.backup_retention_period,
            0..=35,
        )?;
        if let Some(s) = &self.final_snapshot_identifier {
            check_identifier("final_snapshot_identifier", s, 255)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Rds>) -> Result<String, ProviderError> {
        let kms = require_opt("kms_key_id", &self.kms_key_id)?;
        let password = require_opt("password", &self.password)?;
        let subnet_group = require_opt("db_subnet_group_name", &self.db_subnet_group_name)?;
        let sgs = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
        let params = require_opt("parameter_group_name", &self.parameter_group_name)?;
        cx.send("CreateDBInstance", |c| {
            c.create_db_instance()
                .db_instance_identifier(&self.identifier)
                .engine(&self.engine)
                .set_engine_version(self.engine_version.clone())
                .db_instance_class(&self.instance_class)
                .allocated_storage(self.allocated_storage)
                .storage_type(&self.storage_type)
                .storage_encrypted(self.storage_encrypted)
                .set_kms_key_id(kms.clone())
                .set_db_name(self.db_name.clone())
                .master_username(&self.username)
                .set_master_user_password(password.clone())
                .manage_master_user_password(self.manage_master_user_password)
                .set_db_subnet_group_name(subnet_group.clone())
                .set_vpc_security_group_ids(Some(sgs.clone()))
                .set_db_parameter_group_name(params.clone())
                .set_availability_zone(self.availability_zone.clone())
                .multi_az(self.multi_az)
                .publicly_accessible(self.publicly_accessible)
                .backup_retention_period(self.backup_retention_period)
                .deletion_protection(self.deletion_protection)
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
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(i) = db::live::<RdsInstance>(cx, id).await? else {
            return Ok(None);
        };
        let input = |s: Option<&str>| s.map(|s| Input::Value(s.to_string()));
        // Applied values; what waits for the maintenance window is in the
        // `pending_modified_values` output, so a refresh shows the
        // difference until then.
        let args = DbInstance {
            identifier: id.to_string(),
            engine: i.engine().unwrap_or_default().to_string(),
            engine_version: db::reported_version(
                declared.engine_version.as_deref(),
                i.engine_version(),
            ),
            instance_class: i.db_instance_class().unwrap_or_default().to_string(),
            allocated_storage: i.allocated_storage().unwrap_or_default(),
            storage_type: i.storage_type().unwrap_or_default().to_string(),
            storage_encrypted: i.storage_encrypted().unwrap_or(false),
            kms_key_id: input(i.kms_key_id()),
            db_name: i.db_name().map(str::to_string),
            username: i.master_username().unwrap_or_default().to_string(),
            manage_master_user_password: i.master_user_secret().is_some(),
            db_subnet_group_name: input(i.db_subnet_group().and_then(|g| g.db_subnet_group_name())),
            vpc_security_group_ids: input_vec(
                i.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                    .collect(),
            ),
            parameter_group_name: input(
                i.db_parameter_groups()
                    .first()
                    .and_then(|g| g.db_parameter_group_name()),
            ),
            availability_zone: i.availability_zone().map(str::to_string),
            multi_az: i.multi_az().unwrap_or(false),
            publicly_accessible: i.publicly_accessible().unwrap_or(false),
            backup_retention_period: i.backup_retention_period().unwrap_or_default(),
            deletion_protection: i.deletion_protection().unwrap_or(false),
            tags: cx.own_tags(&from_tags(i.tag_list())),
            ..Default::default()
        };
        let address = i.endpoint().and_then(|e| e.address());
        let port = i.endpoint().and_then(|e| e.port());
        let outputs = json!({
            "id": id,
            "identifier": id,
            "arn": i.db_instance_arn(),
            "address": address,
            "port": port,
            "endpoint": address.zip(port).map(|(a, p)| format!("{a}:{p}")),
            "engine_version": i.engine_version(),
            "resource_id": i.dbi_resource_id(),
            "master_user_secret_arn": i.master_user_secret().and_then(|s| s.secret_arn()),
            "pending_modified_values": i.pending(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        if self.allocated_storage < old.allocated_storage {
            return Err(ProviderError::invalid(
                "allocated_storage",
                self.allocated_storage,
                format!("storage can only grow (now {} GiB)", old.allocated_storage),
            ));
        }
        let live: RdsInstance = db::existing(cx, id).await?;
        let c = cx.client().await;
        let mut req = c
            .modify_db_instance()
            .db_instance_identifier(id)
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
        if self.instance_class != old.instance_class {
            req = req.db_instance_class(&self.instance_class);
            any = true;
        }
        if self.allocated_storage != old.allocated_storage {
            req = req.allocated_storage(self.allocated_storage);
            any = true;
        }
        if self.storage_type != old.storage_type {
            req = req.storage_type(&self.storage_type);
            any = true;
        }
        if let Some(p) = db::new_password(&old.password, &self.password) {
            req = req.master_user_password(p);
            any = true;
        }
        if self.manage_master_user_password != old.manage_master_user_password {
            req = req.manage_master_user_password(self.manage_master_user_password);
            any = true;
        }
        if self.db_subnet_group_name != old.db_subnet_group_name {
            if let Some(g) = require_opt("db_subnet_group_name", &self.db_subnet_group_name)? {
                req = req.db_subnet_group_name(g);
                any = true;
            }
        }
        if !same_set(&old.vpc_security_group_ids, &self.vpc_security_group_ids) {
            let sgs = require_all("vpc_security_group_ids", &self.vpc_security_group_ids)?;
            req = req.set_vpc_security_group_ids(Some(sgs));
            any = true;
        }
        if self.parameter_group_name != old.parameter_group_name {
            if let Some(g) = require_opt("parameter_group_name", &self.parameter_group_name)? {
                req = req.db_parameter_group_name(g);
                any = true;
            }
        }
        if self.multi_az != old.multi_az {
            req = req.multi_az(self.multi_az);
            any = true;
        }
        if self.publicly_accessible != old.publicly_accessible {
            req = req.publicly_accessible(self.publicly_accessible);
            any = true;
        }
        if self.backup_retention_period != old.backup_retention_period {
            req = req.backup_retention_period(self.backup_retention_period);
            any = true;
        }
        if self.deletion_protection != old.deletion_protection {
            req = req.deletion_protection(self.deletion_protection);
            any = true;
        }
        if any {
            cx.send_retrying("ModifyDBInstance", &[db::INSTANCE_BUSY], |_| {
                req.clone().send()
            })
            .await?;
            // A storage change ends in storage-optimization, usable for hours.
            db::wait_updated::<RdsInstance>(cx, id).await?;
        }
        cx.update_tags(live.arn(), &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        db::delete::<RdsInstance>(
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
        db::find::<RdsInstance>(cx).await
    }
}
