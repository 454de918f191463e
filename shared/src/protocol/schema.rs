//! The schema registry: core User and Group (RFC 7643 §4), the EnterpriseUser extension (§4.3),
//! and the resource types that combine them. Attribute characteristics declared here drive
//! validation, projection, filtering and PATCH; `/Schemas` and `/ResourceTypes` are serialized
//! from the same values.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// SCIM attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition with its characteristics (RFC 7643 §7).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub canonical_values: &'static [&'static str],
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub reference_types: &'static [&'static str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            description,
            required: false,
            canonical_values: &[],
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            reference_types: &[],
            sub_attributes: Vec::new(),
        }
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    fn subs(mut self, subs: Vec<Attribute>) -> Self {
        self.sub_attributes = subs;
        self
    }
    /// Applies `f` to this attribute and all of its sub-attributes.
    fn all(mut self, f: fn(Self) -> Self) -> Self {
        self.sub_attributes = self.sub_attributes.into_iter().map(f).collect();
        f(self)
    }

    /// The sub-attribute with this name (case-insensitive).
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether a JSON value (a single value, not an array) has this attribute's type.
    pub fn accepts_single(&self, value: &Value) -> bool {
        match self.ty {
            AttrType::String | AttrType::Reference | AttrType::Binary => value.is_string(),
            AttrType::Boolean => value.is_boolean(),
            AttrType::Decimal => value.is_number(),
            AttrType::Integer => value.is_i64() || value.is_u64(),
            AttrType::DateTime => value
                .as_str()
                .is_some_and(|s| crate::protocol::clock::parse_datetime(s).is_some()),
            AttrType::Complex => value.is_object(),
        }
    }
}

fn s(name: &'static str, description: &'static str) -> Attribute {
    Attribute::new(name, AttrType::String, description)
}
fn b(name: &'static str, description: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Boolean, description)
}
fn r(name: &'static str, description: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Reference, description)
}
fn complex(name: &'static str, description: &'static str, subs: Vec<Attribute>) -> Attribute {
    Attribute::new(name, AttrType::Complex, description).subs(subs)
}

/// A multi-valued complex attribute of the usual shape: value, display, type, primary.
fn plural(
    name: &'static str,
    description: &'static str,
    value: Attribute,
    types: &'static [&'static str],
) -> Attribute {
    complex(
        name,
        description,
        vec![
            value,
            s(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            s("type", "A label indicating the attribute's function.").canonical(types),
            b("primary", "Whether this is the primary or preferred value."),
        ],
    )
    .multi()
}

fn read_only(a: Attribute) -> Attribute {
    a.mutability(Mutability::ReadOnly)
}
fn immutable(a: Attribute) -> Attribute {
    a.mutability(Mutability::Immutable)
}

/// A schema: an id (URN) and its attributes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// The top-level attribute with this name (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The Schema resource served by `/Schemas/{id}`, with `common` attributes declared after
    /// the schema's own (see [`Registry::schema_resource`]).
    fn to_resource(&self, common: &[&Attribute], base_url: &str) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(attributes) = v["attributes"].as_array_mut() {
            attributes.extend(
                common
                    .iter()
                    .map(|a| serde_json::to_value(a).unwrap_or_default()),
            );
        }
        v["schemas"] = json!([SCHEMA_SCHEMA]);
        v["meta"] = json!({
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{}", self.id),
        });
        v
    }
}

/// The two resource types this service manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

/// A schema extension of a resource type.
#[derive(Debug)]
pub struct Extension {
    pub schema: &'static Schema,
    pub required: bool,
}

/// A resource type: endpoint, core schema and extensions (RFC 7643 §6).
#[derive(Debug)]
pub struct ResourceType {
    pub kind: ResourceKind,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static Schema,
    pub extensions: Vec<Extension>,
    /// Attributes common to every resource (id, externalId, meta; RFC 7643 §3.1).
    pub common: &'static [Attribute],
}

impl ResourceType {
    pub fn of(kind: ResourceKind) -> &'static ResourceType {
        match kind {
            ResourceKind::User => &REGISTRY.user,
            ResourceKind::Group => &REGISTRY.group,
        }
    }

    /// The ResourceType resource served by `/ResourceTypes/{name}`.
    pub fn to_resource(&self, base_url: &str) -> Value {
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": self.extensions.iter().map(|e| json!({
                "schema": e.schema.id, "required": e.required,
            })).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name),
            },
        })
    }

    /// The extension with this URN (case-insensitive).
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .find(|e| e.schema.id.eq_ignore_ascii_case(urn))
            .map(|e| e.schema)
    }

    /// All schema URNs this resource type understands, core first.
    pub fn schema_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.schema.id).chain(self.extensions.iter().map(|e| e.schema.id))
    }

    /// A top-level attribute of the core schema or a common attribute (id, externalId, meta).
    pub fn core_attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.schema.attribute(name).or_else(|| {
            self.common
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
        })
    }

    /// Resolves an attribute path to its definition. Unqualified names are looked up in the core
    /// schema first, then in the extensions.
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved> {
        let (extension, attr) = match &path.schema {
            Some(urn) if urn.eq_ignore_ascii_case(self.schema.id) => {
                (None, self.core_attribute(&path.name)?)
            }
            Some(urn) => {
                let ext = self.extension(urn)?;
                (Some(ext.id), ext.attribute(&path.name)?)
            }
            None => match self.core_attribute(&path.name) {
                Some(a) => (None, a),
                None => self.extensions.iter().find_map(|e| {
                    e.schema
                        .attribute(&path.name)
                        .map(|a| (Some(e.schema.id), a))
                })?,
            },
        };
        let sub = match &path.sub {
            Some(name) => Some(attr.sub_attribute(name)?),
            None => None,
        };
        Some(Resolved {
            extension,
            attr,
            sub,
        })
    }
}

/// An attribute path as written in filters and PATCH paths:
/// `[schema-urn ":"] attrName ["." subAttr]` (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN when the path is qualified.
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses an attribute path. A URN prefix must be one of the registered schemas, because
    /// schema URNs themselves contain dots and colons ("...:enterprise:2.0:User:manager.value").
    pub fn parse(text: &str) -> Option<AttrPath> {
        let (schema, rest) = match strip_prefix_ignore_case(text, "urn:") {
            Some(_) => {
                let (urn, rest) = REGISTRY.schemas().find_map(|id| {
                    let rest = strip_prefix_ignore_case(text, id)?.strip_prefix(':')?;
                    Some((id, rest))
                })?;
                (Some(urn.to_string()), rest)
            }
            None => (None, text),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            let mut chars = s.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return None;
        }
        Some(AttrPath {
            schema,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    pub fn simple(name: &str) -> AttrPath {
        AttrPath {
            schema: None,
            name: name.to_string(),
            sub: None,
        }
    }
}

/// What follows `prefix` in `text`, the prefix matched ASCII case-insensitively; `None` when
/// `text` does not start with it. Never slices inside a character, whatever `text` holds.
pub fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, rest) = text.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The definition an attribute path points at.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The extension URN whose object holds the attribute; `None` for core and common attributes.
    pub extension: Option<&'static str>,
    pub attr: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl Resolved {
    /// The innermost attribute: the sub-attribute if one was named.
    pub fn target(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }
}

/// The common attributes (RFC 7643 §3.1) a core schema resource declares.
const DISCOVERED_COMMON: &[&str] = &["externalId"];

/// All schemas and resource types.
#[derive(Debug)]
pub struct Registry {
    pub user: ResourceType,
    pub group: ResourceType,
}

impl Registry {
    pub fn schemas(&self) -> impl Iterator<Item = &'static str> {
        [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA].into_iter()
    }
    pub fn schema(&self, id: &str) -> Option<&'static Schema> {
        [&*USER, &*GROUP, &*ENTERPRISE_USER]
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
    }
    pub fn all_schemas(&self) -> [&'static Schema; 3] {
        [&*USER, &*GROUP, &*ENTERPRISE_USER]
    }

    /// The Schema resource of `schema` as `/Schemas` serves it. A resource type's core schema
    /// also declares the common attribute `externalId`: RFC 7643 §3.1 defines it for every
    /// resource outside any schema, but clients that discover what they may map from `/Schemas`
    /// alone (Microsoft's gallery validation among them) look for it there. `id` and `meta` stay
    /// undeclared: no client maps them.
    pub fn schema_resource(&self, schema: &Schema, base_url: &str) -> Value {
        let common: Vec<&Attribute> = self
            .resource_types()
            .into_iter()
            .filter(|rt| rt.schema.id == schema.id)
            .flat_map(|rt| rt.common.iter())
            .filter(|a| DISCOVERED_COMMON.contains(&a.name))
            .collect();
        schema.to_resource(&common, base_url)
    }
    pub fn resource_types(&self) -> [&ResourceType; 2] {
        [&self.user, &self.group]
    }
}

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    user: ResourceType {
        kind: ResourceKind::User,
        name: "User",
        endpoint: "/Users",
        description: "User Account",
        schema: &USER,
        extensions: vec![Extension {
            schema: &ENTERPRISE_USER,
            required: false,
        }],
        common: &COMMON,
    },
    group: ResourceType {
        kind: ResourceKind::Group,
        name: "Group",
        endpoint: "/Groups",
        description: "Group",
        schema: &GROUP,
        extensions: vec![],
        common: &COMMON,
    },
});

static COMMON: LazyLock<Vec<Attribute>> = LazyLock::new(|| {
    vec![
        s(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique(),
        s(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        complex(
            "meta",
            "Resource metadata.",
            vec![
                s(
                    "resourceType",
                    "The name of the resource type of the resource.",
                )
                .case_exact(),
                Attribute::new(
                    "created",
                    AttrType::DateTime,
                    "When the resource was added.",
                ),
                Attribute::new(
                    "lastModified",
                    AttrType::DateTime,
                    "When the resource was last updated.",
                ),
                r("location", "The URI of the resource.")
                    .case_exact()
                    .refs(&["uri"]),
                s("version", "The version (ETag) of the resource.").case_exact(),
            ],
        )
        .all(read_only),
    ]
});

pub static USER: LazyLock<Schema> = LazyLock::new(|| Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: vec![
        s(
            "userName",
            "Unique identifier for the User, used to authenticate.",
        )
        .required()
        .unique(),
        complex(
            "name",
            "The components of the user's real name.",
            vec![
                s("formatted", "The full name, formatted for display."),
                s("familyName", "The family name of the User."),
                s("givenName", "The given name of the User."),
                s("middleName", "The middle name(s) of the User."),
                s("honorificPrefix", "The honorific prefix(es) of the User."),
                s("honorificSuffix", "The honorific suffix(es) of the User."),
            ],
        ),
        s(
            "displayName",
            "The name of the User, suitable for display to end-users.",
        ),
        s("nickName", "The casual way to address the user."),
        r("profileUrl", "A URI pointing to the User's online profile.").refs(&["external"]),
        s("title", "The user's title, such as \"Vice President\"."),
        s(
            "userType",
            "The relationship between the organization and the user.",
        ),
        s(
            "preferredLanguage",
            "The User's preferred written or spoken language.",
        ),
        s("locale", "The User's default location for localization."),
        s(
            "timezone",
            "The User's time zone in the IANA Time Zone database format.",
        ),
        b("active", "The User's administrative status."),
        s(
            "password",
            "The User's cleartext password; accepted, never returned.",
        )
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never),
        plural(
            "emails",
            "Email addresses for the user.",
            s("value", "Email address."),
            &["work", "home", "other"],
        ),
        plural(
            "phoneNumbers",
            "Phone numbers for the User.",
            s("value", "Phone number."),
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        plural(
            "ims",
            "Instant messaging addresses.",
            s("value", "Instant messaging address."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        plural(
            "photos",
            "URLs of photos of the User.",
            r("value", "URL of a photo of the User.").refs(&["external"]),
            &["photo", "thumbnail"],
        ),
        complex(
            "addresses",
            "A physical mailing address for this User.",
            vec![
                s(
                    "formatted",
                    "The full mailing address, formatted for display.",
                ),
                s("streetAddress", "The full street address component."),
                s("locality", "The city or locality component."),
                s("region", "The state or region component."),
                s("postalCode", "The zip code or postal code component."),
                s("country", "The country name component."),
                s("type", "A label indicating the attribute's function.")
                    .canonical(&["work", "home", "other"]),
                b("primary", "Whether this is the primary address."),
            ],
        )
        .multi(),
        complex(
            "groups",
            "The groups the user belongs to, derived from group memberships. Returned by GET and \
             by a list or search whose filter is an eq on id, userName or externalId; other \
             lists return it when 'attributes' names it.",
            vec![
                s("value", "The identifier of the User's group.").case_exact(),
                r("$ref", "The URI of the Group resource.").refs(&["User", "Group"]),
                s("display", "A human-readable name of the group."),
                s("type", "How the membership was derived.").canonical(&["direct", "indirect"]),
            ],
        )
        .multi()
        .all(read_only),
        plural(
            "entitlements",
            "Entitlements of the User.",
            s("value", "The entitlement."),
            &[],
        ),
        plural("roles", "Roles of the User.", s("value", "The role."), &[]),
        plural(
            "x509Certificates",
            "X.509 certificates issued to the User.",
            Attribute::new("value", AttrType::Binary, "The certificate, DER, base64."),
            &[],
        ),
    ],
});

pub static GROUP: LazyLock<Schema> = LazyLock::new(|| Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: vec![
        s("displayName", "A human-readable name for the Group.")
            .required()
            .unique(),
        complex(
            "members",
            "A list of members of the Group. Returned by GET and by a list or search whose \
             filter is an eq on id, displayName or externalId; other lists return it when \
             'attributes' names it.",
            vec![
                immutable(s("value", "Identifier of the member.").case_exact()),
                immutable(r("$ref", "The URI of the member resource.").refs(&["User", "Group"])),
                immutable(s("type", "The type of the member.").canonical(&["User", "Group"])),
                immutable(s(
                    "display",
                    "A human-readable name of the member, as the client sent it.",
                )),
            ],
        )
        .multi()
        .returned(Returned::Default),
    ],
});

pub static ENTERPRISE_USER: LazyLock<Schema> = LazyLock::new(|| Schema {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: vec![
        s(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person.",
        ),
        s("costCenter", "Identifies the name of a cost center."),
        s("organization", "Identifies the name of an organization."),
        s("division", "Identifies the name of a division."),
        s("department", "Identifies the name of a department."),
        complex(
            "manager",
            "The User's manager.",
            vec![
                s(
                    "value",
                    "The id of the SCIM resource representing the User's manager.",
                )
                .case_exact(),
                r("$ref", "The URI of the manager's User resource.").refs(&["User"]),
                read_only(s("displayName", "The displayName of the User's manager.")),
            ],
        ),
    ],
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_schema_has_every_rfc_7643_attribute() {
        let names: Vec<_> = USER.attributes.iter().map(|a| a.name).collect();
        for expected in [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            assert!(names.contains(&expected), "missing {expected}");
        }
    }

    #[test]
    fn password_is_write_only_and_never_returned() {
        let pw = USER.attribute("PASSWORD").expect("password");
        assert_eq!(pw.mutability, Mutability::WriteOnly);
        assert_eq!(pw.returned, Returned::Never);
    }

    #[test]
    fn urn_qualified_paths_split_at_the_registered_schema() {
        let p = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .expect("path");
        assert_eq!(p.schema.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub.as_deref(), Some("value"));
        let r = REGISTRY.user.resolve(&p).expect("resolves");
        assert_eq!(r.extension, Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(r.target().name, "value");
    }

    #[test]
    fn unqualified_paths_resolve_case_insensitively() {
        let r = REGISTRY
            .user
            .resolve(&AttrPath::parse("NAME.givenname").expect("path"))
            .expect("resolves");
        assert_eq!(r.attr.name, "name");
        assert_eq!(r.target().name, "givenName");
        assert!(REGISTRY.user.resolve(&AttrPath::simple("meta")).is_some());
        assert!(REGISTRY.user.resolve(&AttrPath::simple("nosuch")).is_none());
        assert!(AttrPath::parse("urn:unknown:thing:attr").is_none());
    }

    #[test]
    fn paths_with_multi_byte_characters_are_refused_not_split_inside_a_character() {
        // A prefix boundary (4 bytes for "urn:", a schema URN's length) inside a character.
        for text in [
            "aéé",
            "uré:",
            "urn:ietf:params:scim:schemas:core:2.0:Useré",
            "urn:ietf:params:scim:schemas:core:2.0:Use€:userName",
            "€",
            "name.é",
        ] {
            assert_eq!(AttrPath::parse(text), None, "{text}");
        }
    }

    #[test]
    fn a_prefix_is_stripped_case_insensitively_and_only_at_a_character_boundary() {
        assert_eq!(strip_prefix_ignore_case("URN:x", "urn:"), Some("x"));
        assert_eq!(strip_prefix_ignore_case("urn", "urn:"), None);
        assert_eq!(strip_prefix_ignore_case("aéé", "urn:"), None);
        assert_eq!(strip_prefix_ignore_case("ééé", "mem"), None);
    }
}
