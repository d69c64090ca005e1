//! Mean over the positions of a sequence (ViT's global average pooling of the tokens, as in
//! timm's `global_pool='avg'`): `y = (1/T) sum_t x_t`. Shapes: x (B, T, D) -> y (B, D).
//! Backward: `dx_t = dy / T` at every position.

use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;

#[derive(Default)]
pub struct SeqMean {
    t: usize,
    d: usize,
    y: Tensor,
    dx: Tensor,
}

impl Layer for SeqMean {
    fn spec(&self) -> String {
        "seqmean".into()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        let &[t, d] = input else {
            return Err(Error::Spec(format!("seqmean takes sequences (T, D), got samples of {input:?}")));
        };
        (self.t, self.d) = (t, d);
        Ok(vec![d])
    }

    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let per = self.t * self.d;
        if per == 0 || x.is_empty() || !x.len().is_multiple_of(per) {
            return Err(Error::Shape {
                context: "seqmean".into(),
                got: x.shape().to_vec(),
                expected: format!("(batch, {}, {})", self.t, self.d),
            });
        }
        let (b, d, inv) = (x.len() / per, self.d, 1.0 / self.t as f32);
        self.y.resize(&[b, d]);
        self.y.data_mut().par_chunks_mut(d).zip(x.data().par_chunks(per)).for_each(|(y, seq)| {
            y.fill(0.0);
            for row in seq.chunks_exact(d) {
                y.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
            y.iter_mut().for_each(|v| *v *= inv);
        });
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        let (per, d, inv) = (self.t * self.d, self.d, 1.0 / self.t as f32);
        self.dx.resize(x.shape());
        self.dx.data_mut().par_chunks_mut(per).zip(dy.data().par_chunks(d)).for_each(|(dx, g)| {
            for row in dx.chunks_exact_mut(d) {
                row.iter_mut().zip(g).for_each(|(a, &v)| *a = v * inv);
            }
        });
        Ok(&self.dx)
    }
}

/// `seqmean`.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqMeanConfig;

impl fmt::Display for SeqMeanConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("seqmean")
    }
}

impl LayerConfig for SeqMeanConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::<SeqMean>::default())
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["seqmean", "token_mean"],
    usage: "seqmean",
    example: "seqmean",
    summary: "the mean over the positions of a (T, D) sequence, to (D) (ViT average pooling)",
    paper: "",
    dropout: None,
    parse: |call| {
        call.expect(0, 0, "no arguments: seqmean")?;
        one(SeqMeanConfig)
    },
};
