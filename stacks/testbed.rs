//! `testbed` (feature `test-provider`): a stack of `test:index/Thing`s in a
//! cloud persisted to a directory, so separate `morket-stack` processes (one of
//! them killed mid-apply) see the same resources. Used by the CLI tests.

use std::sync::Arc;
use std::time::Duration;

use morket_stack::model::{Input, Stack};
use morket_stack::provider::testing::{Op, TestArgs, TestCloud, TestProvider};
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
    /// Creates in two calls (see `TestProvider::two_step`).
    #[serde(default)]
    pub two_step: bool,
    /// Two-step creates wait between their steps for `<dir>/<name>.go`.
    #[serde(default)]
    pub barrier_dir: Option<String>,
    /// Resources whose second create step fails (a partial create).
    #[serde(default)]
    pub fail_configure: Vec<String>,
    /// Resources whose create succeeds, then reports a failure.
    #[serde(default)]
    pub fail_after_create: Vec<String>,
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
    let mut provider = TestProvider::new()
        .latency(Duration::from_millis(cfg.latency_ms))
        .backend(Arc::new(cloud));
    if cfg.two_step {
        provider = provider.two_step();
    }
    if let Some(dir) = &cfg.barrier_dir {
        provider = provider.barrier(dir);
    }
    for name in &cfg.fail_configure {
        provider = provider.fail_on(name, Op::Configure);
    }
    for name in &cfg.fail_after_create {
        provider = provider.fail_after(name, Op::Create);
    }
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
        aws: None,
        registry,
        outputs: Vec::new(),
        values: Vec::new(),
    })
}
