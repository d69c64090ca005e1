//! An embedding layer with embedding dropout (Gal and Ghahramani, "A Theoretically Grounded
//! Application of Dropout in Recurrent Neural Networks", NeurIPS 2016,
//! <https://arxiv.org/abs/1512.05287>, section 4.2).
//!
//! Input: token ids (B, T) stored as f32 whole numbers in [0, vocab). Output: (B, T, dim),
//! row `E[id]` of the embedding matrix E (vocab, dim) for each token.
//! Drops: whole rows of E, i.e. words, `m_v ~ Bernoulli(1 - p)` once per minibatch, so every
//! occurrence of a dropped word in the batch is zero. Scaling: inverted, kept rows times
//! `1 / (1 - p)`; eval `y = E[id]`. Backward: `dE[v] = sum over occurrences of v of dy * m_v /
//! (1 - p)`; ids get no gradient. Monte Carlo: fresh word masks per sample. p = 0 is a plain
//! embedding.

use super::{drop_mask, inverted_scale, validate_p};
use crate::error::{Error, Result};
use crate::kernels::mask;
use crate::kind::{downcast, one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// Token embeddings with embedding dropout.
pub struct Embedding {
    vocab: usize,
    dim: usize,
    p: f32,
    tokens: usize,
    weight: Param,
    id: u64,
    /// Per word: `m_v / (1 - p)` in a stochastic pass.
    word_scale: Vec<f32>,
    stochastic_pass: bool,
    y: Tensor,
    dx: Tensor,
}

impl Embedding {
    /// `vocab` words of `dim` values each; word dropout with probability `p`.
    pub fn new(vocab: usize, dim: usize, p: f64) -> Result<Self> {
        let p = validate_p("embedding", p)?;
        if vocab == 0 || dim == 0 {
            return Err(Error::InvalidArgument(format!(
                "embedding({vocab}, {dim}): vocabulary and dimension must be at least 1"
            )));
        }
        Ok(Embedding {
            vocab,
            dim,
            p,
            tokens: 0,
            weight: Param::zeros(&[0], ParamKind::Weight),
            id: 0,
            word_scale: Vec::new(),
            stochastic_pass: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// Sets `word_scale` for this pass (regenerated from the key, so backward matches forward).
    fn draw_words(&mut self, ctx: &Ctx) {
        let key = drop_mask(ctx, self.id, self.p);
        self.stochastic_pass = key.is_some();
        if let Some(key) = key {
            self.word_scale.resize(self.vocab, 0.0);
            mask::fill(&mut self.word_scale, &key, inverted_scale(self.p));
        }
    }

    /// The word id at `v`, checked.
    fn word(&self, v: f32) -> Result<usize> {
        if v >= 0.0 && v.fract() == 0.0 && (v as usize) < self.vocab {
            Ok(v as usize)
        } else {
            Err(Error::InvalidArgument(format!(
                "embedding({}, {}): input {v} is not a token id in 0..{}",
                self.vocab, self.dim, self.vocab
            )))
        }
    }
}

impl Layer for Embedding {
    fn mask_bytes(&self) -> usize {
        (self.word_scale.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        format!("embedding({}, {}, {})", self.vocab, self.dim, self.p)
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        self.tokens = input.iter().product();
        self.weight = Param::checked(&[self.vocab, self.dim], ParamKind::Weight, &self.spec())?;
        // N(0, 1), as PyTorch's nn.Embedding.
        for v in self.weight.value.data_mut() {
            *v = init.normal();
        }
        Ok([input, &[self.dim]].concat())
    }
    // ids: (B, T) -> y: (B, T, dim)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.draw_words(ctx);
        let mut shape = x.shape().to_vec();
        shape.push(self.dim);
        self.y.resize(&shape);
        for &v in x.data() {
            self.word(v)?;
        }
        let (dim, table) = (self.dim, self.weight.value.data());
        for (&v, out) in x.data().iter().zip(self.y.data_mut().chunks_exact_mut(dim)) {
            let w = v as usize;
            let s = if self.stochastic_pass { self.word_scale[w] } else { 1.0 };
            out.iter_mut().zip(&table[w * dim..(w + 1) * dim]).for_each(|(o, &e)| *o = e * s);
        }
        Ok(&self.y)
    }
    // dE[v] += dy * m_v / (1 - p) for each occurrence; ids get a zero gradient.
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if dy.len() != x.len() * self.dim {
            return Err(Error::Shape {
                context: format!("{} backward", self.spec()),
                got: dy.shape().to_vec(),
                expected: format!("{:?}", self.y.shape()),
            });
        }
        self.draw_words(ctx);
        let dim = self.dim;
        let grad = self.weight.grad.data_mut();
        grad.fill(0.0);
        for (&v, g) in x.data().iter().zip(dy.data().chunks_exact(dim)) {
            let w = v as usize; // checked by the forward pass
            let s = if self.stochastic_pass { self.word_scale.get(w).copied().unwrap_or(0.0) } else { 1.0 };
            if let Some(row) = grad.get_mut(w * dim..(w + 1) * dim) {
                row.iter_mut().zip(g).for_each(|(r, &d)| *r += d * s);
            }
        }
        if ctx.input_grad {
            self.dx.resize(x.shape());
            self.dx.data_mut().fill(0.0);
        }
        Ok(&self.dx)
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
    }
    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

/// `embedding(vocab, dim[, p])`.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingConfig {
    pub vocab: usize,
    pub dim: usize,
    pub p: f64,
}

impl std::fmt::Display for EmbeddingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "embedding({}, {}, {})", self.vocab, self.dim, self.p)
    }
}

impl LayerConfig for EmbeddingConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(Embedding::new(self.vocab, self.dim, self.p)?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.p]
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["embedding"],
    usage: "embedding(vocab, dim[, p])",
    example: "embedding(100, 8, 0.1)",
    summary: "token ids (B, T) to vectors (B, T, dim); embedding dropout drops whole words (rows of the embedding matrix, once per minibatch)",
    paper: "Gal and Ghahramani 2016, NeurIPS",
    dropout: Some(Substitute::Host(|host, p| {
        downcast::<EmbeddingConfig>(host).map(|e| Box::new(EmbeddingConfig { p, ..e.clone() }) as Box<dyn LayerConfig>)
    })),
    parse: |call| {
        call.expect(2, 3, "embedding(vocab, dim[, p]), e.g. embedding(10000, 128, 0.1)")?;
        one(EmbeddingConfig {
            vocab: call.size(0, "the vocabulary size", None)?,
            dim: call.size(1, "the dimension", None)?,
            p: call.prob_or(2, 0.0)?,
        })
    },
};
