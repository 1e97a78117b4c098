//! The unit files of `conf/systemd` in a root that has systemd's own units (this host's) and
//! the programs at the paths the units name: `systemd-analyze verify` must say nothing, and
//! `systemd-analyze security` must rate upsd's and the driver's exposure below 5.0. The scores
//! are printed (`--nocapture`) for docs/systemd.md. Skips without systemd-analyze, except
//! with `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run, units_dir};

/// The units of conf/systemd.
const UNITS: &[&str] = &[
    "nut-driver@.service",
    "nut-driver.target",
    "nut-server.service",
    "nut-monitor.service",
    "nut.target",
];

/// The programs the units run.
const PROGRAMS: &[&str] = &[
    "sbin/upsd",
    "sbin/upsmon",
    "sbin/upsdrvctl",
    "lib/nut/nut-mode",
    "lib/nut/usbhid-ups",
];

/// This host's unit directory, if systemd and systemd-analyze are here.
fn host_units() -> Option<PathBuf> {
    let dir = PathBuf::from("/lib/systemd/system");
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_ok_and(|o| o.status.success()) && dir.join("sysinit.target").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "systemd-analyze and systemd's units are needed under CI=true"
    );
    eprintln!("skipping: no systemd-analyze or no /lib/systemd/system/sysinit.target");
    None
}

/// A root with this host's units (Debian's NUT units left out), ours, placeholder programs
/// and the generator's links for a ups.conf with `[ups]`.
fn root(host: &Path) -> tempfile::TempDir {
    let r = tempfile::tempdir().unwrap();
    let system = r.path().join("lib/systemd/system");
    std::fs::create_dir_all(system.parent().unwrap()).unwrap();
    let (code, out, err) = run(Command::new("cp").arg("-a").arg(host).arg(&system));
    assert_eq!(code, Some(0), "cp: {out}{err}");
    for e in std::fs::read_dir(&system).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("nut") {
            let p = e.path();
            let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
        }
    }
    for u in UNITS {
        std::fs::copy(units_dir().join(u), system.join(u)).unwrap();
    }
    for p in PROGRAMS {
        let p = r.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let etc = r.path().join("etc/nut");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("ups.conf"),
        "[ups]\n driver = usbhid-ups\n port = auto\n",
    )
    .unwrap();
    let (code, out, err) = run(Command::new(env!("CARGO_BIN_EXE_nut-driver-generator"))
        .arg(&system)
        .env("NUT_CONFPATH", &etc));
    assert_eq!(code, Some(0), "generator: {out}{err}");
    r
}

fn verify(root: &Path, units: &[&str]) -> (Option<i32>, String, String) {
    run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .args(units))
}

/// `systemd-analyze security --offline=yes` of each unit: (unit, exposure).
fn exposure(root: Option<&Path>, units: &[&str]) -> Vec<(String, f64)> {
    let mut cmd = Command::new("systemd-analyze");
    cmd.args(["security", "--offline=yes"]);
    if let Some(r) = root {
        cmd.arg(format!("--root={}", r.display()));
    }
    let (code, out, err) = run(cmd.args(units));
    assert_eq!(code, Some(0), "systemd-analyze security: {out}{err}");
    out.lines()
        .filter_map(|l| l.split_once("Overall exposure level for ").map(|x| x.1))
        .map(|l| {
            let (unit, rest) = l.split_once(": ").unwrap();
            let score = rest.split_whitespace().next().unwrap().parse().unwrap();
            (unit.to_string(), score)
        })
        .collect()
}

#[test]
fn verify_is_clean_with_the_generated_driver_instance() {
    let Some(host) = host_units() else { return };
    let r = root(&host);
    let units = [
        "nut.target",
        "nut-driver.target",
        "nut-driver@ups.service",
        "nut-server.service",
        "nut-monitor.service",
    ];
    assert_eq!(
        verify(r.path(), &units),
        (Some(0), String::new(), String::new())
    );
    // the check sees a mistake: an unknown key is a warning, a missing program an error
    let system = r.path().join("lib/systemd/system");
    let server = std::fs::read_to_string(system.join("nut-server.service")).unwrap();
    std::fs::write(
        system.join("nut-server.service"),
        server.replace("[Service]\n", "[Service]\nProtectEverything=yes\n"),
    )
    .unwrap();
    let (_, _, err) = verify(r.path(), &["nut-server.service"]);
    assert!(err.contains("Unknown key 'ProtectEverything'"), "{err}");
    std::fs::remove_file(r.path().join("sbin/upsmon")).unwrap();
    let (code, _, err) = verify(r.path(), &["nut-monitor.service"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("/sbin/upsmon"), "{err}");
}

#[test]
fn exposure_of_upsd_and_the_driver_below_5() {
    let Some(host) = host_units() else { return };
    let r = root(&host);
    let scores = exposure(
        Some(r.path()),
        &[
            "nut-server.service",
            "nut-driver@ups.service",
            "nut-monitor.service",
        ],
    );
    let debian = host.join("nut-server.service");
    let mut table = scores.clone();
    if debian.exists() {
        for (_, s) in exposure(None, &[debian.to_str().unwrap()]) {
            table.push(("Debian's nut-server.service".into(), s));
        }
    }
    for (u, s) in &table {
        println!("| {u} | {s:.1} |");
    }
    let names: Vec<&str> = scores.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(
        names,
        [
            "nut-server.service",
            "nut-driver@ups.service",
            "nut-monitor.service"
        ]
    );
    for (u, s) in &scores[..2] {
        assert!(*s < 5.0, "{u}: exposure {s} (must be below 5.0)");
    }
}
