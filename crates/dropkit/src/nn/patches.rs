//! ViT patch embedding (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021,
//! <https://arxiv.org/abs/2010.11929>): an image cut into non-overlapping P x P patches, each
//! flattened (channel, row, column) and projected to D values, `z_n = W vec(patch_n) + b`.
//!
//! Shapes: x (B, C, H, W) -> (B, N, D), N = (H / P)(W / P) patches in row-major order; W (D,
//! C P P). Backward: the projection's products, then each patch gradient back in its place
//! (patches do not overlap: a gather, no sums). Parameters: `proj.weight`, `proj.bias`.

use super::chain::{Chain, Skip};
use super::positionwise::PositionwiseDense;
use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;

/// Cuts images into flattened patches: (B, C, H, W) -> (B, N, C P P).
struct Split {
    size: usize,
    /// Channels, height, width.
    image: [usize; 3],
    y: Tensor,
    dx: Tensor,
}

impl Split {
    /// Calls `f(image_offset, patch_offset)` for every run of P pixels: where it starts in the
    /// image (C, H, W) and in the patches (N, C P P) of one sample.
    fn runs(&self, mut f: impl FnMut(usize, usize)) {
        let [c, h, w] = self.image;
        let p = self.size;
        let (across, len) = (w / p, c * p * p);
        for n in 0..(h / p) * across {
            let (pr, pc) = (n / across, n % across);
            for ch in 0..c {
                for r in 0..p {
                    f(ch * h * w + (pr * p + r) * w + pc * p, n * len + (ch * p + r) * p);
                }
            }
        }
    }
}

impl Layer for Split {
    fn spec(&self) -> String {
        format!("patch split ({0}x{0})", self.size)
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        let [c, h, w] = match *input {
            [c, h, w] => [c, h, w],
            [h, w] => [1, h, w],
            _ => {
                return Err(Error::Spec(format!(
                    "patches(size={}): takes images (C, H, W), got samples of {input:?}",
                    self.size
                )))
            }
        };
        let p = self.size;
        if p == 0 || h % p != 0 || w % p != 0 {
            return Err(Error::Spec(format!(
                "patches(size={p}): {h}x{w} images do not divide into {p}x{p} patches; pick a size that divides both, e.g. 7 for 28x28"
            )));
        }
        self.image = [c, h, w];
        Ok(vec![(h / p) * (w / p), c * p * p])
    }

    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let per: usize = self.image.iter().product();
        if per == 0 || !x.len().is_multiple_of(per) || x.is_empty() {
            return Err(Error::Shape {
                context: self.spec(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, {}, {})", self.image[0], self.image[1], self.image[2]),
            });
        }
        let b = x.len() / per;
        let p = self.size;
        let n = (self.image[1] / p) * (self.image[2] / p);
        let mut y = std::mem::take(&mut self.y);
        y.resize(&[b, n, self.image[0] * p * p]);
        y.data_mut().par_chunks_mut(per).zip(x.data().par_chunks(per)).for_each(|(patches, image)| {
            self.runs(|i, o| patches[o..o + p].copy_from_slice(&image[i..i + p]));
        });
        self.y = y;
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        let per: usize = self.image.iter().product();
        let mut dx = std::mem::take(&mut self.dx);
        dx.resize(x.shape());
        let p = self.size;
        dx.data_mut().par_chunks_mut(per).zip(dy.data().par_chunks(per)).for_each(|(image, patches)| {
            self.runs(|i, o| image[i..i + p].copy_from_slice(&patches[o..o + p]));
        });
        self.dx = dx;
        Ok(&self.dx)
    }
}

/// `patches(size=P, dim=D)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchesConfig {
    pub size: usize,
    pub dim: usize,
}

impl fmt::Display for PatchesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "patches(size={}, dim={})", self.size, self.dim)
    }
}

impl LayerConfig for PatchesConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        let split = Split { size: self.size, image: [0; 3], y: Tensor::default(), dx: Tensor::default() };
        let parts: Vec<(&'static str, Box<dyn Layer>)> =
            vec![("split", Box::new(split)), ("proj", Box::new(PositionwiseDense::new(self.dim)))];
        Ok(Box::new(Chain::new(parts, self.to_string(), Skip::default())))
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["patches", "patch_embed"],
    usage: "patches(size=P, dim=D)",
    example: "patches(size=2, dim=8)",
    summary: "ViT patch embedding: images (C, H, W) to (N, D), each P x P patch flattened and projected",
    paper: "Dosovitskiy et al. 2021, ICLR",
    dropout: None,
    parse: |call| {
        let usage = "patches(size=7, dim=64)";
        let (mut size, mut dim) = (None, None);
        for arg in &call.args {
            let parsed = arg
                .split_once('=')
                .and_then(|(k, v)| Some((k.trim(), v.trim().parse::<usize>().ok().filter(|&n| n > 0)?)));
            match parsed {
                Some(("size", v)) => size = Some(v),
                Some(("dim", v)) => dim = Some(v),
                _ => {
                    return Err(
                        call.error(format!("'{arg}': expected size=P and dim=D, positive whole numbers; {usage}"))
                    )
                }
            }
        }
        match (size, dim) {
            (Some(size), Some(dim)) => one(PatchesConfig { size, dim }),
            _ => Err(call.error(format!("give size and dim; {usage}"))),
        }
    },
};
