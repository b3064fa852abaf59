//! ECS cluster component (R3.1): a cluster with the Fargate and Fargate Spot
//! capacity providers (Fargate by default) and container insights enabled.
//! Task definitions and services join with the ALB and ECR work.

use morket_stack::model::{ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::ecs::cluster::{CapacityProviderStrategy, Cluster};

use super::account::Account;
use super::config::MorketConfig;
use super::network::name_tag;

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    account: &Account,
) -> Result<Resource<Cluster>, ModelError> {
    let mut c = scope.component("morket:Ecs", "ecs")?;
    let mut cluster = Cluster::new(&cfg.name(""));
    cluster.capacity_providers = vec!["FARGATE".into(), "FARGATE_SPOT".into()];
    cluster.default_capacity_provider_strategy = vec![CapacityProviderStrategy {
        capacity_provider: "FARGATE".into(),
        weight: 1,
        base: 0,
    }];
    cluster.container_insights = "enabled".into();
    cluster.tags = name_tag(cfg, "ecs");
    // Capacity providers need the ECS service-linked role.
    c.resource_with(
        "cluster",
        cluster,
        ResourceOptions::new().depends_on(&account.ecs),
    )
}
