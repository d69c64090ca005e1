//! Fusion, a rewrite of the typed layer list before anything is built: `dense -> relu ->
//! dropout` (and `dense -> relu`) become one layer, and so does `conv -> relu` (the ReLU in the
//! convolution's output pass, see [`crate::nn::conv`]). The GEMM writes `z = x W^T + b`, then a
//! single pass computes `y = relu(z) * m * s` with the keyed mask. For wide layers the GEMM
//! writes `(x W^T)^T`, which is faster, and that pass transposes and adds the bias as it goes.
//! Backward is a single pass too, and needs no mask regeneration: a unit has a nonzero gradient
//! exactly when it was kept *and* active, which is when `y > 0`, so `dz = dy * s * [y > 0]`.
//!
//! The fused layer computes bit for bit what the separate layers compute (same masks, same
//! rounding), and keeps their PyTorch names and indices (`layers.0.weight`, dropout id 2).

use super::registry::{downcast, LayerConfig};
use crate::dropout::standard::{CLASSIC, INVERTED};
use crate::dropout::{Dropout, RateConfig, Scaling};
use crate::error::{Error, Result};
use crate::kernels::{fill_rows_with_column_sums, mask, par_zip};
use crate::layer::{Ctx, Layer, Param};
use crate::nn::activation::ActivationConfig;
use crate::nn::conv::{Conv, ConvConfig};
use crate::nn::linear::{DenseConfig, Linear, Preactivation};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// `dense(units) relu [dropout(p)]` as one layer.
pub struct DenseBlock {
    linear: Linear,
    dropout: Option<Dropout>,
    /// The factor kept, active units were multiplied by in the last forward pass.
    kept_scale: f32,
    y: Tensor,  // (B, units)
    dz: Tensor, // (B, units)
    /// Column sums of each block of dz's rows, on the way to the bias gradient.
    db_blocks: Vec<f32>,
}

/// A layer to build and the spec positions it stands for: `index` keys its parameter names
/// (`layers.{index}.weight`) and masks, and it covers `index..index + len`.
pub struct Planned {
    pub layer: Box<dyn Layer>,
    pub index: usize,
    pub len: usize,
}

/// The layers to build for `configs`, with every `dense -> relu [-> dropout]` run fused into
/// one [`DenseBlock`], and every `conv -> relu` into one convolution, when `fuse` is set. Fused
/// or not, a layer keeps the index of its spec position, so names and masks are the same.
pub fn plan(configs: &[Box<dyn LayerConfig>], fuse: bool) -> Result<Vec<Planned>> {
    let mut out = Vec::with_capacity(configs.len());
    let mut i = 0;
    while let Some(config) = configs.get(i) {
        let block = if fuse { dense_block(configs, i)?.or(conv_relu(configs, i)?) } else { None };
        match block {
            Some((layer, len)) => {
                out.push(Planned { layer, index: i, len });
                i += len;
            }
            None => {
                out.push(Planned { layer: config.build()?, index: i, len: 1 });
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The block that starts at `configs[i]`, if a dense layer and a ReLU start there, with the
/// number of configs it covers (2, or 3 with a dropout).
fn dense_block(configs: &[Box<dyn LayerConfig>], i: usize) -> Result<Option<(Box<dyn Layer>, usize)>> {
    let at = |k: usize| configs.get(k).map(|c| c.as_ref());
    let Some(dense) = at(i).and_then(downcast::<DenseConfig>) else { return Ok(None) };
    if !at(i + 1).and_then(downcast::<ActivationConfig>).is_some_and(|a| a.is_relu()) {
        return Ok(None);
    }
    let dropout = match at(i + 2).and_then(downcast::<RateConfig>) {
        Some(d) if d.kind.name() == INVERTED.name() => Some(Dropout::new(d.p, Scaling::Inverted)?),
        Some(d) if d.kind.name() == CLASSIC.name() => Some(Dropout::new(d.p, Scaling::Classic)?),
        _ => None,
    };
    let len = if dropout.is_some() { 3 } else { 2 };
    let block = DenseBlock {
        linear: Linear::new(dense.units)?.with_init(dense.init),
        dropout,
        kept_scale: 1.0,
        y: Tensor::default(),
        dz: Tensor::default(),
        db_blocks: Vec::new(),
    };
    Ok(Some((Box::new(block), len)))
}

/// `conv -> relu` at `configs[i]`, as one convolution that applies the ReLU in its output pass
/// (and its gradient before its products): two passes over the feature maps fewer each way.
fn conv_relu(configs: &[Box<dyn LayerConfig>], i: usize) -> Result<Option<(Box<dyn Layer>, usize)>> {
    let at = |k: usize| configs.get(k).map(|c| c.as_ref());
    let Some(conv) = at(i).and_then(downcast::<ConvConfig>) else { return Ok(None) };
    if !at(i + 1).and_then(downcast::<ActivationConfig>).is_some_and(|a| a.is_relu()) {
        return Ok(None);
    }
    let layer = Conv::new(conv.dims, conv.filters, conv.kernel, conv.stride, conv.padding)?.with_relu();
    Ok(Some((Box::new(layer), 2)))
}

impl Layer for DenseBlock {
    fn spec(&self) -> String {
        let mut s = format!("{} relu", self.linear.spec());
        if let Some(d) = &self.dropout {
            s.push(' ');
            s.push_str(&d.spec());
        }
        s
    }

    fn output(&self) -> &Tensor {
        &self.y
    }

    fn input_grad(&self) -> &Tensor {
        self.linear.input_grad()
    }

    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let out = self.linear.build(input, id, init)?;
        if let Some(d) = &mut self.dropout {
            // The dropout's spec position is two after the dense layer's: it keys the same
            // masks as the unfused dropout layer.
            d.build(&out, id + 2, init)?;
        }
        Ok(out)
    }

    // x: (B, in) -> z = x W^T + b: (B, units) -> y = relu(z) * m * s: (B, units)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let (mask, scale) = match &self.dropout {
            Some(d) => match d.mask_for(ctx) {
                Some(key) => (Some(key), d.keep_scale()),
                None => (None, d.deterministic_scale(ctx)),
            },
            None => (None, 1.0),
        };
        self.kept_scale = scale;
        let units = self.linear.units();
        match self.linear.preactivation(x, mask::fuses_transposed(units))? {
            // Wide outputs: transpose, ReLU and mask in one pass.
            Preactivation::Transposed { product, bias } => {
                self.y.resize(&[x.rows(), units]);
                mask::apply_relu_transposed(self.y.data_mut(), product, x.rows(), units, bias, mask.as_ref(), scale);
            }
            Preactivation::RowMajor(z) => {
                self.y.resize(z.shape());
                match mask {
                    Some(key) => mask::apply_relu(self.y.data_mut(), z.data(), &key, scale),
                    None => par_zip(self.y.data_mut(), z.data(), |y, z, _| {
                        y.iter_mut().zip(z).for_each(|(y, &z)| *y = z.max(0.0) * scale)
                    }),
                }
            }
        }
        Ok(&self.y)
    }

    // dz = dy * s * [y > 0] and db = sum_rows(dz) in one pass; then dx and dW.
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if dy.shape() != self.y.shape() {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?}, the shape of its output", self.y.shape()),
            });
        }
        self.dz.resize(dy.shape());
        let (y, dy, s) = (self.y.data(), dy.data(), self.kept_scale);
        let (dz, units) = (self.dz.data_mut(), self.linear.units());
        fill_rows_with_column_sums(dz, units, self.linear.bias_grad_mut(), &mut self.db_blocks, |dz, first| {
            let (dy, y) = (&dy[first..first + dz.len()], &y[first..first + dz.len()]);
            for ((g, &d), &y) in dz.iter_mut().zip(dy).zip(y) {
                // Multiplying first makes the loop a vector multiply and blend (twice as fast
                // as a branch per element); the result is the same.
                let kept = d * s;
                *g = if y > 0.0 { kept } else { 0.0 };
            }
        });
        self.linear.backward_products(x, &self.dz, ctx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        self.linear.visit_params(f)
    }

    fn is_stochastic(&self) -> bool {
        self.dropout.as_ref().is_some_and(|d| d.is_stochastic())
    }
}
