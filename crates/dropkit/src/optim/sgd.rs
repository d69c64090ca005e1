//! SGD with momentum and Nesterov, PyTorch's formulation
//! (<https://pytorch.org/docs/stable/generated/torch.optim.SGD.html>):
//! `g += wd * w; b = mu * b + g (b = g at step 1); g = nesterov ? g + mu * b : b; w -= lr * g`.

use super::{flush, OptimizerConfig};
use crate::kernels::CHUNK;
use rayon::prelude::*;

/// Returns whether every gradient was finite.
pub(crate) fn update(
    w: &mut [f32],
    g: &[f32],
    buf: &mut [f32],
    cfg: &OptimizerConfig,
    lr: f32,
    decay: f32,
    t: u64,
) -> bool {
    let (mu, nesterov) = (cfg.momentum, cfg.nesterov);
    let first = t == 1;
    w.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(buf.par_chunks_mut(CHUNK))
        .map(|((w, g), b)| {
            let mut finite = true;
            for ((w, &g), b) in w.iter_mut().zip(g).zip(b) {
                finite &= g.is_finite();
                let mut d = g + decay * *w;
                if mu > 0.0 {
                    *b = flush(if first { d } else { mu * *b + d });
                    d = if nesterov { d + mu * *b } else { *b };
                }
                *w -= lr * d;
            }
            finite
        })
        .reduce(|| true, |a, b| a & b)
}
