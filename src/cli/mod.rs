//! Argument parsing, output and exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use morket_stack::engine::{Engine, EngineOptions};
use morket_stack::exec::{ApplyReport, Cancel};
use morket_stack::graph::Graph;
use morket_stack::model::Urn;
use morket_stack::plan::{Plan, PlanOptions};
use morket_stack::provider::aws::AwsSettings;
use morket_stack::render::{self, Style};
use morket_stack::state::backend::{self, Backend};
use morket_stack::state::keys::{self, KeySource};
use morket_stack::state::remote::{self, RemoteStore, MOVED_TO_META};
use morket_stack::state::s3::{S3Blob, S3Url};
use morket_stack::state::{lock, StateStore};
use morket_stack::value;

use crate::stacks;

mod notify;
mod progress;
mod signals;

/// Exit code when changes are present and the caller asked to be told.
const EXIT_CHANGES: u8 = 2;

#[derive(Parser)]
#[command(
    name = "morket-stack",
    version,
    about = "Infrastructure as typed Rust values, with its own SQLite state"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Where state files live (`<dir>/<stack>.db`).
    #[arg(
        long,
        global = true,
        default_value = "state",
        env = "MORKET_STACK_STATE_DIR"
    )]
    state_dir: PathBuf,
    /// Where the state lives: `local` (the state directory) or
    /// `s3://bucket/prefix[?region=R]`; default: the stack file's
    /// `[backend] url`, else local. The key file stays in --state-dir.
    #[arg(long, global = true, env = "MORKET_STACK_BACKEND")]
    backend: Option<String>,
    /// Where stack configurations live (`<dir>/<stack>.toml`).
    #[arg(
        long,
        global = true,
        default_value = "stacks",
        env = "MORKET_STACK_STACKS_DIR"
    )]
    stacks_dir: PathBuf,
    /// Use this configuration file instead of `<stacks-dir>/<stack>.toml`.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Override one configuration key (`images.backend=1.4.2`),
    /// checked like the file; repeatable.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_set)]
    set: Vec<(String, String)>,
    /// Wait this long for the state lock (e.g. `60s`); default: fail at once.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "0s")]
    lock_timeout: Duration,
    /// No colour even on a terminal.
    #[arg(long, global = true)]
    no_color: bool,
    /// AWS region (default: the SDK's chain: AWS_REGION, profile, IMDS).
    #[arg(long, global = true)]
    region: Option<String>,
    /// AWS profile from the shared config files.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// How long a lookup by URN tag may miss a just-created AWS object
    /// (eventual consistency); an interrupted create is settled only after it.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "60s", env = "MORKET_STACK_AWS_LOOKUP_LAG")]
    lookup_lag: Duration,
    /// How long an AWS delete keeps retrying DependencyViolation while AWS
    /// releases the network interfaces of deleted data stores and tasks.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "20m", env = "MORKET_STACK_AWS_DELETE_TIMEOUT")]
    delete_timeout: Duration,
    /// Multiplies every AWS delay and budget the provider assumes (tests
    /// against the AWS-like local peer, whose delays are scaled alike).
    #[arg(
        long,
        global = true,
        hide = true,
        default_value_t = 1.0,
        env = "MORKET_STACK_AWS_TIME_SCALE"
    )]
    aws_time_scale: f64,
    /// SDK attempts per AWS request (standard retry mode).
    #[arg(
        long,
        global = true,
        hide = true,
        default_value_t = 10,
        env = "MORKET_STACK_AWS_MAX_ATTEMPTS"
    )]
    aws_max_attempts: u32,
    /// Log every AWS call to stderr (service, operation, URN, attempt,
    /// status, duration); `-vv` adds the SDK's own. RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show what `up` would do; changes nothing.
    Preview(PreviewArgs),
    /// Apply the stack (shows the plan and asks unless --yes).
    Up(UpArgs),
    /// Delete every resource of the stack.
    Destroy(DestroyArgs),
    /// Compare what is live with what state recorded; read only, no lock.
    /// Exit 0 no drift, 2 drift, 1 error.
    Drift(DriftArgs),
    /// Record live values in state (shows the differences, asks unless --yes).
    Refresh {
        stack: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Adopt an existing cloud object into state under a declared URN.
    Import {
        stack: String,
        /// A URN the stack's program declares (see `graph`).
        urn: String,
        /// The object's id as the type names it (`vpc-0abc`, a cluster name).
        id: String,
    },
    /// Print the stack outputs recorded in state (endpoints, ids).
    Output {
        stack: String,
        /// One output's value only.
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Inspect or edit state.
    State {
        #[command(subcommand)]
        cmd: StateCmd,
    },
    /// Inspect or release the state lock.
    Lock {
        #[command(subcommand)]
        cmd: LockCmd,
    },
    /// Print the dependency graph.
    Graph {
        stack: String,
        #[arg(long, value_enum, default_value = "text")]
        format: GraphFormat,
    },
    /// Write the stack as Terraform (modules shared by every stack of its
    /// project, and this stack's environment) for `terraform plan` parity.
    Export {
        #[command(subcommand)]
        cmd: ExportCmd,
    },
    /// Past operations on the stack, most recent first.
    History {
        stack: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct PreviewArgs {
    stack: String,
    /// Show old and new values of every changed field.
    #[arg(long)]
    diff: bool,
    /// Print the plan as JSON (secrets redacted).
    #[arg(long)]
    json: bool,
    /// Print the plan as Markdown for a pull-request comment (secrets redacted).
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Save the plan for `up --plan FILE` (secrets sealed).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit 2 when there are changes, 0 when none, 1 on an error (for CI
    /// and drift jobs; Terraform's -detailed-exitcode).
    #[arg(long, visible_alias = "detailed-exitcode")]
    expect_no_changes: bool,
    /// Only this resource and what it depends on (repeatable).
    #[arg(long)]
    target: Vec<String>,
    /// Read every resource and lookup live first (without writing state)
    /// and plan from what is live: the changes that put it back.
    #[arg(long)]
    refresh: bool,
}

#[derive(Args)]
struct UpArgs {
    stack: String,
    /// Apply without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Provider calls in flight at once.
    #[arg(long, default_value_t = 10)]
    parallel: usize,
    /// Apply a plan saved by `preview --out`.
    #[arg(long)]
    plan: Option<PathBuf>,
    #[arg(long)]
    target: Vec<String>,
    #[arg(long)]
    diff: bool,
    /// Read every resource and lookup live, record it under the lock, and
    /// put back what changed outside morket-stack.
    #[arg(long)]
    refresh: bool,
}

#[derive(Args)]
struct DriftArgs {
    stack: String,
    /// Print the report as JSON (schema `morket-stack/drift` v1, docs/drift.md).
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to FILE (mode 0600).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Post a short JSON summary (Slack-compatible `text`) to this URL when
    /// the drift differs from the previous run's.
    #[arg(long, env = "MORKET_STACK_DRIFT_WEBHOOK", hide_env_values = true)]
    notify: Option<String>,
}

#[derive(Args)]
struct DestroyArgs {
    stack: String,
    #[arg(long, short = 'y')]
    yes: bool,
    #[arg(long, default_value_t = 10)]
    parallel: usize,
}

#[derive(Subcommand)]
enum ExportCmd {
    /// `terraform/modules/<component>/` and `terraform/environments/<stack>/`
    /// for STACK and every stack of its project (they share the modules).
    Terraform {
        stack: String,
        /// Where to write (the layout's root).
        #[arg(long, default_value = "terraform")]
        out: PathBuf,
        /// Add `imports.tf` to each environment: an import block per
        /// resource whose id is in that stack's state (read only, no lock).
        #[arg(long)]
        with_state: bool,
    },
}

#[derive(Subcommand)]
enum StateCmd {
    /// Managed resources: URN, type, id.
    List { stack: String },
    /// One resource's recorded state (secrets redacted).
    Show { stack: String, urn: String },
    /// Forget a resource without deleting it.
    Rm { stack: String, urn: String },
    /// The whole state as JSON (secrets stay encrypted).
    Export {
        stack: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replace the state with an export.
    Import { stack: String, file: PathBuf },
    /// Move the whole state (with its history) to another backend:
    /// `--to s3://bucket/prefix` or `--to local`. Refused while locked.
    Migrate {
        stack: String,
        #[arg(long)]
        to: String,
    },
    /// The stored versions of the state object (S3 with versioning),
    /// newest first. `history` is the operation log.
    Versions {
        stack: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Restore a stored version (under the lock); refused if it would
    /// forget objects that exist now, or while operations are pending.
    Rollback {
        stack: String,
        version: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum LockCmd {
    /// Who holds the lock, and whether the holder is still alive.
    Status { stack: String },
    /// Force-release a lock by its id.
    Release { stack: String, id: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Text,
    Dot,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Exit 2 means changes or drift (--detailed-exitcode, drift): a
            // usage error must not read as one, so it is 1, as Terraform's.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// AWS calls are logged by `provider::aws::call` through `tracing`; this
/// sends them to stderr, as TF_LOG does for Terraform.
/// `KEY=VALUE` of `--set`; the key is a dotted path of the stack file.
fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "warn,morket_stack=debug",
        _ => "info,morket_stack=debug,aws_smithy_runtime=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

struct Ctx {
    color: bool,
    state_dir: PathBuf,
    backend: Option<String>,
    profile: Option<String>,
    stacks_dir: PathBuf,
    config: Option<PathBuf>,
    lock_timeout: Duration,
    env: stacks::StackEnv,
    /// Stack files as read: each is read once (`--config` may be a pipe).
    files: std::sync::Mutex<std::collections::HashMap<String, Option<stacks::ConfigFile>>>,
}

impl Ctx {
    /// The stack file of `stack`, read on first use; `None` if missing.
    fn stack_file(&self, stack: &str) -> Result<Option<stacks::ConfigFile>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = files.get(stack) {
            return Ok(f.clone());
        }
        let f = stacks::read_stack_file(&self.stacks_dir, stack, self.config.as_deref())?;
        files.insert(stack.to_string(), f.clone());
        Ok(f)
    }

    /// `--backend`, else the stack file's `[backend] url`, else local.
    fn backend(&self, stack: &str) -> Result<Backend> {
        let (url, from) = match &self.backend {
            Some(u) => (u.clone(), "--backend".to_string()),
            None => match self
                .stack_file(stack)?
                .map(|f| stacks::backend_of(&f))
                .transpose()?
                .flatten()
            {
                Some(u) => (u, "[backend] url".to_string()),
                None => return Ok(Backend::Local(self.state_dir.clone())),
            },
        };
        Backend::parse(&url, &self.state_dir).map_err(|e| anyhow::anyhow!("{from}: {e}"))
    }

    /// The S3 location of the state of `stack` (versions and rollback).
    fn s3_url(&self, stack: &str) -> Result<S3Url> {
        let Backend::S3(url) = self.backend(stack)? else {
            bail!(
                "stack {stack} keeps its state locally: stored versions exist only on an S3 backend with versioning \
                 (see `history` for the operation log, `state export` for a copy)"
            );
        };
        Ok(url)
    }

    /// The S3 state of `stack`, keyed (rollback).
    fn open_remote(&self, stack: &str) -> Result<RemoteStore<S3Blob>> {
        let url = self.s3_url(stack)?;
        let mut store = backend::open_s3(&url, stack, self.profile.clone())
            .with_context(|| format!("opening state for stack {stack} ({url})"))?;
        if let Some(to) = store.meta(MOVED_TO_META)? {
            bail!("the state of stack {stack} at {url} was moved to {to} by `state migrate`");
        }
        keys::configure_secrets(&mut store, &self.state_dir, stack)?;
        Ok(store)
    }

    fn open_store(&self, stack: &str) -> Result<Box<dyn StateStore>> {
        let backend = self.backend(stack)?;
        let (store, source) = backend::open(&backend, &self.state_dir, stack, self.profile.clone())
            .with_context(|| {
                format!(
                    "opening state for stack {stack} ({})",
                    backend.describe(stack)
                )
            })?;
        if let KeySource::KeyFile {
            path,
            created: true,
        } = source
        {
            eprintln!(
                "Created secret key file {} (mode 0600). Back it up: the secrets in this state cannot be read without it. \
                 Set MORKET_STACK_SECRET_KEY or MORKET_STACK_PASSPHRASE to use your own.",
                path.display()
            );
        }
        Ok(store)
    }

    fn signals(&self, stack: &str) -> Result<signals::Signals> {
        let (backend, profile) = (self.backend(stack)?, self.profile.clone());
        let stack = stack.to_string();
        // Released through a handle of its own: the engine's may be in a call.
        let release = move |id: &str| {
            backend::open_unkeyed(&backend, &stack, profile.clone()).and_then(|mut s| s.unlock(id))
        };
        signals::Signals::install(Box::new(release)).context("installing signal handlers")
    }

    fn load(&self, stack: &str) -> Result<stacks::Loaded> {
        Ok(match self.stack_file(stack)? {
            Some(f) => stacks::load_file(f, stack, &self.env)?,
            // Missing: the read error names the file.
            None => stacks::load(&self.stacks_dir, stack, self.config.as_deref(), &self.env)?,
        })
    }

    fn engine(
        &self,
        stack: &str,
        loaded: &stacks::Loaded,
        parallel: usize,
    ) -> Result<(Engine, Arc<progress::Progress>)> {
        let store = self.open_store(stack)?;
        let prog = Arc::new(progress::Progress::new(self.color));
        let engine = Engine::new(store, loaded.registry.clone())
            .with_events(prog.clone())
            .with_options(EngineOptions {
                parallel,
                lock_timeout: self.lock_timeout,
                ..Default::default()
            });
        Ok((engine, prog))
    }
}

fn style(color: bool, diff: bool) -> Style {
    Style { color, diff }
}

fn urns(list: &[String]) -> Result<Vec<Urn>> {
    list.iter()
        .map(|s| Urn::parse(s).map_err(Into::into))
        .collect()
}

async fn run(cli: Cli) -> Result<u8> {
    let color =
        !cli.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let ctx = Ctx {
        color,
        state_dir: cli.state_dir,
        backend: cli.backend,
        profile: cli.profile.clone(),
        stacks_dir: cli.stacks_dir,
        config: cli.config,
        lock_timeout: cli.lock_timeout,
        files: Default::default(),
        env: stacks::StackEnv {
            aws: AwsSettings {
                region: cli.region,
                profile: cli.profile,
                lookup_lag: cli.lookup_lag,
                delete_timeout: cli.delete_timeout,
                time_scale: cli.aws_time_scale,
                max_attempts: cli.aws_max_attempts,
                ..Default::default()
            },
            set: cli.set,
        },
    };
    match cli.cmd {
        Cmd::Preview(a) => preview(&ctx, a).await,
        Cmd::Up(a) => up(&ctx, a).await,
        Cmd::Destroy(a) => destroy(&ctx, a).await,
        Cmd::Drift(a) => drift_cmd(&ctx, a).await,
        Cmd::Refresh { stack, yes } => refresh_cmd(&ctx, &stack, yes).await,
        Cmd::Import { stack, urn, id } => import_cmd(&ctx, &stack, &urn, &id).await,
        Cmd::State { cmd } => state_cmd(&ctx, cmd),
        Cmd::Output { stack, name, json } => output_cmd(&ctx, &stack, name.as_deref(), json),
        Cmd::Lock { cmd } => lock_cmd(&ctx, cmd),
        Cmd::Graph { stack, format } => {
            let loaded = ctx.load(&stack)?;
            let g = Graph::build(&loaded.stack)?;
            match format {
                GraphFormat::Dot => print!("{}", g.to_dot(&loaded.stack)),
                GraphFormat::Text => {
                    let res = loaded.stack.resources();
                    for &i in &g.order {
                        let deps: Vec<String> =
                            g.dependencies(i).map(|j| res[j].urn.to_string()).collect();
                        if deps.is_empty() {
                            println!("{}", res[i].urn);
                        } else {
                            println!("{} <- {}", res[i].urn, deps.join(", "));
                        }
                    }
                }
            }
            Ok(0)
        }
        Cmd::Export {
            cmd:
                ExportCmd::Terraform {
                    stack,
                    out,
                    with_state,
                },
        } => export_terraform(&ctx, &stack, &out, with_state),
        Cmd::History { stack, limit, json } => {
            let store = ctx.open_store(&stack)?;
            let h = store.history(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&h)?);
            } else if h.is_empty() {
                println!("No operations recorded for stack {stack}.");
            } else {
                for e in h {
                    println!(
                        "#{:<4} {:<8} {:<9} {} .. {}  serial {}->{}  {}  {}",
                        e.id,
                        e.operation,
                        e.result,
                        e.started_at,
                        e.finished_at,
                        e.serial_before,
                        e.serial_after,
                        e.who,
                        e.summary
                    );
                }
            }
            Ok(0)
        }
    }
}

async fn preview(ctx: &Ctx, a: PreviewArgs) -> Result<u8> {
    let loaded = ctx.load(&a.stack)?;
    let (mut engine, _) = ctx.engine(&a.stack, &loaded, 10)?;
    let opts = PlanOptions {
        targets: urns(&a.target)?,
        refresh: a.refresh,
        ..Default::default()
    };
    let plan = engine.preview(&loaded.stack, &opts).await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::plan_json(&plan))?
        );
    } else if a.markdown {
        print!("{}", render::plan_markdown(&plan));
    } else {
        print!("{}", render::plan_text(&plan, style(ctx.color, a.diff)));
    }
    if let Some(out) = &a.out {
        let sealed = engine.seal_plan(&plan)?;
        write_private(out, &serde_json::to_vec_pretty(&sealed)?)
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "Saved the plan to {}; apply it with `morket-stack up {} --plan {}`.",
            out.display(),
            a.stack,
            out.display()
        );
    }
    Ok(if a.expect_no_changes && plan.has_changes() {
        EXIT_CHANGES
    } else {
        0
    })
}

/// Writes a plan or state export owner-only: secrets are sealed, but ids,
/// inputs and the stack's layout are not for everyone on the machine.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: narrow it too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(data)
}

fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to go on without confirmation: stdin is not a terminal; pass --yes");
    }
    print!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

async fn apply_plan(
    ctx: &Ctx,
    engine: &mut Engine,
    prog: &progress::Progress,
    loaded: &stacks::Loaded,
    plan: &Plan,
    signals: &signals::Signals,
) -> Result<u8> {
    let cancel = Cancel::new();
    signals.applying(&cancel);
    prog.start(morket_stack::plan::schedule(plan).len());
    let report = engine.apply(&loaded.stack, plan, &cancel).await;
    signals.applied();
    prog.finish();
    let report: ApplyReport = report?;
    print!("{}", render::report_text(&report, style(ctx.color, false)));
    if report.is_success() && !plan.destroy {
        print_outputs(engine, loaded)?;
    }
    Ok(if report.is_success() { 0 } else { 1 })
}

/// The stack's outputs as recorded in state, secrets redacted.
fn outputs(
    store: &dyn StateStore,
    loaded: &stacks::Loaded,
) -> Result<Vec<(String, serde_json::Value)>> {
    let mut out = Vec::new();
    for (name, urn, attr) in &loaded.outputs {
        let v = store
            .resource(urn)?
            .map(|r| morket_stack::plan::state_attr(&r, attr))
            .unwrap_or(serde_json::Value::Null);
        out.push((name.clone(), value::redact(&v)));
    }
    out.extend(loaded.values.iter().cloned());
    Ok(out)
}

fn print_outputs(engine: &Engine, loaded: &stacks::Loaded) -> Result<()> {
    if loaded.outputs.is_empty() && loaded.values.is_empty() {
        return Ok(());
    }
    println!("\nOutputs:");
    for (name, v) in outputs(engine.store(), loaded)? {
        println!("  {name} = {v}");
    }
    Ok(())
}

fn output_cmd(ctx: &Ctx, stack: &str, name: Option<&str>, json: bool) -> Result<u8> {
    let loaded = ctx.load(stack)?;
    let store = ctx.open_store(stack)?;
    let all = outputs(store.as_ref(), &loaded)?;
    if let Some(n) = name {
        let (_, v) = all
            .iter()
            .find(|(k, _)| k == n)
            .with_context(|| format!("stack {stack} has no output {n:?}"))?;
        match v {
            serde_json::Value::String(s) if !json => println!("{s}"),
            v => println!("{v}"),
        }
    } else if json {
        let map: serde_json::Map<String, serde_json::Value> = all.into_iter().collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (k, v) in all {
            println!("{k} = {v}");
        }
    }
    Ok(0)
}

async fn up(ctx: &Ctx, a: UpArgs) -> Result<u8> {
    let loaded = ctx.load(&a.stack)?;
    let (mut engine, prog) = ctx.engine(&a.stack, &loaded, a.parallel)?;
    let signals = ctx.signals(&a.stack)?;
    // Hold the lock across plan, prompt and apply, so what is shown is applied.
    let lock = engine.lock("up").await?;
    signals.holding(Some(lock.id.clone()));
    let result = up_locked(ctx, &a, &mut engine, &prog, &loaded, &signals).await;
    signals.holding(None);
    let unlocked = engine.unlock(&lock);
    let code = result?;
    unlocked?;
    Ok(code)
}

async fn up_locked(
    ctx: &Ctx,
    a: &UpArgs,
    engine: &mut Engine,
    prog: &progress::Progress,
    loaded: &stacks::Loaded,
    signals: &signals::Signals,
) -> Result<u8> {
    let plan = match &a.plan {
        Some(file) => {
            let raw: serde_json::Value = serde_json::from_slice(
                &std::fs::read(file).with_context(|| format!("reading plan {}", file.display()))?,
            )
            .with_context(|| format!("{} is not a plan file", file.display()))?;
            engine.unseal_plan(&raw)?
        }
        None => {
            let opts = PlanOptions {
                targets: urns(&a.target)?,
                refresh: a.refresh,
                ..Default::default()
            };
            engine.preview(&loaded.stack, &opts).await?
        }
    };
    print!("{}", render::plan_text(&plan, style(ctx.color, a.diff)));
    if !plan.has_changes()
        && plan.pending.is_empty()
        && plan.refreshed.is_empty()
        && !plan.steps.iter().any(|s| s.old.is_some())
    {
        print_outputs(engine, loaded)?;
        return Ok(0);
    }
    if !a.yes && a.plan.is_none() && !confirm("\nDo you want to apply these changes?")? {
        println!("Apply cancelled.");
        return Ok(1);
    }
    apply_plan(ctx, engine, prog, loaded, &plan, signals).await
}

async fn destroy(ctx: &Ctx, a: DestroyArgs) -> Result<u8> {
    let loaded = ctx.load(&a.stack)?;
    let (mut engine, prog) = ctx.engine(&a.stack, &loaded, a.parallel)?;
    let signals = ctx.signals(&a.stack)?;
    let lock = engine.lock("destroy").await?;
    signals.holding(Some(lock.id.clone()));
    let result = async {
        let opts = PlanOptions {
            destroy: true,
            ..Default::default()
        };
        let plan = engine.preview(&loaded.stack, &opts).await?;
        print!("{}", render::plan_text(&plan, style(ctx.color, false)));
        if !plan.has_changes() {
            return Ok(0);
        }
        if !a.yes && !confirm("\nDo you really want to destroy every resource of this stack?")? {
            println!("Destroy cancelled.");
            return Ok(1);
        }
        apply_plan(ctx, &mut engine, &prog, &loaded, &plan, &signals).await
    }
    .await;
    signals.holding(None);
    let unlocked = engine.unlock(&lock);
    let code = result?;
    unlocked?;
    Ok(code)
}

/// Where the previous drift report is kept: beside the state.
fn drift_report_path(ctx: &Ctx, stack: &str) -> PathBuf {
    ctx.state_dir.join(format!("{stack}.drift.json"))
}

async fn drift_cmd(ctx: &Ctx, mut a: DriftArgs) -> Result<u8> {
    // An empty value (a CI secret that is not set) means no notification.
    a.notify = a.notify.filter(|u| !u.trim().is_empty());
    if let Some(url) = &a.notify {
        notify::check(url)?;
    }
    let loaded = ctx.load(&a.stack)?;
    let backend = ctx.backend(&a.stack)?;
    let store = backend::open_read_only(&backend, &ctx.state_dir, &a.stack, ctx.profile.clone())
        .with_context(|| {
            format!(
                "opening state for stack {} read only ({})",
                a.stack,
                backend.describe(&a.stack)
            )
        })?;
    let engine = Engine::new(store, loaded.registry.clone()).with_options(EngineOptions {
        parallel: 10,
        ..Default::default()
    });
    let report = engine.drift().await?;
    let json = serde_json::to_vec_pretty(&report)?;
    if a.json {
        println!("{}", String::from_utf8_lossy(&json));
    } else {
        print!("{}", render::drift_text(&report, style(ctx.color, true)));
    }
    if let Some(out) = &a.out {
        write_private(out, &json).with_context(|| format!("writing {}", out.display()))?;
    }
    // The previous notifying run's report decides whether to post; only
    // such runs replace it, so a look by hand never hides the next alert.
    if let Some(url) = &a.notify {
        let kept = drift_report_path(ctx, &a.stack);
        let previous: Option<morket_stack::drift::Report> = std::fs::read(&kept)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let changed = previous.as_ref().map(|p| p.fingerprint()) != Some(report.fingerprint());
        if changed && (report.drifted || previous.is_some_and(|p| p.drifted)) {
            notify::post(url, &report.headline())
                .await
                .with_context(|| "posting the drift summary (--notify)")?;
            eprintln!("Posted the drift summary.");
        }
        write_private(&kept, &json)
            .with_context(|| format!("keeping the report at {}", kept.display()))?;
    }
    Ok(if report.drifted { EXIT_CHANGES } else { 0 })
}

async fn refresh_cmd(ctx: &Ctx, stack: &str, yes: bool) -> Result<u8> {
    let loaded = ctx.load(stack)?;
    let (mut engine, _) = ctx.engine(stack, &loaded, 10)?;
    let lock = engine.lock("refresh").await?;
    let result = async {
        let (report, refreshed, serial) = engine.refresh_read().await?;
        print!("{}", render::drift_text(&report, style(ctx.color, true)));
        if refreshed.is_empty() {
            println!("State already records what is live; nothing to refresh.");
            return Ok(0);
        }
        if !report.unmanaged.is_empty() {
            println!("Refresh records only objects state knows; adopt unmanaged ones with `morket-stack import`.");
        }
        if !yes && !confirm(&format!("\nRecord the live values of {} resource(s) in state?", refreshed.len()))? {
            println!("Refresh cancelled.");
            return Ok(1);
        }
        engine.refresh_write(serial, &refreshed).await?;
        println!("Recorded {} resource(s) as they are live.", refreshed.len());
        Ok::<u8, anyhow::Error>(0)
    }
    .await;
    let unlocked = engine.unlock(&lock);
    let code = result?;
    unlocked?;
    Ok(code)
}

async fn import_cmd(ctx: &Ctx, stack: &str, urn: &str, id: &str) -> Result<u8> {
    let loaded = ctx.load(stack)?;
    let (mut engine, _) = ctx.engine(stack, &loaded, 10)?;
    let urn = Urn::parse(urn)?;
    let row = engine.import(&loaded.stack, &urn, id).await?;
    println!(
        "Imported {} as {urn}. Run `morket-stack preview {stack}` to see how it differs from the declaration.",
        row.id
    );
    Ok(0)
}

fn state_cmd(ctx: &Ctx, cmd: StateCmd) -> Result<u8> {
    match cmd {
        StateCmd::List { stack } => {
            let store = ctx.open_store(&stack)?;
            let rs = store.resources()?;
            for r in &rs {
                println!("{}  {}", r.urn, r.id);
            }
            println!("{} resource(s), serial {}.", rs.len(), store.serial()?);
        }
        StateCmd::Show { stack, urn } => {
            let store = ctx.open_store(&stack)?;
            let u = Urn::parse(&urn)?;
            let r = store
                .resource(&u)?
                .with_context(|| format!("no resource {urn} in state of stack {stack}"))?;
            let v = value::redact(&serde_json::to_value(&r)?);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        StateCmd::Rm { stack, urn } => {
            let mut store = ctx.open_store(&stack)?;
            let u = Urn::parse(&urn)?;
            with_lock(store.as_mut(), "state rm", |s| Ok(s.remove_resource(&u)?))?;
            println!("Removed {urn} from state; the resource itself was not touched.");
        }
        StateCmd::Export { stack, out } => {
            let store = ctx.open_store(&stack)?;
            let snap = serde_json::to_vec_pretty(&store.export()?)?;
            match out {
                Some(p) => {
                    write_private(&p, &snap).with_context(|| format!("writing {}", p.display()))?
                }
                None => println!("{}", String::from_utf8_lossy(&snap)),
            }
        }
        StateCmd::Import { stack, file } => {
            let mut store = ctx.open_store(&stack)?;
            let snap = serde_json::from_slice(
                &std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
            )
            .with_context(|| format!("{} is not a state export", file.display()))?;
            with_lock(store.as_mut(), "state import", |s| Ok(s.import(&snap)?))?;
            println!("Imported {} into stack {stack}.", file.display());
        }
        StateCmd::Migrate { stack, to } => {
            let from = ctx.backend(&stack)?;
            let to =
                Backend::parse(&to, &ctx.state_dir).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
            let m =
                backend::migrate(&from, &to, &stack, ctx.profile.clone()).with_context(|| {
                    format!(
                        "moving the state of stack {stack} to {}",
                        to.describe(&stack)
                    )
                })?;
            println!(
                "Moved the state of stack {stack} ({} resource(s), serial {}, {} bytes) from {} to {}.",
                m.resources,
                m.serial,
                m.bytes,
                from.describe(&stack),
                to.describe(&stack)
            );
            println!(
                "The old copy is marked moved and refuses use. Point the stack at the new place: \
                 [backend] url = \"{}\" in the stack file (or --backend). The secrets key stays where it was ({}/{stack}.key, or the environment).",
                to.url(),
                ctx.state_dir.display()
            );
        }
        StateCmd::Versions { stack, limit } => {
            let url = ctx.s3_url(&stack)?;
            let blob = S3Blob::new(url.clone(), ctx.profile.clone())?;
            let versions = remote::list_versions(&blob, &url.prefix, &stack, limit)?;
            if versions.is_empty() {
                println!("No versions of {url}/{stack}.db: is versioning enabled on the bucket?");
            }
            for (v, summary) in &versions {
                let what = match summary {
                    None => "delete marker".to_string(),
                    Some((serial, resources, pending)) => {
                        format!("serial {serial}, {resources} resource(s), {pending} pending")
                    }
                };
                println!(
                    "{}  {}  {:>8} bytes  {what}{}",
                    v.id,
                    v.modified,
                    v.size,
                    if v.latest { "  (current)" } else { "" }
                );
            }
        }
        StateCmd::Rollback {
            stack,
            version,
            yes,
        } => {
            let info = lock::new_lock_info("state rollback");
            let url = ctx.s3_url(&stack)?;
            let blob = S3Blob::new(url.clone(), ctx.profile.clone())?;
            if remote::restore_deleted(&blob, &url.prefix, &stack, &version, &info)? {
                println!("The state object of stack {stack} had been deleted; restored version {version} as it was.");
                return Ok(0);
            }
            drop(blob);
            let mut store = ctx.open_remote(&stack)?;
            store.try_lock(&info)?;
            store.set_fence(Some(info.id.clone()));
            let r = (|| {
                let old = store.version(&version)?;
                println!(
                    "Version {version}: serial {}, {} resource(s). Current: serial {}, {} resource(s).",
                    old.serial()?,
                    old.resources()?.len(),
                    store.serial()?,
                    store.resources()?.len()
                );
                if !yes && !confirm(&format!("Restore version {version} of stack {stack}?"))? {
                    println!("Rollback cancelled.");
                    return Ok(1);
                }
                let serial_before = store.serial()?;
                let done = store.rollback(&version)?;
                let entry = morket_stack::state::HistoryEntry {
                    id: 0,
                    operation: "state rollback".into(),
                    started_at: info.started_at.clone(),
                    finished_at: morket_stack::state::now_rfc3339(),
                    result: "ok".into(),
                    who: info.who.clone(),
                    summary: serde_json::json!({"version": version, "restored": done.restored.len()}),
                    serial_before,
                    serial_after: store.serial()?,
                };
                store.append_history(&entry)?;
                println!(
                    "Restored version {version} of stack {stack} (serial now {}).",
                    store.serial()?
                );
                if !done.restored.is_empty() {
                    println!(
                        "It brings back {} row(s) the state had dropped: {}. Run `morket-stack refresh {stack}` to check they still exist.",
                        done.restored.len(),
                        done.restored.join(", ")
                    );
                }
                Ok::<u8, anyhow::Error>(0)
            })();
            store.set_fence(None);
            let unlocked = store.unlock(&info.id);
            let code = r?;
            unlocked?;
            return Ok(code);
        }
    }
    Ok(0)
}

fn with_lock(
    store: &mut dyn StateStore,
    op: &str,
    f: impl FnOnce(&mut dyn StateStore) -> Result<()>,
) -> Result<()> {
    let info = lock::new_lock_info(op);
    store.try_lock(&info)?;
    let r = f(store);
    store.unlock(&info.id)?;
    r
}

fn lock_cmd(ctx: &Ctx, cmd: LockCmd) -> Result<u8> {
    match cmd {
        LockCmd::Status { stack } => {
            let store = ctx.open_store(&stack)?;
            match store.lock_status()? {
                None => println!("Stack {stack} is not locked."),
                Some(l) => {
                    let judged = match lock::liveness(&l) {
                        lock::Liveness::Alive => "\nThe holder is running.".to_string(),
                        lock::Liveness::Dead => "\nSTALE: the holder's process is gone (same host, boot and pid namespace); the next `up` releases it, or run `morket-stack lock release`.".to_string(),
                        lock::Liveness::Unknown(why) => format!(
                            "\nCannot tell whether the holder still runs: {why}. If it died (a runner killed elsewhere), release it with `morket-stack lock release {stack} {}`.",
                            l.id
                        ),
                    };
                    println!(
                        "Locked by {}, morket-stack {}\nLock id: {}{judged}",
                        l.describe(),
                        l.version,
                        l.id,
                    );
                }
            }
        }
        LockCmd::Release { stack, id } => {
            let mut store = ctx.open_store(&stack)?;
            store.unlock(&id)?;
            println!("Released lock {id} on stack {stack}.");
        }
    }
    Ok(0)
}

/// `stack`'s project and its stacks (every stack file naming the same
/// project), `stack` first, then in name order: modules are built from
/// all of them.
fn project_stacks(ctx: &Ctx, stack: &str) -> Result<(Option<String>, Vec<String>)> {
    let project = |f: &stacks::ConfigFile| {
        f.table
            .get("project")
            .and_then(|p| p.as_str())
            .map(str::to_string)
    };
    let Some(file) = ctx.stack_file(stack)? else {
        bail!("no stack file for {stack} in {}", ctx.stacks_dir.display());
    };
    let want = project(&file);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&ctx.stacks_dir)
        .with_context(|| format!("reading {}", ctx.stacks_dir.display()))?
    {
        let path = entry?.path();
        let Some(name) = path
            .extension()
            .filter(|e| *e == "toml")
            .and_then(|_| path.file_stem())
            .and_then(|n| n.to_str())
        else {
            continue;
        };
        if let Some(f) = ctx.stack_file(name)? {
            if project(&f) == want {
                names.push(name.to_string());
            }
        }
    }
    if !names.iter().any(|n| n == stack) {
        names.push(stack.to_string());
    }
    // The named stack first: module variables default to its values.
    names.sort_by_key(|n| (n != stack, n.clone()));
    Ok((want, names))
}

fn export_terraform(ctx: &Ctx, stack: &str, out: &Path, with_state: bool) -> Result<u8> {
    use morket_stack::export::{export, StateIds};
    let (project, names) = project_stacks(ctx, stack)?;
    let loaded = names
        .iter()
        .map(|n| ctx.load(n).with_context(|| format!("loading stack {n}")))
        .collect::<Result<Vec<_>>>()?;
    let backends = names
        .iter()
        .map(|n| {
            Ok(match ctx.backend(n)? {
                Backend::S3(u) => Some((u.bucket, u.prefix, u.region)),
                Backend::Local(_) => None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let envs: Vec<_> = loaded
        .iter()
        .zip(backends)
        .map(|(l, backend)| l.terraform_env(backend))
        .collect();
    // Every stack's state, so each environment's imports and URN tags
    // agree with the modules they share.
    let mut state = std::collections::BTreeMap::new();
    if with_state {
        for n in &names {
            let opened =
                backend::open_read_only(&ctx.backend(n)?, &ctx.state_dir, n, ctx.profile.clone());
            let store = match opened {
                Ok(s) => s,
                // Another stack of the project not deployed (or not
                // readable here): its environment gets no imports.tf.
                Err(e) if n != stack => {
                    println!("Stack {n}: no state read ({e}); its environment has no imports.tf.");
                    continue;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)).with_context(|| {
                        format!("opening state for stack {n} (export without --with-state, or deploy it first)")
                    })
                }
            };
            let ids = store
                .resources()?
                .into_iter()
                .map(|r| (r.urn, (r.id, r.inputs, r.outputs)))
                .collect();
            state.insert(
                n.clone(),
                StateIds {
                    lineage: store.lineage()?,
                    ids,
                },
            );
        }
    }
    let mut exported = export(&envs, &state)?;
    // The project's judged checkov findings, as inline skips.
    let skips_file = ctx
        .stacks_dir
        .join(project.as_deref().unwrap_or(stack))
        .join("checkov-skips.toml");
    if skips_file.exists() {
        let text = std::fs::read_to_string(&skips_file)
            .with_context(|| format!("reading {}", skips_file.display()))?;
        let skips = morket_stack::export::parse_skips(&text)
            .with_context(|| skips_file.display().to_string())?;
        exported.files = morket_stack::export::annotate(&exported.files, &skips)
            .with_context(|| skips_file.display().to_string())?;
    }
    for (rel, text) in &exported.files {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // An imports.tf from an earlier export with state names ids this one
    // did not read.
    for n in &names {
        let rel = format!("environments/{n}/imports.tf");
        let path = out.join(&rel);
        if !exported.files.contains_key(&rel) && path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    println!(
        "Wrote {} files under {} (stacks {}{}).",
        exported.files.len(),
        out.display(),
        names.join(", "),
        if with_state { ", with imports.tf" } else { "" }
    );
    Ok(0)
}
