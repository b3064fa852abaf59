//! `aws:ecs/Service` (Terraform `aws_ecs_service`).
//!
//! After a create or an update the provider waits for a steady state: the
//! PRIMARY deployment's rollout COMPLETED with all its tasks running. An update
//! whose rollout FAILED or did not settle within `steady_state_timeout` is
//! rolled back to the previous task definition, and reported as failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, LaunchType, LoadBalancer, NetworkConfiguration, ServiceField,
    ServiceRegistry,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{create_tags, from_tags, has_urn, known, update_tags};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Cluster ARN or name.
    pub cluster: Input<String>,
    /// Task definition ARN (`family:revision`).
    pub task_definition: Input<String>,
    #[serde(default = "one")]
    pub desired_count: i32,
    #[serde(default = "fargate")]
    pub launch_type: String,
    #[serde(default = "hundred")]
    pub deployment_minimum_healthy_percent: i32,
    #[serde(default = "two_hundred")]
    pub deployment_maximum_percent: i32,
    #[serde(default)]
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    #[serde(default)]
    pub load_balancers: Vec<ServiceLoadBalancer>,
    #[serde(default)]
    pub network_configuration: Option<Network>,
    #[serde(default)]
    pub service_registries: Vec<Registry>,
    #[serde(default)]
    pub health_check_grace_period_seconds: Option<i32>,
    #[serde(default)]
    pub enable_execute_command: bool,
    /// Wait for the rollout to complete after create and update.
    #[serde(default = "yes")]
    pub wait_for_steady_state: bool,
    /// humantime, e.g. "15m".
    #[serde(default = "fifteen_minutes")]
    pub steady_state_timeout: String,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadBalancer {
    pub target_group_arn: Input<String>,
    pub container_name: String,
    pub container_port: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub subnets: Vec<Input<String>>,
    #[serde(default)]
    pub security_groups: Vec<Input<String>>,
    #[serde(default)]
    pub assign_public_ip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub registry_arn: Input<String>,
}

fn one() -> i32 {
    1
}
fn fargate() -> String {
    "FARGATE".into()
}
fn hundred() -> i32 {
    100
}
fn two_hundred() -> i32 {
    200
}
fn yes() -> bool {
    true
}
fn fifteen_minutes() -> String {
    "15m".into()
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
            desired_count: 1,
            launch_type: fargate(),
            deployment_minimum_healthy_percent: 100,
            deployment_maximum_percent: 200,
            deployment_circuit_breaker: None,
            load_balancers: Vec::new(),
            network_configuration: None,
            service_registries: Vec::new(),
            health_check_grace_period_seconds: None,
            enable_execute_command: false,
            wait_for_steady_state: true,
            steady_state_timeout: fifteen_minutes(),
            tags: Tags::new(),
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

fn outputs(s: &aws_sdk_ecs::types::Service) -> Value {
    json!({
        "id": s.service_arn(),
        "arn": s.service_arn(),
        "name": s.service_name(),
        "cluster": s.cluster_arn(),
    })
}

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
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(s.deployment_minimum_healthy_percent)
        .maximum_percent(s.deployment_maximum_percent)
        .set_deployment_circuit_breaker(s.deployment_circuit_breaker.as_ref().map(|c| {
            DeploymentCircuitBreaker::builder()
                .enable(c.enable)
                .rollback(c.rollback)
                .build()
        }))
        .build()
}

fn network(s: &Service) -> Result<Option<NetworkConfiguration>, ProviderError> {
    let Some(n) = &s.network_configuration else {
        return Ok(None);
    };
    let subnets = n
        .subnets
        .iter()
        .map(|i| known("network_configuration.subnets", i))
        .collect::<Result<Vec<_>, _>>()?;
    let sgs = n
        .security_groups
        .iter()
        .map(|i| known("network_configuration.security_groups", i))
        .collect::<Result<Vec<_>, _>>()?;
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets))
        // Always sent, even empty (moto answers 500 when it is missing).
        .set_security_groups(Some(sgs))
        .assign_public_ip(if n.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| {
            ProviderError::invalid("network_configuration", "(see reason)", e.to_string())
        })?;
    Ok(Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    ))
}

fn registries(s: &Service) -> Result<Vec<ServiceRegistry>, ProviderError> {
    s.service_registries
        .iter()
        .map(|r| {
            Ok(ServiceRegistry::builder()
                .registry_arn(known("service_registries.registry_arn", &r.registry_arn)?)
                .build())
        })
        .collect()
}

/// How a wait for a steady state ended.
enum Rollout {
    Completed,
    Failed { deployment: String, reason: String },
    TimedOut { deployment: String, state: String },
}

pub struct ServiceProvider {
    aws: Arc<Aws>,
}

impl ServiceProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        ServiceProvider { aws }
    }

    /// The service, or `None` when missing or INACTIVE; DRAINING counts as live.
    async fn describe(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
    ) -> Result<Option<aws_sdk_ecs::types::Service>, ProviderError> {
        let all = self
            .describe_many(ctx, cluster, vec![id.to_string()])
            .await?;
        Ok(all.into_iter().find(|s| s.status() != Some("INACTIVE")))
    }

    async fn describe_many(
        &self,
        ctx: &Ctx,
        cluster: &str,
        ids: Vec<String>,
    ) -> Result<Vec<aws_sdk_ecs::types::Service>, ProviderError> {
        self.aws.limits.ecs.acquire().await;
        match self
            .aws
            .ecs()
            .await
            .describe_services()
            .cluster(cluster)
            .set_services(Some(ids))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(out) => Ok(out.services().to_vec()),
            Err(e) => match error::map(&ctx.urn, "DescribeServices", e) {
                ProviderError::NotFound(_) => Ok(Vec::new()),
                other => Err(other),
            },
        }
    }

    /// Polls until the PRIMARY deployment completed with all tasks running, failed, or `timeout` passed.
    async fn wait_steady(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<Rollout, ProviderError> {
        let start = Instant::now();
        loop {
            let svc = self.describe(ctx, cluster, id).await?.ok_or_else(|| {
                ProviderError::NotFound(format!(
                    "{}: service {id} disappeared while waiting for a steady state",
                    ctx.urn
                ))
            })?;
            let primary = svc
                .deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"));
            let deployment = primary.and_then(|d| d.id()).unwrap_or("(none)").to_string();
            let state = primary.and_then(|d| d.rollout_state()).cloned();
            match (&state, primary) {
                (Some(DeploymentRolloutState::Completed), Some(d))
                    if d.running_count() == d.desired_count() =>
                {
                    return Ok(Rollout::Completed)
                }
                (Some(DeploymentRolloutState::Failed), Some(d)) => {
                    return Ok(Rollout::Failed {
                        deployment,
                        reason: d.rollout_state_reason().unwrap_or("").to_string(),
                    })
                }
                _ => {}
            }
            if start.elapsed() >= timeout {
                let state = match (&state, primary) {
                    (Some(s), Some(d)) => format!(
                        "{} with {}/{} tasks running",
                        s.as_str(),
                        d.running_count(),
                        d.desired_count()
                    ),
                    _ => "without a PRIMARY deployment".into(),
                };
                return Ok(Rollout::TimedOut { deployment, state });
            }
            tokio::time::sleep(self.aws.settings.poll_interval.min(timeout)).await;
        }
    }

    async fn update_call(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
        s: &Service,
        td: &str,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ecs.acquire().await;
        self.aws
            .ecs()
            .await
            .update_service()
            .cluster(cluster)
            .service(id)
            .task_definition(td)
            .desired_count(s.desired_count)
            .deployment_configuration(deployment_config(s))
            .set_network_configuration(network(s)?)
            .set_service_registries(Some(registries(s)?))
            .set_health_check_grace_period_seconds(s.health_check_grace_period_seconds)
            .enable_execute_command(s.enable_execute_command)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "UpdateService", e))?;
        Ok(())
    }
}

#[async_trait]
impl Provider for ServiceProvider {
    fn type_name(&self) -> &'static str {
        Service::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name", "cluster", "launch_type", "load_balancers"]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["name", "cluster"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ecs", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let s: Service = parse(inputs)?;
        if s.name.is_empty()
            || s.name.len() > 255
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", s.name),
                "1 to 255 letters, digits, hyphens and underscores",
            ));
        }
        if s.desired_count < 0 {
            return Err(ProviderError::invalid(
                "desired_count",
                s.desired_count,
                "must not be negative",
            ));
        }
        if !matches!(s.launch_type.as_str(), "FARGATE" | "EC2" | "EXTERNAL") {
            return Err(ProviderError::invalid(
                "launch_type",
                format!("{:?}", s.launch_type),
                "must be FARGATE, EC2 or EXTERNAL",
            ));
        }
        if !(0..=100).contains(&s.deployment_minimum_healthy_percent) {
            return Err(ProviderError::invalid(
                "deployment_minimum_healthy_percent",
                s.deployment_minimum_healthy_percent,
                "must be between 0 and 100",
            ));
        }
        if s.deployment_maximum_percent < 100
            || s.deployment_maximum_percent <= s.deployment_minimum_healthy_percent
        {
            return Err(ProviderError::invalid(
                "deployment_maximum_percent",
                s.deployment_maximum_percent,
                "must be at least 100 and above deployment_minimum_healthy_percent",
            ));
        }
        if let Some(c) = &s.deployment_circuit_breaker {
            if c.rollback && !c.enable {
                return Err(ProviderError::invalid(
                    "deployment_circuit_breaker.rollback",
                    true,
                    "needs enable = true",
                ));
            }
        }
        for lb in &s.load_balancers {
            if !(1..=65535).contains(&lb.container_port) {
                return Err(ProviderError::invalid(
                    "load_balancers.container_port",
                    lb.container_port,
                    "must be between 1 and 65535",
                ));
            }
            if lb.container_name.is_empty() {
                return Err(ProviderError::invalid(
                    "load_balancers.container_name",
                    "\"\"",
                    "is required",
                ));
            }
        }
        match &s.network_configuration {
            Some(n) if n.subnets.is_empty() => {
                return Err(ProviderError::invalid(
                    "network_configuration.subnets",
                    "[]",
                    "at least one subnet",
                ));
            }
            Some(n) if n.security_groups.len() > 5 => {
                return Err(ProviderError::invalid(
                    "network_configuration.security_groups",
                    n.security_groups.len(),
                    "at most 5",
                ));
            }
            None if s.launch_type == "FARGATE" => {
                return Err(ProviderError::invalid(
                    "network_configuration",
                    "null",
                    "Fargate services (awsvpc) need subnets",
                ));
            }
            _ => {}
        }
        if let Some(g) = s.health_check_grace_period_seconds {
            if !(0..=2_147_483_647).contains(&g) {
                return Err(ProviderError::invalid(
                    "health_check_grace_period_seconds",
                    g,
                    "must not be negative",
                ));
            }
            if s.load_balancers.is_empty() {
                return Err(ProviderError::invalid(
                    "health_check_grace_period_seconds",
                    g,
                    "only applies to services with load_balancers",
                ));
            }
        }
        let t = timeout_of(&s)?;
        if t.is_zero() {
            return Err(ProviderError::invalid(
                "steady_state_timeout",
                format!("{:?}", s.steady_state_timeout),
                "must be positive",
            ));
        }
        tags::validate(&s.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let s: Service = parse(inputs)?;
        let cluster = known("cluster", &s.cluster)?;
        let mut lbs = Vec::new();
        for lb in &s.load_balancers {
            lbs.push(
                LoadBalancer::builder()
                    .target_group_arn(known(
                        "load_balancers.target_group_arn",
                        &lb.target_group_arn,
                    )?)
                    .container_name(&lb.container_name)
                    .container_port(lb.container_port)
                    .build(),
            );
        }
        self.aws.limits.ecs.acquire().await;
        let out = self
            .aws
            .ecs()
            .await
            .create_service()
            .cluster(&cluster)
            .service_name(&s.name)
            .task_definition(known("task_definition", &s.task_definition)?)
            .desired_count(s.desired_count)
            .launch_type(LaunchType::from(s.launch_type.as_str()))
            .deployment_configuration(deployment_config(&s))
            .set_load_balancers((!lbs.is_empty()).then_some(lbs))
            .set_network_configuration(network(&s)?)
            .set_service_registries(Some(registries(&s)?))
            .set_health_check_grace_period_seconds(s.health_check_grace_period_seconds)
            .enable_execute_command(s.enable_execute_command)
            .set_tags(Some(create_tags(&self.aws, ctx, &s.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateService", e))?;
        let svc = out.service().ok_or_else(|| {
            ProviderError::Fatal(format!("{}: CreateService returned no service", ctx.urn))
        })?;
        let id = svc.service_arn().unwrap_or_default().to_string();
        if s.wait_for_steady_state {
            match self
                .wait_steady(ctx, &cluster, &id, timeout_of(&s)?)
                .await?
            {
                Rollout::Completed => {}
                Rollout::Failed { deployment, reason } => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: deployment {deployment} of new service {id} FAILED: {reason}",
                        ctx.urn
                    )))
                }
                Rollout::TimedOut { deployment, state } => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: deployment {deployment} of new service {id} still {state} after {}",
                        ctx.urn, s.steady_state_timeout
                    )))
                }
            }
        }
        Ok(Created {
            id,
            outputs: outputs(svc),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs_now: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let declared: Service = parse(inputs)?;
        let cluster = outputs_now
            .get("cluster")
            .and_then(Value::as_str)
            .map(str::to_string)
            .map_or_else(|| known("cluster", &declared.cluster), Ok)?;
        let Some(svc) = self.describe(ctx, &cluster, id).await? else {
            return Ok(None);
        };
        let dc = svc.deployment_configuration();
        // Where the API leaves a field out (moto does for deployment settings),
        // the declared value stands.
        let live = Service {
            name: svc.service_name().unwrap_or_default().into(),
            cluster: declared.cluster.clone(),
            task_definition: svc
                .task_definition()
                .map(Input::from)
                .unwrap_or(declared.task_definition.clone()),
            desired_count: svc.desired_count(),
            launch_type: svc
                .launch_type()
                .map(|l| l.as_str().to_string())
                .unwrap_or(declared.launch_type.clone()),
            deployment_minimum_healthy_percent: dc
                .and_then(|d| d.minimum_healthy_percent())
                .unwrap_or(declared.deployment_minimum_healthy_percent),
            deployment_maximum_percent: dc
                .and_then(|d| d.maximum_percent())
                .unwrap_or(declared.deployment_maximum_percent),
            deployment_circuit_breaker: match dc.and_then(|d| d.deployment_circuit_breaker()) {
                Some(c) => Some(CircuitBreaker {
                    enable: c.enable(),
                    rollback: c.rollback(),
                })
                .filter(|c| c.enable || declared.deployment_circuit_breaker.is_some()),
                None => declared.deployment_circuit_breaker.clone(),
            },
            load_balancers: svc
                .load_balancers()
                .iter()
                .map(|l| ServiceLoadBalancer {
                    target_group_arn: l.target_group_arn().unwrap_or_default().into(),
                    container_name: l.container_name().unwrap_or_default().into(),
                    container_port: l.container_port().unwrap_or_default(),
                })
                .collect(),
            network_configuration: svc
                .network_configuration()
                .and_then(|n| n.awsvpc_configuration())
                .map(|v| Network {
                    subnets: v.subnets().iter().map(|s| Input::from(s.clone())).collect(),
                    security_groups: v
                        .security_groups()
                        .iter()
                        .map(|s| Input::from(s.clone()))
                        .collect(),
                    assign_public_ip: v.assign_public_ip() == Some(&AssignPublicIp::Enabled),
                }),
            service_registries: svc
                .service_registries()
                .iter()
                .map(|r| Registry {
                    registry_arn: r.registry_arn().unwrap_or_default().into(),
                })
                .collect(),
            health_check_grace_period_seconds: svc
                .health_check_grace_period_seconds()
                .or(declared.health_check_grace_period_seconds)
                .filter(|g| *g != 0 || declared.health_check_grace_period_seconds.is_some()),
            enable_execute_command: svc.enable_execute_command(),
            wait_for_steady_state: declared.wait_for_steady_state,
            steady_state_timeout: declared.steady_state_timeout.clone(),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(svc.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: outputs(&svc),
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
        let (o, n): (Service, Service) = (parse(old_inputs)?, parse(new_inputs)?);
        let cluster = old_outputs
            .get("cluster")
            .and_then(Value::as_str)
            .map(str::to_string)
            .map_or_else(|| known("cluster", &n.cluster), Ok)?;
        let new_td = known("task_definition", &n.task_definition)?;
        let settings_changed = {
            let strip = |s: &Service| Service {
                tags: Tags::new(),
                wait_for_steady_state: true,
                steady_state_timeout: String::new(),
                ..s.clone()
            };
            strip(&o) != strip(&n)
        };
        if settings_changed {
            self.update_call(ctx, &cluster, id, &n, &new_td).await?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        if settings_changed && n.wait_for_steady_state {
            let timeout = timeout_of(&n)?;
            let failure = match self.wait_steady(ctx, &cluster, id, timeout).await? {
                Rollout::Completed => None,
                Rollout::Failed { deployment, reason } => {
                    Some(format!("deployment {deployment} FAILED: {reason}"))
                }
                Rollout::TimedOut { deployment, state } => Some(format!(
                    "deployment {deployment} still {state} after {}",
                    n.steady_state_timeout
                )),
            };
            if let Some(failure) = failure {
                // Roll back to the previous task definition and settings.
                let old_td = known("task_definition", &o.task_definition)?;
                self.update_call(ctx, &cluster, id, &o, &old_td).await?;
                let back = match self.wait_steady(ctx, &cluster, id, timeout).await? {
                    Rollout::Completed => "rolled back to".to_string(),
                    Rollout::Failed { deployment, .. } => {
                        format!("the rollback deployment {deployment} also FAILED; service left on")
                    }
                    Rollout::TimedOut { deployment, state } => {
                        format!("the rollback deployment {deployment} is still {state}; service left on")
                    }
                };
                return Err(ProviderError::Fatal(format!(
                    "{}: service {id}: {failure}; {back} the previous task definition {old_td}",
                    ctx.urn
                )));
            }
        }
        match self.describe(ctx, &cluster, id).await? {
            Some(svc) => Ok(outputs(&svc)),
            None => Err(ProviderError::NotFound(format!(
                "{}: service {id} disappeared during update",
                ctx.urn
            ))),
        }
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs_now: &Value,
    ) -> Result<(), ProviderError> {
        let declared: Service = parse(inputs)?;
        let cluster = outputs_now
            .get("cluster")
            .and_then(Value::as_str)
            .map(str::to_string)
            .map_or_else(|| known("cluster", &declared.cluster), Ok)?;
        let ecs = self.aws.ecs().await;
        let Some(svc) = self.describe(ctx, &cluster, id).await? else {
            return Ok(());
        };
        if svc.status() == Some("ACTIVE") {
            self.aws.limits.ecs.acquire().await;
            if let Err(e) = ecs
                .update_service()
                .cluster(&cluster)
                .service(id)
                .desired_count(0)
                .send()
                .await
            {
                match error::map(&ctx.urn, "UpdateService", e) {
                    ProviderError::NotFound(_) => return Ok(()),
                    other => return Err(other),
                }
            }
            self.aws.limits.ecs.acquire().await;
            if let Err(e) = ecs
                .delete_service()
                .cluster(&cluster)
                .service(id)
                .force(true)
                .send()
                .await
            {
                match error::map(&ctx.urn, "DeleteService", e) {
                    ProviderError::NotFound(_) => return Ok(()),
                    other => return Err(other),
                }
            }
        }
        let start = Instant::now();
        loop {
            match self.describe(ctx, &cluster, id).await? {
                None => return Ok(()),
                Some(s) if start.elapsed() >= self.aws.settings.wait_timeout => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: service {id} still {} after {:?}",
                        ctx.urn,
                        s.status().unwrap_or("?"),
                        self.aws.settings.wait_timeout
                    )))
                }
                Some(_) => tokio::time::sleep(self.aws.settings.poll_interval).await,
            }
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let Some(cluster) = inputs.get("cluster").and_then(Value::as_str) else {
            return Ok(Vec::new());
        };
        let ecs = self.aws.ecs().await;
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            self.aws.limits.ecs.acquire().await;
            let out = match ecs
                .list_services()
                .cluster(cluster)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => match error::map(&ctx.urn, "ListServices", e) {
                    ProviderError::NotFound(_) => return Ok(Vec::new()),
                    other => return Err(other),
                },
            };
            arns.extend(out.service_arns().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for chunk in arns.chunks(10) {
            for s in self.describe_many(ctx, cluster, chunk.to_vec()).await? {
                if s.status() == Some("ACTIVE") && has_urn(s.tags(), ctx) {
                    found.push(Created {
                        id: s.service_arn().unwrap_or_default().to_string(),
                        outputs: outputs(&s),
                    });
                }
            }
        }
        Ok(found)
    }
}
