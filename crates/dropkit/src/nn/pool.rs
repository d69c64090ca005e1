//! Max and average pooling, 1-d and 2-d, over windows of `kernel` moved by `stride` (default:
//! the kernel), no padding; output `(n - kernel) / stride + 1` per axis. Max pooling keeps the
//! index of each window's maximum (the first, on ties) and backward routes `dy` there; average
//! pooling spreads `dy / window` over the window.

use super::conv::{sliding_shape, Axis, Sliding};
use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;

/// Which reduction a pooling layer applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Average,
}

/// A pooling layer.
pub struct Pool {
    kind: PoolKind,
    dims: usize,
    rows: Axis,
    cols: Axis,
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    /// For max pooling: the input index (within its plane) of each output's maximum.
    argmax: Vec<u32>,
    y: Tensor,
    dx: Tensor,
}

impl Pool {
    pub fn new(kind: PoolKind, dims: usize, kernel: usize, stride: usize) -> Result<Self> {
        if kernel == 0 || stride == 0 {
            return Err(Error::Spec(format!(
                "pooling with kernel {kernel} and stride {stride}: both must be at least 1"
            )));
        }
        let along = Axis { kernel, stride, padding: 0 };
        let rows = if dims == 1 { Axis { kernel: 1, stride: 1, padding: 0 } } else { along };
        Ok(Pool {
            kind,
            dims,
            rows,
            cols: along,
            c: 0,
            h: 0,
            w: 0,
            ho: 0,
            wo: 0,
            argmax: Vec::new(),
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }
}

impl Layer for Pool {
    fn spec(&self) -> String {
        let name = if self.kind == PoolKind::Max { "maxpool" } else { "avgpool" };
        format!("{name}{}d({}, {})", self.dims, self.cols.kernel, self.cols.stride)
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        let Sliding { c, h, w, ho, wo } = sliding_shape(&self.spec(), input, self.dims, self.rows, self.cols)?;
        (self.c, self.h, self.w, self.ho, self.wo) = (c, h, w, ho, wo);
        Ok(if self.dims == 1 { vec![c, wo] } else { vec![c, ho, wo] })
    }

    // x: (B, C, H, W) -> y: (B, C, Ho, Wo)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let plane_in = self.h * self.w;
        if x.shape().is_empty() || plane_in == 0 || x.len() != x.rows() * self.c * plane_in {
            return Err(Error::Shape {
                context: self.spec(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, {}, {})", self.c, self.h, self.w),
            });
        }
        let batch = x.rows();
        let (w, ho, wo, ra, ca, kind) = (self.w, self.ho, self.wo, self.rows, self.cols, self.kind);
        let shape: Vec<usize> = if self.dims == 1 { vec![batch, self.c, wo] } else { vec![batch, self.c, ho, wo] };
        self.y.resize(&shape);
        self.argmax.resize(self.y.len(), 0);
        let window = (ra.kernel * ca.kernel) as f32;
        let planes_out = self.y.data_mut().par_chunks_mut(ho * wo).zip(self.argmax.par_chunks_mut(ho * wo));
        planes_out.zip(x.data().par_chunks(plane_in)).for_each(|((out, arg), src)| {
            for oi in 0..ho {
                for oj in 0..wo {
                    let (mut best, mut at, mut sum) = (f32::NEG_INFINITY, 0usize, 0f32);
                    for ki in 0..ra.kernel {
                        for kj in 0..ca.kernel {
                            let idx = (oi * ra.stride + ki) * w + oj * ca.stride + kj;
                            let v = src[idx];
                            sum += v;
                            if v > best || (ki == 0 && kj == 0) {
                                (best, at) = (v, idx);
                            }
                        }
                    }
                    out[oi * wo + oj] = if kind == PoolKind::Max { best } else { sum / window };
                    arg[oi * wo + oj] = at as u32;
                }
            }
        });
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if dy.len() != self.y.len() {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?}", self.y.shape()),
            });
        }
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        let (w, ho, wo, ra, ca, kind) = (self.w, self.ho, self.wo, self.rows, self.cols, self.kind);
        let window = (ra.kernel * ca.kernel) as f32;
        let argmax = &self.argmax;
        let planes = self.dx.data_mut().par_chunks_mut(self.h * w).zip(dy.data().par_chunks(ho * wo));
        planes.zip(argmax.par_chunks(ho * wo)).for_each(|((dx, dy), arg)| {
            dx.fill(0.0);
            for oi in 0..ho {
                for oj in 0..wo {
                    let g = dy[oi * wo + oj];
                    match kind {
                        PoolKind::Max => dx[arg[oi * wo + oj] as usize] += g,
                        PoolKind::Average => {
                            for ki in 0..ra.kernel {
                                for kj in 0..ca.kernel {
                                    dx[(oi * ra.stride + ki) * w + oj * ca.stride + kj] += g / window;
                                }
                            }
                        }
                    }
                }
            }
        });
        Ok(&self.dx)
    }
}

/// `maxpool(kernel, stride)` / `avgpool(...)`, 1-d or 2-d.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    pub kind: PoolKind,
    pub dims: usize,
    pub kernel: usize,
    pub stride: usize,
}

impl fmt::Display for PoolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.kind == PoolKind::Max { "maxpool" } else { "avgpool" };
        let dims = if self.dims == 1 { "1d" } else { "" };
        write!(f, "{name}{dims}({}", self.kernel)?;
        if self.stride != self.kernel {
            write!(f, ", {}", self.stride)?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for PoolConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Pool::new(self.kind, self.dims, self.kernel, self.stride)?))
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["maxpool", "maxpool2d", "maxpool1d", "avgpool", "avgpool2d", "avgpool1d"],
    usage: "maxpool(k[, stride])`, `avgpool(...)`, `...1d",
    example: "maxpool(2)",
    summary: "pooling over k x k windows (stride k by default)",
    paper: "",
    dropout: None,
    parse: |call| {
        let name = call.lower_name();
        call.expect(1, 2, &format!("{name}(kernel[, stride]), e.g. {name}(2)"))?;
        let kernel = call.size(0, "the kernel", Some(2))?;
        one(PoolConfig {
            kind: if name.starts_with("max") { PoolKind::Max } else { PoolKind::Average },
            dims: if name.ends_with("1d") { 1 } else { 2 },
            kernel,
            stride: call.size(1, "the stride", Some(kernel))?,
        })
    },
};
