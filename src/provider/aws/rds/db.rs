//! What Aurora clusters, Aurora instances and plain instances share: the
//! describe by identifier, the listing by URN tag, the waits after create,
//! modify and delete (Terraform's `waitDBCluster*` / `waitDBInstance*`
//! states), the delete with its final snapshot, the retries while AWS holds
//! the object busy, the engine-version rules and the input checks. The [`Db`]
//! trait picks the SDK calls; everything else is written once, here.

use std::cmp::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{
    ClusterPendingModifiedValues, DbCluster as RdsCluster, DbInstance as RdsInstance,
    PendingModifiedValues, Tag,
};
use serde_json::{json, Map, Value};

use super::{from_tags, Rds};
use crate::model::Input;
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::ProviderError;

/// How long AWS may hold a cluster or instance busy (`backing-up`,
/// `modifying`) before a call on it goes through; Terraform retries
/// ModifyDBCluster for 5 minutes.
const BUSY: Duration = Duration::from_secs(300);

/// A cluster busy with another change refuses modify, delete and new members.
pub(crate) const CLUSTER_BUSY: Retry = Retry::conflict(&["InvalidDBClusterStateFault"], BUSY);

/// An instance, or the cluster it is in, busy with another change.
pub(crate) const INSTANCE_BUSY: Retry = Retry::conflict(
    &["InvalidDBInstanceState", "InvalidDBClusterStateFault"],
    BUSY,
);

/// An Enhanced Monitoring role made moments ago is not assumable yet;
/// Terraform retries this message for its IAM propagation time.
pub(crate) const MONITORING_ROLE: Retry = Retry::propagation(
    "InvalidParameterValue",
    "IAM role ARN value is invalid or does not include the required permissions",
);

/// A cluster or an instance as the RDS API describes it.
#[async_trait]
pub(crate) trait Db: Clone + Send + Sync + 'static {
    /// `DB cluster` or `DB instance`, for messages.
    const WHAT: &'static str;
    /// States in which it is usable.
    const USABLE: &'static [&'static str];
    /// States on the way to usable after a create.
    const CREATING: &'static [&'static str];
    /// States on the way back to usable after a modify.
    const UPDATING: &'static [&'static str];
    /// States it may show after the delete call, before it is gone.
    const DELETING: &'static [&'static str];

    fn status(&self) -> &str;
    /// The DNS name clients connect to; AWS fills it in during the create.
    fn endpoint(&self) -> Option<&str>;
    fn arn(&self) -> &str;
    fn identifier(&self) -> &str;
    fn tag_list(&self) -> &[Tag];
    fn deletion_protection(&self) -> bool;
    /// Changes AWS holds for the maintenance window (`apply_immediately = false`).
    fn pending(&self) -> Value;

    /// By identifier; `None` when it does not exist.
    async fn describe(cx: &Call<'_, Rds>, id: &str) -> Result<Option<Self>, ProviderError>;

    /// Every one in the account and region, all pages.
    async fn list(cx: &Call<'_, Rds>) -> Result<Vec<Self>, ProviderError>;

    /// The delete call; `snapshot` names the final snapshot, `None` skips it
    /// (`Some(None)` for Aurora instances, which take no snapshot fields).
    async fn send_delete(
        cx: &Call<'_, Rds>,
        id: &str,
        snapshot: Option<Option<String>>,
    ) -> Result<(), ProviderError>;
}

#[async_trait]
impl Db for RdsCluster {
    const WHAT: &'static str = "DB cluster";
    const USABLE: &'static [&'static str] = &["available"];
    const CREATING: &'static [&'static str] = &[
        "creating",
        "backing-up",
        "migrating",
        "modifying",
        "preparing-data-migration",
        "rebooting",
        "resetting-master-credentials",
    ];
    const UPDATING: &'static [&'static str] = &[
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "modifying",
        "renaming",
        "resetting-master-credentials",
        "scaling-compute",
        "scaling-storage",
        "upgrading",
    ];
    const DELETING: &'static [&'static str] = &[
        "available",
        "backing-up",
        "deleting",
        "modifying",
        "promoting",
        "scaling-compute",
    ];

    fn status(&self) -> &str {
        RdsCluster::status(self).unwrap_or("creating")
    }
    fn endpoint(&self) -> Option<&str> {
        RdsCluster::endpoint(self)
    }
    fn arn(&self) -> &str {
        self.db_cluster_arn().unwrap_or_default()
    }
    fn identifier(&self) -> &str {
        self.db_cluster_identifier().unwrap_or_default()
    }
    fn tag_list(&self) -> &[Tag] {
        RdsCluster::tag_list(self)
    }
    fn deletion_protection(&self) -> bool {
        RdsCluster::deletion_protection(self).unwrap_or(false)
    }
    fn pending(&self) -> Value {
        // Members whose cluster parameter group waits for their reboot
        // (a static parameter such as shared_preload_libraries).
        let reboot: Vec<&str> = self
            .db_cluster_members()
            .iter()
            .filter(|m| m.db_cluster_parameter_group_status() == Some("pending-reboot"))
            .filter_map(|m| m.db_instance_identifier())
            .collect();
        with_reboot(
            self.pending_modified_values()
                .map_or(Value::Null, cluster_pending),
            "reboot_for_parameters",
            &reboot,
        )
    }

    async fn describe(cx: &Call<'_, Rds>, id: &str) -> Result<Option<Self>, ProviderError> {
        let out = cx
            .find("DescribeDBClusters", |c| {
                c.describe_db_clusters().db_cluster_identifier(id).send()
            })
            .await?;
        Ok(out.and_then(|o| o.db_clusters().first().cloned()))
    }

    async fn list(cx: &Call<'_, Rds>) -> Result<Vec<Self>, ProviderError> {
        let c = cx.client().await;
        let pages = cx
            .pages(
                "DescribeDBClusters",
                c.describe_db_clusters().into_paginator().send(),
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|p| p.db_clusters().to_vec())
            .collect())
    }

    async fn send_delete(
        cx: &Call<'_, Rds>,
        id: &str,
        snapshot: Option<Option<String>>,
    ) -> Result<(), ProviderError> {
        let snapshot = snapshot.flatten();
        cx.send_retrying("DeleteDBCluster", &[CLUSTER_BUSY], |c| {
            c.delete_db_cluster()
                .db_cluster_identifier(id)
                .skip_final_snapshot(snapshot.is_none())
                .set_final_db_snapshot_identifier(snapshot.clone())
                .send()
        })
        .await
        .map(drop)
    }
}

#[async_trait]
impl Db for RdsInstance {
    const WHAT: &'static str = "DB instance";
    // Storage optimisation after a storage change runs for hours with the
    // instance usable (Terraform's target too).
    const USABLE: &'static [&'static str] = &["available", "storage-optimization"];
    const CREATING: &'static [&'static str] = &[
        "creating",
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "configuring-log-exports",
        "maintenance",
        "modifying",
        "rebooting",
        "renaming",
        "resetting-master-credentials",
        "starting",
        "upgrading",
    ];
    const UPDATING: &'static [&'static str] = &[
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "configuring-log-exports",
        "maintenance",
        "modifying",
        "moving-to-vpc",
        "rebooting",
        "renaming",
        "resetting-master-credentials",
        "starting",
        "stopping",
        "storage-full",
        "upgrading",
    ];
    const DELETING: &'static [&'static str] = &[
        "available",
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "creating",
        "deleting",
        "incompatible-parameters",
        "incompatible-restore",
        "modifying",
        "starting",
        "stopping",
        "storage-full",
        "storage-optimization",
    ];

    fn status(&self) -> &str {
        self.db_instance_status().unwrap_or("creating")
    }
    fn endpoint(&self) -> Option<&str> {
        RdsInstance::endpoint(self).and_then(|e| e.address())
    }
    fn arn(&self) -> &str {
        self.db_instance_arn().unwrap_or_default()
    }
    fn identifier(&self) -> &str {
        self.db_instance_identifier().unwrap_or_default()
    }
    fn tag_list(&self) -> &[Tag] {
        RdsInstance::tag_list(self)
    }
    fn deletion_protection(&self) -> bool {
        RdsInstance::deletion_protection(self).unwrap_or(false)
    }
    fn pending(&self) -> Value {
        let reboot: Vec<&str> = self
            .db_parameter_groups()
            .iter()
            .filter(|g| g.parameter_apply_status() == Some("pending-reboot"))
            .filter_map(|g| g.db_parameter_group_name())
            .collect();
        with_reboot(
            self.pending_modified_values()
                .map_or(Value::Null, instance_pending),
            "reboot_for_parameters",
            &reboot,
        )
    }

    async fn describe(cx: &Call<'_, Rds>, id: &str) -> Result<Option<Self>, ProviderError> {
        let out = cx
            .find("DescribeDBInstances", |c| {
                c.describe_db_instances().db_instance_identifier(id).send()
            })
            .await?;
        Ok(out.and_then(|o| o.db_instances().first().cloned()))
    }

    async fn list(cx: &Call<'_, Rds>) -> Result<Vec<Self>, ProviderError> {
        let c = cx.client().await;
        let pages = cx
            .pages(
                "DescribeDBInstances",
                c.describe_db_instances().into_paginator().send(),
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|p| p.db_instances().to_vec())
            .collect())
    }

    async fn send_delete(
        cx: &Call<'_, Rds>,
        id: &str,
        snapshot: Option<Option<String>>,
    ) -> Result<(), ProviderError> {
        cx.send_retrying("DeleteDBInstance", &[INSTANCE_BUSY], |c| {
            let call = c.delete_db_instance().db_instance_identifier(id);
            match &snapshot {
                None => call,
                Some(s) => call
                    .skip_final_snapshot(s.is_none())
                    .set_final_db_snapshot_identifier(s.clone()),
            }
            .send()
        })
        .await
        .map(drop)
    }
}

/// The live object for a read: `None` when it is gone or being deleted.
pub(crate) async fn live<T: Db>(cx: &Call<'_, Rds>, id: &str) -> Result<Option<T>, ProviderError> {
    Ok(T::describe(cx, id)
        .await?
        .filter(|t| t.status() != "deleting"))
}

/// The live object before a change; gone is an error.
pub(crate) async fn existing<T: Db>(cx: &Call<'_, Rds>, id: &str) -> Result<T, ProviderError> {
    live::<T>(cx, id)
        .await?
        .ok_or_else(|| ProviderError::NotFound(format!("{} {id} is gone", T::WHAT)))
}

/// The identifiers of those carrying this resource's URN tag, except those
/// being deleted.
pub(crate) async fn find<T: Db>(cx: &Call<'_, Rds>) -> Result<Vec<String>, ProviderError> {
    Ok(T::list(cx)
        .await?
        .iter()
        .filter(|t| t.status() != "deleting" && cx.is_ours(&from_tags(t.tag_list())))
        .map(|t| t.identifier().to_string())
        .collect())
}

/// Waits after a create until it is usable with an endpoint: `available`
/// with no endpoint yet is still creating, and not found is not yet visible.
pub(crate) async fn wait_created<T: Db>(cx: &Call<'_, Rds>, id: &str) -> Result<T, ProviderError> {
    Wait::new(T::WHAT, T::CREATING, T::USABLE)
        .after_create()
        .until(cx.settings(), || async {
            Ok(match T::describe(cx, id).await? {
                Some(t) if t.endpoint().is_none() && T::USABLE.contains(&t.status()) => {
                    Seen::State("creating".into(), t)
                }
                Some(t) => Seen::State(t.status().to_string(), t),
                None => Seen::Gone,
            })
        })
        .await
}

/// Waits after a modify: AWS leaves `available` a few seconds after the call,
/// so the first poll comes 30 s later (Terraform's `waitDBClusterUpdated`
/// delay) and `available` must be seen twice in a row.
pub(crate) async fn wait_updated<T: Db>(cx: &Call<'_, Rds>, id: &str) -> Result<T, ProviderError> {
    Wait::new(T::WHAT, T::UPDATING, T::USABLE)
        .after_modify(Duration::from_secs(30), 2)
        .until(cx.settings(), || async {
            Ok(match T::describe(cx, id).await? {
                Some(t) => Seen::State(t.status().to_string(), t),
                None => Seen::Gone,
            })
        })
        .await
}

/// How clusters and plain instances are deleted (Aurora instances take none
/// of it: the cluster's backups cover them).
pub(crate) struct Deletion<'a> {
    pub deletion_protection: bool,
    pub skip_final_snapshot: bool,
    pub final_snapshot_identifier: &'a Option<String>,
}

/// Deletes `id` and waits until it is gone. With `deletion`, a protected
/// object (declared, or live from outside the engine) is refused before the
/// delete call and a final snapshot is taken unless skipped. One already
/// being deleted (an interrupted run) is only waited for.
pub(crate) async fn delete<T: Db>(
    cx: &Call<'_, Rds>,
    id: &str,
    deletion: Option<Deletion<'_>>,
) -> Result<(), ProviderError> {
    let what = format!("{} {id}", T::WHAT);
    let Some(now) = T::describe(cx, id).await? else {
        return Ok(());
    };
    if now.status() != "deleting" {
        let snapshot = match &deletion {
            None => None,
            Some(d) if d.deletion_protection => {
                return Err(cx.fatal(format!(
                    "cannot delete {what}: deletion_protection = true; \
                     set it to false and apply before deleting"
                )))
            }
            Some(_) if now.deletion_protection() => return Err(protected_in_aws(cx, &what, "")),
            Some(d) => Some(
                (!d.skip_final_snapshot)
                    .then(|| final_snapshot_name(id, d.final_snapshot_identifier)),
            ),
        };
        T::send_delete(cx, id, snapshot)
            .await
            .map_err(|e| protected_error(cx, &what, e))?;
    }
    Wait::new(T::WHAT, T::DELETING, &[])
        .until_gone(cx.settings(), || async {
            Ok(match T::describe(cx, id).await? {
                Some(t) => Seen::State(t.status().to_string(), ()),
                None => Seen::Gone,
            })
        })
        .await
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

/// A clear error for AWS refusing to delete a protected object.
fn protected_error(cx: &Call<'_, Rds>, what: &str, e: ProviderError) -> ProviderError {
    let text = e.to_string();
    if text.contains("protect") {
        protected_in_aws(cx, what, &format!(" ({text})"))
    } else {
        e
    }
}

/// Protection turned on outside the engine: the declaration says false, so
/// an apply changes nothing.
fn protected_in_aws(cx: &Call<'_, Rds>, what: &str, detail: &str) -> ProviderError {
    cx.fatal(format!(
        "cannot delete {what}: deletion_protection is on in AWS though declared false; \
         turn it off in AWS (or declare true, apply, then false and apply) first{detail}"
    ))
}

// ------------------------------------------------------------ engine versions

/// The major version: `15.4` → `15`, `5.7.mysql_aurora.2.11.2` → `5.7`.
pub(crate) fn major(v: &str) -> String {
    let parts: Vec<&str> = v.split('.').collect();
    match parts.first().and_then(|p| p.parse::<u32>().ok()) {
        Some(n) if n >= 10 => parts[0].to_string(),
        _ => parts.iter().take(2).cloned().collect::<Vec<_>>().join("."),
    }
}

/// Orders versions part by part, numerically where both parts are numbers;
/// a version that is a prefix of the other is the smaller.
pub(crate) fn cmp_version(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// The engine version a read reports for a declared one: AWS upgrades minor
/// versions on its own (auto minor version upgrade) and refuses an in-place
/// downgrade, so a live version at or above the declared one in the same
/// major is the declared one, not drift to undo.
pub(crate) fn reported_version(declared: Option<&str>, live: Option<&str>) -> Option<String> {
    match (declared, live) {
        (Some(d), Some(l)) if major(d) == major(l) && cmp_version(l, d) != Ordering::Less => {
            Some(d.to_string())
        }
        (_, l) => l.map(str::to_string),
    }
}

/// The version to send in a modify to run `declared` where `live` runs, and
/// whether that is a major upgrade (it then needs `AllowMajorVersionUpgrade`,
/// given only when `allowed`). `None`: nothing to send.
pub(crate) fn version_change(
    live: Option<&str>,
    declared: Option<&str>,
    allowed: bool,
) -> Result<Option<(String, bool)>, ProviderError> {
    let Some(d) = declared else { return Ok(None) };
    let Some(l) = live else {
        return Ok(Some((d.to_string(), false)));
    };
    if major(l) == major(d) {
        // Already there, or upgraded past it by AWS.
        return Ok((cmp_version(l, d) == Ordering::Less).then(|| (d.to_string(), false)));
    }
    if cmp_version(l, d) == Ordering::Greater {
        return Err(ProviderError::invalid(
            "engine_version",
            format!("{d:?}"),
            format!("AWS runs {l}; an engine cannot be downgraded in place"),
        ));
    }
    if !allowed {
        return Err(ProviderError::invalid(
            "engine_version",
            format!("{d:?}"),
            format!("a major version upgrade from {l} needs allow_major_version_upgrade = true"),
        ));
    }
    Ok(Some((d.to_string(), true)))
}

// ------------------------------------------------------------ pending changes

/// Inserts `v` under `k` when AWS gave it.
fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.into(), v);
    }
}

/// `pending` with `key: names` added when something waits for a reboot.
fn with_reboot(pending: Value, key: &str, names: &[&str]) -> Value {
    if names.is_empty() {
        return pending;
    }
    let mut m = match pending {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert(key.into(), json!(names));
    Value::Object(m)
}

fn object_or_null(m: Map<String, Value>) -> Value {
    if m.is_empty() {
        Value::Null
    } else {
        Value::Object(m)
    }
}

/// A cluster's pending changes under the input names (a password as `true`).
fn cluster_pending(p: &ClusterPendingModifiedValues) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "engine_version",
        p.engine_version().map(|v| json!(v)),
    );
    put(
        &mut m,
        "backup_retention_period",
        p.backup_retention_period().map(|v| json!(v)),
    );
    put(
        &mut m,
        "allocated_storage",
        p.allocated_storage().map(|v| json!(v)),
    );
    put(&mut m, "storage_type", p.storage_type().map(|v| json!(v)));
    put(
        &mut m,
        "master_password",
        p.master_user_password().map(|_| json!(true)),
    );
    object_or_null(m)
}

/// An instance's pending changes under the input names (a password as `true`).
fn instance_pending(p: &PendingModifiedValues) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "instance_class",
        p.db_instance_class().map(|v| json!(v)),
    );
    put(
        &mut m,
        "engine_version",
        p.engine_version().map(|v| json!(v)),
    );
    put(
        &mut m,
        "allocated_storage",
        p.allocated_storage().map(|v| json!(v)),
    );
    put(&mut m, "storage_type", p.storage_type().map(|v| json!(v)));
    put(
        &mut m,
        "backup_retention_period",
        p.backup_retention_period().map(|v| json!(v)),
    );
    put(&mut m, "multi_az", p.multi_az().map(|v| json!(v)));
    put(
        &mut m,
        "db_subnet_group_name",
        p.db_subnet_group_name().map(|v| json!(v)),
    );
    put(
        &mut m,
        "password",
        p.master_user_password().map(|_| json!(true)),
    );
    object_or_null(m)
}

// ------------------------------------------------------------ checks

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

/// Master passwords: 8 to 128 printable ASCII characters except `/`, `"`, `@`
/// and space. The value is never echoed in the error.
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

/// Who keeps the master password: exactly one of RDS (Secrets Manager) and
/// the declaration.
pub(crate) fn check_master_password(
    field: &str,
    password: &Option<Input<String>>,
    managed: bool,
) -> Result<(), ProviderError> {
    match (password, managed) {
        (Some(_), true) => Err(ProviderError::invalid(
            field,
            "(secret)",
            "conflicts with manage_master_user_password = true",
        )),
        (None, false) => Err(ProviderError::invalid(
            field,
            "(none)",
            "required unless manage_master_user_password = true",
        )),
        (Some(p), false) => check_password(field, p),
        (None, true) => Ok(()),
    }
}

pub(crate) fn check_sg_ids(field: &str, ids: &[Input<String>]) -> Result<(), ProviderError> {
    for (i, s) in ids.iter().enumerate() {
        crate::provider::aws::validate::check_id(&format!("{field}[{i}]"), s, "sg")?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(major("15.4"), "15");
        assert_eq!(major("16"), "16");
        assert_eq!(major("5.7.mysql_aurora.2.11.2"), "5.7");
        assert_eq!(major("9.6.22"), "9.6");
        assert_eq!(cmp_version("15.10", "15.9"), Ordering::Greater);
        assert_eq!(cmp_version("15", "15.4"), Ordering::Less);
        // An automatic minor upgrade is no drift; another major is.
        assert_eq!(
            reported_version(Some("15.4"), Some("15.10")).as_deref(),
            Some("15.4")
        );
        assert_eq!(
            reported_version(Some("15"), Some("15.4")).as_deref(),
            Some("15")
        );
        assert_eq!(
            reported_version(Some("15.10"), Some("15.4")).as_deref(),
            Some("15.4")
        );
        assert_eq!(
            reported_version(Some("15.4"), Some("16.1")).as_deref(),
            Some("16.1")
        );
        // Nothing to send when AWS is at or past the declared minor.
        assert_eq!(
            version_change(Some("15.10"), Some("15.4"), false).unwrap(),
            None
        );
        assert_eq!(
            version_change(Some("15.4"), Some("15.10"), false).unwrap(),
            Some(("15.10".into(), false))
        );
        assert_eq!(
            version_change(Some("15.4"), Some("16.1"), true).unwrap(),
            Some(("16.1".into(), true))
        );
        let e = version_change(Some("15.4"), Some("16.1"), false).unwrap_err();
        assert!(e.to_string().contains("allow_major_version_upgrade"), "{e}");
        let e = version_change(Some("16.1"), Some("15.4"), true).unwrap_err();
        assert!(e.to_string().contains("downgraded"), "{e}");
    }

    #[test]
    fn names_and_passwords() {
        assert!(check_username("master_username", "postgres").is_err());
        assert!(check_password("p", &Input::secret("short")).is_err());
        assert!(
            check_password("p", &Input::secret("long enough")).is_err(),
            "space"
        );
        assert!(check_password("p", &Input::secret("long-enough")).is_ok());
        assert!(check_master_password("p", &None, false).is_err());
        assert!(check_master_password("p", &Some(Input::secret("long-enough")), true).is_err());
        assert!(check_sg_ids("sgs", &[Input::from("subnet-1")]).is_err());
    }
}
