//! Embedding morket-stack: declare a stack in Rust and drive the engine
//! in-process (preview, up, preview again, destroy) with typed results.
//!
//! Usage: `cargo run --example embedded [-- DIR]`. State and files go under
//! DIR (a fresh temporary directory when omitted). Exits non-zero when any
//! step does not do what it should.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, ensure, Context, Result};
use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::Stack;
use morket_stack::plan::PlanOptions;
use morket_stack::provider::local::File;
use morket_stack::provider::random::RandomPassword;
use morket_stack::provider::Registry;
use morket_stack::render::{self, Style};
use morket_stack::state::keys;

/// A password and a file holding it: the file references the password's
/// `result`, so the planner orders it after the password.
fn build(out_dir: &Path) -> Result<Stack> {
    let mut stack = Stack::new("embedded")?;
    let mut root = stack.root();
    let password = root.resource("password", RandomPassword::new(20))?;
    root.resource(
        "password-file",
        File {
            file_permission: "0600".into(),
            ..File::new(
                out_dir.join("password").display().to_string(),
                password.result(),
            )
        },
    )?;
    Ok(stack)
}

async fn run(dir: &Path) -> Result<()> {
    let out_dir = dir.join("out");
    let state_dir = dir.join("state");
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let stack = build(&out_dir)?;

    let (store, source) = keys::open_sqlite(&state_dir, "embedded")?;
    println!("secrets key: {source:?}");
    let mut engine = Engine::new(Box::new(store), Registry::builtin());
    let style = Style {
        color: false,
        diff: false,
    };
    let opts = PlanOptions::default();
    let cancel = Cancel::new();

    // 1. Preview: two resources to create.
    let plan = engine.preview(&stack, &opts).await?;
    print!("{}", render::plan_text(&plan, style));
    let c = plan.counts();
    ensure!(
        (c.create, c.update, c.replace, c.delete) == (2, 0, 0, 0),
        "first preview: expected 2 creates, got {c:?}"
    );

    // 2. Up.
    let (_, report) = engine.up(&stack, &opts, &cancel).await?;
    print!("{}", render::report_text(&report, style));
    let t = report.tally();
    ensure!(
        report.is_success() && t.done == 2,
        "up: expected 2 done, got {t:?}"
    );
    let file = out_dir.join("password");
    let content =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    ensure!(
        content.len() == 20,
        "password file holds {} characters, expected 20",
        content.len()
    );
    ensure!(
        engine.store().resources()?.len() == 2,
        "state should hold 2 resources"
    );

    // 3. A second preview: nothing to do.
    let plan = engine.preview(&stack, &opts).await?;
    print!("{}", render::plan_text(&plan, style));
    if plan.has_changes() {
        bail!("second preview still has changes: {:?}", plan.counts());
    }

    // 4. Destroy.
    let (plan, report) = engine.destroy(&stack, &cancel).await?;
    print!("{}", render::report_text(&report, style));
    ensure!(
        plan.counts().delete == 2 && report.is_success() && report.tally().done == 2,
        "destroy: expected 2 deletes done, got {:?}",
        report.tally()
    );
    ensure!(
        !file.exists(),
        "{} still exists after destroy",
        file.display()
    );
    ensure!(
        engine.store().resources()?.is_empty(),
        "state not empty after destroy"
    );
    println!("embedded: ok");
    Ok(())
}

fn main() -> ExitCode {
    let (dir, _tmp): (PathBuf, Option<tempfile::TempDir>) = match std::env::args_os().nth(1) {
        Some(d) => (PathBuf::from(d), None),
        None => {
            let t = tempfile::tempdir().expect("temporary directory");
            (t.path().to_path_buf(), Some(t))
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embedded: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
