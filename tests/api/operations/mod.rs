//! Running the service: start-up and configuration, shutdown on signals, logs, health and metrics,
//! retention, HTTPS, read replicas, and the subcommands (`verify`, `export`, `query`, `prune`,
//! `send-test`, `backup`, `copy`).

pub mod backup;
pub mod backup_refusals;
pub mod config;
pub mod copy;
pub mod endpoints;
pub mod load_smoke;
pub mod logs;
pub mod query;
pub mod replica;
pub mod retention;
pub mod secrets_in_logs;
pub mod send_test;
pub mod shutdown;
pub mod startup;
pub mod tls;
pub mod verify;
pub mod warm_up;
