//! The functions of the deployment: one Lambda binary per SCIM operation (search and discovery
//! group the routes of one concern), and which operations each serves. template.yaml routes the
//! same operations to the same binaries; `tests/it/template.rs` holds the two to each other and to
//! the router's table.

use scim_shared::protocol::router::Operation;
use scim_shared::protocol::schema::ResourceKind::{Group, User};

/// One Lambda function serving SCIM requests.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    /// The Cargo binary (`functions/src/bin/<binary>.rs`), as named in template.yaml's
    /// `BuildProperties: Binary:`.
    pub binary: &'static str,
    /// The operations routed to it; any other request it receives is refused.
    pub operations: &'static [Operation],
}

impl Function {
    pub fn serves(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }

    /// The function of a binary name.
    pub fn by_binary(binary: &str) -> Option<&'static Function> {
        FUNCTIONS.iter().copied().find(|f| f.binary == binary)
    }
}

macro_rules! functions {
    ($($(#[$doc:meta])* $name:ident = $binary:literal: [$($op:expr),+ $(,)?];)+) => {
        $($(#[$doc])* pub const $name: Function = Function {
            binary: $binary,
            operations: &[$($op),+],
        };)+
        /// Every function serving SCIM requests (the authorizer is [`AUTHORIZER_BINARY`]).
        pub const FUNCTIONS: &[&Function] = &[$(&$name),+];
    };
}

functions! {
    /// `POST /Users`
    CREATE_USER = "create_user": [Operation::Create(User)];
    /// `GET /Users/{id}`
    GET_USER = "get_user": [Operation::Get(User)];
    /// `GET /Users`
    LIST_USERS = "list_users": [Operation::List(User)];
    /// `PUT /Users/{id}`
    REPLACE_USER = "replace_user": [Operation::Replace(User)];
    /// `PATCH /Users/{id}`
    PATCH_USER = "patch_user": [Operation::Patch(User)];
    /// `DELETE /Users/{id}`
    DELETE_USER = "delete_user": [Operation::Delete(User)];
    /// `POST /Groups`
    CREATE_GROUP = "create_group": [Operation::Create(Group)];
    /// `GET /Groups/{id}`
    GET_GROUP = "get_group": [Operation::Get(Group)];
    /// `GET /Groups`
    LIST_GROUPS = "list_groups": [Operation::List(Group)];
    /// `PUT /Groups/{id}`
    REPLACE_GROUP = "replace_group": [Operation::Replace(Group)];
    /// `PATCH /Groups/{id}`
    PATCH_GROUP = "patch_group": [Operation::Patch(Group)];
    /// `DELETE /Groups/{id}`
    DELETE_GROUP = "delete_group": [Operation::Delete(Group)];
    /// `POST /.search` on `/Users`, `/Groups` and the root
    SEARCH = "search": [
        Operation::Search(Some(User)),
        Operation::Search(Some(Group)),
        Operation::Search(None),
    ];
    /// `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`: no store access
    DISCOVERY = "discovery": [
        Operation::ServiceProviderConfig,
        Operation::ListSchemas,
        Operation::GetSchema,
        Operation::ListResourceTypes,
        Operation::GetResourceType,
    ];
    /// `POST /Bulk`: creates, replaces, patches and deletes users and groups in one request
    BULK = "bulk": [Operation::Bulk];
}

/// The binary of the API Gateway REQUEST authorizer.
pub const AUTHORIZER_BINARY: &str = "authorizer";
/// The binary of the events function (the table's stream -> EventBridge).
pub const EVENTS_BINARY: &str = "events";
/// The binaries of the management API (`/admin/v1/...`, IAM-authorised), one per concern (see
/// [`crate::manage::binary`]).
pub const MANAGEMENT_BINARIES: [&str; 4] = [
    "manage_tenants",
    "manage_directory",
    "manage_activity",
    "manage_republish",
];
/// The binary of the OAuth 2.0 token endpoint (`POST /oauth/token`, no Lambda authorizer).
pub const OAUTH_TOKEN_BINARY: &str = "oauth_token";
/// The binary of Emergency Logout (`POST /admin/...`, IAM-authorised).
pub const EMERGENCY_LOGOUT_BINARY: &str = "emergency_logout";
