//! `aws:ecs/TaskDefinition` (Terraform `aws_ecs_task_definition`).
//!
//! A revision is immutable: a change registers a new revision, modelled as an
//! update whose outputs (`id`, `arn`, `revision`) change, while the engine
//! keeps the first revision's ARN as the id. The revisions an update
//! registers carry `morket:revision-of = <first revision>`, so read finds
//! this resource's newest ACTIVE revision (not one a pipeline registered in
//! the same family, nor a replacement's) and delete deregisters exactly its
//! revisions. Earlier ones stay ACTIVE until then, for service rollbacks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, PortMapping, Secret, TaskDefinition as EcsTaskDefinition, TaskDefinitionField,
    TaskDefinitionStatus, TransportProtocol,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_name, from_tags, to_tags, Ecs};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Conv, Norm, Schema, Tf};
use crate::provider::ProviderError;
use crate::value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskDefinition {
    pub family: String,
    /// CPU units as a string, e.g. "256" (Fargate: 256, 512, 1024, 2048, 4096, 8192, 16384).
    pub cpu: Option<String>,
    /// MiB as a string, e.g. "512"; must pair with `cpu` on Fargate.
    pub memory: Option<String>,
    pub network_mode: String,
    pub requires_compatibilities: Vec<String>,
    pub execution_role_arn: Option<Input<String>>,
    pub task_role_arn: Option<Input<String>>,
    pub container_definitions: Vec<Container>,
    pub tags: Tags,
}

impl Default for TaskDefinition {
    fn default() -> Self {
        TaskDefinition {
            family: String::new(),
            cpu: None,
            memory: None,
            network_mode: "awsvpc".into(),
            requires_compatibilities: vec!["FARGATE".into()],
            execution_role_arn: None,
            task_role_arn: None,
            container_definitions: Vec::new(),
            tags: Tags::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Container {
    pub name: String,
    pub image: Input<String>,
    pub essential: bool,
    pub cpu: i32,
    pub memory: Option<i32>,
    pub port_mappings: Vec<PortMap>,
    pub environment: Vec<EnvVar>,
    pub secrets: Vec<SecretRef>,
    pub command: Vec<String>,
    pub entry_point: Vec<String>,
    pub log_configuration: Option<LogConfig>,
    pub health_check: Option<Health>,
}

impl Default for Container {
    fn default() -> Self {
        Container {
            name: String::new(),
            image: Input::default(),
            essential: true,
            cpu: 0,
            memory: None,
            port_mappings: Vec::new(),
            environment: Vec::new(),
            secrets: Vec::new(),
            command: Vec::new(),
            entry_point: Vec::new(),
            log_configuration: None,
            health_check: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortMap {
    pub container_port: i32,
    /// `tcp` or `udp`.
    pub protocol: String,
}

impl Default for PortMap {
    fn default() -> Self {
        PortMap {
            container_port: 0,
            protocol: "tcp".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvVar {
    pub name: String,
    pub value: Input<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretRef {
    pub name: String,
    /// ARN of a Secrets Manager secret (optionally with `:key::`) or an SSM parameter.
    pub value_from: Input<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub log_driver: String,
    /// e.g. `awslogs-group`, `awslogs-region`, `awslogs-stream-prefix`.
    pub options: BTreeMap<String, Input<String>>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            log_driver: "awslogs".into(),
            options: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]` or `["CMD", ...]`.
    pub command: Vec<String>,
    pub interval: i32,
    pub timeout: i32,
    pub retries: i32,
    pub start_period: i32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            command: Vec::new(),
            interval: 30,
            timeout: 5,
            retries: 3,
            start_period: 0,
        }
    }
}

impl TaskDefinition {
    pub fn new(family: &str, cpu: &str, memory: &str, containers: Vec<Container>) -> Self {
        TaskDefinition {
            family: family.into(),
            cpu: Some(cpu.into()),
            memory: Some(memory.into()),
            container_definitions: containers,
            ..Default::default()
        }
    }
}

impl Container {
    pub fn new(name: &str, image: impl Into<Input<String>>) -> Self {
        Container {
            name: name.into(),
            image: image.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for TaskDefinition {
    const TYPE: &'static str = "aws:ecs/TaskDefinition";
}

impl Resource<TaskDefinition> {
    /// The ARN of the current revision (`family:revision`).
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn family(&self) -> Output<String> {
        self.output("family")
    }
    pub fn revision(&self) -> Output<i64> {
        self.output("revision")
    }
}

/// Fargate's allowed memory (MiB) for each CPU size.
pub fn fargate_memory_ok(cpu: u32, memory: u32) -> bool {
    let gib = |g: u32| g * 1024;
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => (gib(1)..=gib(4)).contains(&memory) && memory % 1024 == 0,
        1024 => (gib(2)..=gib(8)).contains(&memory) && memory % 1024 == 0,
        2048 => (gib(4)..=gib(16)).contains(&memory) && memory % 1024 == 0,
        4096 => (gib(8)..=gib(30)).contains(&memory) && memory % 1024 == 0,
        8192 => (gib(16)..=gib(60)).contains(&memory) && memory % gib(4) == 0,
        16384 => (gib(32)..=gib(120)).contains(&memory) && memory % gib(8) == 0,
        _ => false,
    }
}

/// On the revisions an update registers: the resource's first revision.
const REVISION_OF: &str = "morket:revision-of";

/// `(family, revision)` of `arn:…:task-definition/family:revision`.
fn split_arn(arn: &str) -> Option<(&str, i32)> {
    let (family, rev) = arn.rsplit('/').next()?.rsplit_once(':')?;
    Some((family, rev.parse().ok()?))
}

/// `arn` with another revision.
fn with_revision(arn: &str, rev: &str) -> String {
    let base = arn.rsplit_once(':').map_or(arn, |(b, _)| b);
    format!("{base}:{rev}")
}

/// The containers (as the stack holds them) in the ECS API's JSON, which
/// Terraform takes as `container_definitions`: keys in camelCase, empty
/// values left out, as [`container`] sends them. Log option names and
/// engine markers are kept as they are.
pub fn api_containers(v: &Value) -> Value {
    fn camel(k: &str) -> String {
        let mut out = String::new();
        let mut up = false;
        for c in k.chars() {
            match (c, up) {
                ('_', _) => up = true,
                (c, true) => {
                    out.extend(c.to_uppercase());
                    up = false;
                }
                (c, false) => out.push(c),
            }
        }
        out
    }
    fn go(v: &Value, keep_keys: bool) -> Option<Value> {
        if value::as_ref(v).is_some()
            || value::as_concat(v).is_some()
            || value::as_secret(v).is_some()
            || value::as_sealed(v).is_some()
        {
            return Some(v.clone());
        }
        match v {
            Value::Null => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Object(m) if m.is_empty() => None,
            Value::Array(a) => Some(Value::Array(
                a.iter().filter_map(|x| go(x, false)).collect(),
            )),
            Value::Object(m) => Some(Value::Object(
                m.iter()
                    .filter_map(|(k, x)| {
                        let key = if keep_keys { k.clone() } else { camel(k) };
                        go(x, k == "options").map(|x| (key, x))
                    })
                    .collect(),
            )),
            v => Some(v.clone()),
        }
    }
    go(v, false).unwrap_or(Value::Array(Vec::new()))
}

fn container(c: &Container) -> Result<ContainerDefinition, ProviderError> {
    let field = |f: &str| format!("container_definitions.{}.{f}", c.name);
    let mut env = Vec::new();
    for e in &c.environment {
        env.push(
            KeyValuePair::builder()
                .name(&e.name)
                .value(e.value.require(&field("environment"))?)
                .build(),
        );
    }
    let mut secrets = Vec::new();
    for s in &c.secrets {
        secrets.push(
            Secret::builder()
                .name(&s.name)
                .value_from(s.value_from.require(&field("secrets"))?)
                .build()
                .map_err(|e| ProviderError::invalid(&field("secrets"), &s.name, e.to_string()))?,
        );
    }
    let log = match &c.log_configuration {
        None => None,
        Some(l) => {
            let mut opts = HashMap::new();
            for (k, v) in &l.options {
                opts.insert(
                    k.clone(),
                    v.require(&field("log_configuration.options"))?.clone(),
                );
            }
            let built = LogConfiguration::builder()
                .log_driver(LogDriver::from(l.log_driver.as_str()))
                .set_options(Some(opts))
                .build();
            Some(built.map_err(|e| {
                ProviderError::invalid(&field("log_configuration"), &l.log_driver, e.to_string())
            })?)
        }
    };
    let health = match &c.health_check {
        None => None,
        Some(h) => {
            let built = HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .interval(h.interval)
                .timeout(h.timeout)
                .retries(h.retries)
                .start_period(h.start_period)
                .build();
            Some(built.map_err(|e| {
                ProviderError::invalid(
                    &field("health_check"),
                    format!("{:?}", h.command),
                    e.to_string(),
                )
            })?)
        }
    };
    let ports = c
        .port_mappings
        .iter()
        .map(|p| {
            PortMapping::builder()
                .container_port(p.container_port)
                .protocol(TransportProtocol::from(p.protocol.as_str()))
                .build()
        })
        .collect();
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(c.image.require(&field("image"))?)
        .essential(c.essential)
        .cpu(c.cpu)
        .set_memory(c.memory)
        .set_port_mappings(Some(ports))
        .set_environment(Some(env))
        .set_secrets(Some(secrets))
        .set_command((!c.command.is_empty()).then(|| c.command.clone()))
        .set_entry_point((!c.entry_point.is_empty()).then(|| c.entry_point.clone()))
        .set_log_configuration(log)
        .set_health_check(health)
        .build())
}

fn live_container(c: &ContainerDefinition) -> Container {
    let d = Health::default();
    Container {
        name: c.name().unwrap_or_default().into(),
        image: c.image().unwrap_or_default().into(),
        essential: c.essential().unwrap_or(true),
        cpu: c.cpu(),
        memory: c.memory(),
        port_mappings: c
            .port_mappings()
            .iter()
            .map(|p| PortMap {
                container_port: p.container_port().unwrap_or_default(),
                protocol: p.protocol().map_or("tcp", |p| p.as_str()).into(),
            })
            .collect(),
        environment: c
            .environment()
            .iter()
            .map(|e| EnvVar {
                name: e.name().unwrap_or_default().into(),
                value: e.value().unwrap_or_default().into(),
            })
            .collect(),
        secrets: c
            .secrets()
            .iter()
            .map(|s| SecretRef {
                name: s.name().into(),
                value_from: s.value_from().into(),
            })
            .collect(),
        command: c.command().to_vec(),
        entry_point: c.entry_point().to_vec(),
        log_configuration: c.log_configuration().map(|l| LogConfig {
            log_driver: l.log_driver().as_str().into(),
            options: l
                .options()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), Input::Value(v.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        }),
        health_check: c.health_check().map(|h| Health {
            command: h.command().to_vec(),
            interval: h.interval().unwrap_or(d.interval),
            timeout: h.timeout().unwrap_or(d.timeout),
            retries: h.retries().unwrap_or(d.retries),
            start_period: h.start_period().unwrap_or(d.start_period),
        }),
    }
}

/// ACTIVE revisions of exactly `family` (the API matches a prefix), newest first.
async fn active_revisions(
    cx: &Call<'_, Ecs>,
    family: &str,
) -> Result<Vec<(String, i32)>, ProviderError> {
    let pages = cx
        .pages(
            "ListTaskDefinitions",
            cx.client()
                .await
                .list_task_definitions()
                .family_prefix(family)
                .status(TaskDefinitionStatus::Active)
                .into_paginator()
                .send(),
        )
        .await?;
    let mut revs: Vec<(String, i32)> = pages
        .iter()
        .flat_map(|p| p.task_definition_arns())
        .filter_map(|arn| match split_arn(arn) {
            Some((f, rev)) if f == family => Some((arn.clone(), rev)),
            _ => None,
        })
        .collect();
    revs.sort_by_key(|r| std::cmp::Reverse(r.1));
    Ok(revs)
}

/// The revision and its tags; `None` when missing or INACTIVE.
async fn describe(
    cx: &Call<'_, Ecs>,
    arn: &str,
) -> Result<Option<(EcsTaskDefinition, Tags)>, ProviderError> {
    let out = cx
        .try_send("DescribeTaskDefinition", |c| {
            c.describe_task_definition()
                .task_definition(arn)
                .include(TaskDefinitionField::Tags)
                .send()
        })
        .await;
    let out = match out {
        Ok(o) => o,
        // AWS answers an unknown revision with a ClientException.
        Err(f) if f.code == "ClientException" && f.message.contains("Unable to describe") => {
            return Ok(None)
        }
        Err(f) => return Err(f.error),
    };
    Ok(out
        .task_definition()
        .filter(|t| t.status() != Some(&TaskDefinitionStatus::Inactive))
        .map(|t| (t.clone(), from_tags(out.tags()))))
}

/// The ACTIVE revisions of the resource whose first revision is `id`,
/// newest first (only the newest when `newest_only`).
async fn revisions_of(
    cx: &Call<'_, Ecs>,
    id: &str,
    newest_only: bool,
) -> Result<Vec<(EcsTaskDefinition, Tags)>, ProviderError> {
    let (family, first) =
        split_arn(id).ok_or_else(|| cx.fatal(format!("{id} is not a task definition ARN")))?;
    let mut out = Vec::new();
    for (arn, rev) in active_revisions(cx, family).await? {
        if rev < first {
            break;
        }
        let Some((td, tags)) = describe(cx, &arn).await? else {
            continue;
        };
        if rev == first || tags.get(REVISION_OF) == Some(&first.to_string()) {
            out.push((td, tags));
            if newest_only {
                break;
            }
        }
    }
    Ok(out)
}

async fn newest(
    cx: &Call<'_, Ecs>,
    id: &str,
) -> Result<Option<(EcsTaskDefinition, Tags)>, ProviderError> {
    Ok(revisions_of(cx, id, true).await?.into_iter().next())
}

fn arn_of(td: &EcsTaskDefinition) -> String {
    td.task_definition_arn().unwrap_or_default().to_string()
}

/// Registers a revision of `t`; `first` marks one an update registers.
async fn register(
    cx: &Call<'_, Ecs>,
    t: &TaskDefinition,
    first: Option<i32>,
) -> Result<String, ProviderError> {
    let containers = t
        .container_definitions
        .iter()
        .map(container)
        .collect::<Result<Vec<_>, _>>()?;
    let role = |field: &str, v: &Option<Input<String>>| {
        v.as_ref().map(|v| v.require(field).cloned()).transpose()
    };
    let exec = role("execution_role_arn", &t.execution_role_arn)?;
    let task = role("task_role_arn", &t.task_role_arn)?;
    let mut tags = cx.all_tags(&t.tags);
    if let Some(first) = first {
        tags.insert(REVISION_OF.into(), first.to_string());
    }
    let compat: Vec<Compatibility> = t
        .requires_compatibilities
        .iter()
        .map(|c| Compatibility::from(c.as_str()))
        .collect();
    // No idempotency token: a retry after a lost answer registers another
    // revision, which the engine finds by its URN tag first.
    let out = cx
        .send("RegisterTaskDefinition", |c| {
            c.register_task_definition()
                .family(&t.family)
                .set_cpu(t.cpu.clone())
                .set_memory(t.memory.clone())
                .network_mode(NetworkMode::from(t.network_mode.as_str()))
                .set_requires_compatibilities(Some(compat.clone()))
                .set_execution_role_arn(exec.clone())
                .set_task_role_arn(task.clone())
                .set_container_definitions(Some(containers.clone()))
                .set_tags(Some(to_tags(&tags)))
                .send()
        })
        .await?;
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_string)
        .ok_or_else(|| cx.fatal("RegisterTaskDefinition returned no task definition"))
}

fn check_container(c: &Container, task_memory: Option<u32>) -> Result<(), ProviderError> {
    let f = |s: &str| format!("container_definitions.{}.{s}", c.name);
    if let Input::Value(i) | Input::Secret(i) = &c.image {
        if i.is_empty() {
            return Err(ProviderError::invalid(
                &f("image"),
                "\"\"",
                "an image is required",
            ));
        }
    }
    for p in &c.port_mappings {
        in_range(
            &f("port_mappings.container_port"),
            p.container_port,
            1..=65535,
        )?;
        one_of(&f("port_mappings.protocol"), &p.protocol, &["tcp", "udp"])?;
    }
    if let Some(l) = &c.log_configuration {
        one_of(
            &f("log_configuration.log_driver"),
            &l.log_driver,
            &[
                "awslogs",
                "splunk",
                "awsfirelens",
                "fluentd",
                "gelf",
                "json-file",
                "journald",
                "syslog",
            ],
        )?;
        if l.log_driver == "awslogs" {
            for k in ["awslogs-group", "awslogs-region"] {
                if !l.options.contains_key(k) {
                    return Err(ProviderError::invalid(
                        &f("log_configuration.options"),
                        k,
                        "awslogs needs awslogs-group and awslogs-region",
                    ));
                }
            }
        }
    }
    if let Some(h) = &c.health_check {
        let first = h.command.first().map_or("", String::as_str);
        if !["CMD", "CMD-SHELL", "NONE"].contains(&first) {
            return Err(ProviderError::invalid(
                &f("health_check.command"),
                format!("{:?}", h.command),
                "must start with CMD, CMD-SHELL or NONE",
            ));
        }
        in_range(&f("health_check.interval"), h.interval, 5..=300)?;
        in_range(&f("health_check.timeout"), h.timeout, 2..=60)?;
        in_range(&f("health_check.retries"), h.retries, 1..=10)?;
        in_range(&f("health_check.start_period"), h.start_period, 0..=300)?;
    }
    if let (Some(m), Some(total)) = (c.memory, task_memory) {
        if m as u32 > total {
            return Err(ProviderError::invalid(
                &f("memory"),
                m,
                format!("more than the task's {total} MiB"),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl AwsResource for TaskDefinition {
    type Service = Ecs;
    const SCHEMA: Schema = Schema {
        // The id is a revision of the family: another family is another resource.
        force_new: &["family"],
        computed_on_update: &["arn", "revision", "id"],
        normalize: &[("requires_compatibilities", Norm::Set)],
        tf_values: &[("container_definitions", Conv::Json(api_containers))],
        terraform: &[Tf {
            resource: "aws_ecs_task_definition",
            args: &[
                ("family", "family"),
                ("cpu", "cpu"),
                ("memory", "memory"),
                ("network_mode", "network_mode"),
                ("requires_compatibilities", "requires_compatibilities"),
                ("execution_role_arn", "execution_role_arn"),
                ("task_role_arn", "task_role_arn"),
                ("container_definitions", "container_definitions"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("family", &self.family)?;
        one_of(
            "network_mode",
            &self.network_mode,
            &["awsvpc", "bridge", "host", "none"],
        )?;
        for c in &self.requires_compatibilities {
            one_of(
                "requires_compatibilities",
                c,
                &["FARGATE", "EC2", "EXTERNAL"],
            )?;
        }
        let num = |field: &str, v: &Option<String>| -> Result<Option<u32>, ProviderError> {
            v.as_ref()
                .map(|s| {
                    s.parse::<u32>().map_err(|_| {
                        ProviderError::invalid(
                            field,
                            format!("{s:?}"),
                            "must be a whole number as a string, e.g. \"512\"",
                        )
                    })
                })
                .transpose()
        };
        let (cpu, memory) = (num("cpu", &self.cpu)?, num("memory", &self.memory)?);
        if self.requires_compatibilities.iter().any(|c| c == "FARGATE") {
            if self.network_mode != "awsvpc" {
                return Err(ProviderError::invalid(
                    "network_mode",
                    format!("{:?}", self.network_mode),
                    "Fargate tasks need awsvpc",
                ));
            }
            let (Some(cpu), Some(memory)) = (cpu, memory) else {
                return Err(ProviderError::invalid(
                    "cpu",
                    format!("{:?}/{:?}", self.cpu, self.memory),
                    "Fargate tasks need both cpu and memory",
                ));
            };
            if !fargate_memory_ok(cpu, memory) {
                return Err(ProviderError::invalid(
                    "memory",
                    format!("cpu {cpu} / memory {memory}"),
                    "not a Fargate cpu/memory combination (e.g. 256: 512-2048; 512: 1024-4096; 1024: 2048-8192; 2048: 4096-16384; 4096: 8192-30720, in 1024 steps)",
                ));
            }
        }
        if self.container_definitions.is_empty() {
            return Err(ProviderError::invalid(
                "container_definitions",
                "[]",
                "at least one container",
            ));
        }
        if !self.container_definitions.iter().any(|c| c.essential) {
            return Err(ProviderError::invalid(
                "container_definitions.essential",
                false,
                "at least one container must be essential",
            ));
        }
        let mut names = BTreeSet::new();
        for c in &self.container_definitions {
            if c.name.is_empty() || !names.insert(c.name.as_str()) {
                return Err(ProviderError::invalid(
                    "container_definitions.name",
                    format!("{:?}", c.name),
                    "names are non-empty and unique",
                ));
            }
            check_container(c, memory)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ecs>) -> Result<String, ProviderError> {
        register(cx, self, None).await
    }

    async fn read(
        cx: &Call<'_, Ecs>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some((td, live_tags)) = newest(cx, id).await? else {
            return Ok(None);
        };
        let args = TaskDefinition {
            family: td.family().unwrap_or_default().into(),
            cpu: td.cpu().map(str::to_string),
            memory: td.memory().map(str::to_string),
            network_mode: td.network_mode().map_or("awsvpc", |m| m.as_str()).into(),
            requires_compatibilities: td
                .requires_compatibilities()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            execution_role_arn: td.execution_role_arn().map(Input::from),
            task_role_arn: td.task_role_arn().map(Input::from),
            container_definitions: td
                .container_definitions()
                .iter()
                .map(live_container)
                .collect(),
            tags: cx.own_tags(&live_tags),
        };
        let outputs = json!({
            "id": td.task_definition_arn(),
            "arn": td.task_definition_arn(),
            "family": td.family(),
            "revision": td.revision(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        let untagged = |t: &Self| Self {
            tags: Tags::new(),
            ..t.clone()
        };
        if untagged(old) == untagged(self) {
            // Tags change in place on the current revision.
            let current = newest(cx, id)
                .await?
                .map(|(t, _)| arn_of(&t))
                .ok_or_else(|| ProviderError::NotFound(format!("{id} has no ACTIVE revision")))?;
            return cx.update_tags(&current, &old.tags, &self.tags).await;
        }
        let (_, first) =
            split_arn(id).ok_or_else(|| cx.fatal(format!("{id} is not a task definition ARN")))?;
        let arn = register(cx, self, Some(first)).await?;
        // Read must see the new revision before its ARN becomes the output
        // (ListTaskDefinitions lags behind the register call).
        Wait::new("the new revision", &[], &["listed"])
            .after_create()
            .until(cx.settings(), || async {
                let now = newest(cx, id).await?.map(|(t, _)| arn_of(&t));
                Ok(if now.as_ref() == Some(&arn) {
                    Seen::State("listed".into(), ())
                } else {
                    Seen::Gone
                })
            })
            .await
    }

    async fn delete(&self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        for (td, _) in revisions_of(cx, id, false).await? {
            let arn = arn_of(&td);
            cx.send("DeregisterTaskDefinition", |c| {
                c.deregister_task_definition().task_definition(&arn).send()
            })
            .await?;
        }
        Ok(())
    }

    async fn find(&self, cx: &Call<'_, Ecs>) -> Result<Vec<String>, ProviderError> {
        // Each resource is named by its first revision.
        let mut ids = BTreeSet::new();
        for (arn, _) in active_revisions(cx, &self.family).await? {
            if let Some((_, tags)) = describe(cx, &arn).await? {
                if cx.is_ours(&tags) {
                    ids.insert(match tags.get(REVISION_OF) {
                        Some(first) => with_revision(&arn, first),
                        None => arn,
                    });
                }
            }
        }
        Ok(ids.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON Terraform gets (`api_containers`) and the request ECS gets
    /// (`container`) say the same, field by field, for a container that
    /// sets every field; a field added to `Container` and not to this
    /// test fails the key check.
    #[test]
    fn container_json_is_the_request_ecs_gets() {
        let c = Container {
            name: "app".into(),
            image: "repo/app:1".into(),
            essential: true,
            cpu: 128,
            memory: Some(256),
            port_mappings: vec![PortMap {
                container_port: 3000,
                protocol: "tcp".into(),
            }],
            environment: vec![EnvVar {
                name: "A".into(),
                value: "1".into(),
            }],
            secrets: vec![SecretRef {
                name: "PW".into(),
                value_from: "arn:aws:secretsmanager:us-east-1:1:secret:pw".into(),
            }],
            command: vec!["run".into()],
            entry_point: vec!["/bin/sh".into(), "-c".into()],
            log_configuration: Some(LogConfig {
                log_driver: "awslogs".into(),
                options: BTreeMap::from([("awslogs-group".to_string(), "/app".into())]),
            }),
            health_check: Some(Health {
                command: vec!["CMD-SHELL".into(), "true".into()],
                interval: 10,
                timeout: 3,
                retries: 2,
                start_period: 5,
            }),
        };
        let sdk = container(&c).unwrap();
        let j = api_containers(&serde_json::to_value(vec![&c]).unwrap())[0].clone();
        let keys: BTreeSet<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "name",
                "image",
                "essential",
                "cpu",
                "memory",
                "portMappings",
                "environment",
                "secrets",
                "command",
                "entryPoint",
                "logConfiguration",
                "healthCheck",
            ])
        );
        assert_eq!(j["name"], json!(sdk.name()));
        assert_eq!(j["image"], json!(sdk.image()));
        assert_eq!(j["essential"], json!(sdk.essential()));
        assert_eq!(j["cpu"], json!(sdk.cpu()));
        assert_eq!(j["memory"], json!(sdk.memory()));
        let p = &sdk.port_mappings()[0];
        assert_eq!(
            j["portMappings"][0]["containerPort"],
            json!(p.container_port())
        );
        assert_eq!(
            j["portMappings"][0]["protocol"],
            json!(p.protocol().map(|x| x.as_str()))
        );
        let e = &sdk.environment()[0];
        assert_eq!(
            j["environment"][0],
            json!({"name": e.name(), "value": e.value()})
        );
        let sc = &sdk.secrets()[0];
        assert_eq!(
            j["secrets"][0],
            json!({"name": sc.name(), "valueFrom": sc.value_from()})
        );
        assert_eq!(j["command"], json!(sdk.command()));
        assert_eq!(j["entryPoint"], json!(sdk.entry_point()));
        let l = sdk.log_configuration().unwrap();
        assert_eq!(
            j["logConfiguration"]["logDriver"],
            json!(l.log_driver().as_str())
        );
        assert_eq!(j["logConfiguration"]["options"], json!(l.options()));
        let h = sdk.health_check().unwrap();
        assert_eq!(
            j["healthCheck"],
            json!({"command": h.command(), "interval": h.interval(), "timeout": h.timeout(),
                "retries": h.retries(), "startPeriod": h.start_period()})
        );
    }

    #[test]
    fn fargate_pairs() {
        assert!(fargate_memory_ok(256, 512));
        assert!(!fargate_memory_ok(256, 4096));
        assert!(fargate_memory_ok(1024, 3072));
        assert!(!fargate_memory_ok(1024, 1024));
        assert!(fargate_memory_ok(4096, 30720));
        assert!(!fargate_memory_ok(4096, 30721));
        assert!(fargate_memory_ok(8192, 20480));
        assert!(!fargate_memory_ok(8192, 17408));
        assert!(!fargate_memory_ok(300, 512));
    }

    #[test]
    fn revision_arns() {
        let arn = "arn:aws:ecs:us-east-1:1:task-definition/web-api:12";
        assert_eq!(split_arn(arn), Some(("web-api", 12)));
        assert_eq!(split_arn("web"), None);
        assert_eq!(
            with_revision(arn, "3"),
            "arn:aws:ecs:us-east-1:1:task-definition/web-api:3"
        );
    }
}
