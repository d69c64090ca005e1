//! Learned position embedding (GPT-style; Vaswani et al. 2017 used fixed sinusoids): a (T, D)
//! table added to a (T, D) sequence, `y_t = x_t + P_t`, so attention can tell positions apart.
//! Backward: `dx = dy`, `dP = sum over the batch of dy`. Initialised N(0, 0.02^2), as GPT-2.

use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::fmt;

#[derive(Default)]
pub struct PositionEmbedding {
    /// The sequence length it must be built for (None: any).
    context: Option<usize>,
    table: Option<Param>,
    per_sample: usize,
    y: Tensor,
    dx: Tensor,
}

impl Layer for PositionEmbedding {
    fn spec(&self) -> String {
        PositionConfig { context: self.context }.to_string()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], _id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let &[t, d] = input else {
            return Err(Error::Spec(format!(
                "posembed takes sequences (T, D), got samples of {input:?}; put it after an embedding"
            )));
        };
        if let Some(c) = self.context.filter(|&c| c != t) {
            return Err(Error::Spec(format!(
                "posembed({c}): the sequences are {t} long; train with --context {c}, or write posembed({t})"
            )));
        }
        let mut table = Param::checked(&[t, d], ParamKind::Bias, "posembed")?;
        table.value.data_mut().iter_mut().for_each(|v| *v = 0.02 * init.normal());
        (self.table, self.per_sample) = (Some(table), t * d);
        Ok(input.to_vec())
    }

    // x: (B, T, D) -> y: (B, T, D)
    fn forward(&mut self, x: &Tensor, _ctx: &Ctx) -> Result<&Tensor> {
        let per = self.per_sample;
        if per == 0 || x.is_empty() || !x.len().is_multiple_of(per) {
            return Err(Error::Shape {
                context: "posembed".into(),
                got: x.shape().to_vec(),
                expected: format!("samples of {per} values"),
            });
        }
        let Some(table) = self.table.as_ref() else {
            return Err(Error::Spec("posembed is used before it is built".into()));
        };
        let p = table.value.data();
        self.y.resize(x.shape());
        self.y
            .data_mut()
            .par_chunks_mut(per)
            .zip(x.data().par_chunks(per))
            .for_each(|(y, x)| y.iter_mut().zip(x.iter().zip(p)).for_each(|(y, (&x, &p))| *y = x + p));
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let per = self.per_sample;
        if dy.len() != x.len() || per == 0 {
            return Err(Error::Shape {
                context: "posembed backward".into(),
                got: dy.shape().to_vec(),
                expected: format!("{:?}", x.shape()),
            });
        }
        if let Some(table) = self.table.as_mut() {
            let g = table.grad.data_mut();
            g.fill(0.0);
            // Samples in order: the sum does not depend on the thread count.
            for sample in dy.data().chunks_exact(per) {
                g.iter_mut().zip(sample).for_each(|(g, &d)| *g += d);
            }
        }
        if !ctx.input_grad {
            return Ok(&self.dx);
        }
        self.dx.resize(x.shape());
        self.dx.data_mut().copy_from_slice(dy.data());
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        if let Some(t) = self.table.as_mut() {
            f("weight", t);
        }
    }
}

impl PositionEmbedding {
    /// For sequences of `context` positions (None: whatever the input's length).
    pub fn new(context: Option<usize>) -> Self {
        PositionEmbedding { context, ..Default::default() }
    }
}

/// `posembed` or `posembed(T)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionConfig {
    pub context: Option<usize>,
}

impl fmt::Display for PositionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.context {
            Some(t) => write!(f, "posembed({t})"),
            None => f.write_str("posembed"),
        }
    }
}

impl LayerConfig for PositionConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(PositionEmbedding::new(self.context)))
    }
    fn context(&self) -> Option<usize> {
        self.context
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["posembed", "position_embedding"],
    usage: "posembed`, `posembed(T)",
    example: "posembed",
    summary: "a learned position embedding added to a (T, D) sequence (of exactly T positions when given)",
    paper: "Radford et al. 2018 (GPT)",
    dropout: None,
    parse: |call| {
        call.expect(0, 1, "posembed, or posembed(T) for sequences of T positions")?;
        let context = match call.arg(0) {
            Some(_) => Some(call.positive(0, "the context length")?),
            None => None,
        };
        one(PositionConfig { context })
    },
};
