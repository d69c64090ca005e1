//! Fused `dense -> relu -> dropout` layers compute bit for bit what the separate layers do.

use dropkit::data::{load_mnist, DataSource};
use dropkit::layer::{Ctx, Mode};
use dropkit::model::{BuildOptions, Sequential};
use dropkit::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use dropkit::tensor::Tensor;
use dropkit::train::{fit, FitOptions};

const SPEC: &str = "dropout(0.2) dense(64, relu) dropout(0.5) dense(32) relu dense(16) tanh dropout(0.3) dense(10)";

fn pair() -> (Sequential, Sequential) {
    let fused = Sequential::from_spec_with(SPEC, &[1, 28, 28], 5, BuildOptions { fuse: true }).unwrap();
    let plain = Sequential::from_spec_with(SPEC, &[1, 28, 28], 5, BuildOptions { fuse: false }).unwrap();
    (fused, plain)
}

#[test]
fn fusion_merges_layers_but_keeps_names_and_spec() {
    let (mut fused, mut plain) = pair();
    assert_eq!(fused.layers().len(), 7);
    assert_eq!(plain.layers().len(), 10);
    assert_eq!(fused.spec(), plain.spec());
    let names = |m: &mut Sequential| m.state_dict().into_iter().map(|t| t.name).collect::<Vec<_>>();
    assert_eq!(names(&mut fused), names(&mut plain));
    assert_eq!(names(&mut fused)[0], "layers.1.weight");
}

#[test]
fn fused_and_separate_layers_train_to_identical_weights() {
    let data = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let train = data.train.slice(0..1_000);
    let (mut fused, mut plain) = pair();
    for (m, label) in [(&mut fused, "fused"), (&mut plain, "plain")] {
        let cfg = OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.05, momentum: 0.9, ..Default::default() };
        let mut opt = Optimizer::new(cfg).unwrap();
        fit(
            m,
            &mut opt,
            &train,
            None,
            &FitOptions { epochs: 2, batch_size: 50, seed: 9, ..FitOptions::default() },
            &mut |_| {},
        )
        .expect(label);
    }
    assert_eq!(fused.state_dict(), plain.state_dict());

    let x = Tensor::from_vec(data.test.images[..20 * 784].to_vec(), &[20, 1, 28, 28]).unwrap();
    for mode in [Mode::Eval, Mode::MonteCarlo { sample: 3 }, Mode::Train] {
        let ctx = Ctx::new(mode, 9, 11);
        let a = fused.forward(&x, &ctx).unwrap().clone();
        assert_eq!(&a, plain.forward(&x, &ctx).unwrap(), "{mode:?}");
    }
}

#[test]
fn layer_mode_overrides_address_original_indices() {
    let (mut fused, mut plain) = pair();
    for m in [&mut fused, &mut plain] {
        m.set_layer_mode(3, Some(Mode::MonteCarlo { sample: 1 })).unwrap();
        assert!(m.set_layer_mode(1, Some(Mode::Train)).is_err(), "dense layers have no mode");
        assert!(m.set_layer_mode(2, Some(Mode::Train)).is_err(), "relu has no mode");
        assert!(m.set_layer_mode(99, None).unwrap_err().to_string().contains("does not exist"));
    }
    let x = Tensor::from_vec(vec![0.5; 4 * 784], &[4, 784]).unwrap();
    let eval = Ctx::new(Mode::Eval, 9, 0);
    let a = fused.forward(&x, &eval).unwrap().clone();
    assert_eq!(&a, plain.forward(&x, &eval).unwrap());
}
