//! A request that goes wrong below SCIM fails alone: a request whose handling panics, and one
//! that is not even valid HTTP (a NUL byte in a header), each get a SCIM error, and the server
//! goes on serving the next request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

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

/// What came back for a request sent as raw bytes: status, head and body.
struct RawReply {
    status: u16,
    head: String,
    body: Value,
}

/// Sends `request` as is on a new connection and reads until the server closes it.
async fn send_raw(srv: &TestServer, request: Vec<u8>) -> RawReply {
    let addr = srv.root().trim_start_matches("http://").to_string();
    let bytes = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(&request).expect("send");
        let mut bytes = Vec::new();
        stream
            .read_to_end(&mut bytes)
            .expect("an answer, then the connection closed");
        bytes
    })
    .await
    .expect("join");
    let text = String::from_utf8(bytes).expect("a text answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    RawReply {
        status,
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A GET of /Users with the tenant's token and one more header line as raw bytes.
fn get_users_with(srv: &TestServer, extra_header: &[u8]) -> Vec<u8> {
    let token = srv.client.token().expect("a token");
    let mut request = format!(
        "GET /scim/v2/Users HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n"
    )
    .into_bytes();
    request.extend_from_slice(extra_header);
    request.extend_from_slice(b"\r\n\r\n");
    request
}

#[tokio::test]
async fn a_header_holding_a_byte_http_forbids_is_a_scim_400_and_the_server_serves_the_next_one() {
    let srv = TestServer::start().await;
    let token = srv.client.token().expect("a token");
    let bad_lines: [&[u8]; 6] = [
        b"x-trace: a\0b",
        b"x-trace: a\x01b",
        b"x-trace: a\x7fb",
        b"x-tr\0ace: b",
        b"x trace: b",
        b"if-match: W/\"1\"\0",
    ];
    for line in bad_lines {
        let reply = send_raw(&srv, get_users_with(&srv, line)).await;
        let shown = String::from_utf8_lossy(line);
        assert_eq!(reply.status, 400, "{shown:?}: {}", reply.head);
        assert!(
            reply.head.contains("content-type: application/scim+json"),
            "{shown:?}: {}",
            reply.head
        );
        assert_eq!(reply.body["schemas"][0], ERROR_SCHEMA, "{shown:?}");
        assert_eq!(reply.body["status"], "400", "{shown:?}");
        assert_eq!(reply.body["scimType"], "invalidSyntax", "{shown:?}");
    }
    // A NUL in the token itself, and in the request line.
    let nul_token = format!(
        "GET /scim/v2/Users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\0\r\n\r\n"
    );
    let reply = send_raw(&srv, nul_token.into_bytes()).await;
    assert_eq!(
        (reply.status, &reply.body["scimType"]),
        (400, &"invalidSyntax".into())
    );
    let reply = send_raw(
        &srv,
        b"GET /scim/v2/Us\0ers HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body["scimType"]),
        (400, &"invalidSyntax".into())
    );

    // Valid requests on new connections are served as before.
    let reply = send_raw(&srv, get_users_with(&srv, b"connection: close")).await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    srv.client.get("/Users").await.expect(200);
}
