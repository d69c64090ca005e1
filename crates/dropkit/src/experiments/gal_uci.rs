//! The UCI regression protocol of Gal and Ghahramani, "Dropout as a Bayesian Approximation:
//! Representing Model Uncertainty in Deep Learning", ICML 2016 (tables 1 and 2; their code,
//! `yaringal/DropoutUncertaintyExps`), on any CSV table:
//!
//! - 20 seeded random splits, 90% training and 10% test;
//! - one hidden layer of 50 ReLU units, dropout with rate p on the input and on the hidden layer;
//! - inputs and targets standardised with the training part's statistics;
//! - p and the model precision tau chosen from grids on an 80/20 split of each training part,
//!   by the validation log-likelihood, then the model trained again on the whole training part;
//! - weight decay from tau by their rule `lambda = l^2 (1 - p) / (2 N tau)` (l = 0.01, N the
//!   training rows), an L2 term `lambda ||W||^2` on every weight matrix;
//! - 40 epochs of Adam (learning rate 0.001, minibatches of 128) on the mean squared error;
//! - T = 10,000 Monte Carlo passes at test: RMSE of the predictive mean and the test
//!   log-likelihood by log-mean-exp over the passes (see `uncertainty::regression`).

use crate::data::input::test_rows;
use crate::data::standardize::Standardizer;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::loss::RegressionLoss;
use crate::model::Sequential;
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::train::regression::{predict_values, rmse};
use crate::train::{fit, FitOptions};
use crate::uncertainty::regression::predict_regression;
use crate::uncertainty::Inference;
use serde::{Deserialize, Serialize};

/// The protocol's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GalUciOptions {
    pub splits: usize,
    /// Fraction of each split held out for test (0.1).
    pub test_fraction: f64,
    /// Dropout rates tried (p, the drop probability).
    pub rates: Vec<f64>,
    /// Model precisions tried, in the target's units; empty: `TAU_GRID / var(y_train)`.
    pub taus: Vec<f64>,
    pub epochs: usize,
    pub hidden: usize,
    pub batch_size: usize,
    /// Monte Carlo passes at test and at validation.
    pub passes: u64,
    pub validation_passes: u64,
    /// The prior length-scale l of the weight-decay rule.
    pub lengthscale: f64,
    pub seed: u64,
}

/// Gal and Ghahramani's dropout rates.
pub const RATES: [f64; 4] = [0.005, 0.01, 0.05, 0.1];

/// Model precisions for standardised targets, tried when no tau grid is given: divided by the
/// training targets' variance, they are precisions in the target's units.
pub const TAU_GRID: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

impl Default for GalUciOptions {
    fn default() -> Self {
        GalUciOptions {
            splits: 20,
            test_fraction: 0.1,
            rates: RATES.to_vec(),
            taus: Vec::new(),
            epochs: 40,
            hidden: 50,
            batch_size: 128,
            passes: 10_000,
            validation_passes: 10_000,
            lengthscale: 1e-2,
            seed: 1,
        }
    }
}

impl GalUciOptions {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidArgument(what));
        if self.splits == 0 || self.epochs == 0 || self.hidden == 0 || self.batch_size == 0 {
            return bad("splits, epochs, hidden units and batch size must each be at least 1".into());
        }
        if self.passes == 0 || self.validation_passes == 0 {
            return bad("Monte Carlo passes must be at least 1, e.g. 10000".into());
        }
        if let Some(p) = self.rates.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return bad(format!("dropout rate {p}: must be in [0, 1), e.g. 0.05"));
        }
        if let Some(t) = self.taus.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
            return bad(format!("tau {t}: a model precision must be a positive number, e.g. 0.5"));
        }
        if self.rates.is_empty() {
            return bad("no dropout rates to try; give at least one, e.g. 0.05".into());
        }
        Ok(())
    }
}

/// The rows of split `k` of `n`: (training, test), each ascending.
pub fn split(n: usize, k: usize, test_fraction: f64) -> Result<(Vec<usize>, Vec<usize>)> {
    let test = test_rows(n, test_fraction, k as u64)?;
    let mut is_test = vec![false; n];
    test.iter().for_each(|&i| is_test[i] = true);
    Ok(((0..n).filter(|&i| !is_test[i]).collect(), test))
}

/// One split's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitResult {
    pub split: usize,
    /// The chosen dropout rate and precision (target units).
    pub p: f64,
    pub tau: f64,
    /// The best validation log-likelihood, per validation row.
    pub validation_ll: f64,
    /// Test RMSE of the MC predictive mean, and of the deterministic (weight-scaling) model.
    pub rmse: f64,
    pub rmse_deterministic: f64,
    /// Mean test log-likelihood per row.
    pub log_likelihood: f64,
    pub test_rows: usize,
}

fn values(set: &Dataset) -> &[f32] {
    match &set.targets {
        Targets::Values { values, .. } => values,
        Targets::Classes { .. } => &[],
    }
}

/// Trains the protocol's network on `train` and scores `test` with `passes` MC passes:
/// (MC RMSE, deterministic RMSE, mean log-likelihood).
fn train_and_score(
    train: &Dataset,
    test: &Dataset,
    p: f64,
    tau: f64,
    passes: u64,
    seed: u64,
    o: &GalUciOptions,
) -> Result<(f64, f64, f64)> {
    let scaler = Standardizer::fit(train);
    let (mut tr, mut te) = (train.clone(), test.clone());
    scaler.apply(&mut tr)?;
    scaler.apply(&mut te)?;
    let spec = format!("dropout({p}) dense({}) relu dropout({p}) dense({})", o.hidden, train.outputs());
    let mut model = Sequential::from_spec(&spec, &train.sample_shape, seed)?;
    let reg = o.lengthscale.powi(2) * (1.0 - p) / (2.0 * train.len() as f64 * tau);
    // Keras' l2(reg) adds reg ||W||^2 to the loss: a gradient of 2 reg W.
    let config = OptimizerConfig {
        kind: OptimizerKind::Adam,
        lr: 1e-3,
        weight_decay: (2.0 * reg) as f32,
        ..OptimizerConfig::default()
    };
    let mut optimizer = crate::optim::Optimizer::new(config)?;
    let options = FitOptions { epochs: o.epochs, batch_size: o.batch_size, seed, ..FitOptions::default() };
    fit(&mut model, &mut optimizer, &tr, None, &options, &mut |_| {})?;
    let targets = values(test);
    let mc = predict_regression(
        &mut model,
        &te.images,
        Inference::MonteCarlo { samples: passes },
        tau,
        RegressionLoss::Mse,
        Some(&scaler),
        Some(targets),
    )?;
    let mut det = predict_values(&mut model, &te)?;
    scaler.undo_targets(&mut det);
    Ok((mc.rmse(targets), rmse(&det, targets), mc.mean_log_likelihood()))
}

/// Runs split `k` of the protocol on `data` (regression targets, raw units).
pub fn run_split(data: &Dataset, k: usize, o: &GalUciOptions) -> Result<SplitResult> {
    let Targets::Values { dim, .. } = data.targets else {
        return Err(Error::InvalidArgument(
            "the UCI protocol is for regression targets; pass --target with a numeric column".into(),
        ));
    };
    let (train_rows, test_rows_k) = split(data.len(), k, o.test_fraction)?;
    let (train, test) = (data.select(&train_rows), data.select(&test_rows_k));
    // The validation split of this training part, seeded apart from the test splits.
    let (inner_rows, val_rows) = split(train.len(), 1_000_000 + k, 0.2)?;
    let (inner, val) = (train.select(&inner_rows), train.select(&val_rows));
    let taus = if o.taus.is_empty() {
        let var =
            Standardizer::fit(&inner).target_scale(dim).iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / dim as f64;
        TAU_GRID.iter().map(|t| t / var).collect()
    } else {
        o.taus.clone()
    };
    let seed = o.seed + k as u64;
    let mut best = (f64::NEG_INFINITY, o.rates[0], taus[0]);
    for &p in &o.rates {
        for &tau in &taus {
            let (_, _, ll) = train_and_score(&inner, &val, p, tau, o.validation_passes, seed, o)?;
            if ll > best.0 {
                best = (ll, p, tau);
            }
        }
    }
    let (validation_ll, p, tau) = best;
    let (rmse, rmse_deterministic, log_likelihood) = train_and_score(&train, &test, p, tau, o.passes, seed, o)?;
    Ok(SplitResult { split: k, p, tau, validation_ll, rmse, rmse_deterministic, log_likelihood, test_rows: test.len() })
}

/// Mean and standard error of `values` as Gal and Ghahramani report it: the standard
/// deviation over splits (`np.std`, population) divided by sqrt(splits).
pub fn mean_and_standard_error(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, (var / n).sqrt())
}

/// What `run` reports.
pub enum GalEvent<'a> {
    /// Splits already in the output directory, and splits to run.
    Plan {
        done: usize,
        to_run: usize,
    },
    Finished(&'a SplitResult),
}

/// The protocol, its data and where it stands, as `protocol.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Protocol {
    options: GalUciOptions,
    data: String,
    fingerprint: String,
}

/// Runs every split of the protocol not yet in `out` (`results.jsonl`, one line per split,
/// appended as each finishes: an interrupted run resumes where it stopped) and returns all
/// splits' results in split order. `out` also gets `protocol.json` and `splits.json` (each
/// split's test rows and validation rows, for other implementations of the same protocol).
pub fn run(
    all: &Dataset,
    source: &crate::data::DataRecord,
    o: &GalUciOptions,
    out: &std::path::Path,
    on_event: &mut dyn FnMut(GalEvent),
) -> Result<Vec<SplitResult>> {
    o.validate()?;
    if !matches!(all.targets, Targets::Values { .. }) {
        return Err(Error::InvalidArgument(
            "the UCI protocol is for regression targets; pass --target with a numeric column".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let (_lock, _) = crate::fsio::lock(&out.join(".dropkit.lock"), &format!("the reproduction in {}", out.display()))?;
    let protocol =
        Protocol { options: o.clone(), data: source.location.clone(), fingerprint: source.fingerprint.clone() };
    let protocol_path = out.join("protocol.json");
    if protocol_path.exists() {
        let text = std::fs::read_to_string(&protocol_path).map_err(|e| Error::io(&protocol_path, e))?;
        let before: Protocol = serde_json::from_str(&text).map_err(|e| {
            Error::format(protocol_path.display(), format!("not a protocol record ({e}); use another --out"))
        })?;
        // More (or fewer) splits of the same protocol extend (or read part of) the results.
        let same_splits =
            |p: &Protocol| Protocol { options: GalUciOptions { splits: 0, ..p.options.clone() }, ..p.clone() };
        if same_splits(&before) != same_splits(&protocol) {
            return Err(Error::InvalidArgument(format!(
                "{} holds results of other settings or data ({}); pass another --out, or the same settings to resume",
                out.display(),
                before.data
            )));
        }
    }
    let text = serde_json::to_string_pretty(&protocol).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    crate::fsio::write_atomic(&protocol_path, text.as_bytes())?;
    let mut splits = Vec::new();
    for k in 0..o.splits {
        let (train, test) = split(all.len(), k, o.test_fraction)?;
        let (_, val) = split(train.len(), 1_000_000 + k, 0.2)?;
        splits.push(serde_json::json!({ "split": k, "test_rows": test, "validation_positions": val }));
    }
    let text = serde_json::json!({ "rows": all.len(), "splits": splits }).to_string();
    crate::fsio::write_atomic(&out.join("splits.json"), text.as_bytes())?;
    let results_path = out.join("results.jsonl");
    let mut done: Vec<SplitResult> = match std::fs::read_to_string(&results_path) {
        // A line cut short by a kill is dropped and its split run again.
        Ok(text) => text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect(),
        Err(_) => Vec::new(),
    };
    done.retain(|r| r.split < o.splits);
    let todo: Vec<usize> = (0..o.splits).filter(|k| !done.iter().any(|r| r.split == *k)).collect();
    on_event(GalEvent::Plan { done: done.len(), to_run: todo.len() });
    let lines: String = done.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
    crate::fsio::write_atomic(&results_path, lines.as_bytes())?;
    for k in todo {
        let result = run_split(all, k, o)?;
        let line = serde_json::to_string(&result).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        crate::fsio::append_line(&results_path, &line)?;
        on_event(GalEvent::Finished(&result));
        done.push(result);
    }
    done.sort_by_key(|r| r.split);
    Ok(done)
}
