//! The management API (`scim_shared::manage`, docs/management-api.md) as `scimctl`'s tenant,
//! token, log and events commands call it: in process over the store (`--store`, the default),
//! or over HTTP (`--api URL`) to a deployed stack, each request signed with SigV4 from the
//! standard AWS credential chain (profiles, SSO, `credential_process`, environment), or to a
//! `scimctl serve` with its operator token (`SCIM_OPERATOR_TOKEN`). Both answer the same JSON, so
//! the commands print the same output either way.

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use scim_shared::audit::AuditRecord;
use scim_shared::events::lifecycle::Event;
use scim_shared::manage::{BASE_PATH, MAX_LIMIT, MAX_WINDOW_DAYS, ManageRequest, Management};
use scim_shared::protocol::clock;
use scim_shared::protocol::http::Method;
use scim_shared::service::Service;
use scim_shared::tenant::clients::{ClientInfo, Federation, SecretInfo};
use scim_shared::tenant::{Tenant, TokenInfo};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The service name API Gateway signs and checks (`execute-api:Invoke`).
pub const SIGNING_SERVICE: &str = "execute-api";

/// Why a management call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error: its message.
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error("calling {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("signing the request with SigV4: {0}")]
    Signing(String),
    #[error("no AWS credentials for --api: {0}")]
    Credentials(String),
    #[error("no AWS region for --api: set AWS_REGION or the profile's region")]
    NoRegion,
    #[error("this call needs --api: it is made over HTTP only")]
    NotHttp,
    #[error("{url} answered {status} with a body that is not the management API's: {detail}")]
    Unexpected {
        url: String,
        status: u16,
        detail: String,
    },
}

/// How HTTP requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// SigV4 for API Gateway's IAM authorisation.
    SigV4 {
        credentials: SharedCredentialsProvider,
        region: String,
    },
    /// The operator token of a `scimctl serve`.
    Bearer(String),
}

#[derive(Debug, Clone)]
enum Target {
    Local(Management),
    Http {
        /// The API's root, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/v1`.
        root: String,
        http: reqwest::Client,
        auth: Auth,
    },
}

/// A tenant deletion as the API reports it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Deletion {
    pub deleted: u64,
    pub steps: Vec<DeletionStep>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct DeletionStep {
    pub items: String,
    pub deleted: u64,
}

/// What a republication did.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Republished {
    pub since: String,
    pub until: String,
    pub republished: u64,
    pub failed: u64,
    /// The first failures: event id and why.
    pub failures: Vec<Value>,
}

/// A created OAuth client, as the management API answers it.
#[derive(Debug, serde::Deserialize)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub info: ClientInfo,
    /// A secret client's secret, in this answer only.
    pub secret: Option<String>,
    pub token_url: String,
}

/// A page of activity: the items and the cursor to continue after them.
#[derive(Debug, serde::Deserialize)]
struct Page<T> {
    #[serde(alias = "events", alias = "records")]
    items: Vec<T>,
    cursor: Option<String>,
    more: bool,
}

/// A client of the management API.
#[derive(Debug, Clone)]
pub struct ManagementClient {
    target: Target,
}

impl ManagementClient {
    /// The API in process, over the service's store; republished events go to the tenants'
    /// webhooks.
    pub fn local(service: Arc<Service>) -> Self {
        let webhooks = Arc::new(crate::webhook::WebhookPublisher::new(
            service.store().clone(),
        ));
        ManagementClient {
            target: Target::Local(Management::new(service).with_publisher(webhooks)),
        }
    }

    /// The API at `root` (the part before `/admin/v1`), authenticated by `auth`.
    pub fn http(root: &str, auth: Auth) -> Self {
        ManagementClient {
            target: Target::Http {
                root: root.trim_end_matches('/').to_string(),
                http: reqwest::Client::new(),
                auth,
            },
        }
    }

    /// The API at `root` with the operator token when one is given, else with SigV4 from the
    /// standard AWS credential chain and region.
    pub async fn from_env(root: &str, operator_token: Option<String>) -> Result<Self, ClientError> {
        if let Some(token) = operator_token.filter(|t| !t.trim().is_empty()) {
            return Ok(Self::http(root, Auth::Bearer(token.trim().to_string())));
        }
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let credentials = config.credentials_provider().ok_or_else(|| {
            ClientError::Credentials("the AWS credential chain found no provider".into())
        })?;
        let region = config.region().ok_or(ClientError::NoRegion)?.to_string();
        Ok(Self::http(
            root,
            Auth::SigV4 {
                credentials,
                region,
            },
        ))
    }

    /// Sends one request; the body of a success (none for 204), or the API's error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Option<Value>, ClientError> {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, url, text) = match &self.target {
            Target::Local(management) => {
                let mut req = ManageRequest::new(method, path, "http://localhost/scim/v2");
                req.query = query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                req.body = body;
                let response = management.handle(&req).await;
                (
                    response.status,
                    format!("{BASE_PATH}{path}"),
                    String::from_utf8_lossy(&response.body_bytes()).into_owned(),
                )
            }
            Target::Http { root, .. } => {
                let url = format!("{root}{BASE_PATH}{path}");
                self.call_http(method, &url, query, body).await?
            }
        };
        answer(status, &url, &text)
    }

    /// One HTTP request to `url`, authenticated: its status, URL and body.
    async fn call_http(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, String, String), ClientError> {
        let Target::Http { http, auth, .. } = &self.target else {
            return Err(ClientError::NotHttp);
        };
        let mut url = reqwest::Url::parse(url).map_err(|e| ClientError::Unexpected {
            url: url.to_string(),
            status: 0,
            detail: format!("not a URL: {e}"),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut rb = http
            .request(
                reqwest::Method::from_bytes(method.as_str().as_bytes())
                    .unwrap_or(reqwest::Method::GET),
                url.clone(),
            )
            .header("content-type", "application/json");
        for (name, value) in authorization(auth, method, url.as_str(), &body).await? {
            rb = rb.header(name, value);
        }
        let http_error = |source| ClientError::Http {
            url: url.to_string(),
            source,
        };
        let response = rb.body(body).send().await.map_err(http_error)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(http_error)?;
        Ok((status, url.to_string(), text))
    }

    /// Emergency Logout of a deployed stack's user (`POST /admin/tenants/{tenant}/users/{id}/
    /// emergency-logout`, IAM-authorised): its answer, with the leaver `event` and whether it
    /// was published (`eventBridge`). Over HTTP only: locally `scimctl` logs out in process.
    pub async fn emergency_logout(&self, tenant: &str, user: &str) -> Result<Value, ClientError> {
        let Target::Http { root, .. } = &self.target else {
            return Err(ClientError::NotHttp);
        };
        let url = format!("{root}/admin/tenants/{tenant}/users/{user}/emergency-logout");
        let (status, url, text) = self.call_http(Method::Post, &url, &[], Vec::new()).await?;
        answer(status, &url, &text)?.ok_or(ClientError::Unexpected {
            url,
            status,
            detail: "no body".into(),
        })
    }

    async fn typed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<T, ClientError> {
        let url = format!("{BASE_PATH}{path}");
        let value = self.send(method, path, query, body).await?;
        serde_json::from_value(value.unwrap_or(Value::Null)).map_err(|e| ClientError::Unexpected {
            url,
            status: 200,
            detail: e.to_string(),
        })
    }

    pub async fn create_tenant(&self, id: &str) -> Result<Tenant, ClientError> {
        self.typed(Method::Post, "/tenants", &[], Some(json!({"id": id})))
            .await
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Tenants {
            tenants: Vec<Tenant>,
        }
        let list: Tenants = self.typed(Method::Get, "/tenants", &[], None).await?;
        Ok(list.tenants)
    }

    /// Changes the settings `settings` names (`{"dialect": "strict"}`, ...), keeping the others.
    pub async fn set_settings(&self, tenant: &str, settings: Value) -> Result<Tenant, ClientError> {
        let path = format!("/tenants/{tenant}");
        let body = json!({ "settings": settings });
        self.typed(Method::Patch, &path, &[], Some(body)).await
    }

    pub async fn delete_tenant(&self, tenant: &str) -> Result<Deletion, ClientError> {
        let path = format!("/tenants/{tenant}");
        self.typed(Method::Delete, &path, &[], None).await
    }

    /// Issues a Secret Token: the secret (shown this once) and its listing.
    pub async fn issue_token(&self, tenant: &str) -> Result<(String, TokenInfo), ClientError> {
        #[derive(serde::Deserialize)]
        struct Issued {
            token: String,
            #[serde(flatten)]
            info: TokenInfo,
        }
        let path = format!("/tenants/{tenant}/tokens");
        let issued: Issued = self.typed(Method::Post, &path, &[], None).await?;
        Ok((issued.token, issued.info))
    }

    pub async fn list_tokens(&self, tenant: &str) -> Result<Vec<TokenInfo>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Tokens {
            tokens: Vec<TokenInfo>,
        }
        let path = format!("/tenants/{tenant}/tokens");
        let list: Tokens = self.typed(Method::Get, &path, &[], None).await?;
        Ok(list.tokens)
    }

    pub async fn revoke_token(&self, tenant: &str, token_id: &str) -> Result<(), ClientError> {
        let path = format!("/tenants/{tenant}/tokens/{token_id}");
        self.send(Method::Delete, &path, &[], None).await.map(drop)
    }

    /// Creates an OAuth client (federated with `federation`): its listing, the secret of a
    /// secret client (shown this once) and the Token URL the answer names.
    pub async fn create_client(
        &self,
        tenant: &str,
        federation: Option<&Federation>,
    ) -> Result<CreatedClient, ClientError> {
        let path = format!("/tenants/{tenant}/clients");
        let body = match federation {
            Some(f) => json!({ "federation": f }),
            None => json!({}),
        };
        self.typed(Method::Post, &path, &[], Some(body)).await
    }

    pub async fn list_clients(&self, tenant: &str) -> Result<Vec<ClientInfo>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Clients {
            clients: Vec<ClientInfo>,
        }
        let path = format!("/tenants/{tenant}/clients");
        let list: Clients = self.typed(Method::Get, &path, &[], None).await?;
        Ok(list.clients)
    }

    pub async fn revoke_client(&self, tenant: &str, client_id: &str) -> Result<(), ClientError> {
        let path = format!("/tenants/{tenant}/clients/{client_id}");
        self.send(Method::Delete, &path, &[], None).await.map(drop)
    }

    /// Adds a secret to a client: the secret (shown this once) and its listing.
    pub async fn add_client_secret(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<(String, SecretInfo), ClientError> {
        #[derive(serde::Deserialize)]
        struct Added {
            secret: String,
            #[serde(flatten)]
            info: SecretInfo,
        }
        let path = format!("/tenants/{tenant}/clients/{client_id}/secrets");
        let added: Added = self.typed(Method::Post, &path, &[], None).await?;
        Ok((added.secret, added.info))
    }

    pub async fn revoke_client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        secret_id: &str,
    ) -> Result<(), ClientError> {
        let path = format!("/tenants/{tenant}/clients/{client_id}/secrets/{secret_id}");
        self.send(Method::Delete, &path, &[], None).await.map(drop)
    }

    /// Whether the API is this process's (no host to name a Token URL by).
    pub fn is_local(&self) -> bool {
        matches!(self.target, Target::Local(_))
    }

    /// A tenant's audit records from `since` (an RFC 3339 time, a day or an age) until now,
    /// oldest first; only failed requests with `failed`.
    pub async fn audit(
        &self,
        tenant: &str,
        since: &str,
        failed: bool,
    ) -> Result<Vec<AuditRecord>, ClientError> {
        let path = format!("/tenants/{tenant}/audit");
        let filter: &[(&str, &str)] = if failed { &[("status", "failed")] } else { &[] };
        let (records, _) = self.read(&path, since, filter).await?;
        Ok(records)
    }

    /// A tenant's events from `since` (an RFC 3339 time, a day or an age) until now, oldest
    /// first, and the cursor after them.
    pub async fn events_since(
        &self,
        tenant: &str,
        since: &str,
    ) -> Result<(Vec<Event>, Option<String>), ClientError> {
        let path = format!("/tenants/{tenant}/events");
        self.read(&path, since, &[]).await
    }

    /// Sends a tenant's events from `since` until `until` (now when absent) to the publisher
    /// again.
    pub async fn republish(
        &self,
        tenant: &str,
        since: &str,
        until: Option<&str>,
    ) -> Result<Republished, ClientError> {
        let path = format!("/tenants/{tenant}/events/republish");
        let mut query = vec![("since", since)];
        query.extend(until.map(|u| ("until", u)));
        self.typed(Method::Post, &path, &query, None).await
    }

    /// Every item of an activity route from `since` until now: in windows of at most
    /// [`MAX_WINDOW_DAYS`], every page of each, following the cursor; and the last cursor.
    async fn read<T: DeserializeOwned>(
        &self,
        path: &str,
        since: &str,
        filter: &[(&str, &str)],
    ) -> Result<(Vec<T>, Option<String>), ClientError> {
        let now = clock::now();
        let mut start = clock::parse_since(since, now).ok_or_else(|| ClientError::Refused {
            status: 400,
            message: format!(
                "since '{since}': give an RFC 3339 time, a day (2026-11-23) or an age (30m, 12h, 7d)"
            ),
        })?;
        let limit = MAX_LIMIT.to_string();
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            // A `since` at the end of the calendar has no window after it: now bounds it.
            let until = start
                .checked_add(time::Duration::days(MAX_WINDOW_DAYS))
                .map_or(now, |u| u.min(now));
            let (from, to) = (clock::format(start), clock::format(until));
            loop {
                let mut query: Vec<(&str, &str)> = vec![("limit", &limit)];
                query.extend_from_slice(filter);
                query.extend([("since", from.as_str()), ("until", to.as_str())]);
                if let Some(c) = &cursor {
                    query.push(("cursor", c));
                }
                let page: Page<T> = self.typed(Method::Get, path, &query, None).await?;
                items.extend(page.items);
                cursor = page.cursor.or(cursor);
                if !page.more {
                    break;
                }
            }
            if until >= now {
                return Ok((items, cursor));
            }
            start = until;
        }
    }
}

/// The body of a success (none when empty), or the error the answer states.
fn answer(status: u16, url: &str, text: &str) -> Result<Option<Value>, ClientError> {
    let unexpected = || ClientError::Unexpected {
        url: url.to_string(),
        status,
        detail: text.chars().take(200).collect(),
    };
    let parsed: Option<Value> = if text.is_empty() {
        None
    } else {
        Some(serde_json::from_str(text).map_err(|_| unexpected())?)
    };
    if (200..300).contains(&status) {
        return Ok(parsed);
    }
    // The management API's `{"error": {"message"}}`, Emergency Logout's `{"error": "..."}` or
    // SCIM error (`detail`), or an answer of API Gateway's own: a gateway response of
    // template.yaml (a SCIM error, e.g. an IAM refusal) or its default `{"message"}`.
    let message = parsed
        .as_ref()
        .and_then(|b| {
            b["error"]["message"]
                .as_str()
                .or(b["error"].as_str())
                .or(b["detail"].as_str())
                .or(b["message"].as_str())
        })
        .map(str::to_string)
        .ok_or_else(unexpected)?;
    Err(ClientError::Refused { status, message })
}

/// The headers that authenticate one request.
async fn authorization(
    auth: &Auth,
    method: Method,
    url: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, ClientError> {
    match auth {
        Auth::Bearer(token) => Ok(vec![("authorization".into(), format!("Bearer {token}"))]),
        Auth::SigV4 {
            credentials,
            region,
        } => {
            let credentials = credentials
                .provide_credentials()
                .await
                .map_err(|e| ClientError::Credentials(e.to_string()))?;
            let identity = credentials.into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(region)
                .name(SIGNING_SERVICE)
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .map_err(|e| ClientError::Signing(e.to_string()))?
                .into();
            let signable = SignableRequest::new(
                method.as_str(),
                url,
                std::iter::empty(),
                SignableBody::Bytes(body),
            )
            .map_err(|e| ClientError::Signing(e.to_string()))?;
            let output = aws_sigv4::http_request::sign(signable, &params)
                .map_err(|e| ClientError::Signing(e.to_string()))?;
            Ok(output
                .output()
                .headers()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect())
        }
    }
}
