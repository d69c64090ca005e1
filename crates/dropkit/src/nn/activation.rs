//! Elementwise activations. Backward uses the saved output `y`:
//! ReLU `dx = dy * [y > 0]`; sigmoid `dx = dy * y (1 - y)`; tanh `dx = dy * (1 - y^2)`;
//! SELU (Klambauer et al. 2017) `y = lambda x` for x > 0, `lambda alpha (e^x - 1)` otherwise,
//! `dx = dy * lambda` for y > 0, `dy * (y + lambda alpha)` otherwise.

use crate::error::Result;
use crate::kernels::{par_each, par_zip};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

pub use crate::kernels::activation::{ActivationKind, SELU_ALPHA, SELU_LAMBDA};

/// An elementwise activation layer.
pub struct Activation {
    kind: ActivationKind,
    y: Tensor,
    dx: Tensor,
}

impl Activation {
    pub fn new(kind: ActivationKind) -> Self {
        Activation { kind, y: Tensor::default(), dx: Tensor::default() }
    }
}

impl Layer for Activation {
    fn spec(&self) -> String {
        self.kind.name().to_string()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    // x: (B, ...) -> y: (B, ...)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        let kind = self.kind;
        par_zip(self.y.data_mut(), x.data(), |y, x, _| match kind {
            ActivationKind::Relu => y.iter_mut().zip(x).for_each(|(y, &x)| *y = x.max(0.0)),
            ActivationKind::Sigmoid => y.iter_mut().zip(x).for_each(|(y, &x)| *y = 1.0 / (1.0 + (-x).exp())),
            ActivationKind::Tanh => y.iter_mut().zip(x).for_each(|(y, &x)| *y = x.tanh()),
            ActivationKind::Selu => {
                let (l, la) = (SELU_LAMBDA as f32, (SELU_LAMBDA * SELU_ALPHA) as f32);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = if x > 0.0 { l * x } else { la * x.exp_m1() })
            }
        });
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        self.dx.data_mut().copy_from_slice(dy.data());
        let (kind, y) = (self.kind, self.y.data());
        par_each(self.dx.data_mut(), |dx, first| {
            let y = &y[first..first + dx.len()];
            match kind {
                ActivationKind::Relu => dx.iter_mut().zip(y).for_each(|(d, &y)| *d = if y > 0.0 { *d } else { 0.0 }),
                ActivationKind::Sigmoid => dx.iter_mut().zip(y).for_each(|(d, &y)| *d *= y * (1.0 - y)),
                ActivationKind::Tanh => dx.iter_mut().zip(y).for_each(|(d, &y)| *d *= 1.0 - y * y),
                ActivationKind::Selu => {
                    let (l, la) = (SELU_LAMBDA as f32, (SELU_LAMBDA * SELU_ALPHA) as f32);
                    dx.iter_mut().zip(y).for_each(|(d, &y)| *d *= if y > 0.0 { l } else { y + la })
                }
            }
        });
        Ok(&self.dx)
    }
}

/// `relu`, `sigmoid`, `tanh` or `selu`: the config of an [`Activation`] layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationConfig {
    pub kind: ActivationKind,
    /// Written inside the dense layer before it: `dense(64, relu)`.
    pub inline: bool,
}

impl ActivationConfig {
    pub fn is_selu(&self) -> bool {
        self.kind == ActivationKind::Selu
    }
    pub fn is_relu(&self) -> bool {
        self.kind == ActivationKind::Relu
    }
}

impl fmt::Display for ActivationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())
    }
}

impl LayerConfig for ActivationConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Activation::new(self.kind)))
    }
    fn inline(&self) -> bool {
        self.inline
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["relu", "sigmoid", "tanh", "selu"],
    usage: "relu`, `sigmoid`, `tanh`, `selu",
    example: "relu",
    summary: "elementwise activations (a dense layer feeding `selu` starts LeCun-normal)",
    paper: "",
    dropout: None,
    parse: |call| {
        let name = call.lower_name();
        call.expect(0, 0, &format!("no arguments: {name}"))?;
        let kind = ActivationKind::from_name(&name).ok_or_else(|| call.error("not an activation"))?;
        one(ActivationConfig { kind, inline: false })
    },
};
