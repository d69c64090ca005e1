//! Fusion of `dense -> relu -> dropout` (and `dense -> relu`) into one layer: the GEMM writes
//! `z = x W^T + b`, then a single pass computes `y = relu(z) * m * s` with the keyed mask. For
//! wide layers the GEMM writes `(x W^T)^T`, which is faster, and that pass transposes and adds
//! the bias as it goes. Backward is a single pass too, and needs no mask
//! regeneration: a unit has a nonzero gradient exactly when it was kept *and* active, which is
//! when `y > 0`, so `dz = dy * s * [y > 0]`.
//!
//! The fused layer computes bit for bit what the separate layers compute (same masks, same
//! rounding), and keeps their PyTorch names and indices (`layers.0.weight`, dropout id 2).

use super::linear::Preactivation;
use super::Linear;
use crate::dropout::{Dropout, Scaling};
use crate::error::{Error, Result};
use crate::kernels::{fill_rows_with_column_sums, mask, par_zip};
use crate::layer::{Ctx, Layer, Mode, Param};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// What a layer can contribute to a fused block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FusionRole {
    None,
    Dense { units: usize },
    Relu,
    Dropout { p: f32, scaling: Scaling },
}

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

/// Layers, and for each the index of its first original layer.
pub type FusedLayers = (Vec<Box<dyn Layer>>, Vec<usize>);

/// Replaces every `dense -> relu [-> dropout]` run of unbuilt `layers` with a [`DenseBlock`].
/// Returns the new layers and, for each, the index of its first original layer.
pub fn fuse(layers: Vec<Box<dyn Layer>>) -> Result<FusedLayers> {
    let roles: Vec<FusionRole> = layers.iter().map(|l| l.fusion_role()).collect();
    let mut out: Vec<Box<dyn Layer>> = Vec::with_capacity(layers.len());
    let mut origin = Vec::with_capacity(layers.len());
    let mut it = layers.into_iter().enumerate().peekable();
    while let Some((i, layer)) = it.next() {
        let (FusionRole::Dense { units }, Some(FusionRole::Relu)) = (roles[i], roles.get(i + 1).copied()) else {
            out.push(layer);
            origin.push(i);
            continue;
        };
        it.next(); // the relu
        let dropout = match roles.get(i + 2) {
            Some(&FusionRole::Dropout { p, scaling }) => {
                it.next();
                Some(Dropout::new(p as f64, scaling)?)
            }
            _ => None,
        };
        let block = DenseBlock {
            linear: Linear::new(units)?,
            dropout,
            kept_scale: 1.0,
            y: Tensor::default(),
            dz: Tensor::default(),
            db_blocks: Vec::new(),
        };
        out.push(Box::new(block));
        origin.push(i);
    }
    Ok((out, origin))
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

    fn build(&mut self, input: &[usize], id: u32, init: &mut Stream) -> Result<Vec<usize>> {
        let out = self.linear.build(input, id, init)?;
        if let Some(d) = &mut self.dropout {
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

    fn set_mode_override(&mut self, mode: Option<Mode>) -> bool {
        self.dropout.as_mut().is_some_and(|d| d.set_mode_override(mode))
    }

    fn mode_part(&self) -> Option<usize> {
        self.dropout.as_ref().map(|_| 2)
    }

    fn is_stochastic(&self) -> bool {
        self.dropout.as_ref().is_some_and(|d| d.is_stochastic())
    }
}
