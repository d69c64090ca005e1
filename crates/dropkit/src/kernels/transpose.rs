//! `dst = src^T` for row-major matrices: how a dense layer turns the GEMM's transposed output
//! (faster to compute, see [`super::gemm::faster_transposed`]) back into (batch, units).
//!
//! The matrix is cut into 16 x 16 tiles. With AVX-512 a tile is 16 vector loads, 64 shuffles
//! in registers and 16 vector stores; element by element it is 256 scalar loads and stores
//! (measured on (128, 1024) with 2 threads: 45 against 112 us).

use super::par_blocks;

const TILE: usize = 16;

/// Rows per block: the tile height.
pub const BLOCK_ROWS: usize = TILE;

/// `dst (rows, cols) = src^T`, where `src` is (cols, rows); both row-major. With a `bias`
/// (one value per column) it is added to every row as the tile is stored: a dense layer's
/// `x W^T + b` from the GEMM's transposed `(x W^T)^T`. Parallel over blocks of 16 rows.
pub fn transpose(dst: &mut [f32], src: &[f32], rows: usize, cols: usize, bias: Option<&[f32]>) {
    assert_eq!(dst.len(), rows * cols, "transpose: destination holds {} not {rows}x{cols}", dst.len());
    assert_eq!(src.len(), rows * cols, "transpose: source holds {} not {cols}x{rows}", src.len());
    if cols == 0 {
        return;
    }
    par_blocks(dst, TILE * cols, |b, d| transpose_block(d, cols, src, rows, cols, b * TILE, bias));
}

/// Rows `r0 ..` (at most 16: as many as `block` holds rows of `stride >= cols` elements) of
/// `src^T` into `block`, where `src` is (cols, rows), plus `bias` on every row: one block of
/// [`transpose`], for kernels that fuse more work into the pass.
pub fn transpose_block(
    block: &mut [f32],
    stride: usize,
    src: &[f32],
    rows: usize,
    cols: usize,
    r0: usize,
    bias: Option<&[f32]>,
) {
    assert!(stride >= cols, "transpose: rows {stride} apart cannot hold {cols} columns");
    let block_rows = block.len() / stride.max(1);
    assert!(block_rows <= TILE && r0 + block_rows <= rows && src.len() >= rows * cols);
    assert!(bias.is_none_or(|b| b.len() == cols), "transpose: bias length differs from {cols} columns");
    #[cfg(target_arch = "x86_64")]
    let avx512 = block_rows == TILE && super::isa::best_isa() == super::isa::Isa::Avx512;
    for c0 in (0..cols).step_by(TILE) {
        #[cfg(target_arch = "x86_64")]
        if avx512 && c0 + TILE <= cols {
            // SAFETY: AVX-512F is present; the tile lies inside both matrices (checked
            // inside, before any access).
            unsafe { tile_avx512(block, stride, src, rows, cols, r0, c0, bias) };
            continue;
        }
        for r in 0..block_rows {
            for c in c0..(c0 + TILE).min(cols) {
                let z = src[c * rows + r0 + r];
                block[r * stride + c] = bias.map_or(z, |b| z + b[c]);
            }
        }
    }
}

/// Rows `0..16` of the block `d` (rows `r0..r0 + 16` of dst, `stride` elements apart),
/// columns `c0..c0 + 16`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn tile_avx512(
    d: &mut [f32],
    stride: usize,
    src: &[f32],
    rows: usize,
    cols: usize,
    r0: usize,
    c0: usize,
    bias: Option<&[f32]>,
) {
    use std::arch::x86_64::*;
    assert!(d.len() >= (TILE - 1) * stride + cols && c0 + TILE <= cols);
    assert!((c0 + TILE - 1) * rows + r0 + TILE <= src.len());
    // r[j] = src row c0 + j = dst column c0 + j, at dst rows r0..r0 + 16.
    // SAFETY: every load reads src[(c0 + j) * rows + r0 ..][..16], in bounds by the asserts.
    let r: [__m512; TILE] = std::array::from_fn(|j| unsafe { _mm512_loadu_ps(src.as_ptr().add((c0 + j) * rows + r0)) });
    // Within each 128-bit lane L, interleave pairs of rows, then pairs of pairs:
    // u[4g + q] lane L holds column 4L + q of rows 4g .. 4g + 4.
    let mut u = [_mm512_setzero_ps(); TILE];
    for g in 0..4 {
        let (a, b, c, e) = (r[4 * g], r[4 * g + 1], r[4 * g + 2], r[4 * g + 3]);
        let (t0, t1) = (_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
        let (t2, t3) = (_mm512_unpacklo_ps(c, e), _mm512_unpackhi_ps(c, e));
        let pd = |x: __m512| _mm512_castps_pd(x);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t0), pd(t2)));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t0), pd(t2)));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t1), pd(t3)));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t1), pd(t3)));
    }
    // Gather lane L of u[q], u[4 + q], u[8 + q], u[12 + q]: column 4L + q of all 16 rows.
    let mut out = [_mm512_setzero_ps(); TILE];
    for q in 0..4 {
        let (v_even, v_odd) =
            (_mm512_shuffle_f32x4::<0x88>(u[q], u[4 + q]), _mm512_shuffle_f32x4::<0xDD>(u[q], u[4 + q]));
        let (w_even, w_odd) =
            (_mm512_shuffle_f32x4::<0x88>(u[8 + q], u[12 + q]), _mm512_shuffle_f32x4::<0xDD>(u[8 + q], u[12 + q]));
        out[q] = _mm512_shuffle_f32x4::<0x88>(v_even, w_even);
        out[8 + q] = _mm512_shuffle_f32x4::<0xDD>(v_even, w_even);
        out[4 + q] = _mm512_shuffle_f32x4::<0x88>(v_odd, w_odd);
        out[12 + q] = _mm512_shuffle_f32x4::<0xDD>(v_odd, w_odd);
    }
    if let Some(b) = bias {
        // The same 16 bias values (columns c0..c0 + 16) for every row of the tile.
        let b = &b[c0..c0 + TILE];
        // SAFETY: `b` holds the 16 values read (sliced above).
        let b = unsafe { _mm512_loadu_ps(b.as_ptr()) };
        for v in out.iter_mut() {
            *v = _mm512_add_ps(*v, b);
        }
    }
    for (i, v) in out.into_iter().enumerate() {
        // SAFETY: row i < 16 of the block, columns c0..c0 + 16 <= cols: in bounds (asserted).
        unsafe { _mm512_storeu_ps(d.as_mut_ptr().add(i * stride + c0), v) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_every_shape_exactly() {
        for (rows, cols) in [(1, 1), (3, 5), (16, 16), (17, 33), (128, 1024), (40, 1000), (1000, 24)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.37).collect();
            let bias: Vec<f32> = (0..cols).map(|c| c as f32 * -0.11).collect();
            let (mut dst, mut biased) = (vec![-1.0; rows * cols], vec![-1.0; rows * cols]);
            transpose(&mut dst, &src, rows, cols, None);
            transpose(&mut biased, &src, rows, cols, Some(&bias));
            for r in 0..rows {
                for c in 0..cols {
                    let z = src[c * rows + r];
                    assert_eq!(dst[r * cols + c], z, "({rows}, {cols}) at ({r}, {c})");
                    assert_eq!(biased[r * cols + c].to_bits(), (z + bias[c]).to_bits(), "bias at ({r}, {c})");
                }
            }
        }
    }
}
