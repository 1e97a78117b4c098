//! The systemd side of nut-rs, checked with systemd's own tools and our binaries:
//! the unit files of `conf/systemd` (`units`: `systemd-analyze verify` clean, exposure scores),
//! `nut-mode` as the units' `ExecCondition=` (`mode`), and `nut-driver-generator`
//! (`generator`).

// A panic is how a test fails.
#![allow(clippy::unwrap_used)]

mod generator;
mod mode;
mod units;

use std::path::PathBuf;
use std::process::Command;

/// `conf/systemd` of the repository.
fn units_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conf/systemd")
}

/// Run `cmd`: (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
