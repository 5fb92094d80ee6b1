//! `GET /events/export` of a large log: every event once, in the order of `GET /events`, each line
//! equal to `GET /events/{id}`, and the server's peak memory flat whatever the size of the export:
//! it grows by far less than the export does. The CSV export of the same log, streamed the same
//! way, holds the same events in the same order and leaves the peak as flat.

use std::time::Duration;

use chrono::Utc;
use reqwest::Client;
use serde_json::Value;

use crate::backend::{Backend, TestDb};
use crate::queries::export::{PAD, all_pages, export_raw, lines};
use crate::support::fill::{event_at_time, store_events};
use crate::support::server::ServeProcess;

both_backends!(export_of_a_large_log_streams_every_event_newest_first_at_flat_memory);

/// Events in the large log; one in `SMALL_SHARE` is of the type the smaller export selects.
const LARGE: usize = 50_000;
const SMALL_SHARE: usize = 10;
/// The large export may grow the server's peak RSS beyond the small one's by at most this share
/// of what it outweighs the small one (~54 MB of NDJSON). Holding an export in memory takes
/// about its size: a version that collected the pages before answering grew the peak by 50 MB.
/// Streaming it grew the peak by 0–0.3 MB in eight runs after the warm-up below (by 0–2 MB after
/// a warm-up that walked one type at a time, which left a reader's page cache to fill; by up to
/// 20 MB with none). A fifth, ~11 MB, is 5 times the most seen after any warm-up, and under a
/// quarter of what holding the export takes.
const GROWTH_SHARE: u64 = 5;

async fn export_of_a_large_log_streams_every_event_newest_first_at_flat_memory(db: TestDb) {
    let now = Utc::now();
    let events: Vec<Value> = (0..LARGE)
        .map(|i| {
            let event_type = if i % SMALL_SHARE == 0 {
                "agent:start"
            } else {
                "agent:complete"
            };
            // Three events per instant, so ties are broken by id as in `GET /events`.
            let at = now - chrono::Duration::seconds((i / 3) as i64);
            event_at_time(&format!("evt-{i:06}"), event_type, at, 0.01, PAD)
        })
        .collect();
    store_events(&db, &events).await;
    let app = ServeProcess::start(&db).await;
    let client = long_client();
    // Reading every event through GET /events first brings the server's allocator arenas and
    // page caches to their steady state, so that what the exports add to the peak is their own
    // doing. Two walks at once, as the large export reads its two types at once: on SQLite each
    // reader connection it will use then exists, and the walks, which take the idle connections
    // in turn, have filled its page cache (2 MiB).
    let (small_pages, large_pages) = futures::join!(
        all_pages(&app, &[("type", "agent:start")]),
        all_pages(&app, &[])
    );

    let small = export_measured(&app, &client, &[("type", "agent:start")]).await;
    let large = export_measured(&app, &client, &[]).await;

    assert_eq!(small.lines.len(), LARGE / SMALL_SHARE);
    assert_eq!(large.lines.len(), LARGE, "every event exactly once");
    assert_eq!(small.lines, small_pages);
    assert_eq!(
        large.lines, large_pages,
        "the lines are the pages of GET /events"
    );
    for line in large.lines.iter().step_by(997).chain(large.lines.last()) {
        let id = line["id"].as_str().expect("an id");
        let by_id = app.get_json(&format!("/events/{id}")).await;
        assert_eq!(line, &by_id, "line of {id} differs from GET /events/{id}");
    }
    assert_peak_flat(db.backend(), &small, &large);

    let csv = export_measured_csv(&app, &client).await;
    let csv_ids: Vec<&str> = csv.rows.iter().map(|row| &row[0]).collect();
    let ndjson_ids: Vec<&str> = large
        .lines
        .iter()
        .map(|line| line["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        csv_ids, ndjson_ids,
        "the CSV rows are the NDJSON events, in order"
    );
    assert_csv_peak_flat(db.backend(), &large, &csv);
}

/// One export's lines, its size and the server's peak RSS once it was answered.
struct Measured {
    lines: Vec<Value>,
    bytes_kb: u64,
    peak_kb: u64,
}

/// The export of `query`, measured.
async fn export_measured(app: &ServeProcess, client: &Client, query: &[(&str, &str)]) -> Measured {
    let (status, _, body) = export_raw(app, client, query).await;
    assert_eq!(status, 200);
    Measured {
        lines: lines(&body),
        bytes_kb: body.len() as u64 / 1024,
        peak_kb: peak_rss_kb(app),
    }
}

/// The CSV export of the whole log: its rows (header excluded), its size and the peak after it.
struct MeasuredCsv {
    rows: Vec<csv::StringRecord>,
    bytes_kb: u64,
    peak_kb: u64,
}

async fn export_measured_csv(app: &ServeProcess, client: &Client) -> MeasuredCsv {
    let (status, _, body) = export_raw(app, client, &[("format", "csv")]).await;
    assert_eq!(status, 200);
    let rows = csv::Reader::from_reader(&body[..])
        .records()
        .map(|row| row.expect("a CSV row"))
        .collect();
    MeasuredCsv {
        rows,
        bytes_kb: body.len() as u64 / 1024,
        peak_kb: peak_rss_kb(app),
    }
}

/// Asserts that the CSV export of the whole log, after the NDJSON one, grew the peak by under
/// `1 / GROWTH_SHARE` of its size: rendering rows instead of lines holds no more of the export.
fn assert_csv_peak_flat(backend: Backend, ndjson: &Measured, csv: &MeasuredCsv) {
    let growth_kb = csv.peak_kb.saturating_sub(ndjson.peak_kb);
    eprintln!(
        "{backend:?}: peak RSS {} kB after the CSV export ({} kB)",
        csv.peak_kb, csv.bytes_kb
    );
    assert!(
        growth_kb < csv.bytes_kb / GROWTH_SHARE,
        "the peak RSS grew by {growth_kb} kB for a CSV export of {} kB: it is held in memory",
        csv.bytes_kb
    );
}

/// Asserts that the large export grew the peak by under `1 / GROWTH_SHARE` of what it outweighs
/// the small one: the memory it takes does not scale with its size.
fn assert_peak_flat(backend: Backend, small: &Measured, large: &Measured) {
    let growth_kb = large.peak_kb.saturating_sub(small.peak_kb);
    let more_kb = large.bytes_kb - small.bytes_kb;
    eprintln!(
        "{backend:?}: peak RSS {} kB after the small export ({} kB), {} kB after the large one \
         ({} kB)",
        small.peak_kb, small.bytes_kb, large.peak_kb, large.bytes_kb
    );
    assert!(
        growth_kb < more_kb / GROWTH_SHARE,
        "the peak RSS grew by {growth_kb} kB for an export {more_kb} kB larger: it is held in memory"
    );
}

/// The server's peak resident set size so far (`VmHWM`), in kB.
fn peak_rss_kb(app: &ServeProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", app.pid()))
        .expect("read the server's /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

/// A loopback client that waits long enough for a large export on a busy machine.
fn long_client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("build the HTTP client")
}
