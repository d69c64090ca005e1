//! Fused `dense -> relu -> dropout` and `conv -> relu` layers compute bit for bit what the
//! separate layers do.

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

#[test]
fn a_convolution_fused_with_its_relu_trains_to_the_separate_layers_weights() {
    const CNN: &str = "conv2d(6,3) relu conv2d(8,3,2,1) relu maxpool(2) spatial_dropout2d(0.2) flatten dense(10)";
    let build = |fuse| Sequential::from_spec_with(CNN, &[1, 28, 28], 5, BuildOptions { fuse }).unwrap();
    let (mut fused, mut plain) = (build(true), build(false));
    assert_eq!((fused.layers().len(), plain.layers().len()), (6, 8));
    assert_eq!(fused.spec(), plain.spec());
    let data = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let train = data.train.slice(0..300);
    for m in [&mut fused, &mut plain] {
        let mut opt =
            Optimizer::new(OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, ..Default::default() }).unwrap();
        let options = FitOptions { epochs: 1, batch_size: 20, seed: 9, ..FitOptions::default() };
        fit(m, &mut opt, &train, None, &options, &mut |_| {}).unwrap();
    }
    assert_eq!(fused.state_dict(), plain.state_dict());
    let x = Tensor::from_vec(data.test.images[..10 * 784].to_vec(), &[10, 1, 28, 28]).unwrap();
    let ctx = Ctx::new(Mode::MonteCarlo { sample: 2 }, 9, 0);
    let a = fused.forward(&x, &ctx).unwrap().clone();
    assert_eq!(&a, plain.forward(&x, &ctx).unwrap());
}
