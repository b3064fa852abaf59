//! `aws:ecs/TaskRun`: one ECS task run to completion, and again whenever
//! what it runs changes (`triggers` adds what else should, such as the
//! image tag). A deploy's migrations are this (seed 000 R18): a non-zero exit
//! fails the apply with the task's log tail, and what depends on the run
//! (the new task definition, the service) is not touched.
//!
//! A run is an event, not a lasting object. Every input but `timeout`,
//! `log_lines` and `tags` forces a new run; delete stops a task still
//! running and otherwise has nothing to do. The live `exit_code` is the
//! container's, so a run that failed, timed out or was cut off by a kill is
//! recorded as it is (tracked, never lost) and differs from the declared
//! success code: the next plan runs it again. ECS lists a stopped task for
//! about an hour; a run it no longer lists reads as recorded. Terraform has
//! no counterpart (a pipeline step runs tasks there): the export leaves it
//! out (`export::terraform::ENGINE_ONLY`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    ContainerOverride, DesiredStatus, LaunchType, Task, TaskField, TaskOverride,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::service::{awsvpc, AwsVpcConfig};
use super::{check_name, from_tags, Ecs, LINKED_ROLE};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::logs::Logs;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::aws::AwsSettings;
use crate::provider::schema::Schema;
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskRun {
    /// The cluster's name or ARN.
    pub cluster: Input<String>,
    /// The ARN of the task definition revision to run.
    pub task_definition: Input<String>,
    /// The container whose exit code is the run's, and whose command
    /// `command` replaces.
    pub container_name: String,
    /// Replaces the container's command; empty runs the task definition's.
    pub command: Vec<String>,
    /// `FARGATE` or `EC2`.
    pub launch_type: String,
    /// The tasks' network (`awsvpc`): a service's subnets and security groups.
    pub network_configuration: Option<AwsVpcConfig>,
    /// Values whose change runs the task again (an image tag, a hash of
    /// the migration files).
    pub triggers: BTreeMap<String, Input<String>>,
    /// The exit code that counts as success; a live run reads with the
    /// container's own (none while it runs or when it never started).
    pub exit_code: Option<i32>,
    /// How long a run may take before the apply fails (the task is left
    /// running: a migration cut off midway is worse than a late one).
    pub timeout: String,
    /// Lines of the container's log shown when the run fails.
    pub log_lines: i32,
    pub tags: Tags,
}

impl Default for TaskRun {
    fn default() -> Self {
        TaskRun {
            cluster: Input::default(),
            task_definition: Input::default(),
            container_name: String::new(),
            command: Vec::new(),
            launch_type: "FARGATE".into(),
            network_configuration: None,
            triggers: BTreeMap::new(),
            exit_code: Some(0),
            timeout: "30m".into(),
            log_lines: 30,
            tags: Tags::new(),
        }
    }
}

impl TaskRun {
    pub fn new(
        cluster: impl Into<Input<String>>,
        task_definition: impl Into<Input<String>>,
        container_name: &str,
    ) -> Self {
        TaskRun {
            cluster: cluster.into(),
            task_definition: task_definition.into(),
            container_name: container_name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for TaskRun {
    const TYPE: &'static str = "aws:ecs/TaskRun";
}

impl Resource<TaskRun> {
    /// The ARN of the task of the last run.
    pub fn task_arn(&self) -> Output<String> {
        self.output("task_arn")
    }
}

/// `startedBy` of every run: ListTasks filters on it, so `find` lists only
/// the engine's runs.
const STARTED_BY: &str = "morket-stack";

/// On each run: a digest of what it runs, so `find` tells the run a
/// killed apply started from earlier runs of the same resource.
const RUN_TAG: &str = "morket:run";

/// A task's states before STOPPED (ECS's task lifecycle).
const RUNNING: &[&str] = &[
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
];

fn timeout_of(r: &TaskRun) -> Result<Duration, ProviderError> {
    humantime::parse_duration(&r.timeout)
        .map_err(|e| ProviderError::invalid("timeout", format!("{:?}", r.timeout), e.to_string()))
}

/// The digest of the inputs that make a run what it is.
fn run_digest(r: &TaskRun) -> String {
    let v = json!([
        r.task_definition,
        r.container_name,
        r.command,
        r.launch_type,
        r.network_configuration,
        r.triggers,
    ]);
    hex::encode(&Sha256::digest(v.to_string().as_bytes())[..12])
}

/// The cluster of `arn:…:task/<cluster>/<task id>`.
fn cluster_of(task_arn: &str) -> Option<&str> {
    let mut parts = task_arn.rsplit('/');
    let _task = parts.next()?;
    let cluster = parts.next()?;
    parts.next()?;
    Some(cluster)
}

/// The task, or `None` when ECS does not know it (never, or no longer).
async fn describe(cx: &Call<'_, Ecs>, id: &str) -> Result<Option<Task>, ProviderError> {
    let cluster = cluster_of(id).ok_or_else(|| cx.fatal(format!("{id} is not an ECS task ARN")))?;
    let out = cx
        .send("DescribeTasks", |c| {
            c.describe_tasks()
                .cluster(cluster)
                .tasks(id)
                .include(TaskField::Tags)
                .send()
        })
        .await?;
    Ok(out.tasks().first().cloned())
}

/// The run's container in `task`.
fn container<'t>(task: &'t Task, name: &str) -> Option<&'t aws_sdk_ecs::types::Container> {
    task.containers().iter().find(|c| c.name() == Some(name))
}

/// Why a stopped task is not a success, or `None` when it is one.
fn failure(task: &Task, name: &str, success: Option<i32>) -> Option<String> {
    let reason = task.stopped_reason().unwrap_or("no reason given");
    let Some(c) = container(task, name) else {
        return Some(format!("the task has no container {name:?}"));
    };
    match c.exit_code() {
        Some(code) if Some(code) == success => None,
        Some(code) => Some(format!(
            "container {name} exited with code {code} ({reason})"
        )),
        None => Some(format!(
            "container {name} never ran: {}{reason}{}",
            task.stop_code()
                .map_or(String::new(), |c| format!("{}: ", c.as_str())),
            c.reason().map_or(String::new(), |r| format!("; {r}"))
        )),
    }
}

/// The last `lines` lines of the container's awslogs stream, as a block
/// for an error; what keeps them from being read is said instead.
async fn log_tail(cx: &Call<'_, Ecs>, task: &Task, name: &str, lines: i32) -> String {
    if lines == 0 {
        return String::new();
    }
    let td = match cx
        .send("DescribeTaskDefinition", |c| {
            c.describe_task_definition()
                .task_definition(task.task_definition_arn().unwrap_or_default())
                .send()
        })
        .await
    {
        Ok(o) => o,
        Err(e) => return format!("\n(no log lines: {e})"),
    };
    let Some(log) = td
        .task_definition()
        .and_then(|t| {
            t.container_definitions()
                .iter()
                .find(|c| c.name() == Some(name))
        })
        .and_then(|c| c.log_configuration())
        .filter(|l| l.log_driver().as_str() == "awslogs")
    else {
        return format!("\n(no log lines: container {name} does not log to CloudWatch)");
    };
    let opts = log.options().cloned().unwrap_or_default();
    let (Some(group), Some(prefix)) =
        (opts.get("awslogs-group"), opts.get("awslogs-stream-prefix"))
    else {
        return "\n(no log lines: awslogs-group and awslogs-stream-prefix name the stream)".into();
    };
    let task_id = task
        .task_arn()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or_default();
    let stream = format!("{prefix}/{name}/{task_id}");
    let logs = cx.with::<Logs>();
    let out = logs
        .find("GetLogEvents", |c| {
            c.get_log_events()
                .log_group_name(group)
                .log_stream_name(&stream)
                .start_from_head(false)
                .limit(lines)
                .send()
        })
        .await;
    match out {
        Ok(Some(o)) if !o.events().is_empty() => {
            let mut s = format!("\nlast lines of {group} {stream}:");
            for e in o.events() {
                s.push_str("\n  ");
                s.push_str(e.message().unwrap_or_default().trim_end());
            }
            s
        }
        Ok(_) => format!("\n(no log lines in {group} {stream})"),
        Err(e) => format!("\n(no log lines from {group} {stream}: {e})"),
    }
}

#[async_trait]
impl AwsResource for TaskRun {
    type Service = Ecs;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "cluster",
            "task_definition",
            "container_name",
            "command",
            "launch_type",
            "network_configuration",
            "triggers",
            "exit_code",
        ],
        write_only: &["timeout", "log_lines"],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("container_name", &self.container_name)?;
        one_of("launch_type", &self.launch_type, &["FARGATE", "EC2"])?;
        if self.launch_type == "FARGATE" && self.network_configuration.is_none() {
            return Err(ProviderError::invalid(
                "network_configuration",
                "None",
                "a Fargate task needs its subnets and security groups (awsvpc)",
            ));
        }
        if let Some(n) = &self.network_configuration {
            if n.subnets.is_empty() {
                return Err(ProviderError::invalid(
                    "network_configuration.subnets",
                    "[]",
                    "at least one subnet",
                ));
            }
        }
        let Some(code) = self.exit_code else {
            return Err(ProviderError::invalid(
                "exit_code",
                "None",
                "the exit code that counts as success (0 unless the command says otherwise)",
            ));
        };
        in_range("exit_code", code, 0..=255)?;
        // RunTask's command override: up to 8 KiB of overrides in all.
        let size: usize = self.command.iter().map(String::len).sum();
        if size > 8192 {
            return Err(ProviderError::invalid(
                "command",
                format!("{size} bytes"),
                "RunTask takes at most 8192 bytes of overrides",
            ));
        }
        let t = timeout_of(self)?;
        if t.is_zero() {
            return Err(ProviderError::invalid(
                "timeout",
                format!("{:?}", self.timeout),
                "must be positive",
            ));
        }
        // GetLogEvents returns at most 10,000 events.
        in_range("log_lines", self.log_lines, 0..=10_000)?;
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ecs>) -> Result<String, ProviderError> {
        let mut over = TaskOverride::builder();
        if !self.command.is_empty() {
            over = over.container_overrides(
                ContainerOverride::builder()
                    .name(&self.container_name)
                    .set_command(Some(self.command.clone()))
                    .build(),
            );
        }
        let network = self
            .network_configuration
            .as_ref()
            .map(awsvpc)
            .transpose()?;
        let mut tags = cx.all_tags(&self.tags);
        tags.insert(RUN_TAG.into(), run_digest(self));
        // The retries below send the same token, so ECS starts one task.
        let token = format!("{:032x}", rand::random::<u128>());
        let request = cx
            .client()
            .await
            .run_task()
            .cluster(self.cluster.require("cluster")?)
            .task_definition(self.task_definition.require("task_definition")?)
            .launch_type(LaunchType::from(self.launch_type.as_str()))
            .count(1)
            .started_by(STARTED_BY)
            .set_network_configuration(network)
            .overrides(over.build())
            .set_tags(Some(super::to_tags(&tags)))
            .client_token(token);
        let out = cx
            .send_retrying("RunTask", &[LINKED_ROLE], |_| request.clone().send())
            .await?;
        if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(arn.to_string());
        }
        // Capacity, a missing image platform...: nothing started. Fargate's
        // capacity and an agent's answer pass: worth another attempt, which
        // looks up first and finds nothing.
        let transient = out.failures().iter().any(|f| {
            let r = f.reason().unwrap_or_default();
            r.starts_with("Capacity is unavailable") || r.starts_with("RESOURCE:") || r == "AGENT"
        });
        let why: Vec<String> = out
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f.reason().unwrap_or("unknown"),
                    f.detail().unwrap_or_default()
                )
                .trim_end()
                .to_string()
            })
            .collect();
        let msg = format!("RunTask started no task: {}", why.join("; "));
        Err(if transient {
            ProviderError::Retryable(msg)
        } else {
            cx.fatal(msg)
        })
    }

    async fn after_create(&self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        let settings = AwsSettings {
            wait_timeout: timeout_of(self)?,
            ..cx.settings().clone()
        };
        let task = Wait::new("the task", RUNNING, &["STOPPED", "DELETED"])
            .after_create()
            .until(&settings, || async {
                Ok(match describe(cx, id).await? {
                    Some(t) => Seen::State(t.last_status().unwrap_or("PENDING").to_string(), t),
                    None => Seen::Gone,
                })
            })
            .await?;
        match failure(&task, &self.container_name, self.exit_code) {
            None => Ok(()),
            Some(why) => {
                let tail = log_tail(cx, &task, &self.container_name, self.log_lines).await;
                Err(cx.fatal(format!("the task {id} failed: {why}{tail}")))
            }
        }
    }

    async fn read(
        cx: &Call<'_, Ecs>,
        id: &str,
        declared: &TaskRun,
    ) -> Result<Option<Live<TaskRun>>, ProviderError> {
        let Some(task) = describe(cx, id).await? else {
            // ECS keeps a stopped task about an hour: the run is as recorded.
            return Ok(Some(Live {
                args: declared.clone(),
                outputs: json!({ "task_arn": id, "last_status": "STOPPED" }),
            }));
        };
        let status = task.last_status().unwrap_or("PENDING");
        let mut args = declared.clone();
        args.exit_code = match container(&task, &declared.container_name) {
            Some(c) if status == "STOPPED" || status == "DELETED" => c.exit_code(),
            _ => None,
        };
        args.tags = cx.own_tags(&from_tags(task.tags()));
        args.tags.remove(RUN_TAG);
        Ok(Some(Live {
            args,
            outputs: json!({ "task_arn": id, "last_status": status }),
        }))
    }

    /// Only `tags`, `timeout` and `log_lines` change in place; the last two
    /// matter to the next run alone.
    async fn update(
        &self,
        old: &TaskRun,
        cx: &Call<'_, Ecs>,
        id: &str,
    ) -> Result<(), ProviderError> {
        if describe(cx, id).await?.is_some() {
            cx.update_tags(id, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        let Some(task) = describe(cx, id).await? else {
            return Ok(());
        };
        if matches!(task.last_status(), Some("STOPPED" | "DELETED")) {
            return Ok(());
        }
        let cluster = cluster_of(id).unwrap_or_default();
        cx.send("StopTask", |c| {
            c.stop_task()
                .cluster(cluster)
                .task(id)
                .reason("morket-stack: the run was replaced or deleted")
                .send()
        })
        .await?;
        Wait::new("the stopped task", RUNNING, &["STOPPED", "DELETED"])
            .until(cx.settings(), || async {
                Ok(match describe(cx, id).await? {
                    Some(t) => Seen::State(t.last_status().unwrap_or("PENDING").to_string(), ()),
                    None => Seen::State("STOPPED".into(), ()),
                })
            })
            .await
    }

    /// The engine's runs of this resource with these inputs, running or
    /// stopped (ECS lists a stopped task for about an hour). Listed by the
    /// task definition's family: ListTasks takes `startedBy` only as its
    /// sole filter, and it is checked on the described tasks instead.
    async fn find(&self, cx: &Call<'_, Ecs>) -> Result<Vec<String>, ProviderError> {
        let cluster = self.cluster.require("cluster")?;
        let td = self.task_definition.require("task_definition")?;
        let family = td
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once(':').map(|(f, _)| f))
            .unwrap_or(td);
        let digest = run_digest(self);
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let pages = cx
                .pages(
                    "ListTasks",
                    cx.client()
                        .await
                        .list_tasks()
                        .cluster(cluster)
                        .family(family)
                        .desired_status(status)
                        .into_paginator()
                        .send(),
                )
                .await?;
            arns.extend(pages.iter().flat_map(|p| p.task_arns().to_vec()));
        }
        let mut found = Vec::new();
        // DescribeTasks takes 100 tasks at a time.
        for chunk in arns.chunks(100) {
            let out = cx
                .send("DescribeTasks", |c| {
                    c.describe_tasks()
                        .cluster(cluster)
                        .set_tasks(Some(chunk.to_vec()))
                        .include(TaskField::Tags)
                        .send()
                })
                .await?;
            for t in out.tasks() {
                let tags = from_tags(t.tags());
                if t.started_by() == Some(STARTED_BY)
                    && cx.is_ours(&tags)
                    && tags.get(RUN_TAG) == Some(&digest)
                {
                    found.extend(t.task_arn().map(str::to_string));
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_is_read_from_the_task_arn() {
        assert_eq!(
            cluster_of("arn:aws:ecs:eu-west-1:123456789012:task/morket-staging/0123abcd"),
            Some("morket-staging")
        );
        // The old ARN format carries no cluster.
        assert_eq!(
            cluster_of("arn:aws:ecs:eu-west-1:123456789012:task/0123abcd"),
            None
        );
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let ok = TaskRun {
            network_configuration: Some(AwsVpcConfig {
                subnets: vec!["subnet-1".into()],
                ..Default::default()
            }),
            ..TaskRun::new("c", "td", "migrate")
        };
        assert!(ok.check().is_ok());
        let err = |r: TaskRun| match r.check().unwrap_err() {
            ProviderError::InvalidInput { field, .. } => field,
            e => panic!("{e}"),
        };
        let no_net = TaskRun {
            network_configuration: None,
            ..ok.clone()
        };
        assert_eq!(err(no_net), "network_configuration");
        let t = TaskRun {
            timeout: "soon".into(),
            ..ok.clone()
        };
        assert_eq!(err(t), "timeout");
        let t = TaskRun {
            exit_code: Some(300),
            ..ok.clone()
        };
        assert_eq!(err(t), "exit_code");
        let t = TaskRun {
            container_name: "mi grate".into(),
            ..ok.clone()
        };
        assert_eq!(err(t), "container_name");
        let t = TaskRun {
            log_lines: -1,
            ..ok
        };
        assert_eq!(err(t), "log_lines");
    }

    #[test]
    fn the_digest_moves_with_what_runs_and_not_with_the_rest() {
        let a = TaskRun::new("c", "td:1", "migrate");
        let mut b = a.clone();
        b.timeout = "1h".into();
        b.log_lines = 5;
        assert_eq!(run_digest(&a), run_digest(&b));
        b.triggers.insert("image".into(), "backend:abc".into());
        assert_ne!(run_digest(&a), run_digest(&b));
    }
}
