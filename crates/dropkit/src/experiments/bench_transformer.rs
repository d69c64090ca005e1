//! The `transformer` bench workload: training steps of the `char-transformer` preset on the
//! embedded text (batch 32, context 128), next to its product floor, the same matrix products
//! alone: per block the QKV, output and two MLP projections (forward, weight gradient, input
//! gradient) and per (sample, head) the two attention products and their four backward ones, in
//! the causal tiles the layer uses; then the output head. Floor steps run between training batches, as the MLP's floor does.

use super::bench::{AfterRound, Training, INTERLEAVE_BATCHES};
use crate::data::text;
use crate::error::Result;
use crate::kernels::gemm::{faster_transposed, matmul, matmul_transposed, MatRef};
use crate::kernels::small_matmul::small_matmul;
use crate::nn::attention::{block, head, key_block, key_tiles, query_tiles};
use crate::rng::Stream;
use crate::train::presets::preset;
use rayon::prelude::*;
use std::time::Instant;

/// The preset's shapes.
const BATCH: usize = 32;
const T: usize = 128;
const D: usize = 128;
const HEADS: usize = 4;
const MLP: usize = 512;
const BLOCKS: usize = 4;
const VOCAB: usize = 73;

/// The products of one training step of the preset's model, with its buffers.
pub struct TransformerFloor {
    /// (out, in) of every projection, in forward order.
    linears: Vec<(usize, usize)>,
    weights: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    /// Activations and output gradients (rows x widest), outputs, QKV rows, probabilities
    /// per (sample, head), and the heads' outputs (B*T, D) or gradients (B*T, 3D).
    x: Vec<f32>,
    dy: Vec<f32>,
    y: Vec<f32>,
    qkv: Vec<f32>,
    probs: Vec<f32>,
    heads: Vec<f32>,
    /// One head's K or V transposed (hd, T) per sample, as the layer keeps it.
    head_t: Vec<f32>,
}

impl Default for TransformerFloor {
    fn default() -> Self {
        Self::new()
    }
}

impl TransformerFloor {
    pub fn new() -> Self {
        let mut s = Stream::new(3, 0, 0);
        let mut rand = |n: usize| (0..n).map(|_| s.uniform() - 0.5).collect::<Vec<f32>>();
        let block = [(3 * D, D), (D, D), (MLP, D), (D, MLP)];
        let linears: Vec<(usize, usize)> = (0..BLOCKS).flat_map(|_| block).chain(std::iter::once((VOCAB, D))).collect();
        let rows = BATCH * T;
        let mut floor = TransformerFloor {
            weights: linears.iter().map(|&(o, i)| rand(o * i)).collect(),
            grads: linears.iter().map(|&(o, i)| vec![0.0; o * i]).collect(),
            linears,
            x: rand(rows * MLP),
            dy: rand(rows * MLP),
            y: vec![0.0; rows * MLP],
            qkv: rand(rows * 3 * D),
            probs: rand(BATCH * HEADS * T * T),
            heads: vec![0.0; BATCH * T * 3 * D],
            head_t: rand(BATCH * (D / HEADS) * T),
        };
        (0..3).for_each(|_| floor.step());
        floor
    }

    /// `y = x W^T`, as `kernels::affine` computes it.
    fn project(&mut self, l: usize, rows: usize) {
        let (o, i) = self.linears[l];
        let (x, wt) = (MatRef::new(&self.x[..rows * i], rows, i), MatRef::new(&self.weights[l], o, i).t());
        let out = &mut self.y[..rows * o];
        if faster_transposed(rows, o) {
            matmul_transposed(out, x, wt, false);
        } else {
            matmul(out, x, wt, false);
        }
    }

    /// `dW = dy^T x`, `dx = dy W`.
    fn project_back(&mut self, l: usize, rows: usize) {
        let (o, i) = self.linears[l];
        let dy = MatRef::new(&self.dy[..rows * o], rows, o);
        matmul(&mut self.grads[l], dy.t(), MatRef::new(&self.x[..rows * i], rows, i), false);
        matmul(&mut self.y[..rows * i], dy, MatRef::new(&self.weights[l], o, i), false);
    }

    /// The attention products of one block, forward (`backward` false) or backward, as the
    /// layer runs them: one task per sample, head after head, in causal tiles, outputs into
    /// the heads' columns of (B*T, D) rows (forward) and of (B*T, 3D) rows (backward).
    fn attention(&mut self, backward: bool) {
        let hd = D / HEADS;
        let (qkv, dims) = (&self.qkv, (T, D, hd));
        let width = if backward { 3 * D } else { D };
        let per_sample = HEADS * T * T;
        let tasks = self.probs.par_chunks_mut(per_sample).zip(self.heads.par_chunks_mut(T * width));
        let tasks = tasks.zip(self.head_t.par_chunks(hd * T));
        tasks.enumerate().for_each(|(b, ((p_all, o), head_t))| {
            // K^T (forward) or V^T (backward), (hd, keys): the layer's transposed copy.
            let transposed = |keys| MatRef { data: head_t, rows: hd, cols: keys, rs: T, cs: 1 };
            for h in 0..HEADS {
                let p = &mut p_all[h * T * T..(h + 1) * T * T];
                let part = |i, rows| head(qkv, dims, b, h, i, rows);
                let at = |part: usize, row: usize| row * width + part * D + h * hd;
                if backward {
                    // dP' = dO V^T, dV = P'^T dO, dQ = dS K, dK = dS^T Q (dO, dS standing in place).
                    for (rows, keys) in query_tiles(T, true) {
                        small_matmul(&mut p[rows.start * T..], T, part(2, rows.clone()), transposed(keys));
                    }
                    for (keys, first) in key_tiles(T, true) {
                        let p_t = key_block(p, T, &keys, first);
                        small_matmul(&mut o[at(2, keys.start)..], width, p_t, part(2, first..T));
                    }
                    for (rows, keys) in query_tiles(T, true) {
                        let s = block(p, T, &rows, keys);
                        small_matmul(&mut o[at(0, rows.start)..], width, s, part(1, 0..keys));
                    }
                    for (keys, first) in key_tiles(T, true) {
                        let s_t = key_block(p, T, &keys, first);
                        small_matmul(&mut o[at(1, keys.start)..], width, s_t, part(0, first..T));
                    }
                } else {
                    for (rows, keys) in query_tiles(T, true) {
                        small_matmul(&mut p[rows.start * T..], T, part(0, rows.clone()), transposed(keys));
                        let v = part(2, 0..keys);
                        small_matmul(&mut o[at(0, rows.start)..], width, block(p, T, &rows, keys), v);
                    }
                }
            }
        });
    }

    /// One step's products.
    fn step(&mut self) {
        let rows = BATCH * T;
        for k in 0..BLOCKS {
            self.project(4 * k, rows);
            self.attention(false);
            (1..4).for_each(|j| self.project(4 * k + j, rows));
        }
        self.project(4 * BLOCKS, rows);
        self.project_back(4 * BLOCKS, rows);
        for k in (0..BLOCKS).rev() {
            (1..4).rev().for_each(|j| self.project_back(4 * k + j, rows));
            self.attention(true);
            self.project_back(4 * k, rows);
        }
    }

    /// Seconds for `n` steps.
    pub fn steps(&mut self, n: usize) -> f64 {
        let t = Instant::now();
        (0..n).for_each(|_| self.step());
        t.elapsed().as_secs_f64()
    }
}

/// Seconds per training step of the char-transformer and of its floor, one pair per timed
/// round of `steps` steps, `rounds` rounds.
pub fn transformer_and_floor_steps(
    steps: usize,
    rounds: usize,
    after_round: AfterRound,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let config = preset("char-transformer")?;
    let data = text::load(text::EMBEDDED_TEXT, &crate::data::DataSource::Embedded, T, text::DEFAULT_TEST_SPLIT)?;
    let part = data.train.slice(0..steps * BATCH);
    let mut training = Training::with_optimizer(&config.model, &part, BATCH, config.optimizer.clone())?;
    let mut floor = TransformerFloor::new();
    let mut pairs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        training.warm_up(&part)?;
        let (mut floor_s, mut floor_done) = (0.0, 0);
        let total = training.epoch_with(&part, &mut |done, batches| {
            if done % INTERLEAVE_BATCHES == 0 || done == batches {
                floor_s += floor.steps(done - floor_done);
                floor_done = done;
            }
        })?;
        pairs.push(((total - floor_s) / steps as f64, floor_s / steps as f64));
        after_round()?;
    }
    Ok(pairs.into_iter().unzip())
}
