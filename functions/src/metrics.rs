//! Metrics per operation as CloudWatch Embedded Metric Format: one JSON line on stdout per
//! request, which CloudWatch Logs turns into metrics of the namespace in
//! `SCIM_METRICS_NAMESPACE` (template.yaml sets one per stack), dimension `Operation`:
//! `Latency` (milliseconds, from the event's arrival at the handler to its answer), `4xx` and
//! `5xx` (0 or 1 per request; their sums are counts). The number of requests is `Latency`'s
//! sample count. No tenant dimension: every tenant would multiply the custom metrics billed.
//!
//! The format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The environment variable naming the metrics' namespace.
pub const NAMESPACE_ENV: &str = "SCIM_METRICS_NAMESPACE";
/// The namespace when the environment names none.
pub const DEFAULT_NAMESPACE: &str = "ScimService";
/// The one dimension of every metric.
pub const DIMENSION: &str = "Operation";
/// The operation name of the authorizer's metrics (a refusal counts as `4xx`, a failed token
/// check as `5xx`).
pub const AUTHORIZE_OPERATION: &str = "Authorize";
/// The operation name of Emergency Logout's metrics.
pub const EMERGENCY_LOGOUT_OPERATION: &str = "EmergencyLogout";

/// The namespace of this sandbox's metrics, read once at start-up.
pub fn namespace_from_env() -> String {
    std::env::var(NAMESPACE_ENV)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// What one request measured.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub operation: &'a str,
    pub latency: Duration,
    /// The HTTP status answered (a refused token is 401).
    pub status: u16,
}

/// The EMF document of one request, stamped `timestamp_ms` (milliseconds since the epoch).
pub fn document(namespace: &str, sample: &Sample<'_>, timestamp_ms: u64) -> Value {
    let class = |hundreds: u16| u8::from(sample.status / 100 == hundreds);
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[DIMENSION]],
                "Metrics": [
                    {"Name": "Latency", "Unit": "Milliseconds"},
                    {"Name": "4xx", "Unit": "Count"},
                    {"Name": "5xx", "Unit": "Count"},
                ],
            }],
        },
        DIMENSION: sample.operation,
        "Latency": sample.latency.as_secs_f64() * 1000.0,
        "4xx": class(4),
        "5xx": class(5),
    })
}

/// Prints the request's EMF line on stdout, where Lambda's log capture finds it.
pub fn emit(namespace: &str, sample: &Sample<'_>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let timestamp_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    println!("{}", document(namespace, sample, timestamp_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: u16) -> Value {
        let s = Sample {
            operation: "GetUser",
            latency: Duration::from_micros(12_500),
            status,
        };
        document("ScimService/prod", &s, 1_764_806_400_000)
    }

    /// The rules of the EMF specification the document must follow: a root `_aws` object with
    /// an integer `Timestamp` and `CloudWatchMetrics` directives of `Namespace`, `Dimensions`
    /// (arrays of dimension sets, each naming root members that are strings) and `Metrics`
    /// (`Name` naming a numeric root member, `Unit` one of CloudWatch's units).
    #[test]
    fn the_line_is_an_emf_document() {
        let doc = sample(200);
        let aws = doc["_aws"].as_object().expect("an _aws object");
        assert!(aws["Timestamp"].is_u64(), "Timestamp: epoch milliseconds");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], "ScimService/prod");
        let sets = d["Dimensions"].as_array().expect("dimension sets");
        for set in sets {
            for name in set.as_array().expect("a dimension set") {
                let name = name.as_str().expect("a dimension name");
                assert!(doc[name].is_string(), "dimension {name} is a root string");
            }
        }
        assert_eq!(
            d["Dimensions"],
            json!([["Operation"]]),
            "no tenant dimension"
        );
        let metrics = d["Metrics"].as_array().expect("metric definitions");
        let names: Vec<&str> = metrics.iter().filter_map(|m| m["Name"].as_str()).collect();
        assert_eq!(names, ["Latency", "4xx", "5xx"]);
        for m in metrics {
            let name = m["Name"].as_str().expect("Name");
            assert!(doc[name].is_number(), "{name} is a root number");
            assert!(
                matches!(m["Unit"].as_str(), Some("Milliseconds" | "Count")),
                "{name}'s unit"
            );
        }
        assert_eq!(doc["Operation"], "GetUser");
        assert_eq!(doc["Latency"], 12.5);
        let line = doc.to_string();
        assert!(!line.contains('\n'), "one line");
    }

    #[test]
    fn the_status_class_is_counted_once() {
        assert_eq!(
            (sample(201)["4xx"].clone(), sample(201)["5xx"].clone()),
            (json!(0), json!(0))
        );
        assert_eq!(
            (sample(404)["4xx"].clone(), sample(404)["5xx"].clone()),
            (json!(1), json!(0))
        );
        assert_eq!(
            (sample(503)["4xx"].clone(), sample(503)["5xx"].clone()),
            (json!(0), json!(1))
        );
    }
}
