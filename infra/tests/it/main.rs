//! scimctl's integration tests in one binary, one module per area.

mod api;
mod beside_server;
mod crash;
mod support;
