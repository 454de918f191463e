//! `scimctl --api URL`: the tenant, token, log and events commands through the management API of
//! a running `scimctl serve` over an in-memory store (which no other process can open), with its
//! operator token, and the same output as on a store. (Through API Gateway with SigV4:
//! `gateway::` in the scim-tests suite.)

use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::support::{OPERATOR_TOKEN, Server};

/// Runs `scimctl --api ROOT ARGS…` with `token` as the operator token.
fn scimctl(root: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scimctl"))
        .args(["--api", root])
        .args(args)
        .env("SCIM_OPERATOR_TOKEN", token)
        .env_remove("SCIM_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("scimctl runs")
}

#[track_caller]
fn ok(output: Output) -> (String, String) {
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(output.status.success(), "failed: {err}");
    (out, err)
}

#[track_caller]
fn refused(output: Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_commands_manage_a_running_server_through_its_management_api() {
    let logs = tempfile::tempdir().expect("logs");
    let server = Server::start("memory", logs.path(), 0);
    let api = |args: &[&str]| scimctl(server.root(), OPERATOR_TOKEN, args);

    let (out, _) = ok(api(&["tenant", "create", "globex"]));
    assert_eq!(out.trim(), "globex");
    let (list, _) = ok(api(&["tenant", "list"]));
    assert!(list.lines().any(|l| l.starts_with("globex\t")), "{list}");
    let (_, set) = ok(api(&[
        "tenant",
        "set",
        "globex",
        "--log-retention-days",
        "30",
    ]));
    assert!(set.contains("audit log retention 30 days"), "{set}");

    let (token, _) = ok(api(&["token", "issue", "globex"]));
    let created = reqwest::Client::new()
        .post(format!("{}/Users", server.url))
        .bearer_auth(token.trim())
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada"}),
        )
        .send()
        .await
        .expect("create user");
    assert_eq!(created.status(), 201, "the token works at once");
    let (tokens, _) = ok(api(&["token", "list", "globex"]));
    let token_id = tokens.split('\t').next().expect("a token id").to_string();
    assert!(!tokens.contains(token.trim()), "never the secret: {tokens}");

    let (log, _) = ok(api(&["log", "globex"]));
    assert!(log.contains("CreateUser") && log.contains("201"), "{log}");
    let (events, _) = ok(api(&["events", "tail", "globex", "--json"]));
    let joiner: serde_json::Value =
        serde_json::from_str(events.lines().next().expect("an event")).expect("JSON");
    assert_eq!(joiner["type"], "joiner");
    assert_eq!(joiner["tenant"], "globex");

    ok(api(&["token", "revoke", "globex", &token_id]));
    let (_, deleted) = ok(api(&["tenant", "delete", "globex"]));
    assert!(deleted.contains("deleted tenant 'globex'"), "{deleted}");
    let missing = refused(api(&["token", "list", "globex"]));
    assert!(
        missing.contains("tenant 'globex' does not exist"),
        "{missing}"
    );

    let wrong = refused(scimctl(server.root(), "op_wrong", &["tenant", "list"]));
    assert!(wrong.contains("operator token"), "{wrong}");
    let store_only = refused(api(&["roles", "list", "globex"]));
    assert!(store_only.contains("not through --api"), "{store_only}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_client_made_through_the_api_gets_access_tokens_until_revoked() {
    let logs = tempfile::tempdir().expect("logs");
    let server = Server::start("memory", logs.path(), 0);
    let api = |args: &[&str]| scimctl(server.root(), OPERATOR_TOKEN, args);
    ok(api(&["tenant", "create", "globex"]));

    let (created, said) = ok(api(&["client", "create", "globex"]));
    let mut lines = created.lines();
    let (id, secret) = (
        lines.next().expect("the Client ID").to_string(),
        lines.next().expect("the secret").to_string(),
    );
    assert!(
        id.starts_with("globex.") && secret.starts_with("scimcs_"),
        "{created}"
    );
    let token_url = format!("{}/oauth/token", server.root());
    assert!(said.contains(&format!("Token URL: {token_url}")), "{said}");

    let http = reqwest::Client::new();
    let token = |secret: String| {
        let (http, url, id) = (http.clone(), token_url.clone(), id.clone());
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .expect("token request")
        }
    };
    let answer: serde_json::Value = token(secret.clone()).await.json().await.expect("JSON");
    let access = answer["access_token"].as_str().expect("access_token");
    let users = http
        .get(format!("{}/Users", server.url))
        .bearer_auth(access)
        .send()
        .await
        .expect("list users");
    assert_eq!(users.status(), 200, "the access token works for its tenant");

    let (listed, _) = ok(api(&["client", "list", "globex"]));
    assert!(
        listed.starts_with(&id) && !listed.contains(&secret),
        "{listed}"
    );
    let (second, _) = ok(api(&["client", "secret", "add", "globex", &id]));
    assert_eq!(token(second.trim().to_string()).await.status(), 200);
    ok(api(&["client", "revoke", "globex", &id]));
    assert_eq!(
        token(secret).await.status(),
        401,
        "a revoked client gets no token"
    );
    let missing = refused(api(&["client", "revoke", "globex", &id]));
    assert!(missing.contains("does not exist"), "{missing}");
}
