//! `aws:ecs/TaskDefinition` (Terraform `aws_ecs_task_definition`).
//!
//! A revision is immutable: every input change registers a new revision, which
//! is modelled as an update whose outputs (`id`, `arn`, `revision`) change. The
//! previous revision stays registered so a service can roll back to it; delete
//! deregisters the current revision and the earlier ones of the family that
//! carry this resource's `morket:urn` tag.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, PortMapping, Secret, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{create_tags, from_tags, has_urn, known};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinition {
    pub family: String,
    /// CPU units as a string, e.g. "256" (Fargate: 256, 512, 1024, 2048, 4096, 8192, 16384).
    #[serde(default)]
    pub cpu: Option<String>,
    /// MiB as a string, e.g. "512"; must pair with `cpu` on Fargate.
    #[serde(default)]
    pub memory: Option<String>,
    #[serde(default = "awsvpc")]
    pub network_mode: String,
    #[serde(default = "fargate")]
    pub requires_compatibilities: Vec<String>,
    #[serde(default)]
    pub execution_role_arn: Option<Input<String>>,
    #[serde(default)]
    pub task_role_arn: Option<Input<String>>,
    pub container_definitions: Vec<Container>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub image: Input<String>,
    #[serde(default = "yes")]
    pub essential: bool,
    #[serde(default)]
    pub cpu: i32,
    #[serde(default)]
    pub memory: Option<i32>,
    #[serde(default)]
    pub port_mappings: Vec<PortMap>,
    #[serde(default)]
    pub environment: Vec<EnvVar>,
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub entry_point: Vec<String>,
    #[serde(default)]
    pub log_configuration: Option<LogConfig>,
    #[serde(default)]
    pub health_check: Option<Health>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMap {
    pub container_port: i32,
    /// `tcp` or `udp`.
    #[serde(default = "tcp")]
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub value: Input<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub name: String,
    /// ARN of a Secrets Manager secret (optionally with `:key::`) or an SSM parameter.
    pub value_from: Input<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_log_driver")]
    pub log_driver: String,
    /// e.g. `awslogs-group`, `awslogs-region`, `awslogs-stream-prefix`.
    #[serde(default)]
    pub options: BTreeMap<String, Input<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]` or `["CMD", ...]`.
    pub command: Vec<String>,
    #[serde(default = "thirty")]
    pub interval: i32,
    #[serde(default = "five")]
    pub timeout: i32,
    #[serde(default = "three")]
    pub retries: i32,
    #[serde(default)]
    pub start_period: i32,
}

fn awsvpc() -> String {
    "awsvpc".into()
}
fn fargate() -> Vec<String> {
    vec!["FARGATE".into()]
}
fn yes() -> bool {
    true
}
fn tcp() -> String {
    "tcp".into()
}
fn default_log_driver() -> String {
    "awslogs".into()
}
fn thirty() -> i32 {
    30
}
fn five() -> i32 {
    5
}
fn three() -> i32 {
    3
}

impl TaskDefinition {
    pub fn new(family: &str, cpu: &str, memory: &str, containers: Vec<Container>) -> Self {
        TaskDefinition {
            family: family.into(),
            cpu: Some(cpu.into()),
            memory: Some(memory.into()),
            network_mode: awsvpc(),
            requires_compatibilities: fargate(),
            execution_role_arn: None,
            task_role_arn: None,
            container_definitions: containers,
            tags: Tags::new(),
        }
    }
}

impl Container {
    pub fn new(name: &str, image: impl Into<Input<String>>) -> Self {
        Container {
            name: name.into(),
            image: image.into(),
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

fn outputs(td: &aws_sdk_ecs::types::TaskDefinition) -> Value {
    json!({
        "id": td.task_definition_arn(),
        "arn": td.task_definition_arn(),
        "family": td.family(),
        "revision": td.revision(),
    })
}

/// The ARN of the current revision: after an update it is in the outputs, while
/// the engine keeps the first revision's ARN as the id.
fn current_arn<'a>(id: &'a str, outputs: &'a Value) -> &'a str {
    outputs.get("arn").and_then(Value::as_str).unwrap_or(id)
}

fn container(c: &Container) -> Result<ContainerDefinition, ProviderError> {
    let field = |f: &str| format!("container_definitions.{}.{f}", c.name);
    let mut env = Vec::new();
    for e in &c.environment {
        env.push(
            KeyValuePair::builder()
                .name(&e.name)
                .value(known(&field("environment"), &e.value)?)
                .build(),
        );
    }
    let mut secrets = Vec::new();
    for s in &c.secrets {
        secrets.push(
            Secret::builder()
                .name(&s.name)
                .value_from(known(&field("secrets"), &s.value_from)?)
                .build()
                .map_err(|e| ProviderError::invalid(&field("secrets"), &s.name, e.to_string()))?,
        );
    }
    let log = match &c.log_configuration {
        None => None,
        Some(l) => {
            let mut opts = HashMap::new();
            for (k, v) in &l.options {
                opts.insert(k.clone(), known(&field("log_configuration.options"), v)?);
            }
            Some(
                LogConfiguration::builder()
                    .log_driver(LogDriver::from(l.log_driver.as_str()))
                    .set_options(Some(opts))
                    .build()
                    .map_err(|e| {
                        ProviderError::invalid(
                            &field("log_configuration"),
                            &l.log_driver,
                            e.to_string(),
                        )
                    })?,
            )
        }
    };
    let health = match &c.health_check {
        None => None,
        Some(h) => Some(
            HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .interval(h.interval)
                .timeout(h.timeout)
                .retries(h.retries)
                .start_period(h.start_period)
                .build()
                .map_err(|e| {
                    ProviderError::invalid(
                        &field("health_check"),
                        format!("{:?}", h.command),
                        e.to_string(),
                    )
                })?,
        ),
    };
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(known(&field("image"), &c.image)?)
        .essential(c.essential)
        .cpu(c.cpu)
        .set_memory(c.memory)
        .set_port_mappings(Some(
            c.port_mappings
                .iter()
                .map(|p| {
                    PortMapping::builder()
                        .container_port(p.container_port)
                        .protocol(TransportProtocol::from(p.protocol.as_str()))
                        .build()
                })
                .collect(),
        ))
        .set_environment(Some(env))
        .set_secrets(Some(secrets))
        .set_command((!c.command.is_empty()).then(|| c.command.clone()))
        .set_entry_point((!c.entry_point.is_empty()).then(|| c.entry_point.clone()))
        .set_log_configuration(log)
        .set_health_check(health)
        .build())
}

fn live_container(c: &ContainerDefinition) -> Container {
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
                protocol: p
                    .protocol()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(tcp),
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
            interval: h.interval().unwrap_or(30),
            timeout: h.timeout().unwrap_or(5),
            retries: h.retries().unwrap_or(3),
            start_period: h.start_period().unwrap_or(0),
        }),
    }
}

fn check_range(field: &str, v: i32, lo: i32, hi: i32) -> Result<(), ProviderError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            v,
            format!("must be between {lo} and {hi}"),
        ))
    }
}

pub struct TaskDefinitionProvider {
    aws: Arc<Aws>,
}

impl TaskDefinitionProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        TaskDefinitionProvider { aws }
    }

    async fn register(
        &self,
        ctx: &Ctx,
        t: &TaskDefinition,
    ) -> Result<aws_sdk_ecs::types::TaskDefinition, ProviderError> {
        let containers = t
            .container_definitions
            .iter()
            .map(container)
            .collect::<Result<Vec<_>, _>>()?;
        let exec = t
            .execution_role_arn
            .as_ref()
            .map(|i| known("execution_role_arn", i))
            .transpose()?;
        let task = t
            .task_role_arn
            .as_ref()
            .map(|i| known("task_role_arn", i))
            .transpose()?;
        self.aws.limits.ecs.acquire().await;
        let out = self
            .aws
            .ecs()
            .await
            .register_task_definition()
            .family(&t.family)
            .set_cpu(t.cpu.clone())
            .set_memory(t.memory.clone())
            .network_mode(NetworkMode::from(t.network_mode.as_str()))
            .set_requires_compatibilities(Some(
                t.requires_compatibilities
                    .iter()
                    .map(|c| Compatibility::from(c.as_str()))
                    .collect(),
            ))
            .set_execution_role_arn(exec)
            .set_task_role_arn(task)
            .set_container_definitions(Some(containers))
            .set_tags(Some(create_tags(&self.aws, ctx, &t.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "RegisterTaskDefinition", e))?;
        out.task_definition().cloned().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: RegisterTaskDefinition returned no task definition",
                ctx.urn
            ))
        })
    }

    /// The revision and its tags; `None` when missing or INACTIVE.
    async fn describe(
        &self,
        ctx: &Ctx,
        arn: &str,
    ) -> Result<Option<(aws_sdk_ecs::types::TaskDefinition, Tags)>, ProviderError> {
        self.aws.limits.ecs.acquire().await;
        match self
            .aws
            .ecs()
            .await
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .task_definition()
                .filter(|t| t.status() != Some(&TaskDefinitionStatus::Inactive))
                .map(|t| (t.clone(), from_tags(out.tags())))),
            Err(e) => match error::map(&ctx.urn, "DescribeTaskDefinition", e) {
                ProviderError::NotFound(_) => Ok(None),
                // AWS answers an unknown revision with a ClientException.
                ProviderError::Fatal(m)
                    if m.contains("ClientException") && m.contains("Unable to describe") =>
                {
                    Ok(None)
                }
                other => Err(other),
            },
        }
    }

    /// ACTIVE revisions of `family` tagged with this resource's URN, as (arn, revision).
    async fn tagged_revisions(
        &self,
        ctx: &Ctx,
        family: &str,
    ) -> Result<Vec<(String, i64)>, ProviderError> {
        let ecs = self.aws.ecs().await;
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            self.aws.limits.ecs.acquire().await;
            let out = ecs
                .list_task_definitions()
                .family_prefix(family)
                .status(TaskDefinitionStatus::Active)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ListTaskDefinitions", e))?;
            arns.extend(out.task_definition_arns().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for arn in arns {
            // The prefix also matches longer family names.
            let (fam, rev) = match arn.rsplit('/').next().and_then(|s| s.rsplit_once(':')) {
                Some((f, r)) => (f.to_string(), r.parse::<i64>().unwrap_or(0)),
                None => continue,
            };
            if fam != family {
                continue;
            }
            self.aws.limits.ecs.acquire().await;
            let tags = ecs
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ListTagsForResource", e))?;
            if has_urn(tags.tags(), ctx) {
                found.push((arn, rev));
            }
        }
        Ok(found)
    }

    async fn deregister(&self, ctx: &Ctx, arn: &str) -> Result<(), ProviderError> {
        self.aws.limits.ecs.acquire().await;
        match self
            .aws
            .ecs()
            .await
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeregisterTaskDefinition", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

#[async_trait]
impl Provider for TaskDefinitionProvider {
    fn type_name(&self) -> &'static str {
        TaskDefinition::TYPE
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["arn", "revision", "id"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ecs", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let t: TaskDefinition = parse(inputs)?;
        if t.family.is_empty()
            || t.family.len() > 255
            || !t
                .family
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ProviderError::invalid(
                "family",
                format!("{:?}", t.family),
                "1 to 255 letters, digits, hyphens and underscores",
            ));
        }
        if !matches!(
            t.network_mode.as_str(),
            "awsvpc" | "bridge" | "host" | "none"
        ) {
            return Err(ProviderError::invalid(
                "network_mode",
                format!("{:?}", t.network_mode),
                "must be awsvpc, bridge, host or none",
            ));
        }
        for c in &t.requires_compatibilities {
            if !matches!(c.as_str(), "FARGATE" | "EC2" | "EXTERNAL") {
                return Err(ProviderError::invalid(
                    "requires_compatibilities",
                    format!("{c:?}"),
                    "must be FARGATE, EC2 or EXTERNAL",
                ));
            }
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
        let (cpu, memory) = (num("cpu", &t.cpu)?, num("memory", &t.memory)?);
        if t.requires_compatibilities.iter().any(|c| c == "FARGATE") {
            if t.network_mode != "awsvpc" {
                return Err(ProviderError::invalid(
                    "network_mode",
                    format!("{:?}", t.network_mode),
                    "Fargate tasks need awsvpc",
                ));
            }
            let (Some(cpu), Some(memory)) = (cpu, memory) else {
                return Err(ProviderError::invalid(
                    "cpu",
                    format!("{:?}/{:?}", t.cpu, t.memory),
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
        if t.container_definitions.is_empty() {
            return Err(ProviderError::invalid(
                "container_definitions",
                "[]",
                "at least one container",
            ));
        }
        if !t.container_definitions.iter().any(|c| c.essential) {
            return Err(ProviderError::invalid(
                "container_definitions.essential",
                false,
                "at least one container must be essential",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &t.container_definitions {
            let f = |s: &str| format!("container_definitions.{}.{s}", c.name);
            if c.name.is_empty() || !names.insert(c.name.clone()) {
                return Err(ProviderError::invalid(
                    "container_definitions.name",
                    format!("{:?}", c.name),
                    "names are non-empty and unique",
                ));
            }
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
                check_range(
                    &f("port_mappings.container_port"),
                    p.container_port,
                    1,
                    65535,
                )?;
                if !matches!(p.protocol.as_str(), "tcp" | "udp") {
                    return Err(ProviderError::invalid(
                        &f("port_mappings.protocol"),
                        format!("{:?}", p.protocol),
                        "must be tcp or udp",
                    ));
                }
            }
            if let Some(l) = &c.log_configuration {
                if !matches!(
                    l.log_driver.as_str(),
                    "awslogs"
                        | "splunk"
                        | "awsfirelens"
                        | "fluentd"
                        | "gelf"
                        | "json-file"
                        | "journald"
                        | "syslog"
                ) {
                    return Err(ProviderError::invalid(
                        &f("log_configuration.log_driver"),
                        format!("{:?}", l.log_driver),
                        "unknown log driver",
                    ));
                }
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
                if !matches!(
                    h.command.first().map(String::as_str),
                    Some("CMD" | "CMD-SHELL" | "NONE")
                ) {
                    return Err(ProviderError::invalid(
                        &f("health_check.command"),
                        format!("{:?}", h.command),
                        "must start with CMD, CMD-SHELL or NONE",
                    ));
                }
                check_range(&f("health_check.interval"), h.interval, 5, 300)?;
                check_range(&f("health_check.timeout"), h.timeout, 2, 60)?;
                check_range(&f("health_check.retries"), h.retries, 1, 10)?;
                check_range(&f("health_check.start_period"), h.start_period, 0, 300)?;
            }
            if let (Some(m), Some(total)) = (c.memory, memory) {
                if m as u32 > total {
                    return Err(ProviderError::invalid(
                        &f("memory"),
                        m,
                        format!("more than the task's {total} MiB"),
                    ));
                }
            }
        }
        tags::validate(&t.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let t: TaskDefinition = parse(inputs)?;
        let td = self.register(ctx, &t).await?;
        Ok(Created {
            id: td.task_definition_arn().unwrap_or_default().to_string(),
            outputs: outputs(&td),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        outputs_now: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some((td, live_tags)) = self.describe(ctx, current_arn(id, outputs_now)).await? else {
            return Ok(None);
        };
        let live = TaskDefinition {
            family: td.family().unwrap_or_default().into(),
            cpu: td.cpu().map(str::to_string),
            memory: td.memory().map(str::to_string),
            network_mode: td
                .network_mode()
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(awsvpc),
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
            tags: tags::own_view(&self.aws.settings.default_tags, &live_tags),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: outputs(&td),
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _id: &str,
        _old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let t: TaskDefinition = parse(new_inputs)?;
        let td = self.register(ctx, &t).await?;
        Ok(outputs(&td))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs_now: &Value,
    ) -> Result<(), ProviderError> {
        let arn = current_arn(id, outputs_now).to_string();
        self.deregister(ctx, &arn).await?;
        // Earlier revisions this resource registered (kept for rollbacks until now).
        let current: i64 = outputs_now
            .get("revision")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        let family = outputs_now
            .get("family")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                inputs
                    .get("family")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        if let Some(family) = family {
            for (old, rev) in self.tagged_revisions(ctx, &family).await? {
                if rev < current {
                    self.deregister(ctx, &old).await?;
                }
            }
        }
        Ok(())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let Some(family) = inputs.get("family").and_then(Value::as_str) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for (arn, _) in self.tagged_revisions(ctx, family).await? {
            if let Some((td, _)) = self.describe(ctx, &arn).await? {
                found.push(Created {
                    id: arn,
                    outputs: outputs(&td),
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
