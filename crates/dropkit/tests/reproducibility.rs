//! Training is bit-identical for any thread count, and saved weights round-trip.

use dropkit::data::{load_mnist, DataSource};
use dropkit::model::Sequential;
use dropkit::optim::{Optimizer, OptimizerConfig};
use dropkit::train::{fit, weights, FitOptions};

const MLP: &str = "dropout(0.2) dense(256, relu) dropout(0.5) dense(128, relu) dropout(0.5) dense(10)";

/// The weights after two epochs of `spec` on the first `samples` embedded MNIST digits.
fn train_bytes(spec: &str, samples: usize, threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let data = load_mnist(&DataSource::Embedded, "mnist").unwrap();
        let train = data.train.slice(0..samples);
        let mut model = Sequential::from_spec(spec, &train.sample_shape, 7).unwrap();
        let mut opt = Optimizer::new(OptimizerConfig::default()).unwrap();
        fit(
            &mut model,
            &mut opt,
            &train,
            None,
            &FitOptions { epochs: 2, batch_size: 100, seed: 7, ..FitOptions::default() },
            &mut |_| {},
        )
        .unwrap();
        weights::to_bytes(&mut model).unwrap()
    })
}

#[test]
fn weights_are_byte_identical_with_1_2_and_8_threads() {
    let one = train_bytes(MLP, 2_000, 1);
    assert_eq!(one, train_bytes(MLP, 2_000, 2));
    assert_eq!(one, train_bytes(MLP, 2_000, 8));
}

#[test]
fn conv_and_recurrent_weights_are_byte_identical_with_1_and_2_threads() {
    let nets = [
        "conv2d(8, 3) relu conv2d(16, 3) relu maxpool(2) spatial_dropout2d(0.25) flatten dense(32) relu dropout(0.5) dense(10)",
        "lstm(32, 0.1, 0.1) dense(10)",
        "gru(32, 0.1, 0.1) dense(10)",
    ];
    for spec in nets {
        assert_eq!(train_bytes(spec, 400, 1), train_bytes(spec, 400, 2), "{spec}");
    }
}

#[test]
fn saved_weights_load_into_a_fresh_model() {
    let spec = "dense(16, relu) dropout(0.5) dense(10)";
    let mut a = Sequential::from_spec(spec, &[1, 4, 4], 1).unwrap();
    let mut b = Sequential::from_spec(spec, &[1, 4, 4], 2).unwrap();
    let bytes = weights::to_bytes(&mut a).unwrap();
    let decoded = weights::decode(&bytes, "mem").unwrap();
    assert_eq!(
        decoded.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["layers.0.bias", "layers.0.weight", "layers.3.bias", "layers.3.weight"]
    );
    assert_eq!(decoded[1].shape, vec![16, 16]);
    b.load_state_dict(&decoded).unwrap();
    assert_eq!(a.state_dict(), b.state_dict());
    let mut c = Sequential::from_spec("dense(8) dense(10)", &[1, 4, 4], 1).unwrap();
    assert!(c.load_state_dict(&decoded).unwrap_err().to_string().contains("layers.0.weight"));
    assert!(weights::decode(b"garbage", "x.safetensors").unwrap_err().to_string().contains("not a valid safetensors"));
}
