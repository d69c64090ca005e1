//! Drop-Activation against the properties DESIGN.md asks of a dropout variant: the fraction of
//! dropped nonlinearities within binomial bounds, the eval rule (the expectation of training),
//! p = 0 and p = 1, the gradient following the same mask, the same mask with 1 and 2 threads,
//! a finite-difference check, and its `none` baseline.

use dropkit::dropout::drop_activation::DropActivation;
use dropkit::layer::{Ctx, Layer, Mode};
use dropkit::model::spec;
use dropkit::rng::Stream;
use dropkit::tensor::Tensor;

const N: usize = 64 * 512;

fn layer(p: f64) -> DropActivation {
    let mut l = DropActivation::new(p).unwrap();
    l.build(&[512], 3, &mut Stream::new(0, 0, 0)).unwrap();
    l
}

/// Inputs half negative, half positive, none zero.
fn input() -> Tensor {
    let mut s = Stream::new(5, 1, 0);
    Tensor::from_vec((0..N).map(|_| s.normal() + if s.uniform() < 0.5 { -0.01 } else { 0.01 }).collect(), &[64, 512])
        .unwrap()
}

fn train(step: u64) -> Ctx {
    Ctx::new(Mode::Train, 21, step)
}

fn relu(x: f32) -> f32 {
    x.max(0.0)
}

#[test]
fn negative_units_pass_through_with_probability_p_and_positive_ones_always() {
    let (p, x) = (0.3, input());
    let y = layer(p).forward(&x, &train(1)).unwrap().clone();
    let (mut negatives, mut passed) = (0, 0);
    for (&x, &y) in x.data().iter().zip(y.data()) {
        if x > 0.0 {
            assert_eq!(y, x);
        } else {
            negatives += 1;
            assert!(y == x || y == 0.0, "{x} -> {y}: either its ReLU or the identity");
            passed += (y == x) as usize;
        }
    }
    let (f, sd) = (passed as f64 / negatives as f64, (p * (1.0 - p) / negatives as f64).sqrt());
    assert!((f - p).abs() < 5.0 * sd, "passed {f}, expected {p} +- {}", 5.0 * sd);
}

#[test]
fn eval_is_the_expectation_of_training_and_p_0_and_1_are_relu_and_identity() {
    let (p, x) = (0.4, input());
    let eval = layer(p).forward(&x, &Ctx::new(Mode::Eval, 21, 0)).unwrap().clone();
    for (&x, &y) in x.data().iter().zip(eval.data()) {
        let expected = (1.0 - p as f32) * relu(x) + p as f32 * x;
        assert!((y - expected).abs() <= 1e-6 * x.abs().max(1.0), "eval rule: {x} -> {y}, expected {expected}");
    }
    let mut mean = vec![0f64; N];
    let steps = 400;
    let mut l = layer(p);
    for step in 0..steps {
        let y = l.forward(&x, &train(step)).unwrap();
        mean.iter_mut().zip(y.data()).for_each(|(m, &y)| *m += y as f64 / steps as f64);
    }
    let err = mean.iter().zip(eval.data()).map(|(m, &e)| (m - e as f64).abs()).fold(0.0, f64::max);
    let max_x = x.data().iter().fold(0f32, |m, &v| m.max(v.abs())) as f64;
    // Each mean is of 400 draws of 0 or x: 5 standard deviations of |x| sqrt(p (1-p) / 400).
    assert!(err < 5.0 * max_x * (p * (1.0 - p) / steps as f64).sqrt(), "training averages to eval: {err}");
    let relu_out = layer(0.0).forward(&x, &train(1)).unwrap().clone();
    assert!(x.data().iter().zip(relu_out.data()).all(|(&x, &y)| y == relu(x)), "p = 0 is a ReLU");
    let identity = layer(1.0).forward(&x, &train(1)).unwrap().clone();
    assert_eq!(identity, x, "p = 1 passes everything through");
}

#[test]
fn the_gradient_follows_the_forward_mask_and_checks_against_finite_differences() {
    let (p, x) = (0.5, input());
    let mut l = layer(p);
    let y = l.forward(&x, &train(7)).unwrap().clone();
    let dy = Tensor::from_vec((0..N).map(|i| ((i % 13) as f32 - 6.0) / 7.0).collect(), &[64, 512]).unwrap();
    let dx = l.backward(&x, &dy, &train(7)).unwrap().clone();
    for i in 0..N {
        // The slope of this unit in this pass is y / x: 1 (passed or positive) or 0 (ReLU kept).
        let slope = y.data()[i] / x.data()[i];
        assert_eq!(dx.data()[i], dy.data()[i] * slope, "unit {i}");
    }
    // Finite differences of L = sum(dy * y) at a few units, the mask fixed by the step.
    let h = 1e-3f32;
    for i in [0, 17, 1000, N - 1] {
        let mut xp = x.clone();
        xp.data_mut()[i] += h;
        let mut xm = x.clone();
        xm.data_mut()[i] -= h;
        let loss = |t: &Tensor| -> f64 {
            let y = layer(p).forward(t, &train(7)).unwrap().clone();
            y.data().iter().zip(dy.data()).map(|(&a, &b)| a as f64 * b as f64).sum()
        };
        let numeric = (loss(&xp) - loss(&xm)) / (2.0 * h as f64);
        assert!((numeric - dx.data()[i] as f64).abs() < 1e-2, "unit {i}: {numeric} vs {}", dx.data()[i]);
    }
}

#[test]
fn the_same_key_gives_the_same_mask_on_any_thread_count_and_mc_samples_differ() {
    let x = input();
    let run = |threads: usize, ctx: Ctx| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| layer(0.3).forward(&x, &ctx).unwrap().clone())
    };
    assert_eq!(run(1, train(3)), run(2, train(3)));
    let mc = |sample| run(2, Ctx::new(Mode::MonteCarlo { sample }, 21, 0));
    assert_eq!(mc(1), mc(1));
    assert_ne!(mc(1), mc(2));
}

#[test]
fn without_dropout_it_is_the_relu_it_stands_for() {
    assert_eq!(spec::without_dropout("dense(64) drop_activation(0.3) dense(10)").unwrap(), "dense(64) relu dense(10)");
    assert_eq!(
        spec::with_dropout_variant("dense(64, relu) dropout(0.5) dense(10)", "drop_activation").unwrap(),
        "dense(64, relu) drop_activation(0.5) dense(10)"
    );
}
