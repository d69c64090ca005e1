//! Losses. Softmax cross-entropy from logits for class targets: `L = -(1/B) sum_b log
//! softmax(z_b)[y_b]`, gradient `dL/dz = (softmax(z) - onehot(y)) / B`. Mean squared error for
//! real-valued targets (PyTorch's `MSELoss`): `L = (1/(B D)) sum (y - t)^2`, gradient
//! `2 (y - t) / (B D)`. Per-sample losses are summed in f64 in a fixed order, so the reported
//! loss does not depend on the thread count.

use crate::data::Targets;
use crate::error::{Error, Result};
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
    row_loss: Vec<f64>,
    row_correct: Vec<bool>,
    grad: Tensor,
}

impl CrossEntropy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loss and accuracy of `logits (B, C)` against `labels (B)`; when `with_grad`, also
    /// computes `dL/dlogits` of the batch mean, available from [`CrossEntropy::grad`].
    pub fn compute(&mut self, logits: &Tensor, labels: &[u32], with_grad: bool) -> Result<BatchStats> {
        let (b, c) = (logits.rows(), logits.cols());
        if labels.len() != b || c == 0 {
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
                let mut sum = 0.0f32;
                for v in g.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
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

/// One batch's targets, as the loss reads them.
#[derive(Clone, Copy, Debug)]
pub enum TargetRows<'a> {
    Classes(&'a [u32]),
    /// `D` values per row, row-major.
    Values(&'a [f32]),
}

/// The loss a data set's targets call for: cross-entropy for classes, mean squared error for
/// real values.
pub enum Objective {
    CrossEntropy(CrossEntropy),
    MeanSquared(MeanSquared),
}

impl Objective {
    pub fn for_targets(targets: &Targets) -> Self {
        match targets {
            Targets::Classes { .. } => Objective::CrossEntropy(CrossEntropy::new()),
            Targets::Values { .. } => Objective::MeanSquared(MeanSquared::default()),
        }
    }

    /// The batch's loss (and, when `with_grad`, its gradient).
    pub fn compute(&mut self, out: &Tensor, targets: TargetRows, with_grad: bool) -> Result<BatchStats> {
        match (self, targets) {
            (Objective::CrossEntropy(l), TargetRows::Classes(ids)) => l.compute(out, ids, with_grad),
            (Objective::MeanSquared(l), TargetRows::Values(v)) => l.compute(out, v, with_grad),
            _ => Err(Error::InvalidArgument("the targets changed kind between batches".into())),
        }
    }

    /// The gradient from the last `compute(.., with_grad = true)`.
    pub fn grad(&self) -> &Tensor {
        match self {
            Objective::CrossEntropy(l) => l.grad(),
            Objective::MeanSquared(l) => l.grad(),
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
        Targets::Classes { ids, .. } => {
            labels.clear();
            labels.extend(idx.iter().filter_map(|&i| ids.get(i)));
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
        Targets::Classes { ids, .. } => TargetRows::Classes(ids.get(start..end).unwrap_or_default()),
        Targets::Values { values, dim } => TargetRows::Values(values.get(start * dim..end * dim).unwrap_or_default()),
    }
}
