//! `GET /events/stream` at its edges: a bad `Last-Event-ID` or a paging parameter is a 400 naming
//! it (and the operation is in `/openapi.json`); the bearer token is required when one is set;
//! SIGTERM ends open streams and the process exits 0 promptly; an idle stream outlives the
//! request time bound and sends keep-alive comments.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::backend::{Backend, TestDb};
use crate::helpers::{assert_error, event, new_id, status_and_json};
use crate::support::app::{App, api_token};
use crate::support::server::ServeProcess;
use crate::support::sse::{self, MESSAGE_TIMEOUT, Next, SseStream};

both_backends!(
    bad_last_event_id_or_paging_parameters_answer_400,
    the_stream_needs_the_bearer_token_when_one_is_set,
    sigterm_ends_open_streams_and_exits_0_promptly,
);

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
        let (status, body) = status_and_json(request.send().await.expect("answer")).await;
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

    let signalled = Instant::now();
    app.signal(Signal::SIGTERM);
    for stream in &mut streams {
        loop {
            match stream.next(Duration::from_secs(5)).await {
                Next::Ended => break,
                Next::Comment => continue,
                other => panic!("expected the stream to end after SIGTERM, got {other:?}"),
            }
        }
    }
    let exit = app.wait_exit().await;
    assert!(
        exit.status.success(),
        "exit after SIGTERM: {:?}\n{}",
        exit.status,
        exit.stderr
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "streams ended and the process exited {:?} after SIGTERM",
        signalled.elapsed()
    );
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
