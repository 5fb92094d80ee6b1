//! Reloading the pair when its files change. The files are looked at every `reload_interval`
//! rather than watched through inotify: renewers replace them by renaming a new file over the old
//! one (certbot, cert-manager's symlink swap, a `mv` by hand), which a look at each file's inode,
//! size and modification time always sees, on any file system, with no dependency.

use std::fs::Metadata;
use std::time::SystemTime;

use tokio::time::MissedTickBehavior;

use super::{Tls, files};
use crate::config::TlsFiles;
use crate::metrics::Metrics;

/// What identifies the two files' contents without reading them; `None` for a file that could not
/// be looked at (e.g. missing for a moment during a replacement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    cert: Option<FileStamp>,
    key: Option<FileStamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    /// The files as they are now. Metadata follows symbolic links, so a swapped link target counts.
    pub fn of(files: &TlsFiles) -> Self {
        let look = |path| {
            std::fs::metadata(path)
                .ok()
                .map(|meta| FileStamp::of(&meta))
        };
        Self {
            cert: look(&files.cert),
            key: look(&files.key),
        }
    }
}

impl FileStamp {
    #[cfg(unix)]
    fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &Metadata) -> Self {
        Self {
            device: 0,
            inode: 0,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// Looks at the files every interval; on a change, loads the pair and puts it in service, or
/// keeps the one in service and warns. A failed pair is not tried again until the files change
/// again (the renewer finishing its work), so a broken renewal warns once, not every interval.
pub(super) async fn watch(tls: Tls, metrics: Metrics) {
    let Tls {
        files,
        provider,
        current,
        loaded_from: mut seen,
    } = tls;
    let mut ticks = tokio::time::interval(files.reload_interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let (looked, provider_for_look) = (files.clone(), provider.clone());
        let previous = seen.clone();
        // File system calls block; they run beside the runtime's workers.
        let look = tokio::task::spawn_blocking(move || {
            let now = Stamp::of(&looked);
            (now != previous).then(|| {
                let loaded = files::load(&looked, &provider_for_look);
                (now, loaded)
            })
        });
        let Ok(Some((now, loaded))) = look.await else {
            continue;
        };
        seen = now;
        match loaded {
            Ok(certified) => {
                current.replace(certified);
                metrics.tls_reload("reloaded");
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(err) => {
                metrics.tls_reload("failed");
                tracing::warn!(error = %err, "TLS certificate not reloaded; still serving the previous one");
            }
        }
    }
}
