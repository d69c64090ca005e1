//! Standardisation, `x' = (x - mean) / std` per input value (and per regression target),
//! with means and population deviations fitted on the training part only (as scikit-learn's
//! `StandardScaler`; a constant column keeps std 1). A run saves it as `standardization.json`;
//! `eval`, `predict` and `uncertainty` apply it to inputs and undo it on regression outputs.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::{Dataset, Targets};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file a run keeps it in.
pub const FILE: &str = "standardization.json";

/// Means and standard deviations of inputs (and regression targets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standardizer {
    pub input_mean: Vec<f32>,
    pub input_std: Vec<f32>,
    /// Empty for class targets.
    #[serde(default)]
    pub target_mean: Vec<f32>,
    #[serde(default)]
    pub target_std: Vec<f32>,
}

/// Column means and population deviations of `rows x d` values, in f64.
fn moments(values: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (values.len() / d.max(1)).max(1) as f64;
    let mut sum = vec![0f64; d];
    for row in values.chunks_exact(d.max(1)) {
        sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let mut sq = vec![0f64; d];
    for row in values.chunks_exact(d.max(1)) {
        sq.iter_mut().zip(row.iter().zip(&mean)).for_each(|(s, (&v, m))| *s += (v as f64 - m).powi(2));
    }
    let std = sq.iter().map(|s| (s / n).sqrt()).map(|s| if s > 1e-12 { s as f32 } else { 1.0 }).collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

fn scale(values: &mut [f32], mean: &[f32], std: &[f32]) {
    for row in values.chunks_exact_mut(mean.len().max(1)) {
        row.iter_mut().zip(mean.iter().zip(std)).for_each(|(v, (m, s))| *v = (*v - m) / s);
    }
}

impl Standardizer {
    /// Fits on `set` (the training part).
    pub fn fit(set: &Dataset) -> Self {
        let (input_mean, input_std) = moments(&set.images, set.sample_len());
        let (target_mean, target_std) = match &set.targets {
            Targets::Values { values, dim } => moments(values, *dim),
            Targets::Classes { .. } => (Vec::new(), Vec::new()),
        };
        Standardizer { input_mean, input_std, target_mean, target_std }
    }

    /// Standardises `x`, samples of `input_mean.len()` values.
    pub fn inputs(&self, x: &mut [f32]) -> Result<()> {
        let d = self.input_mean.len();
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(Error::InvalidArgument(format!(
                "{} input values are not whole samples of the {d} the standardization was fitted on",
                x.len()
            )));
        }
        scale(x, &self.input_mean, &self.input_std);
        Ok(())
    }

    /// Standardises a data set's inputs and (regression) targets.
    pub fn apply(&self, set: &mut Dataset) -> Result<()> {
        self.inputs(&mut set.images)?;
        if let Targets::Values { values, dim } = &mut set.targets {
            if !self.target_mean.is_empty() {
                if *dim != self.target_mean.len() {
                    return Err(Error::InvalidArgument(format!(
                        "{dim} target values per sample, but the standardization has {}",
                        self.target_mean.len()
                    )));
                }
                scale(values, &self.target_mean, &self.target_std);
            }
        }
        Ok(())
    }

    /// Takes standardised regression outputs `y` (rows of the target's dimension) back to the
    /// target's own units.
    pub fn undo_targets(&self, y: &mut [f32]) {
        let d = self.target_mean.len();
        if d == 0 {
            return;
        }
        for row in y.chunks_exact_mut(d) {
            row.iter_mut().zip(self.target_mean.iter().zip(&self.target_std)).for_each(|(v, (m, s))| *v = *v * s + m);
        }
    }

    /// The target deviations (1 when targets are not standardised): scales variances back.
    pub fn target_scale(&self, dim: usize) -> Vec<f32> {
        if self.target_std.len() == dim {
            self.target_std.clone()
        } else {
            vec![1.0; dim]
        }
    }

    /// Writes it into a run directory.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        crate::fsio::write_atomic(&dir.join(FILE), text.as_bytes())
    }

    /// The standardization a run saved, if it has one.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let s: Standardizer = serde_json::from_str(&text).map_err(|e| {
            Error::format(path.display(), format!("not a standardization record ({e}); train the run again"))
        })?;
        if s.input_mean.len() != s.input_std.len()
            || s.target_mean.len() != s.target_std.len()
            || s.input_std.iter().chain(&s.target_std).any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(Error::format(path.display(), "means and deviations do not match or are not positive"));
        }
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_on_the_training_part_and_round_trips_targets() {
        let set = Dataset::regression(vec![1.0, 10.0, 3.0, 10.0], vec![2], vec![2.0, 4.0], 1);
        let s = Standardizer::fit(&set);
        assert_eq!(s.input_mean, vec![2.0, 10.0]);
        assert_eq!(s.input_std, vec![1.0, 1.0]); // the constant column keeps std 1
        assert_eq!((s.target_mean.clone(), s.target_std.clone()), (vec![3.0], vec![1.0]));
        let mut t = set.clone();
        s.apply(&mut t).unwrap();
        assert_eq!(t.images, vec![-1.0, 0.0, 1.0, 0.0]);
        let Targets::Values { mut values, .. } = t.targets else { unreachable!() };
        s.undo_targets(&mut values);
        assert_eq!(values, vec![2.0, 4.0]);
    }
}
