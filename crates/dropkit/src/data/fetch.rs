//! Downloads data sets from mirrors, trying the next mirror on any failure and writing each
//! file atomically. A file is verified by the SHA-256 of its *decompressed* content (MNIST: a
//! mirror that re-compresses is still accepted) or by the MD5 its authors publish for the
//! download (Fashion-MNIST, CIFAR-10). An archive (CIFAR-10's tar.gz) is unpacked after
//! verification, each member written atomically.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// How a downloaded file is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-256 of the content after gzip decompression (of the bytes themselves if not gzip).
    ContentSha256(&'static str),
    /// MD5 of the downloaded bytes, as the data set's authors publish it.
    Md5(&'static str),
}

/// A file to fetch: its name on the mirror (and in the data directory) and its checksum.
#[derive(Clone, Copy, Debug)]
pub struct RemoteFile {
    pub name: &'static str,
    pub checksum: Checksum,
}

/// A data set that `dropkit data fetch` downloads.
#[derive(Clone, Copy, Debug)]
pub struct RemoteSet {
    /// The folder under the data directory, and the name users type.
    pub name: &'static str,
    pub files: &'static [RemoteFile],
    /// URL prefixes, tried in order.
    pub mirrors: &'static [&'static str],
    /// The download is a tar.gz archive whose files are unpacked into the folder.
    pub archive: bool,
    /// Credit to give when using it.
    pub credit: &'static str,
}

const fn sha(name: &'static str, sum: &'static str) -> RemoteFile {
    RemoteFile { name, checksum: Checksum::ContentSha256(sum) }
}

const fn md5(name: &'static str, sum: &'static str) -> RemoteFile {
    RemoteFile { name, checksum: Checksum::Md5(sum) }
}

/// MNIST's four files and their decompressed checksums.
pub const MNIST_FILES: [RemoteFile; 4] = [
    sha("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    sha("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    sha("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    sha("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// The canonical MNIST mirrors, tried in order.
pub const MNIST_MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, MIT license): the MD5s of its README.
pub const FASHION_MNIST_FILES: [RemoteFile; 4] = [
    md5("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    md5("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    md5("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    md5("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
];

/// CIFAR-10's binary version (Krizhevsky 2009): the MD5 of its page.
pub const CIFAR10_FILES: [RemoteFile; 1] = [md5("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")];

/// Every data set `dropkit data fetch` knows.
pub const REMOTE_SETS: [RemoteSet; 3] = [
    RemoteSet {
        name: "mnist",
        files: &MNIST_FILES,
        mirrors: &MNIST_MIRRORS,
        archive: false,
        credit: "MNIST by LeCun, Cortes and Burges, CC BY-SA 3.0",
    },
    RemoteSet {
        name: "fashion-mnist",
        files: &FASHION_MNIST_FILES,
        mirrors: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        archive: false,
        credit: "Fashion-MNIST by Xiao, Rasul and Vollgraf (Zalando Research), MIT license",
    },
    RemoteSet {
        name: "cifar-10",
        files: &CIFAR10_FILES,
        mirrors: &["https://www.cs.toronto.edu/~kriz/"],
        archive: true,
        credit: "CIFAR-10 by Krizhevsky, Nair and Hinton (Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images)",
    },
];

/// The data set `name` fetches.
pub fn remote_set(name: &str) -> Result<&'static RemoteSet> {
    REMOTE_SETS.iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = REMOTE_SETS.iter().map(|s| s.name).collect();
        Error::InvalidArgument(format!("unknown data set '{name}'; available: {}", known.join(", ")))
    })
}

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

/// Hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `body`, as downloaded, is `file`; the reason when it is not.
fn verify(file: &RemoteFile, body: &[u8]) -> std::result::Result<(), String> {
    match file.checksum {
        Checksum::ContentSha256(want) => {
            let raw = decompressed(body).map_err(|e| format!("not valid gzip: {e}"))?;
            let got = sha256_hex(&raw);
            (got == want).then_some(()).ok_or(format!("checksum mismatch: SHA-256 {got}, expected {want}"))
        }
        Checksum::Md5(want) => {
            let got = md5_hex(body);
            (got == want).then_some(()).ok_or(format!("checksum mismatch: MD5 {got}, expected {want}"))
        }
    }
}

/// Whether `dir` already holds `file` with the right content (MNIST: raw or gzip).
fn present(dir: &Path, file: &RemoteFile) -> bool {
    let stem = file.name.strip_suffix(".gz").unwrap_or(file.name);
    [dir.join(file.name), dir.join(stem)].iter().any(|p| std::fs::read(p).is_ok_and(|b| verify(file, &b).is_ok()))
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

/// Fetches `set` into `dir` (its folder under the data directory) from `mirrors` (URL
/// prefixes; empty: the set's own). An archive is unpacked, and not kept.
pub fn fetch_set(dir: &Path, set: &RemoteSet, mirrors: &[String], on_event: &mut dyn FnMut(FetchEvent)) -> Result<()> {
    let own: Vec<String> = set.mirrors.iter().map(|m| m.to_string()).collect();
    let mirrors = if mirrors.is_empty() { own.as_slice() } else { mirrors };
    if !set.archive {
        return fetch(dir, set.files, mirrors, on_event);
    }
    if super::cifar::has_files(dir) {
        set.files.iter().for_each(|f| on_event(FetchEvent::Present { name: f.name.into() }));
        return Ok(());
    }
    into_folder(dir, || {
        set.files.iter().try_for_each(|f| {
            let body = download_verified(f, mirrors, on_event)?;
            unpack(dir, &body, f.name)
        })
    })
}

/// Writes the `.bin` and `.txt` members of a tar.gz archive into `dir`, by file name only (no
/// path of the archive can reach outside `dir`).
fn unpack(dir: &Path, archive: &[u8], origin: &str) -> Result<()> {
    let fail = |e: std::io::Error| Error::format(origin, format!("damaged archive ({e}); fetch it again"));
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut written = 0;
    for entry in tar.entries().map_err(fail)? {
        let mut entry = entry.map_err(fail)?;
        let path = entry.path().map_err(fail)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if !entry.header().entry_type().is_file() || !(name.ends_with(".bin") || name.ends_with(".txt")) {
            continue;
        }
        let mut bytes = Vec::new();
        (&mut entry).take(MAX_DOWNLOAD * 4).read_to_end(&mut bytes).map_err(fail)?;
        write_atomic(&dir.join(&name), &bytes)?;
        written += 1;
    }
    if written == 0 {
        return Err(Error::format(origin, "the archive holds no data files"));
    }
    Ok(())
}

/// Fetches `files` into `dir` from the first mirror that serves each with the right
/// checksum. Files already present and valid are kept. `mirrors` are URL prefixes.
pub fn fetch(dir: &Path, files: &[RemoteFile], mirrors: &[String], on_event: &mut dyn FnMut(FetchEvent)) -> Result<()> {
    if mirrors.is_empty() {
        return Err(Error::InvalidArgument("no mirrors given".into()));
    }
    into_folder(dir, || fetch_into(dir, files, mirrors, on_event))
}

/// Runs `fill` on `dir`, created if need be. A folder this call made and `fill` left empty
/// (every mirror failed) is removed: it would look like data.
fn into_folder(dir: &Path, fill: impl FnOnce() -> Result<()>) -> Result<()> {
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let result = fill();
    if result.is_err() && created && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(dir);
    }
    result
}

/// The bytes of `file` from the first mirror that serves them with the right checksum.
fn download_verified(file: &RemoteFile, mirrors: &[String], on_event: &mut dyn FnMut(FetchEvent)) -> Result<Vec<u8>> {
    let mut failures = Vec::new();
    for mirror in mirrors {
        let url = format!("{}/{}", mirror.trim_end_matches('/'), file.name);
        match download(&url).and_then(|body| verify(file, &body).map(|_| body)) {
            Ok(body) => {
                on_event(FetchEvent::Downloaded { name: file.name.into(), mirror: mirror.clone(), bytes: body.len() });
                return Ok(body);
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
    Err(Error::Download(format!("{}: every mirror failed ({})", file.name, failures.join("; "))))
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
        let body = download_verified(file, mirrors, on_event)?;
        write_atomic(&dir.join(file.name), &body)?;
    }
    Ok(())
}
