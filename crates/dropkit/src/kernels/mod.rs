//! The only place that knows about threads, SIMD and GEMM. Kernels see slices, not layers.
//!
//! Work is split into fixed-size chunks whose boundaries depend only on the data length, and
//! random numbers are derived from element indices, never thread ids: results are the same
//! for any thread count.

pub mod activation;
pub mod affine;
pub mod denormals;
pub mod fastmath;
pub mod gemm;
pub mod isa;
pub mod mask;
pub mod reduce;
pub mod small_matmul;
pub mod transpose;

pub use transpose::transpose;

use rayon::prelude::*;

/// Elements per parallel chunk: large enough to amortise scheduling, a multiple of 16 so
/// chunks start on Philox block and SIMD boundaries.
pub const CHUNK: usize = 1 << 14;

/// Applies `f(dst_chunk, src_chunk, first_index)` over matching chunks in parallel.
pub fn par_zip(dst: &mut [f32], src: &[f32], f: impl Fn(&mut [f32], &[f32], usize) + Sync) {
    debug_assert_eq!(dst.len(), src.len());
    if dst.len() <= CHUNK {
        f(dst, src, 0);
        return;
    }
    dst.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).enumerate().for_each(|(i, (d, s))| f(d, s, i * CHUNK));
}

/// Applies `f(chunk, first_index)` over chunks of `dst` in parallel.
pub fn par_each(dst: &mut [f32], f: impl Fn(&mut [f32], usize) + Sync) {
    par_blocks(dst, CHUNK, |i, d| f(d, i * CHUNK));
}

/// Applies `f(block_index, block)` over consecutive blocks of `block_len` elements of `dst`
/// (the last may be shorter): in parallel, unless `dst` is at most one [`CHUNK`].
pub fn par_blocks(dst: &mut [f32], block_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let block_len = block_len.max(1);
    if dst.len() <= CHUNK {
        dst.chunks_mut(block_len).enumerate().for_each(|(i, d)| f(i, d));
    } else {
        dst.par_chunks_mut(block_len).enumerate().for_each(|(i, d)| f(i, d));
    }
}

/// Columns per task of [`column_sums`].
const COLS_PER_TASK: usize = 256;

/// Rows per block of a column sum. A column is summed block by block: the rows of a block one
/// after another, from zero, then the blocks' sums one after another, from zero. The order is
/// fixed by the data, not the threads, and lets a row-parallel pass that writes a matrix sum
/// its columns on the way ([`fill_rows_with_column_sums`]).
pub const SUM_ROWS: usize = 16;

/// Column sums of a row-major (rows, cols) matrix into `out` (overwritten), in f32 in the
/// fixed order of [`SUM_ROWS`], in parallel: thread-count invariant.
pub fn column_sums(m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert_eq!(m.len(), rows * cols, "column_sums: matrix holds {} not {rows}x{cols}", m.len());
    column_sums_strided(m, rows, cols, cols, out)
}

/// [`column_sums`] of the first `cols` values of `rows` rows that start `stride` apart in `m`
/// (a block of columns of a wider matrix), with the same order and bits.
pub fn column_sums_strided(m: &[f32], rows: usize, cols: usize, stride: usize, out: &mut [f32]) {
    assert!(stride >= cols, "column_sums: stride {stride} below {cols} columns");
    assert!(rows == 0 || (rows - 1) * stride + cols <= m.len(), "column_sums: {} values for {rows} rows", m.len());
    assert_eq!(out.len(), cols, "column_sums: {} sums for {cols} columns", out.len());
    let row = |r: usize| &m[r * stride..r * stride + cols];
    if rows * cols >= CHUNK && cols < 2 * COLS_PER_TASK {
        return column_sums_by_row_blocks(&row, rows, cols, out);
    }
    let work = |(task, o): (usize, &mut [f32])| {
        let c0 = task * COLS_PER_TASK;
        o.fill(0.0);
        let mut block = [0.0f32; COLS_PER_TASK];
        let block = &mut block[..o.len()];
        for r0 in (0..rows).step_by(SUM_ROWS) {
            block.fill(0.0);
            for r in r0..(r0 + SUM_ROWS).min(rows) {
                add_to(block, &row(r)[c0..c0 + o.len()]);
            }
            add_to(o, block);
        }
    };
    if rows * cols < CHUNK {
        out.chunks_mut(COLS_PER_TASK).enumerate().for_each(work);
    } else {
        out.par_chunks_mut(COLS_PER_TASK).enumerate().for_each(work);
    }
}

thread_local! {
    /// The block sums of [`column_sums_by_row_blocks`], kept between calls (taken while in use,
    /// so that a nested call on the same thread gets its own).
    static BLOCK_SUMS: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// [`column_sums`] of a tall matrix with too few column blocks to keep the threads busy (a
/// transformer's (B*T, 128) gradients were one task): the blocks of [`SUM_ROWS`] rows in
/// parallel, each summed from zero, then the blocks' sums in order. The same bits.
fn column_sums_by_row_blocks<'a>(
    row: &(impl Fn(usize) -> &'a [f32] + Sync),
    rows: usize,
    cols: usize,
    out: &mut [f32],
) {
    let mut block_sums = BLOCK_SUMS.take();
    block_sums.resize(rows.div_ceil(SUM_ROWS) * cols, 0.0);
    block_sums.par_chunks_mut(cols).enumerate().with_min_len(8).for_each(|(block, part)| {
        part.fill(0.0);
        for r in block * SUM_ROWS..((block + 1) * SUM_ROWS).min(rows) {
            add_to(part, row(r));
        }
    });
    out.fill(0.0);
    for part in block_sums.chunks_exact(cols) {
        add_to(out, part);
    }
    BLOCK_SUMS.set(block_sums);
}

/// Fills a row-major matrix `dst` with `cols` columns by `fill(rows, first_index)`, called on
/// blocks of [`SUM_ROWS`] rows in parallel, and writes its column sums into `sums` while each
/// block is still in cache: the same bits as filling `dst` and then calling [`column_sums`].
/// `block_sums` holds each block's sums (kept by the caller, so that nothing is allocated
/// after the first call).
pub fn fill_rows_with_column_sums(
    dst: &mut [f32],
    cols: usize,
    sums: &mut [f32],
    block_sums: &mut Vec<f32>,
    fill: impl Fn(&mut [f32], usize) + Sync,
) {
    assert_eq!(sums.len(), cols, "fill_rows_with_column_sums: {} sums for {cols} columns", sums.len());
    sums.fill(0.0);
    if cols == 0 {
        return;
    }
    assert!(dst.len().is_multiple_of(cols), "fill_rows_with_column_sums: {} elements in rows of {cols}", dst.len());
    let block_len = SUM_ROWS * cols;
    block_sums.resize(dst.len().div_ceil(block_len) * cols, 0.0);
    let avx512 = isa::best_isa() == isa::Isa::Avx512;
    let work = |(b, (rows, part)): (usize, (&mut [f32], &mut [f32]))| {
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: best_isa() found AVX-512F on this CPU.
            return unsafe { fill_block_avx512(rows, part, b * block_len, &fill) };
        }
        fill_block(rows, part, b * block_len, &fill)
    };
    if dst.len() <= CHUNK {
        dst.chunks_mut(block_len).zip(block_sums.chunks_mut(cols)).enumerate().for_each(work);
    } else {
        dst.par_chunks_mut(block_len).zip(block_sums.par_chunks_mut(cols)).enumerate().for_each(work);
    }
    for part in block_sums.chunks_exact(cols) {
        add_to(sums, part);
    }
}

/// `acc[i] += values[i]`, element by element.
#[inline(always)]
pub fn add_to(acc: &mut [f32], values: &[f32]) {
    acc.iter_mut().zip(values).for_each(|(acc, v)| *acc += v);
}

/// One block of [`fill_rows_with_column_sums`]: fills `rows` (their first element has index
/// `first`), then sums their columns into `part`, row after row.
#[inline(always)]
fn fill_block(rows: &mut [f32], part: &mut [f32], first: usize, fill: &impl Fn(&mut [f32], usize)) {
    fill(rows, first);
    part.fill(0.0);
    for row in rows.chunks_exact(part.len()) {
        add_to(part, row);
    }
}

/// [`fill_block`] compiled for AVX-512, with `fill` inlined into it (the plain build targets
/// baseline x86-64, 4-lane SSE). The pass is then bound by memory: its share of a paper-MLP
/// training profile fell from 1.6% to 1.4%.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fill_block_avx512(rows: &mut [f32], part: &mut [f32], first: usize, fill: &impl Fn(&mut [f32], usize)) {
    fill_block(rows, part, first, fill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_sums_follow_the_documented_order() {
        for (rows, cols) in [(0, 5), (1, 3), (15, 7), (17, 300), (128, 1024), (130, 600), (301, 60), (4100, 128)] {
            let m: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f32 * 0.013 - 6.0).collect();
            let mut got = vec![-1.0; cols];
            column_sums(&m, rows, cols, &mut got);
            for (c, &got) in got.iter().enumerate() {
                let mut want = 0.0f32;
                for r0 in (0..rows).step_by(SUM_ROWS) {
                    let block = (r0..(r0 + SUM_ROWS).min(rows)).fold(0.0f32, |a, r| a + m[r * cols + c]);
                    want += block;
                }
                assert_eq!(got.to_bits(), want.to_bits(), "({rows}, {cols}) column {c}");
            }
        }
    }

    #[test]
    fn strided_column_sums_equal_those_of_the_block() {
        for (rows, cols, stride) in [(5, 3, 7), (301, 60, 100), (4100, 128, 384)] {
            let m: Vec<f32> = (0..rows * stride).map(|i| ((i * 7919) % 1000) as f32 * 0.013 - 6.0).collect();
            let block: Vec<f32> = (0..rows).flat_map(|r| m[r * stride + 2..r * stride + 2 + cols].to_vec()).collect();
            let (mut got, mut want) = (vec![-1.0; cols], vec![-1.0; cols]);
            column_sums_strided(&m[2..], rows, cols, stride, &mut got);
            column_sums(&block, rows, cols, &mut want);
            assert_eq!(got, want, "({rows}, {cols}, {stride})");
        }
    }

    #[test]
    fn filling_with_column_sums_equals_filling_then_summing() {
        for (rows, cols) in [(0, 5), (3, 1), (17, 300), (128, 1024), (130, 600)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f32 * 0.013 - 6.0).collect();
            let (mut dst, mut sums, mut scratch) = (vec![-1.0; rows * cols], vec![-1.0; cols], Vec::new());
            fill_rows_with_column_sums(&mut dst, cols, &mut sums, &mut scratch, |d, at| {
                d.iter_mut().zip(&src[at..]).for_each(|(d, &s)| *d = s * 0.5)
            });
            let want: Vec<f32> = src.iter().map(|s| s * 0.5).collect();
            let mut want_sums = vec![0.0; cols];
            column_sums(&want, rows, cols, &mut want_sums);
            assert_eq!(dst, want, "({rows}, {cols})");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&sums), bits(&want_sums), "({rows}, {cols})");
        }
    }
}
