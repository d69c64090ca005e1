//! Data sets: IDX files, MNIST (from a data directory, the embedded subset, or a download),
//! a user's own CSV tables, NumPy arrays and image folders, test and validation splits,
//! standardisation and seeded per-epoch shuffling.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod augment;
pub mod batches;
pub mod cifar;
pub mod csv_table;
pub mod fetch;
pub mod idx;
pub mod image_folder;
pub mod input;
pub mod labels;
pub mod mnist;
pub mod numpy;
pub mod standardize;
pub mod text;

pub use mnist::load_mnist;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What each sample of a data set is labelled with.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// `positions` class ids per sample (1, or one per position of a sequence: next-character
    /// targets), in `0..classes` (any number of classes), with optional names.
    Classes { ids: Vec<u32>, classes: usize, names: Option<Vec<String>>, positions: usize },
    /// A real-valued vector of `dim` values per sample, row-major (regression).
    Values { values: Vec<f32>, dim: usize },
}

/// Samples and their targets: `images` holds `len()` samples of `sample_shape`, row-major
/// (pixels in [0, 1] for image data, any values otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Vec<f32>,
    /// Per-sample shape, e.g. [1, 28, 28].
    pub sample_shape: Vec<usize>,
    pub targets: Targets,
}

impl Dataset {
    /// A classification set: `labels` in `0..classes`, no class names.
    pub fn classified(images: Vec<f32>, sample_shape: Vec<usize>, labels: Vec<u32>, classes: usize) -> Self {
        Dataset { images, sample_shape, targets: Targets::Classes { ids: labels, classes, names: None, positions: 1 } }
    }

    /// A regression set: `dim` target values per sample.
    pub fn regression(images: Vec<f32>, sample_shape: Vec<usize>, values: Vec<f32>, dim: usize) -> Self {
        Dataset { images, sample_shape, targets: Targets::Values { values, dim } }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match &self.targets {
            Targets::Classes { ids, positions, .. } => ids.len() / (*positions).max(1),
            Targets::Values { values, dim } => values.len() / (*dim).max(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// The class ids (empty for regression targets).
    pub fn labels(&self) -> &[u32] {
        match &self.targets {
            Targets::Classes { ids, .. } => ids,
            Targets::Values { .. } => &[],
        }
    }

    /// The number of classes (0 for regression targets).
    pub fn classes(&self) -> usize {
        match &self.targets {
            Targets::Classes { classes, .. } => *classes,
            Targets::Values { .. } => 0,
        }
    }

    /// The class names, when the data has them.
    pub fn class_names(&self) -> Option<&[String]> {
        match &self.targets {
            Targets::Classes { names, .. } => names.as_deref(),
            Targets::Values { .. } => None,
        }
    }

    /// What a model for this data outputs per sample: a logit per class, or the target vector.
    pub fn outputs(&self) -> usize {
        match &self.targets {
            Targets::Classes { classes, positions, .. } => classes * positions,
            Targets::Values { dim, .. } => *dim,
        }
    }

    /// Targets per sample: 1, or one per position of a sequence.
    pub fn positions(&self) -> usize {
        match &self.targets {
            Targets::Classes { positions, .. } => *positions,
            Targets::Values { .. } => 1,
        }
    }

    /// Samples `range` as a new data set; the range is clamped to the data, as Python slices are.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Dataset {
        let d = self.sample_len();
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        let targets = match &self.targets {
            Targets::Classes { ids, classes, names, positions } => Targets::Classes {
                ids: ids.get(start * positions..end * positions).unwrap_or_default().to_vec(),
                classes: *classes,
                names: names.clone(),
                positions: *positions,
            },
            Targets::Values { values, dim } => {
                Targets::Values { values: values.get(start * dim..end * dim).unwrap_or_default().to_vec(), dim: *dim }
            }
        };
        Dataset {
            images: self.images.get(start * d..end * d).unwrap_or_default().to_vec(),
            sample_shape: self.sample_shape.clone(),
            targets,
        }
    }

    /// The samples `rows` (each in `0..len()`), in that order, as a new data set.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let d = self.sample_len();
        let mut images = Vec::with_capacity(rows.len() * d);
        for &i in rows {
            images.extend_from_slice(self.images.get(i * d..(i + 1) * d).unwrap_or_default());
        }
        let targets = match &self.targets {
            Targets::Classes { ids, classes, names, positions } => Targets::Classes {
                ids: rows
                    .iter()
                    .flat_map(|&i| ids.get(i * positions..(i + 1) * positions).unwrap_or_default())
                    .copied()
                    .collect(),
                classes: *classes,
                names: names.clone(),
                positions: *positions,
            },
            Targets::Values { values, dim } => {
                let mut v = Vec::with_capacity(rows.len() * dim);
                for &i in rows {
                    v.extend_from_slice(values.get(i * dim..(i + 1) * dim).unwrap_or_default());
                }
                Targets::Values { values: v, dim: *dim }
            }
        };
        Dataset { images, sample_shape: self.sample_shape.clone(), targets }
    }

    /// Checks that the fields agree: `images` holds `len()` samples, every label is a class,
    /// every target value is finite.
    pub fn validate(&self) -> Result<()> {
        let d = self.sample_len();
        let n = self.len();
        if d == 0 || Some(self.images.len()) != n.checked_mul(d) {
            return Err(Error::InvalidArgument(format!(
                "data set of {n} targets has {} input values, not {n} x {:?}; inputs and targets must match",
                self.images.len(),
                self.sample_shape
            )));
        }
        match &self.targets {
            Targets::Classes { ids, classes, names, positions } => {
                if *positions == 0 || ids.len() % positions != 0 {
                    return Err(Error::InvalidArgument(format!(
                        "{} class ids do not make whole sequences of {positions}",
                        ids.len()
                    )));
                }
                if let Some(&bad) = ids.iter().find(|&&l| l as usize >= *classes) {
                    return Err(Error::InvalidArgument(format!(
                        "label {bad} is not one of the data set's {classes} classes"
                    )));
                }
                if let Some(names) = names.as_ref().filter(|n| n.len() != *classes) {
                    return Err(Error::InvalidArgument(format!(
                        "{} class names for {classes} classes; give one name per class",
                        names.len()
                    )));
                }
            }
            Targets::Values { values, dim } => {
                if *dim == 0 || values.len() % dim != 0 {
                    return Err(Error::InvalidArgument(format!(
                        "{} target values do not make whole vectors of {dim}",
                        values.len()
                    )));
                }
                if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(Error::InvalidArgument(format!(
                        "target value {v} of sample {} is not finite; remove or fill it",
                        i / dim
                    )));
                }
            }
        }
        Ok(())
    }

    /// Splits off the last `fraction` as a validation set, as Keras' `validation_split` does
    /// (before any shuffling).
    pub fn split_last(&self, fraction: f64) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::InvalidArgument(format!(
                "validation split {fraction}: must be in [0, 1), e.g. 0.2 keeps the last 20% for validation"
            )));
        }
        let n_val = (self.len() as f64 * fraction).round() as usize;
        let n_fit = self.len() - n_val;
        if n_fit == 0 {
            return Err(Error::InvalidArgument(format!(
                "validation split {fraction} leaves no training samples out of {}",
                self.len()
            )));
        }
        Ok((self.slice(0..n_fit), self.slice(n_fit..self.len())))
    }
}

/// `a` followed by `b` (samples of one shape and one kind of target).
pub fn concat(a: &Dataset, b: &Dataset) -> Result<Dataset> {
    let targets = match (&a.targets, &b.targets) {
        (Targets::Values { values: x, dim }, Targets::Values { values: y, dim: d2 }) if dim == d2 => {
            Targets::Values { values: [x.as_slice(), y.as_slice()].concat(), dim: *dim }
        }
        (
            Targets::Classes { ids: x, classes, names, positions },
            Targets::Classes { ids: y, classes: c2, positions: p2, .. },
        ) if positions == p2 => Targets::Classes {
            ids: [x.as_slice(), y.as_slice()].concat(),
            classes: (*classes).max(*c2),
            names: names.clone(),
            positions: *positions,
        },
        _ => return Err(Error::InvalidArgument("the two parts have different kinds of targets".into())),
    };
    if a.sample_shape != b.sample_shape {
        return Err(Error::InvalidArgument(format!(
            "the two parts have samples of {:?} and {:?}",
            a.sample_shape, b.sample_shape
        )));
    }
    Ok(Dataset {
        images: [a.images.as_slice(), b.images.as_slice()].concat(),
        sample_shape: a.sample_shape.clone(),
        targets,
    })
}

/// A training and a test set, and where they came from.
#[derive(Clone, Debug)]
pub struct TrainTest {
    pub train: Dataset,
    pub test: Dataset,
    pub source: DataRecord,
    /// The rows of the file held out as the test set, when it had no test part (ascending;
    /// empty otherwise). A run writes them to `split.json`.
    pub test_rows: Vec<usize>,
}

/// Where a run's data came from, recorded in its config so that `eval`, `predict`,
/// `uncertainty` and `--resume` read the same data without being told again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRecord {
    /// The reader: `idx`, `cifar-10`, `csv`, `npz` or `image-folder`.
    pub format: String,
    /// The data directory, file or image folder (absolute), or `embedded`.
    pub location: String,
    /// SHA-256 of the decoded arrays: it changes when the data at the location does.
    pub fingerprint: String,
    /// A table's feature columns, in the order the model reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// A table's target columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The class names of the training part, when it has named classes: new inputs' labels
    /// map to them, and predictions name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// The shape of one sample, e.g. [30] for a table of 30 features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_shape: Vec<usize>,
    /// Classification or regression (absent: classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<labels::Task>,
}

impl DataRecord {
    /// The record of data read from `source` in `format`.
    pub fn new(source: &DataSource, format: &str, fingerprint: String) -> Self {
        let location = match source {
            DataSource::Embedded => EMBEDDED.to_string(),
            DataSource::Dir(d) => std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()).display().to_string(),
        };
        DataRecord {
            format: format.into(),
            location,
            fingerprint,
            features: Vec::new(),
            targets: Vec::new(),
            classes: Vec::new(),
            sample_shape: Vec::new(),
            task: None,
        }
    }

    /// The source to read again.
    pub fn source(&self) -> DataSource {
        if self.location == EMBEDDED {
            DataSource::Embedded
        } else {
            DataSource::Dir(PathBuf::from(&self.location))
        }
    }
}

impl std::fmt::Display for DataRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location)
    }
}

/// The location of the subset compiled into dropkit.
const EMBEDDED: &str = "embedded";

/// Where data comes from, after applying the data-directory rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// A directory holding `mnist/...` files.
    Dir(PathBuf),
    /// The subset compiled into dropkit (`data/mnist-mini`).
    Embedded,
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Dir(d) => write!(f, "{}", d.display()),
            DataSource::Embedded => write!(f, "embedded"),
        }
    }
}

/// Data for a run: from `flag` when given, else from where the run recorded it (`recorded`),
/// else by the data-directory rules. The note says what a user should know: that the embedded
/// subset is used, or that the data at the recorded location changed since.
/// `context` is the sequence length of text data.
pub fn load_for_run(
    flag: Option<&Path>,
    dataset: &str,
    recorded: Option<&DataRecord>,
    context: usize,
) -> Result<(TrainTest, Option<String>)> {
    if dataset == text::EMBEDDED_NAME {
        let data = text::load(text::EMBEDDED_TEXT, &DataSource::Embedded, context, text::DEFAULT_TEST_SPLIT)?;
        return Ok((data, None));
    }
    let source = match (flag, recorded) {
        (None, Some(rec)) => {
            let source = rec.source();
            if let DataSource::Dir(dir) = &source {
                if !dir.is_dir() {
                    return Err(Error::DataNotFound(format!(
                        "the run's data directory {} no longer exists; pass --data DIR with the same data",
                        dir.display()
                    )));
                }
            }
            source
        }
        _ => resolve_source(flag, dataset)?,
    };
    if source == DataSource::Embedded && dataset != "mnist" {
        return Err(Error::DataNotFound(format!(
            "no {dataset} data found (--data, DROPKIT_DATA, ~/.cache/dropkit) and only MNIST is embedded; run `dropkit data fetch {dataset}` or pass --data DIR"
        )));
    }
    let data = match (&source, dataset) {
        (DataSource::Dir(root), "cifar-10") => cifar::load_cifar10(root)?,
        _ => load_mnist(&source, dataset)?,
    };
    let note = changed_note(recorded, &data.source).or_else(|| {
        source_is_embedded(&data.source).then(|| format!(
            "note: no {dataset} data directory found (--data, DROPKIT_DATA, ~/.cache/dropkit); using the embedded MNIST subset (10,000 training, 2,000 test images)"
        ))
    });
    Ok((data, note))
}

/// A note when the data read now differs from the data a run recorded.
pub fn changed_note(recorded: Option<&DataRecord>, now: &DataRecord) -> Option<String> {
    recorded.filter(|rec| rec.fingerprint != now.fingerprint).map(|rec| {
        format!(
            "note: the data at {} differs from the data this run was trained on (fingerprint {} then, {} now)",
            now,
            rec.fingerprint.get(..12).unwrap_or_default(),
            now.fingerprint.get(..12).unwrap_or_default()
        )
    })
}

/// The data sets read by name from a data directory.
pub const DATASETS: &[&str] = &["mnist", "fashion-mnist", "cifar-10", text::EMBEDDED_NAME];

/// Whether `dir` is a data directory (holding `mnist/` or another named set), rather than a
/// user's file or image folder.
pub fn is_data_root(dir: &Path) -> bool {
    dir.is_dir() && DATASETS.iter().any(|d| dir.join(d).is_dir())
}

fn source_is_embedded(rec: &DataRecord) -> bool {
    rec.source() == DataSource::Embedded
}

/// The default cache directory: `$XDG_CACHE_HOME/dropkit` or `~/.cache/dropkit`.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => Some(PathBuf::from(x).join("dropkit")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("dropkit")),
    }
}

/// The directory data would be fetched into: `flag` > env `DROPKIT_DATA` > the cache
/// directory. Unlike [`resolve_source`] it need not exist yet.
pub fn data_root(flag: Option<&Path>) -> Result<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("DROPKIT_DATA").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(cache_dir)
        .ok_or_else(|| Error::DataNotFound("no data directory: pass --data DIR or set DROPKIT_DATA".into()))
}

/// Applies the data-directory rules for data set `name` (e.g. "mnist"):
/// `flag` > env `DROPKIT_DATA` > the cache directory > the embedded subset. A directory given
/// explicitly (flag or env) must exist; the cache is used only if it holds the data set.
pub fn resolve_source(flag: Option<&Path>, name: &str) -> Result<DataSource> {
    let explicit = flag.map(|p| (p.to_path_buf(), "--data")).or_else(|| {
        std::env::var_os("DROPKIT_DATA").filter(|v| !v.is_empty()).map(|v| (PathBuf::from(v), "DROPKIT_DATA"))
    });
    if let Some((dir, how)) = explicit {
        if !dir.is_dir() {
            return Err(Error::DataNotFound(format!(
                "data directory {} (from {how}) does not exist; create it and run `dropkit data fetch {name} --data {}`, or point {how} at a directory holding {name}/",
                dir.display(),
                dir.display()
            )));
        }
        return Ok(DataSource::Dir(dir));
    }
    match cache_dir() {
        Some(dir) if mnist::has_files(&dir.join(name)) || cifar::has_files(&dir.join(name)) => Ok(DataSource::Dir(dir)),
        _ => Ok(DataSource::Embedded),
    }
}
