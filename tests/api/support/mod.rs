//! The harness of the API tests: starting a server (in-process, `app`, or as a child process,
//! `launch` and `server`), talking to it (`http`, `raw_client`, `sse`, and over HTTPS with the
//! certificates of `tls`), and what stands beside it
//! (`capture`, a notification endpoint; `fill`, many events stored behind its back).

pub mod app;
pub mod capture;
pub mod fill;
pub mod http;
pub mod launch;
pub mod raw_client;
pub mod server;
pub mod sse;
pub mod tls;
