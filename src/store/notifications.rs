//! Reading the notification outbox: the pages of `GET /notifications`, newest first, and the
//! counts of pending and dead notifications behind the metrics gauges.

use super::StoreError;
use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, QueryBuilder, Type};

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

/// Where a notification stands. Stored (and shown by the API) as its name, `as_str`; this type is
/// the one place the names are mapped to and from (its `sqlx` `Type`/`Encode`/`Decode` are those of
/// the text). The outbox's SQL statements spell the same names in their conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationState {
    /// To be sent at its next attempt's time (unless a worker holds it under a lease).
    Pending,
    /// The endpoint accepted it.
    Sent,
    /// Every attempt failed, or it can never succeed; `POST /notifications/{id}/retry` revives it.
    Dead,
}

/// A stored or given state name that is none of `pending`, `sent` and `dead`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a notification state: {0:?}")]
pub struct UnknownState(pub String);

impl NotificationState {
    /// Every state.
    pub const ALL: [Self; 3] = [Self::Pending, Self::Sent, Self::Dead];

    /// Its name, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Dead => "dead",
        }
    }
}

impl FromStr for NotificationState {
    type Err = UnknownState;

    fn from_str(name: &str) -> Result<Self, UnknownState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| UnknownState(name.to_owned()))
    }
}

impl fmt::Display for NotificationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<DB: Database> Type<DB> for NotificationState
where
    str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for NotificationState
where
    &'q str: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        self.as_str().encode_by_ref(buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for NotificationState
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(<&str as Decode<'r, DB>>::decode(value)?.parse()?)
    }
}

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
    /// Where it stands.
    pub state: NotificationState,
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
    pub state: Option<NotificationState>,
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
    ) -> Result<Vec<NotificationRow>, StoreError> {
        on_pool!(self, read, pool => {
            Ok(page_query("", filter).build_query_as().fetch_all(pool).await?)
        })
    }

    /// The database's plan for `list_notifications(filter)`, one line per step (for tests).
    pub async fn list_notifications_plan(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Sqlite { reader, .. } => {
                let mut query = page_query("explain query plan ", filter);
                let steps: Vec<(i64, i64, i64, String)> =
                    query.build_query_as().fetch_all(reader).await?;
                Ok(steps.into_iter().map(|step| step.3).collect())
            }
            Self::Postgres { primary, replica } => Ok(page_query("explain ", filter)
                .build_query_scalar()
                .fetch_all(replica.as_ref().unwrap_or(primary))
                .await?),
        }
    }

    /// The notification with this id, if any.
    pub async fn get_notification(&self, id: i64) -> Result<Option<NotificationRow>, StoreError> {
        on_pool!(self, read, pool => {
            Ok(sqlx::query_as(SELECT_ONE).bind(id).fetch_optional(pool).await?)
        })
    }

    /// The numbers of pending and dead notifications.
    pub async fn count_outbox(&self) -> Result<OutboxCounts, StoreError> {
        let rows: Vec<(NotificationState, i64)> = on_pool!(self, read, pool => {
            sqlx::query_as(COUNT_BY_STATE).fetch_all(pool).await
        })?;
        let count = |state| rows.iter().find(|r| r.0 == state).map_or(0, |r| r.1);
        Ok(OutboxCounts {
            pending: count(NotificationState::Pending),
            dead: count(NotificationState::Dead),
        })
    }
}

/// The page query of `filter`, after `prefix` (empty, or an `explain`).
fn page_query<'a, DB>(prefix: &str, filter: &'a NotificationFilter) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    NotificationState: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!("{prefix}{SELECT_PAGE}"));
    query.push_bind(filter.before_id.unwrap_or(i64::MAX));
    if let Some(state) = filter.state {
        query.push(" and n.state = ").push_bind(state);
    }
    query
        .push(" order by n.id desc limit ")
        .push_bind(i64::from(filter.limit) + 1);
    query
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn states_map_to_their_stored_names_and_back() {
        let names: Vec<&str> = NotificationState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pending", "sent", "dead"]);
        for state in NotificationState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        for name in ["", "Pending", "gone", " dead"] {
            assert!(name.parse::<NotificationState>().is_err(), "{name:?}");
        }
    }

    /// The SQL spells states itself; every name it quotes must be one of them.
    pub(in crate::store) fn assert_only_states_quoted(sql: &str) {
        for quoted in sql.split('\'').skip(1).step_by(2) {
            assert!(
                quoted.parse::<NotificationState>().is_ok(),
                "{quoted:?} in {sql}"
            );
        }
    }

    #[test]
    fn the_count_names_only_known_states() {
        assert_only_states_quoted(COUNT_BY_STATE);
    }
}
