//! Dropout with a noise shape (Keras `noise_shape`, Flax `broadcast_dims`), and spatial
//! (channel) dropout built on it (Tompson, Goroshin, Jain, LeCun, Bregler, "Efficient Object
//! Localization Using Convolutional Networks", CVPR 2015, <https://arxiv.org/abs/1411.4280>).
//!
//! Drops: one Bernoulli(1 - p) draw per element of the noise tensor, whose shape is the input's
//! with every broadcast axis set to 1; the draw is shared along the broadcast axes. Spatial
//! dropout on (B, C, spatial...) broadcasts over the spatial axes: whole feature maps drop.
//! Scaling as inverted dropout: train `y = x * m / (1 - p)`, eval `y = x`; backward
//! `dx = dy * m / (1 - p)`. Monte Carlo: a fresh noise tensor per sample, scaled as in training.
//! The noise tensor is small and kept from the forward pass for the backward pass.
//!
//! DropPath / stochastic depth (Huang, Sun, Liu, Sedra, Weinberger, "Deep Networks with
//! Stochastic Depth", ECCV 2016, <https://arxiv.org/abs/1603.09382>; timm's `drop_path`) is
//! the case that broadcasts over every per-sample axis: whole samples of a residual branch
//! drop, `x + f(x) * m_b / (1 - p)`; put `droppath(p)` last in a `residual(...)` branch.

use super::{check_grad, drop_mask, inverted_scale, plain_kind, validate_p};
use crate::error::{Error, Result};
use crate::kernels::mask;
use crate::kind::{one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// Dropout whose mask is shared along `broadcast` axes (0 is the batch axis).
pub struct NoiseShapeDropout {
    p: f32,
    broadcast: Vec<usize>,
    /// The spec name: `noise_dropout`, or `spatial_dropout{1,2,3}d` (then `broadcast` is the
    /// spatial axes and the input rank is checked).
    name: String,
    spatial: Option<usize>,
    /// DropPath: broadcast over every per-sample axis (set at build time).
    per_sample: bool,
    id: u64,
    /// `m / (1 - p)` per noise element, from the last stochastic forward pass.
    noise: Vec<f32>,
    noise_shape: Vec<usize>,
    stochastic_pass: bool,
    y: Tensor,
    dx: Tensor,
}

impl NoiseShapeDropout {
    /// Dropout with drop probability `p` whose mask is shared along the axes `broadcast` of
    /// the input (axis 0 is the batch: one mask for all samples).
    pub fn new(p: f64, broadcast: Vec<usize>) -> Result<Self> {
        Self::named(p, broadcast, "noise_dropout".into(), None)
    }

    /// Spatial dropout for inputs (B, C, spatial...) with `dims` spatial axes (1, 2 or 3).
    pub fn spatial(p: f64, dims: usize) -> Result<Self> {
        if !(1..=3).contains(&dims) {
            return Err(Error::Spec(format!("spatial dropout has 1, 2 or 3 spatial dims, not {dims}")));
        }
        Self::named(p, (2..dims + 2).collect(), format!("spatial_dropout{dims}d"), Some(dims))
    }

    /// Locked dropout for (B, T, F) sequences: one mask per sequence, the same at every time
    /// step (between recurrent layers, Merity et al. 2018 after Gal and Ghahramani 2016).
    pub fn locked(p: f64) -> Result<Self> {
        Self::named(p, vec![1], "locked_dropout".into(), None)
    }

    /// DropPath: one draw per sample, shared by all its elements.
    pub fn per_sample(p: f64) -> Result<Self> {
        let mut d = Self::named(p, Vec::new(), "droppath".into(), None)?;
        d.per_sample = true;
        Ok(d)
    }

    fn named(p: f64, mut broadcast: Vec<usize>, name: String, spatial: Option<usize>) -> Result<Self> {
        let p = validate_p(&name, p)?;
        broadcast.sort_unstable();
        broadcast.dedup();
        Ok(NoiseShapeDropout {
            p,
            broadcast,
            name,
            spatial,
            per_sample: false,
            id: 0,
            noise: Vec::new(),
            noise_shape: Vec::new(),
            stochastic_pass: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// The noise tensor's shape for an input of `shape`.
    pub fn noise_shape(&self, shape: &[usize]) -> Vec<usize> {
        shape.iter().enumerate().map(|(d, &n)| if self.broadcast.contains(&d) { 1 } else { n }).collect()
    }

    fn check(&self, shape: &[usize]) -> Result<()> {
        let rank_ok = match self.spatial {
            Some(dims) => shape.len() == dims + 2,
            None => self.broadcast.iter().all(|&d| d < shape.len()),
        };
        if !rank_ok {
            let expected = match self.spatial {
                Some(dims) => format!("(batch, channels, {dims} spatial axes)"),
                None => format!(
                    "at least {} axes for broadcast axes {:?}",
                    self.broadcast.last().map_or(1, |d| d + 1),
                    self.broadcast
                ),
            };
            return Err(Error::Shape { context: self.spec(), got: shape.to_vec(), expected });
        }
        Ok(())
    }

    /// `out = src * noise` with the noise broadcast along its size-1 axes.
    fn multiply(out: &mut [f32], src: &[f32], noise: &[f32], shape: &[usize], noise_shape: &[usize]) {
        // Row-major walk; `inner` is the contiguous run at the last axis.
        let inner = shape.last().copied().unwrap_or(1);
        let last_shared = noise_shape.last() == Some(&1);
        let rows = src.len() / inner.max(1);
        let mut index = vec![0usize; shape.len().saturating_sub(1)];
        for r in 0..rows {
            // Offset into the noise tensor of this row's first element.
            let mut off = 0;
            for (d, &i) in index.iter().enumerate() {
                off = off * noise_shape[d] + if noise_shape[d] == 1 { 0 } else { i };
            }
            off *= noise_shape.last().copied().unwrap_or(1);
            let (o, x) = (&mut out[r * inner..(r + 1) * inner], &src[r * inner..(r + 1) * inner]);
            if last_shared {
                let m = noise[off];
                o.iter_mut().zip(x).for_each(|(o, &x)| *o = x * m);
            } else {
                o.iter_mut().zip(x).zip(&noise[off..off + inner]).for_each(|((o, &x), &m)| *o = x * m);
            }
            // Next row index (odometer over all axes but the last).
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
    }
}

impl Layer for NoiseShapeDropout {
    fn mask_bytes(&self) -> usize {
        (self.noise.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        match self.spatial {
            Some(_) => format!("{}({})", self.name, self.p),
            None if self.name != "noise_dropout" => format!("{}({})", self.name, self.p),
            None => {
                let dims: Vec<String> = self.broadcast.iter().map(|d| d.to_string()).collect();
                format!("{}({}, {})", self.name, self.p, dims.join("/"))
            }
        }
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        if self.per_sample {
            self.broadcast = (1..=input.len()).collect();
        }
        self.check(&[&[1], input].concat())?;
        Ok(input.to_vec())
    }

    // x: (B, ...) -> y: (B, ...)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.check(x.shape())?;
        self.y.resize(x.shape());
        let key = drop_mask(ctx, self.id, self.p);
        self.stochastic_pass = key.is_some();
        let Some(key) = key else {
            self.y.data_mut().copy_from_slice(x.data());
            return Ok(&self.y);
        };
        self.noise_shape = self.noise_shape(x.shape());
        let n: usize = self.noise_shape.iter().product();
        self.noise.resize(n, 0.0);
        mask::fill(&mut self.noise, &key, inverted_scale(self.p));
        Self::multiply(self.y.data_mut(), x.data(), &self.noise, x.shape(), &self.noise_shape);
        Ok(&self.y)
    }

    // dx = dy * noise, the forward pass's noise.
    fn backward(&mut self, _x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        check_grad(dy, &self.y, || self.spec())?;
        // The forward pass's shape: dy may come flattened.
        self.dx.resize(self.y.shape());
        if self.stochastic_pass {
            Self::multiply(self.dx.data_mut(), dy.data(), &self.noise, self.y.shape(), &self.noise_shape);
        } else {
            self.dx.data_mut().copy_from_slice(dy.data());
        }
        Ok(&self.dx)
    }

    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

plain_kind!(
    SPATIAL1D,
    ["spatial_dropout1d"],
    "drops whole channels of (B, C, L) inputs",
    "Tompson et al. 2015, CVPR",
    |p| Ok(Box::new(NoiseShapeDropout::spatial(p, 1)?))
);

plain_kind!(
    SPATIAL2D,
    ["spatial_dropout2d"],
    "drops whole feature maps of (B, C, H, W) inputs",
    "Tompson et al. 2015, CVPR",
    |p| Ok(Box::new(NoiseShapeDropout::spatial(p, 2)?))
);

plain_kind!(
    SPATIAL3D,
    ["spatial_dropout3d"],
    "drops whole volumes of (B, C, D, H, W) inputs",
    "Tompson et al. 2015, CVPR",
    |p| Ok(Box::new(NoiseShapeDropout::spatial(p, 3)?))
);

plain_kind!(
    LOCKED,
    ["locked_dropout"],
    "one mask per sequence, the same at every time step, between recurrent layers",
    "Gal and Ghahramani 2016, NeurIPS; Merity et al. 2018, ICLR",
    |p| Ok(Box::new(NoiseShapeDropout::locked(p)?))
);

plain_kind!(
    DROPPATH,
    ["droppath", "drop_path"],
    "stochastic depth: drops a residual branch for whole samples (last in `residual(...)`)",
    "Huang et al. 2016, ECCV",
    |p| Ok(Box::new(NoiseShapeDropout::per_sample(p)?))
);

/// `noise_dropout(p[, axes])`: the mask shared along `axes` (none: plain dropout, as Keras'
/// `noise_shape=None`).
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseShapeConfig {
    pub p: f64,
    pub axes: Vec<usize>,
}

impl std::fmt::Display for NoiseShapeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "noise_dropout({}", self.p)?;
        if !self.axes.is_empty() {
            let axes: Vec<String> = self.axes.iter().map(|a| a.to_string()).collect();
            write!(f, ", {}", axes.join("/"))?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for NoiseShapeConfig {
    fn kind(&self) -> &'static LayerKind {
        &NOISE_SHAPE
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(NoiseShapeDropout::new(self.p, self.axes.clone())?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.p]
    }
}

pub const NOISE_SHAPE: LayerKind = LayerKind {
    names: &["noise_dropout"],
    usage: "noise_dropout(p, axes)",
    example: "noise_dropout(0.3, 2/3)",
    summary: "one mask shared along the axes joined by `/` (0 is the batch), as Keras' `noise_shape`",
    paper: "Srivastava et al. 2014; Keras noise_shape",
    dropout: Some(Substitute::ForRate(|p| Ok(Box::new(NoiseShapeConfig { p, axes: Vec::new() })))),
    parse: |call| {
        call.expect(1, 2, "noise_dropout(p, axes): axes share the mask, joined by '/' (0 is the batch), e.g. 2/3")?;
        let axes = match call.arg(1) {
            None => Vec::new(),
            Some(axes) => axes
                .split('/')
                .map(|a| a.trim().parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| call.error(format!("axes '{axes}' must be axis numbers joined by '/', e.g. 2/3")))?,
        };
        one(NoiseShapeConfig { p: call.prob(0)?, axes })
    },
};
