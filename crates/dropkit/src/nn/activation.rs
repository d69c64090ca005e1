//! Elementwise activations. Backward uses the saved output `y`:
//! ReLU `dx = dy * [y > 0]`; sigmoid `dx = dy * y (1 - y)`; tanh `dx = dy * (1 - y^2)`;
//! SELU (Klambauer et al. 2017) `y = lambda x` for x > 0, `lambda alpha (e^x - 1)` otherwise,
//! `dx = dy * lambda` for y > 0, `dy * (y + lambda alpha)` otherwise.

use crate::error::Result;
use crate::kernels::{par_each, par_zip};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// SELU's scale (Klambauer et al. 2017).
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
/// SELU's negative-side coefficient.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// Which elementwise nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationKind {
    Relu,
    Sigmoid,
    Tanh,
    Selu,
}

impl ActivationKind {
    /// The activation a spec names (`relu`, `sigmoid`, `tanh`, `selu`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "relu" => Some(ActivationKind::Relu),
            "sigmoid" => Some(ActivationKind::Sigmoid),
            "tanh" => Some(ActivationKind::Tanh),
            "selu" => Some(ActivationKind::Selu),
            _ => None,
        }
    }

    /// `f(x)`.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            ActivationKind::Relu => x.max(0.0),
            ActivationKind::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            ActivationKind::Tanh => x.tanh(),
            ActivationKind::Selu => {
                if x > 0.0 {
                    SELU_LAMBDA as f32 * x
                } else {
                    (SELU_LAMBDA * SELU_ALPHA) as f32 * x.exp_m1()
                }
            }
        }
    }

    /// `f'(x)` written in terms of the output `y = f(x)`.
    #[inline]
    pub fn grad_from_output(self, y: f32) -> f32 {
        match self {
            ActivationKind::Relu => (y > 0.0) as u8 as f32,
            ActivationKind::Sigmoid => y * (1.0 - y),
            ActivationKind::Tanh => 1.0 - y * y,
            ActivationKind::Selu => {
                if y > 0.0 {
                    SELU_LAMBDA as f32
                } else {
                    y + (SELU_LAMBDA * SELU_ALPHA) as f32
                }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ActivationKind::Relu => "relu",
            ActivationKind::Sigmoid => "sigmoid",
            ActivationKind::Tanh => "tanh",
            ActivationKind::Selu => "selu",
        }
    }
}

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

    fn fusion_role(&self) -> crate::nn::fused::FusionRole {
        match self.kind {
            ActivationKind::Relu => crate::nn::fused::FusionRole::Relu,
            _ => crate::nn::fused::FusionRole::None,
        }
    }

    fn output(&self) -> &Tensor {
        &self.y
    }

    fn input_grad(&self) -> &Tensor {
        &self.dx
    }

    fn build(&mut self, input: &[usize], _id: u32, _init: &mut Stream) -> Result<Vec<usize>> {
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
