//! Matrix products through the `gemm` crate, with strided views so that transposes cost
//! nothing (no transposed copies).

use gemm::Parallelism;

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

/// Below this many multiply-adds a product runs on one thread.
const PARALLEL_FLOPS: usize = 1 << 18;

/// `dst (a.rows, b.cols) = a * b`, or `dst += a * b` when `accumulate`. `dst` is row-major.
pub fn matmul(dst: &mut [f32], a: MatRef, b: MatRef, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul: inner dimensions {k} and {}", b.rows);
    assert_eq!(dst.len(), m * n, "matmul: destination holds {} not {m}x{n}", dst.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // Bounds of the strided views, checked once so the unsafe call cannot read out of range.
    assert!((m - 1) * a.rs + (k - 1) * a.cs < a.data.len());
    assert!((k - 1) * b.rs + (n - 1) * b.cs < b.data.len());
    let threads = rayon::current_num_threads();
    let parallelism =
        if threads > 1 && m * n * k >= PARALLEL_FLOPS { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: all three views were bounds-checked above; dst is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: MatRef, b: MatRef) -> Vec<f32> {
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
}
