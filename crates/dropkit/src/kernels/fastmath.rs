//! `exp`, `tanh` and `sigmoid` written in plain multiplies, adds, divides and bit moves, so a
//! loop over them compiles to vector code, where the C library's scalar calls cost 10-30x more
//! (GELU's `tanhf` was a fifth of a transformer step). [`vectorized`] runs a loop with the
//! widest vector unit the CPU has. The polynomials use fused multiply-adds (`mul_add`, one
//! rounding), which every path computes alike, in hardware or (without FMA) in the C library:
//! results depend on neither the CPU nor the threads.
//!
//! - `tanh`: the odd 13/6 rational minimax fit of Eigen's `ptanh_float`, clamped to [-9, 9]
//!   (+-1 there); relative error below 1e-6, and exactly odd.
//! - `exp`: Cody-Waite reduction `x = n ln 2 + r` and the degree-6 polynomial of Cephes'
//!   `expf`; relative error below 2e-7; 0 below -87.3 (and for -inf), +inf above 88.7.
//! - `sigmoid(x) = 1 / (1 + exp(-x)) = 0.5 + 0.5 tanh(x / 2)`, computed as the latter.

use super::isa::{best_isa, Isa};

/// Where the fit (evaluated with FMA) reaches 1 exactly, as ONNX Runtime's MLAS clamps it.
const TANH_CLAMP: f32 = 9.0;
const TANH_P: [f32; 7] =
    [4.893_524_6e-3, 6.372_619_3e-4, 1.485_722_4e-5, 5.122_297e-8, -8.604_672e-11, 2.000_188e-13, -2.760_768_5e-16];
const TANH_Q: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];

/// `tanh(x)`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-TANH_CLAMP, TANH_CLAMP);
    let x2 = x * x;
    let p = TANH_P.iter().rev().fold(0.0, |acc: f32, &c| acc.mul_add(x2, c));
    let q = TANH_Q.iter().rev().fold(0.0, |acc: f32, &c| acc.mul_add(x2, c));
    x * p / q
}

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that `n * LN2_HI` is exact for the n that occur.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const EXP_P: [f32; 6] = [0.5, 1.666_666_5e-1, 4.166_579_6e-2, 8.333_452e-3, 1.398_2e-3, 1.987_569_1e-4];
/// Below this exp is subnormal or 0 in f32 (returned as 0); above the upper bound, +inf.
const EXP_MIN: f32 = -87.336_54;
const EXP_MAX: f32 = 88.722_84;
/// Adding and subtracting 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to an integer.
const ROUND: f32 = 12_582_912.0;

/// `exp(x)`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let clamped = x.clamp(EXP_MIN, EXP_MAX);
    let n = (clamped * LOG2_E + ROUND) - ROUND;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, clamped));
    let poly = EXP_P.iter().rev().fold(0.0, |acc: f32, &c| acc.mul_add(r, c));
    let e = poly.mul_add(r * r, r) + 1.0;
    // 2^n in two halves, so that n = 128 (x near the upper bound) does not overflow the exponent.
    let half = (n * 0.5 + ROUND) - ROUND;
    // (k + 127 + 1.5 * 2^23) holds k + 127 in its low mantissa bits: shifted, the exponent of 2^k.
    let scale = |k: f32| f32::from_bits((k + (ROUND + 127.0)).to_bits() << 23);
    let y = e * scale(half) * scale(n - half);
    if x < EXP_MIN {
        0.0
    } else if x > EXP_MAX {
        f32::INFINITY
    } else {
        y
    }
}

/// `1 / (1 + exp(-x))`, computed as `0.5 + 0.5 tanh(x / 2)`: the rational tanh takes about
/// half the operations of `exp` and a division, in a shorter chain of dependent ones (0.5-0.65
/// against 0.9-1.3 ns a value with AVX2 on one thread). Within 1e-6 of the true value, whose
/// scale is 1, and
/// kept in [0, 1] (the fit of tanh may pass +-1 by its error).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    0.5f32.mul_add(tanh(0.5 * x), 0.5).clamp(0.0, 1.0)
}

/// Runs `work` compiled for the widest vector unit of this CPU, so that the loops over the
/// functions above inside it are vectorized: AVX-512, AVX2, or the baseline.
#[inline(always)]
pub fn vectorized<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match best_isa() {
        // SAFETY: best_isa() found the instruction set on this CPU.
        Isa::Avx512 => return unsafe { with_avx512(work) },
        Isa::Avx2 if is_x86_feature_detected!("fma") => return unsafe { with_avx2(work) },
        Isa::Avx2 => {}
        Isa::Scalar => {}
    }
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<R>(work: impl FnOnce() -> R) -> R {
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(work: impl FnOnce() -> R) -> R {
    work()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-200_000..=200_000).map(|i| i as f32 * 1e-4).chain([1e-30, -1e-30, 1e-7, 0.0, -0.0])
    }

    #[test]
    fn tanh_is_within_a_millionth_and_odd() {
        for x in grid() {
            let (got, want) = (tanh(x) as f64, (x as f64).tanh());
            assert!((got - want).abs() <= 1e-6 * want.abs().max(1e-30) + 1e-37, "tanh({x}) = {got}, not {want}");
            assert_eq!(tanh(-x).to_bits(), (-tanh(x)).to_bits(), "{x}");
        }
        assert_eq!(tanh(100.0), 1.0);
        assert_eq!(tanh(-1e30), -1.0);
    }

    #[test]
    fn exp_is_within_2e7_and_saturates() {
        for x in grid().map(|x| x * 4.3) {
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            if x > EXP_MIN && x < EXP_MAX {
                assert!((got - want).abs() <= 2e-7 * want, "exp({x}) = {got}, not {want}");
            }
        }
        for x in [-87.0f32, -50.0, 0.0, 50.0, 88.5] {
            assert!((exp(x) as f64 / (x as f64).exp() - 1.0).abs() < 2e-7, "{x}");
        }
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1000.0), f32::INFINITY);
    }

    #[test]
    fn sigmoid_is_within_a_millionth_and_saturates() {
        for x in grid().map(|x| x * 2.0) {
            let (got, want) = (sigmoid(x) as f64, 1.0 / (1.0 + (-x as f64).exp()));
            assert!((got - want).abs() <= 1e-6, "sigmoid({x}) = {got}, not {want}");
            assert!((0.0..=1.0).contains(&got), "{x}");
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!((sigmoid(-200.0), sigmoid(200.0)), (0.0, 1.0));
        assert_eq!((sigmoid(f32::NEG_INFINITY), sigmoid(f32::INFINITY)), (0.0, 1.0));
    }

    #[test]
    fn every_instruction_set_gives_the_scalar_bits() {
        let xs: Vec<f32> = grid().collect();
        let scalar: Vec<u32> =
            xs.iter().map(|&x| tanh(x).to_bits() ^ exp(x).to_bits() ^ sigmoid(x).to_bits()).collect();
        let mut out = vec![0u32; xs.len()];
        vectorized(
            #[inline(always)]
            || {
                for (o, &x) in out.iter_mut().zip(&xs) {
                    *o = tanh(x).to_bits() ^ exp(x).to_bits() ^ sigmoid(x).to_bits();
                }
            },
        );
        assert_eq!(scalar, out);
    }
}
