//! Keyed Bernoulli masks, fused with the scaling they feed: `dst[i] = src[i] * scale` when
//! element `i` is kept, 0 otherwise. Element `i` is kept when word `i % 4` of
//! Philox(counter(i / 4, step), key) is below `threshold = floor(keep_prob * 2^32)`, exact to
//! 2^-32. The same call in the backward pass regenerates the same mask, so none is stored.

use super::par_zip;
use crate::rng::{counter, philox4x32_10};

/// Which mask: a stream key, a step (or tagged MC sample) and a keep threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskKey {
    pub key: [u32; 2],
    pub step: u64,
    /// Keep when the 32-bit uniform is below this (0 ..= 2^32).
    pub threshold: u64,
}

/// `floor(keep_prob * 2^32)`: the threshold that keeps an element with probability keep_prob.
pub fn keep_threshold(keep_prob: f64) -> u64 {
    (keep_prob.clamp(0.0, 1.0) * 4_294_967_296.0).floor() as u64
}

impl MaskKey {
    /// Whether element `index` is kept (the scalar reference for the fused kernels).
    #[inline]
    pub fn keeps(&self, index: u64) -> bool {
        let word = philox4x32_10(counter(index / 4, self.step), self.key)[(index % 4) as usize];
        (word as u64) < self.threshold
    }
}

/// `dst = src * mask * scale`, in parallel over fixed chunks. Lengths must match.
pub fn apply(dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32) {
    assert_eq!(dst.len(), src.len(), "mask::apply: lengths differ");
    par_zip(dst, src, |d, s, first| {
        apply_chunk(d, s, first as u64, mask, scale)
    });
}

/// One chunk; `first` is the global index of its first element and is a multiple of 4
/// (or the chunk is the whole slice).
fn apply_chunk(dst: &mut [f32], src: &[f32], first: u64, mask: &MaskKey, scale: f32) {
    debug_assert_eq!(first % 4, 0);
    let thr = mask.threshold;
    let mut d4 = dst.chunks_exact_mut(4);
    let mut s4 = src.chunks_exact(4);
    let mut block = first / 4;
    for (d, s) in (&mut d4).zip(&mut s4) {
        let r = philox4x32_10(counter(block, mask.step), mask.key);
        for j in 0..4 {
            d[j] = if (r[j] as u64) < thr {
                s[j] * scale
            } else {
                0.0
            };
        }
        block += 1;
    }
    let (d, s) = (d4.into_remainder(), s4.remainder());
    if !d.is_empty() {
        let r = philox4x32_10(counter(block, mask.step), mask.key);
        for j in 0..d.len() {
            d[j] = if (r[j] as u64) < thr {
                s[j] * scale
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_kernel_equals_scalar_reference() {
        let mask = MaskKey {
            key: [3, 4],
            step: 9,
            threshold: keep_threshold(0.7),
        };
        let src: Vec<f32> = (0..100_003).map(|i| i as f32).collect();
        let mut dst = vec![0.0; src.len()];
        apply(&mut dst, &src, &mask, 2.0);
        for (i, (&d, &s)) in dst.iter().zip(&src).enumerate() {
            let want = if mask.keeps(i as u64) { s * 2.0 } else { 0.0 };
            assert_eq!(d, want, "element {i}");
        }
    }

    #[test]
    fn thresholds_cover_the_ends() {
        assert_eq!(keep_threshold(1.0), 1 << 32);
        assert_eq!(keep_threshold(0.0), 0);
        assert_eq!(keep_threshold(0.5), 1 << 31);
    }
}
