//! CSV users: which column becomes which SCIM attribute, and one row as a SCIM User document.
//!
//! A mapping target is written as a short path:
//!
//! | path | becomes |
//! |---|---|
//! | `userName`, `title`, `externalId`, ... | a top-level attribute (`active`: true/false, yes/no, 1/0) |
//! | `name.givenName` | a sub-attribute of `name` |
//! | `emails.work`, `phoneNumbers.mobile` | a value of that type of a multi-valued attribute (`ims`, `photos` too); the first value of each attribute is `primary` |
//! | `enterprise.department` | an Enterprise User attribute; `enterprise.manager` takes the manager's id |
//! | `-` | the column is ignored |
//!
//! Column names without `--map` are looked up in [`DEFAULTS`] (compared lower-case, letters and
//! digits only: `Work Email`, `work_email` and `workEmail` are the same column).

use serde_json::{Map, Value, json};

use scim_shared::protocol::schema::{
    ENTERPRISE_USER_SCHEMA, ResourceKind, ResourceType, USER_SCHEMA,
};

use super::ImportError;

/// Default targets of common column names (normalised: lower-case letters and digits).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("username", "userName"),
    ("login", "userName"),
    ("upn", "userName"),
    ("userprincipalname", "userName"),
    ("externalid", "externalId"),
    ("givenname", "name.givenName"),
    ("firstname", "name.givenName"),
    ("familyname", "name.familyName"),
    ("lastname", "name.familyName"),
    ("surname", "name.familyName"),
    ("middlename", "name.middleName"),
    ("displayname", "displayName"),
    ("nickname", "nickName"),
    ("title", "title"),
    ("jobtitle", "title"),
    ("usertype", "userType"),
    ("preferredlanguage", "preferredLanguage"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("active", "active"),
    ("email", "emails.work"),
    ("mail", "emails.work"),
    ("workemail", "emails.work"),
    ("emailaddress", "emails.work"),
    ("homeemail", "emails.home"),
    ("phone", "phoneNumbers.work"),
    ("workphone", "phoneNumbers.work"),
    ("phonenumber", "phoneNumbers.work"),
    ("mobile", "phoneNumbers.mobile"),
    ("mobilephone", "phoneNumbers.mobile"),
    ("department", "enterprise.department"),
    ("employeenumber", "enterprise.employeeNumber"),
    ("employeeid", "enterprise.employeeNumber"),
    ("costcenter", "enterprise.costCenter"),
    ("organization", "enterprise.organization"),
    ("company", "enterprise.organization"),
    ("division", "enterprise.division"),
    ("manager", "enterprise.manager"),
    ("managerid", "enterprise.manager"),
];

/// Multi-valued attributes whose values a `name.type` path selects by `type`.
const TYPED: &[&str] = &["emails", "phoneNumbers", "ims", "photos"];

/// Where one column's value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Ignore,
    /// A top-level core attribute; `boolean` for `active`.
    Attribute {
        name: String,
        boolean: bool,
    },
    /// A sub-attribute of a complex core attribute (`name.givenName`).
    Sub {
        parent: String,
        name: String,
    },
    /// A value of a multi-valued attribute with this `type` (`emails.work`).
    Typed {
        attribute: String,
        kind: String,
    },
    /// An Enterprise User attribute; `manager` takes the manager's id.
    Enterprise {
        name: String,
    },
}

/// How the columns of one CSV file become a SCIM User.
#[derive(Debug, Clone)]
pub struct Mapping {
    targets: Vec<Target>,
}

/// Lower-case letters and digits of a column name.
fn normalise(column: &str) -> String {
    column
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn parse_target(path: &str) -> Result<Target, String> {
    let path = path.trim();
    if path == "-" {
        return Ok(Target::Ignore);
    }
    let rt = ResourceType::of(ResourceKind::User);
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["enterprise", name] => {
            let ext = rt
                .extension(ENTERPRISE_USER_SCHEMA)
                .ok_or_else(|| "the Enterprise User extension is not available".to_string())?;
            let attr = ext
                .attribute(name)
                .ok_or_else(|| format!("'{name}' is not an Enterprise User attribute"))?;
            Ok(Target::Enterprise {
                name: attr.name.to_string(),
            })
        }
        [attribute, kind] if TYPED.iter().any(|t| t.eq_ignore_ascii_case(attribute)) => {
            let attr = rt
                .core_attribute(attribute)
                .ok_or_else(|| format!("'{attribute}' is not a User attribute"))?;
            Ok(Target::Typed {
                attribute: attr.name.to_string(),
                kind: kind.to_string(),
            })
        }
        [parent, name] => {
            let attr = rt
                .core_attribute(parent)
                .filter(|a| !a.multi_valued)
                .ok_or_else(|| format!("'{parent}' is not a single-valued User attribute"))?;
            let sub = attr
                .sub_attribute(name)
                .ok_or_else(|| format!("'{name}' is not a sub-attribute of '{}'", attr.name))?;
            Ok(Target::Sub {
                parent: attr.name.to_string(),
                name: sub.name.to_string(),
            })
        }
        [name] => {
            let attr = rt
                .core_attribute(name)
                .filter(|a| a.sub_attributes.is_empty() && !a.multi_valued)
                .ok_or_else(|| {
                    format!("'{name}' is not a simple User attribute; use e.g. emails.work")
                })?;
            Ok(Target::Attribute {
                name: attr.name.to_string(),
                boolean: attr.name == "active",
            })
        }
        _ => Err(format!("'{path}' is not a mapping path")),
    }
}

impl Mapping {
    /// The mapping of a header: `--map COLUMN=PATH` entries first, then [`DEFAULTS`]. A column
    /// neither names is an error (map it to `-` to ignore it).
    pub fn new(header: &[String], overrides: &[(String, String)]) -> Result<Mapping, ImportError> {
        let mut targets = Vec::with_capacity(header.len());
        for column in header {
            let given = overrides
                .iter()
                .find(|(c, _)| c == column || normalise(c) == normalise(column));
            let path = match given {
                Some((_, p)) => p.as_str(),
                None => DEFAULTS
                    .iter()
                    .find(|(c, _)| *c == normalise(column))
                    .map(|(_, p)| *p)
                    .ok_or_else(|| ImportError::Mapping {
                        column: column.clone(),
                        reason: "no default target; map it with --map 'COLUMN=PATH' or ignore it \
                                 with --map 'COLUMN=-'"
                            .into(),
                    })?,
            };
            let target = parse_target(path).map_err(|reason| ImportError::Mapping {
                column: column.clone(),
                reason,
            })?;
            targets.push(target);
        }
        for (column, _) in overrides {
            if !header
                .iter()
                .any(|h| h == column || normalise(h) == normalise(column))
            {
                return Err(ImportError::Mapping {
                    column: column.clone(),
                    reason: "no such column in the header".into(),
                });
            }
        }
        Ok(Mapping { targets })
    }

    /// One row as a SCIM User document; empty cells are left unassigned.
    pub fn user(&self, cells: &csv::StringRecord) -> Result<Value, String> {
        let mut doc = Map::new();
        let mut enterprise = Map::new();
        for (target, cell) in self.targets.iter().zip(cells.iter()) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            match target {
                Target::Ignore => {}
                Target::Attribute { name, boolean } => {
                    let v = if *boolean {
                        Value::Bool(boolean_of(cell).ok_or_else(|| {
                            format!("'{name}' must be true or false, not '{cell}'")
                        })?)
                    } else {
                        Value::from(cell)
                    };
                    doc.insert(name.clone(), v);
                }
                Target::Sub { parent, name } => {
                    let obj = doc.entry(parent.clone()).or_insert_with(|| json!({}));
                    obj[name.as_str()] = Value::from(cell);
                }
                Target::Typed { attribute, kind } => {
                    let values = doc.entry(attribute.clone()).or_insert_with(|| json!([]));
                    if let Value::Array(items) = values {
                        let mut v = json!({"value": cell, "type": kind});
                        if items.is_empty() {
                            v["primary"] = Value::Bool(true);
                        }
                        items.push(v);
                    }
                }
                Target::Enterprise { name } if name == "manager" => {
                    enterprise.insert(name.clone(), json!({"value": cell}));
                }
                Target::Enterprise { name } => {
                    enterprise.insert(name.clone(), Value::from(cell));
                }
            }
        }
        let mut schemas = vec![Value::from(USER_SCHEMA)];
        if !enterprise.is_empty() {
            schemas.push(Value::from(ENTERPRISE_USER_SCHEMA));
            doc.insert(ENTERPRISE_USER_SCHEMA.into(), Value::Object(enterprise));
        }
        doc.insert("schemas".into(), Value::Array(schemas));
        Ok(Value::Object(doc))
    }
}

fn boolean_of(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Parses a `--map` argument, `COLUMN=PATH`: the first `=` splits, so a column name cannot
/// contain one. The path is checked at once.
pub fn parse_map_arg(s: &str) -> Result<(String, String), String> {
    let (column, path) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not COLUMN=PATH"))?;
    if column.trim().is_empty() || path.trim().is_empty() {
        return Err(format!("'{s}' is not COLUMN=PATH"));
    }
    parse_target(path)?;
    Ok((column.trim().to_string(), path.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn default_columns_make_a_user_with_enterprise_attributes() {
        let m = Mapping::new(
            &header(&[
                "User Name",
                "First Name",
                "last_name",
                "Email",
                "Active",
                "Department",
            ]),
            &[],
        )
        .expect("mapping");
        let row = csv::StringRecord::from(vec![
            "alice",
            "Alice",
            "Liddell",
            "alice@example.com",
            "no",
            "R&D",
        ]);
        let doc = m.user(&row).expect("user");
        assert_eq!(doc["userName"], "alice");
        assert_eq!(doc["name"]["familyName"], "Liddell");
        assert_eq!(
            doc["emails"],
            json!([{"value": "alice@example.com", "type": "work", "primary": true}])
        );
        assert_eq!(doc["active"], false);
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["department"], "R&D");
        assert_eq!(doc["schemas"][1], ENTERPRISE_USER_SCHEMA);
    }

    #[test]
    fn overrides_win_and_unknown_columns_are_errors() {
        let cols = header(&["Login", "Notes", "Cell"]);
        assert!(matches!(
            Mapping::new(&cols, &[]),
            Err(ImportError::Mapping { column, .. }) if column == "Notes"
        ));
        let map = vec![
            parse_map_arg("Cell=phoneNumbers.mobile").expect("map"),
            parse_map_arg("Notes=-").expect("map"),
        ];
        let m = Mapping::new(&cols, &map).expect("mapping");
        let doc = m
            .user(&csv::StringRecord::from(vec!["bob", "x", "+1 555"]))
            .expect("user");
        assert_eq!(doc["phoneNumbers"][0]["type"], "mobile");
        assert!(doc.get("Notes").is_none());
    }

    #[test]
    fn bad_paths_and_values_are_reported() {
        assert!(parse_map_arg("A=nosuch").is_err());
        assert!(parse_map_arg("A=emails").is_err());
        assert!(parse_map_arg("A=name.nosuch").is_err());
        assert!(parse_map_arg("A").is_err());
        let m = Mapping::new(&header(&["userName", "active"]), &[]).expect("mapping");
        let err = m.user(&csv::StringRecord::from(vec!["a", "maybe"]));
        assert!(err.is_err());
    }
}
