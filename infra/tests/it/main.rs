//! scimctl's integration tests in one binary, one module per area.

mod beside_server;
mod crash;
mod support;
