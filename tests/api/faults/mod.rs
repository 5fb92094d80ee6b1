//! Faults: `kill -9` of serve processes under load, database outages, and the clock stepping
//! back.

pub mod clock;
pub mod crashes;
pub mod database;
