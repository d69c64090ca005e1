//! CIFAR-10, binary version (Krizhevsky 2009, <https://www.cs.toronto.edu/~kriz/cifar.html>):
//! 50,000 training images in `data_batch_1.bin` to `data_batch_5.bin` and 10,000 test images
//! in `test_batch.bin`, each record one label byte and 3,072 pixel bytes (32x32, the red plane,
//! then green, then blue), read into (3, 32, 32) pixels in [0, 1]. Class names come from
//! `batches.meta.txt`.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::fetch::sha256_hex;
use super::{DataRecord, DataSource, Dataset, TrainTest};
use crate::error::{Error, Result};
use std::path::Path;

const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;
/// The training files, then the test file.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
pub const TEST_FILE: &str = "test_batch.bin";
/// The classes, in label order, when `batches.meta.txt` is missing.
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// True when `dir` holds the six batch files.
pub fn has_files(dir: &Path) -> bool {
    TRAIN_FILES.iter().chain([&TEST_FILE]).all(|f| dir.join(f).is_file())
}

/// Decodes batch files into one data set.
fn read_batches(dir: &Path, files: &[&str], names: &[String], hash: &mut Vec<u8>) -> Result<Dataset> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for f in files {
        let path = dir.join(f);
        let bytes = crate::fsio::read(&path)?;
        if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
            return Err(Error::format(
                path.display(),
                format!(
                    "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records; fetch it again",
                    bytes.len()
                ),
            ));
        }
        for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
            let (&label, pixels) = record.split_first().unwrap_or((&0, &[]));
            if label as usize >= names.len() {
                return Err(Error::format(
                    path.display(),
                    format!("record {i} has label {label}, not one of the 10 classes"),
                ));
            }
            labels.push(label as u32);
            images.extend(pixels.iter().map(|&b| b as f32 * (1.0 / 255.0)));
        }
        hash.extend_from_slice(&bytes);
    }
    Ok(Dataset {
        images,
        sample_shape: vec![3, SIDE, SIDE],
        targets: super::Targets::Classes {
            ids: labels,
            classes: names.len(),
            names: Some(names.to_vec()),
            positions: 1,
        },
    })
}

/// Loads CIFAR-10 from `root/cifar-10/`.
pub fn load_cifar10(root: &Path) -> Result<TrainTest> {
    let dir = root.join("cifar-10");
    if !has_files(&dir) {
        return Err(Error::DataNotFound(format!(
            "{}: missing the CIFAR-10 batch files (data_batch_1.bin ... test_batch.bin); run `dropkit data fetch cifar-10 --data {}`",
            dir.display(),
            root.display()
        )));
    }
    let meta = std::fs::read_to_string(dir.join("batches.meta.txt")).unwrap_or_default();
    let mut names: Vec<String> = meta.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    if names.len() != CLASSES.len() {
        names = CLASSES.iter().map(|c| c.to_string()).collect();
    }
    let mut hash = Vec::new();
    let train = read_batches(&dir, &TRAIN_FILES, &names, &mut hash)?;
    let test = read_batches(&dir, &[TEST_FILE], &names, &mut hash)?;
    let mut source = DataRecord::new(&DataSource::Dir(root.to_path_buf()), "cifar-10", sha256_hex(&hash));
    source.classes = names;
    Ok(TrainTest { train, test, source, test_rows: Vec::new() })
}
