//! Progress while applying: bars on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use morket_stack::exec::{Event, EventSink};

pub struct Progress {
    color: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    pub fn new(color: bool) -> Self {
        Progress {
            color,
            bar: Mutex::new(None),
        }
    }

    /// Shows a bar of `ops` steps when stderr is a terminal.
    pub fn start(&self, ops: usize) {
        if std::io::stderr().is_terminal() {
            let b = ProgressBar::new(ops as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                )
                .expect("valid template"),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            *self.bar.lock().unwrap() = Some(b);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap().take() {
            b.finish_and_clear();
        }
    }

    fn line(&self, s: String) {
        match self.bar.lock().unwrap().as_ref() {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    fn tick(&self, msg: String) {
        if let Some(b) = self.bar.lock().unwrap().as_ref() {
            b.inc(1);
            b.set_message(msg);
        }
    }

    fn red(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[31m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

impl EventSink for Progress {
    fn event(&self, e: &Event) {
        match e {
            Event::OpStarted { urn, kind } => {
                if self.bar.lock().unwrap().is_none() {
                    self.line(format!("  {} {urn} ...", kind.as_str()));
                }
            }
            Event::OpFinished { urn, kind, elapsed } => {
                self.line(format!(
                    "  {} {urn} done ({:.1}s)",
                    kind.as_str(),
                    elapsed.as_secs_f64()
                ));
                self.tick(urn.to_string());
            }
            Event::OpFailed { urn, kind, error } => {
                self.line(format!(
                    "  {} {} {urn}: {error}",
                    self.red("failed"),
                    kind.as_str()
                ));
                self.tick(urn.to_string());
            }
            Event::OpSkipped { urn, kind, because } => {
                self.line(format!(
                    "  skipped {} {urn} (depends on failed {because})",
                    kind.as_str()
                ));
                self.tick(urn.to_string());
            }
            Event::OpRetrying {
                urn,
                kind,
                attempt,
                error,
            } => {
                self.line(format!(
                    "  retrying {} {urn} after attempt {attempt}: {error}",
                    kind.as_str()
                ));
            }
            Event::PendingResolved { urn, kind, outcome } => {
                self.line(format!(
                    "  interrupted {} of {urn}: {outcome}",
                    kind.as_str()
                ));
            }
            Event::WaitingForLock { holder } => {
                self.line(format!("Waiting for the state lock: {holder}"))
            }
            Event::StaleLockReleased { holder } => {
                self.line(format!("warning: released a stale lock: {holder}"))
            }
            Event::WaitingForLookup { urn, wait } => self.line(format!(
                "{urn}: not found by its URN tag yet; lookups lag on the provider, looking again in {}",
                humantime::format_duration(*wait)
            )),
            Event::Cancelling => self.line("Cancelling: no new operations will start.".into()),
        }
    }
}
