//! Permission checks on the files that hold secrets (passwords in upsd.users and upsmon.conf,
//! CERTIDENT in upsd.conf, driver options in ups.conf). Stock upsd 2.8.0 warns, and carries
//! on, when upsd.conf or upsd.users is readable by others; nut-rs does the same for each file
//! it checks and also names a file others or its group may write (upsmon runs SHUTDOWNCMD as
//! root). The warning says the path, the mode and owner found, and what is expected: 0640
//! root:nut, as the package installs them.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The mode the files with secrets should have.
pub const EXPECTED_MODE: u32 = 0o640;
/// Their expected owner and group.
pub const EXPECTED_OWNER: &str = "root:nut";

/// What is wrong with `mode` for a file with secrets, in words; empty when nothing is.
fn problems(mode: u32, group: &str) -> Vec<String> {
    let mut p = Vec::new();
    // (Stock also warns about o+x, which shows nothing of a file's contents.)
    if mode & 0o004 != 0 {
        p.push("readable by others".to_string());
    }
    if mode & 0o002 != 0 {
        p.push("writable by others".to_string());
    }
    if mode & 0o020 != 0 {
        p.push(format!("writable by group {group}"));
    }
    p
}

/// The warning for a file `path` with `mode`, owned by `owner`:`group`, or `None` when the
/// mode is fine.
pub fn describe(path: &Path, mode: u32, owner: &str, group: &str) -> Option<String> {
    let p = problems(mode, group);
    if p.is_empty() {
        return None;
    }
    Some(format!(
        "{} is mode {:04o} ({owner}:{group}), {}: expected {EXPECTED_MODE:04o} {EXPECTED_OWNER}",
        path.display(),
        mode & 0o7777,
        p.join(", ")
    ))
}

/// The warning for the file with secrets at `path`, or `None` when its mode is fine or it
/// cannot be looked at (reading it reports that).
pub fn secret_file_warning(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let owner = nix::unistd::User::from_uid(meta.uid().into())
        .ok()
        .flatten()
        .map_or_else(|| meta.uid().to_string(), |u| u.name);
    let group = nix::unistd::Group::from_gid(meta.gid().into())
        .ok()
        .flatten()
        .map_or_else(|| meta.gid().to_string(), |g| g.name);
    describe(path, meta.mode(), &owner, &group)
}

/// Logs [`secret_file_warning`] of each file as a warning.
pub fn warn_secret_files(paths: &[&Path]) {
    for p in paths {
        if let Some(w) = secret_file_warning(p) {
            tracing::warn!("{w}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names_path_mode_owner_and_what_is_expected() {
        let p = Path::new("/etc/nut/upsd.users");
        assert_eq!(
            describe(p, 0o100644, "root", "root").as_deref(),
            Some("/etc/nut/upsd.users is mode 0644 (root:root), readable by others: expected 0640 root:nut")
        );
        assert_eq!(
            describe(p, 0o666, "nut", "nut").as_deref(),
            Some("/etc/nut/upsd.users is mode 0666 (nut:nut), readable by others, writable by others, writable by group nut: expected 0640 root:nut")
        );
        for fine in [0o640, 0o600, 0o400, 0o100640, 0o641] {
            assert_eq!(describe(p, fine, "root", "nut"), None, "{fine:o}");
        }
    }

    #[test]
    fn reads_the_mode_and_owner_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("upsmon.conf");
        std::fs::write(&f, "MONITOR ups@localhost 1 u p primary\n").unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        let name = |uid: u32| {
            nix::unistd::User::from_uid(uid.into())
                .unwrap()
                .map_or(uid.to_string(), |u| u.name)
        };
        let gname = |gid: u32| {
            nix::unistd::Group::from_gid(gid.into())
                .unwrap()
                .map_or(gid.to_string(), |g| g.name)
        };
        let owner = format!("{}:{}", name(meta.uid()), gname(meta.gid()));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o604)).unwrap();
        assert_eq!(
            secret_file_warning(&f),
            Some(format!(
                "{} is mode 0604 ({owner}), readable by others: expected 0640 root:nut",
                f.display()
            ))
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(secret_file_warning(&f), None);
        assert_eq!(secret_file_warning(&dir.path().join("missing")), None);
    }
}
