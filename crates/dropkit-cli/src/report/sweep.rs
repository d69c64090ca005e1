//! A sweep's report: a table per setting (mean and spread over seeds), the best setting by
//! validation accuracy, the tutorials' plots, and `report.html` with every trial's command.

use super::html::{self, Section};
use super::plot::{line_chart, Chart, Series, XAxis};
use crate::cmd::train::train_command;
use anyhow::Result;
use dropkit::experiments::sweep::summary::{best, curves_over, groups, Group, Spread, Varying};
use dropkit::experiments::sweep::{FailedTrial, Settings, TrialRecord};
use std::path::{Path, PathBuf};

/// A figure to 4 places, or "n/a" when no trial has it.
fn figure(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

/// The per-setting table as text.
pub fn summary_table(groups: &[Group]) -> String {
    let width = groups.iter().map(|g| g.label.len()).max().unwrap_or(8).max(8);
    let mut s =
        format!("{:<width$}  seeds  test error (mean, min-max)   val accuracy   train-val gap   s/epoch\n", "setting");
    for g in groups {
        let (e, v, gap, t) = (g.test_error(), g.val_accuracy(), g.gap(), g.seconds_per_epoch());
        s.push_str(&format!(
            "{:<width$}  {:>5}  {:>6.2}% ({:.2}-{:.2}%)        {:>8}      {:>8}      {:>7.2}\n",
            g.label,
            g.trials.len(),
            100.0 * e.mean,
            100.0 * e.min,
            100.0 * e.max,
            figure(v.mean),
            figure(gap.mean),
            t.mean
        ));
    }
    s
}

fn pct(s: Spread) -> Spread {
    Spread { mean: 100.0 * s.mean, min: 100.0 * s.min, max: 100.0 * s.max }
}

/// `curves_over` as plot series: each point the mean with a min-max bar.
fn series_over(
    groups: &[Group],
    varying: &Varying,
    skip: &str,
    x_of: &dyn Fn(&Settings) -> Option<f64>,
    y_of: &dyn Fn(&Group) -> Spread,
) -> Vec<Series> {
    curves_over(groups, varying, skip, x_of, y_of)
        .into_iter()
        .map(|c| {
            let mut s = Series::new(c.label, c.points.iter().map(|&(x, y)| (x, y.mean)).collect());
            s.spread = c.points.iter().map(|&(_, y)| (y.min, y.max)).collect();
            s
        })
        .collect()
}

/// Draws the plots into `out`; returns the SVG paths.
pub fn draw(out: &Path, records: &[TrialRecord]) -> Result<Vec<PathBuf>> {
    let groups = groups(records);
    let varying = Varying::of(records);
    let mut svgs = Vec::new();
    let mut chart = |stem: &str, chart: Chart, series: Vec<Series>| -> Result<()> {
        if series.iter().any(|s| !s.points.is_empty()) {
            let files = line_chart(&out.join(stem), &chart, &series)?;
            svgs.push(files[0].clone());
        }
        Ok(())
    };
    let curves = groups.iter().map(|g| Series::new(g.label.clone(), g.val_curve())).collect();
    chart(
        "val_accuracy",
        Chart {
            title: "Validation accuracy per epoch (mean over seeds)",
            x_label: "epoch",
            y_label: "validation accuracy",
            x_axis: XAxis::Integer,
        },
        curves,
    )?;
    if varying.rate {
        let rate = |s: &Settings| s.rate_value();
        chart(
            "test_error_vs_rate",
            Chart {
                title: "Test error against dropout rate (mean, min-max over seeds)",
                x_label: "dropout rate p",
                y_label: "test error (%)",
                x_axis: XAxis::Linear,
            },
            series_over(&groups, &varying, "rate", &rate, &|g| pct(g.test_error())),
        )?;
        if groups.iter().all(|g| g.is_text()) {
            chart(
                "val_bits_vs_rate",
                Chart {
                    title: "Validation bits per character against dropout rate (mean, min-max over seeds)",
                    x_label: "dropout rate p",
                    y_label: "validation bits per character",
                    x_axis: XAxis::Linear,
                },
                series_over(&groups, &varying, "rate", &rate, &|g| g.val_bits()),
            )?;
        }
        chart(
            "gap_vs_rate",
            Chart {
                title: "Train minus validation accuracy against dropout rate",
                x_label: "dropout rate p",
                y_label: "train - validation accuracy (points)",
                x_axis: XAxis::Linear,
            },
            series_over(&groups, &varying, "rate", &rate, &|g| pct(g.gap())),
        )?;
    }
    if varying.batch {
        let batch = |s: &Settings| Some(s.batch_size as f64);
        chart(
            "accuracy_vs_batch_size",
            Chart {
                title: "Test accuracy against minibatch size",
                x_label: "minibatch size",
                y_label: "test accuracy (%)",
                x_axis: XAxis::Log2,
            },
            series_over(&groups, &varying, "batch", &batch, &|g| {
                let e = pct(g.test_error());
                Spread { mean: 100.0 - e.mean, min: 100.0 - e.max, max: 100.0 - e.min }
            }),
        )?;
        chart(
            "time_vs_batch_size",
            Chart {
                title: "Training time against minibatch size",
                x_label: "minibatch size",
                y_label: "seconds per epoch",
                x_axis: XAxis::Log2,
            },
            series_over(&groups, &varying, "batch", &batch, &|g| g.seconds_per_epoch()),
        )?;
    }
    Ok(svgs)
}

/// Writes the plots and `report.html` into `out`; returns the printed summary.
pub fn write(out: &Path, records: &[TrialRecord], failures: &[FailedTrial], title: &str) -> Result<String> {
    std::fs::create_dir_all(out)?;
    let svgs = draw(out, records)?;
    let groups = groups(records);
    let mut summary = summary_table(&groups);
    if let Some((b, criterion)) = best(&groups) {
        let e = b.test_error();
        summary.push_str(&format!(
            "\nbest setting ({}): {} - test error {:.2}% (min {:.2}%, {} seed{})\n",
            criterion.describe(),
            b.label,
            100.0 * e.mean,
            100.0 * e.min,
            b.trials.len(),
            if b.trials.len() == 1 { "" } else { "s" }
        ));
    }
    if groups.iter().all(|g| g.is_text()) {
        summary.push_str("\nvalidation bits per character (mean, min-max over seeds):\n");
        for g in &groups {
            let b = g.val_bits();
            summary.push_str(&format!("  {:<24} {:.4} ({:.4}-{:.4})\n", g.label, b.mean, b.min, b.max));
        }
    }
    if !failures.is_empty() {
        summary.push_str(&format!(
            "\n{} trial{} failed (recorded; rerun with --retry-failed to train again):\n",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" }
        ));
        for f in failures {
            summary.push_str(&format!("  {} seed {}: {}\n", f.settings.label(), f.settings.seed, f.failed));
        }
    }
    let setting_rows = groups
        .iter()
        .map(|g| {
            let (e, v, gap, t) = (g.test_error(), g.val_accuracy(), g.gap(), g.seconds_per_epoch());
            vec![
                g.label.clone(),
                g.trials.len().to_string(),
                format!("{:.2}%", 100.0 * e.mean),
                format!("{:.2}-{:.2}%", 100.0 * e.min, 100.0 * e.max),
                figure(v.mean),
                figure(gap.mean),
                format!("{:.2}", t.mean),
            ]
        })
        .collect();
    let header = ["setting", "seeds", "test error", "min-max", "val accuracy", "train-val gap", "s/epoch"];
    let trial_rows = records
        .iter()
        .map(|r| {
            vec![
                format!("{} seed {}", r.settings.label(), r.settings.seed),
                format!("{:.4}", r.metrics.test_accuracy),
                r.metrics.val_accuracy.map_or("n/a".into(), |v| format!("{v:.4}")),
                format!("{:.2}", r.metrics.seconds_per_epoch),
            ]
        })
        .collect();
    let commands = records
        .iter()
        .map(|r| {
            let command = train_command(&r.config).unwrap_or_else(|| "dropkit train --config (see config)".into());
            format!("{command} --out runs/{}", r.key)
        })
        .collect();
    let page = html::page(
        title,
        &[
            Section::Table(header.map(String::from).to_vec(), setting_rows),
            Section::Pre(summary.lines().skip_while(|l| !l.starts_with("best setting")).collect::<Vec<_>>().join("\n")),
            Section::Svgs(svgs),
            Section::Table(
                ["trial", "test accuracy", "val accuracy", "s/epoch"].map(String::from).to_vec(),
                trial_rows,
            ),
            Section::Commands("The command that reproduces each trial (in the order above):".into(), commands),
        ],
    )?;
    dropkit::fsio::write_atomic(&out.join("report.html"), page.as_bytes())?;
    Ok(summary)
}
