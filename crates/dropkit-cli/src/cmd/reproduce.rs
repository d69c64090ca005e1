//! `dropkit reproduce srivastava-mnist`: the MLP rows of the 2014 dropout paper's MNIST table,
//! trained with the paper's recipe, printed next to the paper's errors. The rows run as a
//! sweep: results.jsonl in --out, so an interrupted run resumes where it stopped.

use super::train::load_named;
use crate::output::{epoch_line, say};
use anyhow::{bail, Result};
use dropkit::experiments::reproduce::{srivastava_mnist, PaperRow, DEFAULT_ROWS};
use dropkit::experiments::sweep::{read_results, run_sweep, SweepEvent, SweepOptions, Trial};
use dropkit::train::RunConfig;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// What to reproduce: srivastava-mnist.
    experiment: String,
    /// Epochs per row (the paper trained for 3000; fewer give somewhat higher errors).
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Rows, trained in the order given: baseline, dropout, dropout-maxnorm, maxnorm-3x2048,
    /// maxnorm-2x4096, maxnorm-2x8192, augmented (beyond the paper: shifted and rotated training
    /// images), or all (default: the three 3x1024 rows).
    #[arg(long)]
    rows: Option<String>,
    /// Directory for results.jsonl and report.html (a rerun skips finished rows).
    #[arg(long, default_value = "runs/srivastava-mnist")]
    out: PathBuf,
    /// Rows trained at the same time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Data directory holding mnist/ (the full set; the embedded subset gives higher errors).
    #[arg(long)]
    data: Option<PathBuf>,
    /// No line per epoch.
    #[arg(long, short)]
    quiet: bool,
}

fn chosen(args: &Args) -> Result<Vec<PaperRow>> {
    if args.experiment != "srivastava-mnist" {
        bail!(dropkit::Error::InvalidArgument(format!(
            "unknown experiment '{}'; the one available is srivastava-mnist",
            args.experiment
        )));
    }
    let rows = srivastava_mnist(args.epochs)?;
    let names: Vec<&str> = match args.rows.as_deref() {
        None => DEFAULT_ROWS.to_vec(),
        Some("all") => rows.iter().map(|r| r.name).collect(),
        Some(list) => list.split(',').map(str::trim).collect(),
    };
    names
        .iter()
        .map(|n| {
            rows.iter().find(|r| r.name == *n).cloned().ok_or_else(|| {
                let known: Vec<&str> = rows.iter().map(|r| r.name).collect();
                dropkit::Error::InvalidArgument(format!("unknown row '{n}'; rows: {}, or all", known.join(", "))).into()
            })
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let rows = chosen(&args)?;
    let data = load_named(args.data.as_deref(), "mnist", None)?;
    let trials: Vec<Trial> = rows
        .iter()
        .map(|r| Trial::named(r.name, RunConfig { data: Some(data.source.clone()), ..r.config.clone() }))
        .collect::<dropkit::Result<_>>()?;
    say(format!(
        "Srivastava et al. 2014, table 2 (MNIST MLPs): {} rows, {} epoch{} each (the paper: 3000); data: {}",
        rows.len(),
        args.epochs,
        if args.epochs == 1 { "" } else { "s" },
        data.source
    ))?;
    let started = Instant::now();
    let on_event = |e: SweepEvent| match e {
        SweepEvent::Plan { done, to_run, .. } => {
            let _ = say(format!("{done} rows already in {}, {to_run} to train", args.out.display()));
        }
        SweepEvent::Started { trial } => {
            let _ = say(format!("training {}: {}", trial.settings.label(), trial.config.model));
        }
        SweepEvent::Epoch { trial, record } => {
            if !args.quiet {
                let name = trial.settings.name.as_deref().unwrap_or("");
                let _ = say(format!("{name}: {}", epoch_line(record, trial.config.epochs)));
            }
        }
        SweepEvent::Finished { trial, record } => {
            let _ = say(format!(
                "{}: test error {:.2}% ({:.1} s/epoch)",
                trial.settings.label(),
                100.0 * (1.0 - record.metrics.test_accuracy),
                record.metrics.seconds_per_epoch
            ));
        }
        SweepEvent::Failed { trial, error } => eprintln!("{} failed: {error}", trial.settings.label()),
    };
    run_sweep(
        &trials,
        &data,
        &args.out,
        SweepOptions { jobs: args.jobs, shard: None, retry_failed: false },
        &on_event,
    )?;
    let (records, _) = read_results(&args.out)?;
    let mut table = format!("{:<18} {:<70} {:>8} {:>9}\n", "row", "network", "paper", "dropkit");
    // In the paper's order, whatever the training order.
    for row in srivastava_mnist(args.epochs)? {
        let Some(trial) = trials.iter().find(|t| t.settings.name.as_deref() == Some(row.name)) else { continue };
        let ours = records.iter().find(|r| r.key == trial.key).map(|r| 100.0 * (1.0 - r.metrics.test_accuracy));
        let paper = if row.paper_error.is_nan() { "-".into() } else { format!("{:.2}%", row.paper_error) };
        table.push_str(&format!(
            "{:<18} {:<70} {:>8} {:>9}\n",
            row.name,
            row.description,
            paper,
            ours.map_or("-".into(), |e| format!("{e:.2}%"))
        ));
    }
    say(table.trim_end())?;
    say(format!(
        "test error on the {} test images of {}; wall time {:.0} s",
        data.test.len(),
        data.source,
        started.elapsed().as_secs_f64()
    ))?;
    let mine: Vec<_> = records.into_iter().filter(|r| trials.iter().any(|t| t.key == r.key)).collect();
    crate::report::sweep::write(&args.out, &mine, &[], "Srivastava et al. 2014, MNIST MLPs")?;
    say(format!("report: {}", args.out.join("report.html").display()))?;
    Ok(())
}
