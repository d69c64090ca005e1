//! Monte Carlo dropout for regression (Gal and Ghahramani 2016, section 4 and their UCI
//! experiments): with `T` stochastic passes `y_t = f_t(x)` in the target's units and model
//! precision `tau`,
//!
//! - predictive mean `E[y] = (1/T) sum_t y_t`;
//! - predictive variance `Var[y] = 1/tau + (1/T) sum_t y_t^2 - E[y]^2` (noise plus the spread
//!   of the passes, the epistemic part);
//! - test log-likelihood of a target `y*`, by log-mean-exp over the passes,
//!   `log p(y*) = logsumexp_t(-tau/2 ||y* - y_t||^2) - log T - D/2 log(2 pi) + D/2 log tau`.
//!
//! A model trained with the Gaussian NLL outputs its own variance `v_t(x)` per pass (Kendall and
//! Gal, "What Uncertainties Do We Need in Bayesian Deep Learning", NeurIPS 2017): then
//! `Var[y] = (1/T) sum_t v_t + spread` and `log p(y*) = logsumexp_t log N(y*; y_t, v_t) - log T`,
//! and tau is not used.
//!
//! Deterministic prediction is the case `T = 1` in eval mode (the spread is 0).

use super::{for_each_pass, Inference, Outputs};
use crate::data::standardize::Standardizer;
use crate::error::{Error, Result};
use crate::loss::RegressionLoss;
use crate::model::Sequential;

/// Per-input regression predictions, row-major (N, D), in the target's units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegressionPredictions {
    pub dim: usize,
    pub mean: Vec<f32>,
    /// Standard deviation of the passes (model, or epistemic, uncertainty).
    pub epistemic_std: Vec<f32>,
    /// `sqrt(1/tau + epistemic variance)`.
    pub total_std: Vec<f32>,
    /// The model precision used (NaN when the model predicts its own variance).
    pub tau: f64,
    /// Per input, the log-likelihood of its target, when targets were given.
    pub log_likelihood: Vec<f64>,
}

impl RegressionPredictions {
    pub fn len(&self) -> usize {
        self.mean.len() / self.dim.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// RMSE of the predictive mean against `targets`.
    pub fn rmse(&self, targets: &[f32]) -> f64 {
        crate::train::regression::rmse(&self.mean, targets)
    }

    /// Mean test log-likelihood per input (NaN without targets).
    pub fn mean_log_likelihood(&self) -> f64 {
        if self.log_likelihood.is_empty() {
            return f64::NAN;
        }
        self.log_likelihood.iter().sum::<f64>() / self.log_likelihood.len() as f64
    }
}

/// Predicts `images` with `inference`; outputs go back to target units through `scaler`.
/// With `targets` (N x D, target units), also each input's log-likelihood. `loss` says what
/// the model outputs: values (noise precision `tau`), or a mean and a log-variance each.
pub fn predict_regression(
    model: &mut Sequential,
    images: &[f32],
    inference: Inference,
    tau: f64,
    loss: RegressionLoss,
    scaler: Option<&Standardizer>,
    targets: Option<&[f32]>,
) -> Result<RegressionPredictions> {
    let own_variance = loss == RegressionLoss::GaussianNll;
    let tau_ok = tau.is_finite() && tau > 0.0;
    if !(own_variance || tau_ok) {
        return Err(Error::InvalidArgument(format!(
            "tau {tau}: the model precision must be a positive number, e.g. 1.0"
        )));
    }
    let d: usize = model.input_shape().iter().product();
    let n = images.len() / d.max(1);
    let outputs: usize = model.output_shape().iter().product();
    let dim = if own_variance { outputs / 2 } else { outputs };
    let scale: Vec<f64> =
        scaler.map_or(vec![1.0; dim], |s| s.target_scale(dim)).iter().map(|&c| (c as f64).powi(2)).collect();
    let mut noise = vec![0f64; n * dim];
    if let Some(t) = targets {
        if t.len() != n * dim {
            return Err(Error::InvalidArgument(format!("{} target values for {n} inputs of {dim} outputs", t.len())));
        }
    }
    let passes = match inference {
        Inference::Deterministic => 1,
        Inference::MonteCarlo { samples } => samples.max(1),
    };
    let (mut sum, mut sum_sq) = (vec![0f64; n * dim], vec![0f64; n * dim]);
    // Streaming log-sum-exp per input: the running maximum and the sum of exp(a - max).
    let (mut max, mut acc) = (vec![f64::NEG_INFINITY; n], vec![0f64; n]);
    let mut row = vec![0f32; dim];
    for_each_pass(model, images, inference, Outputs::Values, |start, _, out| {
        for (r, y) in out.chunks_exact(outputs).enumerate() {
            let i = start + r;
            row.copy_from_slice(&y[..dim]);
            if let Some(s) = scaler {
                s.undo_targets(&mut row);
            }
            for ((a, q), &v) in
                sum[i * dim..(i + 1) * dim].iter_mut().zip(&mut sum_sq[i * dim..(i + 1) * dim]).zip(&row)
            {
                *a += v as f64;
                *q += (v as f64) * (v as f64);
            }
            // Each pass's noise variance: the model's own, or 1/tau.
            let var = |k: usize| {
                if own_variance {
                    (y[dim + k].clamp(-13.8, 13.8) as f64).exp() * scale[k]
                } else {
                    1.0 / tau
                }
            };
            if own_variance {
                noise[i * dim..(i + 1) * dim].iter_mut().enumerate().for_each(|(k, v)| *v += var(k));
            }
            if let Some(t) = targets {
                let a: f64 = row
                    .iter()
                    .zip(&t[i * dim..(i + 1) * dim])
                    .enumerate()
                    .map(|(k, (&p, &t))| {
                        let v = var(k);
                        -0.5 * ((p - t) as f64).powi(2) / v - if own_variance { 0.5 * v.ln() } else { 0.0 }
                    })
                    .sum();
                if a > max[i] {
                    acc[i] = acc[i] * (max[i] - a).exp() + 1.0;
                    max[i] = a;
                } else {
                    acc[i] += (a - max[i]).exp();
                }
            }
        }
    })?;
    let t = passes as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / t) as f32).collect();
    let var: Vec<f64> = sum.iter().zip(&sum_sq).map(|(s, q)| (q / t - (s / t).powi(2)).max(0.0)).collect();
    let log_likelihood = match targets {
        Some(_) => {
            // The variance's own term is inside the sum for a model's own variances.
            let own = if own_variance { 0.0 } else { 0.5 * dim as f64 * tau.ln() };
            let norm = -t.ln() - 0.5 * dim as f64 * (2.0 * std::f64::consts::PI).ln() + own;
            max.iter().zip(&acc).map(|(m, a)| m + a.ln() + norm).collect()
        }
        None => Vec::new(),
    };
    let noise: Vec<f64> = if own_variance { noise.iter().map(|v| v / t).collect() } else { vec![1.0 / tau; n * dim] };
    Ok(RegressionPredictions {
        dim,
        mean,
        epistemic_std: var.iter().map(|v| v.sqrt() as f32).collect(),
        total_std: var.iter().zip(&noise).map(|(v, a)| (a + v).sqrt() as f32).collect(),
        tau: if own_variance { f64::NAN } else { tau },
        log_likelihood,
    })
}
