//! Retry policy for provider calls, kept apart from the work it retries.

use std::time::Duration;

/// Exponential backoff with full jitter, for `ProviderError::Retryable`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// The wait before attempt `attempt + 1` (attempts count from 1), or
    /// `None` when attempts are used up.
    pub fn backoff(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.max_backoff);
        let jitter = rand::random::<f64>();
        Some(exp.mul_f64(0.5 + jitter / 2.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops() {
        let p = RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(250),
        };
        let b1 = p.backoff(1).unwrap();
        assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
        let b3 = p.backoff(3).unwrap();
        assert!(b3 <= Duration::from_millis(250) && b3 >= Duration::from_millis(125));
        assert_eq!(p.backoff(4), None);
        assert_eq!(RetryPolicy::none().backoff(1), None);
    }
}
