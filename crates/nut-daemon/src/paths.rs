//! Where NUT keeps its files, with one rule for the environment overrides: a variable that is
//! set and not empty wins, else the path Debian's NUT was built with.

use std::path::{Path, PathBuf};

/// Debian's compiled-in CONFPATH.
pub const DEFAULT_CONFPATH: &str = "/etc/nut";
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

/// The config directory: `NUT_CONFPATH`, else [`DEFAULT_CONFPATH`].
pub fn confpath() -> PathBuf {
    env_dir("NUT_CONFPATH").unwrap_or_else(|| PathBuf::from(DEFAULT_CONFPATH))
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
    fn set_and_not_empty_wins_else_the_default() {
        // The only test of this crate that touches these variables, so none can race it.
        std::env::set_var("NUT_CONFPATH", "/opt/nut/etc");
        assert_eq!(confpath(), PathBuf::from("/opt/nut/etc"));
        std::env::set_var("NUT_CONFPATH", "");
        assert_eq!(confpath(), PathBuf::from("/etc/nut"));
        std::env::remove_var("NUT_CONFPATH");
        assert_eq!(confpath(), PathBuf::from("/etc/nut"));

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
