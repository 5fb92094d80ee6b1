//! Faults: `kill -9` of serve processes under load, and database outages.

pub mod crashes;
pub mod database;
pub mod network;
