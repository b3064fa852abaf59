//! The Morket platform stack (seeds 000/001), built from reusable components
//! wired by their outputs. Configured per environment by `stacks/<env>.toml`.

use std::sync::Arc;

use morket_stack::model::{HasUrn, Stack, Urn};
use morket_stack::provider::aws::{self, Aws};
use morket_stack::provider::Registry;

use super::{ConfigFile, Loaded, StackEnv, StackError};

pub mod account;
pub mod alb;
pub mod aurora;
pub mod backup;
pub mod clickhouse;
pub mod config;
pub mod dns;
pub mod ecs;
pub mod edge;
pub mod network;
pub mod observability;
pub mod opensearch;
pub mod rabbitmq;
pub mod redis;
pub mod registry;
pub mod secrets;
pub mod services;
pub mod temporal;

use config::MorketConfig;

/// Stack outputs: (name, resource, attribute).
#[derive(Default)]
pub struct Outputs {
    attrs: Vec<(String, Urn, String)>,
    values: Vec<(String, serde_json::Value)>,
}

impl Outputs {
    pub fn add(&mut self, name: impl Into<String>, r: &impl HasUrn, attr: &str) {
        self.attrs.push((name.into(), r.urn().clone(), attr.into()));
    }
    /// An output the program fixes (a port, an internal name).
    pub fn value(&mut self, name: impl Into<String>, v: impl Into<serde_json::Value>) {
        self.values.push((name.into(), v.into()));
    }
}

pub fn build(name: &str, file: &ConfigFile, env: &StackEnv) -> Result<Loaded, StackError> {
    let cfg = MorketConfig::load(file)?;
    // The file's region is the stack's: zones, the log-delivery principal
    // and ARNs are built from it.
    let mut settings = super::settings_in(file, env, &cfg.region)?;
    settings.default_tags = cfg.default_tags();
    let mut registry = Registry::builtin();
    aws::register(&mut registry, Arc::new(Aws::new(settings.clone())));

    let mut stack = Stack::new(name)?;
    let mut root = stack.root();
    let account = account::declare(&mut root)?;
    let net = network::declare(&mut root, &cfg)?;
    let ecs = ecs::declare(&mut root, &cfg, &account)?;
    let aurora = aurora::declare(&mut root, &cfg, &net, &account)?;
    let redis = redis::declare(&mut root, &cfg, &net, &account)?;
    let rabbitmq = rabbitmq::declare(&mut root, &cfg, &net)?;
    let opensearch = opensearch::declare(&mut root, &cfg, &net, &account)?;
    let repos = registry::declare(&mut root, &cfg)?;
    let secrets = secrets::declare(&mut root, &cfg, &aurora, &redis, &rabbitmq, &opensearch)?;
    let clickhouse = clickhouse::declare(&mut root, &cfg, &net, &secrets.clickhouse)?;
    let zone = dns::declare(&mut root, &cfg)?;
    let alb = alb::declare(
        &mut root,
        &cfg,
        &net,
        &account,
        &zone,
        &edge::access_logged(&cfg),
    )?;
    let site = edge::read_site(file, &cfg)?;
    let edge = edge::declare(&mut root, &cfg, &zone, &alb.logs, site)?;
    backup::declare(&mut root, &cfg, &clickhouse, &account)?;
    let temporal = temporal::declare(&mut root, &cfg, &net, &ecs, &aurora, &secrets)?;
    let services = services::declare(
        &mut root,
        &cfg,
        &net,
        &ecs,
        &alb,
        &repos,
        &services::Backends {
            aurora: &aurora,
            clickhouse: &clickhouse,
            redis: &redis,
            rabbitmq: &rabbitmq,
            opensearch: &opensearch,
            secrets: &secrets,
            exports: &edge.exports,
        },
    )?;
    let watched = observability::Watched {
        cluster_name: ecs.name().into(),
        services: vec![
            ("backend", services.backend.service.name().into()),
            ("scraper", services.scraper.service.name().into()),
            ("temporal-worker", services.worker.service.name().into()),
            ("temporal-server", temporal.server.service.name().into()),
        ],
        alb_arn_suffix: alb.load_balancer.arn_suffix().into(),
        target_groups: vec![
            ("backend", alb.backend.arn_suffix().into()),
            ("scraper", alb.scraper.arn_suffix().into()),
        ],
        backend_log_group: services.backend.log_group.name().into(),
    };
    observability::declare(
        &mut root,
        &cfg,
        &watched,
        &observability::Observed {
            account: &account,
            aurora: &aurora,
            redis: &redis,
            clickhouse: &clickhouse,
            opensearch: &opensearch,
        },
    )?;

    let mut out = Outputs::default();
    out.add("vpc_id", &net.vpc, "id");
    for (kind, subnets) in [
        ("public", &net.public_subnets),
        ("private", &net.private_subnets),
    ] {
        for (i, s) in subnets.iter().enumerate() {
            out.add(format!("{kind}_subnet_{i}"), s, "id");
        }
    }
    for (i, nat) in net.nat_gateways.iter().enumerate() {
        out.add(format!("nat_public_ip_{i}"), nat, "public_ip");
    }
    let sg = &net.security_groups;
    out.add("internet_gateway_id", &net.internet_gateway, "id");
    out.add("alb_security_group_id", &sg.alb, "id");
    out.add("ecs_security_group_id", &sg.ecs, "id");
    out.add("ecs_cluster_arn", &ecs, "arn");
    // R5.7
    out.add("aurora_endpoint", &aurora.cluster, "endpoint");
    out.add("aurora_reader_endpoint", &aurora.cluster, "reader_endpoint");
    out.add(
        "aurora_secret_arn",
        &aurora.cluster,
        "master_user_secret_arn",
    );
    // R6.7
    out.add("clickhouse_private_ip", &clickhouse.instance, "private_ip");
    out.value("clickhouse_http_port", clickhouse::HTTP_PORT);
    out.value("clickhouse_native_port", clickhouse::NATIVE_PORT);
    // R7.7
    out.add(
        "redis_primary_endpoint",
        &redis.replication_group,
        "primary_endpoint_address",
    );
    out.add("redis_port", &redis.replication_group, "port");
    // R8.5
    out.add(
        "rabbitmq_amqps_endpoint",
        &rabbitmq.broker,
        "amqps_endpoint",
    );
    // R9.7
    out.add("opensearch_endpoint", &opensearch.domain, "endpoint");
    // R17.6
    for (app, repo) in repos.all() {
        out.add(format!("ecr_{app}_url"), repo, "repository_url");
    }
    // R6.6: where the ClickHouse admin credentials are.
    if let Some(s) = &secrets.clickhouse.secret {
        out.add("clickhouse_secret_arn", s, "arn");
    }
    // R4
    out.add("alb_dns_name", &alb.load_balancer, "dns_name");
    out.add("alb_access_logs_bucket", &alb.logs, "bucket");
    // R12.6: what the backend and the worker dial (their TEMPORAL_ADDRESS).
    out.value("temporal_address", temporal::TEMPORAL_ADDRESS);
    edge.outputs(&mut out);
    Ok(Loaded {
        stack,
        aws: Some(settings),
        registry,
        outputs: out.attrs,
        values: out.values,
    })
}
