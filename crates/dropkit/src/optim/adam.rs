//! Adam (Kingma and Ba 2015, <https://arxiv.org/abs/1412.6980>) and AdamW (Loshchilov and
//! Hutter 2019, <https://arxiv.org/abs/1711.05101>), in PyTorch's formulation:
//! `m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;`
//! `w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
//! Adam adds the L2 term to `g`; AdamW decays the weight directly: `w -= lr * wd * w`.

use super::{flush, OptimizerConfig, Slot};
use crate::kernels::mask::{best_isa, Isa};
use crate::kernels::{denormals, CHUNK};
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
    let k = Coefficients { b1, b2, eps, l2, shrink, step, inv_sqrt_bc2 };
    let avx512 = best_isa() == Isa::Avx512;
    w.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(slot.m.par_chunks_mut(CHUNK))
        .zip(slot.v.par_chunks_mut(CHUNK))
        .map(|(((w, g), m), v)| {
            denormals::as_zero(|| {
                #[cfg(target_arch = "x86_64")]
                if avx512 {
                    // SAFETY: best_isa() found AVX-512F on this CPU.
                    return unsafe { chunk_avx512(w, g, m, v, &k) };
                }
                chunk(w, g, m, v, &k)
            })
        })
        .reduce(|| true, |a, b| a & b)
}

/// The per-step constants of the update.
struct Coefficients {
    b1: f32,
    b2: f32,
    eps: f32,
    l2: f32,
    shrink: f32,
    step: f32,
    inv_sqrt_bc2: f32,
}

/// The update of one chunk; returns whether every gradient was finite. IEEE arithmetic
/// without fused multiply-adds: every instruction set gives the same bits.
#[inline(always)]
fn chunk(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Coefficients) -> bool {
    let mut finite = true;
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
        finite &= g.is_finite();
        let g = g + k.l2 * *w;
        *m = flush(k.b1 * *m + (1.0 - k.b1) * g);
        *v = flush(k.b2 * *v + (1.0 - k.b2) * g * g);
        *w = *w * k.shrink - k.step * *m / (v.sqrt() * k.inv_sqrt_bc2 + k.eps);
    }
    finite
}

/// [`chunk`] compiled for AVX-512: 16 lanes, and a square root and division four times as wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chunk_avx512(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Coefficients) -> bool {
    chunk(w, g, m, v, k)
}
