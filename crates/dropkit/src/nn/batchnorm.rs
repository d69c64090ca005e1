//! Batch normalization (Ioffe and Szegedy 2015, <https://arxiv.org/abs/1502.03167>), in
//! PyTorch's formulation, per channel c over the batch and any spatial positions:
//! `y = (x - mean_c) / sqrt(var_c + eps) * gamma_c + beta_c`.
//! Training uses the batch's mean and biased variance and updates the running statistics,
//! `running = (1 - momentum) running + momentum batch` (unbiased variance), as PyTorch does;
//! Eval and Monte Carlo passes use the running statistics. Backward (training), with
//! `xhat = (x - mean) / std` over the N values of a channel:
//! `dx = gamma / (N std) (N dy - sum(dy) - xhat sum(dy xhat))`.
//! Input (B, F) is BatchNorm1d (a channel per feature); (B, C, H, W) is BatchNorm2d.
//! gamma and beta get no weight decay or max-norm, as in Keras.

use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Mode, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

/// Batch normalization over the first per-sample axis (features or channels).
pub struct BatchNorm {
    momentum: f32,
    eps: f32,
    channels: usize,
    /// Values per channel per sample (1 for BatchNorm1d, H*W for 2d).
    inner: usize,
    gamma: Param,
    beta: Param,
    running_mean: Tensor,
    running_var: Tensor,
    /// Saved by a training forward pass for backward: xhat and 1/std per channel.
    xhat: Tensor,
    inv_std: Vec<f32>,
    train_stats: bool,
    y: Tensor,
    dx: Tensor,
}

impl BatchNorm {
    /// `momentum` weighs the newest batch in the running statistics (PyTorch: 0.1).
    pub fn new(momentum: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&momentum) {
            return Err(Error::Spec(format!(
                "batchnorm({momentum}): momentum must be in [0, 1]; PyTorch's default is 0.1"
            )));
        }
        Ok(BatchNorm {
            momentum: momentum as f32,
            eps: 1e-5,
            channels: 0,
            inner: 0,
            gamma: Param::zeros(&[0], ParamKind::Bias),
            beta: Param::zeros(&[0], ParamKind::Bias),
            running_mean: Tensor::default(),
            running_var: Tensor::default(),
            xhat: Tensor::default(),
            inv_std: Vec::new(),
            train_stats: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// Per-channel mean and biased variance of `x`, summed in f64 in a fixed order.
    fn batch_stats(&self, x: &[f32], batch: usize) -> (Vec<f64>, Vec<f64>) {
        let (c, inner) = (self.channels, self.inner);
        let n = (batch * inner) as f64;
        let mut mean = vec![0.0f64; c];
        let mut var = vec![0.0f64; c];
        for sample in x.chunks_exact(c * inner) {
            for (m, values) in mean.iter_mut().zip(sample.chunks_exact(inner)) {
                *m += values.iter().map(|&v| v as f64).sum::<f64>();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        for sample in x.chunks_exact(c * inner) {
            for ((v, &m), values) in var.iter_mut().zip(&mean).zip(sample.chunks_exact(inner)) {
                *v += values.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>();
            }
        }
        var.iter_mut().for_each(|v| *v /= n);
        (mean, var)
    }
}

impl Layer for BatchNorm {
    fn spec(&self) -> String {
        format!("batchnorm({})", self.momentum)
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        let Some((&channels, rest)) = input.split_first() else {
            return Err(Error::Spec("batchnorm needs an input with at least one axis".into()));
        };
        self.channels = channels;
        self.inner = rest.iter().product();
        self.gamma = Param::checked(&[channels], ParamKind::Bias, &self.spec())?;
        self.gamma.value.data_mut().fill(1.0);
        self.beta = Param::checked(&[channels], ParamKind::Bias, &self.spec())?;
        self.running_mean = Tensor::zeros(&[channels]);
        self.running_var = Tensor::zeros(&[channels]);
        self.running_var.data_mut().fill(1.0);
        Ok(input.to_vec())
    }

    // x: (B, C, inner...) -> y: same shape
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let per_sample = self.channels * self.inner;
        if x.shape().is_empty() || per_sample == 0 || x.len() != x.rows() * per_sample {
            return Err(Error::Shape {
                context: self.spec(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, ...) with {per_sample} values per sample", self.channels),
            });
        }
        let batch = x.rows();
        self.train_stats = ctx.mode == Mode::Train;
        let (mean, inv_std): (Vec<f32>, Vec<f32>) = if self.train_stats {
            let (mean, var) = self.batch_stats(x.data(), batch);
            let n = (batch * self.inner) as f64;
            let m = self.momentum;
            let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
            for (((rm, rv), &bm), &bv) in
                self.running_mean.data_mut().iter_mut().zip(self.running_var.data_mut()).zip(&mean).zip(&var)
            {
                *rm = (1.0 - m) * *rm + m * bm as f32;
                *rv = (1.0 - m) * *rv + m * (bv * unbiased) as f32;
            }
            let inv = var.iter().map(|&v| (1.0 / (v + self.eps as f64).sqrt()) as f32).collect();
            (mean.iter().map(|&m| m as f32).collect(), inv)
        } else {
            let inv = self.running_var.data().iter().map(|&v| 1.0 / (v + self.eps).sqrt()).collect();
            (self.running_mean.data().to_vec(), inv)
        };
        self.y.resize(x.shape());
        self.xhat.resize(x.shape());
        let (gamma, beta) = (self.gamma.value.data(), self.beta.value.data());
        let rows = x.data().chunks_exact(per_sample).zip(self.xhat.data_mut().chunks_exact_mut(per_sample));
        for ((xs, hs), ys) in rows.zip(self.y.data_mut().chunks_exact_mut(per_sample)) {
            let channels = xs.chunks_exact(self.inner).zip(hs.chunks_exact_mut(self.inner));
            for (c, ((xc, hc), yc)) in channels.zip(ys.chunks_exact_mut(self.inner)).enumerate() {
                for ((&xv, h), y) in xc.iter().zip(hc).zip(yc) {
                    *h = (xv - mean[c]) * inv_std[c];
                    *y = *h * gamma[c] + beta[c];
                }
            }
        }
        self.inv_std = inv_std;
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if dy.len() != self.xhat.len() || x.len() != self.xhat.len() {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?}, the shape of the forward output", self.xhat.shape()),
            });
        }
        let (c, inner) = (self.channels, self.inner);
        let per_sample = c * inner;
        // Per-channel sums of dy and dy * xhat, in a fixed order.
        let mut sum_dy = vec![0.0f64; c];
        let mut sum_dy_xhat = vec![0.0f64; c];
        for (ds, hs) in dy.data().chunks_exact(per_sample).zip(self.xhat.data().chunks_exact(per_sample)) {
            for (k, (dc, hc)) in ds.chunks_exact(inner).zip(hs.chunks_exact(inner)).enumerate() {
                for (&d, &h) in dc.iter().zip(hc) {
                    sum_dy[k] += d as f64;
                    sum_dy_xhat[k] += d as f64 * h as f64;
                }
            }
        }
        for (g, &s) in self.gamma.grad.data_mut().iter_mut().zip(&sum_dy_xhat) {
            *g = s as f32;
        }
        for (g, &s) in self.beta.grad.data_mut().iter_mut().zip(&sum_dy) {
            *g = s as f32;
        }
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        let n = (dy.rows() * inner) as f32;
        let gamma = self.gamma.value.data();
        let train = self.train_stats;
        let rows = dy.data().chunks_exact(per_sample).zip(self.xhat.data().chunks_exact(per_sample));
        for ((ds, hs), xs) in rows.zip(self.dx.data_mut().chunks_exact_mut(per_sample)) {
            let channels = ds.chunks_exact(inner).zip(hs.chunks_exact(inner)).zip(xs.chunks_exact_mut(inner));
            for (k, ((dc, hc), xc)) in channels.enumerate() {
                let scale = gamma[k] * self.inv_std[k];
                let (mean_dy, mean_dy_xhat) = ((sum_dy[k] / n as f64) as f32, (sum_dy_xhat[k] / n as f64) as f32);
                for ((&d, &h), dx) in dc.iter().zip(hc).zip(xc) {
                    // With running statistics the normalization is a fixed affine map.
                    *dx = if train { scale * (d - mean_dy - h * mean_dy_xhat) } else { scale * d };
                }
            }
        }
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.gamma);
        f("bias", &mut self.beta);
    }

    fn visit_buffers(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f("running_mean", &mut self.running_mean);
        f("running_var", &mut self.running_var);
    }
}

/// `batchnorm` or `batchnorm(momentum)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormConfig {
    pub momentum: f64,
}

impl fmt::Display for BatchNormConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.momentum == DEFAULT_MOMENTUM {
            f.write_str("batchnorm")
        } else {
            write!(f, "batchnorm({})", self.momentum)
        }
    }
}

impl LayerConfig for BatchNormConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(BatchNorm::new(self.momentum)?))
    }
}

/// PyTorch's momentum.
const DEFAULT_MOMENTUM: f64 = 0.1;

pub const KIND: LayerKind = LayerKind {
    names: &["batchnorm", "batchnorm1d", "batchnorm2d", "batch_norm"],
    usage: "batchnorm`, `batchnorm(momentum)",
    example: "batchnorm",
    summary: "batch normalization (PyTorch's: batch statistics in training, running statistics in eval and Monte Carlo passes)",
    paper: "Ioffe and Szegedy 2015, ICML",
    dropout: None,
    parse: |call| {
        call.expect(0, 1, "batchnorm or batchnorm(momentum), e.g. batchnorm(0.1)")?;
        let momentum = match call.arg(0) {
            None => DEFAULT_MOMENTUM,
            Some(_) => call.number(0, "momentum is in [0, 1], e.g. 0.1")?,
        };
        one(BatchNormConfig { momentum })
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_normalizes_per_channel_and_updates_running_statistics_like_pytorch() {
        let mut bn = BatchNorm::new(0.1).unwrap();
        bn.build(&[2], 0, &mut Stream::new(0, 0, 0)).unwrap();
        // Channel 0: 1, 2, 3, 6 (mean 3, biased var 3.5); channel 1 constant 5.
        let x = Tensor::from_vec(vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 6.0, 5.0], &[4, 2]).unwrap();
        let y = bn.forward(&x, &Ctx::new(Mode::Train, 0, 1)).unwrap().clone();
        let col0: Vec<f32> = y.data().iter().step_by(2).copied().collect();
        let mean = col0.iter().sum::<f32>() / 4.0;
        let var = col0.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4, "mean {mean} var {var}");
        assert!(y.data().iter().skip(1).step_by(2).all(|&v| v == 0.0));
        let (rm, rv) = (bn.running_mean.data().to_vec(), bn.running_var.data().to_vec());
        assert!((rm[0] - 0.3).abs() < 1e-6 && (rm[1] - 0.5).abs() < 1e-6);
        // Unbiased variance 14/3 for channel 0, 0 for channel 1.
        assert!((rv[0] - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-6 && (rv[1] - 0.9).abs() < 1e-6);
        // Eval uses the running statistics.
        let e = bn.forward(&x, &Ctx::new(Mode::Eval, 0, 0)).unwrap();
        assert!((e.data()[0] - (1.0 - 0.3) / (rv[0] + 1e-5).sqrt()).abs() < 1e-6);
    }
}
