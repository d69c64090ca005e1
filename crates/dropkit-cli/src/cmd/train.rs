//! `dropkit train`: build a run config from a preset, a config file and flags; train; write
//! the run directory.

use crate::output::{say, ProgressView};
use anyhow::{bail, Context, Result};
use dropkit::data::input::InputConfig;
use dropkit::data::{load_for_run, DataRecord};
use dropkit::optim::Schedule;
use dropkit::train::checkpoint;
use dropkit::train::presets::{preset, PRESETS};
use dropkit::train::run::{load_config, resume_run, train_run};
use dropkit::train::{EarlyStopping, Monitor, RunConfig};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Model spec, e.g. "dense(512) relu dropout(0.2) dense(10)" (input size from the data).
    #[arg(long)]
    model: Option<String>,
    /// Start from a preset (see `dropkit presets`); other flags override it.
    #[arg(long)]
    preset: Option<String>,
    /// Start from a run's config.toml (reruns it); other flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// sgd, adam or adamw.
    #[arg(long)]
    optimizer: Option<String>,
    /// Learning rate (a negative value is read as a value, and refused with a message).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// SGD momentum.
    #[arg(long)]
    momentum: Option<f32>,
    /// Nesterov momentum (SGD).
    #[arg(long)]
    nesterov: bool,
    /// SGD momentum rising linearly from START to --momentum over EPOCHS epochs, e.g. 0.5:100.
    #[arg(long, value_name = "START:EPOCHS")]
    momentum_ramp: Option<String>,
    /// Dampened SGD momentum, b = mu b + (1 - mu) g (the 2014 dropout paper's form).
    #[arg(long)]
    dampened: bool,
    /// L2 weight decay on weights (decoupled for adamw).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Max-norm constraint on each unit's incoming weights.
    #[arg(long)]
    max_norm: Option<f32>,
    /// Learning-rate schedule: constant, step:EVERY:GAMMA, exp:GAMMA, or per step
    /// cosine:WARMUP_STEPS[:MIN] (linear warm-up, then cosine decay to MIN times the rate).
    #[arg(long)]
    schedule: Option<String>,
    /// R-Drop: two stochastic passes per batch and ALPHA times their symmetric KL divergence.
    #[arg(long, value_name = "ALPHA")]
    rdrop: Option<f32>,
    /// Early or late dropout: early:E (dropout on for the first E epochs only) or late:E (on
    /// from epoch E + 1).
    #[arg(long, value_name = "early:E|late:E")]
    dropout_schedule: Option<String>,
    /// Text data: characters per sequence (default: the model's context, else 128).
    #[arg(long)]
    context: Option<usize>,
    /// Passes over the training set (default 10, or the preset's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per minibatch (default 128, or the preset's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Fraction of the training set (the last part, as Keras) held out for validation.
    #[arg(long)]
    validation_split: Option<f64>,
    /// Seed for initialisation, shuffling and dropout masks.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many epochs without validation improvement (Keras EarlyStopping patience).
    #[arg(long, value_name = "PATIENCE")]
    early_stopping: Option<usize>,
    /// Early stopping: the figure watched, val_loss or val_accuracy.
    #[arg(long, value_parser = ["val_loss", "val_accuracy"])]
    monitor: Option<String>,
    /// Early stopping: the least change that counts as an improvement.
    #[arg(long)]
    min_delta: Option<f64>,
    /// Early stopping: keep the last epoch's weights instead of the best epoch's.
    #[arg(long)]
    no_restore_best: bool,
    /// Augment training images with random shifts of up to SHIFT pixels and rotations of up to
    /// DEGREES, new every epoch (default 2,10).
    #[arg(long, value_name = "SHIFT,DEGREES", num_args = 0..=1, default_missing_value = "2,10")]
    augment: Option<String>,
    /// Write a checkpoint every N epochs (0: none); `--resume` continues from the last one.
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<usize>,
    /// Also write TensorBoard event files into the run directory (`tensorboard --logdir runs`).
    #[arg(long)]
    tensorboard: bool,
    /// Continue the killed or interrupted run in RUN_DIR from its last checkpoint (with --lr or
    /// --schedule: from there with a new learning rate, recorded in its config.toml).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = [
        "model", "preset", "config", "optimizer", "momentum", "nesterov", "momentum_ramp", "dampened", "weight_decay", "max_norm",
        "epochs", "batch_size", "validation_split", "seed", "early_stopping", "monitor",
        "min_delta", "no_restore_best", "checkpoint_every", "augment", "out", "tensorboard",
        "dataset", "loss", "target", "task", "test_split", "standardize", "no_standardize", "resize", "arrays",
        "rdrop", "dropout_schedule", "context",
    ])]
    resume: Option<PathBuf>,
    /// A data set of the data directory: mnist, fashion-mnist or cifar-10 (default mnist), or
    /// shakespeare, the embedded text corpus.
    #[arg(long)]
    dataset: Option<String>,
    /// Your own data (a .csv table, a NumPy .npz, an image folder, a .txt text), or a data directory holding
    /// mnist/ (default: $DROPKIT_DATA, then ~/.cache/dropkit, then the embedded subset).
    #[arg(long)]
    data: Option<PathBuf>,
    /// CSV: the target column (repeat, or separate with commas, for several; default: the last).
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// classification or regression (default: from the targets).
    #[arg(long)]
    task: Option<String>,
    /// Regression loss: mse, or gaussian_nll (the model ends with dense(2 x targets): a mean
    /// and a log-variance per target).
    #[arg(long)]
    loss: Option<String>,
    /// Hold out this fraction of a data set without a test part as its test set (seeded; default 0.2).
    #[arg(long)]
    test_split: Option<f64>,
    /// Standardise inputs and regression targets with the training part's statistics (default for tables).
    #[arg(long, overrides_with = "no_standardize")]
    standardize: bool,
    /// Do not standardise.
    #[arg(long)]
    no_standardize: bool,
    /// Image folders: resize every image to HxW, e.g. 32x32.
    #[arg(long, value_name = "HxW")]
    resize: Option<String>,
    /// NumPy .npz: the array names, x,y or x_train,y_train,x_test,y_test.
    #[arg(long, value_delimiter = ',')]
    arrays: Vec<String>,
    /// Run directory to write (default: runs/<preset or custom>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar or epoch lines.
    #[arg(long, short)]
    quiet: bool,
}

fn base_config(args: &Args) -> Result<RunConfig> {
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(RunConfig::parse_toml(&text, &path.display().to_string())?);
    }
    if let Some(name) = &args.preset {
        return Ok(preset(name)?);
    }
    match &args.model {
        Some(model) => Ok(RunConfig::new(model)),
        None => bail!(dropkit::Error::InvalidArgument(format!(
            "give --model SPEC, --preset NAME or --config FILE; presets: {}",
            PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The config the flags describe.
fn config(args: &Args) -> Result<RunConfig> {
    let mut c = base_config(args)?;
    if let Some(m) = &args.model {
        c.model = m.clone();
    }
    let o = &mut c.optimizer;
    if let Some(k) = &args.optimizer {
        o.kind = k.parse()?;
    }
    if let Some(v) = args.lr {
        o.lr = v;
    }
    if let Some(v) = args.momentum {
        o.momentum = v;
    }
    o.nesterov |= args.nesterov;
    o.dampened |= args.dampened;
    if let Some(r) = &args.momentum_ramp {
        o.momentum_ramp = Some(dropkit::optim::MomentumRamp::parse(r)?);
    }
    if let Some(v) = args.weight_decay {
        o.weight_decay = v;
    }
    if args.max_norm.is_some() {
        o.max_norm = args.max_norm;
    }
    if let Some(s) = &args.schedule {
        o.schedule = Schedule::parse(s)?;
    }
    if let Some(v) = args.epochs {
        c.epochs = v;
    }
    if args.rdrop.is_some() {
        c.rdrop = args.rdrop;
    }
    if let Some(s) = &args.dropout_schedule {
        c.dropout_schedule = Some(dropkit::dropout::schedule::DropoutSchedule::parse(s)?);
    }
    if args.context.is_some() {
        c.context = args.context;
    }
    if let Some(v) = args.batch_size {
        c.batch_size = v;
    }
    if let Some(v) = args.validation_split {
        c.validation_split = v;
    }
    if let Some(v) = args.seed {
        c.seed = v;
    }
    if let Some(a) = &args.augment {
        c.augment = Some(dropkit::data::augment::Augment::parse(a)?);
    }
    if args.tensorboard {
        c.tensorboard = true;
    }
    if let Some(v) = args.checkpoint_every {
        c.checkpoint_every = v;
    }
    if let Some(d) = &args.dataset {
        c.dataset = d.clone();
    }
    if let Some(l) = &args.loss {
        c.loss = l.parse()?;
    }
    own_data(args, &mut c)?;
    if let Some(patience) = args.early_stopping {
        c.early_stopping =
            Some(EarlyStopping { patience, monitor: Monitor::ValLoss, min_delta: 0.0, restore_best: true });
    }
    let tuning = args.monitor.is_some() || args.min_delta.is_some() || args.no_restore_best;
    match c.early_stopping.as_mut() {
        Some(rule) => {
            if args.monitor.as_deref() == Some("val_accuracy") {
                rule.monitor = Monitor::ValAccuracy;
            } else if args.monitor.is_some() {
                rule.monitor = Monitor::ValLoss;
            }
            if let Some(d) = args.min_delta {
                rule.min_delta = d;
            }
            rule.restore_best &= !args.no_restore_best;
        }
        None if tuning => bail!(dropkit::Error::InvalidArgument(
            "--monitor, --min-delta and --no-restore-best tune early stopping; add --early-stopping PATIENCE".into()
        )),
        None => {}
    }
    c.validate()?;
    Ok(c)
}

/// Fills `[input]` when `--data` names a file or an image folder, with the flags that say how
/// to read it; those flags without such data are an error.
fn own_data(args: &Args, c: &mut RunConfig) -> Result<()> {
    let named = !args.data.as_deref().is_some_and(dropkit::data::input::is_own_data);
    let reading = !args.target.is_empty()
        || args.task.is_some()
        || args.test_split.is_some()
        || args.standardize
        || args.no_standardize
        || args.resize.is_some()
        || !args.arrays.is_empty();
    if let (false, Some(path)) = (named, &args.data) {
        let absolute = std::fs::canonicalize(path).map_err(|e| dropkit::Error::io(path, e))?;
        let mut input = c.input.take().unwrap_or_else(|| InputConfig::new(""));
        input.path = absolute.display().to_string();
        c.input = Some(input);
    }
    let Some(input) = c.input.as_mut() else {
        if reading {
            bail!(dropkit::Error::InvalidArgument(
                "--target, --task, --test-split, --standardize, --resize and --arrays read your own data; give it with --data FILE.csv (or .npz, or an image folder)".into()
            ));
        }
        return Ok(());
    };
    if !args.target.is_empty() {
        input.target = args.target.clone();
    }
    if let Some(t) = &args.task {
        input.task = Some(t.parse()?);
    }
    if args.test_split.is_some() {
        input.test_split = args.test_split;
    }
    if args.standardize || args.no_standardize {
        input.standardize = Some(args.standardize && !args.no_standardize);
    }
    if let Some(r) = &args.resize {
        input.resize = Some(parse_resize(r)?);
    }
    if !args.arrays.is_empty() {
        input.arrays = args.arrays.clone();
    }
    Ok(())
}

/// `HxW`, e.g. `32x32`.
pub fn parse_resize(text: &str) -> Result<[usize; 2]> {
    let parsed = text.split_once(['x', 'X']).and_then(|(h, w)| Some([h.trim().parse().ok()?, w.trim().parse().ok()?]));
    parsed.ok_or_else(|| {
        dropkit::Error::InvalidArgument(format!("--resize {text}: give height x width in pixels, e.g. 28x28")).into()
    })
}

/// The `dropkit train` arguments that give exactly `c` (as a fresh run), or `None` when it has
/// settings no flag expresses (then `--config FILE` reproduces it).
pub fn train_args(c: &RunConfig) -> Option<Vec<String>> {
    let o = &c.optimizer;
    let defaults = dropkit::optim::OptimizerConfig::default();
    if !matches!(c.dataset.as_str(), "mnist" | dropkit::data::text::EMBEDDED_NAME)
        || c.input.is_some()
        || (o.beta1, o.beta2, o.eps) != (defaults.beta1, defaults.beta2, defaults.eps)
    {
        return None;
    }
    let mut a: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: String| {
        a.push(format!("--{name}"));
        a.push(value);
    };
    if let Some(p) = &c.preset {
        flag("preset", p.clone());
    }
    flag("model", c.model.clone());
    if c.dataset != "mnist" {
        flag("dataset", c.dataset.clone());
    }
    flag("optimizer", format!("{:?}", o.kind).to_ascii_lowercase());
    flag("lr", o.lr.to_string());
    flag("momentum", o.momentum.to_string());
    flag("weight-decay", o.weight_decay.to_string());
    if let Some(m) = o.max_norm {
        flag("max-norm", m.to_string());
    }
    flag(
        "schedule",
        match o.schedule {
            Schedule::Constant => "constant".into(),
            Schedule::Step { every, gamma } => format!("step:{every}:{gamma}"),
            Schedule::Exponential { gamma } => format!("exp:{gamma}"),
            Schedule::Cosine { warmup, min } => format!("cosine:{warmup}:{min}"),
        },
    );
    if let Some(alpha) = c.rdrop {
        flag("rdrop", alpha.to_string());
    }
    if let Some(s) = c.dropout_schedule {
        flag("dropout-schedule", s.to_string());
    }
    if let Some(t) = c.context {
        flag("context", t.to_string());
    }
    flag("epochs", c.epochs.to_string());
    flag("batch-size", c.batch_size.to_string());
    flag("validation-split", c.validation_split.to_string());
    flag("seed", c.seed.to_string());
    flag("checkpoint-every", c.checkpoint_every.to_string());
    if let Some(d) = c.data.as_ref().filter(|d| d.source() != dropkit::data::DataSource::Embedded) {
        flag("data", d.location.clone());
    }
    if let Some(aug) = &c.augment {
        flag("augment", format!("{},{}", aug.shift, aug.rotate));
    }
    if let Some(e) = &c.early_stopping {
        flag("early-stopping", e.patience.to_string());
        flag("monitor", if e.monitor == Monitor::ValAccuracy { "val_accuracy" } else { "val_loss" }.into());
        flag("min-delta", e.min_delta.to_string());
    }
    if let Some(r) = o.momentum_ramp {
        flag("momentum-ramp", format!("{}:{}", r.start, r.epochs));
    }
    if o.nesterov {
        a.push("--nesterov".into());
    }
    if o.dampened {
        a.push("--dampened".into());
    }
    if c.early_stopping.as_ref().is_some_and(|e| !e.restore_best) {
        a.push("--no-restore-best".into());
    }
    Some(a)
}

/// `train_args` as one shell command line (arguments with spaces or parentheses quoted).
pub fn train_command(c: &RunConfig) -> Option<String> {
    let quote = |s: &String| {
        if s.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.,:/=+".contains(ch)) {
            s.clone()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    train_args(c).map(|a| format!("dropkit train {}", a.iter().map(quote).collect::<Vec<_>>().join(" ")))
}

/// Locks a run directory for this process: a second process on it (say, `--resume` while it
/// still trains) stops instead of training it twice.
fn lock_run(dir: &Path) -> Result<dropkit::fsio::Lock> {
    let (lock, note) = dropkit::fsio::lock(&dir.join(".dropkit.lock"), &format!("the run in {}", dir.display()))?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(lock)
}

/// Refuses to overwrite a finished or unfinished run: nothing written is lost.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    if dir.join("model.safetensors").exists() {
        bail!(dropkit::Error::InvalidArgument(format!(
            "{} already holds a finished run; pass another --out or remove it",
            dir.display()
        )));
    }
    if dir.join("config.toml").exists() {
        bail!(dropkit::Error::InvalidArgument(format!(
            "{0} holds an unfinished run; continue it with `dropkit train --resume {0}` (add --lr to change the learning rate), or pass another --out",
            dir.display()
        )));
    }
    Ok(())
}

/// Loads a run's data: `--data` if given, else where the run recorded it, else by the
/// data-directory rules; says when the embedded subset is used or the data changed.
pub fn load_data(flag: Option<&Path>, cfg: &RunConfig) -> Result<dropkit::data::TrainTest> {
    let context = cfg.text_context();
    let Some(input) = &cfg.input else { return load_named(flag, &cfg.dataset, cfg.data.as_ref(), context) };
    let mut input = input.clone();
    if let Some(path) = flag {
        input.path = path.display().to_string();
    }
    let data = dropkit::data::input::load_input_with(&input, context)?;
    if let Some(note) = dropkit::data::changed_note(cfg.data.as_ref(), &data.source) {
        eprintln!("{note}");
    }
    Ok(data)
}

/// Refuses a character model's run for per-sample commands (predict, uncertainty).
pub fn refuse_text(cfg: &RunConfig, command: &str) -> Result<()> {
    if cfg.data.as_ref().is_some_and(|d| d.format == "text") {
        bail!(dropkit::Error::InvalidArgument(format!(
            "this run is a character model: {command} works per sample; continue text with `dropkit generate RUN --prompt TEXT --mc 30` (per-character entropy and mutual information)"
        )));
    }
    Ok(())
}

/// [`load_data`] for data set `dataset`, recorded at `recorded` if it was.
/// A run on its own data (`[input]`) reads its file again (or `flag`, when given, in its place).
pub fn load_named(
    flag: Option<&Path>,
    dataset: &str,
    recorded: Option<&DataRecord>,
    context: usize,
) -> Result<dropkit::data::TrainTest> {
    let (data, note) = load_for_run(flag, dataset, recorded, context)?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(data)
}

pub fn run(args: Args) -> Result<()> {
    if let Some(dir) = &args.resume {
        return resume(dir, &args);
    }
    let mut cfg = config(&args)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        PathBuf::from("runs").join(format!("{}-{secs}", cfg.preset.as_deref().unwrap_or("custom")))
    });
    std::fs::create_dir_all(&out).map_err(|e| dropkit::Error::io(&out, e))?;
    let _lock = lock_run(&out)?;
    check_out_dir(&out)?;
    let data = load_data(args.data.as_deref(), &cfg)?;
    cfg.data = Some(data.source.clone());
    say(format!("model: {}", cfg.model))?;
    say(format!("threads: {}", rayon::current_num_threads()))?;
    let what = match cfg.data.as_ref().map(|d| d.format.as_str()) {
        Some("text") => "sequences",
        _ if cfg.input.is_some() => "samples",
        _ => "images",
    };
    let held_out =
        if data.test_rows.is_empty() { String::new() } else { " held out, seeded; rows in split.json".into() };
    say(format!(
        "data: {} ({} training {what}, validation split {}, {} test {what}{held_out})",
        data.source,
        data.train.len(),
        cfg.validation_split,
        data.test.len()
    ))?;
    let mut view = ProgressView::new(cfg.epochs, "", args.quiet);
    let outcome = train_run(&cfg, &data, Some(&out), &mut |p| {
        if !args.quiet {
            view.update(p)
        }
    })?;
    view.finish();
    report(&outcome, &out, data.source.format == "text")
}

/// `--resume DIR`: continue from the last checkpoint.
fn resume(dir: &Path, args: &Args) -> Result<()> {
    let mut cfg = load_config(dir)?;
    let _lock = lock_run(dir)?;
    if dir.join("model.safetensors").exists() {
        bail!(dropkit::Error::InvalidArgument(format!(
            "{} is a finished run; there is nothing to resume (its results are in metrics.json)",
            dir.display()
        )));
    }
    let data = load_data(args.data.as_deref(), &cfg)?;
    let saved = checkpoint::load(dir)?;
    if args.lr.is_some() || args.schedule.is_some() {
        // A run that diverged goes on from its last good checkpoint with a new rate; the
        // config says so, for whoever reruns it.
        let after = saved.as_ref().map_or(0, |c| c.info.epoch);
        let mut change = Vec::new();
        if let Some(lr) = args.lr {
            cfg.optimizer.lr = lr;
            change.push(format!("lr {lr}"));
        }
        if let Some(s) = &args.schedule {
            cfg.optimizer.schedule = Schedule::parse(s)?;
            change.push(format!("schedule {s}"));
        }
        cfg.amendments.push(format!("resumed after epoch {after} with {}", change.join(" and ")));
        cfg.validate()?;
        dropkit::fsio::write_atomic(&dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    }
    match &saved {
        Some(c) => say(format!(
            "resuming {} after epoch {} of {} (step {})",
            dir.display(),
            c.info.epoch,
            cfg.epochs,
            c.info.steps
        ))?,
        None => say(format!("{} has no checkpoint yet; training it from the start", dir.display()))?,
    }
    let mut view = ProgressView::new(cfg.epochs, "", args.quiet);
    let outcome = resume_run(dir, &data, saved, &mut |p| {
        if !args.quiet {
            view.update(p)
        }
    })?;
    view.finish();
    report(&outcome, dir, data.source.format == "text")
}

/// `text`: a character model, whose losses are also printed in bits per character.
fn report(outcome: &dropkit::train::run::RunOutcome, out: &Path, text: bool) -> Result<()> {
    for line in outcome.model.layers().iter().filter_map(|l| l.summary()) {
        say(line)?;
    }
    let m = &outcome.metrics;
    let quality = match (m.test_rmse, m.test_nll) {
        (Some(rmse), Some(nll)) => format!("test_rmse: {rmse:.4} - test_nll: {nll:.4}"),
        _ => format!("test_accuracy: {:.4}", m.test_accuracy),
    };
    say(format!(
        "test_loss: {:.4} - {quality} - {:.2} s/epoch - {} parameters",
        m.test_loss, m.seconds_per_epoch, m.parameters
    ))?;
    if text {
        let bits = |nats: f64| nats / std::f64::consts::LN_2;
        let val = m
            .val_loss
            .map_or(String::new(), |v| format!("validation {v:.4} nats = {:.4} bits per character, ", bits(v)));
        say(format!("{val}test {:.4} nats = {:.4} bits per character", m.test_loss, bits(m.test_loss)))?;
    }
    if let (true, Some(best)) = (m.stopped_early, m.best_epoch) {
        say(format!("early stopping: stopped after epoch {}; the best epoch was {best}", m.epochs))?;
    }
    say(format!("run written to {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn the_printed_command_gives_back_the_exact_config() {
        let mut with_everything = preset("two-layer-net").unwrap();
        with_everything.optimizer.max_norm = Some(3.5);
        with_everything.optimizer.nesterov = true;
        with_everything.optimizer.dampened = true;
        with_everything.optimizer.momentum_ramp = Some(dropkit::optim::MomentumRamp { start: 0.5, epochs: 7 });
        with_everything.optimizer.momentum = 0.9;
        with_everything.augment = Some(dropkit::data::augment::Augment { shift: 1.5, rotate: 7.0 });
        with_everything.early_stopping =
            Some(EarlyStopping { monitor: Monitor::ValAccuracy, patience: 3, min_delta: 0.001, restore_best: false });
        with_everything.checkpoint_every = 0;
        for c in
            [preset("keras-mnist").unwrap(), RunConfig::new("dense(64, relu) dropout(0.5) dense(10)"), with_everything]
        {
            let argv = std::iter::once("train".to_string()).chain(train_args(&c).unwrap());
            let parsed = Cli::try_parse_from(argv).unwrap();
            assert_eq!(config(&parsed.args).unwrap(), c);
        }
        let command = train_command(&RunConfig::new("dense(64, relu) dense(10)")).unwrap();
        assert!(command.starts_with("dropkit train --model 'dense(64, relu) dense(10)' --optimizer adam"), "{command}");
    }
}
