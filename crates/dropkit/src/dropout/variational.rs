//! Variational dropout with a learned rate per weight (Kingma, Salimans, Welling, "Variational
//! Dropout and the Local Reparameterization Trick", NeurIPS 2015,
//! <https://arxiv.org/abs/1506.02557>), in the sparse form of Molchanov, Ashukha, Vetrov,
//! "Variational Dropout Sparsifies Deep Neural Networks", ICML 2017,
//! <https://arxiv.org/abs/1701.05369>.
//!
//! A dense layer whose weights carry Gaussian multiplicative noise: `w = theta (1 + sqrt(alpha)
//! e)`, `alpha = sigma^2 / theta^2` learned per weight through `log sigma^2`. Dropped: nothing
//! is zeroed in training; the noise is the Gaussian form of dropout with rate
//! `p = alpha / (1 + alpha)`. Local reparameterization samples the pre-activations instead of
//! the weights: `u = x theta^T + b + sqrt((x*x) sigma^2^T) e`, e ~ N(0, 1) per output.
//! The loss gains `KL / N` (N training examples) with Molchanov's approximation
//! `-KL = k1 s(k2 + k3 log alpha) - 0.5 log(1 + 1/alpha) - k1`, added to the gradients in
//! the backward pass, its weight ramped linearly from 0 to 1 over the first `warmup` steps (0:
//! the full weight from the start), as sparse VD implementations do. Eval: weights with `log alpha > 3` are pruned (set to 0), `y = x theta^T + b`.
//! Monte Carlo: local reparameterization noise, fresh per sample.

use super::{fill_normal, mask_key};
use crate::error::{Error, Result};
use crate::init::glorot_uniform;
use crate::kernels::affine::affine;
use crate::kernels::column_sums;
use crate::kernels::gemm::{matmul, MatRef};
use crate::kind::{downcast, one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer, Mode, Param, ParamKind};
use crate::nn::linear::{DenseConfig, Init};
use crate::rng::Stream;
use crate::tensor::Tensor;

const K1: f64 = 0.63576;
const K2: f64 = 1.87320;
const K3: f64 = 1.48695;
/// Weights with `log alpha` above this are pruned at eval.
pub const PRUNE_LOG_ALPHA: f32 = 3.0;

/// A dense layer with sparse variational dropout.
pub struct VariationalDense {
    units: usize,
    warmup: u64,
    in_features: usize,
    theta: Param,
    log_sigma2: Param,
    bias: Param,
    id: u64,
    /// Scratch: sigma^2 or pruned theta (units, in); x*x (B, in); output std and noise (B, units).
    w2: Vec<f32>,
    x2: Vec<f32>,
    std: Tensor,
    noise: Tensor,
    /// Scratch: the transposed product in forward, the input gradient through the noise
    /// (B, in) in backward.
    tmp: Vec<f32>,
    noisy: bool,
    y: Tensor,
    dx: Tensor,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl VariationalDense {
    /// `units` outputs; the KL weight ramps up over `warmup` optimizer steps.
    pub fn new(units: usize, warmup: u64) -> Result<Self> {
        if units == 0 {
            return Err(Error::InvalidArgument("variational_dense(0): units must be at least 1".into()));
        }
        Ok(VariationalDense {
            units,
            warmup,
            in_features: 0,
            theta: Param::zeros(&[0], ParamKind::Weight),
            log_sigma2: Param::zeros(&[0], ParamKind::Bias),
            bias: Param::zeros(&[0], ParamKind::Bias),
            id: 0,
            w2: Vec::new(),
            x2: Vec::new(),
            std: Tensor::default(),
            noise: Tensor::default(),
            tmp: Vec::new(),
            noisy: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// `log alpha = log sigma^2 - log theta^2`, clipped to [-8, 8] as in the reference code.
    fn log_alpha(theta: f32, log_sigma2: f32) -> f32 {
        (log_sigma2 - (theta * theta + 1e-8).ln()).clamp(-8.0, 8.0)
    }

    /// The share of weights pruned at eval (`log alpha > 3`).
    pub fn pruned_share(&self) -> f64 {
        let w = self.theta.value.data();
        let pruned = w
            .iter()
            .zip(self.log_sigma2.value.data())
            .filter(|(&t, &s)| Self::log_alpha(t, s) > PRUNE_LOG_ALPHA)
            .count();
        pruned as f64 / w.len().max(1) as f64
    }

    /// The weight of the KL term in this pass's per-example loss: its warm-up ramp over the
    /// training-set size; None outside training.
    fn kl_weight(&self, ctx: &Ctx) -> Option<f64> {
        if ctx.data_size == 0 || ctx.mode != Mode::Train {
            return None;
        }
        let ramp = if self.warmup > 0 { (ctx.step as f64 / self.warmup as f64).min(1.0) } else { 1.0 };
        Some(ramp / ctx.data_size as f64)
    }

    /// `KL(q || prior)` summed over the weights (Molchanov's approximation).
    pub fn kl(&self) -> f64 {
        self.theta
            .value
            .data()
            .iter()
            .zip(self.log_sigma2.value.data())
            .map(|(&t, &s)| {
                let la = Self::log_alpha(t, s) as f64;
                K1 - K1 * sigmoid(K2 + K3 * la) + 0.5 * (-la).exp().ln_1p()
            })
            .sum()
    }
}

impl Layer for VariationalDense {
    fn mask_bytes(&self) -> usize {
        self.noise.len() * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        format!("variational_dense({}, {})", self.units, self.warmup)
    }
    fn regularizer(&self, ctx: &Ctx) -> f64 {
        self.kl_weight(ctx).map_or(0.0, |w| w * self.kl())
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        self.in_features = input.iter().product();
        let shape = [self.units, self.in_features];
        self.theta = Param::checked(&shape, ParamKind::Weight, &self.spec())?;
        // No weight decay or max-norm on log sigma^2: the KL term is its regularizer.
        self.log_sigma2 = Param::checked(&shape, ParamKind::Bias, &self.spec())?;
        self.bias = Param::checked(&[self.units], ParamKind::Bias, &self.spec())?;
        glorot_uniform(self.theta.value.data_mut(), self.in_features, self.units, init);
        self.log_sigma2.value.data_mut().fill(-10.0);
        Ok(vec![self.units])
    }
    // x: (B, in) -> y: (B, units)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        crate::layer::check_input(x, self.in_features, || self.spec())?;
        let (b, n, d) = (x.rows(), self.units, self.in_features);
        let key = mask_key(ctx, self.id, 1.0);
        self.noisy = key.is_some();
        self.y.resize(&[b, n]);
        let Some(key) = key else {
            // Eval: pruned mean weights.
            self.w2.clear();
            let (t, s) = (self.theta.value.data(), self.log_sigma2.value.data());
            self.w2
                .extend(t.iter().zip(s).map(|(&t, &s)| if Self::log_alpha(t, s) > PRUNE_LOG_ALPHA { 0.0 } else { t }));
            affine(self.y.data_mut(), x.data(), &self.w2, self.bias.value.data(), b, &mut self.tmp);
            return Ok(&self.y);
        };
        affine(self.y.data_mut(), x.data(), self.theta.value.data(), self.bias.value.data(), b, &mut self.tmp);
        // std = sqrt((x*x) sigma^2^T)
        self.w2.clear();
        self.w2.extend(self.log_sigma2.value.data().iter().map(|&s| s.exp()));
        self.x2.clear();
        self.x2.extend(x.data().iter().map(|v| v * v));
        self.std.resize(&[b, n]);
        matmul(self.std.data_mut(), MatRef::new(&self.x2, b, d), MatRef::new(&self.w2, n, d).t(), false);
        self.std.data_mut().iter_mut().for_each(|v| *v = (v.max(0.0) + 1e-8).sqrt());
        self.noise.resize(&[b, n]);
        fill_normal(self.noise.data_mut(), &key);
        for ((y, &s), &e) in self.y.data_mut().iter_mut().zip(self.std.data()).zip(self.noise.data()) {
            *y += s * e;
        }
        Ok(&self.y)
    }
    // d theta = dy^T x + dKL/dtheta / N; d log sigma^2 = sigma^2 * ((dy e / 2 std)^T x^2) + dKL/dlog sigma^2 / N.
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        crate::layer::check_input(dy, self.units, || format!("{} backward", self.spec()))?;
        let (b, n, d) = (x.rows(), self.units, self.in_features);
        let dym = MatRef::new(dy.data(), b, n);
        matmul(self.theta.grad.data_mut(), dym.t(), MatRef::new(x.data(), b, d), false);
        column_sums(dy.data(), b, n, self.bias.grad.data_mut());
        if self.noisy {
            // dv = dy * e / (2 std), v = (x*x) sigma^2^T.
            let mut dv = std::mem::take(&mut self.noise);
            dv.data_mut()
                .iter_mut()
                .zip(dy.data())
                .zip(self.std.data())
                .for_each(|((e, &g), &s)| *e = g * *e / (2.0 * s));
            matmul(
                self.log_sigma2.grad.data_mut(),
                MatRef::new(dv.data(), b, n).t(),
                MatRef::new(&self.x2, b, d),
                false,
            );
            for (g, &s2) in self.log_sigma2.grad.data_mut().iter_mut().zip(&self.w2) {
                *g *= s2;
            }
            self.noise = dv;
        } else {
            self.log_sigma2.grad.data_mut().fill(0.0);
        }
        // The KL term, per example: d/d log alpha = -k1 k3 s (1 - s) - 0.5 sigmoid(-log alpha).
        if let Some(scale) = self.kl_weight(ctx) {
            let (tg, sg) = (self.theta.grad.data_mut(), self.log_sigma2.grad.data_mut());
            for (((&t, &s), gt), gs) in self.theta.value.data().iter().zip(self.log_sigma2.value.data()).zip(tg).zip(sg)
            {
                let raw = s - (t * t + 1e-8).ln();
                if !(-8.0..=8.0).contains(&raw) {
                    continue; // clipped: no gradient through log alpha
                }
                let sk = sigmoid(K2 + K3 * raw as f64);
                let dkl = (-K1 * K3 * sk * (1.0 - sk) - 0.5 * sigmoid(-raw as f64)) * scale;
                *gs += dkl as f32;
                *gt += (dkl * (-2.0 * t as f64 / (t as f64 * t as f64 + 1e-8))) as f32;
            }
        }
        if ctx.input_grad {
            self.dx.resize(x.shape());
            matmul(self.dx.data_mut(), dym, MatRef::new(self.theta.value.data(), n, d), false);
            if self.noisy {
                // d/dx of std: dv x-part = 2 x * (dv sigma^2).
                self.tmp.resize(b * d, 0.0);
                matmul(&mut self.tmp, MatRef::new(self.noise.data(), b, n), MatRef::new(&self.w2, n, d), false);
                self.dx
                    .data_mut()
                    .iter_mut()
                    .zip(&self.tmp)
                    .zip(x.data())
                    .for_each(|((g, &t), &xv)| *g += 2.0 * xv * t);
            }
        }
        Ok(&self.dx)
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.theta);
        f("log_sigma2", &mut self.log_sigma2);
        f("bias", &mut self.bias);
    }
    fn is_stochastic(&self) -> bool {
        true
    }
    fn summary(&self) -> Option<String> {
        Some(format!(
            "{}: {:.1}% of weights have log alpha > {PRUNE_LOG_ALPHA} and are pruned at eval (KL {:.1})",
            self.spec(),
            100.0 * self.pruned_share(),
            self.kl()
        ))
    }
}

/// `variational_dense(units[, kl_warmup_steps])`.
#[derive(Clone, Debug, PartialEq)]
pub struct VariationalConfig {
    pub units: usize,
    pub warmup: u64,
}

impl std::fmt::Display for VariationalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "variational_dense({}", self.units)?;
        if self.warmup > 0 {
            write!(f, ", {}", self.warmup)?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for VariationalConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(VariationalDense::new(self.units, self.warmup)?))
    }
    /// Its rates are learned per weight: without dropout it is a plain dense layer.
    fn without_dropout(&self) -> Vec<Box<dyn LayerConfig>> {
        vec![Box::new(DenseConfig { units: self.units, init: Init::GlorotUniform })]
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["variational_dense"],
    usage: "variational_dense(units[, warmup])",
    example: "variational_dense(16, 100)",
    summary: "dense layer with a learned dropout rate per weight (sparse variational dropout); its KL term joins the loss, ramped in over `warmup` steps; weights with log alpha > 3 are pruned at eval and the share is printed (in place of dropout(p): the dense layer before it)",
    paper: "Kingma et al. 2015; Molchanov et al. 2017, ICML",
    dropout: Some(Substitute::Host(|host, _p| {
        downcast::<DenseConfig>(host)
            .map(|d| Box::new(VariationalConfig { units: d.units, warmup: 0 }) as Box<dyn LayerConfig>)
    })),
    parse: |call| {
        call.expect(1, 2, "variational_dense(units[, kl_warmup_steps]), e.g. variational_dense(512, 5000)")?;
        one(VariationalConfig { units: call.positive(0, "units")?, warmup: call.whole(1, "the KL warm-up (steps)", Some(0))? })
    },
};
