//! `scimctl`: the local SCIM server and the administration commands. SCIM semantics live in
//! `scim-shared`; this crate only adapts HTTP and the command line to it.

pub mod auth_cache;
pub mod import;
pub mod listener;
pub mod operator_api;
pub mod report;
pub mod server;
pub mod store_url;
pub mod webhook;
