//! Ready-made runs porting the classic dropout tutorials' code.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::RunConfig;
use crate::error::{Error, Result};
use crate::optim::{OptimizerConfig, OptimizerKind, Schedule};

/// A named recipe.
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub config: fn() -> RunConfig,
}

fn adam(lr: f32) -> OptimizerConfig {
    OptimizerConfig { kind: OptimizerKind::Adam, lr, ..OptimizerConfig::default() }
}

fn sgd(lr: f32, momentum: f32) -> OptimizerConfig {
    OptimizerConfig { kind: OptimizerKind::Sgd, lr, momentum, ..OptimizerConfig::default() }
}

fn run(model: &str, epochs: usize, batch_size: usize, validation_split: f64, optimizer: OptimizerConfig) -> RunConfig {
    RunConfig { epochs, batch_size, validation_split, optimizer, ..RunConfig::new(model) }
}

/// Every preset.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "keras-mnist",
        description: "Keras MNIST MLP: dense(512, relu), dropout(0.2), dense(10, softmax); Adam 1e-3, 10 epochs, batch 128, validation split 0.2",
        config: || run("dense(512, relu) dropout(0.2) dense(10, softmax)", 10, 128, 0.2, adam(1e-3)),
    },
    Preset {
        name: "tf-mnist",
        description: "TensorFlow MNIST MLP: 512 and 256 hidden ReLU units, each followed by dropout(0.25); Adam, 10 epochs, batch 128",
        config: || {
            run("dense(512, relu) dropout(0.25) dense(256, relu) dropout(0.25) dense(10, softmax)", 10, 128, 0.1, adam(1e-3))
        },
    },
    Preset {
        name: "torch-mynet",
        description: "PyTorch tutorial MyNet: fc1 784-100, ReLU, dropout(0.5), fc2 100-10; SGD 0.01 momentum 0.9, batch 64",
        config: || run("dense(100) relu dropout(0.5) dense(10)", 10, 64, 0.1, sgd(0.01, 0.9)),
    },
    Preset {
        name: "two-layer-net",
        description: "The NumPy two-layer net: 100 hidden ReLU units, dropout(0.5); plain SGD 0.1 decayed 0.95 per epoch, batch 200",
        config: || {
            let mut opt = sgd(0.1, 0.0);
            opt.schedule = Schedule::Exponential { gamma: 0.95 };
            run("dense(100) relu dropout(0.5) dense(10)", 10, 200, 0.1, opt)
        },
    },
    Preset {
        name: "paper-mlp",
        description: "784-1024-1024-10 ReLU MLP, dropout 0.2 on the input and 0.5 on hidden layers; Adam, batch 128",
        config: || {
            run(
                "dropout(0.2) dense(1024, relu) dropout(0.5) dense(1024, relu) dropout(0.5) dense(10)",
                10,
                128,
                0.1,
                adam(1e-3),
            )
        },
    },
];

/// The preset called `name`.
pub fn preset(name: &str) -> Result<RunConfig> {
    let p = PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "unknown preset '{name}'; available: {}",
            PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let mut cfg = (p.config)();
    cfg.preset = Some(p.name.into());
    Ok(cfg)
}
