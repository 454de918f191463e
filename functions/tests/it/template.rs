//! template.yaml agrees with the code: its routes are the router's table, each route reaches the
//! function that serves its operation, every function is built the same way from its own
//! binary for the architecture CI builds, the table is the one `create_table` makes, and API
//! Gateway's own answers are SCIM errors. docs/deploy.md lists each function's permissions as
//! the template grants them.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use scim_functions::{
    AUTHORIZER_BINARY, EMERGENCY_LOGOUT_BINARY, EVENTS_BINARY, FUNCTIONS, Function,
    MANAGEMENT_BINARIES, OAUTH_TOKEN_BINARY,
};
use scim_shared::protocol::http::BASE_PATH;
use scim_shared::protocol::router::ROUTES;
use serde_json::{Value as Json, json};
use serde_yaml_ng::Value as Yaml;
use support::{at, functions, http, render, resources, str_at, strings, template};

/// (METHOD, path) of every SCIM API event in the template, with the binary it invokes (the
/// admin routes of Emergency Logout and the management API are checked in the `emergency` and
/// `management` modules). An `ANY` route stands for
/// the router's routes of its path (the function's router answers the other methods with 405),
/// or for itself when the router has none there.
fn template_routes(t: &Yaml) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (id, binary, f) in functions(t) {
        if binary == EMERGENCY_LOGOUT_BINARY
            || binary == OAUTH_TOKEN_BINARY
            || MANAGEMENT_BINARIES.contains(&binary.as_str())
        {
            continue;
        }
        let Some(events) = at(f, &["Properties", "Events"]).and_then(Yaml::as_mapping) else {
            continue;
        };
        for (name, event) in events {
            let name = render(name);
            assert_eq!(str_at(event, &["Type"]), Some("Api"), "{id}.{name}");
            assert_eq!(
                at(event, &["Properties", "RestApiId"])
                    .map(render)
                    .as_deref(),
                Some("${Api}"),
                "{id}.{name} must be on the API"
            );
            let method = str_at(event, &["Properties", "Method"])
                .expect("Method")
                .to_ascii_uppercase();
            let path = str_at(event, &["Properties", "Path"]).expect("Path");
            let methods: Vec<String> = match method.as_str() {
                "ANY" => ROUTES
                    .iter()
                    .filter(|r| format!("{BASE_PATH}{}", r.path) == path)
                    .map(|r| r.method.as_str().to_string())
                    .collect(),
                _ => Vec::new(),
            };
            if methods.is_empty() {
                out.push((method, path.to_string(), binary.clone()));
            }
            for m in methods {
                out.push((m, path.to_string(), binary.clone()));
            }
        }
    }
    out
}

fn router_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|r| {
            (
                r.method.as_str().to_string(),
                format!("{BASE_PATH}{}", r.path),
            )
        })
        .collect()
}

#[test]
fn the_api_routes_exactly_the_routers_table() {
    let t = template();
    let mut routed = BTreeSet::new();
    for (method, path, _) in template_routes(&t) {
        assert!(
            routed.insert((method.clone(), path.clone())),
            "{method} {path} is routed twice"
        );
    }
    let expected = router_routes();
    let missing: Vec<_> = expected.difference(&routed).collect();
    let extra: Vec<_> = routed.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "template.yaml and shared/src/protocol/router.rs disagree\n  routes missing from the template: {missing:?}\n  routes the router does not know: {extra:?}"
    );
}

#[test]
fn each_route_reaches_the_function_that_serves_its_operation() {
    let t = template();
    let mut served: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (method, path, binary) in template_routes(&t) {
        let route = ROUTES
            .iter()
            .find(|r| r.method.as_str() == method && format!("{BASE_PATH}{}", r.path) == path)
            .unwrap_or_else(|| panic!("{method} {path} is not in the router's table"));
        let function = Function::by_binary(&binary)
            .unwrap_or_else(|| panic!("{binary} is not a function of scim_functions::FUNCTIONS"));
        assert!(
            function.serves(route.operation),
            "{method} {path} ({}) is routed to {binary}, which serves {:?}",
            route.operation.name(),
            function.operations
        );
        served
            .entry(function.binary)
            .or_default()
            .insert(route.operation.name());
    }
    // No function serves an operation that no route brings it.
    for f in FUNCTIONS {
        let ops: BTreeSet<&str> = f.operations.iter().map(|o| o.name()).collect();
        assert_eq!(
            served.get(f.binary),
            Some(&ops),
            "{} serves operations the template does not route to it",
            f.binary
        );
    }
}

#[test]
fn every_function_is_its_own_binary_built_by_cargo_lambda() {
    let t = template();
    let mut binaries: Vec<String> = functions(&t).into_iter().map(|(_, b, _)| b).collect();
    binaries.sort();
    let mut expected: Vec<String> = FUNCTIONS.iter().map(|f| f.binary.to_string()).collect();
    expected.extend(
        [
            AUTHORIZER_BINARY,
            EVENTS_BINARY,
            EMERGENCY_LOGOUT_BINARY,
            OAUTH_TOKEN_BINARY,
        ]
        .map(str::to_string),
    );
    expected.extend(MANAGEMENT_BINARIES.map(str::to_string));
    expected.sort();
    assert_eq!(binaries, expected);
    for (id, binary, f) in functions(&t) {
        assert_eq!(
            str_at(f, &["Metadata", "BuildMethod"]),
            Some("rust-cargolambda"),
            "{id}"
        );
        let source = support::repo_root().join(format!("functions/src/bin/{binary}.rs"));
        assert!(source.is_file(), "{id}: no {}", source.display());
        for inherited in ["Runtime", "Handler", "Architectures", "CodeUri"] {
            assert!(
                at(f, &["Properties", inherited]).is_none(),
                "{id} overrides the global {inherited}"
            );
        }
    }
}

#[test]
fn functions_run_bootstrap_on_al2023_for_x86_64_built_from_the_workspace_root() {
    let t = template();
    let g = at(&t, &["Globals", "Function"]).expect("Globals.Function");
    assert_eq!(str_at(g, &["Runtime"]), Some("provided.al2023"));
    assert_eq!(str_at(g, &["Handler"]), Some("bootstrap"));
    assert_eq!(str_at(g, &["CodeUri"]), Some("."));
    // The architecture `sam build` compiles for and CI builds, written out: no parameter lets
    // `sam deploy --guided` choose one the build did not make (docs/deploy.md: arm64).
    assert_eq!(strings(g.get("Architectures")), ["x86_64"]);
    let parameters = at(&t, &["Parameters"]).and_then(Yaml::as_mapping);
    assert!(
        parameters
            .into_iter()
            .flatten()
            .all(|(name, _)| !render(name).to_ascii_lowercase().contains("architecture")),
        "no parameter chooses the architecture"
    );
    assert_eq!(
        at(
            g,
            &["Environment", "Variables", scim_functions::TABLE_NAME_ENV]
        )
        .map(render),
        Some("${Table}".to_string())
    );
    assert!(
        at(
            g,
            &["Environment", "Variables", scim_functions::PUBLIC_URL_ENV]
        )
        .is_some()
    );
}

#[test]
fn every_function_logs_to_its_own_group_with_a_retention() {
    let t = template();
    let groups: BTreeMap<String, &Yaml> =
        resources(&t, "AWS::Logs::LogGroup").into_iter().collect();
    for (id, binary, f) in functions(&t) {
        let group = at(f, &["Properties", "LoggingConfig", "LogGroup"])
            .map(render)
            .unwrap_or_else(|| panic!("{id} has no LoggingConfig.LogGroup"));
        let group_id = group.trim_start_matches("${").trim_end_matches('}');
        let g = groups
            .get(group_id)
            .unwrap_or_else(|| panic!("{id}: no log group {group_id}"));
        assert_eq!(
            at(g, &["Properties", "RetentionInDays"])
                .map(render)
                .as_deref(),
            Some("${LogRetentionDays}"),
            "{group_id}"
        );
        assert!(
            at(g, &["Properties", "LogGroupName"])
                .map(render)
                .is_some_and(|n| n.ends_with(&format!("/{binary}"))),
            "{group_id} is named after {binary}"
        );
    }
}

#[test]
fn the_authorizer_is_a_cached_request_authorizer_on_the_authorization_header() {
    let t = template();
    let auth = at(&t, &["Resources", "Api", "Properties", "Auth"]).expect("Api Auth");
    let name = str_at(auth, &["DefaultAuthorizer"]).expect("a default authorizer on every route");
    let a = at(auth, &["Authorizers", name]).expect("the default authorizer");
    assert_eq!(
        at(a, &["FunctionArn"]).map(render).as_deref(),
        Some("${AuthorizerFunction.Arn}")
    );
    assert_eq!(str_at(a, &["FunctionPayloadType"]), Some("REQUEST"));
    assert_eq!(strings(at(a, &["Identity", "Headers"])), ["Authorization"]);
    assert_eq!(
        at(a, &["Identity", "ReauthorizeEvery"])
            .map(render)
            .as_deref(),
        Some("${AuthorizerCacheTtl}")
    );
    let ttl = at(&t, &["Parameters", "AuthorizerCacheTtl"]).expect("the TTL parameter");
    assert_eq!(at(ttl, &["Default"]).map(render).as_deref(), Some("300"));
    assert_eq!(
        str_at(support::function(&t, AUTHORIZER_BINARY), &["Type"]),
        Some("AWS::Serverless::Function")
    );
}

#[test]
fn the_api_is_a_throttled_rest_api() {
    let t = template();
    let api = at(&t, &["Resources", "Api"]).expect("Api");
    assert_eq!(str_at(api, &["Type"]), Some("AWS::Serverless::Api"));
    let settings = at(api, &["Properties", "MethodSettings"])
        .and_then(Yaml::as_sequence)
        .and_then(|s| s.first())
        .expect("MethodSettings");
    assert_eq!(str_at(settings, &["ResourcePath"]), Some("/*"));
    assert_eq!(str_at(settings, &["HttpMethod"]), Some("*"));
    for (setting, parameter) in [
        ("ThrottlingRateLimit", "ThrottlingRateLimit"),
        ("ThrottlingBurstLimit", "ThrottlingBurstLimit"),
    ] {
        assert_eq!(
            at(settings, &[setting]).map(render),
            Some(format!("${{{parameter}}}"))
        );
        assert!(at(&t, &["Parameters", parameter]).is_some());
    }
}

/// A gateway response's body with its `$context` variables filled in, as API Gateway would.
fn gateway_body(template: &str) -> Json {
    let filled = template.replace(
        "$context.error.messageString",
        "\"Missing Authentication Token\"",
    );
    serde_json::from_str(&filled).unwrap_or_else(|e| panic!("not JSON ({e}): {template}"))
}

#[test]
fn api_gateways_own_answers_are_scim_errors() {
    let t = template();
    let responses = at(&t, &["Resources", "Api", "Properties", "GatewayResponses"])
        .and_then(Yaml::as_mapping)
        .expect("GatewayResponses");
    let expected = [
        ("UNAUTHORIZED", "401"),
        ("ACCESS_DENIED", "403"),
        // What a REST API answers for a path or method it has no route for.
        ("MISSING_AUTHENTICATION_TOKEN", "404"),
        ("REQUEST_TOO_LARGE", "413"),
        ("THROTTLED", "429"),
        ("DEFAULT_4XX", "400"),
        ("DEFAULT_5XX", "500"),
    ];
    for (kind, _) in expected {
        assert!(
            responses.contains_key(kind),
            "no gateway response for {kind}"
        );
    }
    for (kind, r) in responses {
        let kind = render(kind);
        let status = at(r, &["StatusCode"]).map(render).expect("StatusCode");
        if let Some((_, s)) = expected.iter().find(|(k, _)| *k == kind) {
            assert_eq!(&status, s, "{kind}");
        }
        assert_eq!(
            str_at(r, &["ResponseParameters", "Headers", "Content-Type"]),
            Some("'application/scim+json'"),
            "{kind}"
        );
        let body = gateway_body(
            str_at(r, &["ResponseTemplates", "application/json"]).expect("a JSON template"),
        );
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
            "{kind}"
        );
        assert_eq!(body["status"], status.as_str(), "{kind}");
        assert!(body["detail"].is_string(), "{kind}");
    }
    assert_eq!(
        str_at(
            responses.get("UNAUTHORIZED").expect("UNAUTHORIZED"),
            &["ResponseParameters", "Headers", "WWW-Authenticate"]
        ),
        Some("'Bearer realm=\"SCIM\"'")
    );
}

/// The two branches of an `!If [condition, then, else]`.
fn if_branches<'a>(v: &'a Yaml, condition: &str) -> (&'a Yaml, &'a Yaml) {
    let Yaml::Tagged(t) = v else {
        panic!("not an !If: {v:?}")
    };
    assert_eq!(t.tag, "If");
    match t.value.as_sequence().map(Vec::as_slice) {
        Some([c, then, otherwise]) if render(c) == condition => (then, otherwise),
        _ => panic!("not !If [{condition}, ..., ...]: {v:?}"),
    }
}

#[test]
fn the_output_is_the_tenant_url_base_on_the_custom_domain_when_there_is_one() {
    let t = template();
    let url = at(&t, &["Outputs", "TenantUrl", "Value"]).expect("TenantUrl");
    let (domain, api) = if_branches(url, "HasDomain");
    assert_eq!(
        render(domain),
        format!("https://${{DomainName}}{BASE_PATH}")
    );
    assert_eq!(
        render(api),
        format!(
            "https://${{Api}}.execute-api.${{AWS::Region}}.amazonaws.com/${{StageName}}{BASE_PATH}"
        )
    );
    // The domain's root maps to the stage, so the path below the domain is the API's.
    let mapping = at(&t, &["Resources", "ApiDomainMapping"]).expect("the base path mapping");
    assert_eq!(str_at(mapping, &["Condition"]), Some("HasDomain"));
    assert_eq!(at(mapping, &["Properties", "BasePath"]), None);
    for p in ["DomainName", "CertificateArn", "HostedZoneId"] {
        let default = at(&t, &["Parameters", p, "Default"]).map(render);
        assert_eq!(default.as_deref(), Some(""), "{p} is optional");
    }
}

// ---------------------------------------------------------------------------------------------
// Operations: alarms, access logs, the dashboard (docs/operations.md)

/// What an alarm watches, per Lambda metric: (metric name, function logical id) of each
/// `AWS/Lambda` metric it reads, whether a single metric or in metric math.
fn lambda_metrics_watched(t: &Yaml) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut add = |metric: &Yaml| {
        if str_at(metric, &["Namespace"]) != Some("AWS/Lambda") {
            return;
        }
        let name = str_at(metric, &["MetricName"])
            .expect("MetricName")
            .to_string();
        for d in at(metric, &["Dimensions"])
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            if str_at(d, &["Name"]) == Some("FunctionName") {
                let value = at(d, &["Value"]).map(render).expect("a FunctionName");
                let id = value.trim_start_matches("${").trim_end_matches('}');
                out.insert((name.clone(), id.to_string()));
            }
        }
    };
    for (_, alarm) in resources(t, "AWS::CloudWatch::Alarm") {
        let p = at(alarm, &["Properties"]).expect("Properties");
        add(p);
        for m in at(p, &["Metrics"])
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(metric) = at(m, &["MetricStat", "Metric"]) {
                add(metric);
            }
        }
    }
    out
}

/// A new function cannot ship without its alarms: every function's Lambda `Errors` and
/// `Throttles` are in an alarm, and the p99 `Duration` of every function answering API
/// requests (bulk aside: a long Bulk request is normal, one that reaches its timeout is an
/// error and a 504).
#[test]
fn every_function_is_in_its_alarms() {
    let t = template();
    let watched = lambda_metrics_watched(&t);
    let missing = |metric: &str, id: &str| !watched.contains(&(metric.to_string(), id.to_string()));
    for (id, binary, _) in functions(&t) {
        for metric in ["Errors", "Throttles"] {
            assert!(!missing(metric, &id), "no alarm reads {id}'s {metric}");
        }
        let answers_requests = Function::by_binary(&binary).is_some()
            || binary == EMERGENCY_LOGOUT_BINARY
            || binary == OAUTH_TOKEN_BINARY
            || MANAGEMENT_BINARIES.contains(&binary.as_str());
        if answers_requests && binary != scim_functions::BULK.binary {
            assert!(
                !missing("Duration", &id),
                "no latency alarm reads {id}'s Duration"
            );
        }
    }
    for f in FUNCTIONS {
        assert!(
            functions(&t).iter().any(|(_, b, _)| b == f.binary),
            "{} is not in template.yaml",
            f.binary
        );
    }
}

/// Metric math alarms stay within CloudWatch's limit of 10 metrics, their expression reads each
/// of them, and every alarm notifies the topic when one is given (and nobody otherwise).
#[test]
fn alarms_are_valid_metric_math_and_notify_the_optional_topic() {
    let t = template();
    let alarms = resources(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 10, "the alarms of docs/operations.md");
    for (id, alarm) in alarms {
        let p = at(alarm, &["Properties"]).expect("Properties");
        for actions in ["AlarmActions", "OKActions"] {
            let v = at(p, &[actions]).unwrap_or_else(|| panic!("{id} has no {actions}"));
            let (then, otherwise) = if_branches(v, "HasAlarmTopic");
            assert_eq!(strings(Some(then)), ["${AlarmTopicArn}"], "{id}");
            assert_eq!(render(otherwise), "${AWS::NoValue}", "{id}");
        }
        assert_eq!(
            str_at(p, &["TreatMissingData"]),
            Some("notBreaching"),
            "{id}: idle is fine"
        );
        let Some(metrics) = at(p, &["Metrics"]).and_then(Yaml::as_sequence) else {
            continue;
        };
        let stats: Vec<&str> = metrics
            .iter()
            .filter(|m| at(m, &["MetricStat"]).is_some())
            .map(|m| str_at(m, &["Id"]).expect("Id"))
            .collect();
        assert!(
            stats.len() <= 10,
            "{id} reads {} metrics; an alarm may read 10",
            stats.len()
        );
        let returned: Vec<&Yaml> = metrics
            .iter()
            .filter(|m| at(m, &["ReturnData"]).and_then(Yaml::as_bool) == Some(true))
            .collect();
        assert_eq!(returned.len(), 1, "{id} watches one expression");
        let expression = str_at(returned[0], &["Expression"]).expect("an expression");
        for s in stats {
            assert!(expression.contains(s), "{id}: {expression} ignores {s}");
        }
    }
}

/// The authorizer's alarm counts failures, not refusals: its Lambda errors minus the refusals
/// its EMF line counts, in the namespace the functions write to.
#[test]
fn the_authorizer_alarm_leaves_refusals_out() {
    let t = template();
    let namespace = at(
        &t,
        &[
            "Globals",
            "Function",
            "Environment",
            "Variables",
            scim_functions::metrics::NAMESPACE_ENV,
        ],
    )
    .map(render)
    .expect("the functions' metrics namespace");
    let metrics = at(
        &t,
        &[
            "Resources",
            "AuthorizerErrorsAlarm",
            "Properties",
            "Metrics",
        ],
    )
    .and_then(Yaml::as_sequence)
    .expect("AuthorizerErrorsAlarm's metrics");
    let by_id = |id: &str| {
        metrics
            .iter()
            .find(|m| str_at(m, &["Id"]) == Some(id))
            .unwrap_or_else(|| panic!("no metric {id}"))
    };
    assert_eq!(
        str_at(by_id("failures"), &["Expression"]),
        Some("errors - FILL(refusals, 0)")
    );
    let errors = at(by_id("errors"), &["MetricStat", "Metric"]).expect("errors");
    assert_eq!(str_at(errors, &["MetricName"]), Some("Errors"));
    assert_eq!(
        at(errors, &["Dimensions"])
            .and_then(|d| d.get(0))
            .and_then(|d| d.get("Value"))
            .map(render)
            .as_deref(),
        Some("${AuthorizerFunction}")
    );
    let refusals = at(by_id("refusals"), &["MetricStat", "Metric"]).expect("refusals");
    assert_eq!(at(refusals, &["Namespace"]).map(render), Some(namespace));
    assert_eq!(str_at(refusals, &["MetricName"]), Some("4xx"));
    let dimension = at(refusals, &["Dimensions"])
        .and_then(|d| d.get(0))
        .expect("a dimension");
    assert_eq!(
        str_at(dimension, &["Name"]),
        Some(scim_functions::metrics::DIMENSION)
    );
    assert_eq!(
        str_at(dimension, &["Value"]),
        Some(scim_functions::metrics::AUTHORIZE_OPERATION)
    );
}

/// The access log is one JSON object per request with the fields docs/operations.md lists,
/// the tenant from the authorizer's context key.
#[test]
fn the_access_log_is_json_with_the_tenant() {
    let t = template();
    let setting =
        at(&t, &["Resources", "Api", "Properties", "AccessLogSetting"]).expect("AccessLogSetting");
    assert_eq!(
        at(setting, &["DestinationArn"]).map(render).as_deref(),
        Some("${ApiAccessLogs.Arn}")
    );
    let group = at(
        &t,
        &[
            "Resources",
            "ApiAccessLogs",
            "Properties",
            "RetentionInDays",
        ],
    )
    .map(render);
    assert_eq!(group.as_deref(), Some("${LogRetentionDays}"));
    let format = str_at(setting, &["Format"]).expect("a Format");
    // What API Gateway puts in place of each variable: numbers for the two unquoted ones.
    let filled = format
        .replace("$context.status", "200")
        .replace("$context.responseLatency", "12");
    let filled = fill_context_variables(&filled);
    let line: Json =
        serde_json::from_str(&filled).unwrap_or_else(|e| panic!("not JSON ({e}): {format}"));
    for field in [
        "requestId",
        "extendedRequestId",
        "ip",
        "method",
        "resourcePath",
        "status",
        "latency",
        "integrationLatency",
        "responseLength",
        "tenant",
    ] {
        assert!(line.get(field).is_some(), "the access log has no {field}");
    }
    assert!(format.contains(&format!(
        "\"tenant\":\"$context.authorizer.{}\"",
        scim_functions::adapter::TENANT_KEY
    )));
}

/// Every remaining `$context.x.y` variable as a value API Gateway could give ("-").
fn fill_context_variables(format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find("$context.") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '$'))
            .unwrap_or(after.len());
        out.push('-');
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The dashboard's body is JSON once CloudFormation has substituted its names.
#[test]
fn the_dashboard_is_json() {
    let t = template();
    let body = at(
        &t,
        &["Resources", "Dashboard", "Properties", "DashboardBody"],
    )
    .map(render)
    .expect("DashboardBody");
    let mut filled = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("${") {
        filled.push_str(&rest[..i]);
        let end = rest[i..].find('}').map(|e| i + e + 1).expect("a closed ${");
        filled.push_str("name");
        rest = &rest[end..];
    }
    filled.push_str(rest);
    let dashboard: Json =
        serde_json::from_str(&filled).unwrap_or_else(|e| panic!("not JSON ({e})"));
    let titles: Vec<&str> = dashboard["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .filter_map(|w| w["properties"]["title"].as_str())
        .collect();
    assert!(titles.len() >= 8, "{titles:?}");
    assert!(
        body.contains("ScimService/${AWS::StackName}"),
        "the EMF namespace"
    );
}

// ---------------------------------------------------------------------------------------------
// The deploy guide's table of permissions

/// The heading of the table in docs/deploy.md that lists every function's IAM permissions.
const PERMISSIONS_HEADING: &str = "## What each function may do";

/// The backticked spans of a Markdown table cell.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The permissions docs/deploy.md lists, by binary. Each row of the table under
/// [`PERMISSIONS_HEADING`] is `| function | actions | resource | condition |`, every name in
/// backticks; a row without actions lists a function that may do nothing.
fn documented_grants() -> BTreeMap<String, BTreeSet<support::Grant>> {
    let path = support::repo_root().join("docs/deploy.md");
    let text = std::fs::read_to_string(&path).expect("read docs/deploy.md");
    let section = text
        .split_once(PERMISSIONS_HEADING)
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("docs/deploy.md has no '{PERMISSIONS_HEADING}'"));
    let rows = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2); // the header and its separator
    let mut out: BTreeMap<String, BTreeSet<support::Grant>> = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.trim().trim_matches('|').split('|').collect();
        let [function, actions, resource, condition] = cells[..] else {
            panic!("docs/deploy.md: a row of four cells, not {row}");
        };
        let binary = match &code_spans(function)[..] {
            [one] => one.clone(),
            other => panic!("docs/deploy.md: one function per row, not {other:?} in {row}"),
        };
        let grants = out.entry(binary).or_default();
        let condition = code_spans(condition);
        for action in code_spans(actions) {
            for resource in code_spans(resource) {
                grants.insert((action.clone(), resource, condition.clone()));
            }
        }
    }
    assert!(
        !out.is_empty(),
        "docs/deploy.md: no rows under '{PERMISSIONS_HEADING}'"
    );
    out
}

#[test]
fn the_deploy_guide_lists_exactly_what_each_function_may_do() {
    let t = template();
    let mut documented = documented_grants();
    let mut problems = Vec::new();
    for (_, binary, _) in functions(&t) {
        let granted = support::grants(&t, &binary);
        let Some(listed) = documented.remove(&binary) else {
            problems.push(format!("{binary} is not in the table"));
            continue;
        };
        for (a, r, c) in granted.difference(&listed) {
            problems.push(format!(
                "{binary}: {a} on {r} {c:?} is granted but not listed"
            ));
        }
        for (a, r, c) in listed.difference(&granted) {
            problems.push(format!(
                "{binary}: {a} on {r} {c:?} is listed but not granted"
            ));
        }
    }
    for binary in documented.keys() {
        problems.push(format!(
            "{binary} is listed but is no function of template.yaml"
        ));
    }
    assert!(
        problems.is_empty(),
        "docs/deploy.md '{PERMISSIONS_HEADING}' differs from template.yaml:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The table

/// What `create_table` asks DynamoDB for: its CreateTable and UpdateTimeToLive requests, caught
/// by a loopback stub that answers `{}`.
async fn create_table_requests() -> BTreeMap<String, Json> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Arc<Mutex<BTreeMap<String, Json>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let Ok(Some(request)) = http::read_request(&mut socket).await else {
                continue;
            };
            let target = request.header("x-amz-target").unwrap_or_default();
            let operation = target.rsplit('.').next().unwrap_or_default().to_string();
            let body = serde_json::from_slice(&request.body).expect("a JSON body");
            log.lock().expect("lock").insert(operation, body);
            let json = [("content-type", "application/x-amz-json-1.0")];
            let _ = http::respond(&mut socket, 200, &json, b"{}").await;
        }
    });
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://{addr}"))
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("stub", "stub", None, None, "stub"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    scim_shared::store::create_table(&client, "schema-check")
        .await
        .expect("create_table against the stub");
    seen.lock().expect("lock").clone()
}

/// YAML (with the template's plain values) as JSON, for comparison with the SDK's requests.
fn json_of(v: &Yaml) -> Json {
    serde_json::to_value(v).expect("plain YAML converts to JSON")
}

fn set_of(v: &Json) -> BTreeSet<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(Json::to_string)
        .collect()
}

#[tokio::test]
async fn the_table_is_the_one_create_table_makes() {
    let requests = create_table_requests().await;
    let create = &requests["CreateTable"];
    let ttl = &requests["UpdateTimeToLive"];
    let t = template();
    let table = at(&t, &["Resources", "Table"]).expect("Table");
    assert_eq!(str_at(table, &["Type"]), Some("AWS::DynamoDB::Table"));
    let p = at(table, &["Properties"]).expect("Properties");
    let prop = |name: &str| json_of(at(p, &[name]).unwrap_or_else(|| panic!("no {name}")));

    assert_eq!(prop("BillingMode"), create["BillingMode"]);
    assert_eq!(prop("KeySchema"), create["KeySchema"]);
    assert_eq!(
        set_of(&prop("AttributeDefinitions")),
        set_of(&create["AttributeDefinitions"])
    );
    let indexes = |v: &Json| -> BTreeMap<String, (Json, Json)> {
        v.as_array()
            .expect("indexes")
            .iter()
            .map(|i| {
                (
                    i["IndexName"].as_str().expect("IndexName").to_string(),
                    (
                        i["KeySchema"].clone(),
                        i["Projection"]["ProjectionType"].clone(),
                    ),
                )
            })
            .collect()
    };
    assert_eq!(
        indexes(&prop("GlobalSecondaryIndexes")),
        indexes(&create["GlobalSecondaryIndexes"])
    );
    assert_eq!(create["StreamSpecification"]["StreamEnabled"], true);
    assert_eq!(
        prop("StreamSpecification")["StreamViewType"],
        create["StreamSpecification"]["StreamViewType"]
    );
    assert_eq!(
        prop("TimeToLiveSpecification"),
        ttl["TimeToLiveSpecification"]
    );
}

#[test]
fn the_table_is_recoverable_encrypted_and_protected_as_the_operator_chooses() {
    let t = template();
    let table = at(&t, &["Resources", "Table"]).expect("Table");
    assert_eq!(str_at(table, &["DeletionPolicy"]), Some("Retain"));
    let p = at(table, &["Properties"]).expect("Properties");
    assert_eq!(
        at(
            p,
            &[
                "PointInTimeRecoverySpecification",
                "PointInTimeRecoveryEnabled"
            ]
        ),
        Some(&Yaml::Bool(true))
    );
    assert_eq!(
        at(p, &["SSESpecification", "SSEEnabled"]),
        Some(&Yaml::Bool(true))
    );
    let protection = at(p, &["DeletionProtectionEnabled"]).expect("DeletionProtectionEnabled");
    let condition = match protection {
        Yaml::Tagged(t) if t.tag == "If" => t.value.get(0).map(render),
        other => panic!("DeletionProtectionEnabled follows a condition, not {other:?}"),
    };
    let condition = condition.expect("a condition name");
    let cond = at(&t, &["Conditions", &condition]).expect("the condition");
    assert!(
        format!("{cond:?}").contains("DeletionProtection"),
        "{condition} depends on the DeletionProtection parameter"
    );
    assert!(at(&t, &["Parameters", "DeletionProtection"]).is_some());
}
