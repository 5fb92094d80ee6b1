//! `GET /events/export` of a large log: every event once, in the order of `GET /events`, each line
//! equal to `GET /events/{id}`, and the server's peak memory flat whatever the size of the export.

use std::time::Duration;

use chrono::Utc;
use reqwest::Client;
use serde_json::Value;

use crate::backend::TestDb;
use crate::queries::export::{PAD, all_pages, export_raw, lines};
use crate::support::fill::{event_at_time, store_events};
use crate::support::server::ServeProcess;

both_backends!(export_of_a_large_log_streams_every_event_newest_first_at_flat_memory);

/// Events in the large log; one in `SMALL_SHARE` is of the type the smaller export selects.
const LARGE: usize = 50_000;
const SMALL_SHARE: usize = 10;
/// How much more the server's peak RSS may grow for the large export than for the small one.
/// Holding the export in memory takes more than the NDJSON itself (~55 MB: a version that
/// collected the pages before answering grew the peak by 51 MB); streaming it grew the peak by
/// under 2 MB after the warm-up below. The margin is for allocator noise, which without that
/// warm-up reached 20 MB on SQLite (arenas and page caches, not the size of the export).
const MAX_GROWTH_KB: u64 = 40 * 1024;

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
    // page caches to their steady state for reading pages, so that what the exports add to the
    // peak is the exports' own doing.
    let small_pages = all_pages(&app, &[("type", "agent:start")]).await;
    let large_pages = all_pages(&app, &[]).await;

    let (small, small_peak) = export_measured(&app, &client, &[("type", "agent:start")]).await;
    let (large, large_peak) = export_measured(&app, &client, &[]).await;

    assert_eq!(small.len(), LARGE / SMALL_SHARE);
    assert_eq!(large.len(), LARGE, "every event exactly once");
    assert_eq!(small, small_pages);
    assert_eq!(large, large_pages, "the lines are the pages of GET /events");
    for line in large.iter().step_by(997).chain(large.last()) {
        let id = line["id"].as_str().expect("an id");
        let by_id = app.get_json(&format!("/events/{id}")).await;
        assert_eq!(line, &by_id, "line of {id} differs from GET /events/{id}");
    }
    eprintln!(
        "{:?}: peak RSS {small_peak} kB after the small export, {large_peak} kB after the large one",
        db.backend()
    );
    assert!(
        large_peak < small_peak + MAX_GROWTH_KB,
        "peak RSS grew from {small_peak} kB to {large_peak} kB: the export is held in memory"
    );
}

/// The export of `query` as JSON lines, and the server's peak RSS (kB) once it is done.
async fn export_measured(
    app: &ServeProcess,
    client: &Client,
    query: &[(&str, &str)],
) -> (Vec<Value>, u64) {
    let (status, _, body) = export_raw(app, client, query).await;
    assert_eq!(status, 200);
    (lines(&body), peak_rss_kb(app))
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
