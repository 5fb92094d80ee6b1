//! Receivers through PgBouncer in transaction pooling mode (Debian's `pgbouncer`), which lends
//! a server connection to a client for one transaction at a time.
//!
//! With the configuration of docs/operations.md ("Connection poolers"): three receivers sharing
//! four server connections store every acknowledged delivery once, byte for byte, and read back
//! what each other stored; a pooled start waits for sqlx's migration lock and leaves no lock
//! behind. Without either half of the configuration, sqlx's prepared statements break, in the
//! ways the documentation names: these tests keep its reasons true.
//!
//! Skipped, with a `SKIPPED` line, when `pgbouncer` is not installed, unless
//! `DASH_EVENTS_REQUIRE_FAULTS=1` (`.ci/run` installs it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dash_events::store::{Durability, Store, StoreError};
use futures::future::join_all;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::migrate::Migrate;

use super::unavailable;
use crate::backend::TestDb;
use crate::helpers::{event, eventually, new_id};
use crate::support::app::App;
use crate::support::pgbouncer::{DOCUMENTED, PgBouncer};

postgres_only!(
    three_receivers_through_pgbouncer_store_each_acknowledged_delivery_once,
    without_a_statement_cache_of_0_a_pooled_start_fails_on_a_prepared_statement,
    without_the_server_reset_query_pooled_starts_collide_on_statement_names,
    a_pooled_start_waits_for_the_migration_lock_of_sqlx_and_leaves_none_held,
);

/// What `DATABASE_URL` carries behind a transaction pooler.
const POOLED: &str = "statement-cache-capacity=0";
/// Server connections PgBouncer opens to the database: fewer than the receivers open to it.
const SERVER_CONNECTIONS: usize = 4;
/// Distinct events, each delivered to every receiver at once.
const IDS: usize = 200;
/// How long a pooled start may take to reach the migration lock: well under a second here, so
/// the margin is for a loaded test machine.
const LOCK_REACHED: Duration = Duration::from_secs(30);

async fn three_receivers_through_pgbouncer_store_each_acknowledged_delivery_once(db: TestDb) {
    let Some(bouncer) = start_bouncer(&db, SERVER_CONNECTIONS, &DOCUMENTED).await else {
        return;
    };
    let url = bouncer.url(&db, POOLED);
    let receivers: Vec<App> =
        join_all((0..3).map(|_| App::start_with(&db, |config| config.database_url = url.clone())))
            .await;
    let sent: Vec<(String, Vec<u8>)> = (0..IDS).map(|_| new_body()).collect();

    let answers = join_all(sent.iter().flat_map(|(id, body)| {
        (0..receivers.len()).map(|n| deliver_and_read_back(&receivers, n, id, body))
    }))
    .await;

    let mut new_per_id: HashMap<&str, usize> = HashMap::new();
    for answer in &answers {
        let id = answer["id"].as_str().expect("an acknowledged id");
        *new_per_id.entry(id).or_default() += usize::from(answer["duplicate"] == false);
    }
    for (id, _) in &sent {
        assert_eq!(
            new_per_id.get(id.as_str()),
            Some(&1),
            "{id}: acknowledged as new this often"
        );
    }
    let clients = bouncer
        .clients_of(db.postgres_name().expect("PostgreSQL"))
        .await;
    let mut direct = db.postgres().await;
    assert_stored_byte_for_byte(&mut direct, &sent).await;
    assert_servers_shared(&mut direct, clients).await;
    join_all(receivers.into_iter().map(App::stop)).await;
}

async fn without_a_statement_cache_of_0_a_pooled_start_fails_on_a_prepared_statement(db: TestDb) {
    // PgBouncer refuses the `extra_float_digits` that sqlx sends at startup, unless told to
    // ignore it (the service leaves it out behind a pooler): ignored here, to get as far as
    // the first prepared statement.
    let settings = [
        DOCUMENTED[0],
        DOCUMENTED[1],
        ("ignore_startup_parameters", "extra_float_digits"),
    ];
    let Some(bouncer) = start_bouncer(&db, SERVER_CONNECTIONS, &settings).await else {
        return;
    };

    let refused = Store::connect(&bouncer.url(&db, ""), Durability::default()).await;

    let chain = error_chain(&refused.expect_err("a pooled start with sqlx's statement cache"));
    assert!(
        chain.contains("prepared statement \"sqlx_s_") && chain.contains("does not exist"),
        "not the documented failure: {chain}\npgbouncer's log:\n{}",
        bouncer.log()
    );
    let pooled = Store::connect(&bouncer.url(&db, POOLED), Durability::default()).await;
    pooled
        .expect("a pooled start with the setting")
        .close()
        .await;
}

async fn without_the_server_reset_query_pooled_starts_collide_on_statement_names(db: TestDb) {
    // One server connection, and nothing clears it between transactions.
    let Some(bouncer) = start_bouncer(&db, 1, &[]).await else {
        return;
    };
    let url = bouncer.url(&db, POOLED);
    let first = Store::connect(&url, Durability::default()).await;
    let first = first.expect("the first pooled start");

    let second = Store::connect(&url, Durability::default()).await;

    let chain = error_chain(&second.expect_err("a second start on the same server connection"));
    assert!(
        chain.contains("prepared statement \"sqlx_s_1\" already exists"),
        "not the documented failure: {chain}\npgbouncer's log:\n{}",
        bouncer.log()
    );
    first.close().await;
}

async fn a_pooled_start_waits_for_the_migration_lock_of_sqlx_and_leaves_none_held(db: TestDb) {
    let Some(bouncer) = start_bouncer(&db, SERVER_CONNECTIONS, &DOCUMENTED).await else {
        return;
    };
    let url = bouncer.url(&db, POOLED);
    // What a `dash-events migrate` connected directly holds while it migrates.
    let mut direct = db.postgres().await;
    direct.lock().await.expect("take sqlx's migration lock");

    let started = AtomicBool::new(false);
    let start = async {
        let store = Store::connect(&url, Durability::default()).await;
        started.store(true, Ordering::SeqCst);
        store
    };
    let release = async {
        let waits = eventually(LOCK_REACHED, || async {
            advisory_locks(&mut db.postgres().await, false).await > 0
        });
        assert!(waits.await, "the pooled start never waited for sqlx's lock");
        assert!(
            !started.load(Ordering::SeqCst),
            "the pooled start did not wait"
        );
        direct
            .unlock()
            .await
            .expect("release sqlx's migration lock");
    };
    let (store, ()) = futures::join!(start, release);

    let store = store.expect("the pooled start after the lock was released");
    store.close().await;
    assert_eq!(
        advisory_locks(&mut direct, true).await,
        0,
        "an advisory lock is still held after the pooled start"
    );
}

/// PgBouncer with `pool_size` server connections and `settings`; `None` (after a skip notice,
/// or a failure when required) when it is not installed.
async fn start_bouncer(
    db: &TestDb,
    pool_size: usize,
    settings: &[(&str, &str)],
) -> Option<PgBouncer> {
    if !PgBouncer::installed() {
        unavailable("pgbouncer is not installed (Debian's pgbouncer)");
        return None;
    }
    let pool_size = pool_size.to_string();
    let mut all = vec![("default_pool_size", pool_size.as_str())];
    all.extend_from_slice(settings);
    Some(PgBouncer::start(db.dir(), &all).await)
}

fn new_body() -> (String, Vec<u8>) {
    let id = new_id();
    let body = serde_json::to_vec(&event(&id)).expect("serialize an event");
    (id, body)
}

/// Delivers `body` to receiver `n` (the answer checked against the contract), then reads the
/// event back through the next receiver: a statement run as another client's would answer
/// another event, or fail.
async fn deliver_and_read_back(receivers: &[App], n: usize, id: &str, body: &[u8]) -> Value {
    let answer = receivers[n].try_deliver_bytes(body).await;
    let (status, answer) = answer.unwrap_or_else(|| panic!("receiver {n}: no answer for {id}"));
    assert_eq!(
        status, 200,
        "receiver {n} answered {status} for {id}: {answer}"
    );
    let reader = &receivers[(n + 1) % receivers.len()];
    let stored = reader.get_json(&format!("/events/{id}")).await;
    let sent: Value = serde_json::from_slice(body).expect("the sent JSON");
    assert_eq!(
        (&stored["id"], &stored["data"]),
        (&sent["id"], &sent["data"]),
        "{id} read back through receiver {}",
        (n + 1) % receivers.len()
    );
    answer
}

async fn assert_stored_byte_for_byte(direct: &mut PgConnection, sent: &[(String, Vec<u8>)]) {
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&mut *direct)
        .await
        .expect("count the events");
    assert_eq!(count, sent.len() as i64, "each id stored once");
    for (id, body) in sent {
        let stored: Option<Vec<u8>> = sqlx::query_scalar("select body from events where id = $1")
            .bind(id)
            .fetch_optional(&mut *direct)
            .await
            .expect("read a stored body");
        let stored = stored.unwrap_or_else(|| panic!("acknowledged {id} was not stored"));
        assert_eq!(&stored, body, "{id} is not stored byte for byte");
    }
}

/// The receivers opened more connections to PgBouncer than PostgreSQL has from it: server
/// connections were lent to several clients.
async fn assert_servers_shared(direct: &mut PgConnection, clients: usize) {
    let servers: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity \
         where datname = current_database() and pid <> pg_backend_pid()",
    )
    .fetch_one(&mut *direct)
    .await
    .expect("count the server connections");
    assert!(
        clients > SERVER_CONNECTIONS && servers as usize <= SERVER_CONNECTIONS,
        "{clients} client connections on {servers} server connections"
    );
}

/// Advisory locks on the test database: held ones (`granted`), or waited for.
async fn advisory_locks(connection: &mut PgConnection, granted: bool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_locks where locktype = 'advisory' and granted = $1 \
         and database = (select oid from pg_database where datname = current_database())",
    )
    .bind(granted)
    .fetch_one(connection)
    .await
    .expect("count advisory locks")
}

/// The error and its sources, one line.
fn error_chain(err: &StoreError) -> String {
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    chain
}
