//! Early and late dropout (Liu, Xu, Darrell et al., "Dropout Reduces Underfitting", ICML 2023,
//! <https://arxiv.org/abs/2303.01500>): every dropout of a model on for only part of training.
//!
//! Early dropout: on for epochs `< cutoff`, off after (for models that underfit: it lowers the
//! training loss). Late dropout: off for epochs `< cutoff`, on after (for models that
//! overfit). "Off" is each layer's eval rule (identity for inverted dropout), as the paper's
//! code sets the rate to 0. Eval and Monte Carlo inference are unchanged: MC samples with the
//! layers' rates.

use super::catalogue::Entry;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// When dropout is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DropoutSchedule {
    /// On before epoch `cutoff` (0-based), off from it.
    Early { cutoff: usize },
    /// Off before epoch `cutoff`, on from it.
    Late { cutoff: usize },
}

impl DropoutSchedule {
    /// Whether dropout is on in `epoch` (0-based).
    pub fn active(self, epoch: usize) -> bool {
        match self {
            DropoutSchedule::Early { cutoff } => epoch < cutoff,
            DropoutSchedule::Late { cutoff } => epoch >= cutoff,
        }
    }

    /// Parses `early:EPOCHS` or `late:EPOCHS`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "dropout schedule '{text}': use early:EPOCHS (on for the first EPOCHS epochs) or late:EPOCHS (on after them), e.g. early:5"
            ))
        };
        let (kind, epochs) = text.split_once(':').ok_or_else(bad)?;
        let cutoff: usize = epochs.trim().parse().map_err(|_| bad())?;
        match kind.trim() {
            "early" => Ok(DropoutSchedule::Early { cutoff }),
            "late" => Ok(DropoutSchedule::Late { cutoff }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for DropoutSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropoutSchedule::Early { cutoff } => write!(f, "early:{cutoff}"),
            DropoutSchedule::Late { cutoff } => write!(f, "late:{cutoff}"),
        }
    }
}

pub const INFO: Entry = Entry {
    name: "early_late",
    spec: "train --dropout-schedule early:E | late:E",
    description:
        "early / late dropout: every dropout of the model on only before, or only after, epoch E (off = the eval rule)",
    paper: "Liu et al. 2023, ICML",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_and_late_are_on_either_side_of_the_cutoff() {
        let early = DropoutSchedule::parse("early:2").unwrap();
        let late = DropoutSchedule::parse("late:2").unwrap();
        assert_eq!((0..4).map(|e| early.active(e)).collect::<Vec<_>>(), [true, true, false, false]);
        assert_eq!((0..4).map(|e| late.active(e)).collect::<Vec<_>>(), [false, false, true, true]);
        assert!(DropoutSchedule::parse("mid:2").is_err() && DropoutSchedule::parse("early").is_err());
        assert_eq!(early.to_string(), "early:2");
    }
}
