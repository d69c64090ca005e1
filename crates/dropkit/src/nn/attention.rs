//! Multi-head self-attention (Vaswani et al., "Attention Is All You Need", NeurIPS 2017), with
//! fused QKV and output projections (PyTorch's `nn.MultiheadAttention` parameters) and dropout
//! on the attention probabilities:
//!
//! `[Q K V] = x W_in^T + b_in` (one product); per head h, `S = Q_h K_h^T / sqrt(d)` (causal:
//! `S_ij = -inf` for j > i), `P = softmax(S)`, `P' = P * m / (1 - p)` (m ~ Bernoulli(1 - p) per
//! probability; identity in Eval; a fresh keyed mask per pass in MonteCarlo, unlike PyTorch's
//! `scaled_dot_product_attention`, which drops in eval too, pytorch#124464), `O_h = P' V_h`;
//! `y = [O_1 ... O_H] W_out^T + b_out`. Two more dropouts act here: DropKey
//! (`drop_key=p`, keys masked before the softmax, [`crate::dropout::dropkey`]) and DropHead
//! (`drop_head=p`, whole heads, [`crate::dropout::drophead`]); the probability dropout is
//! [`crate::dropout::attention_dropout`].
//!
//! Backward: `dP' = dO V^T`, `dV = P'^T dO`, `dP = dP' * m / (1 - p)` (the mask regenerated
//! from its key, never stored), `dS = P * (dP - rowsum(dP * P)) / sqrt(d)`, `dQ = dS K`,
//! `dK = dS^T Q`, then the projections' products.
//!
//! One task per sample computes, head after head, S, the softmax, the dropout and P' V_h in
//! cache (and in backward all of the head's gradients), reading and writing the heads' columns
//! of the projections' rows in place: no split or merge copies. Causal products run in tiles
//! of queries and skip the blocks above the diagonal. A head's products run in registers
//! ([`crate::kernels::small_matmul`]); K (forward) and V (backward) are transposed once per head
//! for the products that take them as the right operand. Shapes: x (B, T, D) -> y (B, T, D), H
//! heads of d = D / H. Kept for backward: the QKV projection (B, T, 3D), the probabilities
//! before and after dropout (B, H, T, T), and the heads' outputs side by side (B, T, D). Every
//! product has a fixed shape and every sample is its own task, so the bits do not depend on
//! the thread count.

use crate::dropout::{attention_dropout, drop_mask, drophead, dropkey};
use crate::error::{Error, Result};
use crate::init::glorot_uniform;
use crate::kernels::affine::affine;
use crate::kernels::fastmath::{exp, vectorized};
use crate::kernels::gemm::{matmul, MatRef};
use crate::kernels::small_matmul::small_matmul;
use crate::kernels::{column_sums, mask, reduce};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;
use std::ops::Range;

/// The attention layer.
pub struct Attention {
    config: AttentionConfig,
    id: u64,
    /// Sequence length and width.
    t: usize,
    d: usize,
    in_w: Param,
    in_b: Param,
    out_w: Param,
    out_b: Param,
    /// (B*T, 3D): Q, K, V side by side.
    qkv: Tensor,
    /// (B, H, T, T) before and after dropout.
    probs: Tensor,
    dropped: Tensor,
    /// The heads' outputs side by side (B*T, D).
    merged: Tensor,
    y: Tensor,
    d_merged: Tensor,
    d_probs: Tensor,
    d_qkv: Tensor,
    dx: Tensor,
    /// The projections' transposed products (`kernels::affine`).
    scratch: Vec<f32>,
    /// DropHead's factor per (sample, head) in this pass (empty when no head drops).
    head_scale: Vec<f32>,
    /// One head's K (forward) or V (backward) transposed, (hd, T) per sample: the right
    /// operand of `Q K^T` and `dO V^T` with unit column stride.
    head_t: Tensor,
}

impl Attention {
    pub fn new(config: AttentionConfig) -> Result<Self> {
        config.validate()?;
        let empty = || Param::zeros(&[0], ParamKind::Bias);
        Ok(Attention {
            config,
            id: 0,
            t: 0,
            d: 0,
            in_w: empty(),
            in_b: empty(),
            out_w: empty(),
            out_b: empty(),
            qkv: Tensor::default(),
            probs: Tensor::default(),
            dropped: Tensor::default(),
            merged: Tensor::default(),
            y: Tensor::default(),
            d_merged: Tensor::default(),
            d_probs: Tensor::default(),
            d_qkv: Tensor::default(),
            dx: Tensor::default(),
            scratch: Vec::new(),
            head_scale: Vec::new(),
            head_t: Tensor::default(),
        })
    }

    /// The last forward pass's attention probabilities (B, H, T, T): after DropKey's masking
    /// and the softmax, and after the probability dropout.
    pub fn probabilities(&self) -> (&Tensor, &Tensor) {
        (&self.probs, &self.dropped)
    }

    /// DropHead's factors for this pass into `head_scale` (left empty when no head drops).
    fn draw_heads(&mut self, ctx: &Ctx, batch: usize) {
        let p = match ctx.mode {
            crate::layer::Mode::Train => drophead::scheduled(self.config.drop_head as f32, ctx.progress),
            _ => self.config.drop_head as f32,
        };
        match drop_mask(ctx, crate::rng::streams::sub_stream(self.id, DROP_HEAD), p) {
            Some(k) => drophead::head_scales(&k, batch, self.config.heads, &mut self.head_scale),
            None => self.head_scale.clear(),
        }
    }

    fn check(&self, x: &Tensor, what: &str) -> Result<usize> {
        let per = self.t * self.d;
        if per == 0 || x.is_empty() || !x.len().is_multiple_of(per) {
            return Err(Error::Shape {
                context: format!("{} {what}", self.config),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, {})", self.t, self.d),
            });
        }
        Ok(x.len() / per)
    }
}

/// Rows `rows` of head `h` of sample `b` of Q (part 0), K (1) or V (2), as a (rows, hd) view
/// of the QKV rows of width 3D.
pub(crate) fn head(
    qkv: &[f32],
    (t, d, hd): (usize, usize, usize),
    b: usize,
    h: usize,
    part: usize,
    rows: Range<usize>,
) -> MatRef<'_> {
    let start = (b * t + rows.start) * 3 * d + part * d + h * hd;
    MatRef { data: &qkv[start..], rows: rows.len(), cols: hd, rs: 3 * d, cs: 1 }
}

/// `dst (hd, rows) = m^T` for a head's (rows, hd) view `m`, row-major.
fn transpose_head(dst: &mut [f32], m: MatRef) {
    for (j, row) in (0..m.rows).map(|j| (j, &m.data[j * m.rs..j * m.rs + m.cols])) {
        for (c, &v) in row.iter().enumerate() {
            dst[c * m.rows + j] = v;
        }
    }
}

/// The first `keys` columns of a transposed head (hd, T).
fn head_t_view(ht: &[f32], t: usize, keys: usize) -> MatRef<'_> {
    MatRef { data: ht, rows: ht.len() / t, cols: keys, rs: t, cs: 1 }
}

/// Queries per tile of a causal attention matrix. Query tile r reads the keys up to its last
/// query only, so the products, the softmax and the dropout skip the blocks above the
/// diagonal: 36/64 of the work at T = 128. Measured on the char-transformer's training step
/// (2 threads, AVX2, 30 interleaved pairs): 16 queries take 0.944x the time of 32, and 8 take
/// 1.03x the time of 16.
const CAUSAL_TILE: usize = 16;

/// The query tiles of a (T, T) attention matrix, each with the number of keys its queries
/// read: all T, or with `causal` those up to the tile's last query.
pub fn query_tiles(t: usize, causal: bool) -> impl Iterator<Item = (Range<usize>, usize)> {
    let tile = if causal { CAUSAL_TILE } else { t.max(1) };
    (0..t).step_by(tile).map(move |r| {
        let end = (r + tile).min(t);
        (r..end, if causal { end } else { t })
    })
}

/// The key tiles of a (T, T) attention matrix, each with the first query that reads it.
pub fn key_tiles(t: usize, causal: bool) -> impl Iterator<Item = (Range<usize>, usize)> {
    query_tiles(t, causal).map(move |(keys, _)| (keys.clone(), if causal { keys.start } else { 0 }))
}

/// Query rows `rows` by keys `..keys` of a row-major (T, T) matrix.
pub(crate) fn block<'a>(m: &'a [f32], t: usize, rows: &Range<usize>, keys: usize) -> MatRef<'a> {
    MatRef { data: &m[rows.start * t..], rows: rows.len(), cols: keys, rs: t, cs: 1 }
}

/// Keys `keys` of the queries from `first` of a row-major (T, T) matrix, transposed: (keys,
/// queries).
pub(crate) fn key_block<'a>(m: &'a [f32], t: usize, keys: &Range<usize>, first: usize) -> MatRef<'a> {
    MatRef { data: &m[first * t + keys.start..], rows: t - first, cols: keys.len(), rs: t, cs: 1 }.t()
}

/// The elements of a query tile that its products read, as one range of the (T, T) matrix: its
/// rows whole, the last up to `keys`.
fn tile_span(t: usize, rows: &Range<usize>, keys: usize) -> Range<usize> {
    rows.start * t..(rows.end - 1) * t + keys
}

/// Softmax of each row of `s` (T, T) scaled by `scale`, the future masked when `causal`, and
/// the keys that `keep` (T, T of 0 and 1, DropKey's mask) drops.
fn softmax_rows(s: &mut [f32], t: usize, scale: f32, causal: bool, keep: Option<&[f32]>) {
    // In vector code throughout: the exps, the scaling, the max and sum in lanes.
    vectorized(
        #[inline(always)]
        || {
            for (i, row) in s.chunks_exact_mut(t).enumerate() {
                let visible = if causal { i + 1 } else { t };
                if let Some(k) = keep {
                    dropkey::mask_row(row, &k[i * t..(i + 1) * t], visible);
                }
                let (seen, future) = row.split_at_mut(visible);
                let max = reduce::max(seen) * scale;
                // exp(-inf) = 0 for a dropped key.
                seen.iter_mut().for_each(|v| *v = exp(*v * scale - max));
                let inv = 1.0 / reduce::sum(seen);
                seen.iter_mut().for_each(|v| *v *= inv);
                future.fill(0.0);
            }
        },
    )
}

/// Sub-streams of an attention layer's id, apart from its probability dropout's.
const DROP_KEY: u64 = 1;
const DROP_HEAD: u64 = 2;

/// Multiplies columns `cols` of every row (`d` wide) of `m` by a head's DropHead factor, if it
/// has one other than 1.
fn scale_head(m: &mut [f32], d: usize, cols: Range<usize>, factor: Option<&f32>) {
    if let Some(&f) = factor.filter(|&&f| f != 1.0) {
        m.chunks_exact_mut(d).for_each(|row| row[cols.clone()].iter_mut().for_each(|v| *v *= f));
    }
}

impl Layer for Attention {
    fn spec(&self) -> String {
        self.config.to_string()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let &[t, d] = input else {
            return Err(Error::Spec(format!(
                "{}: takes sequences (T, D), got samples of {input:?}; put it after an embedding",
                self.config
            )));
        };
        let heads = self.config.heads;
        if !d.is_multiple_of(heads) {
            return Err(Error::Spec(format!("{}: width {d} is not a multiple of {heads} heads", self.config)));
        }
        (self.id, self.t, self.d) = (id, t, d);
        let spec = self.config.to_string();
        self.in_w = Param::checked(&[3 * d, d], ParamKind::Weight, &spec)?;
        glorot_uniform(self.in_w.value.data_mut(), d, 3 * d, init);
        self.in_b = Param::checked(&[3 * d], ParamKind::Bias, &spec)?;
        self.out_w = Param::checked(&[d, d], ParamKind::Weight, &spec)?;
        glorot_uniform(self.out_w.value.data_mut(), d, d, init);
        self.out_b = Param::checked(&[d], ParamKind::Bias, &spec)?;
        Ok(vec![t, d])
    }

    // x: (B, T, D) -> y: (B, T, D)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let b = self.check(x, "forward")?;
        let (t, d, heads) = (self.t, self.d, self.config.heads);
        let hd = d / heads;
        // [Q K V] = x W_in^T + b_in: (B*T, D) x (D, 3D).
        self.qkv.resize(&[b * t, 3 * d]);
        affine(self.qkv.data_mut(), x.data(), self.in_w.value.data(), self.in_b.value.data(), b * t, &mut self.scratch);
        // S = Q K^T per (sample, head), softmax in the same task.
        self.probs.resize(&[b, heads, t, t]);
        let scale = 1.0 / (hd as f32).sqrt();
        let causal = self.config.causal;
        let dims = (t, d, hd);
        // DropKey's mask of kept keys, 1 or 0 per score, drawn into the buffer that takes P' below.
        self.dropped.resize(self.probs.shape());
        let key_mask = drop_mask(ctx, crate::rng::streams::sub_stream(self.id, DROP_KEY), self.config.drop_key as f32);
        if let Some(k) = &key_mask {
            mask::fill(self.dropped.data_mut(), k, 1.0);
        }
        // Then P = softmax(S) and P' = P * m / (1 - p) in the same task, the mask a function
        // of its key and element index (train and MC passes only).
        let key_mask = key_mask.is_some();
        let drop = attention_dropout::key(ctx, self.id, self.config.attn_drop as f32);
        // And O_h = P' V_h while P' is in cache, times DropHead's m_bh * H / kept, straight
        // into the head's columns of merged (B*T, D): one task per sample, head after head.
        self.draw_heads(ctx, b);
        self.merged.resize(&[b * t, d]);
        self.head_t.resize(&[b, hd, t]);
        let (qkv, head_scale) = (self.qkv.data(), &self.head_scale);
        let per_sample = heads * t * t;
        let probs = self.probs.data_mut().par_chunks_mut(per_sample);
        let tasks = probs
            .zip(self.dropped.data_mut().par_chunks_mut(per_sample))
            .zip(self.merged.data_mut().par_chunks_mut(t * d))
            .zip(self.head_t.data_mut().par_chunks_mut(hd * t));
        tasks.enumerate().for_each(|(bi, (((s_all, dropped_all), m), kt))| {
            for h in 0..heads {
                let bh = bi * heads + h;
                let (s, dropped) =
                    (&mut s_all[h * t * t..(h + 1) * t * t], &mut dropped_all[h * t * t..(h + 1) * t * t]);
                transpose_head(kt, head(qkv, dims, bi, h, 1, 0..t));
                for (rows, keys) in query_tiles(t, causal) {
                    let q = head(qkv, dims, bi, h, 0, rows.clone());
                    small_matmul(&mut s[rows.start * t..], t, q, head_t_view(kt, t, keys));
                }
                // `dropped` holds DropKey's keep mask until P' overwrites it.
                softmax_rows(s, t, scale, causal, key_mask.then_some(&*dropped));
                for (rows, keys) in query_tiles(t, causal) {
                    let span = tile_span(t, &rows, keys);
                    let first = (bh * t * t + span.start) as u64;
                    attention_dropout::apply_at(&mut dropped[span.clone()], &s[span.clone()], &drop, first);
                    dropped[span.end..rows.end * t].fill(0.0);
                    let v = head(qkv, dims, bi, h, 2, 0..keys);
                    small_matmul(&mut m[rows.start * d + h * hd..], d, block(dropped, t, &rows, keys), v);
                }
                scale_head(m, d, h * hd..(h + 1) * hd, head_scale.get(bh));
            }
        });
        // y = merged W_out^T + b_out.
        self.y.resize(&[b, t, d]);
        let (w, bias) = (self.out_w.value.data(), self.out_b.value.data());
        affine(self.y.data_mut(), self.merged.data(), w, bias, b * t, &mut self.scratch);
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let b = self.check(dy, "backward")?;
        if x.len() != dy.len() || self.qkv.len() != b * self.t * 3 * self.d {
            return Err(Error::Shape {
                context: format!("{} backward", self.config),
                got: dy.shape().to_vec(),
                expected: format!("{:?}, the shape of the forward input", x.shape()),
            });
        }
        let (t, d, heads) = (self.t, self.d, self.config.heads);
        let hd = d / heads;
        let rows = b * t;
        // Output projection: db_out = sum dy, dW_out = dy^T merged, d_merged = dy W_out.
        column_sums(dy.data(), rows, d, self.out_b.grad.data_mut());
        matmul(
            self.out_w.grad.data_mut(),
            MatRef::new(dy.data(), rows, d).t(),
            MatRef::new(self.merged.data(), rows, d),
            false,
        );
        self.d_merged.resize(&[rows, d]);
        matmul(
            self.d_merged.data_mut(),
            MatRef::new(dy.data(), rows, d),
            MatRef::new(self.out_w.value.data(), d, d),
            false,
        );
        // Per sample, head after head: DropHead's factor on dO (in place: d_merged serves no
        // one else), dP' = dO V^T and dV = P'^T dO; dP = dP' * m / (1 - p), the forward's mask
        // regenerated, into P''s buffer (P' has served); dS = P * (dP - rowsum(dP * P)) /
        // sqrt(d); dQ = dS K, dK = dS^T Q. dQ, dK and dV go straight into the head's columns
        // of d_qkv (B*T, 3D).
        self.draw_heads(ctx, b);
        self.d_probs.resize(&[b, heads, t, t]);
        self.d_qkv.resize(&[rows, 3 * d]);
        let drop = attention_dropout::key(ctx, self.id, self.config.attn_drop as f32);
        let (dims, scale, causal) = ((t, d, hd), 1.0 / (hd as f32).sqrt(), self.config.causal);
        let (qkv, probs, head_scale) = (self.qkv.data(), self.probs.data(), &self.head_scale);
        let per_sample = heads * t * t;
        let tasks =
            self.d_merged.data_mut().par_chunks_mut(t * d).zip(self.d_probs.data_mut().par_chunks_mut(per_sample));
        self.head_t.resize(&[b, hd, t]);
        let tasks = tasks
            .zip(self.dropped.data_mut().par_chunks_mut(per_sample))
            .zip(self.d_qkv.data_mut().par_chunks_mut(t * 3 * d))
            .zip(self.head_t.data_mut().par_chunks_mut(hd * t));
        tasks.enumerate().for_each(|(bi, ((((dm, dp_all), dropped_all), dqkv), vt))| {
            for h in 0..heads {
                let bh = bi * heads + h;
                let cols = h * hd..(h + 1) * hd;
                scale_head(dm, d, cols.clone(), head_scale.get(bh));
                let dm = &*dm;
                let d_o = |rows: Range<usize>| MatRef {
                    data: &dm[rows.start * d + h * hd..],
                    rows: rows.len(),
                    cols: hd,
                    rs: d,
                    cs: 1,
                };
                let (dp, dropped) =
                    (&mut dp_all[h * t * t..(h + 1) * t * t], &mut dropped_all[h * t * t..(h + 1) * t * t]);
                let into = |part: usize, from: usize| part * d + h * hd + from * 3 * d;
                transpose_head(vt, head(qkv, dims, bi, h, 2, 0..t));
                for (rows, keys) in query_tiles(t, causal) {
                    small_matmul(&mut dp[rows.start * t..], t, d_o(rows.clone()), head_t_view(vt, t, keys));
                }
                for (keys, first) in key_tiles(t, causal) {
                    let p_t = key_block(dropped, t, &keys, first);
                    small_matmul(&mut dqkv[into(2, keys.start)..], 3 * d, p_t, d_o(first..t));
                }
                let ds: &mut [f32] = if drop.0.is_some() {
                    for (rows, keys) in query_tiles(t, causal) {
                        let span = tile_span(t, &rows, keys);
                        let first = (bh * t * t + span.start) as u64;
                        attention_dropout::apply_at(&mut dropped[span.clone()], &dp[span.clone()], &drop, first);
                    }
                    dropped
                } else {
                    dp
                };
                let p = &probs[bh * t * t..(bh + 1) * t * t];
                for (rows, keys) in query_tiles(t, causal) {
                    for i in rows.clone() {
                        let (drow, prow) = (&mut ds[i * t..i * t + keys], &p[i * t..i * t + keys]);
                        vectorized(
                            #[inline(always)]
                            || {
                                let dot = reduce::dot(drow, prow);
                                drow.iter_mut().zip(prow).for_each(|(g, &pv)| *g = pv * (*g - dot) * scale);
                            },
                        )
                    }
                    let k = head(qkv, dims, bi, h, 1, 0..keys);
                    small_matmul(&mut dqkv[into(0, rows.start)..], 3 * d, block(ds, t, &rows, keys), k);
                }
                for (keys, first) in key_tiles(t, causal) {
                    let q = head(qkv, dims, bi, h, 0, first..t);
                    small_matmul(&mut dqkv[into(1, keys.start)..], 3 * d, key_block(ds, t, &keys, first), q);
                }
            }
        });
        // Input projection: db_in = sum dqkv, dW_in = dqkv^T x, dx = dqkv W_in.
        column_sums(self.d_qkv.data(), rows, 3 * d, self.in_b.grad.data_mut());
        matmul(
            self.in_w.grad.data_mut(),
            MatRef::new(self.d_qkv.data(), rows, 3 * d).t(),
            MatRef::new(x.data(), rows, d),
            false,
        );
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        matmul(
            self.dx.data_mut(),
            MatRef::new(self.d_qkv.data(), rows, 3 * d),
            MatRef::new(self.in_w.value.data(), 3 * d, d),
            false,
        );
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("in_proj_weight", &mut self.in_w);
        f("in_proj_bias", &mut self.in_b);
        f("out_proj.weight", &mut self.out_w);
        f("out_proj.bias", &mut self.out_b);
    }

    fn is_stochastic(&self) -> bool {
        self.config.attn_drop > 0.0 || self.config.drop_key > 0.0 || self.config.drop_head > 0.0
    }
}

/// `attention(heads=H, causal, attn_drop=p)`: multi-head self-attention.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionConfig {
    pub heads: usize,
    /// Each position attends to itself and the positions before it only.
    pub causal: bool,
    /// Dropout on the attention probabilities.
    pub attn_drop: f64,
    /// DropKey: keys masked before the softmax.
    pub drop_key: f64,
    /// DropHead: whole heads dropped.
    pub drop_head: f64,
}

impl AttentionConfig {
    pub fn validate(&self) -> Result<()> {
        if self.heads == 0 {
            return Err(Error::Spec("attention: heads must be at least 1, e.g. heads=4".into()));
        }
        for (name, p) in [("attn_drop", self.attn_drop), ("drop_key", self.drop_key), ("drop_head", self.drop_head)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Spec(format!("attention: {name} {p} must be in [0, 1], e.g. 0.1")));
            }
        }
        Ok(())
    }
}

impl fmt::Display for AttentionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attention(heads={}", self.heads)?;
        if self.causal {
            f.write_str(", causal")?;
        }
        for (name, p) in [("attn_drop", self.attn_drop), ("drop_key", self.drop_key), ("drop_head", self.drop_head)] {
            if p > 0.0 {
                write!(f, ", {name}={p}")?;
            }
        }
        f.write_str(")")
    }
}

impl LayerConfig for AttentionConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Attention::new(self.clone())?))
    }
    /// The probability dropout's rate, and DropKey's and DropHead's when they are used.
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        let mut rates = vec![&mut self.attn_drop];
        rates.extend([&mut self.drop_key, &mut self.drop_head].into_iter().filter(|p| **p > 0.0));
        rates
    }
    fn depends_on_mode(&self) -> bool {
        true
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["attention", "mha", "self_attention"],
    usage: "attention(heads=H)`, `attention(heads=H, causal, attn_drop=p, drop_key=p, drop_head=p)",
    example: "attention(heads=2, causal, attn_drop=0.1)",
    summary: "multi-head self-attention over (T, D) sequences, fused QKV, dropout on the attention probabilities (off in eval)",
    paper: "Vaswani et al. 2017, NeurIPS",
    dropout: None,
    parse: |call| {
        let mut config = AttentionConfig { heads: 1, causal: false, attn_drop: 0.0, drop_key: 0.0, drop_head: 0.0 };
        let usage = "attention(heads=4, causal, attn_drop=0.1, drop_key=0.1, drop_head=0.1)";
        let rate = |v: &str, name: &str| -> Result<f64> {
            v.parse().map_err(|_| call.error(format!("{name}={v} is not a number; {usage}")))
        };
        for (i, arg) in call.args.iter().enumerate() {
            match arg.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("heads", v)) => {
                    config.heads = v.parse().map_err(|_| call.error(format!("heads={v} is not a whole number; {usage}")))?
                }
                Some(("attn_drop", v)) => config.attn_drop = rate(v, "attn_drop")?,
                Some(("drop_key", v)) => config.drop_key = rate(v, "drop_key")?,
                Some(("drop_head", v)) => config.drop_head = rate(v, "drop_head")?,
                None if *arg == "causal" => config.causal = true,
                None if i == 0 => config.heads = call.positive(0, "heads")?,
                _ => return Err(call.error(format!("unknown argument '{arg}'; {usage}"))),
            }
        }
        config.validate().map_err(|e| call.error(e.to_string().trim_start_matches("model spec: ")))?;
        one(config)
    },
};
