//! Monte Carlo dropout predictions: reproducible, equal to averaging full passes by hand, and
//! consistent with the error curve.

use dropkit::data::{load_mnist, DataSource};
use dropkit::layer::{Ctx, Mode};
use dropkit::model::Sequential;
use dropkit::nn::softmax::softmax_row;
use dropkit::tensor::Tensor;
use dropkit::uncertainty::{entropy, predict, predict_tracking_error, Inference};

const SPEC: &str = "dense(32, relu) dropout(0.5) dense(16) tanh dropout(0.3) dense(10)";

fn inputs(n: usize) -> (Vec<f32>, Vec<u8>) {
    let m = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    (m.test.images[..n * 784].to_vec(), m.test.labels[..n].to_vec())
}

#[test]
fn mc_predictions_equal_the_average_of_full_stochastic_passes() {
    let (x, _) = inputs(50);
    let mut model = Sequential::from_spec(SPEC, &[1, 28, 28], 3).unwrap();
    let t = 7;
    let p = predict(&mut model, &x, Inference::MonteCarlo { samples: t }).unwrap();
    let xt = Tensor::from_vec(x.clone(), &[50, 1, 28, 28]).unwrap();
    let mut mean = vec![0f64; 500];
    let mut exp_h = vec![0f64; 50];
    for s in 0..t {
        let mut out = model.forward(&xt, &Ctx::new(Mode::MonteCarlo { sample: s }, 3, 0)).unwrap().data().to_vec();
        out.chunks_exact_mut(10).for_each(softmax_row);
        for (i, row) in out.chunks_exact(10).enumerate() {
            exp_h[i] += entropy(row) as f64 / t as f64;
            row.iter().enumerate().for_each(|(k, &v)| mean[i * 10 + k] += v as f64 / t as f64);
        }
    }
    for i in 0..500 {
        assert!((p.mean[i] as f64 - mean[i]).abs() < 1e-5, "mean[{i}]");
    }
    for i in 0..50 {
        assert!((p.expected_entropy[i] as f64 - exp_h[i]).abs() < 1e-4);
        assert!(p.mutual_information[i] >= 0.0);
        assert!((p.predictive_entropy[i] - entropy(p.probs(i))).abs() < 1e-6);
    }
    assert!(p.std.iter().any(|&s| s > 0.01), "dropout must make passes differ");
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
