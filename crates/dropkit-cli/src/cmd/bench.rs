//! `dropkit bench`: fixed workloads, each repeated, as min / median / max; optionally the PyTorch
//! reference (`bench/torch_reference.py`) in the same run, with ratios.

use crate::output::say;
use anyhow::{bail, Context, Result};
use dropkit::experiments::bench::{self, BenchOptions, Summary, WORKLOADS};
use std::path::PathBuf;
use std::process::Command;

#[derive(clap::Args)]
pub struct Args {
    /// Timed epochs per training workload (five pairs give a steadier median ratio than three).
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also run the PyTorch reference with this Python (default python3); each training epoch
    /// is followed by one of PyTorch's.
    #[arg(long, num_args = 0..=1, default_missing_value = "python3", value_name = "PYTHON")]
    compare_torch: Option<String>,
    /// The PyTorch reference script.
    #[arg(long, default_value = "bench/torch_reference.py")]
    torch_script: PathBuf,
    /// Run only these workloads (comma-separated): paper-mlp, gemm-floor, keras, dropout, mc,
    /// transformer, cnn, lstm, gru.
    #[arg(long, value_delimiter = ',', value_parser = WORKLOADS)]
    only: Vec<String>,
}

/// Runs one reference workload with its counts and parses its `RESULT name min=.. median=.. max=..` line.
fn torch(python: &str, script: &PathBuf, mode: &str, counts: &[usize]) -> Result<Summary> {
    let out = Command::new(python)
        .arg(script)
        .arg(mode)
        .args(counts.iter().map(|c| c.to_string()))
        .output()
        .with_context(|| format!("running {python} {}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("{python} {} {mode} failed: {}", script.display(), err.lines().last().unwrap_or(""));
    }
    let line = stdout.lines().find(|l| l.starts_with("RESULT")).context("the reference printed no RESULT line")?;
    let field = |k: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {k} in '{line}'"))
    };
    Ok(Summary { min: field("min=")?, median: field("median=")?, max: field("max=")? })
}

pub fn run(args: Args) -> Result<()> {
    if let Some(py) = &args.compare_torch {
        if !args.torch_script.is_file() {
            bail!(dropkit::Error::InvalidArgument(format!(
                "{} not found; run from the repository root or pass --torch-script PATH (python: {py})",
                args.torch_script.display()
            )));
        }
    }
    let options = BenchOptions { epochs: args.epochs, only: args.only.clone() };
    let mut reference = |mode: &str, counts: &[usize]| -> dropkit::Result<Summary> {
        let py = args.compare_torch.as_deref().unwrap_or("python3");
        torch(py, &args.torch_script, mode, counts).map_err(|e| dropkit::Error::InvalidArgument(format!("{e:#}")))
    };
    let report = bench::run(&options, args.compare_torch.as_ref().map(|_| &mut reference as bench::Reference))?;
    if args.json {
        let mut obj = serde_json::Map::new();
        for (k, s) in &report.results {
            obj.insert(k.to_string(), serde_json::to_value(s)?);
        }
        for (k, v) in &report.ratios {
            obj.insert(k.to_string(), serde_json::json!(v));
        }
        obj.insert("threads".into(), serde_json::json!(report.threads));
        obj.insert("peak_rss_bytes".into(), serde_json::json!(report.peak_rss_bytes));
        obj.insert("mask_bytes_per_element".into(), serde_json::json!(report.mask_bytes_per_element));
        say(serde_json::Value::Object(obj).to_string())?;
        return Ok(());
    }
    say(format!("dropkit bench: {} threads, {} timed epochs per training workload", report.threads, report.epochs))?;
    say(format!("{:<24}{:>12}{:>12}{:>12}", "workload", "min", "median", "max"))?;
    for (k, s) in &report.results {
        say(format!("{k:<24}{:>12.4}{:>12.4}{:>12.4}", s.min, s.median, s.max))?;
    }
    for (k, v) in &report.ratios {
        say(format!("{k:<32}{v:>8.3}"))?;
    }
    if let Some(rss) = report.peak_rss_bytes {
        say(format!(
            "peak RSS while training the paper MLP (with the GEMM floor's 18 MB of buffers when both run): {:.1} MiB",
            rss as f64 / (1 << 20) as f64
        ))?;
    }
    if let Some(b) = report.mask_bytes_per_element {
        say(format!("dropout mask memory of the trained paper MLP: {b} bytes per element (masks are regenerated from their Philox key in backward)"))?;
    }
    Ok(())
}
