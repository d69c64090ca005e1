//! Gaussian dropout (Srivastava et al., JMLR 2014, section 10,
//! <https://jmlr.org/papers/v15/srivastava14a.html>) and additive Gaussian noise (Keras
//! `GaussianNoise`).
//!
//! Gaussian dropout multiplies every unit by `e ~ N(1, p / (1 - p))`, the variance of inverted
//! Bernoulli dropout with drop probability p, so no rescaling is needed: train `y = x * e`,
//! eval `y = x`, backward `dx = dy * e` (e regenerated from its key). Gaussian noise adds
//! `n ~ N(0, stddev^2)`: train `y = x + n`, eval `y = x`, backward `dx = dy`. Monte Carlo
//! passes draw fresh noise per sample, as in training.

use super::{fill_normal, mask_key, plain_kind, same_op_passes, validate_p};
use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// Multiplicative N(1, p / (1 - p)) noise.
pub struct GaussianDropout {
    p: f32,
    id: u64,
    y: Tensor,
    dx: Tensor,
}

impl GaussianDropout {
    /// Gaussian dropout matching Bernoulli dropout of drop probability `p` in [0, 1).
    pub fn new(p: f64) -> Result<Self> {
        let p = validate_p("gaussian_dropout", p)?;
        if p >= 1.0 {
            return Err(Error::InvalidArgument(
                "gaussian_dropout(1): p must be below 1 (the noise variance p / (1 - p) is infinite at 1)".into(),
            ));
        }
        Ok(GaussianDropout { p, id: 0, y: Tensor::default(), dx: Tensor::default() })
    }

    /// The noise's standard deviation, `sqrt(p / (1 - p))`.
    pub fn stddev(&self) -> f32 {
        (self.p / (1.0 - self.p)).sqrt()
    }

    /// `out = src * (1 + stddev * z)` in a stochastic pass, `out = src` otherwise.
    fn apply(&self, out: &mut Tensor, src: &Tensor, ctx: &Ctx) {
        out.resize(src.shape());
        match mask_key(ctx, self.id, 1.0).filter(|_| self.p > 0.0) {
            Some(key) => {
                fill_normal(out.data_mut(), &key);
                let sd = self.stddev();
                out.data_mut().iter_mut().zip(src.data()).for_each(|(o, &x)| *o = x * (1.0 + sd * *o));
            }
            None => out.data_mut().copy_from_slice(src.data()),
        }
    }
}

impl Layer for GaussianDropout {
    fn spec(&self) -> String {
        format!("gaussian_dropout({})", self.p)
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        Ok(input.to_vec())
    }
    // y = x * e; dx = dy * e with the forward pass's e (same key and step).
    same_op_passes!();
    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

/// Additive N(0, stddev^2) noise.
pub struct GaussianNoise {
    stddev: f32,
    id: u64,
    y: Tensor,
    dx: Tensor,
}

impl GaussianNoise {
    pub fn new(stddev: f64) -> Result<Self> {
        if !(stddev.is_finite() && stddev >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "gaussian_noise({stddev}): the standard deviation must be a number >= 0, e.g. 0.1"
            )));
        }
        Ok(GaussianNoise { stddev: stddev as f32, id: 0, y: Tensor::default(), dx: Tensor::default() })
    }
}

impl Layer for GaussianNoise {
    fn spec(&self) -> String {
        format!("gaussian_noise({})", self.stddev)
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        Ok(input.to_vec())
    }
    // x: (B, ...) -> y: (B, ...)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        match mask_key(ctx, self.id, 1.0).filter(|_| self.stddev > 0.0) {
            Some(key) => {
                fill_normal(self.y.data_mut(), &key);
                let sd = self.stddev;
                self.y.data_mut().iter_mut().zip(x.data()).for_each(|(o, &x)| *o = x + sd * *o);
            }
            None => self.y.data_mut().copy_from_slice(x.data()),
        }
        Ok(&self.y)
    }
    // dy/dx = 1.
    fn backward(&mut self, _x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if ctx.input_grad {
            self.dx.resize(dy.shape());
            self.dx.data_mut().copy_from_slice(dy.data());
        }
        Ok(&self.dx)
    }
    fn is_stochastic(&self) -> bool {
        self.stddev > 0.0
    }
}

plain_kind!(
    DROPOUT,
    ["gaussian_dropout"],
    "multiplicative N(1, p/(1-p)) noise on every unit; eval identity",
    "Srivastava et al. 2014, section 10",
    |p| Ok(Box::new(GaussianDropout::new(p)?))
);

/// `gaussian_noise(stddev)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianNoiseConfig {
    pub stddev: f64,
}

impl std::fmt::Display for GaussianNoiseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gaussian_noise({})", self.stddev)
    }
}

impl LayerConfig for GaussianNoiseConfig {
    fn kind(&self) -> &'static LayerKind {
        &NOISE
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(GaussianNoise::new(self.stddev)?))
    }
}

pub const NOISE: LayerKind = LayerKind {
    names: &["gaussian_noise"],
    usage: "gaussian_noise(stddev)",
    example: "gaussian_noise(0.1)",
    summary: "additive N(0, stddev^2) noise in training; eval identity (in place of dropout(p): the noise of gaussian_dropout(p), stddev sqrt(p/(1-p)))",
    paper: "Keras GaussianNoise",
    dropout: Some(Substitute::ForRate(|p| {
        let stddev = if p < 1.0 { (p / (1.0 - p)).sqrt() } else { f64::INFINITY };
        Ok(Box::new(GaussianNoiseConfig { stddev }))
    })),
    parse: |call| {
        call.expect(1, 1, "gaussian_noise(stddev), e.g. gaussian_noise(0.1)")?;
        one(GaussianNoiseConfig { stddev: call.number(0, "stddev is the noise's standard deviation")? })
    },
};
