//! Microsoft Entra ID's gallery onboarding validation, the "SCIM Validation Logic App"
//! (`Microsoft.SCIM.LogicAppValidationTemplate/StandardLogicApp`, VERSION 7.0), replayed test by
//! test against one tenant URL.
//!
//! Each Microsoft test is a scenario named after it (`create_user_test` is `Create_User_Test`)
//! that takes a [`Scim`] client for one tenant, so that the same scenario runs against a local
//! server here and through the API Gateway with a Secret Token or an OAuth access token
//! elsewhere. [`every_test`] runs all of them at once, as the Logic App's three child workflows
//! do, and its [`Report::verdict`] applies Microsoft's aggregate rule.
//!
//! Two kinds of tests:
//!
//! - **Entra-engine tests** (UserTests and GroupTests workflows). In Microsoft's run the Logic
//!   App changes users and groups in Entra through Graph, the Entra provisioning service calls
//!   the SCIM server, and the Logic App only polls it. Here [`Entra`] sends what the provisioning
//!   service sends (the default non-gallery job: `Replace`/`Add`/`Remove`, `"False"` as a string,
//!   members removed with a value list, the ADSCIM group schema URN), and [`LogicApp`] replays the
//!   Logic App's own GETs, with its URLs and its JSON-path assertions. Graph calls and the
//!   provisioning-log checks are stubbed: a request of the provisioning service that fails is the
//!   failed provisioning log that fails the test.
//! - **Direct SCIM tests** (SCIMTests workflow): the Logic App's own requests, replayed exactly.
//!
//! `Validate_Credentials_Test` and `Federated_Identity_Test` (token endpoints, no SCIM semantics)
//! are not replayed here; the OAuth suites cover the token endpoint.
//!
//! The attribute lists come from `tests/data/entra-gallery` (see its README): the default user
//! and group mappings of Entra's non-gallery SCIM job, the Entra target attribute list, and the
//! Logic App's own parameters (user profiles, `scimTargetUserValues`, `attributeTransforms`).
//! Names are fresh per run in the Logic App's formats (`Init`), so runs may share a store.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use scim_tests::{ENTERPRISE, GROUP_SCHEMA, PATCH_OP, Reply, Scim, TestServer, USER_SCHEMA, enc};
use serde_json::{Map, Value, json};

/// The `testUserDomain` of the replays.
const DOMAIN: &str = "contoso.onmicrosoft.com";
/// The schema Entra adds to a group it creates.
const ADSCIM_GROUP: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// How often a "Poll SCIM" loop asks before the test gives up (the Logic App: 200 times, 15 s
/// apart; a server that is consistent after its answer needs one).
const POLLS: usize = 20;
const POLL_WAIT: Duration = Duration::from_millis(100);
/// The Logic Apps default retry policy: 4 retries on 408, 429 and 5xx, exponential backoff.
const RETRIES: u32 = 4;

// ------------------------------------------------------------------------------------------
// Fixtures

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

static MAPPINGS: LazyLock<Value> = LazyLock::new(|| {
    fixture(include_str!(
        "../../data/entra-gallery/default-mappings.json"
    ))
});
static TARGETS: LazyLock<Value> = LazyLock::new(|| {
    fixture(include_str!(
        "../../data/entra-gallery/target-attributes.json"
    ))
});
static PARAMETERS: LazyLock<Value> = LazyLock::new(|| {
    fixture(include_str!(
        "../../data/entra-gallery/logic-app-parameters.json"
    ))
});

/// One entry of the Logic App's `sourceToTargetLookup`: a user attribute mapping, its source
/// already renamed to the Graph property by `attributeTransforms`.
#[derive(Debug, Clone)]
struct Lookup {
    source: String,
    target: String,
    target_type: String,
    matching_precedence: u64,
    /// `Join(separator, [a], [b])`: the sources joined, and the separator.
    join: Option<(Vec<String>, String)>,
}

fn graph_name(entra_source: &str) -> String {
    PARAMETERS["attributeTransforms"][entra_source]
        .as_str()
        .unwrap_or(entra_source)
        .to_string()
}

static USER_LOOKUP: LazyLock<Vec<Lookup>> = LazyLock::new(|| lookup("users"));

fn lookup(object: &str) -> Vec<Lookup> {
    MAPPINGS[object]
        .as_array()
        .expect("mappings")
        .iter()
        .map(|m| Lookup {
            source: graph_name(m["source"].as_str().expect("source")),
            target: m["target"].as_str().expect("target").to_string(),
            target_type: m["targetType"].as_str().expect("targetType").to_string(),
            matching_precedence: m["matchingPrecedence"].as_u64().unwrap_or(0),
            join: m["join"].as_array().map(|sources| {
                (
                    sources
                        .iter()
                        .map(|s| graph_name(s.as_str().expect("join source")))
                        .collect(),
                    m["separator"].as_str().unwrap_or(" ").to_string(),
                )
            }),
        })
        .collect()
}

/// The Entra target attribute list of an object (`user`, `group`): what the Logic App calls
/// `targetDirectoryUserAttributes` / `targetDirectoryGroupAttributes`.
fn targets(object: &str) -> &'static [Value] {
    TARGETS[object].as_array().expect("target attributes")
}

fn profile(index: usize) -> &'static Value {
    let profiles = PARAMETERS["defaultUserProperties"]
        .as_array()
        .expect("profiles");
    &profiles[index % profiles.len()]
}

fn target_values(index: usize) -> &'static Value {
    let values = PARAMETERS["scimTargetUserValues"]
        .as_array()
        .expect("scimTargetUserValues");
    &values[index % values.len()]
}

// ------------------------------------------------------------------------------------------
// Results

/// Why a test failed.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// A Logic App HTTP action answered outside 2xx: `ValidateLogicAppRun-Standard.ps1` fails the
    /// whole run for it, whatever the test's category.
    Action {
        action: String,
        status: u16,
        body: String,
    },
    /// The test's own verification failed, or Entra's provisioning did (its provisioning log).
    Check(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Action {
                action,
                status,
                body,
            } => write!(f, "FAILED - Action: {action} - HTTP {status}: {body}"),
            Failure::Check(message) => write!(f, "FAILED - {message}"),
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(Failure::Check(message()))
    }
}

/// The first failure of a test body, else of its cleanup.
fn first(result: Outcome, cleanup: Outcome) -> Outcome {
    result.and(cleanup)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Mandatory,
    /// `Delete_User_Test`, `Delete_Group_Test`, `Restore_Group_Test`,
    /// `SCIM_Group_Pagination_Test`: a FAILED result is reported as WARNING.
    Optional,
}

/// The results of one run of every test, as the orchestrator's `Final_TestResults`.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) results: Vec<(&'static str, Category, Outcome)>,
}

impl Report {
    /// Microsoft's verdict (`Evaluate_Test_Results` and `ValidateLogicAppRun-Standard.ps1`):
    /// every mandatory test passed, and no Logic App action of any test answered outside 2xx.
    /// Optional tests that failed their own checks are warnings, not failures.
    pub(crate) fn verdict(&self) -> Result<(), String> {
        let failed: Vec<String> = self
            .results
            .iter()
            .filter_map(|(name, category, outcome)| match (category, outcome) {
                (_, Ok(())) | (Category::Optional, Err(Failure::Check(_))) => None,
                (_, Err(e)) => Some(format!("{name}: {e}")),
            })
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("the Logic App run fails:\n{}", failed.join("\n")))
        }
    }

    /// The optional tests that failed their own checks (WARNING in `optionalTestsResult`).
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|(name, category, outcome)| match (category, outcome) {
                (Category::Optional, Err(e @ Failure::Check(_))) => Some(format!("{name}: {e}")),
                _ => None,
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------------
// Names and bodies the Initialization workflow computes

fn hex(n: usize) -> String {
    // The random tail of a UUIDv7 (its head is a timestamp, shared by calls in one millisecond).
    let s = uuid::Uuid::now_v7().simple().to_string();
    s[32 - n..].to_string()
}

fn hex8() -> String {
    hex(8)
}

/// `initializationData`: the test names (a fresh GUID fragment in each), the profile index and
/// the bodies built from them, shared by every test of one run.
#[derive(Debug)]
pub(crate) struct Init {
    index: usize,
    create_user: String,
    create_user_mail: String,
    create_user_nickname: String,
    update_user: String,
    update_user_nickname: String,
    disable_user: String,
    disable_user_nickname: String,
    delete_user: String,
    delete_user_nickname: String,
    manager_user: String,
    manager_user_nickname: String,
    manager_user_initial: String,
    manager_user_initial_nickname: String,
    manager_user_new: String,
    manager_user_new_nickname: String,
    member_user1: String,
    member_user1_mail: String,
    member_user2: String,
    member_user2_mail: String,
    restore_user: String,
    restore_user_mail: String,
    restore_user_nickname: String,
    scim_direct_user: String,
    create_group: String,
    update_group: String,
    delete_group: String,
    member_group: String,
    scim_direct_group: String,
    /// The Graph body of Update_User_Test's user (`userBody`).
    user_body: Value,
    /// The Graph PATCH of Update_User_Test (`updateUserBody`).
    update_user_body: Value,
    /// The base body of every direct SCIM user create (`scimUserBody`).
    scim_user_body: Value,
}

impl Init {
    pub(crate) fn new() -> Init {
        let at = |prefix: &str| format!("{prefix}{}@{DOMAIN}", hex8());
        let nick = |prefix: &str| format!("{prefix}{}", hex8());
        // `rand(0, length - 1)`: Logic Apps excludes the maximum, so 0 or 1.
        let index = (uuid::Uuid::now_v7().as_u128() & 1) as usize;
        let update_user = at("laupdate");
        let update_user_nickname = nick("laupdate");
        let user_body = user_body(index, &update_user);
        let update_user_body = update_user_body(index, &update_user, &update_user_nickname);
        let scim_user_body = scim_user_body(index, &in_loop_user_body(index));
        Init {
            index,
            create_user: at("lacreate"),
            create_user_mail: at("lacreate"),
            create_user_nickname: nick("lacreate"),
            update_user,
            update_user_nickname,
            disable_user: at("ladis"),
            disable_user_nickname: nick("ladis"),
            delete_user: at("ladel"),
            delete_user_nickname: nick("ladel"),
            manager_user: at("lamgr"),
            manager_user_nickname: nick("lamgr"),
            manager_user_initial: at("lamgrinit"),
            manager_user_initial_nickname: nick("lamgrinit"),
            manager_user_new: at("lamgrnew"),
            manager_user_new_nickname: nick("lamgrnew"),
            member_user1: at("lamem1"),
            member_user1_mail: at("lamem1"),
            member_user2: at("lamem2"),
            member_user2_mail: at("lamem2"),
            restore_user: at("larestore"),
            restore_user_mail: at("larestore"),
            restore_user_nickname: nick("larestore"),
            scim_direct_user: at("lascuser"),
            create_group: format!("LACreateGroup-({})", hex8()),
            update_group: format!("LAUpdateGroup-{}", hex8()),
            delete_group: format!("LADeleteGroup-{}", hex8()),
            member_group: format!("LAMemberGroup-{}", hex8()),
            scim_direct_group: format!("LASCDirectGroup-{}", hex8()),
            user_body,
            update_user_body,
            scim_user_body,
        }
    }
}

/// Graph properties the default user mappings read, in mapping order, without duplicates.
fn mapped_sources() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in USER_LOOKUP.iter() {
        if !out.contains(&l.source) {
            out.push(l.source.clone());
        }
    }
    out
}

/// `userBody` before the workflow adds `userPrincipalName` and `mail`: every mapped source but
/// the excluded ones, from the profile, else a default.
fn in_loop_user_body(index: usize) -> Map<String, Value> {
    const EXCLUDED: [&str; 7] = [
        "IsSoftDeleted",
        "accountEnabled",
        "passwordProfile",
        "manager",
        "mail",
        "userPrincipalName",
        "id",
    ];
    let p = profile(index);
    let mut body = Map::new();
    body.insert("accountEnabled".into(), json!(true));
    for source in mapped_sources() {
        if EXCLUDED.contains(&source.as_str()) {
            continue;
        }
        let value = match &p[&source] {
            Value::Null => json!(format!("Test{}", hex(6))),
            Value::String(s) if s.is_empty() => json!(format!("Test{}", hex(6))),
            v => v.clone(),
        };
        body.insert(source, value);
    }
    body
}

/// `userBody`: Update_User_Test's Graph user.
fn user_body(index: usize, update_user: &str) -> Value {
    let mut body = in_loop_user_body(index);
    body.insert("userPrincipalName".into(), json!(update_user));
    body.insert("mail".into(), json!(update_user));
    body.entry("displayName").or_insert(json!(update_user));
    Value::Object(body)
}

/// `updateUserBody`: the next profile's values, then the `union` of the updated names.
fn update_user_body(index: usize, update_user: &str, update_user_nickname: &str) -> Value {
    let p = profile((index + 1) % 3);
    let mut body = Map::new();
    for source in mapped_sources() {
        if [
            "accountEnabled",
            "manager",
            "mail",
            "userPrincipalName",
            "id",
        ]
        .contains(&source.as_str())
        {
            continue;
        }
        let value = match &p[&source] {
            Value::Null => json!(format!("Updated{}", hex(6))),
            v => v.clone(),
        };
        body.insert(source, value);
    }
    let updated = format!("updated-{update_user}");
    body.insert("userPrincipalName".into(), json!(updated));
    body.insert("mail".into(), json!(updated));
    body.entry("displayName")
        .or_insert(json!(format!("{update_user} - Updated")));
    body.insert(
        "mailNickname".into(),
        json!(format!("updated{update_user_nickname}")),
    );
    Value::Object(body)
}

/// The "standard create body" of a Graph user (every Entra-engine test but Update_User_Test).
fn standard_graph_user(
    index: usize,
    upn: &str,
    nickname: &str,
    mail: &str,
    display: &str,
) -> Value {
    let p = profile(index);
    let mut user = Map::new();
    for key in [
        "givenName",
        "surname",
        "jobTitle",
        "department",
        "companyName",
        "businessPhones",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "employeeType",
        "streetAddress",
        "city",
        "state",
        "country",
        "postalCode",
        "usageLocation",
        "otherMails",
        "faxNumber",
        "userType",
    ] {
        user.insert(key.into(), p[key].clone());
    }
    user.insert("accountEnabled".into(), json!(true));
    user.insert("displayName".into(), json!(display));
    user.insert("mailNickname".into(), json!(nickname));
    user.insert("userPrincipalName".into(), json!(upn));
    user.insert("mail".into(), json!(mail));
    user.insert("employeeId".into(), json!(hex8()));
    Value::Object(user)
}

/// The first `"…"`-quoted text of a target such as `emails[type eq "work"].value`.
fn quoted(target: &str) -> &str {
    target.split('"').nth(1).unwrap_or("")
}

/// The text after the last `sep`.
fn last(s: &str, sep: char) -> &str {
    s.rsplit(sep).next().unwrap_or(s)
}

/// The text before the first `sep`.
fn head(s: &str, sep: char) -> &str {
    s.split(sep).next().unwrap_or(s)
}

/// The elements of a multi-valued attribute being built, keyed by their `type` (`V`).
type Elements = Vec<(String, Map<String, Value>)>;

/// A body being built by target names, as the Logic App's body builders place them:
/// `urn:…:attr` in the extension object, `X[f eq "V"].sub` in the element of `X` keyed `V`
/// (`type` V, `primary` on the first element of `X`), `a.b` nested, the rest top-level.
#[derive(Debug, Default)]
struct TargetBody {
    body: Map<String, Value>,
    /// `X` → elements keyed by `V`, in first-seen order.
    arrays: Vec<(String, Elements)>,
}

impl TargetBody {
    fn new(body: Value) -> Self {
        TargetBody {
            body: body.as_object().cloned().unwrap_or_default(),
            arrays: Vec::new(),
        }
    }

    fn place(&mut self, name: &str, value: Value) {
        if name.starts_with("urn:") {
            let (ns, attr) = name.rsplit_once(':').expect("a URN target has a ':'");
            let ext = self.body.entry(ns).or_insert(json!({}));
            ext[attr] = value;
        } else if name.contains('[') {
            let parent = head(name, '[').to_string();
            let v = quoted(name).to_string();
            let sub = last(name, '.').to_string();
            let at = match self.arrays.iter().position(|(p, _)| *p == parent) {
                Some(at) => at,
                None => {
                    self.arrays.push((parent, Vec::new()));
                    self.arrays.len() - 1
                }
            };
            let elements = &mut self.arrays[at].1;
            let element = match elements.iter().position(|(k, _)| *k == v) {
                Some(i) => &mut elements[i].1,
                None => {
                    let mut e = Map::new();
                    e.insert("type".into(), json!(v));
                    e.insert("primary".into(), json!(elements.is_empty()));
                    elements.push((v, e));
                    &mut elements.last_mut().expect("just pushed").1
                }
            };
            element.insert(sub, value);
        } else if let Some((a, b)) = name.split_once('.') {
            let parent = self.body.entry(a).or_insert(json!({}));
            parent[last(b, '.')] = value;
        } else {
            self.body.insert(name.to_string(), value);
        }
    }

    fn finish(mut self) -> Value {
        for (parent, elements) in self.arrays {
            let list: Vec<Value> = elements
                .into_iter()
                .map(|(_, e)| Value::Object(e))
                .collect();
            self.body.insert(parent, Value::Array(list));
        }
        Value::Object(self.body)
    }
}

/// The Logic App's `string()`: a string as is, null as empty, anything else as JSON.
fn la_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A Graph property as one string: the first element of an array property.
fn graph_value(graph: &Value, source: &str) -> Option<String> {
    let v = match &graph[source] {
        Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
        v => v.clone(),
    };
    let s = la_string(&v);
    (!s.is_empty()).then_some(s)
}

/// The name-based defaults of `Build_SCIM_User_Body`.
fn name_default(name: &str) -> String {
    let l = name.to_lowercase();
    if name == "displayName" {
        return "SCIM Test User".into();
    }
    if l.contains("emails[") {
        return format!("lasctest{}@{DOMAIN}", hex8());
    }
    if l.contains("phonenumbers[") {
        return format!("+1-555-{}", hex(4));
    }
    let by_suffix: [(&str, String); 15] = [
        (".country", "US".into()),
        (".postalcode", hex(5)),
        (".region", "WA".into()),
        (".locality", "Redmond".into()),
        (".streetaddress", "1 Microsoft Way".into()),
        (".formatted", "Test Test".into()),
        (".givenname", "Test".into()),
        (".familyname", "User".into()),
        ("locale", "en-US".into()),
        ("preferredlanguage", "en-US".into()),
        ("timezone", "America/Los_Angeles".into()),
        ("usertype", "Employee".into()),
        ("title", "Test Engineer".into()),
        ("nickname", "testuser".into()),
        (":employeenumber", hex(6)),
    ];
    for (suffix, value) in by_suffix {
        if l.ends_with(suffix) {
            return value;
        }
    }
    if l.contains("ims[") {
        return format!("imuser-{}", hex(6));
    }
    if l.contains("roles[") {
        return if l.ends_with(".value") {
            "TestRole".into()
        } else if l.ends_with(".type") {
            "primary".into()
        } else {
            "Test Role".into()
        };
    }
    let leaf = last(last(last(name, ':'), '.'), '[');
    format!("Test-{leaf}-{}", hex(6))
}

/// `scimUserBody` (`Build_SCIM_User_Body`): every Entra target attribute but the skipped ones,
/// from `scimTargetUserValues`, else the mapped source's value, else a name-based default.
fn scim_user_body(index: usize, in_loop: &Map<String, Value>) -> Value {
    let mut schemas = vec![json!(USER_SCHEMA)];
    for a in targets("user") {
        let name = a["name"].as_str().expect("name");
        if name.starts_with("urn:") {
            let ns = json!(name.rsplit_once(':').expect("URN").0);
            if !schemas.contains(&ns) {
                schemas.push(ns);
            }
        }
    }
    let mut body = TargetBody::new(json!({
        "schemas": schemas, "userName": "placeholder@test.com", "active": true,
    }));
    let in_loop = Value::Object(in_loop.clone());
    for a in targets("user") {
        let name = a["name"].as_str().expect("name");
        let ty = a["type"].as_str().unwrap_or("String").to_lowercase();
        if ["id", "externalId", "userName", "active", "roles"].contains(&name) || ty == "reference"
        {
            continue;
        }
        let value = if ty == "boolean" {
            json!(true)
        } else if let Some(v) = target_values(index).get(name) {
            json!(la_string(v))
        } else if let Some(v) = USER_LOOKUP
            .iter()
            .filter(|l| l.target == name)
            .find_map(|l| graph_value(&in_loop, &l.source))
        {
            json!(v)
        } else {
            json!(name_default(name))
        };
        body.place(name, value);
    }
    body.finish()
}

// ------------------------------------------------------------------------------------------
// HTTP: the Logic App's client, and Entra's provisioning service

/// The Logic App's HTTP actions on the SCIM endpoint: `Accept: application/scim+json`
/// (and `Content-Type` with a body), the default retry policy, and non-2xx as a failed action.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogicApp<'a> {
    scim: &'a Scim,
}

fn is_2xx(r: &Reply) -> bool {
    (200..300).contains(&r.status)
}

async fn send_with_retries(scim: &Scim, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let mut attempt = 0;
    loop {
        let r = scim
            .send(
                method,
                path,
                body.map(|b| b.to_string().into_bytes()),
                &[("accept", "application/scim+json")],
            )
            .await;
        let retryable = r.status == 408 || r.status == 429 || r.status >= 500;
        if !retryable || attempt == RETRIES {
            return r;
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
    }
}

impl<'a> LogicApp<'a> {
    fn new(scim: &'a Scim) -> Self {
        LogicApp { scim }
    }

    /// An HTTP action that must answer 2xx.
    async fn call(
        &self,
        action: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Failure> {
        let r = send_with_retries(self.scim, method, path, body).await;
        if is_2xx(&r) {
            Ok(r)
        } else {
            Err(Failure::Action {
                action: action.to_string(),
                status: r.status,
                body: r.body.to_string(),
            })
        }
    }

    async fn get(&self, action: &str, path: &str) -> Result<Reply, Failure> {
        self.call(action, "GET", path, None).await
    }

    /// A "Poll SCIM" Until loop: GET until `done` holds or the loop's limit. The last answer
    /// must be 2xx (the action's status in the run); whether `done` held is the caller's check.
    async fn poll(
        &self,
        action: &str,
        path: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Reply, Failure> {
        let mut attempt = 1;
        loop {
            let r = send_with_retries(self.scim, "GET", path, None).await;
            if (is_2xx(&r) && done(&r.body)) || attempt == POLLS {
                return if is_2xx(&r) {
                    Ok(r)
                } else {
                    Err(Failure::Action {
                        action: action.to_string(),
                        status: r.status,
                        body: r.body.to_string(),
                    })
                };
            }
            attempt += 1;
            tokio::time::sleep(POLL_WAIT).await;
        }
    }
}

/// The Logic App's user filter URL: `userName eq "<value>"`, value not encoded.
fn users_where(user_name: &str) -> String {
    format!("/Users?filter=userName%20eq%20%22{user_name}%22")
}

/// The Logic App's group filter URL: `displayName eq "<value>"`, value not encoded.
fn groups_where(display_name: &str) -> String {
    format!("/Groups?filter=displayName%20eq%20%22{display_name}%22")
}

fn resources(body: &Value) -> &[Value] {
    body["Resources"].as_array().map_or(&[], Vec::as_slice)
}

fn first_id(body: &Value) -> String {
    resources(body)
        .first()
        .and_then(|r| r["id"].as_str())
        .unwrap_or("")
        .to_string()
}

/// What the Microsoft Entra provisioning service sends for the default non-gallery job.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entra<'a> {
    scim: &'a Scim,
}

impl<'a> Entra<'a> {
    fn new(scim: &'a Scim) -> Self {
        Entra { scim }
    }

    /// A request of the provisioning service; anything but the expected status is a failed
    /// provisioning log entry.
    async fn call(
        &self,
        what: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        expected: &[u16],
    ) -> Result<Reply, Failure> {
        let r = self
            .scim
            .send(method, path, body.map(|b| b.to_string().into_bytes()), &[])
            .await;
        if expected.contains(&r.status) {
            Ok(r)
        } else {
            Err(Failure::Check(format!(
                "Entra provisioning failed: {what} ({method} {path}) answered {}: {}",
                r.status, r.body
            )))
        }
    }

    /// The SCIM user the default mappings make of a Graph user (Entra's POST body).
    fn scim_user(graph: &Value) -> Value {
        let mut user = Map::new();
        user.insert("schemas".into(), json!([USER_SCHEMA, ENTERPRISE]));
        for (target, value) in Self::targets(graph) {
            if target.starts_with("urn:") {
                let (ns, attr) = target.rsplit_once(':').expect("URN");
                user.entry(ns).or_insert(json!({}))[attr] = value;
            } else if target.contains('[') {
                let parent = head(&target, '[');
                let ty = quoted(&target);
                let list = user.entry(parent).or_insert(json!([]));
                let items = list.as_array_mut().expect("array");
                let at = match items.iter().position(|e| e["type"] == ty) {
                    Some(at) => at,
                    // Entra marks its work email primary; its other elements have no `primary`.
                    None if parent == "emails" => {
                        items.push(json!({"primary": true, "type": ty}));
                        items.len() - 1
                    }
                    None => {
                        items.push(json!({"type": ty}));
                        items.len() - 1
                    }
                };
                items[at][last(&target, '.')] = value;
            } else if let Some((a, b)) = target.split_once('.') {
                user.entry(a).or_insert(json!({}))[b] = value;
            } else {
                user.insert(target, value);
            }
        }
        user.insert("meta".into(), json!({"resourceType": "User"}));
        user.insert("roles".into(), json!([]));
        Value::Object(user)
    }

    /// Each mapped target with the value Entra computes for it from a Graph user.
    fn targets(graph: &Value) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for l in USER_LOOKUP.iter() {
            let value = if l.target == "active" {
                // Switch([IsSoftDeleted], , "False", "True", "True", "False") of an enabled user.
                Some(json!(graph["accountEnabled"].as_bool().unwrap_or(true)))
            } else if l.target_type == "Reference" {
                None
            } else if let Some((sources, separator)) = &l.join {
                let parts: Vec<String> = sources
                    .iter()
                    .filter_map(|s| graph_value(graph, s))
                    .collect();
                (!parts.is_empty()).then(|| json!(parts.join(separator)))
            } else {
                graph_value(graph, &l.source).map(Value::from)
            };
            if let Some(v) = value {
                out.push((l.target.clone(), v));
            }
        }
        out
    }

    /// Provisions a new Graph user: the matching query (none found), then the POST. Its id.
    async fn create_user(&self, graph: &Value) -> Result<String, Failure> {
        let user_name = graph["userPrincipalName"].as_str().expect("upn");
        let filter = enc(&format!("userName eq \"{user_name}\""));
        let r = self
            .call(
                "matching query",
                "GET",
                &format!("/Users?filter={filter}"),
                None,
                &[200],
            )
            .await?;
        ensure(r.body["totalResults"] == 0, || {
            format!("Entra matched {user_name} before creating it: {}", r.body)
        })?;
        let r = self
            .call(
                "create user",
                "POST",
                "/Users",
                Some(&Self::scim_user(graph)),
                &[201],
            )
            .await?;
        Ok(r.id())
    }

    /// A Graph user's update: `Replace` of each mapped target whose value changed.
    async fn update_user(&self, id: &str, old: &Value, new: &Value) -> Outcome {
        let before = Self::targets(old);
        let ops: Vec<Value> = Self::targets(new)
            .into_iter()
            .filter(|(t, v)| !before.iter().any(|(bt, bv)| bt == t && bv == v))
            .map(|(t, v)| json!({"op": "Replace", "path": t, "value": v}))
            .collect();
        self.patch_user(id, "update user", ops).await
    }

    async fn patch_user(&self, id: &str, what: &str, ops: Vec<Value>) -> Outcome {
        self.call(
            what,
            "PATCH",
            &format!("/Users/{id}"),
            Some(&Scim::patch_body(json!(ops))),
            &[200, 204],
        )
        .await
        .map(drop)
    }

    /// Disable (`accountEnabled` false, unassignment, soft delete in Entra) or enable again:
    /// `active` as the strings `"False"` / `"True"`.
    async fn set_active(&self, id: &str, active: bool) -> Outcome {
        let value = if active { "True" } else { "False" };
        self.patch_user(
            id,
            "set active",
            vec![json!({"op": "Replace", "path": "active", "value": value})],
        )
        .await
    }

    async fn delete_user(&self, id: &str) -> Outcome {
        self.call(
            "delete user",
            "DELETE",
            &format!("/Users/{id}"),
            None,
            &[204],
        )
        .await
        .map(drop)
    }

    async fn set_manager(&self, id: &str, manager: &str) -> Outcome {
        self.patch_user(
            id,
            "set manager",
            vec![json!({"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager})],
        )
        .await
    }

    async fn remove_manager(&self, id: &str) -> Outcome {
        self.patch_user(
            id,
            "remove manager",
            vec![json!({"op": "Remove", "path": format!("{ENTERPRISE}:manager")})],
        )
        .await
    }

    /// Provisions a new Graph group (its objectId as externalId). Its id.
    async fn create_group(&self, name: &str) -> Result<String, Failure> {
        let filter = enc(&format!("displayName eq \"{name}\""));
        let r = self
            .call(
                "matching query",
                "GET",
                &format!("/Groups?excludedAttributes=members&filter={filter}"),
                None,
                &[200],
            )
            .await?;
        ensure(r.body["totalResults"] == 0, || {
            format!("Entra matched {name} before creating it: {}", r.body)
        })?;
        let body = json!({
            "schemas": [GROUP_SCHEMA, ADSCIM_GROUP],
            "externalId": uuid::Uuid::now_v7().to_string(),
            "displayName": name,
            "meta": {"resourceType": "Group"},
        });
        let r = self
            .call("create group", "POST", "/Groups", Some(&body), &[201])
            .await?;
        Ok(r.id())
    }

    async fn patch_group(&self, id: &str, what: &str, op: Value) -> Outcome {
        self.call(
            what,
            "PATCH",
            &format!("/Groups/{id}"),
            Some(&Scim::patch_body(json!([op]))),
            &[200, 204],
        )
        .await
        .map(drop)
    }

    async fn rename_group(&self, id: &str, name: &str) -> Outcome {
        let op = json!({"op": "Replace", "path": "displayName", "value": name});
        self.patch_group(id, "rename group", op).await
    }

    async fn add_member(&self, id: &str, member: &str) -> Outcome {
        let op =
            json!({"op": "Add", "path": "members", "value": [{"$ref": null, "value": member}]});
        self.patch_group(id, "add member", op).await
    }

    async fn remove_member(&self, id: &str, member: &str) -> Outcome {
        let op = json!({"op": "Remove", "path": "members", "value": [{"value": member}]});
        self.patch_group(id, "remove member", op).await
    }

    async fn delete_group(&self, id: &str) -> Outcome {
        self.call(
            "delete group",
            "DELETE",
            &format!("/Groups/{id}"),
            None,
            &[204],
        )
        .await
        .map(drop)
    }
}

// ------------------------------------------------------------------------------------------
// The scenarios, one per Microsoft test

/// A scenario of its own names: `Init::new()`, then the test.
macro_rules! scenario {
    ($(#[$doc:meta])* $name:ident => $test:ident) => {
        $(#[$doc])*
        pub(crate) async fn $name(scim: &Scim) -> Outcome {
            $test(scim, &Init::new()).await
        }
    };
}

scenario!(
    /// `Schema_Discoverability_Test` (mandatory).
    schema_discoverability_test => schema_discoverability
);
scenario!(
    /// `Create_User_Test` (mandatory).
    create_user_test => create_user
);
scenario!(
    /// `Update_User_Test` (mandatory).
    update_user_test => update_user
);
scenario!(
    /// `Disable_User_Test` (mandatory).
    disable_user_test => disable_user
);
scenario!(
    /// `Delete_User_Test` (optional).
    delete_user_test => delete_user
);
scenario!(
    /// `User_Update_Manager_Test` (mandatory when the mappings hold `manager`, as the default).
    user_update_manager_test => user_update_manager
);
scenario!(
    /// `Restore_User_Test` (mandatory).
    restore_user_test => restore_user
);
scenario!(
    /// `Create_Group_Test` (mandatory).
    create_group_test => create_group
);
scenario!(
    /// `Update_Group_Test` (mandatory).
    update_group_test => update_group
);
scenario!(
    /// `Delete_Group_Test` (optional).
    delete_group_test => delete_group
);
scenario!(
    /// `Group_Update_Add_Member_Test` (mandatory).
    group_update_add_member_test => group_update_add_member
);
scenario!(
    /// `Group_Update_Remove_Member_Test` (mandatory).
    group_update_remove_member_test => group_update_remove_member
);
scenario!(
    /// `SCIM_Null_Update_Test` (mandatory), in both PATCH shapes.
    scim_null_update_test => scim_null_update
);
scenario!(
    /// `SCIM_User_Create_Test` (mandatory).
    scim_user_create_test => scim_user_create
);
scenario!(
    /// `SCIM_Group_Create_Test` (mandatory).
    scim_group_create_test => scim_group_create
);
scenario!(
    /// `SCIM_User_Update_Test` (mandatory), in both PATCH shapes.
    scim_user_update_test => scim_user_update
);
scenario!(
    /// `SCIM_Group_Update_Test` (mandatory).
    scim_group_update_test => scim_group_update
);
scenario!(
    /// `SCIM_User_Pagination_Test` (mandatory).
    scim_user_pagination_test => scim_user_pagination
);
scenario!(
    /// `SCIM_Group_Pagination_Test` (optional).
    scim_group_pagination_test => scim_group_pagination
);
scenario!(
    /// `POD_User_Test` (mandatory).
    pod_user_test => pod_user
);
scenario!(
    /// `POD_Group_Test` (mandatory).
    pod_group_test => pod_group
);
scenario!(
    /// `Restore_Group_Test` (optional).
    restore_group_test => restore_group
);

/// Every test at once, with the names of one `Init`, as one run of the Logic App: its three
/// child workflows in parallel and every test of each in parallel, but the two pagination tests
/// after the others. Microsoft's run interleaves them too, and then their outcome depends on
/// whether another test deletes a user between two pages (`totalResults` drops, and the next
/// page's `startIndex` is not the one the test computed), which says nothing of the server.
pub(crate) async fn every_test(scim: &Scim) -> Report {
    use Category::{Mandatory, Optional};
    let init = Init::new();
    let i = &init;
    let (a, b, c, d, e, f, g, h, j, k, l, m, n, o, p, q, r, u, v, w) = tokio::join!(
        create_user(scim, i),
        update_user(scim, i),
        disable_user(scim, i),
        delete_user(scim, i),
        user_update_manager(scim, i),
        restore_user(scim, i),
        create_group(scim, i),
        update_group(scim, i),
        delete_group(scim, i),
        group_update_add_member(scim, i),
        group_update_remove_member(scim, i),
        schema_discoverability(scim, i),
        scim_null_update(scim, i),
        scim_user_create(scim, i),
        scim_group_create(scim, i),
        scim_user_update(scim, i),
        scim_group_update(scim, i),
        pod_user(scim, i),
        pod_group(scim, i),
        restore_group(scim, i),
    );
    let (s, t) = tokio::join!(
        scim_user_pagination(scim, i),
        scim_group_pagination(scim, i)
    );
    Report {
        results: vec![
            ("Create_User_Test", Mandatory, a),
            ("Update_User_Test", Mandatory, b),
            ("Disable_User_Test", Mandatory, c),
            ("Delete_User_Test", Optional, d),
            ("User_Update_Manager_Test", Mandatory, e),
            ("Restore_User_Test", Mandatory, f),
            ("Create_Group_Test", Mandatory, g),
            ("Update_Group_Test", Mandatory, h),
            ("Delete_Group_Test", Optional, j),
            ("Group_Update_Add_Member_Test", Mandatory, k),
            ("Group_Update_Remove_Member_Test", Mandatory, l),
            ("Schema_Discoverability_Test", Mandatory, m),
            ("SCIM_Null_Update_Test", Mandatory, n),
            ("SCIM_User_Create_Test", Mandatory, o),
            ("SCIM_Group_Create_Test", Mandatory, p),
            ("SCIM_User_Update_Test", Mandatory, q),
            ("SCIM_Group_Update_Test", Mandatory, r),
            ("SCIM_User_Pagination_Test", Mandatory, s),
            ("SCIM_Group_Pagination_Test", Optional, t),
            ("POD_User_Test", Mandatory, u),
            ("POD_Group_Test", Mandatory, v),
            ("Restore_Group_Test", Optional, w),
        ],
    }
}

// --- SCIMTests_Workflow: Schema_Discoverability_Test

/// The flattened attribute names of the User (with the enterprise extension) and Group schemas
/// of a `/Schemas` ListResponse, as `Flatten_User_Attrs_Loop`, `Flatten_Enterprise_User_Attrs_Loop`
/// and `Flatten_Group_Attrs_Loop` compute them.
fn flatten_schemas(list: &Value) -> (Vec<String>, Vec<String>) {
    let by_id = |id: &str| resources(list).iter().find(|s| s["id"] == id);
    let attributes = |s: Option<&Value>| -> Vec<Value> {
        s.and_then(|s| s["attributes"].as_array().cloned())
            .unwrap_or_default()
    };
    let mut user = Vec::new();
    flatten(&attributes(by_id(USER_SCHEMA)), &mut user);
    if let Some(ent) = by_id(ENTERPRISE) {
        for a in attributes(Some(ent)) {
            user.push(format!(
                "{}:{}",
                la_string(&ent["id"]),
                la_string(&a["name"])
            ));
        }
    }
    let mut group = Vec::new();
    flatten(&attributes(by_id(GROUP_SCHEMA)), &mut group);
    (user, group)
}

fn flatten(attributes: &[Value], out: &mut Vec<String>) {
    for a in attributes {
        let name = la_string(&a["name"]);
        let subs = a["subAttributes"].as_array().cloned().unwrap_or_default();
        let sub_name = |s: &Value| la_string(&s["name"]);
        if name == "manager" || name == "members" {
            out.push(name);
        } else if a["type"] == "complex" && a["multiValued"] == true {
            let ty = subs.iter().find(|s| s["name"] == "type");
            let canonical = ty
                .and_then(|t| t["canonicalValues"].as_array())
                .filter(|cv| !cv.is_empty());
            match canonical {
                Some(values) => {
                    for cv in values {
                        for s in subs
                            .iter()
                            .filter(|s| s["name"] != "type" && s["name"] != "primary")
                        {
                            out.push(format!(
                                "{name}[type eq \"{}\"].{}",
                                la_string(cv),
                                sub_name(s)
                            ));
                        }
                    }
                }
                None => {
                    for s in subs.iter().filter(|s| s["name"] != "primary") {
                        out.push(format!("{name}[primary eq \"True\"].{}", sub_name(s)));
                    }
                }
            }
        } else if a["type"] == "complex" {
            for s in subs
                .iter()
                .filter(|s| s["type"] != "complex" && s["type"] != "reference")
            {
                out.push(format!("{name}.{}", sub_name(s)));
            }
        } else if a["type"] != "reference" {
            out.push(name);
        }
    }
}

/// The Entra target attributes (but `id`) that the flattened names do not hold, compared as
/// `'|'`-delimited lower-case strings.
fn missing(targets: &[Value], flattened: &[String]) -> Vec<String> {
    let lookup = format!("|{}|", flattened.join("|")).to_lowercase();
    targets
        .iter()
        .map(|a| la_string(&a["name"]))
        .filter(|name| name != "id" && !lookup.contains(&format!("|{name}|").to_lowercase()))
        .collect()
}

async fn schema_discoverability(scim: &Scim, _: &Init) -> Outcome {
    let la = LogicApp::new(scim);
    let r = la.get("SCIM_Get_Schemas", "/Schemas").await?;
    ensure(r.status == 200, || {
        format!("Action: SCIM_Get_Schemas - HTTP {}", r.status)
    })?;
    ensure(!resources(&r.body).is_empty(), || {
        "Action: SCIM_Get_Schemas - endpoint returned no schemas".into()
    })?;
    let (user, group) = flatten_schemas(&r.body);
    let missing_user = missing(targets("user"), &user);
    let missing_group = missing(targets("group"), &group);
    ensure(missing_user.is_empty() && missing_group.is_empty(), || {
        format!(
            "Action: Compose_Schema_Discoverability_Summary - Missing user attrs: {missing_user:?} \
             | Missing group attrs: {missing_group:?} (flattened user attributes: {user:?}; \
             group: {group:?})"
        )
    })
}

// --- UserTests_Workflow

/// Create_User_Test: the precheck, Entra's create, then the filter until the user is found.
async fn create_user(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = users_where(&init.create_user);
    la.get("Create_User_Initial_Verify_User_Exists", &path)
        .await?;
    let graph = standard_graph_user(
        init.index,
        &init.create_user,
        &init.create_user_nickname,
        &init.create_user_mail,
        &init.create_user,
    );
    let id = entra.create_user(&graph).await?;
    let r = la
        .poll("SCIM_Query_Created_User", &path, |b| {
            !resources(b).is_empty()
        })
        .await?;
    ensure(!resources(&r.body).is_empty(), || {
        format!("SCIM_Query_Created_User found no user: {}", r.body)
    })?;
    // Cleanup: the Graph delete, which Entra provisions as a soft delete.
    entra.set_active(&id, false).await
}

/// The value a target has in a SCIM user as Update_User_Test reads it.
fn update_test_actual(target: &str, body: &Value) -> Value {
    if target.contains("[type eq") {
        let ty = quoted(target).to_lowercase();
        let element = body[head(target, '[')].as_array().and_then(|items| {
            items
                .iter()
                .find(|e| la_string(&e["type"]).to_lowercase() == ty)
        });
        let leaf = if target.contains("].") {
            last(target, '.')
        } else {
            "value"
        };
        element.map_or(Value::Null, |e| e[leaf].clone())
    } else if target.contains('.') && !target.contains(':') {
        body[head(target, '.')][last(target, '.')].clone()
    } else {
        let leaf = last(last(target, ':'), '.');
        match &body[ENTERPRISE][leaf] {
            Value::Null => body[leaf].clone(),
            v => v.clone(),
        }
    }
}

/// Update_User_Test: Entra creates `userBody`'s user, then updates it to `updateUserBody`; the
/// user is found by id with the new userName and every mapped attribute holds the new value.
async fn update_user(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = users_where(&init.update_user);
    la.get("Update_User_-_Initial_Verify_User_Exists", &path)
        .await?;
    let id = entra.create_user(&init.user_body).await?;
    let r = la
        .poll("Update_User_Verify_User_Created", &path, |b| {
            !resources(b).is_empty()
        })
        .await?;
    ensure(!resources(&r.body).is_empty(), || {
        format!("[Create Phase] user not found: {}", r.body)
    })?;
    // Update phase.
    let r = la.get("Update_User_Query_User_By_Id", &path).await?;
    let scim_id = first_id(&r.body);
    let new = &init.update_user_body;
    entra.update_user(&id, &init.user_body, new).await?;
    let expected_name = new["userPrincipalName"].clone();
    let r = la
        .poll(
            "Update_User_-_Query_User_By_Id_After_Attributes_Update",
            &format!("/Users/{scim_id}"),
            |b| !la_string(&b["id"]).is_empty() && b["userName"] == expected_name,
        )
        .await?;
    ensure(!la_string(&r.body["id"]).is_empty(), || {
        format!(
            "[Update Phase] GET /Users/{scim_id} returned no id: {}",
            r.body
        )
    })?;
    let excluded = ["id", "accountEnabled", "manager", "appRoleAssignments"];
    let mut mismatches = Vec::new();
    for l in USER_LOOKUP
        .iter()
        .filter(|l| !excluded.contains(&l.source.as_str()))
    {
        let expected = match &l.join {
            Some((sources, separator)) => sources
                .iter()
                .map(|s| la_string(&new[s]))
                .collect::<Vec<_>>()
                .join(separator),
            None => graph_value(new, &l.source).unwrap_or_default(),
        };
        let actual = la_string(&update_test_actual(&l.target, &r.body));
        if expected.to_lowercase() != actual.to_lowercase() {
            mismatches.push(format!(
                "{}: expected {expected:?}, got {actual:?}",
                l.target
            ));
        }
    }
    ensure(mismatches.is_empty(), || {
        format!(
            "[Update Phase] attribute mismatches: {mismatches:?}; user: {}",
            r.body
        )
    })?;
    entra.set_active(&id, false).await
}

/// Disable_User_Test: Entra disables the user (`"False"`); the filter finds it with `active`
/// the JSON boolean false.
async fn disable_user(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = users_where(&init.disable_user);
    la.get("DisableUserTest_Disable_Step1_Check_User_Exists", &path)
        .await?;
    let graph = standard_graph_user(
        init.index,
        &init.disable_user,
        &init.disable_user_nickname,
        &init.disable_user,
        &init.disable_user,
    );
    let id = entra.create_user(&graph).await?;
    la.poll(
        "DisableUserTest_Disable_Step3_Fetch_User_By_Filter",
        &path,
        |b| !resources(b).is_empty(),
    )
    .await?;
    la.get("DisableUserTest_Disable_Step4_Query_User_By_Id", &path)
        .await?;
    entra.set_active(&id, false).await?;
    let disabled = |b: &Value| resources(b).first().is_some_and(|u| u["active"] == false);
    let r = la
        .poll(
            "DisableUserTest_Disable_Step6_Check_User_After_Disable",
            &path,
            disabled,
        )
        .await?;
    ensure(disabled(&r.body), || {
        format!("the disabled user is not active:false: {}", r.body)
    })
}

/// Delete_User_Test: Entra's delete (a soft delete, then the purge's DELETE); GET by id is 404.
async fn delete_user(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = users_where(&init.delete_user);
    la.get("DeleteUser_Check_Delete_User_Exists_Initial", &path)
        .await?;
    let graph = standard_graph_user(
        init.index,
        &init.delete_user,
        &init.delete_user_nickname,
        &init.delete_user,
        &init.delete_user,
    );
    let id = entra.create_user(&graph).await?;
    let r = la
        .poll("DeleteUser_Check_User_Synced", &path, |b| {
            !resources(b).is_empty()
        })
        .await?;
    ensure(!resources(&r.body).is_empty(), || {
        format!("[Create Phase] user not found: {}", r.body)
    })?;
    let r = la.get("DeleteUser_Query_User_By_Id", &path).await?;
    let scim_id = first_id(&r.body);
    entra.set_active(&id, false).await?;
    entra.delete_user(&id).await?;
    // DeleteUser_Check_User_Deleted: the one action whose 404 is its success.
    let mut status = 0;
    for _ in 0..POLLS {
        status = send_with_retries(scim, "GET", &format!("/Users/{scim_id}"), None)
            .await
            .status;
        if status == 404 {
            break;
        }
        tokio::time::sleep(POLL_WAIT).await;
    }
    ensure(status == 404, || {
        format!("GET /Users/{scim_id} after the delete answered {status}, not 404")
    })
}

/// User_Update_Manager_Test: Entra sets, changes and removes the enterprise manager (a bare id
/// in `Add`, then `Remove` without a value); the user's filter response shows each.
async fn user_update_manager(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = users_where(&init.manager_user);
    la.get("Step1_Check_User_Exists", &path).await?;
    let user = |upn: &str, nick: &str, display: &str| {
        standard_graph_user(init.index, upn, nick, upn, display)
    };
    let test = entra
        .create_user(&user(
            &init.manager_user,
            &init.manager_user_nickname,
            &init.manager_user,
        ))
        .await?;
    let initial = entra
        .create_user(&user(
            &init.manager_user_initial,
            &init.manager_user_initial_nickname,
            "Initial Manager User",
        ))
        .await?;
    let new = entra
        .create_user(&user(
            &init.manager_user_new,
            &init.manager_user_new_nickname,
            "New Manager User",
        ))
        .await?;
    let found = |b: &Value| !resources(b).is_empty();
    la.poll("SCIM_Query_Test_User", &path, found).await?;
    let r = la
        .poll(
            "SCIM_Query_Initial_Manager",
            &users_where(&init.manager_user_initial),
            found,
        )
        .await?;
    let initial_scim = first_id(&r.body);
    let r = la
        .poll(
            "SCIM_Query_New_Manager",
            &users_where(&init.manager_user_new),
            found,
        )
        .await?;
    let new_scim = first_id(&r.body);
    ensure(!initial_scim.is_empty() && !new_scim.is_empty(), || {
        "[Create Phase] a manager user was not found".into()
    })?;

    let shows =
        |id: String| move |b: &Value| found(b) && !id.is_empty() && b.to_string().contains(&id);
    entra.set_manager(&test, &initial).await?;
    let r = la
        .poll(
            "SCIM_Verify_Manager_Set",
            &path,
            shows(initial_scim.clone()),
        )
        .await?;
    ensure(shows(initial_scim.clone())(&r.body), || {
        format!("[Set Manager Phase] the manager's id is not in {}", r.body)
    })?;

    entra.set_manager(&test, &new).await?;
    let r = la
        .poll("SCIM_Verify_Manager_Change", &path, shows(new_scim.clone()))
        .await?;
    ensure(shows(new_scim.clone())(&r.body), || {
        format!(
            "[Change Manager Phase] the new manager's id is not in {}",
            r.body
        )
    })?;

    entra.remove_manager(&test).await?;
    let removed = |b: &Value| {
        found(b)
            && (!b.to_string().contains("manager")
                || la_string(&resources(b)[0][ENTERPRISE]["manager"]["value"]).is_empty())
    };
    let r = la
        .poll("SCIM_Verify_Manager_Remove", &path, removed)
        .await?;
    ensure(removed(&r.body), || {
        format!(
            "[Remove Manager Phase] the manager is still set: {}",
            r.body
        )
    })?;
    for id in [test, initial, new] {
        entra.set_active(&id, false).await?;
    }
    Ok(())
}

/// Restore_User_Test: unassigned, the user stays findable with `active` false; assigned again,
/// it is active under the same id.
async fn restore_user(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = users_where(&init.restore_user);
    la.get("RestoreUserTest_SCIM_Pre_Check", &path).await?;
    let graph = standard_graph_user(
        init.index,
        &init.restore_user,
        &init.restore_user_nickname,
        &init.restore_user_mail,
        &init.restore_user,
    );
    let id = entra.create_user(&graph).await?;
    let one = |b: &Value| b["totalResults"] == 1;
    let r = la
        .poll("RestoreUserTest_SCIM_Get_Create", &path, one)
        .await?;
    ensure(one(&r.body), || {
        format!("[Create Phase] totalResults is not 1: {}", r.body)
    })?;
    let original = first_id(&r.body);

    entra.set_active(&id, false).await?;
    let inactive = |b: &Value| resources(b).first().is_some_and(|u| u["active"] == false);
    let r = la
        .poll("RestoreUserTest_SCIM_Get_Deprovision", &path, inactive)
        .await?;
    ensure(inactive(&r.body), || {
        format!(
            "[Deprovision Phase] the user is not findable with active:false: {}",
            r.body
        )
    })?;

    entra.set_active(&id, true).await?;
    let active = |b: &Value| {
        b["totalResults"].as_u64().unwrap_or(0) >= 1
            && resources(b).first().is_some_and(|u| u["active"] == true)
    };
    let r = la
        .poll("RestoreUserTest_SCIM_Get_Restore", &path, active)
        .await?;
    let restored = first_id(&r.body);
    ensure(
        active(&r.body) && !restored.is_empty() && restored == original,
        || {
            format!(
                "[Restore Phase] expected the user {original} active again, got {}",
                r.body
            )
        },
    )?;
    entra.set_active(&id, false).await
}

/// POD_User_Test: provision on demand, one filter GET, then the Logic App's own DELETE.
async fn pod_user(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let upn = format!("poduser{}@{DOMAIN}", hex8());
    let graph = standard_graph_user(
        init.index,
        &upn,
        &format!("poduser{}", hex8()),
        &format!("poduser{}@{DOMAIN}", hex8()),
        &format!("PODTestUser_{}", hex8()),
    );
    let path = users_where(&upn);
    la.get("POD_SCIM_Pre_Check_User", &path).await?;
    entra.create_user(&graph).await?;
    let r = la.get("POD_SCIM_Get_User", &path).await?;
    let found = !resources(&r.body).is_empty();
    let id = match first_id(&r.body) {
        id if id.is_empty() => "not-found".to_string(),
        id => id,
    };
    la.call(
        "POD_User_Cleanup_SCIM_Delete",
        "DELETE",
        &format!("/Users/{id}"),
        None,
    )
    .await?;
    ensure(found, || {
        format!("POD_SCIM_Get_User found no user: {}", r.body)
    })
}

// --- GroupTests_Workflow

/// Create_Group_Test: a display name with parentheses, sent raw in the filter.
async fn create_group(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = groups_where(&init.create_group);
    la.get("Create_Group_Initial_Verify_Group_Exists", &path)
        .await?;
    let id = entra.create_group(&init.create_group).await?;
    let r = la
        .poll("Create_Group_Query_Create_Group", &path, |b| {
            !resources(b).is_empty()
        })
        .await?;
    ensure(!resources(&r.body).is_empty(), || {
        format!("Create_Group_Query_Create_Group found no group: {}", r.body)
    })?;
    entra.delete_group(&id).await
}

/// Update_Group_Test: Entra renames the group; the new name finds it.
async fn update_group(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = groups_where(&init.update_group);
    la.get("Update_Group_Initial_Verify_Group_Exists", &path)
        .await?;
    let id = entra.create_group(&init.update_group).await?;
    let r = la
        .poll("Update_Group_Check_Group_Create", &path, |b| {
            !resources(b).is_empty()
        })
        .await?;
    ensure(!resources(&r.body).is_empty(), || {
        format!("[Create Phase] group not found: {}", r.body)
    })?;
    la.get("Update_Group_Query_Group_By_Id", &path).await?;
    let modified = format!("{}-Modified", init.update_group);
    entra.rename_group(&id, &modified).await?;
    let renamed = |b: &Value| !resources(b).is_empty() && b.to_string().contains("-Modified");
    let r = la
        .poll(
            "Update_Group_Query_Group_By_Id_After_Attributes_Update",
            &groups_where(&modified),
            renamed,
        )
        .await?;
    ensure(renamed(&r.body), || {
        format!("[Update Phase] {modified} not found: {}", r.body)
    })?;
    entra.delete_group(&id).await
}

/// Delete_Group_Test: after Entra's DELETE the filter finds nothing.
async fn delete_group(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let path = groups_where(&init.delete_group);
    la.get("Delete_Step1_Check_Group_Exists", &path).await?;
    let id = entra.create_group(&init.delete_group).await?;
    let r = la
        .poll("Delete_Step3_Fetch_Group_By_Filter", &path, |b| {
            !resources(b).is_empty()
        })
        .await?;
    ensure(!resources(&r.body).is_empty(), || {
        format!("[Create Phase] group not found: {}", r.body)
    })?;
    la.get("Delete_Step4_Query_Group_By_Id", &path).await?;
    entra.delete_group(&id).await?;
    let gone = |b: &Value| resources(b).is_empty();
    let r = la
        .poll("Delete_Step6_Check_Group_Exists_Final", &path, gone)
        .await?;
    ensure(gone(&r.body), || {
        format!("[Delete Phase] the group is still found: {}", r.body)
    })
}

/// A member user of the group tests: mailNickname is the UPN's local part without dots.
fn member_graph_user(init: &Init, upn: &str, mail: &str) -> Value {
    let nickname = head(upn, '@').replace('.', "");
    standard_graph_user(init.index, upn, &nickname, mail, upn)
}

/// Group_Update_Add_Member_Test: after Entra's `Add` of a member, the group's filter response
/// lists the user's id in `members`.
async fn group_update_add_member(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let group_path = groups_where(&init.member_group);
    let user_path = users_where(&init.member_user1);
    la.get("Add_Step1_Check_Group_Exists", &group_path).await?;
    let user = member_graph_user(init, &init.member_user1, &init.member_user1_mail);
    let uid = entra.create_user(&user).await?;
    let gid = entra.create_group(&init.member_group).await?;
    let found = |b: &Value| !resources(b).is_empty();
    let groups = la
        .poll("Add_Step4_Check_Group_And_User", &group_path, found)
        .await?;
    let users = la.poll("Add_Step4_Check_User", &user_path, found).await?;
    ensure(found(&groups.body) && found(&users.body), || {
        "[Create Phase] the group or the user was not found".into()
    })?;
    let user_scim = first_id(&users.body);

    entra.add_member(&gid, &uid).await?;
    let listed = |b: &Value| {
        resources(b).first().is_some_and(|g| {
            g["members"].as_array().is_some_and(|m| !m.is_empty())
                && g["members"].to_string().contains(&user_scim)
        })
    };
    let r = la
        .poll("Add_Step6_Query_Group_With_Members", &group_path, listed)
        .await?;
    let last_get = la.get("Add_Step7_Query_Group_By_Id", &group_path).await?;
    ensure(listed(&r.body) && found(&last_get.body), || {
        format!(
            "[Update Phase] the group's filter response does not list member {user_scim}: {}",
            r.body
        )
    })?;
    entra.set_active(&uid, false).await?;
    entra.delete_group(&gid).await
}

/// Group_Update_Remove_Member_Test: a group created with a member; after Entra's `Remove` with
/// a value list, the group's filter response no longer holds the user's id.
async fn group_update_remove_member(scim: &Scim, init: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let name = format!("{}-Remove", init.member_group);
    let group_path = groups_where(&name);
    let user_path = users_where(&init.member_user2);
    la.get("Remove_Step1_Check_Group_Exists", &group_path)
        .await?;
    let user = member_graph_user(init, &init.member_user2, &init.member_user2_mail);
    let uid = entra.create_user(&user).await?;
    let gid = entra.create_group(&name).await?;
    entra.add_member(&gid, &uid).await?;
    let found = |b: &Value| !resources(b).is_empty();
    let users = la
        .poll("Remove_Step4b_Check_User", &user_path, found)
        .await?;
    let user_scim = first_id(&users.body);
    let holds = |b: &Value| found(b) && !user_scim.is_empty() && b.to_string().contains(&user_scim);
    let r = la
        .poll("Remove_Step4a_Check_Group_With_Member", &group_path, holds)
        .await?;
    ensure(holds(&r.body), || {
        format!(
            "[Create Phase] the group does not list its member: {}",
            r.body
        )
    })?;

    entra.remove_member(&gid, &uid).await?;
    let dropped = |b: &Value| found(b) && !b.to_string().contains(&user_scim);
    let r = la
        .poll(
            "Remove_Step6_Query_Group_After_Remove",
            &group_path,
            dropped,
        )
        .await?;
    la.get("Remove_Step7_Query_Group_By_Id", &group_path)
        .await?;
    ensure(dropped(&r.body), || {
        format!(
            "[Update Phase] the removed member is still listed: {}",
            r.body
        )
    })?;
    entra.set_active(&uid, false).await?;
    entra.delete_group(&gid).await
}

/// POD_Group_Test: provision on demand, one filter GET, then the Logic App's own DELETE.
async fn pod_group(scim: &Scim, _: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    let name = format!("PODTestGroup_{}", hex8());
    let path = groups_where(&name);
    la.get("POD_SCIM_Pre_Check_Group", &path).await?;
    entra.create_group(&name).await?;
    let r = la.get("POD_SCIM_Get_Group", &path).await?;
    let found = !resources(&r.body).is_empty();
    let id = match first_id(&r.body) {
        id if id.is_empty() => "not-found".to_string(),
        id => id,
    };
    la.call(
        "POD_Group_Cleanup_SCIM_Delete",
        "DELETE",
        &format!("/Groups/{id}"),
        None,
    )
    .await?;
    ensure(found, || {
        format!("POD_SCIM_Get_Group found no group: {}", r.body)
    })
}

/// Restore_Group_Test: the precheck filters on `displayName eq ""` (the workflow never names the
/// group); unassigned, Entra deletes the group; assigned again, it creates it anew.
async fn restore_group(scim: &Scim, _: &Init) -> Outcome {
    let (la, entra) = (LogicApp::new(scim), Entra::new(scim));
    la.get("RestoreGroupTest_SCIM_Pre_Check", &groups_where(""))
        .await?;
    let name = format!("RestoreGrp-{}", hex8());
    // `encodeUriComponent` of the name: it has nothing to encode.
    let path = groups_where(&enc(&name));
    let id = entra.create_group(&name).await?;
    let found = |b: &Value| !resources(b).is_empty();
    let r = la
        .poll("RestoreGroupTest_SCIM_Check_Created", &path, found)
        .await?;
    ensure(found(&r.body), || {
        format!("[Phase 1] group not found: {}", r.body)
    })?;
    entra.delete_group(&id).await?;
    let gone = |b: &Value| resources(b).is_empty();
    let r = la
        .poll("RestoreGroupTest_SCIM_Check_Gone", &path, gone)
        .await?;
    ensure(gone(&r.body), || {
        format!("[Phase 2] the unassigned group is still found: {}", r.body)
    })?;
    let id = entra.create_group(&name).await?;
    let r = la
        .poll("RestoreGroupTest_SCIM_Check_Restored", &path, found)
        .await?;
    ensure(found(&r.body), || {
        format!("[Phase 3] the reassigned group is not found: {}", r.body)
    })?;
    entra.delete_group(&id).await
}

// --- SCIMTests_Workflow: the direct tests

/// The two PATCH bodies of the direct tests: verbose (one operation per attribute) when the job
/// has a `PatchBodyFormat` setting, else the `[`-paths as operations and one path-less
/// `replace` of every other attribute (dotted and URN-qualified keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Verbose,
    NonVerbose,
}

fn patch_body(shape: Shape, ops: &[(String, Value)]) -> Value {
    let op = |path: &String, value: &Value| json!({"op": "replace", "path": path, "value": value});
    let operations: Vec<Value> = match shape {
        Shape::Verbose => ops.iter().map(|(p, v)| op(p, v)).collect(),
        Shape::NonVerbose => {
            let mut out: Vec<Value> = ops
                .iter()
                .filter(|(p, _)| p.contains('['))
                .map(|(p, v)| op(p, v))
                .collect();
            let batch: Map<String, Value> = ops
                .iter()
                .filter(|(p, _)| !p.contains('['))
                .map(|(p, v)| {
                    // Built by string concatenation: empty strings and nulls become null.
                    let v = if v.is_null() || la_string(v).is_empty() {
                        Value::Null
                    } else {
                        v.clone()
                    };
                    (p.clone(), v)
                })
                .collect();
            if !batch.is_empty() {
                out.push(json!({"op": "replace", "value": batch}));
            }
            out
        }
    };
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// The phase-1 PATCH of the null test in the non-verbose shape keeps `""` in its batch
/// (`Select_Null_Batch_KeyValues` writes `"key":""`), unlike the update test's.
fn null_phase1_body(shape: Shape, targets: &[&Lookup]) -> Value {
    let ops: Vec<Value> = match shape {
        Shape::Verbose => targets
            .iter()
            .map(|l| json!({"op": "replace", "path": l.target, "value": ""}))
            .collect(),
        Shape::NonVerbose => {
            let mut out: Vec<Value> = targets
                .iter()
                .filter(|l| l.target.contains('['))
                .map(|l| json!({"op": "replace", "path": l.target, "value": ""}))
                .collect();
            let batch: Map<String, Value> = targets
                .iter()
                .filter(|l| !l.target.contains('['))
                .map(|l| (l.target.clone(), json!("")))
                .collect();
            if !batch.is_empty() {
                out.push(json!({"op": "replace", "value": batch}));
            }
            out
        }
    };
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn scim_null_update(scim: &Scim, init: &Init) -> Outcome {
    let (verbose, non_verbose) = tokio::join!(
        scim_null_update_in(scim, init, Shape::Verbose),
        scim_null_update_in(scim, init, Shape::NonVerbose),
    );
    verbose.and(non_verbose)
}

/// SCIM_Null_Update_Test: every optional mapped attribute replaced with `""`, then with `null`;
/// after `null` every attribute not under a `[` path is absent.
async fn scim_null_update_in(scim: &Scim, init: &Init, shape: Shape) -> Outcome {
    let la = LogicApp::new(scim);
    let u = format!("scnull{}", hex8());
    let domain = last(
        la_string(&init.user_body["userPrincipalName"]).as_str(),
        '@',
    )
    .to_string();
    let mut body = TargetBody::new(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": format!("{u}@{domain}"),
        "active": true,
        "externalId": u,
    }));
    for l in USER_LOOKUP.iter() {
        if l.source == "manager"
            || ["userName", "active", "externalId", "roles"].contains(&l.target.as_str())
        {
            continue;
        }
        let value =
            graph_value(&init.user_body, &l.source).unwrap_or_else(|| format!("Test{}", hex(6)));
        body.place(&l.target, json!(value));
    }
    let created = la
        .call(
            "SCIM_Create_Null_Test_User",
            "POST",
            "/Users",
            Some(&body.finish()),
        )
        .await?;
    let id = la_string(&created.body["id"]);
    ensure(!id.is_empty(), || "the created user has no id".into())?;
    let user_path = format!("/Users/{id}");
    let result = async {
        la.get("SCIM_Get_User_Before_Null_Update", &user_path)
            .await?;
        let schemas = la.get("SCIM_Get_Schemas_For_Null_Test", "/Schemas").await?;
        let required = |schema: &str| -> Vec<String> {
            resources(&schemas.body)
                .iter()
                .filter(|s| s["id"] == schema)
                .flat_map(|s| s["attributes"].as_array().cloned().unwrap_or_default())
                .filter(|a| a["required"] == true)
                .map(|a| la_string(&a["name"]))
                .collect()
        };
        let (core_required, ext_required) = (required(USER_SCHEMA), required(ENTERPRISE));
        let ext_prefix = format!("{ENTERPRISE}:");
        let target_set: Vec<&Lookup> = USER_LOOKUP
            .iter()
            .filter(|l| {
                let t = l.target.as_str();
                let required = if t.starts_with(&ext_prefix) {
                    ext_required.iter().any(|n| n == last(t, ':'))
                } else {
                    let base = if t.contains('[') {
                        head(t, '[')
                    } else {
                        head(t, '.')
                    };
                    core_required.iter().any(|n| n == base)
                };
                l.matching_precedence == 0
                    && !l.target_type.to_lowercase().contains("reference")
                    && !["userName", "active", "externalId", "roles"].contains(&t)
                    && !required
            })
            .collect();

        // Phase 1: "".
        let r = la
            .call(
                "SCIM_Patch_Null_Update",
                "PATCH",
                &user_path,
                Some(&null_phase1_body(shape, &target_set)),
            )
            .await?;
        ensure(r.status == 200 || r.status == 204, || {
            format!("phase 1 PATCH answered {}", r.status)
        })?;
        let after = la
            .get("SCIM_Get_User_After_Null_Update", &user_path)
            .await?
            .body;
        let mut failed: Vec<String> = Vec::new();
        for l in &target_set {
            let t = l.target.as_str();
            let actual = if t.contains("[type eq") {
                let ty = quoted(t).to_lowercase();
                let element = after[head(t, '[')].as_array().and_then(|items| {
                    items
                        .iter()
                        .find(|e| la_string(&e["type"]).to_lowercase() == ty)
                });
                let leaf = if t.contains("].") {
                    last(t, '.')
                } else {
                    "value"
                };
                element.map_or(Value::Null, |e| e[leaf].clone())
            } else if t.contains('.') && !t.contains(':') {
                after[head(t, '.')][last(t, '.')].clone()
            } else if t.contains(&ext_prefix) {
                after[ENTERPRISE][last(t, ':')].clone()
            } else {
                after[t].clone()
            };
            if !(actual.is_null() || actual == "") {
                failed.push(format!("{t} = {actual}"));
            }
        }
        ensure(failed.is_empty(), || {
            format!(
                "({shape:?}) Action: Compose_SCIM_Null_Update_Summary - null update verification \
                 failed after \"\": {failed:?}; user: {after}"
            )
        })?;

        // Phase 2: null.
        let ops: Vec<(String, Value)> = target_set
            .iter()
            .map(|l| (l.target.clone(), Value::Null))
            .collect();
        let r = la
            .call(
                "SCIM_Patch_Null_Update_Phase2",
                "PATCH",
                &user_path,
                Some(&patch_body(shape, &ops)),
            )
            .await?;
        ensure(r.status == 200 || r.status == 204, || {
            format!("phase 2 PATCH answered {}", r.status)
        })?;
        let after = la
            .get("SCIM_Get_User_After_Null_Phase2", &user_path)
            .await?
            .body;
        let mut failed: Vec<String> = Vec::new();
        for l in &target_set {
            let t = l.target.as_str();
            let actual = if t.contains('[') {
                Value::Null
            } else if t.contains('.') && !t.contains(':') {
                after[head(t, '.')][last(t, '.')].clone()
            } else if t.starts_with("urn:") {
                let (ns, leaf) = t.rsplit_once(':').expect("URN");
                after[ns][leaf].clone()
            } else {
                after[t].clone()
            };
            if !actual.is_null() {
                failed.push(format!("{t} = {actual}"));
            }
        }
        ensure(failed.is_empty(), || {
            format!(
                "({shape:?}) Action: Compose_SCIM_Null_Update_Summary - null update verification \
                 failed after null: {failed:?}; user: {after}"
            )
        })
    }
    .await;
    let cleanup = la
        .call("SCIM_Delete_Null_Test_User", "DELETE", &user_path, None)
        .await
        .map(drop);
    first(result, cleanup)
}

/// SCIM_User_Create_Test: POST `scimUserBody`; the answer has an id and the same userName.
async fn scim_user_create(scim: &Scim, init: &Init) -> Outcome {
    let la = LogicApp::new(scim);
    let mut body = init.scim_user_body.clone();
    body["userName"] = json!(init.scim_direct_user);
    let r = la
        .call("SCIM_Direct_Create_User", "POST", "/Users", Some(&body))
        .await?;
    let id = la_string(&r.body["id"]);
    let result = ensure(
        [200, 201].contains(&r.status) && !id.is_empty() && r.body["userName"] == body["userName"],
        || {
            format!(
                "Action: SCIM_Direct_Create_User - HTTP {}: id {id:?}, userName {} for {}",
                r.status, r.body["userName"], body["userName"]
            )
        },
    );
    if id.is_empty() {
        return result;
    }
    let cleanup = la
        .call(
            "SCIM_Delete_Direct_Test_User",
            "DELETE",
            &format!("/Users/{id}"),
            None,
        )
        .await
        .map(drop);
    first(result, cleanup)
}

/// SCIM_Group_Create_Test: POST a group; the answer has an id and the same displayName.
async fn scim_group_create(scim: &Scim, init: &Init) -> Outcome {
    let la = LogicApp::new(scim);
    let body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": init.scim_direct_group,
        "externalId": hex8(),
    });
    let r = la
        .call("SCIM_Direct_Create_Group", "POST", "/Groups", Some(&body))
        .await?;
    let id = la_string(&r.body["id"]);
    let result = ensure(
        [200, 201].contains(&r.status)
            && !id.is_empty()
            && r.body["displayName"] == body["displayName"],
        || {
            format!(
                "Action: SCIM_Direct_Create_Group - HTTP {}: {}",
                r.status, r.body
            )
        },
    );
    if id.is_empty() {
        return result;
    }
    let cleanup = la
        .call(
            "SCIM_Delete_Direct_Test_Group",
            "DELETE",
            &format!("/Groups/{id}"),
            None,
        )
        .await
        .map(drop);
    first(result, cleanup)
}

async fn scim_user_update(scim: &Scim, init: &Init) -> Outcome {
    let (verbose, non_verbose) = tokio::join!(
        scim_user_update_in(scim, init, Shape::Verbose),
        scim_user_update_in(scim, init, Shape::NonVerbose),
    );
    verbose.and(non_verbose)
}

/// The value a path has in a resource as the direct update tests compare it, and whether it
/// matches what was sent: `[`-paths by substring of the serialized parent array.
fn update_matches(path: &str, sent: &Value, body: &Value) -> bool {
    let sent = la_string(sent);
    if path.contains('[') {
        let parent = &body[head(path, '[')];
        let got = if parent.is_null() {
            "[]".to_string()
        } else {
            la_string(parent)
        };
        got.contains(&sent)
    } else if path.starts_with("urn:") {
        let (ns, leaf) = path.rsplit_once(':').expect("URN");
        la_string(&body[ns][leaf]) == sent
    } else if path.contains('.') {
        la_string(&body[head(path, '.')][last(path, '.')]) == sent
    } else {
        la_string(&body[path]) == sent
    }
}

/// SCIM_User_Update_Test: one `replace` of every single-valued, writable, string-like Entra
/// target attribute (userName, externalId, emails, phones and addresses get non-email,
/// non-phone `upd-…` values); GET shows each exactly.
async fn scim_user_update_in(scim: &Scim, init: &Init, shape: Shape) -> Outcome {
    let la = LogicApp::new(scim);
    let mut body = init.scim_user_body.clone();
    body["userName"] = json!(format!("lasupduser{}@{DOMAIN}", hex8()));
    let r = la
        .call("SCIM_Update_Create_User", "POST", "/Users", Some(&body))
        .await?;
    let id = la_string(&r.body["id"]);
    ensure(!id.is_empty(), || "the created user has no id".into())?;
    let values = target_values(1);
    let ops: Vec<(String, Value)> = targets("user")
        .iter()
        .filter(|a| {
            let name = la_string(&a["name"]);
            let ty = la_string(&a["type"]).to_lowercase();
            let mutability = la_string(&a["mutability"]).to_lowercase();
            a["multivalued"] != true
                && (mutability.is_empty() || mutability == "readwrite" || mutability == "writeonly")
                && !ty.contains("reference")
                && ty != "boolean"
                && !["id", "schemas", "meta", "active", "groups", "roles"].contains(&name.as_str())
                && ["string", "integer", "datetime"].contains(&ty.as_str())
        })
        .map(|a| {
            let name = la_string(&a["name"]);
            let value = match values.get(&name) {
                Some(v) => v.clone(),
                None => json!(format!("upd-{}", hex8())),
            };
            (name, value)
        })
        .collect();
    let user_path = format!("/Users/{id}");
    let result = async {
        let r = la
            .call(
                "SCIM_Update_Patch_User",
                "PATCH",
                &user_path,
                Some(&patch_body(shape, &ops)),
            )
            .await?;
        ensure(r.status == 200 || r.status == 204, || {
            format!("PATCH answered {}", r.status)
        })?;
        let got = la.get("SCIM_Update_Get_User", &user_path).await?.body;
        let mismatches: Vec<&String> = ops
            .iter()
            .filter(|(path, sent)| !update_matches(path, sent, &got))
            .map(|(path, _)| path)
            .collect();
        ensure(mismatches.is_empty(), || {
            format!(
                "({shape:?}) Action: SCIM_Update_Patch_User - Mismatches={}: {mismatches:?}; \
                 user: {got}",
                mismatches.len()
            )
        })
    }
    .await;
    let cleanup = la
        .call("SCIM_Delete_Update_Test_User", "DELETE", &user_path, None)
        .await
        .map(drop);
    first(result, cleanup)
}

/// SCIM_Group_Update_Test: `replace` of displayName and externalId (always verbose).
async fn scim_group_update(scim: &Scim, _: &Init) -> Outcome {
    let la = LogicApp::new(scim);
    let body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": format!("LASUpdGroup-{}", hex8()),
        "externalId": hex8(),
    });
    let r = la
        .call(
            "SCIM_GroupUpdate_Create_Group",
            "POST",
            "/Groups",
            Some(&body),
        )
        .await?;
    let id = la_string(&r.body["id"]);
    ensure(!id.is_empty(), || "the created group has no id".into())?;
    let ops: Vec<(String, Value)> = targets("group")
        .iter()
        .filter(|a| {
            let ty = la_string(&a["type"]).to_lowercase();
            let mutability = la_string(&a["mutability"]).to_lowercase();
            a["multivalued"] != true
                && (mutability.is_empty() || mutability == "readwrite" || mutability == "writeonly")
                && !ty.contains("reference")
                && ty != "boolean"
                && a["name"] != "id"
        })
        .map(|a| (la_string(&a["name"]), json!(format!("upd-{}", hex8()))))
        .collect();
    let group_path = format!("/Groups/{id}");
    let result = async {
        let r = la
            .call(
                "SCIM_GroupUpdate_Patch_Group",
                "PATCH",
                &group_path,
                Some(&patch_body(Shape::Verbose, &ops)),
            )
            .await?;
        ensure(r.status == 200 || r.status == 204, || {
            format!("PATCH answered {}", r.status)
        })?;
        let got = la
            .get("SCIM_GroupUpdate_Get_Group", &group_path)
            .await?
            .body;
        let mismatches: Vec<&String> = ops
            .iter()
            .filter(|(path, sent)| la_string(&got[path.as_str()]) != la_string(sent))
            .map(|(path, _)| path)
            .collect();
        ensure(mismatches.is_empty(), || {
            format!(
                "Mismatches={}: {mismatches:?}; group: {got}",
                mismatches.len()
            )
        })
    }
    .await;
    let cleanup = la
        .call("SCIM_Delete_Update_Test_Group", "DELETE", &group_path, None)
        .await
        .map(drop);
    first(result, cleanup)
}

async fn scim_user_pagination(scim: &Scim, init: &Init) -> Outcome {
    let base = init.scim_user_body.clone();
    paginate(scim, "Users", "SCIM_User_Pagination", move || {
        let mut body = base.clone();
        body["userName"] = json!(format!("paguser{}@{DOMAIN}", hex8()));
        body["displayName"] = json!(format!("PagUser {}", hex8()));
        body
    })
    .await
}

async fn scim_group_pagination(scim: &Scim, _: &Init) -> Outcome {
    paginate(scim, "Groups", "SCIM_Group_Pagination", || {
        json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": format!("PagGroup {}", hex8()),
            "externalId": hex8(),
        })
    })
    .await
}

/// SCIM_User_Pagination_Test / SCIM_Group_Pagination_Test: at least 11 resources, then pages of
/// `count=5` from `startIndex=1`, each echoing the startIndex asked for, next page while
/// `startIndex + len(Resources) <= totalResults`; at least two pages.
async fn paginate(scim: &Scim, endpoint: &str, action: &str, body: impl Fn() -> Value) -> Outcome {
    let la = LogicApp::new(scim);
    let first_page = format!("/{endpoint}?startIndex=1&count=5");
    let r = la
        .get(&format!("{action}_Check_Count"), &first_page)
        .await?;
    let total = r.body["totalResults"].as_u64().unwrap_or(0);
    let to_create = 11u64.saturating_sub(total) as usize;
    // ForEach with concurrency 5; a failed create fails the ForEach, paging still runs.
    let mut created: Vec<String> = Vec::new();
    let mut setup: Outcome = Ok(());
    let bodies: Vec<Value> = (0..to_create).map(|_| body()).collect();
    for chunk in bodies.chunks(5) {
        let mut tasks = tokio::task::JoinSet::new();
        for b in chunk {
            let (scim, path, b) = (scim.clone(), format!("/{endpoint}"), b.clone());
            tasks.spawn(async move { send_with_retries(&scim, "POST", &path, Some(&b)).await });
        }
        while let Some(r) = tasks.join_next().await {
            let r = r.expect("create task");
            if !is_2xx(&r) && setup.is_ok() {
                setup = Err(Failure::Action {
                    action: format!("{action}_Create"),
                    status: r.status,
                    body: r.body.to_string(),
                });
            }
            created.push(la_string(&r.body["id"]));
        }
    }

    let mut url = first_page;
    let mut pages: Vec<String> = Vec::new();
    let mut failed_pages: Vec<String> = Vec::new();
    let mut failed_action: Outcome = Ok(());
    let mut page_count = 0u64;
    let mut iterations = 0;
    while page_count < 10 && !url.is_empty() && iterations < 20 {
        iterations += 1;
        let r = send_with_retries(scim, "GET", &url, None).await;
        if !is_2xx(&r) {
            failed_action = Err(Failure::Action {
                action: format!("{action}_Get_Page"),
                status: r.status,
                body: r.body.to_string(),
            });
        }
        let total = r.body["totalResults"].as_u64().unwrap_or(0);
        let count = resources(&r.body).len() as u64;
        let start = r.body["startIndex"].as_u64();
        let expected = page_count * 5 + 1;
        pages.push(format!(
            "{url} -> {} startIndex {start:?} of {total}, {count} resources",
            r.status
        ));
        if r.status != 200 || start.unwrap_or(0) != expected {
            failed_pages.push(format!("{url}: expected startIndex {expected}"));
        }
        page_count += 1;
        let next = start.unwrap_or(1) + count;
        url = if count > 0 && next <= total {
            format!("/{endpoint}?startIndex={next}&count=5")
        } else {
            String::new()
        };
    }
    let result = ensure(page_count >= 2 && failed_pages.is_empty(), || {
        format!(
            "Action: Filter_{action}_Failed_Pages - Pages={page_count} failedPages={}: {failed_pages:?}; \
             pages: {pages:?}",
            failed_pages.len()
        )
    });

    let mut cleanup: Outcome = Ok(());
    for chunk in created.chunks(5) {
        let mut tasks = tokio::task::JoinSet::new();
        for id in chunk {
            let (scim, path) = (scim.clone(), format!("/{endpoint}/{id}"));
            tasks.spawn(async move { send_with_retries(&scim, "DELETE", &path, None).await });
        }
        while let Some(r) = tasks.join_next().await {
            let r = r.expect("delete task");
            if !is_2xx(&r) && cleanup.is_ok() {
                cleanup = Err(Failure::Action {
                    action: format!("{action}_Delete"),
                    status: r.status,
                    body: r.body.to_string(),
                });
            }
        }
    }
    // Failed actions first: they fail the run whatever the test's category.
    setup.and(failed_action).and(cleanup).and(result)
}

// ------------------------------------------------------------------------------------------
// Tests

/// Microsoft's whole validation against the local server, every test at once. Stricter than
/// Microsoft's verdict: the optional tests must pass too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_passes_every_test_of_the_logic_app() {
    let srv = TestServer::start().await;
    let report = every_test(&srv.client).await;
    report.verdict().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.warnings(),
        Vec::<String>::new(),
        "optional tests failed"
    );
}

/// Two runs of the validation at once against two tenants of one server: neither sees the
/// other's resources. (Two on one tenant would page through each other's deletions: see
/// [`every_test`].)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_on_two_tenants_both_pass() {
    let srv = TestServer::start().await;
    let second = srv.tenant("second-run").await;
    let (a, b) = tokio::join!(every_test(&srv.client), every_test(&second));
    for report in [a, b] {
        report.verdict().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            report.warnings(),
            Vec::<String>::new(),
            "optional tests failed"
        );
    }
}

/// The replay fails a server that refuses what Entra sends: a tenant in the strict dialect
/// answers Entra's `"False"` and its ADSCIM group schema with 400s, which fail the Entra-engine
/// tests, while the direct tests of RFC requests still pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_tenant_fails_the_entra_engine_tests() {
    use scim_shared::tenant::{self, Dialect, TenantSettings};
    let srv = TestServer::start().await;
    let strict = srv.tenant("strict-co").await;
    let settings = TenantSettings {
        dialect: Dialect::Strict,
        ..TenantSettings::default()
    };
    tenant::set_settings(&*srv.store, "strict-co", settings)
        .await
        .expect("set dialect");
    let report = every_test(&strict).await;
    assert!(report.verdict().is_err(), "{report:?}");
    let outcome = |name: &str| {
        &report
            .results
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("test")
            .2
    };
    for name in [
        "Disable_User_Test",
        "Create_Group_Test",
        "User_Update_Manager_Test",
    ] {
        assert!(
            matches!(outcome(name), Err(Failure::Check(m)) if m.contains("Entra provisioning failed")),
            "{name}: {:?}",
            outcome(name)
        );
    }
    for name in [
        "Schema_Discoverability_Test",
        "SCIM_User_Create_Test",
        "SCIM_Group_Update_Test",
    ] {
        assert!(outcome(name).is_ok(), "{name}: {:?}", outcome(name));
    }
}

/// Each scenario on its own, one after another, each with names of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_test_passes_on_its_own() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let mut failed = Vec::new();
    macro_rules! run {
        ($($test:ident),* $(,)?) => {
            $( if let Err(e) = $test(c).await { failed.push(format!("{}: {e}", stringify!($test))); } )*
        };
    }
    run!(
        schema_discoverability_test,
        create_user_test,
        update_user_test,
        disable_user_test,
        delete_user_test,
        user_update_manager_test,
        restore_user_test,
        create_group_test,
        update_group_test,
        delete_group_test,
        group_update_add_member_test,
        group_update_remove_member_test,
        scim_null_update_test,
        scim_user_create_test,
        scim_group_create_test,
        scim_user_update_test,
        scim_group_update_test,
        scim_user_pagination_test,
        scim_group_pagination_test,
        pod_user_test,
        pod_group_test,
        restore_group_test,
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The replay's own checks can fail: the schema flattening reports what a `/Schemas` without
/// `externalId`, with canonical role types or with an upper-case `Complex` type lacks.
#[test]
fn the_schema_check_reports_what_a_schema_lacks() {
    let list = json!({"Resources": [
        {"id": USER_SCHEMA, "attributes": [
            {"name": "userName", "type": "string", "multiValued": false},
            {"name": "emails", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "type", "type": "string", "canonicalValues": ["work"]},
                {"name": "primary", "type": "boolean"}]},
            {"name": "roles", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "type", "type": "string", "canonicalValues": ["admin"]}]},
            {"name": "name", "type": "Complex", "subAttributes": [
                {"name": "givenName", "type": "string"}]},
            {"name": "profileUrl", "type": "reference"}]},
        {"id": ENTERPRISE, "attributes": [{"name": "manager", "type": "complex"}]},
        {"id": GROUP_SCHEMA, "attributes": [{"name": "displayName", "type": "string"},
            {"name": "members", "type": "complex", "multiValued": true}]},
    ]});
    let (user, group) = flatten_schemas(&list);
    assert_eq!(
        user,
        [
            "userName",
            "emails[type eq \"work\"].value",
            "roles[type eq \"admin\"].value",
            "name",
            &format!("{ENTERPRISE}:manager"),
        ]
    );
    assert_eq!(group, ["displayName", "members"]);
    let wanted = [
        json!({"name": "id"}),
        json!({"name": "externalId"}),
        json!({"name": "EMAILS[type eq \"work\"].Value"}),
        json!({"name": "roles[primary eq \"True\"].value"}),
        json!({"name": "name.givenName"}),
        json!({"name": "profileUrl"}),
        json!({"name": format!("{ENTERPRISE}:manager")}),
    ];
    assert_eq!(
        missing(&wanted, &user),
        [
            "externalId",
            "roles[primary eq \"True\"].value",
            "name.givenName",
            "profileUrl"
        ]
    );
}

/// The bodies the replay builds are the Logic App's: the worked example of `scimUserBody`, and
/// Entra's create body of the default mappings.
#[test]
fn the_bodies_follow_the_logic_app_and_the_default_mappings() {
    let body = scim_user_body(0, &in_loop_user_body(0));
    assert_eq!(body["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    assert_eq!(body["displayName"], "SCIM Test User");
    assert_eq!(body["title"], "Test Engineer");
    assert_eq!(body["name"]["formatted"], "TestFirst TestLast");
    assert_eq!(body["emails"][0]["type"], "work");
    assert_eq!(body["emails"][0]["primary"], true);
    assert!(la_string(&body["emails"][0]["value"]).starts_with("lasctest"));
    assert_eq!(body["addresses"][0]["formatted"], "Building A, Floor 3");
    assert_eq!(body["addresses"][0]["postalCode"], "98052");
    assert_eq!(
        body["phoneNumbers"],
        json!([
            {"type": "work", "primary": true, "value": "+1-555-0100"},
            {"type": "mobile", "primary": false, "value": "+1-555-0101"},
            {"type": "fax", "primary": false, "value": "+1-555-0102"},
        ])
    );
    assert_eq!(
        body[ENTERPRISE],
        json!({"employeeNumber": "E12345", "department": "Research"})
    );
    assert!(body.get("externalId").is_none());

    let init = Init::new();
    let user = Entra::scim_user(&init.user_body);
    assert_eq!(user["userName"], init.update_user.as_str());
    assert_eq!(user["active"], true);
    assert_eq!(
        user["emails"],
        json!([{"primary": true, "type": "work", "value": init.update_user}])
    );
    let p = profile(init.index);
    assert_eq!(user["externalId"], p["mailNickname"]);
    assert_eq!(
        la_string(&user["name"]["formatted"]),
        format!(
            "{} {}",
            la_string(&p["givenName"]),
            la_string(&p["surname"])
        )
    );
    assert_eq!(user[ENTERPRISE]["department"], p["department"]);
    let updated = &init.update_user_body;
    assert_eq!(
        updated["userPrincipalName"],
        format!("updated-{}", init.update_user).as_str()
    );
    assert_eq!(
        updated["mailNickname"],
        format!("updated{}", init.update_user_nickname).as_str()
    );
}
