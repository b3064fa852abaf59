//! Secrets component (R11): one Secrets Manager secret per credential the
//! services need, valued from the `random` passwords the data stores were
//! made with (secret end to end: sealed in state, never on screen), tagged
//! with Project and Environment (R11.6, the stack's default tags). Aurora
//! keeps its RDS-managed master secret, rotated every 30 days by RDS itself
//! (R5.4/R11.4: no Lambda). Each service's execution role is given exactly
//! the ARNs of its own secrets (`services.rs`, R11.3).

use morket_stack::model::{HasUrn, Input, ModelError, Output, Resource, Scope, Urn};
use morket_stack::provider::aws::secretsmanager::secret::Secret;
use morket_stack::provider::aws::secretsmanager::secret_rotation::SecretRotation;
use morket_stack::provider::aws::secretsmanager::secret_version::SecretVersion;
use morket_stack::provider::random::RandomPassword;

use super::aurora::Aurora;
use super::config::MorketConfig;
use super::network::name_tag;
use super::opensearch::{Opensearch, MASTER_USER as OPENSEARCH_USER};
use super::rabbitmq::{Rabbitmq, ADMIN_USER as RABBITMQ_USER};
use super::redis::Redis;

/// One secret: its ARN and, when this stack declares it, the secret.
#[derive(Clone)]
pub struct Entry {
    pub arn: Input<String>,
    /// The secret, when this stack declares it (not the RDS-managed one).
    pub secret: Option<Resource<Secret>>,
    /// Its value (the SecretVersion), which a task reading it must wait for.
    pub value: Option<Urn>,
}

/// Read by the services and temporal components (task `secrets` blocks,
/// execution-role policies) and the ClickHouse instance. The rotation and
/// the generated ClickHouse password are kept for tests and later readers.
#[allow(dead_code)]
pub struct Secrets {
    /// RDS-managed: `{"username", "password"}`.
    pub aurora: Entry,
    pub aurora_rotation: Resource<SecretRotation>,
    /// `{"username", "password"}` (R6.6).
    pub clickhouse: Entry,
    pub clickhouse_password: Resource<RandomPassword>,
    /// `{"auth_token"}`.
    pub redis: Entry,
    /// `{"username", "password"}`.
    pub rabbitmq: Entry,
    /// `{"username", "password"}`.
    pub opensearch: Entry,
    pub jwt: Entry,
    pub encryption_key: Entry,
    pub service_api_key: Entry,
    pub webhook_hmac: Entry,
}

pub const CLICKHOUSE_USER: &str = "morket_admin";

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    aurora: &Aurora,
    redis: &Redis,
    rabbitmq: &Rabbitmq,
    opensearch: &Opensearch,
) -> Result<Secrets, ModelError> {
    let mut c = scope
        .component("morket:Secrets", "secrets")?
        .protect_all(cfg.is_production());
    // A deleted secret keeps its name for the recovery window: staging is
    // torn down and rebuilt, so its secrets go at once.
    let recovery = if cfg.is_production() { 30 } else { 0 };
    let secret = |c: &mut Scope<'_>, key: &str, what: &str, value: Input<String>| {
        let mut s = Secret::new(&format!("morket/{}/{key}", cfg.environment));
        s.description = Some(what.into());
        s.recovery_window_in_days = recovery;
        s.tags = name_tag(cfg, &format!("secret-{key}"));
        let s = c.resource(key, s)?;
        let v = c.resource(&format!("{key}-value"), SecretVersion::new(s.arn(), value))?;
        Ok::<_, ModelError>(Entry {
            arn: s.arn().into(),
            secret: Some(s),
            value: Some(v.urn().clone()),
        })
    };
    let credentials = |user: &str, password: Output<String>| {
        Input::interpolate(
            &format!(r#"{{"username":"{user}","password":"{{password}}"}}"#),
            &[("password", password.into())],
        )
    };
    let generated = |c: &mut Scope<'_>, name: &str| {
        // Letters and digits only: safe in headers, URLs and JSON alike.
        let mut p = RandomPassword::new(64);
        p.special = false;
        c.resource(name, p)
    };

    let mut ch = RandomPassword::new(32);
    ch.override_special = Some("!^&*-_+".into());
    let clickhouse_password = c.resource("clickhouse-password", ch)?;
    let clickhouse = secret(
        &mut c,
        "clickhouse",
        "ClickHouse admin credentials",
        credentials(CLICKHOUSE_USER, clickhouse_password.result()),
    )?;
    let redis = secret(
        &mut c,
        "redis",
        "Redis AUTH token",
        Input::interpolate(
            r#"{"auth_token":"{token}"}"#,
            &[("token", redis.auth_token.result().into())],
        ),
    )?;
    let rabbitmq = secret(
        &mut c,
        "rabbitmq",
        "RabbitMQ admin credentials",
        credentials(RABBITMQ_USER, rabbitmq.admin_password.result()),
    )?;
    let opensearch = secret(
        &mut c,
        "opensearch",
        "OpenSearch master user credentials",
        credentials(OPENSEARCH_USER, opensearch.master_password.result()),
    )?;
    let app = |c: &mut Scope<'_>, key: &str, what: &str| {
        let value = generated(c, &format!("{key}-generated"))?;
        secret(c, key, what, value.result().into())
    };
    let jwt = app(&mut c, "jwt", "JWT signing secret")?;
    let encryption_key = app(
        &mut c,
        "encryption-key",
        "AES-256-GCM encryption master key",
    )?;
    let service_api_key = app(
        &mut c,
        "service-api-key",
        "Service-to-service API key (X-Service-Key)",
    )?;
    let webhook_hmac = app(&mut c, "webhook-hmac", "Webhook HMAC signing secret")?;

    let aurora_arn: Input<String> = aurora.cluster.output("master_user_secret_arn").into();
    let aurora_rotation = c.resource(
        "aurora-rotation",
        SecretRotation::managed(aurora_arn.clone(), 30),
    )?;
    Ok(Secrets {
        aurora: Entry {
            arn: aurora_arn,
            secret: None,
            value: None,
        },
        aurora_rotation,
        clickhouse,
        clickhouse_password,
        redis,
        rabbitmq,
        opensearch,
        jwt,
        encryption_key,
        service_api_key,
        webhook_hmac,
    })
}
