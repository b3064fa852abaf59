//! Backup component (R6.5): AWS Backup snapshots the ClickHouse data volume
//! daily into a vault of its own and deletes each recovery point after
//! `clickhouse.backup_retention_days` (default 7), acting through a role
//! only AWS Backup may assume. Production's vault is protected; staging's
//! is emptied on destroy so the environment can be torn down.

use morket_stack::model::{Input, ModelError, ResourceOptions, Scope};
use morket_stack::provider::aws::backup::plan::{Plan, Rule};
use morket_stack::provider::aws::backup::selection::Selection;
use morket_stack::provider::aws::backup::vault::Vault;
use morket_stack::provider::aws::iam::role::Role;

use super::account::Account;
use super::clickhouse::Clickhouse;
use super::config::MorketConfig;
use super::network::name_tag;

pub const BACKUP_SERVICE: &str = "backup.amazonaws.com";
/// AWS's managed policies for AWS Backup (in the stack's partition).
pub const BACKUP_POLICY: &str =
    "arn:{partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup";
pub const RESTORE_POLICY: &str =
    "arn:{partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores";
/// 05:00 UTC, after Aurora's 03:00-04:00 backup window.
pub const SCHEDULE: &str = "cron(0 5 ? * * *)";

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    clickhouse: &Clickhouse,
    account: &Account,
) -> Result<(), ModelError> {
    let mut c = scope.component("morket:Backup", "backup")?;
    let name = cfg.name("clickhouse-backup");

    let mut vault = Vault::new(&name);
    // Deleting a vault that holds recovery points is refused otherwise.
    vault.force_destroy = !cfg.is_production();
    vault.tags = name_tag(cfg, "clickhouse-backup");
    // The recovery points are the data: the vault is kept in production.
    let vault = c.resource_with(
        "vault",
        vault,
        ResourceOptions::new().protect(cfg.is_production()),
    )?;

    let mut role = Role::for_service(&name, BACKUP_SERVICE);
    role.description = Some("AWS Backup of the ClickHouse data volume".into());
    role.managed_policy_arns = [BACKUP_POLICY, RESTORE_POLICY]
        .iter()
        .map(|p| Input::interpolate(p, &[("partition", account.caller.partition().into())]))
        .collect();
    role.tags = name_tag(cfg, "clickhouse-backup");
    let role = c.resource("role", role)?;

    let plan = Plan {
        name: name.clone(),
        rules: vec![Rule::daily(
            "daily",
            vault.name(),
            SCHEDULE,
            i64::from(cfg.clickhouse.backup_retention_days),
        )],
        tags: name_tag(cfg, "clickhouse-backup"),
    };
    let plan = c.resource("plan", plan)?;

    c.resource(
        "selection",
        Selection {
            name: "clickhouse-data".into(),
            plan_id: plan.id().into(),
            iam_role_arn: role.arn().into(),
            resources: vec![clickhouse.volume.arn().into()],
        },
    )?;
    Ok(())
}
