//! nut-hid-recording/1 files (`nut_hid_recording::Recording::parse`).
//!
//! Arbitrary text goes through the parser: no panic. A recording that parses is written back
//! with `to_toml` and must parse again to the same recording.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nut_hid_recording::Recording;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rec) = Recording::parse(text, "fuzz") else {
        return;
    };
    let again = Recording::parse(&rec.to_toml(), "fuzz-again").expect("to_toml output parses");
    assert_eq!(again, rec);
});
