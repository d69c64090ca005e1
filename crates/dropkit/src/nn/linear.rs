//! Fully connected layer: `y = x W^T + b`, PyTorch's `nn.Linear` layout (weight (out, in)).
//!
//! Backward: `dW = dy^T x`, `db = sum_rows(dy)`, `dx = dy W`
//! (<https://cs231n.github.io/optimization-2/#mat>).

use crate::error::{Error, Result};
use crate::init::{glorot_uniform, lecun_normal};
use crate::kernels::activation::ActivationKind;
use crate::kernels::affine::{affine, product_transposed};
use crate::kernels::column_sums;
use crate::kernels::gemm::{faster_transposed, matmul, MatRef};
use crate::kind::{LayerConfig, LayerKind};
use crate::layer::{check_input, Ctx, Layer, Param, ParamKind};
use crate::nn::activation::ActivationConfig;
use crate::nn::softmax::SoftmaxConfig;
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

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

/// A dense layer's pre-activation, as [`Linear::preactivation`] left it.
pub(crate) enum Preactivation<'a> {
    /// `z = x W^T + b (B, units)`.
    RowMajor(&'a Tensor),
    /// `(x W^T)^T (units, B)` and the bias still to be added to it: `z = product^T + bias`.
    Transposed { product: &'a [f32], bias: &'a [f32] },
}

/// How a dense layer's weights start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Init {
    /// Glorot/Xavier uniform, Keras' default: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
    #[default]
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

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        self.in_features = input.iter().product();
        self.weight = Param::checked(&[self.units, self.in_features], ParamKind::Weight, &self.spec())?;
        self.bias = Param::checked(&[self.units], ParamKind::Bias, &self.spec())?;
        match self.init {
            Init::GlorotUniform => glorot_uniform(self.weight.value.data_mut(), self.in_features, self.units, init),
            Init::LecunNormal => lecun_normal(self.weight.value.data_mut(), self.in_features, init),
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

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }
}

/// `dense(units)`, the config of a [`Linear`] layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseConfig {
    pub units: usize,
    /// Set by the parser: LeCun normal when the next layer is SELU (not printed; it follows
    /// from the spec).
    pub init: Init,
}

impl fmt::Display for DenseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dense({})", self.units)
    }
}

impl LayerConfig for DenseConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Linear::new(self.units)?.with_init(self.init)))
    }
    fn takes_inline(&self) -> bool {
        true
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["dense", "linear"],
    usage: "dense(units)`, `dense(units, act)",
    example: "dense(64, relu)",
    summary: "fully connected `y = x W^T + b` (alias `linear`), optionally followed by an activation",
    paper: "",
    dropout: None,
    parse: |call| {
        call.expect(1, 2, "dense(units) or dense(units, activation), e.g. dense(512, relu)")?;
        let dense: Box<dyn LayerConfig> =
            Box::new(DenseConfig { units: call.positive(0, "units")?, init: Init::GlorotUniform });
        match call.arg(1) {
            None => Ok(vec![dense]),
            Some(act) if act.eq_ignore_ascii_case("softmax") => {
                Ok(vec![dense, Box::new(SoftmaxConfig { inline: true })])
            }
            Some(act) => {
                let kind = ActivationKind::from_name(act).ok_or_else(|| {
                    call.error(format!("'{act}' is not an activation; use relu, sigmoid, tanh, selu or softmax"))
                })?;
                Ok(vec![dense, Box::new(ActivationConfig { kind, inline: true })])
            }
        }
    },
};
