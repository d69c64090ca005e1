//! Drop-Activation (Liang, Khoo, Kim and Zhang, "Drop-Activation: Implicit Parameter Reduction
//! and Harmonious Regularization", Communications on Applied Mathematics and Computation 2021,
//! <https://arxiv.org/abs/1811.05850>).
//!
//! Drops: the nonlinearity of individual units. A unit keeps its ReLU when `m_i = 1`,
//! `m_i ~ Bernoulli(1 - p)`, and passes its input through unchanged otherwise.
//! - Train: `y = m * relu(x) + (1 - m) * x`, i.e. `y = x - m * min(x, 0)`; no rescaling.
//! - Eval: the expectation, `y = (1 - p) relu(x) + p x`: a leaky ReLU of slope p.
//! - Backward: `dx = dy` where `x > 0`, `dy * (1 - m)` elsewhere, the mask regenerated from its
//!   key. Monte Carlo: a fresh mask per sample, as in training.
//! - `p = 0` is a ReLU, `p = 1` the identity. Written in place of `relu`:
//!   `dense(512) drop_activation(0.3)`; without dropout (the `none` baseline) it is `relu`.

use super::{drop_mask, validate_p, RateConfig};
use crate::error::Result;
use crate::kernels::activation::ActivationKind;
use crate::kernels::{mask, par_zip};
use crate::kind::{one, LayerConfig, LayerKind, Substitute};
use crate::layer::{check_input, Ctx, Layer, Mode};
use crate::nn::activation::ActivationConfig;
use crate::rng::Stream;
use crate::tensor::Tensor;

/// A ReLU whose units each drop their nonlinearity with probability `p`.
///
/// Args: `p`, the probability that a unit passes its input through instead of its ReLU.
/// Shape: any; the output has the input's shape.
pub struct DropActivation {
    p: f32,
    id: u64,
    /// Scratch: `min(x, 0)` (forward) or `dy` where `x <= 0` (backward), and the same masked.
    below: Vec<f32>,
    masked: Vec<f32>,
    y: Tensor,
    dx: Tensor,
}

impl DropActivation {
    pub fn new(p: f64) -> Result<Self> {
        let p = validate_p("drop_activation", p)?;
        Ok(DropActivation {
            p,
            id: 0,
            below: Vec::new(),
            masked: Vec::new(),
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }
}

impl Layer for DropActivation {
    fn spec(&self) -> String {
        format!("drop_activation({})", self.p)
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        Ok(input.to_vec())
    }

    // x: (B, ...) -> y = x - m * min(x, 0): (B, ...)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        match drop_mask(ctx, self.id, self.p) {
            Some(key) => {
                self.below.resize(x.len(), 0.0);
                self.masked.resize(x.len(), 0.0);
                par_zip(&mut self.below, x.data(), |b, x, _| b.iter_mut().zip(x).for_each(|(b, &x)| *b = x.min(0.0)));
                mask::apply(&mut self.masked, &self.below, &key, 1.0);
                let y = self.y.data_mut();
                y.iter_mut().zip(x.data()).zip(&self.masked).for_each(|((y, &x), &m)| *y = x - m);
            }
            None => {
                // Eval: the expectation; a stochastic pass with p = 0 keeps every ReLU.
                let slope = if ctx.mode == Mode::Eval { self.p } else { 0.0 };
                par_zip(self.y.data_mut(), x.data(), |y, x, _| {
                    y.iter_mut().zip(x).for_each(|(y, &x)| *y = if x > 0.0 { x } else { slope * x })
                });
            }
        }
        Ok(&self.y)
    }

    // dx = dy - m * [x <= 0] * dy
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        check_input(dy, x.cols(), || format!("{} backward", self.spec()))?;
        self.dx.resize(x.shape());
        match drop_mask(ctx, self.id, self.p) {
            Some(key) => {
                self.below.resize(x.len(), 0.0);
                let below = self.below.iter_mut().zip(x.data()).zip(dy.data());
                below.for_each(|((b, &x), &g)| *b = if x > 0.0 { 0.0 } else { g });
                mask::apply(self.dx.data_mut(), &self.below, &key, 1.0);
                self.dx.data_mut().iter_mut().zip(dy.data()).for_each(|(d, &g)| *d = g - *d);
            }
            None => {
                let slope = if ctx.mode == Mode::Eval { self.p } else { 0.0 };
                let (dx, xs) = (self.dx.data_mut(), x.data());
                dx.iter_mut().zip(xs).zip(dy.data()).for_each(|((d, &x), &g)| *d = if x > 0.0 { g } else { slope * g });
            }
        }
        Ok(&self.dx)
    }

    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

/// `drop_activation(p)`: a plain rate config that, without dropout, is the ReLU it stands for.
#[derive(Clone, Debug)]
pub struct DropActivationConfig(RateConfig);

impl std::fmt::Display for DropActivationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl LayerConfig for DropActivationConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        self.0.build()
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        self.0.rates_mut()
    }
    fn without_dropout(&self) -> Vec<Box<dyn LayerConfig>> {
        vec![Box::new(ActivationConfig { kind: ActivationKind::Relu, inline: false })]
    }
}

fn config(p: f64) -> DropActivationConfig {
    DropActivationConfig(RateConfig::new(&KIND, p, |p| Ok(Box::new(DropActivation::new(p)?))))
}

pub const KIND: LayerKind = LayerKind {
    names: &["drop_activation"],
    usage: "drop_activation(p)",
    example: "drop_activation(0.3)",
    summary:
        "a ReLU whose units each pass their input through unchanged with probability p; eval `(1 - p) relu(x) + p x`",
    paper: "Liang et al. 2021, CAMC (arXiv 1811.05850)",
    dropout: Some(Substitute::ForRate(|p| Ok(Box::new(config(p))))),
    parse: |call| {
        call.expect(1, 1, "drop_activation(p) in place of relu, e.g. drop_activation(0.3)")?;
        one(config(call.prob(0)?))
    },
};
