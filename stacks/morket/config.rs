//! Per-environment configuration of the Morket stack (seed 000 R19.1, R19.4,
//! R19.5), parsed from `stacks/<env>.toml` into typed structs. Unknown keys
//! and out-of-range values are errors naming the file, key and value.
// Some fields are validated here before the component that reads them lands.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::stacks::{ConfigFile, StackError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MorketConfig {
    /// `staging` or `production`.
    pub environment: String,
    pub region: String,
    pub domain_name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub network: NetworkConfig,
    pub ecs: EcsConfig,
    pub aurora: AuroraConfig,
    pub redis: RedisConfig,
    pub clickhouse: ClickhouseConfig,
    pub rabbitmq: RabbitmqConfig,
    pub opensearch: OpensearchConfig,
    #[serde(default = "default_log_retention")]
    pub log_retention_days: u32,
    /// Image tags the services run; a deploy pipeline rolls them with
    /// `--set images.backend=<tag>`.
    #[serde(default)]
    pub images: ImagesConfig,
    #[serde(default)]
    pub app: AppConfig,
    pub dns: DnsConfig,
    #[serde(default)]
    pub alarms: AlarmsConfig,
    #[serde(default)]
    pub waf: WafConfig,
    #[serde(default)]
    pub frontend: FrontendConfig,
}

/// The frontend's built static site (R14.7).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrontendConfig {
    /// A directory of built static files, synced to the site bucket with
    /// one CloudFront invalidation when anything changed; unset, the stack
    /// holds no site (a deploy pipeline sets it: `--set
    /// frontend.site_dir=packages/frontend/dist`).
    pub site_dir: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Tag in the `morket-backend` repository (also the Temporal worker's).
    pub backend: String,
    pub scraper: String,
    /// Tag of `temporalio/auto-setup` (R12.1).
    pub temporal_server: String,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        ImagesConfig {
            backend: "latest".into(),
            scraper: "latest".into(),
            temporal_server: "1.24.2".into(),
        }
    }
}

/// Non-sensitive settings passed to the tasks' `environment` (R19.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    pub log_level: String,
    /// Proxies the scraper rotates through (comma-separated, may be empty).
    pub proxy_urls: String,
    pub browser_pool_size: u32,
    /// Requests per minute per API key.
    pub rate_limit_per_minute: u32,
    /// The awslogs stream prefix of every task (R16.5).
    pub log_stream_prefix: String,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            log_level: "info".into(),
            proxy_urls: String::new(),
            browser_pool_size: 3,
            rate_limit_per_minute: 600,
            log_stream_prefix: "ecs".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The public hosted zone the domain lives in (it exists already:
    /// looked up by name, never created or deleted by the stack).
    pub zone: String,
}

/// The web ACL in front of the ALB.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WafConfig {
    /// Requests one client IP may make in 5 minutes before it is blocked.
    pub rate_limit: i64,
}

impl Default for WafConfig {
    fn default() -> Self {
        WafConfig { rate_limit: 2000 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmsConfig {
    /// Subscribed to the alarm topic (R16.3); none: subscribe later.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    #[serde(default = "default_vpc_cidr")]
    pub vpc_cidr: String,
    /// Exactly two (R2.1).
    pub availability_zones: Vec<String>,
    /// One per AZ in production, one in staging (R2.3 / task 3.1).
    pub nat_gateways: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    #[serde(default)]
    pub max_count: Option<u32>,
    /// The path the load balancer checks (R3.6), for the services behind it.
    #[serde(default = "default_health_check_path")]
    pub health_check_path: String,
}

fn default_health_check_path() -> String {
    "/health".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsConfig {
    pub backend: Service,
    pub scraper: Service,
    pub temporal_worker: Service,
    pub temporal_server: Service,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuroraConfig {
    pub engine_version: String,
    pub instance_class: String,
    pub reader_count: u32,
    pub backup_retention_days: u32,
    pub preferred_backup_window: String,
    pub deletion_protection: bool,
    /// Days of Performance Insights history on every instance (7 is free).
    pub performance_insights_retention_days: u32,
    /// Seconds between Enhanced Monitoring samples (OS metrics); 0 is off.
    pub monitoring_interval: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub engine_version: String,
    pub node_type: String,
    pub num_cache_clusters: u32,
    pub snapshot_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickhouseConfig {
    pub instance_type: String,
    /// A pinned AMI id; unset, the AMI is the current one of
    /// `ami_parameter` in the stack's region, read while planning.
    #[serde(default)]
    pub ami: Option<String>,
    /// The SSM public parameter naming the AMI (default: Ubuntu 24.04 LTS
    /// amd64, gp3). Recorded in state; `--refresh` picks up a newer image.
    #[serde(default)]
    pub ami_parameter: Option<String>,
    pub volume_size_gb: u32,
    pub volume_iops: u32,
    pub max_memory_usage: u64,
    pub max_threads: u32,
    /// Days AWS Backup keeps the data volume's daily snapshots (R6.5).
    #[serde(default = "default_backup_retention")]
    pub backup_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitmqConfig {
    pub engine_version: String,
    pub instance_type: String,
    /// `SINGLE_INSTANCE` or `CLUSTER_MULTI_AZ`.
    pub deployment_mode: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpensearchConfig {
    pub engine_version: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub volume_size_gb: u32,
    pub snapshot_hour: u32,
}

fn default_vpc_cidr() -> String {
    "10.0.0.0/16".into()
}
fn default_log_retention() -> u32 {
    30
}
fn default_backup_retention() -> u32 {
    7
}

/// CloudWatch Logs accepts only these retention periods.
const LOG_RETENTION: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn range(file: &ConfigFile, key: &str, v: u32, lo: u32, hi: u32) -> Result<(), StackError> {
    if v < lo || v > hi {
        return Err(file.bad(key, v, &format!("must be between {lo} and {hi}")));
    }
    Ok(())
}

fn one_of(file: &ConfigFile, key: &str, v: &str, allowed: &[&str]) -> Result<(), StackError> {
    if !allowed.contains(&v) {
        return Err(file.bad(
            key,
            format!("{v:?}"),
            &format!("must be one of {}", allowed.join(", ")),
        ));
    }
    Ok(())
}

/// Fargate's valid CPU/memory pairs.
fn fargate(file: &ConfigFile, key: &str, s: &Service) -> Result<(), StackError> {
    let ok = match s.cpu {
        256 => [512, 1024, 2048].contains(&s.memory),
        512 => (1024..=4096).contains(&s.memory) && s.memory % 1024 == 0,
        1024 => (2048..=8192).contains(&s.memory) && s.memory % 1024 == 0,
        2048 => (4096..=16384).contains(&s.memory) && s.memory % 1024 == 0,
        4096 => (8192..=30720).contains(&s.memory) && s.memory % 1024 == 0,
        _ => {
            return Err(file.bad(
                &format!("{key}.cpu"),
                s.cpu,
                "Fargate CPU must be 256, 512, 1024, 2048 or 4096",
            ))
        }
    };
    if !ok {
        return Err(file.bad(
            &format!("{key}.memory"),
            s.memory,
            &format!("not a valid Fargate memory size for cpu = {}", s.cpu),
        ));
    }
    range(
        file,
        &format!("{key}.desired_count"),
        s.desired_count,
        0,
        100,
    )?;
    if let Some(max) = s.max_count {
        if max < s.desired_count {
            return Err(file.bad(
                &format!("{key}.max_count"),
                max,
                "must be at least desired_count",
            ));
        }
    }
    let path = &s.health_check_path;
    if !path.starts_with('/') || path.len() > 1024 || path.contains(char::is_whitespace) {
        return Err(file.bad(
            &format!("{key}.health_check_path"),
            format!("{path:?}"),
            "a path starting with '/', without spaces, at most 1024 characters",
        ));
    }
    Ok(())
}

impl MorketConfig {
    pub fn load(file: &ConfigFile) -> Result<MorketConfig, StackError> {
        let c: MorketConfig = file.parse()?;
        one_of(
            file,
            "environment",
            &c.environment,
            &["staging", "production"],
        )?;
        let n = &c.network;
        if n.availability_zones.len() != 2 {
            return Err(file.bad(
                "network.availability_zones",
                format!("{:?}", n.availability_zones),
                "exactly two AZs (R2.1)",
            ));
        }
        range(file, "network.nat_gateways", n.nat_gateways, 1, 2)?;
        if let Err(e) = morket_stack::provider::aws::validate::check_cidr(
            "network.vpc_cidr",
            &n.vpc_cidr,
            16..=20,
        ) {
            return Err(file.bad(
                "network.vpc_cidr",
                format!("{:?}", n.vpc_cidr),
                &e.to_string(),
            ));
        }
        fargate(file, "ecs.backend", &c.ecs.backend)?;
        fargate(file, "ecs.scraper", &c.ecs.scraper)?;
        fargate(file, "ecs.temporal_worker", &c.ecs.temporal_worker)?;
        fargate(file, "ecs.temporal_server", &c.ecs.temporal_server)?;
        // R3.7: the API services scale between at least 2 tasks and max_count.
        for (key, svc) in [
            ("ecs.backend", &c.ecs.backend),
            ("ecs.scraper", &c.ecs.scraper),
        ] {
            if svc.max_count.is_some() && svc.desired_count < 2 {
                return Err(file.bad(
                    &format!("{key}.desired_count"),
                    svc.desired_count,
                    "at least 2 when max_count is set: autoscaling keeps 2 tasks or more (R3.7)",
                ));
            }
        }
        range(file, "aurora.reader_count", c.aurora.reader_count, 0, 15)?;
        range(
            file,
            "aurora.backup_retention_days",
            c.aurora.backup_retention_days,
            1,
            35,
        )?;
        if !c.aurora.engine_version.starts_with("15.") {
            return Err(file.bad(
                "aurora.engine_version",
                format!("{:?}", c.aurora.engine_version),
                "Aurora PostgreSQL 15.x (R5.1)",
            ));
        }
        range(
            file,
            "redis.num_cache_clusters",
            c.redis.num_cache_clusters,
            1,
            6,
        )?;
        range(
            file,
            "redis.snapshot_retention_days",
            c.redis.snapshot_retention_days,
            0,
            35,
        )?;
        if !c.redis.engine_version.starts_with("7.") {
            return Err(file.bad(
                "redis.engine_version",
                format!("{:?}", c.redis.engine_version),
                "Redis 7.x (R7.1)",
            ));
        }
        if let (Some(ami), Some(_)) = (&c.clickhouse.ami, &c.clickhouse.ami_parameter) {
            return Err(file.bad(
                "clickhouse.ami",
                format!("{ami:?}"),
                "either a pinned `ami` or an `ami_parameter`, not both",
            ));
        }
        range(
            file,
            "clickhouse.volume_size_gb",
            c.clickhouse.volume_size_gb,
            1,
            16384,
        )?;
        range(
            file,
            "clickhouse.volume_iops",
            c.clickhouse.volume_iops,
            3000,
            16000,
        )?;
        range(
            file,
            "clickhouse.backup_retention_days",
            c.clickhouse.backup_retention_days,
            1,
            36500,
        )?;
        one_of(
            file,
            "rabbitmq.deployment_mode",
            &c.rabbitmq.deployment_mode,
            &["SINGLE_INSTANCE", "CLUSTER_MULTI_AZ"],
        )?;
        range(
            file,
            "opensearch.instance_count",
            c.opensearch.instance_count,
            1,
            80,
        )?;
        range(
            file,
            "opensearch.volume_size_gb",
            c.opensearch.volume_size_gb,
            10,
            16384,
        )?;
        range(
            file,
            "opensearch.snapshot_hour",
            c.opensearch.snapshot_hour,
            0,
            23,
        )?;
        for (key, tag) in [
            ("images.backend", &c.images.backend),
            ("images.scraper", &c.images.scraper),
            ("images.temporal_server", &c.images.temporal_server),
        ] {
            // Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
            let ok = (1..=128).contains(&tag.len())
                && !tag.starts_with(['.', '-'])
                && tag
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch));
            if !ok {
                return Err(file.bad(
                    key,
                    format!("{tag:?}"),
                    "an image tag: 1 to 128 of A-Z a-z 0-9 _ . -, not starting with . or -",
                ));
            }
        }
        one_of(
            file,
            "app.log_level",
            &c.app.log_level,
            &["debug", "info", "warn", "error"],
        )?;
        range(
            file,
            "app.browser_pool_size",
            c.app.browser_pool_size,
            1,
            32,
        )?;
        let prefix = &c.app.log_stream_prefix;
        if prefix.is_empty()
            || prefix.len() > 512
            || prefix.contains(|ch: char| ch == ':' || ch == '*' || ch.is_whitespace())
        {
            return Err(file.bad(
                "app.log_stream_prefix",
                format!("{prefix:?}"),
                "1 to 512 characters, no ':', '*' or spaces",
            ));
        }
        if !(c.domain_name == c.dns.zone || c.domain_name.ends_with(&format!(".{}", c.dns.zone))) {
            return Err(file.bad(
                "dns.zone",
                format!("{:?}", c.dns.zone),
                &format!("domain_name {:?} must be in this zone", c.domain_name),
            ));
        }
        if let Some(e) = &c.alarms.email {
            if !e.contains('@') || e.contains(char::is_whitespace) {
                return Err(file.bad("alarms.email", format!("{e:?}"), "an email address"));
            }
        }
        if ![0, 1, 5, 10, 15, 30, 60].contains(&c.aurora.monitoring_interval) {
            return Err(file.bad(
                "aurora.monitoring_interval",
                c.aurora.monitoring_interval,
                "seconds between Enhanced Monitoring samples: 0 (off), 1, 5, 10, 15, 30 or 60",
            ));
        }
        let days = c.aurora.performance_insights_retention_days;
        if !(days == 7 || days == 731 || (days % 31 == 0 && (31..=713).contains(&days))) {
            return Err(file.bad(
                "aurora.performance_insights_retention_days",
                days,
                "7, 31 times 1 to 23 (months), or 731",
            ));
        }
        if !(10..=2_000_000_000).contains(&c.waf.rate_limit) {
            return Err(file.bad(
                "waf.rate_limit",
                c.waf.rate_limit,
                "requests per client IP in 5 minutes: 10 to 2,000,000,000",
            ));
        }
        if !LOG_RETENTION.contains(&c.log_retention_days) {
            return Err(file.bad(
                "log_retention_days",
                c.log_retention_days,
                "not a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, ...)",
            ));
        }
        Ok(c)
    }

    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    /// `morket-<env>`, or `morket-<env>-<what>`: AWS names of this environment.
    pub fn name(&self, what: &str) -> String {
        if what.is_empty() {
            format!("morket-{}", self.environment)
        } else {
            format!("morket-{}-{what}", self.environment)
        }
    }

    /// Stack-wide tags (R2.6): Project, Environment, Module, ManagedBy, plus the file's.
    pub fn default_tags(&self) -> BTreeMap<String, String> {
        let mut t = BTreeMap::from([
            ("Project".to_string(), "morket".to_string()),
            ("Environment".to_string(), self.environment.clone()),
            ("Module".to_string(), "infrastructure".to_string()),
            ("ManagedBy".to_string(), "morket-stack".to_string()),
        ]);
        t.extend(self.tags.clone());
        t
    }
}
