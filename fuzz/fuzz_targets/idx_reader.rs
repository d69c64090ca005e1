//! The IDX reader on arbitrary bytes (raw or gzip): errors are fine, panics are not. A
//! parsed image/label pair also goes through the dataset conversion.
#![no_main]

use dropkit::data::idx::parse_idx;
use dropkit::data::mnist::to_dataset;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the image file ends and the label file starts.
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = (cut as usize * rest.len() / 255).min(rest.len());
    let (images, labels) = rest.split_at(cut);
    let images = parse_idx(images, 3, "fuzz-images");
    let labels = parse_idx(labels, 1, "fuzz-labels");
    if let (Ok(images), Ok(labels)) = (images, labels) {
        let _ = to_dataset(images, labels, "fuzz");
    }
});
