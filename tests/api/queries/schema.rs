//! Every answer of the OpenAPI document at `/openapi.json`, provoked. The checking is done by
//! `support::openapi`, which every helper of the harness passes each answer through (so every
//! answer of every test is checked against the document); this test makes sure that each
//! documented answer — operation and status — is provoked at least once on each backend, with
//! the router's 404 and 405 for what the document does not list. `.ci/schemathesis.sh` fuzzes
//! the same document with generated requests; this is the deterministic part, run by
//! `cargo test`.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::backend::{Backend, TestDb};
use crate::helpers::{event_at, eventually, new_id, sign, status_and_json};
use crate::queries::schema_outage::{answers_during_an_outage, slow_body_answer};
use crate::support::app::App;
use crate::support::capture::{Answer, Capture, notifications, notifying, rule};
use crate::support::openapi::contract;
use crate::support::sse::SseStream;
use dash_events::retention::Retention;

// On PostgreSQL it awaits a stream message, so it runs where the stream tests run.
both_backends_on_stream_cluster!(every_documented_answer_is_provoked_and_conforms);

/// What a request outside the document's operations is recorded under.
const OUTSIDE: &str = "(no operation)";

async fn every_documented_answer_is_provoked_and_conforms(db: TestDb) {
    let failing = Capture::start(&[], Answer::Status(500)).await;
    let working = Capture::start(&[], Answer::Status(200)).await;
    let rules = [
        rule("failing", &["*"], "webhook", &failing.url("/")),
        rule("working", &["*"], "webhook", &working.url("/")),
    ];
    let app = App::start_with(&db, |config| {
        notifying(config, &rules, 1);
        config.max_body_bytes = 4096;
        // The 408 of a body that stops half-way comes after 500 ms instead of 15 s.
        config.limits.body_read_timeout = Duration::from_millis(500);
        // Only for the 422 of an event older than the window; the test's events are fresh.
        let prune_interval = Duration::from_secs(3600);
        config.retention = Some(Retention {
            days: 30,
            prune_interval,
        });
    })
    .await;
    let mut answers = Answers {
        app: &app,
        seen: Vec::new(),
    };

    let id = answers.deliveries().await;
    answers.queries(&id).await;
    answers.stream().await;
    answers.notifications().await;
    answers.download_links().await;
    answers.operations().await;
    answers.record(Method::POST, "/webhooks/dash", slow_body_answer(&app).await);
    answers_during_an_outage(&mut answers, &db).await;

    answers.assert_every_documented_answer_seen(db.backend());
}

/// The answers provoked so far: (method, path template, status).
pub struct Answers<'a> {
    pub app: &'a App,
    seen: Vec<(Method, String, u16)>,
}

impl Answers<'_> {
    /// Sends `request`, which must answer `expected`; answers its JSON body (`Null` if none).
    /// The harness has checked the answer against the document.
    pub async fn call(&mut self, expected: u16, request: RequestBuilder) -> Value {
        let built = request
            .try_clone()
            .expect("a body in memory")
            .build()
            .expect("a request");
        let (method, path) = (built.method().clone(), built.url().path().to_owned());
        let (status, body) = status_and_json(self.app.send(request).await).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        self.record(method, &path, status);
        body
    }

    /// `GET path`, with the bearer token or without.
    pub fn get(&self, path: &str, token: bool) -> RequestBuilder {
        match token {
            true => self.app.request(Method::GET, path),
            false => self.app.client.get(self.app.url(path)),
        }
    }

    /// Records an answer checked by other means (the stream's head, a 408 read off a socket).
    pub fn record(&mut self, method: Method, path: &str, status: u16) {
        let template = contract().template_of(&method, path).unwrap_or(OUTSIDE);
        self.seen.push((method, template.to_owned(), status));
    }

    /// The answers of the webhook table (but 408 and 503), and 405; answers a stored id.
    async fn deliveries(&mut self) -> String {
        let id = new_id();
        let event = fresh_event(&id);
        let mut other = event.clone();
        other["data"]["cost"] = json!(1.5);
        let expired = event_at(&new_id(), "agent:complete", "2020-01-01T00:00:00Z");
        let [body, other, expired] =
            [&event, &other, &expired].map(|e| serde_json::to_vec(e).unwrap());
        let spaces = vec![b' '; 8192];
        // New, then the same again (a duplicate).
        for (status, body) in [
            (200, &body),
            (200, &body),
            (409, &other),
            (422, &expired),
            (413, &spaces),
        ] {
            self.call(status, self.webhook(body, true, true)).await;
        }
        self.call(400, self.webhook(b"{not json", true, true)).await;
        self.call(401, self.webhook(&body, true, false)).await;
        self.call(415, self.webhook(&body, false, true)).await;
        self.call(405, self.get("/webhooks/dash", false)).await;
        id
    }

    fn webhook(&self, body: &[u8], json_type: bool, signed: bool) -> RequestBuilder {
        let mut request = self.app.client.post(self.app.url("/webhooks/dash"));
        if json_type {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if signed {
            request = request.header("x-dash-signature", sign(&self.app.secret, body));
        }
        request.body(body.to_vec())
    }

    /// The query API's answers but the stream's and 503.
    async fn queries(&mut self, id: &str) {
        let (event, body) = (format!("/events/{id}"), format!("/events/{id}/body"));
        let reads = [
            "/events",
            &event,
            &body,
            "/stats",
            "/stats/timeline",
            "/stats/groups?by=agentId",
            "/events/export",
        ];
        for path in reads {
            self.call(200, self.get(path, true)).await;
            self.call(401, self.get(path, false)).await;
        }
        let refused = [
            "/events?limit=0",
            "/events/%FF",
            "/events/%FF/body",
            "/stats?since=yesterday",
            "/stats/timeline?bucket=week",
            "/stats/groups?by=bogus",
            "/events/export?limit=1",
            "/events/stream?limit=1",
        ];
        for path in refused {
            self.call(400, self.get(path, true)).await;
        }
        let unknown = new_id();
        for path in [
            format!("/events/{unknown}"),
            format!("/events/{unknown}/body"),
        ] {
            self.call(404, self.get(&path, true)).await;
        }
        self.call(405, self.app.request(Method::DELETE, "/events"))
            .await;
    }

    /// The live stream: its head, and one message (the `data:` is checked by `support::sse`).
    async fn stream(&mut self) {
        self.call(401, self.get("/events/stream", false)).await;
        let mut stream = SseStream::open(self.app, &[], None).await;
        self.record(Method::GET, "/events/stream", 200);
        let id = new_id();
        self.app.store(&fresh_event(&id)).await;
        // On PostgreSQL a stream may begin with events a little older than its start (its
        // horizon waits for older transactions), so the stored event is awaited among them.
        stream
            .messages_until(|received| received.iter().any(|m| m.event_id() == id))
            .await;
    }

    /// The notification outbox: one rule's notifications dead, the other's sent.
    async fn notifications(&mut self) {
        let app = self.app;
        let both = eventually(Duration::from_secs(30), || async {
            let listed = notifications(app, &[]).await;
            ["dead", "sent"]
                .iter()
                .all(|s| listed.iter().any(|n| n["state"] == *s))
        });
        assert!(both.await, "no dead and sent notifications");
        let page = self.call(200, self.get("/notifications", true)).await;
        let id_in = |state: &str| {
            let listed = page["notifications"].as_array().expect("notifications");
            let found = listed.iter().find(|n| n["state"] == state).expect("listed");
            found["id"].to_string()
        };
        let (dead, sent) = (id_in("dead"), id_in("sent"));
        self.call(400, self.get("/notifications?state=bogus", true))
            .await;
        self.call(401, self.get("/notifications", false)).await;
        let retry = |id: &str| format!("/notifications/{id}/retry");
        for (status, id) in [
            (200, &dead),
            (409, &sent),
            (404, &"4000000000".to_owned()),
            (400, &"%FF".to_owned()),
        ] {
            self.call(status, app.request(Method::POST, &retry(id)))
                .await;
        }
        let unauthorized = app.client.post(app.url(&retry(&dead)));
        self.call(401, unauthorized).await;
        self.call(405, self.get(&retry(&dead), true)).await;
    }

    /// Signed links to an export, for a browser to follow without the token.
    async fn download_links(&mut self) {
        let app = self.app;
        let links = "/events/export/links";
        let csv = format!("{links}?format=csv&agentId=agent-1");
        let link = self.call(200, app.request(Method::POST, &csv)).await;
        assert!(
            link["url"]
                .as_str()
                .is_some_and(|url| url.contains("signature="))
        );
        let bad = format!("{links}?format=xml");
        self.call(400, app.request(Method::POST, &bad)).await;
        self.call(401, app.client.post(app.url(links))).await;
    }

    /// The operations endpoints, the web view, and a path outside the document.
    async fn operations(&mut self) {
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/"] {
            self.call(200, self.get(path, false)).await;
        }
        for path in ["/assets/app.js", "/assets/app.css"] {
            self.call(200, self.get(path, false)).await;
        }
        self.call(404, self.get("/assets/nope.js", false)).await;
        self.call(404, self.get("/no/such/path", false)).await;
    }

    /// Every answer the document lists was provoked, but the 503s of reads on SQLite (see
    /// `schema_outage`); and the router's own 404 and 405 were too.
    fn assert_every_documented_answer_seen(&self, backend: Backend) {
        let seen = |method: &Method, template: &str, status: &str| {
            self.seen.iter().any(|(m, t, s)| {
                m == method && t == template && (s.to_string() == status || status == "default")
            })
        };
        let unprovoked = |template: &str, status: &str| {
            backend == Backend::Sqlite
                && status == "503"
                && !["/webhooks/dash", "/readyz"].contains(&template)
        };
        let missing: Vec<String> = contract()
            .documented_answers()
            .into_iter()
            .filter(|(m, t, s)| !seen(m, t, s) && !unprovoked(t, s))
            .map(|(m, t, s)| format!("{m} {t} {s}"))
            .collect();
        assert!(
            missing.is_empty(),
            "documented but never provoked: {missing:?}"
        );
        for (method, status) in [(Method::GET, 404), (Method::DELETE, 405)] {
            let outside =
                |(m, t, s): &(Method, String, u16)| *m == method && t == OUTSIDE && *s == status;
            assert!(
                self.seen.iter().any(outside),
                "no {method} outside the document answered {status}"
            );
        }
    }
}

/// An `agent:complete` event of now: inside any retention window.
pub fn fresh_event(id: &str) -> Value {
    event_at(id, "agent:complete", &Utc::now().to_rfc3339())
}
