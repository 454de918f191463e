//! No input reaches a panic (issue 13): every parser entry point, and the whole request pipeline,
//! fed arbitrary unicode and valid inputs with random characters spliced in, either succeeds or
//! answers a SCIM 4xx error.
//!
//! Each property runs a fixed number of cases, `PROPTEST_CASES` when set (for a longer run) and
//! its own default otherwise, and prints to stderr how many it ran and how long they took.
//! Inputs that once crashed the service are plain tests beside the properties.

mod inputs;
mod parsers;
mod pipeline;

use std::fmt::Debug;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};
use scim_shared::ScimError;

/// Runs `property` on the cases of `strategy` (`PROPTEST_CASES`, else `default_cases`), prints
/// the count and the time, and fails with the smallest failing input proptest finds.
pub fn check<S>(
    name: &str,
    default_cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> TestCaseResult,
) where
    S: Strategy,
    S::Value: Debug,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let ran = AtomicU32::new(0);
    let started = Instant::now();
    let outcome = TestRunner::new(config).run(&strategy, |input| {
        ran.fetch_add(1, Ordering::Relaxed);
        property(input)
    });
    // Straight to stderr, past the test harness's capture, so that every run shows its counts.
    let _ = writeln!(
        std::io::stderr(),
        "property {name}: {} cases in {:.2} s",
        ran.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = outcome {
        panic!("property {name} failed: {e}");
    }
}

/// Whether an error is one a client caused: a SCIM 4xx.
pub fn is_client_error(e: &ScimError) -> bool {
    (400..500).contains(&e.status())
}
