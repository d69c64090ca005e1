//! Finite-difference gradient checks of every layer, the loss and a whole model
//! (central differences in f64 around f32 parameters).

use dropkit::dropout::{Dropout, Scaling};
use dropkit::layer::{Ctx, Layer, Mode};
use dropkit::loss::CrossEntropy;
use dropkit::model::Sequential;
use dropkit::nn::{Activation, ActivationKind, BatchNorm, Linear, Softmax};
use dropkit::rng::Stream;
use dropkit::tensor::Tensor;

const B: usize = 4;
const D: usize = 6;

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut s = Stream::new(seed, 0, 0);
    Tensor::from_vec((0..shape.iter().product()).map(|_| s.uniform() * 2.0 - 1.0).collect(), shape).unwrap()
}

fn ctx() -> Ctx {
    Ctx::new(Mode::Train, 77, 3)
}

/// L = sum(y * r) for a fixed random r, so dL/dy = r.
fn objective(layer: &mut dyn Layer, x: &Tensor, r: &Tensor, ctx: &Ctx) -> f64 {
    let y = layer.forward(x, ctx).unwrap();
    y.data().iter().zip(r.data()).map(|(a, b)| *a as f64 * *b as f64).sum()
}

fn close(analytic: f32, numeric: f64, what: &str) {
    let err = (analytic as f64 - numeric).abs() / (1e-2 + analytic.abs() as f64 + numeric.abs());
    assert!(err < 2e-2, "{what}: analytic {analytic} vs numeric {numeric}");
}

fn check_layer(layer: Box<dyn Layer>, name: &str) {
    check_layer_in(layer, name, &[D], ctx());
}

/// Checks dx and every parameter gradient of `layer` on inputs of per-sample `shape`.
fn check_layer_in(mut layer: Box<dyn Layer>, name: &str, shape: &[usize], ctx: Ctx) {
    let out = layer.build(shape, 1, &mut Stream::new(5, 1, 0)).unwrap();
    let x = random(&[&[B], shape].concat(), 1);
    let r = random(&[B, out.iter().product()], 2);
    layer.forward(&x, &ctx).unwrap();
    let dx = layer.backward(&x, &r, &ctx).unwrap().clone();
    let eps = 1e-2f32;
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp.data_mut()[i] += eps;
        xm.data_mut()[i] -= eps;
        let num =
            (objective(layer.as_mut(), &xp, &r, &ctx) - objective(layer.as_mut(), &xm, &r, &ctx)) / (2.0 * eps as f64);
        close(dx.data()[i], num, &format!("{name} dx[{i}]"));
    }
    // Parameter gradients: recompute analytic ones at x, then perturb each parameter.
    layer.forward(&x, &ctx).unwrap();
    layer.backward(&x, &r, &ctx).unwrap();
    let mut grads = Vec::new();
    layer.visit_params(&mut |n, p| grads.push((n.to_string(), p.grad.data().to_vec())));
    for (pi, (pname, grad)) in grads.iter().enumerate() {
        for (j, &g) in grad.iter().enumerate() {
            let shift = |delta: f32, layer: &mut dyn Layer| {
                let mut k = 0;
                layer.visit_params(&mut |_, p| {
                    if k == pi {
                        p.value.data_mut()[j] += delta;
                    }
                    k += 1;
                });
            };
            shift(eps, layer.as_mut());
            let lp = objective(layer.as_mut(), &x, &r, &ctx);
            shift(-2.0 * eps, layer.as_mut());
            let lm = objective(layer.as_mut(), &x, &r, &ctx);
            shift(eps, layer.as_mut());
            close(g, (lp - lm) / (2.0 * eps as f64), &format!("{name} {pname}[{j}]"));
        }
    }
}

#[test]
fn linear_gradients() {
    check_layer(Box::new(Linear::new(5).unwrap()), "dense");
}

#[test]
fn activation_gradients() {
    // ReLU's kink: inputs are uniform in [-1, 1], none within eps of 0 for this seed.
    check_layer(Box::new(Activation::new(ActivationKind::Relu)), "relu");
    check_layer(Box::new(Activation::new(ActivationKind::Sigmoid)), "sigmoid");
    check_layer(Box::new(Activation::new(ActivationKind::Tanh)), "tanh");
}

#[test]
fn softmax_gradients() {
    check_layer(Box::new(Softmax::new()), "softmax");
}

#[test]
fn dropout_gradients() {
    check_layer(Box::new(Dropout::new(0.4, Scaling::Inverted).unwrap()), "dropout");
    check_layer(Box::new(Dropout::new(0.4, Scaling::Classic).unwrap()), "classic_dropout");
}

#[test]
fn dropout_variant_gradients() {
    use dropkit::dropout::{AlphaDropout, AlphaKind, GaussianDropout, GaussianNoise, NoiseShapeDropout};
    check_layer(Box::new(GaussianDropout::new(0.3).unwrap()), "gaussian_dropout");
    check_layer(Box::new(GaussianNoise::new(0.2).unwrap()), "gaussian_noise");
    check_layer(Box::new(AlphaDropout::new(0.2, AlphaKind::Units).unwrap()), "alpha_dropout");
    check_layer_in(Box::new(AlphaDropout::new(0.3, AlphaKind::Features).unwrap()), "feature_alpha", &[3, 2], ctx());
    check_layer_in(Box::new(NoiseShapeDropout::spatial(0.4, 2).unwrap()), "spatial_dropout2d", &[3, 2, 2], ctx());
    check_layer_in(Box::new(NoiseShapeDropout::new(0.4, vec![1]).unwrap()), "noise_dropout", &[3, 4], ctx());
    check_layer(Box::new(Activation::new(ActivationKind::Selu)), "selu");
    use dropkit::dropout::{DropConnect, DropConnectOptions};
    let tanh = DropConnectOptions { activation: Some(ActivationKind::Tanh), ..DropConnectOptions::default() };
    check_layer(Box::new(DropConnect::new(5, 0.4, tanh).unwrap()), "dropconnect");
    let each = DropConnectOptions { per_example: true, ..tanh };
    check_layer(Box::new(DropConnect::new(5, 0.4, each).unwrap()), "dropconnect per example");
}

#[test]
fn convolution_pooling_and_flatten_gradients() {
    use dropkit::nn::{Conv, Flatten, Pool, PoolKind};
    check_layer_in(Box::new(Conv::new(2, 3, 3, 1, 1).unwrap()), "conv2d same", &[2, 5, 4], ctx());
    check_layer_in(Box::new(Conv::new(2, 2, 2, 2, 0).unwrap()), "conv2d stride 2", &[3, 4, 5], ctx());
    check_layer_in(Box::new(Conv::new(1, 3, 3, 2, 1).unwrap()), "conv1d", &[2, 7], ctx());
    check_layer_in(Box::new(Pool::new(PoolKind::Average, 2, 2, 2).unwrap()), "avgpool2d", &[2, 4, 4], ctx());
    check_layer_in(Box::new(Pool::new(PoolKind::Average, 1, 3, 1).unwrap()), "avgpool1d", &[2, 6], ctx());
    check_layer_in(Box::new(Flatten::default()), "flatten", &[2, 3, 2], ctx());
}

#[test]
fn max_pooling_routes_the_gradient_to_each_window_maximum() {
    use dropkit::nn::{Pool, PoolKind};
    let mut pool = Pool::new(PoolKind::Max, 2, 2, 2).unwrap();
    pool.build(&[1, 4, 4], 0, &mut Stream::new(0, 0, 0)).unwrap();
    // Distinct values; the maximum of each 2x2 window is known.
    let x = Tensor::from_vec(vec![1., 9., 2., 3., 4., 5., 8., 6., 7., 0., 10., 11., 12., 13., 15., 14.], &[1, 1, 4, 4])
        .unwrap();
    let y = pool.forward(&x, &ctx()).unwrap().clone();
    assert_eq!(y.data(), &[9., 8., 13., 15.]);
    let dy = Tensor::from_vec(vec![1., 2., 3., 4.], &[1, 1, 2, 2]).unwrap();
    let dx = pool.backward(&x, &dy, &ctx()).unwrap();
    let want = [0., 1., 0., 0., 0., 0., 2., 0., 0., 0., 0., 0., 0., 3., 4., 0.];
    assert_eq!(dx.data(), &want);
}

#[test]
#[allow(clippy::needless_range_loop)] // the direct sum reads like its formula
fn convolution_gradients_over_several_sample_groups_match_direct_sums() {
    // 19 samples: groups of 8, 8 and 3 summed into the weight and bias gradients.
    use dropkit::nn::Conv;
    let (n, c, h, w, f, k, s, p) = (19, 2, 6, 5, 3, 3, 2, 1);
    let mut conv = Conv::new(2, f, k, s, p).unwrap();
    let out = conv.build(&[c, h, w], 0, &mut Stream::new(3, 1, 0)).unwrap();
    let (ho, wo) = (out[1], out[2]);
    let x = random(&[n, c, h, w], 9);
    let dy = random(&[n, f, ho, wo], 10);
    conv.forward(&x, &ctx()).unwrap();
    let dx = conv.backward(&x, &dy, &ctx()).unwrap().clone();
    let mut params = Vec::new();
    conv.visit_params(&mut |_, prm| params.push((prm.value.data().to_vec(), prm.grad.data().to_vec())));
    let (wt, (dw, db)) = (&params[0].0, (&params[0].1, &params[1].1));
    let (mut want_dw, mut want_db, mut want_dx) = (vec![0f64; dw.len()], vec![0f64; f], vec![0f64; x.len()]);
    for b in 0..n {
        for o in 0..f {
            for i in 0..ho {
                for j in 0..wo {
                    let g = dy.data()[((b * f + o) * ho + i) * wo + j] as f64;
                    want_db[o] += g;
                    for ch in 0..c {
                        for ki in 0..k {
                            for kj in 0..k {
                                let (yi, xj) = ((i * s + ki) as isize - p as isize, (j * s + kj) as isize - p as isize);
                                if yi >= 0 && xj >= 0 && (yi as usize) < h && (xj as usize) < w {
                                    let at = ((b * c + ch) * h + yi as usize) * w + xj as usize;
                                    let wi = ((o * c + ch) * k + ki) * k + kj;
                                    want_dw[wi] += g * x.data()[at] as f64;
                                    want_dx[at] += g * wt[wi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    for (name, got, want) in [("dW", &dw[..], &want_dw), ("db", &db[..], &want_db), ("dx", dx.data(), &want_dx)] {
        for (i, (&g, &e)) in got.iter().zip(want).enumerate() {
            assert!((g as f64 - e).abs() < 1e-4 * (1.0 + e.abs()), "{name}[{i}] = {g}, direct sum {e}");
        }
    }
}

#[test]
fn convolution_matches_a_direct_sum() {
    use dropkit::nn::Conv;
    let (c, h, w, f, k, s, p) = (2, 6, 5, 3, 3, 2, 1);
    let mut conv = Conv::new(2, f, k, s, p).unwrap();
    let out = conv.build(&[c, h, w], 0, &mut Stream::new(3, 1, 0)).unwrap();
    let (ho, wo) = (out[1], out[2]);
    assert_eq!((ho, wo), ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1));
    let x = random(&[2, c, h, w], 9);
    let y = conv.forward(&x, &ctx()).unwrap().clone();
    let mut weights = Vec::new();
    conv.visit_params(&mut |_, prm| weights.push(prm.value.data().to_vec()));
    let (wt, bias) = (&weights[0], &weights[1]);
    for b in 0..2 {
        for o in 0..f {
            for i in 0..ho {
                for j in 0..wo {
                    let mut sum = bias[o] as f64;
                    for ch in 0..c {
                        for ki in 0..k {
                            for kj in 0..k {
                                let (yi, xj) = ((i * s + ki) as isize - p as isize, (j * s + kj) as isize - p as isize);
                                if yi >= 0 && xj >= 0 && (yi as usize) < h && (xj as usize) < w {
                                    let xv = x.data()[((b * c + ch) * h + yi as usize) * w + xj as usize] as f64;
                                    sum += xv * wt[((o * c + ch) * k + ki) * k + kj] as f64;
                                }
                            }
                        }
                    }
                    let got = y.data()[((b * f + o) * ho + i) * wo + j] as f64;
                    assert!((got - sum).abs() < 1e-5, "y[{b},{o},{i},{j}] = {got}, direct sum {sum}");
                }
            }
        }
    }
}

#[test]
fn batchnorm_gradients_with_batch_and_running_statistics() {
    let bn = || Box::new(BatchNorm::new(0.1).unwrap());
    check_layer(bn(), "batchnorm1d train");
    check_layer_in(bn(), "batchnorm2d train", &[2, 3, 2], ctx());
    check_layer_in(bn(), "batchnorm1d eval", &[D], Ctx::new(Mode::Eval, 77, 3));
}

#[test]
fn layernorm_and_gelu_gradients() {
    let ln = || Box::new(dropkit::nn::LayerNorm::new(1e-5));
    check_layer(ln(), "layernorm");
    // A sequence of 3 positions of width 4: each position normalized on its own.
    check_layer_in(ln(), "layernorm (T, D)", &[3, 4], Ctx::new(Mode::Eval, 77, 3));
    check_layer(Box::new(dropkit::nn::Gelu::default()), "gelu");
    model_gradient("dense(6) layernorm gelu dropout(0.2) dense(6) layernorm dense(3)", 1e-2);
}

#[test]
fn layernorm_normalizes_each_row_and_matches_its_formula() {
    let mut ln = dropkit::nn::LayerNorm::new(1e-5);
    ln.build(&[2, 4], 1, &mut Stream::new(5, 1, 0)).unwrap();
    let x = Tensor::from_vec(
        vec![1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 0.0, 5.0, 2.0, 2.0, 2.0, 2.0, 0.5, 0.25, 0.0, -0.75],
        &[2, 2, 4],
    )
    .unwrap();
    let y = ln.forward(&x, &ctx()).unwrap();
    for row in y.data().chunks(4).take(3) {
        let mean = row.iter().sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6, "{row:?}");
    }
    // [1, 2, 3, 4]: mean 2.5, variance 1.25.
    let want = (1.0 - 2.5) / (1.25f32 + 1e-5).sqrt();
    assert!((y.data()[0] - want).abs() < 1e-6);
    // A constant row maps to the bias (0), not NaN.
    assert!(y.data()[8..12].iter().all(|v| v.abs() < 1e-6));
}

#[test]
fn residual_block_gradient() {
    model_gradient("dense(6) residual(dense(6, tanh) dense(6) droppath(0.3)) tanh dense(3)", 1e-2);
    let branch = dropkit::model::spec::parse("dense(6, tanh) dropout(0.2) dense(6)").unwrap().build_layers().unwrap();
    check_layer(
        Box::new(dropkit::nn::Residual::new(branch, "dense(6, tanh) dropout(0.2) dense(6)").unwrap()),
        "residual",
    );
}

#[test]
fn lstm_and_gru_gradients_with_variational_dropout() {
    use dropkit::dropout::{Cell, Recurrent, RnnOptions};
    for cell in [Cell::Lstm, Cell::Gru] {
        for sequences in [false, true] {
            let options = RnnOptions { dropout: 0.3, recurrent_dropout: 0.3, sequences };
            let name = format!("{cell:?} sequences={sequences}");
            check_layer_in(Box::new(Recurrent::new(cell, 3, options).unwrap()), &name, &[4, 2], ctx());
        }
    }
}

#[test]
fn variational_dense_gradients_and_its_kl_term() {
    use dropkit::dropout::VariationalDense;
    check_layer(Box::new(VariationalDense::new(4, 0).unwrap()), "variational_dense");
    // The KL term's gradient: the difference of the gradients with and without it equals the
    // numeric derivative of KL / N.
    let n = 50;
    let mut layer = VariationalDense::new(3, 0).unwrap();
    layer.build(&[D], 1, &mut Stream::new(5, 1, 0)).unwrap();
    // Spread log sigma^2 so that log alpha covers the interesting range.
    let mut k = 0;
    layer.visit_params(&mut |name, p| {
        if name == "log_sigma2" {
            for v in p.value.data_mut() {
                *v = -4.0 + 0.37 * k as f32 % 5.0;
                k += 1;
            }
        }
    });
    let x = random(&[B, D], 1);
    let r = random(&[B, 3], 2);
    let grads = |layer: &mut VariationalDense, data_size: usize| {
        let ctx = Ctx { data_size, ..ctx() };
        layer.forward(&x, &ctx).unwrap();
        layer.backward(&x, &r, &ctx).unwrap();
        let mut g = Vec::new();
        layer.visit_params(&mut |_, p| g.push(p.grad.data().to_vec()));
        g
    };
    let (with, without) = (grads(&mut layer, n), grads(&mut layer, 0));
    let eps = 1e-3f32;
    for pi in 0..2 {
        for j in 0..with[pi].len() {
            let shift = |delta: f32, layer: &mut VariationalDense| {
                let mut i = 0;
                layer.visit_params(&mut |_, p| {
                    if i == pi {
                        p.value.data_mut()[j] += delta;
                    }
                    i += 1;
                });
            };
            shift(eps, &mut layer);
            let up = layer.kl();
            shift(-2.0 * eps, &mut layer);
            let down = layer.kl();
            shift(eps, &mut layer);
            let numeric = (up - down) / (2.0 * eps as f64) / n as f64;
            close(with[pi][j] - without[pi][j], numeric, &format!("KL gradient of parameter {pi}[{j}]"));
        }
    }
}

#[test]
fn concrete_dropout_gradients_and_its_regularizer() {
    use dropkit::dropout::ConcreteDropout;
    check_layer(Box::new(ConcreteDropout::new(0.3).unwrap()), "concrete_dropout");
    // The regularizer's gradient: 2/N K (p log p + (1 - p) log(1 - p)) differentiated in rho.
    let n = 40;
    let mut layer = ConcreteDropout::new(0.3).unwrap();
    layer.build(&[D], 1, &mut Stream::new(5, 1, 0)).unwrap();
    let x = random(&[B, D], 1);
    let r = random(&[B, D], 2);
    let rho_grad = |layer: &mut ConcreteDropout, data_size: usize| {
        let ctx = Ctx { data_size, ..ctx() };
        layer.forward(&x, &ctx).unwrap();
        layer.backward(&x, &r, &ctx).unwrap();
        let mut g = 0.0;
        layer.visit_params(&mut |_, p| g = p.grad.data()[0]);
        g
    };
    let extra = rho_grad(&mut layer, n) - rho_grad(&mut layer, 0);
    let reg = |rho: f64| {
        let p = 1.0 / (1.0 + (-rho).exp());
        2.0 / n as f64 * D as f64 * (p * p.ln() + (1.0 - p) * (1.0 - p).ln())
    };
    let rho = (0.3f64 / 0.7).ln();
    close(extra, (reg(rho + 1e-4) - reg(rho - 1e-4)) / 2e-4, "concrete regularizer gradient");
}

#[test]
fn embedding_gradient_with_word_dropout() {
    use dropkit::dropout::Embedding;
    let mut layer = Embedding::new(7, 3, 0.4).unwrap();
    layer.build(&[5], 1, &mut Stream::new(5, 1, 0)).unwrap();
    let ids = Tensor::from_vec(vec![0., 3., 3., 6., 1., 2., 3., 5., 0., 0.], &[2, 5]).unwrap();
    let r = random(&[2, 15], 2);
    layer.forward(&ids, &ctx()).unwrap();
    layer.backward(&ids, &r, &ctx()).unwrap();
    let mut grad = Vec::new();
    layer.visit_params(&mut |_, p| grad = p.grad.data().to_vec());
    for (j, &g) in grad.iter().enumerate() {
        let shift = |delta: f32, layer: &mut Embedding| layer.visit_params(&mut |_, p| p.value.data_mut()[j] += delta);
        shift(1e-2, &mut layer);
        let up = objective(&mut layer, &ids, &r, &ctx());
        shift(-2e-2, &mut layer);
        let down = objective(&mut layer, &ids, &r, &ctx());
        shift(1e-2, &mut layer);
        close(g, (up - down) / 2e-2, &format!("embedding weight[{j}]"));
    }
}

#[test]
fn whole_model_with_batchnorm_gradient() {
    model_gradient("dense(7) batchnorm tanh dropout(0.3) dense(3)", 1e-2);
}

#[test]
fn cross_entropy_gradient_and_value() {
    let logits = random(&[B, 5], 3);
    let labels = [0u32, 3, 4, 1];
    let mut ce = CrossEntropy::new();
    let stats = ce.compute(&logits, &labels, true).unwrap();
    // Reference in f64.
    let mut want = 0.0;
    for b in 0..B {
        let row: Vec<f64> = logits.row(b).iter().map(|&v| v as f64).collect();
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        want += lse - row[labels[b] as usize];
    }
    assert!((stats.loss_sum - want).abs() < 1e-5, "{} vs {want}", stats.loss_sum);
    let grad = ce.grad().clone();
    let eps = 1e-2;
    for i in 0..logits.len() {
        let (mut lp, mut lm) = (logits.clone(), logits.clone());
        lp.data_mut()[i] += eps;
        lm.data_mut()[i] -= eps;
        let f = |t: &Tensor| CrossEntropy::new().compute(t, &labels, false).unwrap().loss();
        close(grad.data()[i], (f(&lp) - f(&lm)) / (2.0 * eps as f64), &format!("dlogits[{i}]"));
    }
}

#[test]
fn whole_model_gradient() {
    model_gradient("dense(7, tanh) dropout(0.3) dense(5) sigmoid classic_dropout(0.2) dense(3, softmax)", 1e-2);
}

#[test]
fn fused_dense_relu_dropout_gradient() {
    // A smaller step keeps the differences away from ReLU's kink.
    model_gradient("dense(9, relu) dropout(0.3) dense(6, relu) classic_dropout(0.2) dense(3)", 2e-3);
}

fn model_gradient(spec: &str, eps: f32) {
    model_gradient_in(spec, &[D], eps)
}

/// [`model_gradient`] for samples of `shape`.
fn model_gradient_in(spec: &str, shape: &[usize], eps: f32) {
    let mut model = Sequential::from_spec(spec, shape, 11).unwrap();
    let x = random(&[&[B], shape].concat(), 4);
    check_model(&mut model, &x, &[0, 2, 1, 2], eps);
}

/// Checks every parameter gradient of `model` for the cross-entropy of `x` against `labels`
/// (one per sample, or one per position of a sequence).
fn check_model(model: &mut Sequential, x: &Tensor, labels: &[u32], eps: f32) -> Vec<String> {
    let loss = |m: &mut Sequential| {
        let logits = m.forward_logits(x, &ctx()).unwrap().clone();
        CrossEntropy::new().compute(&logits, labels, false).unwrap().loss()
    };
    let logits = model.forward_logits(x, &ctx()).unwrap().clone();
    let mut ce = CrossEntropy::new();
    ce.compute(&logits, labels, true).unwrap();
    model.backward(x, ce.grad(), &ctx()).unwrap();
    let mut grads = Vec::new();
    model.visit_params(&mut |n, p| grads.push((n.to_string(), p.grad.data().to_vec())));

    for (name, grad) in &grads {
        for (j, &g) in grad.iter().enumerate() {
            let shift = |delta: f32, m: &mut Sequential| {
                m.visit_params(&mut |n, p| {
                    if n == name {
                        p.value.data_mut()[j] += delta;
                    }
                })
            };
            shift(eps, model);
            let lp = loss(model);
            shift(-2.0 * eps, model);
            let lm = loss(model);
            shift(eps, model);
            close(g, (lp - lm) / (2.0 * eps as f64), &format!("{name}[{j}]"));
        }
    }
    grads.into_iter().map(|(n, _)| n).collect()
}

fn attention(spec: &str) -> Box<dyn Layer> {
    dropkit::model::spec::parse(spec).unwrap().build_layers().unwrap().into_iter().next().unwrap()
}

#[test]
fn attention_gradients_with_and_without_probability_dropout() {
    check_layer_in(attention("attention(heads=2, causal)"), "attention causal", &[3, 4], ctx());
    check_layer_in(attention("attention(heads=1)"), "attention", &[3, 4], ctx());
    // Train mode with dropout: the mask is a function of (seed, step), fixed across the
    // finite differences.
    check_layer_in(attention("attention(heads=2, causal, attn_drop=0.3)"), "attention dropout", &[4, 4], ctx());
    // 70 positions: causal products in three tiles of queries, the last one short.
    check_layer_in(attention("attention(heads=2, causal, attn_drop=0.3)"), "attention tiles", &[70, 4], ctx());
}

/// Reference multi-head attention in f64 from the layer's own parameters.
fn reference_attention(layer: &mut dyn Layer, x: &[f32], t: usize, d: usize, heads: usize, causal: bool) -> Vec<f64> {
    let mut params = Vec::new();
    layer.visit_params(&mut |_, p| params.push(p.value.data().iter().map(|&v| v as f64).collect::<Vec<_>>()));
    let (w_in, b_in, w_out, b_out) = (&params[0], &params[1], &params[2], &params[3]);
    let hd = d / heads;
    let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let qkv: Vec<Vec<f64>> = (0..t)
        .map(|i| (0..3 * d).map(|o| b_in[o] + (0..d).map(|k| w_in[o * d + k] * x[i * d + k]).sum::<f64>()).collect())
        .collect();
    let mut merged = vec![0.0; t * d];
    for h in 0..heads {
        for i in 0..t {
            let visible = if causal { i + 1 } else { t };
            let s: Vec<f64> = (0..visible)
                .map(|j| (0..hd).map(|k| qkv[i][h * hd + k] * qkv[j][d + h * hd + k]).sum::<f64>() / (hd as f64).sqrt())
                .collect();
            let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
            let z: f64 = e.iter().sum();
            for k in 0..hd {
                merged[i * d + h * hd + k] = (0..visible).map(|j| e[j] / z * qkv[j][2 * d + h * hd + k]).sum();
            }
        }
    }
    (0..t * d)
        .map(|o| b_out[o % d] + (0..d).map(|k| w_out[(o % d) * d + k] * merged[(o / d) * d + k]).sum::<f64>())
        .collect()
}

#[test]
fn attention_matches_a_direct_computation_and_drops_only_in_train_and_mc() {
    let d = 6;
    let cases = [
        ("attention(heads=3, causal)", 3, true, 5),
        ("attention(heads=2)", 2, false, 5),
        ("attention(heads=3, causal)", 3, true, 70),
    ];
    for (spec, heads, causal, t) in cases {
        let mut layer = attention(spec);
        layer.build(&[t, d], 1, &mut Stream::new(5, 1, 0)).unwrap();
        let x = random(&[1, t, d], 9);
        let y = layer.forward(&x, &Ctx::new(Mode::Eval, 1, 0)).unwrap().clone();
        let want = reference_attention(layer.as_mut(), x.data(), t, d, heads, causal);
        for (a, b) in y.data().iter().zip(&want) {
            assert!((*a as f64 - b).abs() < 1e-5, "{spec}: {a} vs {b}");
        }
    }
    let t = 5;
    // Eval ignores attn_drop (it equals p = 0); Monte Carlo passes draw their own masks.
    let mut dropping = attention("attention(heads=2, causal, attn_drop=0.5)");
    let mut plain = attention("attention(heads=2, causal)");
    for l in [&mut dropping, &mut plain] {
        l.build(&[t, d], 1, &mut Stream::new(5, 1, 0)).unwrap();
    }
    let x = random(&[2, t, d], 4);
    let eval = Ctx::new(Mode::Eval, 1, 0);
    let a = dropping.forward(&x, &eval).unwrap().clone();
    assert_eq!(a.data(), plain.forward(&x, &eval).unwrap().data());
    assert_eq!(a.data(), dropping.forward(&x, &eval).unwrap().data());
    let mut mc = |s| dropping.forward(&x, &Ctx::new(Mode::MonteCarlo { sample: s }, 1, 0)).unwrap().clone();
    let (m0, m1, m0_again) = (mc(0), mc(1), mc(0));
    assert_ne!(m0.data(), m1.data());
    assert_ne!(m0.data(), a.data());
    assert_eq!(m0.data(), m0_again.data());
}

#[test]
fn attention_bits_do_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut l = attention("attention(heads=4, causal, attn_drop=0.2)");
            l.build(&[40, 32], 1, &mut Stream::new(5, 1, 0)).unwrap();
            let x = random(&[8, 40, 32], 3);
            let y = l.forward(&x, &ctx()).unwrap().clone();
            let dx = l.backward(&x, &random(&[8, 40 * 32], 6), &ctx()).unwrap().clone();
            let mut grads = Vec::new();
            l.visit_params(&mut |_, p| grads.extend_from_slice(p.grad.data()));
            (y.data().to_vec(), dx.data().to_vec(), grads)
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn a_pre_layernorm_transformer_block_is_written_with_residuals_and_its_gradient_checks() {
    // Sequences of 3 positions of width 4 -> width 8, a position embedding, then the block:
    // x + dropout(attention(layernorm(x))), then h + dropout(mlp(layernorm(h))).
    let block = "residual(layernorm attention(heads=2, causal, attn_drop=0.2) dropout(0.1)) \
                 residual(layernorm pdense(16) gelu pdense(8) dropout(0.1))";
    model_gradient_in(&format!("pdense(8) posembed {block} layernorm flatten dense(3)"), &[3, 4], 1e-2);
    check_layer_in(attention("pdense(5)"), "pdense", &[3, 4], ctx());
    check_layer_in(attention("posembed"), "posembed", &[3, 4], ctx());
}

#[test]
fn dropkey_drophead_block_patches_and_seqmean_gradients() {
    check_layer_in(attention("attention(heads=2, causal, drop_key=0.3)"), "attention drop_key", &[4, 4], ctx());
    check_layer_in(
        attention("attention(heads=2, drop_key=0.3, drop_head=0.5, attn_drop=0.2)"),
        "attention all",
        &[4, 4],
        ctx(),
    );
    let block =
        "block(heads=2, mlp=8, causal, attn_drop=0.2, resid_drop=0.1, drop_path=0.3, drop_key=0.2, drop_head=0.3)";
    check_layer_in(attention(block), "block", &[3, 4], ctx());
    // LayerDrop at rate 0.5 over four steps: a skipped pass checks as the identity with zero
    // parameter gradients, a kept one as the block.
    for step in 0..4 {
        let c = Ctx::new(Mode::Train, 77, step);
        check_layer_in(attention("block(heads=2, mlp=8, layer_drop=0.5)"), "block layer_drop", &[3, 4], c);
    }
    check_layer_in(attention("patches(size=2, dim=3)"), "patches", &[2, 4, 4], ctx());
    check_layer_in(attention("seqmean"), "seqmean", &[3, 4], ctx());
}

#[test]
fn a_character_model_gradient_checks_with_a_target_per_position() {
    // Ids in [0, 5), 3 positions: embed -> block -> head, cross-entropy over every position.
    let spec = "embed(vocab=5, dim=4, context=3, drop=0.1) block(heads=2, mlp=8, causal, attn_drop=0.2, resid_drop=0.1) layernorm pdense(5)";
    let mut model = Sequential::from_spec(spec, &[3], 11).unwrap();
    let ids: Vec<f32> = [0, 3, 1, 4, 2, 2, 1, 0, 4, 3, 3, 0].iter().map(|&v| v as f32).collect();
    let x = Tensor::from_vec(ids, &[4, 3]).unwrap();
    let labels = [3u32, 1, 4, 2, 2, 1, 0, 4, 3, 3, 0, 1];
    let logits = model.forward_logits(&x, &ctx()).unwrap().clone();
    assert_eq!(logits.shape(), &[4, 3, 5]);
    let stats = CrossEntropy::new().compute(&logits, &labels, false).unwrap();
    assert_eq!(stats.count, 12, "one label per position");
    let names = check_model(&mut model, &x, &labels, 1e-2);
    assert!(names.iter().any(|n| n == "layers.0.tok.weight") && names.iter().any(|n| n == "layers.0.pos.weight"));
}
