//! Training: `fit` (minibatch SGD over shuffled epochs, with optional validation), `evaluate`,
//! the per-epoch `History`, presets, and run directories.

pub mod checkpoint;
pub mod config;
pub mod early_stopping;
pub mod presets;
pub mod regression;
pub mod run;
pub mod tensorboard;
pub mod weights;

pub use config::RunConfig;
pub use early_stopping::{EarlyStopping, Monitor};

use crate::data::augment::Augment;
use crate::data::batches::epoch_order;
use crate::data::{Dataset, Targets};
use crate::dropout::schedule::DropoutSchedule;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Mode};
use crate::loss::{gather_targets, target_rows, BatchStats, Objective};
use crate::model::{NamedTensor, Sequential};
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use early_stopping::{EarlyState, Verdict};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Options of one `fit` call.
#[derive(Clone, Debug, Default)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    /// Keys the shuffles and the dropout masks.
    pub seed: u64,
    /// Stop when the validation figure stops improving (needs a validation set).
    pub early_stopping: Option<EarlyStopping>,
    /// Random translations and rotations of the training images, new every epoch.
    pub augment: Option<Augment>,
    /// R-Drop's weight alpha: two stochastic passes per batch and their symmetric KL term
    /// ([`crate::dropout::rdrop`]).
    pub rdrop: Option<f32>,
    /// Early or late dropout ([`crate::dropout::schedule`]).
    pub dropout_schedule: Option<DropoutSchedule>,
}

/// Where a fit stands after some epochs: what [`fit_from`] continues from, and what a
/// checkpoint saves.
#[derive(Clone, Debug, Default)]
pub struct FitState {
    pub history: History,
    pub early: EarlyState,
    /// The weights of the best epoch so far (early stopping with `restore_best`).
    pub best_weights: Option<Vec<NamedTensor>>,
    pub stopped_early: bool,
}

/// One epoch's figures (a line of `history.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (dropout on, as Keras reports it): the loss
    /// that is minimised, cross-entropy plus every layer's regularizer.
    pub loss: f64,
    /// The cross-entropy part of `loss` alone.
    #[serde(default)]
    pub cross_entropy: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub lr: f32,
    pub seconds: f64,
}

/// Every epoch of a fit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
}

/// What `fit` reports while it runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A batch finished.
    Batch { epoch: usize, batch: usize, batches: usize, loss: f64 },
    /// An epoch finished.
    Epoch(&'a EpochRecord),
}

/// Trains `model` on `train` with `optimizer`, validating on `val` after every epoch.
pub fn fit(
    model: &mut Sequential,
    optimizer: &mut Optimizer,
    train: &Dataset,
    val: Option<&Dataset>,
    options: &FitOptions,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<History> {
    let mut state = FitState::default();
    fit_from(model, optimizer, train, val, options, &mut state, on_progress, &mut |_, _, _| Ok(()))?;
    Ok(state.history)
}

/// Called after every epoch with the state, the model and the optimizer (to write checkpoints).
pub type EpochHook<'a> = dyn FnMut(&FitState, &mut Sequential, &Optimizer) -> Result<()> + 'a;

/// [`fit`], continuing from `state` (the epochs already done, as a checkpoint restores them
/// together with the model and optimizer), calling `on_epoch_end` after every epoch. Training
/// is a function of (seed, epoch, step), so continuing gives exactly what one run would have.
#[allow(clippy::too_many_arguments)]
pub fn fit_from(
    model: &mut Sequential,
    optimizer: &mut Optimizer,
    train: &Dataset,
    val: Option<&Dataset>,
    options: &FitOptions,
    state: &mut FitState,
    on_progress: &mut dyn FnMut(Progress),
    on_epoch_end: &mut EpochHook,
) -> Result<()> {
    if options.batch_size == 0 {
        return Err(Error::InvalidArgument("batch size 0: it must be at least 1, e.g. 128".into()));
    }
    if train.is_empty() {
        return Err(Error::InvalidArgument("the training set is empty".into()));
    }
    let val = val.filter(|v| !v.is_empty());
    if let Some(a) = &options.augment {
        a.validate()?;
    }
    if let Some(rule) = &options.early_stopping {
        rule.validate()?;
        if val.is_none() {
            return Err(Error::InvalidArgument(
                "early stopping watches the validation set, but there is none; set a validation split, e.g. 0.1".into(),
            ));
        }
    }
    check_classes(model, train)?;
    let alpha = check_rdrop(options.rdrop, train)?;
    let n = train.len();
    let batches = n.div_ceil(options.batch_size);
    let total_steps = (batches * options.epochs) as u64;
    let done = state.history.epochs.len();
    let names = model.param_names();
    let (mut order, mut x, mut labels, mut values) = (Vec::with_capacity(n), Tensor::default(), Vec::new(), Vec::new());
    let mut twice = Vec::new();
    let mut loss = Objective::for_targets(&train.targets, model.output_shape().iter().product());
    for epoch in done..options.epochs {
        if state.stopped_early {
            break;
        }
        let started = Instant::now();
        let mut lr = optimizer.begin_epoch(epoch);
        if let Some(schedule) = options.dropout_schedule {
            // Off: every dropout layer takes its eval rule for this epoch.
            model.set_dropout_mode((!schedule.active(epoch)).then_some(Mode::Eval));
        }
        epoch_order(options.seed, epoch as u64, n, &mut order);
        let mut stats = BatchStats::default();
        let mut regularizer_sum = 0.0;
        for (b, idx) in order.chunks(options.batch_size).enumerate() {
            // R-Drop: the batch stacked on itself, two passes with independent masks.
            let idx = match alpha {
                Some(_) => {
                    twice.clear();
                    twice.extend_from_slice(idx);
                    twice.extend_from_slice(idx);
                    &twice[..]
                }
                None => idx,
            };
            x.gather_rows(&train.images, &train.sample_shape, idx);
            if let Some(a) = &options.augment {
                a.apply(&train.images, &train.sample_shape, idx, options.seed, epoch as u64, x.data_mut())?;
            }
            let targets = gather_targets(&train.targets, idx, &mut labels, &mut values);
            if optimizer.config().schedule.per_step() {
                lr = optimizer.lr_for_step(epoch, total_steps);
            }
            let progress = optimizer.steps() as f32 / total_steps.max(1) as f32;
            let ctx = Ctx { data_size: n, progress, ..Ctx::new(Mode::Train, options.seed, optimizer.steps()) };
            let logits = model.forward_logits(&x, &ctx)?;
            let batch = loss.compute(logits, targets, true)?;
            if let Some(alpha) = alpha {
                regularizer_sum += loss.add_rdrop(logits, alpha)?;
            }
            regularizer_sum += model.regularizer(&ctx) * batch.count as f64;
            if !batch.loss_sum.is_finite() {
                let origin = model.first_nonfinite_output().map(|l| format!(" (first non-finite output: {l})"));
                return Err(Error::Numeric(format!(
                    "loss became {} at epoch {}, step {}{}; lower the learning rate (now {lr})",
                    batch.loss_sum,
                    epoch + 1,
                    optimizer.steps() + 1,
                    origin.unwrap_or_default()
                )));
            }
            // Each layer's parameters are updated right after its backward pass, while they are
            // still in cache (bit-identical to updating after the whole backward pass).
            optimizer.begin_step();
            let mut bad_grad = None;
            model.backward_with(&x, loss.grad(), &ctx, &mut |i, p| {
                if !optimizer.update(i, p, lr) {
                    bad_grad = Some(i);
                }
            })?;
            if let Some(i) = bad_grad {
                return Err(Error::Numeric(format!(
                    "the gradient of {} became NaN or infinite at epoch {}, step {}; lower the learning rate (now {lr})",
                    names.get(i).map_or("a parameter", |s| s.as_str()),
                    epoch + 1,
                    optimizer.steps()
                )));
            }
            stats.add(batch);
            on_progress(Progress::Batch { epoch: epoch + 1, batch: b + 1, batches, loss: batch.loss() });
        }
        let (val_loss, val_accuracy) = match val {
            Some(v) => {
                let s = evaluate(model, v, Mode::Eval)?;
                (Some(s.loss()), Some(s.accuracy()))
            }
            None => (None, None),
        };
        let record = EpochRecord {
            epoch: epoch + 1,
            loss: stats.loss() + regularizer_sum / stats.count.max(1) as f64,
            cross_entropy: stats.loss(),
            accuracy: stats.accuracy(),
            val_loss,
            val_accuracy,
            lr,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(rule) = &options.early_stopping {
            let watched = match rule.monitor {
                Monitor::ValLoss => record.val_loss,
                Monitor::ValAccuracy => record.val_accuracy,
            };
            match watched.map(|v| state.early.observe(rule, v, epoch + 1)) {
                Some(Verdict::Improved) if rule.restore_best => state.best_weights = Some(model.state_dict()),
                Some(Verdict::Stop) => state.stopped_early = true,
                _ => {}
            }
        }
        on_progress(Progress::Epoch(&record));
        state.history.epochs.push(record);
        on_epoch_end(state, model, optimizer)?;
    }
    if options.dropout_schedule.is_some() {
        model.set_dropout_mode(None);
    }
    if let (Some(rule), Some(best)) = (&options.early_stopping, &state.best_weights) {
        if rule.restore_best {
            model.load_state_dict(best)?;
        }
    }
    Ok(())
}

/// R-Drop's alpha, checked: finite, at least 0, for class targets.
fn check_rdrop(alpha: Option<f32>, train: &Dataset) -> Result<Option<f32>> {
    let Some(a) = alpha else { return Ok(None) };
    if !(a.is_finite() && a >= 0.0) {
        return Err(Error::InvalidArgument(format!("R-Drop alpha {a}: must be a number >= 0, e.g. 1.0")));
    }
    if !matches!(train.targets, Targets::Classes { .. }) {
        return Err(Error::InvalidArgument(
            "R-Drop compares two predicted class distributions; it needs class targets, not regression".into(),
        ));
    }
    Ok(Some(a))
}

/// Rows per evaluation batch: large for GEMM efficiency, bounded for memory.
pub(crate) const EVAL_BATCH: usize = 1000;

/// Samples per evaluation batch for `data`: [`EVAL_BATCH`], fewer for long sequences (whose
/// attention keeps T x T probabilities per head).
pub(crate) fn eval_batch(data: &Dataset) -> usize {
    (EVAL_BATCH * 16 / data.positions().max(1)).clamp(1, EVAL_BATCH)
}

/// Loss and accuracy of `model` on `data` in `mode` (normally `Mode::Eval`).
pub fn evaluate(model: &mut Sequential, data: &Dataset, mode: Mode) -> Result<BatchStats> {
    check_classes(model, data)?;
    let d = data.sample_len();
    let mut loss = Objective::for_targets(&data.targets, model.output_shape().iter().product());
    let mut total = BatchStats::default();
    let mut x = Tensor::default();
    let ctx = Ctx::new(mode, model.seed(), 0);
    let rows = eval_batch(data);
    for start in (0..data.len()).step_by(rows) {
        let end = (start + rows).min(data.len());
        x.resize_batch(end - start, &data.sample_shape);
        x.data_mut().copy_from_slice(&data.images[start * d..end * d]);
        let logits = model.forward_logits(&x, &ctx)?;
        total.add(loss.compute(logits, target_rows(&data.targets, start, end), false)?);
    }
    Ok(total)
}

pub(crate) fn check_classes(model: &Sequential, data: &Dataset) -> Result<()> {
    data.validate()?;
    let out: usize = model.output_shape().iter().product();
    let want_in: usize = model.input_shape().iter().product();
    if data.sample_len() != want_in {
        return Err(Error::InvalidArgument(format!(
            "the model takes {want_in} inputs per sample but the data has {:?} = {}",
            data.sample_shape,
            data.sample_len()
        )));
    }
    let (want, what) = match &data.targets {
        Targets::Classes { classes, positions: 1, .. } => (*classes, "classes"),
        Targets::Classes { classes, positions, .. } => (classes * positions, "positions times classes"),
        // A mean and a log-variance per value (Gaussian NLL) is the other regression model.
        Targets::Values { dim, .. } if out == 2 * dim => (out, "target values per sample"),
        Targets::Values { dim, .. } => (*dim, "target values per sample"),
    };
    if out != want {
        if let Targets::Classes { classes, positions: t @ 2.., .. } = &data.targets {
            return Err(Error::InvalidArgument(format!(
                "the model ends with {out} outputs per sequence but the data has {t} positions of {classes} characters; end the spec with pdense({classes}) (and embed(vocab={classes}, ...))"
            )));
        }
        return Err(Error::InvalidArgument(format!(
            "the model ends with {out} outputs per sample but the data has {want} {what}; end the spec with dense({want})"
        )));
    }
    Ok(())
}
