//! `testbed` (feature `test-provider`): a stack of `test:index/Thing`s in a
//! cloud persisted to a directory, so separate `morket-stack` processes (one of
//! them killed mid-apply) see the same resources. Used by the CLI tests.

use std::sync::Arc;
use std::time::Duration;

use morket_stack::model::{Input, Stack};
use morket_stack::provider::testing::{TestArgs, TestCloud, TestProvider};
use morket_stack::provider::Registry;
use serde::Deserialize;

use super::{ConfigFile, Loaded, StackEnv, StackError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestbedConfig {
    pub cloud_dir: String,
    /// Resources in total, spread over `chains` dependency chains.
    pub count: u32,
    #[serde(default = "one")]
    pub chains: u32,
    #[serde(default)]
    pub latency_ms: u64,
    /// The `value` every resource gets (change it to plan updates).
    #[serde(default)]
    pub value: String,
}

fn one() -> u32 {
    1
}

pub fn build(name: &str, file: &ConfigFile, _env: &StackEnv) -> Result<Loaded, StackError> {
    let cfg: TestbedConfig = file.parse()?;
    if cfg.chains == 0 {
        return Err(file.bad("chains", 0, "must be at least 1"));
    }
    let cloud = TestCloud::persistent(&cfg.cloud_dir)
        .map_err(|e| file.bad("cloud_dir", &cfg.cloud_dir, &e.to_string()))?;
    let provider = TestProvider::new()
        .latency(Duration::from_millis(cfg.latency_ms))
        .backend(Arc::new(cloud));
    let mut registry = Registry::builtin();
    registry.register(provider);

    let mut stack = Stack::new(name)?;
    let mut root = stack.root();
    let mut last: Vec<Option<Input<String>>> = vec![None; cfg.chains as usize];
    for i in 0..cfg.count {
        let chain = (i % cfg.chains) as usize;
        let mut args = TestArgs::new(cfg.value.clone());
        args.refs.extend(last[chain].take());
        let r = root.resource(&format!("thing-{i}"), args)?;
        last[chain] = Some(r.id().into());
    }
    Ok(Loaded {
        stack,
        registry,
        outputs: Vec::new(),
    })
}
