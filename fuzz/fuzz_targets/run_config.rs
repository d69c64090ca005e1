//! The run-config TOML reader on arbitrary text: errors are fine, panics are not. A valid
//! config must survive a write/read round trip unchanged.
#![no_main]

use dropkit::train::RunConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = RunConfig::from_toml(text, "fuzz.toml") {
        let again = config.to_toml().expect("a valid config serialises");
        assert_eq!(RunConfig::from_toml(&again, "round-trip").ok(), Some(config));
    }
});
