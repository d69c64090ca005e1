//! `dropkit bench`: fixed workloads, each repeated, as min / median / max; optionally the PyTorch
//! reference (`bench/torch_reference.py`) in the same run, with ratios.

use crate::output::say;
use anyhow::{bail, Context, Result};
use dropkit::experiments::bench::{self, Summary};
use std::collections::BTreeMap;
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
    /// Also run the PyTorch reference with this Python (default python3).
    #[arg(long, num_args = 0..=1, default_missing_value = "python3", value_name = "PYTHON")]
    compare_torch: Option<String>,
    /// The PyTorch reference script.
    #[arg(long, default_value = "bench/torch_reference.py")]
    torch_script: PathBuf,
    /// Run only these workloads (comma-separated): paper-mlp, gemm-floor, keras, dropout, mc.
    #[arg(long, value_delimiter = ',', value_parser = WORKLOADS)]
    only: Vec<String>,
}

const WORKLOADS: [&str; 5] = ["paper-mlp", "gemm-floor", "keras", "dropout", "mc"];

/// Runs one reference workload and parses its `RESULT name min=.. median=.. max=..` line.
fn torch(python: &str, script: &PathBuf, mode: &str) -> Result<Summary> {
    let out = Command::new(python)
        .arg(script)
        .arg(mode)
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

/// Peak resident memory of this process in bytes (Linux), if known.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn run(args: Args) -> Result<()> {
    if args.epochs == 0 {
        bail!(dropkit::Error::InvalidArgument("--epochs 0: time at least 1 epoch".into()));
    }
    if let Some(py) = &args.compare_torch {
        if !args.torch_script.is_file() {
            bail!(dropkit::Error::InvalidArgument(format!(
                "{} not found; run from the repository root or pass --torch-script PATH (python: {py})",
                args.torch_script.display()
            )));
        }
    }
    let threads = rayon::current_num_threads();
    let runs = |w: &str| args.only.is_empty() || args.only.iter().any(|o| o == w);
    let mut r: BTreeMap<&str, Summary> = BTreeMap::new();
    let data = bench::synthetic_mnist(60_000, 42);
    let mut rss_after_train = None;
    // Ratios of workloads that ran in alternation: the median of the per-pair ratios, each
    // pair measured under the same conditions.
    let mut paired: BTreeMap<&str, f64> = BTreeMap::new();
    let pair_median = |a: &[f64], b: &[f64]| {
        let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
        Summary::of(&ratios).median
    };
    match (runs("paper-mlp"), runs("gemm-floor")) {
        (true, true) => {
            // Interleaved steps: the ratio compares like with like on a shared machine.
            let (train, floor) = bench::paper_mlp_and_floor_epochs(&data, 128, args.epochs)?;
            paired.insert("paper_mlp_over_gemm_floor", pair_median(&train, &floor));
            r.insert("paper_mlp_epoch_s", Summary::of(&train));
            r.insert("gemm_floor_epoch_s", Summary::of(&floor));
            rss_after_train = peak_rss();
        }
        (true, false) => {
            let train = bench::train_epochs(bench::PAPER_MLP, &data, 128, args.epochs)?;
            r.insert("paper_mlp_epoch_s", Summary::of(&train));
            rss_after_train = peak_rss();
        }
        (false, true) => {
            let floor = bench::gemm_floor_epochs(&[784, 1024, 1024, 10], 60_000, 128, args.epochs);
            r.insert("gemm_floor_epoch_s", Summary::of(&floor));
        }
        (false, false) => {}
    }
    if runs("keras") {
        let keras = data.slice(0..48_000);
        r.insert("keras_mnist_epoch_s", Summary::of(&bench::train_epochs(bench::KERAS_MLP, &keras, 128, args.epochs)?));
    }
    if runs("dropout") {
        let (dropout, copy) = bench::dropout_and_copy_bandwidth(4096, 20);
        paired.insert("dropout_over_copy", pair_median(&dropout, &copy));
        r.insert("dropout_gb_s", Summary::of(&dropout));
        r.insert("copy_gb_s", Summary::of(&copy));
    }
    if runs("mc") {
        r.insert("mc100_s", Summary::of(&bench::mc_inference(10_000, 100, 3)?));
    }
    if let Some(py) = &args.compare_torch {
        if runs("paper-mlp") {
            r.insert("torch_train_epoch_s", torch(py, &args.torch_script, "train")?);
        }
        if runs("dropout") {
            let d = torch(py, &args.torch_script, "dropout")?;
            let gb = |s: f64| 4096.0 * 4096.0 * 8.0 / s / 1e9;
            r.insert("torch_dropout_gb_s", Summary { min: gb(d.max), median: gb(d.median), max: gb(d.min) });
        }
        if runs("mc") {
            r.insert("torch_mc100_s", torch(py, &args.torch_script, "mc")?);
        }
    }
    let med = |k: &str| r.get(k).map(|s| s.median);
    let mut ratios: BTreeMap<&str, f64> = BTreeMap::new();
    let mut ratio = |name, a: Option<f64>, b: Option<f64>| {
        if let (Some(a), Some(b)) = (a, b) {
            ratios.insert(name, a / b);
        }
    };
    ratio("paper_mlp_over_gemm_floor", med("paper_mlp_epoch_s"), med("gemm_floor_epoch_s"));
    ratio("dropout_over_copy", med("dropout_gb_s"), med("copy_gb_s"));
    ratio("paper_mlp_over_torch", med("paper_mlp_epoch_s"), med("torch_train_epoch_s"));
    ratio("mc100_over_torch", med("mc100_s"), med("torch_mc100_s"));
    ratio("dropout_over_torch", med("dropout_gb_s"), med("torch_dropout_gb_s"));
    ratios.extend(paired);

    if args.json {
        let mut obj = serde_json::Map::new();
        for (k, s) in &r {
            obj.insert(k.to_string(), serde_json::to_value(s)?);
        }
        for (k, v) in &ratios {
            obj.insert(k.to_string(), serde_json::json!(v));
        }
        obj.insert("threads".into(), serde_json::json!(threads));
        obj.insert("peak_rss_bytes".into(), serde_json::json!(rss_after_train));
        obj.insert("mask_bytes_per_element".into(), serde_json::json!(0));
        say(serde_json::Value::Object(obj).to_string())?;
        return Ok(());
    }
    say(format!("dropkit bench: {threads} threads, {} timed epochs per training workload", args.epochs))?;
    say(format!("{:<24}{:>12}{:>12}{:>12}", "workload", "min", "median", "max"))?;
    for (k, s) in &r {
        say(format!("{k:<24}{:>12.4}{:>12.4}{:>12.4}", s.min, s.median, s.max))?;
    }
    for (k, v) in &ratios {
        say(format!("{k:<32}{v:>8.3}"))?;
    }
    if let Some(rss) = rss_after_train {
        say(format!(
            "peak RSS while training the paper MLP (with the GEMM floor's 18 MB of buffers when both run): {:.1} MiB",
            rss as f64 / (1 << 20) as f64
        ))?;
    }
    say("dropout mask memory: 0 bytes per element (masks are regenerated from their Philox key in backward)")?;
    Ok(())
}
