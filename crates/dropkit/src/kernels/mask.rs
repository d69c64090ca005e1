//! Keyed Bernoulli masks, fused with the scaling they feed: `dst[i] = src[i] * scale` when
//! element `i` is kept, 0 otherwise. The backward pass calls the same kernel with the same key
//! and so regenerates the same mask: no mask is stored.
//!
//! Element `i = 64 g + 16 j + l` (group g, word j < 4, lane l < 16) reads word `j` of
//! Philox(counter(16 g + l, step), key) and is kept when that word is below
//! `threshold = floor(keep_prob * 2^32)`, exact to 2^-32. The layout lets a 16-lane AVX-512
//! Philox (or two 8-lane AVX2 halves) produce 16 contiguous elements per output word with no
//! shuffles. The SIMD paths are chosen at run time and equal the scalar reference bit for bit.

use super::par_zip;
use crate::rng::{counter, philox4x32_10};

/// Elements per Philox group: 16 counters x 4 words.
pub const GROUP: usize = 64;

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
    /// Whether element `index` is kept: the scalar reference for the fused kernels.
    #[inline]
    pub fn keeps(&self, index: u64) -> bool {
        let (g, k) = (index / GROUP as u64, index % GROUP as u64);
        let word = philox4x32_10(counter(16 * g + k % 16, self.step), self.key)[(k / 16) as usize];
        (word as u64) < self.threshold
    }
}

/// Instruction sets the kernel can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}

/// The widest instruction set this CPU supports.
pub fn best_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
    }
    Isa::Scalar
}

/// Every instruction set usable here (for tests that compare them).
pub fn available_isas() -> Vec<Isa> {
    let mut isas = vec![Isa::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            isas.push(Isa::Avx2);
        }
        if is_x86_feature_detected!("avx512f") {
            isas.push(Isa::Avx512);
        }
    }
    isas
}

/// `dst = src * mask * scale`, in parallel over fixed chunks. Lengths must match.
pub fn apply(dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32) {
    apply_with(best_isa(), dst, src, mask, scale)
}

/// [`apply`] with a given instruction set; `isa` must be supported by this CPU.
pub fn apply_with(isa: Isa, dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32) {
    assert_eq!(dst.len(), src.len(), "mask::apply: lengths differ");
    if mask.threshold >= 1 << 32 {
        par_zip(dst, src, |d, s, _| {
            d.iter_mut().zip(s).for_each(|(d, s)| *d = s * scale)
        });
        return;
    }
    par_zip(dst, src, |d, s, first| {
        apply_chunk(isa, d, s, first as u64, mask, scale)
    });
}

/// One chunk; `first` (the global index of its first element) is a multiple of GROUP.
fn apply_chunk(isa: Isa, dst: &mut [f32], src: &[f32], first: u64, mask: &MaskKey, scale: f32) {
    debug_assert_eq!(first % GROUP as u64, 0);
    let full = dst.len() / GROUP * GROUP;
    let g0 = first / GROUP as u64;
    let (d, s) = (&mut dst[..full], &src[..full]);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass an ISA that best_isa() reported for this CPU.
        Isa::Avx512 => unsafe { simd::groups_avx512(d, s, g0, mask, scale) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { simd::groups_avx2(d, s, g0, mask, scale) },
        _ => groups_scalar(d, s, g0, mask, scale),
    }
    for (i, (d, s)) in dst[full..].iter_mut().zip(&src[full..]).enumerate() {
        *d = if mask.keeps(first + (full + i) as u64) {
            s * scale
        } else {
            0.0
        };
    }
}

fn groups_scalar(dst: &mut [f32], src: &[f32], g0: u64, mask: &MaskKey, scale: f32) {
    for (g, (d, s)) in dst
        .chunks_exact_mut(GROUP)
        .zip(src.chunks_exact(GROUP))
        .enumerate()
    {
        for l in 0..16 {
            let r = philox4x32_10(
                counter(16 * (g0 + g as u64) + l as u64, mask.step),
                mask.key,
            );
            for j in 0..4 {
                let i = 16 * j + l;
                d[i] = if (r[j] as u64) < mask.threshold {
                    s[i] * scale
                } else {
                    0.0
                };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{MaskKey, GROUP};
    use std::arch::x86_64::*;

    const M0: i32 = 0xD251_1F53u32 as i32;
    const M1: i32 = 0xCD9E_8D57u32 as i32;
    const W0: u32 = 0x9E37_79B9;
    const W1: u32 = 0xBB67_AE85;

    /// (high, low) 32-bit halves of 16 lane-wise u32 products.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mulhilo512(a: __m512i, m: __m512i) -> (__m512i, __m512i) {
        let lo = _mm512_mullo_epi32(a, m);
        let even = _mm512_srli_epi64::<32>(_mm512_mul_epu32(a, m));
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(m));
        (_mm512_mask_blend_epi32(0xAAAA, even, odd), lo)
    }

    /// Philox4x32-10 of counters (c0 + lane, c1, c2, c3) for 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn philox512(block0: u64, step: u64, key: [u32; 2]) -> [__m512i; 4] {
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut c0 = _mm512_add_epi32(_mm512_set1_epi32(block0 as u32 as i32), lanes);
        let mut c1 = _mm512_set1_epi32((block0 >> 32) as u32 as i32);
        let mut c2 = _mm512_set1_epi32(step as u32 as i32);
        let mut c3 = _mm512_set1_epi32((step >> 32) as u32 as i32);
        let (m0, m1) = (_mm512_set1_epi32(M0), _mm512_set1_epi32(M1));
        let [mut k0, mut k1] = key;
        for round in 0..10 {
            let (hi0, lo0) = mulhilo512(c0, m0);
            let (hi1, lo1) = mulhilo512(c2, m1);
            let (kv0, kv1) = (_mm512_set1_epi32(k0 as i32), _mm512_set1_epi32(k1 as i32));
            (c0, c1, c2, c3) = (
                _mm512_xor_si512(_mm512_xor_si512(hi1, c1), kv0),
                lo1,
                _mm512_xor_si512(_mm512_xor_si512(hi0, c3), kv1),
                lo0,
            );
            if round < 9 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
        }
        [c0, c1, c2, c3]
    }

    /// Whole groups with AVX-512: 16 Philox counters per vector, 64 elements per group.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `dst` and `src` hold whole groups.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn groups_avx512(dst: &mut [f32], src: &[f32], g0: u64, mask: &MaskKey, scale: f32) {
        let thr = _mm512_set1_epi32(mask.threshold as u32 as i32);
        let sv = _mm512_set1_ps(scale);
        for (g, (d, s)) in dst
            .chunks_exact_mut(GROUP)
            .zip(src.chunks_exact(GROUP))
            .enumerate()
        {
            let r = philox512(16 * (g0 + g as u64), mask.step, mask.key);
            for (j, word) in r.iter().enumerate() {
                // SAFETY: each chunk holds 64 floats; j * 16 + 16 <= 64.
                unsafe {
                    let x = _mm512_loadu_ps(s.as_ptr().add(16 * j));
                    let keep = _mm512_cmplt_epu32_mask(*word, thr);
                    _mm512_storeu_ps(d.as_mut_ptr().add(16 * j), _mm512_maskz_mul_ps(keep, x, sv));
                }
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn mulhilo256(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
        let lo = _mm256_mullo_epi32(a, m);
        let even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(a, m));
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(m));
        (_mm256_blend_epi32::<0b1010_1010>(even, odd), lo)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn philox256(block0: u64, step: u64, key: [u32; 2]) -> [__m256i; 4] {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mut c0 = _mm256_add_epi32(_mm256_set1_epi32(block0 as u32 as i32), lanes);
        let mut c1 = _mm256_set1_epi32((block0 >> 32) as u32 as i32);
        let mut c2 = _mm256_set1_epi32(step as u32 as i32);
        let mut c3 = _mm256_set1_epi32((step >> 32) as u32 as i32);
        let (m0, m1) = (_mm256_set1_epi32(M0), _mm256_set1_epi32(M1));
        let [mut k0, mut k1] = key;
        for round in 0..10 {
            let (hi0, lo0) = mulhilo256(c0, m0);
            let (hi1, lo1) = mulhilo256(c2, m1);
            let (kv0, kv1) = (_mm256_set1_epi32(k0 as i32), _mm256_set1_epi32(k1 as i32));
            (c0, c1, c2, c3) = (
                _mm256_xor_si256(_mm256_xor_si256(hi1, c1), kv0),
                lo1,
                _mm256_xor_si256(_mm256_xor_si256(hi0, c3), kv1),
                lo0,
            );
            if round < 9 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
        }
        [c0, c1, c2, c3]
    }

    /// Whole groups with AVX2: each group as two 8-lane halves.
    ///
    /// # Safety
    /// The CPU must support AVX2; `dst` and `src` hold whole groups.
    #[target_feature(enable = "avx2")]
    pub unsafe fn groups_avx2(dst: &mut [f32], src: &[f32], g0: u64, mask: &MaskKey, scale: f32) {
        // Unsigned r < t  <=>  signed (t ^ 2^31) > (r ^ 2^31).
        let flip = _mm256_set1_epi32(i32::MIN);
        let thr = _mm256_xor_si256(_mm256_set1_epi32(mask.threshold as u32 as i32), flip);
        let sv = _mm256_set1_ps(scale);
        for (g, (d, s)) in dst
            .chunks_exact_mut(GROUP)
            .zip(src.chunks_exact(GROUP))
            .enumerate()
        {
            for half in 0..2 {
                let r = philox256(16 * (g0 + g as u64) + 8 * half as u64, mask.step, mask.key);
                for (j, word) in r.iter().enumerate() {
                    let at = 16 * j + 8 * half;
                    // SAFETY: each chunk holds 64 floats; at + 8 <= 64.
                    unsafe {
                        let x = _mm256_loadu_ps(s.as_ptr().add(at));
                        let keep = _mm256_cmpgt_epi32(thr, _mm256_xor_si256(*word, flip));
                        let y = _mm256_and_ps(_mm256_castsi256_ps(keep), _mm256_mul_ps(x, sv));
                        _mm256_storeu_ps(d.as_mut_ptr().add(at), y);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instruction_set_equals_the_scalar_reference() {
        let src: Vec<f32> = (0..100_003).map(|i| i as f32).collect();
        for p in [0.0, 0.3, 0.5, 0.999] {
            let mask = MaskKey {
                key: [3, 4],
                step: 9 | (1 << 40),
                threshold: keep_threshold(1.0 - p),
            };
            for isa in available_isas() {
                let mut dst = vec![0.0; src.len()];
                apply_with(isa, &mut dst, &src, &mask, 2.0);
                for (i, (&d, &s)) in dst.iter().zip(&src).enumerate() {
                    let want = if mask.keeps(i as u64) { s * 2.0 } else { 0.0 };
                    assert_eq!(d, want, "{isa:?} p={p} element {i}");
                }
            }
        }
        assert!(available_isas().contains(&Isa::Scalar));
    }

    #[test]
    fn thresholds_cover_the_ends() {
        assert_eq!(keep_threshold(1.0), 1 << 32);
        assert_eq!(keep_threshold(0.0), 0);
        assert_eq!(keep_threshold(0.5), 1 << 31);
    }
}
