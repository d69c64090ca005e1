//! The gate math of one time step of the LSTM and the GRU ([`super::variational_rnn`]), for
//! every sample at once: in parallel over samples, and vectorized over the hidden units with
//! the sigmoid and tanh of [`crate::kernels::fastmath`] (the C library's scalar calls were
//! most of an LSTM epoch). Each value depends on its own sample and unit alone, so neither the
//! threads nor the instruction set change a bit.
//!
//! LSTM: `i, f, o = sigma(z_i, z_f, z_o)`, `g = tanh(z_g)`, `c' = f c + i g`, `h' = o tanh(c')`.
//! GRU: `r, z = sigma(z_r, z_z)`, `n = tanh(zx_n + r hn)` with `hn = h~ W_hn^T + b_hn`,
//! `h' = (1 - z) n + z h`. Per sample, gates are stored gate after gate, `hidden` units each.

use crate::kernels::fastmath::{sigmoid, tanh, vectorized};
use rayon::prelude::*;

/// Samples per parallel task: a sample's gates are a few hundred values. Within a task, each
/// sample's rows are prefetched while the one before is computed: the rows of a step lie a
/// whole sample's steps apart, too short a run each for the hardware prefetcher. For the LSTM
/// at batch 128 on 2 threads, against one task per sample and no prefetch: forward 58 against
/// 81 us a step, backward 26 against 40 (the fastest of 36 rounds each).
const TASK_SAMPLES: usize = 8;

/// One step's shapes, its recurrent product `zh` without bias (B, G*H; empty in backward) and
/// the biases added to every step's pre-activations, `bias` (G*H: b_ih + b_hh, the GRU's b_hn
/// apart, which r multiplies). Added here, they cost no pass over the input projections.
///
/// The input projections of every step, `pre` (B, T, G*H), are also where each step's gates
/// are kept: a forward step reads its rows and replaces them with the gates, a backward step
/// reads the gates and replaces them with the input-side pre-activation gradients. Each row is
/// read once before it is replaced, so no separate (T, B, G*H) buffers are written and read.
pub struct Step<'a> {
    pub zh: &'a [f32],
    pub bias: &'a [f32],
    pub t: usize,
    pub steps: usize,
    pub hidden: usize,
}

impl Step<'_> {
    /// Sample `j`'s row of this step (G*H values) in a task's samples `rows` (T, G*H each),
    /// once the load of sample j + 1's has been started.
    fn sample_row<'r>(&self, rows: &'r mut [f32], j: usize, gh: usize) -> &'r mut [f32] {
        let at = |sample: usize| (sample * self.steps + self.t) * gh;
        prefetch(rows.get(at(j + 1)..at(j + 1) + gh));
        &mut rows[at(j)..at(j) + gh]
    }
}

/// Starts loading `values` into the cache, when there are any: a hint, which changes no result.
#[inline(always)]
fn prefetch(values: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    for line in values.unwrap_or_default().chunks(16) {
        // SAFETY: the address lies within `values`; a prefetch neither faults nor writes.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) }
    }
}

/// Where a forward step also writes its new state for the next step's recurrent product:
/// `h' * m` (the locked mask `mask`, (B, H), or none when empty) into the first H values of
/// row t + 1 of `out` (B, T, `stride`), when there is a next step. So the mask costs no pass of
/// its own. (The layer's rows end in a column of ones, which yields the bias gradient.)
pub struct Feed<'a> {
    pub out: &'a mut [f32],
    pub mask: &'a [f32],
    pub stride: usize,
}

impl Feed<'_> {
    /// Sample `s`'s fed state for the step after `t` from its new state `h_new`.
    #[inline(always)]
    fn write(&self, out_s: &mut [f32], s: usize, (t, steps): (usize, usize), h_new: &[f32]) {
        let (h, mask) = (h_new.len(), self.mask);
        if t + 1 < steps {
            let row = &mut out_s[(t + 1) * self.stride..][..h];
            match mask.get(s * h..(s + 1) * h) {
                Some(m) => row.iter_mut().zip(h_new).zip(m).for_each(|((o, &v), &m)| *o = v * m),
                None => row.copy_from_slice(h_new),
            }
        }
    }
}

/// The gradient reaching a step's new state h_{t+1}, summed in the backward gate pass in the
/// order `direct + recurrent * mask + dy`: from the next step directly (the GRU's `z h`
/// path, (B, H), read and then replaced; none for the LSTM), through the next step's recurrent
/// product (`recurrent` = dzh_{t+1} W_hh, (B, H), times the locked mask, (B, H) or empty; empty
/// at the last step), and from the loss (`dy`: sample s's row starts at `s * dy_stride +
/// dy_offset`; empty when no loss reaches this step).
pub struct DhIn<'a> {
    pub recurrent: &'a [f32],
    pub mask: &'a [f32],
    pub dy: &'a [f32],
    pub dy_stride: usize,
    pub dy_offset: usize,
}

impl DhIn<'_> {
    /// Sample `s`'s gradient into `dh` (H), after `direct` (H) or from zero.
    #[inline(always)]
    fn assemble(&self, s: usize, direct: Option<&[f32]>, dh: &mut [f32]) {
        let h = dh.len();
        match direct {
            Some(d) => dh.copy_from_slice(d),
            None => dh.fill(0.0),
        }
        if let Some(rec) = self.recurrent.get(s * h..(s + 1) * h) {
            match self.mask.get(s * h..(s + 1) * h) {
                Some(m) => dh.iter_mut().zip(rec).zip(m).for_each(|((d, &g), &m)| *d += g * m),
                None => dh.iter_mut().zip(rec).for_each(|(d, &g)| *d += g),
            }
        }
        let at = s * self.dy_stride + self.dy_offset;
        if let Some(dy) = self.dy.get(at..at + h) {
            dh.iter_mut().zip(dy).for_each(|(d, &g)| *d += g);
        }
    }
}

/// Splits a row of G gates into the gates.
fn gates_of<const G: usize>(row: &[f32], h: usize) -> [&[f32]; G] {
    std::array::from_fn(|k| &row[k * h..(k + 1) * h])
}

fn gates_of_mut<const G: usize>(row: &mut [f32], h: usize) -> [&mut [f32]; G] {
    let mut rest = row;
    std::array::from_fn(|_| {
        let (gate, tail) = std::mem::take(&mut rest).split_at_mut(h);
        rest = tail;
        gate
    })
}

/// LSTM forward step: sample s's row t of `pre` (B, T, 4H) goes from its input projection
/// to the gates (i, f, g, o); `c_next`, `h_next` (B, H) from `c_prev` (B, H); `h_next` fed on
/// through `feed`.
pub fn lstm_forward(
    step: &Step,
    pre: &mut [f32],
    c_prev: &[f32],
    (c_next, h_next): (&mut [f32], &mut [f32]),
    mut feed: Feed,
) {
    let (h, per_sample) = (step.hidden, step.steps * 4 * step.hidden);
    let (out, feed) = (std::mem::take(&mut feed.out), &feed);
    let tasks = h_next.par_chunks_mut(TASK_SAMPLES * h).zip(c_next.par_chunks_mut(TASK_SAMPLES * h));
    let tasks = tasks.zip(pre.par_chunks_mut(TASK_SAMPLES * per_sample));
    let tasks = tasks.zip(out.par_chunks_mut(TASK_SAMPLES * step.steps * feed.stride));
    tasks.enumerate().for_each(|(task, (((h_task, c_task), pre_task), out_task))| {
        let samples = h_task
            .chunks_exact_mut(h)
            .zip(c_task.chunks_exact_mut(h))
            .zip(out_task.chunks_mut(step.steps * feed.stride));
        for (j, ((hn, cn), out_s)) in samples.enumerate() {
            let s = task * TASK_SAMPLES + j;
            prefetch(step.zh.get((s + 1) * 4 * h..(s + 2) * 4 * h));
            let [gi, gf, gg, go] = gates_of_mut::<4>(step.sample_row(pre_task, j, 4 * h), h);
            let [hi, hf, hg, ho] = gates_of::<4>(&step.zh[s * 4 * h..(s + 1) * 4 * h], h);
            let [bi, bf, bg, bo] = gates_of::<4>(step.bias, h);
            let cp = &c_prev[s * h..(s + 1) * h];
            vectorized(
                #[inline(always)]
                || lstm_cells([gi, gf, gg, go], [hi, hf, hg, ho], [bi, bf, bg, bo], cp, (cn, hn)),
            );
            feed.write(out_s, s, (step.t, step.steps), hn);
        }
    });
}

/// The LSTM cell of one sample, unit by unit. A function of its own, so that the compiler
/// knows that its slices do not overlap: inside a closure it could not, and ran a scalar copy
/// of the loop behind run-time overlap checks for a part of the calls.
#[inline(always)]
fn lstm_cells(
    gates: [&mut [f32]; 4],
    zh: [&[f32]; 4],
    bias: [&[f32]; 4],
    cp: &[f32],
    (cn, hn): (&mut [f32], &mut [f32]),
) {
    // Every slice cut to the same length, so that the loop has no bounds checks.
    let n = hn.len();
    let ([gi, gf, gg, go], [hi, hf, hg, ho]) = (gates.map(|g| &mut g[..n]), zh.map(|z| &z[..n]));
    let ([bi, bf, bg, bo], cp, cn) = (bias.map(|b| &b[..n]), &cp[..n], &mut cn[..n]);
    for k in 0..n {
        let i = sigmoid(gi[k] + bi[k] + hi[k]);
        let f = sigmoid(gf[k] + bf[k] + hf[k]);
        let g = tanh(gg[k] + bg[k] + hg[k]);
        let o = sigmoid(go[k] + bo[k] + ho[k]);
        let c = f * cp[k] + i * g;
        cn[k] = c;
        hn[k] = o * tanh(c);
        (gi[k], gf[k], gg[k], go[k]) = (i, f, g, o);
    }
}

/// LSTM backward step. In: the step's gates in `pre` (B, T, 4H) at row t, `c_prev`, `c_next`,
/// the parts of its `dh` and `dc` (B, H, from later steps). Out: `dh` (B, H), the
/// pre-activation gradients in place of the gates, and `dc` becomes the gradient for the step
/// before. The recurrent side's gradient equals the input side's.
pub fn lstm_backward(
    step: &Step,
    pre: &mut [f32],
    c: (&[f32], &[f32]),
    dh_in: &DhIn,
    (dh, dc): (&mut [f32], &mut [f32]),
) {
    let (h, per_sample) = (step.hidden, step.steps * 4 * step.hidden);
    let (c_prev, c_next) = c;
    let tasks = pre.par_chunks_mut(TASK_SAMPLES * per_sample).zip(dc.par_chunks_mut(TASK_SAMPLES * h));
    let tasks = tasks.zip(dh.par_chunks_mut(TASK_SAMPLES * h));
    tasks.enumerate().for_each(|(task, ((pre_task, dc_task), dh_task))| {
        for (j, (dcn, dhs)) in dc_task.chunks_exact_mut(h).zip(dh_task.chunks_exact_mut(h)).enumerate() {
            let s = task * TASK_SAMPLES + j;
            prefetch(c_next.get((s + 1) * h..(s + 2) * h));
            prefetch(c_prev.get((s + 1) * h..(s + 2) * h));
            dh_in.assemble(s, None, dhs);
            let dhs = &*dhs;
            let (cp, cn) = (&c_prev[s * h..(s + 1) * h], &c_next[s * h..(s + 1) * h]);
            let [di, df, dg, d_o] = gates_of_mut::<4>(step.sample_row(pre_task, j, 4 * h), h);
            vectorized(
                #[inline(always)]
                || lstm_cell_grads([di, df, dg, d_o], (cp, cn), dhs, dcn),
            )
        }
    });
}

/// The LSTM cell's gradients of one sample: the gates in `gates` replaced by their
/// pre-activations' gradients, `dc` by the gradient for the step before (see [`lstm_cells`]).
#[inline(always)]
fn lstm_cell_grads(gates: [&mut [f32]; 4], (cp, cn): (&[f32], &[f32]), dh: &[f32], dc: &mut [f32]) {
    let n = dc.len();
    let [di, df, dg, d_o] = gates.map(|g| &mut g[..n]);
    let (cp, cn, dh) = (&cp[..n], &cn[..n], &dh[..n]);
    for k in 0..n {
        let (i, f, g, o) = (di[k], df[k], dg[k], d_o[k]);
        let tc = tanh(cn[k]);
        let d = dc[k] + dh[k] * o * (1.0 - tc * tc);
        di[k] = d * g * i * (1.0 - i);
        df[k] = d * cp[k] * f * (1.0 - f);
        dg[k] = d * i * (1.0 - g * g);
        d_o[k] = dh[k] * tc * o * (1.0 - o);
        dc[k] = d * f;
    }
}

/// GRU forward step: sample s's row t of `pre` (B, T, 3H) goes from its input projection to
/// the gates (r, z, n); `hn` (B, H) keeps `zh`'s n part plus its bias `b_hn`, `h_next` from
/// `h_prev` (B, H, undropped), fed on through `feed`.
pub fn gru_forward(
    step: &Step,
    b_hn: &[f32],
    pre: &mut [f32],
    h_prev: &[f32],
    (h_next, hn): (&mut [f32], &mut [f32]),
    mut feed: Feed,
) {
    let (h, per_sample) = (step.hidden, step.steps * 3 * step.hidden);
    let b_hn = &b_hn[..h];
    let (out, feed) = (std::mem::take(&mut feed.out), &feed);
    let tasks = h_next.par_chunks_mut(TASK_SAMPLES * h).zip(hn.par_chunks_mut(TASK_SAMPLES * h));
    let tasks = tasks.zip(pre.par_chunks_mut(TASK_SAMPLES * per_sample));
    let tasks = tasks.zip(out.par_chunks_mut(TASK_SAMPLES * step.steps * feed.stride));
    tasks.enumerate().for_each(|(task, (((h_task, hn_task), pre_task), out_task))| {
        let samples = h_task
            .chunks_exact_mut(h)
            .zip(hn_task.chunks_exact_mut(h))
            .zip(out_task.chunks_mut(step.steps * feed.stride));
        for (j, ((h_out, hn), out_s)) in samples.enumerate() {
            let s = task * TASK_SAMPLES + j;
            prefetch(step.zh.get((s + 1) * 3 * h..(s + 2) * 3 * h));
            let [gr, gz, gn] = gates_of_mut::<3>(step.sample_row(pre_task, j, 3 * h), h);
            let [hr, hz, hh] = gates_of::<3>(&step.zh[s * 3 * h..(s + 1) * 3 * h], h);
            let [br, bz, bn] = gates_of::<3>(step.bias, h);
            let hp = &h_prev[s * h..(s + 1) * h];
            vectorized(
                #[inline(always)]
                || gru_cells([gr, gz, gn], [hr, hz, hh], [br, bz, bn, b_hn], hp, (h_out, hn)),
            );
            feed.write(out_s, s, (step.t, step.steps), h_out);
        }
    });
}

/// The GRU cell of one sample (a function for the reason given at [`lstm_cells`]).
#[inline(always)]
fn gru_cells(
    gates: [&mut [f32]; 3],
    zh: [&[f32]; 3],
    bias: [&[f32]; 4],
    hp: &[f32],
    (h_out, hn): (&mut [f32], &mut [f32]),
) {
    let len = h_out.len();
    let ([gr, gz, gn], [hr, hz, hh]) = (gates.map(|g| &mut g[..len]), zh.map(|z| &z[..len]));
    let ([br, bz, bn, b_hn], hp, hn) = (bias.map(|b| &b[..len]), &hp[..len], &mut hn[..len]);
    for k in 0..len {
        let r = sigmoid(gr[k] + br[k] + hr[k]);
        let z = sigmoid(gz[k] + bz[k] + hz[k]);
        hn[k] = hh[k] + b_hn[k];
        let n = tanh(gn[k] + bn[k] + r * hn[k]);
        h_out[k] = (1.0 - z) * n + z * hp[k];
        (gr[k], gz[k], gn[k]) = (r, z, n);
    }
}

/// GRU backward step: from the step's gates in `pre` (B, T, 3H) at row t, `hn`, `h_prev` and
/// the parts of its `dh`: `dh` (B, H), the input-side gradients in place of the gates, the
/// recurrent side's into `dzh` (B, T, 3H), and the gradient that reaches h directly (through
/// `z h`) into `dh_direct` (B, H), which held the next step's.
pub fn gru_backward(
    step: &Step,
    (pre, dzh): (&mut [f32], &mut [f32]),
    (hn, h_prev): (&[f32], &[f32]),
    dh_in: &DhIn,
    (dh, dh_direct): (&mut [f32], &mut [f32]),
) {
    let (h, per_sample) = (step.hidden, step.steps * 3 * step.hidden);
    let tasks = pre.par_chunks_mut(TASK_SAMPLES * per_sample).zip(dzh.par_chunks_mut(TASK_SAMPLES * per_sample));
    let tasks = tasks.zip(dh_direct.par_chunks_mut(TASK_SAMPLES * h)).zip(dh.par_chunks_mut(TASK_SAMPLES * h));
    tasks.enumerate().for_each(|(task, (((pre_task, dzh_task), direct_task), dh_task))| {
        for (j, (direct, dhs)) in direct_task.chunks_exact_mut(h).zip(dh_task.chunks_exact_mut(h)).enumerate() {
            let s = task * TASK_SAMPLES + j;
            prefetch(hn.get((s + 1) * h..(s + 2) * h));
            prefetch(h_prev.get((s + 1) * h..(s + 2) * h));
            dh_in.assemble(s, Some(direct), dhs);
            let dhs = &*dhs;
            let (hn, hp) = (&hn[s * h..(s + 1) * h], &h_prev[s * h..(s + 1) * h]);
            let [xr, xz, xn] = gates_of_mut::<3>(step.sample_row(pre_task, j, 3 * h), h);
            let [hr, hz, hh] = gates_of_mut::<3>(step.sample_row(dzh_task, j, 3 * h), h);
            vectorized(
                #[inline(always)]
                || gru_cell_grads([xr, xz, xn], [hr, hz, hh], (hn, hp), dhs, direct),
            )
        }
    });
}

/// The GRU cell's gradients of one sample: the gates in `gates` replaced by the input side's
/// pre-activation gradients, the recurrent side's into `dzh`, the direct one into `direct`.
#[inline(always)]
fn gru_cell_grads(
    gates: [&mut [f32]; 3],
    dzh: [&mut [f32]; 3],
    (hn, hp): (&[f32], &[f32]),
    dh: &[f32],
    direct: &mut [f32],
) {
    let len = direct.len();
    let ([xr, xz, xn], [hr, hz, hh]) = (gates.map(|g| &mut g[..len]), dzh.map(|g| &mut g[..len]));
    let (hn, hp, dh) = (&hn[..len], &hp[..len], &dh[..len]);
    for k in 0..len {
        let (r, z, n) = (xr[k], xz[k], xn[k]);
        let dn = dh[k] * (1.0 - z) * (1.0 - n * n);
        let dr = dn * hn[k] * r * (1.0 - r);
        let dzg = dh[k] * (hp[k] - n) * z * (1.0 - z);
        (xr[k], xz[k], xn[k]) = (dr, dzg, dn);
        (hr[k], hz[k], hh[k]) = (dr, dzg, dn * r);
        direct[k] = dh[k] * z;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919) % 2000) as f32 * 3e-3 - 3.0).collect()
    }

    #[test]
    fn the_lstm_step_equals_its_formula_bit_for_bit() {
        let (b, t_n, h) = (19, 3, 37);
        let (zx, zh, c_prev, bias) =
            (values(b * t_n * 4 * h, 1), values(b * 4 * h, 2), values(b * h, 3), values(4 * h, 5));
        let step = Step { zh: &zh, bias: &bias, t: 1, steps: t_n, hidden: h };
        let (mut c_next, mut h_next, mut pre) = (vec![0.0; b * h], vec![0.0; b * h], zx.clone());
        let (mut fed, mask) = (vec![7.0; b * t_n * (h + 1)], values(b * h, 4));
        let feed = Feed { out: &mut fed, mask: &mask, stride: h + 1 };
        lstm_forward(&step, &mut pre, &c_prev, (&mut c_next, &mut h_next), feed);
        for s in 0..b {
            for k in 0..h {
                let at = |t: usize, g: usize| (s * t_n + t) * 4 * h + g * h + k;
                let z = |g: usize| zx[at(1, g)] + bias[g * h + k] + zh[s * 4 * h + g * h + k];
                let (i, f, g, o) = (sigmoid(z(0)), sigmoid(z(1)), tanh(z(2)), sigmoid(z(3)));
                let c = f * c_prev[s * h + k] + i * g;
                assert_eq!(c_next[s * h + k].to_bits(), c.to_bits(), "c ({s}, {k})");
                assert_eq!(h_next[s * h + k].to_bits(), (o * tanh(c)).to_bits(), "h ({s}, {k})");
                // The gates replace step 1's input projections; the other steps' stay.
                assert_eq!(pre[at(1, 3)].to_bits(), o.to_bits());
                assert_eq!(pre[at(1, 0)].to_bits(), i.to_bits());
                assert_eq!(pre[at(0, 2)].to_bits(), zx[at(0, 2)].to_bits());
                assert_eq!(pre[at(2, 1)].to_bits(), zx[at(2, 1)].to_bits());
                // The next step's input: h times the locked mask, in row t + 1 = 2.
                let fed_h = fed[(s * t_n + 2) * (h + 1) + k];
                assert_eq!(fed_h.to_bits(), (h_next[s * h + k] * mask[s * h + k]).to_bits(), "fed ({s}, {k})");
            }
            // Past the H values of each row, nothing is written.
            assert!((0..t_n).all(|t| fed[(s * t_n + t) * (h + 1) + h] == 7.0));
        }
    }
}
