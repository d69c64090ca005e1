//! `dropkit sweep`: train a grid of dropout rates, variants, regularizers, minibatch sizes,
//! learning rates and seeds, then draw the report. `dropkit report`: merge result directories
//! (shards) and redraw.

use super::train::load_data;
use crate::output::say;
use anyhow::{bail, Context, Result};
use dropkit::experiments::sweep::{
    read_failures, read_results, run_sweep, FailedTrial, Grid, Regularizer, Shard, SweepEvent, SweepOptions,
    TrialRecord,
};
use dropkit::train::presets::preset;
use dropkit::train::RunConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(clap::Args)]
pub struct Args {
    /// A sweep file (TOML): `preset` or `model`, `epochs`, and the axes `rates`,
    /// `batch_sizes`, `seeds` (a count), `lrs`, `variants`, `regularizers`, `jobs`. Flags override it.
    #[arg(long, value_name = "FILE")]
    grid: Option<PathBuf>,
    /// The base run: a preset (see `dropkit presets`).
    #[arg(long)]
    preset: Option<String>,
    /// The base run: a model spec (with Adam 1e-3, batch 128, validation split 0.1).
    #[arg(long)]
    model: Option<String>,
    /// The base run: a run config (a run's config.toml); --model replaces its model.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Dropout rates, comma-separated; each is one p for every dropout layer or one per layer
    /// joined by '/', e.g. 0,0.3,0.5 or 0.2/0.5,0.1/0.3.
    #[arg(long)]
    rates: Option<String>,
    /// Minibatch sizes, e.g. 32,128,512.
    #[arg(long)]
    batch_sizes: Option<String>,
    /// Seeds per setting (seeds 1..=N).
    #[arg(long)]
    seeds: Option<u64>,
    /// Learning rates, e.g. 0.01,0.001.
    #[arg(long)]
    lrs: Option<String>,
    /// Dropout variants replacing every dropout layer, e.g. dropout,classic_dropout.
    #[arg(long)]
    variants: Option<String>,
    /// Regularizers to compare: none, dropout, dropout+l2, dropout+max-norm,
    /// dropout+batch-norm, dropout+augment, or all.
    #[arg(long)]
    regularizers: Option<String>,
    /// Epochs per trial (default: the base run's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Fraction of the training set held out for validation (the curves need one).
    #[arg(long)]
    validation_split: Option<f64>,
    /// The sweep directory: results.jsonl, plots, report.html. Rerunning skips finished trials.
    #[arg(long)]
    out: PathBuf,
    /// Trials trained at the same time (the threads are divided among them).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only part i of N (1-based), e.g. 2/4 or $SLURM_ARRAY_TASK_ID/4.
    #[arg(long, value_name = "i/N")]
    shard: Option<String>,
    /// Data directory holding mnist/ (default: $DROPKIT_DATA, ~/.cache/dropkit, then the embedded subset).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Only the plan and the final table.
    #[arg(long, short)]
    quiet: bool,
    /// Train the trials recorded as failed again (reruns skip them otherwise).
    #[arg(long)]
    retry_failed: bool,
}

/// A sweep file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    preset: Option<String>,
    model: Option<String>,
    epochs: Option<usize>,
    validation_split: Option<f64>,
    seeds: Option<u64>,
    jobs: Option<usize>,
    #[serde(default)]
    rates: Vec<String>,
    #[serde(default)]
    batch_sizes: Vec<usize>,
    #[serde(default)]
    lrs: Vec<f32>,
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    regularizers: Vec<Regularizer>,
}

fn list<T: std::str::FromStr>(text: &str, what: &str) -> Result<Vec<T>> {
    text.split(',').map(|v| v.trim().parse::<T>()).collect::<std::result::Result<_, _>>().map_err(|_| {
        dropkit::Error::InvalidArgument(format!("--{what} '{text}': expected a comma-separated list")).into()
    })
}

/// The base config, the grid and the job count the file and flags describe.
fn plan(args: &Args) -> Result<(RunConfig, Grid, usize)> {
    let file: SweepFile = match &args.grid {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text)
                .map_err(|e| dropkit::Error::format(path.display(), e.to_string().trim().to_string()))?
        }
        None => SweepFile::default(),
    };
    let model = args.model.as_ref().or(file.model.as_ref());
    let mut base = match (args.preset.as_ref().or(file.preset.as_ref()), model) {
        _ if args.config.is_some() => {
            let path = args.config.as_deref().unwrap_or(Path::new(""));
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let mut c = RunConfig::from_toml(&text, &path.display().to_string())?;
            if let Some(m) = model {
                c.model = m.clone();
            }
            c
        }
        (Some(p), model) => {
            let mut c = preset(p)?;
            if let Some(m) = model {
                c.model = m.clone();
            }
            c
        }
        (None, Some(m)) => RunConfig::new(m),
        (None, None) => bail!(dropkit::Error::InvalidArgument(
            "give the base run: --preset NAME, --model SPEC or --config FILE (or preset/model in --grid FILE)".into()
        )),
    };
    if let Some(e) = args.epochs.or(file.epochs) {
        base.epochs = e;
    }
    if let Some(v) = args.validation_split.or(file.validation_split) {
        base.validation_split = v;
    }
    let mut grid = Grid {
        rates: file.rates,
        batch_sizes: file.batch_sizes,
        lrs: file.lrs,
        variants: file.variants,
        regularizers: file.regularizers,
        seeds: Vec::new(),
    };
    if let Some(r) = &args.rates {
        grid.rates = r.split(',').map(|v| v.trim().to_string()).collect();
    }
    if let Some(b) = &args.batch_sizes {
        grid.batch_sizes = list(b, "batch-sizes")?;
    }
    if let Some(l) = &args.lrs {
        grid.lrs = list(l, "lrs")?;
    }
    if let Some(v) = &args.variants {
        grid.variants = v.split(',').map(|v| v.trim().to_string()).collect();
    }
    if let Some(r) = &args.regularizers {
        grid.regularizers = if r.trim() == "all" {
            Regularizer::ALL.to_vec()
        } else {
            r.split(',').map(Regularizer::parse).collect::<dropkit::Result<_>>()?
        };
    }
    if let Some(n) = args.seeds.or(file.seeds) {
        if n == 0 {
            bail!(dropkit::Error::InvalidArgument("--seeds 0: run at least 1 seed per setting".into()));
        }
        grid.seeds = (1..=n).collect();
    }
    Ok((base, grid, args.jobs.or(file.jobs).unwrap_or(1)))
}

pub fn run(args: Args) -> Result<()> {
    let (mut base, grid, jobs) = plan(&args)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    // A table, NumPy file or image folder given as --data is the sweep's own data.
    if let Some(path) = args.data.as_deref().filter(|p| base.input.is_none() && dropkit::data::input::is_own_data(p)) {
        let absolute = std::fs::canonicalize(path).map_err(|e| dropkit::Error::io(path, e))?;
        base.input = Some(dropkit::data::input::InputConfig::new(absolute.display().to_string()));
    }
    let data = load_data(if base.input.is_some() { None } else { args.data.as_deref() }, &base)?;
    // Every trial records its data, so the command that reproduces it reads the same.
    base.data = Some(data.source.clone());
    let trials = grid.trials(&base)?;
    let finished = AtomicUsize::new(0);
    let quiet = args.quiet;
    let total = AtomicUsize::new(0);
    let on_event = |e: SweepEvent| match e {
        SweepEvent::Plan { total: t, done, to_run } => {
            total.store(to_run, Ordering::SeqCst);
            let part = shard.map(|s| format!(" (shard {}/{})", s.index, s.count)).unwrap_or_default();
            let _ = say(format!(
                "sweep{part}: {t} trials, {done} already in {}, {to_run} to run, {} at a time; data: {}",
                args.out.display(),
                jobs.min(to_run.max(1)),
                data.source
            ));
        }
        SweepEvent::Started { .. } | SweepEvent::Epoch { .. } => {}
        SweepEvent::Failed { trial, error } => {
            let k = finished.fetch_add(1, Ordering::SeqCst) + 1;
            eprintln!(
                "[{k}/{}] {}, seed {} failed: {error} (recorded; the sweep goes on, --retry-failed trains it again)",
                total.load(Ordering::SeqCst),
                trial.settings.label(),
                trial.settings.seed
            );
        }
        SweepEvent::Finished { trial, record } => {
            let k = finished.fetch_add(1, Ordering::SeqCst) + 1;
            if !quiet {
                let m = &record.metrics;
                let _ = say(format!(
                    "[{k}/{}] {}, seed {}: test accuracy {:.4}, val accuracy {}, {:.2} s/epoch",
                    total.load(Ordering::SeqCst),
                    trial.settings.label(),
                    trial.settings.seed,
                    m.test_accuracy,
                    m.val_accuracy.map_or("n/a".into(), |v| format!("{v:.4}")),
                    m.seconds_per_epoch
                ));
            }
        }
    };
    std::fs::create_dir_all(&args.out).map_err(|e| dropkit::Error::io(&args.out, e))?;
    let results = dropkit::experiments::sweep::results_file(&args.out, shard);
    let lock_path = results.with_extension("jsonl.lock");
    let (_lock, note) = dropkit::fsio::lock(&lock_path, &results.display().to_string())?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    run_sweep(&trials, &data, &args.out, SweepOptions { jobs, shard, retry_failed: args.retry_failed }, &on_event)?;
    redraw(std::slice::from_ref(&args.out), &args.out).map(|_| ())
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Sweep directories (or shard directories) whose results*.jsonl to merge.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the plots and report.html (default: the first directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    let records = redraw(&args.dirs, &out)?;
    // The merged trials, each once, as a results file of their own: the merged directory can
    // be merged or resumed again, and lines torn by a crash are left behind.
    let mut lines = String::new();
    for r in &records {
        lines.push_str(&serde_json::to_string(r)?);
        lines.push('\n');
    }
    dropkit::fsio::write_atomic(&out.join("results.jsonl"), lines.as_bytes())?;
    Ok(())
}

/// Merges the results of `dirs` (each trial once), writes the report into `out` and returns
/// the merged trials.
fn redraw(dirs: &[PathBuf], out: &Path) -> Result<Vec<TrialRecord>> {
    let mut records: Vec<TrialRecord> = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            bail!(dropkit::Error::DataNotFound(format!("sweep directory {} does not exist", dir.display())));
        }
        let (found, skipped) = read_results(dir)?;
        if skipped > 0 {
            eprintln!(
                "note: {}: skipped {skipped} unreadable result line(s); rerun the sweep to redo them",
                dir.display()
            );
        }
        for r in found {
            if !records.iter().any(|x| x.key == r.key) {
                records.push(r);
            }
        }
    }
    if records.is_empty() && dirs.iter().all(|d| read_failures(d).map_or(true, |f| f.is_empty())) {
        bail!(dropkit::Error::DataNotFound(format!("no finished trials in {}", dirs[0].display())));
    }
    let mut failures = Vec::new();
    for dir in dirs {
        for f in read_failures(dir)? {
            if !failures.iter().any(|x: &FailedTrial| x.key == f.key) && !records.iter().any(|r| r.key == f.key) {
                failures.push(f);
            }
        }
    }
    let summary = crate::report::sweep::write(out, &records, &failures, "dropkit sweep")?;
    say(summary.trim_end())?;
    let n = records.len();
    say(format!("{n} trial{}; plots and report.html in {}", if n == 1 { "" } else { "s" }, out.display()))?;
    Ok(records)
}
