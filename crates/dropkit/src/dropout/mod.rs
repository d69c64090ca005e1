//! Dropout variants, one file each. `p` is always the *drop* probability (PyTorch/Keras); the
//! 2014 paper's `p` is the retain probability, `1 - p` here.
//!
//! Masks are a pure function of (run seed, layer id, step or Monte Carlo sample, element index)
//! through Philox4x32-10, so the backward pass regenerates them (no mask memory), every thread
//! count gives the same masks, and resuming at step k reproduces step k's masks.

pub mod standard;

pub use standard::{Dropout, Scaling};

use crate::error::{Error, Result};
use crate::kernels::mask::{keep_threshold, MaskKey};
use crate::layer::{Ctx, Mode};
use crate::rng::{key_for, MC_TAG};

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
