//! Network component (R2): a VPC over two AZs with a public and a private
//! subnet per AZ, an internet gateway, NAT gateways (one per AZ in production,
//! one in staging) with their Elastic IPs. Routes, security groups and flow
//! logs join as their resource types land.

use std::net::Ipv4Addr;

use morket_stack::model::{ModelError, Resource, Scope};
use morket_stack::provider::aws::ec2::eip::Eip;
use morket_stack::provider::aws::ec2::internet_gateway::InternetGateway;
use morket_stack::provider::aws::ec2::nat_gateway::NatGateway;
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::tags::Tags;

use super::config::MorketConfig;

pub struct Network {
    pub vpc: Resource<Vpc>,
    pub public_subnets: Vec<Resource<Subnet>>,
    pub private_subnets: Vec<Resource<Subnet>>,
    pub internet_gateway: Resource<InternetGateway>,
    pub nat_gateways: Vec<Resource<NatGateway>>,
}

/// The `index`-th /24 inside the VPC's CIDR (validated at config load).
pub fn subnet_cidr(vpc_cidr: &str, index: u32) -> String {
    let base: Ipv4Addr = vpc_cidr
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("VPC CIDR was validated");
    format!("{}/24", Ipv4Addr::from(u32::from(base) + index * 256))
}

fn name(cfg: &MorketConfig, what: &str) -> Tags {
    Tags::from([(
        "Name".to_string(),
        format!("morket-{}-{what}", cfg.environment),
    )])
}

pub fn declare(scope: &mut Scope<'_>, cfg: &MorketConfig) -> Result<Network, ModelError> {
    let mut net = scope.component("morket:Network", "network")?;
    let n = &cfg.network;
    let mut vpc = Vpc::new(&n.vpc_cidr);
    vpc.tags = name(cfg, "vpc");
    let vpc = net.resource("vpc", vpc)?;

    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    for (i, az) in n.availability_zones.iter().enumerate() {
        let i = i as u32;
        let mut public = Subnet::new(vpc.id(), &subnet_cidr(&n.vpc_cidr, i));
        public.availability_zone = Some(az.clone());
        public.map_public_ip_on_launch = true;
        public.tags = name(cfg, &format!("public-{az}"));
        public.tags.insert("Tier".into(), "public".into());
        public_subnets.push(net.resource(&format!("public-{az}"), public)?);

        let mut private = Subnet::new(vpc.id(), &subnet_cidr(&n.vpc_cidr, 10 + i));
        private.availability_zone = Some(az.clone());
        private.tags = name(cfg, &format!("private-{az}"));
        private.tags.insert("Tier".into(), "private".into());
        private_subnets.push(net.resource(&format!("private-{az}"), private)?);
    }

    let mut igw = InternetGateway::attached_to(vpc.id());
    igw.tags = name(cfg, "igw");
    let internet_gateway = net.resource("igw", igw)?;

    let mut nat_gateways = Vec::new();
    for (i, subnet) in public_subnets
        .iter()
        .take(n.nat_gateways as usize)
        .enumerate()
    {
        let az = &n.availability_zones[i];
        let mut eip = Eip::new();
        eip.tags = name(cfg, &format!("nat-{az}"));
        let eip = net.resource(&format!("nat-eip-{az}"), eip)?;
        let mut nat = NatGateway::new(eip.allocation_id(), subnet.id());
        nat.tags = name(cfg, &format!("nat-{az}"));
        // A NAT gateway keeps its Elastic IP: a replacement must go first.
        let opts = morket_stack::model::ResourceOptions::new()
            .delete_before_replace(true)
            .depends_on(&internet_gateway);
        nat_gateways.push(net.resource_with(&format!("nat-{az}"), nat, opts)?);
    }

    Ok(Network {
        vpc,
        public_subnets,
        private_subnets,
        internet_gateway,
        nat_gateways,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_cidrs_are_consecutive_24s() {
        assert_eq!(subnet_cidr("10.0.0.0/16", 0), "10.0.0.0/24");
        assert_eq!(subnet_cidr("10.0.0.0/16", 11), "10.0.11.0/24");
    }
}
