//! Concrete dropout (Gal, Hron, Kendall, "Concrete Dropout", NeurIPS 2017,
//! <https://arxiv.org/abs/1705.07832>): dropout whose rate is learned by gradient descent
//! through a continuous relaxation of the Bernoulli mask.
//!
//! Drops: units of the input x (B, K), softly. With `p = sigmoid(rho)` and u ~ U(0, 1) per
//! element, the relaxed drop indicator is
//! `z = sigmoid((log p - log(1 - p) + log u - log(1 - u)) / t)` (temperature t, 0.1), and
//! `y = x (1 - z) / (1 - p)`. The loss gains the paper's dropout regularizer
//! `2 / N * K * (p log p + (1 - p) log(1 - p))` (N training examples; weight decay on the next
//! layer is the optimizer's). Backward: `dx = dy (1 - z) / (1 - p)`, and
//! `d rho = sum dy x (p (1 - z) - z (1 - z) / t) / (1 - p)` plus the regularizer's gradient.
//! Eval: `y = x`. Monte Carlo: relaxed masks with fresh u per sample. Prints the learned p.

use super::{check_grad, fill_uniform, mask_key, validate_p};
use crate::error::{Error, Result};
use crate::kind::{one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer, Mode, Param, ParamKind};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// The relaxation's temperature, as in the paper's code.
pub const TEMPERATURE: f32 = 0.1;

/// Dropout with a learned rate.
pub struct ConcreteDropout {
    rho: Param,
    features: usize,
    id: u64,
    /// The relaxed drop indicators z of the last stochastic pass.
    z: Vec<f32>,
    stochastic_pass: bool,
    y: Tensor,
    dx: Tensor,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl ConcreteDropout {
    /// Starts at drop probability `init_p` in (0, 1).
    pub fn new(init_p: f64) -> Result<Self> {
        let p = validate_p("concrete_dropout", init_p)?;
        if p <= 0.0 || p >= 1.0 {
            return Err(Error::InvalidArgument(format!(
                "concrete_dropout({init_p}): the starting p must be strictly between 0 and 1, e.g. 0.1"
            )));
        }
        let mut rho = Param::zeros(&[1], ParamKind::Bias);
        rho.value.data_mut()[0] = (p / (1.0 - p)).ln();
        Ok(ConcreteDropout {
            rho,
            features: 0,
            id: 0,
            z: Vec::new(),
            stochastic_pass: false,
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    /// The current drop probability.
    pub fn p(&self) -> f32 {
        sigmoid(self.rho.value.data()[0])
    }
}

/// Whether this pass carries the regularizer: training, with a known training-set size.
fn regularized(ctx: &Ctx) -> bool {
    ctx.data_size > 0 && ctx.mode == Mode::Train
}

impl Layer for ConcreteDropout {
    fn mask_bytes(&self) -> usize {
        (self.z.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        format!("concrete_dropout({})", self.p())
    }
    // 2/N K (p log p + (1 - p) log(1 - p)): the dropout regularizer (minus the entropy of the
    // rate, scaled by the number of features K).
    fn regularizer(&self, ctx: &Ctx) -> f64 {
        if !regularized(ctx) {
            return 0.0;
        }
        let (p, k) = (self.p() as f64, self.features as f64);
        2.0 / ctx.data_size as f64 * k * (p * p.ln() + (1.0 - p) * (1.0 - p).ln())
    }
    crate::layer::buffers!();
    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        self.features = input.iter().product();
        Ok(input.to_vec())
    }
    // x: (B, ...) -> y: (B, ...)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.y.resize(x.shape());
        let key = mask_key(ctx, self.id, 1.0);
        self.stochastic_pass = key.is_some();
        let Some(key) = key else {
            self.y.data_mut().copy_from_slice(x.data());
            return Ok(&self.y);
        };
        let p = self.p();
        let logit_p = (p / (1.0 - p)).ln();
        self.z.resize(x.len(), 0.0);
        fill_uniform(&mut self.z, &key);
        for ((z, y), &xv) in self.z.iter_mut().zip(self.y.data_mut()).zip(x.data()) {
            let u = *z;
            *z = sigmoid((logit_p + (u / (1.0 - u)).ln()) / TEMPERATURE);
            *y = xv * (1.0 - *z) / (1.0 - p);
        }
        Ok(&self.y)
    }
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        check_grad(dy, x, || self.spec())?;
        let p = self.p();
        let mut d_rho = 0f64;
        if self.stochastic_pass {
            for ((&z, &g), &xv) in self.z.iter().zip(dy.data()).zip(x.data()) {
                d_rho += (g * xv * (p * (1.0 - z) - z * (1.0 - z) / TEMPERATURE) / (1.0 - p)) as f64;
            }
        }
        if regularized(ctx) {
            // d/d rho of 2/N K (p log p + (1 - p) log(1 - p)) = 2/N K p (1 - p) log(p / (1 - p)).
            let (p64, k) = (p as f64, self.features as f64);
            d_rho += 2.0 / ctx.data_size as f64 * k * p64 * (1.0 - p64) * (p64 / (1.0 - p64)).ln();
        }
        self.rho.grad.data_mut()[0] = d_rho as f32;
        if ctx.input_grad {
            self.dx.resize(x.shape());
            if self.stochastic_pass {
                for ((d, &g), &z) in self.dx.data_mut().iter_mut().zip(dy.data()).zip(&self.z) {
                    *d = g * (1.0 - z) / (1.0 - p);
                }
            } else {
                self.dx.data_mut().copy_from_slice(dy.data());
            }
        }
        Ok(&self.dx)
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("p_logit", &mut self.rho);
    }
    fn is_stochastic(&self) -> bool {
        true
    }
    fn summary(&self) -> Option<String> {
        Some(format!("concrete_dropout: learned p = {:.4}", self.p()))
    }
}

/// `concrete_dropout[(p)]`: p is where the learned rate starts.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcreteConfig {
    pub p: f64,
}

impl std::fmt::Display for ConcreteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "concrete_dropout({})", self.p)
    }
}

impl LayerConfig for ConcreteConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(ConcreteDropout::new(self.p)?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.p]
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["concrete_dropout"],
    usage: "concrete_dropout[(p)]",
    example: "concrete_dropout(0.2)",
    summary: "dropout whose rate is learned (relaxed Bernoulli masks, starting at p, 0.1 by default); the learned p is printed",
    paper: "Gal et al. 2017, NeurIPS",
    dropout: Some(Substitute::ForRate(|p| Ok(Box::new(ConcreteConfig { p })))),
    parse: |call| {
        call.expect(0, 1, "concrete_dropout or concrete_dropout(init_p), e.g. concrete_dropout(0.1)")?;
        one(ConcreteConfig { p: call.prob_or(0, 0.1)? })
    },
};
