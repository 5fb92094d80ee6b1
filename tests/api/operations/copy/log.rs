//! The logs a copy test moves and what it compares: signed events of several types spread over
//! days, with a notification history of every state, stored behind the service's back; and a
//! `Snapshot` of every column a copy must carry (events, notifications, the daily and hourly
//! totals summed over their shards), read the same way from either backend.

use std::fmt::Debug;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgConnection, SqliteConnection};

use crate::backend::{Backend, TestDb};
use crate::support::fill::store_signed_events;

/// Types the generated events cycle through.
const TYPES: [&str; 5] = [
    "agent:complete",
    "agent:error",
    "budget:warning",
    "swarm:progress",
    "workflow:step:complete",
];

/// One event in `NOTIFIED_SHARE` gets a notification history.
pub const NOTIFIED_SHARE: usize = 50;

type EventRow = (
    String,
    Vec<u8>,
    i64,
    i64,
    Vec<u8>,
    Option<f64>,
    Option<f64>,
    Vec<u8>,
    Option<Vec<u8>>,
);
type NotificationRow = (
    String,
    String,
    String,
    i32,
    i64,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
);
type DailyRow = (Vec<u8>, i64, i64, f64, f64, i64);
type HourlyRow = (Vec<u8>, i64, i64, f64);

const INSERT_NOTIFICATIONS: &str = "insert into notifications (event_id, rule, state, \
    attempts, next_attempt_us, lease_until_us, last_error, created_us, sent_us) values ";
const SELECT_EVENTS: &str = "select id, type, ts_us, received_us, content_hash, cost, \
    duration_ms, body, signature from events order by id";
const SELECT_NOTIFICATIONS: &str = "select event_id, rule, state, attempts, next_attempt_us, \
    lease_until_us, last_error, created_us, sent_us from notifications order by event_id, rule";
// Shards are how one writer or another spread its upserts, not part of the totals.
const SELECT_DAILY: &str = "select type, day_us, cast(sum(events) as bigint), sum(cost_sum), \
    sum(duration_sum), cast(sum(duration_count) as bigint) from event_stats \
    group by type, day_us order by type, day_us";
const SELECT_HOURLY: &str = "select type, hour_us, cast(sum(events) as bigint), sum(cost_sum) \
    from event_hours group by type, hour_us order by type, hour_us";

/// `count` events, ids `evt-000000…` in order, of every type, 7 minutes apart back from
/// `2026-11-28T12:00Z`, costs that add up exactly in any order, some without cost or duration.
pub fn events(count: usize) -> Vec<Value> {
    let start: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().expect("a time");
    (0..count)
        .map(|i| {
            let at = start - Duration::minutes(i as i64 * 7);
            let mut data = json!({ "agentId": format!("agent-{}", i % 13) });
            if i % 9 != 0 {
                data["cost"] = json!((i % 8) as f64 * 0.125);
                data["durationMs"] = json!(i % 5000);
            }
            json!({
                "id": format!("evt-{i:06}"),
                "type": TYPES[i % TYPES.len()],
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "data": data,
                "webhookId": "wh_copy",
                "instanceId": "inst_copy"
            })
        })
        .collect()
}

/// Stores `count` events of `events` in `db`, signed, with a notification history on one event
/// in `NOTIFIED_SHARE`: pending, pending after failed attempts under a lease, sent and dead.
pub async fn fill(db: &TestDb, count: usize) {
    store_signed_events(db, &events(count)).await;
    let rows: Vec<String> = (0..count)
        .step_by(NOTIFIED_SHARE)
        .enumerate()
        .map(|(n, i)| notification_values(&format!("evt-{i:06}"), n))
        .collect();
    if !rows.is_empty() {
        execute(db, &format!("{INSERT_NOTIFICATIONS}{}", rows.join(", "))).await;
    }
}

/// The values of the `n`th notification row, of `event_id`, cycling through the states.
fn notification_values(event_id: &str, n: usize) -> String {
    let at = 1_764_000_000_000_000_i64 + n as i64;
    match n % 4 {
        0 => format!("('{event_id}', 'slack', 'pending', 0, {at}, null, null, {at}, null)"),
        1 => format!(
            "('{event_id}', 'hook', 'pending', 3, {}, {}, 'HTTP 502', {at}, null)",
            at + 8_000_000,
            at + 9_000_000
        ),
        2 => format!(
            "('{event_id}', 'slack', 'sent', 1, {at}, null, null, {at}, {})",
            at + 500
        ),
        _ => format!("('{event_id}', 'hook', 'dead', 8, {at}, null, 'HTTP 404', {at}, null)"),
    }
}

/// Everything a copy must carry over, in a comparable order.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub events: Vec<EventRow>,
    pub notifications: Vec<NotificationRow>,
    pub daily: Vec<DailyRow>,
    pub hourly: Vec<HourlyRow>,
}

impl Snapshot {
    pub async fn read(db: &TestDb) -> Snapshot {
        Snapshot {
            events: fetch_all(db, SELECT_EVENTS).await,
            notifications: fetch_all(db, SELECT_NOTIFICATIONS).await,
            daily: fetch_all(db, SELECT_DAILY).await,
            hourly: fetch_all(db, SELECT_HOURLY).await,
        }
    }

    /// Asserts `copy` holds the same rows, naming the first that differs (not 50 000 of them).
    pub fn assert_copied_to(&self, copy: &Snapshot, what: &str) {
        assert_same_rows(&self.events, &copy.events, &format!("{what}: events"));
        assert_same_rows(
            &self.notifications,
            &copy.notifications,
            &format!("{what}: notifications"),
        );
        assert_same_rows(&self.daily, &copy.daily, &format!("{what}: daily totals"));
        assert_same_rows(
            &self.hourly,
            &copy.hourly,
            &format!("{what}: hourly totals"),
        );
    }
}

fn assert_same_rows<T: PartialEq + Debug>(expected: &[T], found: &[T], what: &str) {
    if let Some(at) = (0..expected.len().min(found.len())).find(|&i| expected[i] != found[i]) {
        panic!(
            "{what}: row {at} differs:\n  expected {:?}\n  found    {:?}",
            expected[at], found[at]
        );
    }
    assert_eq!(expected.len(), found.len(), "{what}: number of rows");
}

/// A digest of the source that changes if any row does: a SQLite file's bytes, or on
/// PostgreSQL every row of the tables a copy reads and of the totals.
pub async fn fingerprint(db: &TestDb) -> Vec<u8> {
    if db.backend() == Backend::Sqlite {
        let path = db.dir().join("events.db");
        let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("read {path:?}: {err}"));
        return Sha256::digest(bytes).to_vec();
    }
    let snapshot = Snapshot::read(db).await;
    let migrations: Vec<(i64,)> =
        fetch_all(db, "select version from _sqlx_migrations order by version").await;
    Sha256::digest(format!("{snapshot:?}{migrations:?}")).to_vec()
}

/// Every row `sql` answers on `db`, whichever its backend.
pub async fn fetch_all<T>(db: &TestDb, sql: &str) -> Vec<T>
where
    T: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>,
{
    let rows = match db.backend() {
        Backend::Sqlite => {
            let mut conn: SqliteConnection = db.sqlite().await;
            sqlx::query_as(sql).fetch_all(&mut conn).await
        }
        Backend::Postgres => {
            let mut conn: PgConnection = db.postgres().await;
            sqlx::query_as(sql).fetch_all(&mut conn).await
        }
    };
    rows.unwrap_or_else(|err| panic!("{sql}: {err}"))
}

/// Runs `sql` on `db`, behind the service's back.
pub async fn execute(db: &TestDb, sql: &str) {
    let done = match db.backend() {
        Backend::Sqlite => sqlx::raw_sql(sql)
            .execute(&mut db.sqlite().await)
            .await
            .map(drop),
        Backend::Postgres => sqlx::raw_sql(sql)
            .execute(&mut db.postgres().await)
            .await
            .map(drop),
    };
    done.unwrap_or_else(|err| panic!("{sql}: {err}"));
}
