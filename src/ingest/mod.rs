//! Ingest: how a verified delivery becomes a committed row. The group-commit writer batches the
//! deliveries of many requests into one transaction, keeps the write health that readiness
//! reports, wakes live streams after each commit, and works out which notifications each event
//! asks for, so that the store records them in the same transaction and wakes the
//! notification worker once they are committed. The store below it only reads and writes rows.

mod writer;

pub use writer::{BatchWriter, WriterSettings};

use crate::event::NewEvent;
use crate::notify::Rules;
use crate::store::PendingNotification;

/// One notification per (event, matching rule), due when the event was received. The store keeps
/// only those of the events it newly inserts, so a redelivery never adds one.
pub fn notifications_of<'a>(
    events: &[(&'a NewEvent, i64)],
    rules: &'a Rules,
) -> Vec<PendingNotification<'a>> {
    if rules.is_empty() {
        return Vec::new();
    }
    events
        .iter()
        .flat_map(|&(event, received_us)| {
            rules
                .matching(&event.event_type)
                .map(move |rule| PendingNotification {
                    event_id: event.id.as_str(),
                    rule,
                    due_us: received_us,
                })
        })
        .collect()
}
