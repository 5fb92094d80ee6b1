//! Notifications: rules, Slack and webhook targets, retries and their timing, the outbox, several
//! receivers, crashes, the listing.

pub mod crash;
pub mod listing;
pub mod outbox;
pub mod receivers;
pub mod retries;
pub mod side_by_side;
pub mod slack;
pub mod timing;
