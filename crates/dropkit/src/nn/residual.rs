//! A residual block (He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR
//! 2016): `y = x + f(x)` with `f` a branch of layers that keeps the shape. Backward:
//! `dx = dy + df/dx^T dy`. With `droppath(p)` last in the branch this is stochastic depth.

use crate::error::{Error, Result};
use crate::kernels::par_zip;
use crate::kind::{one, write_spec, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;
use std::fmt::Write;

/// `x + branch(x)`.
pub struct Residual {
    branch: Vec<Box<dyn Layer>>,
    text: String,
    y: Tensor,
    dx: Tensor,
}

impl Residual {
    /// A block around `branch` (unbuilt layers), written `text` in the spec.
    pub fn new(branch: Vec<Box<dyn Layer>>, text: &str) -> Result<Self> {
        if branch.is_empty() {
            return Err(Error::Spec("residual(): the branch needs at least one layer".into()));
        }
        Ok(Residual { branch, text: text.to_string(), y: Tensor::default(), dx: Tensor::default() })
    }
}

impl Layer for Residual {
    fn spec(&self) -> String {
        format!("residual({})", self.text)
    }

    fn mask_bytes(&self) -> usize {
        self.branch.iter().map(|l| l.mask_bytes()).sum()
    }

    fn regularizer(&self, ctx: &Ctx) -> f64 {
        self.branch.iter().map(|l| l.regularizer(ctx)).sum()
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let mut shape = input.to_vec();
        for (k, layer) in self.branch.iter_mut().enumerate() {
            // Branch layers get their own mask streams, apart from the model's layer ids.
            shape = layer.build(&shape, crate::rng::streams::residual_branch(id, k), init)?;
        }
        if shape != input {
            return Err(Error::Shape {
                context: self.spec(),
                got: shape,
                expected: format!("{input:?}: a residual branch must keep the shape of its input"),
            });
        }
        Ok(shape)
    }

    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        for k in 0..self.branch.len() {
            let (before, rest) = self.branch.split_at_mut(k);
            let input = if k == 0 { x } else { before[k - 1].output() };
            rest[0].forward(input, ctx)?;
        }
        let out = self.branch.last().map(|l| l.output()).unwrap_or(x);
        if out.len() != x.len() {
            return Err(Error::Shape {
                context: self.spec(),
                got: out.shape().to_vec(),
                expected: format!("{:?}", x.shape()),
            });
        }
        self.y.resize(x.shape());
        let out = out.data();
        par_zip(self.y.data_mut(), x.data(), |y, x, first| {
            y.iter_mut().zip(x).zip(&out[first..]).for_each(|((y, &a), &b)| *y = a + b)
        });
        Ok(&self.y)
    }

    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        let n = self.branch.len();
        for k in (0..n).rev() {
            let (before, rest) = self.branch.split_at_mut(k);
            let (layer, after) = rest.split_at_mut(1);
            let input = if k == 0 { x } else { before[k - 1].output() };
            let grad = if k + 1 == n { dy } else { after[0].input_grad() };
            let inner = Ctx { input_grad: k > 0 || ctx.input_grad, ..*ctx };
            layer[0].backward(input, grad, &inner)?;
        }
        if ctx.input_grad {
            self.dx.resize(x.shape());
            let branch_dx = self.branch[0].input_grad().data();
            if branch_dx.len() != dy.len() {
                return Err(Error::Shape {
                    context: format!("{} backward", self.spec()),
                    got: dy.shape().to_vec(),
                    expected: format!("{} values, as the branch's input gradient", branch_dx.len()),
                });
            }
            par_zip(self.dx.data_mut(), dy.data(), |d, dy, first| {
                d.iter_mut().zip(dy).zip(&branch_dx[first..]).for_each(|((d, &a), &b)| *d = a + b)
            });
        }
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        let mut name = String::new();
        for (k, layer) in self.branch.iter_mut().enumerate() {
            layer.visit_params(&mut |local, p| {
                name.clear();
                let _ = write!(name, "branch.{k}.{local}");
                f(&name, p)
            });
        }
    }

    fn visit_buffers(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        let mut name = String::new();
        for (k, layer) in self.branch.iter_mut().enumerate() {
            layer.visit_buffers(&mut |local, t| {
                name.clear();
                let _ = write!(name, "branch.{k}.{local}");
                f(&name, t)
            });
        }
    }

    fn is_stochastic(&self) -> bool {
        self.branch.iter().any(|l| l.is_stochastic())
    }
}

/// `residual(spec)`: a block around a branch of layer configs.
#[derive(Clone, Debug)]
pub struct ResidualConfig {
    pub branch: Vec<Box<dyn LayerConfig>>,
}

impl fmt::Display for ResidualConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("residual(")?;
        write_spec(f, &self.branch)?;
        f.write_str(")")
    }
}

impl LayerConfig for ResidualConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        let layers = self.branch.iter().map(|c| c.build()).collect::<Result<Vec<_>>>()?;
        let text = self.to_string();
        let inner = text.strip_prefix("residual(").and_then(|t| t.strip_suffix(')')).unwrap_or(&text);
        Ok(Box::new(Residual::new(layers, inner)?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        self.branch.iter_mut().flat_map(|l| l.rates_mut()).collect()
    }
    fn without_dropout(&self) -> Vec<Box<dyn LayerConfig>> {
        let branch: Vec<_> = self.branch.iter().flat_map(|l| l.without_dropout()).collect();
        // A branch that was only dropout (residual(droppath(p))) leaves x + x: keep none of it.
        if branch.is_empty() {
            return Vec::new();
        }
        vec![Box::new(ResidualConfig { branch })]
    }
    fn depends_on_mode(&self) -> bool {
        self.branch.iter().any(|l| l.depends_on_mode())
    }
    fn branch_mut(&mut self) -> Option<&mut Vec<Box<dyn LayerConfig>>> {
        Some(&mut self.branch)
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["residual"],
    usage: "residual(spec)",
    example: "residual(dense(64, relu) dense(64) droppath(0.1))",
    summary: "`x + f(x)` for the branch `spec`, e.g. `residual(dense(64, relu) dense(64) droppath(0.1))`",
    paper: "He et al. 2016, CVPR",
    dropout: None,
    parse: |call| {
        if call.raw.trim().is_empty() {
            return Err(call.error("give the branch, e.g. residual(dense(64, relu) dense(64) droppath(0.1))"));
        }
        one(ResidualConfig { branch: (call.parse_spec)(call.raw, call.depth + 1)? })
    },
};
