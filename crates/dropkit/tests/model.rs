//! The model as a whole: what layers do inside a `Sequential`.

use dropkit::layer::{Ctx, Mode};
use dropkit::model::Sequential;
use dropkit::tensor::Tensor;

#[test]
fn an_empty_batch_gives_an_empty_output() {
    let mut model = Sequential::from_spec("dense(64) relu dropout(0.5) dense(10)", &[784], 0).unwrap();
    let x = Tensor::zeros(&[0, 784]);
    let y = model.forward(&x, &Ctx::new(Mode::Train, 0, 0)).unwrap();
    assert_eq!(y.shape(), &[0, 10]);
}

#[test]
fn running_statistics_are_saved_with_the_weights() {
    let mut m = Sequential::from_spec("dense(3) batchnorm relu dense(2)", &[4], 1).unwrap();
    let x = Tensor::from_vec((0..8).map(|i| i as f32).collect(), &[2, 4]).unwrap();
    m.forward(&x, &Ctx::new(Mode::Train, 1, 1)).unwrap();
    let saved = m.state_dict();
    let names: Vec<&str> = saved.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"layers.1.running_mean") && names.contains(&"layers.1.running_var"));
    let mut fresh = Sequential::from_spec("dense(3) batchnorm relu dense(2)", &[4], 2).unwrap();
    fresh.load_state_dict(&saved).unwrap();
    assert_eq!(fresh.state_dict(), saved);
}
