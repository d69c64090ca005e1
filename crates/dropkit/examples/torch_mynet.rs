//! The PyTorch dropout tutorial's `MyNet`: fc1 (784 -> 100), ReLU, Dropout(0.5), fc2 (100 -> 10),
//! trained with SGD (lr 0.01, momentum 0.9), batch 64; `model.train()` / `model.eval()` become
//! explicit modes.
//!
//! Run: `cargo run --release --example torch_mynet` (embedded data unless DROPKIT_DATA is set)

use dropkit::prelude::*;
use dropkit::train::Progress;

fn main() -> dropkit::Result<()> {
    let data = load_mnist(&resolve_source(None, "mnist")?, "mnist")?;
    let (train, val) = data.train.split_last(0.1)?;
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(dropkit::nn::Linear::new(100)?),
        Box::new(dropkit::nn::Activation::new(dropkit::nn::ActivationKind::Relu)),
        Box::new(Dropout::new(0.5, Scaling::Inverted)?),
        Box::new(dropkit::nn::Linear::new(10)?),
    ];
    let mut model = Sequential::new(layers, &train.sample_shape, 0)?;
    let mut optimizer =
        Optimizer::new(OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.01, momentum: 0.9, ..Default::default() })?;
    let epochs = 5;
    fit(
        &mut model,
        &mut optimizer,
        &train,
        Some(&val),
        &FitOptions { epochs, batch_size: 64, seed: 0, ..FitOptions::default() },
        &mut |p| {
            if let Progress::Epoch(r) = p {
                println!(
                    "epoch {}: train loss {:.4}, val accuracy {:.4}",
                    r.epoch,
                    r.loss,
                    r.val_accuracy.unwrap_or(0.0)
                );
            }
        },
    )?;
    // model.eval(): dropout off, deterministic.
    let test = evaluate(&mut model, &data.test, Mode::Eval)?;
    println!("test accuracy {:.4} (data: {})", test.accuracy(), data.source);
    Ok(())
}
