//! The NumPy readers on arbitrary bytes: as one `.npy` array and as an `.npz` archive of them.
//! Errors are fine, panics (and allocations a header merely declares) are not.
#![no_main]

use dropkit::data::numpy::{parse_npy, parse_npz};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_npy(data, "fuzz.npy");
    let _ = parse_npz(data, "fuzz.npz");
});
