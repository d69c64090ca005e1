//! The dropout variants against the properties every variant must have (DESIGN.md): mean
//! preserved in training, drop fraction within binomial bounds, the eval rule, p = 0 and
//! p = 1, the mask's structure, gradient = mask x upstream gradient, the same mask with 1 and
//! 2 threads; plus each variant's own property.

use dropkit::dropout::{
    AlphaDropout, AlphaKind, DropConnect, DropConnectEval, DropConnectOptions, GaussianDropout, GaussianNoise,
    NoiseShapeDropout,
};
use dropkit::layer::{Ctx, Layer, Mode};
use dropkit::model::Sequential;
use dropkit::nn::ActivationKind;
use dropkit::rng::Stream;
use dropkit::tensor::Tensor;

fn train() -> Ctx {
    Ctx::new(Mode::Train, 21, 5)
}

fn built(mut layer: Box<dyn Layer>, sample: &[usize]) -> Box<dyn Layer> {
    layer.build(sample, 3, &mut Stream::new(0, 0, 0)).unwrap();
    layer
}

fn filled(shape: &[usize], v: f32) -> Tensor {
    Tensor::from_vec(vec![v; shape.iter().product()], shape).unwrap()
}

fn normal(shape: &[usize], seed: u64) -> Tensor {
    let mut s = Stream::new(seed, 9, 0);
    Tensor::from_vec((0..shape.iter().product()).map(|_| s.normal()).collect(), shape).unwrap()
}

fn mean_var(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    (mean, v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n)
}

/// |fraction - p| within 5 binomial standard deviations.
fn assert_fraction(dropped: usize, n: usize, p: f64, what: &str) {
    let f = dropped as f64 / n as f64;
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    assert!((f - p).abs() <= 5.0 * sd + 1e-9, "{what}: dropped {f:.4}, expected {p} +- {:.4}", 5.0 * sd);
}

fn forward(layer: &mut dyn Layer, x: &Tensor, ctx: &Ctx) -> Tensor {
    layer.forward(x, ctx).unwrap().clone()
}

fn with_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap().install(f)
}

#[test]
fn spatial_dropout_drops_whole_channels() {
    let p = 0.3;
    for (dims, sample) in [(1, vec![32, 7]), (2, vec![32, 5, 5]), (3, vec![32, 2, 3, 3])] {
        let shape = [&[16], &sample[..]].concat();
        let mut layer = built(Box::new(NoiseShapeDropout::spatial(p, dims).unwrap()), &sample);
        let x = filled(&shape, 1.0);
        let y = forward(layer.as_mut(), &x, &train());
        let per_channel: usize = sample[1..].iter().product();
        let mut dropped = 0;
        for channel in y.data().chunks(per_channel) {
            let first = channel[0];
            assert!(channel.iter().all(|&v| v == first), "spatial_dropout{dims}d: a channel is partly dropped");
            assert!(first == 0.0 || (first - 1.0 / (1.0 - p as f32)).abs() < 1e-6);
            dropped += (first == 0.0) as usize;
        }
        assert_fraction(dropped, 16 * 32, p, &format!("spatial_dropout{dims}d"));
        // Gradient = mask x upstream gradient.
        let dx = layer.backward(&x, &x, &train()).unwrap();
        assert_eq!(dx.data(), y.data());
        assert_eq!(forward(layer.as_mut(), &x, &Ctx::new(Mode::Eval, 21, 5)).data(), x.data());
    }
    let mut wrong = NoiseShapeDropout::spatial(0.2, 2).unwrap();
    assert!(wrong.build(&[784], 0, &mut Stream::new(0, 0, 0)).unwrap_err().to_string().contains("spatial"));
}

#[test]
fn noise_shape_shares_the_mask_along_broadcast_axes() {
    // Axis 0 (the batch): every sample gets the same mask.
    let mut layer = built(Box::new(NoiseShapeDropout::new(0.5, vec![0]).unwrap()), &[64]);
    let y = forward(layer.as_mut(), &filled(&[4, 64], 1.0), &train());
    let rows: Vec<&[f32]> = y.data().chunks(64).collect();
    assert!(rows.iter().all(|r| r == &rows[0]));
    // Axis 1 of (B, T, F): the mask is locked over T, as variational RNN dropout needs.
    let mut layer = built(Box::new(NoiseShapeDropout::new(0.5, vec![1]).unwrap()), &[10, 8]);
    let y = forward(layer.as_mut(), &filled(&[3, 10, 8], 1.0), &train());
    for sample in y.data().chunks(80) {
        let steps: Vec<&[f32]> = sample.chunks(8).collect();
        assert!(steps.iter().all(|s| s == &steps[0]), "the mask changed across time steps");
    }
    // Mean preserved and p = 0, p = 1.
    let mut layer = built(Box::new(NoiseShapeDropout::new(0.4, vec![2]).unwrap()), &[200, 4]);
    let (m, _) = mean_var(forward(layer.as_mut(), &filled(&[100, 200, 4], 1.0), &train()).data());
    assert!((m - 1.0).abs() < 0.02, "mean {m}");
    let x = normal(&[4, 6, 5], 1);
    let mut keep_all = built(Box::new(NoiseShapeDropout::new(0.0, vec![2]).unwrap()), &[6, 5]);
    assert_eq!(forward(keep_all.as_mut(), &x, &train()).data(), x.data());
    let mut drop_all = built(Box::new(NoiseShapeDropout::new(1.0, vec![2]).unwrap()), &[6, 5]);
    assert!(forward(drop_all.as_mut(), &x, &train()).data().iter().all(|&v| v == 0.0));
}

#[test]
fn gaussian_dropout_has_mean_one_and_variance_p_over_1_minus_p() {
    let p = 0.3;
    let mut layer = built(Box::new(GaussianDropout::new(p).unwrap()), &[1000]);
    let x = filled(&[1000, 1000], 1.0);
    let y = forward(layer.as_mut(), &x, &train());
    let (m, v) = mean_var(y.data());
    assert!((m - 1.0).abs() < 0.003 && (v - p / (1.0 - p)).abs() < 0.003, "mean {m} var {v}");
    let dx = layer.backward(&x, &x, &train()).unwrap();
    assert_eq!(dx.data(), y.data(), "gradient = noise x upstream gradient");
    assert_eq!(forward(layer.as_mut(), &x, &Ctx::new(Mode::Eval, 21, 5)).data(), x.data());
    let mut none = built(Box::new(GaussianDropout::new(0.0).unwrap()), &[1000]);
    assert_eq!(forward(none.as_mut(), &x, &train()).data(), x.data());
    assert!(GaussianDropout::new(1.0).err().map(|e| e.to_string()).unwrap_or_default().contains("below 1"));
}

#[test]
fn gaussian_noise_adds_zero_mean_noise_of_the_given_deviation() {
    let mut layer = built(Box::new(GaussianNoise::new(0.5).unwrap()), &[1000]);
    let x = filled(&[1000, 1000], 2.0);
    let y = forward(layer.as_mut(), &x, &train());
    let (m, v) = mean_var(y.data());
    assert!((m - 2.0).abs() < 0.002 && (v - 0.25).abs() < 0.002, "mean {m} var {v}");
    assert_eq!(layer.backward(&x, &x, &train()).unwrap().data(), x.data(), "dy/dx = 1");
    assert_eq!(forward(layer.as_mut(), &x, &Ctx::new(Mode::Eval, 21, 5)).data(), x.data());
    assert!(GaussianNoise::new(-1.0).is_err());
}

#[test]
fn alpha_dropout_keeps_mean_and_variance_of_standardized_input() {
    for p in [0.05, 0.1, 0.2] {
        let mut layer = built(Box::new(AlphaDropout::new(p, AlphaKind::Units).unwrap()), &[1000]);
        let x = normal(&[1000, 1000], 4);
        let y = forward(layer.as_mut(), &x, &train());
        let (m, v) = mean_var(y.data());
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01, "p {p}: mean {m} var {v}");
        // Dropped units sit at a' * a + b; the fraction is binomial.
        let (a, b) = layer_affine(p);
        let saturated = a * dropkit::dropout::alpha::ALPHA_PRIME as f32 + b;
        let dropped = y.data().iter().filter(|&&v| v == saturated).count();
        assert_fraction(dropped, y.len(), p, "alpha_dropout");
        // Gradient = a * mask * upstream gradient.
        let ones = filled(&[1000, 1000], 1.0);
        let dx = layer.backward(&x, &ones, &train()).unwrap();
        for (&g, &out) in dx.data().iter().zip(y.data()).take(10_000) {
            assert_eq!(g, if out == saturated { 0.0 } else { a });
        }
        assert_eq!(forward(layer.as_mut(), &x, &Ctx::new(Mode::Eval, 21, 5)).data(), x.data());
    }
    // Feature alpha dropout saturates whole channels.
    let mut layer = built(Box::new(AlphaDropout::new(0.3, AlphaKind::Features).unwrap()), &[20, 6]);
    let y = forward(layer.as_mut(), &normal(&[50, 20, 6], 5), &train());
    let (a, b) = layer_affine(0.3);
    let saturated = a * dropkit::dropout::alpha::ALPHA_PRIME as f32 + b;
    let mut dropped = 0;
    for channel in y.data().chunks(6) {
        let n = channel.iter().filter(|&&v| v == saturated).count();
        assert!(n == 0 || n == 6, "a channel is partly dropped");
        dropped += (n == 6) as usize;
    }
    assert_fraction(dropped, 1000, 0.3, "feature_alpha_dropout");
}

fn layer_affine(p: f64) -> (f32, f32) {
    AlphaDropout::new(p, AlphaKind::Units).unwrap().affine()
}

#[test]
fn selu_with_lecun_normal_keeps_a_deep_stack_normalized() {
    let spec = "dense(256, selu) dense(256, selu) dense(256, selu) dense(256, selu) dense(256, selu) dense(256, selu)";
    let mut model = Sequential::from_spec(spec, &[256], 3).unwrap();
    let x = normal(&[2000, 256], 6);
    let y = model.forward(&x, &Ctx::new(Mode::Eval, 3, 0)).unwrap();
    let (m, v) = mean_var(y.data());
    assert!(m.abs() < 0.1 && (v - 1.0).abs() < 0.15, "after 6 SELU layers: mean {m} var {v}");
}

#[test]
fn every_variant_gives_the_same_output_with_1_and_2_threads() {
    let specs = [
        "noise_dropout(0.3, 2)",
        "spatial_dropout2d(0.3)",
        "gaussian_dropout(0.3)",
        "gaussian_noise(0.2)",
        "alpha_dropout(0.1)",
        "feature_alpha_dropout(0.1)",
        "dropconnect(16, 0.5)",
        "dropconnect(8, 0.5, relu, per_example)",
        "droppath(0.3)",
        "dropblock(0.2, 5)",
    ];
    let x = normal(&[64, 8, 40, 40], 7);
    for spec in specs {
        let run = || {
            let mut m = Sequential::from_spec(spec, &[8, 40, 40], 9).unwrap();
            m.forward(&x, &Ctx::new(Mode::Train, 9, 2)).unwrap().clone()
        };
        let one = with_threads(1, run);
        assert_eq!(one, with_threads(2, run), "{spec}");
        assert_ne!(one.data(), x.data(), "{spec} changed nothing");
        // Monte Carlo samples differ from each other and reproduce.
        let mc = |sample| {
            let mut m = Sequential::from_spec(spec, &[8, 40, 40], 9).unwrap();
            m.forward(&x, &Ctx::new(Mode::MonteCarlo { sample }, 9, 0)).unwrap().clone()
        };
        assert_eq!(mc(1), mc(1), "{spec}");
        assert_ne!(mc(1), mc(2), "{spec}");
    }
}

fn dropconnect(p: f64, options: DropConnectOptions, inputs: usize) -> Box<dyn Layer> {
    built(Box::new(DropConnect::new(64, p, options).unwrap()), &[inputs])
}

#[test]
fn dropconnect_drops_weights_once_per_minibatch_or_per_example() {
    let p = 0.4;
    // Identity inputs read the masked weights out: y[i][j] = W[j][i] * m / (1 - p) (bias 0).
    let eye = Tensor::from_vec((0..32 * 32).map(|k| (k / 32 == k % 32) as u8 as f32).collect(), &[32, 32]).unwrap();
    let mut layer = dropconnect(p, DropConnectOptions::default(), 32);
    let w = forward(layer.as_mut(), &eye, &Ctx::new(Mode::Eval, 21, 5)); // the plain weights
    let y = forward(layer.as_mut(), &eye, &train());
    let mut dropped = 0;
    for (&masked, &plain) in y.data().iter().zip(w.data()) {
        if masked == 0.0 {
            dropped += 1;
        } else {
            assert!((masked - plain / (1.0 - p as f32)).abs() < 1e-6);
        }
    }
    assert_fraction(dropped, 32 * 64, p, "dropconnect weights");
    // Gradient through the masked weights: dx = dy (W * M / (1 - p)); with dy = e_j, dx reads row j.
    let x = normal(&[2, 32], 3);
    let same = Tensor::from_vec([x.row(0), x.row(0)].concat(), &[2, 32]).unwrap();
    let y = forward(layer.as_mut(), &same, &train());
    assert_eq!(y.row(0), y.row(1), "one mask per minibatch");
    let per_example = DropConnectOptions { per_example: true, ..DropConnectOptions::default() };
    let mut layer = dropconnect(p, per_example, 32);
    let y = forward(layer.as_mut(), &same, &train());
    assert_ne!(y.row(0), y.row(1), "a mask per example");
}

#[test]
fn dropconnect_eval_by_mean_field_and_by_wans_sampling() {
    let relu = Some(ActivationKind::Relu);
    let x = normal(&[16, 32], 8);
    let eval = Ctx::new(Mode::Eval, 21, 5);
    let mean_field = DropConnectOptions { activation: relu, ..DropConnectOptions::default() };
    let mut mf = dropconnect(0.5, mean_field, 32);
    let mf_y = forward(mf.as_mut(), &x, &eval);
    // Mean field is relu(x W^T + b): the p = 0 layer in any mode.
    let mut plain = dropconnect(0.0, mean_field, 32);
    assert_eq!(forward(plain.as_mut(), &x, &train()).data(), mf_y.data());
    // Wan's sampling approximates the average over random weight masks.
    let sampling = DropConnectOptions { eval: DropConnectEval::Sampling(4000), ..mean_field };
    let mut wan = dropconnect(0.5, sampling, 32);
    let wan_y = forward(wan.as_mut(), &x, &eval);
    let mut mc_mean = vec![0f64; wan_y.len()];
    for sample in 0..2000 {
        let y = forward(wan.as_mut(), &x, &Ctx::new(Mode::MonteCarlo { sample }, 21, 0));
        mc_mean.iter_mut().zip(y.data()).for_each(|(m, &v)| *m += v as f64 / 2000.0);
    }
    // Mean absolute differences (the Monte Carlo average itself has a standard error near 0.02).
    let n = mc_mean.len() as f64;
    let err = wan_y.data().iter().zip(&mc_mean).map(|(&a, &b)| (a as f64 - b).abs()).sum::<f64>() / n;
    let gap = mf_y.data().iter().zip(&mc_mean).map(|(&a, &b)| (a as f64 - b).abs()).sum::<f64>() / n;
    assert!(err < 0.03 && gap > 3.0 * err, "sampling off by {err}, mean field off by {gap}");
    assert!(DropConnect::new(8, 0.5, DropConnectOptions { eval: DropConnectEval::Sampling(0), ..mean_field }).is_err());
}

#[test]
fn droppath_drops_whole_samples() {
    let mut layer = built(Box::new(NoiseShapeDropout::per_sample(0.25).unwrap()), &[4, 5, 5]);
    let x = filled(&[400, 4, 5, 5], 1.0);
    let y = forward(layer.as_mut(), &x, &train());
    let mut dropped = 0;
    for sample in y.data().chunks(100) {
        assert!(sample.iter().all(|&v| v == sample[0]), "a sample is partly dropped");
        dropped += (sample[0] == 0.0) as usize;
    }
    assert_fraction(dropped, 400, 0.25, "droppath");
    assert_eq!(layer.backward(&x, &x, &train()).unwrap().data(), y.data());
}

#[test]
fn dropblock_drops_square_blocks_keeps_the_mean_and_ramps_its_rate() {
    use dropkit::dropout::DropBlock;
    let (h, w, bs) = (16, 16, 3);
    let mut layer = built(Box::new(DropBlock::new(0.2, bs, 100).unwrap()), &[8, h, w]);
    let x = filled(&[32, 8, h, w], 1.0);
    let late = Ctx::new(Mode::Train, 21, 500);
    let y = forward(layer.as_mut(), &x, &late);
    let (m, _) = mean_var(y.data());
    assert!((m - 1.0).abs() < 1e-4, "mean {m}");
    let zeros = y.data().iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!((0.12..0.25).contains(&zeros), "dropped fraction {zeros} (about 0.2, less where blocks overlap)");
    // Every dropped unit lies in an all-zero block x block square.
    for plane in y.data().chunks(h * w) {
        for i in 0..h {
            for j in 0..w {
                if plane[i * w + j] != 0.0 {
                    continue;
                }
                let covered = (i.saturating_sub(bs - 1)..=i.min(h - bs)).any(|ci| {
                    (j.saturating_sub(bs - 1)..=j.min(w - bs))
                        .any(|cj| (ci..ci + bs).all(|a| (cj..cj + bs).all(|b| plane[a * w + b] == 0.0)))
                });
                assert!(covered, "unit ({i}, {j}) dropped outside any block");
            }
        }
    }
    let dx = layer.backward(&x, &x, &late).unwrap();
    assert_eq!(dx.data(), y.data(), "gradient = mask x upstream gradient");
    // The linear schedule: nothing drops at step 0, about half the rate at step 50.
    assert_eq!(forward(layer.as_mut(), &x, &Ctx::new(Mode::Train, 21, 0)).data(), x.data());
    let half = forward(layer.as_mut(), &x, &Ctx::new(Mode::Train, 21, 50));
    let zeros_half = half.data().iter().filter(|&&v| v == 0.0).count() as f64 / half.len() as f64;
    assert!(zeros_half < zeros * 0.75 && zeros_half > 0.03, "{zeros_half} at step 50 vs {zeros} at full rate");
    assert_eq!(forward(layer.as_mut(), &x, &Ctx::new(Mode::Eval, 21, 500)).data(), x.data());
}

#[test]
fn embedding_dropout_drops_whole_words_everywhere_in_the_batch() {
    use dropkit::dropout::Embedding;
    let (vocab, dim, p) = (2000, 4, 0.3);
    let mut layer = built(Box::new(Embedding::new(vocab, dim, p).unwrap()), &[50]);
    // Every word appears twice: in sample 0 and, reversed, in sample 1.
    let ids: Vec<f32> = (0..vocab).map(|v| v as f32).collect();
    let rev: Vec<f32> = ids.iter().rev().copied().collect();
    let mut layer_all = built(Box::new(Embedding::new(vocab, dim, p).unwrap()), &[vocab]);
    let x = Tensor::from_vec([ids.clone(), rev].concat(), &[2, vocab]).unwrap();
    let y = forward(layer_all.as_mut(), &x, &train());
    let plain = forward(layer_all.as_mut(), &x, &Ctx::new(Mode::Eval, 21, 5));
    let mut dropped = 0;
    for v in 0..vocab {
        let a = &y.data()[v * dim..(v + 1) * dim];
        let b = &y.data()[(vocab + vocab - 1 - v) * dim..(vocab + vocab - v) * dim];
        assert_eq!(a, b, "word {v} differs between its occurrences");
        let e = &plain.data()[v * dim..(v + 1) * dim];
        if a.iter().all(|&x| x == 0.0) {
            dropped += 1;
        } else {
            assert!(a.iter().zip(e).all(|(&k, &e)| (k - e / (1.0 - p as f32)).abs() < 1e-6));
        }
    }
    assert_fraction(dropped, vocab, p, "embedding dropout");
    // dE[v] = sum of dy over v's occurrences, times v's mask and scale.
    let dy = filled(&[2, vocab, dim], 1.0);
    layer_all.backward(&x, &dy, &train()).unwrap();
    let mut grad = Vec::new();
    layer_all.visit_params(&mut |_, prm| grad = prm.grad.data().to_vec());
    for v in 0..vocab {
        let kept = y.data()[v * dim] != 0.0;
        let want = if kept { 2.0 / (1.0 - p as f32) } else { 0.0 };
        assert!(grad[v * dim..(v + 1) * dim].iter().all(|&g| (g - want).abs() < 1e-5), "word {v}");
    }
    let bad = Tensor::from_vec(vec![3.5; 50], &[1, 50]).unwrap();
    assert!(layer.forward(&bad, &train()).is_err(), "a non-integer id is an error");
    let too_big = Tensor::from_vec(vec![vocab as f32; 50], &[1, 50]).unwrap();
    assert!(layer.forward(&too_big, &train()).is_err(), "an id outside the vocabulary is an error");
}

#[test]
fn droppath_in_a_residual_block_skips_the_branch_for_whole_samples() {
    let spec = "residual(dense(16, tanh) dense(16) droppath(0.5))";
    let mut model = Sequential::from_spec(spec, &[16], 4).unwrap();
    let x = normal(&[300, 16], 12);
    let eval = model.forward(&x, &Ctx::new(Mode::Eval, 4, 0)).unwrap().clone();
    let y = model.forward(&x, &Ctx::new(Mode::Train, 4, 7)).unwrap().clone();
    let mut skipped = 0;
    for ((yr, xr), er) in y.data().chunks(16).zip(x.data().chunks(16)).zip(eval.data().chunks(16)) {
        if yr == xr {
            skipped += 1; // the branch dropped: y = x
        } else {
            // y = x + 2 f(x) where eval gives x + f(x).
            for ((&a, &b), &e) in yr.iter().zip(xr).zip(er) {
                assert!((a - (b + 2.0 * (e - b))).abs() < 1e-5);
            }
        }
    }
    assert_fraction(skipped, 300, 0.5, "droppath in residual");
    let err = Sequential::from_spec("residual(dense(8))", &[16], 1).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("keep the shape"), "{err}");
}

#[test]
fn variational_rnn_masks_are_locked_over_time_and_new_per_sequence() {
    use dropkit::dropout::{Cell, Recurrent, RnnOptions};
    for cell in [Cell::Lstm, Cell::Gru] {
        let options = RnnOptions { dropout: 0.5, recurrent_dropout: 0.5, sequences: false };
        let mut layer = built(Box::new(Recurrent::new(cell, 8, options).unwrap()), &[6, 10]);
        let x = normal(&[5, 6, 10], 3);
        let y = forward(layer.as_mut(), &x, &train());
        // The input gradient is zero exactly where the input mask dropped a feature.
        let dx = layer.backward(&x, &filled(y.shape(), 1.0), &train()).unwrap().clone();
        // The gradients replaced the saved gates: a second backward needs a new forward pass.
        let again = layer.backward(&x, &filled(y.shape(), 1.0), &train()).err().map(|e| e.to_string());
        assert!(again.unwrap_or_default().contains("after a forward pass"), "{cell:?}: a second backward ran");
        let mut patterns = Vec::new();
        for sample in dx.data().chunks(60) {
            let steps: Vec<Vec<bool>> = sample.chunks(10).map(|s| s.iter().map(|&g| g == 0.0).collect()).collect();
            assert!(steps.iter().all(|s| s == &steps[0]), "{cell:?}: the input mask changed across time steps");
            assert!(steps[0].iter().any(|&z| z) && steps[0].iter().any(|&z| !z), "{cell:?}: p = 0.5 drops some");
            patterns.push(steps[0].clone());
        }
        assert_eq!(patterns.len(), 5);
        assert!(patterns.iter().any(|p| p != &patterns[0]), "{cell:?}: every sequence got the same mask");
        // Eval is deterministic; Monte Carlo samples differ.
        let eval = Ctx::new(Mode::Eval, 21, 0);
        assert_eq!(forward(layer.as_mut(), &x, &eval), forward(layer.as_mut(), &x, &eval));
        let mc = |s| Ctx::new(Mode::MonteCarlo { sample: s }, 21, 0);
        assert_ne!(forward(layer.as_mut(), &x, &mc(1)), forward(layer.as_mut(), &x, &mc(2)));
    }
    let err = Sequential::from_spec("lstm(8)", &[784], 1).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("time steps"), "{err}");
}
