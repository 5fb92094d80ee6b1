//! Faults: `kill -9` of serve processes under load, database outages, a network to PostgreSQL
//! that cuts, stalls and resets, and the clock stepping back.

pub mod clock;
pub mod crashes;
pub mod database;
pub mod network;
