//! Group commit. Requests hand their event to a queue and wait; a writer task takes everything
//! queued (up to `max_batch`), stores it in one transaction with one insert, commits, and only
//! then answers each waiting request. One fsync then covers a whole batch instead of one event,
//! and a 200 still means "committed".

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::notifications_of;
use crate::event::NewEvent;
use crate::notify::Outbox;
use crate::store::{InsertOutcome, SearchIndex, Store, StoreError};

/// How many requests may wait in the queue before new ones wait to enter it.
const QUEUE_CAPACITY: usize = 8192;
/// Rounds of other tasks a writer lets run before it closes a batch (see `take_batch`).
const GATHER_ROUNDS: usize = 4;
/// How often a batch is retried after a deadlock between receivers sharing one database.
const DEADLOCK_RETRIES: usize = 3;

/// Events per transaction: large enough that one fsync covers a burst from many connections.
const MAX_BATCH: usize = 256;
/// Longest a delivery waits for its commit before answering 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent batch commits per receiver on PostgreSQL; the other connections serve queries.
const POSTGRES_WRITERS: usize = 4;
/// Rows each day's totals are spread over on PostgreSQL, so that concurrent batches (from this
/// receiver's writers and from other receivers) rarely wait on the same row lock.
const POSTGRES_STAT_SHARDS: i32 = 16;

/// How the writers batch.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Most events in one transaction.
    pub max_batch: usize,
    /// Writer tasks; each commits its own batches, so commits overlap on a server database.
    pub writers: usize,
    /// How many rows each day's totals are spread over (see `insert_batch`).
    pub stat_shards: i32,
    /// Longest a request waits for its commit before answering 503.
    pub write_timeout: Duration,
    /// Whether each batch writes its events' words into the text index.
    pub search: SearchIndex,
}

impl WriterSettings {
    /// How the group-commit writers batch on `store`'s backend: SQLite has one writer (it
    /// serialises writes anyway); PostgreSQL overlaps several commits.
    pub fn for_store(store: &Store) -> Self {
        let (writers, stat_shards) = if store.is_sqlite() {
            (1, 1)
        } else {
            (POSTGRES_WRITERS, POSTGRES_STAT_SHARDS)
        };
        Self {
            max_batch: MAX_BATCH,
            writers,
            stat_shards,
            write_timeout: WRITE_TIMEOUT,
            search: SearchIndex::Off,
        }
    }
}

struct Pending {
    event: NewEvent,
    received_us: i64,
    reply: oneshot::Sender<Result<InsertOutcome, StoreError>>,
}

type Queue = Arc<Mutex<mpsc::Receiver<Pending>>>;

/// The handle requests use to store events through the group-commit writers.
#[derive(Clone)]
pub struct BatchWriter {
    queue: mpsc::Sender<Pending>,
    write_timeout: Duration,
    health: Arc<WriteHealth>,
    commits: Arc<watch::Sender<u64>>,
}

/// When a commit last failed, for readiness: a database can answer reads and still refuse
/// writes (disk full, locked by another process).
#[derive(Default)]
struct WriteHealth {
    last_failure: std::sync::Mutex<Option<Instant>>,
}

impl WriteHealth {
    fn record(&self, succeeded: bool) {
        let mut last_failure = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        *last_failure = if succeeded {
            None
        } else {
            Some(Instant::now())
        };
    }

    fn failed_within(&self, window: Duration) -> bool {
        let last_failure = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        last_failure.is_some_and(|at| at.elapsed() < window)
    }
}

impl BatchWriter {
    /// Starts the writer tasks. They stop once every `BatchWriter` clone is dropped and the
    /// queue is empty; await the returned set to know every accepted event was committed.
    /// Each batch records the notifications of its new events under `outbox`'s rules, and
    /// wakes its worker once they are committed.
    pub fn spawn(store: Store, settings: WriterSettings, outbox: Outbox) -> (Self, JoinSet<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let queue: Queue = Arc::new(Mutex::new(receiver));
        let health = Arc::new(WriteHealth::default());
        let commits = Arc::new(watch::Sender::new(0));
        let mut tasks = JoinSet::new();
        for _ in 0..settings.writers.max(1) {
            tasks.spawn(run_writer(
                store.clone(),
                queue.clone(),
                settings,
                health.clone(),
                commits.clone(),
                outbox.clone(),
            ));
        }
        let writer = Self {
            queue: sender,
            write_timeout: settings.write_timeout,
            health,
            commits,
        };
        (writer, tasks)
    }

    /// Whether the last commit failed less than `window` ago. A window rather than "until the
    /// next success" keeps an idle receiver from staying unready after the database recovered.
    pub fn failed_within(&self, window: Duration) -> bool {
        self.health.failed_within(window)
    }

    /// Changes each time a batch that stored new events has committed, so that live streams
    /// read at once instead of at their next poll.
    pub fn subscribe_commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Stores `event` in the next batch and returns once that batch is committed.
    pub async fn write(
        &self,
        event: NewEvent,
        received_us: i64,
    ) -> Result<InsertOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            event,
            received_us,
            reply,
        };
        let committed = async {
            self.queue
                .send(pending)
                .await
                .map_err(|_| StoreError::WriterStopped)?;
            answer.await.map_err(|_| StoreError::WriterStopped)?
        };
        tokio::time::timeout(self.write_timeout, committed)
            .await
            .map_err(|_| StoreError::Timeout(self.write_timeout))?
    }
}

async fn run_writer(
    store: Store,
    queue: Queue,
    settings: WriterSettings,
    health: Arc<WriteHealth>,
    commits: Arc<watch::Sender<u64>>,
    outbox: Outbox,
) {
    let max_batch = settings.max_batch.max(1);
    let mut batch = Vec::with_capacity(max_batch);
    // Types this writer has seen committed, so a batch only records types that may be new.
    let mut known_types = HashSet::new();
    while take_batch(&queue, &mut batch, max_batch).await > 0 {
        let events: Vec<(&NewEvent, i64)> =
            batch.iter().map(|p| (&p.event, p.received_us)).collect();
        let shard = fastrand::i32(0..settings.stat_shards.max(1));
        let result =
            insert_with_retries(&store, &events, shard, &known_types, &outbox, settings).await;
        health.record(result.is_ok());
        if let Ok(outcomes) = &result {
            known_types.extend(events.iter().map(|(e, _)| e.event_type.as_bytes().to_vec()));
            if outcomes.contains(&InsertOutcome::Stored) {
                commits.send_modify(|count| *count = count.wrapping_add(1));
                if recorded_notifications(&events, outcomes, &outbox) {
                    outbox.wake.notify_one();
                }
            }
        }
        answer_all(&mut batch, result);
    }
}

/// Whether the batch just committed recorded a notification: a newly stored event that a rule
/// matches. Only then is the worker woken; a claim that finds nothing would still take the
/// writer connection (on SQLite the only one) between two batches.
fn recorded_notifications(
    events: &[(&NewEvent, i64)],
    outcomes: &[InsertOutcome],
    outbox: &Outbox,
) -> bool {
    !outbox.rules.is_empty()
        && events.iter().zip(outcomes).any(|((event, _), outcome)| {
            *outcome == InsertOutcome::Stored
                && outbox.rules.matching(&event.event_type).next().is_some()
        })
}

/// Waits for one request, then takes whatever else is already queued, up to `max`. Requests
/// that arrive while a batch commits wait for the next one: that is what forms the batches.
/// Then it lets the runtime run a few rounds of other tasks before closing the batch: the
/// requests whose answers the last commit just released are being read, and taking them too
/// (instead of leaving them to the next commit) doubles the batch at 64 connections, which cuts
/// the CPU per event by about a tenth. Yielding costs microseconds, not a timer's millisecond.
async fn take_batch(queue: &Queue, batch: &mut Vec<Pending>, max: usize) -> usize {
    let mut queue = queue.lock().await;
    if queue.recv_many(batch, max).await == 0 {
        return 0;
    }
    for _ in 0..GATHER_ROUNDS {
        tokio::task::yield_now().await;
        while batch.len() < max {
            match queue.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
    }
    batch.len()
}

async fn insert_with_retries(
    store: &Store,
    events: &[(&NewEvent, i64)],
    shard: i32,
    known_types: &HashSet<Vec<u8>>,
    outbox: &Outbox,
    settings: WriterSettings,
) -> Result<Vec<InsertOutcome>, StoreError> {
    let notifications = notifications_of(events, &outbox.rules);
    let mut attempt = 0;
    loop {
        match store
            .insert_batch(events, shard, known_types, &notifications, settings.search)
            .await
        {
            Err(err) if attempt < DEADLOCK_RETRIES && err.is_deadlock() => attempt += 1,
            result => return result,
        }
    }
}

fn answer_all(batch: &mut Vec<Pending>, result: Result<Vec<InsertOutcome>, StoreError>) {
    match result {
        Ok(outcomes) => {
            for (pending, outcome) in batch.drain(..).zip(outcomes) {
                // A request that gave up (client gone, timeout) no longer listens; its event
                // is committed all the same and a redelivery will be a duplicate.
                let _ = pending.reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            tracing::error!(error = ?err, events = batch.len(), "batch commit failed");
            for pending in batch.drain(..) {
                let _ = pending.reply.send(Err(err.clone()));
            }
        }
    }
}
