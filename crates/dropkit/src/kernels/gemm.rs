//! Matrix products through the `gemm` crate, with strided views so that transposes cost
//! nothing (no transposed copies).

use gemm::Parallelism;
use std::ops::Range;

/// A read-only strided matrix view: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major (rows, cols) matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix view: {} < {rows}x{cols}", data.len());
        MatRef { data, rows, cols, rs: cols, cs: 1 }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatRef { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }
}

/// Below this many multiply-adds a product runs whole on one thread.
const PARALLEL_FLOPS: usize = 1 << 18;

/// `dst (a.rows, b.cols) = a * b`, or `dst += a * b` when `accumulate`. `dst` is row-major.
pub fn matmul(dst: &mut [f32], a: MatRef, b: MatRef, accumulate: bool) {
    product(dst, b.cols, a, b, accumulate, false, false)
}

/// [`matmul`] whole on the calling thread, for a product inside a parallel task (one per
/// sample), where splitting it again would only add overhead. The same bits as [`matmul`].
pub fn matmul_in_task(dst: &mut [f32], a: MatRef, b: MatRef, accumulate: bool) {
    product(dst, b.cols, a, b, accumulate, false, true)
}

/// [`matmul_in_task`] into a block of a wider row-major matrix, as [`matmul_strided`].
pub fn matmul_in_task_strided(dst: &mut [f32], dst_rs: usize, a: MatRef, b: MatRef, accumulate: bool) {
    product(dst, dst_rs, a, b, accumulate, false, true)
}

/// [`matmul`] into a block of a wider row-major matrix: element (i, j) goes to
/// `dst[i * dst_rs + j]`, and the rest of each row of `dst` is left as it is.
pub fn matmul_strided(dst: &mut [f32], dst_rs: usize, a: MatRef, b: MatRef, accumulate: bool) {
    product(dst, dst_rs, a, b, accumulate, false, false)
}

/// [`matmul`] into the transpose: `dst (b.cols, a.rows) = (a * b)^T`, or `+=`. Each element
/// is summed in the same order as by [`matmul`], so the bits are the same.
pub fn matmul_transposed(dst: &mut [f32], a: MatRef, b: MatRef, accumulate: bool) {
    product(dst, a.rows, a, b, accumulate, true, false)
}

/// Whether `a * b` with `a` (m, k) row-major and `b` the transpose of a row-major (n, k)
/// matrix (a dense layer's `x W^T`) is faster written transposed. Measured with 2 threads:
/// writing `y^T` takes 0.65-0.85x the time when n >= 2m (batch 128, 1024 to 1024 units: 1.3
/// against 1.9 ms; 784 to 1024: 0.9 against 1.1 ms), but up to 3x longer when n < m, where
/// gemm's packing of `W` no longer dominates.
pub fn faster_transposed(m: usize, n: usize) -> bool {
    m > 0 && n >= 2 * m
}

/// `a * b` into `dst`, whose rows (columns when `transposed`) are `stride` apart; on the
/// calling thread alone when `in_task`.
fn product(dst: &mut [f32], stride: usize, a: MatRef, b: MatRef, accumulate: bool, transposed: bool, in_task: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul: inner dimensions {k} and {}", b.rows);
    let (lines, line) = if transposed { (n, m) } else { (m, n) };
    assert!(stride >= line, "matmul: destination stride {stride} below its {line} columns");
    if transposed || stride == line {
        assert_eq!(dst.len(), m * n, "matmul: destination holds {} not {m}x{n}", dst.len());
    }
    if m == 0 || n == 0 {
        return;
    }
    assert!((lines - 1) * stride + line <= dst.len(), "matmul: destination holds {} not {m}x{n}", dst.len());
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(stride).take(lines).for_each(|row| row[..line].fill(0.0));
        }
        return;
    }
    // Bounds of the strided views, checked once so the unsafe calls cannot read out of range.
    assert!((m - 1) * a.rs + (k - 1) * a.cs < a.data.len());
    assert!((k - 1) * b.rs + (n - 1) * b.cs < b.data.len());
    // Element (i, j) of the product goes to dst[i * stride + j], or to dst[j * stride + i] transposed.
    let (cs, rs) = if transposed { (stride, 1) } else { (1, stride) };
    let product = Product { a, b, out: dst.as_mut_ptr(), cs, rs, accumulate };
    if in_task || m * n * k < PARALLEL_FLOPS {
        // SAFETY: the whole product, within the bounds checked above; dst is exclusively borrowed.
        unsafe { product.block(0..m, 0..n, Parallelism::None) };
        return;
    }
    // Two halves side by side, split along the longer side of the product, each a single-threaded
    // gemm call (or sharing the threads beyond two). Measured on 2 threads against one call
    // with gemm's own threading, for the paper MLP's shapes: 3-8% faster (128x784 by 784x1024:
    // 0.88 against 0.93 ms; 1024x128 by 128x784: 1.06 against 1.12 ms). The split depends on
    // the shape alone, never on the thread count, so neither do the bits.
    let threads_each = rayon::current_num_threads() / 2;
    let parallelism = if threads_each > 1 { Parallelism::Rayon(threads_each) } else { Parallelism::None };
    let (first, second) = if m >= n {
        let half = split_point(m);
        ((0..half, 0..n), (half..m, 0..n))
    } else {
        let half = split_point(n);
        ((0..m, 0..half), (0..m, half..n))
    };
    // SAFETY: the two halves are disjoint blocks of the product, so their destination elements
    // are disjoint; both lie within the bounds checked above, and dst is exclusively borrowed
    // until both calls have returned.
    rayon::join(
        || unsafe { product.block(first.0, first.1, parallelism) },
        || unsafe { product.block(second.0, second.1, parallelism) },
    );
}

/// Where to split a side of `len` in two: the middle, rounded to a whole SIMD vector.
fn split_point(len: usize) -> usize {
    (len / 2).next_multiple_of(16).min(len)
}

/// `a * b` (or `+=` when `accumulate`) into `out`, whose element (i, j) is `out[i * rs + j * cs]`.
struct Product<'a> {
    a: MatRef<'a>,
    b: MatRef<'a>,
    out: *mut f32,
    cs: usize,
    rs: usize,
    accumulate: bool,
}

// SAFETY: a `Product` is only shared between the calls of `product`, which write disjoint
// elements of `out` and all return before `product` does.
unsafe impl Sync for Product<'_> {}

impl Product<'_> {
    /// Rows `rows` and columns `cols` of the product.
    ///
    /// # Safety
    /// The block must lie within `a`'s rows and `b`'s columns, `out` must be valid for writes at
    /// each of its elements, and nothing else may access those meanwhile.
    unsafe fn block(&self, rows: Range<usize>, cols: Range<usize>, parallelism: Parallelism) {
        if rows.is_empty() || cols.is_empty() {
            return; // a side shorter than one vector is not split
        }
        let (a, b) = (self.a, self.b);
        unsafe {
            gemm::gemm(
                rows.len(),
                cols.len(),
                a.cols,
                self.out.add(rows.start * self.rs + cols.start * self.cs),
                self.cs as isize,
                self.rs as isize,
                self.accumulate,
                a.data.as_ptr().add(rows.start * a.rs),
                a.cs as isize,
                a.rs as isize,
                b.data.as_ptr().add(cols.start * b.cs),
                b.cs as isize,
                b.rs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The product in f64, element by element: the reference of the kernels' tests.
    pub(crate) fn naive(a: MatRef, b: MatRef) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for p in 0..a.cols {
                    s += a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64;
                }
                out[i * b.cols + j] = s as f32;
            }
        }
        out
    }

    #[test]
    fn matmul_matches_naive_with_transposes() {
        let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..35).map(|i| (i as f32 * 0.11).cos()).collect();
        let (am, bm) = (MatRef::new(&a, 5, 7), MatRef::new(&b, 7, 5));
        let mut d = vec![0.0; 25];
        matmul(&mut d, am, bm, false);
        for (x, y) in d.iter().zip(naive(am, bm)) {
            assert!((x - y).abs() < 1e-5);
        }
        // a^T (7x5) * b^T (5x7)
        let mut d = vec![1.0; 49];
        matmul(&mut d, am.t(), bm.t(), true);
        for (x, y) in d.iter().zip(naive(am.t(), bm.t())) {
            assert!((x - 1.0 - y).abs() < 1e-5);
        }
    }

    #[test]
    fn a_strided_product_writes_its_block_only() {
        let (m, k, n, stride) = (130, 70, 40, 50); // above PARALLEL_FLOPS: two halves of rows
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let (am, bm) = (MatRef::new(&a, m, k), MatRef::new(&b, k, n));
        let mut whole = vec![0.0; m * n];
        matmul(&mut whole, am, bm, false);
        let mut wide = vec![7.0; (m - 1) * stride + n];
        matmul_strided(&mut wide, stride, am, bm, false);
        for (i, row) in wide.chunks(stride).enumerate() {
            assert_eq!(&row[..n], &whole[i * n..(i + 1) * n], "row {i}");
            assert!(row[n..].iter().all(|&v| v == 7.0), "row {i} beyond the block");
        }
    }

    #[test]
    fn the_transposed_product_has_the_same_bits() {
        let (m, k, n) = (33, 1100, 300); // k beyond one cache block, n large enough for threads
        let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.731).sin()).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.377).cos()).collect();
        let (xm, wt) = (MatRef::new(&x, m, k), MatRef::new(&w, n, k).t());
        let bias: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.01).collect();
        let (mut y, mut yt) = (bias.clone(), vec![0.0; m * n]);
        for i in 0..m {
            for j in 0..n {
                yt[j * m + i] = bias[i * n + j];
            }
        }
        matmul(&mut y, xm, wt, true);
        matmul_transposed(&mut yt, xm, wt, true);
        for i in 0..m {
            for j in 0..n {
                assert_eq!(y[i * n + j].to_bits(), yt[j * m + i].to_bits(), "({i}, {j})");
            }
        }
    }

    #[test]
    fn the_bits_do_not_depend_on_the_thread_count() {
        // 77 columns split unevenly, which gemm sums differently from the whole, so the split
        // must be the same for every thread count; 10 rows, less than a vector, stay whole.
        for (m, k, n) in [(33, 1500, 77), (10, 3000, 9)] {
            let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.731).sin()).collect();
            let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.377).cos()).collect();
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut y = vec![0.0; m * n];
                pool.install(|| matmul(&mut y, MatRef::new(&x, m, k), MatRef::new(&w, k, n), false));
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let one = run(1);
            for threads in [2, 3, 8] {
                assert_eq!(one, run(threads), "{threads} threads");
            }
            for (got, want) in one.iter().zip(naive(MatRef::new(&x, m, k), MatRef::new(&w, k, n))) {
                assert!((f32::from_bits(*got) - want).abs() < 1e-3);
            }
        }
    }
}
