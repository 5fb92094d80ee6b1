//! Faults: `kill -9` of serve processes under load, database outages, and a network to
//! PostgreSQL that cuts, stalls and resets.

pub mod crashes;
pub mod database;
pub mod network;
