//! The Lambda side's tests in one binary: the functions' handlers driven by API Gateway and
//! DynamoDB stream events (tests/data/apigw, tests/data/streams), the authorizer, Emergency
//! Logout, and template.yaml held to the code. `support` holds what they share.
//!
//! Run one module with `cargo test -p scim-functions --test it template::`.

mod authorizer;
mod emergency;
mod events;
mod fixtures;
mod management;
mod oauth;
mod support;
mod template;
