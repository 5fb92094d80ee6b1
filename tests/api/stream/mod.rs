//! `GET /events/stream`, the live tail.

pub mod access;
pub mod live;
pub mod migration;
