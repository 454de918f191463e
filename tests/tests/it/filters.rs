//! Filtering (RFC 7644 §3.4.2.2) over HTTP: every operator, logical operators and grouping,
//! value paths, sub-attributes, URN-qualified names, types (string, boolean, dateTime), case
//! rules, and the errors for bad filters. Each test asserts the exact set of matches.

use std::collections::BTreeSet;
use std::time::Duration;

use scim_tests::{ENTERPRISE, GROUP_SCHEMA, Reply, Scim, TestServer, USER_SCHEMA, enc, string_set};
use serde_json::{Value, json};

/// Six users covering the attributes filtered on. Who has what:
///
/// | userName | externalId | title           | userType   | active | emails (type: value)                          | department |
/// |----------|------------|-----------------|------------|--------|-----------------------------------------------|------------|
/// | bjensen  | BJ-001     | Tour Guide      | Employee   | true   | work: bjensen@example.com, home: babs@jensen.org | R&D     |
/// | jsmith   | js-002     | Engineer        | Contractor | false  | home: jsmith@example.com, work: john@smith.io  | -          |
/// | AJones   | AJ-003     | Senior Engineer | Employee   | true   | work: alice@example.com                       | Sales      |
/// | mlee     | -          | -               | Intern     | true   | work: min@lee.net                             | R&D        |
/// | cbrown   | bj-001     | Engineer        | -          | false  | -                                             | Marketing  |
/// | dwhite   | -          | Director        | -          | -      | other: dana@example.com                       | -          |
fn fixture_users() -> Vec<Value> {
    vec![
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "bjensen", "externalId": "BJ-001",
               "name": {"givenName": "Barbara", "familyName": "Jensen"}, "displayName": "Babs Jensen",
               "title": "Tour Guide", "userType": "Employee", "active": true,
               "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                          {"value": "babs@jensen.org", "type": "home"}],
               ENTERPRISE: {"department": "R&D", "employeeNumber": "701"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "jsmith", "externalId": "js-002",
               "name": {"givenName": "John", "familyName": "Smith"}, "title": "Engineer",
               "userType": "Contractor", "active": false,
               "emails": [{"value": "jsmith@example.com", "type": "home"},
                          {"value": "john@smith.io", "type": "work"}]}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "AJones", "externalId": "AJ-003",
               "name": {"givenName": "Alice", "familyName": "Jones"}, "title": "Senior Engineer",
               "userType": "Employee", "active": true,
               "emails": [{"value": "alice@example.com", "type": "work"}],
               ENTERPRISE: {"department": "Sales"}}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "mlee",
               "name": {"givenName": "Min", "familyName": "Lee"}, "userType": "Intern", "active": true,
               "emails": [{"value": "min@lee.net", "type": "work"}],
               ENTERPRISE: {"department": "R&D"}}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "cbrown", "externalId": "bj-001",
               "name": {"givenName": "Charlie", "familyName": "Brown"}, "title": "Engineer", "active": false,
               ENTERPRISE: {"department": "Marketing"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "dwhite", "name": {"givenName": "Dana", "familyName": "White"},
               "displayName": "Dana", "title": "Director",
               "emails": [{"value": "dana@example.com", "type": "other"}]}),
    ]
}

const ALL: [&str; 6] = ["bjensen", "jsmith", "AJones", "mlee", "cbrown", "dwhite"];

/// A server holding the fixture users, and their `meta.created` timestamps in creation order.
/// Creations are a few milliseconds apart so that every timestamp is distinct.
async fn server_with_users() -> (TestServer, Vec<String>) {
    let srv = TestServer::start().await;
    let mut created = Vec::new();
    for body in fixture_users() {
        let reply = srv.client.post("/Users", &body).await.expect(201);
        created.push(
            reply.body["meta"]["created"]
                .as_str()
                .expect("meta.created")
                .to_string(),
        );
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    (srv, created)
}

async fn filter_reply(client: &Scim, endpoint: &str, filter: &str) -> Reply {
    client
        .get(&format!("{endpoint}?filter={}", enc(filter)))
        .await
}

/// The values of `attr` in the resources of a successful filtered list.
async fn matching(client: &Scim, endpoint: &str, attr: &str, filter: &str) -> BTreeSet<String> {
    let body = filter_reply(client, endpoint, filter)
        .await
        .expect(200)
        .body;
    let resources = body["Resources"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        body["totalResults"],
        resources.len(),
        "{filter}: totalResults vs Resources"
    );
    resources
        .iter()
        .map(|r| r[attr].as_str().expect(attr).to_string())
        .collect()
}

/// Asserts that a user filter matches exactly these userNames.
async fn assert_users(srv: &TestServer, filter: &str, expected: &[&str]) {
    let found = matching(&srv.client, "/Users", "userName", filter).await;
    assert_eq!(found, string_set(expected), "filter: {filter}");
}

/// Asserts that a group filter matches exactly these displayNames.
async fn assert_groups(srv: &TestServer, filter: &str, expected: &[&str]) {
    let found = matching(&srv.client, "/Groups", "displayName", filter).await;
    assert_eq!(found, string_set(expected), "filter: {filter}");
}

fn all_but(excluded: &[&str]) -> Vec<&'static str> {
    ALL.into_iter().filter(|u| !excluded.contains(u)).collect()
}

/// Asserts a 400 invalidFilter whose detail contains `expected`.
async fn assert_invalid_filter(client: &Scim, endpoint: &str, filter: &str, expected: &str) {
    let reply = filter_reply(client, endpoint, filter)
        .await
        .expect_error(400, Some("invalidFilter"));
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(expected),
        "filter {filter:?}: detail {detail:?} lacks {expected:?}"
    );
}

// ---- attribute operators ----

#[tokio::test]
async fn eq_matches_equal_values() {
    let (srv, _) = server_with_users().await;
    assert_users(&srv, r#"userName eq "bjensen""#, &["bjensen"]).await;
    assert_users(&srv, r#"title eq "Engineer""#, &["jsmith", "cbrown"]).await;
    assert_users(&srv, r#"title eq "engineer""#, &["jsmith", "cbrown"]).await;
    assert_users(&srv, r#"userType eq "Employee""#, &["bjensen", "AJones"]).await;
    assert_users(&srv, r#"userName eq "nobody""#, &[]).await;
}

#[tokio::test]
async fn eq_on_id_finds_exactly_that_user() {
    let (srv, _) = server_with_users().await;
    let body = filter_reply(&srv.client, "/Users", r#"userName eq "mlee""#)
        .await
        .expect(200)
        .body;
    let id = body["Resources"][0]["id"].as_str().expect("id").to_string();
    assert_users(&srv, &format!("id eq \"{id}\""), &["mlee"]).await;
    assert_users(&srv, &format!("id eq \"{}\"", id.to_uppercase()), &[]).await;
}

#[tokio::test]
async fn ne_matches_other_values_and_absent_attributes() {
    let (srv, _) = server_with_users().await;
    // mlee has no title: `ne` matches it, so that `x ne v` agrees with `not (x eq v)`.
    assert_users(
        &srv,
        r#"title ne "Engineer""#,
        &["bjensen", "AJones", "mlee", "dwhite"],
    )
    .await;
    assert_users(&srv, r#"userName ne "BJENSEN""#, &all_but(&["bjensen"])).await;
}

#[tokio::test]
async fn co_sw_and_ew_match_substrings_ignoring_case() {
    let (srv, _) = server_with_users().await;
    assert_users(
        &srv,
        r#"title co "engineer""#,
        &["jsmith", "AJones", "cbrown"],
    )
    .await;
    assert_users(&srv, r#"title co "GUIDE""#, &["bjensen"]).await;
    assert_users(&srv, r#"userName sw "j""#, &["jsmith"]).await;
    assert_users(&srv, r#"userName sw "aj""#, &["AJones"]).await;
    assert_users(&srv, r#"userName ew "n""#, &["bjensen", "cbrown"]).await;
    assert_users(
        &srv,
        r#"title ew "ENGINEER""#,
        &["jsmith", "AJones", "cbrown"],
    )
    .await;
}

#[tokio::test]
async fn gt_ge_lt_and_le_order_strings_ignoring_case() {
    let (srv, _) = server_with_users().await;
    assert_users(
        &srv,
        r#"userName gt "cbrown""#,
        &["dwhite", "jsmith", "mlee"],
    )
    .await;
    assert_users(
        &srv,
        r#"userName ge "cbrown""#,
        &["cbrown", "dwhite", "jsmith", "mlee"],
    )
    .await;
    assert_users(&srv, r#"userName lt "CBROWN""#, &["AJones", "bjensen"]).await;
    assert_users(
        &srv,
        r#"userName le "CBROWN""#,
        &["AJones", "bjensen", "cbrown"],
    )
    .await;
    // Compared case-sensitively, every lowercase name would sort after "Z".
    assert_users(&srv, r#"userName gt "Z""#, &[]).await;
    assert_users(&srv, r#"userName lt "Z""#, &ALL).await;
}

#[tokio::test]
async fn pr_matches_users_with_a_non_empty_value() {
    let (srv, _) = server_with_users().await;
    assert_users(&srv, "title pr", &all_but(&["mlee"])).await;
    assert_users(
        &srv,
        "externalId pr",
        &["bjensen", "jsmith", "AJones", "cbrown"],
    )
    .await;
    assert_users(&srv, "emails pr", &all_but(&["cbrown"])).await;
    assert_users(&srv, "active pr", &all_but(&["dwhite"])).await;
    assert_users(&srv, "nickName pr", &[]).await;
}

#[tokio::test]
async fn booleans_compare_with_json_literals() {
    let (srv, _) = server_with_users().await;
    assert_users(&srv, "active eq false", &["jsmith", "cbrown"]).await;
    assert_users(&srv, "active eq true", &["bjensen", "AJones", "mlee"]).await;
    assert_users(&srv, "active ne true", &["jsmith", "cbrown", "dwhite"]).await;
}

#[tokio::test]
async fn date_times_compare_as_instants() {
    let (srv, created) = server_with_users().await;
    let third = &created[2];
    assert_users(
        &srv,
        &format!("meta.created gt \"{third}\""),
        &["mlee", "cbrown", "dwhite"],
    )
    .await;
    assert_users(
        &srv,
        &format!("meta.created ge \"{third}\""),
        &["AJones", "mlee", "cbrown", "dwhite"],
    )
    .await;
    assert_users(
        &srv,
        &format!("meta.created lt \"{third}\""),
        &["bjensen", "jsmith"],
    )
    .await;
    assert_users(
        &srv,
        &format!("meta.created le \"{third}\""),
        &["bjensen", "jsmith", "AJones"],
    )
    .await;
    // The same instant written with an explicit offset is equal.
    let offset_form = third
        .strip_suffix('Z')
        .map(|t| format!("{t}+00:00"))
        .expect("UTC timestamp");
    assert_users(
        &srv,
        &format!("meta.created eq \"{offset_form}\""),
        &["AJones"],
    )
    .await;
    assert_users(&srv, r#"meta.created gt "2000-01-01T00:00:00+01:00""#, &ALL).await;
    assert_users(&srv, r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, &[]).await;
}

// ---- logical operators and grouping ----

#[tokio::test]
async fn and_or_and_not_combine_filters() {
    let (srv, _) = server_with_users().await;
    assert_users(
        &srv,
        r#"title co "engineer" and active eq true"#,
        &["AJones"],
    )
    .await;
    assert_users(
        &srv,
        r#"userName eq "bjensen" or userName eq "mlee""#,
        &["bjensen", "mlee"],
    )
    .await;
    assert_users(
        &srv,
        r#"not (userName eq "bjensen")"#,
        &all_but(&["bjensen"]),
    )
    .await;
    assert_users(
        &srv,
        r#"not (active eq true)"#,
        &["jsmith", "cbrown", "dwhite"],
    )
    .await;
    // A key attribute combined with another condition: both must hold.
    assert_users(
        &srv,
        r#"userName eq "BJENSEN" and active eq true"#,
        &["bjensen"],
    )
    .await;
    assert_users(&srv, r#"userName eq "bjensen" and active eq false"#, &[]).await;
    assert_users(
        &srv,
        r#"active eq false and externalId eq "bj-001""#,
        &["cbrown"],
    )
    .await;
}

#[tokio::test]
async fn and_binds_tighter_than_or_and_parentheses_group() {
    let (srv, _) = server_with_users().await;
    // Employee OR (Intern AND inactive): mlee is an active intern.
    assert_users(
        &srv,
        r#"userType eq "Employee" or userType eq "Intern" and active eq false"#,
        &["bjensen", "AJones"],
    )
    .await;
    assert_users(
        &srv,
        r#"(userType eq "Employee" or userType eq "Intern") and active eq true"#,
        &["bjensen", "AJones", "mlee"],
    )
    .await;
    assert_users(
        &srv,
        r#"(userType eq "Employee" or userType eq "Contractor") and active eq false"#,
        &["jsmith"],
    )
    .await;
    assert_users(
        &srv,
        r#"not (title pr and (active eq true or userType eq "Contractor"))"#,
        &["mlee", "cbrown", "dwhite"],
    )
    .await;
}

// ---- complex, multi-valued and extension attributes ----

#[tokio::test]
async fn a_value_path_filter_applies_to_one_element_at_a_time() {
    let (srv, _) = server_with_users().await;
    let value_path = r#"emails[type eq "work" and value co "@example.com"]"#;
    assert_users(&srv, value_path, &["bjensen", "AJones"]).await;
    // jsmith has a work address and an @example.com address, but not in the same element.
    let dotted = r#"emails.type eq "work" and emails.value co "@example.com""#;
    assert_users(&srv, dotted, &["bjensen", "jsmith", "AJones"]).await;
    assert_users(&srv, r#"emails[type eq "home"]"#, &["bjensen", "jsmith"]).await;
    assert_users(
        &srv,
        r#"emails[not (type eq "work")] and active eq true"#,
        &["bjensen"],
    )
    .await;
}

#[tokio::test]
async fn a_multi_valued_attribute_matches_if_any_value_matches() {
    let (srv, _) = server_with_users().await;
    // Without a sub-attribute, a complex attribute compares through its `value`.
    assert_users(
        &srv,
        r#"emails co "example.com""#,
        &["bjensen", "jsmith", "AJones", "dwhite"],
    )
    .await;
    assert_users(&srv, r#"emails.value ew ".org""#, &["bjensen"]).await;
    assert_users(&srv, r#"emails.primary eq true"#, &["bjensen"]).await;
}

#[tokio::test]
async fn sub_attributes_are_addressed_with_a_dot() {
    let (srv, _) = server_with_users().await;
    assert_users(&srv, r#"name.familyName eq "jensen""#, &["bjensen"]).await;
    assert_users(&srv, r#"name.givenName sw "M""#, &["mlee"]).await;
    assert_users(
        &srv,
        r#"name.familyName ew "n" or name.familyName eq "Lee""#,
        &["bjensen", "cbrown", "mlee"],
    )
    .await;
}

#[tokio::test]
async fn extension_attributes_are_filtered_by_urn_qualified_or_plain_name() {
    let (srv, _) = server_with_users().await;
    assert_users(
        &srv,
        &format!("{ENTERPRISE}:department eq \"R&D\""),
        &["bjensen", "mlee"],
    )
    .await;
    assert_users(&srv, "department eq \"r&d\"", &["bjensen", "mlee"]).await;
    assert_users(
        &srv,
        &format!("{ENTERPRISE}:department pr"),
        &["bjensen", "AJones", "mlee", "cbrown"],
    )
    .await;
    assert_users(
        &srv,
        &format!("not ({ENTERPRISE}:department pr)"),
        &["jsmith", "dwhite"],
    )
    .await;
    assert_users(
        &srv,
        &format!("{ENTERPRISE}:employeeNumber eq \"701\""),
        &["bjensen"],
    )
    .await;
    // RFC 7644 §3.4.2.2: the users that carry the extension.
    assert_users(
        &srv,
        &format!("schemas eq \"{ENTERPRISE}\""),
        &["bjensen", "AJones", "mlee", "cbrown"],
    )
    .await;
    assert_users(
        &srv,
        &format!("{USER_SCHEMA}:userName eq \"ajones\""),
        &["AJones"],
    )
    .await;
}

// ---- case rules ----

#[tokio::test]
async fn user_name_comparisons_ignore_case_but_external_id_comparisons_do_not() {
    let (srv, _) = server_with_users().await;
    assert_users(&srv, r#"userName eq "ajones""#, &["AJones"]).await;
    assert_users(&srv, r#"userName eq "BJENSEN""#, &["bjensen"]).await;
    assert_users(&srv, r#"externalId eq "BJ-001""#, &["bjensen"]).await;
    assert_users(&srv, r#"externalId eq "bj-001""#, &["cbrown"]).await;
    assert_users(&srv, r#"externalId eq "Bj-001""#, &[]).await;
    assert_users(&srv, r#"externalId sw "bj""#, &["cbrown"]).await;
    assert_users(&srv, r#"externalId co "J-00""#, &["bjensen", "AJones"]).await;
}

#[tokio::test]
async fn attribute_names_operators_and_keywords_are_case_insensitive() {
    let (srv, _) = server_with_users().await;
    assert_users(&srv, r#"USERNAME eq "bjensen""#, &["bjensen"]).await;
    assert_users(
        &srv,
        r#"userName EQ "bjensen" OR Title Co "director""#,
        &["bjensen", "dwhite"],
    )
    .await;
    assert_users(&srv, r#"Name.FamilyName eq "Jensen""#, &["bjensen"]).await;
    assert_users(
        &srv,
        r#"EMAILS[TYPE eq "work" AND VALUE co "lee"]"#,
        &["mlee"],
    )
    .await;
    assert_users(&srv, "NOT (ACTIVE pr)", &["dwhite"]).await;
    let upper_urn = format!("{}:DEPARTMENT eq \"R&D\"", ENTERPRISE.to_uppercase());
    assert_users(&srv, &upper_urn, &["bjensen", "mlee"]).await;
}

// ---- errors ----

#[tokio::test]
async fn malformed_filters_are_400_invalid_filter_naming_the_position() {
    let srv = TestServer::start().await;
    srv.client.create_user("a").await;
    assert_invalid_filter(&srv.client, "/Users", "userName eq", "position 12").await;
    assert_invalid_filter(&srv.client, "/Users", r#"userName zz "x""#, "position 10").await;
    assert_invalid_filter(&srv.client, "/Users", r#"(userName eq "a""#, "position 17").await;
    assert_invalid_filter(
        &srv.client,
        "/Users",
        r#"emails[type eq "work""#,
        "position 22",
    )
    .await;
    assert_invalid_filter(
        &srv.client,
        "/Users",
        r#"userName eq "a" xx"#,
        "position 17",
    )
    .await;
    assert_invalid_filter(&srv.client, "/Groups", "displayName eq", "position 15").await;
}

#[tokio::test]
async fn filters_on_unknown_attributes_are_400_invalid_filter_naming_the_attribute() {
    let srv = TestServer::start().await;
    srv.client.create_user("a").await;
    assert_invalid_filter(&srv.client, "/Users", "shoeSize eq 1", "shoeSize").await;
    assert_invalid_filter(
        &srv.client,
        "/Users",
        r#"userName eq "a" and shoeSize eq 1"#,
        "shoeSize",
    )
    .await;
    assert_invalid_filter(&srv.client, "/Users", r#"emails[size eq 1]"#, "size").await;
    assert_invalid_filter(
        &srv.client,
        "/Users",
        r#"name.middle eq "x""#,
        "name.middle",
    )
    .await;
    assert_invalid_filter(&srv.client, "/Groups", r#"userName eq "a""#, "userName").await;
}

// ---- groups ----

#[tokio::test]
async fn groups_are_filtered_by_display_name() {
    let srv = TestServer::start().await;
    for name in [
        "Engineering",
        "Engineering Managers",
        "Sales",
        "Reengineering",
    ] {
        srv.client.create_group(name).await;
    }
    assert_groups(&srv, r#"displayName eq "Sales""#, &["Sales"]).await;
    assert_groups(&srv, r#"displayName eq "engineering""#, &["Engineering"]).await;
    assert_groups(&srv, r#"displayName eq "x""#, &[]).await;
    assert_groups(
        &srv,
        r#"displayName sw "Eng""#,
        &["Engineering", "Engineering Managers"],
    )
    .await;
    assert_groups(
        &srv,
        r#"displayName co "engineering""#,
        &["Engineering", "Engineering Managers", "Reengineering"],
    )
    .await;
}

// ---- known bugs ----

#[tokio::test]

async fn filters_on_meta_resource_type_location_and_version_match_the_served_values() {
    let (srv, _) = server_with_users().await;
    srv.client.create_group("Guides").await;
    assert_users(&srv, r#"meta.resourceType eq "User""#, &ALL).await;
    assert_users(&srv, "meta.location pr", &ALL).await;
    assert_users(&srv, "meta.version pr", &ALL).await;
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "meta.resourceType eq \"Group\""});
    let found = srv.client.post("/.search", &search).await.expect(200).body;
    assert_eq!(found["totalResults"], 1, "{found}");
}

#[tokio::test]

async fn users_and_groups_can_be_filtered_by_membership() {
    let (srv, _) = server_with_users().await;
    let found = filter_reply(&srv.client, "/Users", r#"userName eq "mlee""#)
        .await
        .expect(200)
        .body;
    let member = found["Resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Interns", "members": [{"value": member}]});
    let group = srv.client.post("/Groups", &body).await.expect(201).id();
    srv.client.create_group("Empty").await;
    assert_users(&srv, &format!("groups.value eq \"{group}\""), &["mlee"]).await;
    assert_users(&srv, &format!("groups[value eq \"{group}\"]"), &["mlee"]).await;
    assert_groups(
        &srv,
        &format!("members.value eq \"{member}\""),
        &["Interns"],
    )
    .await;
    assert_groups(
        &srv,
        &format!("members[value eq \"{member}\"]"),
        &["Interns"],
    )
    .await;
    assert_groups(
        &srv,
        &format!("displayName eq \"Interns\" and members[value eq \"{member}\"]"),
        &["Interns"],
    )
    .await;
}
