//! `dash-events verify`: re-checks every stored event against the signed body stored with it, to
//! find rows changed behind the service's back. For each row, the stored signature must be the
//! HMAC of the stored body under the current or previous secret, and the body must still validate
//! to the row's own id, type, timestamp, content hash, cost and duration (the columns queries and
//! statistics read). Prints a line per row that does not, then a summary.

use std::io::Write;

use bytes::Bytes;

use super::CommandError;
use crate::config::Secret;
use crate::event::parse_delivery;
use crate::signature::matches_digest;
use crate::store::{Durability, Store, StoreError, StoredRow, redact};

/// Rows read at once; memory stays at about this many bodies.
const CHUNK: u32 = 500;

/// What a run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Rows read.
    pub checked: u64,
    /// Rows whose signature and columns match their body.
    pub ok: u64,
    /// Rows with at least one problem.
    pub mismatched: u64,
    /// Rows whose columns match but that have no stored signature (stored before it was kept).
    pub unsigned: u64,
}

/// How one row fares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed, and everything matches.
    Ok,
    /// Everything that can be checked matches, but there is no signature to check.
    Unsigned,
    /// What does not match.
    Mismatched(Vec<String>),
}

/// Runs the subcommand: 0 when every row matches, 1 when one does not, 2 for configuration.
/// `secrets` are the keys a signature may match, current first.
pub async fn run(url: &str, secrets: &[Secret]) -> Result<(), CommandError> {
    let store = Store::connect(url, Durability::default()).await?;
    let result = check_all(&store, &secrets.iter().collect::<Vec<_>>()).await;
    store.close().await;
    let summary = result.map_err(|err| {
        CommandError::failed(format!("cannot read the events at {}", redact(url)), err)
    })?;
    println!(
        "checked {} events: {} ok, {} mismatched, {} without signature (stored before signatures were kept)",
        summary.checked, summary.ok, summary.mismatched, summary.unsigned
    );
    if summary.mismatched > 0 {
        return Err(CommandError::failure(format!(
            "{} of {} events do not match their signed bodies",
            summary.mismatched, summary.checked
        )));
    }
    Ok(())
}

/// Checks every row, in id order, printing one line per row that does not match.
async fn check_all(store: &Store, secrets: &[&Secret]) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let mut after = String::new();
    let mut out = std::io::stdout().lock();
    loop {
        let rows = store.rows_after(&after, CHUNK).await?;
        let Some(last) = rows.last() else {
            return Ok(summary);
        };
        after = last.id.clone();
        for row in &rows {
            summary.checked += 1;
            match check_row(row, secrets) {
                Verdict::Ok => summary.ok += 1,
                Verdict::Unsigned => summary.unsigned += 1,
                Verdict::Mismatched(problems) => {
                    summary.mismatched += 1;
                    // A closed stdout must not stop the check; the summary still decides the exit.
                    let _ = writeln!(out, "mismatch {:?}: {}", row.id, problems.join("; "));
                }
            }
        }
    }
}

/// Compares one stored row with its signed body.
pub fn check_row(row: &StoredRow, secrets: &[&Secret]) -> Verdict {
    let mut problems = Vec::new();
    if let Some(digest) = &row.signature {
        if !matches_digest(secrets, digest, &row.body) {
            problems.push("signature does not match the stored body under either secret".into());
        }
    }
    match parse_delivery(Bytes::copy_from_slice(&row.body)) {
        Ok(event) => {
            let mut differs = |column: &str, same: bool| {
                if !same {
                    problems.push(format!("{column} differs from the stored body"));
                }
            };
            differs("id", event.id == row.id);
            differs(
                "type",
                event.event_type.as_bytes() == row.event_type.as_slice(),
            );
            differs("timestamp", event.timestamp_us == row.ts_us);
            differs("content hash", event.content_hash == row.content_hash);
            differs("cost", event.cost == row.cost);
            differs("durationMs", event.duration_ms == row.duration_ms);
        }
        Err(invalid) => problems.push(format!("stored body no longer validates: {invalid}")),
    }
    match (problems.is_empty(), row.signature.is_some()) {
        (false, _) => Verdict::Mismatched(problems),
        (true, true) => Verdict::Ok,
        (true, false) => Verdict::Unsigned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::sign;

    const BODY: &str = r#"{"id":"e1","type":"agent:complete","timestamp":"2026-11-28T10:00:00Z","data":{"cost":0.5,"durationMs":10}}"#;

    fn stored(secret: &str) -> StoredRow {
        let event = parse_delivery(Bytes::from_static(BODY.as_bytes())).expect("valid");
        let header = sign(secret.as_bytes(), BODY.as_bytes());
        StoredRow {
            id: event.id,
            event_type: event.event_type.into_bytes(),
            ts_us: event.timestamp_us,
            content_hash: event.content_hash,
            cost: event.cost,
            duration_ms: event.duration_ms,
            body: BODY.as_bytes().to_vec(),
            signature: Some(hex::decode(&header["sha256=".len()..]).expect("hex")),
        }
    }

    fn problems(row: &StoredRow, secret: &str) -> Vec<String> {
        match check_row(row, &[&Secret::new(secret.into())]) {
            Verdict::Mismatched(problems) => problems,
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[test]
    fn an_untouched_row_matches_under_either_secret() {
        let row = stored("old");
        let (new, old) = (Secret::new("new".into()), Secret::new("old".into()));
        assert_eq!(check_row(&row, &[&new, &old]), Verdict::Ok);
        let unsigned = StoredRow {
            signature: None,
            ..row
        };
        assert_eq!(check_row(&unsigned, &[&new]), Verdict::Unsigned);
    }

    #[test]
    fn each_changed_column_is_named() {
        type Change = fn(&mut StoredRow);
        let cases: [(&str, Change); 6] = [
            ("type", |r| r.event_type = b"agent:error".to_vec()),
            ("timestamp", |r| r.ts_us += 1),
            ("content hash", |r| r.content_hash[0] ^= 1),
            ("cost", |r| r.cost = Some(0.0)),
            ("durationMs", |r| r.duration_ms = None),
            ("id", |r| r.id = "e2".into()),
        ];
        for (column, change) in cases {
            let mut row = stored("k");
            change(&mut row);
            let found = problems(&row, "k");
            assert_eq!(
                found,
                [format!("{column} differs from the stored body")],
                "{column}"
            );
        }
    }

    #[test]
    fn a_changed_body_or_signature_or_secret_fails_the_signature() {
        let mut body = stored("k");
        body.body = BODY.replace("0.5", "0.6").into_bytes();
        assert!(
            problems(&body, "k")
                .iter()
                .any(|p| p.starts_with("signature"))
        );
        let mut signature = stored("k");
        signature.signature = Some(vec![0; 32]);
        assert_eq!(problems(&signature, "k").len(), 1);
        assert_eq!(problems(&stored("k"), "other").len(), 1);
        let mut garbage = stored("k");
        garbage.body = b"not json".to_vec();
        assert!(
            problems(&garbage, "k")
                .iter()
                .any(|p| p.contains("no longer validates"))
        );
    }
}
