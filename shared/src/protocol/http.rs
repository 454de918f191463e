//! The core request and response: what every entry point (local server, Lambda adapter, tests)
//! translates its own HTTP types into and out of.

use serde_json::Value;

use crate::protocol::error::ScimError;

/// Where the SCIM API is served below a host (and, on AWS, below the stage).
pub const BASE_PATH: &str = "/scim/v2";

/// The media type of every SCIM response (RFC 7644 §3.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A SCIM request, relative to the service's base URL.
#[derive(Debug, Clone)]
pub struct ScimRequest {
    pub method: Method,
    /// Path below the base URL, e.g. `/Users/0191...`.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub body: Vec<u8>,
    /// Absolute base URL of the API (`https://host/scim/v2`), used for `meta.location`.
    pub base_url: String,
}

impl ScimRequest {
    pub fn new(method: Method, path: impl Into<String>, base_url: impl Into<String>) -> Self {
        ScimRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            if_match: None,
            if_none_match: None,
            body: Vec::new(),
            base_url: base_url.into(),
        }
    }

    /// The first query parameter with this name (case-insensitive, as IdPs vary).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; 400 invalidSyntax when it is not.
    pub fn json(&self) -> Result<Value, ScimError> {
        if self.body.is_empty() {
            return Err(ScimError::InvalidSyntax("the request body is empty".into()));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ScimError::InvalidSyntax(format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }
}

/// A SCIM response. The content type is always [`SCIM_CONTENT_TYPE`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScimResponse {
    pub status: u16,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: Option<Value>,
}

impl ScimResponse {
    pub fn json(status: u16, body: Value) -> Self {
        ScimResponse {
            status,
            location: None,
            etag: None,
            body: Some(body),
        }
    }

    pub fn empty(status: u16) -> Self {
        ScimResponse {
            status,
            location: None,
            etag: None,
            body: None,
        }
    }

    pub fn error(e: &ScimError) -> Self {
        Self::json(e.status(), e.to_body())
    }

    /// The response headers, content type included (and the bearer challenge of a 401).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::with_capacity(4);
        if self.body.is_some() {
            h.push(("content-type", SCIM_CONTENT_TYPE.to_string()));
        }
        if let Some(l) = &self.location {
            h.push(("location", l.clone()));
        }
        if let Some(e) = &self.etag {
            h.push(("etag", e.clone()));
        }
        if self.status == 401 {
            h.push(("www-authenticate", "Bearer realm=\"SCIM\"".to_string()));
        }
        h
    }

    /// The response as the `http` crate's, with the entry point's own body type: status (500
    /// for a code outside HTTP's range) and [`Self::headers`].
    pub fn to_http<B>(&self, body: B) -> http::Response<B> {
        http_response(self.status, self.headers(), body)
    }

    /// The body serialized.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.body
            .as_ref()
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// An HTTP response of the `http` crate with the entry point's own body type: `status` (500 for
/// a code outside HTTP's range) and `headers` (a value that is no valid header is left out).
pub fn http_response<B>(
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: B,
) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    for (name, value) in headers {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            map.insert(name, v);
        }
    }
    response
}
