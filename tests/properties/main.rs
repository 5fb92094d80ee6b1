//! Property tests (proptest) of the hostile-input boundary: signature checking, delivery
//! validation and its content hash, the pagination cursor and the query parameters, as pure
//! functions; then two black-box properties over HTTP against `dash_events::serve` (signed bodies
//! never get a 5xx, pages never skip or repeat while events arrive). Case counts are small so that
//! `cargo test` stays fast; `PROPTEST_CASES=5000 cargo test --test properties` runs more.
//!
//! One module per family of properties; `strategies` generates the inputs they share. A failure
//! found here or by the fuzzers (`fuzz/`) is kept as a named regression test in the module of its
//! family.

mod deliveries;
mod over_http;
mod queries;
mod server;
mod signatures;
mod strategies;

use proptest::test_runner::Config as ProptestConfig;

/// The webhook secret the properties sign with (and the test server is started with).
const SECRET: &str = "property-secret";

/// `default_cases` unless `PROPTEST_CASES` says otherwise. Failures are not persisted to a
/// `proptest-regressions` directory: each one found is kept as a named regression test.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(default_cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
