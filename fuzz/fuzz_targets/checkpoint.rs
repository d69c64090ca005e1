//! The checkpoint loader on arbitrary bytes: `checkpoint.json`, then the tensors file. The
//! checksum is recomputed first so that the fuzzer reaches the tensor parsing and the restore
//! into a model; errors are fine, panics are not.
#![no_main]

use dropkit::data::fetch::sha256_hex;
use dropkit::optim::{Optimizer, OptimizerConfig};
use dropkit::prelude::Sequential;
use dropkit::train::checkpoint::{parse, parse_info};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Two little-endian bytes give the length of the JSON part.
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let cut = (u16::from_le_bytes(*len) as usize).min(rest.len());
    let (json, tensors) = rest.split_at(cut);
    let Ok(mut info) = parse_info(json, "fuzz.json") else { return };
    info.sha256 = sha256_hex(tensors);
    let data_id = info.data.clone();
    let Ok(checkpoint) = parse(info, tensors, "fuzz.json") else { return };
    let mut model = Sequential::from_spec("dense(4, relu) dropout(0.5) dense(3)", &[2], 1).expect("valid spec");
    let mut optimizer = Optimizer::new(OptimizerConfig::default()).expect("valid config");
    let _ = checkpoint.restore(&mut model, &mut optimizer, &data_id);
});
