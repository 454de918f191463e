//! template.yaml as the local gateway reads it: the stage, the routes and how each is
//! authorised, the REQUEST authorizer, the gateway responses, every function's binary,
//! environment, timeout and IAM statements, and the stream's event source mapping. CloudFormation
//! expressions (`!Ref`, `!GetAtt`, `!Sub`) are resolved against [`Names`], the names the local
//! stack gives its resources; one the gateway cannot resolve is an error, so a template change
//! the gateway does not understand fails the run instead of being ignored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use super::waf::RateRule;

/// Why template.yaml could not be read as a stack.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("template.yaml: {0}")]
    Shape(String),
    #[error("template.yaml: cannot resolve {0} locally")]
    Unresolved(String),
}

pub(super) fn shape(what: impl Into<String>) -> TemplateError {
    TemplateError::Shape(what.into())
}

/// The values CloudFormation would give the stack's pseudo parameters, parameters and resource
/// attributes, by the name an expression uses (`AWS::Region`, `StageName`, `Table.Arn`).
#[derive(Debug, Clone, Default)]
pub struct Names(BTreeMap<String, String>);

impl Names {
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Result<&str, TemplateError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| TemplateError::Unresolved(name.to_string()))
    }

    /// A value as CloudFormation would render it: scalars as they are, `!Ref X`, `!GetAtt X.Y`
    /// and `!Sub "...${X}..."` from the names.
    pub fn render(&self, v: &Yaml) -> Result<String, TemplateError> {
        match v {
            Yaml::String(s) => Ok(s.clone()),
            Yaml::Bool(b) => Ok(b.to_string()),
            Yaml::Number(n) => Ok(n.to_string()),
            Yaml::Tagged(t) if t.tag == "Ref" || t.tag == "GetAtt" => {
                let name = match &t.value {
                    Yaml::Sequence(parts) => parts
                        .iter()
                        .map(|p| self.render(p))
                        .collect::<Result<Vec<_>, _>>()?
                        .join("."),
                    other => self.render(other)?,
                };
                self.get(&name).map(str::to_string)
            }
            Yaml::Tagged(t) if t.tag == "Sub" => {
                let text = t
                    .value
                    .as_str()
                    .ok_or_else(|| shape("only the one-argument !Sub is supported"))?;
                self.substitute(text)
            }
            other => Err(TemplateError::Unresolved(format!("{other:?}"))),
        }
    }

    fn substitute(&self, text: &str) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| shape(format!("unclosed ${{ in {text}")))?;
            out.push_str(self.get(&after[..end])?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A scalar or a list of scalars, rendered.
    fn strings(&self, v: Option<&Yaml>) -> Result<Vec<String>, TemplateError> {
        match v {
            None => Ok(Vec::new()),
            Some(Yaml::Sequence(items)) => items.iter().map(|i| self.render(i)).collect(),
            Some(one) => Ok(vec![self.render(one)?]),
        }
    }
}

/// How API Gateway authorises a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    /// The API's default authorizer (the tenant's Secret Token).
    Authorizer,
    /// `AWS_IAM`: a SigV4-signed request.
    Iam,
    /// `NONE`: no authorization; the function is invoked for every request (AWS SAM,
    /// `ApiFunctionAuth.Authorizer`: "If you have specified a Global Authorizer on the API and
    /// want to make a specific Function public, override by setting Authorizer to NONE").
    Open,
}

/// One method on one resource path, integrated with a function (Lambda proxy).
#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    /// The resource path with `{name}` parameters, e.g. `/scim/v2/Users/{id}`.
    pub path: String,
    pub binary: String,
    pub auth: RouteAuth,
}

/// The REQUEST authorizer.
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub binary: String,
    /// The identity source headers; a request without them is refused before the function runs.
    pub headers: Vec<String>,
    /// How long an answer is cached per identity source value.
    pub ttl: Duration,
}

/// One of API Gateway's own answers.
#[derive(Debug, Clone)]
pub struct GatewayResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The `application/json` template (`$context.error.messageString` is filled in).
    pub body: String,
}

/// One IAM policy statement of a function's role (Allow only, as the template writes them).
#[derive(Debug, Clone)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// `ForAllValues:StringLike` on `dynamodb:LeadingKeys`, when the statement has it.
    pub leading_keys: Option<Vec<String>>,
}

/// A Lambda function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub binary: String,
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub statements: Vec<Statement>,
}

/// The event source mapping from the table's stream to a function.
#[derive(Debug, Clone)]
pub struct StreamMapping {
    pub binary: String,
    pub batch_size: usize,
    pub max_retries: u32,
    /// `FilterCriteria.Filters[].Pattern`, parsed: a record passes when one matches.
    pub filters: Vec<Json>,
}

/// The stack as the local gateway serves it.
#[derive(Debug, Clone)]
pub struct Stack {
    pub stage: String,
    pub routes: Vec<Route>,
    pub authorizer: Authorizer,
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
    pub functions: BTreeMap<String, FunctionSpec>,
    pub stream: Option<StreamMapping>,
    /// The web ACL's per-token rate rule, when the stack deploys one associated with the API.
    pub rate_rule: Option<RateRule>,
}

pub(super) fn at<'a>(v: &'a Yaml, path: &[&str]) -> Option<&'a Yaml> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

pub(super) fn need<'a>(v: &'a Yaml, path: &[&str], what: &str) -> Result<&'a Yaml, TemplateError> {
    at(v, path).ok_or_else(|| shape(format!("{what} has no {}", path.join("."))))
}

pub(super) fn number(names: &Names, v: &Yaml) -> Result<u64, TemplateError> {
    let text = names.render(v)?;
    text.parse()
        .map_err(|_| shape(format!("{text} is not a number")))
}

/// Where the local stack lives: what CloudFormation would name its account, region and
/// resources.
#[derive(Debug, Clone)]
pub struct Local {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub api_id: String,
    /// The one table of the stack (its `Ref`).
    pub table: String,
    /// The table's stream (`!GetAtt Table.StreamArn`), as the emulator names it.
    pub stream_arn: String,
    /// Parameter values that replace the template's defaults.
    pub parameters: BTreeMap<String, String>,
}

impl Local {
    /// The names every expression of the template may use.
    fn names(&self, t: &Yaml) -> Result<Names, TemplateError> {
        let mut names = Names::default();
        let (r, a, stack) = (&self.region, &self.account, &self.stack);
        names.set("AWS::StackName", stack);
        names.set("AWS::Region", r);
        names.set("AWS::AccountId", a);
        names.set("AWS::Partition", "aws");
        names.set("AWS::URLSuffix", "amazonaws.com");
        for (name, value) in &self.parameters {
            names.set(name, value);
        }
        if let Some(params) = at(t, &["Parameters"]).and_then(Yaml::as_mapping) {
            for (name, p) in params {
                let name = names.render(name)?;
                if names.get(&name).is_err()
                    && let Some(default) = p.get("Default")
                {
                    let value = names.render(default)?;
                    names.set(name, value);
                }
            }
        }
        let resources = need(t, &["Resources"], "the template")?
            .as_mapping()
            .ok_or_else(|| shape("Resources is not a mapping"))?;
        for (id, res) in resources {
            let id = names.render(id)?;
            let physical = format!("{stack}-{id}");
            let (reference, arn) = match res.get("Type").and_then(Yaml::as_str) {
                Some("AWS::DynamoDB::Table") => {
                    names.set(format!("{id}.StreamArn"), &self.stream_arn);
                    let arn = format!("arn:aws:dynamodb:{r}:{a}:table/{}", self.table);
                    (self.table.clone(), arn)
                }
                Some("AWS::Serverless::Function") => {
                    let arn = format!("arn:aws:lambda:{r}:{a}:function:{physical}");
                    (physical, arn)
                }
                Some("AWS::Events::EventBus") => {
                    let name = match at(res, &["Properties", "Name"]) {
                        Some(n) => names.render(n)?,
                        None => physical,
                    };
                    let arn = format!("arn:aws:events:{r}:{a}:event-bus/{name}");
                    (name, arn)
                }
                Some("AWS::SQS::Queue") => (
                    format!("https://sqs.{r}.amazonaws.com/{a}/{physical}"),
                    format!("arn:aws:sqs:{r}:{a}:{physical}"),
                ),
                Some("AWS::Serverless::Api") => (self.api_id.clone(), String::new()),
                _ => (
                    physical.clone(),
                    format!("arn:aws:local:{r}:{a}:{physical}"),
                ),
            };
            names.set(&id, reference);
            names.set(format!("{id}.Arn"), arn);
        }
        Ok(names)
    }
}

/// Reads template.yaml as the stack `local` describes.
pub fn load(path: &Path, local: &Local) -> Result<Stack, TemplateError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TemplateError::Read(path.display().to_string(), e))?;
    let t: Yaml = serde_yaml_ng::from_str(&text)?;
    let names = &local.names(&t)?;
    let resources = need(&t, &["Resources"], "the template")?
        .as_mapping()
        .ok_or_else(|| shape("Resources is not a mapping"))?;
    let globals = at(&t, &["Globals", "Function"]);

    let mut functions = BTreeMap::new();
    let mut routes = Vec::new();
    let mut api = None;
    let mut stream = None;
    let mut acls = BTreeMap::new();
    let mut associated = Vec::new();
    for (id, r) in resources {
        let id = names.render(id)?;
        if let Some(c) = r.get("Condition")
            && !holds(&t, &names.render(c)?, names)?
        {
            continue;
        }
        match r.get("Type").and_then(Yaml::as_str) {
            Some("AWS::WAFv2::WebACL") => {
                acls.insert(format!("{id}.Arn"), RateRule::from_acl(&id, r, names)?);
            }
            Some("AWS::WAFv2::WebACLAssociation") => {
                let acl = need(r, &["Properties", "WebACLArn"], &id)?;
                match acl {
                    Yaml::Tagged(tagged) if tagged.tag == "GetAtt" => {
                        associated.push(names.render(&tagged.value)?);
                    }
                    _ => return Err(shape(format!("{id}: WebACLArn is not !GetAtt <acl>.Arn"))),
                }
            }
            Some("AWS::Serverless::Function") => {
                let f = function(&id, r, globals, names)?;
                routes.extend(function_routes(&id, &f.binary, r, names)?);
                functions.insert(id, f);
            }
            Some("AWS::Serverless::Api") => api = Some(r),
            Some("AWS::Lambda::EventSourceMapping") => stream = Some((id, r)),
            _ => {}
        }
    }
    let binary_of = |logical_id: &str| -> Result<String, TemplateError> {
        functions
            .get(logical_id)
            .map(|f: &FunctionSpec| f.binary.clone())
            .ok_or_else(|| shape(format!("no function {logical_id}")))
    };
    let api = api.ok_or_else(|| shape("no AWS::Serverless::Api"))?;
    let stage = names.render(need(api, &["Properties", "StageName"], "the API")?)?;
    let auth = need(api, &["Properties", "Auth"], "the API")?;
    let default = need(auth, &["DefaultAuthorizer"], "the API's Auth")?;
    let default = names.render(default)?;
    let a = need(auth, &["Authorizers", &default], "the API's Auth")?;
    if at(a, &["FunctionPayloadType"]).and_then(Yaml::as_str) != Some("REQUEST") {
        return Err(shape("the default authorizer is not a REQUEST authorizer"));
    }
    let arn = names.render(need(a, &["FunctionArn"], "the authorizer")?)?;
    let authorizer_id = functions
        .iter()
        .find(|(id, _)| names.get(&format!("{id}.Arn")).ok() == Some(arn.as_str()))
        .map(|(id, _)| id.clone())
        .ok_or_else(|| shape(format!("the authorizer {arn} is not a function")))?;
    let authorizer = Authorizer {
        binary: binary_of(&authorizer_id)?,
        headers: names.strings(at(a, &["Identity", "Headers"]))?,
        ttl: Duration::from_secs(
            at(a, &["Identity", "ReauthorizeEvery"])
                .map(|v| number(names, v))
                .transpose()?
                .unwrap_or(300),
        ),
    };
    let mut gateway_responses = BTreeMap::new();
    if let Some(responses) = at(api, &["Properties", "GatewayResponses"]).and_then(Yaml::as_mapping)
    {
        for (kind, r) in responses {
            let kind = names.render(kind)?;
            let status = number(names, need(r, &["StatusCode"], &kind)?)?;
            let mut headers = Vec::new();
            if let Some(h) = at(r, &["ResponseParameters", "Headers"]).and_then(Yaml::as_mapping) {
                for (name, value) in h {
                    let value = names.render(value)?;
                    // Static values are quoted: 'application/scim+json'.
                    let value = value.trim_matches('\'').to_string();
                    headers.push((names.render(name)?, value));
                }
            }
            let body = names.render(need(r, &["ResponseTemplates", "application/json"], &kind)?)?;
            gateway_responses.insert(
                kind,
                GatewayResponse {
                    status: u16::try_from(status).map_err(|_| shape("status"))?,
                    headers,
                    body,
                },
            );
        }
    }
    let stream = match stream {
        None => None,
        Some((id, m)) => {
            let p = need(m, &["Properties"], &id)?;
            let function = names.render(need(p, &["FunctionName"], &id)?)?;
            let filters = match at(p, &["FilterCriteria", "Filters"]).and_then(Yaml::as_sequence) {
                None => Vec::new(),
                Some(filters) => filters
                    .iter()
                    .map(|f| {
                        let pattern = names.render(need(f, &["Pattern"], &id)?)?;
                        serde_json::from_str(&pattern)
                            .map_err(|e| shape(format!("{id}: filter pattern: {e}")))
                    })
                    .collect::<Result<_, _>>()?,
            };
            let logical = functions
                .iter()
                .find(|(fid, _)| names.get(fid).ok() == Some(function.as_str()))
                .map(|(fid, _)| fid.clone())
                .ok_or_else(|| shape(format!("{id}: {function} is not a function")))?;
            Some(StreamMapping {
                binary: binary_of(&logical)?,
                batch_size: at(p, &["BatchSize"])
                    .map(|v| number(names, v))
                    .transpose()?
                    .unwrap_or(100) as usize,
                max_retries: at(p, &["MaximumRetryAttempts"])
                    .map(|v| number(names, v))
                    .transpose()?
                    .unwrap_or(3) as u32,
                filters,
            })
        }
    };
    // The API has one stage; an associated web ACL guards it.
    let rate_rule = match associated.as_slice() {
        [] => None,
        [acl] => Some(
            acls.remove(acl)
                .ok_or_else(|| shape(format!("the association names no web ACL {acl}")))?,
        ),
        _ => return Err(shape("more than one web ACL association")),
    };
    Ok(Stack {
        stage,
        routes,
        authorizer,
        gateway_responses,
        rate_rule,
        functions: functions
            .into_values()
            .map(|f| (f.binary.clone(), f))
            .collect(),
        stream,
    })
}

/// Whether the template's condition `name` holds for the local stack's parameters
/// (`!Equals`, `!Not`, `!And`, `!Or`, `!Condition`).
fn holds(t: &Yaml, name: &str, names: &Names) -> Result<bool, TemplateError> {
    let c = need(t, &["Conditions", name], "the template's Conditions")?;
    evaluate(t, c, names)
}

fn evaluate(t: &Yaml, c: &Yaml, names: &Names) -> Result<bool, TemplateError> {
    let Yaml::Tagged(tagged) = c else {
        return Err(shape(format!("condition {c:?}")));
    };
    let args = || {
        tagged
            .value
            .as_sequence()
            .ok_or_else(|| shape(format!("!{} takes a list", tagged.tag)))
    };
    match tagged.tag.to_string().trim_start_matches('!') {
        "Equals" => match args()?.as_slice() {
            [a, b] => Ok(names.render(a)? == names.render(b)?),
            _ => Err(shape("!Equals takes two values")),
        },
        "Not" => match args()?.as_slice() {
            [inner] => Ok(!evaluate(t, inner, names)?),
            _ => Err(shape("!Not takes one condition")),
        },
        "And" => args()?
            .iter()
            .try_fold(true, |all, c| Ok(all && evaluate(t, c, names)?)),
        "Or" => args()?
            .iter()
            .try_fold(false, |any, c| Ok(any || evaluate(t, c, names)?)),
        "Condition" => holds(t, &names.render(&tagged.value)?, names),
        other => Err(shape(format!("condition function !{other}"))),
    }
}

fn function(
    id: &str,
    r: &Yaml,
    globals: Option<&Yaml>,
    names: &Names,
) -> Result<FunctionSpec, TemplateError> {
    let binary = names.render(need(r, &["Metadata", "BuildProperties", "Binary"], id)?)?;
    let p = need(r, &["Properties"], id)?;
    let mut environment = BTreeMap::new();
    for source in [globals, Some(p)].into_iter().flatten() {
        if let Some(vars) = at(source, &["Environment", "Variables"]).and_then(Yaml::as_mapping) {
            for (name, value) in vars {
                environment.insert(names.render(name)?, names.render(value)?);
            }
        }
    }
    let timeout = at(p, &["Timeout"])
        .or_else(|| globals.and_then(|g| g.get("Timeout")))
        .map(|v| number(names, v))
        .transpose()?
        .unwrap_or(3);
    let mut statements = Vec::new();
    for policy in at(p, &["Policies"])
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
    {
        let list = need(policy, &["Statement"], id)?
            .as_sequence()
            .ok_or_else(|| shape(format!("{id}: policies are inline statements")))?;
        for s in list {
            if s.get("Effect").and_then(Yaml::as_str) != Some("Allow") {
                return Err(shape(format!("{id}: only Allow statements are supported")));
            }
            let leading_keys = match s.get("Condition") {
                None => None,
                Some(c) => Some(
                    names.strings(at(c, &["ForAllValues:StringLike", "dynamodb:LeadingKeys"]))?,
                )
                .filter(|k| !k.is_empty())
                .map(Some)
                .ok_or_else(|| shape(format!("{id}: unsupported condition {c:?}")))?,
            };
            statements.push(Statement {
                actions: names.strings(s.get("Action"))?,
                resources: names.strings(s.get("Resource"))?,
                leading_keys,
            });
        }
    }
    Ok(FunctionSpec {
        logical_id: id.to_string(),
        binary,
        environment,
        timeout: Duration::from_secs(timeout),
        statements,
    })
}

fn function_routes(
    id: &str,
    binary: &str,
    r: &Yaml,
    names: &Names,
) -> Result<Vec<Route>, TemplateError> {
    let mut out = Vec::new();
    let Some(events) = at(r, &["Properties", "Events"]).and_then(Yaml::as_mapping) else {
        return Ok(out);
    };
    for (_, e) in events {
        if e.get("Type").and_then(Yaml::as_str) != Some("Api") {
            continue;
        }
        let p = need(e, &["Properties"], id)?;
        let auth = match at(p, &["Auth", "Authorizer"])
            .map(|a| names.render(a))
            .transpose()?
        {
            None => RouteAuth::Authorizer,
            Some(a) if a == "AWS_IAM" => RouteAuth::Iam,
            Some(a) if a == "NONE" => RouteAuth::Open,
            Some(other) => return Err(shape(format!("{id}: authorizer {other}"))),
        };
        out.push(Route {
            method: names
                .render(need(p, &["Method"], id)?)?
                .to_ascii_uppercase(),
            path: names.render(need(p, &["Path"], id)?)?,
            binary: binary.to_string(),
            auth,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Local {
        Local {
            stack: "scim".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            api_id: "localapi01".into(),
            table: "t".into(),
            stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026".into(),
            parameters: BTreeMap::from([("AuthorizerCacheTtl".to_string(), "0".to_string())]),
        }
    }

    fn repository_template() -> Stack {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        load(&path, &local()).expect("template.yaml loads as a local stack")
    }

    #[test]
    fn the_repositorys_template_is_read_whole() {
        let stack = repository_template();
        assert_eq!(stack.stage, "v1");
        let scim_routes = stack
            .routes
            .iter()
            .filter(|r| r.auth == RouteAuth::Authorizer)
            .count();
        assert_eq!(scim_routes, scim_shared::protocol::router::ROUTES.len());
        let iam: Vec<&Route> = stack
            .routes
            .iter()
            .filter(|r| r.auth == RouteAuth::Iam)
            .collect();
        let mut iam_binaries: Vec<&str> = iam.iter().map(|r| r.binary.as_str()).collect();
        iam_binaries.dedup();
        assert_eq!(
            iam_binaries,
            [
                "emergency_logout",
                "manage_tenants",
                "manage_directory",
                "manage_activity",
                "manage_republish"
            ]
        );
        assert_eq!(
            iam.len(),
            1 + 13 + 4 + 2 + 1,
            "Emergency Logout and the management API's routes"
        );
        let open: Vec<(&str, &str, &str)> = stack
            .routes
            .iter()
            .filter(|r| r.auth == RouteAuth::Open)
            .map(|r| (r.method.as_str(), r.path.as_str(), r.binary.as_str()))
            .collect();
        assert_eq!(
            open,
            [("POST", "/oauth/token", "oauth_token")],
            "the one route without authorization: the token endpoint"
        );
        assert_eq!(stack.authorizer.binary, "authorizer");
        assert_eq!(stack.authorizer.headers, ["Authorization"]);
        assert_eq!(
            stack.authorizer.ttl,
            Duration::ZERO,
            "the parameter override"
        );
        let events = stack.stream.expect("the stream's mapping");
        assert_eq!(events.binary, "events");
        assert_eq!(events.filters.len(), 1);
        assert_eq!(stack.gateway_responses["UNAUTHORIZED"].status, 401);
        let rate = stack.rate_rule.expect("the web ACL's rate rule");
        assert_eq!(
            (rate.limit, rate.window, rate.header.as_str()),
            (3000, Duration::from_secs(300), "authorization")
        );
        assert_eq!(
            (rate.status, rate.path_contains.as_str()),
            (429, "/scim/v2")
        );
        assert_eq!(
            rate.headers,
            [("Retry-After".to_string(), "60".to_string())]
        );
        let body: Json = serde_json::from_str(&rate.body).expect("a JSON body");
        assert_eq!(body["status"], "429");
    }

    #[test]
    fn no_web_acl_is_enforced_when_the_stack_deploys_none() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let mut without = local();
        without
            .parameters
            .insert("TenantRateLimit".into(), "0".into());
        let stack = load(&path, &without).expect("loads");
        assert!(stack.rate_rule.is_none());
    }

    #[test]
    fn policies_and_environment_resolve_to_the_local_stacks_names() {
        let stack = repository_template();
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
        let authorizer = &stack.functions["authorizer"];
        assert_eq!(authorizer.environment["TABLE_NAME"], "t");
        assert_eq!(
            authorizer.environment["SCIM_METRICS_NAMESPACE"], "ScimService/scim",
            "the stack's own metrics namespace"
        );
        assert_eq!(authorizer.statements[0].resources, [table]);
        assert_eq!(
            authorizer.statements[0].leading_keys.as_deref(),
            Some(&["TOKEN#*", "T#*#CLIENTS", "CURSORKEY"].map(String::from)[..])
        );
        let events = &stack.functions["events"];
        assert_eq!(
            events.environment["EVENT_BUS_NAME"],
            "arn:aws:events:us-east-1:123456789012:event-bus/scim-scim-lifecycle"
        );
        let resources: Vec<&String> = events
            .statements
            .iter()
            .flat_map(|s| &s.resources)
            .collect();
        assert!(resources.contains(&&local().stream_arn));
        assert_eq!(stack.functions["bulk"].timeout, Duration::from_secs(29));
    }
}
