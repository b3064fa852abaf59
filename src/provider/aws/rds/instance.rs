//! `aws:rds/DbInstance` (Terraform `aws_db_instance`): a plain (non-Aurora)
//! RDS instance, e.g. PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as RdsInstance;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::cluster::{
    check_db_name, check_password, check_sg_ids, check_username, major_upgrade, new_password, yes,
};
use super::db::{self, describe_live, find_tagged, wait_available, Deletion};
use super::{
    check_identifier, check_identifier_input, create_tags, from_tags, input_vec, known, known_opt,
    known_vec, same_set, update_tags,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbInstance {
    /// Lowercase letters, digits, hyphens; starts with a letter; at most 63.
    pub identifier: String,
    #[serde(default = "postgres")]
    pub engine: String,
    #[serde(default)]
    pub engine_version: Option<String>,
    #[serde(default)]
    pub allow_major_version_upgrade: bool,
    /// e.g. `db.t4g.micro`.
    pub instance_class: String,
    /// GiB; can only grow.
    pub allocated_storage: i32,
    /// `gp3`, `gp2`, `io1`, `io2` or `standard`.
    #[serde(default = "gp3")]
    pub storage_type: String,
    #[serde(default = "yes")]
    pub storage_encrypted: bool,
    #[serde(default)]
    pub kms_key_id: Option<Input<String>>,
    #[serde(default)]
    pub db_name: Option<String>,
    pub username: String,
    /// Give it as a secret; never in outputs. A change updates in place.
    #[serde(default)]
    pub password: Option<Input<String>>,
    /// RDS keeps the master password in Secrets Manager instead.
    #[serde(default)]
    pub manage_master_user_password: bool,
    #[serde(default)]
    pub db_subnet_group_name: Option<Input<String>>,
    #[serde(default)]
    pub vpc_security_group_ids: Vec<Input<String>>,
    #[serde(default)]
    pub parameter_group_name: Option<Input<String>>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub multi_az: bool,
    #[serde(default)]
    pub publicly_accessible: bool,
    /// Days, 0 (off) to 35.
    #[serde(default = "one")]
    pub backup_retention_period: i32,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub skip_final_snapshot: bool,
    #[serde(default)]
    pub final_snapshot_identifier: Option<String>,
    #[serde(default)]
    pub apply_immediately: bool,
    #[serde(default)]
    pub tags: Tags,
}

fn postgres() -> String {
    "postgres".into()
}
fn gp3() -> String {
    "gp3".into()
}
fn one() -> i32 {
    1
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
            engine: postgres(),
            engine_version: None,
            allow_major_version_upgrade: false,
            instance_class: instance_class.into(),
            allocated_storage,
            storage_type: gp3(),
            storage_encrypted: true,
            kms_key_id: None,
            db_name: None,
            username: username.into(),
            password: Some(password),
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

pub struct DbInstanceProvider {
    aws: Arc<Aws>,
}

impl DbInstanceProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        DbInstanceProvider { aws }
    }

    fn outputs(i: &RdsInstance) -> Value {
        let id = i.db_instance_identifier().unwrap_or_default();
        let address = i.endpoint().and_then(|e| e.address());
        let port = i.endpoint().and_then(|e| e.port());
        json!({
            "id": id,
            "identifier": id,
            "arn": i.db_instance_arn(),
            "address": address,
            "port": port,
            "endpoint": match (address, port) {
                (Some(a), Some(p)) => Some(format!("{a}:{p}")),
                _ => None,
            },
            "engine_version": i.engine_version(),
            "resource_id": i.dbi_resource_id(),
            "master_user_secret_arn": i.master_user_secret().and_then(|s| s.secret_arn()),
        })
    }
}

#[async_trait]
impl Provider for DbInstanceProvider {
    fn type_name(&self) -> &'static str {
        DbInstance::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "identifier",
            "engine",
            "db_name",
            "username",
            "storage_encrypted",
            "kms_key_id",
            "availability_zone",
        ]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["identifier"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &[
            "engine_version",
            "master_user_secret_arn",
            "address",
            "endpoint",
        ]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("rds", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let d: DbInstance = parse(inputs)?;
        check_identifier("identifier", &d.identifier, 63)?;
        if d.engine.is_empty() || d.engine.starts_with("aurora") {
            return Err(ProviderError::invalid(
                "engine",
                format!("{:?}", d.engine),
                "a plain RDS engine such as postgres (Aurora instances are aws:rds/DbClusterInstance)",
            ));
        }
        check_instance_class("instance_class", &d.instance_class)?;
        if !matches!(
            d.storage_type.as_str(),
            "gp3" | "gp2" | "io1" | "io2" | "standard"
        ) {
            return Err(ProviderError::invalid(
                "storage_type",
                format!("{:?}", d.storage_type),
                "must be gp3, gp2, io1, io2 or standard",
            ));
        }
        if !(20..=65536).contains(&d.allocated_storage) {
            return Err(ProviderError::invalid(
                "allocated_storage",
                d.allocated_storage,
                "must be between 20 and 65536 GiB",
            ));
        }
        if let Some(n) = &d.db_name {
            check_db_name("db_name", n)?;
        }
        check_username("username", &d.username)?;
        match (&d.password, d.manage_master_user_password) {
            (Some(_), true) => {
                return Err(ProviderError::invalid(
                    "password",
                    "(secret)",
                    "conflicts with manage_master_user_password = true",
                ))
            }
            (None, false) => {
                return Err(ProviderError::invalid(
                    "password",
                    "(none)",
                    "required unless manage_master_user_password = true",
                ))
            }
            (Some(p), false) => check_password("password", p)?,
            (None, true) => {}
        }
        if let Some(g) = &d.parameter_group_name {
            check_identifier_input("parameter_group_name", g, 255)?;
        }
        check_sg_ids("vpc_security_group_ids", &d.vpc_security_group_ids)?;
        if d.kms_key_id.is_some() && !d.storage_encrypted {
            return Err(ProviderError::invalid(
                "kms_key_id",
                "(set)",
                "needs storage_encrypted = true",
            ));
        }
        if d.multi_az && d.availability_zone.is_some() {
            return Err(ProviderError::invalid(
                "availability_zone",
                format!("{:?}", d.availability_zone.as_deref().unwrap_or_default()),
                "conflicts with multi_az = true",
            ));
        }
        if !(0..=35).contains(&d.backup_retention_period) {
            return Err(ProviderError::invalid(
                "backup_retention_period",
                d.backup_retention_period,
                "must be between 0 and 35 days",
            ));
        }
        if let Some(s) = &d.final_snapshot_identifier {
            check_identifier("final_snapshot_identifier", s, 255)?;
        }
        tags::validate(&d.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let d: DbInstance = parse(inputs)?;
        let req = self
            .aws
            .rds()
            .await
            .create_db_instance()
            .db_instance_identifier(&d.identifier)
            .engine(&d.engine)
            .set_engine_version(d.engine_version.clone())
            .db_instance_class(&d.instance_class)
            .allocated_storage(d.allocated_storage)
            .storage_type(&d.storage_type)
            .storage_encrypted(d.storage_encrypted)
            .set_kms_key_id(known_opt(ctx, "kms_key_id", &d.kms_key_id)?.map(str::to_string))
            .set_db_name(d.db_name.clone())
            .master_username(&d.username)
            .set_master_user_password(known_opt(ctx, "password", &d.password)?.map(str::to_string))
            .manage_master_user_password(d.manage_master_user_password)
            .set_db_subnet_group_name(
                known_opt(ctx, "db_subnet_group_name", &d.db_subnet_group_name)?
                    .map(str::to_string),
            )
            .set_vpc_security_group_ids(Some(known_vec(
                ctx,
                "vpc_security_group_ids",
                &d.vpc_security_group_ids,
            )?))
            .set_db_parameter_group_name(
                known_opt(ctx, "parameter_group_name", &d.parameter_group_name)?
                    .map(str::to_string),
            )
            .set_availability_zone(d.availability_zone.clone())
            .multi_az(d.multi_az)
            .publicly_accessible(d.publicly_accessible)
            .backup_retention_period(d.backup_retention_period)
            .deletion_protection(d.deletion_protection)
            .set_tags(Some(create_tags(&self.aws, ctx, &d.tags)));
        self.aws.limits.rds.acquire().await;
        req.send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateDBInstance", e))?;
        let live: RdsInstance = wait_available(&self.aws, ctx, &d.identifier).await?;
        Ok(Created {
            id: d.identifier.clone(),
            outputs: Self::outputs(&live),
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
        let d: DbInstance = parse(inputs)?;
        let sgs: Vec<String> = i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        let live = DbInstance {
            identifier: id.to_string(),
            engine: i.engine().unwrap_or_default().to_string(),
            engine_version: d
                .engine_version
                .as_ref()
                .and(i.engine_version().map(str::to_string)),
            allow_major_version_upgrade: d.allow_major_version_upgrade,
            instance_class: i.db_instance_class().unwrap_or_default().to_string(),
            allocated_storage: i.allocated_storage().unwrap_or_default(),
            storage_type: i.storage_type().unwrap_or_default().to_string(),
            storage_encrypted: i.storage_encrypted().unwrap_or(false),
            kms_key_id: d
                .kms_key_id
                .as_ref()
                .and(i.kms_key_id().map(|s| Input::Value(s.to_string()))),
            db_name: i.db_name().map(str::to_string),
            username: i.master_username().unwrap_or_default().to_string(),
            // The password cannot be read back; the declared one stands.
            password: d.password.clone(),
            manage_master_user_password: i.master_user_secret().is_some(),
            db_subnet_group_name: i
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(|s| Input::Value(s.to_string())),
            vpc_security_group_ids: input_vec(sgs),
            parameter_group_name: d.parameter_group_name.as_ref().and(
                i.db_parameter_groups()
                    .first()
                    .and_then(|g| g.db_parameter_group_name())
                    .map(|s| Input::Value(s.to_string())),
            ),
            availability_zone: d
                .availability_zone
                .as_ref()
                .and(i.availability_zone().map(str::to_string)),
            multi_az: i.multi_az().unwrap_or(false),
            publicly_accessible: i.publicly_accessible().unwrap_or(false),
            backup_retention_period: i.backup_retention_period().unwrap_or_default(),
            deletion_protection: i.deletion_protection().unwrap_or(false),
            skip_final_snapshot: d.skip_final_snapshot,
            final_snapshot_identifier: d.final_snapshot_identifier.clone(),
            apply_immediately: d.apply_immediately,
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(i.tag_list())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&i),
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
        let (o, n): (DbInstance, DbInstance) = (parse(old_inputs)?, parse(new_inputs)?);
        if n.allocated_storage < o.allocated_storage {
            return Err(ProviderError::invalid(
                "allocated_storage",
                n.allocated_storage,
                format!("storage can only grow (now {} GiB)", o.allocated_storage),
            ));
        }
        let mut req = self
            .aws
            .rds()
            .await
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(n.apply_immediately);
        let mut any = false;
        if n.engine_version != o.engine_version {
            if let Some(v) = &n.engine_version {
                if major_upgrade(
                    old_outputs,
                    &o.engine_version,
                    v,
                    n.allow_major_version_upgrade,
                )? {
                    req = req.allow_major_version_upgrade(true);
                }
                req = req.engine_version(v);
                any = true;
            }
        }
        if n.instance_class != o.instance_class {
            req = req.db_instance_class(&n.instance_class);
            any = true;
        }
        if n.allocated_storage != o.allocated_storage {
            req = req.allocated_storage(n.allocated_storage);
            any = true;
        }
        if n.storage_type != o.storage_type {
            req = req.storage_type(&n.storage_type);
            any = true;
        }
        if let Some(p) = new_password(&o.password, &n.password) {
            req = req.master_user_password(p);
            any = true;
        }
        if n.manage_master_user_password != o.manage_master_user_password {
            req = req.manage_master_user_password(n.manage_master_user_password);
            any = true;
        }
        if n.db_subnet_group_name != o.db_subnet_group_name {
            if let Some(g) = &n.db_subnet_group_name {
                req = req.db_subnet_group_name(known(ctx, "db_subnet_group_name", g)?);
                any = true;
            }
        }
        if !same_set(&o.vpc_security_group_ids, &n.vpc_security_group_ids) {
            req = req.set_vpc_security_group_ids(Some(known_vec(
                ctx,
                "vpc_security_group_ids",
                &n.vpc_security_group_ids,
            )?));
            any = true;
        }
        if n.parameter_group_name != o.parameter_group_name {
            if let Some(g) = &n.parameter_group_name {
                req = req.db_parameter_group_name(known(ctx, "parameter_group_name", g)?);
                any = true;
            }
        }
        if n.multi_az != o.multi_az {
            req = req.multi_az(n.multi_az);
            any = true;
        }
        if n.publicly_accessible != o.publicly_accessible {
            req = req.publicly_accessible(n.publicly_accessible);
            any = true;
        }
        if n.backup_retention_period != o.backup_retention_period {
            req = req.backup_retention_period(n.backup_retention_period);
            any = true;
        }
        if n.deletion_protection != o.deletion_protection {
            req = req.deletion_protection(n.deletion_protection);
            any = true;
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
        Ok(Self::outputs(&live))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        let d: DbInstance = parse(inputs)?;
        db::delete::<RdsInstance>(
            &self.aws,
            ctx,
            id,
            Some(Deletion {
                deletion_protection: d.deletion_protection,
                skip_final_snapshot: d.skip_final_snapshot,
                final_snapshot_identifier: &d.final_snapshot_identifier,
            }),
        )
        .await
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        Ok(find_tagged::<RdsInstance>(&self.aws, ctx)
            .await?
            .iter()
            .map(|i| Created {
                id: i.db_instance_identifier().unwrap_or_default().to_string(),
                outputs: Self::outputs(i),
            })
            .collect())
    }
}
