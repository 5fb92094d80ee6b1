//! `dash-events`: a verifying receiver and audit log for Dash webhooks.
//!
//! Deliveries are verified on their raw bytes (`signature`), validated (`event`), and stored once
//! under their event id (`store`, SQLite or PostgreSQL). The query API (`http`) reads them back.
//! `commands` runs the subcommands defined in `cli`.
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
pub mod commands;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod export;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod listen;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod notify;
#[cfg(feature = "server")]
pub mod position;
#[cfg(feature = "server")]
pub mod retention;
#[cfg(feature = "server")]
pub mod send_test;
#[cfg(feature = "server")]
pub mod startup;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
#[cfg(feature = "server")]
pub mod timeline;
#[cfg(feature = "server")]
pub mod verify;

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::{DRAIN_TIMEOUT, serve};
