//! CSV tables (RFC 4180, read with the `csv` crate): a header row, then one sample per line.
//! The target is one or more named columns (default: the last); every other column is a
//! numeric feature. Cells are checked as they are read: a ragged row, a cell that is not a
//! number, NaN or infinity is an error naming the file, line and column.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::labels::{self, Cells, Task};
use super::Targets;
use crate::error::{Error, Result};

/// How to read a table.
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// Target columns; empty means the last column.
    pub target: Vec<String>,
    /// The task, when not inferred from the target column.
    pub task: Option<Task>,
    /// The feature columns a trained run expects (new inputs): those are read, by name, and the
    /// target columns are optional.
    pub features: Option<Vec<String>>,
    /// The classes of a trained run: labels of new inputs map to them.
    pub classes: Option<Vec<String>>,
}

/// A table read into model inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// `rows x features.len()` values, row-major.
    pub x: Vec<f32>,
    pub rows: usize,
    pub features: Vec<String>,
    pub target_columns: Vec<String>,
    /// `None` when the table has no target columns (new inputs without labels).
    pub targets: Option<Targets>,
}

/// Reads the CSV file at `path`.
pub fn read_csv(path: &std::path::Path, options: &CsvOptions) -> Result<Table> {
    let bytes = crate::fsio::read(path)?;
    parse_csv(&bytes, &path.display().to_string(), options)
}

/// Parses CSV bytes; `origin` names them in errors.
pub fn parse_csv(bytes: &[u8], origin: &str, options: &CsvOptions) -> Result<Table> {
    let fail = |msg: String| Error::format(origin, msg);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let header: Vec<String> =
        reader.headers().map_err(|e| fail(csv_error(&e)))?.iter().map(|h| h.trim().to_string()).collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(fail("empty file: a CSV table starts with a header row naming its columns".into()));
    }
    let column = |name: &str| header.iter().position(|h| h == name);
    let target_names: Vec<String> = if options.target.is_empty() {
        match &options.features {
            // New inputs: the last column is the target only if it is not a feature.
            Some(f) => header.last().filter(|h| !f.contains(h)).cloned().into_iter().collect(),
            None => header.last().cloned().into_iter().collect(),
        }
    } else {
        options.target.clone()
    };
    let mut targets_at = Vec::new();
    for name in &target_names {
        match column(name) {
            Some(i) => targets_at.push(i),
            // New inputs may come without their labels.
            None if options.features.is_some() => {}
            None => {
                return Err(fail(format!(
                    "no column '{name}' for the target; the columns are {}; pass --target with one of them",
                    header.join(", ")
                )))
            }
        }
    }
    if !targets_at.is_empty() && targets_at.len() != target_names.len() {
        return Err(fail(format!(
            "has only some of the target columns {}; give all of them or none",
            target_names.join(", ")
        )));
    }
    let features: Vec<String> = match &options.features {
        Some(f) => f.clone(),
        None => header.iter().enumerate().filter(|(i, _)| !targets_at.contains(i)).map(|(_, h)| h.clone()).collect(),
    };
    let mut features_at = Vec::with_capacity(features.len());
    for name in &features {
        features_at.push(column(name).ok_or_else(|| {
            fail(format!("no column '{name}', which the run was trained on; the columns are {}", header.join(", ")))
        })?);
    }
    if features_at.is_empty() {
        return Err(fail(format!(
            "no feature columns: the only column{} {} the target",
            if header.len() == 1 { " is" } else { "s are" },
            target_names.join(", ")
        )));
    }
    let mut x = Vec::new();
    let mut cells = Vec::new();
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(fail(csv_error(&e))),
        }
        let line = record.position().map_or(rows + 2, |p| p.line() as usize);
        for (&at, name) in features_at.iter().zip(&features) {
            let cell = record.get(at).unwrap_or_default();
            x.push(feature(cell).map_err(|why| fail(format!("line {line}, column '{name}': {why}")))? as f32);
        }
        cells.extend(targets_at.iter().map(|&at| record.get(at).unwrap_or_default().to_string()));
        rows += 1;
    }
    if rows == 0 {
        return Err(fail("has a header but no rows; add one sample per line".into()));
    }
    let targets = if targets_at.is_empty() {
        None
    } else {
        let c = Cells { cells: &cells, dim: targets_at.len(), origin, first_line: 2 };
        let task = match (options.task, &options.classes) {
            (Some(t), _) => t,
            (None, Some(_)) => Task::Classification,
            (None, None) => labels::infer_task(&c),
        };
        Some(labels::from_cells(&c, task, options.classes.as_deref())?)
    };
    let target_columns = if targets_at.is_empty() { Vec::new() } else { target_names };
    Ok(Table { x, rows, features, target_columns, targets })
}

/// A feature cell as a finite number, or why it is not one.
fn feature(cell: &str) -> std::result::Result<f64, String> {
    let t = cell.trim();
    if t.is_empty() {
        return Err("the cell is empty; fill in the missing value or drop the row".into());
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("'{t}' ({v}) is not finite; fill in the missing value or drop the row")),
        Err(_) => Err(format!(
            "'{t}' is not a number; features must be numeric (encode a category as numbers, or drop the column)"
        )),
    }
}

/// A `csv` error as a sentence with its line.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => format!(
            "line {}: {len} fields where the header has {expected_len}; every row needs one value per column",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => {
            format!("line {}: not UTF-8 text; save the table as UTF-8 CSV", pos.as_ref().map_or(0, |p| p.line()))
        }
        _ => format!("not a readable CSV table ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, o: &CsvOptions) -> Result<Table> {
        parse_csv(text.as_bytes(), "t.csv", o)
    }

    #[test]
    fn reads_features_and_the_last_column_as_target() {
        let t = parse("a,b,label\n1,2,cat\n3,4.5,dog\n", &CsvOptions::default()).unwrap();
        assert_eq!(t.x, vec![1.0, 2.0, 3.0, 4.5]);
        assert_eq!(t.features, vec!["a", "b"]);
        let names = Some(vec!["cat".to_string(), "dog".to_string()]);
        assert_eq!(t.targets, Some(Targets::Classes { ids: vec![0, 1], classes: 2, names, positions: 1 }));
        let o = CsvOptions { target: vec!["a".into(), "b".into()], ..Default::default() };
        let t = parse("a,b,c\n1,2,3\n4,5,6\n", &o).unwrap();
        assert_eq!(t.targets, Some(Targets::Values { values: vec![1.0, 2.0, 4.0, 5.0], dim: 2 }));
        assert_eq!(t.x, vec![3.0, 6.0]);
    }

    #[test]
    fn bad_cells_name_their_line_and_column() {
        let e = |text: &str| parse(text, &CsvOptions::default()).unwrap_err().to_string();
        assert!(
            e("a,b\n1,2\n3\n").contains("t.csv: line 3: 1 fields where the header has 2"),
            "{}",
            e("a,b\n1,2\n3\n")
        );
        assert!(e("a,b\n1,2\nx,2\n").contains("line 3, column 'a': 'x' is not a number"));
        assert!(e("a,b\nnan,2\n").contains("line 2, column 'a': 'nan' (NaN) is not finite"));
        assert!(e("a,b\n,2\n").contains("line 2, column 'a': the cell is empty"));
        assert!(e("").contains("empty file"));
        assert!(e("a,b\n").contains("no rows"));
        let o = CsvOptions { target: vec!["price".into()], ..Default::default() };
        let e = parse("a,b\n1,2\n", &o).unwrap_err().to_string();
        assert!(e.contains("no column 'price' for the target; the columns are a, b"), "{e}");
    }
}
