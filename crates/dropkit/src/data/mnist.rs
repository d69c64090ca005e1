//! MNIST (LeCun, Cortes and Burges, <http://yann.lecun.com/exdb/mnist/>, CC BY-SA 3.0):
//! 60,000 training and 10,000 test images of 28x28 digits, from a data directory or the
//! embedded `data/mnist-mini` subset (the first 10,000 training and 2,000 test images).
//! Any image size is accepted, as long as images and labels agree.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::idx::{parse_idx, read_idx, IdxArray};
use super::{DataRecord, DataSource, Dataset, TrainTest};
use crate::data::fetch::sha256_hex;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The four files of an MNIST-format data set, without the optional `.gz`.
pub const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

const EMBEDDED: [&[u8]; 4] = [
    include_bytes!("../../../../data/mnist-mini/train-images-idx3-ubyte.gz"),
    include_bytes!("../../../../data/mnist-mini/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../../../data/mnist-mini/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../../../data/mnist-mini/t10k-labels-idx1-ubyte.gz"),
];

/// The classes of an IDX digit (or Fashion-MNIST) data set. A small part may miss some of
/// them, yet a model for it still has ten outputs.
const MNIST_CLASSES: usize = 10;

/// The path of `stem` in `dir`: the raw file if present, else the `.gz`.
fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    [dir.join(stem), dir.join(format!("{stem}.gz"))].into_iter().find(|p| p.is_file())
}

/// True when `dir` holds all four files (raw or gzip).
pub fn has_files(dir: &Path) -> bool {
    FILES.iter().all(|f| find(dir, f).is_some())
}

/// Loads MNIST (or any data set in its format, e.g. Fashion-MNIST) named `name` from `source`.
pub fn load_mnist(source: &DataSource, name: &str) -> Result<TrainTest> {
    let arrays: Vec<IdxArray> = match source {
        DataSource::Embedded => FILES
            .iter()
            .zip(EMBEDDED)
            .enumerate()
            .map(|(i, (f, bytes))| parse_idx(bytes, if i % 2 == 0 { 3 } else { 1 }, &format!("embedded {f}")))
            .collect::<Result<_>>()?,
        DataSource::Dir(root) => {
            let dir = root.join(name);
            FILES
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let path = find(&dir, f).ok_or_else(|| {
                        Error::DataNotFound(format!(
                            "{}: missing {f} (or {f}.gz); run `dropkit data fetch {name} --data {}`",
                            dir.display(),
                            root.display()
                        ))
                    })?;
                    read_idx(&path, if i % 2 == 0 { 3 } else { 1 })
                })
                .collect::<Result<_>>()?
        }
    };
    // The fingerprint hashes the decoded arrays, so re-compressing the files keeps it.
    let mut hasher_input = Vec::new();
    for a in &arrays {
        hasher_input.extend_from_slice(&a.data);
    }
    let fingerprint = sha256_hex(&hasher_input);
    let mut it = arrays.into_iter();
    let mut next = || it.next().ok_or_else(|| Error::DataNotFound("missing MNIST array".into()));
    let (tri, trl, tei, tel) = (next()?, next()?, next()?, next()?);
    Ok(TrainTest {
        train: to_dataset(tri, trl, "train")?,
        test: to_dataset(tei, tel, "t10k")?,
        source: DataRecord::new(source, "idx", fingerprint),
        test_rows: Vec::new(),
    })
}

/// Pairs an image array (N, H, W) with labels (N); pixels scaled to [0, 1].
pub fn to_dataset(images: IdxArray, labels: IdxArray, split: &str) -> Result<Dataset> {
    let (n, h, w, m) = match (&images.dims[..], &labels.dims[..]) {
        (&[n, h, w], &[m]) => (n, h, w, m),
        (i, l) => {
            let msg = format!("images must be (N, H, W) and labels (N), got {i:?} and {l:?}");
            return Err(Error::format(format!("{split} set"), msg));
        }
    };
    if m != n {
        return Err(Error::format(
            format!("{split} set"),
            format!("{n} images but {m} labels; the two files do not belong together"),
        ));
    }
    if n == 0 || h == 0 || w == 0 {
        return Err(Error::format(format!("{split} set"), format!("empty images {:?}", images.dims)));
    }
    // Digits: ten classes, whichever of them a (small) part happens to hold.
    let classes = labels.data.iter().copied().max().unwrap_or(0) as usize + 1;
    Ok(Dataset::classified(
        images.data.iter().map(|&b| b as f32 * (1.0 / 255.0)).collect(),
        vec![1, h, w],
        labels.data.iter().map(|&l| l as u32).collect(),
        classes.max(MNIST_CLASSES),
    ))
}
