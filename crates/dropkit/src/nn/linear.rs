//! Fully connected layer: `y = x W^T + b`, PyTorch's `nn.Linear` layout (weight (out, in)).
//!
//! Backward: `dW = dy^T x`, `db = sum_rows(dy)`, `dx = dy W`
//! (<https://cs231n.github.io/optimization-2/#mat>).

use super::check_input;
use crate::error::{Error, Result};
use crate::kernels::gemm::{faster_transposed, matmul, matmul_transposed, MatRef};
use crate::kernels::{add_to, column_sums, par_blocks, transpose, CHUNK};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// Dense layer with `units` outputs; input features are the product of the input shape.
pub struct Linear {
    units: usize,
    in_features: usize,
    weight: Param, // (units, in_features)
    bias: Param,   // (units)
    init: Init,
    y: Tensor,  // (B, units)
    dx: Tensor, // (B, in_features)
    /// `(x W^T)^T`, for wide outputs (see [`affine`]).
    yt: Vec<f32>,
}

/// Glorot/Xavier uniform, Keras' default: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
pub(crate) fn glorot_uniform(values: &mut [f32], fan_in: usize, fan_out: usize, init: &mut Stream) {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    for v in values {
        *v = (2.0 * init.uniform() - 1.0) * a;
    }
}

/// Sets every row of `dst` to `bias`: the start of an affine map `x W^T + b` whose GEMM
/// accumulates into it.
pub(crate) fn broadcast_rows(dst: &mut [f32], bias: &[f32]) {
    for row in dst.chunks_exact_mut(bias.len().max(1)) {
        row.copy_from_slice(bias);
    }
}

/// `y (B, units) = x (B, in) W^T + b` for W (units, in): the GEMM writes the product and the
/// bias is added after it (in the same pass as the transpose, for wide outputs, which are
/// computed transposed into `scratch` because that is faster: [`faster_transposed`]).
pub(crate) fn affine(y: &mut [f32], x: &[f32], w: &[f32], bias: &[f32], batch: usize, scratch: &mut Vec<f32>) {
    let (units, inputs) = (bias.len(), w.len() / bias.len().max(1));
    if faster_transposed(batch, units) {
        product_transposed(scratch, x, w, units, batch);
        transpose(y, scratch, batch, units, Some(bias));
    } else {
        matmul(y, MatRef::new(x, batch, inputs), MatRef::new(w, units, inputs).t(), false);
        let units = units.max(1);
        par_blocks(y, (CHUNK / units).max(1) * units, |_, rows| {
            rows.chunks_exact_mut(units).for_each(|row| add_to(row, bias));
        });
    }
}

/// `(x W^T)^T (units, B)` into `pt`, without the bias.
fn product_transposed(pt: &mut Vec<f32>, x: &[f32], w: &[f32], units: usize, batch: usize) {
    let inputs = w.len() / units.max(1);
    pt.resize(units * batch, 0.0);
    matmul_transposed(pt, MatRef::new(x, batch, inputs), MatRef::new(w, units, inputs).t(), false);
}

/// A dense layer's pre-activation, as [`Linear::preactivation`] left it.
pub(crate) enum Preactivation<'a> {
    /// `z = x W^T + b (B, units)`.
    RowMajor(&'a Tensor),
    /// `(x W^T)^T (units, B)` and the bias still to be added to it: `z = product^T + bias`.
    Transposed { product: &'a [f32], bias: &'a [f32] },
}

/// How a dense layer's weights start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Glorot/Xavier uniform, Keras' default: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
    GlorotUniform,
    /// LeCun normal, N(0, 1 / fan_in): what SELU networks need (Klambauer et al. 2017).
    LecunNormal,
}

impl Linear {
    /// A dense layer with `units` outputs (built later, when the input size is known).
    pub fn new(units: usize) -> Result<Self> {
        if units == 0 {
            return Err(Error::InvalidArgument("dense(0): units must be at least 1".into()));
        }
        Ok(Linear {
            units,
            in_features: 0,
            weight: Param::zeros(&[0], ParamKind::Weight),
            bias: Param::zeros(&[0], ParamKind::Bias),
            init: Init::GlorotUniform,
            y: Tensor::default(),
            dx: Tensor::default(),
            yt: Vec::new(),
        })
    }

    /// The same layer, initialised by `init`.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The weight (units, in_features).
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// `z = x W^T + b` for `x (B, in)`. When `transposed_ok` and the output is wide enough for
    /// the transposed GEMM to be faster, `(x W^T)^T (units, B)` and the bias are returned
    /// instead, for a caller that fuses the transpose and the bias into its own pass;
    /// otherwise `z`, which is also `output()`.
    pub(crate) fn preactivation(&mut self, x: &Tensor, transposed_ok: bool) -> Result<Preactivation<'_>> {
        check_input(x, self.in_features, || self.spec())?;
        let b = x.rows();
        let (w, bias) = (self.weight.value.data(), self.bias.value.data());
        if transposed_ok && faster_transposed(b, self.units) {
            product_transposed(&mut self.yt, x.data(), w, self.units, b);
            return Ok(Preactivation::Transposed { product: &self.yt, bias });
        }
        self.y.resize(&[b, self.units]);
        affine(self.y.data_mut(), x.data(), w, bias, b, &mut self.yt);
        Ok(Preactivation::RowMajor(&self.y))
    }

    /// Output units.
    pub(crate) fn units(&self) -> usize {
        self.units
    }

    /// Where the bias gradient goes, for a caller that computes it in its own pass over `dy`
    /// and then calls [`Linear::backward_products`].
    pub(crate) fn bias_grad_mut(&mut self) -> &mut [f32] {
        self.bias.grad.data_mut()
    }

    /// The backward pass less the bias gradient: `dx = dy W` (when `ctx` asks for it), then
    /// `dW = dy^T x`, which the optimizer reads next while it is still in cache.
    pub(crate) fn backward_products(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        check_input(dy, self.units, || format!("{} backward", self.spec()))?;
        let b = x.rows();
        let dy_m = MatRef::new(dy.data(), b, self.units);
        if ctx.input_grad {
            self.dx.resize(x.shape());
            let w = MatRef::new(self.weight.value.data(), self.units, self.in_features);
            matmul(self.dx.data_mut(), dy_m, w, false);
        }
        matmul(self.weight.grad.data_mut(), dy_m.t(), MatRef::new(x.data(), b, self.in_features), false);
        Ok(&self.dx)
    }
}

impl Layer for Linear {
    fn spec(&self) -> String {
        format!("dense({})", self.units)
    }

    fn output(&self) -> &Tensor {
        &self.y
    }

    fn input_grad(&self) -> &Tensor {
        &self.dx
    }

    fn build(&mut self, input: &[usize], _id: u32, init: &mut Stream) -> Result<Vec<usize>> {
        self.in_features = input.iter().product();
        self.weight = Param::checked(&[self.units, self.in_features], ParamKind::Weight, &self.spec())?;
        self.bias = Param::checked(&[self.units], ParamKind::Bias, &self.spec())?;
        match self.init {
            Init::GlorotUniform => glorot_uniform(self.weight.value.data_mut(), self.in_features, self.units, init),
            Init::LecunNormal => {
                let sd = (1.0 / self.in_features.max(1) as f64).sqrt() as f32;
                for w in self.weight.value.data_mut() {
                    *w = init.normal() * sd;
                }
            }
        }
        Ok(vec![self.units])
    }

    // x: (B, in) -> y: (B, units)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        self.preactivation(x, false)?; // row-major: into self.y
        Ok(&self.y)
    }

    // dy: (B, units) -> dx: (B, in); dW: (units, in); db: (units)
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.backward_products(x, dy, ctx)?; // checks dy's shape
        column_sums(dy.data(), dy.rows(), self.units, self.bias.grad.data_mut());
        Ok(&self.dx)
    }

    fn fusion_role(&self) -> crate::nn::fused::FusionRole {
        crate::nn::fused::FusionRole::Dense { units: self.units }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }
}

#[cfg(test)]
mod tests {
    use crate::layer::{Ctx, Mode};
    use crate::model::Sequential;
    use crate::tensor::Tensor;

    #[test]
    fn an_empty_batch_gives_an_empty_output() {
        let mut model = Sequential::from_spec("dense(64) relu dropout(0.5) dense(10)", &[784], 0).unwrap();
        let x = Tensor::zeros(&[0, 784]);
        let y = model.forward(&x, &Ctx::new(Mode::Train, 0, 0)).unwrap();
        assert_eq!(y.shape(), &[0, 10]);
    }
}
