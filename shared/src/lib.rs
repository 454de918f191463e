//! The SCIM 2.0 core shared by every entry point: the local server, the Lambda functions and the
//! tests. Entry points translate their request type into [`http::ScimRequest`], call
//! [`service::Service::handle`], and translate the [`http::ScimResponse`] back.

pub mod audit;
pub mod boundary;
pub mod clock;
pub mod dialect;
pub mod error;
pub mod filter;
pub mod http;
pub mod keys;
pub mod lifecycle;
pub mod ops;
pub mod outbox;
pub mod patch;
pub mod publish;
pub mod purge;
pub mod reconcile;
pub mod resource;
pub mod roles;
pub mod router;
pub mod schema;
pub mod service;
pub mod store;
pub mod stream;
pub mod tenant;
pub mod webhook;

pub use error::{ScimError, ScimResult};
