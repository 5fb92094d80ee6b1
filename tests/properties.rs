//! Property tests (proptest) of the hostile-input boundary: signature checking, delivery
//! validation and its content hash, the pagination cursor and the query parameters, as pure
//! functions; then two black-box properties against a real `dash-events serve` (signed bodies
//! never get a 5xx, pages never skip or repeat while events arrive). Case counts are small so that
//! `cargo test` stays fast; `PROPTEST_CASES=5000 cargo test --test properties` runs more.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use dash_events::config::Secret;
use dash_events::cursor::Cursor;
use dash_events::error::AppError;
use dash_events::event::{parse_delivery, parse_timestamp, render_event};
use dash_events::query::{ListParams, MAX_LIMIT, TimeRange};
use dash_events::signature::{SignatureError, sign, verify};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

const SECRET: &str = "property-secret";
const PREFIX_LEN: usize = "sha256=".len();

/// `default_cases` unless `PROPTEST_CASES` says otherwise. Failures are not persisted to a
/// `proptest-regressions` directory: each one found is kept as a named regression test below.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(default_cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// An event valid per the contract, written later with any offset, key order and escaping.
#[derive(Debug, Clone)]
struct DashEvent {
    id: String,
    event_type: String,
    at: DateTime<Utc>,
    data: Map<String, Value>,
    webhook_id: Option<String>,
}

impl DashEvent {
    /// The event as JSON, its timestamp written at `offset` (`Z` for UTC when `z`).
    fn to_value(&self, offset: FixedOffset, z: bool) -> Value {
        let time = self.at.with_timezone(&offset);
        let mut value = json!({ "id": self.id, "type": self.event_type, "data": self.data,
            "timestamp": time.to_rfc3339_opts(SecondsFormat::AutoSi, z) });
        if let Some(webhook_id) = &self.webhook_id {
            value["webhookId"] = json!(webhook_id);
        }
        value
    }
}

/// 1–256 bytes without control characters, often at the 256-byte boundary.
fn event_id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9-]{1,36}", "[^\\p{Cc}]{1,80}", "[!-~]{250,256}"].prop_map(|mut id| {
        while id.len() > 256 {
            id.pop();
        }
        id
    })
}

/// 1–128 characters of any kind (the contract allows any type string).
fn event_type() -> impl Strategy<Value = String> {
    vec(any::<char>(), 1..=128).prop_map(String::from_iter)
}

/// An instant in the years 0001–9998 (so every offset keeps a four-digit year), nanoseconds.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let seconds = prop_oneof![
        1_700_000_000i64..1_900_000_000,
        -62_135_596_800i64..253_370_764_800
    ];
    let nanos = prop_oneof![Just(0u32), 0u32..1_000_000_000];
    (seconds, nanos)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).expect("within chrono's range"))
}

/// Any UTC offset RFC 3339 can write, whole minutes up to ±23:59.
fn offset() -> impl Strategy<Value = FixedOffset> {
    (-1439i32..=1439).prop_map(|minutes| FixedOffset::east_opt(minutes * 60).expect("< 1 day"))
}

fn json_value() -> impl Strategy<Value = Value> {
    let finite = any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite());
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite.prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::from),
            json_object(inner).prop_map(Value::Object)
        ]
    })
}

fn json_object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    btree_map(any::<String>(), values, 0..6).prop_map(|map| map.into_iter().collect())
}

fn dash_event() -> impl Strategy<Value = DashEvent> {
    let webhook_id = proptest::option::of("[a-z0-9_]{1,12}");
    (
        event_id(),
        event_type(),
        instant(),
        json_object(json_value()),
        webhook_id,
    )
        .prop_map(|(id, event_type, at, data, webhook_id)| DashEvent {
            id,
            event_type,
            at,
            data,
            webhook_id,
        })
}

/// Bodies a signer might send: valid events, events with one field replaced, any JSON, any bytes.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "id",
        "type",
        "timestamp",
        "data",
        "webhookId",
        "instanceId",
    ]);
    let mutated =
        (dash_event(), offset(), field, json_value()).prop_map(|(event, offset, field, value)| {
            let mut body = event.to_value(offset, false);
            body[field] = value;
            body.to_string().into_bytes()
        });
    prop_oneof![
        (dash_event(), offset()).prop_map(|(e, o)| e.to_value(o, true).to_string().into_bytes()),
        mutated,
        json_value().prop_map(|v| v.to_string().into_bytes()),
        vec(any::<u8>(), 0..300),
    ]
}

/// Writes `value` as equivalent JSON with every object's keys in reverse order and every
/// non-ASCII character as `\u` escapes (UTF-16 surrogate pairs beyond the BMP).
fn write_reversed_ascii(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().rev().enumerate() {
                out.push_str(if i == 0 { "" } else { " , " });
                write_ascii_string(key, out);
                out.push_str(" : ");
                write_reversed_ascii(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "," });
                write_reversed_ascii(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_ascii_string(text, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_ascii_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => out.extend(['\\', c]),
            ' '..='~' => out.push(c),
            _ => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .for_each(|u| out.push_str(&format!("\\u{u:04x}"))),
        }
    }
    out.push('"');
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_validly_signed_body_is_stored_or_refused_with_4xx(body in any_body()) {
        let header = sign(SECRET.as_bytes(), &body);
        let secret = Secret::new(SECRET.into());
        prop_assert_eq!(verify(&[&secret], Some(header.as_bytes()), &body), Ok(()));
        if let Err(invalid) = parse_delivery(Bytes::from(body)) {
            prop_assert!(AppError::from(invalid).status().is_client_error());
        }
    }

    #[test]
    fn one_changed_body_byte_is_refused(
        secret in ".{0,40}", body in vec(any::<u8>(), 1..300), at in any::<Index>(), flip in 1u8..,
    ) {
        let header = sign(secret.as_bytes(), &body);
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= flip;
        let result = verify(&[&Secret::new(secret)], Some(header.as_bytes()), &tampered);
        prop_assert_eq!(result, Err(SignatureError::Mismatch));
    }

    /// Hex case does not matter (contract), so changing a digit's case is the one accepted edit.
    #[test]
    fn one_changed_header_byte_is_refused_unless_it_only_changes_hex_case(
        secret in ".{0,40}", body in vec(any::<u8>(), 0..300), at in any::<Index>(), byte in any::<u8>(),
    ) {
        let mut header = sign(secret.as_bytes(), &body).into_bytes();
        let i = at.index(header.len());
        prop_assume!(header[i] != byte);
        let case_only = i >= PREFIX_LEN && header[i].eq_ignore_ascii_case(&byte);
        header[i] = byte;
        let result = verify(&[&Secret::new(secret)], Some(&header), &body);
        prop_assert_eq!(result.is_ok(), case_only, "byte {} set to {:#04x}: {:?}", i, byte, result);
    }

    #[test]
    fn cursors_round_trip(timestamp_us in any::<i64>(), id in prop_oneof!["[^\\p{Cc}]{1,80}", "[0-9:-]{1,8}"]) {
        let cursor = Cursor { timestamp_us, id };
        let text = cursor.encode();
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(Cursor::decode(&text), Ok(cursor));
    }

    #[test]
    fn decoding_any_text_as_a_cursor_never_panics(text in any::<String>(), inner in "[-+0-9]{0,3}:?.{0,8}") {
        for text in [text, URL_SAFE_NO_PAD.encode(inner)] {
            if let Ok(cursor) = Cursor::decode(&text) {
                prop_assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
            }
        }
    }

    #[test]
    fn any_query_string_parses_or_is_refused_and_limits_stay_in_range(query in query_string()) {
        if let Ok(params) = ListParams::parse(Some(&query)) {
            prop_assert!((1..=MAX_LIMIT).contains(&params.limit), "limit {}", params.limit);
            prop_assert_eq!(TimeRange::parse(Some(&query)), Ok(params.range));
        }
    }

    #[test]
    fn limit_is_accepted_exactly_from_1_to_1000(limit in any::<i64>()) {
        let parsed = ListParams::parse(Some(&format!("limit={limit}"))).map(|p| i64::from(p.limit));
        prop_assert_eq!(parsed.ok(), Some(limit).filter(|l| (1..=1000).contains(l)));
    }

    #[test]
    fn equivalent_serialisations_of_an_event_have_one_content_hash(
        event in dash_event(), first_offset in offset(), second_offset in offset(),
    ) {
        let first = event.to_value(first_offset, true).to_string();
        let mut second_value = event.to_value(second_offset, false);
        second_value["instanceId"] = Value::Null; // absent and null are the same
        second_value["deliveryAttempt"] = json!(2); // other top-level fields are not compared
        let mut second = String::new();
        write_reversed_ascii(&second_value, &mut second);
        let a = parse_delivery(Bytes::from(first.clone())).map_err(|e| TestCaseError::fail(format!("{e}: {first}")))?;
        let b = parse_delivery(Bytes::from(second.clone())).map_err(|e| TestCaseError::fail(format!("{e}: {second}")))?;
        prop_assert_eq!((&a.id, &a.event_type, a.timestamp_us), (&event.id, &event.event_type, event.at.timestamp_micros()));
        prop_assert_eq!((&b.id, &b.event_type, b.timestamp_us), (&a.id, &a.event_type, a.timestamp_us));
        prop_assert_eq!(a.content_hash, b.content_hash, "{} / {}", first, second);
    }
}

/// Query strings built from the parameters `GET /events` knows, with plausible and hostile values.
fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof!["type", "since", "until", "limit", "cursor", "[a-z]{1,4}"];
    let time = instant().prop_map(|t| t.to_rfc3339());
    let cursor = (any::<i64>(), ".{0,6}").prop_map(|(t, id)| {
        Cursor {
            timestamp_us: t,
            id,
        }
        .encode()
    });
    let value = prop_oneof![
        any::<String>(),
        "-?[0-9]{1,5}",
        "[a-z:,]{0,12}",
        time,
        cursor
    ];
    let pairs = vec((key, value), 0..6).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    });
    prop_oneof![pairs, any::<String>(), "[a-z=&%0-9+,:-]{0,40}"]
}

/// Regression (found by this file): a delivery with a lone UTF-16 surrogate escape (valid JSON per
/// RFC 8259, and what JavaScript's `JSON.stringify` writes for a string cut inside an emoji) was
/// refused with 400, but the contract says an event Dash signed is never turned away for its
/// content.
#[test]
fn a_lone_surrogate_escape_in_a_string_is_accepted() {
    let body = r#"{"id":"e1","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{"result":"cut \ud83d"}}"#;
    let result = parse_delivery(Bytes::from_static(body.as_bytes()));
    assert!(result.is_ok(), "{result:?}");
}

proptest! {
    #![proptest_config(config(64))]

    /// A lone surrogate escape in `data` (valid JSON) never gets an event turned away.
    #[test]
    fn events_with_lone_surrogate_escapes_are_accepted(
        mut event in dash_event(), unit in 0xD800u32..=0xDFFF, ascii in any::<bool>(),
    ) {
        // A Rust string cannot hold a lone surrogate: a marker is replaced in the JSON text.
        event.data.insert("cut".into(), json!("x@@LONE@@"));
        let value = event.to_value(FixedOffset::east_opt(0).expect("UTC"), true);
        let mut text = value.to_string();
        if ascii {
            text.clear();
            write_reversed_ascii(&value, &mut text);
        }
        let body = text.replacen("@@LONE@@", &format!("\\u{unit:04x}"), 1);
        let parsed = parse_delivery(Bytes::from(body.clone()))
            .map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?;
        prop_assert_eq!(&parsed.id, &event.id);
        prop_assert_eq!(parsed.timestamp_us, event.at.timestamp_micros());
        prop_assert!(render_event(body.as_bytes(), 0).is_ok());
    }
}

/// Regression (found by this file, fixed): lone surrogates are read as U+FFFD for validation, so
/// the content hash also takes the units they stood for; deliveries of one id that differ only in
/// which lone surrogate (or U+FFFD itself) they carry are different content (409), not duplicates.
#[test]
fn different_lone_surrogates_are_different_content() {
    let hash = |escape: &str| {
        let body = format!(
            r#"{{"id":"e","type":"t","timestamp":"2026-11-28T10:00:00Z","data":{{"r":"{escape}"}}}}"#
        );
        parse_delivery(Bytes::from(body)).map(|event| event.content_hash)
    };
    let (high, low, replacement) = (hash(r"\ud800"), hash(r"\udfff"), hash(r"\ufffd"));
    assert!(high.is_ok() && low.is_ok() && replacement.is_ok());
    assert_ne!(high, low, "\\ud800 and \\udfff");
    assert_ne!(high, replacement, "\\ud800 and \\ufffd");
}

/// Regression (found by this file): an instant whose UTC year leaves 0000–9999 (reachable with an
/// offset) was answered as `-0001-12-31T23:00:00Z` or `+10000-…`, which is not RFC 3339; it is now
/// answered as sent.
#[test]
fn rendered_timestamps_are_rfc3339_at_the_edges_of_the_year_range() {
    for sent in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
        let body = json!({"id": "e", "type": "t", "timestamp": sent, "data": {}}).to_string();
        let event = parse_delivery(Bytes::from(body.clone())).expect("the contract accepts it");
        let rendered = render_event(body.as_bytes(), 0).expect("renders");
        let answered = rendered["timestamp"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let instant = parse_timestamp(&answered).map(|t| t.timestamp_micros());
        assert_eq!(
            instant,
            Some(event.timestamp_us),
            "{sent} answered as {answered}"
        );
    }
}

/// A `dash-events serve` child process on its own SQLite file and a free loopback port; killed
/// and its directory removed on drop.
struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dash-events-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dash-events"))
            .arg("serve")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("events.db").display()),
            )
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("WEBHOOK_SECRET", SECRET)
            .env("SQLITE_SYNCHRONOUS", "normal")
            .env("RUST_LOG", "info")
            .env_remove("WEBHOOK_SECRET_PREVIOUS")
            .env_remove("API_TOKEN")
            .env_remove("MAX_BODY_BYTES")
            .env_remove("LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dash-events starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let addr = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let rest = line.split("listening on ").nth(1)?;
            Some(
                rest.split_whitespace()
                    .next()?
                    .trim_start_matches("http://")
                    .to_owned(),
            )
        });
        // Keep reading so that the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        Self {
            base: format!("http://{}", addr.expect("a `listening on` line")),
            child,
            dir,
            client: reqwest::Client::new(),
            runtime: runtime.expect("tokio runtime"),
        }
    }

    /// POSTs `body` signed with the server's secret; answers the status and the JSON answer.
    fn deliver(&self, body: &[u8]) -> (u16, Value) {
        let request = self.client.post(format!("{}/webhooks/dash", self.base));
        let request = request.header("content-type", "application/json");
        let request = request.header("x-dash-signature", sign(SECRET.as_bytes(), body));
        self.send(request.body(body.to_vec()))
    }

    /// GETs `path` with the raw `query` (percent-encoded only where a URL must be); answers the
    /// status and the JSON answer.
    fn get(&self, path: &str, query: &str) -> (u16, Value) {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).expect("a URL");
        url.set_query(Some(query));
        self.send(self.client.get(url))
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            (status, response.json().await.expect("every answer is JSON"))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Any body, validly signed, gets 200, 400 or 409 (a reused id); any query string 200 or 400.
#[test]
fn signed_bodies_and_query_strings_never_get_a_5xx() {
    let server = Server::start("no-5xx");
    let mut runner = TestRunner::new(config(48));
    let result = runner.run(&(any_body(), query_string()), |(body, query)| {
        let (status, answer) = server.deliver(&body);
        prop_assert!(matches!(status, 200 | 400 | 409), "{} {}", status, answer);
        let (status, answer) = server.get("/events", &query);
        prop_assert!(
            matches!(status, 200 | 400),
            "{} {} for {:?}",
            status,
            answer,
            query
        );
        Ok(())
    });
    result.unwrap();
}

/// The first second of the paging events; each falls in one of the 5 seconds after it, so many
/// share a timestamp and are ordered by id.
const PAGE_BASE_SECONDS: i64 = 1_795_860_000;

/// Events of one case as `(timestamp µs, id)`: distinct ids, each starting with `prefix`.
fn page_events(prefix: &'static str) -> impl Strategy<Value = Vec<(i64, String)>> {
    let events = btree_map("[a-zA-Z0-9:é_-]{1,6}", 0i64..5, 1..30);
    events.prop_map(move |events| {
        let key = |(id, s)| ((PAGE_BASE_SECONDS + s) * 1_000_000, format!("{prefix}{id}"));
        events.into_iter().map(key).collect()
    })
}

/// Delivers `(timestamp µs, id)` as an event of `event_type`; answers the status.
fn post_page_event(server: &Server, event_type: &str, (micros, id): &(i64, String)) -> u16 {
    let at = DateTime::from_timestamp_micros(*micros).expect("in range");
    let body = json!({"id": id, "type": event_type, "timestamp": at.to_rfc3339(), "data": {}});
    server.deliver(body.to_string().as_bytes()).0
}

/// The `(timestamp µs, id)` of each event of a `GET /events` answer, in order.
fn page_keys(page: &Value) -> Vec<(i64, String)> {
    let events = page["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let key = |event: &Value| {
        let at = parse_timestamp(event["timestamp"].as_str()?)?;
        Some((at.timestamp_micros(), event["id"].as_str()?.to_owned()))
    };
    events
        .iter()
        .map(|e| key(e).expect("an event with id and timestamp"))
        .collect()
}

/// Following `nextCursor` returns every event stored before the first page exactly once, newest
/// first; of the events that arrive between pages, exactly those behind the cursor follow.
#[test]
fn pages_never_skip_or_repeat_while_events_arrive() {
    let server = Server::start("pages");
    let mut runner = TestRunner::new(config(16));
    let case = std::cell::Cell::new(0);
    let strategy = (page_events("old-"), page_events("new-"), 1u32..8);
    let result = runner.run(&strategy, |(stored, arriving, limit)| {
        // Each case has its own type (and ids), so cases share the server without interfering.
        case.set(case.get() + 1);
        let event_type = format!("paging-{}", case.get());
        let with_case = |(micros, id): (i64, String)| (micros, format!("{}-{id}", case.get()));
        let mut expected: Vec<_> = stored.into_iter().map(with_case).collect();
        for event in &expected {
            prop_assert_eq!(post_page_event(&server, &event_type, event), 200);
        }
        let (mut seen, mut arriving) = (vec![], arriving.into_iter().map(with_case));
        let mut query = format!("type={event_type}&limit={limit}");
        loop {
            let (status, page) = server.get("/events", &query);
            prop_assert_eq!(status, 200, "{}", page);
            seen.extend(page_keys(&page));
            let Some(cursor) = page["nextCursor"].as_str() else {
                break;
            };
            // An event arriving now is returned later if and only if it sorts behind the cursor.
            if let Some(event) = arriving.next() {
                prop_assert_eq!(post_page_event(&server, &event_type, &event), 200);
                let last = seen.last().expect("a page with a cursor is not empty");
                expected.extend(Some(event).filter(|event| event < last));
            }
            query = format!("type={event_type}&limit={limit}&cursor={cursor}");
        }
        expected.sort_by(|a, b| b.cmp(a));
        prop_assert_eq!(seen, expected);
        Ok(())
    });
    result.unwrap();
}
