//! DropKey (Li et al., "DropKey for Vision Transformer", CVPR 2023,
//! <https://arxiv.org/abs/2208.02646>): dropout on the attention *keys*, before the softmax.
//!
//! `S_ij = -inf` where `m_ij = 0`, m ~ Bernoulli(1 - p) per (query, key) score, then
//! `P = softmax(S)`: the softmax renormalises over the kept keys, so there is no `1 / (1 - p)`
//! scaling, and no probability is dropped after normalisation (which would leave rows that no
//! longer sum to 1, as dropout on P does). A row whose every visible key is dropped keeps all
//! of them: the paper adds `-1e12` to dropped scores, which for such a row shifts every score
//! alike and leaves its softmax unchanged. Backward needs no mask: a dropped key has P = 0, so
//! its score gradient `P (dP - <dP, P>)` is 0.
//!
//! Eval: no keys dropped. Monte Carlo: a fresh keyed mask per sample. Depth: the paper finds a
//! rate that decreases with depth best; `blocks(n, drop_key=p)` gives block k of n the rate
//! [`depth_rate`].

/// The rate of block `k` (0-based) of `n` for a DropKey rate `p`: linear from `p` at the first
/// block down to `p / n` at the last.
pub fn depth_rate(p: f64, k: usize, n: usize) -> f64 {
    p * (n - k.min(n)) as f64 / n.max(1) as f64
}

/// Masks the dropped keys of one score row: `keep[j] == 0` sets `row[j] = -inf` for the
/// `visible` keys, unless that would drop all of them. Returns whether any key was dropped.
pub fn mask_row(row: &mut [f32], keep: &[f32], visible: usize) -> bool {
    let (row, keep) = (&mut row[..visible], &keep[..visible]);
    if keep.iter().all(|&k| k == 0.0) {
        return false;
    }
    let mut any = false;
    for (s, &k) in row.iter_mut().zip(keep) {
        if k == 0.0 {
            *s = f32::NEG_INFINITY;
            any = true;
        }
    }
    any
}

pub const INFO: super::catalogue::Entry = super::catalogue::Entry {
    name: "drop_key",
    spec: "attention(heads=H, drop_key=p)`, `blocks(n, ..., drop_key=p)",
    description: "DropKey: attention keys masked before the softmax (no rescaling; the softmax renormalises), the rate decreasing with depth in `blocks`",
    paper: "Li et al. 2023, CVPR",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_falls_linearly_with_depth() {
        assert_eq!(depth_rate(0.4, 0, 4), 0.4);
        assert!((depth_rate(0.4, 3, 4) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_row_keeps_its_keys_when_all_would_drop() {
        let mut row = [1.0, 2.0, 3.0];
        assert!(!mask_row(&mut row, &[0.0, 0.0, 1.0], 2));
        assert_eq!(row, [1.0, 2.0, 3.0]);
        assert!(mask_row(&mut row, &[0.0, 1.0, 1.0], 3));
        assert_eq!(row[0], f32::NEG_INFINITY);
    }
}
