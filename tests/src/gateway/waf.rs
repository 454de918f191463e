//! The stack's AWS WAF web ACL as the local gateway enforces it: one rate-based rule keyed on a
//! request header (the Secret Token in `Authorization`), scoped down to paths containing a
//! string, answering with a custom response. WAF evaluates before API Gateway, so a blocked
//! request reaches neither the authorizer nor a function. Where AWS WAF counts approximately
//! (it re-evaluates rates every few seconds), the gateway counts exactly over a sliding window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_yaml_ng::Value as Yaml;

use super::template::{Names, TemplateError, at, need, number, shape};

/// A rate-based rule and the answer it gives.
#[derive(Debug, Clone)]
pub struct RateRule {
    /// Requests per key allowed in `window`.
    pub limit: usize,
    pub window: Duration,
    /// The header whose value is the key (lower case).
    pub header: String,
    /// Only requests whose path contains this are counted.
    pub path_contains: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: String,
}

impl RateRule {
    /// Reads the one rule of a web ACL (`acl`: the resource); anything else is an error, so a
    /// web ACL the gateway would not enforce faithfully fails the run.
    pub fn from_acl(id: &str, acl: &Yaml, names: &Names) -> Result<RateRule, TemplateError> {
        let p = need(acl, &["Properties"], id)?;
        let rules = need(p, &["Rules"], id)?
            .as_sequence()
            .filter(|r| r.len() == 1)
            .ok_or_else(|| shape(format!("{id}: the gateway enforces exactly one rule")))?;
        let rule = &rules[0];
        let s = need(rule, &["Statement", "RateBasedStatement"], id)?;
        let text = |v: &Yaml| names.render(v);
        if text(need(s, &["AggregateKeyType"], id)?)? != "CUSTOM_KEYS" {
            return Err(shape(format!(
                "{id}: only CUSTOM_KEYS rate rules are enforced"
            )));
        }
        let keys = need(s, &["CustomKeys"], id)?
            .as_sequence()
            .filter(|k| k.len() == 1)
            .ok_or_else(|| shape(format!("{id}: exactly one custom key")))?;
        let header = text(need(&keys[0], &["Header", "Name"], id)?)?.to_ascii_lowercase();
        let scope = need(s, &["ScopeDownStatement", "ByteMatchStatement"], id)?;
        if at(scope, &["FieldToMatch", "UriPath"]).is_none()
            || text(need(scope, &["PositionalConstraint"], id)?)? != "CONTAINS"
        {
            return Err(shape(format!(
                "{id}: the scope-down must be UriPath CONTAINS"
            )));
        }
        let block = need(rule, &["Action", "Block", "CustomResponse"], id)?;
        let body_key = text(need(block, &["CustomResponseBodyKey"], id)?)?;
        let body = need(p, &["CustomResponseBodies", &body_key], id)?;
        let content_type = match text(need(body, &["ContentType"], id)?)?.as_str() {
            "APPLICATION_JSON" => "application/json",
            "TEXT_PLAIN" => "text/plain",
            "TEXT_HTML" => "text/html",
            other => return Err(shape(format!("{id}: content type {other}"))),
        };
        let mut headers = Vec::new();
        for h in at(block, &["ResponseHeaders"])
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            headers.push((
                text(need(h, &["Name"], id)?)?,
                text(need(h, &["Value"], id)?)?,
            ));
        }
        Ok(RateRule {
            limit: usize::try_from(number(names, need(s, &["Limit"], id)?)?)
                .map_err(|_| shape("limit"))?,
            window: Duration::from_secs(number(names, need(s, &["EvaluationWindowSec"], id)?)?),
            header,
            path_contains: text(need(scope, &["SearchString"], id)?)?,
            status: u16::try_from(number(names, need(block, &["ResponseCode"], id)?)?)
                .map_err(|_| shape("status"))?,
            headers,
            content_type: content_type.to_string(),
            body: text(need(body, &["Content"], id)?)?,
        })
    }
}

/// The rule's counts: each key's request times in the window.
#[derive(Debug)]
pub struct RateLimiter {
    pub rule: RateRule,
    seen: Mutex<BTreeMap<String, VecDeque<Instant>>>,
    blocked: Mutex<u64>,
}

impl RateLimiter {
    pub fn new(rule: RateRule) -> Self {
        RateLimiter {
            rule,
            seen: Mutex::default(),
            blocked: Mutex::default(),
        }
    }

    /// Counts a request; true when the rule blocks it (its key made more than `limit` requests
    /// in the window, this one included).
    pub fn blocks(&self, path: &str, key: Option<&str>) -> bool {
        let Some(key) = key.filter(|_| path.contains(&self.rule.path_contains)) else {
            return false;
        };
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("lock");
        let times = seen.entry(key.to_string()).or_default();
        times.push_back(now);
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.rule.window)
        {
            times.pop_front();
        }
        let blocked = times.len() > self.rule.limit;
        if blocked {
            *self.blocked.lock().expect("lock") += 1;
        }
        blocked
    }

    /// Requests blocked so far.
    pub fn blocked(&self) -> u64 {
        *self.blocked.lock().expect("lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(limit: usize) -> RateRule {
        RateRule {
            limit,
            window: Duration::from_secs(60),
            header: "authorization".into(),
            path_contains: "/scim/v2".into(),
            status: 429,
            headers: Vec::new(),
            content_type: "application/json".into(),
            body: "{}".into(),
        }
    }

    #[test]
    fn a_key_over_its_limit_is_blocked_and_others_are_not() {
        let limiter = RateLimiter::new(rule(2));
        assert!(!limiter.blocks("/v1/scim/v2/Users", Some("Bearer a")));
        assert!(!limiter.blocks("/v1/scim/v2/Users", Some("Bearer a")));
        assert!(limiter.blocks("/v1/scim/v2/Users", Some("Bearer a")));
        assert!(!limiter.blocks("/v1/scim/v2/Users", Some("Bearer b")));
        assert!(
            !limiter.blocks("/v1/admin/v1/tenants", Some("Bearer a")),
            "out of scope"
        );
        assert!(
            !limiter.blocks("/v1/scim/v2/Users", None),
            "no key, not counted"
        );
        assert_eq!(limiter.blocked(), 1);
    }
}
