//! Position-wise dense layer: the same `y_t = x_t W^T + b` at every position t of a (T, D)
//! sequence (PyTorch's `nn.Linear` on the last axis; Keras' `TimeDistributed(Dense)`), as a
//! transformer's MLP and output head use it. `dense` instead flattens its input.
//!
//! Backward over the B*T rows: `dW = dy^T x`, `db = sum dy`, `dx = dy W`.
//! `pdense` without units keeps the width (the MLP's second product).

use crate::error::{Error, Result};
use crate::init::glorot_uniform;
use crate::kernels::affine::affine;
use crate::kernels::column_sums;
use crate::kernels::gemm::{matmul, MatRef};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

pub struct PositionwiseDense {
    /// 0: the input's width.
    units: usize,
    in_features: usize,
    weight: Param,
    bias: Param,
    y: Tensor,
    dx: Tensor,
    /// Wide outputs' transposed products (`kernels::affine`).
    scratch: Vec<f32>,
}

impl PositionwiseDense {
    pub fn new(units: usize) -> Self {
        PositionwiseDense {
            units,
            in_features: 0,
            weight: Param::zeros(&[0], ParamKind::Weight),
            bias: Param::zeros(&[0], ParamKind::Bias),
            y: Tensor::default(),
            dx: Tensor::default(),
            scratch: Vec::new(),
        }
    }

    /// Rows of `t`: positions across the batch.
    fn rows(&self, t: &Tensor, width: usize, what: &str) -> Result<usize> {
        if width == 0 || t.is_empty() || !t.len().is_multiple_of(width) {
            return Err(Error::Shape {
                context: format!("{} {what}", self.spec()),
                got: t.shape().to_vec(),
                expected: format!("(batch, ..., {width})"),
            });
        }
        Ok(t.len() / width)
    }
}

impl Layer for PositionwiseDense {
    fn spec(&self) -> String {
        PositionwiseConfig { units: self.units }.to_string()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let Some((&d, positions)) = input.split_last() else {
            return Err(Error::Spec(format!("{}: needs inputs with a last axis", self.spec())));
        };
        if self.units == 0 {
            self.units = d;
        }
        self.in_features = d;
        self.weight = Param::checked(&[self.units, d], ParamKind::Weight, &self.spec())?;
        glorot_uniform(self.weight.value.data_mut(), d, self.units, init);
        self.bias = Param::checked(&[self.units], ParamKind::Bias, &self.spec())?;
        Ok([positions, &[self.units]].concat())
    }

    // x: (B, ..., D) -> y: (B, ..., units)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let rows = self.rows(x, self.in_features, "forward")?;
        let n = self.units;
        let mut shape = x.shape().to_vec();
        if let Some(last) = shape.last_mut() {
            *last = n;
        }
        if shape.len() < 2 {
            shape = vec![rows, n];
        }
        self.y.resize(&shape);
        affine(self.y.data_mut(), x.data(), self.weight.value.data(), self.bias.value.data(), rows, &mut self.scratch);
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let rows = self.rows(dy, self.units, "backward")?;
        let (d, n) = (self.in_features, self.units);
        if x.len() != rows * d {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: x.shape().to_vec(),
                expected: format!("{rows} positions of {d}"),
            });
        }
        column_sums(dy.data(), rows, n, self.bias.grad.data_mut());
        matmul(self.weight.grad.data_mut(), MatRef::new(dy.data(), rows, n).t(), MatRef::new(x.data(), rows, d), false);
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        matmul(self.dx.data_mut(), MatRef::new(dy.data(), rows, n), MatRef::new(self.weight.value.data(), n, d), false);
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }
}

/// `pdense(units)` or `pdense` (the input's width).
#[derive(Clone, Debug, PartialEq)]
pub struct PositionwiseConfig {
    pub units: usize,
}

impl fmt::Display for PositionwiseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.units {
            0 => f.write_str("pdense"),
            n => write!(f, "pdense({n})"),
        }
    }
}

impl LayerConfig for PositionwiseConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(PositionwiseDense::new(self.units)))
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["pdense", "positionwise_dense", "time_distributed_dense"],
    usage: "pdense(units)`, `pdense",
    example: "pdense(16)",
    summary: "the same dense layer at every position of a (T, D) sequence (`pdense` keeps its input's width)",
    paper: "",
    dropout: None,
    parse: |call| {
        call.expect(0, 1, "pdense(units), or pdense to keep the width")?;
        let units = match call.arg(0) {
            Some(_) => call.positive(0, "units")?,
            None => 0,
        };
        one(PositionwiseConfig { units })
    },
};
