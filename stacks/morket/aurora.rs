//! Aurora component (R5.1–5.3, 5.5–5.7): an aurora-postgresql 15 cluster in
//! the private subnets behind the Aurora security group, a cluster parameter
//! group with pg_stat_statements and slow-query logging, a writer and
//! `reader_count` readers spread over the AZs. RDS manages the master
//! password in Secrets Manager; its ARN is an output (R5.7).

use morket_stack::model::{HasUrn, Input, ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::iam::role::Role;
use morket_stack::provider::aws::rds::cluster::DbCluster;
use morket_stack::provider::aws::rds::cluster_instance::DbClusterInstance;
use morket_stack::provider::aws::rds::cluster_parameter_group::DbClusterParameterGroup;
use morket_stack::provider::aws::rds::subnet_group::DbSubnetGroup;
use morket_stack::provider::aws::rds::Parameter;

use super::account::Account;
use super::config::MorketConfig;
use super::network::{name_tag, Network};

/// The service that publishes Enhanced Monitoring metrics, and AWS's
/// managed policy for it (in the stack's partition).
pub const MONITORING_SERVICE: &str = "monitoring.rds.amazonaws.com";
pub const MONITORING_POLICY: &str =
    "arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole";

pub struct Aurora {
    pub cluster: Resource<DbCluster>,
    /// The writer instance: the cluster endpoint answers only once it is up.
    pub writer: morket_stack::model::Urn,
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    account: &Account,
) -> Result<Aurora, ModelError> {
    let mut c = scope
        .component("morket:Aurora", "aurora")?
        .protect_all(cfg.is_production());
    let a = &cfg.aurora;
    let id = cfg.name("");

    let mut subnets = DbSubnetGroup::new(
        &format!("{id}-aurora"),
        net.private_subnets.iter().map(|s| s.id().into()).collect(),
    );
    subnets.description = "Morket Aurora: private subnets".into();
    subnets.tags = name_tag(cfg, "aurora");
    let subnets = c.resource("subnet-group", subnets)?;

    let major = a.engine_version.split('.').next().unwrap_or("15");
    let mut params = DbClusterParameterGroup::new(
        &format!("{id}-aurora-pg{major}"),
        &format!("aurora-postgresql{major}"),
    );
    params.description = "Morket Aurora: pg_stat_statements, slow query log".into();
    params.parameters = vec![
        // Static parameter: takes effect at the next reboot.
        Parameter {
            apply_method: "pending-reboot".into(),
            ..Parameter::new("shared_preload_libraries", "pg_stat_statements")
        },
        Parameter::new("log_min_duration_statement", "1000"),
        // Schema changes (migrations) in the log too.
        Parameter::new("log_statement", "ddl"),
    ];
    params.tags = name_tag(cfg, "aurora");
    let params = c.resource("cluster-parameter-group", params)?;

    let mut cluster = DbCluster::new(&id, "morket_admin");
    cluster.engine_version = Some(a.engine_version.clone());
    cluster.database_name = Some("morket".into());
    cluster.manage_master_user_password = true;
    cluster.db_subnet_group_name = Some(subnets.name().into());
    cluster.vpc_security_group_ids = vec![net.security_groups.aurora.id().into()];
    cluster.db_cluster_parameter_group_name = Some(params.name().into());
    cluster.storage_encrypted = true;
    cluster.deletion_protection = a.deletion_protection;
    // Snapshots keep the cost tags (R2.6); the slow-query and DDL log
    // reaches CloudWatch, where someone reads it.
    cluster.copy_tags_to_snapshot = true;
    cluster.enabled_cloudwatch_logs_exports = vec!["postgresql".into()];
    cluster.backup_retention_period = a.backup_retention_days as i32;
    cluster.preferred_backup_window = Some(a.preferred_backup_window.clone());
    // Staging is disposable; production keeps a final snapshot.
    cluster.skip_final_snapshot = !cfg.is_production();
    if cfg.is_production() {
        cluster.final_snapshot_identifier = Some(format!("{id}-final"));
    }
    cluster.apply_immediately = !cfg.is_production();
    cluster.tags = name_tag(cfg, "aurora");
    let cluster = c.resource_with(
        "cluster",
        cluster,
        ResourceOptions::new().depends_on(&account.rds),
    )?;

    // Enhanced Monitoring's OS metrics (per-process memory behind the
    // freeable-memory alarm, R16.2) are published through this role.
    let monitoring = (a.monitoring_interval > 0)
        .then(|| {
            let mut role = Role::for_service(&format!("{id}-rds-monitoring"), MONITORING_SERVICE);
            role.description = Some("RDS Enhanced Monitoring of the Aurora instances".into());
            role.managed_policy_arns = vec![Input::interpolate(
                MONITORING_POLICY,
                &[("partition", account.caller.partition().into())],
            )];
            role.tags = name_tag(cfg, "aurora");
            c.resource("monitoring-role", role)
        })
        .transpose()?;

    let azs = &cfg.network.availability_zones;
    // The writer first: the first instance of a cluster becomes its writer,
    // whatever its promotion tier.
    let mut writer: Option<morket_stack::model::Urn> = None;
    for i in 0..=a.reader_count as usize {
        let role = if i == 0 {
            "writer".to_string()
        } else {
            format!("reader-{i}")
        };
        let mut inst = DbClusterInstance::new(
            &format!("{id}-{role}"),
            cluster.cluster_identifier(),
            &a.instance_class,
        );
        // Writer and readers in different AZs (R5.1).
        inst.availability_zone = Some(azs[i % azs.len()].clone());
        inst.promotion_tier = i as i32;
        inst.apply_immediately = !cfg.is_production();
        // Per-query load and waits (R5.5's pg_stat_statements, seen live).
        inst.performance_insights_enabled = true;
        inst.performance_insights_retention_period =
            Some(a.performance_insights_retention_days as i32);
        if let Some(role) = &monitoring {
            inst.monitoring_interval = a.monitoring_interval as i32;
            inst.monitoring_role_arn = Some(role.arn().into());
        }
        inst.tags = name_tag(cfg, &format!("aurora-{role}"));
        let mut opts = ResourceOptions::new();
        if let Some(w) = &writer {
            opts.depends_on.push(w.clone());
        }
        let r = c.resource_with(&role, inst, opts)?;
        writer.get_or_insert_with(|| r.urn().clone());
    }
    Ok(Aurora {
        cluster,
        writer: writer.expect("the loop declares the writer first"),
    })
}
