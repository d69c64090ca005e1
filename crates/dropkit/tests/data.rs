//! Data: the embedded subset, validation splits, IDX failures, and fetching from a local
//! HTTP server with a bad mirror first.

use dropkit::data::fetch::{fetch, fetch_set, md5_hex, sha256_hex, Checksum, FetchEvent, RemoteFile, RemoteSet};
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
    let files = [RemoteFile { name: "lbl-idx1-ubyte.gz", checksum: Checksum::ContentSha256(sha) }];
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

/// A CIFAR-10 binary archive of `per_file` records per batch file, as its authors pack it.
fn cifar_archive(per_file: usize) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let files = [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ];
    for (k, f) in files.iter().enumerate() {
        let mut bytes = Vec::new();
        for i in 0..per_file {
            bytes.push(((k + i) % 10) as u8);
            bytes.extend((0..3072).map(|p| ((p + i * 7 + k) % 256) as u8));
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, format!("cifar-10-batches-bin/{f}"), bytes.as_slice()).unwrap();
    }
    let meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(meta.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "cifar-10-batches-bin/batches.meta.txt", &meta[..]).unwrap();
    gzip(&tar.into_inner().unwrap())
}

#[test]
fn cifar10_and_fashion_mnist_fetch_with_published_md5s_and_load() {
    let archive = cifar_archive(3);
    let sum: &'static str = Box::leak(md5_hex(&archive).into_boxed_str());
    let files: &'static [RemoteFile] =
        Box::leak(vec![RemoteFile { name: "cifar-10-binary.tar.gz", checksum: Checksum::Md5(sum) }].into_boxed_slice());
    let base = serve(vec![("cifar-10-binary.tar.gz".into(), archive.clone())]);
    let set = RemoteSet { name: "cifar-10", files, mirrors: &[], archive: true, credit: "test" };
    let root = temp_dir("cifar");
    let mut events = Vec::new();
    fetch_set(&root.join("cifar-10"), &set, &[format!("{base}/bad/"), format!("{base}/good/")], &mut |e| {
        events.push(e)
    })
    .unwrap();
    assert!(matches!(&events[0], FetchEvent::MirrorFailed { reason, .. } if reason.contains("MD5")), "{events:?}");
    // Unpacked by file name; the archive itself is not kept.
    let mut names: Vec<String> = std::fs::read_dir(root.join("cifar-10"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(names.len(), 7, "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with(".gz")));
    let (data, note) = dropkit::data::load_for_run(Some(&root), "cifar-10", None, 0).unwrap();
    assert!(note.is_none());
    assert_eq!((data.train.len(), data.test.len(), data.train.sample_shape.clone()), (15, 3, vec![3, 32, 32]));
    assert_eq!(data.train.labels()[..4], [0, 1, 2, 1]);
    assert_eq!(data.train.images[1], 1.0 / 255.0);
    assert_eq!(data.source.classes[9], "truck");

    // Fashion-MNIST's files are checked by the MD5 of the download, as its README gives it.
    let raw = encode_idx(&[2], &[3, 4]);
    let gz = gzip(&raw);
    let sum: &'static str = Box::leak(md5_hex(&gz).into_boxed_str());
    let base = serve(vec![("lbl-idx1-ubyte.gz".into(), gz.clone())]);
    let files = [RemoteFile { name: "lbl-idx1-ubyte.gz", checksum: Checksum::Md5(sum) }];
    let dir = temp_dir("fashion");
    fetch(&dir, &files, &[format!("{base}/good/")], &mut |_| {}).unwrap();
    assert_eq!(std::fs::read(dir.join("lbl-idx1-ubyte.gz")).unwrap(), gz);
    let mut again = Vec::new();
    fetch(&dir, &files, &[format!("{base}/bad/")], &mut |e| again.push(e)).unwrap();
    assert!(matches!(&again[..], [FetchEvent::Present { .. }]));
}
