//! Every hand-made bad file under `tests/corpus/` (and every input a fuzzer once crashed on,
//! named `fuzz-*`) is refused with an error that names the problem; none panics.

use dropkit::data::idx::{parse_idx, IdxArray};
use dropkit::data::mnist::to_dataset;
use dropkit::model::Sequential;
use dropkit::optim::{Optimizer, OptimizerConfig};
use dropkit::train::{checkpoint, RunConfig};
use std::path::{Path, PathBuf};

mod common;

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

fn trained_run(name: &str, spec: &str) -> (common::Scratch, dropkit::data::TrainTest) {
    let mut data = dropkit::data::load_mnist(&dropkit::data::DataSource::Embedded, "mnist").unwrap();
    data.train = data.train.slice(0..1_000);
    let dir = common::scratch(name);
    let config = RunConfig { epochs: 1, batch_size: 100, ..RunConfig::new(spec) };
    dropkit::train::run::train_run(&config, &data, Some(&dir), &mut |_| {}).unwrap();
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    (dir, data)
}

#[test]
fn bad_checkpoints_are_refused() {
    let (dir, _) = trained_run("checkpoints", "dense(16, relu) dense(10)");
    assert!(checkpoint::load(&dir).unwrap().is_some(), "the real checkpoint loads");
    for (path, bytes) in corpus("checkpoints") {
        std::fs::write(dir.join("checkpoint.json"), &bytes).unwrap();
        assert_refused(&path, checkpoint::load(&dir));
    }
}

#[test]
fn a_checkpoint_of_another_model_is_refused() {
    let (dir, data) = trained_run("foreign", "dense(16, relu) dense(10)");
    // Rewrite the run's config with a different model: the checkpoint no longer fits.
    let config = RunConfig { epochs: 2, batch_size: 100, ..RunConfig::new("dense(24, relu) dense(10)") };
    std::fs::write(dir.join("config.toml"), config.to_toml().unwrap()).unwrap();
    let saved = checkpoint::load(&dir).unwrap();
    let err = dropkit::train::run::resume_run(&dir, &data, saved, &mut |_| {}).err().expect("refused").to_string();
    assert!(err.contains("layers.0.weight"), "{err}");
}

#[test]
fn the_checkpoint_fuzz_seed_restores_into_its_model() {
    // Keeps the fuzzer's starting point meaningful: it must reach the restore.
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/checkpoint/ckpt0");
    let bytes = std::fs::read(&seed).unwrap();
    let (len, rest) = bytes.split_at(2);
    let (json, tensors) = rest.split_at(u16::from_le_bytes([len[0], len[1]]) as usize);
    let info = checkpoint::parse_info(json, "seed").unwrap();
    let loaded = checkpoint::parse(info, tensors, "seed").unwrap();
    let mut model = Sequential::from_spec("dense(4, relu) dropout(0.5) dense(3)", &[2], 1).unwrap();
    let mut optimizer = Optimizer::new(OptimizerConfig::default()).unwrap();
    let state = loaded.restore(&mut model, &mut optimizer, "fuzz").unwrap();
    assert_eq!((state.history.epochs.len(), optimizer.steps()), (1, 10));
}
