//! RabbitMQ component (R8): an Amazon MQ RabbitMQ 3.13 broker (R8.1 says
//! 3.11, which Amazon MQ no longer creates) in the private subnets behind
//! the RabbitMQ security group — single instance in staging,
//! a three-node multi-AZ cluster in production — with general logs to
//! CloudWatch and an admin user whose password comes from `random`.
//! R8.3 also names audit logs; Amazon MQ offers those for ActiveMQ only and
//! rejects them for RabbitMQ, so the broker type refuses them up front.

use morket_stack::model::{ModelError, Resource, Scope};
use morket_stack::provider::aws::mq::broker::{Broker, BrokerUser};
use morket_stack::provider::random::RandomPassword;

use super::config::MorketConfig;
use super::network::{name_tag, Network};

pub struct Rabbitmq {
    pub broker: Resource<Broker>,
    pub admin_password: Resource<RandomPassword>,
}

pub const ADMIN_USER: &str = "morket_admin";

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
) -> Result<Rabbitmq, ModelError> {
    let mut c = scope
        .component("morket:Rabbitmq", "rabbitmq")?
        .protect_all(cfg.is_production());
    let r = &cfg.rabbitmq;

    // Amazon MQ forbids ',', ':' and '='; '%', '#', '/', '@' would need
    // escaping in AMQP URIs.
    let mut password = RandomPassword::new(32);
    password.override_special = Some("!^&*-_+".into());
    let admin_password = c.resource("admin-password", password)?;

    let mut broker = Broker::new(
        &cfg.name(""),
        &r.engine_version,
        &r.instance_type,
        net.private_subnets[0].id(),
        BrokerUser::new(ADMIN_USER, admin_password.result()),
    );
    broker.deployment_mode = r.deployment_mode.clone();
    if r.deployment_mode == "CLUSTER_MULTI_AZ" {
        broker.subnet_ids = net.private_subnets.iter().map(|s| s.id().into()).collect();
    }
    broker.security_groups = vec![net.security_groups.rabbitmq.id().into()];
    broker.publicly_accessible = false;
    broker.logs.general = true;
    broker.tags = name_tag(cfg, "rabbitmq");
    let broker = c.resource("broker", broker)?;
    Ok(Rabbitmq {
        broker,
        admin_password,
    })
}
