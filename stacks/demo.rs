//! `demo`: a stack that runs anywhere with no cloud account, using only the
//! providers that ship with the engine. It generates a database password and
//! an id suffix, waits (like `time_sleep`) and writes per-worker config files.

use morket_stack::model::{ResourceOptions, Stack};
use morket_stack::provider::local::File;
use morket_stack::provider::random::{RandomId, RandomPassword};
use morket_stack::provider::time::Sleep;
use morket_stack::provider::Registry;
use serde::Deserialize;

use super::{ConfigFile, Loaded, StackEnv, StackError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Where the files go (relative to the working directory).
    pub output_dir: String,
    #[serde(default = "default_length")]
    pub password_length: u32,
    /// Workers, each a sleep followed by a file.
    #[serde(default = "default_workers")]
    pub workers: u32,
    /// How long each worker's sleep takes (humantime).
    #[serde(default = "default_settle")]
    pub settle: String,
}

fn default_length() -> u32 {
    24
}
fn default_workers() -> u32 {
    3
}
fn default_settle() -> String {
    "0s".into()
}

pub fn build(name: &str, file: &ConfigFile, _env: &StackEnv) -> Result<Loaded, StackError> {
    let cfg: DemoConfig = file.parse()?;
    if !(12..=128).contains(&cfg.password_length) {
        return Err(file.bad(
            "password_length",
            cfg.password_length,
            "must be between 12 and 128",
        ));
    }
    if !(1..=1000).contains(&cfg.workers) {
        return Err(file.bad("workers", cfg.workers, "must be between 1 and 1000"));
    }
    if let Err(e) = humantime::parse_duration(&cfg.settle) {
        return Err(file.bad("settle", format!("{:?}", cfg.settle), &e.to_string()));
    }
    if cfg.output_dir.trim().is_empty() {
        return Err(file.bad("output_dir", "\"\"", "must not be empty"));
    }

    let mut stack = Stack::new(name)?;
    let mut root = stack.root();
    let suffix = root.resource("suffix", RandomId::new(4))?;
    let password = root.resource("db-password", RandomPassword::new(cfg.password_length))?;
    let secret_file = root.resource(
        "db-password-file",
        File {
            file_permission: "0600".into(),
            ..File::new(format!("{}/db-password", cfg.output_dir), password.result())
        },
    )?;
    let mut app = root.component("demo:App", "app")?;
    for i in 0..cfg.workers {
        let settle = app.resource(
            &format!("settle-{i}"),
            Sleep {
                create_duration: Some(cfg.settle.clone()),
                ..Default::default()
            },
        )?;
        app.resource_with(
            &format!("worker-{i}"),
            File::new(format!("{}/worker-{i}.id", cfg.output_dir), suffix.hex()),
            ResourceOptions::new().depends_on(&settle),
        )?;
    }
    let outputs = vec![
        ("suffix".to_string(), suffix.urn_clone(), "hex".to_string()),
        (
            "db_password".to_string(),
            password.urn_clone(),
            "result".to_string(),
        ),
        (
            "db_password_file".to_string(),
            secret_file.urn_clone(),
            "path".to_string(),
        ),
    ];
    Ok(Loaded {
        stack,
        aws: None,
        registry: Registry::builtin(),
        outputs,
        values: Vec::new(),
    })
}
