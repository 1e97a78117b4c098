//! `nut_conf::upsd_conf::parse` on arbitrary bytes: no panic, and errors and warnings name a
//! line of the file (see `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nut_rs_fuzz::check_parse(
        data,
        "/etc/nut/upsd.conf",
        nut_conf::upsd_conf::parse,
        |c| &c.warnings,
    );
});
