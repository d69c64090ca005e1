//! SGD with momentum and Nesterov, PyTorch's formulation
//! (<https://pytorch.org/docs/stable/generated/torch.optim.SGD.html>):
//! `g += wd * w; b = mu * b + (1 - dampening) * g (b = g at step 1); g = nesterov ? g + mu * b : b;`
//! `w -= lr * g`, with `dampening = mu` when dampened (the 2014 dropout paper's form), else 0.

use super::{flush, OptimizerConfig};
use crate::kernels::{denormals, CHUNK};
use rayon::prelude::*;

/// Updates with momentum `mu` (this epoch's); returns whether every gradient was finite.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    w: &mut [f32],
    g: &[f32],
    buf: &mut [f32],
    cfg: &OptimizerConfig,
    mu: f32,
    lr: f32,
    decay: f32,
    t: u64,
) -> bool {
    let nesterov = cfg.nesterov;
    let keep = if cfg.dampened { 1.0 - mu } else { 1.0 };
    let first = t == 1;
    w.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(buf.par_chunks_mut(CHUNK))
        .map(|((w, g), b)| {
            denormals::as_zero(|| {
                let mut finite = true;
                for ((w, &g), b) in w.iter_mut().zip(g).zip(b) {
                    finite &= g.is_finite();
                    let mut d = g + decay * *w;
                    if mu > 0.0 {
                        *b = flush(if first { d } else { mu * *b + keep * d });
                        d = if nesterov { d + mu * *b } else { *b };
                    }
                    *w -= lr * d;
                }
                finite
            })
        })
        .reduce(|| true, |a, b| a & b)
}
