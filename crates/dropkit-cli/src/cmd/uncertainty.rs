//! `dropkit uncertainty RUN_DIR... --mc T --out DIR`: deterministic versus Monte Carlo dropout
//! on the test set (accuracy, NLL, Brier, ECE), reliability diagram, accuracy when rejecting
//! uncertain inputs, out-of-distribution AUROC under input shifts, and test error against the
//! number of passes; plots and an HTML report.

use super::refuse_overwrite;
use super::train::load_data;
use crate::output::say;
use crate::report::html;
use crate::report::plot::{line_chart, Chart, Series, XAxis};
use anyhow::Result;
use dropkit::experiments::uncertainty_study::{across_runs, study, AcrossRuns, StudyOptions, StudyReport};
use dropkit::train::run::{load_config, SavedRun};
use dropkit::uncertainty::metrics::Calibration;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// One or more directories written by `dropkit train` (e.g. the same model with 3 seeds).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Monte Carlo passes.
    #[arg(long, value_name = "T", default_value_t = 100)]
    mc: u64,
    /// Output directory for metrics.json, plots and report.html.
    #[arg(long)]
    out: PathBuf,
    /// Test inputs used for each out-of-distribution shift.
    #[arg(long, default_value_t = 2000)]
    ood_inputs: usize,
    /// Data directory (default: where each run's data was).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Replace a study already in --out.
    #[arg(long)]
    overwrite: bool,
}

fn evaluate_run(dir: &Path, args: &Args) -> Result<StudyReport> {
    let cfg = load_config(dir)?;
    super::train::refuse_text(&cfg, "uncertainty")?;
    let data = load_data(args.data.as_deref(), &cfg)?;
    let run = SavedRun::open(dir, &data.train.sample_shape)?;
    if run.task() == dropkit::data::labels::Task::Regression {
        anyhow::bail!(dropkit::Error::InvalidArgument(format!(
            "{} is a regression run; this study is for classifiers. For regression uncertainty use `dropkit predict {} --mc 1000` (mean, std and test log-likelihood)",
            dir.display(),
            dir.display()
        )));
    }
    let mut test = data.test.clone();
    run.prepare_inputs(&mut test)?;
    let mut model = run.model;
    if model.first_stochastic().is_none() {
        eprintln!(
            "warning: {} has no dropout layer: its Monte Carlo passes are all alike, so MC dropout equals the deterministic prediction",
            dir.display()
        );
    }
    let options = StudyOptions { passes: args.mc, ood_inputs: args.ood_inputs, seed: cfg.seed };
    Ok(study(&mut model, &dir.display().to_string(), &test, options)?)
}

pub fn run(args: Args) -> Result<()> {
    // The study's own checks, before any run is loaded.
    if args.mc == 0 || args.ood_inputs == 0 {
        let what = if args.mc == 0 {
            "--mc 0: use at least 1 pass, e.g. --mc 100"
        } else {
            "--ood-inputs 0: shift at least 1 test input, e.g. 2000"
        };
        anyhow::bail!(dropkit::Error::InvalidArgument(what.into()));
    }
    refuse_overwrite(&args.out.join("metrics.json"), args.overwrite)?;
    let mut reports = Vec::new();
    for dir in &args.runs {
        say(format!("evaluating {} (deterministic and MC dropout, T={})", dir.display(), args.mc))?;
        reports.push(evaluate_run(dir, &args)?);
    }
    let mut lines =
        vec![format!("{:<28}{:<22}{:>9}{:>9}{:>9}{:>9}", "run", "prediction", "accuracy", "NLL", "Brier", "ECE")];
    for r in &reports {
        for (name, c) in [("deterministic", &r.deterministic), (&*format!("MC dropout T={}", r.passes), &r.mc)] {
            lines.push(format!(
                "{:<28}{:<22}{:>9.4}{:>9.4}{:>9.4}{:>9.4}",
                r.run, name, c.accuracy, c.nll, c.brier, c.ece
            ));
        }
    }
    if reports.len() > 1 {
        lines.push(String::new());
        lines.push(format!("mean ± sd over {} runs:", reports.len()));
        for AcrossRuns { figure, deterministic: det, mc } in across_runs(&reports) {
            lines.push(format!(
                "  {figure:<9} deterministic {:.4} ± {:.4}   MC dropout {:.4} ± {:.4}",
                det.0, det.1, mc.0, mc.1
            ));
        }
    }
    lines.push(String::new());
    lines.push(format!(
        "out-of-distribution AUROC ({} shifted test inputs against the same clean ones):",
        args.ood_inputs
    ));
    lines.push(format!("{:<28}{:<16}{:>16}{:>14}{:>12}", "run", "shift", "entropy (det)", "entropy (MC)", "MI (MC)"));
    for r in &reports {
        for o in &r.ood_auroc {
            lines.push(format!(
                "{:<28}{:<16}{:>16.4}{:>14.4}{:>12.4}",
                r.run, o.shift, o.entropy_deterministic, o.entropy_mc, o.mutual_information_mc
            ));
        }
    }
    lines.push(String::new());
    let first = &reports[0];
    lines.push(format!(
        "test error against passes ({}): {}",
        first.run,
        first.error_vs_passes.iter().map(|(t, e)| format!("T={t}: {e:.4}")).collect::<Vec<_>>().join(", ")
    ));
    for l in &lines {
        say(l)?;
    }

    std::fs::create_dir_all(&args.out)?;
    dropkit::fsio::write_atomic(&args.out.join("metrics.json"), serde_json::to_string_pretty(&reports)?.as_bytes())?;
    let plots = draw(&args.out, &reports)?;
    let html = html::page(
        "dropkit: Monte Carlo dropout uncertainty",
        &[
            html::Section::Pre(lines.join("\n")),
            html::Section::Svgs(plots.iter().map(|p| p.with_extension("svg")).collect()),
        ],
    )?;
    dropkit::fsio::write_atomic(&args.out.join("report.html"), html.as_bytes())?;
    say(format!("report: {}", args.out.join("report.html").display()))?;
    Ok(())
}

fn draw(out: &Path, reports: &[StudyReport]) -> Result<Vec<PathBuf>> {
    let r = &reports[0];
    let reliability =
        |c: &Calibration| c.bins.iter().filter(|b| b.count > 0).map(|b| (b.confidence, b.accuracy)).collect();
    let mut files = Vec::new();
    let stem = out.join("reliability");
    line_chart(
        &stem,
        &Chart { title: "Reliability diagram", x_label: "confidence", y_label: "accuracy", x_axis: XAxis::Linear },
        &[
            Series::new("perfect calibration", vec![(0.0, 0.0), (1.0, 1.0)]),
            Series::new("deterministic", reliability(&r.deterministic)),
            Series::new(format!("MC dropout T={}", r.passes), reliability(&r.mc)),
        ],
    )?;
    files.push(stem);
    let stem = out.join("rejection");
    let pct = |v: &[(f64, f64)]| v.iter().map(|&(f, a)| (100.0 * f, a)).collect();
    line_chart(
        &stem,
        &Chart {
            title: "Accuracy after rejecting the most uncertain inputs",
            x_label: "rejected (% of test inputs, by predictive entropy)",
            y_label: "accuracy on the rest",
            x_axis: XAxis::Linear,
        },
        &[
            Series::new("deterministic", pct(&r.rejection_deterministic)),
            Series::new(format!("MC dropout T={}", r.passes), pct(&r.rejection_mc)),
        ],
    )?;
    files.push(stem);
    let stem = out.join("error_vs_passes");
    let det_error = 1.0 - r.deterministic.accuracy;
    let t_max = r.error_vs_passes.last().map(|p| p.0 as f64).unwrap_or(1.0);
    line_chart(
        &stem,
        &Chart {
            title: "Test error against Monte Carlo passes",
            x_label: "passes T",
            y_label: "test error",
            x_axis: XAxis::Linear,
        },
        &[
            Series::new("MC model averaging", r.error_vs_passes.iter().map(|&(t, e)| (t as f64, e)).collect()),
            Series::new("weight scaling (deterministic)", vec![(1.0, det_error), (t_max, det_error)]),
        ],
    )?;
    files.push(stem);
    Ok(files)
}
