//! Network component (R2): the VPC. Subnets, gateways, routes, security
//! groups and flow logs join as their resource types land.

use morket_stack::model::{ModelError, Resource, Scope};
use morket_stack::provider::aws::ec2::vpc::Vpc;

use super::config::MorketConfig;

pub struct Network {
    pub vpc: Resource<Vpc>,
}

pub fn declare(scope: &mut Scope<'_>, cfg: &MorketConfig) -> Result<Network, ModelError> {
    let mut net = scope.component("morket:Network", "network")?;
    let mut vpc = Vpc::new(&cfg.network.vpc_cidr);
    vpc.tags
        .insert("Name".into(), format!("morket-{}", cfg.environment));
    let vpc = net.resource("vpc", vpc)?;
    Ok(Network { vpc })
}
