//! Data: the embedded subset, validation splits, IDX failures, and fetching from a local
//! HTTP server with a bad mirror first.

use dropkit::data::fetch::{fetch, sha256_hex, FetchEvent, RemoteFile};
use dropkit::data::idx::encode_idx;
use dropkit::data::{load_mnist, resolve_source, DataSource};
use std::io::{Read, Write};
use std::net::TcpListener;

mod common;

fn temp_dir(name: &str) -> common::Scratch {
    let d = common::scratch(name);
    std::fs::create_dir_all(&*d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn embedded_subset_has_the_documented_sizes_and_splits_like_keras() {
    let m = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    assert_eq!((m.train.len(), m.test.len()), (10_000, 2_000));
    assert_eq!(m.train.sample_shape, vec![1, 28, 28]);
    assert_eq!(m.train.classes(), 10);
    assert!(m.train.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let (fit, val) = m.train.split_last(0.2).unwrap();
    assert_eq!((fit.len(), val.len()), (8_000, 2_000));
    assert_eq!(val.labels()[..], m.train.labels()[8_000..]);
    assert!(m.train.split_last(1.0).is_err());
}

#[test]
fn any_image_size_loads_and_bad_files_are_named() {
    let root = temp_dir("idx");
    let dir = root.join("tiny");
    std::fs::create_dir_all(&dir).unwrap();
    let images = encode_idx(&[3, 5, 7], &[128u8; 105]);
    let labels = encode_idx(&[3], &[0, 1, 2]);
    std::fs::write(dir.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let m = load_mnist(&DataSource::Dir(root.to_path_buf()), "tiny").unwrap();
    assert_eq!(m.train.sample_shape, vec![1, 5, 7]);

    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images[..50]).unwrap();
    let e = load_mnist(&DataSource::Dir(root.to_path_buf()), "tiny").unwrap_err().to_string();
    assert!(e.contains("t10k-images-idx3-ubyte") && e.contains("truncated"), "{e}");

    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &labels).unwrap();
    let e = load_mnist(&DataSource::Dir(root.to_path_buf()), "tiny").unwrap_err().to_string();
    assert!(e.contains("magic 0x00000801 is not an IDX3 image file (expected 0x00000803)"), "{e}");

    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), encode_idx(&[2], &[0, 1])).unwrap();
    let e = load_mnist(&DataSource::Dir(root.to_path_buf()), "tiny").unwrap_err().to_string();
    assert!(e.contains("3 images but 2 labels"), "{e}");

    let e = resolve_source(Some(&root.join("nope")), "mnist").unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
}

/// Serves `GET /good/NAME` from `files`, `GET /bad/...` as garbage, anything else as 404.
fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = if path.starts_with("/bad/") {
                ("200 OK", gzip(b"not the file you want"))
            } else if let Some((_, b)) = files.iter().find(|(n, _)| path == format!("/good/{n}")) {
                ("200 OK", b.clone())
            } else {
                ("404 Not Found", b"missing".to_vec())
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn fetch_verifies_decompressed_checksums_and_falls_back_to_the_next_mirror() {
    let raw = encode_idx(&[4], &[1, 2, 3, 4]);
    let sha: &'static str = Box::leak(sha256_hex(&raw).into_boxed_str());
    let files = [RemoteFile { name: "lbl-idx1-ubyte", sha256: sha }];
    let base = serve(vec![("lbl-idx1-ubyte.gz".into(), gzip(&raw))]);
    let dir = temp_dir("fetch");
    let mirrors = vec![format!("{base}/bad/"), format!("{base}/missing/"), format!("{base}/good/")];
    let mut events = Vec::new();
    fetch(&dir, &files, &mirrors, &mut |e| events.push(e)).unwrap();
    assert!(matches!(&events[0], FetchEvent::MirrorFailed { reason, .. } if reason.contains("checksum mismatch")));
    assert!(matches!(&events[1], FetchEvent::MirrorFailed { .. }));
    assert!(matches!(&events[2], FetchEvent::Downloaded { .. }));
    let stored = std::fs::read(dir.join("lbl-idx1-ubyte.gz")).unwrap();
    assert_eq!(dropkit::data::idx::parse_idx(&stored, 1, "x").unwrap().data, vec![1, 2, 3, 4]);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    // A second fetch finds the file present and downloads nothing.
    let mut again = Vec::new();
    fetch(&dir, &files, &mirrors[..1], &mut |e| again.push(e)).unwrap();
    assert!(matches!(&again[..], [FetchEvent::Present { .. }]));

    // Only bad mirrors: an error that names every attempt, and nothing written.
    let dir2 = temp_dir("fetch-bad");
    let e = fetch(&dir2, &files, &mirrors[..2], &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("every mirror failed") && e.contains("/bad/") && e.contains("/missing/"), "{e}");
    assert_eq!(std::fs::read_dir(&dir2).unwrap().count(), 0);
}
