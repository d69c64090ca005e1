//! `dropkit predict RUN_DIR [--input FILE_OR_DIR] [--mc T]`: predictions for every test input
//! of the run, or for new inputs (a CSV table, a NumPy file, an image folder; with or without
//! labels), deterministically or with Monte Carlo dropout, as CSV or JSONL. Classification
//! rows carry the class, its name, probabilities, their std, entropy and mutual information;
//! regression rows the predictive mean and its std (epistemic, and total with the noise 1/tau).

use super::refuse_overwrite;
use super::train::load_data;
use crate::output::say;
use anyhow::{bail, Result};
use dropkit::data::input::load_new_inputs;
use dropkit::data::labels::Task;
use dropkit::data::{Dataset, Targets};
use dropkit::train::run::{load_config, SavedRun};
use dropkit::uncertainty::regression::{predict_regression, RegressionPredictions};
use dropkit::uncertainty::{predict, Inference, Predictions};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A directory written by `dropkit train`.
    run_dir: PathBuf,
    /// New inputs to predict instead of the run's test set: a .csv (the run's feature columns;
    /// the target column optional), a .npy or .npz, or an image folder.
    #[arg(long, value_name = "FILE_OR_DIR")]
    input: Option<PathBuf>,
    /// Monte Carlo dropout with this many stochastic passes (default: one deterministic pass).
    #[arg(long, value_name = "T")]
    mc: Option<u64>,
    /// Regression: the model precision tau (default: 1 / the run's training RMSE squared).
    #[arg(long)]
    tau: Option<f64>,
    /// Write DIR/predictions.csv (or .jsonl) instead of printing to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// csv or jsonl.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Data directory (default: where the run's data was).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Replace predictions already in --out.
    #[arg(long)]
    overwrite: bool,
}

/// One value per class, comma-separated.
fn cells(values: &[f32]) -> String {
    values.iter().map(|v| format!(",{v:.6}")).collect()
}

/// What to print beside each prediction: the input's file, its label, the class names.
#[derive(Clone, Copy, Default)]
pub struct Columns<'a> {
    pub files: Option<&'a [String]>,
    pub labels: Option<&'a [u32]>,
    pub names: Option<&'a [String]>,
}

/// The classification predictions as CSV (header + one line per input).
pub fn to_csv(p: &Predictions, c: Columns) -> String {
    let Columns { files, labels, names } = c;
    let mut s = String::from("index");
    if files.is_some() {
        s.push_str(",file");
    }
    if labels.is_some() {
        s.push_str(",label");
    }
    s.push_str(",predicted");
    if names.is_some() {
        s.push_str(",class");
    }
    (0..p.classes).for_each(|k| write!(s, ",p_{k}").unwrap_or(()));
    (0..p.classes).for_each(|k| write!(s, ",std_{k}").unwrap_or(()));
    s.push_str(",predictive_entropy,expected_entropy,mutual_information\n");
    for i in 0..p.len() {
        let _ = write!(s, "{i}");
        if let Some(f) = files.and_then(|f| f.get(i)) {
            let _ = write!(s, ",{}", csv_field(f));
        }
        if let Some(l) = labels.and_then(|l| l.get(i)) {
            let _ = write!(s, ",{l}");
        }
        let _ = write!(s, ",{}", p.predicted[i]);
        if let Some(n) = names {
            let _ = write!(s, ",{}", csv_field(n.get(p.predicted[i] as usize).map_or("", String::as_str)));
        }
        s.push_str(&cells(p.probs(i)));
        s.push_str(&cells(&p.std[i * p.classes..(i + 1) * p.classes]));
        let _ =
            writeln!(s, ",{:.6},{:.6},{:.6}", p.predictive_entropy[i], p.expected_entropy[i], p.mutual_information[i]);
    }
    s
}

/// A CSV field, quoted when it holds a comma, quote or newline.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The classification predictions as JSON lines.
pub fn to_jsonl(p: &Predictions, c: Columns) -> String {
    let Columns { files, labels, names } = c;
    let mut s = String::new();
    for i in 0..p.len() {
        let mut line = serde_json::json!({
            "index": i,
            "predicted": p.predicted[i],
            "probs": p.probs(i),
            "std": &p.std[i * p.classes..(i + 1) * p.classes],
            "predictive_entropy": p.predictive_entropy[i],
            "expected_entropy": p.expected_entropy[i],
            "mutual_information": p.mutual_information[i],
        });
        if let Some(l) = labels.and_then(|l| l.get(i)) {
            line["label"] = (*l).into();
        }
        if let Some(f) = files.and_then(|f| f.get(i)) {
            line["file"] = f.clone().into();
        }
        if let Some(n) = names.and_then(|n| n.get(p.predicted[i] as usize)) {
            line["class"] = n.clone().into();
        }
        s.push_str(&line.to_string());
        s.push('\n');
    }
    s
}

/// The regression predictions as CSV: targets (when known), mean, epistemic and total std.
pub fn regression_csv(p: &RegressionPredictions, targets: Option<&[f32]>) -> String {
    let d = p.dim;
    let mut s = String::from("index");
    let mut columns = |name: &str| (0..d).for_each(|k| write!(s, ",{name}_{k}").unwrap_or(()));
    if targets.is_some() {
        columns("target");
    }
    columns("mean");
    columns("std");
    columns("total_std");
    s.push('\n');
    for i in 0..p.len() {
        let _ = write!(s, "{i}");
        if let Some(t) = targets {
            s.push_str(&cells(&t[i * d..(i + 1) * d]));
        }
        s.push_str(&cells(&p.mean[i * d..(i + 1) * d]));
        s.push_str(&cells(&p.epistemic_std[i * d..(i + 1) * d]));
        s.push_str(&cells(&p.total_std[i * d..(i + 1) * d]));
        s.push('\n');
    }
    s
}

/// The regression predictions as JSON lines.
pub fn regression_jsonl(p: &RegressionPredictions, targets: Option<&[f32]>) -> String {
    let d = p.dim;
    let mut s = String::new();
    for i in 0..p.len() {
        let mut line = serde_json::json!({
            "index": i,
            "mean": &p.mean[i * d..(i + 1) * d],
            "std": &p.epistemic_std[i * d..(i + 1) * d],
            "total_std": &p.total_std[i * d..(i + 1) * d],
        });
        if let Some(t) = targets {
            line["target"] = t[i * d..(i + 1) * d].into();
        }
        if let Some(ll) = p.log_likelihood.get(i) {
            line["log_likelihood"] = (*ll).into();
        }
        s.push_str(&line.to_string());
        s.push('\n');
    }
    s
}

/// The inputs to predict, whether they carry targets, and their files (image folders).
fn inputs(args: &Args, cfg: &dropkit::train::RunConfig) -> Result<(SavedRun, Dataset, bool, Vec<String>)> {
    super::train::refuse_text(cfg, "predict")?;
    let recorded_shape = cfg.data.as_ref().map(|d| d.sample_shape.clone()).filter(|s| !s.is_empty());
    match &args.input {
        Some(path) => {
            let shape = match recorded_shape {
                Some(s) => s,
                None => load_data(args.data.as_deref(), cfg)?.train.sample_shape,
            };
            let run = SavedRun::open(&args.run_dir, &shape)?;
            let part = load_new_inputs(path, cfg.input.as_ref(), &run.known(), &shape)?;
            if part.set.sample_shape.iter().product::<usize>() != shape.iter().product::<usize>() {
                bail!(dropkit::Error::InvalidArgument(format!(
                    "{}: samples of {:?}, but the run was trained on {:?}",
                    path.display(),
                    part.set.sample_shape,
                    shape
                )));
            }
            Ok((run, part.set, part.has_targets, part.files))
        }
        None => {
            let data = load_data(args.data.as_deref(), cfg)?;
            let run = SavedRun::open(&args.run_dir, &data.train.sample_shape)?;
            Ok((run, data.test, true, Vec::new()))
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.format != "csv" && args.format != "jsonl" {
        bail!(dropkit::Error::InvalidArgument(format!("--format {}: use csv or jsonl", args.format)));
    }
    let inference = match args.mc {
        Some(0) => bail!(dropkit::Error::InvalidArgument("--mc 0: use at least 1 pass, e.g. --mc 100".into())),
        Some(t) => Inference::MonteCarlo { samples: t },
        None => Inference::Deterministic,
    };
    let cfg = load_config(&args.run_dir)?;
    if let Some(dir) = &args.out {
        refuse_overwrite(&dir.join(format!("predictions.{}", args.format)), args.overwrite)?;
    }
    let (mut run, mut set, has_targets, files) = inputs(&args, &cfg)?;
    run.prepare_inputs(&mut set)?;
    let jsonl = args.format == "jsonl";
    let (text, (head, figures)) = match run.task() {
        Task::Classification => {
            let p = predict(&mut run.model, &set.images, inference)?;
            let labels = has_targets.then(|| set.labels()).filter(|l| !l.is_empty());
            let names = cfg.data.as_ref().map(|d| d.classes.as_slice()).filter(|c| !c.is_empty());
            let accuracy = labels.map(|l| {
                let right = p.predicted.iter().zip(l).filter(|(a, b)| a == b).count();
                format!("; accuracy {:.4}", right as f64 / p.len().max(1) as f64)
            });
            let columns = Columns { files: (!files.is_empty()).then_some(files.as_slice()), labels, names };
            let text = if jsonl { to_jsonl(&p, columns) } else { to_csv(&p, columns) };
            (text, (format!("{} predictions ({})", p.len(), describe(inference)), accuracy.unwrap_or_default()))
        }
        Task::Regression => {
            let tau = args.tau.unwrap_or_else(|| SavedRun::default_tau(&args.run_dir));
            let targets = match (&set.targets, has_targets) {
                (Targets::Values { values, .. }, true) => Some(values.as_slice()),
                _ => None,
            };
            let p = predict_regression(
                &mut run.model,
                &set.images,
                inference,
                tau,
                cfg.loss,
                run.scaler.as_ref(),
                targets,
            )?;
            let figures = targets.map(|t| {
                let ll = p.mean_log_likelihood();
                let noise = if p.tau.is_nan() { "the model's own variances".into() } else { format!("tau {tau:.4e}") };
                format!("; RMSE {:.4}, mean log-likelihood {ll:.4} ({noise})", p.rmse(t))
            });
            let text = if jsonl { regression_jsonl(&p, targets) } else { regression_csv(&p, targets) };
            (text, (format!("{} predictions ({})", p.len(), describe(inference)), figures.unwrap_or_default()))
        }
    };
    match &args.out {
        Some(dir) => {
            let path = dir.join(format!("predictions.{}", args.format));
            dropkit::fsio::write_atomic(&path, text.as_bytes())?;
            say(format!("{head} written to {}{figures}", path.display()))?;
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            eprintln!("{head}{figures}");
        }
    }
    Ok(())
}

pub fn describe(inference: Inference) -> String {
    match inference {
        Inference::Deterministic => "deterministic".into(),
        Inference::MonteCarlo { samples } => format!("MC dropout, T={samples}"),
    }
}
