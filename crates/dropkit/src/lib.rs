//! dropkit: neural networks with every kind of dropout, trained on a fast CPU engine.
//!
//! The Keras MNIST tutorial, in Rust:
//!
//! ```no_run
//! use dropkit::prelude::*;
//!
//! # fn main() -> dropkit::Result<()> {
//! let data = load_mnist(&resolve_source(None, "mnist")?, "mnist")?;
//! let (train, val) = data.train.split_last(0.2)?;
//! let mut model = Sequential::from_spec("dense(512, relu) dropout(0.2) dense(10, softmax)", &train.sample_shape, 42)?;
//! let mut opt = Optimizer::new(OptimizerConfig { lr: 1e-3, ..OptimizerConfig::default() })?;
//! let options = FitOptions { epochs: 10, batch_size: 128, seed: 42, ..FitOptions::default() };
//! let history = fit(&mut model, &mut opt, &train, Some(&val), &options, &mut |_| {})?;
//! let test = evaluate(&mut model, &data.test, Mode::Eval)?;
//! println!("{} epochs, test accuracy {:.4}", history.epochs.len(), test.accuracy());
//! # Ok(()) }
//! ```
//!
//! `p` is the drop probability everywhere. Masks come from Philox4x32-10 keyed by
//! (seed, layer, step or Monte Carlo sample, element), so runs reproduce bit for bit.

// What a user hands the library gets an error, never a panic: no unwrap, expect or panic!
// outside tests, and no unchecked indexing in the modules that read user input (those carry
// `#![deny(clippy::indexing_slicing)]`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod data;
pub mod dropout;
pub mod error;
pub mod experiments;
pub mod fsio;
pub mod init;
pub mod kernels;
pub mod kind;
pub mod layer;
pub mod loss;
pub mod model;
pub mod nn;
pub mod optim;
pub mod rng;
pub mod tensor;
pub mod train;
pub mod uncertainty;

pub use error::{Error, Result};

/// The names most programs need.
pub mod prelude {
    pub use crate::data::{load_mnist, resolve_source, DataSource, Dataset};
    pub use crate::dropout::{Dropout, Scaling};
    pub use crate::layer::{Ctx, Layer, Mode};
    pub use crate::loss::CrossEntropy;
    pub use crate::model::Sequential;
    pub use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind, Schedule};
    pub use crate::tensor::Tensor;
    pub use crate::train::{evaluate, fit, FitOptions, History};
}
