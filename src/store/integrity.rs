//! Reading every stored row, whole, for `dash-events verify`: in id order, one chunk at a time
//! after the last id seen (a keyset), so memory stays flat however large the log is.

use super::StoreError;
use super::{Store, on_pool};

const SELECT_ROWS: &str = "select id, type, ts_us, content_hash, cost, duration_ms, body, signature \
    from events where id > $1 order by id limit $2";

/// A stored row with every column `verify` compares against its body.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRow {
    /// The event id.
    pub id: String,
    /// The event type, as stored (UTF-8 bytes).
    #[sqlx(rename = "type")]
    pub event_type: Vec<u8>,
    /// The event's own time, µs since the epoch.
    pub ts_us: i64,
    /// The stored content hash.
    pub content_hash: Vec<u8>,
    /// The stored `data.cost`.
    pub cost: Option<f64>,
    /// The stored `data.durationMs`.
    pub duration_ms: Option<f64>,
    /// The exact bytes Dash signed.
    pub body: Vec<u8>,
    /// The HMAC that verified the delivery; `None` for rows stored before it was kept.
    pub signature: Option<Vec<u8>>,
}

impl Store {
    /// Up to `limit` rows with an id after `after` (`""` for the first chunk), in id order.
    pub async fn rows_after(&self, after: &str, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        on_pool!(self, read, pool => {
            Ok(sqlx::query_as(SELECT_ROWS)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        })
    }
}
