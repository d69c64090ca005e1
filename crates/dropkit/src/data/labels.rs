//! Targets from what a file holds: text or numbers in a CSV column, integers or reals in a
//! NumPy array. Decides the task (classification or regression) when the user did not, and
//! maps labels of new inputs to the classes a run was trained on.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::Targets;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a model learns from the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// One class per sample: cross-entropy, accuracy.
    Classification,
    /// Real values per sample: mean squared error, RMSE and log-likelihood.
    Regression,
}

impl std::str::FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "classification" => Ok(Task::Classification),
            "regression" => Ok(Task::Regression),
            other => Err(Error::InvalidArgument(format!("task '{other}': use classification or regression"))),
        }
    }
}

/// The target cells of a table, `dim` per sample, with where each row came from (for errors).
pub struct Cells<'a> {
    pub cells: &'a [String],
    pub dim: usize,
    /// Names the file in errors.
    pub origin: &'a str,
    /// The 1-based line of sample `i` is `first_line + i`.
    pub first_line: usize,
}

/// The task the cells call for: classification when the labels are text, or whole numbers
/// that repeat (at most a fifth of the rows, or two, distinct values) in one column;
/// otherwise regression.
pub fn infer_task(cells: &Cells) -> Task {
    if cells.dim != 1 {
        return Task::Regression;
    }
    let numbers: Option<Vec<f64>> = cells.cells.iter().map(|c| number(c)).collect();
    match numbers {
        None => Task::Classification,
        Some(v) if v.iter().all(|x| x.fract() == 0.0) => {
            let distinct: BTreeSet<i64> = v.iter().map(|&x| x as i64).collect();
            if distinct.len() <= (v.len() / 5).max(2) {
                Task::Classification
            } else {
                Task::Regression
            }
        }
        Some(_) => Task::Regression,
    }
}

/// A finite number in `cell`, if it holds one.
pub fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The class name of a label cell: trimmed, and whole numbers written one way ("1.0" is "1").
fn class_name(cell: &str) -> String {
    match number(cell) {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => cell.trim().to_string(),
    }
}

/// Targets of `task` from the cells. For classification, `known` (the training classes of a
/// run) maps labels to ids; without it, the classes are the distinct labels, sorted
/// numerically when they are all numbers and alphabetically otherwise.
pub fn from_cells(cells: &Cells, task: Task, known: Option<&[String]>) -> Result<Targets> {
    let at = |i: usize| format!("{}: line {}", cells.origin, cells.first_line + i / cells.dim.max(1));
    match task {
        Task::Regression => {
            let mut values = Vec::with_capacity(cells.cells.len());
            for (i, c) in cells.cells.iter().enumerate() {
                let v = number(c).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{}: target '{c}' is not a finite number; a regression target must be one (or pass --task classification)",
                        at(i)
                    ))
                })?;
                values.push(v as f32);
            }
            Ok(Targets::Values { values, dim: cells.dim })
        }
        Task::Classification => {
            if cells.dim != 1 {
                return Err(Error::InvalidArgument(format!(
                    "{}: {} target columns; classification takes one (several columns are a regression target)",
                    cells.origin, cells.dim
                )));
            }
            let labels: Vec<String> = cells.cells.iter().map(|c| class_name(c)).collect();
            let names: Vec<String> = match known {
                Some(k) => k.to_vec(),
                None => sorted_classes(&labels),
            };
            let index: std::collections::HashMap<&str, u32> =
                names.iter().enumerate().map(|(j, n)| (n.as_str(), j as u32)).collect();
            let mut ids = Vec::with_capacity(labels.len());
            for (i, l) in labels.iter().enumerate() {
                let id = *index.get(l.as_str()).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{}: label '{l}' is not one of the run's {} training classes ({}); predict inputs of those classes, or leave the label column out",
                        at(i),
                        names.len(),
                        preview(&names)
                    ))
                })?;
                ids.push(id);
            }
            Ok(Targets::Classes { ids, classes: names.len(), names: Some(names), positions: 1 })
        }
    }
}

/// Class ids given as integers (a NumPy label array): used as they are, `0..=max` classes.
/// `known` is the class count of a trained run.
pub fn from_ids(values: &[f64], origin: &str, known: Option<usize>) -> Result<Targets> {
    let mut ids = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        if v.fract() != 0.0 || !(0.0..=u32::MAX as f64 / 2.0).contains(&v) {
            return Err(Error::InvalidArgument(format!(
                "{origin}: label {v} of sample {i} is not a class id (a whole number >= 0); class labels are 0, 1, 2, ..."
            )));
        }
        ids.push(v as u32);
    }
    let classes = ids.iter().max().map_or(0, |&m| m as usize + 1);
    if let Some(k) = known {
        if let Some((i, &bad)) = ids.iter().enumerate().find(|(_, &l)| l as usize >= k) {
            return Err(Error::InvalidArgument(format!(
                "{origin}: label {bad} of sample {i} is not one of the run's {k} training classes (0 to {})",
                k.saturating_sub(1)
            )));
        }
    }
    Ok(Targets::Classes { ids, classes: known.unwrap_or(classes), names: None, positions: 1 })
}

/// Numbers before text; numbers by value, text alphabetically.
fn compare_classes(a: &str, b: &str) -> std::cmp::Ordering {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

fn sorted_classes(labels: &[String]) -> Vec<String> {
    let mut names: Vec<String> = labels.iter().collect::<BTreeSet<_>>().into_iter().cloned().collect();
    names.sort_by(|a, b| compare_classes(a, b));
    names
}

/// The first few names, for messages.
fn preview(names: &[String]) -> String {
    let head: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    if names.len() > 8 {
        format!("{}, ...", head.join(", "))
    } else {
        head.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_task_follows_from_the_labels() {
        let c = |v: &[&str]| infer_task(&Cells { cells: &cells(v), dim: 1, origin: "t", first_line: 2 });
        assert_eq!(c(&["cat", "dog", "cat"]), Task::Classification);
        assert_eq!(c(&["0", "1", "1", "0", "1", "0"]), Task::Classification);
        assert_eq!(c(&["0.5", "1", "2"]), Task::Regression);
        let many: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(c(&many), Task::Regression);
    }

    #[test]
    fn classes_are_sorted_and_unknown_labels_are_named() {
        let v = cells(&["10", "2", "2.0", "10"]);
        let t =
            from_cells(&Cells { cells: &v, dim: 1, origin: "t", first_line: 2 }, Task::Classification, None).unwrap();
        assert_eq!(
            t,
            Targets::Classes { ids: vec![1, 0, 0, 1], classes: 2, names: Some(cells(&["2", "10"])), positions: 1 }
        );
        let known = cells(&["cat", "dog"]);
        let v = cells(&["dog", "bird"]);
        let e = from_cells(
            &Cells { cells: &v, dim: 1, origin: "new.csv", first_line: 2 },
            Task::Classification,
            Some(&known),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("new.csv: line 3: label 'bird' is not one of the run's 2 training classes (cat, dog)"),
            "{e}"
        );
    }
}
