//! The one routing table: (method, path) -> operation. The local server, the Lambda functions and
//! template.yaml all follow it.

use crate::protocol::error::ScimError;
use crate::protocol::http::Method;
use crate::protocol::schema::ResourceKind;

/// Every operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create(ResourceKind),
    Get(ResourceKind),
    List(ResourceKind),
    Replace(ResourceKind),
    Patch(ResourceKind),
    Delete(ResourceKind),
    /// `POST /.search` on a resource endpoint, or on the root when `None`.
    Search(Option<ResourceKind>),
    ServiceProviderConfig,
    ListSchemas,
    GetSchema,
    ListResourceTypes,
    GetResourceType,
    /// `POST /Bulk`: resource operations in one request (RFC 7644 §3.7).
    Bulk,
}

impl Operation {
    /// A stable name for logs and the audit trail.
    pub fn name(self) -> &'static str {
        use Operation::*;
        use ResourceKind::{Group, User};
        match self {
            Create(User) => "CreateUser",
            Get(User) => "GetUser",
            List(User) => "ListUsers",
            Replace(User) => "ReplaceUser",
            Patch(User) => "PatchUser",
            Delete(User) => "DeleteUser",
            Create(Group) => "CreateGroup",
            Get(Group) => "GetGroup",
            List(Group) => "ListGroups",
            Replace(Group) => "ReplaceGroup",
            Patch(Group) => "PatchGroup",
            Delete(Group) => "DeleteGroup",
            Search(Some(User)) => "SearchUsers",
            Search(Some(Group)) => "SearchGroups",
            Search(None) => "Search",
            ServiceProviderConfig => "GetServiceProviderConfig",
            ListSchemas => "ListSchemas",
            GetSchema => "GetSchema",
            ListResourceTypes => "ListResourceTypes",
            GetResourceType => "GetResourceType",
            Bulk => "Bulk",
        }
    }
}

/// One route: a method and a path template where `{id}` matches one path segment.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub operation: Operation,
}

const fn route(method: Method, path: &'static str, operation: Operation) -> Route {
    Route {
        method,
        path,
        operation,
    }
}

use Method::{Delete, Get, Patch, Post, Put};
use ResourceKind::{Group, User};

/// The routing table, relative to the base URL (`/scim/v2`).
pub const ROUTES: &[Route] = &[
    route(Post, "/Users", Operation::Create(User)),
    route(Get, "/Users", Operation::List(User)),
    route(Post, "/Users/.search", Operation::Search(Some(User))),
    route(Get, "/Users/{id}", Operation::Get(User)),
    route(Put, "/Users/{id}", Operation::Replace(User)),
    route(Patch, "/Users/{id}", Operation::Patch(User)),
    route(Delete, "/Users/{id}", Operation::Delete(User)),
    route(Post, "/Groups", Operation::Create(Group)),
    route(Get, "/Groups", Operation::List(Group)),
    route(Post, "/Groups/.search", Operation::Search(Some(Group))),
    route(Get, "/Groups/{id}", Operation::Get(Group)),
    route(Put, "/Groups/{id}", Operation::Replace(Group)),
    route(Patch, "/Groups/{id}", Operation::Patch(Group)),
    route(Delete, "/Groups/{id}", Operation::Delete(Group)),
    route(Post, "/.search", Operation::Search(None)),
    route(
        Get,
        "/ServiceProviderConfig",
        Operation::ServiceProviderConfig,
    ),
    route(Get, "/Schemas", Operation::ListSchemas),
    route(Get, "/Schemas/{id}", Operation::GetSchema),
    route(Get, "/ResourceTypes", Operation::ListResourceTypes),
    route(Get, "/ResourceTypes/{id}", Operation::GetResourceType),
    route(Post, "/Bulk", Operation::Bulk),
];

/// A matched route: the operation and the `{id}` segment, if the template has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub operation: Operation,
    pub id: Option<String>,
}

/// Finds the operation for a request. A known path with another method is 405; anything else 404.
pub fn route_request(method: Method, path: &str) -> Result<Matched, ScimError> {
    let path = path.trim_end_matches('/');
    let mut path_known = false;
    for r in ROUTES {
        if let Some(id) = match_template(r.path, path) {
            if r.method == method {
                return Ok(Matched {
                    operation: r.operation,
                    id,
                });
            }
            path_known = true;
        }
    }
    if path_known {
        Err(ScimError::MethodNotAllowed(format!(
            "{} is not supported on {path}",
            method.as_str()
        )))
    } else {
        Err(ScimError::NotFound(format!("no such endpoint: {path}")))
    }
}

/// Matches a template; `Some(None)` for a template without `{id}`, `Some(Some(id))` with one.
fn match_template(template: &str, path: &str) -> Option<Option<String>> {
    let mut id = None;
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(id),
            (Some("{id}"), Some(seg)) if !seg.is_empty() && seg != ".search" => {
                id = Some(seg.to_string());
            }
            // Endpoint names are matched case-insensitively: some clients vary them.
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_with_ids() {
        let m = route_request(Get, "/Users/abc").expect("route");
        assert_eq!(m.operation, Operation::Get(User));
        assert_eq!(m.id.as_deref(), Some("abc"));
        let m = route_request(Post, "/Groups/.search").expect("route");
        assert_eq!(m.operation, Operation::Search(Some(Group)));
        let m = route_request(Get, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
            .expect("route");
        assert_eq!(m.operation, Operation::GetSchema);
    }

    #[test]
    fn unknown_method_is_405_and_unknown_path_404() {
        assert_eq!(
            route_request(Post, "/ServiceProviderConfig")
                .unwrap_err()
                .status(),
            405
        );
        assert_eq!(route_request(Get, "/Nope").unwrap_err().status(), 404);
        assert_eq!(route_request(Delete, "/Users").unwrap_err().status(), 405);
    }

    #[test]
    fn every_operation_has_exactly_one_route() {
        use ResourceKind::{Group, User};
        let mut every = Vec::new();
        for kind in [User, Group] {
            every.extend([
                Operation::Create(kind),
                Operation::Get(kind),
                Operation::List(kind),
                Operation::Replace(kind),
                Operation::Patch(kind),
                Operation::Delete(kind),
                Operation::Search(Some(kind)),
            ]);
        }
        every.extend([
            Operation::Search(None),
            Operation::ServiceProviderConfig,
            Operation::ListSchemas,
            Operation::GetSchema,
            Operation::ListResourceTypes,
            Operation::GetResourceType,
            Operation::Bulk,
        ]);
        // No wildcard: an operation added to the enum must be added to the list above.
        for op in &every {
            match op {
                Operation::Create(_)
                | Operation::Get(_)
                | Operation::List(_)
                | Operation::Replace(_)
                | Operation::Patch(_)
                | Operation::Delete(_)
                | Operation::Search(_)
                | Operation::ServiceProviderConfig
                | Operation::ListSchemas
                | Operation::GetSchema
                | Operation::ListResourceTypes
                | Operation::GetResourceType
                | Operation::Bulk => {}
            }
        }
        for op in &every {
            let routes = ROUTES.iter().filter(|r| r.operation == *op).count();
            assert_eq!(routes, 1, "{} has {routes} routes", op.name());
        }
        assert_eq!(ROUTES.len(), every.len(), "a route of no listed operation");
    }
}
