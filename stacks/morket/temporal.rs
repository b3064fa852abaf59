//! Temporal component (R12): the `temporalio/auto-setup` server on Fargate,
//! persisting to Aurora (it creates its `temporal` and `temporal_visibility`
//! databases on first start, as the master user read from the RDS-managed
//! secret), registered in Cloud Map as `temporal.morket.local`, reachable on
//! 7233 only from the ECS tasks' group (network component) and allowed into
//! Aurora on 5432.

use morket_stack::model::{HasUrn, Input, ModelError, Resource, Scope};
use morket_stack::provider::aws::ec2::security_group_rule::SecurityGroupRule;
use morket_stack::provider::aws::ecs::cluster::Cluster;
use morket_stack::provider::aws::ecs::task_definition::Health;
use morket_stack::provider::aws::servicediscovery::private_dns_namespace::PrivateDnsNamespace;
use morket_stack::provider::aws::servicediscovery::service::Service as DiscoveryService;

use super::aurora::Aurora;
use super::config::MorketConfig;
use super::network::{name_tag, Network};
use super::secrets::Secrets;
use super::services::{deploy, App, Deployed};

pub const NAMESPACE: &str = "morket.local";
pub const GRPC_PORT: u16 = 7233;
/// What the backend and the worker dial (R12.6).
pub const TEMPORAL_ADDRESS: &str = "temporal.morket.local:7233";
pub const DATABASE: &str = "temporal";
pub const VISIBILITY_DATABASE: &str = "temporal_visibility";

pub struct Temporal {
    pub server: Deployed,
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    cluster: &Resource<Cluster>,
    aurora: &Aurora,
    secrets: &Secrets,
) -> Result<Temporal, ModelError> {
    let mut c = scope.component("morket:Temporal", "temporal")?;

    // The server's tasks are in the Temporal group; Aurora admits it too.
    let to_aurora = c.resource(
        "aurora-5432-from-temporal",
        SecurityGroupRule::ingress(net.security_groups.aurora.id(), "tcp", 5432, 5432)
            .with_source_security_group_id(net.security_groups.temporal.id())
            .with_description("from the Temporal server"),
    )?;

    let mut ns = PrivateDnsNamespace::new(NAMESPACE, net.vpc.id());
    ns.description = Some(format!("Morket {} internal names", cfg.environment));
    ns.tags = name_tag(cfg, "namespace");
    let ns = c.resource("namespace", ns)?;
    let mut discovery = DiscoveryService::a_records("temporal", ns.id(), 10);
    discovery.tags = name_tag(cfg, "temporal-discovery");
    let discovery = c.resource("discovery", discovery)?;

    let aurora_host: Input<String> = aurora.cluster.endpoint().into();
    let server = deploy(
        &mut c,
        cfg,
        net,
        cluster,
        App {
            key: "temporal-server",
            image: format!("temporalio/auto-setup:{}", cfg.images.temporal_server).into(),
            size: &cfg.ecs.temporal_server,
            command: Vec::new(),
            port: Some(GRPC_PORT),
            target_group: None,
            // R12.2 / R12.5
            environment: vec![
                ("DB", "postgres12".into()),
                ("DB_PORT", "5432".into()),
                ("POSTGRES_SEEDS", aurora_host),
                ("DBNAME", DATABASE.into()),
                ("VISIBILITY_DBNAME", VISIBILITY_DATABASE.into()),
                // TLS to Aurora, for the schema tool and the server; the
                // image has no RDS CA bundle to verify the host with.
                ("POSTGRES_TLS_ENABLED", "true".into()),
                ("POSTGRES_TLS_DISABLE_HOST_VERIFICATION", "true".into()),
                ("SQL_TLS_ENABLED", "true".into()),
                ("SQL_HOST_VERIFICATION", "false".into()),
                ("SKIP_DEFAULT_NAMESPACE_CREATION", "false".into()),
                ("DEFAULT_NAMESPACE", "default".into()),
            ],
            secrets: vec![
                ("POSTGRES_USER", &secrets.aurora, Some("username")),
                ("POSTGRES_PWD", &secrets.aurora, Some("password")),
            ],
            security_group: net.security_groups.temporal.id().into(),
            registry: Some(discovery.arn().into()),
            // R12.3: the frontend answers on 7233 (the image has `nc`; the
            // server binds the task's address). The first start creates
            // the schema: give it time.
            health_check: Some(Health {
                command: vec![
                    "CMD-SHELL".into(),
                    format!("nc -z $(hostname -i) {GRPC_PORT} || exit 1"),
                ],
                interval: 30,
                timeout: 5,
                retries: 3,
                start_period: 180,
            }),
            task_policy: None,
            // The schema setup needs Aurora answering: its writer up, and
            // the rule that lets the server in.
            after: vec![to_aurora.urn().clone(), aurora.writer.clone()],
            definition_after: Vec::new(),
        },
    )?;
    Ok(Temporal { server })
}
