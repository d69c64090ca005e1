//! Dropout variants, one file each. `p` is always the *drop* probability (PyTorch/Keras); the
//! 2014 paper's `p` is the retain probability, `1 - p` here.
//!
//! Masks are a pure function of (run seed, layer id, step or Monte Carlo sample, element index)
//! through Philox4x32-10, so the backward pass regenerates them (no mask memory), every thread
//! count gives the same masks, and resuming at step k reproduces step k's masks.

pub mod alpha;
pub mod concrete;
pub mod dropblock;
pub mod dropconnect;
pub mod embedding;
pub mod gaussian;
pub mod noise_shape;
pub mod standard;
pub mod variational;
pub mod variational_rnn;

pub use alpha::{AlphaDropout, AlphaKind};
pub use concrete::ConcreteDropout;
pub use dropblock::DropBlock;
pub use dropconnect::{DropConnect, DropConnectEval, DropConnectOptions};
pub use embedding::Embedding;
pub use gaussian::{GaussianDropout, GaussianNoise};
pub use noise_shape::NoiseShapeDropout;
pub use standard::{Dropout, Scaling};
pub use variational::VariationalDense;
pub use variational_rnn::{Cell, Recurrent, RnnOptions};

use crate::error::{Error, Result};
use crate::kernels::mask::{keep_threshold, MaskKey};
use crate::layer::{Ctx, Mode};
use crate::rng::{counter, key_for, philox4x32_10, MC_TAG};

/// One entry of the catalogue `dropkit variants` prints.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Variant {
    pub name: &'static str,
    /// How to write it in a model spec.
    pub spec: &'static str,
    pub description: &'static str,
    pub paper: &'static str,
}

/// Every dropout variant dropkit implements.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "dropout",
        spec: "dropout(p)",
        description: "inverted dropout of units: train x*m/(1-p), eval identity",
        paper: "Srivastava et al. 2014, JMLR 15",
    },
    Variant {
        name: "classic",
        spec: "classic_dropout(p)",
        description: "the paper's form: train x*m, eval x*(1-p) (weight scaling)",
        paper: "Srivastava et al. 2014, JMLR 15",
    },
    Variant {
        name: "noise_shape",
        spec: "noise_dropout(p, axes)",
        description: "one mask shared along the given axes (Keras noise_shape, Flax broadcast_dims)",
        paper: "Srivastava et al. 2014; Keras noise_shape",
    },
    Variant {
        name: "spatial_dropout1d",
        spec: "spatial_dropout1d(p)",
        description: "drops whole channels of (B, C, L) inputs",
        paper: "Tompson et al. 2015, CVPR",
    },
    Variant {
        name: "spatial_dropout2d",
        spec: "spatial_dropout2d(p)",
        description: "drops whole feature maps of (B, C, H, W) inputs",
        paper: "Tompson et al. 2015, CVPR",
    },
    Variant {
        name: "spatial_dropout3d",
        spec: "spatial_dropout3d(p)",
        description: "drops whole volumes of (B, C, D, H, W) inputs",
        paper: "Tompson et al. 2015, CVPR",
    },
    Variant {
        name: "gaussian_dropout",
        spec: "gaussian_dropout(p)",
        description: "multiplicative N(1, p/(1-p)) noise on every unit; eval identity",
        paper: "Srivastava et al. 2014, section 10",
    },
    Variant {
        name: "gaussian_noise",
        spec: "gaussian_noise(stddev)",
        description: "additive N(0, stddev^2) noise in training; eval identity",
        paper: "Keras GaussianNoise",
    },
    Variant {
        name: "dropconnect",
        spec: "dropconnect(units, p[, activation][, per_example][, samples=Z])",
        description: "dense layer with dropped weights; eval by mean field or Wan's Gaussian sampling",
        paper: "Wan et al. 2013, ICML",
    },
    Variant {
        name: "dropblock",
        spec: "dropblock(p, block[, ramp_steps])",
        description: "drops block x block squares of feature maps; rate ramped linearly over the first steps",
        paper: "Ghiasi et al. 2018, NeurIPS",
    },
    Variant {
        name: "droppath",
        spec: "droppath(p)",
        description: "stochastic depth: drops a residual branch for whole samples (last in residual(...))",
        paper: "Huang et al. 2016, ECCV",
    },
    Variant {
        name: "embedding_dropout",
        spec: "embedding(vocab, dim, p)",
        description: "drops whole words: rows of the embedding matrix, once per minibatch",
        paper: "Gal and Ghahramani 2016, NeurIPS",
    },
    Variant {
        name: "variational_rnn",
        spec: "lstm(hidden, p_in, p_rec) / gru(...) / locked_dropout(p)",
        description: "LSTM and GRU with input and recurrent masks locked over time; locked dropout between layers",
        paper: "Gal and Ghahramani 2016, NeurIPS",
    },
    Variant {
        name: "variational_dropout",
        spec: "variational_dense(units[, kl_warmup_steps])",
        description: "dense layer with a learned Gaussian dropout rate per weight and a KL term; prunes log alpha > 3",
        paper: "Kingma et al. 2015; Molchanov et al. 2017, ICML",
    },
    Variant {
        name: "concrete_dropout",
        spec: "concrete_dropout(init_p)",
        description: "learns its drop probability through a relaxed (concrete) mask and a regularizer; prints p",
        paper: "Gal et al. 2017, NeurIPS",
    },
    Variant {
        name: "alpha_dropout",
        spec: "alpha_dropout(p)",
        description: "sets units to SELU's saturation and keeps mean 0, variance 1 (use with selu)",
        paper: "Klambauer et al. 2017, NeurIPS",
    },
    Variant {
        name: "feature_alpha_dropout",
        spec: "feature_alpha_dropout(p)",
        description: "alpha dropout of whole channels",
        paper: "Klambauer et al. 2017, NeurIPS",
    },
];

/// Checks a drop probability: finite and in [0, 1]. `layer` names the layer in the message.
pub fn validate_p(layer: &str, p: f64) -> Result<f32> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidArgument(format!(
            "{layer}({p}): p must be in [0, 1] (the probability of dropping a unit; 0.5 drops half)"
        )));
    }
    Ok(p as f32)
}

/// The mode a layer acts in: its override if it has one, else the model's.
pub fn effective_mode(ctx: &Ctx, override_mode: Option<Mode>) -> Mode {
    override_mode.unwrap_or(ctx.mode)
}

/// The mask key for layer `id` keeping with probability `keep`, in `mode` (None in Eval).
pub fn mask_key(ctx: &Ctx, mode: Mode, id: u32, keep: f64) -> Option<MaskKey> {
    let step = match mode {
        Mode::Train => ctx.step & !MC_TAG,
        Mode::MonteCarlo { sample } => sample | MC_TAG,
        Mode::Eval => return None,
    };
    Some(MaskKey { key: key_for(ctx.seed, id), step, threshold: keep_threshold(keep) })
}

/// Fills `out` with standard normal draws that are a pure function of (`key`, element index):
/// element i uses Philox block i / 4 (Box-Muller on its two word pairs), so any thread count
/// and any pass (forward, backward) gives the same values.
pub fn fill_normal(out: &mut [f32], key: &MaskKey) {
    crate::kernels::par_each(out, |chunk, first| {
        // CHUNK is a multiple of 4, so every chunk starts at a block boundary.
        for (b, quad) in chunk.chunks_mut(4).enumerate() {
            let block = (first / 4 + b) as u64;
            let w = philox4x32_10(counter(block, key.step), key.key);
            let mut z = [0f32; 4];
            for pair in 0..2 {
                let u1 = ((w[2 * pair] >> 8) as f64 + 0.5) / (1u64 << 24) as f64;
                let u2 = (w[2 * pair + 1] >> 8) as f64 / (1u64 << 24) as f64;
                let r = (-2.0 * u1.ln()).sqrt();
                let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
                z[2 * pair] = (r * cos) as f32;
                z[2 * pair + 1] = (r * sin) as f32;
            }
            quad.iter_mut().zip(z).for_each(|(o, v)| *o = v);
        }
    });
}

/// Fills `out` with uniforms in (0, 1), a pure function of (`key`, element index) like
/// [`fill_normal`]: element i uses word i % 4 of Philox block i / 4.
pub fn fill_uniform(out: &mut [f32], key: &MaskKey) {
    crate::kernels::par_each(out, |chunk, first| {
        for (b, quad) in chunk.chunks_mut(4).enumerate() {
            let w = philox4x32_10(counter((first / 4 + b) as u64, key.step), key.key);
            for (o, &word) in quad.iter_mut().zip(&w) {
                *o = ((word >> 8) as f32 + 0.5) * (1.0 / (1u32 << 24) as f32);
            }
        }
    });
}
