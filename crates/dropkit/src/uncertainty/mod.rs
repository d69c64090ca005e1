//! Monte Carlo dropout (Gal and Ghahramani, "Dropout as a Bayesian approximation", ICML 2016,
//! <https://arxiv.org/abs/1506.02142>): keep dropout on at test time, average `T` stochastic
//! passes, and read their spread as uncertainty.
//!
//! For each input: mean probabilities `p = (1/T) sum_t p_t`, their standard deviation,
//! predictive entropy `H[p]`, expected entropy `(1/T) sum_t H[p_t]`, and the mutual information
//! (BALD) `H[p] - (1/T) sum_t H[p_t]`.
//!
//! Speed: the layers before the first dropout give the same output in every pass and run once
//! per batch of inputs; several passes over a small batch are stacked into one larger batch.
//! Masks: a stacked batch holding passes `t0..t0+k` runs in `Mode::MonteCarlo { sample: t0 }`,
//! so every row of every pass draws its own mask elements, and predictions reproduce exactly
//! from the model's seed, the inputs and `T`.

pub mod generate;
pub mod metrics;
pub mod regression;
pub mod shift;

use crate::error::{Error, Result};
use crate::layer::{Ctx, Mode};
use crate::model::Sequential;
use crate::nn::softmax::softmax_row;
use crate::tensor::{argmax, Tensor};

/// How to predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inference {
    /// One pass in eval mode (weight scaling for classic dropout).
    Deterministic,
    /// `samples` passes with fresh masks each.
    MonteCarlo { samples: u64 },
}

/// Per-input predictions, row-major over inputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predictions {
    pub classes: usize,
    /// Mean class probabilities (N, C).
    pub mean: Vec<f32>,
    /// Standard deviation of the class probabilities over passes (N, C); 0 when deterministic.
    pub std: Vec<f32>,
    pub predicted: Vec<u32>,
    pub predictive_entropy: Vec<f32>,
    pub expected_entropy: Vec<f32>,
    pub mutual_information: Vec<f32>,
}

impl Predictions {
    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.predicted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.predicted.is_empty()
    }

    /// Mean probabilities of input `i`.
    pub fn probs(&self, i: usize) -> &[f32] {
        &self.mean[i * self.classes..(i + 1) * self.classes]
    }
}

/// Inputs per batch: large GEMMs run closer to peak (measured: 4096 rows about 8% faster than
/// 1000 on the paper MLP); a (4096, 1024) activation is 16 MiB.
const BATCH: usize = 4096;

/// Entropy in nats of a probability vector.
pub fn entropy(p: &[f32]) -> f32 {
    -p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum::<f32>()
}

/// What a pass hands on: class probabilities (softmax of the logits) or the raw outputs
/// (regression).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outputs {
    Probabilities,
    Values,
}

/// Calls `on_pass(first_row, t, out)` for every batch of inputs and every pass `t` in
/// `0..passes`, with the (rows, C) outputs of that pass.
pub(crate) fn for_each_pass(
    model: &mut Sequential,
    images: &[f32],
    inference: Inference,
    outputs: Outputs,
    mut on_pass: impl FnMut(usize, u64, &[f32]),
) -> Result<usize> {
    let shape = model.input_shape().to_vec();
    let d: usize = shape.iter().product();
    if d == 0 || !images.len().is_multiple_of(d) {
        return Err(Error::Shape {
            context: "predict".into(),
            got: vec![images.len()],
            expected: format!("a multiple of {d} values ({shape:?} per input)"),
        });
    }
    let n = images.len() / d;
    let end = model.logits_len();
    let (passes, split) = match inference {
        Inference::Deterministic => (1, end),
        Inference::MonteCarlo { samples } => (samples.max(1), model.first_stochastic().unwrap_or(end).min(end)),
    };
    let seed = model.seed();
    let mut x = Tensor::default();
    let mut stacked = Tensor::default();
    let mut probs: Vec<f32> = Vec::new();
    let mut classes = 0;
    for start in (0..n).step_by(BATCH) {
        let rows = (start + BATCH).min(n) - start;
        x.resize_batch(rows, &shape);
        x.data_mut().copy_from_slice(&images[start * d..(start + rows) * d]);
        // The deterministic prefix runs once; its output is stacked `k` times so that `k` passes
        // share one large GEMM (a single input with T = 100 becomes one 100-row batch).
        let k = ((BATCH / rows).max(1) as u64).min(passes) as usize;
        let eval = Ctx::new(Mode::Eval, seed, 0);
        let prefix = model.forward_span(&x, &eval, 0, split)?;
        let per_copy = prefix.len();
        let row_shape = prefix.shape()[1..].to_vec();
        stacked.resize_batch(k * rows, &row_shape);
        for copy in stacked.data_mut().chunks_exact_mut(per_copy.max(1)) {
            copy.copy_from_slice(prefix.data());
        }
        for t0 in (0..passes).step_by(k) {
            let copies = k.min((passes - t0) as usize);
            stacked.resize_batch(copies * rows, &row_shape);
            let mode = match inference {
                Inference::Deterministic => Mode::Eval,
                Inference::MonteCarlo { .. } => Mode::MonteCarlo { sample: t0 },
            };
            let logits = model.forward_span(&stacked, &Ctx::new(mode, seed, 0), split, end)?;
            classes = logits.cols();
            probs.clear();
            probs.extend_from_slice(logits.data());
            if outputs == Outputs::Probabilities {
                probs.chunks_exact_mut(classes.max(1)).for_each(softmax_row);
            }
            for (j, pass) in probs.chunks_exact(rows * classes.max(1)).enumerate() {
                on_pass(start, t0 + j as u64, pass);
            }
        }
    }
    Ok(classes)
}

/// Predicts every input in `images` (samples of the model's input shape, row-major).
pub fn predict(model: &mut Sequential, images: &[f32], inference: Inference) -> Result<Predictions> {
    Ok(predict_tracking_error(model, images, inference, &[], &[])?.0)
}

/// [`predict`], also returning the test error of the Monte Carlo average after `t` passes for
/// each `t` in `checkpoints` (against `labels`): the 2014 paper's ensemble view, from the same
/// passes.
pub fn predict_tracking_error(
    model: &mut Sequential,
    images: &[f32],
    inference: Inference,
    labels: &[u32],
    checkpoints: &[u64],
) -> Result<(Predictions, Vec<(u64, f64)>)> {
    let d: usize = model.input_shape().iter().product();
    let n = images.len() / d.max(1);
    let c: usize = model.output_shape().iter().product();
    let passes = match inference {
        Inference::Deterministic => 1,
        Inference::MonteCarlo { samples } => samples.max(1),
    };
    if !checkpoints.is_empty() && labels.len() != n {
        return Err(Error::InvalidArgument(format!("{} labels for {n} inputs", labels.len())));
    }
    let (mut sum, mut sum_sq, mut sum_h) = (vec![0f64; n * c], vec![0f64; n * c], vec![0f64; n]);
    let mut wrong = vec![0usize; checkpoints.len()];
    for_each_pass(model, images, inference, Outputs::Probabilities, |start, t, probs| {
        for (r, p) in probs.chunks_exact(c).enumerate() {
            let i = start + r;
            let (acc, acc_sq) = (&mut sum[i * c..(i + 1) * c], &mut sum_sq[i * c..(i + 1) * c]);
            for ((a, q), &v) in acc.iter_mut().zip(acc_sq.iter_mut()).zip(p) {
                *a += v as f64;
                *q += (v as f64) * (v as f64);
            }
            sum_h[i] += entropy(p) as f64;
            if let Some(k) = checkpoints.iter().position(|&cp| cp == t + 1) {
                wrong[k] += (argmax(acc) != labels[i] as usize) as usize;
            }
        }
    })?;
    let t = passes as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / t) as f32).collect();
    let std = sum.iter().zip(&sum_sq).map(|(s, q)| ((q / t - (s / t).powi(2)).max(0.0)).sqrt() as f32).collect();
    let mut out = Predictions { classes: c, mean, std, ..Default::default() };
    for (i, &sum_h) in sum_h.iter().enumerate().take(n) {
        let p = out.probs(i);
        let best = argmax(p);
        let h = entropy(p);
        let eh = (sum_h / t) as f32;
        out.predicted.push(best as u32);
        out.predictive_entropy.push(h);
        out.expected_entropy.push(eh);
        out.mutual_information.push((h - eh).max(0.0));
    }
    let curve = checkpoints.iter().zip(wrong).map(|(&t, w)| (t, w as f64 / n.max(1) as f64)).collect();
    Ok((out, curve))
}
