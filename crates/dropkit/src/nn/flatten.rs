//! Flatten: (B, d1, d2, ...) -> (B, d1 * d2 * ...); backward reshapes the gradient back.

use crate::error::Result;
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

/// Flattens every sample to a vector.
#[derive(Default)]
pub struct Flatten {
    y: Tensor,
    dx: Tensor,
}

impl Layer for Flatten {
    fn spec(&self) -> String {
        "flatten".into()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }

    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(&[x.rows(), x.len() / x.rows().max(1)]);
        self.y.data_mut().copy_from_slice(x.data());
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if ctx.input_grad {
            self.dx.resize(x.shape());
            self.dx.data_mut().copy_from_slice(dy.data());
        }
        Ok(&self.dx)
    }
}

/// `flatten`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlattenConfig;

impl fmt::Display for FlattenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("flatten")
    }
}

impl LayerConfig for FlattenConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::<Flatten>::default())
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["flatten"],
    usage: "flatten",
    example: "flatten",
    summary: "(B, C, H, W) to (B, C*H*W)",
    paper: "",
    dropout: None,
    parse: |call| {
        call.expect(0, 0, "no arguments: flatten")?;
        one(FlattenConfig)
    },
};
