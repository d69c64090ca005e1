//! The CSV table reader on arbitrary bytes, as training reads a table (target = last column,
//! task inferred) and as prediction reads new rows (named features, known classes): errors are
//! fine, panics are not.
#![no_main]

use dropkit::data::csv_table::{parse_csv, CsvOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_csv(data, "fuzz.csv", &CsvOptions::default());
    let known = CsvOptions {
        features: Some(vec!["a".into(), "b".into()]),
        classes: Some(vec!["0".into(), "cat".into()]),
        ..CsvOptions::default()
    };
    let _ = parse_csv(data, "fuzz.csv", &known);
});
