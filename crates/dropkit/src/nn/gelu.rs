//! GELU, the Gaussian error linear unit of Hendrycks and Gimpel, "Gaussian Error Linear Units
//! (GELUs)", 2016 (<https://arxiv.org/abs/1606.08415>), in its tanh form (GPT-2's, PyTorch's
//! `nn.GELU(approximate='tanh')`):
//!
//! `y = 0.5 x (1 + tanh(u))`, `u = sqrt(2/pi) (x + 0.044715 x^3)`;
//! `dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)`, `t = tanh(u)`.
//!
//! Its derivative needs the input, which backward receives, so nothing is cached.

use crate::error::Result;
use crate::kernels::fastmath::{tanh, vectorized};
use crate::kernels::par_zip;
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const CUBIC: f32 = 0.044_715;

/// `gelu(x)`.
#[inline]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + CUBIC * x * x * x)))
}

/// `d gelu / dx` at `x`.
#[inline]
pub fn gelu_grad(x: f32) -> f32 {
    let t = tanh(SQRT_2_OVER_PI * (x + CUBIC * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * x * x)
}

/// The GELU layer.
#[derive(Default)]
pub struct Gelu {
    y: Tensor,
    dx: Tensor,
}

impl Layer for Gelu {
    fn spec(&self) -> String {
        "gelu".into()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    // x: (B, ...) -> y: (B, ...)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        par_zip(self.y.data_mut(), x.data(), |y, x, _| {
            vectorized(
                #[inline(always)]
                || y.iter_mut().zip(x).for_each(|(y, &x)| *y = gelu(x)),
            )
        });
        Ok(&self.y)
    }

    // dx = dy * gelu'(x)
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        crate::layer::check_input(dy, x.len() / x.rows().max(1), || "gelu backward".into())?;
        if dy.len() != x.len() {
            return Err(crate::Error::Shape {
                context: "gelu backward".into(),
                got: dy.shape().to_vec(),
                expected: format!("{:?}, the shape of the forward input", x.shape()),
            });
        }
        self.dx.resize(x.shape());
        let x = x.data();
        par_zip(self.dx.data_mut(), dy.data(), |dx, dy, first| {
            let x = &x[first..first + dx.len()];
            vectorized(
                #[inline(always)]
                || dx.iter_mut().zip(dy).zip(x).for_each(|((d, &g), &x)| *d = g * gelu_grad(x)),
            )
        });
        Ok(&self.dx)
    }
}

/// `gelu`: the config of a [`Gelu`] layer.
#[derive(Clone, Debug, PartialEq)]
pub struct GeluConfig;

impl fmt::Display for GeluConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("gelu")
    }
}

impl LayerConfig for GeluConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Gelu::default()))
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["gelu"],
    usage: "gelu",
    example: "gelu",
    summary: "the Gaussian error linear unit, tanh form (PyTorch's `GELU(approximate='tanh')`)",
    paper: "Hendrycks and Gimpel 2016",
    dropout: None,
    parse: |call| {
        call.expect(0, 0, "no arguments: gelu")?;
        one(GeluConfig)
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_tanh_formula_and_its_derivative() {
        // Reference values of PyTorch's gelu(approximate='tanh').
        for (x, want) in
            [(-3.0f32, -0.003_637_392), (-1.0, -0.158_808), (0.0, 0.0), (0.5, 0.345_714), (2.0, 1.954_597_7)]
        {
            assert!((gelu(x) - want).abs() < 1e-5, "gelu({x}) = {} not {want}", gelu(x));
        }
        for x in [-2.5f32, -0.7, 0.0, 0.3, 1.9] {
            let h = 1e-3;
            let numeric = (gelu(x + h) as f64 - gelu(x - h) as f64) / (2.0 * h as f64);
            assert!((numeric - gelu_grad(x) as f64).abs() < 1e-3, "{x}");
        }
    }
}
