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

/// Each bad file of `kind` gives an error holding the fragment its name is paired with.
fn expect_errors(kind: &str, expected: &[(&str, &str)], read: impl Fn(&Path) -> Result<(), String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some((_, want)) = expected.iter().find(|(n, _)| *n == name) else {
            panic!("{}: no expected error listed for this corpus file", path.display())
        };
        let e = read(&path).expect_err(&format!("{} was accepted", path.display()));
        assert!(e.contains(want), "{}: '{e}' does not say '{want}'", path.display());
        assert!(e.contains(&name), "{}: '{e}' does not name the file", path.display());
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "{kind}: a listed corpus file is missing");
}

#[test]
fn bad_csv_tables_are_refused_naming_the_line_and_column() {
    use dropkit::data::csv_table::{read_csv, CsvOptions};
    let expected = [
        ("ragged-row.csv", "line 3: 2 fields where the header has 3"),
        ("non-numeric-cell.csv", "line 3, column 'a': 'x' is not a number"),
        ("nan-cell.csv", "line 2, column 'b': 'nan' (NaN) is not finite"),
        ("infinite-cell.csv", "line 2, column 'b': 'inf' (inf) is not finite"),
        ("empty-cell.csv", "line 2, column 'b': the cell is empty"),
        ("empty.csv", "empty file"),
        ("header-only.csv", "no rows"),
        ("not-utf8.csv", "not UTF-8"),
        ("no-features.csv", "no feature columns"),
    ];
    expect_errors("csv", &expected, |p| read_csv(p, &CsvOptions::default()).map(|_| ()).map_err(|e| e.to_string()));
    // An unknown target column names the columns there are.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/csv/nan-cell.csv");
    let o = CsvOptions { target: vec!["price".into()], ..Default::default() };
    let e = read_csv(&p, &o).unwrap_err().to_string();
    assert!(e.contains("no column 'price' for the target; the columns are a, b, label"), "{e}");
}

#[test]
fn bad_numpy_files_are_refused() {
    use dropkit::data::input::{load_input, load_new_inputs, InputConfig, Known};
    let expected = [
        ("strings.npy", "is not numeric data"),
        ("fortran.npy", "Fortran order"),
        ("object.npy", "is not numeric data"),
        ("truncated.npy", "truncated"),
        ("nan.npy", "element 1 is NaN"),
        ("complex.npy", "is not numeric data"),
        ("labels-disagree.npz", "x has 4 samples but y has shape [5]"),
        ("labels-3d.npz", "y has shape [4, 2, 2]"),
        ("no-x.npz", "has no array 'x'; its arrays are inputs, y"),
        ("negative-label.npz", "label -1 of sample 1 is not a class id"),
        ("truncated.npz", "not a complete .npz archive"),
        ("not-a-zip.npz", "not a complete .npz archive"),
        ("no-samples.npz", "no samples"),
        // Found by the fuzzer: nested braces kept the header's literal parser busy for seconds.
        ("fuzz-timeout-nested-braces.npy", "nests brackets"),
    ];
    expect_errors("numpy", &expected, |p| {
        let r = if p.extension().is_some_and(|e| e == "npy") {
            load_new_inputs(p, None, &Known::default(), &[2]).map(|_| ())
        } else {
            load_input(&InputConfig::new(p.display().to_string())).map(|_| ())
        };
        r.map_err(|e| e.to_string())
    });
}

#[test]
fn bad_image_folders_are_refused() {
    use dropkit::data::image_folder::read_image_folder;
    let expected = [
        ("unreadable", "1.png: is not a readable PNG or JPEG image"),
        ("sizes", "1.png: is 5x3 pixels but"),
        ("empty-class", "b: class folder holds no PNG or JPEG images"),
        ("truncated", "1.png: is not a readable PNG or JPEG image"),
        ("no-classes", "has no class subfolders"),
        ("zero-size", "1.png: is not a readable PNG or JPEG image"),
    ];
    expect_errors("images", &expected, |p| {
        read_image_folder(p, None, None, None).map(|_| ()).map_err(|e| e.to_string())
    });
    // A class the run was not trained on.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/images/sizes");
    let e = read_image_folder(&p, Some(&["a".to_string(), "c".to_string()]), None, None).unwrap_err().to_string();
    assert!(e.contains("class folder 'b' is not one of the run's 2 training classes"), "{e}");
}
