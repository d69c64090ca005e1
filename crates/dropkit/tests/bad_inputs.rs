//! Every hand-made bad file under `tests/corpus/` (and every input a fuzzer once crashed on,
//! named `fuzz-*`) is refused with an error that names the problem; none panics.

use dropkit::data::idx::{parse_idx, IdxArray};
use dropkit::data::mnist::to_dataset;
use dropkit::model::Sequential;
use dropkit::train::RunConfig;
use std::path::{Path, PathBuf};

fn corpus(kind: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{kind}: the corpus is missing");
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("readable corpus file"))).collect()
}

fn assert_refused<T>(path: &Path, result: dropkit::Result<T>) {
    match result {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => assert!(e.to_string().len() > 20, "{}: unhelpful error '{e}'", path.display()),
    }
}

#[test]
fn bad_idx_files_are_refused() {
    for (path, bytes) in corpus("idx_images") {
        // Parsed images that are still unusable must be refused when paired with labels.
        let dataset = parse_idx(&bytes, 3, &path.display().to_string()).and_then(|images| {
            let n = images.dims.first().copied().unwrap_or(0);
            to_dataset(images, IdxArray { dims: vec![n], data: vec![0; n] }, "corpus")
        });
        assert_refused(&path, dataset);
    }
}

#[test]
fn bad_model_specs_are_refused() {
    for (path, bytes) in corpus("specs") {
        let text = String::from_utf8_lossy(&bytes);
        assert_refused(&path, Sequential::from_spec(&text, &[784], 1));
    }
}

#[test]
fn bad_run_configs_are_refused() {
    for (path, bytes) in corpus("configs") {
        let text = String::from_utf8_lossy(&bytes);
        assert_refused(&path, RunConfig::from_toml(&text, &path.display().to_string()));
    }
}
