//! DropConnect (Wan, Zeiler, Zhang, LeCun, Fergus, "Regularization of Neural Networks using
//! DropConnect", ICML 2013, <https://proceedings.mlr.press/v28/wan13.html>): a dense layer
//! whose *weights* are dropped.
//!
//! Drops: each weight, `M_ij ~ Bernoulli(1 - p)`; one mask per minibatch (default) or one per
//! example (`per_example`). Train: `u = x (W * M / (1 - p))^T + b`, `y = f(u)` (inverted
//! scaling, so the mean weight is W). Backward: `du = dy f'(u)`, `dW = (du^T x) * M / (1 - p)`,
//! `dx = du (W * M / (1 - p))`, the mask regenerated from its key.
//! Eval, mean-field (default): `y = f(x W^T + b)`. Eval, Wan's sampling (`samples=Z`): each
//! pre-activation is Gaussian by moment matching, `u ~ N(x W^T + b, p / (1 - p) (x*x)(W*W)^T)`;
//! `y` is the mean of `f(u)` over Z draws. Monte Carlo: fresh weight masks per sample.

use super::{drop_mask, fill_normal, inverted_scale, validate_p};
use crate::error::{Error, Result};
use crate::init::glorot_uniform;
use crate::kernels::activation::ActivationKind;
use crate::kernels::affine::{affine, broadcast_rows};
use crate::kernels::column_sums;
use crate::kernels::gemm::{matmul, MatRef};
use crate::kernels::mask::{self, MaskKey};
use crate::kind::{downcast, one, LayerConfig, LayerKind, Substitute};
use crate::layer::{Ctx, Layer, Mode, Param, ParamKind};
use crate::nn::activation::ActivationConfig;
use crate::nn::linear::{DenseConfig, Init};
use crate::rng::{counters, key_for, streams, Stream};
use crate::tensor::Tensor;

/// How an eval pass treats the random weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropConnectEval {
    /// The mean weights: `f(x W^T + b)`.
    MeanField,
    /// Wan's Gaussian moment matching, averaging `f` over this many draws.
    Sampling(usize),
}

/// Options of a DropConnect layer beyond its size and rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropConnectOptions {
    /// Applied inside the layer (Wan's sampling needs it there).
    pub activation: Option<ActivationKind>,
    /// One weight mask per example instead of per minibatch.
    pub per_example: bool,
    pub eval: DropConnectEval,
}

impl Default for DropConnectOptions {
    fn default() -> Self {
        DropConnectOptions { activation: None, per_example: false, eval: DropConnectEval::MeanField }
    }
}

/// A dense layer with DropConnect on its weights.
pub struct DropConnect {
    units: usize,
    p: f32,
    options: DropConnectOptions,
    in_features: usize,
    weight: Param,
    bias: Param,
    id: u64,
    /// `W * M / (1 - p)` of the current mask (units, in).
    masked: Vec<f32>,
    /// Scratch: the outer product for per-example gradients, squares for sampling, the
    /// transposed product in forward.
    scratch: Vec<f32>,
    scratch2: Tensor,
    /// Sum of the sampled activations (B, units), for Wan's inference.
    sampled_sum: Vec<f32>,
    noise: Tensor,
    du: Tensor,
    y: Tensor,
    dx: Tensor,
}

impl DropConnect {
    pub fn new(units: usize, p: f64, options: DropConnectOptions) -> Result<Self> {
        let p = validate_p("dropconnect", p)?;
        if units == 0 {
            return Err(Error::InvalidArgument("dropconnect(0, ...): units must be at least 1".into()));
        }
        if options.eval == DropConnectEval::Sampling(0) {
            return Err(Error::InvalidArgument("dropconnect samples=0: Wan's sampling needs at least 1 draw".into()));
        }
        Ok(DropConnect {
            units,
            p,
            options,
            in_features: 0,
            weight: Param::zeros(&[0], ParamKind::Weight),
            bias: Param::zeros(&[0], ParamKind::Bias),
            id: 0,
            masked: Vec::new(),
            scratch: Vec::new(),
            scratch2: Tensor::default(),
            sampled_sum: Vec::new(),
            noise: Tensor::default(),
            du: Tensor::default(),
            y: Tensor::default(),
            dx: Tensor::default(),
        })
    }

    fn scale(&self) -> f32 {
        inverted_scale(self.p)
    }

    /// The key of example `b`'s mask (per-example masks), or of the minibatch's.
    fn example_key(per_example: bool, id: u64, base: &MaskKey, seed: u64, b: usize) -> MaskKey {
        if !per_example {
            return *base;
        }
        let (seed, stream) = streams::per_example(seed, id, b);
        MaskKey { key: key_for(seed, stream), ..*base }
    }

    /// `y = f(u)` in place, keeping `u` nowhere: backward uses `f'` from the output.
    fn activate(&mut self) {
        if let Some(act) = self.options.activation {
            self.y.data_mut().iter_mut().for_each(|v| *v = act.apply(*v));
        }
    }

    fn mean_field(&mut self, x: &Tensor) {
        let b = x.rows();
        self.y.resize(&[b, self.units]);
        affine(self.y.data_mut(), x.data(), self.weight.value.data(), self.bias.value.data(), b, &mut self.scratch);
    }

    /// Wan's inference: Gaussian pre-activations by moment matching, `f` averaged over draws.
    fn sampled(&mut self, x: &Tensor, ctx: &Ctx, samples: usize) {
        self.mean_field(x); // y = mean pre-activation
        let Some(act) = self.options.activation else { return };
        let (b, n) = (x.rows(), self.units);
        // var = p / (1 - p) (x*x)(W*W)^T
        self.scratch.clear();
        self.scratch.extend(self.weight.value.data().iter().map(|w| w * w));
        let mut x2 = std::mem::take(&mut self.scratch2);
        x2.resize(x.shape());
        x2.data_mut().iter_mut().zip(x.data()).for_each(|(o, v)| *o = v * v);
        self.du.resize(&[b, n]);
        let w2 = MatRef::new(&self.scratch, n, self.in_features);
        matmul(self.du.data_mut(), MatRef::new(x2.data(), b, self.in_features), w2.t(), false);
        self.scratch2 = x2;
        let ratio = if self.p < 1.0 { self.p / (1.0 - self.p) } else { 0.0 };
        self.noise.resize(&[b, n]);
        let mut total = std::mem::take(&mut self.sampled_sum);
        total.clear();
        total.resize(b * n, 0.0);
        for z in 0..samples {
            let key = MaskKey { key: key_for(ctx.seed, self.id), step: counters::wan_draw(z), threshold: 0 };
            fill_normal(self.noise.data_mut(), &key);
            for (((t, &mean), &var), &e) in
                total.iter_mut().zip(self.y.data()).zip(self.du.data()).zip(self.noise.data())
            {
                *t += act.apply(mean + (ratio * var).sqrt() * e);
            }
        }
        let inv = 1.0 / samples as f32;
        self.y.data_mut().iter_mut().zip(&total).for_each(|(y, t)| *y = t * inv);
        self.sampled_sum = total;
    }
}

impl Layer for DropConnect {
    fn mask_bytes(&self) -> usize {
        (self.masked.len()) * std::mem::size_of::<f32>()
    }
    fn spec(&self) -> String {
        let mut args = vec![self.units.to_string(), self.p.to_string()];
        if let Some(a) = self.options.activation {
            args.push(a.name().to_string());
        }
        if self.options.per_example {
            args.push("per_example".into());
        }
        if let DropConnectEval::Sampling(z) = self.options.eval {
            args.push(format!("samples={z}"));
        }
        format!("dropconnect({})", args.join(", "))
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        self.in_features = input.iter().product();
        self.weight = Param::checked(&[self.units, self.in_features], ParamKind::Weight, &self.spec())?;
        self.bias = Param::checked(&[self.units], ParamKind::Bias, &self.spec())?;
        // Glorot/Xavier uniform, as for dense layers.
        glorot_uniform(self.weight.value.data_mut(), self.in_features, self.units, init);
        Ok(vec![self.units])
    }

    // x: (B, in) -> y: (B, units)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        crate::layer::check_input(x, self.in_features, || self.spec())?;
        let Some(base) = drop_mask(ctx, self.id, self.p) else {
            match self.options.eval {
                DropConnectEval::Sampling(z) if ctx.mode == Mode::Eval => self.sampled(x, ctx, z),
                _ => {
                    self.mean_field(x);
                    self.activate();
                }
            }
            return Ok(&self.y);
        };
        let (b, n, d, s) = (x.rows(), self.units, self.in_features, self.scale());
        self.y.resize(&[b, n]);
        self.masked.resize(n * d, 0.0);
        if self.options.per_example {
            broadcast_rows(self.y.data_mut(), self.bias.value.data());
            for (i, (yr, xr)) in self.y.data_mut().chunks_exact_mut(n).zip(x.data().chunks_exact(d)).enumerate() {
                let key = Self::example_key(self.options.per_example, self.id, &base, ctx.seed, i);
                mask::apply(&mut self.masked, self.weight.value.data(), &key, s);
                matmul(yr, MatRef::new(xr, 1, d), MatRef::new(&self.masked, n, d).t(), true);
            }
        } else {
            mask::apply(&mut self.masked, self.weight.value.data(), &base, s);
            affine(self.y.data_mut(), x.data(), &self.masked, self.bias.value.data(), b, &mut self.scratch);
        }
        self.activate();
        Ok(&self.y)
    }

    // du = dy f'(u); dW = (du^T x) * M * s; db = sum du; dx = du (W * M * s)
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        crate::layer::check_input(dy, self.units, || format!("{} backward", self.spec()))?;
        let (b, n, d, s) = (x.rows(), self.units, self.in_features, self.scale());
        self.du.resize(&[b, n]);
        match self.options.activation {
            Some(act) => {
                for ((du, &dy), &y) in self.du.data_mut().iter_mut().zip(dy.data()).zip(self.y.data()) {
                    *du = dy * act.grad_from_output(y);
                }
            }
            None => self.du.data_mut().copy_from_slice(dy.data()),
        }
        column_sums(self.du.data(), b, n, self.bias.grad.data_mut());
        let key = drop_mask(ctx, self.id, self.p);
        if ctx.input_grad {
            self.dx.resize(x.shape());
        }
        let du_m = MatRef::new(self.du.data(), b, n);
        match key {
            None => {
                // Mean-field: a plain dense layer.
                matmul(self.weight.grad.data_mut(), du_m.t(), MatRef::new(x.data(), b, d), false);
                if ctx.input_grad {
                    matmul(self.dx.data_mut(), du_m, MatRef::new(self.weight.value.data(), n, d), false);
                }
            }
            Some(base) if !self.options.per_example => {
                self.scratch.resize(n * d, 0.0);
                matmul(&mut self.scratch, du_m.t(), MatRef::new(x.data(), b, d), false);
                mask::apply(self.weight.grad.data_mut(), &self.scratch, &base, s);
                if ctx.input_grad {
                    mask::apply(&mut self.masked, self.weight.value.data(), &base, s);
                    matmul(self.dx.data_mut(), du_m, MatRef::new(&self.masked, n, d), false);
                }
            }
            Some(base) => {
                self.weight.grad.data_mut().fill(0.0);
                self.scratch.resize(n * d, 0.0);
                self.masked.resize(n * d, 0.0);
                for i in 0..b {
                    let key = Self::example_key(self.options.per_example, self.id, &base, ctx.seed, i);
                    let (du_i, x_i) = (&self.du.data()[i * n..(i + 1) * n], &x.data()[i * d..(i + 1) * d]);
                    matmul(&mut self.scratch, MatRef::new(du_i, 1, n).t(), MatRef::new(x_i, 1, d), false);
                    mask::apply(&mut self.masked, &self.scratch, &key, s);
                    self.weight.grad.data_mut().iter_mut().zip(&self.masked).for_each(|(g, v)| *g += v);
                    if ctx.input_grad {
                        mask::apply(&mut self.masked, self.weight.value.data(), &key, s);
                        let dx_i = &mut self.dx.data_mut()[i * d..(i + 1) * d];
                        matmul(dx_i, MatRef::new(du_i, 1, n), MatRef::new(&self.masked, n, d), false);
                    }
                }
            }
        }
        Ok(&self.dx)
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }

    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

/// `dropconnect(units, p[, activation][, per_example][, samples=Z])`.
#[derive(Clone, Debug, PartialEq)]
pub struct DropConnectConfig {
    pub units: usize,
    pub p: f64,
    pub options: DropConnectOptions,
}

impl std::fmt::Display for DropConnectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dropconnect({}, {}", self.units, self.p)?;
        if let Some(a) = self.options.activation {
            write!(f, ", {}", a.name())?;
        }
        if self.options.per_example {
            f.write_str(", per_example")?;
        }
        if let DropConnectEval::Sampling(z) = self.options.eval {
            write!(f, ", samples={z}")?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for DropConnectConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        Ok(Box::new(DropConnect::new(self.units, self.p, self.options)?))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.p]
    }
    /// A plain dense layer (and its activation): no weight is dropped.
    fn without_dropout(&self) -> Vec<Box<dyn LayerConfig>> {
        let mut out: Vec<Box<dyn LayerConfig>> =
            vec![Box::new(DenseConfig { units: self.units, init: Init::GlorotUniform })];
        if let Some(kind) = self.options.activation {
            out.push(Box::new(ActivationConfig { kind, inline: true }));
        }
        out
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["dropconnect"],
    usage: "dropconnect(units, p[, act][, per_example][, samples=Z])",
    example: "dropconnect(64, 0.5, relu)",
    summary: "dense layer with dropped weights; eval by mean field or by Wan's Gaussian sampling with Z draws (in place of dropout(p): the dense layer before it)",
    paper: "Wan et al. 2013, ICML",
    dropout: Some(Substitute::Host(|host, p| {
        downcast::<DenseConfig>(host).map(|d| {
            Box::new(DropConnectConfig { units: d.units, p, options: DropConnectOptions::default() }) as Box<dyn LayerConfig>
        })
    })),
    parse: |call| {
        call.expect(2, 5, "dropconnect(units, p[, activation][, per_example][, samples=Z]), e.g. dropconnect(512, 0.5, relu)")?;
        let mut options = DropConnectOptions::default();
        for extra in call.args.iter().skip(2) {
            if let Some(act) = ActivationKind::from_name(extra) {
                options.activation = Some(act);
            } else if extra.eq_ignore_ascii_case("per_example") {
                options.per_example = true;
            } else if let Some(z) = extra.strip_prefix("samples=") {
                let z = z.trim().parse::<usize>().map_err(|_| {
                    call.error(format!("samples='{z}' must be a whole number of draws, e.g. samples=100"))
                })?;
                options.eval = DropConnectEval::Sampling(z);
            } else {
                return Err(call.error(format!(
                    "unknown option '{extra}'; use an activation (relu, tanh, sigmoid, selu), per_example or samples=Z"
                )));
            }
        }
        one(DropConnectConfig { units: call.positive(0, "units")?, p: call.prob(1)?, options })
    },
};
