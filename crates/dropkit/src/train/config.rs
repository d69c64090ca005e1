//! A run's configuration: everything needed to rerun it, stored as `config.toml`.

use crate::error::{Error, Result};
use crate::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};

/// What a training run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The preset this run started from, if any (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// The model spec, e.g. `dense(512) relu dropout(0.2) dense(10)`.
    pub model: String,
    /// The data set's name under the data directory.
    #[serde(default = "default_dataset")]
    pub dataset: String,
    pub epochs: usize,
    pub batch_size: usize,
    /// Fraction of the training set (the last part) held out for validation.
    #[serde(default)]
    pub validation_split: f64,
    pub seed: u64,
    pub optimizer: OptimizerConfig,
}

fn default_dataset() -> String {
    "mnist".into()
}

impl RunConfig {
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
        self.optimizer.validate()?;
        crate::model::spec::parse(&self.model).map(|_| ())
    }

    /// TOML text of this config.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::InvalidArgument(format!("config cannot be written as TOML: {e}")))
    }

    /// Parses and validates a config; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg: RunConfig =
            toml::from_str(text).map_err(|e| Error::format(origin, e.to_string().trim().to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }
}
