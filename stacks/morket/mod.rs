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
    let outputs = vec![(
        "vpc_id".to_string(),
        net.vpc.urn().clone(),
        "id".to_string(),
    )];
    Ok(Loaded {
        stack,
        registry,
        outputs,
    })
}
