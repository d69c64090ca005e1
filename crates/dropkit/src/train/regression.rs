//! Regression figures in the target's own units: RMSE, and the Gaussian negative
//! log-likelihood `0.5 ln(2 pi s^2) + (y - f(x))^2 / (2 s^2)` per target value, summed over a
//! sample's values, with `s^2` the mean squared training residual of each target (the maximum
//! likelihood noise of a homoscedastic model), or the variance the model predicts for that
//! input (a Gaussian-NLL model, which outputs a mean and a log-variance per value).

use super::EVAL_BATCH;
use crate::data::standardize::Standardizer;
use crate::data::{Dataset, Targets};
use crate::error::Result;
use crate::layer::{Ctx, Mode};
use crate::model::Sequential;
use crate::tensor::Tensor;

/// A regression model's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegressionFit {
    pub train_rmse: f64,
    pub test_rmse: f64,
    pub test_nll: f64,
}

/// The model's outputs for every sample of `set` in eval mode, `len x outputs`, row-major.
pub fn predict_values(model: &mut Sequential, set: &Dataset) -> Result<Vec<f32>> {
    let d = set.sample_len();
    let mut out = Vec::with_capacity(set.len() * set.outputs());
    let mut x = Tensor::default();
    let ctx = Ctx::new(Mode::Eval, model.seed(), 0);
    for start in (0..set.len()).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(set.len());
        x.resize_batch(end - start, &set.sample_shape);
        x.data_mut().copy_from_slice(&set.images[start * d..end * d]);
        out.extend_from_slice(model.forward_logits(&x, &ctx)?.data());
    }
    Ok(out)
}

/// Predicted means, predicted variances (Gaussian-NLL models; else empty) and targets of
/// `set`, in target units.
fn in_units(
    model: &mut Sequential,
    set: &Dataset,
    scaler: Option<&Standardizer>,
) -> Result<(Vec<f32>, Vec<f64>, Vec<f32>)> {
    let out = predict_values(model, set)?;
    let (mut target, dim) = match &set.targets {
        Targets::Values { values, dim } => (values.clone(), *dim),
        Targets::Classes { .. } => (Vec::new(), 1),
    };
    let (mut pred, var) = split_mean_variance(&out, set.len(), dim, scaler);
    if let Some(s) = scaler {
        s.undo_targets(&mut pred);
        s.undo_targets(&mut target);
    }
    Ok((pred, var, target))
}

/// Splits the outputs for `rows` samples into means (still standardised) and, for a model with
/// two outputs per target value, the variances `exp(log_var)` in target units.
pub fn split_mean_variance(
    out: &[f32],
    rows: usize,
    dim: usize,
    scaler: Option<&Standardizer>,
) -> (Vec<f32>, Vec<f64>) {
    if dim == 0 || out.len() != rows * dim * 2 {
        return (out.to_vec(), Vec::new());
    }
    let scale = scaler.map_or(vec![1.0; dim], |s| s.target_scale(dim));
    let (mut mean, mut var) = (Vec::with_capacity(rows * dim), Vec::with_capacity(rows * dim));
    for row in out.chunks_exact(2 * dim) {
        let (m, s) = row.split_at(dim);
        mean.extend_from_slice(m);
        var.extend(s.iter().zip(&scale).map(|(&s, &c)| (s.clamp(-13.8, 13.8) as f64).exp() * (c as f64).powi(2)));
    }
    (mean, var)
}

/// Mean squared residual of each of the `dim` target values.
pub fn residual_variance(pred: &[f32], target: &[f32], dim: usize) -> Vec<f64> {
    let mut sum = vec![0f64; dim];
    for (p, t) in pred.chunks_exact(dim).zip(target.chunks_exact(dim)) {
        sum.iter_mut().zip(p.iter().zip(t)).for_each(|(s, (&p, &t))| *s += ((p - t) as f64).powi(2));
    }
    let n = (target.len() / dim.max(1)).max(1) as f64;
    sum.iter().map(|s| s / n).collect()
}

/// RMSE over every target value.
pub fn rmse(pred: &[f32], target: &[f32]) -> f64 {
    let sq: f64 = pred.iter().zip(target).map(|(&p, &t)| ((p - t) as f64).powi(2)).sum();
    (sq / target.len().max(1) as f64).sqrt()
}

/// Mean Gaussian NLL per sample of `dim` values, with variances `var`: one per target value
/// (`dim` of them, shared by all samples), or one per predicted value.
pub fn gaussian_nll(pred: &[f32], target: &[f32], var: &[f64], dim: usize) -> f64 {
    let dim = dim.max(1);
    let mut total = 0.0;
    for (i, (p, t)) in pred.chunks_exact(dim).zip(target.chunks_exact(dim)).enumerate() {
        let v = if var.len() == pred.len() { &var[i * dim..(i + 1) * dim] } else { var };
        for ((&p, &t), &v) in p.iter().zip(t).zip(v) {
            let v = v.max(1e-12);
            total += 0.5 * (2.0 * std::f64::consts::PI * v).ln() + ((p - t) as f64).powi(2) / (2.0 * v);
        }
    }
    total / (target.len() / dim).max(1) as f64
}

/// The figures of a regression model (`None` for class targets). `fit_set` and `test` are
/// standardised by `scaler` when it is given.
pub fn regression_fit(
    model: &mut Sequential,
    fit_set: &Dataset,
    test: &Dataset,
    scaler: Option<&Standardizer>,
) -> Result<Option<RegressionFit>> {
    let Targets::Values { dim, .. } = fit_set.targets else { return Ok(None) };
    let (train_pred, _, train_target) = in_units(model, fit_set, scaler)?;
    let (test_pred, test_var, test_target) = in_units(model, test, scaler)?;
    let var = if test_var.is_empty() { residual_variance(&train_pred, &train_target, dim) } else { test_var };
    Ok(Some(RegressionFit {
        train_rmse: rmse(&train_pred, &train_target),
        test_rmse: rmse(&test_pred, &test_target),
        test_nll: gaussian_nll(&test_pred, &test_target, &var, dim),
    }))
}
