//! Fuzzes the query-string parsers of `GET /events` and `GET /stats` and the pagination cursor:
//! arbitrary text never panics, a parsed `limit` is within 1..=1000, `ListParams` and
//! `TimeRange` agree on the time window, and a decoded cursor re-encodes to the same cursor.
//! The input is also base64url-encoded before decoding as a cursor, so the fuzzer explores the
//! cursor's inner text (`<micros>:<id>`) directly.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dash_events::cursor::Cursor;
use dash_events::query::{ListParams, MAX_LIMIT, MAX_TYPES, TimeRange};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_params(&text);
    check_cursor(&text);
    check_cursor(&URL_SAFE_NO_PAD.encode(data));
});

fn check_params(query: &str) {
    let range = TimeRange::parse(Some(query));
    let Ok(params) = ListParams::parse(Some(query)) else {
        return;
    };
    assert!(
        (1..=MAX_LIMIT).contains(&params.limit),
        "limit {}",
        params.limit
    );
    assert!(params.types.len() <= MAX_TYPES);
    assert!(params.types.iter().all(|t| !t.is_empty()));
    assert!(
        params.types.windows(2).all(|w| w[0] < w[1]),
        "sorted, no repeats"
    );
    assert_eq!(range, Ok(params.range), "both parsers read the same window");
}

fn check_cursor(text: &str) {
    let Ok(cursor) = Cursor::decode(text) else {
        return;
    };
    assert!(!cursor.id.is_empty());
    assert!(!cursor.id.chars().any(char::is_control));
    let encoded = cursor.encode();
    assert_eq!(
        Cursor::decode(&encoded),
        Ok(cursor.clone()),
        "re-encodes to {encoded:?}"
    );
    let query = format!("cursor={encoded}");
    let params = ListParams::parse(Some(&query)).expect("an encoded cursor is a valid parameter");
    assert_eq!(params.cursor, Some(cursor));
}
