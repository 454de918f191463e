//! The SCIM protocol core: what RFC 7643 and RFC 7644 say, as pure functions over JSON. Nothing
//! here touches the store, runs async code or knows a tenant: schemas and their validation
//! (`schema`, `resource`), the filter and PATCH languages (`filter`, `patch`), what identity
//! providers really send turned into RFC form (`dialect`), the routing table (`router`), the
//! request and response types entry points translate to and from (`http`), the one error type
//! (`error`) and time formats (`clock`).

pub mod clock;
pub mod dialect;
pub mod error;
pub mod filter;
pub mod http;
pub mod patch;
pub mod resource;
pub mod router;
pub mod schema;
