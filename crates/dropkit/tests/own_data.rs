//! A user's own data: image folders, NumPy archives and CSV tables load into the same data sets
//! as the files they were written from, train, and standardise from the training part only.

use dropkit::data::input::{load_input, load_new_inputs, test_rows, InputConfig, Known};
use dropkit::data::labels::Task;
use dropkit::data::numpy::encode_npy;
use dropkit::data::{load_mnist, DataSource, Targets};
use dropkit::train::run::train_run;
use dropkit::train::{weights, RunConfig};
use std::path::Path;

mod common;

/// Writes `set` as `root/<split>/<label>/<index>.png`, grayscale.
fn write_png_folder(root: &Path, split: &str, set: &dropkit::data::Dataset) {
    let [_, h, w] = set.sample_shape[..] else { panic!("images are (1, H, W)") };
    for (i, &label) in set.labels().iter().enumerate() {
        let dir = root.join(split).join(label.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let pixels: Vec<u8> =
            set.images[i * h * w..(i + 1) * h * w].iter().map(|&v| (v * 255.0).round() as u8).collect();
        image::GrayImage::from_raw(w as u32, h as u32, pixels).unwrap().save(dir.join(format!("{i:05}.png"))).unwrap();
    }
}

#[test]
fn the_embedded_mnist_as_a_png_folder_trains_to_byte_identical_weights() {
    let idx = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let root = common::scratch("png-mnist");
    write_png_folder(&root, "train", &idx.train);
    write_png_folder(&root, "test", &idx.test);
    let png = load_input(&InputConfig::new(root.display().to_string())).unwrap();
    assert_eq!(png.source.format, "image-folder");
    assert_eq!(png.train.images, idx.train.images, "pixels decode to the IDX reader's values");
    assert_eq!(png.train.labels(), idx.train.labels());
    assert_eq!(png.test.labels(), idx.test.labels());
    assert_eq!(png.train.sample_shape, vec![1, 28, 28]);
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(png.train.class_names(), Some(names.as_slice()));

    let mut cfg = RunConfig::new("dropout(0.2) dense(32, relu) dropout(0.5) dense(10)");
    cfg.epochs = 1;
    cfg.seed = 7;
    let a = train_run(&cfg, &idx, None, &mut |_| {}).unwrap();
    cfg.input = Some(InputConfig::new(root.display().to_string()));
    let mut b = train_run(&cfg, &png, None, &mut |_| {}).unwrap();
    let mut a_model = a.model;
    assert_eq!(weights::to_bytes(&mut a_model).unwrap(), weights::to_bytes(&mut b.model).unwrap());
    assert_eq!(a.metrics.test_accuracy, b.metrics.test_accuracy);
}

/// An `.npy` file of little-endian f32 values.
fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    encode_npy("<f4", shape, &values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())
}

fn npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn npz_archives_load_with_their_own_test_part_or_a_seeded_split() {
    let dir = common::scratch("npz");
    std::fs::create_dir_all(&dir).unwrap();
    let x: Vec<f32> = (0..40).map(|i| i as f32).collect();
    let y: Vec<u8> = (0..10i64).flat_map(|i| (i % 3).to_le_bytes()).collect();
    let path = dir.join("xy.npz");
    npz(&path, &[("x", npy_f32(&[10, 2, 2], &x)), ("y", encode_npy("<i8", &[10], &y))]);
    let mut input = InputConfig::new(path.display().to_string());
    input.test_split = Some(0.3);
    let data = load_input(&input).unwrap();
    assert_eq!((data.train.len(), data.test.len(), data.train.classes()), (7, 3, 3));
    assert_eq!(data.test_rows, test_rows(10, 0.3, 42).unwrap());
    assert_eq!(data.train.sample_shape, vec![1, 2, 2]);
    // Images are not standardised by default; flat samples (a table) are.
    assert!(!input.standardizes(&data.train.sample_shape).unwrap());
    assert!(input.standardizes(&[4]).unwrap());
    let first_test = data.test_rows[0];
    assert_eq!(data.test.images[..4], x[first_test * 4..first_test * 4 + 4]);

    // x_train, y_train, x_test, y_test: the file's own test part; real targets are regression.
    let both = dir.join("parts.npz");
    let yr = npy_f32(&[10], &x[..10]);
    npz(
        &both,
        &[
            ("x_train", npy_f32(&[10, 4], &x)),
            ("y_train", yr.clone()),
            ("x_test", npy_f32(&[10, 4], &x)),
            ("y_test", yr),
        ],
    );
    let data = load_input(&InputConfig::new(both.display().to_string())).unwrap();
    assert!(matches!(data.test.targets, Targets::Values { dim: 1, .. }));
    assert!(data.test_rows.is_empty());
    let mut with_split = InputConfig::new(both.display().to_string());
    with_split.test_split = Some(0.2);
    assert!(load_input(&with_split).unwrap_err().to_string().contains("has its own test part"));

    // New inputs alone, from a .npy.
    let only_x = dir.join("x.npy");
    std::fs::write(&only_x, npy_f32(&[3, 4], &x[..12])).unwrap();
    let part = load_new_inputs(&only_x, None, &Known::default(), &[4]).unwrap();
    assert_eq!((part.set.len(), part.has_targets), (3, false));
}

#[test]
fn csv_tables_classify_or_regress_and_standardise_from_the_training_part() {
    let dir = common::scratch("csv");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    let mut text = String::from("size,weight,kind,price\n");
    for i in 0..50 {
        text.push_str(&format!("{},{},{},{}\n", i, 100 + i * 2, ["cat", "dog"][i % 2], 3.5 * i as f64 + 1.0));
    }
    std::fs::write(&path, text).unwrap();
    let mut input = InputConfig::new(path.display().to_string());
    input.target = vec!["kind".into()];
    // "price" is then a feature; "kind" is text, so this is classification.
    let data = load_input(&input).unwrap();
    assert_eq!(data.source.features, vec!["size", "weight", "price"]);
    assert_eq!(data.source.classes, vec!["cat", "dog"]);
    assert_eq!(data.source.task, Some(Task::Classification));

    input.target = vec!["price".into()];
    let mut cfg = RunConfig::new("dense(16, relu) dense(1)");
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace(",cat,", ",0,").replace(",dog,", ",1,"))
        .unwrap();
    let data = load_input(&input).unwrap();
    assert_eq!(data.source.task, Some(Task::Regression));
    cfg.input = Some(input);
    cfg.epochs = 30;
    cfg.batch_size = 8;
    let run = common::scratch("csv-run");
    let outcome = train_run(&cfg, &data, Some(&run), &mut |_| {}).unwrap();
    let m = &outcome.metrics;
    assert!(m.test_accuracy.is_nan());
    let (rmse, nll) = (m.test_rmse.unwrap(), m.test_nll.unwrap());
    // A linear target: far better than predicting the mean (the targets' std is about 50).
    assert!(rmse < 15.0, "{rmse}");
    assert!(nll.is_finite());
    // The statistics are those of the training part alone (its first 90%, before validation).
    let s = dropkit::data::standardize::Standardizer::load(&run).unwrap().unwrap();
    let (fit, _) = data.train.split_last(0.1).unwrap();
    assert_eq!(s, dropkit::data::standardize::Standardizer::fit(&fit));
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("split.json")).unwrap()).unwrap();
    assert_eq!(split["test_rows"].as_array().unwrap().len(), 10);
    // metrics.json reads back, regression's null accuracy included.
    let text = std::fs::read_to_string(run.join("metrics.json")).unwrap();
    let back: dropkit::train::run::Metrics = serde_json::from_str(&text).unwrap();
    assert_eq!(back.test_rmse, m.test_rmse);
}

#[test]
fn a_table_of_more_than_256_named_classes_trains() {
    let dir = common::scratch("many-classes");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    let mut text = String::from("a,b,species\n");
    for i in 0..900 {
        text.push_str(&format!("{},{},species-{:03}\n", i % 300, (i * 7) % 13, i % 300));
    }
    std::fs::write(&path, text).unwrap();
    let data = load_input(&InputConfig::new(path.display().to_string())).unwrap();
    assert_eq!(data.train.classes(), 300);
    assert_eq!(data.source.classes[299], "species-299");
    let mut cfg = RunConfig::new("dense(32, relu) dense(300)");
    cfg.input = Some(InputConfig::new(path.display().to_string()));
    cfg.epochs = 2;
    let outcome = train_run(&cfg, &data, None, &mut |_| {}).unwrap();
    assert!(outcome.metrics.test_accuracy.is_finite() && outcome.metrics.train_loss.is_finite());
}
