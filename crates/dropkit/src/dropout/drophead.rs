//! DropHead (Zhou, Ge, Xu, Wei, Zhou, "Scheduled DropHead: A Regularization Method for
//! Transformer Models", Findings of EMNLP 2020, <https://arxiv.org/abs/2004.13342>): whole
//! attention heads dropped.
//!
//! Per sample b and head h, `m_bh ~ Bernoulli(1 - p)`; the kept heads' outputs are scaled by
//! `H / sum_h m_bh` (the number of heads over the number kept, the paper's rescaling, so the
//! sum over heads keeps its expected size); a sample with no head kept outputs zeros.
//! Backward: the head gradients times the same factors. Eval: every head, unscaled. Monte
//! Carlo: fresh head masks per sample, at the rate `p`.
//!
//! Schedule: the paper's V shape over training. The rate falls linearly from `p` to 0 over the
//! first [`TURN`] of training, then rises linearly back to `p` at the end: [`scheduled`].

use crate::kernels::mask::MaskKey;

/// Where the V-shaped schedule turns: this fraction of the training steps.
pub const TURN: f32 = 0.1;

/// The rate at training `progress` (in [0, 1]) for a DropHead rate `p`.
pub fn scheduled(p: f32, progress: f32) -> f32 {
    let t = progress.clamp(0.0, 1.0);
    if t < TURN {
        p * (1.0 - t / TURN)
    } else {
        p * (t - TURN) / (1.0 - TURN)
    }
}

/// The factor of every (sample, head) for `batch` samples of `heads` heads: `H / kept` for a
/// kept head, 0 for a dropped one (and for all heads of a sample that keeps none). Element
/// `b * heads + h` of the key's stream decides head h of sample b.
pub fn head_scales(key: &MaskKey, batch: usize, heads: usize, out: &mut Vec<f32>) {
    out.clear();
    for b in 0..batch {
        let first = out.len();
        out.extend((0..heads).map(|h| if key.keeps((b * heads + h) as u64) { 1.0 } else { 0.0 }));
        let kept: f32 = out[first..].iter().sum();
        let scale = if kept > 0.0 { heads as f32 / kept } else { 0.0 };
        out[first..].iter_mut().for_each(|m| *m *= scale);
    }
}

pub const INFO: super::catalogue::Entry = super::catalogue::Entry {
    name: "drop_head",
    spec: "attention(heads=H, drop_head=p)`, `block(..., drop_head=p)",
    description: "DropHead: whole attention heads dropped per sample, the kept ones scaled by H / kept; V-shaped rate schedule over training",
    paper: "Zhou et al. 2020, Findings of EMNLP",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_a_v() {
        assert_eq!(scheduled(0.2, 0.0), 0.2);
        assert_eq!(scheduled(0.2, TURN), 0.0);
        assert!((scheduled(0.2, 1.0) - 0.2).abs() < 1e-7);
        assert!(scheduled(0.2, 0.55) < 0.2 && scheduled(0.2, 0.55) > 0.0);
    }
}
