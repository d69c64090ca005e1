//! DropBlock (Ghiasi, Lin, Le, "DropBlock: A regularization method for convolutional
//! networks", NeurIPS 2018, <https://arxiv.org/abs/1810.12890>).
//!
//! Drops: contiguous `block x block` squares of each feature map of (B, C, H, W) inputs. Block
//! centres are drawn with `gamma = p / block^2 * H W / ((H - block + 1)(W - block + 1))`
//! where a whole block fits, so that about a fraction p of units drops. Scaling:
//! `y = x * M * numel(M) / sum(M)`, which keeps the mean exactly. The rate follows a linear
//! schedule, `p_t = p * min(1, step / ramp)` over the first `ramp` optimizer steps (0: the full
//! rate from the start). Eval: `y = x`. Monte Carlo: a fresh mask per sample at the full rate.
//! Backward: `dx = dy * M * numel(M) / sum(M)` with the forward pass's mask.

use super::{check_grad, mask_key, validate_p};
use crate::error::{Error, Result};
use crate::kernels::mask;
use crate::kind::{one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer, Mode};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// DropBlock on (B, C, H, W) inputs.
pub struct DropBlock {
    p: f32,
    block: usize,
    ramp: u64,
    id: u64,
    /// The mask times its scale, from the last stochastic forward pass.
    mask: Vec<f32>,
    seeds: Vec<f32>,
    stochastic_pass: bool,
    y: Tensor,
    dx: Tensor,
}

impl DropBlock {
    /// DropBlock dropping about a fraction `p` of units in `block x block` squares, the rate
    /// ramped up linearly over `ramp` steps.
    pub fn new(p: f64, block: usize, ramp: u64) -> Result<Self> {
        let p = validate_p("dropblock", p)?;
        if block == 0 {
            return Err(Error::InvalidArgument("dropblock block size 0: blocks are at least 1 x 1".into()));
        }
        Ok(DropBlock {
            p,
            block,
            ramp,
            id: 0,
            mask: Vec::new(),
            seeds: Vec::new(),
            stochastic_pass: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// The rate at `step` of training (the full rate in Monte Carlo passes).
    pub fn rate_at(&self, mode: Mode, step: u64) -> f32 {
        match mode {
            Mode::Train if self.ramp > 0 => self.p * (step as f32 / self.ramp as f32).min(1.0),
            _ => self.p,
        }
    }
}

impl Layer for DropBlock {
    fn mask_bytes(&self) -> usize {
        (self.mask.len() + self.seeds.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        format!("dropblock({}, {}, {})", self.p, self.block, self.ramp)
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        match input {
            &[_, h, w] if h >= self.block && w >= self.block => Ok(input.to_vec()),
            _ => Err(Error::Shape {
                context: self.spec(),
                got: input.to_vec(),
                expected: format!(
                    "(channels, height, width) per sample, each side at least the block size {}",
                    self.block
                ),
            }),
        }
    }
    // x: (B, C, H, W) -> y: (B, C, H, W)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let (h, w) = match *x.shape() {
            [_, _, h, w] if h >= self.block && w >= self.block => (h, w),
            _ => {
                return Err(Error::Shape {
                    context: self.spec(),
                    got: x.shape().to_vec(),
                    expected: format!("(B, C, H, W) with H and W at least the block size {}", self.block),
                })
            }
        };
        self.y.resize(x.shape());
        let p = self.rate_at(ctx.mode, ctx.step) as f64;
        let bs = self.block;
        let valid = ((h - bs + 1) * (w - bs + 1)) as f64;
        let gamma = (p / (bs * bs) as f64 * (h * w) as f64 / valid).min(1.0);
        // Seeds are "kept" draws with probability gamma.
        let key = mask_key(ctx, self.id, gamma).filter(|_| p > 0.0);
        self.stochastic_pass = key.is_some();
        let Some(key) = key else {
            self.y.data_mut().copy_from_slice(x.data());
            return Ok(&self.y);
        };
        let n = x.len();
        self.seeds.resize(n, 0.0);
        mask::fill(&mut self.seeds, &key, 1.0);
        self.mask.clear();
        self.mask.resize(n, 1.0);
        let (lo, span) = (bs / 2, bs);
        for (plane, mask) in self.seeds.chunks(h * w).zip(self.mask.chunks_mut(h * w)) {
            for ci in 0..=h - bs {
                for cj in 0..=w - bs {
                    // Centres lie where the whole block fits.
                    if plane[(ci + lo) * w + cj + lo] > 0.0 {
                        for i in ci..ci + span {
                            mask[i * w + cj..i * w + cj + span].fill(0.0);
                        }
                    }
                }
            }
        }
        let kept = self.mask.iter().map(|&m| m as f64).sum::<f64>();
        let scale = if kept > 0.0 { (n as f64 / kept) as f32 } else { 0.0 };
        self.mask.iter_mut().for_each(|m| *m *= scale);
        self.y.data_mut().iter_mut().zip(x.data()).zip(&self.mask).for_each(|((y, &x), &m)| *y = x * m);
        Ok(&self.y)
    }
    fn backward(&mut self, _x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        check_grad(dy, &self.y, || self.spec())?;
        self.dx.resize(self.y.shape());
        if self.stochastic_pass {
            self.dx.data_mut().iter_mut().zip(dy.data()).zip(&self.mask).for_each(|((d, &g), &m)| *d = g * m);
        } else {
            self.dx.data_mut().copy_from_slice(dy.data());
        }
        Ok(&self.dx)
    }
    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

/// `dropblock(p, block[, ramp_steps])`.
#[derive(Clone, Debug, PartialEq)]
pub struct DropBlockConfig {
    pub p: f64,
    pub block: usize,
    pub ramp: u64,
}

/// The block size when dropblock stands in for another dropout (the paper's and timm's 7).
const DEFAULT_BLOCK: usize = 7;

impl std::fmt::Display for DropBlockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dropblock({}, {}", self.p, self.block)?;
        if self.ramp > 0 {
            write!(f, ", {}", self.ramp)?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for DropBlockConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(DropBlock::new(self.p, self.block, self.ramp)?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.p]
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["dropblock"],
    usage: "dropblock(p, block[, ramp])",
    example: "dropblock(0.1, 3, 100)",
    summary: "drops block x block squares of feature maps; the rate ramps up linearly over `ramp` steps (in place of dropout(p): block 7)",
    paper: "Ghiasi et al. 2018, NeurIPS",
    dropout: Some(Substitute::ForRate(|p| Ok(Box::new(DropBlockConfig { p, block: DEFAULT_BLOCK, ramp: 0 })))),
    parse: |call| {
        call.expect(2, 3, "dropblock(p, block[, ramp_steps]), e.g. dropblock(0.1, 5) or dropblock(0.1, 5, 5000)")?;
        one(DropBlockConfig {
            p: call.prob(0)?,
            block: call.size(1, "the block size", None)?,
            ramp: call.whole(2, "the ramp (steps)", Some(0))?,
        })
    },
};
