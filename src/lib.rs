//! `dash-events`: a verifying receiver and audit log for Dash webhooks.
//!
//! A delivery is verified on its raw bytes, validated, and stored once under its event id, in
//! SQLite or PostgreSQL; a query API, a live stream, an export and a web view read the log back.
//!
//! # Code map
//!
//! The modules form layers; each uses only those below it.
//!
//! | layer | modules | holds |
//! | --- | --- | --- |
//! | entry points | `main.rs`, `bin/lambda.rs`, `cli` | parse the command line (only `cli` knows clap) into plain values and hand them to a subcommand |
//! | subcommands | `commands` | one file per subcommand (`serve`, `migrate`, `send-test`, `verify`, `export`, `query`, `prune`, `notify`, `backup`, `copy`), each taking plain values; `CommandError` and exit codes; binding with the loopback rule |
//! | the running service | `service`, `http`, `lambda`, `error` | `serve`: the app on its listener, background prune and upkeep, the drain; the connection layer with its bounds and HTTPS (rustls, certificates reloaded when their files change); the router, one module per resource, the bearer-token check, OpenAPI, the web view; `AppError`, the one place an error becomes a status |
//! | ingest | `ingest` | the group-commit writer: batches deliveries into one transaction, keeps write health for readiness, wakes live streams, and works out each event's notifications for the store to record in the same transaction |
//! | background work | `notify`, `retention`, `export` | notification rules, Slack messages, backoff, sending and the worker; the retention window and the prune loop; the export as a stream of pages, one keyset run per type merged newest first |
//! | data access | `store` | `Store` (SQLite or PostgreSQL) and `StoreError`: the batch insert, queries, stats and hourly totals, the stream's commit-ordered reads, the outbox tables, prune batches, the integrity scan, the SQLite checkpointer and the read-ahead of its id index at start, a SQLite log read-only for a backup, a PostgreSQL log's upkeep, a PostgreSQL read replica and its lag, a copy's read-only source and the schema check of its ends |
//! | domain | `event`, `query`, `timeline`, `groups`, `token`, `cursor`, `position`, `signature`, `secret`, `config`, `limits`, `clock` | validating a delivery into a `NewEvent` and rendering a stored one; every query string's parameters and time ranges (`query`, the only parser of them); timeline buckets; the groups of `/stats/groups` added up, ordered and paged; the one codec of opaque tokens and the page cursor and stream position made with it; `X-Dash-Signature`; secrets that never print; `Config`; the bounds on slow clients; the clock |
//! | support | `metrics`, `telemetry` | the Prometheus registry; logging |
//!
//! Without the default `server` feature only the pure core is built (`secret`, `signature`,
//! `event`, `token`, `cursor`, `query`): what the fuzz targets exercise, without the server's
//! dependencies.

// The pure core, built with or without the `server` feature.
pub mod cursor;
pub mod event;
pub mod query;
pub mod secret;
pub mod signature;
pub mod token;

// The service (the default `server` feature).
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod commands;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod export;
#[cfg(feature = "server")]
pub mod groups;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod ingest;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod notify;
#[cfg(feature = "server")]
pub mod position;
#[cfg(feature = "server")]
pub mod retention;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
#[cfg(feature = "server")]
pub mod timeline;

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::{DRAIN_TIMEOUT, serve};
