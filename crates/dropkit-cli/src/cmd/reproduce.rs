//! `dropkit reproduce srivastava-mnist`: the MLP rows of the 2014 dropout paper's MNIST table,
//! trained with the paper's recipe, printed next to the paper's errors. The rows run as a
//! sweep: results.jsonl in --out, so an interrupted run resumes where it stopped.
//! `dropkit reproduce gal-uci --data FILE.csv`: Gal and Ghahramani's UCI regression protocol.

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
    /// What to reproduce: srivastava-mnist or gal-uci.
    experiment: String,
    /// Epochs per row (srivastava-mnist, default 100; the paper trained for 3000, fewer give
    /// somewhat higher errors), or per model (gal-uci, default 40).
    #[arg(long)]
    epochs: Option<usize>,
    /// Rows, trained in the order given: baseline, dropout, dropout-maxnorm, maxnorm-3x2048,
    /// maxnorm-2x4096, maxnorm-2x8192, augmented (beyond the paper: shifted and rotated training
    /// images), or all (default: the three 3x1024 rows).
    #[arg(long)]
    rows: Option<String>,
    /// Directory for results.jsonl and report.html (a rerun skips finished rows or splits;
    /// default runs/EXPERIMENT).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rows trained at the same time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// srivastava-mnist: the data directory holding mnist/ (the full set; the embedded subset
    /// gives higher errors). gal-uci: the CSV table.
    #[arg(long)]
    data: Option<PathBuf>,
    /// gal-uci: the target column (default: the last).
    #[arg(long)]
    target: Option<String>,
    /// gal-uci: random 90/10 splits.
    #[arg(long, default_value_t = 20)]
    splits: usize,
    /// gal-uci: the dropout rates to choose from.
    #[arg(long, value_delimiter = ',', default_values_t = dropkit::experiments::gal_uci::RATES)]
    rates: Vec<f64>,
    /// gal-uci: the model precisions tau to choose from, in the target's units (default:
    /// 0.25, 0.5, 1, 2, 4 divided by the variance of the training targets).
    #[arg(long, value_delimiter = ',')]
    taus: Vec<f64>,
    /// gal-uci: Monte Carlo passes at test and validation.
    #[arg(long, default_value_t = 10_000)]
    passes: u64,
    /// No line per epoch.
    #[arg(long, short)]
    quiet: bool,
}

fn chosen(args: &Args, epochs: usize) -> Result<Vec<PaperRow>> {
    if args.experiment != "srivastava-mnist" {
        bail!(dropkit::Error::InvalidArgument(format!(
            "unknown experiment '{}'; available: srivastava-mnist, gal-uci",
            args.experiment
        )));
    }
    let rows = srivastava_mnist(epochs)?;
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
    if args.experiment == "gal-uci" {
        return gal_uci(&args);
    }
    let epochs = args.epochs.unwrap_or(100);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs/srivastava-mnist"));
    let rows = chosen(&args, epochs)?;
    let data = load_named(args.data.as_deref(), "mnist", None, 0)?;
    let trials: Vec<Trial> = rows
        .iter()
        .map(|r| Trial::named(r.name, RunConfig { data: Some(data.source.clone()), ..r.config.clone() }))
        .collect::<dropkit::Result<_>>()?;
    say(format!(
        "Srivastava et al. 2014, table 2 (MNIST MLPs): {} rows, {} epoch{} each (the paper: 3000); data: {}",
        rows.len(),
        epochs,
        if epochs == 1 { "" } else { "s" },
        data.source
    ))?;
    let started = Instant::now();
    let on_event = |e: SweepEvent| match e {
        SweepEvent::Plan { done, to_run, .. } => {
            let _ = say(format!("{done} rows already in {}, {to_run} to train", out.display()));
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
    run_sweep(&trials, &data, &out, SweepOptions { jobs: args.jobs, shard: None, retry_failed: false }, &on_event)?;
    let (records, _) = read_results(&out)?;
    let mut table = format!("{:<18} {:<70} {:>8} {:>9}\n", "row", "network", "paper", "dropkit");
    // In the paper's order, whatever the training order.
    for row in srivastava_mnist(epochs)? {
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
    crate::report::sweep::write(&out, &mine, &[], "Srivastava et al. 2014, MNIST MLPs")?;
    say(format!("report: {}", out.join("report.html").display()))?;
    Ok(())
}

/// `reproduce gal-uci`: every split, then RMSE and test log-likelihood over splits.
fn gal_uci(args: &Args) -> Result<()> {
    use dropkit::data::input::{read_parts, InputConfig};
    use dropkit::data::labels::Task;
    use dropkit::experiments::gal_uci::{mean_and_standard_error, run, GalEvent, GalUciOptions};
    let Some(path) = &args.data else {
        bail!(dropkit::Error::InvalidArgument(
            "gal-uci needs the table: --data FILE.csv (and --target COLUMN unless it is the last)".into()
        ));
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs/gal-uci"));
    let mut input = InputConfig::new(path.display().to_string());
    input.target = args.target.iter().cloned().collect();
    input.task = Some(Task::Regression);
    let (mut all, test, source) = read_parts(&input)?;
    if let Some(test) = test {
        all = dropkit::data::concat(&all, &test)?;
    }
    let options = GalUciOptions {
        splits: args.splits,
        rates: args.rates.clone(),
        taus: args.taus.clone(),
        epochs: args.epochs.unwrap_or(40),
        passes: args.passes,
        validation_passes: args.passes,
        ..GalUciOptions::default()
    };
    say(format!(
        "Gal and Ghahramani 2016, UCI protocol: {} ({} rows, {} features), {} splits of 90/10, p in {:?}, {} epochs, T = {} passes",
        source.location,
        all.len(),
        all.sample_len(),
        options.splits,
        options.rates,
        options.epochs,
        options.passes
    ))?;
    let started = Instant::now();
    let results = run(&all, &source, &options, &out, &mut |e| match e {
        GalEvent::Plan { done, to_run } => {
            let _ = say(format!("{done} splits already in {}, {to_run} to run", out.display()));
        }
        GalEvent::Finished(r) => {
            let _ = say(format!(
                "split {:>2}: p {:<6} tau {:<10.4e} RMSE {:.4} (deterministic {:.4})  test log-likelihood {:.4}",
                r.split, r.p, r.tau, r.rmse, r.rmse_deterministic, r.log_likelihood
            ));
        }
    })?;
    let (rmse, rmse_se) = mean_and_standard_error(&results.iter().map(|r| r.rmse).collect::<Vec<_>>());
    let (ll, ll_se) = mean_and_standard_error(&results.iter().map(|r| r.log_likelihood).collect::<Vec<_>>());
    let (det, det_se) = mean_and_standard_error(&results.iter().map(|r| r.rmse_deterministic).collect::<Vec<_>>());
    say(format!("RMSE (MC dropout, T={}): {rmse:.4} ± {rmse_se:.4}", options.passes))?;
    say(format!("RMSE (deterministic):     {det:.4} ± {det_se:.4}"))?;
    say(format!("test log-likelihood:      {ll:.4} ± {ll_se:.4}"))?;
    say(format!(
        "mean ± standard error over {} splits; results in {}; wall time {:.0} s",
        results.len(),
        out.join("results.jsonl").display(),
        started.elapsed().as_secs_f64()
    ))?;
    Ok(())
}
