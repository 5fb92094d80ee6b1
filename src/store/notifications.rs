//! Reading the notification outbox: the pages of `GET /notifications`, newest first, and the
//! counts of pending and dead notifications behind the metrics gauges.

use sqlx::QueryBuilder;

use super::{Store, on_pool};

/// The listing's select with the condition `$cond` (a literal).
macro_rules! select_notifications {
    ($cond:literal) => {
        concat!(
            "select n.id, n.event_id, e.type as event_type, n.rule, n.state, n.attempts, ",
            "n.next_attempt_us, n.last_error, n.created_us, n.sent_us ",
            "from notifications n left join events e on e.id = n.event_id where ",
            $cond
        )
    };
}

const SELECT_PAGE: &str = select_notifications!("n.id < ");
pub(super) const SELECT_ONE: &str = select_notifications!("n.id = $1");
// Both states are ranges of the claim's index (state, next_attempt_us): counting reads no row.
const COUNT_BY_STATE: &str = "select state, count(*) from notifications \
    where state in ('pending', 'dead') group by state";

/// A notification as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    /// The row id.
    pub id: i64,
    /// The event it notifies of.
    pub event_id: String,
    /// The event's type (as stored, bytes); `None` once the event is gone.
    pub event_type: Option<Vec<u8>>,
    /// The rule's name.
    pub rule: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// When a pending notification is due, µs since the epoch.
    pub next_attempt_us: i64,
    /// Why the last attempt failed (never the URL).
    pub last_error: Option<String>,
    /// When it was recorded, µs since the epoch.
    pub created_us: i64,
    /// When the endpoint accepted it.
    pub sent_us: Option<i64>,
}

/// Which notifications a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Only this state.
    pub state: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Only ids below this one (the cursor).
    pub before_id: Option<i64>,
}

/// How many notifications wait and how many gave up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// `pending`.
    pub pending: i64,
    /// `dead`.
    pub dead: i64,
}

impl Store {
    /// One page of notifications, newest first, with one look-ahead row.
    pub async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<NotificationRow>, sqlx::Error> {
        on_pool!(self, read, pool => {
            page_query("", filter).build_query_as().fetch_all(pool).await
        })
    }

    /// The database's plan for `list_notifications(filter)`, one line per step (for tests).
    pub async fn list_notifications_plan(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Self::Sqlite { reader, .. } => {
                let mut query = page_query("explain query plan ", filter);
                let steps: Vec<(i64, i64, i64, String)> =
                    query.build_query_as().fetch_all(reader).await?;
                Ok(steps.into_iter().map(|step| step.3).collect())
            }
            Self::Postgres(pool) => {
                page_query("explain ", filter)
                    .build_query_scalar()
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// The notification with this id, if any.
    pub async fn get_notification(&self, id: i64) -> Result<Option<NotificationRow>, sqlx::Error> {
        on_pool!(self, read, pool => {
            sqlx::query_as(SELECT_ONE).bind(id).fetch_optional(pool).await
        })
    }

    /// The numbers of pending and dead notifications.
    pub async fn count_outbox(&self) -> Result<OutboxCounts, sqlx::Error> {
        let rows: Vec<(String, i64)> = on_pool!(self, read, pool => {
            sqlx::query_as(COUNT_BY_STATE).fetch_all(pool).await
        })?;
        let count = |state: &str| rows.iter().find(|r| r.0 == state).map_or(0, |r| r.1);
        Ok(OutboxCounts {
            pending: count("pending"),
            dead: count("dead"),
        })
    }
}

/// The page query of `filter`, after `prefix` (empty, or an `explain`).
fn page_query<'a, DB>(prefix: &str, filter: &'a NotificationFilter) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut query = QueryBuilder::new(format!("{prefix}{SELECT_PAGE}"));
    query.push_bind(filter.before_id.unwrap_or(i64::MAX));
    if let Some(state) = &filter.state {
        query.push(" and n.state = ").push_bind(state.as_str());
    }
    query
        .push(" order by n.id desc limit ")
        .push_bind(i64::from(filter.limit) + 1);
    query
}
