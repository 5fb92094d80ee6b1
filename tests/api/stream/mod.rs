//! `GET /events/stream`, the live tail: as a client sees it and at its edges (`live`), and
//! across migration 0002 (`migration`).
//!
//! On PostgreSQL a stream passes an event only once every older transaction on the whole server
//! has ended, so the PostgreSQL twins of these checks run on a cluster of their own, shared by
//! the stream tests of this process (`both_backends_on_stream_cluster!`,
//! `support::private_postgres`): another test's transaction held open on the shared server cannot
//! hold their events back.

pub mod filters;
pub mod live;
pub mod migration;
