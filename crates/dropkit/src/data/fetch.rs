//! Downloads MNIST-format files from mirrors, verifying the SHA-256 of the *decompressed*
//! content (so a mirror that re-compresses is still accepted), trying the next mirror on any
//! failure, and writing each file atomically.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// A file to fetch: its stem (fetched as `stem.gz`) and the SHA-256 of its decompressed bytes.
#[derive(Clone, Copy, Debug)]
pub struct RemoteFile {
    pub name: &'static str,
    pub sha256: &'static str,
}

/// MNIST's four files and their decompressed checksums.
pub const MNIST_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// The canonical MNIST mirrors, tried in order.
pub const MNIST_MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// Largest download accepted per file.
const MAX_DOWNLOAD: u64 = 256 << 20;

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchEvent {
    /// Already present with the right checksum.
    Present { name: String },
    /// Downloaded and verified from `mirror`.
    Downloaded { name: String, mirror: String, bytes: usize },
    /// A mirror failed for this file; the next one is tried.
    MirrorFailed { name: String, mirror: String, reason: String },
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The decompressed bytes of `data` (which may be gzip or raw).
fn decompressed(data: &[u8]) -> std::io::Result<Vec<u8>> {
    if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(data).take(MAX_DOWNLOAD * 8).read_to_end(&mut out)?;
        Ok(out)
    } else {
        Ok(data.to_vec())
    }
}

/// Whether `dir` already holds `file` (raw or .gz) with the right content.
fn present(dir: &Path, file: &RemoteFile) -> bool {
    [dir.join(file.name), dir.join(format!("{}.gz", file.name))].iter().any(|p| {
        std::fs::read(p).ok().and_then(|b| decompressed(&b).ok()).is_some_and(|d| sha256_hex(&d) == file.sha256)
    })
}

fn download(url: &str) -> std::result::Result<Vec<u8>, String> {
    let agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .new_agent();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    response.body_mut().with_config().limit(MAX_DOWNLOAD).read_to_vec().map_err(|e| e.to_string())
}

/// Fetches `files` into `dir` from the first mirror that serves each with the right
/// checksum. Files already present and valid are kept. `mirrors` are URL prefixes.
pub fn fetch(dir: &Path, files: &[RemoteFile], mirrors: &[String], on_event: &mut dyn FnMut(FetchEvent)) -> Result<()> {
    if mirrors.is_empty() {
        return Err(Error::InvalidArgument("no mirrors given".into()));
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let result = fetch_into(dir, files, mirrors, on_event);
    // A folder this call made and left empty (every mirror failed) would look like data.
    if result.is_err() && created && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(dir);
    }
    result
}

fn fetch_into(
    dir: &Path,
    files: &[RemoteFile],
    mirrors: &[String],
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<()> {
    for file in files {
        if present(dir, file) {
            on_event(FetchEvent::Present { name: file.name.into() });
            continue;
        }
        let mut failures = Vec::new();
        let mut done = false;
        for mirror in mirrors {
            let url = format!("{}/{}.gz", mirror.trim_end_matches('/'), file.name);
            let outcome = download(&url).and_then(|body| {
                let raw = decompressed(&body).map_err(|e| format!("not valid gzip: {e}"))?;
                let got = sha256_hex(&raw);
                if got != file.sha256 {
                    return Err(format!("checksum mismatch: SHA-256 {got}, expected {}", file.sha256));
                }
                Ok(body)
            });
            match outcome {
                Ok(body) => {
                    write_atomic(&dir.join(format!("{}.gz", file.name)), &body)?;
                    on_event(FetchEvent::Downloaded {
                        name: file.name.into(),
                        mirror: mirror.clone(),
                        bytes: body.len(),
                    });
                    done = true;
                    break;
                }
                Err(reason) => {
                    on_event(FetchEvent::MirrorFailed {
                        name: file.name.into(),
                        mirror: mirror.clone(),
                        reason: reason.clone(),
                    });
                    failures.push(format!("{url}: {reason}"));
                }
            }
        }
        if !done {
            return Err(Error::Download(format!("{}: every mirror failed ({})", file.name, failures.join("; "))));
        }
    }
    Ok(())
}
