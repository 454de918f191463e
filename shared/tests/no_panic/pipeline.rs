//! The whole request pipeline in-process ([`Service::handle`] over an in-memory store): routing,
//! the dialect normaliser, the operations, the store, projection, audit and events. Whatever the
//! path, query, headers or body, the answer is never a 5xx, and every error answer is a SCIM
//! Error resource with its status.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseResult;
use scim_shared::ops::Limits;
use scim_shared::protocol::error::ERROR_SCHEMA;
use scim_shared::protocol::http::{Method, ScimRequest, ScimResponse};
use scim_shared::service::{Caller, Service};
use scim_shared::store::EmbeddedStore;
use scim_shared::tenant::{Dialect, TenantSettings};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::check;
use crate::inputs::{
    Ids, SEARCH_REQUEST, bulk_body, json_value, list_query, method, mutated, noise, patch_body,
    resource_body, search_body, unicode,
};

const BASE_URL: &str = "https://example.com/scim/v2";
const TENANT: &str = "acme";
/// Cases of the read-only list properties (no writes: cheap).
const LIST_CASES: u32 = 3000;
/// Cases of the properties that may write (each case a few store transactions).
const WRITE_CASES: u32 = 1000;

/// A service over a fresh in-memory store holding four users (the last two for DELETEs to
/// remove), a group of the first two, and a cursor it issued.
struct Fixture {
    runtime: Runtime,
    service: Service,
    /// Users and the group the requests read and change.
    ids: Ids,
    /// Users that DELETE requests may remove.
    deletable: Vec<String>,
    cursor: String,
}

impl Fixture {
    fn new() -> Fixture {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
        let service = Service::new(store, Limits::default());
        let mut fixture = Fixture {
            runtime,
            service,
            ids: Ids {
                users: Vec::new(),
                groups: Vec::new(),
            },
            deletable: Vec::new(),
            cursor: String::new(),
        };
        for name in ["bjensen", "jsmith", "adoe", "bdoe"] {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "emails": [{"value": format!("{name}@example.com"), "type": "work"}],
            });
            let id = fixture.created("/Users", body);
            match fixture.ids.users.len() {
                0 | 1 => fixture.ids.users.push(id),
                _ => fixture.deletable.push(id),
            }
        }
        let members: Vec<Value> = fixture
            .ids
            .users
            .iter()
            .map(|u| json!({"value": u}))
            .collect();
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Tour Guides",
            "members": members,
        });
        let group = fixture.created("/Groups", body);
        fixture.ids.groups.push(group);
        let mut first_page = ScimRequest::new(Method::Get, "/Users", BASE_URL);
        first_page.query = vec![
            ("count".into(), "1".into()),
            ("cursor".into(), String::new()),
        ];
        let page = fixture.send(Dialect::Strict, &first_page);
        fixture.cursor = page
            .body
            .as_ref()
            .and_then(|b| b["nextCursor"].as_str())
            .expect("a next cursor")
            .to_string();
        fixture
    }

    fn created(&self, path: &str, body: Value) -> String {
        let mut req = ScimRequest::new(Method::Post, path, BASE_URL);
        req.body = body.to_string().into_bytes();
        let response = self.send(Dialect::Strict, &req);
        assert_eq!(response.status, 201, "{:?}", response.body);
        response
            .body
            .as_ref()
            .and_then(|b| b["id"].as_str())
            .expect("id")
            .to_string()
    }

    fn send(&self, dialect: Dialect, req: &ScimRequest) -> ScimResponse {
        let caller = Caller {
            tenant: TENANT,
            settings: TenantSettings {
                dialect,
                ..TenantSettings::default()
            },
        };
        self.runtime
            .block_on(self.service.handle(caller, req))
            .response
    }

    /// Sends a JSON body and checks the answer ([`well_formed`]).
    fn check_body(
        &self,
        dialect: Dialect,
        method: Method,
        path: &str,
        body: &Value,
    ) -> TestCaseResult {
        let mut req = ScimRequest::new(method, path, BASE_URL);
        req.body = body.to_string().into_bytes();
        well_formed(&self.send(dialect, &req))
    }

    /// Paths of a user or the group the fixture holds.
    fn resources(&self) -> Vec<String> {
        let users = self.ids.users.iter().map(|u| format!("/Users/{u}"));
        let groups = self.ids.groups.iter().map(|g| format!("/Groups/{g}"));
        users.chain(groups).collect()
    }

    /// Every path of the API, with the fixture's ids, and one naming nothing.
    fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = [
            "/Users",
            "/Groups",
            "/Users/.search",
            "/Groups/.search",
            "/.search",
            "/Bulk",
            "/Schemas",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            "/ResourceTypes/User",
            "/ServiceProviderConfig",
            "/Users/0197aaaa-0000-7000-8000-000000000000",
        ]
        .map(String::from)
        .to_vec();
        paths.extend(self.resources());
        paths
    }

    /// Requests of every operation, mostly shaped as the operation expects, and requests with
    /// any method, path and body.
    fn requests(&self) -> impl Strategy<Value = ScimRequest> + use<> {
        let (ids, cursor) = (&self.ids, self.cursor.clone());
        let request = |method: Method| {
            move |(path, query, body): (String, Vec<(String, String)>, Option<Value>)| {
                let mut req = ScimRequest::new(method, path, BASE_URL);
                req.query = query;
                req.body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
                req
            }
        };
        let no_query = || Just(Vec::new());
        let get = (select(self.paths()), list_query(cursor.clone()), Just(None));
        let create = (
            select(vec!["/Users".to_string(), "/Groups".to_string()]),
            no_query(),
            resource_body(ids).prop_map(Some),
        );
        let replace = (
            select(self.resources()),
            no_query(),
            resource_body(ids).prop_map(Some),
        );
        let patch = (
            select(self.resources()),
            list_query(cursor.clone()),
            patch_body(ids).prop_map(Some),
        );
        let mut doomed: Vec<String> = self
            .deletable
            .iter()
            .map(|u| format!("/Users/{u}"))
            .collect();
        doomed.push("/Groups/0197aaaa-0000-7000-8000-000000000000".into());
        let delete = (select(doomed), no_query(), Just(None));
        let search = (
            select(vec![
                "/.search".to_string(),
                "/Users/.search".into(),
                "/Groups/.search".into(),
            ]),
            no_query(),
            search_body(cursor.clone()).prop_map(Some),
        );
        let bulk = (
            Just("/Bulk".to_string()),
            no_query(),
            bulk_body(ids).prop_map(Some),
        );
        let path = prop_oneof![
            select(self.paths()),
            mutated(select(self.paths())),
            unicode()
        ];
        let json = prop_oneof![
            patch_body(ids),
            resource_body(ids),
            bulk_body(ids),
            json_value()
        ];
        let body = prop_oneof![
            4 => json.prop_map(|v| v.to_string().into_bytes()),
            1 => vec(any::<u8>(), 0..64),
        ];
        let anything =
            (method(), path, list_query(cursor), body).prop_map(|(method, path, query, body)| {
                let mut req = ScimRequest::new(method, path, BASE_URL);
                req.query = query;
                req.body = body;
                req
            });
        let if_match = prop_oneof![Just("W/\"1\"".to_string()), Just("*".to_string()), noise()];
        let request = prop_oneof![
            3 => get.prop_map(request(Method::Get)),
            2 => create.prop_map(request(Method::Post)),
            1 => replace.prop_map(request(Method::Put)),
            3 => patch.prop_map(request(Method::Patch)),
            1 => delete.prop_map(request(Method::Delete)),
            2 => search.prop_map(request(Method::Post)),
            2 => bulk.prop_map(request(Method::Post)),
            2 => anything,
        ];
        (request, option::of(if_match)).prop_map(|(mut req, if_match)| {
            req.if_match = if_match;
            req
        })
    }
}

/// Asserts what every answer promises: no 5xx, and a SCIM Error resource with the same status
/// for every error, also inside a BulkResponse.
fn well_formed(response: &ScimResponse) -> TestCaseResult {
    prop_assert!(
        response.status < 500,
        "{} {:?}",
        response.status,
        response.body
    );
    if response.status >= 400 {
        let body = response.body.as_ref().expect("an error has a body");
        prop_assert_eq!(body["schemas"][0].as_str(), Some(ERROR_SCHEMA));
        prop_assert_eq!(&body["status"], &Value::from(response.status.to_string()));
    }
    let results = response
        .body
        .as_ref()
        .and_then(|b| b["Operations"].as_array());
    for result in results.into_iter().flatten() {
        let status = result["status"].as_str().unwrap_or_default();
        prop_assert!(!status.starts_with('5'), "{result}");
    }
    Ok(())
}

fn dialect() -> impl Strategy<Value = Dialect> {
    select(vec![Dialect::Auto, Dialect::Strict])
}

#[test]
fn list_parameters_answer_a_page_or_a_client_error() {
    let f = Fixture::new();
    let input = (
        dialect(),
        select(vec!["/Users", "/Groups"]),
        list_query(f.cursor.clone()),
    );
    check(
        "list parameters (GET)",
        LIST_CASES,
        input,
        |(dialect, path, query)| {
            let mut req = ScimRequest::new(Method::Get, path, BASE_URL);
            req.query = query;
            well_formed(&f.send(dialect, &req))
        },
    );
}

#[test]
fn search_requests_answer_a_page_or_a_client_error() {
    let f = Fixture::new();
    let path = select(vec!["/Users/.search", "/Groups/.search", "/.search"]);
    let input = (dialect(), path, search_body(f.cursor.clone()));
    check(
        "search requests (POST .search)",
        LIST_CASES,
        input,
        |(dialect, path, body)| f.check_body(dialect, Method::Post, path, &body),
    );
}

#[test]
fn patch_requests_answer_the_resource_or_a_client_error() {
    let f = Fixture::new();
    let input = (dialect(), select(f.resources()), patch_body(&f.ids));
    check(
        "PATCH requests",
        WRITE_CASES,
        input,
        |(dialect, path, body)| f.check_body(dialect, Method::Patch, &path, &body),
    );
}

#[test]
fn bulk_requests_answer_a_bulk_response_or_a_client_error() {
    let f = Fixture::new();
    check(
        "bulk requests",
        WRITE_CASES,
        (dialect(), bulk_body(&f.ids)),
        |(dialect, body)| f.check_body(dialect, Method::Post, "/Bulk", &body),
    );
}

/// Any request of any operation, and requests whose method, path and body do not go together.
#[test]
fn any_request_answers_without_a_server_error() {
    let f = Fixture::new();
    check(
        "any request",
        WRITE_CASES,
        (dialect(), f.requests()),
        |(dialect, req)| well_formed(&f.send(dialect, &req)),
    );
}

// Inputs that once brought the whole process down: attribute paths were cut at byte 4 (after
// "urn:") without checking that byte 4 starts a character.

/// Sends `req` in both dialects and asserts a 400 with this scimType each time.
fn assert_refused(f: &Fixture, req: &ScimRequest, scim_type: &str) {
    for dialect in [Dialect::Auto, Dialect::Strict] {
        let response = f.send(dialect, req);
        assert_eq!(response.status, 400, "{:?}", response.body);
        let body = response.body.expect("error body");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["scimType"], scim_type, "{body}");
    }
}

#[test]
fn a_sort_by_with_multi_byte_characters_is_an_invalid_value() {
    let f = Fixture::new();
    // GET /Users?sortBy=a%C3%A9%C3%A9
    let mut req = ScimRequest::new(Method::Get, "/Users", BASE_URL);
    req.query = vec![("sortBy".into(), "aéé".into())];
    assert_refused(&f, &req, "invalidValue");
}

#[test]
fn a_search_sort_by_with_multi_byte_characters_is_an_invalid_value() {
    let f = Fixture::new();
    let mut req = ScimRequest::new(Method::Post, "/.search", BASE_URL);
    req.body = json!({"schemas": [SEARCH_REQUEST], "sortBy": "aéé"})
        .to_string()
        .into_bytes();
    assert_refused(&f, &req, "invalidValue");
}

#[test]
fn a_path_less_patch_key_with_multi_byte_characters_is_an_invalid_path() {
    let f = Fixture::new();
    let mut req = ScimRequest::new(
        Method::Patch,
        format!("/Users/{}", f.ids.users[0]),
        BASE_URL,
    );
    req.body = json!({
        "schemas": [scim_shared::protocol::patch::PATCH_OP_SCHEMA],
        "Operations": [{"op": "add", "value": {"aéé": "x"}}],
    })
    .to_string()
    .into_bytes();
    assert_refused(&f, &req, "invalidPath");
}
