//! Targets of any kind: class ids beyond 256 classes, and real-valued vectors trained with
//! mean squared error.

use dropkit::data::Dataset;
use dropkit::layer::Mode;
use dropkit::prelude::*;
use dropkit::rng::Stream;

fn inputs(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut s = Stream::new(seed, 1, 0);
    (0..n * d).map(|_| s.uniform() * 2.0 - 1.0).collect()
}

fn fit_epochs(spec: &str, data: &Dataset, epochs: usize) -> (Sequential, dropkit::train::History) {
    let mut model = Sequential::from_spec(spec, &data.sample_shape, 3).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig { lr: 1e-2, ..OptimizerConfig::default() }).unwrap();
    let options = FitOptions { epochs, batch_size: 32, seed: 3, ..FitOptions::default() };
    let history = fit(&mut model, &mut opt, data, None, &options, &mut |_| {}).unwrap();
    (model, history)
}

#[test]
fn real_valued_targets_train_with_mean_squared_error() {
    let (n, d) = (512, 4);
    let x = inputs(n, d, 1);
    // Two targets: a linear map and a nonlinear one of the inputs.
    let y: Vec<f32> = x.chunks(d).flat_map(|r| [r[0] - 2.0 * r[1] + 0.5, (r[2] * r[3]).abs()]).collect();
    let data = Dataset::regression(x, vec![d], y, 2);
    assert_eq!((data.len(), data.outputs(), data.classes()), (n, 2, 0));
    let (mut model, history) = fit_epochs("dense(32, relu) dropout(0.1) dense(2)", &data, 30);
    let (first, last) = (history.epochs[0].loss, history.epochs.last().unwrap().loss);
    assert!(last < 0.2 * first, "mean squared error falls: {first} -> {last}");
    let eval = evaluate(&mut model, &data, Mode::Eval).unwrap();
    assert!(eval.loss() < 0.05, "{}", eval.loss());
    assert!(eval.accuracy().is_nan(), "regression has no accuracy");
    let wrong =
        Sequential::from_spec("dense(8, relu) dense(3)", &[d], 3).map(|mut m| evaluate(&mut m, &data, Mode::Eval));
    let err = wrong.unwrap().unwrap_err().to_string();
    assert!(err.contains("ends with 3 outputs per sample but the data has 2 target values"), "{err}");
}

#[test]
fn more_than_256_classes_train() {
    let (n, d, classes) = (3000, 8, 300);
    let x = inputs(n, d, 2);
    // The class is a function of the inputs, so it can be learned.
    let labels: Vec<u32> = x.chunks(d).map(|r| ((r[0] + 1.0) * 0.5 * (classes as f32 - 1.0)).round() as u32).collect();
    assert!(labels.iter().any(|&l| l > 255));
    let data = Dataset::classified(x, vec![d], labels, classes);
    let (mut model, history) = fit_epochs("dense(64, relu) dense(300)", &data, 3);
    assert!(history.epochs[2].loss < history.epochs[0].loss);
    let acc = evaluate(&mut model, &data, Mode::Eval).unwrap().accuracy();
    assert!(acc > 1.0 / classes as f64, "above chance: {acc}");
}

#[test]
fn bad_targets_are_refused() {
    let bad = Dataset::regression(vec![0.0; 8], vec![2], vec![1.0, f32::NAN, 0.0, 1.0], 1);
    assert!(bad.validate().unwrap_err().to_string().contains("is not finite"));
    let names = Dataset {
        targets: dropkit::data::Targets::Classes {
            ids: vec![0, 1],
            classes: 2,
            names: Some(vec!["cat".into()]),
            positions: 1,
        },
        ..Dataset::classified(vec![0.0; 4], vec![2], vec![0, 1], 2)
    };
    assert!(names.validate().unwrap_err().to_string().contains("1 class names for 2 classes"));
}
