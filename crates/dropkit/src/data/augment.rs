//! Data augmentation for images: a random translation of up to `shift` pixels on each axis and
//! a random rotation of up to `rotate` degrees about the centre, drawn afresh for every sample
//! in every epoch (bilinear sampling, zero fill). The draw for training sample i in epoch e is
//! keyed by (seed, e, i), so it does not depend on the batch or the thread count.

use crate::error::{Error, Result};
use crate::rng::{streams, Stream};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Random translations and rotations (`--augment SHIFT,DEGREES`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Largest translation, in pixels, along each axis.
    pub shift: f32,
    /// Largest rotation, in degrees, either way.
    pub rotate: f32,
}

impl Default for Augment {
    /// Two pixels and ten degrees: small enough that every digit stays itself.
    fn default() -> Self {
        Augment { shift: 2.0, rotate: 10.0 }
    }
}

impl Augment {
    /// Parses `SHIFT,DEGREES`, e.g. `2,10`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "augment '{text}': expected SHIFT,DEGREES (pixels and degrees, both >= 0), e.g. 2,10"
            ))
        };
        let (shift, rotate) = text.split_once(',').ok_or_else(bad)?;
        let a = Augment {
            shift: shift.trim().parse().map_err(|_| bad())?,
            rotate: rotate.trim().parse().map_err(|_| bad())?,
        };
        a.validate().map_err(|_| bad())?;
        Ok(a)
    }

    pub fn validate(&self) -> Result<()> {
        let ok = |v: f32, max: f32| v.is_finite() && (0.0..=max).contains(&v);
        if !ok(self.shift, 1e4) || !ok(self.rotate, 180.0) {
            return Err(Error::InvalidArgument(format!(
                "augment shift {} and rotate {}: shift must be in [0, 10000] pixels and rotate in [0, 180] degrees",
                self.shift, self.rotate
            )));
        }
        Ok(())
    }

    /// Writes into `out` (one row per entry of `idx`) the augmented copies of training samples
    /// `idx` of `images` (each of `sample_shape` = (C, H, W)) for `epoch`.
    pub fn apply(
        &self,
        images: &[f32],
        sample_shape: &[usize],
        idx: &[usize],
        seed: u64,
        epoch: u64,
        out: &mut [f32],
    ) -> Result<()> {
        let &[c, h, w] = sample_shape else {
            return Err(Error::InvalidArgument(format!(
                "augmentation needs images of shape (channels, height, width), not {sample_shape:?}"
            )));
        };
        let d = c * h * w;
        let n = images.len() / d.max(1);
        if d == 0 || out.len() != idx.len() * d || idx.iter().any(|&i| i >= n) {
            return Err(Error::InvalidArgument("augmentation: batch buffer and indices do not match the data".into()));
        }
        out.par_chunks_mut(d).zip(idx).for_each(|(row, &i)| {
            let mut s = Stream::new(seed, streams::AUGMENT, epoch.wrapping_mul(n as u64).wrapping_add(i as u64));
            let ty = (2.0 * s.uniform() - 1.0) * self.shift;
            let tx = (2.0 * s.uniform() - 1.0) * self.shift;
            let deg = (2.0 * s.uniform() - 1.0) * self.rotate;
            let src = images.get(i * d..(i + 1) * d).unwrap_or_default();
            for (plane, dst) in src.chunks_exact(h * w).zip(row.chunks_exact_mut(h * w)) {
                warp(plane, h, w, deg, ty, tx, dst);
            }
        });
        Ok(())
    }
}

/// Bilinear warp of one `h x w` image: rotation by `deg` degrees about the centre, then a
/// translation by (`ty`, `tx`) pixels; pixels from outside the image are 0.
pub fn warp(img: &[f32], h: usize, w: usize, deg: f32, ty: f32, tx: f32, out: &mut [f32]) {
    let (sin, cos) = deg.to_radians().sin_cos();
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let at = |y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            img.get(y as usize * w + x as usize).copied().unwrap_or(0.0)
        }
    };
    for (y, row) in out.chunks_exact_mut(w).enumerate().take(h) {
        for (x, o) in row.iter_mut().enumerate() {
            // Inverse mapping: where in the source does output (y, x) come from?
            let (dy, dx) = (y as f32 - ty - cy, x as f32 - tx - cx);
            let sx = cos * dx + sin * dy + cx;
            let sy = -sin * dx + cos * dy + cy;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            *o = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_pixel_shifts_move_the_image() {
        let img: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let mut out = vec![0.0; 16];
        warp(&img, 4, 4, 0.0, 1.0, 0.0, &mut out);
        assert_eq!(&out[..4], &[0.0; 4]);
        assert_eq!(&out[4..], &img[..12]);
        warp(&img, 4, 4, 0.0, 0.0, 0.0, &mut out);
        assert_eq!(out, img);
    }

    #[test]
    fn draws_depend_on_seed_epoch_and_sample_but_not_on_the_batch() {
        let (h, w) = (6, 6);
        let images: Vec<f32> = (0..3 * h * w).map(|v| (v % 7) as f32 / 7.0).collect();
        let a = Augment::default();
        let run = |idx: &[usize], epoch: u64| {
            let mut out = vec![0.0; idx.len() * h * w];
            a.apply(&images, &[1, h, w], idx, 5, epoch, &mut out).unwrap();
            out
        };
        let both = run(&[2, 0], 1);
        assert_eq!(&both[..h * w], &run(&[2], 1)[..]);
        assert_eq!(&both[h * w..], &run(&[0], 1)[..]);
        assert_ne!(run(&[0], 1), run(&[0], 2));
        assert_ne!(run(&[0], 1), images[..h * w].to_vec());
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Augment::parse("2,10").is_ok());
        for bad in ["2", "x,1", "-1,10", "2,400", "nan,1"] {
            assert!(Augment::parse(bad).is_err(), "{bad}");
        }
        let a = Augment::default();
        let mut out = vec![0.0; 4];
        assert!(a.apply(&[0.0; 4], &[4], &[0], 1, 0, &mut out).is_err());
        assert!(a.apply(&[0.0; 4], &[1, 2, 2], &[3], 1, 0, &mut out).is_err());
    }
}
