//! `aws:mq/Broker` (Terraform `aws_mq_broker`), RabbitMQ engine. Amazon MQ
//! takes RabbitMQ users at create only: it neither stores nor returns them
//! (DescribeBroker lists none) and UpdateUser / DescribeUser are ActiveMQ
//! only. So read keeps the declared users, and a change of them is refused
//! before any call (`update`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
use aws_sdk_mq::types::{
    BrokerState, DayOfWeek, DeploymentMode, EngineType, Logs, User, WeeklyStartTime,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_tags, Mq};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{check_id, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Broker {
    /// 1 to 50 characters of `[A-Za-z0-9_-]`.
    pub broker_name: String,
    /// Only `RABBITMQ`.
    pub engine_type: String,
    /// `3.13`, or `4.2` on mq.m7g hosts: major.minor only, Amazon MQ applies
    /// the patch versions itself.
    pub engine_version: String,
    /// e.g. `mq.m5.large`, `mq.t3.micro` (single-instance only).
    pub host_instance_type: String,
    /// `SINGLE_INSTANCE` or `CLUSTER_MULTI_AZ`.
    pub deployment_mode: String,
    /// One subnet for a single instance, two or more for a cluster.
    pub subnet_ids: Vec<Input<String>>,
    pub security_groups: Vec<Input<String>>,
    pub publicly_accessible: bool,
    /// Must stay true: Amazon MQ requires it from RabbitMQ 3.13 on.
    pub auto_minor_version_upgrade: bool,
    pub logs: BrokerLogs,
    /// RabbitMQ: exactly one (the admin user), set at create only.
    pub users: Vec<BrokerUser>,
    /// AWS picks a window when absent.
    pub maintenance_window_start_time: Option<MaintenanceWindow>,
    pub tags: Tags,
}

impl Default for Broker {
    fn default() -> Self {
        Broker {
            broker_name: String::new(),
            engine_type: "RABBITMQ".into(),
            engine_version: String::new(),
            host_instance_type: String::new(),
            deployment_mode: "SINGLE_INSTANCE".into(),
            subnet_ids: Vec::new(),
            security_groups: Vec::new(),
            publicly_accessible: false,
            auto_minor_version_upgrade: true,
            logs: BrokerLogs::default(),
            users: Vec::new(),
            maintenance_window_start_time: None,
            tags: Tags::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerLogs {
    pub general: bool,
    /// ActiveMQ only: refused for RabbitMQ.
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
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceWindow {
    /// `MONDAY` .. `SUNDAY`.
    pub day_of_week: String,
    /// `HH:MM`, 24-hour.
    pub time_of_day: String,
    pub time_zone: String,
}

impl Default for MaintenanceWindow {
    fn default() -> Self {
        MaintenanceWindow {
            day_of_week: String::new(),
            time_of_day: String::new(),
            time_zone: "UTC".into(),
        }
    }
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
            engine_version: engine_version.into(),
            host_instance_type: host_instance_type.into(),
            subnet_ids: vec![subnet_id.into()],
            users: vec![admin],
            ..Default::default()
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

/// The engine versions Amazon MQ creates RabbitMQ brokers on (3.11 and 3.12
/// are past end of support); one step at a time, never down.
const VERSIONS: &[&str] = &["3.13", "4.2"];

/// UpdateBroker, RebootBroker and DeleteBroker while the broker is creating
/// or rebooting.
const BUSY: Retry = Retry::conflict(&["ConflictException"], Duration::from_secs(600));

/// Changes that Amazon MQ keeps pending until the broker reboots (Terraform's
/// `apply_immediately` reboots for these). Security groups, the maintenance
/// window and auto minor upgrades apply without one.
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

fn check_deployment(b: &Broker) -> Result<(), ProviderError> {
    match b.deployment_mode.as_str() {
        "SINGLE_INSTANCE" if b.subnet_ids.len() != 1 => Err(ProviderError::invalid(
            "subnet_ids",
            b.subnet_ids.len(),
            "a SINGLE_INSTANCE broker takes exactly one subnet",
        )),
        "CLUSTER_MULTI_AZ" if b.subnet_ids.len() < 2 => Err(ProviderError::invalid(
            "subnet_ids",
            b.subnet_ids.len(),
            "a CLUSTER_MULTI_AZ broker takes at least two subnets in different AZs",
        )),
        "CLUSTER_MULTI_AZ" if b.host_instance_type.starts_with("mq.t3.") => {
            Err(ProviderError::invalid(
                "host_instance_type",
                format!("{:?}", b.host_instance_type),
                "mq.t3 instances are single-instance only",
            ))
        }
        "SINGLE_INSTANCE" | "CLUSTER_MULTI_AZ" => Ok(()),
        "ACTIVE_STANDBY_MULTI_AZ" => Err(ProviderError::invalid(
            "deployment_mode",
            "\"ACTIVE_STANDBY_MULTI_AZ\"",
            "RabbitMQ brokers are SINGLE_INSTANCE or CLUSTER_MULTI_AZ; \
             active/standby is ActiveMQ only",
        )),
        other => Err(ProviderError::invalid(
            "deployment_mode",
            format!("{other:?}"),
            "must be \"SINGLE_INSTANCE\" or \"CLUSTER_MULTI_AZ\"",
        )),
    }
}

fn check_window(w: &MaintenanceWindow) -> Result<(), ProviderError> {
    const DAYS: [&str; 7] = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ];
    one_of(
        "maintenance_window_start_time.day_of_week",
        &w.day_of_week,
        &DAYS,
    )?;
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
    Ok(())
}

fn require_all(field: &str, v: &[Input<String>]) -> Result<Vec<String>, ProviderError> {
    v.iter()
        .map(|i| i.require(field).cloned().map_err(Into::into))
        .collect()
}

/// What a user declaration sets: a change of it cannot be applied.
fn user_keys(b: &Broker) -> Vec<(&str, bool, Option<&String>)> {
    b.users
        .iter()
        .map(|u| (u.username.as_str(), u.console_access, u.password.known()))
        .collect()
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

async fn describe(
    cx: &Call<'_, Mq>,
    id: &str,
) -> Result<Option<DescribeBrokerOutput>, ProviderError> {
    cx.find("DescribeBroker", |c| {
        c.describe_broker().broker_id(id).send()
    })
    .await
}

async fn state(cx: &Call<'_, Mq>, id: &str) -> Result<Seen<()>, ProviderError> {
    Ok(match describe(cx, id).await? {
        None => Seen::Gone,
        Some(b) => Seen::State(
            b.broker_state()
                .map_or("CREATION_IN_PROGRESS", |s| s.as_str())
                .into(),
            (),
        ),
    })
}

/// `(id, name)` of the brokers tagged with this resource's URN.
async fn own(cx: &Call<'_, Mq>) -> Result<Vec<(String, String)>, ProviderError> {
    let pages = cx
        .pages(
            "ListBrokers",
            cx.client()
                .await
                .list_brokers()
                .max_results(100)
                .into_paginator()
                .send(),
        )
        .await?;
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.broker_summaries())
        .filter(|b| b.broker_state() != Some(&BrokerState::DeletionInProgress))
        .filter_map(|b| b.broker_id().map(str::to_string))
        .collect();
    let mut ours = Vec::new();
    for id in ids {
        let Some(b) = describe(cx, &id).await? else {
            continue;
        };
        let tagged = from_tags(b.tags())
            .get(URN_TAG)
            .is_some_and(|v| cx.ctx.urn_tag_matches(v));
        if tagged {
            ours.push((id, b.broker_name().unwrap_or_default().to_string()));
        }
    }
    Ok(ours)
}

#[async_trait]
impl AwsResource for Broker {
    type Service = Mq;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "broker_name",
            "engine_type",
            "deployment_mode",
            "subnet_ids",
            "publicly_accessible",
        ],
        unique_name: &["broker_name"],
        optional_computed: &["maintenance_window_start_time"],
        write_only: &["users"],
        normalize: &[
            ("engine_version", Norm::VersionPrefix),
            ("subnet_ids", Norm::Set),
            ("security_groups", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_mq_broker",
            args: &[
                ("broker_name", "broker_name"),
                ("engine_type", "engine_type"),
                ("engine_version", "engine_version"),
                ("host_instance_type", "host_instance_type"),
                ("deployment_mode", "deployment_mode"),
                ("subnet_ids", "subnet_ids"),
                ("security_groups", "security_groups"),
                ("publicly_accessible", "publicly_accessible"),
                ("auto_minor_version_upgrade", "auto_minor_version_upgrade"),
                ("logs.general", "logs.general"),
                ("logs.audit", "logs.audit"),
                ("users.username", "user.username"),
                ("users.password", "user.password"),
                ("users.console_access", "user.console_access"),
                (
                    "maintenance_window_start_time.day_of_week",
                    "maintenance_window_start_time.day_of_week",
                ),
                (
                    "maintenance_window_start_time.time_of_day",
                    "maintenance_window_start_time.time_of_day",
                ),
                (
                    "maintenance_window_start_time.time_zone",
                    "maintenance_window_start_time.time_zone",
                ),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        // A RabbitMQ broker has one endpoint per instance: amqps.
        tf_attrs: &[("amqps_endpoint", "instances[0].endpoints[0]")],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let n = &self.broker_name;
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
        if self.engine_type != "RABBITMQ" {
            return Err(ProviderError::invalid(
                "engine_type",
                format!("{:?}", self.engine_type),
                "this type manages RabbitMQ brokers only: use \"RABBITMQ\"",
            ));
        }
        if !VERSIONS.contains(&self.engine_version.as_str()) {
            return Err(ProviderError::invalid(
                "engine_version",
                format!("{:?}", self.engine_version),
                "Amazon MQ creates RabbitMQ \"3.13\" and \"4.2\" (major.minor: it applies \
                 patches itself; 3.11 and 3.12 are past end of support)",
            ));
        }
        if !self.host_instance_type.starts_with("mq.") {
            return Err(ProviderError::invalid(
                "host_instance_type",
                format!("{:?}", self.host_instance_type),
                "expected an Amazon MQ instance type like \"mq.m5.large\"",
            ));
        }
        if self.engine_version == "4.2" && !self.host_instance_type.starts_with("mq.m7g.") {
            return Err(ProviderError::invalid(
                "host_instance_type",
                format!("{:?}", self.host_instance_type),
                "RabbitMQ 4.2 runs on mq.m7g instances only (e.g. \"mq.m7g.large\")",
            ));
        }
        if !self.auto_minor_version_upgrade {
            return Err(ProviderError::invalid(
                "auto_minor_version_upgrade",
                false,
                "Amazon MQ requires it for RabbitMQ 3.13 and later",
            ));
        }
        check_deployment(self)?;
        for s in &self.subnet_ids {
            check_id("subnet_ids", s, "subnet")?;
        }
        for s in &self.security_groups {
            check_id("security_groups", s, "sg")?;
        }
        if self.logs.audit {
            return Err(ProviderError::invalid(
                "logs.audit",
                true,
                "RabbitMQ brokers publish general logs only; audit logs are ActiveMQ only",
            ));
        }
        if self.users.len() != 1 {
            return Err(ProviderError::invalid(
                "users",
                self.users.len(),
                "a RabbitMQ broker is created with exactly one (admin) user",
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
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
        match &self.maintenance_window_start_time {
            Some(w) => check_window(w),
            None => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, Mq>) -> Result<String, ProviderError> {
        let subnets = require_all("subnet_ids", &self.subnet_ids)?;
        let sgs = require_all("security_groups", &self.security_groups)?;
        let mut users = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            let password = u.password.require(&format!("users[{i}].password"))?;
            users.push(
                User::builder()
                    .username(&u.username)
                    .password(password)
                    .console_access(u.console_access)
                    .build(),
            );
        }
        // A random token per create attempt, resent unchanged by the SDK's
        // and the throttle retries of this request; a later create (after a
        // destroy, or a replacement) never gets an old broker back. An
        // engine retry of the whole create looks the broker up by URN tag.
        let token = format!("morket-{:032x}", rand::random::<u128>());
        let made = cx
            .try_send("CreateBroker", |c| {
                c.create_broker()
                    .broker_name(&self.broker_name)
                    .engine_type(EngineType::Rabbitmq)
                    .engine_version(&self.engine_version)
                    .host_instance_type(&self.host_instance_type)
                    .deployment_mode(DeploymentMode::from(self.deployment_mode.as_str()))
                    .set_subnet_ids(Some(subnets.clone()))
                    .set_security_groups((!sgs.is_empty()).then(|| sgs.clone()))
                    .publicly_accessible(self.publicly_accessible)
                    .auto_minor_version_upgrade(self.auto_minor_version_upgrade)
                    .logs(logs(&self.logs))
                    .set_users(Some(users.clone()))
                    .set_maintenance_window_start_time(
                        self.maintenance_window_start_time.as_ref().map(window),
                    )
                    .set_tags(Some(cx.all_tags(&self.tags).into_iter().collect()))
                    .creator_request_id(&token)
                    .send()
            })
            .await;
        match made {
            Ok(out) => out
                .broker_id()
                .map(str::to_string)
                .ok_or_else(|| cx.fatal("CreateBroker returned no broker id")),
            // The name is taken: by our own broker from an earlier attempt
            // (URN tag), carry on from it; anyone else's stays an error.
            Err(f) if f.code == "ConflictException" => own(cx)
                .await?
                .into_iter()
                .find(|(_, name)| *name == self.broker_name)
                .map(|(id, _)| id)
                .ok_or(f.error),
            Err(f) => Err(f.error),
        }
    }

    async fn after_create(&self, cx: &Call<'_, Mq>, id: &str) -> Result<(), ProviderError> {
        let what = format!("broker {id}");
        Wait::new(
            &what,
            &["CREATION_IN_PROGRESS", "REBOOT_IN_PROGRESS"],
            &["RUNNING"],
        )
        .after_create()
        .until(cx.settings(), || state(cx, id))
        .await
    }

    async fn read(
        cx: &Call<'_, Mq>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(b) = describe(cx, id)
            .await?
            .filter(|b| b.broker_state() != Some(&BrokerState::DeletionInProgress))
        else {
            return Ok(None);
        };
        let live_ids = |v: &[String]| v.iter().map(|s| Input::Value(s.clone())).collect();
        // Users are not readable (see the module doc): `..declared`.
        let args = Broker {
            broker_name: b.broker_name().unwrap_or_default().into(),
            engine_type: b
                .engine_type()
                .map_or("RABBITMQ".into(), |e| e.as_str().to_ascii_uppercase()),
            engine_version: b.engine_version().unwrap_or_default().into(),
            host_instance_type: b.host_instance_type().unwrap_or_default().into(),
            deployment_mode: b
                .deployment_mode()
                .map_or("SINGLE_INSTANCE", |d| d.as_str())
                .into(),
            subnet_ids: live_ids(b.subnet_ids()),
            security_groups: live_ids(b.security_groups()),
            publicly_accessible: b.publicly_accessible().unwrap_or(false),
            auto_minor_version_upgrade: b.auto_minor_version_upgrade().unwrap_or(false),
            logs: BrokerLogs {
                general: b.logs().and_then(|l| l.general()).unwrap_or(false),
                audit: b.logs().and_then(|l| l.audit()).unwrap_or(false),
            },
            maintenance_window_start_time: b.maintenance_window_start_time().map(|w| {
                MaintenanceWindow {
                    day_of_week: w
                        .day_of_week()
                        .map(|d| d.as_str().to_ascii_uppercase())
                        .unwrap_or_default(),
                    time_of_day: w.time_of_day().unwrap_or_default().into(),
                    time_zone: w.time_zone().unwrap_or("UTC").into(),
                }
            }),
            tags: cx.own_tags(&from_tags(b.tags())),
            ..declared.clone()
        };
        let inst = b.broker_instances().first();
        let outputs = json!({
            "id": id,
            "arn": b.broker_arn(),
            "broker_name": b.broker_name(),
            "amqps_endpoint": inst.and_then(|i| i.endpoints().iter().find(|e| e.starts_with("amqps://"))),
            "console_url": inst.and_then(|i| i.console_url()),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Mq>, id: &str) -> Result<(), ProviderError> {
        // Before any call, so nothing of the change is half applied.
        if user_keys(old) != user_keys(self) {
            return Err(ProviderError::invalid(
                "users",
                "(changed)",
                "Amazon MQ takes RabbitMQ users only when it creates the broker (it neither \
                 stores nor returns them, and UpdateUser is ActiveMQ-only): change the user \
                 in RabbitMQ itself and restore the declaration, or rename the broker to \
                 replace it",
            ));
        }
        let rank = |v: &str| VERSIONS.iter().position(|x| *x == v);
        if rank(&self.engine_version) < rank(&old.engine_version) {
            return Err(ProviderError::invalid(
                "engine_version",
                format!("{:?}", self.engine_version),
                format!(
                    "Amazon MQ never downgrades a broker (it runs {:?}): rename the broker \
                     to replace it",
                    old.engine_version
                ),
            ));
        }
        let changed = |a: &str, b: &str| (a != b).then(|| b.to_string());
        let version = changed(&old.engine_version, &self.engine_version);
        let host = changed(&old.host_instance_type, &self.host_instance_type);
        let sgs = require_all("security_groups", &self.security_groups)?;
        let old_sgs: Vec<Option<&String>> = old.security_groups.iter().map(Input::known).collect();
        let sgs = (old_sgs != sgs.iter().map(Some).collect::<Vec<_>>()).then_some(sgs);
        let minor = (old.auto_minor_version_upgrade != self.auto_minor_version_upgrade)
            .then_some(self.auto_minor_version_upgrade);
        let new_logs = (old.logs != self.logs).then(|| logs(&self.logs));
        let new_window = self
            .maintenance_window_start_time
            .as_ref()
            .filter(|_| old.maintenance_window_start_time != self.maintenance_window_start_time)
            .map(window);
        let any = version.is_some()
            || host.is_some()
            || sgs.is_some()
            || minor.is_some()
            || new_logs.is_some()
            || new_window.is_some();
        if any {
            cx.send_retrying("UpdateBroker", &[BUSY], |c| {
                c.update_broker()
                    .broker_id(id)
                    .set_engine_version(version.clone())
                    .set_host_instance_type(host.clone())
                    .set_security_groups(sgs.clone())
                    .set_auto_minor_version_upgrade(minor)
                    .set_logs(new_logs.clone())
                    .set_maintenance_window_start_time(new_window.clone())
                    .send()
            })
            .await?;
        }
        if old.tags != self.tags {
            let b = describe(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("broker {id} is gone")))?;
            cx.update_tags(b.broker_arn().unwrap_or_default(), &old.tags, &self.tags)
                .await?;
        }
        if requires_reboot(old, self) {
            cx.send_retrying("RebootBroker", &[BUSY], |c| {
                c.reboot_broker().broker_id(id).send()
            })
            .await?;
            // The broker shows REBOOT_IN_PROGRESS a few seconds after the call.
            let what = format!("broker {id}");
            Wait::new(&what, &["REBOOT_IN_PROGRESS"], &["RUNNING"])
                .after_modify(Duration::from_secs(30), 2)
                .until(cx.settings(), || state(cx, id))
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Mq>, id: &str) -> Result<(), ProviderError> {
        match describe(cx, id).await? {
            None => return Ok(()),
            // An earlier attempt's delete is under way.
            Some(b) if b.broker_state() == Some(&BrokerState::DeletionInProgress) => {}
            Some(_) => {
                cx.send_retrying("DeleteBroker", &[BUSY], |c| {
                    c.delete_broker().broker_id(id).send()
                })
                .await?;
            }
        }
        let what = format!("broker {id}");
        let pending = &[
            "DELETION_IN_PROGRESS",
            "RUNNING",
            "REBOOT_IN_PROGRESS",
            "CREATION_IN_PROGRESS",
            "CREATION_FAILED",
        ];
        Wait::new(&what, pending, &[])
            .until_gone(cx.settings(), || state(cx, id))
            .await
    }

    async fn find(&self, cx: &Call<'_, Mq>) -> Result<Vec<String>, ProviderError> {
        Ok(own(cx).await?.into_iter().map(|(id, _)| id).collect())
    }
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
        b.maintenance_window_start_time = Some(MaintenanceWindow::default());
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

    #[test]
    fn versions_amazon_mq_still_creates() {
        assert!(base().check().is_ok());
        for (v, host, field) in [
            ("3.11.20", "mq.m5.large", "engine_version"),
            ("3.12", "mq.m5.large", "engine_version"),
            ("3.13.7", "mq.m5.large", "engine_version"),
            ("4.2", "mq.m5.large", "host_instance_type"),
        ] {
            let b = Broker {
                engine_version: v.into(),
                host_instance_type: host.into(),
                ..base()
            };
            let e = b.check().unwrap_err().to_string();
            assert!(e.contains(field), "{v} on {host}: {e}");
        }
        let b = Broker {
            engine_version: "4.2".into(),
            host_instance_type: "mq.m7g.large".into(),
            ..base()
        };
        assert!(b.check().is_ok());
        let b = Broker {
            auto_minor_version_upgrade: false,
            ..base()
        };
        let e = b.check().unwrap_err().to_string();
        assert!(e.contains("auto_minor_version_upgrade"), "{e}");
    }
}
