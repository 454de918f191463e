//! SigV4 for the `AWS_IAM` routes: the gateway knows one local IAM identity (access key, secret,
//! ARN) and accepts a request when its signature is the one that identity's secret gives for
//! the same method, path, query, signed headers, body and time. Tests sign with [`sign`].

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// The IAM identity the local gateway accepts on `AWS_IAM` routes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key: String,
    pub secret_key: String,
    /// What `requestContext.identity.userArn` carries.
    pub arn: String,
    pub region: String,
}

/// Why a signed request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// No SigV4 Authorization header: API Gateway's MISSING_AUTHENTICATION_TOKEN.
    #[error("Missing Authentication Token")]
    Missing,
    /// Signed, but not by the known identity, or for another request.
    #[error("The request signature we calculated does not match the signature you provided.")]
    Invalid,
}

const SERVICE: &str = "execute-api";

fn signature(
    caller: &Caller,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Option<(String, Vec<(String, String)>)> {
    let identity: Identity =
        Credentials::new(&caller.access_key, &caller.secret_key, None, None, "local").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&caller.region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .ok()?;
    let output = aws_sigv4::http_request::sign(signable, &params).ok()?;
    let signature = output.signature().to_string();
    let headers = output
        .output()
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Some((signature, headers))
}

/// The headers that sign a request to `url` (`http://host/stage/...`) as `caller`.
pub fn sign(caller: &Caller, method: &str, url: &str, body: &[u8]) -> Vec<(String, String)> {
    signature(caller, method, url, &[], body, SystemTime::now())
        .map(|(_, headers)| headers)
        .unwrap_or_default()
}

/// Checks a request's SigV4 signature; returns the caller it proves.
pub fn verify<'a>(
    caller: &'a Caller,
    method: &str,
    url: &str,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<&'a Caller, SignatureError> {
    let authorization = header("authorization").ok_or(SignatureError::Missing)?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or(SignatureError::Missing)?;
    let field = |name: &str| {
        fields
            .split(',')
            .filter_map(|f| f.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let credential = field("Credential").ok_or(SignatureError::Invalid)?;
    let given = field("Signature").ok_or(SignatureError::Invalid)?;
    if credential.split('/').next() != Some(caller.access_key.as_str()) {
        return Err(SignatureError::Invalid);
    }
    let date = header("x-amz-date").ok_or(SignatureError::Invalid)?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let time = time::PrimitiveDateTime::parse(&date, format)
        .map_err(|_| SignatureError::Invalid)?
        .assume_utc();
    // The headers the client signed, but those the signer adds itself.
    let signed: Vec<(String, String)> = field("SignedHeaders")
        .unwrap_or_default()
        .split(';')
        .filter(|h| !matches!(*h, "host" | "x-amz-date" | ""))
        .map(|h| (h.to_string(), header(h).unwrap_or_default()))
        .collect();
    let signed: Vec<(&str, &str)> = signed
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (expected, _) = signature(caller, method, url, &signed, body, time.into())
        .ok_or(SignatureError::Invalid)?;
    if expected == given {
        Ok(caller)
    } else {
        Err(SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(secret: &str) -> Caller {
        Caller {
            access_key: "AKIALOCALOPERATOR".into(),
            secret_key: secret.into(),
            arn: "arn:aws:iam::123456789012:user/operator".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn a_request_signed_by_the_known_identity_verifies_and_nothing_else_does() {
        let url = "http://127.0.0.1:9/v1/admin/tenants/acme/users/u1/emergency-logout";
        let signed = sign(&caller("secret"), "POST", url, b"");
        let header = |name: &str| {
            signed
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let me = caller("secret");
        assert!(verify(&me, "POST", url, header, b"").is_ok());
        assert_eq!(
            verify(&me, "POST", &format!("{url}x"), header, b"").err(),
            Some(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&caller("other"), "POST", url, header, b"").err(),
            Some(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&me, "POST", url, |_| None, b"").err(),
            Some(SignatureError::Missing)
        );
    }
}
