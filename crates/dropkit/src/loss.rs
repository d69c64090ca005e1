//! Losses. Softmax cross-entropy from logits for class targets: `L = -(1/B) sum_b log
//! softmax(z_b)[y_b]`, gradient `dL/dz = (softmax(z) - onehot(y)) / B`. Mean squared error for
//! real-valued targets (PyTorch's `MSELoss`): `L = (1/(B D)) sum (y - t)^2`, gradient
//! `2 (y - t) / (B D)`. Gaussian negative log-likelihood for a model that outputs a mean `m`
//! and a log-variance `s` per target value (heteroscedastic regression, as PyTorch's
//! `GaussianNLLLoss` with `var = exp(s)`): `L = (1/B) sum 0.5 (ln 2 pi + s + (t - m)^2 e^-s)`,
//! gradients `(m - t) e^-s / B` and `0.5 (1 - (t - m)^2 e^-s) / B`. Per-sample losses are summed in f64 in a fixed order, so the reported
//! loss does not depend on the thread count.

use crate::data::Targets;
use crate::error::{Error, Result};
use crate::kernels::fastmath::{exp, vectorized};
use crate::tensor::{argmax, Tensor};
use rayon::prelude::*;

/// Sum of losses and count of correct predictions over a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchStats {
    pub loss_sum: f64,
    pub correct: usize,
    pub count: usize,
    /// The targets were real values: there is no accuracy.
    pub regression: bool,
}

impl BatchStats {
    /// Adds another batch's figures.
    pub fn add(&mut self, other: BatchStats) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
        self.regression |= other.regression;
    }

    /// Mean loss per sample.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    /// Fraction of correct predictions (NaN for regression targets).
    pub fn accuracy(&self) -> f64 {
        if self.regression {
            return f64::NAN;
        }
        self.correct as f64 / self.count.max(1) as f64
    }
}

/// Softmax cross-entropy with reusable buffers.
#[derive(Default)]
pub struct CrossEntropy {
    /// Classes per label row of the last batch.
    classes: usize,
    row_loss: Vec<f64>,
    row_correct: Vec<bool>,
    grad: Tensor,
}

impl CrossEntropy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loss and accuracy of `logits (N, C)` against `labels (N)`; when `with_grad`, also
    /// computes `dL/dlogits` of the mean over the N labels, available from
    /// [`CrossEntropy::grad`]. For sequences, `logits (B, T, C)` against `labels (B * T)`: one
    /// label per position, and the loss is the mean per position (nats per character).
    pub fn compute(&mut self, logits: &Tensor, labels: &[u32], with_grad: bool) -> Result<BatchStats> {
        let b = labels.len();
        let c = logits.len().checked_div(b).unwrap_or(0);
        if b == 0 || c == 0 || logits.len() != b * c {
            return Err(Error::Shape {
                context: "cross-entropy".into(),
                got: logits.shape().to_vec(),
                expected: format!("({}, classes) logits for {} labels", labels.len(), labels.len()),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= c) {
            return Err(Error::InvalidArgument(format!(
                "label {bad} is out of range for a model with {c} outputs; the last layer needs at least {} units",
                bad as usize + 1
            )));
        }
        self.classes = c;
        self.row_loss.resize(b, 0.0);
        self.row_correct.resize(b, false);
        self.grad.resize(logits.shape());
        let inv_b = 1.0 / b as f32;
        self.grad.data_mut().copy_from_slice(logits.data());
        self.grad
            .data_mut()
            .par_chunks_mut(c)
            .zip(self.row_loss.par_iter_mut())
            .zip(self.row_correct.par_iter_mut())
            .zip(labels.par_iter())
            .for_each(|(((g, loss), correct), &y)| {
                let best = argmax(g);
                *correct = best == y as usize;
                // log-sum-exp form: exact for large logits, where log(softmax) would underflow.
                let (max, z_y) = (g[best], g[y as usize]);
                vectorized(
                    #[inline(always)]
                    || g.iter_mut().for_each(|v| *v = exp(*v - max)),
                );
                let sum: f32 = g.iter().sum();
                *loss = (sum as f64).ln() + (max - z_y) as f64;
                let inv = 1.0 / sum;
                g.iter_mut().for_each(|v| *v *= inv);
                if with_grad {
                    g[y as usize] -= 1.0;
                    g.iter_mut().for_each(|v| *v *= inv_b);
                }
            });
        Ok(BatchStats {
            loss_sum: self.row_loss.iter().sum(),
            correct: self.row_correct.iter().filter(|&&c| c).count(),
            count: b,
            regression: false,
        })
    }

    /// The gradient from the last `compute(.., with_grad = true)`.
    pub fn grad(&self) -> &Tensor {
        &self.grad
    }
}

/// Mean squared error with a reusable gradient buffer.
#[derive(Default)]
pub struct MeanSquared {
    row_loss: Vec<f64>,
    grad: Tensor,
}

impl MeanSquared {
    /// Loss of `out (B, D)` against `targets (B * D)`; when `with_grad`, also `dL/dout` of the
    /// batch mean, available from [`MeanSquared::grad`].
    pub fn compute(&mut self, out: &Tensor, targets: &[f32], with_grad: bool) -> Result<BatchStats> {
        let (b, d) = (out.rows(), out.cols());
        if targets.len() != out.len() || d == 0 {
            return Err(Error::Shape {
                context: "mean squared error".into(),
                got: out.shape().to_vec(),
                expected: format!("outputs of the {} target values", targets.len()),
            });
        }
        self.row_loss.resize(b, 0.0);
        self.grad.resize(out.shape());
        let scale = 2.0 / (b * d) as f32;
        self.grad
            .data_mut()
            .par_chunks_mut(d)
            .zip(out.data().par_chunks(d))
            .zip(targets.par_chunks(d))
            .zip(self.row_loss.par_iter_mut())
            .for_each(|(((g, y), t), loss)| {
                *loss = y.iter().zip(t).map(|(&y, &t)| ((y - t) as f64).powi(2)).sum::<f64>() / d as f64;
                if with_grad {
                    g.iter_mut().zip(y.iter().zip(t)).for_each(|(g, (&y, &t))| *g = (y - t) * scale);
                }
            });
        Ok(BatchStats { loss_sum: self.row_loss.iter().sum(), correct: 0, count: b, regression: true })
    }

    /// The gradient from the last `compute(.., with_grad = true)`.
    pub fn grad(&self) -> &Tensor {
        &self.grad
    }
}

/// Log-variances are kept in `[-LOG_VAR_LIMIT, LOG_VAR_LIMIT]` (variances from 1e-6 to 1e6 of
/// the standardised target), so a wild output cannot make the loss infinite; outside it the
/// gradient of `s` is 0, as for a clamp.
const LOG_VAR_LIMIT: f32 = 13.8;

/// Gaussian negative log-likelihood with a reusable gradient buffer.
#[derive(Default)]
pub struct GaussianNll {
    row_loss: Vec<f64>,
    grad: Tensor,
}

impl GaussianNll {
    /// Loss of `out (B, 2D)` (means, then log-variances) against `targets (B * D)`.
    pub fn compute(&mut self, out: &Tensor, targets: &[f32], with_grad: bool) -> Result<BatchStats> {
        let (b, two_d) = (out.rows(), out.cols());
        let d = two_d / 2;
        if d == 0 || two_d % 2 != 0 || targets.len() != b * d {
            return Err(Error::Shape {
                context: "Gaussian negative log-likelihood".into(),
                got: out.shape().to_vec(),
                expected: format!("a mean and a log-variance for each of the {} target values", targets.len()),
            });
        }
        self.row_loss.resize(b, 0.0);
        self.grad.resize(out.shape());
        let inv_b = 1.0 / b as f32;
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        self.grad
            .data_mut()
            .par_chunks_mut(two_d)
            .zip(out.data().par_chunks(two_d))
            .zip(targets.par_chunks(d))
            .zip(self.row_loss.par_iter_mut())
            .for_each(|(((g, y), t), loss)| {
                let (mean, log_var) = y.split_at(d);
                let (g_mean, g_log_var) = g.split_at_mut(d);
                let mut sum = 0.0f64;
                for k in 0..d {
                    let s = log_var[k].clamp(-LOG_VAR_LIMIT, LOG_VAR_LIMIT);
                    let precision = (-s).exp();
                    let r = mean[k] - t[k];
                    sum += half_ln_2pi + 0.5 * (s as f64 + (r as f64).powi(2) * precision as f64);
                    if with_grad {
                        g_mean[k] = r * precision * inv_b;
                        let inside = log_var[k].abs() <= LOG_VAR_LIMIT;
                        g_log_var[k] = if inside { 0.5 * (1.0 - r * r * precision) * inv_b } else { 0.0 };
                    }
                }
                *loss = sum;
            });
        Ok(BatchStats { loss_sum: self.row_loss.iter().sum(), correct: 0, count: b, regression: true })
    }

    /// The gradient from the last `compute(.., with_grad = true)`.
    pub fn grad(&self) -> &Tensor {
        &self.grad
    }
}

/// The loss for real-valued targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegressionLoss {
    /// Mean squared error: the model outputs the targets.
    #[default]
    Mse,
    /// Gaussian negative log-likelihood: the model outputs a mean and a log-variance per
    /// target value (twice as many outputs).
    GaussianNll,
}

impl RegressionLoss {
    /// The model outputs this loss needs for `dim` target values.
    pub fn outputs(self, dim: usize) -> usize {
        match self {
            RegressionLoss::Mse => dim,
            RegressionLoss::GaussianNll => 2 * dim,
        }
    }

    /// The loss of a model with `outputs` outputs per `dim` targets.
    pub fn for_outputs(outputs: usize, dim: usize) -> Self {
        if outputs == 2 * dim && dim > 0 {
            RegressionLoss::GaussianNll
        } else {
            RegressionLoss::Mse
        }
    }
}

impl std::str::FromStr for RegressionLoss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mse" => Ok(RegressionLoss::Mse),
            "gaussian_nll" | "gaussian-nll" => Ok(RegressionLoss::GaussianNll),
            other => Err(Error::InvalidArgument(format!("loss '{other}': use mse or gaussian_nll"))),
        }
    }
}

/// One batch's targets, as the loss reads them.
#[derive(Clone, Copy, Debug)]
pub enum TargetRows<'a> {
    Classes(&'a [u32]),
    /// `D` values per row, row-major.
    Values(&'a [f32]),
}

/// The loss a data set's targets call for: cross-entropy for classes; for real values mean
/// squared error, or the Gaussian NLL when the model outputs a mean and a log-variance each.
pub enum Objective {
    CrossEntropy(CrossEntropy),
    MeanSquared(MeanSquared),
    GaussianNll(GaussianNll),
}

impl Objective {
    /// The loss for `targets` and a model of `outputs` outputs per sample.
    pub fn for_targets(targets: &Targets, outputs: usize) -> Self {
        match targets {
            Targets::Classes { .. } => Objective::CrossEntropy(CrossEntropy::new()),
            Targets::Values { dim, .. } => match RegressionLoss::for_outputs(outputs, *dim) {
                RegressionLoss::Mse => Objective::MeanSquared(MeanSquared::default()),
                RegressionLoss::GaussianNll => Objective::GaussianNll(GaussianNll::default()),
            },
        }
    }

    /// The batch's loss (and, when `with_grad`, its gradient).
    pub fn compute(&mut self, out: &Tensor, targets: TargetRows, with_grad: bool) -> Result<BatchStats> {
        match (self, targets) {
            (Objective::CrossEntropy(l), TargetRows::Classes(ids)) => l.compute(out, ids, with_grad),
            (Objective::MeanSquared(l), TargetRows::Values(v)) => l.compute(out, v, with_grad),
            (Objective::GaussianNll(l), TargetRows::Values(v)) => l.compute(out, v, with_grad),
            _ => Err(Error::InvalidArgument("the targets changed kind between batches".into())),
        }
    }

    /// R-Drop: adds `alpha` times the symmetric KL divergence between the two halves of
    /// `logits` (the batch stacked on itself) to the gradient of the last `compute`, and
    /// returns the term's sum over the rows' labels, for the reported loss.
    pub fn add_rdrop(&mut self, logits: &Tensor, alpha: f32) -> Result<f64> {
        let Objective::CrossEntropy(l) = self else {
            return Err(Error::InvalidArgument("R-Drop needs class targets".into()));
        };
        let classes = l.classes;
        Ok(crate::dropout::rdrop::add_symmetric_kl(logits.data(), l.grad.data_mut(), classes, alpha))
    }

    /// The gradient from the last `compute(.., with_grad = true)`.
    pub fn grad(&self) -> &Tensor {
        match self {
            Objective::CrossEntropy(l) => l.grad(),
            Objective::MeanSquared(l) => l.grad(),
            Objective::GaussianNll(l) => l.grad(),
        }
    }
}

/// The targets of rows `idx` of `targets`, gathered into `labels` or `values`.
pub fn gather_targets<'a>(
    targets: &Targets,
    idx: &[usize],
    labels: &'a mut Vec<u32>,
    values: &'a mut Vec<f32>,
) -> TargetRows<'a> {
    match targets {
        Targets::Classes { ids, positions, .. } => {
            labels.clear();
            for &i in idx {
                labels.extend_from_slice(ids.get(i * positions..(i + 1) * positions).unwrap_or_default());
            }
            TargetRows::Classes(labels)
        }
        Targets::Values { values: all, dim } => {
            values.clear();
            for &i in idx {
                values.extend_from_slice(all.get(i * dim..(i + 1) * dim).unwrap_or_default());
            }
            TargetRows::Values(values)
        }
    }
}

/// The targets of rows `start..end`.
pub fn target_rows(targets: &Targets, start: usize, end: usize) -> TargetRows<'_> {
    match targets {
        Targets::Classes { ids, positions, .. } => {
            TargetRows::Classes(ids.get(start * positions..end * positions).unwrap_or_default())
        }
        Targets::Values { values, dim } => TargetRows::Values(values.get(start * dim..end * dim).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_nll_gradient_matches_finite_differences() {
        // Two samples, two targets each: means then log-variances per row.
        let out = vec![0.3f32, -1.2, 0.5, -0.4, 1.1, 0.2, -0.7, 0.9];
        let targets = [0.1f32, -0.5, 2.0, 0.3];
        let mut l = GaussianNll::default();
        let loss_at = |v: &[f32], l: &mut GaussianNll| {
            l.compute(&Tensor::from_vec(v.to_vec(), &[2, 4]).unwrap(), &targets, false).unwrap().loss()
        };
        l.compute(&Tensor::from_vec(out.clone(), &[2, 4]).unwrap(), &targets, true).unwrap();
        let grad = l.grad().data().to_vec();
        for i in 0..out.len() {
            let h = 1e-3f32;
            let (mut up, mut down) = (out.clone(), out.clone());
            up[i] += h;
            down[i] -= h;
            // The reported loss is the batch mean; the gradient is of the batch mean.
            let numeric = (loss_at(&up, &mut l) - loss_at(&down, &mut l)) / (2.0 * h as f64);
            assert!((numeric - grad[i] as f64).abs() < 1e-3, "{i}: {numeric} vs {}", grad[i]);
        }
        // The loss is the NLL: mean 0, log-variance 0, target 0 gives 0.5 ln(2 pi).
        let zero = l.compute(&Tensor::from_vec(vec![0.0, 0.0], &[1, 2]).unwrap(), &[0.0], false).unwrap();
        assert!((zero.loss() - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-9);
    }
}
