//! A sweep's report: a table per setting (mean and spread over seeds), the best setting by
//! validation accuracy, the tutorials' plots, and `report.html` with every trial's command.

use super::html::{self, Section};
use super::plot::{line_chart, Chart, Series};
use crate::cmd::train::train_command;
use anyhow::Result;
use dropkit::experiments::sweep::{Settings, TrialRecord};
use std::path::{Path, PathBuf};

/// The trials of one setting (all seeds).
pub struct Group<'a> {
    pub label: String,
    pub settings: &'a Settings,
    pub trials: Vec<&'a TrialRecord>,
}

/// Mean, min and max.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

fn spread(values: impl Iterator<Item = f64>) -> Spread {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    let n = v.len().max(1) as f64;
    Spread {
        mean: v.iter().sum::<f64>() / n,
        min: v.iter().cloned().fold(f64::INFINITY, f64::min),
        max: v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    }
}

impl Group<'_> {
    pub fn test_error(&self) -> Spread {
        spread(self.trials.iter().map(|t| 1.0 - t.metrics.test_accuracy))
    }
    pub fn val_accuracy(&self) -> Spread {
        spread(self.trials.iter().filter_map(|t| t.metrics.val_accuracy))
    }
    pub fn gap(&self) -> Spread {
        spread(self.trials.iter().filter_map(|t| t.metrics.generalization_gap))
    }
    fn seconds_per_epoch(&self) -> Spread {
        spread(self.trials.iter().map(|t| t.metrics.seconds_per_epoch))
    }
    /// Mean validation accuracy at each epoch over the seeds.
    fn val_curve(&self) -> Vec<(f64, f64)> {
        let epochs = self.trials.iter().map(|t| t.history.epochs.len()).min().unwrap_or(0);
        (0..epochs)
            .filter_map(|e| {
                let s = spread(self.trials.iter().filter_map(|t| t.history.epochs.get(e)?.val_accuracy));
                s.mean.is_finite().then_some(((e + 1) as f64, s.mean))
            })
            .collect()
    }
}

/// Which axes differ between the trials; labels name only those.
struct Varying {
    name: bool,
    rate: bool,
    variant: bool,
    regularizer: bool,
    batch: bool,
    lr: bool,
}

impl Varying {
    fn of(records: &[TrialRecord]) -> Self {
        let differs = |f: &dyn Fn(&Settings) -> String| {
            records.iter().map(|r| f(&r.settings)).collect::<std::collections::HashSet<_>>().len() > 1
        };
        Varying {
            name: differs(&|s| format!("{:?}", s.name)),
            rate: differs(&|s| format!("{:?}", s.rate)),
            variant: differs(&|s| format!("{:?}", s.variant)),
            regularizer: differs(&|s| format!("{:?}", s.regularizer)),
            batch: differs(&|s| s.batch_size.to_string()),
            lr: differs(&|s| s.lr.to_string()),
        }
    }

    /// The label of `s` naming the varying axes, leaving out `skip` ("rate" or "batch").
    fn label(&self, s: &Settings, skip: &str) -> String {
        let mut parts = Vec::new();
        if self.name {
            parts.push(s.name.clone().unwrap_or_default());
        }
        if self.rate && skip != "rate" {
            parts.push(format!("rate {}", s.rate.as_deref().unwrap_or("-")));
        }
        if self.variant {
            parts.push(s.variant.clone().unwrap_or_default());
        }
        if self.regularizer {
            parts.push(s.regularizer.map(|r| r.name().to_string()).unwrap_or_default());
        }
        if self.batch && skip != "batch" {
            parts.push(format!("batch {}", s.batch_size));
        }
        if self.lr {
            parts.push(format!("lr {}", s.lr));
        }
        if parts.is_empty() {
            "mean over seeds".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Groups records by setting, in order of first appearance.
pub fn groups(records: &[TrialRecord]) -> Vec<Group<'_>> {
    let varying = Varying::of(records);
    let mut out: Vec<Group> = Vec::new();
    for r in records {
        let label = varying.label(&r.settings, "");
        match out.iter_mut().find(|g| g.label == label) {
            Some(g) => g.trials.push(r),
            None => out.push(Group { label, settings: &r.settings, trials: vec![r] }),
        }
    }
    out
}

/// The setting with the best mean validation accuracy (test accuracy when there is no
/// validation split): settings are chosen on validation data, never on the test set.
pub fn best<'a, 'b>(groups: &'b [Group<'a>]) -> Option<&'b Group<'a>> {
    let score = |g: &Group| {
        let v = g.val_accuracy();
        if v.mean.is_finite() {
            v.mean
        } else {
            1.0 - g.test_error().mean
        }
    };
    groups.iter().max_by(|a, b| score(a).total_cmp(&score(b)))
}

/// The per-setting table as text.
pub fn summary_table(groups: &[Group]) -> String {
    let width = groups.iter().map(|g| g.label.len()).max().unwrap_or(8).max(8);
    let mut s =
        format!("{:<width$}  seeds  test error (mean, min-max)   val accuracy   train-val gap   s/epoch\n", "setting");
    for g in groups {
        let (e, v, gap, t) = (g.test_error(), g.val_accuracy(), g.gap(), g.seconds_per_epoch());
        s.push_str(&format!(
            "{:<width$}  {:>5}  {:>6.2}% ({:.2}-{:.2}%)        {:>8.4}      {:>8.4}      {:>7.2}\n",
            g.label,
            g.trials.len(),
            100.0 * e.mean,
            100.0 * e.min,
            100.0 * e.max,
            v.mean,
            gap.mean,
            t.mean
        ));
    }
    s
}

fn pct(s: Spread) -> Spread {
    Spread { mean: 100.0 * s.mean, min: 100.0 * s.min, max: 100.0 * s.max }
}

/// Series over an axis (`x_of` gives the x value of a setting), one per other setting, each
/// point the mean with a min-max bar.
fn series_over(
    groups: &[Group],
    varying: &Varying,
    skip: &str,
    x_of: &dyn Fn(&Settings) -> Option<f64>,
    y_of: &dyn Fn(&Group) -> Spread,
) -> Vec<Series> {
    let mut lines: Vec<Series> = Vec::new();
    for g in groups {
        let Some(x) = x_of(g.settings) else { continue };
        let label = varying.label(g.settings, skip);
        let i = match lines.iter().position(|l| l.label == label) {
            Some(i) => i,
            None => {
                lines.push(Series::new(label, Vec::new()));
                lines.len() - 1
            }
        };
        let y = y_of(g);
        lines[i].points.push((x, y.mean));
        lines[i].spread.push((y.min, y.max));
    }
    for line in &mut lines {
        let mut pairs: Vec<_> = line.points.iter().copied().zip(line.spread.iter().copied()).collect();
        pairs.sort_by(|a, b| a.0 .0.total_cmp(&b.0 .0));
        (line.points, line.spread) = pairs.into_iter().unzip();
    }
    lines
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
            },
            series_over(&groups, &varying, "rate", &rate, &|g| pct(g.test_error())),
        )?;
        chart(
            "gap_vs_rate",
            Chart {
                title: "Train minus validation accuracy against dropout rate",
                x_label: "dropout rate p",
                y_label: "train - validation accuracy (points)",
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
            },
            series_over(&groups, &varying, "batch", &batch, &|g| g.seconds_per_epoch()),
        )?;
    }
    Ok(svgs)
}

/// Writes the plots and `report.html` into `out`; returns the printed summary.
pub fn write(out: &Path, records: &[TrialRecord], title: &str) -> Result<String> {
    std::fs::create_dir_all(out)?;
    let svgs = draw(out, records)?;
    let groups = groups(records);
    let mut summary = summary_table(&groups);
    if let Some(b) = best(&groups) {
        let e = b.test_error();
        summary.push_str(&format!(
            "\nbest setting (by validation accuracy): {} - test error {:.2}% (min {:.2}%, {} seeds)\n",
            b.label,
            100.0 * e.mean,
            100.0 * e.min,
            b.trials.len()
        ));
    }
    let mut trials = String::from("test accuracy  val accuracy  s/epoch  setting / command\n");
    for r in records {
        let command = train_command(&r.config).unwrap_or_else(|| "dropkit train --config (see config)".into());
        trials.push_str(&format!(
            "{:>13.4}  {:>12}  {:>7.2}  {} seed {}\n    {command} --out runs/{}\n",
            r.metrics.test_accuracy,
            r.metrics.val_accuracy.map_or("-".into(), |v| format!("{v:.4}")),
            r.metrics.seconds_per_epoch,
            r.settings.label(),
            r.settings.seed,
            r.key
        ));
    }
    let page = html::page(
        title,
        &[
            Section::Pre(summary.clone()),
            Section::Svgs(svgs),
            Section::Pre(format!("Every trial, with the command that reproduces it:\n\n{trials}")),
        ],
    )?;
    dropkit::fsio::write_atomic(&out.join("report.html"), page.as_bytes())?;
    Ok(summary)
}
