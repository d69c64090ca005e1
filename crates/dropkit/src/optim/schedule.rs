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
}

impl Schedule {
    /// The rate at `epoch` for base rate `base`.
    pub fn lr(&self, base: f32, epoch: usize) -> f32 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Exponential { gamma } => base * gamma.powi(epoch as i32),
        }
    }

    pub fn validate(&self) -> Result<()> {
        let gamma = match *self {
            Schedule::Constant => return Ok(()),
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
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "schedule '{s}': use constant, step:EVERY:GAMMA (e.g. step:10:0.5) or exp:GAMMA (e.g. exp:0.95)"
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
    }
}
