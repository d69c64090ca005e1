//! Training: `fit` (minibatch SGD over shuffled epochs, with optional validation), `evaluate`,
//! the per-epoch `History`, presets, and run directories.

pub mod config;
pub mod presets;
pub mod run;
pub mod weights;

pub use config::RunConfig;

use crate::data::batches::epoch_order;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Mode};
use crate::loss::{BatchStats, CrossEntropy};
use crate::model::Sequential;
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Options of one `fit` call.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    /// Keys the shuffles and the dropout masks.
    pub seed: u64,
}

/// One epoch's figures (a line of `history.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (dropout on, as Keras reports it).
    pub loss: f64,
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
    if options.batch_size == 0 {
        return Err(Error::InvalidArgument("batch size 0: it must be at least 1, e.g. 128".into()));
    }
    if train.is_empty() {
        return Err(Error::InvalidArgument("the training set is empty".into()));
    }
    check_classes(model, train)?;
    let n = train.len();
    let batches = n.div_ceil(options.batch_size);
    let (mut order, mut x, mut labels) = (Vec::with_capacity(n), Tensor::default(), Vec::new());
    let mut loss = CrossEntropy::new();
    let mut history = History::default();
    for epoch in 0..options.epochs {
        let started = Instant::now();
        let lr = optimizer.lr_at(epoch);
        epoch_order(options.seed, epoch as u64, n, &mut order);
        let mut stats = BatchStats::default();
        for (b, idx) in order.chunks(options.batch_size).enumerate() {
            x.gather_rows(&train.images, &train.sample_shape, idx);
            labels.clear();
            labels.extend(idx.iter().map(|&i| train.labels[i]));
            let ctx = Ctx::new(Mode::Train, options.seed, optimizer.steps());
            let logits = model.forward_logits(&x, &ctx)?;
            let batch = loss.compute(logits, &labels, true)?;
            if !batch.loss_sum.is_finite() {
                return Err(Error::Numeric(format!(
                    "loss became {} at epoch {}, step {}; lower the learning rate (now {lr})",
                    batch.loss_sum,
                    epoch + 1,
                    optimizer.steps()
                )));
            }
            // Each layer's parameters are updated right after its backward pass, while they are
            // still in cache (bit-identical to updating after the whole backward pass).
            optimizer.begin_step();
            model.backward_with(&x, loss.grad(), &ctx, &mut |i, p| optimizer.update(i, p, lr))?;
            stats.add(batch);
            on_progress(Progress::Batch { epoch: epoch + 1, batch: b + 1, batches, loss: batch.loss() });
        }
        let (val_loss, val_accuracy) = match val {
            Some(v) if !v.is_empty() => {
                let s = evaluate(model, v, Mode::Eval)?;
                (Some(s.loss()), Some(s.accuracy()))
            }
            _ => (None, None),
        };
        let record = EpochRecord {
            epoch: epoch + 1,
            loss: stats.loss(),
            accuracy: stats.accuracy(),
            val_loss,
            val_accuracy,
            lr,
            seconds: started.elapsed().as_secs_f64(),
        };
        on_progress(Progress::Epoch(&record));
        history.epochs.push(record);
    }
    Ok(history)
}

/// Rows per evaluation batch: large for GEMM efficiency, bounded for memory.
const EVAL_BATCH: usize = 1000;

/// Loss and accuracy of `model` on `data` in `mode` (normally `Mode::Eval`).
pub fn evaluate(model: &mut Sequential, data: &Dataset, mode: Mode) -> Result<BatchStats> {
    check_classes(model, data)?;
    let d = data.sample_len();
    let mut loss = CrossEntropy::new();
    let mut total = BatchStats::default();
    let mut x = Tensor::default();
    let ctx = Ctx::new(mode, model.seed(), 0);
    for start in (0..data.len()).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(data.len());
        x.resize_batch(end - start, &data.sample_shape);
        x.data_mut().copy_from_slice(&data.images[start * d..end * d]);
        let logits = model.forward_logits(&x, &ctx)?;
        total.add(loss.compute(logits, &data.labels[start..end], false)?);
    }
    Ok(total)
}

fn check_classes(model: &Sequential, data: &Dataset) -> Result<()> {
    let out: usize = model.output_shape().iter().product();
    let want_in: usize = model.input_shape().iter().product();
    if data.sample_len() != want_in {
        return Err(Error::InvalidArgument(format!(
            "the model takes {want_in} inputs per sample but the data has {:?} = {}",
            data.sample_shape,
            data.sample_len()
        )));
    }
    if out < data.classes {
        return Err(Error::InvalidArgument(format!(
            "the model ends with {out} outputs but the data has {} classes; end the spec with dense({})",
            data.classes, data.classes
        )));
    }
    Ok(())
}
