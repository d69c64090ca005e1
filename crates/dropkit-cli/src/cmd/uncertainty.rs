//! `dropkit uncertainty RUN_DIR... --mc T --out DIR`: deterministic versus Monte Carlo dropout
//! on the test set (accuracy, NLL, Brier, ECE), reliability diagram, accuracy when rejecting
//! uncertain inputs, out-of-distribution AUROC under input shifts, and test error against the
//! number of passes; plots and an HTML report.

use super::train::load_data;
use crate::output::say;
use crate::report::html;
use crate::report::plot::{line_chart, Chart, Series};
use anyhow::{bail, Result};
use dropkit::train::run::{load_config, load_model};
use dropkit::uncertainty::metrics::{auroc, calibration, rejection_curve, Calibration};
use dropkit::uncertainty::shift::Shift;
use dropkit::uncertainty::{predict, predict_tracking_error, Inference, Predictions};
use serde::Serialize;
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
    /// Data directory (default: the data-directory rules).
    #[arg(long)]
    data: Option<PathBuf>,
}

#[derive(Serialize)]
struct OodRow {
    shift: String,
    entropy_deterministic: f64,
    entropy_mc: f64,
    mutual_information_mc: f64,
}

#[derive(Serialize)]
struct RunReport {
    run: String,
    model: String,
    passes: u64,
    deterministic: Calibration,
    mc: Calibration,
    rejection_deterministic: Vec<(f64, f64)>,
    rejection_mc: Vec<(f64, f64)>,
    ood_auroc: Vec<OodRow>,
    error_vs_passes: Vec<(u64, f64)>,
}

const SHIFTS: [Shift; 5] =
    [Shift::Rotate(45.0), Shift::Rotate(90.0), Shift::Invert, Shift::GaussianNoise(0.5), Shift::UniformNoise];

fn correct(p: &Predictions, labels: &[u32]) -> Vec<bool> {
    p.predicted.iter().zip(labels).map(|(a, b)| a == b).collect()
}

fn evaluate_run(dir: &Path, args: &Args) -> Result<RunReport> {
    let cfg = load_config(dir)?;
    let data = load_data(args.data.as_deref(), &cfg)?;
    let (_, mut model) = load_model(dir, &data.train.sample_shape)?;
    let test = &data.test;
    let mc = Inference::MonteCarlo { samples: args.mc };
    let checkpoints: Vec<u64> = [1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000]
        .into_iter()
        .filter(|&t| t < args.mc)
        .chain([args.mc])
        .collect();
    let det = predict(&mut model, &test.images, Inference::Deterministic)?;
    let (mcp, error_vs_passes) = predict_tracking_error(&mut model, &test.images, mc, &test.labels, &checkpoints)?;
    let fractions: Vec<f64> = (0..=10).map(|k| k as f64 * 0.05).collect();
    let rejection_deterministic = rejection_curve(&correct(&det, &test.labels), &det.predictive_entropy, &fractions);
    let rejection_mc = rejection_curve(&correct(&mcp, &test.labels), &mcp.predictive_entropy, &fractions);

    let n = args.ood_inputs.min(test.len());
    let (h, w) = (test.sample_shape[1], test.sample_shape[2]);
    let clean = &test.images[..n * h * w];
    let (clean_det, clean_mc) = (&det.predictive_entropy[..n], &mcp.predictive_entropy[..n]);
    let clean_mi = &mcp.mutual_information[..n];
    let mut ood_auroc = Vec::new();
    for shift in SHIFTS {
        let shifted = shift.apply(clean, h, w, cfg.seed);
        let sd = predict(&mut model, &shifted, Inference::Deterministic)?;
        let sm = predict(&mut model, &shifted, mc)?;
        ood_auroc.push(OodRow {
            shift: shift.name(),
            entropy_deterministic: auroc(clean_det, &sd.predictive_entropy),
            entropy_mc: auroc(clean_mc, &sm.predictive_entropy),
            mutual_information_mc: auroc(clean_mi, &sm.mutual_information),
        });
    }
    Ok(RunReport {
        run: dir.display().to_string(),
        model: model.spec(),
        passes: args.mc,
        deterministic: calibration(&det.mean, &test.labels, 15),
        mc: calibration(&mcp.mean, &test.labels, 15),
        rejection_deterministic,
        rejection_mc,
        ood_auroc,
        error_vs_passes,
    })
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

pub fn run(args: Args) -> Result<()> {
    if args.mc == 0 {
        bail!(dropkit::Error::InvalidArgument("--mc 0: use at least 1 pass, e.g. --mc 100".into()));
    }
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
        let stat = |f: &dyn Fn(&RunReport) -> f64| mean_sd(&reports.iter().map(f).collect::<Vec<_>>());
        lines.push(String::new());
        lines.push(format!("mean ± sd over {} runs:", reports.len()));
        for (label, det, mc) in [
            ("NLL", stat(&|r| r.deterministic.nll), stat(&|r| r.mc.nll)),
            ("ECE", stat(&|r| r.deterministic.ece), stat(&|r| r.mc.ece)),
            ("accuracy", stat(&|r| r.deterministic.accuracy), stat(&|r| r.mc.accuracy)),
        ] {
            lines.push(format!(
                "  {label:<9} deterministic {:.4} ± {:.4}   MC dropout {:.4} ± {:.4}",
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

fn draw(out: &Path, reports: &[RunReport]) -> Result<Vec<PathBuf>> {
    let r = &reports[0];
    let reliability =
        |c: &Calibration| c.bins.iter().filter(|b| b.count > 0).map(|b| (b.confidence, b.accuracy)).collect();
    let mut files = Vec::new();
    let stem = out.join("reliability");
    line_chart(
        &stem,
        &Chart { title: "Reliability diagram", x_label: "confidence", y_label: "accuracy" },
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
        &Chart { title: "Test error against Monte Carlo passes", x_label: "passes T", y_label: "test error" },
        &[
            Series::new("MC model averaging", r.error_vs_passes.iter().map(|&(t, e)| (t as f64, e)).collect()),
            Series::new("weight scaling (deterministic)", vec![(1.0, det_error), (t_max, det_error)]),
        ],
    )?;
    files.push(stem);
    Ok(files)
}
