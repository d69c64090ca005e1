//! The only place that knows about threads, SIMD and GEMM. Kernels see slices, not layers.
//!
//! Work is split into fixed-size chunks whose boundaries depend only on the data length, and
//! random numbers are derived from element indices, never thread ids: results are the same
//! for any thread count.

pub mod denormals;
pub mod gemm;
pub mod mask;
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

/// Columns per task of the column-wise kernels.
const COLS_PER_TASK: usize = 256;

/// Runs `task(first_column, out_block)` over blocks of [`COLS_PER_TASK`] entries of `out` (one
/// per column of a matrix of `elements` elements): in parallel, unless the matrix is small.
fn column_blocks(out: &mut [f32], elements: usize, task: impl Fn(usize, &mut [f32]) + Sync) {
    let work = |(block, o): (usize, &mut [f32])| task(block * COLS_PER_TASK, o);
    if elements < CHUNK {
        out.chunks_mut(COLS_PER_TASK).enumerate().for_each(work);
    } else {
        out.par_chunks_mut(COLS_PER_TASK).enumerate().for_each(work);
    }
}

/// Column sums of a row-major (rows, cols) matrix into `out` (overwritten), in f32 with a
/// fixed summation order (row by row), parallel over column blocks: thread-count invariant.
pub fn column_sums(m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert_eq!(m.len(), rows * cols, "column_sums: matrix holds {} not {rows}x{cols}", m.len());
    assert_eq!(out.len(), cols, "column_sums: {} sums for {cols} columns", out.len());
    column_blocks(out, m.len(), |c0, o| {
        o.fill(0.0);
        for r in 0..rows {
            let row = &m[r * cols + c0..r * cols + c0 + o.len()];
            o.iter_mut().zip(row).for_each(|(acc, v)| *acc += v);
        }
    });
}
