//! Sums, dot products and maxima of a row in [`LANES`] interleaved partial results, combined
//! by halving: element `i` goes to lane `i % LANES`, then lane `j` takes lane `j + w` for
//! `w = 8, 4, 2, 1`.
//!
//! Why: a sum written as one running total is a chain of dependent adds, one every 3 or 4
//! cycles, and the compiler may not reorder floating-point adds to vectorize it; for a
//! transformer's rows of 128 values (LayerNorm, softmax) that chain was most of the pass. The
//! lanes are independent chains that compile to vector adds. The order is fixed by the code
//! (and products are never fused into FMAs), so every instruction set and thread count gives
//! the same bits.

/// Partial results per reduction: two AVX2 vectors, one AVX-512 vector.
pub const LANES: usize = 16;

/// Lane `j` takes lane `j + w` for `w = 8, 4, 2, 1`.
#[inline(always)]
fn combine(mut acc: [f32; LANES], op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            acc[j] = op(acc[j], acc[j + w]);
        }
        w /= 2;
    }
    acc[0]
}

/// `sum f(a_i, b_i, c_i)`; the three have the same length.
#[inline(always)]
pub fn sum3(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) -> f32 {
    debug_assert!(a.len() == b.len() && b.len() == c.len());
    let mut acc = [0.0f32; LANES];
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let full = n / LANES * LANES;
    for ((ca, cb), cc) in
        a[..full].chunks_exact(LANES).zip(b[..full].chunks_exact(LANES)).zip(c[..full].chunks_exact(LANES))
    {
        for j in 0..LANES {
            acc[j] += f(ca[j], cb[j], cc[j]);
        }
    }
    for (j, acc) in acc.iter_mut().enumerate().take(n - full) {
        *acc += f(a[full + j], b[full + j], c[full + j]);
    }
    combine(acc, |a, b| a + b)
}

/// `sum x`.
#[inline]
pub fn sum(x: &[f32]) -> f32 {
    sum3(x, x, x, |a, _, _| a)
}

/// `sum a * b`; the two have the same length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum3(a, b, b, |a, b, _| a * b)
}

/// `sum (x - m)^2`: n times the population variance about `m`.
#[inline]
pub fn squared_deviations(x: &[f32], m: f32) -> f32 {
    sum3(x, x, x, |a, _, _| (a - m) * (a - m))
}

/// `max x` (negative infinity for an empty row). Exact in any order.
#[inline]
pub fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = a.max(v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a = a.max(v);
    }
    combine(acc, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented order, written out one element at a time.
    fn reference(x: &[f32]) -> f32 {
        let mut lanes = [0.0f32; LANES];
        for (i, &v) in x.iter().enumerate() {
            lanes[i % LANES] += v;
        }
        for w in [8, 4, 2, 1] {
            for j in 0..w {
                lanes[j] += lanes[j + w];
            }
        }
        lanes[0]
    }

    #[test]
    fn sums_follow_the_documented_order_and_are_accurate() {
        for n in [0, 1, 5, 16, 17, 128, 300] {
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.0137 - 6.0).collect();
            assert_eq!(sum(&x).to_bits(), reference(&x).to_bits(), "n = {n}");
            let exact: f64 = x.iter().map(|&v| v as f64).sum();
            assert!((sum(&x) as f64 - exact).abs() < 1e-4 * (1.0 + exact.abs()), "n = {n}");
            let y: Vec<f32> = x.iter().map(|v| v * 0.5 + 1.0).collect();
            let products: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
            assert_eq!(dot(&x, &y).to_bits(), reference(&products).to_bits(), "dot, n = {n}");
            let deviations: Vec<f32> = x.iter().map(|v| (v - 0.25) * (v - 0.25)).collect();
            assert_eq!(squared_deviations(&x, 0.25).to_bits(), reference(&deviations).to_bits());
            let triples: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a * b * (a - 1.0)).collect();
            assert_eq!(sum3(&x, &y, &x, |a, b, c| a * b * (c - 1.0)).to_bits(), reference(&triples).to_bits());
            let want = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            assert_eq!(max(&x), want, "max, n = {n}");
        }
    }
}
