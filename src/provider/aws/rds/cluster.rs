//! `aws:rds/DbCluster` (Terraform `aws_rds_cluster`): an Aurora cluster.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::DbCluster as RdsCluster;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::db::{self, describe_live, find_tagged, wait_available, Deletion};
use super::{
    check_backup_window, check_identifier, check_identifier_input, check_maintenance_window,
    create_tags, from_tags, input_vec, known, known_opt, known_vec, same_set, update_tags,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbCluster {
    /// Lowercase letters, digits, hyphens; starts with a letter; at most 63.
    pub cluster_identifier: String,
    /// `aurora-postgresql` or `aurora-mysql`.
    #[serde(default = "aurora_postgresql")]
    pub engine: String,
    /// e.g. `15.4`; the engine default when absent. A major upgrade needs
    /// `allow_major_version_upgrade`.
    #[serde(default)]
    pub engine_version: Option<String>,
    #[serde(default)]
    pub allow_major_version_upgrade: bool,
    #[serde(default)]
    pub database_name: Option<String>,
    pub master_username: String,
    /// RDS keeps the master password in Secrets Manager (output `master_user_secret_arn`).
    #[serde(default = "yes")]
    pub manage_master_user_password: bool,
    /// Only without `manage_master_user_password`; give it as a secret.
    #[serde(default)]
    pub master_password: Option<Input<String>>,
    #[serde(default)]
    pub db_subnet_group_name: Option<Input<String>>,
    #[serde(default)]
    pub vpc_security_group_ids: Vec<Input<String>>,
    #[serde(default)]
    pub db_cluster_parameter_group_name: Option<Input<String>>,
    #[serde(default = "yes")]
    pub storage_encrypted: bool,
    #[serde(default)]
    pub kms_key_id: Option<Input<String>>,
    #[serde(default)]
    pub deletion_protection: bool,
    /// Days, 1 to 35.
    #[serde(default = "one")]
    pub backup_retention_period: i32,
    /// `hh24:mi-hh24:mi` UTC, at least 30 minutes.
    #[serde(default)]
    pub preferred_backup_window: Option<String>,
    /// `ddd:hh24:mi-ddd:hh24:mi` UTC.
    #[serde(default)]
    pub preferred_maintenance_window: Option<String>,
    /// On delete: skip the final snapshot. Without it a final snapshot named
    /// `final_snapshot_identifier` (or `<cluster>-final-<unix time>`) is taken.
    #[serde(default)]
    pub skip_final_snapshot: bool,
    #[serde(default)]
    pub final_snapshot_identifier: Option<String>,
    #[serde(default)]
    pub apply_immediately: bool,
    #[serde(default)]
    pub tags: Tags,
}

pub(crate) fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn aurora_postgresql() -> String {
    "aurora-postgresql".into()
}

impl DbCluster {
    pub fn new(cluster_identifier: &str, master_username: &str) -> Self {
        DbCluster {
            cluster_identifier: cluster_identifier.into(),
            engine: aurora_postgresql(),
            engine_version: None,
            allow_major_version_upgrade: false,
            database_name: None,
            master_username: master_username.into(),
            manage_master_user_password: true,
            master_password: None,
            db_subnet_group_name: None,
            vpc_security_group_ids: Vec::new(),
            db_cluster_parameter_group_name: None,
            storage_encrypted: true,
            kms_key_id: None,
            deletion_protection: false,
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

/// Master user names: 1 to 63 letters, digits or underscores, starting with a letter.
pub(crate) fn check_username(field: &str, u: &str) -> Result<(), ProviderError> {
    let ok = !u.is_empty()
        && u.len() <= 63
        && u.starts_with(|c: char| c.is_ascii_alphabetic())
        && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ProviderError::invalid(
            field,
            format!("{u:?}"),
            "1 to 63 letters, digits or underscores, starting with a letter",
        ));
    }
    if matches!(
        u.to_ascii_lowercase().as_str(),
        "rdsadmin" | "postgres" | "rdsrepladmin"
    ) {
        return Err(ProviderError::invalid(
            field,
            format!("{u:?}"),
            "is reserved by RDS",
        ));
    }
    Ok(())
}

/// Database names: 1 to 63 letters, digits or underscores, starting with a letter.
pub(crate) fn check_db_name(field: &str, n: &str) -> Result<(), ProviderError> {
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{n:?}"),
            "1 to 63 letters, digits or underscores, starting with a letter",
        ))
    }
}

/// Master passwords: 8 to 128 printable ASCII characters except `/`, `"`, `@` and space.
/// The value is never echoed in the error.
pub(crate) fn check_password(field: &str, p: &Input<String>) -> Result<(), ProviderError> {
    if let Some(p) = p.known() {
        let ok = (8..=128).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '"' | '@'));
        if !ok {
            return Err(ProviderError::invalid(
                field,
                "(secret)",
                "8 to 128 printable ASCII characters other than '/', '\"', '@' and space",
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_sg_ids(field: &str, ids: &[Input<String>]) -> Result<(), ProviderError> {
    for (i, s) in ids.iter().enumerate() {
        if let Some(v) = s.known() {
            if !v.starts_with("sg-") {
                return Err(ProviderError::invalid(
                    &format!("{field}[{i}]"),
                    format!("{v:?}"),
                    "expected a security group id (sg-...)",
                ));
            }
        }
    }
    Ok(())
}

/// The major version: `15.4` → `15`, `5.7.mysql_aurora.2.11.2` → `5.7`.
pub(crate) fn major(v: &str) -> String {
    let parts: Vec<&str> = v.split('.').collect();
    match parts.first().and_then(|p| p.parse::<u32>().ok()) {
        Some(n) if n >= 10 => parts[0].to_string(),
        _ => parts.iter().take(2).cloned().collect::<Vec<_>>().join("."),
    }
}

/// Whether a change of `engine_version` to `new` is a major upgrade (the
/// modify call then needs `AllowMajorVersionUpgrade`); refused unless
/// `allowed`. The version upgraded from is the live one from the outputs, or
/// else the declared one.
pub(crate) fn major_upgrade(
    old_outputs: &Value,
    old: &Option<String>,
    new: &str,
    allowed: bool,
) -> Result<bool, ProviderError> {
    let from = old_outputs["engine_version"]
        .as_str()
        .map(str::to_string)
        .or_else(|| old.clone());
    let Some(from) = from else {
        return Ok(false);
    };
    if major(&from) == major(new) {
        return Ok(false);
    }
    if !allowed {
        return Err(ProviderError::invalid(
            "engine_version",
            format!("{new:?}"),
            format!("a major version upgrade from {from} needs allow_major_version_upgrade = true"),
        ));
    }
    Ok(true)
}

/// The new master password to send, when it is known and differs from the old one.
pub(crate) fn new_password<'a>(
    old: &Option<Input<String>>,
    new: &'a Option<Input<String>>,
) -> Option<&'a str> {
    let old = old.as_ref().and_then(|p| p.known());
    new.as_ref()
        .and_then(|p| p.known())
        .filter(|p| old != Some(*p))
        .map(String::as_str)
}

pub(crate) fn final_snapshot_name(id: &str, given: &Option<String>) -> String {
    given.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("{id}-final-{secs}")
    })
}

/// Clear error for AWS refusing to delete a protected resource.
pub(crate) fn protected_error(ctx: &Ctx, what: &str, e: ProviderError) -> ProviderError {
    let text = e.to_string();
    if text.contains("protect") {
        ProviderError::Fatal(format!(
            "{}: cannot delete {what}: deletion_protection is on in AWS; set deletion_protection = false and apply first ({text})",
            ctx.urn
        ))
    } else {
        e
    }
}

pub struct DbClusterProvider {
    aws: Arc<Aws>,
}

impl DbClusterProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        DbClusterProvider { aws }
    }

    fn outputs(c: &RdsCluster) -> Value {
        let id = c.db_cluster_identifier().unwrap_or_default();
        json!({
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
        })
    }
}

#[async_trait]
impl Provider for DbClusterProvider {
    fn type_name(&self) -> &'static str {
        DbCluster::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "cluster_identifier",
            "engine",
            "database_name",
            "master_username",
            "db_subnet_group_name",
            "storage_encrypted",
            "kms_key_id",
        ]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["cluster_identifier"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["engine_version", "master_user_secret_arn"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("rds", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let c: DbCluster = parse(inputs)?;
        check_identifier("cluster_identifier", &c.cluster_identifier, 63)?;
        if !matches!(c.engine.as_str(), "aurora-postgresql" | "aurora-mysql") {
            return Err(ProviderError::invalid(
                "engine",
                format!("{:?}", c.engine),
                "must be \"aurora-postgresql\" or \"aurora-mysql\"",
            ));
        }
        if let Some(v) = &c.engine_version {
            if v.is_empty() || !v.starts_with(|ch: char| ch.is_ascii_digit()) {
                return Err(ProviderError::invalid(
                    "engine_version",
                    format!("{v:?}"),
                    "expected a version like 15.4",
                ));
            }
        }
        if let Some(n) = &c.database_name {
            check_db_name("database_name", n)?;
        }
        check_username("master_username", &c.master_username)?;
        match (&c.master_password, c.manage_master_user_password) {
            (Some(_), true) => {
                return Err(ProviderError::invalid(
                    "master_password",
                    "(secret)",
                    "conflicts with manage_master_user_password = true",
                ))
            }
            (None, false) => {
                return Err(ProviderError::invalid(
                    "manage_master_user_password",
                    false,
                    "without it a master_password is required",
                ))
            }
            (Some(p), false) => check_password("master_password", p)?,
            (None, true) => {}
        }
        if let Some(g) = &c.db_subnet_group_name {
            if let Some(v) = g.known() {
                if v.is_empty() {
                    return Err(ProviderError::invalid(
                        "db_subnet_group_name",
                        "\"\"",
                        "must not be empty",
                    ));
                }
            }
        }
        if let Some(g) = &c.db_cluster_parameter_group_name {
            check_identifier_input("db_cluster_parameter_group_name", g, 255)?;
        }
        check_sg_ids("vpc_security_group_ids", &c.vpc_security_group_ids)?;
        if c.kms_key_id.is_some() && !c.storage_encrypted {
            return Err(ProviderError::invalid(
                "kms_key_id",
                "(set)",
                "needs storage_encrypted = true",
            ));
        }
        if !(1..=35).contains(&c.backup_retention_period) {
            return Err(ProviderError::invalid(
                "backup_retention_period",
                c.backup_retention_period,
                "must be between 1 and 35 days",
            ));
        }
        if let Some(w) = &c.preferred_backup_window {
            check_backup_window("preferred_backup_window", w, 30)?;
        }
        if let Some(w) = &c.preferred_maintenance_window {
            check_maintenance_window("preferred_maintenance_window", w)?;
        }
        if let Some(s) = &c.final_snapshot_identifier {
            check_identifier("final_snapshot_identifier", s, 255)?;
        }
        tags::validate(&c.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let c: DbCluster = parse(inputs)?;
        let req = self
            .aws
            .rds()
            .await
            .create_db_cluster()
            .db_cluster_identifier(&c.cluster_identifier)
            .engine(&c.engine)
            .set_engine_version(c.engine_version.clone())
            .set_database_name(c.database_name.clone())
            .master_username(&c.master_username)
            .set_master_user_password(
                known_opt(ctx, "master_password", &c.master_password)?.map(str::to_string),
            )
            .manage_master_user_password(c.manage_master_user_password)
            .set_db_subnet_group_name(
                known_opt(ctx, "db_subnet_group_name", &c.db_subnet_group_name)?
                    .map(str::to_string),
            )
            .set_vpc_security_group_ids(Some(known_vec(
                ctx,
                "vpc_security_group_ids",
                &c.vpc_security_group_ids,
            )?))
            .set_db_cluster_parameter_group_name(
                known_opt(
                    ctx,
                    "db_cluster_parameter_group_name",
                    &c.db_cluster_parameter_group_name,
                )?
                .map(str::to_string),
            )
            .storage_encrypted(c.storage_encrypted)
            .set_kms_key_id(known_opt(ctx, "kms_key_id", &c.kms_key_id)?.map(str::to_string))
            .deletion_protection(c.deletion_protection)
            .backup_retention_period(c.backup_retention_period)
            .set_preferred_backup_window(c.preferred_backup_window.clone())
            .set_preferred_maintenance_window(c.preferred_maintenance_window.clone())
            .set_tags(Some(create_tags(&self.aws, ctx, &c.tags)));
        self.aws.limits.rds.acquire().await;
        req.send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateDBCluster", e))?;
        let live: RdsCluster = wait_available(&self.aws, ctx, &c.cluster_identifier).await?;
        Ok(Created {
            id: c.cluster_identifier.clone(),
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
        let Some(c) = describe_live::<RdsCluster>(&self.aws, ctx, id).await? else {
            return Ok(None);
        };
        let d: DbCluster = parse(inputs)?;
        let sgs: Vec<String> = c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        // Optional inputs the engine fills in are reported only when declared.
        let live = DbCluster {
            cluster_identifier: id.to_string(),
            engine: c.engine().unwrap_or_default().to_string(),
            engine_version: d
                .engine_version
                .as_ref()
                .and(c.engine_version().map(str::to_string)),
            allow_major_version_upgrade: d.allow_major_version_upgrade,
            database_name: c.database_name().map(str::to_string),
            master_username: c.master_username().unwrap_or_default().to_string(),
            manage_master_user_password: c.master_user_secret().is_some(),
            master_password: d.master_password.clone(),
            db_subnet_group_name: c.db_subnet_group().map(|s| Input::Value(s.to_string())),
            vpc_security_group_ids: input_vec(sgs),
            db_cluster_parameter_group_name: d.db_cluster_parameter_group_name.as_ref().and(
                c.db_cluster_parameter_group()
                    .map(|s| Input::Value(s.to_string())),
            ),
            storage_encrypted: c.storage_encrypted().unwrap_or(false),
            kms_key_id: d
                .kms_key_id
                .as_ref()
                .and(c.kms_key_id().map(|s| Input::Value(s.to_string()))),
            deletion_protection: c.deletion_protection().unwrap_or(false),
            backup_retention_period: c.backup_retention_period().unwrap_or(1),
            preferred_backup_window: d
                .preferred_backup_window
                .as_ref()
                .and(c.preferred_backup_window().map(str::to_string)),
            preferred_maintenance_window: d
                .preferred_maintenance_window
                .as_ref()
                .and(c.preferred_maintenance_window().map(str::to_string)),
            skip_final_snapshot: d.skip_final_snapshot,
            final_snapshot_identifier: d.final_snapshot_identifier.clone(),
            apply_immediately: d.apply_immediately,
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(c.tag_list())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&c),
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
        let (o, n): (DbCluster, DbCluster) = (parse(old_inputs)?, parse(new_inputs)?);
        let mut req = self
            .aws
            .rds()
            .await
            .modify_db_cluster()
            .db_cluster_identifier(id)
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
        if !same_set(&o.vpc_security_group_ids, &n.vpc_security_group_ids) {
            req = req.set_vpc_security_group_ids(Some(known_vec(
                ctx,
                "vpc_security_group_ids",
                &n.vpc_security_group_ids,
            )?));
            any = true;
        }
        if n.db_cluster_parameter_group_name != o.db_cluster_parameter_group_name {
            if let Some(g) = &n.db_cluster_parameter_group_name {
                req = req.db_cluster_parameter_group_name(known(
                    ctx,
                    "db_cluster_parameter_group_name",
                    g,
                )?);
                any = true;
            }
        }
        if n.deletion_protection != o.deletion_protection {
            req = req.deletion_protection(n.deletion_protection);
            any = true;
        }
        if n.backup_retention_period != o.backup_retention_period {
            req = req.backup_retention_period(n.backup_retention_period);
            any = true;
        }
        if n.preferred_backup_window != o.preferred_backup_window {
            req = req.set_preferred_backup_window(n.preferred_backup_window.clone());
            any = n.preferred_backup_window.is_some() || any;
        }
        if n.preferred_maintenance_window != o.preferred_maintenance_window {
            req = req.set_preferred_maintenance_window(n.preferred_maintenance_window.clone());
            any = n.preferred_maintenance_window.is_some() || any;
        }
        if n.manage_master_user_password != o.manage_master_user_password {
            req = req.manage_master_user_password(n.manage_master_user_password);
            any = true;
        }
        if let Some(p) = new_password(&o.master_password, &n.master_password) {
            req = req.master_user_password(p);
            any = true;
        }
        if any {
            self.aws.limits.rds.acquire().await;
            req.send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyDBCluster", e))?;
        }
        if o.tags != n.tags {
            let arn = old_outputs["arn"].as_str().unwrap_or_default();
            update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        }
        let live: RdsCluster = wait_available(&self.aws, ctx, id).await?;
        Ok(Self::outputs(&live))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        let c: DbCluster = parse(inputs)?;
        db::delete::<RdsCluster>(
            &self.aws,
            ctx,
            id,
            Some(Deletion {
                deletion_protection: c.deletion_protection,
                skip_final_snapshot: c.skip_final_snapshot,
                final_snapshot_identifier: &c.final_snapshot_identifier,
            }),
        )
        .await
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        Ok(find_tagged::<RdsCluster>(&self.aws, ctx)
            .await?
            .iter()
            .map(|c| Created {
                id: c.db_cluster_identifier().unwrap_or_default().to_string(),
                outputs: Self::outputs(c),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(major("15.4"), "15");
        assert_eq!(major("16"), "16");
        assert_eq!(major("5.7.mysql_aurora.2.11.2"), "5.7");
        assert_eq!(major("9.6.22"), "9.6");
        assert!(check_username("master_username", "postgres").is_err());
        assert!(check_password("p", &Input::secret("short")).is_err());
        assert!(
            check_password("p", &Input::secret("long enough")).is_err(),
            "space"
        );
        assert!(check_password("p", &Input::secret("long-enough")).is_ok());
    }
}
