//! Where NUT keeps its files, with one rule for the environment overrides: a variable that is
//! set and not empty wins, else the path Debian's NUT was built with. The config directory has
//! one more step: when /etc/nut does not exist but /etc/ups does (the RHEL/Fedora layout), it
//! is /etc/ups.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Debian's compiled-in CONFPATH.
pub const DEFAULT_CONFPATH: &str = "/etc/nut";
/// The config directory of RHEL's and Fedora's NUT, used when only it exists.
pub const RHEL_CONFPATH: &str = "/etc/ups";
/// Debian's compiled-in STATEPATH (driver sockets, PID files).
pub const DEFAULT_STATEPATH: &str = "/run/nut";
/// Debian's compiled-in DATAPATH (`cmdvartab`).
pub const DEFAULT_DATAPATH: &str = "/usr/share/nut";

/// `var` when it is set and not empty.
fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// There is no config directory to read a file from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfPathError {
    /// `NUT_CONFPATH` is not set and none of the candidate directories exists.
    #[error(
        "no configuration directory: neither {} exists (set NUT_CONFPATH)",
        neither(tried)
    )]
    Missing {
        /// The directories looked for, in order.
        tried: Vec<PathBuf>,
    },
}

/// `a nor b nor c`.
fn neither(tried: &[PathBuf]) -> String {
    let names: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    names.join(" nor ")
}

/// The config directory: `NUT_CONFPATH`, else /etc/nut, else /etc/ups when only that exists.
/// When neither exists this is still /etc/nut; a program that needs a file from it asks
/// [`conf_dir`] or [`conf_file`], which say so.
pub fn confpath() -> PathBuf {
    conf_dir().unwrap_or_else(|_| PathBuf::from(DEFAULT_CONFPATH))
}

/// The config directory as [`confpath`] finds it, or an error naming both directories tried
/// when `NUT_CONFPATH` is not set and neither /etc/nut nor /etc/ups exists.
pub fn conf_dir() -> Result<PathBuf, ConfPathError> {
    confpath_among(
        std::env::var_os("NUT_CONFPATH").as_deref(),
        &[Path::new(DEFAULT_CONFPATH), Path::new(RHEL_CONFPATH)],
    )
}

/// `name` in the config directory ([`conf_dir`]).
pub fn conf_file(name: &str) -> Result<PathBuf, ConfPathError> {
    conf_dir().map(|d| d.join(name))
}

/// The rule of [`conf_dir`] over any environment value and candidate directories: `env` when
/// set and not empty (whether it exists or not: the file's own error names it), else the
/// first candidate that is a directory.
pub fn confpath_among(env: Option<&OsStr>, candidates: &[&Path]) -> Result<PathBuf, ConfPathError> {
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    candidates
        .iter()
        .find(|c| c.is_dir())
        .map(|c| c.to_path_buf())
        .ok_or_else(|| ConfPathError::Missing {
            tried: candidates.iter().map(|c| c.to_path_buf()).collect(),
        })
}

/// The state directory: `NUT_STATEPATH`, else [`DEFAULT_STATEPATH`]. (upsd's STATEPATH
/// directive comes first; see [`altpidpath_for`].)
pub fn statepath() -> PathBuf {
    env_dir("NUT_STATEPATH").unwrap_or_else(|| PathBuf::from(DEFAULT_STATEPATH))
}

/// Where PID files go: `NUT_ALTPIDPATH`, else the state directory ([`statepath`]), as NUT
/// 2.8.1+ decides for every program.
pub fn altpidpath() -> PathBuf {
    altpidpath_for(&statepath())
}

/// `NUT_ALTPIDPATH`, else `statepath` (upsd's, which upsd.conf may set).
pub fn altpidpath_for(statepath: &Path) -> PathBuf {
    env_dir("NUT_ALTPIDPATH").unwrap_or_else(|| statepath.to_path_buf())
}

/// `<altpidpath>/<name>.pid`.
pub fn pidfile(name: &str) -> PathBuf {
    altpidpath().join(format!("{name}.pid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confpath_is_the_variable_else_etc_nut_else_etc_ups() {
        let root = tempfile::tempdir().expect("tempdir");
        let nut = root.path().join("etc/nut");
        let ups = root.path().join("etc/ups");
        let cands = [nut.as_path(), ups.as_path()];
        let env = OsStr::new("/opt/nut/etc");

        let err = confpath_among(None, &cands).expect_err("neither exists");
        assert_eq!(
            err.to_string(),
            format!(
                "no configuration directory: neither {} nor {} exists (set NUT_CONFPATH)",
                nut.display(),
                ups.display()
            )
        );
        // The variable wins even over a missing directory; empty counts as unset.
        assert_eq!(
            confpath_among(Some(env), &cands).expect("set"),
            PathBuf::from("/opt/nut/etc")
        );
        assert!(confpath_among(Some(OsStr::new("")), &cands).is_err());

        std::fs::create_dir_all(&ups).expect("mkdir ups");
        assert_eq!(confpath_among(None, &cands).expect("only /etc/ups"), ups);
        std::fs::create_dir_all(&nut).expect("mkdir nut");
        assert_eq!(confpath_among(None, &cands).expect("both"), nut);
        assert_eq!(
            confpath_among(Some(env), &cands).expect("set"),
            PathBuf::from(env)
        );

        // A file named like the directory is not a directory.
        std::fs::remove_dir(&nut).expect("rmdir");
        std::fs::write(&nut, "").expect("file");
        assert_eq!(
            confpath_among(None, &cands).expect("a file at etc/nut"),
            ups
        );
    }

    #[test]
    fn set_and_not_empty_wins_else_the_default() {
        // The only test of this crate that touches these variables, so none can race it.
        std::env::set_var("NUT_CONFPATH", "/opt/nut/etc");
        assert_eq!(confpath(), PathBuf::from("/opt/nut/etc"));
        assert_eq!(
            conf_file("ups.conf").expect("set"),
            PathBuf::from("/opt/nut/etc/ups.conf")
        );
        std::env::set_var("NUT_CONFPATH", "");
        let fallback = confpath_among(
            None,
            &[Path::new(DEFAULT_CONFPATH), Path::new(RHEL_CONFPATH)],
        )
        .unwrap_or_else(|_| PathBuf::from(DEFAULT_CONFPATH));
        assert_eq!(confpath(), fallback);
        std::env::remove_var("NUT_CONFPATH");
        assert_eq!(confpath(), fallback);

        std::env::remove_var("NUT_ALTPIDPATH");
        std::env::set_var("NUT_STATEPATH", "");
        assert_eq!(statepath(), PathBuf::from("/run/nut"));
        assert_eq!(pidfile("upsd"), PathBuf::from("/run/nut/upsd.pid"));
        std::env::set_var("NUT_STATEPATH", "/tmp/state");
        assert_eq!(altpidpath(), PathBuf::from("/tmp/state"));
        assert_eq!(
            altpidpath_for(Path::new("/srv/ups")),
            PathBuf::from("/srv/ups")
        );
        std::env::set_var("NUT_ALTPIDPATH", "/tmp/pids");
        assert_eq!(pidfile("upsmon"), PathBuf::from("/tmp/pids/upsmon.pid"));
        assert_eq!(
            altpidpath_for(Path::new("/srv/ups")),
            PathBuf::from("/tmp/pids")
        );
        std::env::remove_var("NUT_ALTPIDPATH");
        std::env::remove_var("NUT_STATEPATH");
    }
}
