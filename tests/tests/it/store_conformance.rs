//! The Store conformance suite against the backend selected by `SCIM_TEST_BACKEND` (the embedded
//! backend also runs it inside the shared crate).

scim_shared::store_conformance_tests!(scim_tests::fresh_store());
