//! The `cnn`, `lstm` and `gru` bench workloads: an epoch of training over 9,000 MNIST-shaped
//! samples (batch 128, Adam 1e-3), each next to its floor, the matrix products of the same
//! shapes alone, as its layers call them (convolutions as one product per sample each way, recurrent layers
//! as one input projection, one product per step each way and one weight gradient product each). Floor steps run between the
//! training batches, as the MLP's floor does, so both see the same state of the machine.

use super::bench::{synthetic_mnist, AfterRound, Training, INTERLEAVE_BATCHES};
use crate::error::{Error, Result};
use crate::kernels::gemm::{matmul, matmul_in_task, MatRef};
use crate::rng::Stream;
use rayon::prelude::*;
use std::time::Instant;

/// Samples per epoch and batch size of these workloads.
pub const SAMPLES: usize = 9_000;
const BATCH: usize = 128;

/// The `cnn` workload's network (also the `mc` workload's second one).
pub const CNN: &str =
    "conv2d(32,3) relu conv2d(64,3) relu maxpool(2) spatial_dropout2d(0.25) flatten dense(128) relu dropout(0.5) dense(10)";

/// The networks, by workload name (PyTorch's equivalents are in `bench/torch_reference.py`).
pub const NETS: [(&str, &str); 3] =
    [("cnn", CNN), ("lstm", "lstm(128, 0.1, 0.1) dense(10)"), ("gru", "gru(128, 0.1, 0.1) dense(10)")];

/// One product `C (m, n) = A (m, k) B (k, n)`, A stored transposed (k, m) when `a_t`, B stored
/// transposed (n, k) when `b_t`; `per_sample` such products, one per task on one thread each
/// (as the convolutions run them), when that is above 1.
#[derive(Clone, Copy, Debug)]
struct Gemm {
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    b_t: bool,
    per_sample: usize,
}

const fn gemm(m: usize, k: usize, n: usize, a_t: bool, b_t: bool) -> Gemm {
    Gemm { m, k, n, a_t, b_t, per_sample: 1 }
}

/// A dense layer's products for batch `b`: forward `x W^T`, `dW = dy^T x`, and `dx = dy W`
/// unless it is the first layer.
fn dense(b: usize, inputs: usize, units: usize, first: bool) -> Vec<Gemm> {
    let mut g = vec![gemm(b, inputs, units, false, true), gemm(units, b, inputs, true, false)];
    if !first {
        g.push(gemm(b, units, inputs, false, false));
    }
    g
}

/// A convolution's products, per sample (`patch` = C*kh*kw rows of its patches, `area` output
/// positions): forward `W cols_b`, `dW += dy_b cols_b^T`, and `dcols_b = W^T dy_b` unless it
/// is the first layer.
fn conv(b: usize, filters: usize, patch: usize, area: usize, first: bool) -> Vec<Gemm> {
    let mut g = vec![gemm(filters, patch, area, false, false), gemm(filters, area, patch, false, true)];
    if !first {
        g.push(gemm(patch, filters, area, true, false));
    }
    g.into_iter().map(|g| Gemm { per_sample: b, ..g }).collect()
}

/// A recurrent layer's products over `steps` steps of `features` inputs, `gates` gates of
/// `hidden` units: the input projection of every step at once and the recurrent product per
/// step (with W_hh^T as a row-major copy); backward `dh = dz W_hh` per step but the first (h_0
/// is no parameter), then `[dW_hh | db_hh] = dz^T [h | 1]` and `[dW_ih | db_ih] = dz^T [x | 1]`
/// over every step at once (first layer: no dx).
fn recurrent(b: usize, steps: usize, features: usize, hidden: usize, gates: usize) -> Vec<Gemm> {
    let gh = gates * hidden;
    let mut g = vec![gemm(b * steps, features, gh, false, true)];
    g.extend((0..steps).map(|_| gemm(b, hidden, gh, false, false)));
    g.extend((1..steps).map(|_| gemm(b, gh, hidden, false, false)));
    g.push(gemm(gh, b * steps, hidden + 1, true, false));
    g.push(gemm(gh, b * steps, features + 1, true, false));
    g
}

/// Every product of one training step of workload `name` with batch `b`.
fn products(name: &str, b: usize) -> Result<Vec<Gemm>> {
    let head = |inputs| dense(b, inputs, 10, false);
    Ok(match name {
        "cnn" => [conv(b, 32, 9, 26 * 26, true), conv(b, 64, 32 * 9, 24 * 24, false)]
            .into_iter()
            .chain([dense(b, 64 * 12 * 12, 128, false), dense(b, 128, 10, false)])
            .flatten()
            .collect(),
        "lstm" => [recurrent(b, 28, 28, 128, 4), head(128)].concat(),
        "gru" => [recurrent(b, 28, 28, 128, 3), head(128)].concat(),
        _ => return Err(Error::InvalidArgument(format!("no product floor for workload '{name}'"))),
    })
}

/// The products of a workload's training steps, with buffers for the largest.
pub struct ProductFloor {
    name: String,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl ProductFloor {
    pub fn new(name: &str) -> Result<Self> {
        let all = products(name, BATCH)?;
        let most = |f: fn(&Gemm) -> usize| all.iter().map(f).max().unwrap_or(0);
        let mut s = Stream::new(3, 0, 0);
        let mut rand = |n: usize| (0..n).map(|_| s.uniform() - 0.5).collect::<Vec<f32>>();
        let mut floor = ProductFloor {
            name: name.to_string(),
            a: rand(most(|g| g.m * g.k)),
            b: rand(most(|g| g.k * g.n)),
            c: vec![0.0; most(|g| g.m * g.n * g.per_sample)],
        };
        floor.step(BATCH)?;
        Ok(floor)
    }

    fn step(&mut self, batch: usize) -> Result<()> {
        for g in products(&self.name, batch)? {
            let a = if g.a_t { MatRef::new(&self.a, g.k, g.m).t() } else { MatRef::new(&self.a, g.m, g.k) };
            let b = if g.b_t { MatRef::new(&self.b, g.n, g.k).t() } else { MatRef::new(&self.b, g.k, g.n) };
            if g.per_sample > 1 {
                let outputs = self.c.par_chunks_mut(g.m * g.n).take(g.per_sample);
                outputs.for_each(|c| matmul_in_task(c, a, b, false));
            } else {
                matmul(&mut self.c[..g.m * g.n], a, b, false);
            }
        }
        Ok(())
    }

    /// Seconds for the products of steps `steps` of an epoch over `samples` examples.
    fn steps(&mut self, steps: std::ops::Range<usize>, samples: usize) -> Result<f64> {
        let t = Instant::now();
        for k in steps {
            self.step(BATCH.min(samples - k * BATCH))?;
        }
        Ok(t.elapsed().as_secs_f64())
    }
}

/// Seconds per epoch over `samples` examples of training workload `name` and of its product
/// floor, `epochs` pairs.
pub fn net_and_floor_epochs(
    name: &str,
    samples: usize,
    epochs: usize,
    after_epoch: AfterRound,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let spec = NETS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
    let spec = spec.ok_or_else(|| Error::InvalidArgument(format!("unknown network workload '{name}'")))?;
    let data = synthetic_mnist(samples, 42);
    let mut training = Training::new(spec, &data, BATCH)?;
    let mut floor = ProductFloor::new(name)?;
    let mut pairs = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        training.warm_up(&data)?;
        let (mut floor_s, mut floor_done, mut failed) = (0.0, 0, None);
        let total = training.epoch_with(&data, &mut |done, batches| {
            if done % INTERLEAVE_BATCHES == 0 || done == batches {
                match floor.steps(floor_done..done, data.len()) {
                    Ok(s) => floor_s += s,
                    Err(e) => failed = Some(e),
                }
                floor_done = done;
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        pairs.push((total - floor_s, floor_s));
        after_epoch()?;
    }
    Ok(pairs.into_iter().unzip())
}
