//! The AWS Lambda side of the service: API Gateway (REST API) -> authorizer -> one small function
//! per SCIM operation -> DynamoDB; the table's stream -> the events function -> EventBridge; and
//! the operator's Emergency Logout behind IAM. The binaries in `src/bin/` are a few lines each;
//! this library holds the one adapter ([`adapter`]), the authorizer ([`authorizer`]), the list of
//! functions ([`catalog`]), the stream consumer's glue ([`events`]), Emergency Logout
//! ([`emergency`]) and the per-sandbox initialisation ([`run`], [`run_authorizer`],
//! [`run_events`], [`run_emergency_logout`]). All SCIM logic is in `scim-shared`.
//!
//! Initialisation happens once per sandbox and makes no network call: JSON logs
//! ([`telemetry`]), the AWS configuration from the environment Lambda sets, the DynamoDB client
//! for `TABLE_NAME` and, where events are published, the EventBridge client for
//! `EVENT_BUS_NAME`. The API Gateway functions and the authorizer handle each event inside a
//! span with its request ids and print one EMF line per event ([`metrics`]).

pub mod adapter;
pub mod authorizer;
pub mod catalog;
pub mod emergency;
pub mod events;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod telemetry;

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::LambdaEvent;
use scim_shared::ops::Limits;
use scim_shared::service::Service;
use scim_shared::store::DynamoStore;
use scim_shared::store::Store;
use tracing::Instrument;

pub use adapter::Handler;
pub use catalog::*;
pub use events::EVENT_BUS_ENV;

/// The environment variable naming the DynamoDB table.
pub const TABLE_NAME_ENV: &str = "TABLE_NAME";
/// The environment variable with the public base URL (`https://host/scim/v2`), for custom domains.
pub const PUBLIC_URL_ENV: &str = "SCIM_PUBLIC_URL";

/// Why a function could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{TABLE_NAME_ENV} is not set: the function does not know its DynamoDB table")]
    NoTable,
    #[error("{EVENT_BUS_ENV} is not set: the function does not know its EventBridge bus")]
    NoEventBus,
    #[error("the async runtime could not start: {0}")]
    Runtime(#[from] std::io::Error),
    /// The Lambda runtime client failed (its error type is a boxed error, kept as text).
    #[error("the Lambda runtime failed: {0}")]
    Lambda(String),
}

/// Runs a SCIM function: initialises once, then answers API Gateway events until the sandbox
/// ends. A current-thread runtime: a sandbox handles one event at a time.
pub fn run(function: &'static Function) -> Result<(), RunError> {
    block_on(async {
        let service = service_from_env().await?;
        let public_url = std::env::var(PUBLIC_URL_ENV).ok();
        let handler = Arc::new(
            Handler::new(service, function, public_url).with_metrics(metrics::namespace_from_env()),
        );
        lambda_http::run(lambda_http::service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
        }))
        .await
        .map_err(|e| RunError::Lambda(e.to_string()))
    })
}

/// Runs the REQUEST authorizer.
pub fn run_authorizer() -> Result<(), RunError> {
    block_on(async {
        let service = service_from_env().await?;
        let namespace = Arc::new(metrics::namespace_from_env());
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
                let (service, namespace) = (service.clone(), namespace.clone());
                async move {
                    let started = Instant::now();
                    let span = telemetry::invocation_span(
                        Some(&event.context.request_id),
                        event.payload.request_context.request_id.as_deref(),
                    );
                    let answer = authorizer::authorize(&service, &event.payload)
                        .instrument(span)
                        .await;
                    let sample = metrics::Sample {
                        operation: metrics::AUTHORIZE_OPERATION,
                        latency: started.elapsed(),
                        status: authorizer::status(&answer),
                    };
                    metrics::emit(&namespace, &sample);
                    answer
                }
            },
        ))
        .await
        .map_err(|e| RunError::Lambda(e.to_string()))
    })
}

/// Runs the events function: the table's stream batches -> EventBridge.
pub fn run_events() -> Result<(), RunError> {
    block_on(async {
        let store: Arc<dyn Store> = Arc::new(DynamoStore::new(dynamodb_client(), table_name()?));
        let publisher = Arc::new(event_bridge_from_env()?);
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<StreamEvent>| {
                let (store, publisher) = (store.clone(), publisher.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        events::handle(&*store, &*publisher, &event.payload, events::STREAM_RETRY)
                            .await,
                    )
                }
            },
        ))
        .await
        .map_err(|e| RunError::Lambda(e.to_string()))
    })
}

/// Runs the Emergency Logout function (`POST /admin/tenants/{tenant}/users/{id}/emergency-logout`).
pub fn run_emergency_logout() -> Result<(), RunError> {
    block_on(async {
        let handler = Arc::new(emergency::EmergencyLogout::new(
            service_from_env().await?,
            Arc::new(event_bridge_from_env()?),
            scim_shared::events::Retry::EMERGENCY,
        ));
        let namespace = Arc::new(metrics::namespace_from_env());
        lambda_http::run(lambda_http::service_fn(
            move |request: lambda_http::Request| {
                let (handler, namespace) = (handler.clone(), namespace.clone());
                async move {
                    let started = Instant::now();
                    let span = telemetry::request_span(&request);
                    let response = handler.handle(request).instrument(span).await;
                    let sample = metrics::Sample {
                        operation: metrics::EMERGENCY_LOGOUT_OPERATION,
                        latency: started.elapsed(),
                        status: response.status().as_u16(),
                    };
                    metrics::emit(&namespace, &sample);
                    Ok::<_, std::convert::Infallible>(response)
                }
            },
        ))
        .await
        .map_err(|e| RunError::Lambda(e.to_string()))
    })
}

/// Runs the management API function of one concern (`/admin/v1/...`, IAM-authorised).
pub fn run_management(concern: scim_shared::manage::Concern) -> Result<(), RunError> {
    block_on(async {
        let mut handler = manage::ManageHandler::new(
            service_from_env().await?,
            concern,
            std::env::var(PUBLIC_URL_ENV).ok(),
        )
        .with_metrics(metrics::namespace_from_env());
        if concern == scim_shared::manage::Concern::Republish {
            handler = handler.with_publisher(Arc::new(event_bridge_from_env()?));
        }
        let handler = Arc::new(handler);
        lambda_http::run(lambda_http::service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
        }))
        .await
        .map_err(|e| RunError::Lambda(e.to_string()))
    })
}

/// Runs the OAuth 2.0 token function (`POST /oauth/token`): federated clients' key sets are
/// fetched over HTTPS when an assertion first needs them, never at start-up.
pub fn run_oauth_token() -> Result<(), RunError> {
    block_on(async {
        let store = Arc::new(DynamoStore::new(dynamodb_client(), table_name()?));
        let jwks = Arc::new(scim_shared::oauth::Jwks::from_env());
        let endpoint = scim_shared::oauth::TokenEndpoint::new(store, jwks);
        let handler = Arc::new(
            oauth::TokenHandler::new(endpoint).with_metrics(metrics::namespace_from_env()),
        );
        lambda_http::run(lambda_http::service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, std::convert::Infallible>(handler.handle(request).await) }
        }))
        .await
        .map_err(|e| RunError::Lambda(e.to_string()))
    })
}

fn block_on<F: Future<Output = Result<(), RunError>>>(f: F) -> Result<(), RunError> {
    telemetry::init_logging();
    scim_shared::boundary::log_panics();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn table_name() -> Result<String, RunError> {
    std::env::var(TABLE_NAME_ENV)
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or(RunError::NoTable)
}

/// The service over the table in `TABLE_NAME`, with the outbox on: each provisioning request's
/// events are stored as outbox items, which the table's stream carries to the events function.
/// No sink: nothing is delivered from the request itself. No network call.
async fn service_from_env() -> Result<Arc<Service>, RunError> {
    let store = DynamoStore::new(dynamodb_client(), table_name()?);
    Ok(Arc::new(Service::new(Arc::new(store), Limits::default())))
}

/// The publisher to the bus in `EVENT_BUS_NAME`; no network call.
fn event_bridge_from_env() -> Result<events::EventBridge, RunError> {
    let bus = std::env::var(EVENT_BUS_ENV)
        .ok()
        .filter(|b| !b.is_empty())
        .ok_or(RunError::NoEventBus)?;
    Ok(events::EventBridge::new(event_bridge_client(), bus))
}

/// The DynamoDB client of a sandbox, from what Lambda puts in the environment: `AWS_REGION` and
/// the execution role's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
/// (aws-config's environment providers), and `AWS_ENDPOINT_URL` when set. aws-config's default
/// chain would look for profiles, SSO, web identity, ECS and IMDS credentials, none of which a
/// Lambda sandbox has, and would add about half a megabyte to every binary. The retry policy is
/// `DynamoStore::from_env`'s (standard, 5 attempts). No network call: credentials are read on
/// the first request.
fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Region};
    let mut config = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(std::env::var("AWS_REGION").ok().map(Region::new))
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(5));
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// The EventBridge client of a sandbox, configured as [`dynamodb_client`]'s: region and
/// credentials from the environment Lambda sets, `AWS_ENDPOINT_URL` when set, standard retries.
fn event_bridge_client() -> aws_sdk_eventbridge::Client {
    use aws_sdk_eventbridge::config::retry::RetryConfig;
    use aws_sdk_eventbridge::config::{BehaviorVersion, Builder, Region};
    let mut config = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(std::env::var("AWS_REGION").ok().map(Region::new))
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    aws_sdk_eventbridge::Client::from_conf(config.build())
}
