//! Running the service: start-up and configuration, shutdown on signals, logs, health and metrics,
//! retention, and the subcommands (`verify`, `export`, `prune`, `send-test`, `copy`).

pub mod config;
pub mod copy;
pub mod endpoints;
pub mod load_smoke;
pub mod logs;
pub mod retention;
pub mod secrets_in_logs;
pub mod send_test;
pub mod shutdown;
pub mod startup;
pub mod verify;
