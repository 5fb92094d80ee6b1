//! `GET /events/stream`: the live tail, as Server-Sent Events. Each newly stored event matching
//! the filters of `GET /events` is one message: `id:` its stream position (see `position`) and
//! `data:` the event as `GET /events` renders it. `Last-Event-ID` resumes strictly after a
//! position, without gaps or repeats; without it the stream starts at the current end.
//!
//! A stream reads the store in pages as soon as a local commit stored something (the writers bump
//! a watch channel), and at least every second, for events stored by other receivers on the same
//! PostgreSQL database. It ends when the service begins to shut down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::watch;

use super::AppState;
use super::openapi::{AuditFilterParams, ErrorBody};
use crate::error::AppError;
use crate::event::render_event;
use crate::position::Position;
use crate::query::StreamParams;
use crate::store::{Store, StoredEvent};

/// Events read from the store at once.
const PAGE: usize = 500;
/// How often a stream looks for events committed elsewhere (other receivers).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies and clients from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The header a reconnecting client names its last position in.
const LAST_EVENT_ID: &str = "last-event-id";

/// The stream route (behind the bearer token, see `auth`).
pub fn router() -> Router<AppState> {
    Router::new().route("/events/stream", get(stream_events))
}

/// Newly stored events, live, as Server-Sent Events.
///
/// `data.<field>=<value>` (the field 1 to 64 of A-Z, a-z, 0-9, `_`, `-`; repeatable) keeps
/// events whose top-level `data` field equals the value: a JSON number compares as a number,
/// `true`/`false` as a boolean, a JSON string literal (`"42"`) as that string, any other text as
/// a string. Repeats of one field OR, different fields AND; at most 20 values in all. It is not
/// indexed, so it needs `since` and a window (to `until`, or now) of at most 31 days.
#[utoipa::path(get, path = "/events/stream", tag = "query",
    params(
        ("type" = Option<String>, Query, pattern = "^[^,]+(,[^,]+)*$",
            description = "Only these types, comma-separated (at most 50; none empty)"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp at or after"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339; timestamp before"),
        AuditFilterParams,
        ("Last-Event-ID" = Option<String>, Header,
            description = "The `id:` of the last message received: resume strictly after it"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
            description = "An endless stream: per event `id: <position>` and `data: <event JSON, \
                as in GET /events>`; a comment line every 15 s; ends when the service shuts down"),
        (status = 400, description = "A parameter or Last-Event-ID is invalid, or limit/cursor was given", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn stream_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let filter = StreamParams::parse(query.as_deref())?;
    filter
        .filters
        .check_window(&filter.range, state.config.clock.now_us())?;
    let start = match last_event_id(&headers, &state.store)? {
        Some(position) => position,
        None => state.store.stream_end().await?,
    };
    let tail = Tail {
        store: state.store.clone(),
        filter,
        position: start,
        buffer: VecDeque::new(),
        read_now: true,
        commits: Some(state.writer.subscribe_commits()),
        shutdown: state.shutdown.clone(),
    };
    let messages = futures_util::stream::unfold(tail, Tail::next_message);
    Ok(Sse::new(messages).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The position in `Last-Event-ID`, if one was sent. An empty value is no position (it is what
/// a client that has received nothing yet holds).
fn last_event_id(headers: &HeaderMap, store: &Store) -> Result<Option<Position>, AppError> {
    let Some(value) = headers.get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    let bad = || AppError::BadRequest("Last-Event-ID: not a position sent by this stream".into());
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let position = Position::decode(text).map_err(|_| bad())?;
    // A position of the other backend cannot be placed in this log.
    if !store.owns(&position) {
        return Err(bad());
    }
    Ok(Some(position))
}

/// One client's place in the log, and what wakes it.
struct Tail {
    store: Store,
    filter: StreamParams,
    position: Position,
    /// Events read but not yet sent.
    buffer: VecDeque<(Position, StoredEvent)>,
    /// Read without waiting (at the start, and while pages come back full).
    read_now: bool,
    /// Bumped after each local commit; `None` once the writers are gone.
    commits: Option<watch::Receiver<u64>>,
    /// Becomes true when shutdown begins.
    shutdown: watch::Receiver<bool>,
}

impl Tail {
    /// The next message, or `None` when the service shuts down.
    async fn next_message(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            if let Some((position, event)) = self.buffer.pop_front() {
                if let Some(message) = message(&position, &event) {
                    return Some((Ok(message), self));
                }
                continue;
            }
            if !self.read_now && !self.wait().await {
                return None;
            }
            self.read().await;
        }
    }

    /// Reads the next page after the position.
    async fn read(&mut self) {
        // Marking the commits seen before reading: one that lands during the read wakes us again.
        if let Some(commits) = &mut self.commits {
            commits.borrow_and_update();
        }
        match self
            .store
            .stream_page(&self.filter, &self.position, PAGE)
            .await
        {
            Ok(page) => {
                self.position = page.next;
                self.buffer.extend(page.events);
                self.read_now = page.more;
            }
            Err(err) => {
                // The client keeps its connection; the next poll tries again.
                tracing::warn!(error = %err, "live stream could not read the log; retrying");
                self.read_now = false;
            }
        }
    }

    /// Waits for a local commit or the poll interval; false when shutdown began.
    async fn wait(&mut self) -> bool {
        let commit = async {
            match &mut self.commits {
                Some(commits) => commits.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            _ = self.shutdown.wait_for(|draining| *draining) => return false,
            open = commit => open,
            () = tokio::time::sleep(POLL_INTERVAL) => true,
        };
        if !woken {
            // The writers are gone; polling alone still sees other receivers' events.
            self.commits = None;
        }
        true
    }
}

/// The SSE message of one event; `None` (logged) for a stored body that no longer renders,
/// which `dash-events verify` reports.
fn message(position: &Position, event: &StoredEvent) -> Option<SseEvent> {
    match render_event(&event.body, event.received_us) {
        Ok(json) => Some(
            SseEvent::default()
                .id(position.encode())
                .data(json.to_string()),
        ),
        Err(err) => {
            tracing::error!(event_id = %event.id, error = %err, "stored body is not JSON; not streamed");
            None
        }
    }
}
