//! The loss `fit` reports is the loss it minimises: cross-entropy plus every layer's
//! regularizer, with the cross-entropy alone beside it.

use dropkit::data::Dataset;
use dropkit::layer::{Ctx, Mode};
use dropkit::prelude::*;

fn data() -> Dataset {
    let n = 96;
    let images = (0..n * 6).map(|i| ((i * 37 % 23) as f32) / 23.0).collect();
    let labels = (0..n).map(|i| (i % 3) as u32).collect();
    Dataset::classified(images, vec![6], labels, 3)
}

fn first_epoch(spec: &str) -> dropkit::train::EpochRecord {
    let train = data();
    let mut model = Sequential::from_spec(spec, &train.sample_shape, 5).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::default()).unwrap();
    let options = FitOptions { epochs: 1, batch_size: 32, seed: 5, ..FitOptions::default() };
    fit(&mut model, &mut opt, &train, None, &options, &mut |_| {}).unwrap().epochs[0].clone()
}

#[test]
fn regularizers_join_the_reported_loss() {
    let plain = first_epoch("dense(8, relu) dropout(0.2) dense(3)");
    assert_eq!(plain.loss, plain.cross_entropy, "no regularizer, nothing added");
    for spec in ["variational_dense(8) relu dense(3)", "dense(8, relu) concrete_dropout(0.2) dense(3)"] {
        let e = first_epoch(spec);
        assert!(e.cross_entropy > 0.0 && e.loss.is_finite(), "{spec}: {e:?}");
        assert!((e.loss - e.cross_entropy).abs() > 1e-6, "{spec}: the regularizer is missing from {e:?}");
    }
}

#[test]
fn the_model_regularizer_is_the_kl_over_the_data_size_in_training_only() {
    let model = Sequential::from_spec("variational_dense(8) relu dense(3)", &[6], 5).unwrap();
    let ctx = Ctx { data_size: 1000, ..Ctx::new(Mode::Train, 5, 0) };
    let with_1000 = model.regularizer(&ctx);
    let with_2000 = model.regularizer(&Ctx { data_size: 2000, ..ctx });
    assert!(with_1000 > 0.0);
    assert!((with_1000 - 2.0 * with_2000).abs() < 1e-9 * with_1000, "KL / N");
    assert_eq!(model.regularizer(&Ctx::new(Mode::Eval, 5, 0)), 0.0);
}
