//! Optimizers (SGD with momentum and Nesterov, Adam, AdamW), L2 weight decay, the max-norm
//! constraint and learning-rate schedules. Updates are elementwise and run in parallel over
//! fixed chunks, so they are identical for any thread count.

pub mod adam;
pub mod max_norm;
pub mod schedule;
pub mod sgd;

pub use schedule::Schedule;

use crate::error::{Error, Result};
use crate::layer::ParamKind;
use crate::model::Sequential;
use serde::{Deserialize, Serialize};

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
    AdamW,
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(Error::InvalidArgument(format!("unknown optimizer '{s}'; use sgd, adam or adamw"))),
        }
    }
}

/// Everything an optimizer needs; serialised into a run's `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    /// Base learning rate (before the schedule).
    pub lr: f32,
    /// SGD momentum (0 = plain SGD).
    pub momentum: f32,
    /// Nesterov momentum (SGD only).
    pub nesterov: bool,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// L2 penalty on weights (not biases): added to the gradient for SGD and Adam, decoupled
    /// (`w -= lr * decay * w`) for AdamW.
    pub weight_decay: f32,
    /// Max-norm constraint: each unit's incoming weight vector is rescaled to norm <= c.
    pub max_norm: Option<f32>,
    pub schedule: Schedule,
    /// SGD momentum rising linearly from `start` to `momentum` over the first `epochs` epochs
    /// (Hinton et al. 2012; Srivastava et al. 2014, appendix A.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum_ramp: Option<MomentumRamp>,
    /// Dampened SGD momentum, `b = mu b + (1 - mu) g` (PyTorch's `dampening = momentum`): the
    /// 2014 paper's form, whose step stays near `lr * g` whatever the momentum.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dampened: bool,
}

/// A linear momentum ramp: `start` at epoch 0, the configured momentum from epoch `epochs` on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentumRamp {
    pub start: f32,
    pub epochs: usize,
}

impl MomentumRamp {
    /// Parses `START:EPOCHS`, e.g. `0.5:100`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("momentum ramp '{text}': expected START:EPOCHS, e.g. 0.5:100"));
        let (start, epochs) = text.split_once(':').ok_or_else(bad)?;
        Ok(MomentumRamp {
            start: start.trim().parse().map_err(|_| bad())?,
            epochs: epochs.trim().parse().map_err(|_| bad())?,
        })
    }
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.0,
            nesterov: false,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: 0.0,
            max_norm: None,
            schedule: Schedule::Constant,
            momentum_ramp: None,
            dampened: false,
        }
    }
}

impl OptimizerConfig {
    /// Checks every field, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |what: &str, v: f32, want: &str| Err(Error::InvalidArgument(format!("optimizer {what} = {v}: {want}")));
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr, "the learning rate must be a positive number, e.g. 0.001");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", self.momentum, "must be in [0, 1), e.g. 0.9");
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("beta", self.beta1.max(self.beta2), "betas must be in [0, 1)");
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", self.eps, "must be positive");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay, "must be >= 0");
        }
        if let Some(c) = self.max_norm {
            if !(c.is_finite() && c > 0.0) {
                return bad("max_norm", c, "must be positive, e.g. 3.0");
            }
        }
        if let Some(r) = self.momentum_ramp {
            if !(0.0..1.0).contains(&r.start) || r.epochs == 0 || self.kind != OptimizerKind::Sgd {
                return Err(Error::InvalidArgument(format!(
                    "momentum ramp {}:{}: needs the sgd optimizer, a start in [0, 1) and at least 1 epoch, e.g. 0.5:100",
                    r.start, r.epochs
                )));
            }
        }
        if self.dampened && self.kind != OptimizerKind::Sgd {
            return Err(Error::InvalidArgument("dampened momentum needs the sgd optimizer".into()));
        }
        if self.nesterov && (self.kind != OptimizerKind::Sgd || self.momentum == 0.0) {
            return Err(Error::InvalidArgument("nesterov needs the sgd optimizer with momentum > 0".into()));
        }
        self.schedule.validate()
    }
}

/// Zero for subnormal values. Optimizer state of units that stop receiving gradient decays
/// geometrically into the subnormal range, where x86 arithmetic is many times slower; flushing
/// it changes nothing measurable (|x| < 1.2e-38) and keeps every step at full speed.
#[inline(always)]
pub(crate) fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

/// Per-parameter optimizer state (momentum buffer, Adam moments).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slot {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

/// An optimizer bound to a config, holding per-parameter state in `visit_params` order.
#[derive(Clone, Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    slots: Vec<Slot>,
    steps: u64,
    /// SGD momentum of the current epoch (see [`MomentumRamp`]).
    momentum: f32,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        let momentum = config.momentum_ramp.map_or(config.momentum, |r| r.start);
        Ok(Optimizer { config, slots: Vec::new(), steps: 0, momentum })
    }

    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Updates taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The learning rate the schedule gives for `epoch` (0-based).
    pub fn lr_at(&self, epoch: usize) -> f32 {
        self.config.schedule.lr(self.config.lr, epoch)
    }

    /// The learning rate of the next step, `epoch` (0-based) of a fit of `total` steps.
    pub fn lr_for_step(&self, epoch: usize, total: u64) -> f32 {
        self.config.schedule.lr_at_step(self.config.lr, epoch, self.steps, total)
    }

    /// The SGD momentum for `epoch` (0-based), following the ramp if there is one.
    pub fn momentum_at(&self, epoch: usize) -> f32 {
        let target = self.config.momentum;
        match self.config.momentum_ramp {
            Some(r) => r.start + (target - r.start) * (epoch as f32 / r.epochs as f32).min(1.0),
            None => target,
        }
    }

    /// Starts `epoch` (0-based): sets its momentum and returns its learning rate.
    pub fn begin_epoch(&mut self, epoch: usize) -> f32 {
        self.momentum = self.momentum_at(epoch);
        self.lr_at(epoch)
    }

    /// One update of every parameter of `model` from its stored gradients, at rate `lr`.
    /// Returns false when a gradient held a NaN or an infinity.
    pub fn step(&mut self, model: &mut Sequential, lr: f32) -> bool {
        self.begin_step();
        let (mut index, mut finite) = (0, true);
        model.visit_params(&mut |_, p| {
            finite &= self.update(index, p, lr);
            index += 1;
        });
        finite
    }

    /// Starts an update step; then call [`Optimizer::update`] once per parameter, in any order
    /// (e.g. layer by layer during the backward pass, while the weights are still in cache).
    pub fn begin_step(&mut self) {
        self.steps += 1;
    }

    /// Updates parameter number `index` (in `visit_params` order) from its gradient. Returns
    /// false when the gradient held a NaN or an infinity (checked in the same pass).
    pub fn update(&mut self, index: usize, p: &mut crate::layer::Param, lr: f32) -> bool {
        let (cfg, t) = (&self.config, self.steps);
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, Slot::default);
        }
        let slot = &mut self.slots[index];
        if slot.m.len() != p.value.len() {
            let n = p.value.len();
            *slot = Slot { m: vec![0.0; n], v: vec![0.0; if cfg.kind == OptimizerKind::Sgd { 0 } else { n }] };
        }
        let decay = if p.kind == ParamKind::Weight { cfg.weight_decay } else { 0.0 };
        let (w, g) = (p.value.data_mut(), p.grad.data());
        let finite = match cfg.kind {
            OptimizerKind::Sgd => sgd::update(w, g, &mut slot.m, cfg, self.momentum, lr, decay, t),
            OptimizerKind::Adam => adam::update(w, g, slot, cfg, lr, decay, false, t),
            OptimizerKind::AdamW => adam::update(w, g, slot, cfg, lr, decay, true, t),
        };
        if let (Some(c), ParamKind::Weight) = (cfg.max_norm, p.kind) {
            let rows = p.value.rows();
            max_norm::constrain_rows(p.value.data_mut(), rows, c);
        }
        finite
    }

    /// The state, for checkpoints: (steps, slots).
    pub fn state(&self) -> (u64, &[Slot]) {
        (self.steps, &self.slots)
    }

    /// Restores state saved by [`Optimizer::state`].
    pub fn set_state(&mut self, steps: u64, slots: Vec<Slot>) {
        self.steps = steps;
        self.slots = slots;
    }
}
