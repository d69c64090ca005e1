//! Convolutions, 1-d and 2-d, by im2col and one GEMM per pass (a Conv1d is a Conv2d over
//! (C, 1, L)). With `cols` (C*kh*kw, B*Ho*Wo) the input patches:
//! forward `y (F, B*Ho*Wo) = W (F, C*kh*kw) cols + b`, permuted to (B, F, Ho, Wo);
//! backward `dW = dy cols^T`, `db = sum dy`, `dcols = W^T dy`, and `dx` gathers `dcols` back
//! (col2im). Output size `(H + 2 pad - k) / stride + 1` per axis. Every loop runs over
//! independent rows or planes, so results do not depend on the thread count.

use crate::error::{Error, Result};
use crate::init::glorot_uniform;
use crate::kernels::gemm::{matmul, MatRef};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;

/// Kernel size, stride and zero padding along one spatial axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Axis {
    /// The output length for input length `n`, if the kernel fits.
    pub fn output(&self, n: usize) -> Option<usize> {
        let padded = n + 2 * self.padding;
        (self.stride > 0 && padded >= self.kernel).then(|| (padded - self.kernel) / self.stride + 1)
    }
}

/// Input planes (C, H, W) and output size (Ho, Wo) of a sliding-window layer.
pub(crate) struct Sliding {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub ho: usize,
    pub wo: usize,
}

/// The input planes (C, H, W) and output size (Ho, Wo) of a `dims`-d sliding-window layer
/// (convolution or pooling) named `spec`: (C, L) is (C, 1, L) for 1-d layers.
pub(crate) fn sliding_shape(spec: &str, input: &[usize], dims: usize, rows: Axis, cols: Axis) -> Result<Sliding> {
    let (c, h, w) = match (dims, input) {
        (1, &[c, l]) => (c, 1, l),
        (2, &[c, h, w]) => (c, h, w),
        _ => {
            let want = if dims == 1 { "(channels, length)" } else { "(channels, height, width)" };
            return Err(Error::Shape {
                context: spec.into(),
                got: input.to_vec(),
                expected: format!("{want} per sample"),
            });
        }
    };
    match (rows.output(h), cols.output(w)) {
        (Some(ho), Some(wo)) => Ok(Sliding { c, h, w, ho, wo }),
        _ => Err(Error::Shape {
            context: spec.into(),
            got: input.to_vec(),
            expected: format!("inputs at least as large as the window ({})", cols.kernel),
        }),
    }
}

/// A 2-d (or 1-d) convolution with `filters` output channels.
pub struct Conv {
    dims: usize,
    filters: usize,
    rows: Axis,
    cols_axis: Axis,
    /// Input (C, H, W) and output (Ho, Wo).
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    weight: Param,
    bias: Param,
    cols: Vec<f32>,
    fm: Vec<f32>,
    y: Tensor,
    dx: Tensor,
}

impl Conv {
    /// A `dims`-d convolution (1 or 2) with square `kernel`, `stride` and `padding`.
    pub fn new(dims: usize, filters: usize, kernel: usize, stride: usize, padding: usize) -> Result<Self> {
        let name = format!("conv{dims}d({filters}, {kernel}, {stride}, {padding})");
        if filters == 0 || kernel == 0 || stride == 0 {
            return Err(Error::Spec(format!("{name}: filters, kernel size and stride must be at least 1")));
        }
        let along = Axis { kernel, stride, padding };
        let rows = if dims == 1 { Axis { kernel: 1, stride: 1, padding: 0 } } else { along };
        Ok(Conv {
            dims,
            filters,
            rows,
            cols_axis: along,
            c: 0,
            h: 0,
            w: 0,
            ho: 0,
            wo: 0,
            weight: Param::zeros(&[0], ParamKind::Weight),
            bias: Param::zeros(&[0], ParamKind::Bias),
            cols: Vec::new(),
            fm: Vec::new(),
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    fn patch(&self) -> usize {
        self.c * self.rows.kernel * self.cols_axis.kernel
    }

    /// Fills `cols` (C*kh*kw, B*Ho*Wo) with the input patches.
    fn im2col(&mut self, x: &[f32], batch: usize) {
        let (c, h, w, ho, wo) = (self.c, self.h, self.w, self.ho, self.wo);
        let (ra, ca) = (self.rows, self.cols_axis);
        let width = batch * ho * wo;
        self.cols.resize(self.patch() * width, 0.0);
        self.cols.par_chunks_mut(width).enumerate().for_each(|(r, row)| {
            let (ch, ki, kj) = (r / (ra.kernel * ca.kernel), (r / ca.kernel) % ra.kernel, r % ca.kernel);
            for b in 0..batch {
                let plane = &x[(b * c + ch) * h * w..(b * c + ch + 1) * h * w];
                for oi in 0..ho {
                    let i = (oi * ra.stride + ki) as isize - ra.padding as isize;
                    let out = &mut row[(b * ho + oi) * wo..(b * ho + oi + 1) * wo];
                    for (oj, o) in out.iter_mut().enumerate() {
                        let j = (oj * ca.stride + kj) as isize - ca.padding as isize;
                        *o = if i >= 0 && j >= 0 && (i as usize) < h && (j as usize) < w {
                            plane[i as usize * w + j as usize]
                        } else {
                            0.0
                        };
                    }
                }
            }
        });
    }
}

impl Layer for Conv {
    fn spec(&self) -> String {
        let a = self.cols_axis;
        format!("conv{}d({}, {}, {}, {})", self.dims, self.filters, a.kernel, a.stride, a.padding)
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let Sliding { c, h, w, ho, wo } = sliding_shape(&self.spec(), input, self.dims, self.rows, self.cols_axis)?;
        (self.c, self.h, self.w, self.ho, self.wo) = (c, h, w, ho, wo);
        let (kh, kw) = (self.rows.kernel, self.cols_axis.kernel);
        self.weight = Param::checked(&[self.filters, c, kh, kw], ParamKind::Weight, &self.spec())?;
        self.bias = Param::checked(&[self.filters], ParamKind::Bias, &self.spec())?;
        // Glorot uniform over the receptive field (Keras' default).
        glorot_uniform(self.weight.value.data_mut(), c * kh * kw, self.filters * kh * kw, init);
        Ok(if self.dims == 1 { vec![self.filters, wo] } else { vec![self.filters, ho, wo] })
    }

    // x: (B, C, H, W) -> y: (B, F, Ho, Wo)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let per_sample = self.c * self.h * self.w;
        if x.shape().is_empty() || per_sample == 0 || x.len() != x.rows() * per_sample {
            return Err(Error::Shape {
                context: self.spec(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, {}, {})", self.c, self.h, self.w),
            });
        }
        let (batch, f, area) = (x.rows(), self.filters, self.ho * self.wo);
        self.im2col(x.data(), batch);
        self.fm.resize(f * batch * area, 0.0);
        let patch = self.patch();
        let w = MatRef::new(self.weight.value.data(), f, patch);
        matmul(&mut self.fm, w, MatRef::new(&self.cols, patch, batch * area), false);
        let shape: Vec<usize> = if self.dims == 1 { vec![batch, f, self.wo] } else { vec![batch, f, self.ho, self.wo] };
        self.y.resize(&shape);
        let (fm, bias) = (&self.fm, self.bias.value.data());
        self.y.data_mut().par_chunks_mut(f * area).enumerate().for_each(|(b, sample)| {
            for (k, plane) in sample.chunks_mut(area).enumerate() {
                let src = &fm[(k * batch + b) * area..(k * batch + b + 1) * area];
                plane.iter_mut().zip(src).for_each(|(o, &v)| *o = v + bias[k]);
            }
        });
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let (batch, f, area, patch) = (x.rows(), self.filters, self.ho * self.wo, self.patch());
        if dy.len() != batch * f * area {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?}", self.y.shape()),
            });
        }
        // dy (B, F, area) -> fm (F, B*area)
        let dyd = dy.data();
        self.fm.par_chunks_mut(batch * area).enumerate().for_each(|(k, row)| {
            for (b, dst) in row.chunks_mut(area).enumerate() {
                dst.copy_from_slice(&dyd[(b * f + k) * area..(b * f + k + 1) * area]);
            }
        });
        let dy_fm = MatRef::new(&self.fm, f, batch * area);
        matmul(self.weight.grad.data_mut(), dy_fm, MatRef::new(&self.cols, patch, batch * area).t(), false);
        for (g, row) in self.bias.grad.data_mut().iter_mut().zip(self.fm.chunks(batch * area)) {
            *g = row.iter().map(|&v| v as f64).sum::<f64>() as f32;
        }
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        // dcols = W^T dy, reusing the cols buffer.
        let mut dcols = std::mem::take(&mut self.cols);
        let w = MatRef::new(self.weight.value.data(), f, patch);
        matmul(&mut dcols, w.t(), MatRef::new(&self.fm, f, batch * area), false);
        self.dx.resize(x.shape());
        let (c, h, wd, ho, wo) = (self.c, self.h, self.w, self.ho, self.wo);
        let (ra, ca) = (self.rows, self.cols_axis);
        let width = batch * area;
        // col2im, one (sample, channel) plane per task.
        self.dx.data_mut().par_chunks_mut(h * wd).enumerate().for_each(|(plane_index, plane)| {
            let (b, ch) = (plane_index / c, plane_index % c);
            plane.fill(0.0);
            for ki in 0..ra.kernel {
                for kj in 0..ca.kernel {
                    let r = (ch * ra.kernel + ki) * ca.kernel + kj;
                    let row = &dcols[r * width + b * area..r * width + (b + 1) * area];
                    for oi in 0..ho {
                        let i = (oi * ra.stride + ki) as isize - ra.padding as isize;
                        if i < 0 || i as usize >= h {
                            continue;
                        }
                        for oj in 0..wo {
                            let j = (oj * ca.stride + kj) as isize - ca.padding as isize;
                            if j >= 0 && (j as usize) < wd {
                                plane[i as usize * wd + j as usize] += row[oi * wo + oj];
                            }
                        }
                    }
                }
            }
        });
        // The buffer goes back holding dcols; the next forward pass rebuilds the patches.
        self.cols = dcols;
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }
}

/// `conv1d(...)` / `conv2d(filters, kernel, stride, padding)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvConfig {
    pub dims: usize,
    pub filters: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl fmt::Display for ConvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conv{}d({}, {}", self.dims, self.filters, self.kernel)?;
        if (self.stride, self.padding) != (1, 0) {
            write!(f, ", {}, {}", self.stride, self.padding)?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for ConvConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Conv::new(self.dims, self.filters, self.kernel, self.stride, self.padding)?))
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["conv2d", "conv1d"],
    usage: "conv1d(f, k[, stride[, padding]])`, `conv2d(...)",
    example: "conv2d(8, 3)",
    summary: "convolution with f filters of size k; padding a number, `same` or `valid`",
    paper: "",
    dropout: None,
    parse: |call| {
        let name = call.lower_name();
        call.expect(
            2,
            4,
            &format!("{name}(filters, kernel[, stride[, padding]]), e.g. {name}(32, 3) or {name}(32, 3, 1, same)"),
        )?;
        let kernel = call.size(1, "kernel", None)?;
        let padding = match call.arg(3).map(|a| a.to_ascii_lowercase()) {
            None => 0,
            Some(p) if p == "valid" => 0,
            // Keeps the size at stride 1 for odd kernels.
            Some(p) if p == "same" => kernel / 2,
            Some(_) => call.size(3, "padding (or same, valid)", None)?,
        };
        one(ConvConfig {
            dims: if name == "conv1d" { 1 } else { 2 },
            filters: call.size(0, "filters", None)?,
            kernel,
            stride: call.size(2, "stride", Some(1))?,
            padding,
        })
    },
};
