//! Convolutions, 1-d and 2-d (a Conv1d is a Conv2d over (C, 1, L)), one sample at a time:
//! its patches `cols_b` (C*kh*kw, Ho*Wo) are built in this thread's cache, then
//! forward `y_b (F, Ho*Wo) = W (F, C*kh*kw) cols_b + b`, written in its place in (B, F, Ho, Wo);
//! backward `dW = sum_b dy_b cols_b^T` (in groups of samples), `db = sum dy`, and
//! `dcols_b = W^T dy_b` gathered back into dx_b (col2im). Output size `(H + 2 pad - k) /
//! stride + 1` per axis. One patch matrix for the whole batch, as before, was 85 MB for the
//! bench CNN's second layer (288 x 73,728), written and read four times a step from memory:
//! per sample, that epoch took 9.7 s instead of 13.1 (same machine, same run). Every sum runs
//! in an order fixed by the batch, so results do not depend on the thread count.

use crate::error::{Error, Result};
use crate::init::glorot_uniform;
use crate::kernels::activation::ActivationKind;
use crate::kernels::add_to;
use crate::kernels::fastmath::vectorized;
use crate::kernels::gemm::{matmul_in_task, MatRef};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::cell::RefCell;
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

    /// The outputs `o` in `0..out` whose tap `k` reads inside the input, `0 <= o * stride + k
    /// - padding < n`: a range, so that the loops over it need no test per element.
    fn inside(&self, k: usize, n: usize, out: usize) -> std::ops::Range<usize> {
        // o * stride >= padding - k, and o * stride <= n - 1 + padding - k.
        let lo = self.padding.saturating_sub(k).div_ceil(self.stride);
        let hi = match (n + self.padding).checked_sub(k + 1) {
            Some(top) => (top / self.stride + 1).min(out),
            None => 0,
        };
        lo.min(hi)..hi
    }

    /// The input position read by output `o`'s tap `k` (`o` inside [`Axis::inside`]).
    fn input(&self, o: usize, k: usize) -> usize {
        o * self.stride + k - self.padding
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
    /// A ReLU fused into the output pass (`conv2d(..) relu` as one layer): `y = max(0, z)`,
    /// and backward `dz = dy [y > 0]`, the separate layers' bits.
    relu: bool,
    /// Each group of samples' weight gradient (groups, F, C*kh*kw) and bias gradient (groups, F).
    dw_groups: Vec<f32>,
    db_groups: Vec<f64>,
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
            relu: false,
            dw_groups: Vec::new(),
            db_groups: Vec::new(),
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// This convolution with the ReLU after it fused into its passes.
    pub fn with_relu(self) -> Self {
        Conv { relu: true, ..self }
    }

    fn geometry(&self) -> Geometry {
        let (c, h, w, ho, wo) = (self.c, self.h, self.w, self.ho, self.wo);
        Geometry { c, h, w, ho, wo, rows: self.rows, cols: self.cols_axis }
    }
}

/// Samples per group of the weight and bias gradients: a group sums its samples' products in
/// order, then the groups' sums are added in order, so the bits depend on the batch alone.
const GROUP: usize = 8;

/// Planes whose f64 sums [`add_plane_sums`] runs side by side.
const PLANES: usize = 8;

/// `sums[k] += sum of plane k` of `m` (planes of `area` values), in f64, each plane's values
/// added in order from -0.0 as `Iterator::sum` does: the bits of summing one plane after
/// another. Eight planes at a time, so that their sums are eight independent chains of adds
/// rather than one (a plane's 576 dependent adds were 3-4 cycles each).
fn add_plane_sums(m: &[f32], area: usize, sums: &mut [f64]) {
    for (planes, out) in m.chunks(PLANES * area).zip(sums.chunks_mut(PLANES)) {
        let mut acc = [-0.0f64; PLANES];
        for p in 0..area {
            for (k, a) in acc.iter_mut().enumerate().take(out.len()) {
                *a += planes[k * area + p] as f64;
            }
        }
        out.iter_mut().zip(acc).for_each(|(s, a)| *s += a);
    }
}

thread_local! {
    /// This thread's buffers for one sample, reused: its patches (C*kh*kw, Ho*Wo), their
    /// gradient, and the gradient of a fused ReLU's input (F, Ho*Wo).
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { cols: Vec::new(), dcols: Vec::new(), dz: Vec::new() }) };
}

struct Scratch {
    cols: Vec<f32>,
    dcols: Vec<f32>,
    dz: Vec<f32>,
}

/// Runs `work` with this thread's scratch buffers (fresh ones if they are in use).
fn with_scratch<R>(work: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => work(&mut scratch),
        Err(_) => work(&mut Scratch { cols: Vec::new(), dcols: Vec::new(), dz: Vec::new() }),
    })
}

/// The input planes (C, H, W), the output (Ho, Wo) and the axes of a convolution.
#[derive(Clone, Copy)]
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    rows: Axis,
    cols: Axis,
}

impl Geometry {
    fn patch(&self) -> usize {
        self.c * self.rows.kernel * self.cols.kernel
    }

    fn area(&self) -> usize {
        self.ho * self.wo
    }

    fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// One sample's patches into `cols` (C*kh*kw, Ho*Wo): row (c, ki, kj) holds, for each output
    /// position, the input value its tap (ki, kj) reads (zero in the padding). Along a row of
    /// output, the taps inside the input are one run, copied whole when the stride is 1.
    fn im2col(&self, x: &[f32], cols: &mut Vec<f32>) {
        let (h, w, wo) = (self.h, self.w, self.wo);
        let (ra, ca) = (self.rows, self.cols);
        cols.resize(self.patch() * self.area(), 0.0);
        for (r, row) in cols.chunks_exact_mut(self.area()).enumerate() {
            let (ch, ki, kj) = (r / (ra.kernel * ca.kernel), (r / ca.kernel) % ra.kernel, r % ca.kernel);
            let (rows_in, cols_in) = (ra.inside(ki, h, self.ho), ca.inside(kj, w, wo));
            let plane = &x[ch * h * w..(ch + 1) * h * w];
            for (oi, out) in row.chunks_exact_mut(wo).enumerate() {
                if !rows_in.contains(&oi) {
                    out.fill(0.0);
                    continue;
                }
                let line = &plane[ra.input(oi, ki) * w..][..w];
                out[..cols_in.start].fill(0.0);
                out[cols_in.end..].fill(0.0);
                let run = &mut out[cols_in.clone()];
                if ca.stride == 1 {
                    let j0 = ca.input(cols_in.start, kj);
                    run.copy_from_slice(&line[j0..j0 + run.len()]);
                } else {
                    for (o, oj) in run.iter_mut().zip(cols_in.clone()) {
                        *o = line[ca.input(oj, kj)];
                    }
                }
            }
        }
    }

    /// One sample's input gradient `dx` (C, H, W) from its patches' gradient `dcols`: each
    /// input value sums the taps that read it, tap after tap, each tap's run of outputs along a
    /// row at once.
    fn col2im(&self, dcols: &[f32], dx: &mut [f32]) {
        let (h, w, wo, area) = (self.h, self.w, self.wo, self.area());
        let (ra, ca) = (self.rows, self.cols);
        for (ch, plane) in dx.chunks_exact_mut(h * w).enumerate() {
            plane.fill(0.0);
            for ki in 0..ra.kernel {
                for kj in 0..ca.kernel {
                    let r = (ch * ra.kernel + ki) * ca.kernel + kj;
                    let row = &dcols[r * area..(r + 1) * area];
                    let cols_in = ca.inside(kj, w, wo);
                    for oi in ra.inside(ki, h, self.ho) {
                        let line = &mut plane[ra.input(oi, ki) * w..][..w];
                        let grads = &row[oi * wo + cols_in.start..oi * wo + cols_in.end];
                        if ca.stride == 1 {
                            let j0 = ca.input(cols_in.start, kj);
                            line[j0..j0 + grads.len()].iter_mut().zip(grads).for_each(|(d, &g)| *d += g);
                        } else {
                            for (&g, oj) in grads.iter().zip(cols_in.clone()) {
                                line[ca.input(oj, kj)] += g;
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Layer for Conv {
    fn spec(&self) -> String {
        let a = self.cols_axis;
        let relu = if self.relu { " relu" } else { "" };
        format!("conv{}d({}, {}, {}, {}){relu}", self.dims, self.filters, a.kernel, a.stride, a.padding)
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

    // x: (B, C, H, W) -> y: (B, F, Ho, Wo), one sample per task: its patches, in this thread's
    // cache, then `y_b (F, Ho*Wo) = W cols_b + b` straight into its place in y.
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let g = self.geometry();
        if x.shape().is_empty() || g.input_len() == 0 || x.len() != x.rows() * g.input_len() {
            return Err(Error::Shape {
                context: self.spec(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, {}, {})", self.c, self.h, self.w),
            });
        }
        let (batch, f, area, patch) = (x.rows(), self.filters, g.area(), g.patch());
        let shape: Vec<usize> = if self.dims == 1 { vec![batch, f, self.wo] } else { vec![batch, f, self.ho, self.wo] };
        self.y.resize(&shape);
        let w = MatRef::new(self.weight.value.data(), f, patch);
        let (xd, bias, relu) = (x.data(), self.bias.value.data(), self.relu);
        self.y.data_mut().par_chunks_mut(f * area).zip(xd.par_chunks(g.input_len())).for_each(|(y_b, x_b)| {
            with_scratch(|Scratch { cols, .. }| {
                g.im2col(x_b, cols);
                matmul_in_task(y_b, w, MatRef::new(cols, patch, area), false);
                vectorized(
                    #[inline(always)]
                    || {
                        for (plane, &bk) in y_b.chunks_exact_mut(area).zip(bias) {
                            if relu {
                                plane.iter_mut().for_each(|v| *v = ActivationKind::Relu.apply(*v + bk));
                            } else {
                                plane.iter_mut().for_each(|v| *v += bk);
                            }
                        }
                    },
                );
            })
        });
        Ok(&self.y)
    }

    // In groups of GROUP samples, one group per task; per sample, its patches again, then
    // `dW_g += dy_b cols_b^T`, `db_g += sum dy_b` and, unless this is the first layer,
    // `dcols = W^T dy_b` gathered into dx_b (col2im). Then dW and db sum the groups in order.
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let g = self.geometry();
        let (batch, f, area, patch) = (x.rows(), self.filters, g.area(), g.patch());
        if dy.len() != batch * f * area {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?}", self.y.shape()),
            });
        }
        let groups = batch.div_ceil(GROUP);
        self.dw_groups.resize(groups * f * patch, 0.0);
        self.db_groups.resize(groups * f, 0.0);
        self.dx.resize(x.shape());
        let w = MatRef::new(self.weight.value.data(), f, patch);
        let (xd, dyd, input_grad) = (x.data(), dy.data(), ctx.input_grad);
        let (relu, y) = (self.relu, self.y.data());
        let tasks = self.dw_groups.par_chunks_mut(f * patch).zip(self.db_groups.par_chunks_mut(f));
        let tasks = tasks.zip(self.dx.data_mut().par_chunks_mut(GROUP * g.input_len())).enumerate();
        tasks.for_each(|(group, ((dw, db), dx_group))| {
            with_scratch(|Scratch { cols, dcols, dz }| {
                db.fill(0.0);
                for (j, dx_b) in dx_group.chunks_exact_mut(g.input_len()).enumerate() {
                    let b = group * GROUP + j;
                    let mut dy_b = &dyd[b * f * area..(b + 1) * f * area];
                    if relu {
                        dz.resize(f * area, 0.0);
                        let y_b = &y[b * f * area..(b + 1) * f * area];
                        vectorized(
                            #[inline(always)]
                            || {
                                for ((z, &d), &y) in dz.iter_mut().zip(dy_b).zip(y_b) {
                                    *z = if y > 0.0 { d } else { 0.0 };
                                }
                            },
                        );
                        dy_b = dz;
                    }
                    g.im2col(&xd[b * g.input_len()..(b + 1) * g.input_len()], cols);
                    let dy_m = MatRef::new(dy_b, f, area);
                    matmul_in_task(dw, dy_m, MatRef::new(cols, patch, area).t(), j > 0);
                    add_plane_sums(dy_b, area, db);
                    if input_grad {
                        dcols.resize(patch * area, 0.0);
                        matmul_in_task(dcols, w.t(), dy_m, false);
                        g.col2im(dcols, dx_b);
                    }
                }
            })
        });
        let (dw, db) = (self.weight.grad.data_mut(), self.bias.grad.data_mut());
        dw.fill(0.0);
        self.dw_groups.chunks_exact(f * patch).for_each(|part| add_to(dw, part));
        for (k, d) in db.iter_mut().enumerate() {
            *d = self.db_groups.iter().skip(k).step_by(f).sum::<f64>() as f32;
        }
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

#[cfg(test)]
mod tests {
    use super::Axis;

    #[test]
    fn the_taps_inside_the_input_are_the_range_a_direct_test_finds() {
        for (kernel, stride, padding) in [(1, 1, 0), (3, 1, 0), (3, 1, 1), (2, 2, 0), (3, 2, 1), (5, 3, 4), (7, 1, 3)] {
            let axis = Axis { kernel, stride, padding };
            for n in 1..12 {
                let Some(out) = axis.output(n) else { continue };
                for k in 0..kernel {
                    let direct: Vec<usize> = (0..out)
                        .filter(|&o| (0..n as isize).contains(&((o * stride + k) as isize - padding as isize)))
                        .collect();
                    let range: Vec<usize> = axis.inside(k, n, out).collect();
                    assert_eq!(range, direct, "kernel {kernel} stride {stride} padding {padding} n {n} tap {k}");
                    assert!(range.iter().all(|&o| axis.input(o, k) < n));
                }
            }
        }
    }
}
