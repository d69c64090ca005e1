//! A run's configuration: everything needed to rerun it, stored as `config.toml`.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::data::augment::Augment;
use crate::data::input::InputConfig;
use crate::error::{Error, Result};
use crate::loss::RegressionLoss;
use crate::optim::OptimizerConfig;
use crate::train::EarlyStopping;
use serde::{Deserialize, Serialize};

/// What a training run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The preset this run started from, if any (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// The model spec, e.g. `dense(512) relu dropout(0.2) dense(10)` (may be left out of a
    /// file and given as `--model`).
    #[serde(default)]
    pub model: String,
    /// The data set's name under the data directory (ignored when `[input]` is given).
    #[serde(default = "default_dataset")]
    pub dataset: String,
    /// The user's own data: a CSV table, a NumPy file or an image folder (`[input]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputConfig>,
    /// Regression: `mse`, or `gaussian_nll` for a model that outputs a mean and a
    /// log-variance per target value.
    #[serde(default, skip_serializing_if = "is_mse")]
    pub loss: RegressionLoss,
    /// Text data: characters per sequence (default: the model's `posembed` context, else 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<usize>,
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Fraction of the training set (the last part) held out for validation.
    #[serde(default)]
    pub validation_split: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Write a checkpoint every this many epochs (and after the last); 0 writes none.
    #[serde(default = "one")]
    pub checkpoint_every: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// Where the data came from (written by `dropkit train`): later commands read the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<crate::data::DataRecord>,
    /// Random translations and rotations of training images (`[augment]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<Augment>,
    /// Also write TensorBoard event files into the run directory (scalars per epoch and the
    /// loss of every batch).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tensorboard: bool,
    /// R-Drop's alpha: two stochastic passes per batch and their symmetric KL term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdrop: Option<f32>,
    /// Early or late dropout: `{ kind = "early", cutoff = 5 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout_schedule: Option<crate::dropout::schedule::DropoutSchedule>,
    /// Changes made when the run was resumed (e.g. "resumed after epoch 3 with lr 0.001").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<String>,
}

/// The data sets a run can name under the data directory.
pub use crate::data::DATASETS;

fn default_dataset() -> String {
    "mnist".into()
}

fn is_mse(l: &RegressionLoss) -> bool {
    *l == RegressionLoss::Mse
}

fn one() -> usize {
    1
}

fn default_epochs() -> usize {
    10
}

fn default_batch_size() -> usize {
    128
}

fn default_seed() -> u64 {
    42
}

impl RunConfig {
    /// A config for `model` with the defaults of `dropkit train --model`: 10 epochs, batch 128,
    /// validation split 0.1, seed 42, Adam 1e-3, a checkpoint every epoch.
    pub fn new(model: &str) -> Self {
        RunConfig {
            preset: None,
            model: model.into(),
            dataset: default_dataset(),
            input: None,
            loss: RegressionLoss::Mse,
            context: None,
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            validation_split: 0.1,
            seed: default_seed(),
            optimizer: OptimizerConfig::default(),
            checkpoint_every: 1,
            early_stopping: None,
            data: None,
            augment: None,
            tensorboard: false,
            rdrop: None,
            dropout_schedule: None,
            amendments: Vec::new(),
        }
    }

    /// Checks every field, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidArgument("epochs = 0: train for at least 1 epoch".into()));
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidArgument("batch size 0: it must be at least 1, e.g. 128".into()));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(Error::InvalidArgument(format!(
                "validation split {}: must be in [0, 1), e.g. 0.2",
                self.validation_split
            )));
        }
        if let Some(input) = &self.input {
            input.validate()?;
        } else if !DATASETS.contains(&self.dataset.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "dataset = \"{}\" is not a data set dropkit reads; use one of {}",
                self.dataset,
                DATASETS.join(", ")
            )));
        }
        self.optimizer.validate()?;
        if let Some(a) = &self.augment {
            a.validate()?;
        }
        if let Some(rule) = &self.early_stopping {
            rule.validate()?;
            if self.validation_split == 0.0 {
                return Err(Error::InvalidArgument(
                    "early stopping watches the validation set; set validation_split > 0, e.g. 0.1".into(),
                ));
            }
        }
        crate::model::spec::parse(&self.model).map(|_| ())
    }

    /// The sequence length of text data: `context`, else the model's position-embedding
    /// length, else [`DEFAULT_CONTEXT`](crate::data::text::DEFAULT_CONTEXT).
    pub fn text_context(&self) -> usize {
        self.context
            .or_else(|| crate::model::spec::parse(&self.model).ok().and_then(|m| m.context()))
            .unwrap_or(crate::data::text::DEFAULT_CONTEXT)
    }

    /// TOML text of this config.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::InvalidArgument(format!("config cannot be written as TOML: {e}")))
    }

    /// Parses and validates a config; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg = Self::parse_toml(text, origin)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a config without validating it (flags may still complete it, e.g. `--model`).
    /// Errors are one line: the file, the line and column, and what is wrong there.
    pub fn parse_toml(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = text.get(..s.start).unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: ")
            });
            Error::InvalidArgument(format!("{origin}: {}{}", at.unwrap_or_default(), e.message().trim()))
        })
    }
}
