//! A sweep's results by setting: trials grouped by the axes that vary (seeds pooled), mean and
//! spread of each figure, the best setting and how it was chosen, and the figures against an
//! axis for plots.

use super::{Settings, TrialRecord};

/// The trials of one setting (all seeds).
pub struct Group<'a> {
    pub label: String,
    pub settings: &'a Settings,
    pub trials: Vec<&'a TrialRecord>,
}

/// Mean, min and max; all NaN when no trial has the figure (no validation split, say).
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

fn spread(values: impl Iterator<Item = f64>) -> Spread {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Spread { mean: f64::NAN, min: f64::NAN, max: f64::NAN };
    }
    let n = v.len() as f64;
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
    /// Validation loss in bits (per character, for text: nats over ln 2).
    pub fn val_bits(&self) -> Spread {
        spread(self.trials.iter().filter_map(|t| t.metrics.val_loss).map(|v| v / std::f64::consts::LN_2))
    }
    /// Whether every trial trained a character model on text.
    pub fn is_text(&self) -> bool {
        self.trials.iter().all(|t| t.config.data.as_ref().is_some_and(|d| d.format == "text"))
    }
    pub fn seconds_per_epoch(&self) -> Spread {
        spread(self.trials.iter().map(|t| t.metrics.seconds_per_epoch))
    }
    /// Mean validation accuracy at each epoch over the seeds.
    pub fn val_curve(&self) -> Vec<(f64, f64)> {
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
pub struct Varying {
    pub name: bool,
    pub rate: bool,
    pub variant: bool,
    pub regularizer: bool,
    pub batch: bool,
    pub lr: bool,
}

impl Varying {
    pub fn of(records: &[TrialRecord]) -> Self {
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
    pub fn label(&self, s: &Settings, skip: &str) -> String {
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

/// How the best setting was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    /// Mean validation accuracy: settings are chosen on validation data.
    ValAccuracy,
    /// Mean test accuracy, because no trial has a validation split: say so beside it.
    TestAccuracy,
}

impl Criterion {
    pub fn describe(self) -> &'static str {
        match self {
            Criterion::ValAccuracy => "by validation accuracy",
            Criterion::TestAccuracy => "by test accuracy: no trial has a validation split",
        }
    }
}

/// The setting with the best mean validation accuracy, or (when no trial of any setting has a
/// validation split) the best test accuracy, and which of the two chose it.
pub fn best<'a, 'b>(groups: &'b [Group<'a>]) -> Option<(&'b Group<'a>, Criterion)> {
    let with_val: Vec<_> = groups.iter().filter(|g| g.val_accuracy().mean.is_finite()).collect();
    if !with_val.is_empty() {
        let b = with_val.into_iter().max_by(|a, b| a.val_accuracy().mean.total_cmp(&b.val_accuracy().mean))?;
        return Some((b, Criterion::ValAccuracy));
    }
    let b = groups.iter().max_by(|a, b| b.test_error().mean.total_cmp(&a.test_error().mean))?;
    Some((b, Criterion::TestAccuracy))
}

/// A figure against one axis for the settings that share the other axes.
#[derive(Clone, Debug)]
pub struct Curve {
    pub label: String,
    /// (x, spread of y over seeds), sorted by x.
    pub points: Vec<(f64, Spread)>,
}

/// Curves over an axis (`x_of` gives the x value of a setting; `skip` names that axis, "rate"
/// or "batch"), one per setting of the other axes.
pub fn curves_over(
    groups: &[Group],
    varying: &Varying,
    skip: &str,
    x_of: &dyn Fn(&Settings) -> Option<f64>,
    y_of: &dyn Fn(&Group) -> Spread,
) -> Vec<Curve> {
    let mut curves: Vec<Curve> = Vec::new();
    for g in groups {
        let Some(x) = x_of(g.settings) else { continue };
        let label = varying.label(g.settings, skip);
        let point = (x, y_of(g));
        if !point.1.mean.is_finite() {
            continue; // no trial of this setting has the figure: no point, rather than a false one
        }
        match curves.iter_mut().find(|c| c.label == label) {
            Some(c) => c.points.push(point),
            None => curves.push(Curve { label, points: vec![point] }),
        }
    }
    for c in &mut curves {
        c.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    curves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::sweep::Grid;
    use crate::train::run::Metrics;
    use crate::train::{History, RunConfig};

    fn records(val: bool) -> Vec<TrialRecord> {
        let grid = Grid { rates: vec!["0.2".into(), "0.5".into()], seeds: vec![1, 2], ..Grid::default() };
        let base = RunConfig::new("dense(16, relu) dropout(0.5) dense(10)");
        grid.trials(&base)
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                // Rate 0.5 has the better validation accuracy, rate 0.2 the better test accuracy.
                let high = t.settings.rate.as_deref() == Some("0.5");
                let metrics = Metrics {
                    test_accuracy: if high { 0.90 } else { 0.95 } + i as f64 * 0.001,
                    test_loss: 0.3,
                    train_accuracy: 0.99,
                    train_loss: 0.1,
                    val_accuracy: val.then_some(if high { 0.97 } else { 0.93 }),
                    val_loss: None,
                    generalization_gap: None,
                    epochs: 1,
                    parameters: 0,
                    train_seconds: 1.0,
                    seconds_per_epoch: 1.0,
                    data: "embedded".into(),
                    stopped_early: false,
                    best_epoch: None,
                    model_sha256: None,
                    test_rmse: None,
                    train_rmse: None,
                    test_nll: None,
                };
                TrialRecord { key: t.key, settings: t.settings, config: t.config, history: History::default(), metrics }
            })
            .collect()
    }

    #[test]
    fn trials_group_by_setting_and_the_best_is_chosen_on_validation_data() {
        let recs = records(true);
        let g = groups(&recs);
        assert_eq!(
            g.iter().map(|g| (g.label.as_str(), g.trials.len())).collect::<Vec<_>>(),
            [("rate 0.2", 2), ("rate 0.5", 2)]
        );
        let (b, how) = best(&g).unwrap();
        assert_eq!((b.label.as_str(), how), ("rate 0.5", Criterion::ValAccuracy));
        let e = b.test_error();
        assert!((e.min - (1.0 - 0.903)).abs() < 1e-12 && e.max > e.min, "{e:?}");
    }

    #[test]
    fn without_validation_the_choice_says_it_used_the_test_set() {
        let recs = records(false);
        let g = groups(&recs);
        let (b, how) = best(&g).unwrap();
        assert_eq!((b.label.as_str(), how), ("rate 0.2", Criterion::TestAccuracy));
        assert!(how.describe().contains("no trial has a validation split"));
    }
}
