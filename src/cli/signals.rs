//! SIGINT and SIGTERM (CI runners and `docker stop` send SIGTERM) for the
//! mutating commands. While an apply runs, the first signal cancels: nothing
//! new starts, in-flight calls finish and are checkpointed. A second signal
//! abandons them: each is already recorded as a pending operation (its row
//! is committed before the call), so the lock is released and the process
//! exits; the next run settles them. Before the apply starts, a signal
//! releases the lock and exits at once.

use std::sync::{Arc, Mutex};

use morket_stack::exec::Cancel;
use morket_stack::state::StateError;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Default)]
struct Shared {
    lock_id: Option<String>,
    cancel: Option<Cancel>,
    /// The apply was cancelled: calls may be in flight.
    cancelled: bool,
}

pub struct Signals {
    shared: Arc<Mutex<Shared>>,
}

impl Signals {
    /// Starts listening; `release` frees the lock a signal abandons.
    pub fn install(release: Release) -> std::io::Result<Signals> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let s = shared.clone();
        tokio::spawn(async move {
            loop {
                let code = tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                };
                let mut g = s.lock().unwrap_or_else(|p| p.into_inner());
                match g.cancel.take() {
                    Some(c) => {
                        eprintln!("\nInterrupt: starting nothing new; waiting for in-flight operations to finish and checkpoint (signal again to abandon them)...");
                        c.cancel();
                        g.cancelled = true;
                    }
                    None => {
                        if g.cancelled && g.lock_id.is_some() {
                            eprintln!("\nInterrupt: abandoning; operations in flight are recorded as pending and the next run settles them.");
                        } else {
                            eprintln!("\nInterrupt: nothing was applied.");
                        }
                        if let Some(id) = g.lock_id.take() {
                            match release(&id) {
                                Ok(()) => eprintln!("Released the state lock {id}."),
                                Err(e) => eprintln!("Could not release the state lock {id}: {e}"),
                            }
                        }
                        std::process::exit(code);
                    }
                }
            }
        });
        Ok(Signals { shared })
    }

    fn with(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.shared.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The lock to release if a signal arrives; `None` once released.
    pub fn holding(&self, lock_id: Option<String>) {
        self.with(|s| s.lock_id = lock_id);
    }

    /// The apply has started: the next signal cancels it.
    pub fn applying(&self, cancel: &Cancel) {
        self.with(|s| s.cancel = Some(cancel.clone()));
    }

    /// The apply is over: a signal exits again.
    pub fn applied(&self) {
        self.with(|s| s.cancel = None);
    }
}

/// Releases lock `id` of the stack through a store handle of its own.
pub type Release = Box<dyn Fn(&str) -> Result<(), StateError> + Send + Sync>;
