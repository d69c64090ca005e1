//! Optimizer updates against their formulas, on a model with one weight and one bias.

use dropkit::layer::ParamKind;
use dropkit::model::Sequential;
use dropkit::optim::{Optimizer, OptimizerConfig, OptimizerKind};

/// A dense(1) model on 1 input: parameters [weight, bias], set to `w` and `b`.
fn model(w: f32, b: f32) -> Sequential {
    let mut m = Sequential::from_spec("dense(1)", &[1], 0).unwrap();
    m.visit_params(&mut |_, p| p.value.data_mut()[0] = if p.kind == ParamKind::Weight { w } else { b });
    m
}

fn set_grads(m: &mut Sequential, g: f32) {
    m.visit_params(&mut |_, p| p.grad.data_mut()[0] = g);
}

fn values(m: &mut Sequential) -> (f32, f32) {
    let mut v = Vec::new();
    m.visit_params(&mut |_, p| v.push(p.value.data()[0]));
    (v[0], v[1])
}

fn close(a: f32, b: f64) {
    assert!((a as f64 - b).abs() < 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
}

#[test]
fn sgd_momentum_nesterov_and_weight_decay() {
    let cfg =
        OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01, ..Default::default() };
    let (mut m, mut opt) = (model(1.0, 1.0), Optimizer::new(cfg.clone()).unwrap());
    set_grads(&mut m, 0.5);
    opt.step(&mut m, 0.1);
    // Weight: d = g + wd w = 0.51, buf = d; bias: no decay, buf = 0.5.
    let (w1, b1) = values(&mut m);
    close(w1, 1.0 - 0.1 * 0.51);
    close(b1, 1.0 - 0.1 * 0.5);
    set_grads(&mut m, -0.2);
    opt.step(&mut m, 0.1);
    let d2 = -0.2 + 0.01 * w1 as f64;
    close(values(&mut m).0, w1 as f64 - 0.1 * (0.9 * 0.51 + d2));

    let nesterov = OptimizerConfig { nesterov: true, weight_decay: 0.0, ..cfg };
    let (mut m, mut opt) = (model(1.0, 0.0), Optimizer::new(nesterov).unwrap());
    set_grads(&mut m, 0.5);
    opt.step(&mut m, 0.1);
    close(values(&mut m).0, 1.0 - 0.1 * (0.5 + 0.9 * 0.5));
}

#[test]
fn adam_and_adamw_follow_pytorch() {
    let cfg = OptimizerConfig { kind: OptimizerKind::Adam, lr: 0.01, eps: 1e-8, ..Default::default() };
    let (mut m, mut opt) = (model(1.0, 1.0), Optimizer::new(cfg.clone()).unwrap());
    let (mut mm, mut vv, mut w) = (0.0f64, 0.0f64, 1.0f64);
    for (t, g) in [0.3f64, -0.1, 0.2].into_iter().enumerate() {
        set_grads(&mut m, g as f32);
        opt.step(&mut m, 0.01);
        mm = 0.9 * mm + 0.1 * g;
        vv = 0.999 * vv + 0.001 * g * g;
        let t = t as i32 + 1;
        w -= 0.01 / (1.0 - 0.9f64.powi(t)) * mm / (vv.sqrt() / (1.0 - 0.999f64.powi(t)).sqrt() + 1e-8);
        close(values(&mut m).0, w);
    }
    // AdamW: the weight shrinks by lr * wd before the Adam step; the bias does not.
    let adamw = OptimizerConfig { kind: OptimizerKind::AdamW, weight_decay: 0.5, ..cfg };
    let (mut m, mut opt) = (model(2.0, 2.0), Optimizer::new(adamw).unwrap());
    set_grads(&mut m, 0.3);
    opt.step(&mut m, 0.01);
    let step = 0.01 / 0.1 * 0.03 / ((0.001f64 * 0.09).sqrt() / 0.001f64.sqrt() + 1e-8);
    let (w, b) = values(&mut m);
    close(w, 2.0 * (1.0 - 0.01 * 0.5) - step);
    close(b, 2.0 - step);
}

#[test]
fn max_norm_projects_weights_after_the_step() {
    let cfg = OptimizerConfig { kind: OptimizerKind::Sgd, lr: 1.0, max_norm: Some(0.5), ..Default::default() };
    let (mut m, mut opt) = (model(0.2, 3.0), Optimizer::new(cfg).unwrap());
    set_grads(&mut m, -1.0);
    opt.step(&mut m, 1.0);
    let (w, b) = values(&mut m);
    close(w, 0.5); // 1.2 projected onto |w| <= 0.5
    close(b, 4.0); // biases are not constrained
}

#[test]
fn invalid_settings_are_rejected_with_the_field_named() {
    let bad = |c: OptimizerConfig| Optimizer::new(c).expect_err("invalid").to_string();
    assert!(bad(OptimizerConfig { lr: 0.0, ..Default::default() }).contains("lr = 0"));
    assert!(bad(OptimizerConfig { momentum: 1.5, ..Default::default() }).contains("momentum"));
    assert!(bad(OptimizerConfig { max_norm: Some(-1.0), ..Default::default() }).contains("max_norm"));
    assert!(bad(OptimizerConfig { nesterov: true, ..Default::default() }).contains("nesterov"));
}

#[test]
fn updating_each_layer_during_backward_equals_a_step_after_backward() {
    use dropkit::data::batches::epoch_order;
    use dropkit::data::{load_mnist, DataSource};
    use dropkit::layer::{Ctx, Mode};
    use dropkit::loss::CrossEntropy;
    use dropkit::tensor::Tensor;
    use dropkit::train::{fit, FitOptions};

    let data = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let train = data.train.slice(0..600);
    let spec = "dropout(0.2) dense(32, relu) dropout(0.5) dense(16, relu) dense(10)";
    let cfg =
        OptimizerConfig { kind: OptimizerKind::Adam, weight_decay: 0.01, max_norm: Some(2.0), ..Default::default() };
    let mut a = Sequential::from_spec(spec, &train.sample_shape, 8).unwrap();
    let mut opt_a = Optimizer::new(cfg.clone()).unwrap();
    fit(
        &mut a,
        &mut opt_a,
        &train,
        None,
        &FitOptions { epochs: 1, batch_size: 100, seed: 8, ..FitOptions::default() },
        &mut |_| {},
    )
    .unwrap();

    let mut b = Sequential::from_spec(spec, &train.sample_shape, 8).unwrap();
    let mut opt_b = Optimizer::new(cfg).unwrap();
    let (mut order, mut x, mut ce) = (Vec::new(), Tensor::default(), CrossEntropy::new());
    epoch_order(8, 0, train.len(), &mut order);
    for idx in order.chunks(100) {
        x.gather_rows(&train.images, &train.sample_shape, idx);
        let labels: Vec<u32> = idx.iter().map(|&i| train.labels()[i]).collect();
        let ctx = Ctx::new(Mode::Train, 8, opt_b.steps());
        let logits = b.forward_logits(&x, &ctx).unwrap();
        ce.compute(logits, &labels, true).unwrap();
        b.backward(&x, ce.grad(), &ctx).unwrap();
        opt_b.step(&mut b, opt_b.lr_at(0));
    }
    assert_eq!(a.state_dict(), b.state_dict());
}

#[test]
fn a_non_finite_gradient_is_reported_by_every_optimizer() {
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW] {
        let mut opt = Optimizer::new(OptimizerConfig { kind, ..OptimizerConfig::default() }).unwrap();
        let mut m = model(1.0, 0.0);
        set_grads(&mut m, 0.5);
        assert!(opt.step(&mut m, 0.1), "{kind:?}: finite gradients");
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            set_grads(&mut m, bad);
            assert!(!opt.step(&mut m, 0.1), "{kind:?}: gradient {bad} not reported");
        }
    }
}

#[test]
fn momentum_ramp_and_dampened_momentum_follow_their_formulas() {
    use dropkit::optim::MomentumRamp;
    let cfg = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 0.1,
        momentum: 0.9,
        momentum_ramp: Some(MomentumRamp { start: 0.5, epochs: 4 }),
        dampened: true,
        ..OptimizerConfig::default()
    };
    let mut opt = Optimizer::new(cfg).unwrap();
    let ramp: Vec<f32> = (0..6).map(|e| opt.momentum_at(e)).collect();
    for (got, want) in ramp.iter().zip([0.5, 0.6, 0.7, 0.8, 0.9, 0.9]) {
        assert!((got - want).abs() < 1e-6, "{ramp:?}");
    }
    // Epoch 2: mu = 0.7. Step 1: b = g = 1, w = 1 - 0.1; step 2: b = 0.7 + 0.3 * 2 = 1.3.
    opt.begin_epoch(2);
    let mut m = model(1.0, 0.0);
    set_grads(&mut m, 1.0);
    opt.step(&mut m, 0.1);
    close(values(&mut m).0, 0.9);
    set_grads(&mut m, 2.0);
    opt.step(&mut m, 0.1);
    close(values(&mut m).0, 0.9 - 0.1 * 1.3);
    let adam_ramp =
        OptimizerConfig { momentum_ramp: Some(MomentumRamp { start: 0.5, epochs: 4 }), ..OptimizerConfig::default() };
    assert!(Optimizer::new(adam_ramp).unwrap_err().to_string().contains("sgd"));
}

#[test]
fn calling_fit_again_continues_training_as_in_keras() {
    use dropkit::data::{load_mnist, DataSource};
    use dropkit::train::{fit, FitOptions};

    let data = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let train = data.train.slice(0..500);
    let mut model = Sequential::from_spec("dense(32, relu) dropout(0.5) dense(10)", &train.sample_shape, 3).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::default()).unwrap();
    let options = FitOptions { epochs: 2, batch_size: 100, seed: 3, ..FitOptions::default() };
    let first = fit(&mut model, &mut opt, &train, None, &options, &mut |_| {}).unwrap();
    let second = fit(&mut model, &mut opt, &train, None, &options, &mut |_| {}).unwrap();
    assert_eq!(opt.steps(), 20);
    assert_eq!(second.epochs.len(), 2);
    assert!(second.epochs[1].loss < first.epochs[0].loss, "{first:?} then {second:?}");
}
