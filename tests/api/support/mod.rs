//! The harness of the API tests: starting a server (in-process, `app`, or as a child process,
//! `launch` and `server`), talking to it (`http`, `raw_client`, `sse`) and reading its `metrics`,
//! and what stands beside it (`capture`, a notification endpoint; `fill`, many events stored
//! behind its back; `private_postgres`, a PostgreSQL cluster of the test process's own).

pub mod app;
pub mod capture;
pub mod fill;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod private_postgres;
pub mod raw_client;
pub mod server;
pub mod sse;
