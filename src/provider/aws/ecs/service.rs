//! `aws:ecs/Service` (Terraform `aws_ecs_service`).
//!
//! After a create or an update the provider waits for a steady state: the
//! PRIMARY deployment's rollout COMPLETED with all its tasks running, seen
//! [`STABLE`] times in a row. An update whose rollout FAILED or did not
//! settle within `steady_state_timeout` is rolled back to the previous
//! settings and task definition, and reported as failed. An update sends only
//! what changed, so `desired_count` stays with autoscaling unless the
//! declaration changes it (`ignore_changes("desired_count")` keeps it out of
//! plans altogether, as Terraform users do).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, LaunchType, LoadBalancer, NetworkConfiguration, Service as EcsService,
    ServiceField, ServiceRegistry,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_name, from_tags, Ecs, LINKED_ROLE};
use crate::model::{Input, ModelError, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of, requires};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::aws::AwsSettings;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    pub name: String,
    /// Cluster ARN or name.
    pub cluster: Input<String>,
    /// Task definition ARN (`family:revision`).
    pub task_definition: Input<String>,
    pub desired_count: i32,
    pub launch_type: String,
    pub deployment_minimum_healthy_percent: i32,
    pub deployment_maximum_percent: i32,
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    pub load_balancers: Vec<ServiceLoadBalancer>,
    pub network_configuration: Option<AwsVpcConfig>,
    pub service_registries: Vec<ServiceRegistryRef>,
    pub health_check_grace_period_seconds: Option<i32>,
    pub enable_execute_command: bool,
    /// Wait for the rollout to complete after create and update.
    pub wait_for_steady_state: bool,
    /// humantime, e.g. "15m".
    pub steady_state_timeout: String,
    pub tags: Tags,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            name: String::new(),
            cluster: Input::default(),
            task_definition: Input::default(),
            desired_count: 1,
            launch_type: "FARGATE".into(),
            deployment_minimum_healthy_percent: 100,
            deployment_maximum_percent: 200,
            deployment_circuit_breaker: None,
            load_balancers: Vec::new(),
            network_configuration: None,
            service_registries: Vec::new(),
            health_check_grace_period_seconds: None,
            enable_execute_command: false,
            wait_for_steady_state: true,
            steady_state_timeout: "15m".into(),
            tags: Tags::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceLoadBalancer {
    pub target_group_arn: Input<String>,
    pub container_name: String,
    pub container_port: i32,
}

/// The `awsvpc` network of the service's tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsVpcConfig {
    pub subnets: Vec<Input<String>>,
    pub security_groups: Vec<Input<String>>,
    pub assign_public_ip: bool,
}

/// A Cloud Map registry the service registers its tasks in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceRegistryRef {
    pub registry_arn: Input<String>,
}

impl Service {
    pub fn new(
        name: &str,
        cluster: impl Into<Input<String>>,
        task_definition: impl Into<Input<String>>,
    ) -> Self {
        Service {
            name: name.into(),
            cluster: cluster.into(),
            task_definition: task_definition.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Service {
    const TYPE: &'static str = "aws:ecs/Service";
}

impl Resource<Service> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// The cluster ARN.
    pub fn cluster(&self) -> Output<String> {
        self.output("cluster")
    }
}

/// Steady observations in a row a rollout needs: a task that passed its
/// first health checks can still be stopped and replaced a moment later.
pub const STABLE: u32 = 2;

fn timeout_of(s: &Service) -> Result<Duration, ProviderError> {
    humantime::parse_duration(&s.steady_state_timeout).map_err(|e| {
        ProviderError::invalid(
            "steady_state_timeout",
            format!("{:?}", s.steady_state_timeout),
            e.to_string(),
        )
    })
}

fn deployment_config(s: &Service) -> DeploymentConfiguration {
    let breaker = s.deployment_circuit_breaker.as_ref().map(|c| {
        DeploymentCircuitBreaker::builder()
            .enable(c.enable)
            .rollback(c.rollback)
            .build()
    });
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(s.deployment_minimum_healthy_percent)
        .maximum_percent(s.deployment_maximum_percent)
        .set_deployment_circuit_breaker(breaker)
        .build()
}

fn known_all(field: &str, v: &[Input<String>]) -> Result<Vec<String>, ModelError> {
    v.iter().map(|i| i.require(field).cloned()).collect()
}

fn network(s: &Service) -> Result<Option<NetworkConfiguration>, ProviderError> {
    s.network_configuration.as_ref().map(awsvpc).transpose()
}

/// The request's `awsvpc` network (a service's, or a one-off task's).
pub(super) fn awsvpc(n: &AwsVpcConfig) -> Result<NetworkConfiguration, ProviderError> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(known_all(
            "network_configuration.subnets",
            &n.subnets,
        )?))
        // Always sent, even empty (moto answers 500 when it is missing).
        .set_security_groups(Some(known_all(
            "network_configuration.security_groups",
            &n.security_groups,
        )?))
        .assign_public_ip(if n.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| {
            ProviderError::invalid("network_configuration", "(see reason)", e.to_string())
        })?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

fn load_balancers(s: &Service) -> Result<Vec<LoadBalancer>, ProviderError> {
    s.load_balancers
        .iter()
        .map(|lb| {
            Ok(LoadBalancer::builder()
                .target_group_arn(
                    lb.target_group_arn
                        .require("load_balancers.target_group_arn")?,
                )
                .container_name(&lb.container_name)
                .container_port(lb.container_port)
                .build())
        })
        .collect()
}

fn registries(s: &Service) -> Result<Vec<ServiceRegistry>, ProviderError> {
    s.service_registries
        .iter()
        .map(|r| {
            Ok(ServiceRegistry::builder()
                .registry_arn(r.registry_arn.require("service_registries.registry_arn")?)
                .build())
        })
        .collect()
}

/// The cluster of the service: as declared, else from its ARN
/// (`…:service/<cluster>/<name>`).
fn cluster_of(id: &str, s: &Service) -> Result<String, ProviderError> {
    if let Some(c) = s.cluster.known() {
        return Ok(c.clone());
    }
    let parts: Vec<&str> = id.rsplit(':').next().unwrap_or("").split('/').collect();
    match parts.as_slice() {
        ["service", cluster, _] => Ok(cluster.to_string()),
        _ => Err(ModelError::NotKnown("cluster".into()).into()),
    }
}

/// The service, or `None` when missing or INACTIVE; DRAINING counts as live.
async fn describe(
    cx: &Call<'_, Ecs>,
    cluster: &str,
    id: &str,
) -> Result<Option<EcsService>, ProviderError> {
    let out = cx
        .find("DescribeServices", |c| {
            c.describe_services()
                .cluster(cluster)
                .services(id)
                .include(ServiceField::Tags)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| {
        o.services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .cloned()
    }))
}

/// The service's name: the last part of its ARN (`…:service/<cluster>/<name>`).
fn name_of(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// A service as read, in the terms of its declaration.
fn live(cx: &Call<'_, Ecs>, declared: &Service, s: &EcsService) -> Live<Service> {
    let dc = s.deployment_configuration();
    // The declared task definition as `family:revision` or ARN is the live ARN.
    let live_td = s.task_definition().unwrap_or_default();
    let task_definition = match declared.task_definition.known() {
        Some(d) if d == live_td || live_td.ends_with(&format!("/{d}")) => {
            declared.task_definition.clone()
        }
        _ if live_td.is_empty() => declared.task_definition.clone(),
        _ => live_td.into(),
    };
    // Where the API leaves a field out (moto does for deployment
    // settings), the declared value stands.
    let args = Service {
        name: s.service_name().unwrap_or_default().into(),
        cluster: declared.cluster.clone(),
        task_definition,
        desired_count: s.desired_count(),
        launch_type: s
            .launch_type()
            .map_or(declared.launch_type.as_str(), |l| l.as_str())
            .into(),
        deployment_minimum_healthy_percent: dc
            .and_then(|d| d.minimum_healthy_percent())
            .unwrap_or(declared.deployment_minimum_healthy_percent),
        deployment_maximum_percent: dc
            .and_then(|d| d.maximum_percent())
            .unwrap_or(declared.deployment_maximum_percent),
        deployment_circuit_breaker: dc
            .and_then(|d| d.deployment_circuit_breaker())
            .map(|c| CircuitBreaker {
                enable: c.enable(),
                rollback: c.rollback(),
            })
            .or_else(|| declared.deployment_circuit_breaker.clone()),
        load_balancers: s
            .load_balancers()
            .iter()
            .map(|l| ServiceLoadBalancer {
                target_group_arn: l.target_group_arn().unwrap_or_default().into(),
                container_name: l.container_name().unwrap_or_default().into(),
                container_port: l.container_port().unwrap_or_default(),
            })
            .collect(),
        network_configuration: s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|v| AwsVpcConfig {
                subnets: v.subnets().iter().map(|s| s.as_str().into()).collect(),
                security_groups: v
                    .security_groups()
                    .iter()
                    .map(|s| s.as_str().into())
                    .collect(),
                assign_public_ip: v.assign_public_ip() == Some(&AssignPublicIp::Enabled),
            }),
        service_registries: s
            .service_registries()
            .iter()
            .map(|r| ServiceRegistryRef {
                registry_arn: r.registry_arn().unwrap_or_default().into(),
            })
            .collect(),
        health_check_grace_period_seconds: s
            .health_check_grace_period_seconds()
            .or(declared.health_check_grace_period_seconds),
        enable_execute_command: s.enable_execute_command(),
        wait_for_steady_state: declared.wait_for_steady_state,
        steady_state_timeout: declared.steady_state_timeout.clone(),
        tags: cx.own_tags(&from_tags(s.tags())),
    };
    let outputs = json!({
        "id": s.service_arn(),
        "arn": s.service_arn(),
        "name": s.service_name(),
        "cluster": s.cluster_arn(),
    });
    Live { args, outputs }
}

fn primary(s: &EcsService) -> Option<&aws_sdk_ecs::types::Deployment> {
    s.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
}

/// The deployment a wait follows: `follow` (the one our UpdateService
/// started) or else the PRIMARY one.
fn followed<'a>(
    s: &'a EcsService,
    follow: Option<&str>,
) -> Option<&'a aws_sdk_ecs::types::Deployment> {
    match follow {
        Some(id) => s.deployments().iter().find(|d| d.id() == Some(id)),
        None => primary(s),
    }
}

/// Where the followed deployment's rollout stands: COMPLETED once it is the
/// PRIMARY one with every task running, FAILED, or IN_PROGRESS. A followed
/// deployment that is no longer PRIMARY, or gone, was rolled back by the
/// circuit breaker (which starts a new PRIMARY one) or superseded: it
/// failed, even if the poll never saw its FAILED state.
fn phase(s: &EcsService, follow: Option<&str>) -> &'static str {
    let Some(d) = followed(s, follow) else {
        return if follow.is_some() {
            "FAILED"
        } else {
            "IN_PROGRESS"
        };
    };
    if d.rollout_state() == Some(&DeploymentRolloutState::Failed) {
        return "FAILED";
    }
    if d.status() != Some("PRIMARY") {
        return "FAILED";
    }
    let all_running = d.running_count() == d.desired_count();
    match d.rollout_state() {
        Some(DeploymentRolloutState::Completed) if all_running => "COMPLETED",
        // No rollout state (CODE_DEPLOY and EXTERNAL controllers): one
        // deployment with every task running, as the services-stable waiter.
        None if all_running && s.deployments().len() == 1 => "COMPLETED",
        _ => "IN_PROGRESS",
    }
}

/// Why the followed deployment failed, from what the last poll saw.
fn failure_reason(s: &EcsService, follow: Option<&str>) -> String {
    match followed(s, follow) {
        Some(d) if d.rollout_state() == Some(&DeploymentRolloutState::Failed) => {
            d.rollout_state_reason().unwrap_or("").into()
        }
        _ => match primary(s) {
            Some(p) => format!(
                "replaced by deployment {} of {}",
                p.id().unwrap_or("?"),
                p.task_definition().unwrap_or("?")
            ),
            None => "no longer listed".into(),
        },
    }
}

/// How a wait for a steady state ended.
enum Rollout {
    Completed,
    Failed { deployment: String, reason: String },
    TimedOut { deployment: String, state: String },
}

impl Rollout {
    /// What went wrong, for an error message; `None` when completed.
    fn failure(&self, timeout: &str) -> Option<String> {
        match self {
            Rollout::Completed => None,
            Rollout::Failed { deployment, reason } => {
                Some(format!("deployment {deployment} FAILED: {reason}"))
            }
            Rollout::TimedOut { deployment, state } => Some(format!(
                "deployment {deployment} still {state} after {timeout}"
            )),
        }
    }
}

/// Waits for the rollout to complete, fail, or outlast `timeout`.
async fn rollout(
    cx: &Call<'_, Ecs>,
    cluster: &str,
    id: &str,
    timeout: Duration,
    new: bool,
    follow: Option<&str>,
) -> Result<Rollout, ProviderError> {
    let settings = AwsSettings {
        wait_timeout: timeout,
        ..cx.settings().clone()
    };
    let mut wait = Wait::new("the service's deployment", &["IN_PROGRESS"], &["COMPLETED"]);
    wait.stable = STABLE;
    if new {
        wait = wait.after_create();
    }
    let last = Mutex::new(None);
    let done = wait
        .until(&settings, || async {
            let s = describe(cx, cluster, id).await?;
            let seen = s.as_ref().map_or(Seen::Gone, |s| {
                Seen::State(phase(s, follow).to_string(), ())
            });
            *last.lock().expect("not poisoned") = s;
            Ok(seen)
        })
        .await;
    let last: Option<EcsService> = last.into_inner().expect("not poisoned");
    let d = last.as_ref().and_then(|s| followed(s, follow));
    let deployment = follow
        .or_else(|| d.and_then(|d| d.id()))
        .unwrap_or("(none)")
        .to_string();
    match done {
        Ok(()) => Ok(Rollout::Completed),
        // The wait ends in a Fatal error on a state outside IN_PROGRESS and
        // COMPLETED (FAILED) or at the timeout.
        Err(ProviderError::Fatal(_))
            if last.as_ref().map(|s| phase(s, follow)) == Some("FAILED") =>
        {
            Ok(Rollout::Failed {
                deployment,
                reason: last
                    .as_ref()
                    .map(|s| failure_reason(s, follow))
                    .unwrap_or_default(),
            })
        }
        Err(ProviderError::Fatal(_)) => Ok(Rollout::TimedOut {
            deployment,
            state: match d {
                Some(d) => format!(
                    "{} with {}/{} tasks running",
                    d.rollout_state().map_or("IN_PROGRESS", |s| s.as_str()),
                    d.running_count(),
                    d.desired_count()
                ),
                None => "without a PRIMARY deployment".into(),
            },
        }),
        Err(e) => Err(e),
    }
}

/// UpdateService with what differs from `from` to `to` (nothing else: an
/// unchanged `desired_count` stays as autoscaling left it). `None` when
/// nothing differs, else the id of the PRIMARY deployment it started (if
/// the answer named one).
async fn update_call(
    cx: &Call<'_, Ecs>,
    cluster: &str,
    id: &str,
    from: &Service,
    to: &Service,
) -> Result<Option<Option<String>>, ProviderError> {
    let mut req = cx
        .client()
        .await
        .update_service()
        .cluster(cluster)
        .service(id);
    let mut any = false;
    if from.task_definition != to.task_definition {
        req = req.task_definition(to.task_definition.require("task_definition")?);
        any = true;
    }
    if from.desired_count != to.desired_count {
        req = req.desired_count(to.desired_count);
        any = true;
    }
    if deployment_config(from) != deployment_config(to) {
        req = req.deployment_configuration(deployment_config(to));
        any = true;
    }
    if from.network_configuration != to.network_configuration {
        req = req.set_network_configuration(network(to)?);
        any = true;
    }
    if from.load_balancers != to.load_balancers {
        // An empty list removes them.
        req = req.set_load_balancers(Some(load_balancers(to)?));
        any = true;
    }
    if from.service_registries != to.service_registries {
        req = req.set_service_registries(Some(registries(to)?));
        any = true;
    }
    if from.health_check_grace_period_seconds != to.health_check_grace_period_seconds {
        req = req
            .health_check_grace_period_seconds(to.health_check_grace_period_seconds.unwrap_or(0));
        any = true;
    }
    if from.enable_execute_command != to.enable_execute_command {
        req = req.enable_execute_command(to.enable_execute_command);
        any = true;
    }
    if !any {
        return Ok(None);
    }
    let out = cx.send("UpdateService", |_| req.clone().send()).await?;
    Ok(Some(
        out.service()
            .and_then(primary)
            .and_then(|d| d.id())
            .map(str::to_string),
    ))
}

#[async_trait]
impl AwsResource for Service {
    type Service = Ecs;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "cluster", "launch_type"],
        unique_name: &["name", "cluster"],
        write_only: &["wait_for_steady_state", "steady_state_timeout"],
        // AWS reports a disabled breaker and a 0 s grace when left out.
        optional_computed: &[
            "deployment_circuit_breaker",
            "health_check_grace_period_seconds",
        ],
        normalize: &[
            ("network_configuration.subnets", Norm::Set),
            ("network_configuration.security_groups", Norm::Set),
            ("load_balancers", Norm::Set),
            ("service_registries", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_ecs_service",
            args: &[
                ("name", "name"),
                ("cluster", "cluster"),
                ("task_definition", "task_definition"),
                ("desired_count", "desired_count"),
                ("launch_type", "launch_type"),
                (
                    "deployment_minimum_healthy_percent",
                    "deployment_minimum_healthy_percent",
                ),
                ("deployment_maximum_percent", "deployment_maximum_percent"),
                ("deployment_circuit_breaker", "deployment_circuit_breaker"),
                ("load_balancers", "load_balancer"),
                ("network_configuration", "network_configuration"),
                ("service_registries", "service_registries"),
                (
                    "health_check_grace_period_seconds",
                    "health_check_grace_period_seconds",
                ),
                ("enable_execute_command", "enable_execute_command"),
                ("wait_for_steady_state", "wait_for_steady_state"),
                ("tags", "tags"),
            ],
            // The cluster by name (the stack holds its ARN).
            import_id: "{cluster|basename}/{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        in_range("desired_count", self.desired_count, 0..=i32::MAX)?;
        one_of(
            "launch_type",
            &self.launch_type,
            &["FARGATE", "EC2", "EXTERNAL"],
        )?;
        in_range(
            "deployment_minimum_healthy_percent",
            self.deployment_minimum_healthy_percent,
            0..=100,
        )?;
        if self.deployment_maximum_percent < 100
            || self.deployment_maximum_percent <= self.deployment_minimum_healthy_percent
        {
            return Err(ProviderError::invalid(
                "deployment_maximum_percent",
                self.deployment_maximum_percent,
                "must be at least 100 and above deployment_minimum_healthy_percent",
            ));
        }
        if let Some(c) = &self.deployment_circuit_breaker {
            requires(
                ("deployment_circuit_breaker.rollback", c.rollback),
                ("deployment_circuit_breaker.enable", c.enable),
            )?;
        }
        for lb in &self.load_balancers {
            in_range(
                "load_balancers.container_port",
                lb.container_port,
                1..=65535,
            )?;
            if lb.container_name.is_empty() {
                return Err(ProviderError::invalid(
                    "load_balancers.container_name",
                    "\"\"",
                    "is required",
                ));
            }
        }
        match &self.network_configuration {
            Some(n) if n.subnets.is_empty() => {
                return Err(ProviderError::invalid(
                    "network_configuration.subnets",
                    "[]",
                    "at least one subnet",
                ))
            }
            Some(n) if n.security_groups.len() > 5 => {
                return Err(ProviderError::invalid(
                    "network_configuration.security_groups",
                    n.security_groups.len(),
                    "at most 5",
                ))
            }
            None if self.launch_type == "FARGATE" => {
                return Err(ProviderError::invalid(
                    "network_configuration",
                    "null",
                    "Fargate services (awsvpc) need subnets",
                ))
            }
            _ => {}
        }
        if let Some(g) = self.health_check_grace_period_seconds {
            in_range("health_check_grace_period_seconds", g, 0..=i32::MAX)?;
            if self.load_balancers.is_empty() {
                return Err(ProviderError::invalid(
                    "health_check_grace_period_seconds",
                    g,
                    "only applies to services with load_balancers",
                ));
            }
        }
        if timeout_of(self)?.is_zero() {
            return Err(ProviderError::invalid(
                "steady_state_timeout",
                format!("{:?}", self.steady_state_timeout),
                "must be positive",
            ));
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ecs>) -> Result<String, ProviderError> {
        let lbs = load_balancers(self)?;
        // The SDK does not fill in CreateService's client token; the retries
        // below send the same one, so AWS makes one service.
        let token = format!("{:032x}", rand::random::<u128>());
        let request = cx
            .client()
            .await
            .create_service()
            .cluster(self.cluster.require("cluster")?)
            .service_name(&self.name)
            .task_definition(self.task_definition.require("task_definition")?)
            .desired_count(self.desired_count)
            .launch_type(LaunchType::from(self.launch_type.as_str()))
            .deployment_configuration(deployment_config(self))
            .set_load_balancers((!lbs.is_empty()).then_some(lbs))
            .set_network_configuration(network(self)?)
            .set_service_registries(Some(registries(self)?))
            .set_health_check_grace_period_seconds(self.health_check_grace_period_seconds)
            .enable_execute_command(self.enable_execute_command)
            .set_tags(Some(cx.create_tags(&self.tags)))
            .client_token(token);
        let out = cx
            .send_retrying("CreateService", &[LINKED_ROLE], |_| request.clone().send())
            .await?;
        out.service()
            .and_then(|s| s.service_arn())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateService returned no service"))
    }

    async fn after_create(&self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        if !self.wait_for_steady_state {
            return Ok(());
        }
        let cluster = cluster_of(id, self)?;
        let done = rollout(cx, &cluster, id, timeout_of(self)?, true, None).await?;
        match done.failure(&self.steady_state_timeout) {
            None => Ok(()),
            Some(f) => Err(cx.fatal(format!("the new service's {f}"))),
        }
    }

    async fn read(
        cx: &Call<'_, Ecs>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let cluster = cluster_of(id, declared)?;
        Ok(describe(cx, &cluster, id)
            .await?
            .map(|s| live(cx, declared, &s)))
    }

    // One DescribeServices per cluster and 10 services (the API's limit);
    // a missing service is a failure in the answer, not an error.
    async fn read_many(
        cx: &Call<'_, Ecs>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let clusters = items
            .iter()
            .map(|(id, declared)| cluster_of(id, declared))
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_cluster: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for ((id, _), cluster) in items.iter().zip(&clusters) {
            by_cluster.entry(cluster).or_default().push(id);
        }
        // (cluster as declared, service name) → the live service.
        let mut found: HashMap<(&str, String), EcsService> = HashMap::new();
        for (cluster, mut ids) in by_cluster {
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(10) {
                let names: Vec<String> = chunk.iter().map(|s| s.to_string()).collect();
                let Some(out) = cx
                    .find("DescribeServices", |c| {
                        c.describe_services()
                            .cluster(cluster)
                            .set_services(Some(names.clone()))
                            .include(ServiceField::Tags)
                            .send()
                    })
                    .await?
                else {
                    continue;
                };
                for s in out.services() {
                    if let (Some(name), false) = (s.service_name(), s.status() == Some("INACTIVE"))
                    {
                        found
                            .entry((cluster, name.to_string()))
                            .or_insert_with(|| s.clone());
                    }
                }
            }
        }
        Ok(items
            .iter()
            .zip(&clusters)
            .map(|((id, declared), cluster)| {
                found
                    .get(&(cluster.as_str(), name_of(id).to_string()))
                    .map(|s| live(cx, declared, s))
            })
            .collect())
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        let cluster = cluster_of(id, self)?;
        let sent = update_call(cx, &cluster, id, old, self).await?;
        cx.update_tags(id, &old.tags, &self.tags).await?;
        let Some(started) = sent else {
            return Ok(());
        };
        if !self.wait_for_steady_state {
            return Ok(());
        }
        let timeout = timeout_of(self)?;
        // Our deployment, not whichever is PRIMARY: the circuit breaker's
        // rollback makes a new PRIMARY that would read as success.
        let done = rollout(cx, &cluster, id, timeout, false, started.as_deref()).await?;
        let Some(failure) = done.failure(&self.steady_state_timeout) else {
            return Ok(());
        };
        // Back to the previous task definition and settings.
        let back = update_call(cx, &cluster, id, self, old).await?.flatten();
        let back = match rollout(cx, &cluster, id, timeout, false, back.as_deref()).await? {
            Rollout::Completed => "rolled back to".to_string(),
            Rollout::Failed { deployment, .. } => {
                format!("the rollback deployment {deployment} also FAILED; service left on")
            }
            Rollout::TimedOut { deployment, state } => {
                format!("the rollback deployment {deployment} is still {state}; service left on")
            }
        };
        let old_td = old.task_definition.require("task_definition")?;
        Err(cx.fatal(format!(
            "{failure}; {back} the previous task definition {old_td}"
        )))
    }

    async fn delete(&self, cx: &Call<'_, Ecs>, id: &str) -> Result<(), ProviderError> {
        let cluster = cluster_of(id, self)?;
        let Some(s) = describe(cx, &cluster, id).await? else {
            return Ok(());
        };
        if s.status() == Some("ACTIVE") {
            // Forced: its tasks stop as the service drains.
            cx.send("DeleteService", |c| {
                c.delete_service()
                    .cluster(&cluster)
                    .service(id)
                    .force(true)
                    .send()
            })
            .await?;
        }
        Wait::new("service", &["ACTIVE", "DRAINING"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, &cluster, id).await? {
                    None => Seen::Gone,
                    Some(s) => Seen::State(s.status().unwrap_or("ACTIVE").into(), ()),
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Ecs>) -> Result<Vec<String>, ProviderError> {
        // The name is unique in its cluster: that service, if it carries our URN.
        let Some(cluster) = self.cluster.known() else {
            return Ok(Vec::new());
        };
        Ok(describe(cx, cluster, &self.name)
            .await?
            .filter(|s| s.status() == Some("ACTIVE") && cx.is_ours(&from_tags(s.tags())))
            .and_then(|s| s.service_arn().map(str::to_string))
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_comes_from_the_declaration_or_the_arn() {
        let mut s = Service::new("web", "apps", "web:1");
        assert_eq!(cluster_of("x", &s).unwrap(), "apps");
        s.cluster = Input::Unknown;
        let arn = "arn:aws:ecs:us-east-1:1:service/apps/web";
        assert_eq!(cluster_of(arn, &s).unwrap(), "apps");
        assert!(cluster_of("arn:aws:ecs:us-east-1:1:service/web", &s).is_err());
    }

    #[test]
    fn the_rollout_phase_needs_every_task_running() {
        use aws_sdk_ecs::types::Deployment;
        let svc = |state: Option<DeploymentRolloutState>, running: i32| {
            EcsService::builder()
                .deployments(
                    Deployment::builder()
                        .status("PRIMARY")
                        .set_rollout_state(state)
                        .desired_count(2)
                        .running_count(running)
                        .build(),
                )
                .build()
        };
        use DeploymentRolloutState::*;
        assert_eq!(phase(&svc(Some(Completed), 1), None), "IN_PROGRESS");
        assert_eq!(phase(&svc(Some(Completed), 2), None), "COMPLETED");
        assert_eq!(phase(&svc(Some(Failed), 0), None), "FAILED");
        assert_eq!(phase(&svc(None, 2), None), "COMPLETED");
        assert_eq!(phase(&EcsService::builder().build(), None), "IN_PROGRESS");
    }

    /// The circuit breaker replaces a failed deployment with a rollback
    /// PRIMARY one; a poll that never saw FAILED still reports the failure.
    #[test]
    fn a_followed_deployment_rolled_back_unseen_has_failed() {
        use aws_sdk_ecs::types::Deployment;
        let dep = |id: &str, status: &str, state: DeploymentRolloutState| {
            Deployment::builder()
                .id(id)
                .status(status)
                .task_definition(format!("td-{id}"))
                .rollout_state(state)
                .desired_count(1)
                .running_count(1)
                .build()
        };
        use DeploymentRolloutState::*;
        let ours = EcsService::builder()
            .deployments(dep("ours", "PRIMARY", InProgress))
            .deployments(dep("old", "ACTIVE", Completed))
            .build();
        assert_eq!(phase(&ours, Some("ours")), "IN_PROGRESS");
        // Rolled back: the rollback is PRIMARY and completes, ours is gone.
        let back = EcsService::builder()
            .deployments(dep("rollback", "PRIMARY", Completed))
            .build();
        assert_eq!(phase(&back, None), "COMPLETED");
        assert_eq!(phase(&back, Some("ours")), "FAILED");
        assert_eq!(
            failure_reason(&back, Some("ours")),
            "replaced by deployment rollback of td-rollback"
        );
        // Still listed, no longer PRIMARY.
        let demoted = EcsService::builder()
            .deployments(dep("rollback", "PRIMARY", InProgress))
            .deployments(dep("ours", "ACTIVE", InProgress))
            .build();
        assert_eq!(phase(&demoted, Some("ours")), "FAILED");
        let done = EcsService::builder()
            .deployments(dep("ours", "PRIMARY", Completed))
            .build();
        assert_eq!(phase(&done, Some("ours")), "COMPLETED");
    }
}
