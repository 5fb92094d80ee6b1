//! `GET /events/stream`, the live tail.
//!
//! As a client sees it: each event stored after connecting arrives once as an SSE message whose
//! `data` is the event as `GET /events` renders it and whose `id` is its stream position;
//! `Last-Event-ID` resumes after a disconnect without gaps or repeats while events keep
//! arriving; the filters of `GET /events` apply; on PostgreSQL, a stream sees the events of every
//! receiver sharing the database.
//!
//! At its edges: a bad `Last-Event-ID` or a paging parameter is a 400 naming it (and the
//! operation is in `/openapi.json`); the bearer token is required when one is set; SIGTERM ends
//! open streams (the server ends them, rather than leaving them to the drain's bound) and the
//! process exits 0; an idle stream outlives the request time bound and sends keep-alive comments.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dash_events::DRAIN_TIMEOUT;
use futures::future::join_all;
use nix::sys::signal::Signal;

use crate::backend::{Backend, TestDb};
use crate::helpers::{assert_error, event, event_at, new_id, status_and_json};
use crate::support::app::{App, api_token};
use crate::support::server::ServeProcess;
use crate::support::sse::{self, MESSAGE_TIMEOUT, Message, Next, SseStream};

both_backends_on_stream_cluster!(
    live_events_arrive_in_commit_order_with_their_positions,
    type_and_time_filters_select_what_is_streamed,
    resuming_with_last_event_id_while_events_arrive_yields_each_event_once,
    bad_last_event_id_or_paging_parameters_answer_400,
    the_stream_needs_the_bearer_token_when_one_is_set,
    sigterm_ends_open_streams_and_exits_0_promptly,
);
postgres_only_on_stream_cluster!(
    a_stream_on_one_receiver_sees_every_event_stored_by_two_receivers_once
);

/// The stream position the service should give the stored event `id`, read from the database.
async fn position_in_database(db: &TestDb, id: &str) -> String {
    match db.backend() {
        Backend::Sqlite => {
            let sql = "select seq from events where id = $1";
            let seq: i64 = sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(&mut db.sqlite().await)
                .await
                .expect("seq of the event");
            format!("s{seq}")
        }
        Backend::Postgres => {
            let sql = "select cast(txid as text) from events where id = $1";
            let txid: String = sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(&mut db.postgres().await)
                .await
                .expect("txid of the event");
            format!("p{txid}.{}", URL_SAFE_NO_PAD.encode(id))
        }
    }
}

/// Asserts that every id in `expected` was received exactly once, and nothing else.
fn assert_each_once(received: &[Message], expected: &HashSet<String>) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for message in received {
        *counts.entry(message.event_id()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "received more than once: {repeated:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never received: {missing:?}");
    let foreign: Vec<_> = counts.keys().filter(|id| !expected.contains(*id)).collect();
    assert!(foreign.is_empty(), "received but not expected: {foreign:?}");
}

fn seen_all(expected: &HashSet<String>) -> impl FnMut(&[Message]) -> bool + '_ {
    move |received| {
        let seen: HashSet<String> = received.iter().map(Message::event_id).collect();
        expected.is_subset(&seen)
    }
}

async fn live_events_arrive_in_commit_order_with_their_positions(db: TestDb) {
    let app = App::start(&db).await;
    let before: Vec<String> = (0..3).map(|_| new_id()).collect();
    for id in &before {
        app.store(&event(id)).await;
    }
    let mut stream = SseStream::open(&app, &[], None).await;

    let delivered: Vec<String> = (0..5).map(|_| new_id()).collect();
    for id in &delivered {
        app.store(&event(id)).await;
    }
    let received = stream
        .messages_until(|r| {
            r.iter()
                .filter(|m| delivered.contains(&m.event_id()))
                .count()
                == 5
        })
        .await;

    // On PostgreSQL a stream may begin a little before the connection (at the oldest
    // transaction still open on the server, another stream test's maybe), never after it.
    let earlier =
        |m: &&Message| db.backend() == Backend::Postgres && before.contains(&m.event_id());
    let received: Vec<&Message> = received.iter().filter(|m| !earlier(m)).collect();
    let ids: Vec<String> = received.iter().map(|m| m.event_id()).collect();
    assert_eq!(
        ids, delivered,
        "the events stored after connecting, in commit order"
    );
    for message in received {
        let id = message.event_id();
        let stored = app
            .get_json(&format!("/events/{}", crate::helpers::encode_segment(&id)))
            .await;
        assert_eq!(
            message.data, stored,
            "the message is the event as GET /events answers it"
        );
        assert_eq!(
            message.id,
            position_in_database(&db, &id).await,
            "position of {id}"
        );
    }
    stream.assert_no_message(Duration::from_millis(1500)).await;
}

async fn type_and_time_filters_select_what_is_streamed(db: TestDb) {
    let app = App::start(&db).await;
    let query = [
        ("type", "agent:error,budget:warning"),
        ("since", "2026-11-28T00:00:00Z"),
        ("until", "2026-11-29T00:00:00Z"),
    ];
    let mut stream = SseStream::open(&app, &query, None).await;
    let cases = [
        ("agent:error", "2026-11-28T10:00:00Z", true),
        ("agent:complete", "2026-11-28T10:00:00Z", false),
        ("budget:warning", "2026-11-28T00:00:00Z", true),
        ("budget:warning", "2026-11-29T00:00:00Z", false),
        ("agent:error", "2026-11-27T23:59:59.999999Z", false),
        ("budget:warning", "2026-11-28T23:59:59+00:30", true),
        ("budget:exceeded", "2026-11-28T12:00:00Z", false),
    ];
    let mut expected = Vec::new();
    for (event_type, timestamp, matches) in cases {
        let id = new_id();
        app.store(&event_at(&id, event_type, timestamp)).await;
        if matches {
            expected.push(id);
        }
    }
    // Many events the filter leaves out, then one it keeps: the stream is not held up by them.
    for _ in 0..40 {
        app.store(&event_at(
            &new_id(),
            "agent:complete",
            "2026-11-28T10:00:00Z",
        ))
        .await;
    }
    let last = new_id();
    app.store(&event_at(&last, "agent:error", "2026-11-28T11:00:00Z"))
        .await;
    expected.push(last.clone());

    let received = stream
        .messages_until(|r| r.last().is_some_and(|m| m.event_id() == last))
        .await;

    let ids: Vec<String> = received.iter().map(Message::event_id).collect();
    assert_eq!(ids, expected, "exactly the matching events, in order");
}

/// Delivers `count` events through `senders` concurrent senders, answering the acknowledged ids.
async fn deliver_concurrently(apps: &[&App], count: usize, senders: usize) -> Vec<String> {
    let per_sender = count / senders;
    let tasks = (0..senders).map(|n| {
        let app = apps[n % apps.len()];
        async move {
            let mut acked = Vec::new();
            for _ in 0..per_sender {
                let id = new_id();
                app.store(&event(&id)).await;
                acked.push(id);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acked
        }
    });
    join_all(tasks).await.into_iter().flatten().collect()
}

async fn resuming_with_last_event_id_while_events_arrive_yields_each_event_once(db: TestDb) {
    let app = App::start(&db).await;
    let mut first = SseStream::open(&app, &[], None).await;

    let reading = async {
        let mut received = first.messages_until(|r| r.len() == 25).await;
        drop(first);
        // Disconnected while events keep arriving; resume twice from the last id seen.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let last = received.last().expect("25 messages").id.clone();
        let mut second = SseStream::open(&app, &[], Some(&last)).await;
        received.extend(second.messages_until(|r| r.len() == 25).await);
        drop(second);
        received
    };
    let senders = [&app];
    let (mut received, acked) = futures::join!(reading, deliver_concurrently(&senders, 160, 4));
    let last = received.last().expect("50 messages").id.clone();
    let mut third = SseStream::open(&app, &[], Some(&last)).await;
    let expected: HashSet<String> = acked.into_iter().collect();
    let already: HashSet<String> = received.iter().map(Message::event_id).collect();
    let left: HashSet<String> = expected.difference(&already).cloned().collect();
    received.extend(third.messages_until(seen_all(&left)).await);

    assert_each_once(&received, &expected);
    third.assert_no_message(Duration::from_millis(1500)).await;
}

async fn a_stream_on_one_receiver_sees_every_event_stored_by_two_receivers_once(db: TestDb) {
    let (a, b) = futures::join!(App::start(&db), App::start(&db));
    let mut stream = SseStream::open(&a, &[], None).await;

    let acked = deliver_concurrently(&[&a, &b], 400, 8).await;

    let expected: HashSet<String> = acked.into_iter().collect();
    let received = stream.messages_until(seen_all(&expected)).await;
    assert_each_once(&received, &expected);
    stream.assert_no_message(Duration::from_millis(1500)).await;
}

async fn bad_last_event_id_or_paging_parameters_answer_400(db: TestDb) {
    let app = App::start(&db).await;
    let other_backend = match db.backend() {
        Backend::Sqlite => "p5.YQ",
        Backend::Postgres => "s5",
    };
    for bad in ["garbage", "s", "s-1", "p1", "p1.!!", "s1 2", other_backend] {
        let (status, body) = status_and_json(sse::request(&app, &[], Some(bad)).await).await;
        assert_error(bad, status, &body, 400, Some("Last-Event-ID"));
    }
    for (name, value) in [
        ("limit", "10"),
        ("cursor", "abc"),
        ("type", ""),
        ("since", "today"),
    ] {
        let (status, body) =
            status_and_json(sse::request(&app, &[(name, value)], None).await).await;
        assert_error(name, status, &body, 400, Some(name));
    }
    let doc = app.get_json("/openapi.json").await;
    let operation = &doc["paths"]["/events/stream"]["get"];
    assert!(
        operation["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "{operation}"
    );
    for status in ["400", "401"] {
        assert!(
            operation["responses"][status].is_object(),
            "{status} documented"
        );
    }
}

async fn the_stream_needs_the_bearer_token_when_one_is_set(db: TestDb) {
    let app = App::start_with(&db, |config| api_token(config, "stream-token")).await;
    let url = app.url("/events/stream");
    for (case, header) in [("no token", None), ("wrong token", Some("Bearer nope"))] {
        let mut request = crate::support::http::client().get(&url);
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let (status, body) = status_and_json(app.send(request).await).await;
        assert_error(case, status, &body, 401, None);
    }
    let mut stream = SseStream::open(&app, &[], None).await;
    let id = new_id();
    app.store(&event(&id)).await;
    assert_eq!(stream.message(MESSAGE_TIMEOUT).await.event_id(), id);
}

async fn sigterm_ends_open_streams_and_exits_0_promptly(db: TestDb) {
    let mut app = ServeProcess::start(&db).await;
    let mut streams = vec![
        SseStream::open(&app, &[], None).await,
        SseStream::open(&app, &[("type", "budget:warning")], None).await,
    ];
    let id = new_id();
    app.store(&event(&id)).await;
    assert_eq!(streams[0].message(MESSAGE_TIMEOUT).await.event_id(), id);

    app.signal(Signal::SIGTERM);
    // Ended by the server, not cut: a stream the shutdown left open would hold the drain until its
    // own bound (`DRAIN_TIMEOUT`) and be cut when the process exits. The wait outlasts that.
    for stream in &mut streams {
        assert_ended_by_the_server(stream, DRAIN_TIMEOUT + Duration::from_secs(10)).await;
    }
    let exit = app.wait_exit().await;
    assert!(
        exit.status.success(),
        "exit after SIGTERM: {:?}\n{}",
        exit.status,
        exit.stderr
    );
}

/// Reads `stream` (comments only) until its answer ends, and asserts that the server ended it.
async fn assert_ended_by_the_server(stream: &mut SseStream, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match stream.next(left).await {
            Next::Ended => return,
            Next::Comment => continue,
            Next::Cut(err) => panic!("the stream was cut, not ended by the shutdown: {err}"),
            other => panic!("expected the stream to end after SIGTERM, got {other:?}"),
        }
    }
}

/// The 30 s bound on answering a request covers producing the answer's head, not an endless
/// body: with the bound shortened to 15.5 s, a stream still delivers after 17 s, and it has sent
/// a keep-alive comment meanwhile (every 15 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_outlives_the_request_timeout_and_sends_keep_alives() {
    crate::backend::run(Backend::Sqlite, |db| async move {
        let app = App::start_with(&db, |config| {
            config.limits.body_read_timeout = Duration::from_millis(500);
        })
        .await;
        let mut stream = SseStream::open(&app, &[], None).await;
        let quiet_until = tokio::time::Instant::now() + Duration::from_secs(17);
        let mut comments = 0;
        loop {
            let left = quiet_until.saturating_duration_since(tokio::time::Instant::now());
            match stream.next(left).await {
                Next::TimedOut => break,
                Next::Comment => comments += 1,
                other => panic!("an idle stream gave {other:?}"),
            }
        }
        assert!(comments >= 1, "no keep-alive comment in 17 s");
        let id = new_id();
        app.store(&event(&id)).await;
        assert_eq!(stream.message(MESSAGE_TIMEOUT).await.event_id(), id);
    })
    .await;
}
