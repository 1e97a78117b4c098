//! `nut-driver-generator`: a systemd generator (run by systemd at boot and on every
//! `systemctl daemon-reload`) that makes `nut-driver.target` and `nut-server.service` want
//! one `nut-driver@<ups>.service` per section of ups.conf. It replaces Debian's
//! nut-driver-enumerator script and its path unit: editing ups.conf and reloading systemd is
//! all it takes. Whether the drivers then run is nut.conf's MODE ([`crate::mode`]).
//!
//! Why upsd wants them too: on a first run nut-driver.target is already active (the package
//! started it while MODE was none), and starting an active target again does not start the
//! drivers it has come to want since; starting upsd does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the template unit is installed; the symlinks point at it.
pub const TEMPLATE: &str = "/lib/systemd/system/nut-driver@.service";

/// `name` escaped as `systemd-escape` escapes an instance name (the unit's `%I` gives it
/// back): ASCII letters, digits, `:`, `_` and `.` (not leading) stay, `/` becomes `-`, any
/// other byte `\xNN`.
pub fn escape(name: &str) -> String {
    let mut out = String::new();
    for (i, b) in name.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.') => {
                out.push(char::from(b))
            }
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The unit names for the sections of the ups.conf at `ups_conf`, in file order; none when
/// the file does not exist.
pub fn units(ups_conf: &Path) -> Result<Vec<String>, nut_conf::Error> {
    let conf = match nut_conf::ups_conf::load(ups_conf) {
        Ok(c) => c,
        Err(nut_conf::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    Ok(conf
        .sections
        .iter()
        .map(|s| format!("nut-driver@{}.service", escape(&s.name)))
        .collect())
}

/// The units that want every driver: a `<unit>.wants` directory each.
pub const WANTED_BY: [&str; 2] = ["nut-driver.target", "nut-server.service"];

/// Write `<dir>/<unit>.wants/<driver unit>` symlinks to [`TEMPLATE`], for each unit of
/// [`WANTED_BY`].
pub fn generate(dir: &Path, units: &[String]) -> std::io::Result<()> {
    if units.is_empty() {
        return Ok(());
    }
    for by in WANTED_BY {
        let wants = dir.join(format!("{by}.wants"));
        std::fs::create_dir_all(&wants).map_err(|e| in_dir(&wants, e))?;
        for u in units {
            std::os::unix::fs::symlink(TEMPLATE, wants.join(u)).map_err(|e| in_dir(&wants, e))?;
        }
    }
    Ok(())
}

/// `e`, its message naming `dir`.
fn in_dir(dir: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()))
}

/// The program: `args` are the generator's directories (normal, early, late); the links go
/// into the normal one. ups.conf is in [`nut_daemon::confpath`].
pub fn main(args: &[String]) -> ExitCode {
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: nut-driver-generator <normal-dir> [<early-dir> <late-dir>]");
        return ExitCode::FAILURE;
    };
    let path = nut_daemon::confpath().join("ups.conf");
    let result = units(&path)
        .map_err(|e| e.to_string())
        .and_then(|u| generate(&dir, &u).map_err(|e| e.to_string()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nut-driver-generator: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_systemd_escape() {
        // (each checked with systemd-escape)
        assert_eq!(escape("ups"), "ups");
        assert_eq!(escape("my-ups"), "my\\x2dups");
        assert_eq!(escape("rack_2.a:b"), "rack_2.a:b");
        assert_eq!(escape(".hidden"), "\\x2ehidden");
        assert_eq!(escape("a b/c"), "a\\x20b-c");
    }

    #[test]
    fn one_link_per_section() {
        let d = tempfile::tempdir().unwrap();
        let conf = d.path().join("ups.conf");
        std::fs::write(
            &conf,
            "maxretry = 3\n[ups]\n driver = usbhid-ups\n port = auto\n[my-ups]\n driver = usbhid-ups\n port = auto\n",
        )
        .unwrap();
        let out = d.path().join("gen");
        generate(&out, &units(&conf).unwrap()).unwrap();
        for by in ["nut-driver.target.wants", "nut-server.service.wants"] {
            let wants = out.join(by);
            let mut names: Vec<String> = std::fs::read_dir(&wants)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(
                names,
                ["nut-driver@my\\x2dups.service", "nut-driver@ups.service"],
                "{by}"
            );
            assert_eq!(
                std::fs::read_link(wants.join("nut-driver@ups.service")).unwrap(),
                PathBuf::from(TEMPLATE)
            );
        }
    }

    #[test]
    fn no_ups_conf_no_links_bad_one_named() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            units(&d.path().join("ups.conf")).unwrap(),
            Vec::<String>::new()
        );
        generate(&d.path().join("gen"), &[]).unwrap();
        assert!(!d.path().join("gen").exists());
        let conf = d.path().join("ups.conf");
        std::fs::write(&conf, "[ups]\n driver = usbhid-ups\n[UPS]\n").unwrap();
        let e = units(&conf).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:3: ", conf.display())), "{e}");
    }
}
