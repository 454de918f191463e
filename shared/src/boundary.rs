//! The panic boundary of the entry points (the Lambda adapter, Emergency Logout, `scimctl
//! serve`): a request whose handling panics is answered with a SCIM 500 error, and only that
//! request fails; the process goes on serving the others.
//!
//! No input should reach a panic (the parsers' and the pipeline's property tests hold that);
//! the boundary is for the bug they miss. Its cost is the unwinding the deploy profile keeps
//! (`panic = "unwind"`; the size difference is measured in docs/lambda.md).

use std::panic::{AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::pin::pin;
use std::task::Poll;

use crate::protocol::error::ScimError;

/// The handling of a request panicked. As a SCIM error: 500, no detail of what went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an internal error interrupted the request")]
pub struct Panicked;

impl From<Panicked> for ScimError {
    fn from(p: Panicked) -> Self {
        ScimError::Internal(p.to_string())
    }
}

/// Runs `future` to completion; a panic while polling it ends it and is returned as
/// [`Panicked`] instead of unwinding further.
///
/// Unwind safety: what a request shares with the others is the service (read-only once built),
/// the store, whose every write is a transaction of its own, so that a panic between two writes
/// leaves what a crash between them would, and locks that tolerate poisoning.
pub async fn catch_panic<F: Future>(future: F) -> Result<F::Output, Panicked> {
    let mut future = pin!(future);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(Panicked)),
        },
    )
    .await
}

/// Replaces the default panic hook, which prints the panic's message, with one error log line
/// naming where the code panicked. A formatted message may quote the request (a slicing panic
/// quotes the string it slices: attribute values), so only a constant message is logged.
pub fn log_panics() {
    std::panic::set_hook(Box::new(log_panic));
}

fn log_panic(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let message = info.payload().downcast_ref::<&'static str>().copied();
    tracing::error!(
        location = location.as_deref().unwrap_or("unknown"),
        message = message.unwrap_or("(formatted; not logged)"),
        "panic"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(fail: bool) -> u16 {
        tokio::task::yield_now().await;
        if fail {
            panic!("the store misbehaved");
        }
        200
    }

    #[tokio::test]
    async fn a_panic_while_handling_becomes_panicked_and_the_caller_goes_on() {
        assert_eq!(catch_panic(answer(true)).await, Err(Panicked));
        assert_eq!(catch_panic(answer(false)).await, Ok(200));
        let e = ScimError::from(Panicked);
        assert_eq!(e.status(), 500);
        assert_eq!(
            e.to_body()["detail"],
            "an internal error interrupted the request"
        );
    }
}
