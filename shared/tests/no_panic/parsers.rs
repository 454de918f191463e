//! Every parser entry point, on its own: attribute paths, filters (parsed, validated, evaluated),
//! PATCH paths and bodies (parsed and applied), resource bodies, attribute projections, the dialect
//! normaliser, the router, cursors and bearer headers.

use proptest::prelude::*;
use proptest::sample::select;
use scim_shared::ops::cursor::{self, Scope};
use scim_shared::protocol::dialect;
use scim_shared::protocol::filter;
use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::protocol::patch;
use scim_shared::protocol::resource::{Projection, canonicalize};
use scim_shared::protocol::router::{self, Operation};
use scim_shared::protocol::schema::{
    AttrPath, ENTERPRISE_USER_SCHEMA, REGISTRY, ResourceKind, USER_SCHEMA,
};
use scim_shared::tenant;
use serde_json::{Value, json};

use crate::inputs::{
    Ids, a_char, attr_path, attribute_list, filter_like, json_value, method, mutated, patch_body,
    path_like, resource_body, search_body, unicode,
};
use crate::{check, is_client_error};

/// Cases per parser property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 5000;

/// A stored user with every kind of attribute the filters and PATCH paths reach.
fn user() -> Value {
    canonicalize(
        &REGISTRY.user,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "externalId": "bj",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@example.org", "type": "home"}
            ],
            "roles": [{"value": "admin"}],
            "addresses": [{"type": "work", "locality": "Hollywood"}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m1"}}
        }),
    )
    .expect("a valid user")
}

/// A stored group.
fn group() -> Value {
    canonicalize(
        &REGISTRY.group,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Tour Guides",
        }),
    )
    .expect("a valid group")
}

#[test]
fn attribute_paths_parse_or_are_refused_and_round_trip() {
    let input = prop_oneof![path_like(), mutated(attr_path()), unicode()];
    check("attribute paths", CASES, input, |text| {
        if let Some(path) = AttrPath::parse(&text) {
            prop_assert_eq!(AttrPath::parse(&path.to_string()), Some(path));
        }
        Ok(())
    });
}

#[test]
fn well_formed_filters_parse() {
    check(
        "well-formed filters",
        CASES,
        crate::inputs::filter(),
        |text| {
            prop_assert!(filter::parse(&text).is_ok(), "refused: {text}");
            Ok(())
        },
    );
}

#[test]
fn filters_parse_validate_and_match_or_answer_invalid_filter() {
    let (user, group) = (user(), group());
    check("filters", CASES, filter_like(), |text| {
        match filter::parse(&text) {
            Ok(f) => {
                for (rt, doc) in [(&REGISTRY.user, &user), (&REGISTRY.group, &group)] {
                    if let Err(e) = f.validate(rt) {
                        prop_assert!(is_client_error(&e), "{e:?}");
                    }
                    f.matches(rt, doc);
                }
            }
            Err(e) => prop_assert_eq!(e.scim_type(), Some("invalidFilter")),
        }
        Ok(())
    });
}

#[test]
fn patch_paths_parse_or_answer_invalid_path() {
    check("PATCH paths", CASES, path_like(), |text| {
        if let Err(e) = filter::parse_patch_path(&text) {
            prop_assert_eq!(e.scim_type(), Some("invalidPath"));
        }
        Ok(())
    });
}

#[test]
fn patch_requests_apply_or_answer_a_client_error() {
    let docs = [(&REGISTRY.user, user()), (&REGISTRY.group, group())];
    check(
        "PATCH requests",
        CASES,
        patch_body(&Ids::made_up()),
        |body| {
            match patch::parse_request(&body) {
                Ok(ops) => {
                    for (rt, doc) in &docs {
                        let mut doc = doc.clone();
                        if let Err(e) = patch::apply(rt, &mut doc, &ops) {
                            prop_assert!(is_client_error(&e), "{e:?}");
                        }
                    }
                }
                Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
            }
            Ok(())
        },
    );
}

#[test]
fn resource_bodies_canonicalize_or_answer_a_client_error() {
    check(
        "resource bodies",
        CASES,
        resource_body(&Ids::made_up()),
        |body| {
            for rt in REGISTRY.resource_types() {
                if let Err(e) = canonicalize(rt, body.clone()) {
                    prop_assert!(is_client_error(&e), "{e:?}");
                }
            }
            Ok(())
        },
    );
}

#[test]
fn any_attribute_lists_project_any_resource() {
    let docs = [(&REGISTRY.user, user()), (&REGISTRY.group, group())];
    let input = (
        proptest::option::of(attribute_list()),
        proptest::option::of(attribute_list()),
    );
    check(
        "attributes and excludedAttributes",
        CASES,
        input,
        |(attributes, excluded)| {
            let projection = Projection::new(attributes.as_deref(), excluded.as_deref());
            for (rt, doc) in &docs {
                let mut doc = doc.clone();
                projection.apply(rt, &mut doc);
                prop_assert!(doc.get("schemas").is_some());
            }
            Ok(())
        },
    );
}

/// The routed operations whose requests the dialect normaliser reads.
fn operation() -> impl Strategy<Value = Operation> {
    use ResourceKind::{Group, User};
    select(vec![
        Operation::Create(User),
        Operation::Create(Group),
        Operation::Replace(User),
        Operation::Patch(User),
        Operation::Patch(Group),
        Operation::List(User),
        Operation::List(Group),
        Operation::Search(None),
        Operation::Search(Some(User)),
    ])
}

#[test]
fn the_dialect_normaliser_rewrites_any_request_into_one_the_core_parses_or_refuses() {
    let ids = Ids::made_up();
    let body = prop_oneof![
        patch_body(&ids),
        resource_body(&ids),
        search_body("MTc2.AAAA".into()),
        json_value()
    ];
    let input = (
        operation(),
        proptest::option::of(unicode()),
        proptest::option::of(filter_like()),
        body,
    );
    check(
        "dialect normaliser",
        CASES,
        input,
        |(op, id, filter, body)| {
            let mut req = ScimRequest::new(Method::Get, "/Users", "https://example.com/scim/v2");
            req.query = filter.into_iter().map(|f| ("filter".into(), f)).collect();
            req.body = body.to_string().into_bytes();
            dialect::normalise(op, id.as_deref(), &mut req);
            if let Some(f) = req.param("filter")
                && let Err(e) = filter::parse(f)
            {
                prop_assert!(is_client_error(&e), "{e:?}");
            }
            Ok(())
        },
    );
}

#[test]
fn any_path_routes_or_answers_404_or_405() {
    let path = prop_oneof![
        mutated(
            select(vec![
                "/Users",
                "/Users/1",
                "/Groups/.search",
                "/.search",
                "/Schemas/x",
                "/Bulk"
            ])
            .prop_map(String::from)
        ),
        unicode(),
    ];
    check("routes", CASES, (method(), path), |(method, path)| {
        if let Err(e) = router::route_request(method, &path) {
            prop_assert!(matches!(e.status(), 404 | 405), "{e:?}");
        }
        Ok(())
    });
}

#[test]
fn foreign_cursors_answer_invalid_cursor() {
    let scope = Scope {
        tenant: "acme",
        resource_type: "User",
        query: "",
    };
    let genuine = cursor::encode(b"key", scope, "0197", i64::MAX);
    let input = prop_oneof![mutated(Just(genuine)), unicode()];
    check("cursors", CASES, input, |text| {
        if let Err(e) = cursor::decode(b"key", scope, &text, 0) {
            prop_assert_eq!(e.scim_type(), Some("invalidCursor"));
        }
        Ok(())
    });
}

#[test]
fn any_authorization_header_is_read_without_panic() {
    let input = prop_oneof![
        mutated(Just("Bearer scim_0123456789abcdef".to_string())),
        unicode(),
        proptest::collection::vec(a_char(), 0..300).prop_map(String::from_iter),
    ];
    check("authorization headers", CASES, input, |header| {
        if let Some(token) = tenant::bearer(&header) {
            prop_assert!(header.contains(token));
        }
        Ok(())
    });
}
