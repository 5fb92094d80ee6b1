//! A small tmpfs of a test's own, for what only a real filesystem shows: a disk that fills up
//! half-way through a write, or one that refuses every write (read-only, which binds root too).
//! Mounting needs root: without it the test skips with a notice, or fails when
//! `DASH_EVENTS_REQUIRE_FAULTS=1`. The mount is undone when the value is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::faults::unavailable;

/// A mounted tmpfs.
pub struct SmallDisk {
    pub path: PathBuf,
}

impl SmallDisk {
    /// Mounts a writable tmpfs of `kibibytes` at `path` (created if missing).
    pub fn mount(path: &Path, kibibytes: u32) -> Option<SmallDisk> {
        Self::mount_with(path, &format!("size={kibibytes}k"))
    }

    /// Fills the disk with one file, returned so it can be removed.
    pub fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let _ = Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", filler.display()))
            .args(["bs=1M", "count=64"])
            .output();
        filler
    }

    /// Mounts an empty tmpfs at `path` that refuses every write.
    pub fn mount_read_only(path: &Path) -> Option<SmallDisk> {
        Self::mount_with(path, "ro,size=64k")
    }

    fn mount_with(path: &Path, options: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).expect("create the mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .status();
        if !mounted.is_ok_and(|s| s.success()) {
            unavailable("cannot mount a small tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk {
            path: path.to_owned(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
