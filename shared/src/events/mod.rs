//! Lifecycle events, from a change to its consumer. `lifecycle` turns what an operation changed
//! into events (pure); the operation stores them in the `outbox` in its own transaction
//! (`crate::ops` announces them). From there, locally, `scimctl serve` hands them to the tenant's
//! `webhook`; on AWS the table's stream carries the outbox items to the events function
//! (`stream`), which publishes them to EventBridge in batches (`publish`).

pub mod lifecycle;
pub mod outbox;
pub mod publish;
pub mod stream;
pub mod webhook;

use std::time::Duration;

/// How often and how soon a delivery (a webhook POST, entries EventBridge did not accept) is tried
/// again: `attempts` in all, waiting `first_delay`, then twice as long each time up to
/// `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Retry {
    /// Emergency Logout's synchronous delivery: short, because the operator is waiting.
    pub const EMERGENCY: Retry = Retry {
        attempts: 3,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
    };

    /// The wait after attempt `attempt` (1 for the first) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_delay)
    }
}

impl Default for Retry {
    /// Six attempts over about six seconds: 0.2, 0.4, 0.8, 1.6, 3.2 s apart.
    fn default() -> Self {
        Retry {
            attempts: 6,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}
