//! Webhook deliveries: validation, signatures, content types, rejections, duplicates, the stored
//! body, retention at ingest, several receivers on one database, slow clients and idle
//! connections, the SQLite WAL.

pub mod content;
pub mod duplicates;
pub mod durability;
pub mod event_body;
pub mod idle_connections;
pub mod multi_receiver;
pub mod rejections;
pub mod retention_ingest;
pub mod slow_clients;
pub mod validation;
pub mod wal_bounded;
pub mod webhooks;
