//! The one SCIM error type. Every layer's failure ends up here, and this is the only place that
//! decides the HTTP status, the `scimType` and the Error body (RFC 7644 §3.12).

use serde_json::{Value, json};

/// The Error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM protocol error. The message is the `detail` sent to the client: it names attributes and
/// positions, never attribute values of stored resources or tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Uniqueness(String),
    /// A bulk operation that cannot run because of another one: a circular or unresolvable
    /// `bulkId` reference (RFC 7644 §3.7.1).
    #[error("{0}")]
    Conflict(String),
    /// RFC 9865: a cursor that is malformed, forged, or for another tenant or query.
    #[error("{0}")]
    InvalidCursor(String),
    /// RFC 9865: a cursor past its lifetime.
    #[error("{0}")]
    ExpiredCursor(String),
    /// RFC 9865: a `count` the service does not accept with cursors.
    #[error("{0}")]
    InvalidCount(String),
    #[error("{0}")]
    InvalidVersion(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ScimError {
    /// HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidFilter(_)
            | Self::InvalidSyntax(_)
            | Self::InvalidPath(_)
            | Self::InvalidValue(_)
            | Self::Mutability(_)
            | Self::NoTarget(_)
            | Self::TooMany(_)
            | Self::InvalidCursor(_)
            | Self::ExpiredCursor(_)
            | Self::InvalidCount(_)
            | Self::InvalidVersion(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::Uniqueness(_) | Self::Conflict(_) => 409,
            Self::PreconditionFailed(_) => 412,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Internal(_) => 500,
            Self::NotImplemented(_) => 501,
            Self::Unavailable(_) => 503,
        }
    }

    /// The `scimType` keyword of RFC 7644 Table 9, where one applies.
    pub fn scim_type(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidFilter(_) => "invalidFilter",
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::InvalidPath(_) => "invalidPath",
            Self::InvalidValue(_) => "invalidValue",
            Self::Mutability(_) => "mutability",
            Self::NoTarget(_) => "noTarget",
            Self::TooMany(_) => "tooMany",
            Self::Uniqueness(_) => "uniqueness",
            Self::InvalidCursor(_) => "invalidCursor",
            Self::ExpiredCursor(_) => "expiredCursor",
            Self::InvalidCount(_) => "invalidCount",
            Self::InvalidVersion(_) => "invalidVers",
            _ => return None,
        })
    }

    /// The Error resource sent as the response body.
    pub fn to_body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
            "detail": self.to_string(),
        });
        if let Some(t) = self.scim_type() {
            body["scimType"] = Value::from(t);
        }
        body
    }
}

/// Result alias used across the crate.
pub type ScimResult<T> = Result<T, ScimError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_carries_status_as_string_and_scim_type() {
        let body = ScimError::Uniqueness("userName is taken".into()).to_body();
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["detail"], "userName is taken");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
    }

    #[test]
    fn not_found_has_no_scim_type() {
        let body = ScimError::NotFound("no such user".into()).to_body();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }
}
