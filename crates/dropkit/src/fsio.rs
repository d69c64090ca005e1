//! Atomic file writes: a temporary file in the same directory, fsync, rename over the target,
//! fsync of the directory. A reader sees the old file or the new one, never half of one.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(temp_name(&name, ""));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename is durable once the directory entry is.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// A temporary file name for `name` that no other process or thread uses at the same time
/// (pid and a per-process counter), ending in `extension` (e.g. ".png", for writers that go by
/// the extension).
pub fn temp_name(name: &str, extension: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{name}.tmp-{}-{n}{extension}", std::process::id())
}

/// Reads a whole file, naming it in the error.
/// Appends `line` and a newline to `path`, synced before returning (a file that grows as work
/// finishes, and can be followed).
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
    f.write_all(format!("{line}\n").as_bytes()).and_then(|_| f.sync_data()).map_err(|e| Error::io(path, e))
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

/// An advisory lock on a run directory or results file: the file `path` holds the holder's pid
/// and host, and is removed when the lock is dropped.
#[derive(Debug)]
pub struct Lock {
    path: std::path::PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// This machine's name, for lock files and event file names.
pub(crate) fn host() -> String {
    fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Takes the lock file `path` for `what` (e.g. "the run in runs/x"). When another live process
/// holds it, the error names that process; a lock left by a process of this host that is gone
/// is taken over, and the returned note says so.
pub fn lock(path: &Path, what: &str) -> Result<(Lock, Option<String>)> {
    let me = format!("{} {}\n", std::process::id(), host());
    let mut note = None;
    for _ in 0..2 {
        match fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut f) => {
                f.write_all(me.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| Error::io(path, e))?;
                return Ok((Lock { path: path.to_path_buf() }, note));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let held = fs::read_to_string(path).unwrap_or_default();
                let mut parts = held.split_whitespace();
                let (pid, holder_host) =
                    (parts.next().unwrap_or("?").to_string(), parts.next().unwrap_or("?").to_string());
                let alive = holder_host != host() || Path::new(&format!("/proc/{pid}")).exists();
                if alive {
                    return Err(Error::InvalidArgument(format!(
                        "{what} is in use by process {pid} on {holder_host} (lock {}); wait for it to finish, or remove the lock if that process is gone",
                        path.display()
                    )));
                }
                note = Some(format!(
                    "note: took over the lock of {what} left by process {pid}, which is no longer running"
                ));
                fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            }
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Err(Error::InvalidArgument(format!("{what}: could not take the lock {}", path.display())))
}
