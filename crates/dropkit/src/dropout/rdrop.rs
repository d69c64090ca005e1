//! R-Drop (Liang, Wu, Li, Wang, Meng, Qin, Chen, Zhang, Liu, "R-Drop: Regularized Dropout for
//! Neural Networks", NeurIPS 2021, <https://arxiv.org/abs/2106.14448>): a training option for
//! any model with class targets.
//!
//! Each batch runs twice with independent dropout masks (as the paper's code does, as one pass
//! over the batch stacked on itself, `[x; x]`: masks are keyed by element, so the two copies
//! differ), giving distributions P1 and P2 per label. The loss is
//! `L = (CE(P1) + CE(P2)) / 2 + alpha * (KL(P1 || P2) + KL(P2 || P1)) / 2`, per label.
//! Gradient of the KL part for the logits z1 of P1 (z2 likewise, swapped):
//! `d/dz1 KL(P1||P2) = P1 * (log P1 - log P2 - KL(P1||P2))`, `d/dz1 KL(P2||P1) = P1 - P2`.
//! Eval and Monte Carlo inference are unchanged (one pass).

use super::catalogue::Entry;
use rayon::prelude::*;

/// Adds `alpha` times the symmetric KL term to the loss gradient `grad` of logits (2N, C),
/// rows `r` and `r + N` being the two passes over label r; `grad` already holds the
/// cross-entropy gradient of the mean over the 2N rows. Returns the term's sum over the 2N
/// rows (its mean per label, times 2N), for the reported loss.
pub fn add_symmetric_kl(logits: &[f32], grad: &mut [f32], classes: usize, alpha: f32) -> f64 {
    let rows = logits.len() / classes.max(1);
    let pairs = rows / 2;
    if pairs == 0 || classes == 0 {
        return 0.0;
    }
    // Gradient of alpha * mean over the N labels of (KL12 + KL21) / 2.
    let w = alpha / (2.0 * pairs as f32);
    let (z1, z2) = logits.split_at(pairs * classes);
    let (g1, g2) = grad.split_at_mut(pairs * classes);
    let sums: Vec<f64> = g1
        .par_chunks_mut(classes)
        .zip(g2.par_chunks_mut(classes))
        .zip(z1.par_chunks(classes).zip(z2.par_chunks(classes)))
        .map(|((g1, g2), (a, b))| {
            let (la, lb) = (log_softmax(a), log_softmax(b));
            let kl = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(&lp, &lq)| lp.exp() * (lp - lq)).sum::<f64>();
            let (kl12, kl21) = (kl(&la, &lb), kl(&lb, &la));
            for k in 0..classes {
                let (p1, p2) = (la[k].exp(), lb[k].exp());
                let d1 = p1 * (la[k] - lb[k] - kl12) + (p1 - p2);
                let d2 = p2 * (lb[k] - la[k] - kl21) + (p2 - p1);
                g1[k] += w * d1 as f32;
                g2[k] += w * d2 as f32;
            }
            (kl12 + kl21) / 2.0
        })
        .collect();
    // Summed in order: the same total for any thread count.
    alpha as f64 * sums.iter().sum::<f64>() * 2.0
}

fn log_softmax(z: &[f32]) -> Vec<f64> {
    let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let lse = z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
    z.iter().map(|&v| v as f64 - lse).collect()
}

pub const INFO: Entry = Entry {
    name: "rdrop",
    spec: "train --rdrop ALPHA",
    description:
        "R-Drop: two stochastic passes per batch, cross-entropy of both plus alpha times their symmetric KL divergence",
    paper: "Liang et al. 2021, NeurIPS",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn term(z: &[f32], classes: usize, alpha: f32) -> f64 {
        let mut g = vec![0.0; z.len()];
        add_symmetric_kl(z, &mut g, classes, alpha) / (z.len() / classes) as f64
    }

    #[test]
    fn the_kl_gradient_matches_finite_differences_and_vanishes_for_equal_passes() {
        let z = vec![0.3f32, -1.0, 0.8, 1.5, 0.1, -0.4, -0.2, 0.9, 0.4, 0.0, 1.1, -0.7];
        let mut g = vec![0.0; z.len()];
        add_symmetric_kl(&z, &mut g, 3, 0.7);
        for i in 0..z.len() {
            let (mut up, mut down) = (z.clone(), z.clone());
            up[i] += 1e-3;
            down[i] -= 1e-3;
            let numeric = (term(&up, 3, 0.7) - term(&down, 3, 0.7)) / 2e-3;
            assert!((numeric - g[i] as f64).abs() < 2e-4, "{i}: {numeric} vs {}", g[i]);
        }
        let same = [0.5f32, -0.5, 1.0, 0.5, -0.5, 1.0];
        let mut g = vec![0.0; 6];
        assert!(add_symmetric_kl(&same, &mut g, 3, 1.0).abs() < 1e-12);
        assert!(g.iter().all(|v| v.abs() < 1e-7));
    }
}
