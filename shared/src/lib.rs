//! The SCIM 2.0 core shared by every entry point: the local server, the Lambda functions and the
//! tests. Entry points translate their request type into [`protocol::http::ScimRequest`], call
//! [`service::Service::handle`], and translate the [`protocol::http::ScimResponse`] back.
//!
//! # Layout
//!
//! From the bottom up; a module uses only those on its line or above it (docs/ARCHITECTURE.md has
//! the code map and the invariants):
//!
//! - [`protocol`]: the SCIM protocol, pure: schemas, resources, filters, PATCH, dialects, routes,
//!   the request/response types, the error type. No store, no async, no tenant.
//! - [`store`]: the item store behind a trait (DynamoDB, the embedded file store, metering), and
//!   the table design: every key is built in [`store::keys`].
//! - [`audit`]: the per-tenant audit log. [`tenant`]: tenants, Secret Tokens and settings.
//! - [`events`]: lifecycle events from a change to its consumer (outbox, stream, publication,
//!   webhook); [`roles`]: role rules and effective roles, whose changes events carry.
//! - [`ops`]: the SCIM operations over the store; each change commits with its events.
//! - [`oauth`]: the OAuth 2.0 token endpoint (client credentials, federated client assertions)
//!   and the access tokens it issues; a tenant's OAuth clients are [`tenant::clients`].
//! - [`service`]: the request pipeline every entry point calls (authentication, dialect,
//!   dispatch, audit record), Emergency Logout and role-rule administration.
//! - [`manage`]: the management API (tenants, tokens, a tenant's directory, events and audit
//!   log) over the service, for the vendor's product and operators.
//! - [`purge`] (a tenant's deletion), [`reconcile`] (imports), [`boundary`] (a panic fails one
//!   request, not the process).

pub mod audit;
pub mod boundary;
pub mod events;
pub mod manage;
pub mod oauth;
pub mod ops;
pub mod protocol;
pub mod purge;
pub mod reconcile;
pub mod roles;
pub mod service;
pub mod store;
pub mod tenant;

pub use protocol::error::{ScimError, ScimResult};
