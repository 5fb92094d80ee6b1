//! `dash-events copy --from URL --to URL`: every event of one database, with its signed body,
//! signature, times and notifications, into another (SQLite and PostgreSQL either way). The
//! source is opened read-only and read in id order a page at a time (flat memory); each page is
//! one transaction on the target through the store's batch insert, which skips ids already there
//! and keeps the daily and hourly totals, so a rerun after a failure or a `kill -9` resumes
//! without duplicating or losing anything, and a rerun after the source received more copies
//! the rest. An id the target holds with other content is a conflict: named on stderr, left as
//! it is, and the exit code is 1.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use super::CommandError;
use super::export::progress_bar;
use crate::event::NewEvent;
use crate::query::TimeRange;
use crate::store::{
    CopiedEvent, CopiedNotification, InsertOutcome, Schema, SearchIndex, Store, StoreError,
    identity, redact,
};

/// The options naming each end, for messages.
const FROM: &str = "--from";
const TO: &str = "--to";

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    /// Events inserted into the target.
    copied: u64,
    /// Events the target already held with the same content.
    present: u64,
    /// Events the target holds with other content.
    conflicts: u64,
    /// Notification rows inserted into the target or brought up to date there.
    notifications: u64,
}

/// One page read from the source.
struct Page {
    events: Vec<CopiedEvent>,
    notifications: Vec<CopiedNotification>,
}

/// Runs the subcommand: copies in transactions of `batch` events (with their words in the
/// target's text index when `search` is on), prints a summary line; exit 1 when an id
/// conflicts, 2 for input to fix.
pub async fn run(
    from: &str,
    to: &str,
    batch: u32,
    search: SearchIndex,
) -> Result<(), CommandError> {
    let source = Store::open_read_only(from)
        .await
        .map_err(opening(FROM, from))?;
    let prepared = prepare(&source, from, to).await;
    let target = match prepared {
        Ok(target) => target,
        Err(err) => {
            source.close().await;
            return Err(err);
        }
    };
    let started = Instant::now();
    let copied = copy_all(&source, &target, batch, search).await;
    source.close().await;
    target.close().await;
    let totals = copied?;
    println!("{}", summary(&totals, started.elapsed()));
    if totals.conflicts > 0 {
        return Err(CommandError::failure(format!(
            "{} events are stored on the target with other content (listed above); left as they are",
            totals.conflicts
        )));
    }
    Ok(())
}

/// Refuses a copy onto the source itself or from a source this binary cannot read as its own,
/// then opens the target and migrates it unless a newer release already has.
async fn prepare(source: &Store, from: &str, to: &str) -> Result<Store, CommandError> {
    let source_id = identity(from).await.map_err(opening(FROM, from))?;
    let target_id = identity(to).await.map_err(opening(TO, to))?;
    if source_id.is_some() && source_id == target_id {
        return Err(CommandError::config(format!(
            "--from={} and --to={} are the same database",
            redact(from),
            redact(to)
        )));
    }
    let schema = source
        .schema()
        .await
        .map_err(failed("cannot read the source's migrations"))?;
    if schema != Schema::Current {
        return Err(CommandError::config(schema_problem(FROM, from, schema)));
    }
    let target = Store::open_unmigrated(to).await.map_err(opening(TO, to))?;
    let migrated = migrate_target(&target, to).await;
    if migrated.is_err() {
        target.close().await;
    }
    migrated.map(|()| target)
}

async fn migrate_target(target: &Store, to: &str) -> Result<(), CommandError> {
    match target
        .schema()
        .await
        .map_err(failed("cannot read the target's migrations"))?
    {
        schema @ (Schema::Newer(_) | Schema::Altered(_)) => {
            Err(CommandError::config(schema_problem(TO, to, schema)))
        }
        Schema::Current | Schema::Empty | Schema::Older(_) => {
            target.migrate().await.map_err(|err| {
                CommandError::failed(format!("cannot migrate {TO}={}", redact(to)), err)
            })
        }
    }
}

/// What is wrong with the schema of the database at `option`.
fn schema_problem(option: &str, url: &str, schema: Schema) -> String {
    let at = format!("{option}={}", redact(url));
    match schema {
        Schema::Newer(version) => format!(
            "{at} has migration {version}, newer than this dash-events knows: copy with the release that applied it"
        ),
        Schema::Altered(version) => {
            format!("{at} has a migration {version} that differs from this dash-events' own")
        }
        Schema::Older(version) => format!(
            "{at} lacks migration {version}: run `dash-events migrate` on it with this release first (copy never writes to its source)"
        ),
        Schema::Empty => format!("{at} holds no dash-events database (no migrations applied)"),
        Schema::Current => format!("{at} is up to date"),
    }
}

/// Copies every page, reading the next one from the source while the target writes the last.
async fn copy_all(
    source: &Store,
    target: &Store,
    batch: u32,
    search: SearchIndex,
) -> Result<Totals, CommandError> {
    let bar = progress_bar(count(source).await?);
    let mut totals = Totals::default();
    let mut known_types = HashSet::new();
    let mut page = read_page(source, "", batch).await?;
    while let Some(last) = page.events.last() {
        let after = last.id.clone();
        let (next, written) = tokio::join!(
            read_page(source, &after, batch),
            write_page(target, page, &mut known_types, &bar, search)
        );
        let written = written?;
        totals.copied += written.copied;
        totals.present += written.present;
        totals.conflicts += written.conflicts;
        totals.notifications += written.notifications;
        page = next?;
    }
    bar.finish_and_clear();
    Ok(totals)
}

async fn read_page(source: &Store, after: &str, batch: u32) -> Result<Page, CommandError> {
    let events = source
        .events_after(after, batch)
        .await
        .map_err(failed("cannot read the source"))?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let notifications = source
        .notifications_of(&ids)
        .await
        .map_err(failed("cannot read the source"))?;
    Ok(Page {
        events,
        notifications,
    })
}

/// Writes one page in one transaction, naming each conflicting id on stderr.
async fn write_page(
    target: &Store,
    page: Page,
    known_types: &mut HashSet<Vec<u8>>,
    bar: &ProgressBar,
    search: SearchIndex,
) -> Result<Totals, CommandError> {
    let events = page
        .events
        .into_iter()
        .map(|row| {
            let id = row.id.clone();
            row.into_new_event().map_err(|problem| {
                CommandError::failure(format!(
                    "event {id:?} on the source has {problem}: check it with `dash-events verify`"
                ))
            })
        })
        .collect::<Result<Vec<(NewEvent, i64)>, _>>()?;
    let rows: Vec<(&NewEvent, i64)> = events.iter().map(|(e, at)| (e, *at)).collect();
    let (outcomes, notifications) = target
        .copy_batch(&rows, known_types, &page.notifications, search)
        .await
        .map_err(failed("cannot write to the target"))?;
    let mut totals = Totals {
        notifications,
        ..Totals::default()
    };
    for ((event, _), outcome) in events.iter().zip(outcomes) {
        match outcome {
            InsertOutcome::Stored => totals.copied += 1,
            InsertOutcome::Duplicate => totals.present += 1,
            InsertOutcome::Conflict => {
                totals.conflicts += 1;
                bar.suspend(|| {
                    eprintln!(
                        "conflict: {:?} is stored on the target with other content; left as it is",
                        event.id
                    )
                });
            }
        }
    }
    known_types.extend(events.iter().map(|(e, _)| e.event_type.as_bytes().to_vec()));
    bar.inc(events.len() as u64);
    Ok(totals)
}

/// How many events the source holds, from its daily totals: the length of the progress bar.
async fn count(source: &Store) -> Result<u64, CommandError> {
    let stats = source
        .stats(TimeRange::ALL)
        .await
        .map_err(failed("cannot read the source"))?;
    Ok(u64::try_from(stats.total_events).unwrap_or_default())
}

/// The line printed at the end.
fn summary(totals: &Totals, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let events = totals.copied + totals.present + totals.conflicts;
    format!(
        "copied {} events, {} already present, {} conflicts, {} notifications written in {seconds:.2} s ({:.0} events/s)",
        totals.copied,
        totals.present,
        totals.conflicts,
        totals.notifications,
        events as f64 / seconds.max(1e-3)
    )
}

/// Maps a failure to open the database at `option` to a message naming the option.
fn opening<'a>(option: &'a str, url: &'a str) -> impl FnOnce(StoreError) -> CommandError + 'a {
    move |err| match err {
        // The store's messages name DATABASE_URL, the variable of every other subcommand.
        StoreError::InvalidUrl(message) => {
            CommandError::config(message.replacen("DATABASE_URL", option, 1))
        }
        StoreError::Open { source, .. } => {
            CommandError::failed(format!("cannot open {option}={}", redact(url)), source)
        }
        other => CommandError::failed(format!("cannot open {option}={}", redact(url)), other),
    }
}

/// Maps a failure of the store to a failure of the command with `what` in front.
fn failed(what: &'static str) -> impl FnOnce(StoreError) -> CommandError {
    move |err| CommandError::failed(what, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_each_outcome_and_the_rate() {
        let totals = Totals {
            copied: 150,
            present: 40,
            conflicts: 10,
            notifications: 3,
        };
        assert_eq!(
            summary(&totals, Duration::from_secs(2)),
            "copied 150 events, 40 already present, 10 conflicts, 3 notifications written in 2.00 s (100 events/s)"
        );
    }

    #[test]
    fn a_bad_url_is_a_configuration_error_naming_the_option() {
        let err = opening(TO, "mysql://x")(StoreError::InvalidUrl(
            "DATABASE_URL=mysql://x must start with sqlite: or postgres://".into(),
        ));
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.report().starts_with("--to=mysql://x must start"),
            "{}",
            err.report()
        );
    }
}
