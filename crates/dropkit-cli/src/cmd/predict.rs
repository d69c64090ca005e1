//! `dropkit predict RUN_DIR [--mc T]`: class, probabilities and uncertainty for every test
//! input, as CSV or JSONL.

use super::refuse_overwrite;
use super::train::load_data;
use crate::output::say;
use anyhow::{bail, Result};
use dropkit::train::run::{load_config, load_model};
use dropkit::uncertainty::{predict, Inference, Predictions};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A directory written by `dropkit train`.
    run_dir: PathBuf,
    /// Monte Carlo dropout with this many stochastic passes (default: one deterministic pass).
    #[arg(long, value_name = "T")]
    mc: Option<u64>,
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

/// The predictions as CSV (header + one line per input).
pub fn to_csv(p: &Predictions, labels: &[u32]) -> String {
    let mut s = String::from("index,label,predicted");
    (0..p.classes).for_each(|k| write!(s, ",p_{k}").unwrap_or(()));
    (0..p.classes).for_each(|k| write!(s, ",std_{k}").unwrap_or(()));
    s.push_str(",predictive_entropy,expected_entropy,mutual_information\n");
    for (i, label) in labels.iter().enumerate().take(p.len()) {
        let _ = write!(s, "{i},{label},{}", p.predicted[i]);
        p.probs(i).iter().for_each(|v| write!(s, ",{v:.6}").unwrap_or(()));
        p.std[i * p.classes..(i + 1) * p.classes].iter().for_each(|v| write!(s, ",{v:.6}").unwrap_or(()));
        let _ =
            writeln!(s, ",{:.6},{:.6},{:.6}", p.predictive_entropy[i], p.expected_entropy[i], p.mutual_information[i]);
    }
    s
}

/// The predictions as JSON lines.
pub fn to_jsonl(p: &Predictions, labels: &[u32]) -> Result<String> {
    let mut s = String::new();
    for (i, label) in labels.iter().enumerate().take(p.len()) {
        let line = serde_json::json!({
            "index": i,
            "label": label,
            "predicted": p.predicted[i],
            "probs": p.probs(i),
            "std": &p.std[i * p.classes..(i + 1) * p.classes],
            "predictive_entropy": p.predictive_entropy[i],
            "expected_entropy": p.expected_entropy[i],
            "mutual_information": p.mutual_information[i],
        });
        s.push_str(&line.to_string());
        s.push('\n');
    }
    Ok(s)
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
    let data = load_data(args.data.as_deref(), &cfg)?;
    let (_, mut model) = load_model(&args.run_dir, &data.train.sample_shape)?;
    let p = predict(&mut model, &data.test.images, inference)?;
    let text = if args.format == "csv" { to_csv(&p, data.test.labels()) } else { to_jsonl(&p, data.test.labels())? };
    match &args.out {
        Some(dir) => {
            let path = dir.join(format!("predictions.{}", args.format));
            dropkit::fsio::write_atomic(&path, text.as_bytes())?;
            let acc =
                p.predicted.iter().zip(data.test.labels()).filter(|(a, b)| a == b).count() as f64 / p.len() as f64;
            say(format!(
                "{} predictions ({}) written to {}; accuracy {acc:.4}",
                p.len(),
                describe(inference),
                path.display()
            ))?;
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
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
