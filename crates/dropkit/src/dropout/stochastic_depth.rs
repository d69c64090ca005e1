//! Stochastic depth over a stack of blocks (Huang et al., "Deep Networks with Stochastic
//! Depth", ECCV 2016, <https://arxiv.org/abs/1603.09382>; the linear decay rule of timm's
//! `drop_path_rate`). Each residual branch of block k of n is dropped per sample with
//! probability [`linear_rate`], `y = x + f(x) * m_b / (1 - p_k)`, m_b ~ Bernoulli(1 - p_k) per
//! sample (the `droppath` layer). Eval: `y = x + f(x)`. Monte Carlo: fresh per-sample masks.

use super::catalogue::Entry;

/// The drop-path rate of block `k` (0-based) of `n` for a model rate `rate`: `rate * k / (n -
/// 1)`, rising linearly from 0 at the first block to `rate` at the last (timm's
/// `torch.linspace(0, drop_path_rate, depth)`).
pub fn linear_rate(rate: f64, k: usize, n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    rate * k.min(n - 1) as f64 / (n - 1) as f64
}

pub const INFO: Entry = Entry {
    name: "stochastic_depth",
    spec: "blocks(n, ..., drop_path=p)",
    description: "stochastic depth: residual branches dropped per sample, the rate rising linearly over the blocks from 0 to p (timm's drop_path_rate)",
    paper: "Huang et al. 2016, ECCV",
};

#[cfg(test)]
mod tests {
    #[test]
    fn rates_rise_linearly_from_zero() {
        let r: Vec<f64> = (0..5).map(|k| super::linear_rate(0.2, k, 5)).collect();
        assert_eq!(r[0], 0.0);
        assert!((r[2] - 0.1).abs() < 1e-12 && (r[4] - 0.2).abs() < 1e-12);
    }
}
