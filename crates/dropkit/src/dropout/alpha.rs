//! Alpha dropout and feature alpha dropout for self-normalizing networks (Klambauer,
//! Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural Networks", NeurIPS 2017,
//! <https://arxiv.org/abs/1706.02515>).
//!
//! Drops: units (alpha) or whole channels of (B, C, spatial...) inputs (feature alpha), each
//! with probability p, setting them to SELU's negative saturation `a' = -lambda * alpha`
//! instead of 0, then restoring zero mean and unit variance with an affine map:
//! `y = a (x m + a' (1 - m)) + b`, `a = ((1 - p)(1 + p a'^2))^(-1/2)`, `b = -a a' p`.
//! Train as above; eval `y = x`; backward `dx = dy * a * m`. Monte Carlo: fresh masks per
//! sample, as in training. The mask is kept from the forward pass for the backward pass.

use super::{drop_mask, plain_kind, validate_p};
use crate::error::{Error, Result};
use crate::kernels::activation::{SELU_ALPHA, SELU_LAMBDA};
use crate::kernels::mask;
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// SELU's negative saturation value, `-lambda * alpha`.
pub const ALPHA_PRIME: f64 = -SELU_LAMBDA * SELU_ALPHA;

/// What alpha dropout drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlphaKind {
    /// Individual units (`alpha_dropout`).
    Units,
    /// Whole channels of (B, C, spatial...) inputs (`feature_alpha_dropout`).
    Features,
}

/// Alpha dropout of units or of whole channels.
pub struct AlphaDropout {
    p: f32,
    feature: bool,
    id: u64,
    /// 1 (kept) or 0 per mask element, from the last stochastic forward pass.
    mask: Vec<f32>,
    /// Elements per mask element: 1, or the spatial size for feature alpha dropout.
    inner: usize,
    stochastic_pass: bool,
    y: Tensor,
    dx: Tensor,
}

impl AlphaDropout {
    /// Alpha dropout with drop probability `p` of units or channels.
    pub fn new(p: f64, kind: AlphaKind) -> Result<Self> {
        let feature = kind == AlphaKind::Features;
        let name = if feature { "feature_alpha_dropout" } else { "alpha_dropout" };
        let p = validate_p(name, p)?;
        if p >= 1.0 {
            return Err(Error::InvalidArgument(format!(
                "{name}(1): p must be below 1 (the affine correction is undefined at 1)"
            )));
        }
        Ok(AlphaDropout {
            p,
            feature,
            id: 0,
            mask: Vec::new(),
            inner: 1,
            stochastic_pass: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// The affine correction (a, b).
    pub fn affine(&self) -> (f32, f32) {
        let (p, ap) = (self.p as f64, ALPHA_PRIME);
        let a = ((1.0 - p) * (1.0 + p * ap * ap)).powf(-0.5);
        (a as f32, (-a * ap * p) as f32)
    }
}

impl Layer for AlphaDropout {
    fn mask_bytes(&self) -> usize {
        (self.mask.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        let name = if self.feature { "feature_alpha_dropout" } else { "alpha_dropout" };
        format!("{name}({})", self.p)
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        if self.feature && input.len() < 2 {
            return Err(Error::Shape {
                context: self.spec(),
                got: input.to_vec(),
                expected: "(channels, spatial...) per sample; use alpha_dropout on flat features".into(),
            });
        }
        self.inner = if self.feature { input.iter().skip(1).product() } else { 1 };
        Ok(input.to_vec())
    }
    // x: (B, ...) -> y: (B, ...)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        let key = drop_mask(ctx, self.id, self.p);
        self.stochastic_pass = key.is_some();
        let Some(key) = key else {
            self.y.data_mut().copy_from_slice(x.data());
            return Ok(&self.y);
        };
        let inner = self.inner.max(1);
        let n = x.len() / inner;
        self.mask.resize(n, 0.0);
        mask::fill(&mut self.mask, &key, 1.0);
        let (a, b) = self.affine();
        let dropped = a * ALPHA_PRIME as f32 + b;
        for ((ys, xs), &m) in self.y.data_mut().chunks_mut(inner).zip(x.data().chunks(inner)).zip(&self.mask) {
            if m > 0.0 {
                ys.iter_mut().zip(xs).for_each(|(y, &x)| *y = a * x + b);
            } else {
                ys.fill(dropped);
            }
        }
        Ok(&self.y)
    }
    // dx = dy * a * m.
    fn backward(&mut self, _x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(dy.shape());
        if !self.stochastic_pass {
            self.dx.data_mut().copy_from_slice(dy.data());
            return Ok(&self.dx);
        }
        let (a, _) = self.affine();
        let inner = self.inner.max(1);
        for ((dx, dy), &m) in self.dx.data_mut().chunks_mut(inner).zip(dy.data().chunks(inner)).zip(&self.mask) {
            dx.iter_mut().zip(dy).for_each(|(dx, &dy)| *dx = dy * a * m);
        }
        Ok(&self.dx)
    }
    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

plain_kind!(
    KIND,
    ["alpha_dropout"],
    "SELU-preserving dropout: sets units to SELU's saturation and keeps mean 0, variance 1 (use with selu)",
    "Klambauer et al. 2017, NeurIPS",
    |p| Ok(Box::new(AlphaDropout::new(p, AlphaKind::Units)?))
);

plain_kind!(
    FEATURE,
    ["feature_alpha_dropout"],
    "alpha dropout of whole channels",
    "Klambauer et al. 2017, NeurIPS",
    |p| Ok(Box::new(AlphaDropout::new(p, AlphaKind::Features)?))
);
