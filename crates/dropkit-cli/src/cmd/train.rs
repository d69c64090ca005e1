//! `dropkit train`: build a run config from a preset, a config file and flags; train; write
//! the run directory.

use crate::output::{say, ProgressView};
use anyhow::{bail, Context, Result};
use dropkit::data::{load_mnist, resolve_source, DataSource};
use dropkit::optim::{OptimizerConfig, Schedule};
use dropkit::train::presets::{preset, PRESETS};
use dropkit::train::run::train_run;
use dropkit::train::RunConfig;
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
    /// Learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// SGD momentum.
    #[arg(long)]
    momentum: Option<f32>,
    /// Nesterov momentum (SGD).
    #[arg(long)]
    nesterov: bool,
    /// L2 weight decay on weights (decoupled for adamw).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Max-norm constraint on each unit's incoming weights.
    #[arg(long)]
    max_norm: Option<f32>,
    /// Learning-rate schedule: constant, step:EVERY:GAMMA or exp:GAMMA.
    #[arg(long)]
    schedule: Option<String>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Fraction of the training set (the last part, as Keras) held out for validation.
    #[arg(long)]
    validation_split: Option<f64>,
    /// Seed for initialisation, shuffling and dropout masks.
    #[arg(long)]
    seed: Option<u64>,
    /// Data directory holding mnist/ (default: $DROPKIT_DATA, then ~/.cache/dropkit, then the embedded subset).
    #[arg(long)]
    data: Option<PathBuf>,
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
        return Ok(RunConfig::from_toml(&text, &path.display().to_string())?);
    }
    if let Some(name) = &args.preset {
        return Ok(preset(name)?);
    }
    match &args.model {
        Some(model) => Ok(RunConfig {
            preset: None,
            model: model.clone(),
            dataset: "mnist".into(),
            epochs: 10,
            batch_size: 128,
            validation_split: 0.1,
            seed: 42,
            optimizer: OptimizerConfig::default(),
        }),
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
    if let Some(v) = args.batch_size {
        c.batch_size = v;
    }
    if let Some(v) = args.validation_split {
        c.validation_split = v;
    }
    if let Some(v) = args.seed {
        c.seed = v;
    }
    c.validate()?;
    Ok(c)
}

/// Refuses to overwrite a finished run: nothing written is lost.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    if dir.join("model.safetensors").exists() {
        bail!(dropkit::Error::InvalidArgument(format!(
            "{} already holds a finished run; pass another --out or remove it",
            dir.display()
        )));
    }
    Ok(())
}

/// Loads MNIST by the data-directory rules, saying when the embedded subset is used.
pub fn load_data(flag: Option<&Path>, dataset: &str) -> Result<dropkit::data::Mnist> {
    let source = resolve_source(flag, dataset)?;
    if source == DataSource::Embedded {
        eprintln!(
            "note: no {dataset} data directory found (--data, DROPKIT_DATA, ~/.cache/dropkit); using the embedded MNIST subset (10,000 training, 2,000 test images)"
        );
    }
    Ok(load_mnist(&source, dataset)?)
}

pub fn run(args: Args) -> Result<()> {
    let cfg = config(&args)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        PathBuf::from("runs").join(format!("{}-{secs}", cfg.preset.as_deref().unwrap_or("custom")))
    });
    check_out_dir(&out)?;
    let data = load_data(args.data.as_deref(), &cfg.dataset)?;
    say(format!("model: {}", cfg.model))?;
    say(format!(
        "data: {} ({} training images, validation split {}, {} test images)",
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
    let m = &outcome.metrics;
    say(format!(
        "test_loss: {:.4} - test_accuracy: {:.4} - {:.2} s/epoch - {} parameters",
        m.test_loss, m.test_accuracy, m.seconds_per_epoch, m.parameters
    ))?;
    say(format!("run written to {}", out.display()))?;
    Ok(())
}
