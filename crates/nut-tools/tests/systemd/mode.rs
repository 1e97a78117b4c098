//! `nut-mode is server|monitor` as systemd runs it in `ExecCondition=`: 0 runs the unit, 1
//! skips it, 255 fails it with the reason on stderr (the journal); `nut-mode get KEY`.

use std::path::Path;
use std::process::Command;

use super::run;

fn nut_mode(confdir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_nut-mode"))
        .args(args)
        .env("NUT_CONFPATH", confdir))
}

#[test]
fn exit_codes_and_the_reasons() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("nut.conf");
    // no nut.conf: as MODE=none, skipped
    assert_eq!(
        nut_mode(d.path(), &["is", "monitor"]),
        (
            Some(1),
            String::new(),
            format!(
                "{}: no such file, so MODE=none: NUT is not configured to run here\n",
                conf.display()
            )
        )
    );
    std::fs::write(&conf, "# Debian's sample\nMODE=netclient\n").unwrap();
    assert_eq!(
        nut_mode(d.path(), &["is", "monitor"]),
        (Some(0), String::new(), String::new())
    );
    assert_eq!(
        nut_mode(d.path(), &["is", "server"]),
        (
            Some(1),
            String::new(),
            format!(
                "{}: MODE=netclient: only upsmon runs here (no drivers, no upsd); the server units do not start\n",
                conf.display()
            )
        )
    );
    // the unknown MODE of the issue: the unit fails, the journal says where and why
    std::fs::write(&conf, "# nut.conf\n\nMODE=foo\n").unwrap();
    for part in ["server", "monitor"] {
        assert_eq!(
            nut_mode(d.path(), &["is", part]),
            (
                Some(255),
                String::new(),
                format!(
                    "{}:3: MODE must be none, standalone, netserver or netclient, got \"foo\"\n",
                    conf.display()
                )
            )
        );
    }
    std::fs::write(&conf, "MODE=standalone\nPOWEROFF_WAIT=15m\n").unwrap();
    assert_eq!(
        nut_mode(d.path(), &["get", "POWEROFF_WAIT"]),
        (Some(0), "15m\n".into(), String::new())
    );
    assert_eq!(nut_mode(d.path(), &["get", "UPSD_OPTIONS"]).0, Some(1));
    let (code, _, err) = nut_mode(d.path(), &["is", "everything"]);
    assert_eq!(code, Some(255));
    assert!(
        err.starts_with("nut-mode: unknown part \"everything\"\nusage: "),
        "{err}"
    );
}
