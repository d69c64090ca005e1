//! Softmax cross-entropy from logits: `L = -(1/B) sum_b log softmax(z_b)[y_b]`,
//! gradient `dL/dz = (softmax(z) - onehot(y)) / B`. Per-sample losses are summed in f64 in a
//! fixed order, so the reported loss does not depend on the thread count.

use crate::error::{Error, Result};
use crate::tensor::{argmax, Tensor};
use rayon::prelude::*;

/// Sum of losses and count of correct predictions over a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchStats {
    pub loss_sum: f64,
    pub correct: usize,
    pub count: usize,
}

impl BatchStats {
    /// Adds another batch's figures.
    pub fn add(&mut self, other: BatchStats) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
    }

    /// Mean loss per sample.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    /// Fraction of correct predictions.
    pub fn accuracy(&self) -> f64 {
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
        })
    }

    /// The gradient from the last `compute(.., with_grad = true)`.
    pub fn grad(&self) -> &Tensor {
        &self.grad
    }
}
