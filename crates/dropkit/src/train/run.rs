//! Run directories: train from a [`RunConfig`] and write `config.toml`, `history.jsonl`,
//! `metrics.json` and `model.safetensors` (each atomically); evaluate a saved run.

use super::checkpoint::{self, Checkpoint};
use super::regression::{regression_fit, RegressionFit};
use super::tensorboard::EventWriter;
use super::{check_classes, evaluate, fit_from, weights, FitOptions, FitState, History, Progress, RunConfig};
use crate::data::fetch::sha256_hex;
use crate::data::input::Known;
use crate::data::labels::Task;
use crate::data::standardize::Standardizer;
use crate::data::{DataRecord, Dataset, TrainTest};
use crate::error::{Error, Result};
use crate::fsio::{append_line, write_atomic};
use crate::layer::Mode;
use crate::loss::RegressionLoss;
use crate::model::Sequential;
use crate::optim::Optimizer;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The figures of a finished run (`metrics.json`). Losses of regression runs are the mean
/// squared error of the standardised targets (when they are standardised); RMSE and NLL are
/// in the target's own units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// NaN (`null` in JSON) for regression.
    #[serde(deserialize_with = "nan_if_null")]
    pub test_accuracy: f64,
    pub test_loss: f64,
    /// Accuracy and loss on the training set with dropout off, after training.
    #[serde(deserialize_with = "nan_if_null")]
    pub train_accuracy: f64,
    pub train_loss: f64,
    pub val_accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    /// `train_accuracy - val_accuracy`: how much the model overfits.
    pub generalization_gap: Option<f64>,
    pub epochs: usize,
    pub parameters: usize,
    pub train_seconds: f64,
    pub seconds_per_epoch: f64,
    pub data: String,
    /// Early stopping ended the run before its last epoch.
    #[serde(default)]
    pub stopped_early: bool,
    /// The epoch early stopping judged best (its weights were restored if so configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_epoch: Option<usize>,
    /// SHA-256 of `model.safetensors`: `eval`, `predict` and `uncertainty` refuse a file that
    /// does not match (flipped bytes, a weight overwritten).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
    /// Regression: root mean squared error on the test and training sets, in target units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_rmse: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_rmse: Option<f64>,
    /// Regression: the test set's mean Gaussian negative log-likelihood per sample, in nats,
    /// with the variance of the training residuals (in target units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_nll: Option<f64>,
}

/// JSON has no NaN: `null` reads back as NaN (the accuracy of a regression run).
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A finished run in memory.
pub struct RunOutcome {
    pub model: Sequential,
    pub history: History,
    pub metrics: Metrics,
}

/// Builds the model a config describes, for samples of `sample_shape`.
pub fn build_model(config: &RunConfig, sample_shape: &[usize]) -> Result<Sequential> {
    Sequential::from_spec(&config.model, sample_shape, config.seed)
}

/// Trains as `config` says on `data` (validation split from the end of the training set),
/// evaluates on the test set, and writes the run directory `out` when given, with a checkpoint
/// every `config.checkpoint_every` epochs.
pub fn train_run(
    config: &RunConfig,
    data: &TrainTest,
    out: Option<&Path>,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome> {
    config.validate()?;
    run(config, data, out, Start::Fresh, on_progress)
}

/// Where [`run`] starts.
enum Start {
    /// A new run: `config.toml` is written once the model is known to fit the data.
    Fresh,
    Resume(Option<Box<Checkpoint>>),
}

/// Continues the run in `dir` (its `config.toml`) from `checkpoint`, normally
/// `checkpoint::load(dir)`, or from the start when there is none. Ends with the same weights
/// and history as a run that was never interrupted.
pub fn resume_run(
    dir: &Path,
    data: &TrainTest,
    checkpoint: Option<Checkpoint>,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome> {
    let config = load_config(dir)?;
    run(&config, data, Some(dir), Start::Resume(checkpoint.map(Box::new)), on_progress)
}

fn run(
    config: &RunConfig,
    data: &TrainTest,
    out: Option<&Path>,
    start: Start,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome> {
    let (mut fit_set, mut val_set) = data.train.split_last(config.validation_split)?;
    // Means and deviations from the training part alone, applied to every part.
    let scaler = match &config.input {
        Some(input) if input.standardizes(&fit_set.sample_shape)? => Some(Standardizer::fit(&fit_set)),
        _ => None,
    };
    let scaled_test;
    let test = match &scaler {
        Some(s) => {
            s.apply(&mut fit_set)?;
            s.apply(&mut val_set)?;
            let mut t = data.test.clone();
            s.apply(&mut t)?;
            scaled_test = t;
            &scaled_test
        }
        None => &data.test,
    };
    let mut model = build_model(config, &data.train.sample_shape)?;
    check_classes(&model, &fit_set)?;
    check_loss(config, &model, &fit_set)?;
    check_memory(&mut model, config.batch_size)?;
    let mut optimizer = Optimizer::new(config.optimizer.clone())?;
    let data_id = checkpoint::fingerprint(&fit_set);
    let mut state = match (start, out) {
        (Start::Resume(Some(c)), _) => {
            let state = (*c).restore(&mut model, &mut optimizer, &data_id)?;
            let (done, batches) = (state.history.epochs.len(), fit_set.len().div_ceil(config.batch_size.max(1)));
            if optimizer.steps() != (done * batches) as u64 {
                return Err(Error::InvalidArgument(format!(
                    "the checkpoint's optimizer has taken {} steps, but {done} epochs of {batches} batches take {}; it was written with another batch size or data",
                    optimizer.steps(),
                    done * batches
                )));
            }
            state
        }
        (Start::Fresh, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            write_atomic(&dir.join("config.toml"), config.to_toml()?.as_bytes())?;
            if let Some(s) = &scaler {
                s.save(dir)?;
            }
            if !data.test_rows.is_empty() {
                let split =
                    serde_json::json!({ "test_rows": data.test_rows, "rows": data.train.len() + data.test.len() });
                write_atomic(&dir.join("split.json"), split.to_string().as_bytes())?;
            }
            FitState::default()
        }
        _ => FitState::default(),
    };
    let options = FitOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        seed: config.seed,
        early_stopping: config.early_stopping.clone(),
        augment: config.augment,
        rdrop: config.rdrop,
        dropout_schedule: config.dropout_schedule,
    };
    let every = config.checkpoint_every;
    if let Some(dir) = out {
        // The epochs so far (none, or a checkpoint's), then one line appended per epoch.
        write_atomic(&dir.join("history.jsonl"), history_lines(&state.history)?.as_bytes())?;
    }
    let mut save_checkpoint = |state: &FitState, model: &mut Sequential, optimizer: &Optimizer| match out {
        Some(dir) => {
            if let Some(record) = state.history.epochs.last() {
                append_line(&dir.join("history.jsonl"), &json(record)?)?;
            }
            let epoch = state.history.epochs.len();
            if every > 0 && (epoch.is_multiple_of(every) || epoch == config.epochs || state.stopped_early) {
                checkpoint::save(dir, state, model, optimizer, &data_id)?;
            }
            Ok(())
        }
        None => Ok(()),
    };
    let val = (!val_set.is_empty()).then_some(&val_set);
    let mut events = match out {
        Some(dir) if config.tensorboard => Some(EventWriter::create(dir)?),
        _ => None,
    };
    let batches = fit_set.len().div_ceil(config.batch_size.max(1));
    let mut event_error = None;
    let mut progress = |p: Progress| {
        if let Some(w) = events.as_mut() {
            if let Err(e) = log_event(w, &p, batches) {
                event_error.get_or_insert(e);
            }
        }
        on_progress(p)
    };
    fit_from(&mut model, &mut optimizer, &fit_set, val, &options, &mut state, &mut progress, &mut save_checkpoint)?;
    if let Some(e) = event_error {
        return Err(e);
    }
    let mut metrics = measure(&mut model, &fit_set, test, &state, &data.source)?;
    if let Some(fit) = regression_fit(&mut model, &fit_set, test, scaler.as_ref())? {
        metrics.test_rmse = Some(fit.test_rmse);
        metrics.train_rmse = Some(fit.train_rmse);
        metrics.test_nll = Some(fit.test_nll);
    }
    let history = state.history;
    if let Some(dir) = out {
        write_run(dir, &mut model, &history, &mut metrics)?;
    }
    Ok(RunOutcome { model, history, metrics })
}

fn measure(
    model: &mut Sequential,
    fit_set: &Dataset,
    test: &Dataset,
    state: &FitState,
    source: &DataRecord,
) -> Result<Metrics> {
    let history = &state.history;
    let train_seconds = history.epochs.iter().map(|r| r.seconds).sum::<f64>();
    let test_stats = evaluate(model, test, Mode::Eval)?;
    let train_stats = evaluate(model, fit_set, Mode::Eval)?;
    // The figures of the epoch whose weights the model has: the best one when early stopping
    // restored it, else the last.
    let restored = state.best_weights.is_some();
    let best = state.early.best.map(|(_, epoch)| epoch);
    let saved_epoch = match best {
        Some(epoch) if restored => history.epochs.get(epoch.saturating_sub(1)),
        _ => history.epochs.last(),
    };
    let last = saved_epoch;
    let val_accuracy = last.and_then(|r| r.val_accuracy);
    let epochs = history.epochs.len();
    Ok(Metrics {
        test_accuracy: test_stats.accuracy(),
        test_loss: test_stats.loss(),
        train_accuracy: train_stats.accuracy(),
        train_loss: train_stats.loss(),
        val_accuracy,
        val_loss: last.and_then(|r| r.val_loss),
        generalization_gap: val_accuracy.map(|v| train_stats.accuracy() - v),
        epochs,
        parameters: model.num_params(),
        train_seconds,
        seconds_per_epoch: train_seconds / epochs.max(1) as f64,
        data: source.to_string(),
        stopped_early: state.stopped_early,
        best_epoch: best,
        model_sha256: None,
        test_rmse: None,
        train_rmse: None,
        test_nll: None,
    })
}

/// Writes a progress report as TensorBoard scalars: the loss of every batch (at its global
/// step) and each epoch's figures (at the epoch), synced at every epoch's end.
fn log_event(w: &mut EventWriter, p: &Progress, batches: usize) -> Result<()> {
    match p {
        Progress::Batch { epoch, batch, loss, .. } => {
            w.scalar("batch/loss", ((epoch - 1) * batches + batch) as u64, *loss)
        }
        Progress::Epoch(r) => {
            let step = r.epoch as u64;
            w.scalar("epoch/loss", step, r.loss)?;
            w.scalar("epoch/cross_entropy", step, r.cross_entropy)?;
            w.scalar("epoch/accuracy", step, r.accuracy)?;
            if let Some(v) = r.val_loss {
                w.scalar("epoch/val_loss", step, v)?;
            }
            if let Some(v) = r.val_accuracy {
                w.scalar("epoch/val_accuracy", step, v)?;
            }
            w.scalar("epoch/lr", step, r.lr as f64)?;
            w.flush()
        }
    }
}

fn history_lines(history: &History) -> Result<String> {
    let mut lines = String::new();
    for r in &history.epochs {
        lines.push_str(&json(r)?);
        lines.push('\n');
    }
    Ok(lines)
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::InvalidArgument(format!("cannot encode JSON: {e}")))
}

/// Writes history, weights and metrics (with the weights' SHA-256) into the run directory.
pub fn write_run(dir: &Path, model: &mut Sequential, history: &History, metrics: &mut Metrics) -> Result<()> {
    write_atomic(&dir.join("history.jsonl"), history_lines(history)?.as_bytes())?;
    let bytes = weights::to_bytes(model)?;
    metrics.model_sha256 = Some(sha256_hex(&bytes));
    let pretty = serde_json::to_string_pretty(metrics).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    write_atomic(&dir.join("metrics.json"), pretty.as_bytes())?;
    write_atomic(&dir.join("model.safetensors"), &bytes)
}

/// The SHA-256 of `model.safetensors` that training recorded in `metrics.json`, if any.
fn recorded_sha256(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("metrics.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?.get("model_sha256")?.as_str().map(str::to_string)
}

/// The model's outputs must be what the configured loss reads: a value per target (MSE) or a
/// mean and a log-variance per target (Gaussian NLL).
fn check_loss(config: &RunConfig, model: &Sequential, data: &Dataset) -> Result<()> {
    let out: usize = model.output_shape().iter().product();
    match (&data.targets, config.loss) {
        (crate::data::Targets::Values { dim, .. }, loss) if loss.outputs(*dim) != out => {
            Err(Error::InvalidArgument(format!(
                "loss {} reads {} outputs per sample for {dim} target values, but the model ends with {out}; end the spec with dense({}){}",
                if loss == RegressionLoss::Mse { "mse" } else { "gaussian_nll" },
                loss.outputs(*dim),
                loss.outputs(*dim),
                if loss == RegressionLoss::Mse && out == 2 * dim {
                    ", or pass --loss gaussian_nll for a mean and a log-variance per target"
                } else {
                    ""
                }
            )))
        }
        (crate::data::Targets::Classes { .. }, RegressionLoss::GaussianNll) => Err(Error::InvalidArgument(
            "loss gaussian_nll is for regression targets; these are classes (cross-entropy)".into(),
        )),
        _ => Ok(()),
    }
}

/// Refuses a model whose buffers would not fit in the memory the machine has available,
/// before they are allocated (they grow on the first pass).
fn check_memory(model: &mut Sequential, batch_size: usize) -> Result<()> {
    let Some(available) = available_memory() else { return Ok(()) };
    let need = model.memory_estimate(batch_size.max(super::EVAL_BATCH));
    if need > available {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        return Err(Error::InvalidArgument(format!(
            "the model needs about {:.1} GiB for its buffers ({} layers) but {:.1} GiB are available; use fewer or narrower layers, or a smaller batch",
            gib(need),
            model.layers().len(),
            gib(available)
        )));
    }
    Ok(())
}

/// `MemAvailable` of /proc/meminfo (Linux), in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reads a run directory's `config.toml`.
pub fn load_config(dir: &Path) -> Result<RunConfig> {
    if !dir.is_dir() {
        return Err(Error::DataNotFound(format!("run directory {} does not exist", dir.display())));
    }
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    RunConfig::from_toml(&text, &path.display().to_string())
}

/// Rebuilds a saved run's model with its trained weights.
pub fn load_model(dir: &Path, sample_shape: &[usize]) -> Result<(RunConfig, Sequential)> {
    let config = load_config(dir)?;
    let mut model = build_model(&config, sample_shape)?;
    let path = dir.join("model.safetensors");
    let bytes = crate::fsio::read(&path)?;
    if let Some(want) = recorded_sha256(dir) {
        let got = sha256_hex(&bytes);
        if got != want {
            return Err(Error::format(
                path.display().to_string(),
                format!(
                    "SHA-256 {} does not match {} recorded in metrics.json when training wrote it; the file was changed or damaged: restore it, or train the run again",
                    got.get(..16).unwrap_or_default(),
                    want.get(..16).unwrap_or_default()
                ),
            ));
        }
    }
    weights::load_bytes(&mut model, &bytes, &path.display().to_string())?;
    Ok((config, model))
}

/// A trained run, ready to evaluate and predict: its config, model with weights, and the
/// standardization training fitted (applied to inputs, undone on regression outputs).
pub struct SavedRun {
    pub config: RunConfig,
    pub model: Sequential,
    pub scaler: Option<Standardizer>,
}

impl SavedRun {
    /// Opens the run in `dir` for samples of `sample_shape`.
    pub fn open(dir: &Path, sample_shape: &[usize]) -> Result<Self> {
        let (config, model) = load_model(dir, sample_shape)?;
        let scaler = Standardizer::load(dir)?;
        Ok(SavedRun { config, model, scaler })
    }

    /// The task the run was trained for.
    pub fn task(&self) -> Task {
        self.config.data.as_ref().and_then(|d| d.task).unwrap_or(Task::Classification)
    }

    /// What new inputs must match: the run's feature columns, classes and task.
    pub fn known(&self) -> Known<'_> {
        let data = self.config.data.as_ref();
        let nonempty = |v: &'_ Vec<String>| (!v.is_empty()).then_some(());
        Known {
            features: data.and_then(|d| nonempty(&d.features).map(|_| d.features.as_slice())),
            classes: data.and_then(|d| nonempty(&d.classes).map(|_| d.classes.as_slice())),
            class_count: (self.task() == Task::Classification).then(|| self.model.output_shape().iter().product()),
            task: Some(self.task()),
        }
    }

    /// Loss and accuracy on the test set (standardised as in training), and for regression
    /// RMSE and NLL in the target's units, as training measured them.
    pub fn evaluate(&mut self, data: &TrainTest) -> Result<(crate::loss::BatchStats, Option<RegressionFit>)> {
        let mut test = data.test.clone();
        let (mut fit_set, _) = data.train.split_last(self.config.validation_split)?;
        if let Some(s) = &self.scaler {
            s.apply(&mut test)?;
            s.apply(&mut fit_set)?;
        }
        let stats = evaluate(&mut self.model, &test, Mode::Eval)?;
        let fit = regression_fit(&mut self.model, &fit_set, &test, self.scaler.as_ref())?;
        Ok((stats, fit))
    }

    /// Standardises `set`'s inputs as training did; targets stay in their own units.
    pub fn prepare_inputs(&self, set: &mut Dataset) -> Result<()> {
        match &self.scaler {
            Some(s) => s.inputs(&mut set.images),
            None => Ok(()),
        }
    }

    /// The model precision of a regression run: `1 / train_rmse^2` from its metrics (the
    /// noise the training residuals show), or 1 when the run recorded none.
    pub fn default_tau(dir: &Path) -> f64 {
        let text = std::fs::read_to_string(dir.join("metrics.json")).unwrap_or_default();
        let rmse = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("train_rmse").and_then(|r| r.as_f64()))
            .filter(|r| r.is_finite() && *r > 0.0);
        rmse.map_or(1.0, |r| 1.0 / (r * r))
    }
}
