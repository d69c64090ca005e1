//! Early stopping, as Keras' `EarlyStopping` callback: watch a validation figure after every
//! epoch, stop once it has not improved by more than `min_delta` for `patience` epochs, and
//! (with `restore_best`) end with the weights of the best epoch.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which validation figure decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Lower is better.
    #[default]
    ValLoss,
    /// Higher is better.
    ValAccuracy,
}

/// When to stop; part of a run's `config.toml` (`[early_stopping]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    #[serde(default)]
    pub monitor: Monitor,
    /// Epochs without improvement tolerated before stopping.
    pub patience: usize,
    /// The least change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
    /// End with the best epoch's weights instead of the last epoch's.
    #[serde(default = "yes")]
    pub restore_best: bool,
}

fn yes() -> bool {
    true
}

impl EarlyStopping {
    pub fn validate(&self) -> Result<()> {
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "early stopping min_delta = {}: must be a number >= 0, e.g. 0.001",
                self.min_delta
            )));
        }
        Ok(())
    }
}

/// What early stopping remembers between epochs (saved in checkpoints).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyState {
    /// The best value seen, and the 1-based epoch that reached it.
    pub best: Option<(f64, usize)>,
    /// Epochs since the last improvement.
    pub wait: usize,
}

/// The outcome of one epoch for early stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Improved,
    Continue,
    Stop,
}

impl EarlyState {
    /// Records `value` (the monitored figure of 1-based `epoch`).
    pub fn observe(&mut self, rule: &EarlyStopping, value: f64, epoch: usize) -> Verdict {
        // Compare as "lower is better".
        let score = match rule.monitor {
            Monitor::ValLoss => value,
            Monitor::ValAccuracy => -value,
        };
        let improved = match self.best {
            None => true,
            Some((best, _)) => {
                let best = if rule.monitor == Monitor::ValLoss { best } else { -best };
                score < best - rule.min_delta
            }
        };
        if improved {
            self.best = Some((value, epoch));
            self.wait = 0;
            return Verdict::Improved;
        }
        self.wait += 1;
        if self.wait >= rule.patience {
            Verdict::Stop
        } else {
            Verdict::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(monitor: Monitor, patience: usize, min_delta: f64) -> EarlyStopping {
        EarlyStopping { monitor, patience, min_delta, restore_best: true }
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let r = rule(Monitor::ValLoss, 2, 0.0);
        let mut s = EarlyState::default();
        let verdicts: Vec<_> = [1.0, 0.8, 0.9, 0.85].iter().zip(1..).map(|(&v, e)| s.observe(&r, v, e)).collect();
        use Verdict::*;
        assert_eq!(verdicts, [Improved, Improved, Continue, Stop]);
        assert_eq!(s.best, Some((0.8, 2)));
    }

    #[test]
    fn min_delta_and_direction_follow_the_monitor() {
        let r = rule(Monitor::ValAccuracy, 0, 0.01);
        let mut s = EarlyState::default();
        assert_eq!(s.observe(&r, 0.90, 1), Verdict::Improved);
        assert_eq!(s.observe(&r, 0.915, 2), Verdict::Improved);
        // +0.005 is below min_delta: no improvement, and patience 0 stops at once.
        assert_eq!(s.observe(&r, 0.92, 3), Verdict::Stop);
        assert_eq!(s.best, Some((0.915, 2)));
    }
}
