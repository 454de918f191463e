//! The SCIM operations: pure protocol semantics over the item-level store. Each function takes a
//! [`Ctx`] (tenant, store, base URL, limits) and the parsed request, and returns a response.

mod announce;
pub(crate) mod bulk;
pub mod cursor;
mod discovery;
pub mod effective_roles;
mod emergency;
mod list;
pub(crate) mod members;
mod resources;
mod stored;

pub use announce::{Announcer, Committed};
pub use discovery::{resource_type, resource_types, schema, schemas, service_provider_config};
pub use emergency::{Logout, emergency_logout};
pub use list::{list, search};
pub use resources::{create, delete, get, patch, replace};

use crate::protocol::error::ScimError;
use crate::store::{MAX_ITEM_BYTES, Store, StoreError};

/// Limits the service states in /ServiceProviderConfig and enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (413 above it).
    pub max_payload_bytes: usize,
    /// Largest page a list or search returns (`filter.maxResults`).
    pub max_results: usize,
    /// Most resources a filter that no key answers may examine before answering 400 tooMany.
    pub max_filter_scan: usize,
    /// Most operations of one bulk request (`bulk.maxOperations`; 413 above it). Its body is
    /// bounded by `max_payload_bytes` like any other (`bulk.maxPayloadSize`).
    pub max_bulk_operations: usize,
    /// Most operations of one PATCH request (413 above it). With at most
    /// [`crate::protocol::resource::MAX_VALUES`] values per attribute, it bounds a PATCH's work.
    pub max_patch_operations: usize,
    /// How long an update without If-Match keeps trying when concurrent writes keep winning the
    /// race for the same resource (many IdP requests adding members to one group at once); then
    /// 503. The default, 8 s, is inside a function's 10 s timeout (template.yaml), so that a
    /// request that gives up still records and answers its 503 itself.
    pub retry_budget: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 1024 * 1024,
            max_results: 1000,
            max_filter_scan: 100_000,
            max_bulk_operations: 1000,
            max_patch_operations: 1000,
            retry_budget: std::time::Duration::from_secs(8),
        }
    }
}

/// What an operation works with.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub tenant: &'a str,
    pub store: &'a dyn Store,
    /// Absolute base URL, e.g. `https://host/scim/v2`.
    pub base_url: &'a str,
    pub limits: &'a Limits,
    /// Announces the changes the operation commits (their events go into the same
    /// transaction); `None`: the changes give no event.
    pub announcer: Option<Announcer<'a>>,
}

impl<'a> Ctx<'a> {
    /// A context without base URL (relative `location`s) that announces nothing.
    pub fn new(tenant: &'a str, store: &'a dyn Store, limits: &'a Limits) -> Self {
        Ctx {
            tenant,
            store,
            base_url: "",
            limits,
            announcer: None,
        }
    }

    pub fn with_base_url(self, base_url: &'a str) -> Self {
        Ctx { base_url, ..self }
    }

    pub fn announcing(self, announcer: Announcer<'a>) -> Self {
        Ctx {
            announcer: Some(announcer),
            ..self
        }
    }
}

/// The attempts of an update: the first at once, later ones after a random pause below a
/// doubling bound (5 ms to 200 ms, full jitter, so that the losers of one race spread out), as
/// long as [`Limits::retry_budget`] lasts (tests/tests/it/race.rs races 64 writers on the
/// embedded store, 8 on DynamoDB Local).
#[derive(Debug)]
struct Attempts {
    started: std::time::Instant,
    budget: std::time::Duration,
    made: u32,
}

impl Attempts {
    fn new(limits: &Limits) -> Self {
        Attempts {
            started: std::time::Instant::now(),
            budget: limits.retry_budget,
            made: 0,
        }
    }

    /// Waits for the next attempt; `false` when the budget is spent.
    async fn next(&mut self) -> bool {
        if self.made > 0 {
            if self.started.elapsed() >= self.budget {
                return false;
            }
            crate::store::backoff(self.made, 5, 200).await;
        }
        self.made += 1;
        true
    }
}

/// Store failures that are not protocol outcomes: the only place they become SCIM errors.
impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ScimError::Unavailable(
                "a concurrent request changed the same resource; retry".into(),
            ),
            StoreError::Limit(m) => ScimError::TooMany(m),
            // 413 rather than 400 invalidValue: no value is wrong, the resource as a whole is
            // larger than the service stores (RFC 7644 §3.12: 413 when "one or more of the limits
            // for this operation have been exceeded"), and the client's remedy is to send less.
            StoreError::ItemTooLarge { bytes, .. } => ScimError::PayloadTooLarge(format!(
                "the resource would be stored as {bytes} bytes, over the {MAX_ITEM_BYTES} bytes \
                 (400 KB) a stored resource may take"
            )),
            StoreError::ConditionFailed { .. } => {
                ScimError::PreconditionFailed("the resource changed concurrently".into())
            }
            StoreError::Backend(m) => {
                tracing::error!(error = %m, "store failure");
                ScimError::Internal("the service could not complete the request".into())
            }
        }
    }
}
