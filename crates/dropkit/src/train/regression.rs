//! Regression figures in the target's own units: RMSE, and the Gaussian negative
//! log-likelihood `0.5 ln(2 pi s^2) + (y - f(x))^2 / (2 s^2)` per target value, summed over a
//! sample's values, with `s^2` the mean squared training residual of each target (the maximum
//! likelihood noise of a homoscedastic model).

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

/// Predictions and targets of `set` in target units.
fn in_units(model: &mut Sequential, set: &Dataset, scaler: Option<&Standardizer>) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut pred = predict_values(model, set)?;
    let mut target = match &set.targets {
        Targets::Values { values, .. } => values.clone(),
        Targets::Classes { .. } => Vec::new(),
    };
    if let Some(s) = scaler {
        s.undo_targets(&mut pred);
        s.undo_targets(&mut target);
    }
    Ok((pred, target))
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

/// Mean Gaussian NLL per sample with per-target variances `var`.
pub fn gaussian_nll(pred: &[f32], target: &[f32], var: &[f64]) -> f64 {
    let dim = var.len().max(1);
    let mut total = 0.0;
    for (p, t) in pred.chunks_exact(dim).zip(target.chunks_exact(dim)) {
        for ((&p, &t), &v) in p.iter().zip(t).zip(var) {
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
    let (train_pred, train_target) = in_units(model, fit_set, scaler)?;
    let (test_pred, test_target) = in_units(model, test, scaler)?;
    let var = residual_variance(&train_pred, &train_target, dim);
    Ok(Some(RegressionFit {
        train_rmse: rmse(&train_pred, &train_target),
        test_rmse: rmse(&test_pred, &test_target),
        test_nll: gaussian_nll(&test_pred, &test_target, &var),
    }))
}
