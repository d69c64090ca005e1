//! Row-wise softmax `y_i = exp(x_i - max x) / sum_j exp(x_j - max x)`.
//! Backward: `dx = y * (dy - sum_j dy_j y_j)`. As the last layer, training fuses it into the
//! cross-entropy loss (computed from logits, as Keras does), which is exact and stabler.

use crate::error::Result;
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

/// Softmax over the features of each sample.
#[derive(Default)]
pub struct Softmax {
    y: Tensor,
    dx: Tensor,
}

impl Softmax {
    pub fn new() -> Self {
        Softmax::default()
    }
}

/// Softmax of one row, in place.
pub fn softmax_row(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

impl Layer for Softmax {
    fn spec(&self) -> String {
        "softmax".into()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    // x: (B, C) -> y: (B, C)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        self.y.data_mut().copy_from_slice(x.data());
        let c = x.cols().max(1);
        self.y.data_mut().chunks_exact_mut(c).for_each(softmax_row);
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        let c = x.cols().max(1);
        for ((dx, y), dy) in
            self.dx.data_mut().chunks_exact_mut(c).zip(self.y.data().chunks_exact(c)).zip(dy.data().chunks_exact(c))
        {
            let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
            for ((d, &y), &g) in dx.iter_mut().zip(y).zip(dy) {
                *d = y * (g - dot);
            }
        }
        Ok(&self.dx)
    }

    fn is_softmax(&self) -> bool {
        true
    }
}

/// `softmax`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxConfig {
    /// Written inside the dense layer before it: `dense(10, softmax)`.
    pub inline: bool,
}

impl fmt::Display for SoftmaxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("softmax")
    }
}

impl LayerConfig for SoftmaxConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Softmax::new()))
    }
    fn inline(&self) -> bool {
        self.inline
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["softmax"],
    usage: "softmax",
    example: "softmax",
    summary: "row softmax; as the last layer it is fused into the cross-entropy loss",
    paper: "",
    dropout: None,
    parse: |call| {
        call.expect(0, 0, "no arguments: softmax")?;
        one(SoftmaxConfig { inline: false })
    },
};
