//! The harness of the API tests: starting a server (in-process, `app`, or as a child process,
//! `launch` and `server`, optionally under a fault injector, `fiu`), talking to it (`http`,
//! `raw_client`, `sse`, and over HTTPS with the certificates of `tls`) and reading its `metrics`,
//! judging every answer against the service's OpenAPI document (`openapi`), and what stands
//! beside it (`capture`, a notification endpoint; `fill`, many events stored behind its back;
//! `proxy`, a network to PostgreSQL that the test makes stall, cut and reset; `private_postgres`,
//! a PostgreSQL cluster of the test process's own; `replica`, a PostgreSQL primary with a hot
//! standby of the test's own; `pgbouncer`, a transaction pooler in front of PostgreSQL; `disk`, a
//! small tmpfs that fills up or refuses writes).

pub mod app;
pub mod capture;
pub mod disk;
pub mod fill;
pub mod fiu;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod openapi;
pub mod pgbouncer;
pub mod private_postgres;
pub mod proxy;
pub mod raw_client;
pub mod replica;
pub mod server;
pub mod sse;
pub mod tls;
