//! `aws:mq/Broker` (Terraform `aws_mq_broker`), RabbitMQ engine.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
use aws_sdk_mq::types::{
    BrokerState, DayOfWeek, DeploymentMode, EngineType, Logs, User, WeeklyStartTime,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{create_tags, from_tags, update_tags};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{field_diff, parse, Created, Ctx, Diff, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    /// 1 to 50 characters of `[A-Za-z0-9_-]`.
    pub broker_name: String,
    /// Only `RABBITMQ`.
    #[serde(default = "rabbitmq")]
    pub engine_type: String,
    /// e.g. `3.13`, `3.11.20`.
    pub engine_version: String,
    /// e.g. `mq.m5.large`, `mq.t3.micro` (single-instance only).
    pub host_instance_type: String,
    /// `SINGLE_INSTANCE` or `CLUSTER_MULTI_AZ`.
    #[serde(default = "single_instance")]
    pub deployment_mode: String,
    /// One subnet for a single instance, two or more for a cluster.
    #[serde(default)]
    pub subnet_ids: Vec<Input<String>>,
    #[serde(default)]
    pub security_groups: Vec<Input<String>>,
    #[serde(default)]
    pub publicly_accessible: bool,
    #[serde(default = "yes")]
    pub auto_minor_version_upgrade: bool,
    #[serde(default)]
    pub logs: BrokerLogs,
    /// RabbitMQ: exactly one (the admin user).
    pub users: Vec<BrokerUser>,
    /// AWS picks a window when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window_start_time: Option<MaintenanceWindow>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerLogs {
    #[serde(default)]
    pub general: bool,
    /// ActiveMQ only: refused for RabbitMQ.
    #[serde(default)]
    pub audit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerUser {
    pub username: String,
    /// 12 to 250 characters, without `,` `:` `=`.
    pub password: Input<String>,
    #[serde(default)]
    pub console_access: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// `MONDAY` .. `SUNDAY`.
    pub day_of_week: String,
    /// `HH:MM`, 24-hour.
    pub time_of_day: String,
    #[serde(default = "utc")]
    pub time_zone: String,
}

fn yes() -> bool {
    true
}
fn rabbitmq() -> String {
    "RABBITMQ".into()
}
fn single_instance() -> String {
    "SINGLE_INSTANCE".into()
}
fn utc() -> String {
    "UTC".into()
}

impl Broker {
    pub fn new(
        broker_name: &str,
        engine_version: &str,
        host_instance_type: &str,
        subnet_id: impl Into<Input<String>>,
        admin: BrokerUser,
    ) -> Self {
        Broker {
            broker_name: broker_name.into(),
            engine_type: rabbitmq(),
            engine_version: engine_version.into(),
            host_instance_type: host_instance_type.into(),
            deployment_mode: single_instance(),
            subnet_ids: vec![subnet_id.into()],
            security_groups: Vec::new(),
            publicly_accessible: false,
            auto_minor_version_upgrade: true,
            logs: BrokerLogs::default(),
            users: vec![admin],
            maintenance_window_start_time: None,
            tags: Tags::new(),
        }
    }
}

impl BrokerUser {
    pub fn new(username: &str, password: impl Into<Input<String>>) -> Self {
        BrokerUser {
            username: username.into(),
            password: password.into(),
            console_access: false,
        }
    }
}

impl ResourceArgs for Broker {
    const TYPE: &'static str = "aws:mq/Broker";
}

impl Resource<Broker> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `amqps://...:5671`.
    pub fn amqps_endpoint(&self) -> Output<String> {
        self.output("amqps_endpoint")
    }
    pub fn console_url(&self) -> Output<String> {
        self.output("console_url")
    }
}

/// Changes that Amazon MQ keeps pending until the broker reboots (Terraform's
/// `apply_immediately` reboots for these). Security groups, users, the
/// maintenance window and auto minor upgrades apply without one.
pub fn requires_reboot(old: &Broker, new: &Broker) -> bool {
    old.engine_version != new.engine_version
        || old.host_instance_type != new.host_instance_type
        || old.logs != new.logs
}

fn check_password(field: &str, p: &Input<String>) -> Result<(), ProviderError> {
    let Some(pw) = p.known() else {
        return Ok(());
    };
    // The value is a secret: never echo it in the error.
    let n = pw.chars().count();
    if !(12..=250).contains(&n) {
        return Err(ProviderError::invalid(
            field,
            format!("({n} characters)"),
            "broker passwords are 12 to 250 characters",
        ));
    }
    if let Some(c) = pw.chars().find(|c| matches!(c, ',' | ':' | '=')) {
        return Err(ProviderError::invalid(
            field,
            format!("(contains {c:?})"),
            "broker passwords may not contain ',', ':' or '='",
        ));
    }
    let mut distinct: Vec<char> = pw.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(ProviderError::invalid(
            field,
            "(fewer than 4 distinct characters)",
            "broker passwords need at least 4 unique characters",
        ));
    }
    Ok(())
}

fn known(v: &[Input<String>]) -> Vec<String> {
    v.iter().filter_map(|i| i.known().cloned()).collect()
}

pub struct BrokerProvider {
    aws: Arc<Aws>,
}

impl BrokerProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        BrokerProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<DescribeBrokerOutput>, ProviderError> {
        self.aws.limits.mq.acquire().await;
        match self
            .aws
            .mq()
            .await
            .describe_broker()
            .broker_id(id)
            .send()
            .await
        {
            Ok(out) if out.broker_state() == Some(&BrokerState::DeletionInProgress) => Ok(None),
            Ok(out) => Ok(Some(out)),
            Err(e) => match error::map(&ctx.urn, "DescribeBroker", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Polls until the broker is RUNNING; fails on CREATION_FAILED or timeout.
    async fn wait_running(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<DescribeBrokerOutput, ProviderError> {
        let s = &self.aws.settings;
        let start = Instant::now();
        loop {
            let b = self.describe(ctx, id).await?.ok_or_else(|| {
                ProviderError::NotFound(format!("{}: broker {id} disappeared", ctx.urn))
            })?;
            let state = b.broker_state().cloned();
            match state {
                Some(BrokerState::Running) => return Ok(b),
                Some(BrokerState::CreationFailed) => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: broker {id} is CREATION_FAILED",
                        ctx.urn
                    )))
                }
                _ => {}
            }
            if start.elapsed() >= s.wait_timeout {
                return Err(ProviderError::Fatal(format!(
                    "{}: broker {id} still {} after {:?} (waiting for RUNNING)",
                    ctx.urn,
                    state.as_ref().map(|s| s.as_str()).unwrap_or("unknown"),
                    s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }

    fn outputs(b: &DescribeBrokerOutput) -> Value {
        let inst = b.broker_instances().first();
        let amqps = inst.and_then(|i| i.endpoints().iter().find(|e| e.starts_with("amqps://")));
        json!({
            "id": b.broker_id(),
            "arn": b.broker_arn(),
            "broker_name": b.broker_name(),
            "amqps_endpoint": amqps,
            "console_url": inst.and_then(|i| i.console_url()),
        })
    }

    async fn live_inputs(
        &self,
        ctx: &Ctx,
        b: &DescribeBrokerOutput,
        declared: Option<&Broker>,
    ) -> Result<Broker, ProviderError> {
        let id = b.broker_id().unwrap_or_default();
        let mut users = Vec::new();
        for u in b.users() {
            let name = u.username().unwrap_or_default();
            self.aws.limits.mq.acquire().await;
            let du = self
                .aws
                .mq()
                .await
                .describe_user()
                .broker_id(id)
                .username(name)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeUser", e))?;
            // AWS never returns a password: keep the declared one.
            let password = declared
                .and_then(|d| d.users.iter().find(|x| x.username == name))
                .map(|x| x.password.clone())
                .unwrap_or(Input::Unknown);
            users.push(BrokerUser {
                username: name.to_string(),
                password,
                console_access: du.console_access().unwrap_or(false),
            });
        }
        users.sort_by(|a, b| a.username.cmp(&b.username));
        let window = match declared.and_then(|d| d.maintenance_window_start_time.as_ref()) {
            Some(_) => b
                .maintenance_window_start_time()
                .map(|w| MaintenanceWindow {
                    day_of_week: w
                        .day_of_week()
                        .map(|d| d.as_str().to_ascii_uppercase())
                        .unwrap_or_default(),
                    time_of_day: w.time_of_day().unwrap_or_default().into(),
                    time_zone: w.time_zone().unwrap_or("UTC").into(),
                }),
            None => None,
        };
        Ok(Broker {
            broker_name: b.broker_name().unwrap_or_default().into(),
            engine_type: b
                .engine_type()
                .map(|e| e.as_str().to_ascii_uppercase())
                .unwrap_or_else(rabbitmq),
            engine_version: b.engine_version().unwrap_or_default().into(),
            host_instance_type: b.host_instance_type().unwrap_or_default().into(),
            deployment_mode: b
                .deployment_mode()
                .map(|d| d.as_str().to_string())
                .unwrap_or_else(single_instance),
            subnet_ids: b
                .subnet_ids()
                .iter()
                .map(|s| Input::Value(s.clone()))
                .collect(),
            security_groups: b
                .security_groups()
                .iter()
                .map(|s| Input::Value(s.clone()))
                .collect(),
            publicly_accessible: b.publicly_accessible().unwrap_or(false),
            auto_minor_version_upgrade: b.auto_minor_version_upgrade().unwrap_or(false),
            logs: BrokerLogs {
                general: b.logs().and_then(|l| l.general()).unwrap_or(false),
                audit: b.logs().and_then(|l| l.audit()).unwrap_or(false),
            },
            users,
            maintenance_window_start_time: window,
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(b.tags())),
        })
    }
}

fn window(w: &MaintenanceWindow) -> WeeklyStartTime {
    WeeklyStartTime::builder()
        .day_of_week(DayOfWeek::from(w.day_of_week.as_str()))
        .time_of_day(&w.time_of_day)
        .time_zone(&w.time_zone)
        .build()
}

fn logs(l: &BrokerLogs) -> Logs {
    // RabbitMQ has general logs only; sending Audit is refused.
    Logs::builder().general(l.general).build()
}

#[async_trait]
impl Provider for BrokerProvider {
    fn type_name(&self) -> &'static str {
        Broker::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "broker_name",
            "engine_type",
            "deployment_mode",
            "subnet_ids",
            "publicly_accessible",
        ]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["broker_name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("mq", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let b: Broker = parse(inputs)?;
        let n = &b.broker_name;
        if n.is_empty()
            || n.len() > 50
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ProviderError::invalid(
                "broker_name",
                format!("{n:?}"),
                "1 to 50 characters of letters, digits, '-' and '_'",
            ));
        }
        if b.engine_type != "RABBITMQ" {
            return Err(ProviderError::invalid(
                "engine_type",
                format!("{:?}", b.engine_type),
                "this type manages RabbitMQ brokers only: use \"RABBITMQ\"",
            ));
        }
        let v = &b.engine_version;
        let parts: Vec<&str> = v.split('.').collect();
        if !(2..=3).contains(&parts.len())
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(ProviderError::invalid(
                "engine_version",
                format!("{v:?}"),
                "expected a RabbitMQ version like \"3.13\" or \"3.11.20\"",
            ));
        }
        if !b.host_instance_type.starts_with("mq.") {
            return Err(ProviderError::invalid(
                "host_instance_type",
                format!("{:?}", b.host_instance_type),
                "expected an Amazon MQ instance type like \"mq.m5.large\"",
            ));
        }
        match b.deployment_mode.as_str() {
            "SINGLE_INSTANCE" => {
                if b.subnet_ids.len() != 1 {
                    return Err(ProviderError::invalid(
                        "subnet_ids",
                        b.subnet_ids.len(),
                        "a SINGLE_INSTANCE broker takes exactly one subnet",
                    ));
                }
            }
            "CLUSTER_MULTI_AZ" => {
                if b.subnet_ids.len() < 2 {
                    return Err(ProviderError::invalid(
                        "subnet_ids",
                        b.subnet_ids.len(),
                        "a CLUSTER_MULTI_AZ broker takes at least two subnets in different AZs",
                    ));
                }
                if b.host_instance_type.starts_with("mq.t3.") {
                    return Err(ProviderError::invalid(
                        "host_instance_type",
                        format!("{:?}", b.host_instance_type),
                        "mq.t3 instances are single-instance only",
                    ));
                }
            }
            "ACTIVE_STANDBY_MULTI_AZ" => {
                return Err(ProviderError::invalid(
                    "deployment_mode",
                    "\"ACTIVE_STANDBY_MULTI_AZ\"",
                    "RabbitMQ brokers are SINGLE_INSTANCE or CLUSTER_MULTI_AZ; \
                     active/standby is ActiveMQ only",
                ))
            }
            other => {
                return Err(ProviderError::invalid(
                    "deployment_mode",
                    format!("{other:?}"),
                    "must be \"SINGLE_INSTANCE\" or \"CLUSTER_MULTI_AZ\"",
                ))
            }
        }
        if b.logs.audit {
            return Err(ProviderError::invalid(
                "logs.audit",
                true,
                "RabbitMQ brokers publish general logs only; audit logs are ActiveMQ only",
            ));
        }
        if b.users.len() != 1 {
            return Err(ProviderError::invalid(
                "users",
                b.users.len(),
                "a RabbitMQ broker is created with exactly one (admin) user",
            ));
        }
        for (i, u) in b.users.iter().enumerate() {
            let un = &u.username;
            if un.len() < 2
                || un.len() > 100
                || !un
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
            {
                return Err(ProviderError::invalid(
                    &format!("users[{i}].username"),
                    format!("{un:?}"),
                    "2 to 100 characters of letters, digits, '-', '.', '_' and '~'",
                ));
            }
            check_password(&format!("users[{i}].password"), &u.password)?;
        }
        if let Some(w) = &b.maintenance_window_start_time {
            const DAYS: [&str; 7] = [
                "MONDAY",
                "TUESDAY",
                "WEDNESDAY",
                "THURSDAY",
                "FRIDAY",
                "SATURDAY",
                "SUNDAY",
            ];
            if !DAYS.contains(&w.day_of_week.as_str()) {
                return Err(ProviderError::invalid(
                    "maintenance_window_start_time.day_of_week",
                    format!("{:?}", w.day_of_week),
                    "must be MONDAY .. SUNDAY",
                ));
            }
            let ok = w.time_of_day.split_once(':').is_some_and(|(h, m)| {
                h.len() == 2
                    && m.len() == 2
                    && h.parse::<u8>().is_ok_and(|h| h < 24)
                    && m.parse::<u8>().is_ok_and(|m| m < 60)
            });
            if !ok {
                return Err(ProviderError::invalid(
                    "maintenance_window_start_time.time_of_day",
                    format!("{:?}", w.time_of_day),
                    "expected HH:MM (24-hour)",
                ));
            }
        }
        tags::validate(&b.tags)
    }

    fn diff(&self, old: &Value, new: &Value) -> Diff {
        let mut d = field_diff(old, new, self.force_new());
        // A renamed admin user cannot be changed in place.
        let names = |v: &Value| -> Vec<Value> {
            v.get("users")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|u| u["username"].clone()).collect())
                .unwrap_or_default()
        };
        if d.changed.iter().any(|f| f == "users") && names(old) != names(new) {
            d.replace.push("users".into());
        }
        d
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let b: Broker = parse(inputs)?;
        let users = b
            .users
            .iter()
            .map(|u| {
                User::builder()
                    .username(&u.username)
                    .password(u.password.known().cloned().unwrap_or_default())
                    .console_access(u.console_access)
                    .build()
            })
            .collect();
        self.aws.limits.mq.acquire().await;
        let out = self
            .aws
            .mq()
            .await
            .create_broker()
            .broker_name(&b.broker_name)
            .engine_type(EngineType::Rabbitmq)
            .engine_version(&b.engine_version)
            .host_instance_type(&b.host_instance_type)
            .deployment_mode(DeploymentMode::from(b.deployment_mode.as_str()))
            .set_subnet_ids(Some(known(&b.subnet_ids)))
            .set_security_groups((!b.security_groups.is_empty()).then(|| known(&b.security_groups)))
            .publicly_accessible(b.publicly_accessible)
            .auto_minor_version_upgrade(b.auto_minor_version_upgrade)
            .logs(logs(&b.logs))
            .set_users(Some(users))
            .set_maintenance_window_start_time(b.maintenance_window_start_time.as_ref().map(window))
            .set_tags(Some(create_tags(&self.aws, ctx, &b.tags)))
            // Idempotent retries of the create call itself; a replacement (same
            // URN, other force-new fields) gets a token of its own. No secret
            // goes into the token.
            .creator_request_id(format!(
                "{:016x}",
                fnv1a(&format!(
                    "{}|{}|{}|{}|{:?}|{}",
                    ctx.urn,
                    b.broker_name,
                    b.engine_type,
                    b.deployment_mode,
                    known(&b.subnet_ids),
                    b.publicly_accessible
                ))
            ))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateBroker", e))?;
        let id = out.broker_id().unwrap_or_default().to_string();
        let live = self.wait_running(ctx, &id).await?;
        Ok(Created {
            id,
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
        let Some(b) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let declared: Option<Broker> = parse(inputs).ok();
        let live = self.live_inputs(ctx, &b, declared.as_ref()).await?;
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&b),
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
        let (o, n): (Broker, Broker) = (parse(old_inputs)?, parse(new_inputs)?);
        let mq = self.aws.mq().await;
        let mut req = mq.update_broker().broker_id(id);
        let mut any = false;
        if o.engine_version != n.engine_version {
            req = req.engine_version(&n.engine_version);
            any = true;
        }
        if o.host_instance_type != n.host_instance_type {
            req = req.host_instance_type(&n.host_instance_type);
            any = true;
        }
        if known(&o.security_groups) != known(&n.security_groups) {
            req = req.set_security_groups(Some(known(&n.security_groups)));
            any = true;
        }
        if o.auto_minor_version_upgrade != n.auto_minor_version_upgrade {
            req = req.auto_minor_version_upgrade(n.auto_minor_version_upgrade);
            any = true;
        }
        if o.logs != n.logs {
            req = req.logs(logs(&n.logs));
            any = true;
        }
        if o.maintenance_window_start_time != n.maintenance_window_start_time {
            if let Some(w) = &n.maintenance_window_start_time {
                req = req.maintenance_window_start_time(window(w));
                any = true;
            }
        }
        if any {
            self.aws.limits.mq.acquire().await;
            req.send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpdateBroker", e))?;
        }
        for u in &n.users {
            let before = o.users.iter().find(|x| x.username == u.username);
            let same = before.is_some_and(|b| {
                b.console_access == u.console_access && b.password.known() == u.password.known()
            });
            if same {
                continue;
            }
            self.aws.limits.mq.acquire().await;
            mq.update_user()
                .broker_id(id)
                .username(&u.username)
                .set_password(u.password.known().cloned())
                .console_access(u.console_access)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpdateUser", e))?;
        }
        let arn = old_outputs["arn"].as_str().unwrap_or_default();
        update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        if requires_reboot(&o, &n) {
            self.aws.limits.mq.acquire().await;
            mq.reboot_broker()
                .broker_id(id)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "RebootBroker", e))?;
        }
        let live = self.wait_running(ctx, id).await?;
        Ok(Self::outputs(&live))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.mq.acquire().await;
        if let Err(e) = self
            .aws
            .mq()
            .await
            .delete_broker()
            .broker_id(id)
            .send()
            .await
        {
            match error::map(&ctx.urn, "DeleteBroker", e) {
                ProviderError::NotFound(_) => return Ok(()),
                other => return Err(other),
            }
        }
        let s = &self.aws.settings;
        let start = Instant::now();
        loop {
            self.aws.limits.mq.acquire().await;
            let state = match self
                .aws
                .mq()
                .await
                .describe_broker()
                .broker_id(id)
                .send()
                .await
            {
                Ok(b) => b.broker_state().cloned(),
                Err(e) => match error::map(&ctx.urn, "DescribeBroker", e) {
                    ProviderError::NotFound(_) => break,
                    other => return Err(other),
                },
            };
            if start.elapsed() >= s.wait_timeout {
                return Err(ProviderError::Fatal(format!(
                    "{}: broker {id} still {} after {:?} (waiting for it to be gone)",
                    ctx.urn,
                    state.as_ref().map(|s| s.as_str()).unwrap_or("unknown"),
                    s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
        Ok(())
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let mq = self.aws.mq().await;
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            self.aws.limits.mq.acquire().await;
            let out = mq
                .list_brokers()
                .set_next_token(token)
                .max_results(100)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ListBrokers", e))?;
            ids.extend(
                out.broker_summaries()
                    .iter()
                    .filter(|b| b.broker_state() != Some(&BrokerState::DeletionInProgress))
                    .filter_map(|b| b.broker_id().map(str::to_string)),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for id in ids {
            if let Some(b) = self.describe(ctx, &id).await? {
                if from_tags(b.tags())
                    .get(tags::URN_TAG)
                    .is_some_and(|v| ctx.urn_tag_matches(v))
                {
                    found.push(Created {
                        id,
                        outputs: Self::outputs(&b),
                    });
                }
            }
        }
        Ok(found)
    }
}

/// A stable, short token from the URN (FNV-1a), for CreatorRequestId.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Broker {
        Broker::new(
            "orders",
            "3.13",
            "mq.m5.large",
            "subnet-1",
            BrokerUser::new("admin", Input::secret("Sup3r-secret-pw")),
        )
    }

    #[test]
    fn reboot_only_for_engine_instance_and_logs() {
        let a = base();
        let mut b = a.clone();
        b.auto_minor_version_upgrade = false;
        b.security_groups = vec!["sg-1".into()];
        assert!(!requires_reboot(&a, &b));
        b.host_instance_type = "mq.m5.xlarge".into();
        assert!(requires_reboot(&a, &b));
        let mut c = a.clone();
        c.logs.general = true;
        assert!(requires_reboot(&a, &c));
    }

    #[test]
    fn password_rules_do_not_echo_the_secret() {
        let e = check_password("users[0].password", &Input::secret("short")).unwrap_err();
        assert!(!e.to_string().contains("short"), "{e}");
        assert!(e.to_string().contains("12 to 250"), "{e}");
        let e = check_password("p", &Input::secret("abcdefghijk:lm")).unwrap_err();
        assert!(e.to_string().contains("':'"), "{e}");
        assert!(check_password("p", &Input::Unknown).is_ok());
        assert!(check_password("p", &Input::secret("Sup3r-secret-pw")).is_ok());
    }
}
