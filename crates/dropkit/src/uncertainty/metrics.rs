//! Calibration and uncertainty metrics over predicted probabilities.
//!
//! NLL `-(1/N) sum log p_i[y_i]`; Brier `(1/N) sum_i sum_c (p_ic - [y_i = c])^2`; ECE with 15
//! equal-width confidence bins `sum_b |B_b|/N |acc(B_b) - conf(B_b)|` (Guo et al. 2017,
//! <https://arxiv.org/abs/1706.04599>); accuracy after rejecting the most uncertain inputs; and
//! AUROC of an uncertainty score separating shifted from clean inputs (Mann-Whitney U).

use serde::Serialize;

/// Probabilities below this count as this in the NLL (avoids infinite loss).
const MIN_PROB: f64 = 1e-12;

/// One confidence bin of a reliability diagram.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Bin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub confidence: f64,
    pub accuracy: f64,
}

/// Calibration figures of a set of predictions.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Calibration {
    pub accuracy: f64,
    pub nll: f64,
    pub brier: f64,
    pub ece: f64,
    pub bins: Vec<Bin>,
}

/// Accuracy, NLL, Brier score and ECE (`bins` bins) of `probs` (N, C) against `labels`.
pub fn calibration(probs: &[f32], labels: &[u32], bins: usize) -> Calibration {
    let n = labels.len().max(1);
    let c = probs.len() / n;
    let (mut nll, mut brier, mut correct) = (0.0, 0.0, 0usize);
    let bins = bins.max(1);
    let (mut count, mut conf, mut hits) = (vec![0usize; bins], vec![0f64; bins], vec![0usize; bins]);
    for (p, &y) in probs.chunks_exact(c.max(1)).zip(labels) {
        let y = y as usize;
        let best = crate::tensor::argmax(p);
        nll -= (p.get(y).copied().unwrap_or(0.0) as f64).max(MIN_PROB).ln();
        brier += p.iter().enumerate().map(|(k, &v)| (v as f64 - (k == y) as u8 as f64).powi(2)).sum::<f64>();
        let hit = best == y;
        correct += hit as usize;
        let confidence = p[best] as f64;
        let b = ((confidence * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += confidence;
        hits[b] += hit as usize;
    }
    let nf = n as f64;
    let bins: Vec<Bin> = (0..bins)
        .map(|b| {
            let k = count[b].max(1) as f64;
            Bin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: count[b],
                confidence: conf[b] / k,
                accuracy: hits[b] as f64 / k,
            }
        })
        .collect();
    let ece = bins.iter().map(|b| b.count as f64 / nf * (b.accuracy - b.confidence).abs()).sum();
    Calibration { accuracy: correct as f64 / nf, nll: nll / nf, brier: brier / nf, ece, bins }
}

/// Accuracy on the inputs kept after rejecting the `fraction` with the highest `uncertainty`,
/// for each fraction (in [0, 1)). Ties are broken by input order, so the curve is deterministic.
pub fn rejection_curve(correct: &[bool], uncertainty: &[f32], fractions: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..correct.len()).collect();
    order.sort_by(|&a, &b| uncertainty[a].total_cmp(&uncertainty[b]).then(a.cmp(&b)));
    fractions
        .iter()
        .map(|&f| {
            let keep = ((1.0 - f.clamp(0.0, 1.0)) * correct.len() as f64).round() as usize;
            let kept = &order[..keep.max(1).min(order.len())];
            let acc = kept.iter().filter(|&&i| correct[i]).count() as f64 / kept.len().max(1) as f64;
            (f, acc)
        })
        .collect()
}

/// Area under the ROC curve of `score` for telling `positive` (shifted) from `negative`
/// (clean) inputs: P(score_pos > score_neg) + P(equal) / 2.
pub fn auroc(negative: &[f32], positive: &[f32]) -> f64 {
    let mut all: Vec<(f32, bool)> =
        negative.iter().map(|&s| (s, false)).chain(positive.iter().map(|&s| (s, true))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Average ranks over ties, then the Mann-Whitney U of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0; // ranks i+1 ..= j
        rank_sum += all[i..j].iter().filter(|e| e.1).count() as f64 * avg;
        i = j;
    }
    let (np, nn) = (positive.len() as f64, negative.len() as f64);
    if np == 0.0 || nn == 0.0 {
        return f64::NAN;
    }
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_of_known_predictions() {
        // Two inputs, two classes: one confident and right, one unsure and wrong.
        let probs = [0.9, 0.1, 0.6, 0.4];
        let c = calibration(&probs, &[0, 1], 10);
        assert_eq!(c.accuracy, 0.5);
        assert!((c.nll - (-(0.9f64.ln()) - 0.4f64.ln()) / 2.0).abs() < 1e-6);
        assert!((c.brier - (0.01 + 0.01 + 0.36 + 0.36) / 2.0).abs() < 1e-6);
        // Bin 9 (0.9): acc 1, conf 0.9; bin 6 (0.6): acc 0, conf 0.6.
        assert!((c.ece - (0.5 * 0.1 + 0.5 * 0.6)).abs() < 1e-6, "{}", c.ece);
    }

    #[test]
    fn auroc_orders_and_ties() {
        assert_eq!(auroc(&[0.1, 0.2], &[0.3, 0.4]), 1.0);
        assert_eq!(auroc(&[0.3, 0.4], &[0.1, 0.2]), 0.0);
        assert_eq!(auroc(&[0.5, 0.5], &[0.5, 0.5]), 0.5);
    }

    #[test]
    fn rejecting_uncertain_inputs_raises_accuracy() {
        let correct = [true, true, false, false];
        let unc = [0.1, 0.2, 0.9, 0.8];
        let curve = rejection_curve(&correct, &unc, &[0.0, 0.5]);
        assert_eq!(curve, vec![(0.0, 0.5), (0.5, 1.0)]);
    }
}
