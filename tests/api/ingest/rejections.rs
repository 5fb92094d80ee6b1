//! The first three rows of the receiving table, in their order: a body over the limit is 413
//! (whether announced by Content-Length or streamed in chunks), a missing or non-JSON content type
//! is 415, and a missing, malformed or non-matching signature is 401 — each with `{"error": …}`,
//! before anything is parsed, and with nothing written to the database.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use crate::backend::TestDb;
use crate::helpers::{assert_error, event, new_id, sign, status_and_json};
use crate::support::app::App;
use crate::support::http::SECRET;

both_backends!(
    body_over_the_limit_is_rejected_with_413,
    body_over_the_default_limit_of_1_mib_is_rejected_with_413,
    streamed_body_over_the_limit_is_rejected_with_413,
    oversized_body_is_rejected_with_413_before_its_content_type,
    missing_or_non_json_content_type_is_rejected_with_415,
    content_type_is_checked_before_the_signature,
    missing_or_bad_signature_is_rejected_with_401,
    signature_is_checked_before_the_body_is_parsed,
);

/// A signed-able event body of exactly `size` bytes.
fn body_of_size(size: usize) -> Vec<u8> {
    let mut value = event(&new_id());
    value["data"]["pad"] = json!("");
    let bare = serde_json::to_vec(&value).unwrap().len();
    value["data"]["pad"] = json!("p".repeat(size - bare));
    let body = serde_json::to_vec(&value).unwrap();
    assert_eq!(body.len(), size);
    body
}

/// POSTs `body` signed with the test secret under `content_type` (none when `None`).
async fn post_signed(app: &App, body: Vec<u8>, content_type: Option<&str>) -> (u16, Value) {
    let signature = sign(SECRET, &body);
    let mut headers = vec![("x-dash-signature", signature.as_str())];
    headers.extend(content_type.map(|value| ("content-type", value)));
    status_and_json(app.post_webhook(body, &headers).await).await
}

async fn body_over_the_limit_is_rejected_with_413(db: TestDb) {
    let app = App::start_with(&db, |config| config.max_body_bytes = 1024).await;

    let (over, body) = post_signed(&app, body_of_size(1025), Some("application/json")).await;
    assert_error("a 1025-byte body, limit 1024", over, &body, 413, None);
    assert_eq!(db.count_events().await, 0, "the oversized event was stored");

    let (at, body) = post_signed(&app, body_of_size(1024), Some("application/json")).await;
    assert_eq!(at, 200, "a body of exactly the limit: {body}");
}

async fn body_over_the_default_limit_of_1_mib_is_rejected_with_413(db: TestDb) {
    let app = App::start(&db).await;

    let (over, body) = post_signed(&app, body_of_size(1_048_577), Some("application/json")).await;
    assert_error("1 MiB + 1 byte", over, &body, 413, None);

    let (at, body) = post_signed(&app, body_of_size(1_048_576), Some("application/json")).await;
    assert_eq!(at, 200, "exactly 1 MiB: {body}");
}

async fn streamed_body_over_the_limit_is_rejected_with_413(db: TestDb) {
    let app = App::start_with(&db, |config| config.max_body_bytes = 1024).await;
    let body = body_of_size(4096);
    let signature = sign(SECRET, &body);
    let addr = app.addr;

    let (status, answer) =
        tokio::task::spawn_blocking(move || post_chunked(addr, &signature, &body))
            .await
            .unwrap();

    assert_eq!(status, 413, "a chunked 4 KiB body, limit 1 KiB: {answer}");
    assert!(answer.contains("\"error\""), "no error JSON in {answer:?}");
    assert_eq!(db.count_events().await, 0);
}

async fn oversized_body_is_rejected_with_413_before_its_content_type(db: TestDb) {
    let app = App::start_with(&db, |config| config.max_body_bytes = 1024).await;

    for (case, content_type) in [
        ("text/plain", Some("text/plain")),
        ("no content type", None),
    ] {
        let (status, body) = post_signed(&app, body_of_size(2048), content_type).await;
        assert_error(case, status, &body, 413, None);
    }
}

async fn missing_or_non_json_content_type_is_rejected_with_415(db: TestDb) {
    let app = App::start(&db).await;
    let cases = [
        ("no Content-Type", None),
        ("text/plain", Some("text/plain")),
        (
            "text/plain with a charset",
            Some("text/plain; charset=utf-8"),
        ),
        ("form encoding", Some("application/x-www-form-urlencoded")),
        ("XML", Some("application/xml")),
        ("multipart", Some("multipart/form-data; boundary=x")),
    ];

    for (case, content_type) in cases {
        let body = serde_json::to_vec(&event(&new_id())).unwrap();
        let (status, answer) = post_signed(&app, body, content_type).await;
        assert_error(case, status, &answer, 415, None);
    }
    assert_eq!(db.count_events().await, 0, "a 415 delivery was stored");
}

async fn content_type_is_checked_before_the_signature(db: TestDb) {
    let app = App::start(&db).await;
    let body = serde_json::to_vec(&event(&new_id())).unwrap();

    let response = app
        .post_webhook(body, &[("content-type", "text/plain")])
        .await;

    let (status, answer) = status_and_json(response).await;
    assert_error("text/plain and no signature", status, &answer, 415, None);
}

async fn missing_or_bad_signature_is_rejected_with_401(db: TestDb) {
    let app = App::start(&db).await;
    let body = serde_json::to_vec(&event(&new_id())).unwrap();
    let good = sign(SECRET, &body);
    let hex = &good["sha256=".len()..];
    let other = b"{\"id\":\"x\"}";
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no X-Dash-Signature header", None),
        ("an empty header", Some(String::new())),
        ("hex without the sha256= prefix", Some(hex.to_owned())),
        ("a sha1= prefix", Some(format!("sha1={hex}"))),
        ("SHA256= in capitals", Some(format!("SHA256={hex}"))),
        ("the prefix only", Some("sha256=".to_owned())),
        ("not hex", Some(format!("sha256={}", "zz".repeat(32)))),
        ("too short", Some(format!("sha256={}", &hex[..62]))),
        ("too long", Some(format!("sha256={hex}00"))),
        ("odd length", Some(format!("sha256={}", &hex[..63]))),
        ("spaces around", Some(format!(" sha256= {hex} "))),
        (
            "signed with another secret",
            Some(sign("wrong-secret", &body)),
        ),
        ("signature of another body", Some(sign(SECRET, other))),
    ];

    for (case, signature) in cases {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(signature.as_deref().map(|s| ("x-dash-signature", s)));
        let response = app.post_webhook(body.clone(), &headers).await;
        let (status, answer) = status_and_json(response).await;
        assert_error(case, status, &answer, 401, None);
    }
    assert_eq!(
        db.count_events().await,
        0,
        "an unverified delivery was stored"
    );
}

async fn signature_is_checked_before_the_body_is_parsed(db: TestDb) {
    let app = App::start(&db).await;
    let garbage = b"{ this is not json".to_vec();

    for (case, signature) in [
        ("unparseable body without signature", None),
        (
            "unparseable body with a wrong signature",
            Some(sign("wrong", &garbage)),
        ),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(signature.as_deref().map(|s| ("x-dash-signature", s)));
        let response = app.post_webhook(garbage.clone(), &headers).await;
        let (status, answer) = status_and_json(response).await;
        assert_error(case, status, &answer, 401, None);
    }
}

/// Sends `body` with `Transfer-Encoding: chunked` (no Content-Length) in 256-byte chunks over a
/// raw socket, and answers the status and the rest of the response as text.
fn post_chunked(addr: SocketAddr, signature: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /webhooks/dash HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Dash-Signature: {signature}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in body.chunks(256) {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a failed write is expected then.
    let _ = stream.write_all(&request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, text)
}
