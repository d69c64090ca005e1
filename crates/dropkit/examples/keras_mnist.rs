//! The Keras MNIST tutorial (Dense(512, relu) -> Dropout(0.2) -> Dense(10, softmax); Adam;
//! batch 128; 10 epochs; validation split 0.2) with dropkit's library API.
//!
//! Run: `DROPKIT_DATA=path/to/data cargo run --release --example keras_mnist`

use dropkit::prelude::*;
use dropkit::train::Progress;

fn main() -> dropkit::Result<()> {
    let data = load_mnist(&resolve_source(None, "mnist")?, "mnist")?;
    println!("data: {} ({} training, {} test images)", data.source, data.train.len(), data.test.len());
    let (train, val) = data.train.split_last(0.2)?;
    let mut model = Sequential::from_spec("dense(512, relu) dropout(0.2) dense(10, softmax)", &train.sample_shape, 42)?;
    let mut optimizer = Optimizer::new(OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, ..Default::default() })?;
    let options = FitOptions { epochs: 10, batch_size: 128, seed: 42, ..FitOptions::default() };
    fit(&mut model, &mut optimizer, &train, Some(&val), &options, &mut |p| {
        if let Progress::Epoch(r) = p {
            println!(
                "Epoch {}/10 - {:.1}s - loss: {:.4} - accuracy: {:.4} - val_loss: {:.4} - val_accuracy: {:.4}",
                r.epoch,
                r.seconds,
                r.loss,
                r.accuracy,
                r.val_loss.unwrap_or(f64::NAN),
                r.val_accuracy.unwrap_or(f64::NAN)
            );
        }
    })?;
    let test = evaluate(&mut model, &data.test, Mode::Eval)?;
    println!("test loss {:.4}, test accuracy {:.4}", test.loss(), test.accuracy());
    Ok(())
}
