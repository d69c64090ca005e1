//! Monte Carlo dropout predictions: reproducible, equal to averaging full passes by hand, and
//! consistent with the error curve.

#![allow(clippy::needless_range_loop)] // parallel arrays read side by side

use dropkit::data::{load_mnist, DataSource};
use dropkit::layer::{Ctx, Mode};
use dropkit::model::Sequential;
use dropkit::nn::softmax::softmax_row;
use dropkit::tensor::Tensor;
use dropkit::uncertainty::{entropy, predict, predict_tracking_error, Inference};

const SPEC: &str = "dense(32, relu) dropout(0.5) dense(16) tanh dropout(0.3) dense(10)";

fn inputs(n: usize) -> (Vec<f32>, Vec<u32>) {
    let m = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    (m.test.images[..n * 784].to_vec(), m.test.labels()[..n].to_vec())
}

/// The reference: full passes of the model, `copies` passes stacked per forward call, as
/// `predict` documents; returns per-input mean probabilities and expected entropy.
fn by_hand(model: &mut Sequential, x: &[f32], n: usize, t: u64, copies: u64) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0f64; n * 10];
    let mut exp_h = vec![0f64; n];
    for t0 in (0..t).step_by(copies as usize) {
        let k = copies.min(t - t0) as usize;
        let stacked: Vec<f32> = (0..k).flat_map(|_| x.iter().copied()).collect();
        let xt = Tensor::from_vec(stacked, &[k * n, 1, 28, 28]).unwrap();
        let mut out = model.forward(&xt, &Ctx::new(Mode::MonteCarlo { sample: t0 }, 3, 0)).unwrap().data().to_vec();
        out.chunks_exact_mut(10).for_each(softmax_row);
        for (r, row) in out.chunks_exact(10).enumerate() {
            let i = r % n;
            exp_h[i] += entropy(row) as f64 / t as f64;
            row.iter().enumerate().for_each(|(c, &v)| mean[i * 10 + c] += v as f64 / t as f64);
        }
    }
    (mean, exp_h)
}

#[test]
fn mc_predictions_equal_the_average_of_full_stochastic_passes() {
    // 50 inputs: all 7 passes fit in one stacked batch. 5000 inputs: one pass per batch.
    for (n, copies) in [(50, 7), (5000, 1)] {
        let (x, _) = inputs(n.min(2000));
        let x: Vec<f32> = x.iter().copied().cycle().take(n * 784).collect();
        let mut model = Sequential::from_spec(SPEC, &[1, 28, 28], 3).unwrap();
        let t = 7;
        let p = predict(&mut model, &x, Inference::MonteCarlo { samples: t }).unwrap();
        let (mean, exp_h) = if copies == 1 {
            // 4096-row batches: compare the first batch, passes one at a time.
            let (m, h) = by_hand(&mut model, &x[..4096 * 784], 4096, t, 1);
            (m, h)
        } else {
            by_hand(&mut model, &x, n, t, copies)
        };
        for i in 0..mean.len() {
            assert!((p.mean[i] as f64 - mean[i]).abs() < 1e-5, "n={n} mean[{i}]");
        }
        for i in 0..exp_h.len() {
            assert!((p.expected_entropy[i] as f64 - exp_h[i]).abs() < 1e-4);
            assert!(p.mutual_information[i] >= 0.0);
            assert!((p.predictive_entropy[i] - entropy(p.probs(i))).abs() < 1e-6);
        }
        assert!(p.std.iter().any(|&s| s > 0.01), "dropout must make passes differ");
    }
}

#[test]
fn a_conv_net_shares_its_deterministic_prefix_and_matches_full_passes() {
    // The convolution, ReLU and pooling before the spatial dropout run once per input; the
    // passes after them must be those of the whole network.
    let spec = "conv2d(4,3) relu maxpool(2) spatial_dropout2d(0.3) flatten dense(16) relu dropout(0.5) dense(10)";
    let (x, _) = inputs(30);
    let mut model = Sequential::from_spec(spec, &[1, 28, 28], 3).unwrap();
    let first = model.first_stochastic().expect("a stochastic layer");
    assert!(model.layers()[first].spec().starts_with("spatial_dropout2d"), "{}", model.layers()[first].spec());
    assert!(model.layers()[..first].iter().all(|l| !l.is_stochastic()));
    let t = 6;
    let p = predict(&mut model, &x, Inference::MonteCarlo { samples: t }).unwrap();
    let (mean, exp_h) = by_hand(&mut model, &x, 30, t, t);
    for i in 0..mean.len() {
        assert!((p.mean[i] as f64 - mean[i]).abs() < 1e-5, "mean[{i}]");
    }
    for i in 0..exp_h.len() {
        assert!((p.expected_entropy[i] as f64 - exp_h[i]).abs() < 1e-4, "expected entropy [{i}]");
    }
    assert!(p.std.iter().any(|&s| s > 0.01), "the spatial and unit dropout must make passes differ");
}

#[test]
fn predictions_reproduce_and_deterministic_has_no_spread() {
    let (x, labels) = inputs(200);
    let mut a = Sequential::from_spec(SPEC, &[1, 28, 28], 4).unwrap();
    let mut b = Sequential::from_spec(SPEC, &[1, 28, 28], 4).unwrap();
    let mc = Inference::MonteCarlo { samples: 10 };
    assert_eq!(predict(&mut a, &x, mc).unwrap(), predict(&mut b, &x, mc).unwrap());
    let det = predict(&mut a, &x, Inference::Deterministic).unwrap();
    assert!(det.std.iter().all(|&s| s == 0.0));
    assert!(det.mutual_information.iter().all(|&m| m.abs() < 1e-6));
    let (p, curve) = predict_tracking_error(&mut a, &x, mc, &labels, &[1, 5, 10]).unwrap();
    assert_eq!(curve.len(), 3);
    let err = p.predicted.iter().zip(&labels).filter(|(a, b)| a != b).count() as f64 / 200.0;
    assert!((curve[2].1 - err).abs() < 1e-12, "{curve:?} vs {err}");
}

#[test]
fn the_uncertainty_study_runs_from_the_library_on_the_embedded_data() {
    use dropkit::experiments::uncertainty_study::{study, StudyOptions, SHIFTS};
    use dropkit::prelude::*;
    let m = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let (train, test) = (m.train.slice(0..2000), m.test.slice(0..300));
    let mut model = Sequential::from_spec(SPEC, &train.sample_shape, 4).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::default()).unwrap();
    let options = FitOptions { epochs: 1, batch_size: 64, seed: 4, ..FitOptions::default() };
    fit(&mut model, &mut opt, &train, None, &options, &mut |_| {}).unwrap();
    let report = study(&mut model, "mine", &test, StudyOptions { passes: 8, ood_inputs: 100, seed: 4 }).unwrap();
    assert_eq!(report.passes, 8);
    assert!(report.deterministic.accuracy > 0.3 && report.mc.accuracy > 0.3, "better than chance (0.1)");
    assert_eq!(report.error_vs_passes.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2, 3, 5, 8]);
    assert!((1.0 - report.error_vs_passes[4].1 - report.mc.accuracy).abs() < 1e-9, "the curve ends at T");
    assert_eq!(report.rejection_mc[0], (0.0, report.mc.accuracy), "rejecting nothing leaves the accuracy");
    assert_eq!(report.ood_auroc.len(), SHIFTS.len());
    assert!(report.ood_auroc.iter().all(|o| (0.0..=1.0).contains(&o.entropy_mc)));
    let again = study(&mut model, "mine", &test, StudyOptions { passes: 8, ood_inputs: 100, seed: 4 }).unwrap();
    assert_eq!(again, report, "the study reproduces");
    let err = study(&mut model, "mine", &test, StudyOptions { passes: 8, ood_inputs: 0, seed: 4 }).unwrap_err();
    assert!(err.to_string().contains("--ood-inputs 0"), "{err}");
}
