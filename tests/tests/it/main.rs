//! The end-to-end suites, one module per area, in one test binary: each test starts its own
//! server over a fresh store of the backend `SCIM_TEST_BACKEND` selects (the embedded store by
//! default, a table on DynamoDB Local with `dynamodb`).
//!
//! Run one area with `cargo test -p scim-tests --test it users::`, one test by its full name
//! (`cargo test -p scim-tests --test it limits::the_costliest_patch_within_the_limits_completes`).
//! The `gateway` module needs the Lambda bootstraps and DynamoDB Local, so its tests are ignored
//! by a plain `cargo test`; tests/run.sh runs them with
//! `cargo test -p scim-tests --test it -- --ignored gateway::`.

mod bulk;
mod cost;
mod dialects;
mod emergency;
mod entra_gallery;
mod errors;
mod filters;
mod gateway;
mod groups;
mod import;
mod lifecycle;
mod limits;
mod lists;
mod management;
mod oauth;
mod paging;
mod race;
mod replay;
mod resilience;
mod roles;
mod store_conformance;
mod tenant_deletion;
mod users;
mod webhook;
