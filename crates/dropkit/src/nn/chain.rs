//! Named layers in sequence, as one layer: what `embed(...)` and `block(...)` are made of. A
//! chain may be skipped whole (LayerDrop, [`crate::dropout::layerdrop`]): `y = x`, `dx = dy`,
//! and every parameter gradient 0 for that pass.

use crate::dropout::layerdrop;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Mode, Param};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt::Write;

/// When a chain is left out.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Skip {
    /// LayerDrop's rate: skipped with this probability per training step (and MC sample).
    pub rate: f64,
    /// Pruned: skipped at inference (Eval and Monte Carlo).
    pub pruned: bool,
}

/// Layers run one after another; parameter names are `{part}.{name}`.
pub struct Chain {
    parts: Vec<(&'static str, Box<dyn Layer>)>,
    spec: String,
    skip: Skip,
    id: u64,
    skipped: bool,
    y: Tensor,
    dx: Tensor,
}

impl Chain {
    /// A chain of `parts` (unbuilt), written `spec` in a model spec.
    pub fn new(parts: Vec<(&'static str, Box<dyn Layer>)>, spec: String, skip: Skip) -> Self {
        Chain { parts, spec, skip, id: 0, skipped: false, y: Tensor::default(), dx: Tensor::default() }
    }

    fn skips(&self, ctx: &Ctx) -> bool {
        match ctx.mode {
            Mode::Eval | Mode::MonteCarlo { .. } if self.skip.pruned => true,
            _ => layerdrop::skips(ctx, self.id, self.skip.rate),
        }
    }

    /// The output of the last part (or of the chain, when skipped).
    fn last_output(&self) -> &Tensor {
        match self.parts.last() {
            Some((_, l)) if !self.skipped => l.output(),
            _ => &self.y,
        }
    }
}

impl Layer for Chain {
    fn spec(&self) -> String {
        self.spec.clone()
    }

    fn output(&self) -> &Tensor {
        self.last_output()
    }

    fn input_grad(&self) -> &Tensor {
        match self.parts.first() {
            Some((_, l)) if !self.skipped => l.input_grad(),
            _ => &self.dx,
        }
    }

    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        let mut shape = input.to_vec();
        for (k, (_, layer)) in self.parts.iter_mut().enumerate() {
            shape = layer.build(&shape, crate::rng::streams::residual_branch(id, k), init)?;
        }
        if (self.skip.rate > 0.0 || self.skip.pruned) && shape != input {
            return Err(Error::Spec(format!(
                "{}: a block that may be skipped must keep its input's shape {input:?}, got {shape:?}",
                self.spec
            )));
        }
        Ok(shape)
    }

    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.skipped = self.skips(ctx);
        if self.skipped {
            self.y.resize(x.shape());
            self.y.data_mut().copy_from_slice(x.data());
            return Ok(&self.y);
        }
        for k in 0..self.parts.len() {
            let (before, rest) = self.parts.split_at_mut(k);
            let input = if k == 0 { x } else { before[k - 1].1.output() };
            rest[0].1.forward(input, ctx)?;
        }
        Ok(self.last_output())
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        if self.skipped {
            self.visit_params(&mut |_, p| p.grad.data_mut().fill(0.0));
            if ctx.input_grad {
                self.dx.resize(dy.shape());
                self.dx.data_mut().copy_from_slice(dy.data());
            }
            return Ok(&self.dx);
        }
        let n = self.parts.len();
        for k in (0..n).rev() {
            let (before, rest) = self.parts.split_at_mut(k);
            let (layer, after) = rest.split_at_mut(1);
            let input = if k == 0 { x } else { before[k - 1].1.output() };
            let grad = if k + 1 == n { dy } else { after[0].1.input_grad() };
            let inner = Ctx { input_grad: k > 0 || ctx.input_grad, ..*ctx };
            layer[0].1.backward(input, grad, &inner)?;
        }
        Ok(self.input_grad())
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        let mut name = String::new();
        for (part, layer) in self.parts.iter_mut() {
            layer.visit_params(&mut |local, p| {
                name.clear();
                let _ = write!(name, "{part}.{local}");
                f(&name, p)
            });
        }
    }

    fn visit_buffers(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        let mut name = String::new();
        for (part, layer) in self.parts.iter_mut() {
            layer.visit_buffers(&mut |local, t| {
                name.clear();
                let _ = write!(name, "{part}.{local}");
                f(&name, t)
            });
        }
    }

    fn is_stochastic(&self) -> bool {
        self.skip.rate > 0.0 || self.parts.iter().any(|(_, l)| l.is_stochastic())
    }

    fn mask_bytes(&self) -> usize {
        self.parts.iter().map(|(_, l)| l.mask_bytes()).sum()
    }

    fn regularizer(&self, ctx: &Ctx) -> f64 {
        self.parts.iter().map(|(_, l)| l.regularizer(ctx)).sum()
    }
}
