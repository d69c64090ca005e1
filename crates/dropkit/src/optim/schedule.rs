//! Learning-rate schedules, evaluated per epoch (0-based).

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the learning rate changes over epochs.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// `lr * gamma^(floor(epoch / every))` (PyTorch `StepLR`).
    Step { every: usize, gamma: f32 },
    /// `lr * gamma^epoch` (PyTorch `ExponentialLR`).
    Exponential { gamma: f32 },
    /// Per step: a linear warm-up over the first `warmup` steps, `lr * (s + 1) / warmup`, then
    /// a cosine decay to `lr * min` at the last step (the GPT / nanoGPT schedule).
    Cosine { warmup: usize, min: f32 },
}

impl Schedule {
    /// The rate at `epoch` for base rate `base`.
    pub fn lr(&self, base: f32, epoch: usize) -> f32 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Exponential { gamma } => base * gamma.powi(epoch as i32),
            Schedule::Cosine { .. } => self.lr_at_step(base, epoch, 0, 1),
        }
    }

    /// The rate at optimizer step `step` (0-based) of `total` in `epoch`: per-step schedules
    /// follow the step, the others the epoch.
    pub fn lr_at_step(&self, base: f32, epoch: usize, step: u64, total: u64) -> f32 {
        match *self {
            Schedule::Cosine { warmup, min } => {
                let warmup = warmup as u64;
                if step < warmup {
                    return base * (step + 1) as f32 / warmup as f32;
                }
                let span = total.saturating_sub(warmup).max(1);
                let t = ((step - warmup) as f64 / span as f64).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
                base * (min + (1.0 - min) * cosine as f32)
            }
            _ => self.lr(base, epoch),
        }
    }

    /// Whether the rate changes within an epoch.
    pub fn per_step(&self) -> bool {
        matches!(self, Schedule::Cosine { .. })
    }

    pub fn validate(&self) -> Result<()> {
        let gamma = match *self {
            Schedule::Constant => return Ok(()),
            Schedule::Cosine { min, .. } => {
                if !(0.0..=1.0).contains(&min) {
                    return Err(Error::InvalidArgument(format!(
                        "cosine schedule: min = {min} is a fraction of the rate, in [0, 1], e.g. 0.1"
                    )));
                }
                return Ok(());
            }
            Schedule::Step { every: 0, .. } => {
                return Err(Error::InvalidArgument("step schedule: every = 0; it must be at least 1 epoch".into()))
            }
            Schedule::Step { gamma, .. } | Schedule::Exponential { gamma } => gamma,
        };
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(Error::InvalidArgument(format!("schedule gamma = {gamma}: must be positive, e.g. 0.95")));
        }
        Ok(())
    }

    /// Parses `constant`, `step:EVERY:GAMMA` or `exp:GAMMA`.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |v: &str| -> Result<f32> {
            v.parse().map_err(|_| Error::InvalidArgument(format!("schedule '{s}': '{v}' is not a number")))
        };
        let sched = match parts.as_slice() {
            ["constant"] => Schedule::Constant,
            ["step", every, gamma] => Schedule::Step {
                every: every.parse().map_err(|_| {
                    Error::InvalidArgument(format!("schedule '{s}': '{every}' is not a whole number of epochs"))
                })?,
                gamma: num(gamma)?,
            },
            ["exp", gamma] => Schedule::Exponential { gamma: num(gamma)? },
            ["cosine", warmup, rest @ ..] if rest.len() <= 1 => Schedule::Cosine {
                warmup: warmup.parse().map_err(|_| {
                    Error::InvalidArgument(format!("schedule '{s}': '{warmup}' is not a whole number of warm-up steps"))
                })?,
                min: rest.first().map(|m| num(m)).transpose()?.unwrap_or(0.1),
            },
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "schedule '{s}': use constant, step:EVERY:GAMMA (e.g. step:10:0.5), exp:GAMMA (e.g. exp:0.95) or cosine:WARMUP_STEPS[:MIN] (e.g. cosine:100:0.1)"
                )))
            }
        };
        sched.validate()?;
        Ok(sched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(Schedule::parse("step:2:0.5").unwrap().lr(1.0, 5), 0.25);
        assert!((Schedule::parse("exp:0.9").unwrap().lr(1.0, 2) - 0.81).abs() < 1e-6);
        assert!(Schedule::parse("step:0:0.5").is_err());
        assert!(Schedule::parse("cosine").is_err());
        let c = Schedule::parse("cosine:10:0.1").unwrap();
        assert!((c.lr_at_step(1.0, 0, 0, 110) - 0.1).abs() < 1e-6);
        assert!((c.lr_at_step(1.0, 0, 9, 110) - 1.0).abs() < 1e-6);
        assert!((c.lr_at_step(1.0, 0, 60, 110) - 0.55).abs() < 1e-6);
        assert!((c.lr_at_step(1.0, 0, 110, 110) - 0.1).abs() < 1e-6);
    }
}
