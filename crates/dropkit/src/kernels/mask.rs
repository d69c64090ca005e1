//! Keyed Bernoulli masks, fused with the scaling they feed: `dst[i] = src[i] * scale` when
//! element `i` is kept, 0 otherwise. The backward pass calls the same kernel with the same key
//! and so regenerates the same mask: no mask is stored.
//!
//! Element `i = 128 g + 32 j + 16 h + l` (group g, word j < 4, half h < 2, lane l < 16) reads
//! half `h` (0: low 16 bits, 1: high 16 bits) of word `j` of Philox(counter(16 g + l, step), key)
//! and is kept when that 16-bit uniform is below `threshold = floor(keep_prob * 2^16)`.
//!
//! Why 16-bit halves: a 10-round Philox costs about 170 vector operations per 16 counters, so
//! with one uniform per 32-bit word the kernel is compute-bound at about half the memory
//! bandwidth. Two uniforms per word halve that work and bring the fused kernel close to copy speed. The
//! price is that `1 - p` is quantized to a multiple of 2^-16 (1.5e-5): dropout(0.2) keeps with
//! probability 52428/65536 = 0.79999. The layout lets a 16-lane AVX-512 Philox (or two 8-lane
//! AVX2 halves) produce 16 contiguous elements per half-word with no shuffles. The SIMD paths
//! are chosen at run time and equal the scalar reference bit for bit.

pub use super::isa::{available_isas, best_isa, Isa};
use super::transpose::{transpose_block, BLOCK_ROWS};
use super::{par_blocks, par_zip};
use crate::rng::{counter, philox4x32_10};
use std::cell::RefCell;

/// Elements per Philox group: 16 counters x 4 words x 2 halves.
pub const GROUP: usize = 128;

/// The threshold that keeps everything.
pub const KEEP_ALL: u32 = 1 << 16;

/// Which mask: a stream key, a step (or tagged MC sample) and a keep threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskKey {
    pub key: [u32; 2],
    pub step: u64,
    /// Keep when the 16-bit uniform is below this (0 ..= 2^16).
    pub threshold: u32,
}

/// `floor(keep_prob * 2^16)`: the threshold that keeps an element with probability
/// keep_prob, quantized down to a multiple of 2^-16.
pub fn keep_threshold(keep_prob: f64) -> u32 {
    (keep_prob.clamp(0.0, 1.0) * 65_536.0).floor() as u32
}

/// The keep probability a threshold actually gives.
pub fn keep_probability(threshold: u32) -> f64 {
    threshold as f64 / 65_536.0
}

impl MaskKey {
    /// Whether element `index` is kept: the scalar reference for the fused kernels.
    #[inline]
    pub fn keeps(&self, index: u64) -> bool {
        let (g, k) = (index / GROUP as u64, index % GROUP as u64);
        let word = philox4x32_10(counter(16 * g + k % 16, self.step), self.key)[(k / 32) as usize];
        let half = if (k / 16) % 2 == 0 { word & 0xFFFF } else { word >> 16 };
        half < self.threshold
    }
}

/// `dst = src * mask * scale`, in parallel over fixed chunks. Lengths must match.
pub fn apply(dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32) {
    apply_with::<false>(best_isa(), dst, src, mask, scale)
}

/// [`apply`] on one thread for a part of a larger masked buffer: `dst[i] = src[i] * mask * scale`
/// with element `i` of the part being element `first + i` of the whole, so that a task that owns
/// part of a tensor (one (sample, head) of attention probabilities) masks it right after
/// computing it, with the bits [`apply`] on the whole tensor gives.
pub fn apply_at(dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32, first: u64) {
    assert_eq!(dst.len(), src.len(), "mask::apply_at: lengths differ");
    if mask.threshold >= KEEP_ALL {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s * scale);
        return;
    }
    // Up to the next group boundary element by element, then whole groups.
    let head = ((GROUP as u64 - first % GROUP as u64) % GROUP as u64).min(dst.len() as u64) as usize;
    let (dh, dt) = dst.split_at_mut(head);
    let (sh, st) = src.split_at(head);
    for (i, (d, &s)) in dh.iter_mut().zip(sh).enumerate() {
        *d = if mask.keeps(first + i as u64) { s * scale } else { 0.0 };
    }
    if !dt.is_empty() {
        apply_chunk::<false>(best_isa(), false, dt, st, first + head as u64, mask, scale);
    }
}

/// `dst = relu(src) * mask * scale`: a ReLU fused into the dropout pass that follows it.
pub fn apply_relu(dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32) {
    apply_with::<true>(best_isa(), dst, src, mask, scale)
}

/// Outputs at least this large (in elements: 32 MiB) are written with non-temporal stores. They
/// cannot stay in cache for their reader anyway, and normal stores would first read every
/// destination line (read-for-ownership): three memory transfers per element instead of two.
pub const STREAM_MIN_LEN: usize = 8 << 20;

/// [`apply`] (or, with `RELU`, [`apply_relu`]) with a given instruction set, which must be
/// supported by this CPU.
pub fn apply_with<const RELU: bool>(isa: Isa, dst: &mut [f32], src: &[f32], mask: &MaskKey, scale: f32) {
    apply_with_stores::<RELU>(isa, dst.len() >= STREAM_MIN_LEN, dst, src, mask, scale)
}

/// [`apply_with`], choosing non-temporal stores (`stream`, AVX-512 only) or normal ones.
pub fn apply_with_stores<const RELU: bool>(
    isa: Isa,
    stream: bool,
    dst: &mut [f32],
    src: &[f32],
    mask: &MaskKey,
    scale: f32,
) {
    assert_eq!(dst.len(), src.len(), "mask::apply: lengths differ");
    if mask.threshold >= KEEP_ALL {
        par_zip(dst, src, |d, s, _| d.iter_mut().zip(s).for_each(|(d, &s)| *d = pre::<RELU>(s) * scale));
        return;
    }
    par_zip(dst, src, |d, s, first| apply_chunk::<RELU>(isa, stream, d, s, first as u64, mask, scale));
}

/// `dst = mask * scale`: the mask alone, for layers that keep it (a noise tensor, a mask per
/// word or per channel). The same values as [`apply`] on a source of ones.
pub fn fill(dst: &mut [f32], mask: &MaskKey, scale: f32) {
    static ONES: [f32; super::CHUNK] = [1.0; super::CHUNK];
    let isa = best_isa();
    super::par_each(dst, |d, first| {
        let ones = &ONES[..d.len()];
        if mask.threshold >= KEEP_ALL {
            d.fill(scale);
        } else {
            apply_chunk::<false>(isa, false, d, ones, first as u64, mask, scale)
        }
    });
}

/// Whether [`apply_relu_transposed`] takes a matrix with `cols` columns: every block of 16
/// rows must start on a Philox group.
pub fn fuses_transposed(cols: usize) -> bool {
    (BLOCK_ROWS * cols).is_multiple_of(GROUP)
}

thread_local! {
    /// One block of rows of a transposed source, per thread: reused, so the pass allocates
    /// nothing after its first call.
    static ROWS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `dst (rows, cols) = relu(src_t^T + bias) * mask * scale` for `src_t` (cols, rows) and a
/// bias per column, in one pass: each block of 16 rows is transposed (adding the bias) into a
/// per-thread buffer, where it stays in cache, and masked from there, so the row-major
/// pre-activation is never written out. The same bits as [`transpose`](super::transpose)
/// followed by [`apply_relu`]; `mask` None keeps every element. Needs
/// [`fuses_transposed`]`(cols)`.
pub fn apply_relu_transposed(
    dst: &mut [f32],
    src_t: &[f32],
    rows: usize,
    cols: usize,
    bias: &[f32],
    mask: Option<&MaskKey>,
    scale: f32,
) {
    assert!(fuses_transposed(cols), "apply_relu_transposed: {cols} columns do not align blocks to groups");
    assert_eq!(dst.len(), rows * cols, "apply_relu_transposed: destination holds {} not {rows}x{cols}", dst.len());
    if cols == 0 {
        return;
    }
    let isa = best_isa();
    let stride = buffer_stride(cols);
    // Nothing inside the borrow calls into the thread pool, so no other block can run on this
    // thread while the buffer is borrowed.
    par_blocks(dst, BLOCK_ROWS * cols, |b, d| {
        ROWS.with_borrow_mut(|buf| {
            let block_rows = d.len() / cols;
            buf.resize(block_rows * stride, 0.0);
            transpose_block(buf, stride, src_t, rows, cols, b * BLOCK_ROWS, Some(bias));
            let first = b * BLOCK_ROWS * cols;
            let relu_mask = |d: &mut [f32], s: &[f32], first: usize| match mask {
                Some(m) if m.threshold < KEEP_ALL => apply_chunk::<true>(isa, false, d, s, first as u64, m, scale),
                _ => d.iter_mut().zip(s).for_each(|(d, &s)| *d = pre::<true>(s) * scale),
            };
            if stride == cols {
                relu_mask(d, buf, first);
            } else {
                // Padded rows each start a Philox group (see `buffer_stride`).
                for (i, (d, s)) in d.chunks_mut(cols).zip(buf.chunks(stride)).enumerate() {
                    relu_mask(d, &s[..cols], first + i * cols);
                }
            }
        })
    });
}

/// Elements between the rows of [`apply_relu_transposed`]'s buffer. Rows 4 KB apart (1024
/// columns) all fall in one set of the 12-way L1 cache, so the 16 stores of a transposed tile
/// evict one another; a cache line of padding spreads them over 16 sets. Measured on (128,
/// 1024): one block's transpose took 5.8-6.4 against 7.7-8.5 us, and the whole pass on 2
/// threads 58-61 against 65-72 us. Padded rows are masked one at a time, so each must start a
/// Philox group.
fn buffer_stride(cols: usize) -> usize {
    if cols.is_multiple_of(GROUP) {
        cols + 16
    } else {
        cols
    }
}

#[inline(always)]
fn pre<const RELU: bool>(x: f32) -> f32 {
    if RELU {
        x.max(0.0)
    } else {
        x
    }
}

/// One chunk; `first` (the global index of its first element) is a multiple of GROUP.
fn apply_chunk<const RELU: bool>(
    isa: Isa,
    stream: bool,
    dst: &mut [f32],
    src: &[f32],
    first: u64,
    mask: &MaskKey,
    scale: f32,
) {
    debug_assert_eq!(first % GROUP as u64, 0);
    let full = dst.len() / GROUP * GROUP;
    let g0 = first / GROUP as u64;
    groups::<RELU>(isa, stream, &mut dst[..full], &src[..full], g0, mask, scale);
    // A last part-group through the group kernel on padded copies: element by element it would
    // take a Philox call each, where the vector kernel makes 128 elements from 16.
    let tail = dst.len() - full;
    if tail > 0 {
        let (mut s, mut d) = ([0.0f32; GROUP], [0.0f32; GROUP]);
        s[..tail].copy_from_slice(&src[full..]);
        groups::<RELU>(isa, false, &mut d, &s, g0 + (full / GROUP) as u64, mask, scale);
        dst[full..].copy_from_slice(&d[..tail]);
    }
}

/// Whole groups of [`apply_chunk`] with the instruction set `isa`.
fn groups<const RELU: bool>(isa: Isa, stream: bool, d: &mut [f32], s: &[f32], g0: u64, mask: &MaskKey, scale: f32) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass an ISA that best_isa() reported for this CPU.
        Isa::Avx512 if stream => unsafe { simd::groups_avx512::<RELU, true>(d, s, g0, mask, scale) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { simd::groups_avx512::<RELU, false>(d, s, g0, mask, scale) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { simd::groups_avx2::<RELU>(d, s, g0, mask, scale) },
        _ => groups_scalar::<RELU>(d, s, g0, mask, scale),
    }
}

fn groups_scalar<const RELU: bool>(dst: &mut [f32], src: &[f32], g0: u64, mask: &MaskKey, scale: f32) {
    for (g, (d, s)) in dst.chunks_exact_mut(GROUP).zip(src.chunks_exact(GROUP)).enumerate() {
        for l in 0..16 {
            let r = philox4x32_10(counter(16 * (g0 + g as u64) + l as u64, mask.step), mask.key);
            for (j, word) in r.into_iter().enumerate() {
                for (h, half) in [word & 0xFFFF, word >> 16].into_iter().enumerate() {
                    let i = 32 * j + 16 * h + l;
                    d[i] = if half < mask.threshold { pre::<RELU>(s[i]) * scale } else { 0.0 };
                }
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
        // Two widening multiplies (even lanes, then odd lanes moved down) give all 16 products;
        // their halves are shuffled into place. Shuffles instead of 64-bit shifts, and no 32-bit
        // low multiply, keep the multiply port free for the multiplies.
        const ODD_DOWN: i32 = 0b11_11_01_01; // dwords [1, 1, 3, 3]: high half to the low slot
        const EVEN_UP: i32 = 0b10_10_00_00; // dwords [0, 0, 2, 2]: low half to the high slot
        let even = _mm512_mul_epu32(a, m);
        let odd = _mm512_mul_epu32(_mm512_shuffle_epi32::<ODD_DOWN>(a), _mm512_shuffle_epi32::<ODD_DOWN>(m));
        // Masked shuffles blend as they move: one instruction per half.
        let hi = _mm512_mask_shuffle_epi32::<ODD_DOWN>(odd, 0x5555, even);
        let lo = _mm512_mask_shuffle_epi32::<EVEN_UP>(even, 0xAAAA, odd);
        (hi, lo)
    }

    /// Philox4x32-10 for `N` independent groups of 16 counters, `(block0[n] + lane, hi, step)`.
    /// Each round is a dependency chain of a few cycles' latency; interleaving groups keeps the
    /// multipliers busy.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn philox512<const N: usize>(block0: [u64; N], step: u64, key: [u32; 2]) -> [[__m512i; 4]; N] {
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let (s_lo, s_hi) = (_mm512_set1_epi32(step as u32 as i32), _mm512_set1_epi32((step >> 32) as u32 as i32));
        let mut c = block0.map(|b| {
            let c0 = _mm512_add_epi32(_mm512_set1_epi32(b as u32 as i32), lanes);
            [c0, _mm512_set1_epi32((b >> 32) as u32 as i32), s_lo, s_hi]
        });
        let (m0, m1) = (_mm512_set1_epi32(M0), _mm512_set1_epi32(M1));
        let [mut k0, mut k1] = key;
        for round in 0..10 {
            let (kv0, kv1) = (_mm512_set1_epi32(k0 as i32), _mm512_set1_epi32(k1 as i32));
            for v in c.iter_mut() {
                let (hi0, lo0) = mulhilo512(v[0], m0);
                let (hi1, lo1) = mulhilo512(v[2], m1);
                *v = [
                    _mm512_xor_si512(_mm512_xor_si512(hi1, v[1]), kv0),
                    lo1,
                    _mm512_xor_si512(_mm512_xor_si512(hi0, v[3]), kv1),
                    lo0,
                ];
            }
            if round < 9 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
        }
        c
    }

    /// Where the masked vectors go: 16 elements at a time, in element order.
    trait Sink {
        /// Elements in the destination.
        fn len(&self) -> usize;
        /// Writes elements `at .. at + 16` of the chunk.
        ///
        /// # Safety
        /// `at + 16 <= self.len()` (checked once per run of groups, not per vector: scalar
        /// bounds checks compete with the vector work for the same ports).
        unsafe fn put(&mut self, at: usize, v: __m512);
    }

    /// Normal stores.
    struct Stores<'a>(&'a mut [f32]);

    impl Sink for Stores<'_> {
        fn len(&self) -> usize {
            self.0.len()
        }
        #[inline(always)]
        unsafe fn put(&mut self, at: usize, v: __m512) {
            // SAFETY: in bounds (the caller's contract); AVX-512F is enabled in every caller.
            unsafe { _mm512_storeu_ps(self.0.as_mut_ptr().add(at), v) }
        }
    }

    /// Non-temporal stores, which need 64-byte aligned addresses: when the chunk is not aligned
    /// each store joins the end of one vector to the start of the next (`head` elements
    /// before the first 64-byte boundary go out with a normal masked store, as does the tail).
    struct Streams<'a> {
        dst: &'a mut [f32],
        head: usize,
        join: __m512i,
        prev: __m512,
        end: usize,
    }

    impl<'a> Streams<'a> {
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn new(dst: &'a mut [f32]) -> Self {
            let misaligned = (dst.as_ptr() as usize % 64) / 4;
            let head = (16 - misaligned) % 16;
            // Lane l of a joined vector is lane head + l of (prev, next).
            let join = _mm512_add_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(head as i32),
            );
            Streams { dst, head, join, prev: _mm512_setzero_ps(), end: 0 }
        }

        /// Writes what is still held back and orders the non-temporal stores before any later
        /// store, so that other threads see them once the chunk is done.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn finish(self) {
            if self.head != 0 && self.end > 0 {
                let at = self.end - 16 + self.head;
                let tail = _mm512_permutex2var_ps(self.prev, self.join, _mm512_setzero_ps());
                assert!(at + (16 - self.head) <= self.dst.len());
                // SAFETY: the 16 - head lanes written end at self.end <= dst.len() (asserted).
                unsafe { _mm512_mask_storeu_ps(self.dst.as_mut_ptr().add(at), (1u16 << (16 - self.head)) - 1, tail) };
            }
            _mm_sfence();
        }
    }

    impl Sink for Streams<'_> {
        fn len(&self) -> usize {
            self.dst.len()
        }
        #[inline(always)]
        unsafe fn put(&mut self, at: usize, v: __m512) {
            debug_assert!(at + 16 <= self.dst.len() && at == self.end);
            self.end = at + 16;
            let p = self.dst.as_mut_ptr();
            // SAFETY: every address written is below at + 16 (in bounds by the caller's
            // contract); stream addresses are 64-byte aligned by the choice of `head`;
            // AVX-512F is enabled in every caller.
            unsafe {
                if self.head == 0 {
                    _mm512_stream_ps(p.add(at), v);
                } else if at == 0 {
                    _mm512_mask_storeu_ps(p, (1u16 << self.head) - 1, v);
                } else {
                    _mm512_stream_ps(p.add(at - 16 + self.head), _mm512_permutex2var_ps(self.prev, self.join, v));
                }
            }
            self.prev = v;
        }
    }

    /// Masks and scales `N` consecutive groups starting at group `g`, which start at element
    /// `base` of the chunk.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn groups512<const N: usize, const RELU: bool>(
        out: &mut impl Sink,
        base: usize,
        s: &[f32],
        g: u64,
        mask: &MaskKey,
        thr: __m512i,
        sv: __m512i,
    ) {
        assert!(s.len() >= N * GROUP && base + N * GROUP <= out.len());
        let blocks: [u64; N] = std::array::from_fn(|n| 16 * (g + n as u64));
        let r = philox512(blocks, mask.step, mask.key);
        let sv = _mm512_castsi512_ps(sv);
        let low = _mm512_set1_epi32(0xFFFF);
        for (n, words) in r.iter().enumerate() {
            for (j, &word) in words.iter().enumerate() {
                let halves = [_mm512_and_si512(word, low), _mm512_srli_epi32::<16>(word)];
                for (h, half) in halves.into_iter().enumerate() {
                    let at = n * GROUP + 32 * j + 16 * h;
                    // SAFETY: at + 16 <= N * GROUP, asserted above.
                    let mut x = unsafe { _mm512_loadu_ps(s.as_ptr().add(at)) };
                    if RELU {
                        x = _mm512_max_ps(x, _mm512_setzero_ps());
                    }
                    let keep = _mm512_cmplt_epu32_mask(half, thr);
                    // SAFETY: base + at + 16 <= base + N * GROUP <= out.len(), asserted above.
                    unsafe { out.put(base + at, _mm512_maskz_mul_ps(keep, x, sv)) };
                }
            }
        }
    }

    /// Whole groups with AVX-512: 16 Philox counters per vector, 128 elements per group, four
    /// groups interleaved; with `STREAM`, written by non-temporal stores.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `dst` and `src` hold whole groups.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn groups_avx512<const RELU: bool, const STREAM: bool>(
        dst: &mut [f32],
        src: &[f32],
        g0: u64,
        mask: &MaskKey,
        scale: f32,
    ) {
        assert_eq!(dst.len(), src.len());
        if STREAM {
            let mut out = Streams::new(dst);
            groups_into::<RELU>(&mut out, None, src, g0, mask, scale);
            out.finish();
        } else {
            // Normal stores prefetch their destination lines for writing; streams need none.
            let lines = dst.as_ptr();
            groups_into::<RELU>(&mut Stores(dst), Some(lines), src, g0, mask, scale);
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn groups_into<const RELU: bool>(
        out: &mut impl Sink,
        dst_lines: Option<*const f32>,
        src: &[f32],
        g0: u64,
        mask: &MaskKey,
        scale: f32,
    ) {
        const WAYS: usize = 4;
        let thr = _mm512_set1_epi32(mask.threshold as i32);
        let sv = _mm512_castps_si512(_mm512_set1_ps(scale));
        let len = out.len();
        let quads = len / (WAYS * GROUP);
        for q in 0..quads {
            let at = q * WAYS * GROUP;
            // Prefetch two iterations ahead: the Philox work between loads is long enough that
            // the hardware prefetcher alone leaves memory idle.
            let ahead = at + 8 * WAYS * GROUP;
            if ahead + WAYS * GROUP <= len {
                for line in (0..WAYS * GROUP).step_by(16) {
                    // SAFETY: in bounds (checked above); prefetches never fault anyway.
                    unsafe {
                        _mm_prefetch::<_MM_HINT_T0>(src.as_ptr().add(ahead + line) as *const i8);
                        if let Some(d) = dst_lines {
                            _mm_prefetch::<_MM_HINT_ET0>(d.add(ahead + line) as *const i8);
                        }
                    }
                }
            }
            groups512::<WAYS, RELU>(out, at, &src[at..], g0 + (q * WAYS) as u64, mask, thr, sv);
        }
        for g in quads * WAYS..len / GROUP {
            let at = g * GROUP;
            groups512::<1, RELU>(out, at, &src[at..], g0 + g as u64, mask, thr, sv);
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
    pub unsafe fn groups_avx2<const RELU: bool>(dst: &mut [f32], src: &[f32], g0: u64, mask: &MaskKey, scale: f32) {
        // 16-bit halves compare as signed 32-bit values without overflow.
        let thr = _mm256_set1_epi32(mask.threshold as i32);
        let low = _mm256_set1_epi32(0xFFFF);
        let sv = _mm256_set1_ps(scale);
        for (g, (d, s)) in dst.chunks_exact_mut(GROUP).zip(src.chunks_exact(GROUP)).enumerate() {
            for lanes in 0..2 {
                let r = philox256(16 * (g0 + g as u64) + 8 * lanes as u64, mask.step, mask.key);
                for (j, &word) in r.iter().enumerate() {
                    let halves = [_mm256_and_si256(word, low), _mm256_srli_epi32::<16>(word)];
                    for (h, half) in halves.into_iter().enumerate() {
                        let at = 32 * j + 16 * h + 8 * lanes;
                        // SAFETY: each chunk holds 128 floats; at + 8 <= 128.
                        unsafe {
                            let mut x = _mm256_loadu_ps(s.as_ptr().add(at));
                            if RELU {
                                x = _mm256_max_ps(x, _mm256_setzero_ps());
                            }
                            let keep = _mm256_cmpgt_epi32(thr, half);
                            let y = _mm256_and_ps(_mm256_castsi256_ps(keep), _mm256_mul_ps(x, sv));
                            _mm256_storeu_ps(d.as_mut_ptr().add(at), y);
                        }
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
    fn masking_a_part_at_its_offset_equals_masking_the_whole() {
        let n = 9 * 1000 + 37;
        let src: Vec<f32> = (0..n).map(|i| (i % 97) as f32 - 40.0).collect();
        let mask = MaskKey { key: [3, 4], step: 9, threshold: keep_threshold(0.6) };
        let mut whole = vec![0.0; n];
        apply(&mut whole, &src, &mask, 2.5);
        // Parts of odd lengths, most starting off a group boundary.
        let mut parts = vec![-1.0; n];
        let mut at = 0;
        for len in [1usize, 127, 128, 300, 9, 1000].iter().cycle() {
            let end = (at + len).min(n);
            apply_at(&mut parts[at..end], &src[at..end], &mask, 2.5, at as u64);
            at = end;
            if at == n {
                break;
            }
        }
        assert!(whole.iter().zip(&parts).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn the_transposed_pass_equals_transpose_then_mask() {
        for (rows, cols) in [(1, 8), (7, 24), (33, 40), (128, 1024), (200, 512)] {
            let src_t: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f32 - 500.0).collect();
            let bias: Vec<f32> = (0..cols).map(|c| (c % 13) as f32 * 0.3 - 2.0).collect();
            let mut z = vec![0.0; rows * cols];
            super::super::transpose(&mut z, &src_t, rows, cols, Some(&bias));
            for mask in [None, Some(MaskKey { key: [5, 6], step: 2, threshold: keep_threshold(0.7) })] {
                let (mut want, mut got) = (vec![0.0; rows * cols], vec![-1.0; rows * cols]);
                match &mask {
                    Some(m) => apply_relu(&mut want, &z, m, 1.5),
                    None => want.iter_mut().zip(&z).for_each(|(w, &z)| *w = z.max(0.0) * 1.5),
                }
                apply_relu_transposed(&mut got, &src_t, rows, cols, &bias, mask.as_ref(), 1.5);
                let same = want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "({rows}, {cols}), mask {mask:?}");
            }
        }
    }

    #[test]
    fn every_instruction_set_equals_the_scalar_reference() {
        let src: Vec<f32> = (0..100_003).map(|i| (i as f32 - 50_000.0) * 0.5).collect();
        for p in [0.0, 0.3, 0.5, 0.999] {
            let mask = MaskKey { key: [3, 4], step: 9 | (1 << 40), threshold: keep_threshold(1.0 - p) };
            for isa in available_isas() {
                let mut dst = vec![0.0; src.len()];
                apply_with::<false>(isa, &mut dst, &src, &mask, 2.0);
                for (i, (&d, &s)) in dst.iter().zip(&src).enumerate() {
                    let want = if mask.keeps(i as u64) { s * 2.0 } else { 0.0 };
                    assert_eq!(d, want, "{isa:?} p={p} element {i}");
                }
                apply_with::<true>(isa, &mut dst, &src, &mask, 2.0);
                for (i, (&d, &s)) in dst.iter().zip(&src).enumerate() {
                    let want = if mask.keeps(i as u64) { s.max(0.0) * 2.0 } else { 0.0 };
                    assert_eq!(d, want, "relu {isa:?} p={p} element {i}");
                }
            }
        }
        assert!(available_isas().contains(&Isa::Scalar));
    }

    #[test]
    fn non_temporal_stores_equal_the_scalar_reference_at_every_alignment() {
        if !available_isas().contains(&Isa::Avx512) {
            return; // the streaming path is AVX-512 only; other CPUs never take it
        }
        let mask = MaskKey { key: [5, 6], step: 11, threshold: keep_threshold(0.7) };
        let src: Vec<f32> = (0..3 * crate::kernels::CHUNK + 1_000).map(|i| i as f32 - 7_000.0).collect();
        let mut buf = vec![-1.0f32; src.len() + 16];
        for offset in 0..16 {
            let dst = &mut buf[offset..offset + src.len()];
            apply_with_stores::<true>(Isa::Avx512, true, dst, &src, &mask, 1.5);
            for (i, (&d, &s)) in dst.iter().zip(&src).enumerate() {
                let want = if mask.keeps(i as u64) { s.max(0.0) * 1.5 } else { 0.0 };
                assert_eq!(d, want, "offset {offset} element {i}");
            }
        }
    }

    #[test]
    fn thresholds_cover_the_ends() {
        assert_eq!(keep_threshold(1.0), KEEP_ALL);
        assert_eq!(keep_threshold(0.0), 0);
        assert_eq!(keep_threshold(0.5), 1 << 15);
        assert_eq!(keep_threshold(0.8), 52_428);
        assert!((keep_probability(keep_threshold(0.8)) - 0.8).abs() < 1.0 / 65_536.0);
    }
}
