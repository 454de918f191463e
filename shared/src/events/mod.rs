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
