//! Adam (Kingma and Ba 2015, <https://arxiv.org/abs/1412.6980>) and AdamW (Loshchilov and
//! Hutter 2019, <https://arxiv.org/abs/1711.05101>), in PyTorch's formulation:
//! `m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;`
//! `w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
//! Adam adds the L2 term to `g`; AdamW decays the weight directly: `w -= lr * wd * w`.

use super::{flush, OptimizerConfig, Slot};
use crate::kernels::CHUNK;
use rayon::prelude::*;

#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    w: &mut [f32],
    g: &[f32],
    slot: &mut Slot,
    cfg: &OptimizerConfig,
    lr: f32,
    decay: f32,
    decoupled: bool,
    t: u64,
) -> bool {
    let (b1, b2, eps) = (cfg.beta1, cfg.beta2, cfg.eps);
    let bc1 = 1.0 - (b1 as f64).powf(t as f64);
    let bc2 = 1.0 - (b2 as f64).powf(t as f64);
    let step = (lr as f64 / bc1) as f32;
    let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
    let (l2, shrink) = if decoupled { (0.0, 1.0 - lr * decay) } else { (decay, 1.0) };
    w.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(slot.m.par_chunks_mut(CHUNK))
        .zip(slot.v.par_chunks_mut(CHUNK))
        .map(|(((w, g), m), v)| {
            let mut finite = true;
            for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                finite &= g.is_finite();
                let g = g + l2 * *w;
                *m = flush(b1 * *m + (1.0 - b1) * g);
                *v = flush(b2 * *v + (1.0 - b2) * g * g);
                *w = *w * shrink - step * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
            }
            finite
        })
        .reduce(|| true, |a, b| a & b)
}
