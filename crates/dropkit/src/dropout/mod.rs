//! Dropout variants, one file each. `p` is always the *drop* probability (PyTorch/Keras); the
//! 2014 paper's `p` is the retain probability, `1 - p` here.
//!
//! Masks are a pure function of (run seed, layer id, step or Monte Carlo sample, element index)
//! through Philox4x32-10, so the backward pass regenerates them (no mask memory), every thread
//! count gives the same masks, and resuming at step k reproduces step k's masks.

pub mod alpha;
pub mod attention_dropout;
pub mod catalogue;
pub mod concrete;
pub mod drop_activation;
pub mod dropblock;
pub mod dropconnect;
pub mod drophead;
pub mod dropkey;
pub mod embed_dropout;
pub mod embedding;
pub mod gaussian;
pub mod layerdrop;
pub mod noise_shape;
pub mod rdrop;
pub mod residual_dropout;
pub mod rnn_gates;
pub mod schedule;
pub mod standard;
pub mod stochastic_depth;
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
use crate::kind::{one, Call, LayerConfig, LayerKind};
use crate::layer::Layer;
use crate::layer::{Ctx, Mode};
use crate::rng::{counter, counters, key_for, philox4x32_10, streams};

/// The factor kept units are scaled by in inverted dropout, `1 / (1 - p)`; 0 when p = 1
/// (everything is dropped, and nothing may become infinite).
pub fn inverted_scale(p: f32) -> f32 {
    if p < 1.0 {
        1.0 / (1.0 - p)
    } else {
        0.0
    }
}

/// `forward` and `backward` of a layer (fields `y`, `dx`) whose two passes are the same
/// elementwise op, `self.apply(out, src, ctx)`, with a mask regenerated from its key: `y =
/// apply(x)`, `dx = apply(dy)`, the backward skipped when no input gradient is wanted.
macro_rules! same_op_passes {
    () => {
        // x: (B, ...) -> y: (B, ...)
        fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
            let mut y = std::mem::take(&mut self.y);
            self.apply(&mut y, x, ctx);
            self.y = y;
            Ok(&self.y)
        }

        // dx = apply(dy): the same mask as the forward pass (same key and step).
        fn backward(&mut self, _x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
            if ctx.input_grad {
                let mut dx = std::mem::take(&mut self.dx);
                self.apply(&mut dx, dy, ctx);
                self.dx = dx;
            }
            Ok(&self.dx)
        }
    };
}
pub(crate) use same_op_passes;

/// Checks that the upstream gradient `dy` of layer `spec` has its output's `len` values.
pub fn check_grad(
    dy: &crate::tensor::Tensor,
    output: &crate::tensor::Tensor,
    spec: impl FnOnce() -> String,
) -> Result<()> {
    if dy.len() != output.len() {
        return Err(Error::Shape {
            context: format!("{} backward", spec()),
            got: dy.shape().to_vec(),
            expected: format!("{:?}, the forward output's shape", output.shape()),
        });
    }
    Ok(())
}

/// Checks a drop probability: finite and in [0, 1]. `layer` names the layer in the message.
pub fn validate_p(layer: &str, p: f64) -> Result<f32> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidArgument(format!(
            "{layer}({p}): p must be in [0, 1] (the probability of dropping a unit; 0.5 drops half)"
        )));
    }
    Ok(p as f32)
}

/// This pass's mask for a layer with stream `id` and drop rate `p`: None when nothing drops
/// (eval mode, or p = 0).
pub fn drop_mask(ctx: &Ctx, id: u64, p: f32) -> Option<MaskKey> {
    mask_key(ctx, id, 1.0 - p as f64).filter(|_| p > 0.0)
}

/// The mask key for layer `id` keeping with probability `keep` in this pass (None in Eval).
pub fn mask_key(ctx: &Ctx, id: u64, keep: f64) -> Option<MaskKey> {
    let step = match ctx.mode {
        Mode::Train => counters::train(ctx.step),
        Mode::MonteCarlo { sample } => counters::monte_carlo(sample),
        Mode::Eval => return None,
    };
    Some(MaskKey { key: key_for(ctx.seed, streams::layer(id)), step, threshold: keep_threshold(keep) })
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

/// The config of a plain dropout layer written `name(p)`: its kind and its rate.
#[derive(Clone, Debug)]
pub struct RateConfig {
    pub kind: &'static LayerKind,
    pub p: f64,
    make: fn(f64) -> Result<Box<dyn Layer>>,
}

impl RateConfig {
    /// `kind(p)`, built by `make`.
    pub fn new(kind: &'static LayerKind, p: f64, make: fn(f64) -> Result<Box<dyn Layer>>) -> Self {
        RateConfig { kind, p, make }
    }

    /// The `parse` of a plain kind: exactly one argument, the drop probability.
    pub fn parse(
        call: &Call,
        kind: &'static LayerKind,
        make: fn(f64) -> Result<Box<dyn Layer>>,
    ) -> Result<Vec<Box<dyn LayerConfig>>> {
        let name = kind.name();
        call.expect(1, 1, &format!("{name}(p) with p the drop probability, e.g. {name}(0.5)"))?;
        one(RateConfig::new(kind, call.prob(0)?, make))
    }
}

impl std::fmt::Display for RateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.kind.name(), self.p)
    }
}

impl LayerConfig for RateConfig {
    fn kind(&self) -> &'static LayerKind {
        self.kind
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        (self.make)(self.p)
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.p]
    }
}

/// A plain dropout kind: written `name(p)`, substitutable for any plain dropout layer.
macro_rules! plain_kind {
    ($kind:ident, [$name:literal $(, $alias:literal)*], $summary:expr, $paper:expr, $make:expr) => {
        pub const $kind: $crate::kind::LayerKind = $crate::kind::LayerKind {
            names: &[$name $(, $alias)*],
            usage: concat!($name, "(p)"),
            example: concat!($name, "(0.2)"),
            summary: $summary,
            paper: $paper,
            dropout: Some($crate::kind::Substitute::ForRate(|p| {
                Ok(Box::new($crate::dropout::RateConfig::new(&$kind, p, $make)))
            })),
            parse: |call| $crate::dropout::RateConfig::parse(call, &$kind, $make),
        };
    };
}
pub(crate) use plain_kind;
