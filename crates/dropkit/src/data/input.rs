//! A user's own data set (`[input]` in a run's config): a CSV table, a NumPy `.npz` (or `.npy`
//! for inputs alone) or an image folder, read into a training and a test set. Data without a
//! test part gets a seeded held-out fraction of its rows.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::csv_table::{read_csv, CsvOptions};
use super::fetch::sha256_hex;
use super::image_folder::{is_image_folder, read_image_folder};
use super::labels::{self, Task};
use super::numpy::{parse_npy, parse_npz, Array};
use super::{DataRecord, DataSource, Dataset, Targets, TrainTest};
use crate::error::{Error, Result};
use crate::rng::{streams, Stream};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The test fraction held out when data has no test part and none is given.
pub const DEFAULT_TEST_SPLIT: f64 = 0.2;

/// The seed of that split when none is given: fixed, so that runs with different seeds are
/// tested on the same rows.
pub const DEFAULT_SPLIT_SEED: u64 = 42;

/// Where a run's own data is and how to read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// A `.csv` or `.npz` file, or an image folder.
    pub path: String,
    /// CSV: the target columns (default: the last column).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// Classification or regression (default: from the targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// `.npz`: the array names, `[x, y]` or `[x_train, y_train, x_test, y_test]` (default: those
    /// names when present).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrays: Vec<String>,
    /// Image folders: resize every image to [height, width].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<[usize; 2]>,
    /// The fraction of rows held out as the test set, for data without a test part
    /// (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_split: Option<f64>,
    /// The seed of that split (default 42, whatever the run's seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Standardise inputs (and regression targets) with the training part's means and
    /// deviations (default: on for tables, off for images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardize: Option<bool>,
}

/// How a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Npy,
    Npz,
    ImageFolder,
    /// Plain text, read character by character.
    Text,
}

impl Format {
    /// The format of `path`: a folder of class folders, or a file by its extension.
    pub fn of(path: &Path) -> Result<Format> {
        if path.is_dir() {
            if is_image_folder(path) || split_folders(path).is_some() {
                return Ok(Format::ImageFolder);
            }
            return Err(Error::format(
                path.display(),
                "is a folder but not an image folder (one subfolder per class, holding PNG or JPEG images)",
            ));
        }
        if !path.exists() {
            return Err(Error::DataNotFound(format!("{} does not exist", path.display())));
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Ok(Format::Csv),
            "npy" => Ok(Format::Npy),
            "npz" => Ok(Format::Npz),
            "txt" | "text" | "md" => Ok(Format::Text),
            _ => Err(Error::format(
                path.display(),
                "is not a data file dropkit reads: use a .csv table, a NumPy .npz (or .npy) file, a .txt text, an image folder, or a data directory holding mnist/",
            )),
        }
    }

    /// The name recorded in a run's `[data]`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::ImageFolder => "image-folder",
            Format::Text => "text",
        }
    }

    /// Tables are standardised by default; images are not.
    pub fn is_tabular(self) -> bool {
        matches!(self, Format::Csv | Format::Npy | Format::Npz)
    }
}

/// Whether `path` is a user's own data (a file or an image folder) rather than a data
/// directory holding named sets. A path that does not exist is neither (the caller says so).
pub fn is_own_data(path: &Path) -> bool {
    path.is_file()
        || (path.is_dir() && !super::is_data_root(path) && (is_image_folder(path) || split_folders(path).is_some()))
}

/// `train/` and `test/` (or `training/` and `testing/`) image folders inside `root`.
fn split_folders(root: &Path) -> Option<(PathBuf, PathBuf)> {
    [("train", "test"), ("training", "testing")].iter().find_map(|(a, b)| {
        let (a, b) = (root.join(a), root.join(b));
        (is_image_folder(&a) && is_image_folder(&b)).then_some((a, b))
    })
}

impl InputConfig {
    /// Reading `path` with every default.
    pub fn new(path: impl Into<String>) -> Self {
        InputConfig {
            path: path.into(),
            target: Vec::new(),
            task: None,
            arrays: Vec::new(),
            resize: None,
            test_split: None,
            split_seed: None,
            standardize: None,
        }
    }

    /// Checks the fields that do not need the file.
    pub fn validate(&self) -> Result<()> {
        if let Some(f) = self.test_split {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::InvalidArgument(format!(
                    "test split {f}: must be between 0 and 1, e.g. 0.2 holds out 20% of the rows"
                )));
            }
        }
        if let Some([h, w]) = self.resize {
            if h == 0 || w == 0 || h > 4096 || w > 4096 {
                return Err(Error::InvalidArgument(format!("resize {h}x{w}: each side must be 1 to 4096 pixels")));
            }
        }
        if !matches!(self.arrays.len(), 0 | 2 | 4) {
            return Err(Error::InvalidArgument(format!(
                "arrays {:?}: name 2 arrays (x, y) or 4 (x_train, y_train, x_test, y_test)",
                self.arrays
            )));
        }
        Ok(())
    }

    pub fn format(&self) -> Result<Format> {
        Format::of(Path::new(&self.path))
    }

    /// Whether inputs and targets are standardised: as configured, else for tables (a CSV,
    /// or arrays whose samples are flat vectors) and not for images.
    pub fn standardizes(&self, sample_shape: &[usize]) -> Result<bool> {
        Ok(self.standardize.unwrap_or(self.format()?.is_tabular() && sample_shape.len() == 1))
    }

    /// The held-out fraction used when the data has no test part.
    pub fn effective_test_split(&self) -> f64 {
        self.test_split.unwrap_or(DEFAULT_TEST_SPLIT)
    }
}

/// What a trained run knows of its data, to read new inputs the same way.
#[derive(Clone, Debug, Default)]
pub struct Known<'a> {
    pub features: Option<&'a [String]>,
    pub classes: Option<&'a [String]>,
    pub class_count: Option<usize>,
    pub task: Option<Task>,
}

/// The inputs of one file or folder, with targets when it has them.
pub struct Part {
    pub set: Dataset,
    pub has_targets: bool,
    /// Each sample's file (image folders), for predictions to name.
    pub files: Vec<String>,
}

/// The data `input` describes as the file holds it: its training part, its test part if it
/// has one, and the record of where it came from.
pub fn read_parts(input: &InputConfig) -> Result<(Dataset, Option<Dataset>, DataRecord)> {
    input.validate()?;
    let path = Path::new(&input.path);
    let format = input.format()?;
    let (train, test, features, targets) = match format {
        Format::Text => {
            let text = super::text::read(Some(path))?;
            let data = super::text::load(&text, &DataSource::Dir(path.to_path_buf()), super::text::DEFAULT_CONTEXT, 0.1)?;
            return Ok((data.train, Some(data.test), data.source));
        }
        Format::Csv => {
            let table = read_csv(path, &csv_options(input, &Known::default()))?;
            let Some(t) = table.targets else {
                return Err(Error::format(path.display(), "has no target column"));
            };
            let d = table.features.len();
            let set = Dataset { images: table.x, sample_shape: vec![d], targets: t };
            (set, None, table.features, table.target_columns)
        }
        Format::Npy => {
            return Err(Error::format(
                path.display(),
                "a .npy file holds one array, inputs without targets: save both with np.savez(path, x=inputs, y=targets) and train on the .npz (a .npy is read by predict --input)",
            ))
        }
        Format::Npz => {
            let (train, test) = read_npz(path, input, &Known::default())?;
            (train, test, Vec::new(), Vec::new())
        }
        Format::ImageFolder => {
            let resize = input.resize;
            match split_folders(path) {
                Some((a, b)) => {
                    let train = read_image_folder(&a, None, resize, None)?;
                    let test =
                        read_image_folder(&b, Some(&train.class_names), resize, train.sample_shape.first().copied())?;
                    (images_set(train), Some(images_set(test)), Vec::new(), Vec::new())
                }
                None => (images_set(read_image_folder(path, None, resize, None)?), None, Vec::new(), Vec::new()),
            }
        }
    };
    train.validate()?;
    if let Some(t) = &test {
        t.validate()?;
    }
    let fingerprint = fingerprint(&[&train, test.as_ref().unwrap_or(&train)]);
    let source = DataSource::Dir(PathBuf::from(&input.path));
    let mut record = DataRecord::new(&source, format.name(), fingerprint);
    record.features = features;
    record.targets = targets;
    record.classes = train.class_names().map(<[String]>::to_vec).unwrap_or_default();
    record.sample_shape = train.sample_shape.clone();
    record.task = Some(match train.targets {
        Targets::Classes { .. } => Task::Classification,
        Targets::Values { .. } => Task::Regression,
    });
    Ok((train, test, record))
}

/// Loads the data `input` describes, split into training and test sets: the file's own
/// parts, or a seeded held-out fraction of its rows.
pub fn load_input(input: &InputConfig) -> Result<TrainTest> {
    load_input_with(input, super::text::DEFAULT_CONTEXT)
}

/// [`load_input`], cutting text into sequences of `context` characters.
pub fn load_input_with(input: &InputConfig, context: usize) -> Result<TrainTest> {
    if input.format()? == Format::Text {
        input.validate()?;
        let path = Path::new(&input.path);
        let text = super::text::read(Some(path))?;
        let split = input.test_split.unwrap_or(super::text::DEFAULT_TEST_SPLIT);
        return super::text::load(&text, &DataSource::Dir(path.to_path_buf()), context, split);
    }
    let (train, test, source) = read_parts(input)?;
    let (train, test, test_rows) = match test {
        Some(test) => {
            if input.test_split.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "{} has its own test part; --test-split is for data without one (drop it)",
                    input.path
                )));
            }
            (train, test, Vec::new())
        }
        None => {
            let seed = input.split_seed.unwrap_or(DEFAULT_SPLIT_SEED);
            let rows = test_rows(train.len(), input.effective_test_split(), seed)?;
            let (train, test) = split_rows(&train, &rows);
            (train, test, rows)
        }
    };
    Ok(TrainTest { train, test, source, test_rows })
}

/// Reads new inputs (`predict --input`) the way a run read its training data: the same
/// columns, classes, image size and channels. Targets are optional.
pub fn load_new_inputs(
    path: &Path,
    input: Option<&InputConfig>,
    known: &Known,
    sample_shape: &[usize],
) -> Result<Part> {
    let mut cfg = input.cloned().unwrap_or_else(|| InputConfig::new(path.display().to_string()));
    cfg.path = path.display().to_string();
    match Format::of(path)? {
        Format::Text => Err(Error::format(
            path.display(),
            "is text: a character model continues text with `dropkit generate RUN --prompt TEXT`",
        )),
        Format::Csv => {
            let table = read_csv(path, &csv_options(&cfg, known))?;
            let has = table.targets.is_some();
            let targets = table.targets.unwrap_or(Targets::Values { values: Vec::new(), dim: 1 });
            let set = Dataset { images: table.x, sample_shape: vec![table.features.len()], targets };
            Ok(Part { set: unlabelled(set, table.rows, has), has_targets: has, files: Vec::new() })
        }
        Format::Npy => {
            let x = parse_npy(&crate::fsio::read(path)?, &path.display().to_string())?;
            let (images, shape, n) = inputs_of(x, &path.display().to_string())?;
            let set = Dataset { images, sample_shape: shape, targets: Targets::Values { values: Vec::new(), dim: 1 } };
            Ok(Part { set: unlabelled(set, n, false), has_targets: false, files: Vec::new() })
        }
        Format::Npz => {
            cfg.arrays.truncate(2);
            let (set, _) = read_npz_optional(path, &cfg, known)?;
            Ok(set)
        }
        Format::ImageFolder => {
            let channels = sample_shape.first().copied();
            let resize = match sample_shape {
                [_, h, w] => Some([*h, *w]),
                _ => cfg.resize,
            };
            // A run on unnamed classes (digits) reads folder "3" as class 3.
            let numbered: Option<Vec<String>> =
                known.class_count.filter(|_| known.classes.is_none()).map(|k| (0..k).map(|i| i.to_string()).collect());
            let set = read_image_folder(path, known.classes.or(numbered.as_deref()), resize, channels)?;
            let files = set.files.clone();
            Ok(Part { set: images_set(set), has_targets: true, files })
        }
    }
}

/// A set without targets stands for its inputs alone: its length is the row count.
fn unlabelled(mut set: Dataset, rows: usize, has_targets: bool) -> Dataset {
    if !has_targets {
        set.targets = Targets::Values { values: vec![0.0; rows], dim: 1 };
    }
    set
}

fn csv_options(input: &InputConfig, known: &Known) -> CsvOptions {
    CsvOptions {
        target: input.target.clone(),
        task: input.task.or(known.task),
        features: known.features.map(<[String]>::to_vec),
        classes: known.classes.map(<[String]>::to_vec),
    }
}

fn images_set(s: super::image_folder::ImageSet) -> Dataset {
    let classes = s.class_names.len();
    Dataset {
        images: s.pixels,
        sample_shape: s.sample_shape,
        targets: Targets::Classes { ids: s.labels, classes, names: Some(s.class_names), positions: 1 },
    }
}

/// The inputs of array `x`: values (u8 scaled to [0, 1]), per-sample shape, count.
fn inputs_of(x: Array, origin: &str) -> Result<(Vec<f32>, Vec<usize>, usize)> {
    let Some((&n, rest)) = x.shape.split_first() else {
        return Err(Error::format(origin, "x is a scalar; inputs are an array of samples, (N, ...)"));
    };
    if n == 0 {
        return Err(Error::format(origin, format!("x has shape {:?}: no samples", x.shape)));
    }
    let shape = match rest {
        [] => vec![1],
        [h, w] => vec![1, *h, *w],
        r => r.to_vec(),
    };
    let values = if x.bytes { x.values.iter().map(|&b| b * (1.0 / 255.0)).collect() } else { x.values };
    Ok((values, shape, n))
}

/// The targets of array `y` for `n` samples.
fn targets_of(y: Array, n: usize, task: Option<Task>, known: &Known, origin: &str) -> Result<Targets> {
    let (m, dim) = match *y.shape.as_slice() {
        [m] => (m, 1),
        [m, d] => (m, d),
        _ => {
            return Err(Error::format(
                origin,
                format!("y has shape {:?}; targets are (N,) class ids or (N, D) values", y.shape),
            ))
        }
    };
    if m != n || dim == 0 {
        return Err(Error::format(origin, format!("x has {n} samples but y has shape {:?}; they must agree", y.shape)));
    }
    let task =
        task.or(known.task).unwrap_or(if y.integer && dim == 1 { Task::Classification } else { Task::Regression });
    match task {
        Task::Regression => Ok(Targets::Values { values: y.values, dim }),
        Task::Classification if dim == 1 => {
            let v: Vec<f64> = y.values.iter().map(|&v| v as f64).collect();
            labels::from_ids(&v, origin, known.class_count)
        }
        Task::Classification => {
            Err(Error::format(origin, format!("y has shape {:?}; class labels are one id per sample, (N,)", y.shape)))
        }
    }
}

/// The training and (when present) test sets of an `.npz`.
fn read_npz(path: &Path, input: &InputConfig, known: &Known) -> Result<(Dataset, Option<Dataset>)> {
    let (part, test) = read_npz_optional(path, input, known)?;
    if !part.has_targets {
        return Err(Error::format(
            path.display(),
            "has inputs but no targets (y); save them with np.savez(path, x=..., y=...)",
        ));
    }
    Ok((part.set, test))
}

fn read_npz_optional(path: &Path, input: &InputConfig, known: &Known) -> Result<(Part, Option<Dataset>)> {
    let origin = path.display().to_string();
    let mut arrays = parse_npz(&crate::fsio::read(path)?, &origin)?;
    let names: Vec<String> = arrays.iter().map(|(n, _)| n.clone()).collect();
    let wanted: Vec<String> = if !input.arrays.is_empty() {
        input.arrays.clone()
    } else if names.iter().any(|n| n == "x_train") {
        ["x_train", "y_train", "x_test", "y_test"].map(String::from).to_vec()
    } else {
        ["x", "y"].map(String::from).to_vec()
    };
    let mut take = |name: &str, required: bool| -> Result<Option<Array>> {
        match arrays.iter().position(|(n, _)| n == name) {
            Some(i) => Ok(Some(arrays.swap_remove(i).1)),
            None if required => Err(Error::format(
                &origin,
                format!("has no array '{name}'; its arrays are {}; name yours with --arrays", names.join(", ")),
            )),
            None => Ok(None),
        }
    };
    let mut part = |x: &str, y: &str, x_required: bool| -> Result<Option<Part>> {
        let Some(xa) = take(x, x_required)? else { return Ok(None) };
        let (images, shape, n) = inputs_of(xa, &format!("{origin}: {x}"))?;
        let ya = take(y, false)?;
        let has = ya.is_some();
        let targets = match ya {
            Some(ya) => targets_of(ya, n, input.task, known, &format!("{origin}: {y}"))?,
            None => Targets::Values { values: vec![0.0; n], dim: 1 },
        };
        Ok(Some(Part { set: Dataset { images, sample_shape: shape, targets }, has_targets: has, files: Vec::new() }))
    };
    let [x, y] = [0, 1].map(|i| wanted.get(i).cloned().unwrap_or_default());
    let train = part(&x, &y, true)?.ok_or_else(|| Error::format(&origin, format!("has no array '{x}'")))?;
    let test = match (wanted.get(2), wanted.get(3)) {
        (Some(xt), Some(yt)) => part(xt, yt, false)?,
        _ => None,
    };
    let test = match test {
        Some(t) if !t.has_targets => {
            return Err(Error::format(
                &origin,
                format!("has test inputs '{}' but no test targets", wanted.get(2).map_or("", String::as_str)),
            ))
        }
        Some(t) => Some(conform_classes(&train.set, t.set)?),
        None => None,
    };
    Ok((train, test))
}

/// A test part's class ids numbered as the training part's (the larger class count wins).
fn conform_classes(train: &Dataset, mut test: Dataset) -> Result<Dataset> {
    if test.sample_shape != train.sample_shape {
        return Err(Error::InvalidArgument(format!(
            "test samples have shape {:?} but training samples {:?}",
            test.sample_shape, train.sample_shape
        )));
    }
    if let (Targets::Classes { classes: a, .. }, Targets::Classes { classes: b, .. }) =
        (&train.targets, &mut test.targets)
    {
        *b = (*b).max(*a);
    }
    Ok(test)
}

/// SHA-256 of the decoded inputs and targets.
fn fingerprint(sets: &[&Dataset]) -> String {
    let mut bytes = Vec::new();
    for s in sets {
        bytes.extend(s.images.iter().flat_map(|v| v.to_le_bytes()));
        match &s.targets {
            Targets::Classes { ids, .. } => bytes.extend(ids.iter().flat_map(|v| v.to_le_bytes())),
            Targets::Values { values, .. } => bytes.extend(values.iter().flat_map(|v| v.to_le_bytes())),
        }
    }
    sha256_hex(&bytes)
}

/// The rows held out as the test set: `round(n * fraction)` of `0..n`, chosen by a seeded
/// shuffle, in ascending order.
pub fn test_rows(n: usize, fraction: f64, seed: u64) -> Result<Vec<usize>> {
    let k = (n as f64 * fraction).round() as usize;
    if k == 0 || k >= n {
        return Err(Error::InvalidArgument(format!(
            "test split {fraction} of {n} rows holds out {k}; choose a fraction that leaves rows for both parts"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    Stream::new(seed, streams::SPLIT, 0).shuffle(&mut order);
    let mut rows = order.get(..k).unwrap_or_default().to_vec();
    rows.sort_unstable();
    Ok(rows)
}

/// `set` without the rows `held_out` (ascending), and those rows, each in their order.
pub fn split_rows(set: &Dataset, held_out: &[usize]) -> (Dataset, Dataset) {
    let mut is_out = vec![false; set.len()];
    held_out.iter().for_each(|&i| {
        if let Some(f) = is_out.get_mut(i) {
            *f = true;
        }
    });
    let keep: Vec<usize> = (0..set.len()).filter(|&i| !is_out.get(i).copied().unwrap_or(false)).collect();
    (set.select(&keep), set.select(held_out))
}
