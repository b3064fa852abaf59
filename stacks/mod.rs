//! Declared stacks, compiled into the `morket-stack` binary. The engine
//! library does not depend on this module.
//!
//! A stack named `S` is configured by `<stacks-dir>/S.toml`, whose `project`
//! key picks the program below; the other keys are that program's typed
//! configuration. Unknown keys and out-of-range values are errors that name
//! the file, key and value, before any provider call.

use std::path::{Path, PathBuf};

use morket_stack::model::{ModelError, Stack, Urn};
use morket_stack::provider::aws::AwsSettings;
use morket_stack::provider::Registry;

pub mod demo;
pub mod morket;
pub mod state_bucket;
#[cfg(feature = "test-provider")]
pub mod testbed;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: {key} = {value}: {reason}")]
    Value {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{path}: unknown project {project:?} (known: {known})")]
    UnknownProject {
        path: PathBuf,
        project: String,
        known: String,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A built stack, the providers it needs and the outputs it exports:
/// (name, resource, attribute), and values fixed by the program (a port, an
/// internal DNS name).
pub struct Loaded {
    pub stack: Stack,
    pub registry: Registry,
    /// The AWS settings the program used (region, default tags), for the
    /// Terraform export; `None` for a stack without AWS.
    pub aws: Option<morket_stack::provider::aws::AwsSettings>,
    pub outputs: Vec<(String, Urn, String)>,
    pub values: Vec<(String, serde_json::Value)>,
}

impl Loaded {
    /// The stack as the Terraform export takes it; `backend` is the S3
    /// location of its team state, if any (bucket, prefix, region).
    pub fn terraform_env(
        &self,
        backend: Option<(String, String, Option<String>)>,
    ) -> morket_stack::export::Environment<'_> {
        morket_stack::export::Environment {
            stack: &self.stack,
            registry: &self.registry,
            outputs: &self.outputs,
            region: self
                .aws
                .as_ref()
                .and_then(|a| a.region.clone())
                .unwrap_or_else(|| "us-east-1".into()),
            default_tags: self
                .aws
                .as_ref()
                .map(|a| a.default_tags.clone())
                .unwrap_or_default(),
            backend,
        }
    }
}

/// A configuration file, parsed and ready for a project's typed config.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub table: toml::Table,
}

impl ConfigFile {
    /// Deserializes the whole table (minus `project`) into `T`; serde's error
    /// names the offending key.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, StackError> {
        let mut t = self.table.clone();
        t.remove("project");
        t.remove("backend");
        T::deserialize(toml::Value::Table(t)).map_err(|e| StackError::Config {
            path: self.path.clone(),
            message: e.to_string().trim().to_string(),
        })
    }

    /// Sets the dotted `key` to `value` (`--set`). A key the file has keeps
    /// its type: a string stays a string (`image_tag=123`); otherwise the
    /// value is read as TOML (`5`, `true`, `["a", "b"]`) or else as a string.
    /// `project` cannot be overridden; unknown keys fail when the program
    /// parses the table, naming the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), StackError> {
        let bad = |reason: &str| StackError::Value {
            path: self.path.clone(),
            key: key.to_string(),
            value: format!("{value:?} (--set)"),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = key.split('.').collect();
        // The backend decides which state is used: --backend, never --set.
        if key == "project" || parts[0] == "backend" || parts.iter().any(|p| p.is_empty()) {
            return Err(bad("not a key that --set can change"));
        }
        let (last, parents) = parts.split_last().expect("split yields one part");
        let mut table = &mut self.table;
        for p in parents {
            let entry = table
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => return Err(bad(&format!("{p} is not a table"))),
            };
        }
        let parsed = match table.get(*last) {
            Some(toml::Value::String(_)) => toml::Value::String(value.to_string()),
            _ => format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_string())),
        };
        table.insert(last.to_string(), parsed);
        Ok(())
    }

    pub fn bad(&self, key: &str, value: impl std::fmt::Display, reason: &str) -> StackError {
        StackError::Value {
            path: self.path.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// What the CLI passes to every stack program.
#[derive(Debug, Clone, Default)]
pub struct StackEnv {
    /// Region, profile, retries and timeouts for AWS clients; a program adds
    /// its stack-wide default tags.
    pub aws: AwsSettings,
    /// `--set KEY=VALUE` overrides of the stack file, applied before the
    /// program checks it (so they are checked like the file).
    pub set: Vec<(String, String)>,
}

type Program = fn(&str, &ConfigFile, &StackEnv) -> Result<Loaded, StackError>;

fn programs() -> Vec<(&'static str, Program)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, Program)> = vec![
        ("demo", demo::build),
        ("morket", morket::build),
        ("state-bucket", state_bucket::build),
    ];
    #[cfg(feature = "test-provider")]
    v.push(("testbed", testbed::build));
    v
}

/// The stack file, read once (it may be a pipe); `None` when it does not exist.
pub fn read_stack_file(
    stacks_dir: &Path,
    stack: &str,
    config: Option<&Path>,
) -> Result<Option<ConfigFile>, StackError> {
    match read_config(&config_path(stacks_dir, stack, config)) {
        Ok(f) => Ok(Some(f)),
        Err(StackError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn config_path(stacks_dir: &Path, stack: &str, config: Option<&Path>) -> PathBuf {
    config
        .map(Path::to_path_buf)
        .unwrap_or_else(|| stacks_dir.join(format!("{stack}.toml")))
}

fn read_config(path: &Path) -> Result<ConfigFile, StackError> {
    let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| StackError::Config {
            path: path.to_path_buf(),
            message: e.to_string().trim().to_string(),
        })?;
    Ok(ConfigFile {
        path: path.to_path_buf(),
        table,
    })
}

/// AWS settings in the stack file's `region`; `--region` must agree.
pub fn settings_in(
    file: &ConfigFile,
    env: &StackEnv,
    region: &str,
) -> Result<AwsSettings, StackError> {
    let mut settings = env.aws.clone();
    if let Some(r) = settings.region.as_ref().filter(|r| *r != region) {
        return Err(file.bad(
            "region",
            format!("{region:?}"),
            &format!("--region {r} differs; the stack's region is set in the file"),
        ));
    }
    settings.region = Some(region.to_string());
    Ok(settings)
}

/// The stack file's `[backend] url` (where its state lives), checked;
/// `None` without a `[backend]` table.
pub fn backend_of(file: &ConfigFile) -> Result<Option<String>, StackError> {
    let Some(b) = file.table.get("backend") else {
        return Ok(None);
    };
    let Some(t) = b.as_table() else {
        return Err(file.bad(
            "backend",
            b,
            "must be a table: [backend] url = \"s3://bucket/prefix\"",
        ));
    };
    for (k, v) in t {
        if k != "url" {
            return Err(file.bad(&format!("backend.{k}"), v, "unknown key (known: url)"));
        }
    }
    match t.get("url") {
        Some(toml::Value::String(u)) => Ok(Some(u.clone())),
        Some(other) => Err(file.bad("backend.url", other, "must be a string")),
        None => Err(file.bad(
            "backend.url",
            "(missing)",
            "[backend] needs url = \"s3://bucket/prefix\" or \"local\"",
        )),
    }
}

pub fn load(
    stacks_dir: &Path,
    stack: &str,
    config: Option<&Path>,
    env: &StackEnv,
) -> Result<Loaded, StackError> {
    load_file(
        read_config(&config_path(stacks_dir, stack, config))?,
        stack,
        env,
    )
}

/// Builds the stack from its already read file (`--set` applied here).
pub fn load_file(mut file: ConfigFile, stack: &str, env: &StackEnv) -> Result<Loaded, StackError> {
    for (key, value) in &env.set {
        file.set(key, value)?;
    }
    backend_of(&file)?;
    let project = match file.table.get("project") {
        Some(toml::Value::String(p)) => p.clone(),
        Some(other) => return Err(file.bad("project", other, "must be a string")),
        None => return Err(file.bad("project", "(missing)", "every stack file names its project")),
    };
    let all = programs();
    let Some((_, build)) = all.iter().find(|(n, _)| *n == project) else {
        return Err(StackError::UnknownProject {
            path: file.path.clone(),
            project,
            known: all.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        });
    };
    build(stack, &file, env)
}
