//! A request that goes wrong below SCIM fails alone: a request whose handling panics gets a SCIM
//! error, and the server goes on serving the next request.

use std::sync::Arc;

use scim_shared::ops::Limits;
use scim_tests::faults::PanicOnRead;
use scim_tests::{OPERATOR_TOKEN, TestServer, fresh_store};
use serde_json::Value;

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[tokio::test]
async fn a_request_that_panics_is_a_scim_500_and_the_server_serves_the_next_one() {
    let panics = "0197a000-0000-7000-8000-00000000dead";
    // The store panics when a request reads that user.
    let store = Arc::new(PanicOnRead::new(fresh_store().await, panics));
    let srv = TestServer::with_store(store, Limits::default()).await;

    let reply = srv
        .client
        .get(&format!("/Users/{panics}"))
        .await
        .expect_error(500, None);
    assert_eq!(reply.body["schemas"][0], ERROR_SCHEMA);

    let id = srv.client.create_user("bjensen").await;
    srv.client.get(&format!("/Users/{id}")).await.expect(200);
    srv.client
        .get(&format!("/Users/{panics}"))
        .await
        .expect_error(500, None);
    srv.client.get("/Users").await.expect(200);

    // The operator's Emergency Logout of that user panics too: a SCIM 500, and the server lives.
    let url = format!(
        "{}/admin/tenants/acme/users/{panics}/emergency-logout",
        srv.root()
    );
    let reply = reqwest::Client::new()
        .post(url)
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("an answer");
    assert_eq!(reply.status().as_u16(), 500);
    let body: Value = reply.json().await.expect("JSON");
    assert_eq!(body["schemas"][0], ERROR_SCHEMA);
    assert_eq!(body["status"], "500");
    srv.client.get(&format!("/Users/{id}")).await.expect(200);
}
