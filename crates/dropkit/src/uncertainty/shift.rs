//! Shifted versions of image inputs, for out-of-distribution detection: rotations, inverted
//! intensities, additive Gaussian noise and pure uniform noise. Images are (N, 1, H, W) in
//! [0, 1]; the noise comes from a seeded Philox stream.

use crate::rng::Stream;

/// A distribution shift of the test inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shift {
    /// Rotation by this many degrees about the centre (bilinear, zero fill).
    Rotate(f32),
    /// `1 - x`.
    Invert,
    /// `clip(x + N(0, sigma^2), 0, 1)`.
    GaussianNoise(f32),
    /// Images replaced by U(0, 1) noise.
    UniformNoise,
}

impl Shift {
    /// A short name for tables and files.
    pub fn name(&self) -> String {
        match self {
            Shift::Rotate(a) => format!("rotate{a}"),
            Shift::Invert => "invert".into(),
            Shift::GaussianNoise(s) => format!("gaussian{s}"),
            Shift::UniformNoise => "uniform_noise".into(),
        }
    }

    /// The shifted copy of `images` (each `h x w`), noise keyed by `seed`.
    pub fn apply(&self, images: &[f32], h: usize, w: usize, seed: u64) -> Vec<f32> {
        let mut s = Stream::new(seed, crate::rng::streams::SHIFT, 0);
        match *self {
            Shift::Rotate(deg) => images.chunks_exact(h * w).flat_map(|img| rotate(img, h, w, deg)).collect(),
            Shift::Invert => images.iter().map(|&x| 1.0 - x).collect(),
            Shift::GaussianNoise(sigma) => images.iter().map(|&x| (x + sigma * s.normal()).clamp(0.0, 1.0)).collect(),
            Shift::UniformNoise => images.iter().map(|_| s.uniform()).collect(),
        }
    }
}

/// Bilinear rotation of one `h x w` image by `deg` degrees about its centre.
pub fn rotate(img: &[f32], h: usize, w: usize, deg: f32) -> Vec<f32> {
    let mut out = vec![0.0; h * w];
    crate::data::augment::warp(img, h, w, deg, 0.0, 0.0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_by_zero_is_identity_and_by_90_moves_pixels() {
        let img: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let same = rotate(&img, 3, 3, 0.0);
        assert!(same.iter().zip(&img).all(|(a, b)| (a - b).abs() < 1e-5));
        let r = rotate(&img, 3, 3, 90.0);
        assert!((r[4] - 4.0).abs() < 1e-5, "the centre stays");
        assert!(r.iter().zip(&img).any(|(a, b)| (a - b).abs() > 0.5));
        let inv = Shift::Invert.apply(&[0.25], 1, 1, 0);
        assert_eq!(inv, vec![0.75]);
    }
}
