//! Black-box tests of `dash-events-lambda`, the receiver as an AWS Lambda function: each test
//! starts the real binary the way Lambda starts a custom runtime, against a fake Lambda Runtime
//! API on loopback (`runtime`), and invokes it with recorded API Gateway proxy events
//! (`events/`: REST API payload 1.0 and HTTP API payload 2.0, signed and unsigned, plain and
//! base64). The function stores in PostgreSQL only, so these tests need it; without a reachable
//! server they skip with a notice unless `DASH_EVENTS_REQUIRE_POSTGRES=1` makes that a failure.
//!
//! Built only with the `lambda` feature: `cargo test --all-features`.

// Shared with the `api` test target, which uses all of them.
#[path = "../common/backend.rs"]
#[expect(dead_code, reason = "shared with tests/api, which uses the rest")]
mod backend;
#[path = "../common/helpers.rs"]
#[expect(dead_code, reason = "shared with tests/api, which uses the rest")]
mod helpers;
#[path = "../common/process.rs"]
#[expect(dead_code, reason = "shared with tests/api, which uses the rest")]
mod process;

mod function;
mod runtime;

mod deliveries;
mod queries;
mod recordings;
mod startup;

use std::future::Future;

use backend::{Backend, TestDb};

/// Runs `check` on a fresh PostgreSQL database of its own.
async fn on_postgres<F, Fut>(check: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    backend::run(Backend::Postgres, check).await;
}
