//! The Morket platform stack (seeds 000/001), built from reusable components
//! wired by their outputs. Configured per environment by `stacks/<env>.toml`.

use std::sync::Arc;

use morket_stack::model::{HasUrn, Stack};
use morket_stack::provider::aws::{self, Aws};
use morket_stack::provider::Registry;

use super::{ConfigFile, Loaded, StackEnv, StackError};

pub mod config;
pub mod network;

use config::MorketConfig;

pub fn build(name: &str, file: &ConfigFile, env: &StackEnv) -> Result<Loaded, StackError> {
    let cfg = MorketConfig::load(file)?;
    let mut settings = env.aws.clone();
    settings.region.get_or_insert_with(|| cfg.region.clone());
    settings.default_tags = cfg.default_tags();
    let mut registry = Registry::builtin();
    aws::register(&mut registry, Arc::new(Aws::new(settings)));

    let mut stack = Stack::new(name)?;
    let mut root = stack.root();
    let net = network::declare(&mut root, &cfg)?;
    let mut outputs = vec![(
        "vpc_id".to_string(),
        net.vpc.urn().clone(),
        "id".to_string(),
    )];
    for (i, nat) in net.nat_gateways.iter().enumerate() {
        outputs.push((
            format!("nat_public_ip_{i}"),
            nat.urn().clone(),
            "public_ip".to_string(),
        ));
    }
    for (kind, subnets) in [
        ("public", &net.public_subnets),
        ("private", &net.private_subnets),
    ] {
        for (i, s) in subnets.iter().enumerate() {
            outputs.push((
                format!("{kind}_subnet_{i}"),
                s.urn().clone(),
                "id".to_string(),
            ));
        }
    }
    outputs.push((
        "internet_gateway_id".into(),
        net.internet_gateway.urn().clone(),
        "id".into(),
    ));
    let sg = &net.security_groups;
    for (tier, g) in [
        ("alb", &sg.alb),
        ("ecs", &sg.ecs),
        ("aurora", &sg.aurora),
        ("redis", &sg.redis),
    ] {
        outputs.push((
            format!("{tier}_security_group_id"),
            g.urn().clone(),
            "id".into(),
        ));
    }
    Ok(Loaded {
        stack,
        registry,
        outputs,
    })
}
