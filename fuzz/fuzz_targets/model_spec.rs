//! The model spec parser and model builder on arbitrary text: errors are fine, panics are not.
//! A model that builds also runs one forward pass.
#![no_main]

use dropkit::prelude::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut model) = Sequential::from_spec(text, &[16], 7) else { return };
    // Bound the work a huge layer would take.
    if model.num_params() > 1 << 20 {
        return;
    }
    let x = Tensor::from_vec(vec![0.5; 32], &[2, 16]).expect("shape matches data");
    let _ = model.forward(&x, &Ctx::new(Mode::Train, 7, 1));
});
