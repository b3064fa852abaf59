//! One waiter for every AWS transition, Terraform's `retry.StateChangeConf`:
//! pending and target states, a delay before the first poll (a modify shows
//! a few seconds late), a not-found grace after a create (eventual
//! consistency), N consecutive target observations, a timeout, and polls
//! that back off with jitter.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::AwsSettings;
use crate::provider::ProviderError;

/// What one poll saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen<T> {
    /// The object, in this state.
    State(String, T),
    /// Not found.
    Gone,
}

#[derive(Debug, Clone, Copy)]
pub struct Wait<'w> {
    /// What is waited for, for errors: "DB cluster", "NAT gateway".
    pub what: &'w str,
    pub pending: &'w [&'w str],
    pub target: &'w [&'w str],
    /// AWS time before the first poll.
    pub delay: Duration,
    /// AWS time during which not-found means "not visible yet".
    pub not_found_grace: Duration,
    /// Consecutive observations of a target state needed.
    pub stable: u32,
}

impl<'w> Wait<'w> {
    pub const fn new(what: &'w str, pending: &'w [&'w str], target: &'w [&'w str]) -> Self {
        Wait {
            what,
            pending,
            target,
            delay: Duration::ZERO,
            not_found_grace: Duration::ZERO,
            stable: 1,
        }
    }

    /// The first wait after a create: not-found is retried for 2 minutes
    /// (Terraform's `NotFoundChecks` / new-resource grace).
    pub const fn after_create(mut self) -> Self {
        self.not_found_grace = Duration::from_secs(120);
        self
    }

    /// A wait after a modify: AWS leaves the target state a few seconds
    /// after the call, so the first poll waits `delay` (Terraform: 30 s for
    /// RDS and ElastiCache, 1 min for OpenSearch) and the target must be
    /// seen `stable` times in a row.
    pub const fn after_modify(mut self, delay: Duration, stable: u32) -> Self {
        self.delay = delay;
        self.stable = stable;
        self
    }

    /// Polls `refresh` until the object is in a target state; returns what
    /// the last poll saw.
    pub async fn until<T, F, Fut>(
        &self,
        settings: &AwsSettings,
        mut refresh: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Seen<T>, ProviderError>>,
    {
        let start = Instant::now();
        let grace = settings.scaled(self.not_found_grace);
        tokio::time::sleep(settings.scaled(self.delay)).await;
        let mut seen_target = 0;
        let mut polls = 0;
        loop {
            let state = match refresh().await? {
                Seen::State(s, t) if self.target.contains(&s.as_str()) => {
                    seen_target += 1;
                    if seen_target >= self.stable {
                        return Ok(t);
                    }
                    s
                }
                Seen::State(s, _) if self.pending.contains(&s.as_str()) => {
                    seen_target = 0;
                    s
                }
                Seen::State(s, _) => {
                    return Err(ProviderError::Fatal(format!(
                        "{} is {s} while waiting for it to be {}",
                        self.what,
                        self.target.join(" or ")
                    )))
                }
                Seen::Gone if start.elapsed() < grace => {
                    seen_target = 0;
                    "not visible yet".to_string()
                }
                Seen::Gone => {
                    return Err(ProviderError::NotFound(format!(
                        "{} disappeared while waiting for it to be {}",
                        self.what,
                        self.target.join(" or ")
                    )))
                }
            };
            self.pause(settings, start, &mut polls, &state).await?;
        }
    }

    /// Polls `refresh` until the object is gone; any state outside `pending`
    /// is an error (a delete AWS refused leaves the object as it was).
    pub async fn until_gone<T, F, Fut>(
        &self,
        settings: &AwsSettings,
        mut refresh: F,
    ) -> Result<(), ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Seen<T>, ProviderError>>,
    {
        let start = Instant::now();
        tokio::time::sleep(settings.scaled(self.delay)).await;
        let mut polls = 0;
        loop {
            match refresh().await? {
                Seen::Gone => return Ok(()),
                Seen::State(s, _) if self.pending.contains(&s.as_str()) => {
                    self.pause(settings, start, &mut polls, &s).await?
                }
                Seen::State(s, _) => {
                    return Err(ProviderError::Fatal(format!(
                        "{} is {s} while waiting for it to be deleted",
                        self.what
                    )))
                }
            }
        }
    }

    async fn pause(
        &self,
        settings: &AwsSettings,
        start: Instant,
        polls: &mut u32,
        state: &str,
    ) -> Result<(), ProviderError> {
        if start.elapsed() >= settings.wait_timeout {
            return Err(ProviderError::Fatal(format!(
                "timed out after {:?} waiting for {} to be {}; it is {state}",
                settings.wait_timeout,
                self.what,
                if self.target.is_empty() {
                    "deleted".to_string()
                } else {
                    self.target.join(" or ")
                }
            )));
        }
        *polls += 1;
        tokio::time::sleep(poll_pause(settings.poll_interval, *polls)).await;
        Ok(())
    }
}

/// The pause before poll `n`: the poll interval, growing by a quarter per
/// poll to three times it, less up to a fifth at random so many waiters do
/// not poll in step.
fn poll_pause(interval: Duration, n: u32) -> Duration {
    let grown = interval
        .mul_f64(1.25f64.powi(n.min(10) as i32))
        .min(interval * 3);
    grown.mul_f64(rand::thread_rng().gen_range(0.8..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn settings() -> AwsSettings {
        AwsSettings {
            poll_interval: Duration::from_millis(10),
            wait_timeout: Duration::from_secs(5),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_right_after_create_is_waited_out() {
        let n = AtomicU32::new(0);
        let w = Wait::new("NAT gateway", &["pending"], &["available"]).after_create();
        let got = w
            .until(&settings(), || async {
                Ok(match n.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Seen::Gone,
                    2 => Seen::State("pending".into(), 0),
                    _ => Seen::State("available".into(), 7),
                })
            })
            .await
            .unwrap();
        assert_eq!(got, 7);
        // Without the grace the first not-found is final.
        let e = Wait::new("NAT gateway", &["pending"], &["available"])
            .until(&settings(), || async { Ok(Seen::<u8>::Gone) })
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::NotFound(_)), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_modify_must_be_seen_stable_and_unexpected_states_fail() {
        let n = AtomicU32::new(0);
        // available (stale), modifying, available, available
        let w = Wait::new("DB cluster", &["modifying"], &["available"])
            .after_modify(Duration::from_secs(30), 2);
        let s = AwsSettings {
            time_scale: 0.001,
            ..settings()
        };
        w.until(&s, || async {
            let i = n.fetch_add(1, Ordering::SeqCst);
            Ok(Seen::State(
                if i == 1 { "modifying" } else { "available" }.into(),
                (),
            ))
        })
        .await
        .unwrap();
        assert_eq!(
            n.load(Ordering::SeqCst),
            4,
            "two in a row after the modifying one"
        );
        let e = Wait::new("DB cluster", &["creating"], &["available"])
            .until(&s, || async { Ok(Seen::State("failed".into(), ())) })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("DB cluster is failed"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_time_out_naming_the_last_state_and_deletes_refused_fail() {
        let e = Wait::new("domain", &["processing"], &["active"])
            .until(&settings(), || async {
                Ok(Seen::State("processing".into(), ()))
            })
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("timed out") && e.to_string().contains("processing"),
            "{e}"
        );
        let e = Wait::new("replication group", &["deleting"], &[])
            .until_gone(&settings(), || async {
                Ok(Seen::State("modifying".into(), ()))
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("modifying"), "{e}");
    }
}
