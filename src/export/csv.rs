//! Events as CSV rows (RFC 4180: comma-separated, CRLF line ends, a field quoted when it holds a
//! comma, a quote or a line break, its quotes doubled), one row per event in the shape `GET
//! /events` answers. The columns are fixed (`HEADER`), so that a spreadsheet or a script can
//! rely on them: the event's own fields, the audit ids, cost and duration, and `data` as JSON
//! for everything else. Shared by `GET /events/export?format=csv` and `dash-events query
//! --format csv`.

use std::io;

use serde_json::Value;

/// The columns, in order: the header row of every CSV export.
pub const HEADER: [&str; 12] = [
    "id",
    "type",
    "timestamp",
    "receivedAt",
    "agentId",
    "swarmId",
    "workflowId",
    "instanceId",
    "webhookId",
    "cost",
    "durationMs",
    "data",
];

/// The media type of a CSV export (RFC 4180, with its optional `header` parameter).
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";

/// A CSV writer over `out` with the export's settings; it writes no row by itself (see
/// `write_header`).
pub fn writer<W: io::Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out)
}

/// Writes the header row.
pub fn write_header<W: io::Write>(out: &mut csv::Writer<W>) -> csv::Result<()> {
    out.write_record(HEADER)
}

/// Writes one event (an object as `GET /events` answers it) as a row. A column whose value is
/// absent, or not of the expected kind (an `agentId` that is not a string, a `cost` that is not
/// a number), is empty: `data` holds the event's data exactly as sent.
pub fn write_event<W: io::Write>(out: &mut csv::Writer<W>, event: &Value) -> csv::Result<()> {
    let data = event.get("data");
    let data_json = match data {
        Some(data) => serde_json::to_string(data).map_err(io::Error::from)?,
        None => String::new(),
    };
    let row: [&str; 12] = [
        text(event.get("id")),
        text(event.get("type")),
        text(event.get("timestamp")),
        text(event.get("receivedAt")),
        text(data.and_then(|d| d.get("agentId"))),
        text(data.and_then(|d| d.get("swarmId"))),
        text(data.and_then(|d| d.get("workflowId"))),
        text(event.get("instanceId")),
        text(event.get("webhookId")),
        &number(data.and_then(|d| d.get("cost"))),
        &number(data.and_then(|d| d.get("durationMs"))),
        &data_json,
    ];
    out.write_record(row)
}

/// A string value as is; anything else (absent, null, a number, an object) as an empty cell.
fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}

/// A number in the JSON text it was sent as (so `0.1` stays `0.1`); anything else empty.
fn number(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(events: &[Value]) -> String {
        let mut out = writer(Vec::new());
        write_header(&mut out).unwrap();
        for event in events {
            write_event(&mut out, event).unwrap();
        }
        String::from_utf8(out.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn an_event_becomes_one_row_under_the_header() {
        let event = json!({"id": "evt-1", "type": "agent:complete",
            "timestamp": "2026-11-28T10:00:00Z", "receivedAt": "2026-11-28T10:00:01.5Z",
            "webhookId": "wh_1", "instanceId": null,
            // Keys in sorted order, as `data` is written whether or not serde_json keeps their order.
            "data": {"agentId": "agent-7", "cost": 0.1, "durationMs": 5000, "swarmId": "s-1"}});
        let text = rows(&[event]);
        assert_eq!(
            text,
            "id,type,timestamp,receivedAt,agentId,swarmId,workflowId,instanceId,webhookId,cost,\
             durationMs,data\r\n\
             evt-1,agent:complete,2026-11-28T10:00:00Z,2026-11-28T10:00:01.5Z,agent-7,s-1,,,\
             wh_1,0.1,5000,\"{\"\"agentId\"\":\"\"agent-7\"\",\"\"cost\"\":0.1,\
             \"\"durationMs\"\":5000,\"\"swarmId\"\":\"\"s-1\"\"}\"\r\n"
        );
    }

    #[test]
    fn commas_quotes_and_line_breaks_survive_a_round_trip() {
        let id = "evt \"quoted\", with\ncomma and\r\nbreaks";
        let event = json!({"id": id, "type": "a,b", "data": {"agentId": "x\"y", "note": "1\n2"}});
        let text = rows(std::slice::from_ref(&event));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[0], id);
        assert_eq!(&record[1], "a,b");
        assert_eq!(&record[4], "x\"y");
        let data: Value = serde_json::from_str(&record[11]).unwrap();
        assert_eq!(data, event["data"]);
    }

    #[test]
    fn values_of_another_kind_leave_their_cell_empty() {
        let event = json!({"id": "e", "type": "t",
            "data": {"agentId": 42, "workflowId": {"a": 1}, "cost": "0.5", "durationMs": null}});
        let text = rows(&[event]);
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("e,t,,,,,,,,,,"), "{row}");
        let without_data = rows(&[json!({"id": "e", "type": "t"})]);
        assert_eq!(without_data.lines().nth(1), Some("e,t,,,,,,,,,,"));
    }
}
