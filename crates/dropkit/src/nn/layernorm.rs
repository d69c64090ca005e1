//! Layer normalization (Ba, Kiros and Hinton, "Layer Normalization", 2016,
//! <https://arxiv.org/abs/1607.06450>; PyTorch's `nn.LayerNorm(D)`), over the last axis of each
//! sample, D values, with a learned gain and bias per value:
//!
//! `mu = mean(x)`, `rstd = 1 / sqrt(var(x) + eps)` (population variance), `xhat = (x - mu) rstd`,
//! `y = gamma * xhat + beta`. Backward (as llm.c's `layernorm_backward`), with
//! `g = dy * gamma`: `dx = rstd (g - mean(g) - xhat mean(g xhat))`, `dgamma = sum dy xhat`,
//! `dbeta = sum dy` over every row. The same in train, eval and Monte Carlo modes.
//!
//! Only the row means and deviations are kept for backward; `xhat` is recomputed from `x`.
//! Row sums run in the lanes of [`reduce`], and every pass in vector code. Rows are independent, and the parameter gradients sum rows in order, so results do not
//! depend on the thread count.

use crate::error::{Error, Result};
use crate::kernels::fastmath::vectorized;
use crate::kernels::reduce;
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;

/// PyTorch's default epsilon.
const DEFAULT_EPS: f64 = 1e-5;

/// Parameter-gradient columns per task: fixed, so the split never depends on the threads.
const COLUMNS: usize = 64;

pub struct LayerNorm {
    eps: f32,
    dim: usize,
    gamma: Param,
    beta: Param,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    y: Tensor,
    dx: Tensor,
}

impl LayerNorm {
    pub fn new(eps: f64) -> Self {
        LayerNorm {
            eps: eps as f32,
            dim: 0,
            gamma: Param::zeros(&[0], ParamKind::Bias),
            beta: Param::zeros(&[0], ParamKind::Bias),
            mean: Vec::new(),
            rstd: Vec::new(),
            y: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    fn check(&self, t: &Tensor, what: &str) -> Result<()> {
        if self.dim == 0 || !t.len().is_multiple_of(self.dim) || t.is_empty() {
            return Err(Error::Shape {
                context: format!("layernorm {what}"),
                got: t.shape().to_vec(),
                expected: format!("(batch, ..., {})", self.dim),
            });
        }
        Ok(())
    }
}

impl Layer for LayerNorm {
    fn spec(&self) -> String {
        LayerNormConfig { eps: self.eps as f64 }.to_string()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        let Some(&dim) = input.last().filter(|&&d| d > 0) else {
            return Err(Error::Spec(format!("layernorm needs inputs with a last axis to normalize, got {input:?}")));
        };
        self.dim = dim;
        self.gamma = Param::checked(&[dim], ParamKind::Bias, "layernorm")?;
        self.gamma.value.data_mut().fill(1.0);
        self.beta = Param::checked(&[dim], ParamKind::Bias, "layernorm")?;
        Ok(input.to_vec())
    }

    // x: (B, ..., D) -> y: (B, ..., D), each row of D normalized
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        self.check(x, "forward")?;
        let (d, eps) = (self.dim, self.eps);
        let rows = x.len() / d;
        self.y.resize(x.shape());
        self.mean.resize(rows, 0.0);
        self.rstd.resize(rows, 0.0);
        let (gamma, beta) = (self.gamma.value.data(), self.beta.value.data());
        self.y
            .data_mut()
            .par_chunks_mut(d)
            .zip(x.data().par_chunks(d))
            .zip(self.mean.par_iter_mut().zip(self.rstd.par_iter_mut()))
            .for_each(|((y, x), (mean, rstd))| {
                vectorized(
                    #[inline(always)]
                    || {
                        let m = reduce::sum(x) / d as f32;
                        let var = reduce::squared_deviations(x, m) / d as f32;
                        let r = 1.0 / (var + eps).sqrt();
                        for (((y, &x), &g), &b) in y.iter_mut().zip(x).zip(gamma).zip(beta) {
                            *y = (x - m) * r * g + b;
                        }
                        (*mean, *rstd) = (m, r);
                    },
                )
            });
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.check(dy, "backward")?;
        let d = self.dim;
        if dy.len() != x.len() || self.mean.len() != x.len() / d {
            return Err(Error::Shape {
                context: "layernorm backward".into(),
                got: dy.shape().to_vec(),
                expected: format!("{:?}, the shape of the forward input", x.shape()),
            });
        }
        let (mean, rstd) = (&self.mean, &self.rstd);
        // dgamma, dbeta: every row in order, a fixed block of columns per task.
        let (xs, dys) = (x.data(), dy.data());
        self.gamma
            .grad
            .data_mut()
            .par_chunks_mut(COLUMNS)
            .zip(self.beta.grad.data_mut().par_chunks_mut(COLUMNS))
            .enumerate()
            .for_each(|(block, (dg, db))| {
                let start = block * COLUMNS;
                dg.fill(0.0);
                db.fill(0.0);
                let cols = start..start + dg.len();
                vectorized(
                    #[inline(always)]
                    || {
                        for (row, (xr, dr)) in xs.chunks_exact(d).zip(dys.chunks_exact(d)).enumerate() {
                            let (m, r) = (mean[row], rstd[row]);
                            let (xr, dr) = (&xr[cols.clone()], &dr[cols.clone()]);
                            for (((g, b), &dy), &x) in dg.iter_mut().zip(db.iter_mut()).zip(dr).zip(xr) {
                                *g += dy * (x - m) * r;
                                *b += dy;
                            }
                        }
                    },
                )
            });
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        let gamma = self.gamma.value.data();
        self.dx.data_mut().par_chunks_mut(d).zip(xs.par_chunks(d)).zip(dys.par_chunks(d)).enumerate().for_each(
            |(row, ((dx, xr), dr))| {
                vectorized(
                    #[inline(always)]
                    || {
                        let (m, r) = (mean[row], rstd[row]);
                        let mean_g = reduce::dot(dr, gamma) / d as f32;
                        let mean_g_xhat = reduce::sum3(xr, dr, gamma, |x, dy, g| dy * g * ((x - m) * r)) / d as f32;
                        for (((dx, &x), &dy), &g) in dx.iter_mut().zip(xr).zip(dr).zip(gamma) {
                            *dx = r * (dy * g - mean_g - (x - m) * r * mean_g_xhat);
                        }
                    },
                )
            },
        );
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.gamma);
        f("bias", &mut self.beta);
    }
}

/// `layernorm` or `layernorm(eps)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormConfig {
    pub eps: f64,
}

impl fmt::Display for LayerNormConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if (self.eps - DEFAULT_EPS).abs() < 1e-12 {
            f.write_str("layernorm")
        } else {
            write!(f, "layernorm({})", self.eps)
        }
    }
}

impl LayerConfig for LayerNormConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(LayerNorm::new(self.eps)))
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["layernorm", "layer_norm"],
    usage: "layernorm`, `layernorm(eps)",
    example: "layernorm",
    summary: "layer normalization over each sample's last axis, with a gain and bias per value (PyTorch's `LayerNorm`)",
    paper: "Ba, Kiros and Hinton 2016",
    dropout: None,
    parse: |call| {
        call.expect(0, 1, "layernorm or layernorm(eps), e.g. layernorm(1e-5)")?;
        let eps = match call.arg(0) {
            Some(_) => call.number(0, "eps is a small positive number, e.g. 1e-5")?,
            None => DEFAULT_EPS,
        };
        if !(eps.is_finite() && eps > 0.0) {
            return Err(call.error(format!("eps {eps} must be a small positive number, e.g. 1e-5")));
        }
        one(LayerNormConfig { eps })
    },
};
