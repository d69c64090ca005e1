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
    Preset {
        name: "char-transformer",
        description: "a character-level GPT on the embedded Shakespeare: 4 pre-LN blocks, 4 heads, width 128, context 128, attention, residual and embedding dropout 0.1; AdamW 1e-3 with 100 warm-up steps and cosine decay",
        config: char_transformer,
    },
    Preset {
        name: "vit-mnist",
        description: "a small ViT on MNIST: 7x7 patches, width 64, 4 blocks of 4 heads, stochastic depth 0.1, mean-pooled; AdamW 1e-3, cosine decay",
        config: vit_mnist,
    },
];

/// The embedded corpus's vocabulary (73 characters) and the preset's context.
const CHAR_MODEL: &str = "embed(vocab=73, dim=128, context=128, drop=0.1) blocks(4, heads=4, mlp=512, causal, attn_drop=0.1, resid_drop=0.1) layernorm pdense(73)";

fn char_transformer() -> RunConfig {
    let optimizer = OptimizerConfig {
        kind: OptimizerKind::AdamW,
        lr: 1e-3,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.1,
        schedule: Schedule::Cosine { warmup: 100, min: 0.1 },
        ..OptimizerConfig::default()
    };
    RunConfig { dataset: crate::data::text::EMBEDDED_NAME.into(), ..run(CHAR_MODEL, 8, 32, 0.1, optimizer) }
}

fn vit_mnist() -> RunConfig {
    let optimizer = OptimizerConfig {
        kind: OptimizerKind::AdamW,
        lr: 1e-3,
        weight_decay: 0.05,
        schedule: Schedule::Cosine { warmup: 200, min: 0.01 },
        ..OptimizerConfig::default()
    };
    run(
        "patches(size=7, dim=64) posembed blocks(4, heads=4, mlp=128, drop_path=0.1) layernorm seqmean dense(10)",
        15,
        128,
        0.1,
        optimizer,
    )
}

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
