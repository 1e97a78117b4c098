//! `nut_conf::ups_conf::parse` on arbitrary bytes: no panic, and errors and warnings name a
//! line of the file (see `src/lib.rs`).
#![no_main]

nut_rs_fuzz::conf_target!(nut_conf::ups_conf::parse, "/etc/nut/ups.conf", warnings);
