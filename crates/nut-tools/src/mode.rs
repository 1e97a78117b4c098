//! `nut-mode`: nut.conf's `MODE` for the systemd units and the late-shutdown hook, read as
//! Debian's wrappers read it (`none` or no nut.conf: nothing runs; `netclient`: only upsmon;
//! `standalone` and `netserver`: drivers, upsd and upsmon).
//!
//! `nut-mode is server|monitor` is an `ExecCondition=`: exit 0 when this part of NUT runs
//! under the MODE, 1 when it does not (systemd skips the unit, it does not fail it), 255 with
//! the reason on stderr when nut.conf is wrong (an unknown MODE, a bad line): the unit fails
//! and the journal says why. `nut-mode get KEY` prints the value of KEY (exit 1 if unset).

use std::path::Path;
use std::process::ExitCode;

use nut_conf::nut_conf::{Mode, NutConf};

/// Exit status for "this part does not run here" (`ExecCondition=`: skip the unit).
pub const SKIP: u8 = 1;
/// Exit status for a wrong nut.conf (`ExecCondition=`: fail the unit).
pub const FAIL: u8 = 255;

/// A part of NUT a unit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The drivers and upsd: `standalone`, `netserver`.
    Server,
    /// upsmon: `standalone`, `netserver`, `netclient`.
    Monitor,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Monitor => "monitor",
        }
    }

    fn runs_in(self, mode: Mode) -> bool {
        !matches!(
            (self, mode),
            (_, Mode::None) | (Role::Server, Mode::Netclient)
        )
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::None => "none",
        Mode::Standalone => "standalone",
        Mode::Netserver => "netserver",
        Mode::Netclient => "netclient",
    }
}

/// nut.conf in `confdir`: `Ok(None)` when there is none.
fn load(confdir: &Path) -> Result<Option<NutConf>, String> {
    let path = confdir.join("nut.conf");
    match nut_conf::nut_conf::load(&path) {
        Ok(c) => Ok(Some(c)),
        Err(nut_conf::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `role` runs under the nut.conf of `confdir`: the exit status (0, [`SKIP`] or
/// [`FAIL`]) and what to say on stderr (empty for 0).
pub fn check(confdir: &Path, role: Role) -> (u8, String) {
    let path = confdir.join("nut.conf");
    let conf = match load(confdir) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let msg = format!(
                "{}: no such file, so MODE=none: NUT is not configured to run here",
                path.display()
            );
            return (SKIP, msg);
        }
        Err(e) => return (FAIL, e),
    };
    if role.runs_in(conf.mode) {
        return (0, String::new());
    }
    let why = match conf.mode {
        Mode::None => "NUT is not configured to run here".to_string(),
        _ => "only upsmon runs here (no drivers, no upsd)".to_string(),
    };
    let msg = format!(
        "{}: MODE={}: {why}; the {} units do not start",
        path.display(),
        mode_name(conf.mode),
        role.name()
    );
    (SKIP, msg)
}

/// `nut-mode get KEY`: the value, `None` when unset (or no nut.conf).
pub fn get(confdir: &Path, key: &str) -> Result<Option<String>, String> {
    Ok(load(confdir)?.and_then(|c| c.get(key).map(str::to_string)))
}

const USAGE: &str = "usage: nut-mode is server|monitor\n       nut-mode get KEY\n";

/// The program: `args` without the program name; nut.conf is in [`nut_daemon::confpath`].
pub fn main(args: &[String]) -> ExitCode {
    let confdir = nut_daemon::confpath();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["is", role] => {
            let role = match *role {
                "server" => Role::Server,
                "monitor" => Role::Monitor,
                other => {
                    eprint!("nut-mode: unknown part {other:?}\n{USAGE}");
                    return ExitCode::from(FAIL);
                }
            };
            let (code, msg) = check(&confdir, role);
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            ExitCode::from(code)
        }
        ["get", key] => match get(&confdir, key) {
            Ok(Some(v)) => {
                println!("{v}");
                ExitCode::SUCCESS
            }
            Ok(None) => ExitCode::from(SKIP),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(FAIL)
            }
        },
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(FAIL)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(nut_conf: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        if let Some(text) = nut_conf {
            std::fs::write(d.path().join("nut.conf"), text).unwrap();
        }
        d
    }

    #[test]
    fn which_parts_run_in_which_mode() {
        for (mode, server, monitor) in [
            ("none", SKIP, SKIP),
            ("netclient", SKIP, 0),
            ("standalone", 0, 0),
            ("netserver", 0, 0),
        ] {
            let d = dir(Some(&format!("# comment\nMODE={mode}\n")));
            assert_eq!(check(d.path(), Role::Server).0, server, "{mode}");
            assert_eq!(check(d.path(), Role::Monitor).0, monitor, "{mode}");
        }
    }

    #[test]
    fn what_the_journal_says() {
        let d = dir(Some("MODE=netclient\n"));
        let p = d.path().join("nut.conf");
        assert_eq!(
            check(d.path(), Role::Server),
            (
                SKIP,
                format!(
                    "{}: MODE=netclient: only upsmon runs here (no drivers, no upsd); the server units do not start",
                    p.display()
                )
            )
        );
        assert_eq!(check(d.path(), Role::Monitor), (0, String::new()));
        let d = dir(Some("POWEROFF_WAIT=15m\n"));
        assert_eq!(
            check(d.path(), Role::Monitor).1,
            format!(
                "{}: MODE=none: NUT is not configured to run here; the monitor units do not start",
                d.path().join("nut.conf").display()
            )
        );
        let d = dir(None);
        assert_eq!(
            check(d.path(), Role::Monitor),
            (
                SKIP,
                format!(
                    "{}: no such file, so MODE=none: NUT is not configured to run here",
                    d.path().join("nut.conf").display()
                )
            )
        );
    }

    #[test]
    fn unknown_mode_fails_with_file_and_line() {
        let d = dir(Some("# nut.conf\n\nMODE=foo\n"));
        assert_eq!(
            check(d.path(), Role::Server),
            (
                FAIL,
                format!(
                    "{}:3: MODE must be none, standalone, netserver or netclient, got \"foo\"",
                    d.path().join("nut.conf").display()
                )
            )
        );
    }

    #[test]
    fn get_values() {
        let d = dir(Some("MODE=standalone\nPOWEROFF_WAIT=\"15m\"\n"));
        assert_eq!(get(d.path(), "POWEROFF_WAIT"), Ok(Some("15m".into())));
        assert_eq!(get(d.path(), "UPSD_OPTIONS"), Ok(None));
        assert_eq!(get(dir(None).path(), "MODE"), Ok(None));
    }
}
