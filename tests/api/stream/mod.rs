//! `GET /events/stream`, the live tail: as a client sees it and at its edges (`live`), and
//! across migration 0002 (`migration`).

pub mod live;
pub mod migration;
