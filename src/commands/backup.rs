//! `dash-events backup`: a consistent copy of a SQLite log, taken while `serve` keeps taking
//! deliveries, with `VACUUM INTO` on a read-only connection (see `store::ReadOnlyLog`). The copy
//! is written as `FILE.partial`, synced, and renamed to `FILE` only once complete, so a failed
//! backup never leaves a file that looks whole. PostgreSQL has tools of its own for this
//! (`pg_dump`, base backups with WAL archiving), which are not reimplemented here.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::CommandError;
use crate::store::{BackupSource, ReadOnlyLog, StoreError, redact};

/// How often the progress bar looks at the size of the copy.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Copies the SQLite log at `database_url` to `to`; an existing `to` is replaced only when
/// `force` is set. Prints a summary line on success.
pub async fn run(database_url: &str, to: &Path, force: bool) -> Result<(), CommandError> {
    let started = Instant::now();
    let source = source_file(database_url)?;
    let target = Target::check(to, &source, force)?;
    let mut log = open_source(&source).await?;
    let partial = target.create_partial()?;
    let copied = copy(&mut log, &source, &partial).await;
    log.close().await;
    let (events, bytes) = match copied {
        Ok(copied) => copied,
        Err(err) => return Err(partial.discard(err)),
    };
    target.publish(partial).await?;
    println!(
        "backed up {events} events ({bytes} bytes) to {} in {:.2} s",
        to.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The SQLite file `database_url` names, which must exist: a backup creates nothing there.
fn source_file(database_url: &str) -> Result<PathBuf, CommandError> {
    let url = redact(database_url);
    match BackupSource::parse(database_url)? {
        BackupSource::Postgres => Err(CommandError::config(format!(
            "DATABASE_URL={url} is PostgreSQL: back it up with pg_dump, or with base backups and \
             WAL archiving (see docs/operations.md); dash-events backup copies SQLite logs"
        ))),
        BackupSource::SqliteMemory => Err(CommandError::config(format!(
            "DATABASE_URL={url} is an in-memory database: there is no log to back up"
        ))),
        BackupSource::SqliteFile(path) if path.is_file() => Ok(path),
        BackupSource::SqliteFile(path) => Err(CommandError::config(format!(
            "no SQLite database at {} (DATABASE_URL={url})",
            path.display()
        ))),
    }
}

/// Opens the source read-only and checks that it is a `dash-events` log.
async fn open_source(source: &Path) -> Result<ReadOnlyLog, CommandError> {
    let cannot_read = |err| CommandError::failed(format!("cannot read {}", source.display()), err);
    let mut log = ReadOnlyLog::open(source).await.map_err(cannot_read)?;
    if !log.holds_events().await.map_err(cannot_read)? {
        log.close().await;
        return Err(CommandError::config(format!(
            "{} has no events table: not a dash-events log",
            source.display()
        )));
    }
    Ok(log)
}

/// Writes the snapshot into `partial`, then answers the events it holds and its size once synced.
async fn copy(
    log: &mut ReadOnlyLog,
    source: &Path,
    partial: &Partial,
) -> Result<(u64, u64), CommandError> {
    let cannot_copy = |err: StoreError| {
        let what = format!("cannot copy {} to {}", source.display(), partial.path);
        CommandError::failed(what, err)
    };
    let total = log.size_bytes().await.map_err(cannot_copy)?;
    let bar = progress_bar(total);
    let vacuum = log.vacuum_into(&partial.path);
    let vacuumed = if bar.is_hidden() {
        vacuum.await
    } else {
        tokio::select! {
            vacuumed = vacuum => vacuumed,
            never = show_progress(&bar, Path::new(&partial.path)) => match never {},
        }
    };
    bar.finish_and_clear();
    vacuumed.map_err(cannot_copy)?;
    let events = count_events(partial).await?;
    let bytes = partial.sync().await?;
    Ok((events, bytes))
}

/// The events the copy holds, read from the copy itself.
async fn count_events(partial: &Partial) -> Result<u64, CommandError> {
    let cannot_read = |err| CommandError::failed(format!("cannot read {}", partial.path), err);
    let mut copy = ReadOnlyLog::open_unshared(Path::new(&partial.path))
        .await
        .map_err(cannot_read)?;
    let events = copy.count_events().await.map_err(cannot_read);
    copy.close().await;
    events
}

/// A bar on stderr, as long as the source's pages when the backup started: `VACUUM INTO` says
/// nothing while it runs, so the bar follows the size of the copy, which ends about that long
/// (shorter by the free pages it leaves out, longer by what was committed meanwhile). indicatif
/// hides it when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:40} {bytes} of about {total_bytes} copied")
        .expect("the template is valid");
    bar.set_style(style);
    bar
}

/// Moves the bar to the size of the file at `path`, until dropped.
async fn show_progress(bar: &ProgressBar, path: &Path) -> std::convert::Infallible {
    let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
    loop {
        ticks.tick().await;
        if let Ok(metadata) = tokio::fs::metadata(path).await {
            bar.set_position(metadata.len());
        }
    }
}

/// Where the backup goes, checked before anything is written.
struct Target {
    /// `--to`, made absolute.
    path: PathBuf,
}

impl Target {
    /// Refuses a `to` that cannot be a backup file of `source`, or that exists without `force`.
    fn check(to: &Path, source: &Path, force: bool) -> Result<Self, CommandError> {
        if to.as_os_str().is_empty() {
            return Err(CommandError::config("--to needs a file name"));
        }
        let path = std::path::absolute(to).map_err(|err| {
            CommandError::config(format!("--to {} is not a usable path: {err}", to.display()))
        })?;
        if path.is_dir() {
            return Err(CommandError::config(format!(
                "--to {} is a directory: name the backup file",
                to.display()
            )));
        }
        if path.exists() && same_file(&path, source) {
            return Err(CommandError::config(format!(
                "--to {} is the database being backed up",
                to.display()
            )));
        }
        if path.exists() && !force {
            return Err(CommandError::config(format!(
                "{} already exists: pass --force to replace it",
                to.display()
            )));
        }
        Ok(Self { path })
    }

    /// Creates `FILE.partial`, empty; one left by another backup is not touched.
    fn create_partial(&self) -> Result<Partial, CommandError> {
        let mut name = self.path.clone().into_os_string();
        name.push(".partial");
        let path = name.into_string().map_err(|name| {
            CommandError::config(format!(
                "--to {} is not valid UTF-8",
                name.to_string_lossy()
            ))
        })?;
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match created {
            Ok(_) => Ok(Partial { path }),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                Err(CommandError::config(format!(
                    "{path} already exists: another backup to the same file is running, or one \
                     was killed; remove it if none is running"
                )))
            }
            Err(err) => Err(CommandError::failed(format!("cannot create {path}"), err)),
        }
    }

    /// Renames the synced copy into place and syncs the directory, so the name survives a crash.
    async fn publish(&self, partial: Partial) -> Result<(), CommandError> {
        if let Err(err) = tokio::fs::rename(&partial.path, &self.path).await {
            let what = format!("cannot rename {} to {}", partial.path, self.path.display());
            return Err(partial.discard(CommandError::failed(what, err)));
        }
        let directory = self.path.parent().unwrap_or(Path::new("/"));
        let synced = async { tokio::fs::File::open(directory).await?.sync_all().await };
        synced.await.map_err(|err| {
            let what = format!("cannot sync the directory {}", directory.display());
            CommandError::failed(what, err)
        })
    }
}

/// `FILE.partial`, while the copy is written.
struct Partial {
    /// Absolute, and UTF-8 since SQLite takes it as text.
    path: String,
}

impl Partial {
    /// Syncs the copy to disk (SQLite does not) and answers its size.
    async fn sync(&self) -> Result<u64, CommandError> {
        let synced = async {
            let file = tokio::fs::File::open(&self.path).await?;
            file.sync_all().await?;
            Ok::<_, std::io::Error>(file.metadata().await?.len())
        };
        synced
            .await
            .map_err(|err| CommandError::failed(format!("cannot sync {}", self.path), err))
    }

    /// Removes the incomplete copy and answers `err`, why the backup failed.
    fn discard(self, err: CommandError) -> CommandError {
        let _ = std::fs::remove_file(&self.path);
        err
    }
}

/// Whether `a` and `b` name one file (through links or different spellings).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
