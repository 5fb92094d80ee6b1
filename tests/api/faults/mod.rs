//! Faults: `kill -9` of serve processes under load, database outages, I/O errors from the kernel,
//! a network to PostgreSQL that cuts, stalls and resets, the clock stepping back, and a
//! transaction pooler (PgBouncer) lending server connections between receivers.

pub mod clock;
pub mod crashes;
pub mod database;
pub mod io_errors;
pub mod network;
pub mod pooler;

/// Skips (with a notice) unless the environment requires the fault tests to run.
pub(crate) fn unavailable(what: &str) {
    if std::env::var("DASH_EVENTS_REQUIRE_FAULTS").is_ok_and(|v| v == "1") {
        panic!("{what} and DASH_EVENTS_REQUIRE_FAULTS=1");
    }
    crate::backend::report_skip(&format!(
        "{what}; set DASH_EVENTS_REQUIRE_FAULTS=1 to fail instead"
    ));
}
