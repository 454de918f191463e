//! `scimctl`: the local SCIM server and the administration commands. SCIM semantics live in
//! `scim-shared`; this crate only adapts HTTP and the command line to it.
//!
//! The library holds what the binary and the tests share: the server ([`server`], with
//! [`auth_cache`] and [`listener`]), the operator HTTP API of `scimctl serve` ([`operator_api`]), the
//! management API's client that the tenant, token, log and events commands call, in process or
//! through `--api` ([`management_client`]),
//! webhook delivery ([`webhook`]), the import ([`import`]), the tables the commands print
//! ([`report`]) and `--store` ([`store_url`]). The command line itself is the binary's: its clap
//! definitions in `cli.rs`, one handler per command in `commands/`, dispatched by `main.rs`.

pub mod auth_cache;
pub mod import;
pub mod listener;
pub mod management_client;
pub mod operator_api;
pub mod report;
pub mod server;
pub mod store_socket;
pub mod store_url;
pub mod webhook;
