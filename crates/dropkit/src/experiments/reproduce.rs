//! The MLP rows of the MNIST table of Srivastava, Hinton, Krizhevsky, Sutskever and
//! Salakhutdinov, "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 15
//! (2014), table 2, with the paper's recipe (section 6.1.1 and appendix B.1, after Hinton et
//! al. 2012): ReLU units, dropout 0.2 on the input and 0.5 on hidden units (keep 0.8 and 0.5
//! in the paper's notation), SGD on minibatches of 100 with dampened momentum rising from 0.5
//! to 0.99 over the first sixth of training, an exponentially decaying learning rate (the
//! paper: x0.998 per epoch over 3000 epochs, 0.25% of the start at the end), and the max-norm
//! constraint |w| <= 3.5 on every unit's incoming weights. All 60,000 training images are used,
//! as for the paper's final numbers; there is no validation split.

use crate::data::augment::Augment;
use crate::error::{Error, Result};
use crate::optim::{MomentumRamp, OptimizerConfig, OptimizerKind, Schedule};
use crate::train::RunConfig;

/// One row: dropkit's configuration and the paper's test error (NaN for the `augmented` row,
/// which goes beyond the paper: random shifts and rotations of the training images).
#[derive(Clone, Debug)]
pub struct PaperRow {
    /// Short name (`--rows`).
    pub name: &'static str,
    pub description: &'static str,
    /// Test error (%) the paper reports for this row.
    pub paper_error: f64,
    pub config: RunConfig,
}

/// The starting learning rate of the recipe (chosen on a validation split: over 3 epochs, 0.3
/// and 1 beat 0.1, and 3 diverged).
pub const LR: f32 = 0.5;

fn mlp(hidden: &[usize], input_p: f64, hidden_p: f64) -> String {
    let mut spec = if input_p > 0.0 { format!("dropout({input_p}) ") } else { String::new() };
    for h in hidden {
        spec.push_str(&format!("dense({h}, relu) "));
        if hidden_p > 0.0 {
            spec.push_str(&format!("dropout({hidden_p}) "));
        }
    }
    spec + "dense(10)"
}

/// The recipe's optimizer for a run of `epochs` epochs.
fn recipe(epochs: usize, lr: f32, max_norm: Option<f32>) -> OptimizerConfig {
    OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr,
        momentum: 0.99,
        dampened: true,
        momentum_ramp: Some(MomentumRamp { start: 0.5, epochs: epochs.div_ceil(6) }),
        max_norm,
        // The paper's total decay, 0.998^3000 = 0.0025, spread over `epochs`.
        schedule: Schedule::Exponential { gamma: 0.0025f64.powf(1.0 / epochs as f64) as f32 },
        ..OptimizerConfig::default()
    }
}

/// Every row, for training runs of `epochs` epochs.
pub fn srivastava_mnist(epochs: usize) -> Result<Vec<PaperRow>> {
    if epochs == 0 {
        return Err(Error::InvalidArgument("--epochs 0: train for at least 1 epoch (the paper used 3000)".into()));
    }
    let run = |spec: String, optimizer: OptimizerConfig| RunConfig {
        epochs,
        batch_size: 100,
        validation_split: 0.0,
        seed: 1,
        optimizer,
        checkpoint_every: 0,
        ..RunConfig::new(&spec)
    };
    let max_norm = Some(3.5);
    // Without max-norm the recipe's large steps diverge (the paper's point); a fifth of the rate.
    let rows = [
        (
            "baseline",
            "no dropout, ReLU 3x1024 (paper: standard net, logistic 2x800)",
            1.60,
            mlp(&[1024; 3], 0.0, 0.0),
            recipe(epochs, LR / 5.0, None),
        ),
        ("dropout", "dropout, ReLU 3x1024", 1.25, mlp(&[1024; 3], 0.2, 0.5), recipe(epochs, LR / 5.0, None)),
        (
            "dropout-maxnorm",
            "dropout + max-norm, ReLU 3x1024",
            1.06,
            mlp(&[1024; 3], 0.2, 0.5),
            recipe(epochs, LR, max_norm),
        ),
        (
            "maxnorm-3x2048",
            "dropout + max-norm, ReLU 3x2048",
            1.04,
            mlp(&[2048; 3], 0.2, 0.5),
            recipe(epochs, LR, max_norm),
        ),
        (
            "maxnorm-2x4096",
            "dropout + max-norm, ReLU 2x4096",
            1.01,
            mlp(&[4096; 2], 0.2, 0.5),
            recipe(epochs, LR, max_norm),
        ),
        (
            "maxnorm-2x8192",
            "dropout + max-norm, ReLU 2x8192",
            0.95,
            mlp(&[8192; 2], 0.2, 0.5),
            recipe(epochs, LR, max_norm),
        ),
        (
            "augmented",
            "dropout + max-norm + shifts/rotations, ReLU 2x1024 (not a paper row)",
            f64::NAN,
            mlp(&[1024; 2], 0.2, 0.5),
            recipe(epochs, LR, max_norm),
        ),
    ];
    Ok(rows
        .into_iter()
        .map(|(name, description, paper_error, spec, optimizer)| {
            let mut config = run(spec, optimizer);
            // The one row beyond the paper: its MLPs saw unaltered images.
            if name == "augmented" {
                config.augment = Some(Augment::default());
            }
            PaperRow { name, description, paper_error, config }
        })
        .collect())
}

/// The rows run by default: the three 3x1024 rows, the paper's best first; the larger nets
/// take much longer.
pub const DEFAULT_ROWS: &[&str] = &["dropout-maxnorm", "dropout", "baseline"];
