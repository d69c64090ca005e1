//! A sweep's grid: axes over dropout rate (all layers or per layer), dropout variant,
//! regularizer, minibatch size, learning rate and seed; their product is the list of trials,
//! each a complete [`RunConfig`].

use crate::data::augment::Augment;
use crate::data::fetch::sha256_hex;
use crate::error::{Error, Result};
use crate::model::spec;
use crate::train::RunConfig;
use serde::{Deserialize, Serialize};

/// What is combined with dropout in a regularizer comparison (`--regularizers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regularizer {
    /// No dropout (every dropout layer removed) and nothing else.
    None,
    Dropout,
    /// Dropout and L2 weight decay 5e-4.
    DropoutL2,
    /// Dropout and max-norm 3 on each unit's incoming weights.
    DropoutMaxNorm,
    /// Dropout with batch normalization before every hidden activation.
    DropoutBatchNorm,
    /// Dropout and random shifts (2 px) and rotations (10 degrees) of the training images.
    DropoutAugment,
}

impl Regularizer {
    pub const ALL: [Regularizer; 6] = [
        Regularizer::None,
        Regularizer::Dropout,
        Regularizer::DropoutL2,
        Regularizer::DropoutMaxNorm,
        Regularizer::DropoutBatchNorm,
        Regularizer::DropoutAugment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Regularizer::None => "none",
            Regularizer::Dropout => "dropout",
            Regularizer::DropoutL2 => "dropout+l2",
            Regularizer::DropoutMaxNorm => "dropout+max-norm",
            Regularizer::DropoutBatchNorm => "dropout+batch-norm",
            Regularizer::DropoutAugment => "dropout+augment",
        }
    }

    /// Parses a name as printed by [`Regularizer::name`] (`+` or `-` between the parts).
    pub fn parse(text: &str) -> Result<Self> {
        let norm = text.trim().to_ascii_lowercase().replace(['+', '_'], "-").replace("batchnorm", "batch-norm");
        let norm = norm.replace("maxnorm", "max-norm");
        Regularizer::ALL.into_iter().find(|r| r.name().replace('+', "-") == norm).ok_or_else(|| {
            let names: Vec<_> = Regularizer::ALL.iter().map(|r| r.name()).collect();
            Error::InvalidArgument(format!("unknown regularizer '{text}'; use one of {}", names.join(", ")))
        })
    }

    /// Applies this regularizer to `config` (whose spec has its dropout rates set).
    fn apply(self, config: &mut RunConfig) -> Result<()> {
        match self {
            Regularizer::None => config.model = spec::without_dropout(&config.model)?,
            Regularizer::Dropout => {}
            Regularizer::DropoutL2 => config.optimizer.weight_decay = 5e-4,
            Regularizer::DropoutMaxNorm => config.optimizer.max_norm = Some(3.0),
            Regularizer::DropoutBatchNorm => config.model = spec::with_batchnorm(&config.model)?,
            Regularizer::DropoutAugment => config.augment = Some(Augment::default()),
        }
        Ok(())
    }
}

/// The axes of a sweep. An empty axis keeps the base config's value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Dropout rates: `"0.5"` for every drop rate, `"0.2/0.5"` one per rate (exactly as many).
    #[serde(default)]
    pub rates: Vec<String>,
    #[serde(default)]
    pub batch_sizes: Vec<usize>,
    #[serde(default)]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub lrs: Vec<f32>,
    /// Dropout layer names, e.g. `dropout`, `classic_dropout`.
    #[serde(default)]
    pub variants: Vec<String>,
    #[serde(default)]
    pub regularizers: Vec<Regularizer>,
}

/// One trial's position on the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// A name for a hand-made trial (e.g. a row of a paper's table); grid trials have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rate setting as given (`"0.5"` or `"0.2/0.5"`), if the grid sweeps rates.
    pub rate: Option<String>,
    pub variant: Option<String>,
    pub regularizer: Option<Regularizer>,
    pub batch_size: usize,
    pub lr: f32,
    pub seed: u64,
}

impl Settings {
    /// The settings that vary in a sweep, without the seed: trials with the same label are
    /// repeats of one setting.
    pub fn label(&self) -> String {
        let mut parts: Vec<String> = self.name.iter().cloned().collect();
        if let Some(r) = &self.rate {
            parts.push(format!("rate {r}"));
        }
        if let Some(v) = &self.variant {
            parts.push(v.clone());
        }
        if let Some(r) = self.regularizer {
            parts.push(r.name().to_string());
        }
        parts.push(format!("batch {}", self.batch_size));
        parts.push(format!("lr {}", self.lr));
        parts.join(", ")
    }

    /// The swept rate as a number for plots: the last (hidden-layer) value of a per-layer rate.
    pub fn rate_value(&self) -> Option<f64> {
        self.rate.as_deref().and_then(|r| r.rsplit('/').next()).and_then(|v| v.trim().parse().ok())
    }
}

/// A trial: a point of the grid and the full config it trains.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// SHA-256 (first 16 hex digits) of the config: rerunning a sweep skips trials whose key
    /// is already in the results, and a changed config is a new trial.
    pub key: String,
    pub settings: Settings,
    pub config: RunConfig,
}

fn parse_rates(text: &str) -> Result<Vec<f64>> {
    let rates: Vec<f64> = text
        .split('/')
        .map(|v| v.trim().parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p)))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "dropout rate '{text}': use a probability in [0, 1] such as 0.5, or one per layer such as 0.2/0.5"
            ))
        })?;
    Ok(rates)
}

impl Trial {
    /// A hand-made trial named `name` (the grid axes left empty).
    pub fn named(name: &str, config: RunConfig) -> Result<Self> {
        config.validate()?;
        let settings = Settings {
            name: Some(name.to_string()),
            rate: None,
            variant: None,
            regularizer: None,
            batch_size: config.batch_size,
            lr: config.optimizer.lr,
            seed: config.seed,
        };
        Ok(Trial { key: config_key(&config)?, settings, config })
    }
}

/// The key of a config: a hash of its TOML.
pub fn config_key(config: &RunConfig) -> Result<String> {
    Ok(sha256_hex(config.to_toml()?.as_bytes()).chars().take(16).collect())
}

impl Grid {
    /// Every trial, in a fixed order (regularizer, variant, rate, batch size, lr, then seed).
    pub fn trials(&self, base: &RunConfig) -> Result<Vec<Trial>> {
        fn axis<T: Clone>(values: &[T]) -> Vec<Option<T>> {
            if values.is_empty() {
                vec![None]
            } else {
                values.iter().cloned().map(Some).collect()
            }
        }
        let mut trials = Vec::new();
        for regularizer in axis(&self.regularizers) {
            for variant in axis(&self.variants) {
                for rate in axis(&self.rates) {
                    for batch_size in axis(&self.batch_sizes) {
                        for lr in axis(&self.lrs) {
                            for seed in axis(&self.seeds) {
                                let mut config = base.clone();
                                if let Some(v) = &variant {
                                    config.model = spec::with_dropout_variant(&config.model, v)?;
                                }
                                if let Some(r) = &rate {
                                    config.model = spec::with_dropout_rates(&config.model, &parse_rates(r)?)?;
                                }
                                if let Some(r) = regularizer {
                                    r.apply(&mut config)?;
                                }
                                config.batch_size = batch_size.unwrap_or(config.batch_size);
                                config.optimizer.lr = lr.unwrap_or(config.optimizer.lr);
                                config.seed = seed.unwrap_or(config.seed);
                                // Trials keep no checkpoints: a sweep reruns what did not finish.
                                config.checkpoint_every = 0;
                                config.validate()?;
                                let settings = Settings {
                                    name: None,
                                    rate: rate.clone(),
                                    variant: variant.clone(),
                                    regularizer,
                                    batch_size: config.batch_size,
                                    lr: config.optimizer.lr,
                                    seed: config.seed,
                                };
                                trials.push(Trial { key: config_key(&config)?, settings, config });
                            }
                        }
                    }
                }
            }
        }
        Ok(trials)
    }
}

/// Which part of a sweep this process runs: trial k belongs to part `k % count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `i/N` with 1 <= i <= N (a Slurm array task id; Kubernetes' 0-based
    /// JOB_COMPLETION_INDEX plus 1).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "shard '{text}': expected i/N with 1 <= i <= N, e.g. 2/4 for the second of four"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether trial number `k` (in grid order) is this shard's.
    pub fn owns(&self, k: usize) -> bool {
        k % self.count == self.index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RunConfig {
        RunConfig::new("dropout(0.2) dense(64, relu) dropout(0.5) dense(10)")
    }

    #[test]
    fn the_grid_is_the_product_of_its_axes_with_stable_keys() {
        let grid = Grid {
            rates: vec!["0".into(), "0.2/0.5".into()],
            batch_sizes: vec![32, 128],
            seeds: vec![1, 2, 3],
            ..Grid::default()
        };
        let trials = grid.trials(&base()).unwrap();
        assert_eq!(trials.len(), 12);
        assert_eq!(trials[0].config.model, "dropout(0) dense(64, relu) dropout(0) dense(10)");
        assert_eq!(trials[11].config.model, "dropout(0.2) dense(64, relu) dropout(0.5) dense(10)");
        assert_eq!((trials[11].config.batch_size, trials[11].config.seed), (128, 3));
        let keys: std::collections::HashSet<_> = trials.iter().map(|t| t.key.clone()).collect();
        assert_eq!(keys.len(), 12);
        assert_eq!(grid.trials(&base()).unwrap(), trials, "same grid, same trials and keys");
        assert_eq!(trials[11].settings.rate_value(), Some(0.5));
    }

    #[test]
    fn regularizers_change_what_they_name() {
        let grid = Grid { regularizers: Regularizer::ALL.to_vec(), ..Grid::default() };
        let t = grid.trials(&base()).unwrap();
        assert_eq!(t[0].config.model, "dense(64, relu) dense(10)");
        assert_eq!(t[1].config, RunConfig { checkpoint_every: 0, ..base() });
        assert_eq!(t[2].config.optimizer.weight_decay, 5e-4);
        assert_eq!(t[3].config.optimizer.max_norm, Some(3.0));
        assert!(t[4].config.model.contains("dense(64) batchnorm relu"));
        assert_eq!(t[5].config.augment, Some(Augment::default()));
        assert_eq!(Regularizer::parse("dropout+maxnorm").unwrap(), Regularizer::DropoutMaxNorm);
        assert_eq!(Regularizer::parse("dropout-batchnorm").unwrap(), Regularizer::DropoutBatchNorm);
        assert!(Regularizer::parse("dropout+magic").is_err());
    }

    #[test]
    fn shards_split_the_trials_disjointly() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::parse(&format!("{i}/3")).unwrap()).collect();
        for k in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
        }
        for bad in ["0/3", "4/3", "x/2", "2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let bad_rate = Grid { rates: vec!["0.2/1.5".into()], ..Grid::default() };
        assert!(bad_rate.trials(&base()).unwrap_err().to_string().contains("0.2/1.5"));
    }
}
