//! Services component (R3.2–R3.8, R11.2/R11.3, R16.1/R16.5, R19.2/R19.3,
//! R19.6/R19.7): the backend, scraper and Temporal worker on Fargate. Each
//! service has its log group, its task execution role (reading exactly its
//! own secrets), a task definition whose image tag comes from configuration
//! and whose credentials come from Secrets Manager in the `secrets` block,
//! and an ECS service with a rolling deployment, the circuit breaker and,
//! when `max_count` is set, CPU target tracking.
//!
//! URLs carry no credentials: Aurora's password is rotated by RDS, so a URL
//! holding it would go stale, and the generated passwords hold characters a
//! URL reserves. Each URL's user and password are `secrets` of their own
//! (`PGUSER`/`PGPASSWORD`, `REDIS_PASSWORD`, ...), which node-postgres and
//! the other clients read next to the URL.

use morket_stack::model::{HasUrn, Input, ModelError, Resource, ResourceOptions, Scope, Urn};
use morket_stack::provider::aws::appautoscaling::policy::{Policy, TargetTracking};
use morket_stack::provider::aws::appautoscaling::target::Target;
use morket_stack::provider::aws::ecr::repository::Repository;
use morket_stack::provider::aws::ecr::repository_policy::RepositoryPolicy;
use morket_stack::provider::aws::ecs::cluster::Cluster;
use morket_stack::provider::aws::ecs::service::{
    AwsVpcConfig, CircuitBreaker, Service, ServiceLoadBalancer, ServiceRegistryRef,
};
use morket_stack::provider::aws::ecs::task_definition::{
    Container, EnvVar, Health, LogConfig, PortMap, SecretRef, TaskDefinition,
};
use morket_stack::provider::aws::ecs::task_run::TaskRun;
use morket_stack::provider::aws::elbv2::target_group::TargetGroup;
use morket_stack::provider::aws::iam::policy::{PolicyDocument, Statement};
use morket_stack::provider::aws::iam::role::Role;
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::s3::bucket::Bucket;

use super::alb::{Alb, BACKEND_PORT, SCRAPER_PORT};
use super::aurora::Aurora;
use super::clickhouse::{Clickhouse, HTTP_PORT as CLICKHOUSE_HTTP_PORT};
use super::config::{self, MorketConfig};
use super::network::{name_tag, Network};
use super::opensearch::Opensearch;
use super::rabbitmq::Rabbitmq;
use super::redis::Redis;
use super::registry::Registry;
use super::secrets::{Entry, Secrets};
use super::temporal::TEMPORAL_ADDRESS;

/// The backend image's Temporal worker process (R3.4): the same image as
/// the API with another command, the contract with its Dockerfile.
pub const WORKER_COMMAND: &[&str] = &["node", "dist/temporal/worker.js"];

/// The backend image's migration entrypoint (R18.3): PostgreSQL, then
/// ClickHouse, under a PostgreSQL advisory lock, each version and its
/// duration logged; a non-zero exit on any failure (docker/backend/).
pub const MIGRATE_COMMAND: &[&str] = &["/app/migrate.sh"];

/// Where the backend image keeps AWS's RDS CA bundle
/// (truststore.pki.rds.amazonaws.com global-bundle.pem).
pub const RDS_CA_BUNDLE: &str = "/etc/ssl/certs/rds-global-bundle.pem";

const EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

/// One Fargate service to declare.
pub struct App<'a> {
    /// `backend`, `scraper`, ...: resource names, family, log group.
    pub key: &'a str,
    pub image: Input<String>,
    pub size: &'a config::Service,
    pub command: Vec<String>,
    pub port: Option<u16>,
    pub target_group: Option<&'a Resource<TargetGroup>>,
    /// Non-sensitive settings (R19.2).
    pub environment: Vec<(&'a str, Input<String>)>,
    /// (variable, secret, JSON key or whole value) (R11.2, R19.3).
    pub secrets: Vec<(&'a str, &'a Entry, Option<&'a str>)>,
    pub security_group: Input<String>,
    /// A Cloud Map service the tasks register in.
    pub registry: Option<Input<String>>,
    pub health_check: Option<Health>,
    /// What the application itself may do (its task role's policy).
    pub task_policy: Option<Input<String>>,
    /// What the service waits for: the listener rules that put its target
    /// group behind the ALB (ECS refuses a target group no load balancer
    /// uses), the network rules its tasks need at start.
    pub after: Vec<Urn>,
    /// What a new revision of its task definition waits for: the
    /// migrations, so no task runs code newer than the schema (R18.1).
    pub definition_after: Vec<Urn>,
}

/// What one service is made of.
pub struct Deployed {
    pub log_group: Resource<LogGroup>,
    pub execution_role: Resource<Role>,
    pub service: Resource<Service>,
}

/// A task definition with its log group and execution role.
pub struct Defined {
    pub log_group: Resource<LogGroup>,
    pub execution_role: Resource<Role>,
    pub task_definition: Resource<TaskDefinition>,
}

/// The migrations (R18): their task definition and the run of it.
pub struct Migrations {
    pub defined: Defined,
    pub run: Resource<TaskRun>,
}

pub struct Services {
    pub backend: Deployed,
    pub scraper: Deployed,
    pub worker: Deployed,
}

impl Entry {
    /// The `valueFrom` of this secret, or of one key of its JSON.
    pub fn value_from(&self, key: Option<&str>) -> Input<String> {
        match key {
            None => self.arn.clone(),
            Some(k) => Input::interpolate(&format!("{{arn}}:{k}::"), &[("arn", self.arn.clone())]),
        }
    }
}

/// Declares `app`'s log group, execution role, task definition and service
/// (and its autoscaling) in `c`.
pub fn deploy(
    c: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    cluster: &Resource<Cluster>,
    app: App<'_>,
) -> Result<Deployed, ModelError> {
    let key = app.key;
    let name = cfg.name(key);
    let size = app.size;
    let security_group = app.security_group.clone();
    let (target_group, port) = (app.target_group, app.port);
    let registry = app.registry.clone();
    let after = app.after.clone();
    let Defined {
        log_group,
        execution_role,
        task_definition,
    } = define(c, cfg, app)?;

    // R3.5
    let mut svc = Service::new(&name, cluster.arn(), task_definition.arn());
    svc.desired_count = size.desired_count as i32;
    svc.deployment_minimum_healthy_percent = 100;
    svc.deployment_maximum_percent = 200;
    svc.deployment_circuit_breaker = Some(CircuitBreaker {
        enable: true,
        rollback: true,
    });
    svc.network_configuration = Some(AwsVpcConfig {
        subnets: net.private_subnets.iter().map(|s| s.id().into()).collect(),
        security_groups: vec![security_group],
        assign_public_ip: false,
    });
    if let (Some(tg), Some(port)) = (target_group, port) {
        svc.load_balancers = vec![ServiceLoadBalancer {
            target_group_arn: tg.arn().into(),
            container_name: key.into(),
            container_port: port as i32,
        }];
        // First health checks of a task that is still starting.
        svc.health_check_grace_period_seconds = Some(60);
    }
    if let Some(registry) = registry {
        svc.service_registries = vec![ServiceRegistryRef {
            registry_arn: registry,
        }];
    }
    svc.tags = name_tag(cfg, key);
    let mut opts = ResourceOptions::new();
    for urn in &after {
        opts = opts.depends_on(urn);
    }
    // Autoscaling owns the running count once it is on.
    if size.max_count.is_some() {
        opts = opts.ignore_changes("desired_count");
    }
    let service = c.resource_with(key, svc, opts)?;

    // R3.7 / R19.5: CPU target tracking between desired_count (at least 2
    // for the API services) and max_count.
    if let Some(max) = size.max_count {
        let target = c.resource(
            &format!("{key}-scaling"),
            Target::ecs_service(
                cluster.name(),
                service.name(),
                size.desired_count as i32,
                max as i32,
            ),
        )?;
        c.resource(
            &format!("{key}-cpu"),
            Policy::ecs_target_tracking(
                &format!("{name}-cpu-70"),
                target.resource_id(),
                TargetTracking {
                    target_value: 70.0,
                    predefined_metric_type: "ECSServiceAverageCPUUtilization".into(),
                    ..Default::default()
                },
            ),
        )?;
    }
    Ok(Deployed {
        log_group,
        execution_role,
        service,
    })
}

/// Declares `app`'s log group, execution role (reading exactly its own
/// secrets) and task definition in `c`.
pub fn define(c: &mut Scope<'_>, cfg: &MorketConfig, app: App<'_>) -> Result<Defined, ModelError> {
    let key = app.key;
    let name = cfg.name(key);

    // R3.8 / R16.1
    let mut group = LogGroup::new(&format!("/ecs/{name}"));
    group.retention_in_days = Some(cfg.log_retention_days as i32);
    group.tags = name_tag(cfg, key);
    let log_group = c.resource(&format!("{key}-logs"), group)?;

    // R11.3: the execution role reads exactly this service's secrets.
    let mut role = Role::for_service(&format!("{name}-execution"), "ecs-tasks.amazonaws.com");
    role.description = Some(format!(
        "Starts the Morket {key} tasks: image pull, logs, secrets"
    ));
    role.managed_policy_arns = vec![EXECUTION_POLICY.into()];
    let mut arns: Vec<Input<String>> = Vec::new();
    for (_, entry, _) in &app.secrets {
        if !arns.contains(&entry.arn) {
            arns.push(entry.arn.clone());
        }
    }
    if !arns.is_empty() {
        role.inline_policies.insert(
            "read-own-secrets".into(),
            PolicyDocument::new(vec![Statement::allow(
                &["secretsmanager:GetSecretValue"],
                arns,
            )])
            .to_input(),
        );
    }
    role.tags = name_tag(cfg, &format!("{key}-execution"));
    let execution_role = c.resource(&format!("{key}-execution"), role)?;

    let mut container = Container::new(key, app.image);
    container.command = app.command;
    if let Some(port) = app.port {
        container.port_mappings = vec![PortMap {
            container_port: port as i32,
            ..Default::default()
        }];
    }
    container.environment = app
        .environment
        .into_iter()
        .map(|(n, v)| EnvVar {
            name: n.into(),
            value: v,
        })
        .collect();
    container.secrets = app
        .secrets
        .iter()
        .map(|(n, entry, k)| SecretRef {
            name: (*n).into(),
            value_from: entry.value_from(*k),
        })
        .collect();
    // R16.5
    container.log_configuration = Some(LogConfig {
        log_driver: "awslogs".into(),
        options: [
            ("awslogs-group".to_string(), log_group.name().into()),
            ("awslogs-region".to_string(), cfg.region.as_str().into()),
            (
                "awslogs-stream-prefix".to_string(),
                cfg.app.log_stream_prefix.as_str().into(),
            ),
        ]
        .into(),
    });
    container.health_check = app.health_check;
    let mut td = TaskDefinition::new(
        &name,
        &app.size.cpu.to_string(),
        &app.size.memory.to_string(),
        vec![container],
    );
    td.execution_role_arn = Some(execution_role.arn().into());
    if let Some(policy) = app.task_policy {
        let mut role = Role::for_service(&format!("{name}-task"), "ecs-tasks.amazonaws.com");
        role.description = Some(format!("The Morket {key} application's own permissions"));
        role.inline_policies.insert("application".into(), policy);
        role.tags = name_tag(cfg, &format!("{key}-task"));
        let role = c.resource(&format!("{key}-task-role"), role)?;
        td.task_role_arn = Some(role.arn().into());
    }
    td.tags = name_tag(cfg, key);
    let mut opts = ResourceOptions::new();
    for urn in &app.definition_after {
        opts = opts.depends_on(urn);
    }
    let task_definition = c.resource_with(&format!("{key}-task"), td, opts)?;
    Ok(Defined {
        log_group,
        execution_role,
        task_definition,
    })
}

/// R18: the migrations as a one-off task ([`TaskRun`]), run to completion
/// whenever its task definition gets a revision (a new image), on the
/// services' network, after what `app.after` names (the databases).
pub fn migrate(
    c: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    cluster: &Resource<Cluster>,
    app: App<'_>,
) -> Result<Migrations, ModelError> {
    let key = app.key;
    let security_group = app.security_group.clone();
    let after = app.after.clone();
    let image = app.image.clone();
    let defined = define(c, cfg, app)?;
    let mut run = TaskRun::new(cluster.arn(), defined.task_definition.arn(), key);
    run.network_configuration = Some(AwsVpcConfig {
        subnets: net.private_subnets.iter().map(|s| s.id().into()).collect(),
        security_groups: vec![security_group],
        assign_public_ip: false,
    });
    // The revision moves with any change of the definition; the image is
    // named too, for the plan's reader.
    run.triggers.insert("image".into(), image);
    run.tags = name_tag(cfg, key);
    let mut opts = ResourceOptions::new();
    for urn in &after {
        opts = opts.depends_on(urn);
    }
    let run = c.resource_with(key, run, opts)?;
    Ok(Migrations { defined, run })
}

/// What the services connect to.
pub struct Backends<'a> {
    pub aurora: &'a Aurora,
    pub clickhouse: &'a Clickhouse,
    pub redis: &'a Redis,
    pub rabbitmq: &'a Rabbitmq,
    pub opensearch: &'a Opensearch,
    pub secrets: &'a Secrets,
    /// Where CSV exports and files go (R10.6).
    pub exports: &'a Resource<Bucket>,
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    cluster: &Resource<Cluster>,
    alb: &Alb,
    registry: &Registry,
    b: &Backends<'_>,
) -> Result<Services, ModelError> {
    let mut c = scope.component("morket:Services", "services")?;
    let s = b.secrets;
    let image = |repo: &Resource<Repository>, tag: &str| {
        Input::interpolate(
            &format!("{{url}}:{tag}"),
            &[("url", repo.repository_url().into())],
        )
    };
    let url = |template: &str, var: Input<String>| Input::interpolate(template, &[("v", var)]);

    // R19.6: what the backend and its worker connect with.
    let connections = || -> Vec<(&'static str, Input<String>)> {
        vec![
            (
                "DATABASE_URL",
                url(
                    "postgresql://{v}:5432/morket?sslmode=require",
                    b.aurora.cluster.endpoint().into(),
                ),
            ),
            (
                "CLICKHOUSE_URL",
                url(
                    &format!("http://{{v}}:{CLICKHOUSE_HTTP_PORT}"),
                    b.clickhouse.instance.private_ip().into(),
                ),
            ),
            (
                "REDIS_URL",
                url(
                    "rediss://{v}:6379",
                    b.redis.replication_group.primary_endpoint_address().into(),
                ),
            ),
            (
                "RABBITMQ_URL",
                b.rabbitmq.broker.output("amqps_endpoint").into(),
            ),
            (
                "OPENSEARCH_URL",
                url("https://{v}", b.opensearch.domain.endpoint().into()),
            ),
            ("TEMPORAL_ADDRESS", TEMPORAL_ADDRESS.into()),
            // Aurora's certificate chains to the RDS CA, which Node does not
            // ship: the backend image carries AWS's bundle there (docker/).
            ("NODE_EXTRA_CA_CERTS", RDS_CA_BUNDLE.into()),
            ("NODE_ENV", "production".into()),
            ("APP_ENV", cfg.environment.as_str().into()),
            ("LOG_LEVEL", cfg.app.log_level.as_str().into()),
            (
                "RATE_LIMIT_PER_MINUTE",
                cfg.app.rate_limit_per_minute.to_string().into(),
            ),
        ]
    };
    let credentials = || -> Vec<(&'static str, &Entry, Option<&'static str>)> {
        vec![
            ("PGUSER", &s.aurora, Some("username")),
            ("PGPASSWORD", &s.aurora, Some("password")),
            ("CLICKHOUSE_USER", &s.clickhouse, Some("username")),
            ("CLICKHOUSE_PASSWORD", &s.clickhouse, Some("password")),
            ("REDIS_PASSWORD", &s.redis, Some("auth_token")),
            ("RABBITMQ_USER", &s.rabbitmq, Some("username")),
            ("RABBITMQ_PASSWORD", &s.rabbitmq, Some("password")),
            ("OPENSEARCH_USERNAME", &s.opensearch, Some("username")),
            ("OPENSEARCH_PASSWORD", &s.opensearch, Some("password")),
            ("JWT_SECRET", &s.jwt, None),
            ("ENCRYPTION_MASTER_KEY", &s.encryption_key, None),
            ("SERVICE_API_KEY", &s.service_api_key, None),
            ("WEBHOOK_HMAC_SECRET", &s.webhook_hmac, None),
        ]
    };
    // Tasks start once they can connect: behind the ALB, Aurora's writer
    // up, and every secret they read holding its value.
    let start_after = |secrets: &[(&str, &Entry, Option<&str>)], behind_alb: bool| {
        let mut after: Vec<Urn> = vec![b.aurora.writer.clone()];
        if behind_alb {
            after.extend(alb.rules.iter().map(|r| r.urn().clone()));
        }
        for (_, entry, _) in secrets {
            if let Some(v) = &entry.value {
                if !after.contains(v) {
                    after.push(v.clone());
                }
            }
        }
        after
    };
    // The backend and its worker write and read exports; nothing else.
    let exports_policy = || {
        let objects = Input::interpolate("{arn}/*", &[("arn", b.exports.arn().into())]);
        PolicyDocument::new(vec![
            Statement::allow(&["s3:ListBucket"], vec![b.exports.arn().into()]).sid("ListExports"),
            Statement::allow(
                &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                vec![objects],
            )
            .sid("ReadWriteExports"),
        ])
        .to_input()
    };
    let ecs_sg: Input<String> = net.security_groups.ecs.id().into();

    // R18: the backend image's migrations, with the database settings and
    // credentials alone, once Aurora's writer and ClickHouse are up; the
    // task definitions that run the backend's code wait for them.
    let migration_credentials = || -> Vec<(&'static str, &Entry, Option<&'static str>)> {
        vec![
            ("PGUSER", &s.aurora, Some("username")),
            ("PGPASSWORD", &s.aurora, Some("password")),
            ("CLICKHOUSE_USER", &s.clickhouse, Some("username")),
            ("CLICKHOUSE_PASSWORD", &s.clickhouse, Some("password")),
        ]
    };
    let mut migrate_after = start_after(&migration_credentials(), false);
    migrate_after.push(b.clickhouse.instance.urn().clone());
    // The network rules that let the task reach both.
    for rule in ["aurora-5432", "clickhouse-8123"] {
        migrate_after.push(net.security_groups.from_ecs[rule].clone());
    }
    let migrations = migrate(
        &mut c,
        cfg,
        net,
        cluster,
        App {
            key: "migrate",
            image: image(&registry.backend, &cfg.images.backend),
            size: &cfg.ecs.backend,
            command: MIGRATE_COMMAND.iter().map(|s| s.to_string()).collect(),
            port: None,
            target_group: None,
            environment: connections()
                .into_iter()
                .filter(|(n, _)| {
                    [
                        "DATABASE_URL",
                        "CLICKHOUSE_URL",
                        "NODE_EXTRA_CA_CERTS",
                        "NODE_ENV",
                        "APP_ENV",
                        "LOG_LEVEL",
                    ]
                    .contains(n)
                })
                .collect(),
            secrets: migration_credentials(),
            security_group: ecs_sg.clone(),
            registry: None,
            health_check: None,
            task_policy: None,
            after: migrate_after,
            definition_after: Vec::new(),
        },
    )?;
    let migrated = vec![migrations.run.urn().clone()];

    let mut backend_env = connections();
    backend_env.push(("PORT", BACKEND_PORT.to_string().into()));
    let backend = deploy(
        &mut c,
        cfg,
        net,
        cluster,
        App {
            key: "backend",
            image: image(&registry.backend, &cfg.images.backend),
            size: &cfg.ecs.backend,
            command: Vec::new(),
            port: Some(BACKEND_PORT),
            target_group: Some(&alb.backend),
            environment: backend_env,
            secrets: credentials(),
            security_group: ecs_sg.clone(),
            registry: None,
            health_check: None,
            task_policy: Some(exports_policy()),
            after: start_after(&credentials(), true),
            definition_after: migrated.clone(),
        },
    )?;

    // R19.7
    let scraper = deploy(
        &mut c,
        cfg,
        net,
        cluster,
        App {
            key: "scraper",
            image: image(&registry.scraper, &cfg.images.scraper),
            size: &cfg.ecs.scraper,
            command: Vec::new(),
            port: Some(SCRAPER_PORT),
            target_group: Some(&alb.scraper),
            environment: vec![
                (
                    "BACKEND_API_URL",
                    format!("https://{}/api/v1", alb.api_domain).into(),
                ),
                ("PROXY_URLS", cfg.app.proxy_urls.as_str().into()),
                (
                    "BROWSER_POOL_SIZE",
                    cfg.app.browser_pool_size.to_string().into(),
                ),
                ("LOG_LEVEL", cfg.app.log_level.as_str().into()),
                ("PORT", SCRAPER_PORT.to_string().into()),
            ],
            secrets: vec![("SERVICE_API_KEY", &s.service_api_key, None)],
            security_group: ecs_sg.clone(),
            registry: None,
            health_check: None,
            task_policy: None,
            after: start_after(&[("SERVICE_API_KEY", &s.service_api_key, None)], true),
            definition_after: Vec::new(),
        },
    )?;

    // R3.4: the backend image, the worker command, the backend's settings.
    let worker = deploy(
        &mut c,
        cfg,
        net,
        cluster,
        App {
            key: "temporal-worker",
            image: image(&registry.backend, &cfg.images.backend),
            size: &cfg.ecs.temporal_worker,
            command: WORKER_COMMAND.iter().map(|s| s.to_string()).collect(),
            port: None,
            target_group: None,
            environment: connections(),
            secrets: credentials(),
            security_group: ecs_sg,
            registry: None,
            health_check: None,
            task_policy: Some(exports_policy()),
            after: start_after(&credentials(), false),
            definition_after: migrated,
        },
    )?;

    // R17.5: the execution roles that pull an image may, by the
    // repository's own policy too.
    for (repo, roles) in [
        (
            &registry.backend,
            vec![
                &backend.execution_role,
                &worker.execution_role,
                &migrations.defined.execution_role,
            ],
        ),
        (&registry.scraper, vec![&scraper.execution_role]),
    ] {
        let doc = PolicyDocument::new(vec![Statement::allow(
            &[
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            Vec::new(),
        )
        .sid("PullByExecutionRoles")
        .principal("AWS", roles.iter().map(|r| r.arn().into()).collect())]);
        let name = format!("{}-pull", repo.urn().name());
        c.resource(&name, RepositoryPolicy::new(repo.name(), doc.to_input()))?;
    }

    Ok(Services {
        backend,
        scraper,
        worker,
    })
}
