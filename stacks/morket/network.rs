//! Network component (R2): a VPC over two AZs with a public and a private
//! subnet per AZ, an internet gateway, NAT gateways (one per AZ in production,
//! one in staging) with their Elastic IPs, a public route table through the
//! internet gateway and a private one per AZ through its NAT gateway, and the
//! security groups of R2.4 with exactly the ingress rules listed there, and
//! VPC flow logs to a CloudWatch log group through an IAM role (R2.5). The
//! VPC's default security group is kept without rules: everything here
//! names a group of its own.

use std::net::Ipv4Addr;

use morket_stack::model::{HasUrn, ModelError, Resource, ResourceOptions, Scope, Urn};
use morket_stack::provider::aws::ec2::availability_zones::GetAvailabilityZones;
use morket_stack::provider::aws::ec2::default_security_group::DefaultSecurityGroup;
use morket_stack::provider::aws::ec2::eip::Eip;
use morket_stack::provider::aws::ec2::flow_log::FlowLog;
use morket_stack::provider::aws::ec2::internet_gateway::InternetGateway;
use morket_stack::provider::aws::ec2::nat_gateway::NatGateway;
use morket_stack::provider::aws::ec2::route::Route;
use morket_stack::provider::aws::ec2::route_table::RouteTable;
use morket_stack::provider::aws::ec2::route_table_association::RouteTableAssociation;
use morket_stack::provider::aws::ec2::security_group::SecurityGroup;
use morket_stack::provider::aws::ec2::security_group_rule::SecurityGroupRule;
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::iam::role::Role;
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::tags::Tags;

use super::config::MorketConfig;

pub struct Network {
    pub vpc: Resource<Vpc>,
    pub public_subnets: Vec<Resource<Subnet>>,
    pub private_subnets: Vec<Resource<Subnet>>,
    pub internet_gateway: Resource<InternetGateway>,
    pub nat_gateways: Vec<Resource<NatGateway>>,
    /// Each private subnet's default route through a NAT gateway, and the
    /// association that puts the subnet on it: what an instance whose first
    /// boot downloads software waits for.
    pub private_egress: Vec<(Resource<Route>, Resource<RouteTableAssociation>)>,
    pub security_groups: SecurityGroups,
}

/// One group per tier (R2.4).
pub struct SecurityGroups {
    pub alb: Resource<SecurityGroup>,
    pub ecs: Resource<SecurityGroup>,
    pub aurora: Resource<SecurityGroup>,
    pub redis: Resource<SecurityGroup>,
    pub rabbitmq: Resource<SecurityGroup>,
    pub opensearch: Resource<SecurityGroup>,
    pub clickhouse: Resource<SecurityGroup>,
    pub temporal: Resource<SecurityGroup>,
    /// The rules that let ECS tasks in, by `<tier>-<port>` (what a task
    /// that must connect at start waits for).
    pub from_ecs: std::collections::BTreeMap<String, Urn>,
}

/// Ports the ECS services listen on behind the ALB (backend API, scraper).
pub const SERVICE_PORTS: &[u16] = &[3000, 8001];

/// The `index`-th /24 inside the VPC's CIDR (validated at config load).
pub fn subnet_cidr(vpc_cidr: &str, index: u32) -> String {
    let base: Ipv4Addr = vpc_cidr
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("VPC CIDR was validated");
    format!("{}/24", Ipv4Addr::from(u32::from(base) + index * 256))
}

pub fn name_tag(cfg: &MorketConfig, what: &str) -> Tags {
    Tags::from([("Name".to_string(), cfg.name(what))])
}

pub fn declare(scope: &mut Scope<'_>, cfg: &MorketConfig) -> Result<Network, ModelError> {
    let mut net = scope.component("morket:Network", "network")?;
    let n = &cfg.network;
    let mut vpc = Vpc::new(&n.vpc_cidr);
    vpc.tags = name_tag(cfg, "vpc");
    let vpc = net.resource("vpc", vpc)?;
    let mut default_sg = DefaultSecurityGroup::new(vpc.id());
    default_sg.tags = name_tag(cfg, "default");
    net.resource("default-sg", default_sg)?;
    // The configured zones must exist in the region: checked while
    // planning, before any subnet is made in a zone that is not there.
    let zones = net.resource(
        "zones",
        GetAvailabilityZones::requiring(&n.availability_zones),
    )?;
    let in_zone = || ResourceOptions::new().depends_on(&zones);

    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    for (i, az) in n.availability_zones.iter().enumerate() {
        let i = i as u32;
        let mut public = Subnet::new(vpc.id(), &subnet_cidr(&n.vpc_cidr, i));
        public.availability_zone = Some(az.clone());
        // The ALB and the NAT gateways bring their own addresses; nothing
        // launched here needs one handed out.
        public.map_public_ip_on_launch = false;
        public.tags = name_tag(cfg, &format!("public-{az}"));
        public.tags.insert("Tier".into(), "public".into());
        public_subnets.push(net.resource_with(&format!("public-{az}"), public, in_zone())?);

        let mut private = Subnet::new(vpc.id(), &subnet_cidr(&n.vpc_cidr, 10 + i));
        private.availability_zone = Some(az.clone());
        private.tags = name_tag(cfg, &format!("private-{az}"));
        private.tags.insert("Tier".into(), "private".into());
        private_subnets.push(net.resource_with(&format!("private-{az}"), private, in_zone())?);
    }

    let mut igw = InternetGateway::attached_to(vpc.id());
    igw.tags = name_tag(cfg, "igw");
    let internet_gateway = net.resource("igw", igw)?;

    let mut nat_gateways = Vec::new();
    for (i, subnet) in public_subnets
        .iter()
        .take(n.nat_gateways as usize)
        .enumerate()
    {
        let az = &n.availability_zones[i];
        let mut eip = Eip::new();
        eip.tags = name_tag(cfg, &format!("nat-{az}"));
        let eip = net.resource(&format!("nat-eip-{az}"), eip)?;
        let mut nat = NatGateway::new(eip.allocation_id(), subnet.id());
        nat.tags = name_tag(cfg, &format!("nat-{az}"));
        // A NAT gateway keeps its Elastic IP: a replacement must go first.
        let opts = morket_stack::model::ResourceOptions::new()
            .delete_before_replace(true)
            .depends_on(&internet_gateway);
        nat_gateways.push(net.resource_with(&format!("nat-{az}"), nat, opts)?);
    }

    // Public subnets route to the internet gateway.
    let mut public_rt = RouteTable::new(vpc.id());
    public_rt.tags = name_tag(cfg, "public");
    let public_rt = net.resource("public-rt", public_rt)?;
    net.resource(
        "public-default",
        Route::via_gateway(public_rt.id(), "0.0.0.0/0", internet_gateway.id()),
    )?;
    for (subnet, az) in public_subnets.iter().zip(&n.availability_zones) {
        net.resource(
            &format!("public-rta-{az}"),
            RouteTableAssociation::new(public_rt.id(), subnet.id()),
        )?;
    }
    // Private subnets route through their AZ's NAT gateway, or the only one.
    let mut private_egress = Vec::new();
    for (i, (subnet, az)) in private_subnets
        .iter()
        .zip(&n.availability_zones)
        .enumerate()
    {
        let nat = &nat_gateways[i.min(nat_gateways.len() - 1)];
        let mut rt = RouteTable::new(vpc.id());
        rt.tags = name_tag(cfg, &format!("private-{az}"));
        let rt = net.resource(&format!("private-rt-{az}"), rt)?;
        let route = net.resource(
            &format!("private-default-{az}"),
            Route::via_nat_gateway(rt.id(), "0.0.0.0/0", nat.id()),
        )?;
        let rta = net.resource(
            &format!("private-rta-{az}"),
            RouteTableAssociation::new(rt.id(), subnet.id()),
        )?;
        private_egress.push((route, rta));
    }

    let security_groups = security_groups(&mut net, cfg, &vpc)?;
    flow_logs(&mut net, cfg, &vpc)?;

    Ok(Network {
        vpc,
        public_subnets,
        private_subnets,
        internet_gateway,
        nat_gateways,
        private_egress,
        security_groups,
    })
}

/// All traffic of the VPC to a log group kept `log_retention_days` (R2.5).
fn flow_logs(
    net: &mut Scope<'_>,
    cfg: &MorketConfig,
    vpc: &Resource<Vpc>,
) -> Result<(), ModelError> {
    let group_name = format!("/morket/{}/vpc-flow-logs", cfg.environment);
    let mut group = LogGroup::new(&group_name);
    group.retention_in_days = Some(cfg.log_retention_days as i32);
    group.tags = name_tag(cfg, "vpc-flow-logs");
    let group = net.resource("flow-log-group", group)?;

    // Role names are account-wide: the environment keeps staging and
    // production apart in one account.
    let mut role = Role::for_service(&cfg.name("vpc-flow-logs"), "vpc-flow-logs.amazonaws.com");
    role.description = Some("Publishes the Morket VPC flow logs to CloudWatch Logs".into());
    role.inline_policies.insert(
        "publish-flow-logs".into(),
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams"
                ],
                "Resource": [
                    format!("arn:aws:logs:{}:*:log-group:{group_name}", cfg.region),
                    format!("arn:aws:logs:{}:*:log-group:{group_name}:*", cfg.region)
                ]
            }]
        })
        .to_string()
        .into(),
    );
    role.tags = name_tag(cfg, "vpc-flow-logs");
    let role = net.resource("flow-log-role", role)?;

    let mut flow = FlowLog::new(vpc.id(), group.name(), role.arn());
    flow.traffic_type = "ALL".into();
    flow.tags = name_tag(cfg, "vpc-flow-logs");
    net.resource("flow-log", flow)?;
    Ok(())
}

fn security_groups(
    net: &mut Scope<'_>,
    cfg: &MorketConfig,
    vpc: &Resource<Vpc>,
) -> Result<SecurityGroups, ModelError> {
    let mut group = |tier: &str, description: &str| {
        let mut g = SecurityGroup::new(&cfg.name(tier), vpc.id());
        g.description = description.into();
        g.tags = name_tag(cfg, tier);
        net.resource(&format!("sg-{tier}"), g)
    };
    let mut sgs = SecurityGroups {
        alb: group("alb", "Morket ALB: HTTPS from anywhere")?,
        ecs: group("ecs", "Morket ECS tasks: service ports from the ALB")?,
        aurora: group("aurora", "Morket Aurora: PostgreSQL from ECS")?,
        redis: group("redis", "Morket Redis: 6379 from ECS")?,
        rabbitmq: group("rabbitmq", "Morket RabbitMQ: AMQPS from ECS")?,
        opensearch: group("opensearch", "Morket OpenSearch: HTTPS from ECS")?,
        clickhouse: group("clickhouse", "Morket ClickHouse: HTTP and native from ECS")?,
        temporal: group("temporal", "Morket Temporal: gRPC from ECS")?,
        from_ecs: Default::default(),
    };
    net.resource(
        "alb-https-in",
        SecurityGroupRule::ingress(sgs.alb.id(), "tcp", 443, 443)
            .with_cidr_blocks(&["0.0.0.0/0"])
            .with_description("HTTPS from anywhere"),
    )?;
    // The listener on 80 only redirects to HTTPS; without the rule a
    // browser typing the bare domain times out instead of being redirected.
    net.resource(
        "alb-http-in",
        SecurityGroupRule::ingress(sgs.alb.id(), "tcp", 80, 80)
            .with_cidr_blocks(&["0.0.0.0/0"])
            .with_description("HTTP from anywhere, redirected to HTTPS"),
    )?;
    for port in SERVICE_PORTS {
        net.resource(
            &format!("ecs-{port}-from-alb"),
            SecurityGroupRule::ingress(sgs.ecs.id(), "tcp", *port as i32, *port as i32)
                .with_source_security_group_id(sgs.alb.id())
                .with_description("service port from the ALB"),
        )?;
    }
    let from_ecs: [(&str, &Resource<SecurityGroup>, &[u16]); 6] = [
        ("aurora", &sgs.aurora, &[5432]),
        ("redis", &sgs.redis, &[6379]),
        ("rabbitmq", &sgs.rabbitmq, &[5671]),
        ("opensearch", &sgs.opensearch, &[443]),
        ("clickhouse", &sgs.clickhouse, &[8123, 9000]),
        ("temporal", &sgs.temporal, &[7233]),
    ];
    let mut rules = Vec::new();
    for (tier, sg, ports) in from_ecs {
        for port in ports {
            let rule = net.resource(
                &format!("{tier}-{port}-from-ecs"),
                SecurityGroupRule::ingress(sg.id(), "tcp", *port as i32, *port as i32)
                    .with_source_security_group_id(sgs.ecs.id())
                    .with_description("from ECS tasks"),
            )?;
            rules.push((format!("{tier}-{port}"), rule.urn().clone()));
        }
    }
    sgs.from_ecs.extend(rules);
    Ok(sgs)
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
