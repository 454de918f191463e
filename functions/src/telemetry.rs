//! Logs of the functions: JSON lines on stdout (CloudWatch Logs), each carrying the span of the
//! invocation it belongs to, so that every line of a request names its Lambda request id and,
//! for API Gateway events, API Gateway's request id (`requestId` of the access log).
//!
//! A line inside an invocation reads
//! `{"level":"INFO","message":"…",…,"span":{"lambdaRequestId":"…","apiRequestId":"…","name":"invocation"}}`.
//! Functions without an API Gateway event (the events function) get the runtime's own span,
//! `{"requestId":"…","name":"Lambda runtime invoke"}`. The span's fields are formatted once per
//! invocation, when it opens.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tracing::{Span, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// JSON lines on stdout at the level `RUST_LOG` names (`error`, `warn`, `info`, `debug`;
/// default `info`). A plain level rather than an `EnvFilter`: its directive language needs a
/// regex engine in every binary, and template.yaml sets one level anyway.
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    if subscriber(level, std::io::stdout).try_init().is_err() {
        tracing::warn!("logging was already initialised");
    }
}

/// The JSON lines subscriber, writing to `writer`.
fn subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_max_level(level)
        .with_writer(writer)
        .finish()
}

/// The span of one invocation: the Lambda request id and API Gateway's request id, when the
/// event has one.
pub fn invocation_span(lambda_request_id: Option<&str>, api_request_id: Option<&str>) -> Span {
    tracing::info_span!(
        "invocation",
        lambdaRequestId = lambda_request_id.unwrap_or_default(),
        apiRequestId = api_request_id.unwrap_or_default(),
    )
}

/// The span of an API Gateway proxy event.
pub fn request_span(request: &Request) -> Span {
    let api_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => c.request_id.as_deref(),
        _ => None,
    };
    let lambda_request_id = request.lambda_context_ref().map(|c| c.request_id.as_str());
    invocation_span(lambda_request_id, api_request_id)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::Value;

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn every_line_of_an_invocation_carries_both_request_ids() {
        let buffer = Buffer::default();
        let subscriber = subscriber(LevelFilter::INFO, buffer.clone());
        tracing::subscriber::with_default(subscriber, || {
            invocation_span(Some("lambda-1"), Some("api-1")).in_scope(|| {
                tracing::info!(operation = "GetUser", "first");
                tracing::warn!("second");
            });
            tracing::info!("outside");
        });
        let text = String::from_utf8(buffer.0.lock().expect("the buffer").clone()).expect("UTF-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 3);
        for line in &lines[..2] {
            assert_eq!(line["span"]["lambdaRequestId"], "lambda-1", "{line}");
            assert_eq!(line["span"]["apiRequestId"], "api-1", "{line}");
        }
        assert_eq!(lines[0]["operation"], "GetUser");
        assert_eq!(lines[0]["message"], "first");
        assert!(
            lines[2].get("span").is_none(),
            "no span outside an invocation"
        );
    }
}
