//! The dropout properties DESIGN.md lists, after PyTorch's test/nn/test_dropout.py.

use dropkit::dropout::{Dropout, Scaling};
use dropkit::layer::{Ctx, Layer, Mode};
use dropkit::rng::{streams, Stream};
use dropkit::tensor::Tensor;

const N: usize = 100_000;

fn built(p: f64, scaling: Scaling) -> Dropout {
    let mut d = Dropout::new(p, scaling).unwrap();
    d.build(&[N], 3, &mut Stream::new(0, streams::INIT, 0)).unwrap();
    d
}

fn input() -> Tensor {
    let mut s = Stream::new(9, 0, 0);
    Tensor::from_vec((0..N).map(|_| 0.5 + s.uniform()).collect(), &[1, N]).unwrap()
}

fn train(step: u64) -> Ctx {
    Ctx::new(Mode::Train, 1234, step)
}

#[test]
fn train_mode_preserves_the_mean_and_drops_a_binomial_fraction() {
    let x = input();
    for p in [0.1, 0.5, 0.9] {
        let mut d = built(p, Scaling::Inverted);
        let y = d.forward(&x, &train(0)).unwrap();
        let dropped = y.data().iter().filter(|&&v| v == 0.0).count() as f64;
        // Binomial(N, p): 6 standard deviations.
        let sd = (N as f64 * p * (1.0 - p)).sqrt();
        assert!((dropped - N as f64 * p).abs() < 6.0 * sd, "p={p}: dropped {dropped}");
        let mean_x: f64 = x.data().iter().map(|&v| v as f64).sum::<f64>() / N as f64;
        let mean_y: f64 = y.data().iter().map(|&v| v as f64).sum::<f64>() / N as f64;
        // Var(x m / (1-p)) = x^2 p / (1-p): the mean of N such terms is within 6 standard errors.
        let mean_sq: f64 = x.data().iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / N as f64;
        let se = (mean_sq * p / (1.0 - p) / N as f64).sqrt();
        assert!((mean_y - mean_x).abs() < 6.0 * se, "p={p}: {mean_y} vs {mean_x} (se {se})");
        // Kept units are scaled by exactly 1/(1-p).
        let scale = 1.0 / (1.0 - p as f32);
        for (a, b) in x.data().iter().zip(y.data()) {
            assert!(*b == 0.0 || *b == a * scale);
        }
    }
}

#[test]
fn eval_is_identity_for_inverted_and_weight_scaling_for_classic() {
    let x = input();
    let eval = Ctx::new(Mode::Eval, 1234, 0);
    assert_eq!(built(0.5, Scaling::Inverted).forward(&x, &eval).unwrap(), &x);
    let y = built(0.25, Scaling::Classic).forward(&x, &eval).unwrap().clone();
    for (a, b) in x.data().iter().zip(y.data()) {
        assert_eq!(*b, a * 0.75);
    }
    // Classic training leaves kept units unscaled.
    let y = built(0.25, Scaling::Classic).forward(&x, &train(0)).unwrap().clone();
    assert!(x.data().iter().zip(y.data()).all(|(a, b)| *b == 0.0 || b == a));
}

#[test]
fn p_zero_is_identity_and_p_one_gives_zeros_and_zero_gradient() {
    let x = input();
    assert_eq!(built(0.0, Scaling::Inverted).forward(&x, &train(5)).unwrap(), &x);
    let mut d = built(1.0, Scaling::Inverted);
    assert!(d.forward(&x, &train(5)).unwrap().data().iter().all(|&v| v == 0.0));
    let dx = d.backward(&x, &x, &train(5)).unwrap();
    assert!(dx.data().iter().all(|&v| v == 0.0));
}

#[test]
fn invalid_probabilities_are_errors_naming_the_value() {
    for p in [1.5, -0.1, f64::NAN, f64::INFINITY] {
        let e = Dropout::new(p, Scaling::Inverted).err().expect("must fail").to_string();
        assert!(e.contains("dropout(") && e.contains("p must be in [0, 1]"), "{e}");
    }
}

#[test]
fn gradient_is_the_same_mask_times_the_upstream_gradient() {
    let x = input();
    let mut d = built(0.3, Scaling::Inverted);
    let y = d.forward(&x, &train(7)).unwrap().clone();
    let dy = Tensor::from_vec((0..N).map(|i| (i % 13) as f32 - 6.0).collect(), &[1, N]).unwrap();
    let dx = d.backward(&x, &dy, &train(7)).unwrap();
    let scale = 1.0 / 0.7f32;
    for i in 0..N {
        let kept = y.data()[i] != 0.0;
        assert_eq!(dx.data()[i], if kept { dy.data()[i] * scale } else { 0.0 }, "element {i}");
    }
}

#[test]
fn masks_change_per_step_layer_and_seed_and_repeat_for_the_same_key() {
    let x = input();
    let mask = |seed: u64, step: u64, id: u64| {
        let mut d = Dropout::new(0.5, Scaling::Inverted).unwrap();
        d.build(&[N], id, &mut Stream::new(0, 0, 0)).unwrap();
        d.forward(&x, &Ctx::new(Mode::Train, seed, step)).unwrap().data().iter().map(|&v| v != 0.0).collect::<Vec<_>>()
    };
    let base = mask(1, 0, 0);
    assert_eq!(base, mask(1, 0, 0));
    assert_ne!(base, mask(1, 1, 0));
    assert_ne!(base, mask(1, 0, 1));
    assert_ne!(base, mask(2, 0, 0));
}

#[test]
fn same_key_gives_the_same_mask_with_one_and_many_threads() {
    let x = input();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| built(0.5, Scaling::Inverted).forward(&x, &train(3)).unwrap().clone())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(8));
}

#[test]
fn monte_carlo_masks_are_independent_per_sample_and_reproducible() {
    let x = input();
    let mc = |sample| {
        built(0.5, Scaling::Inverted).forward(&x, &Ctx::new(Mode::MonteCarlo { sample }, 1234, 0)).unwrap().clone()
    };
    assert_eq!(mc(0), mc(0));
    assert_ne!(mc(0), mc(1));
    // MC sample 0 is not training step 0's mask.
    assert_ne!(mc(0), built(0.5, Scaling::Inverted).forward(&x, &train(0)).unwrap().clone());
}

#[test]
fn a_layer_mode_override_beats_the_model_mode() {
    let x = input();
    let mut model = dropkit::model::Sequential::from_spec("dropout(0.5)", &[x.cols()], 1234).unwrap();
    model.set_layer_mode(0, Some(Mode::MonteCarlo { sample: 2 })).unwrap();
    let y = model.forward(&x, &Ctx::new(Mode::Eval, 1234, 0)).unwrap();
    assert!(y.data().contains(&0.0), "MC override must drop units in an Eval model");
    model.set_layer_mode(0, None).unwrap();
    assert_eq!(model.forward(&x, &Ctx::new(Mode::Eval, 1234, 0)).unwrap(), &x, "back to the model's mode");
}
