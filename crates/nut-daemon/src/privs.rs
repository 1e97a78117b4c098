//! Least privilege: after binding ports or creating sockets as root, run as `nut` (or the
//! configured user) with that user's group, or a configured group, only.

use nix::unistd::{setgid, setgroups, setuid, Gid, Group, Uid, User};

/// The account Debian's NUT runs as.
pub const DEFAULT_USER: &str = "nut";

/// Why the switch to the unprivileged user failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivError {
    /// No such user in the password database.
    #[error("user {0} not found")]
    NoUser(String),
    /// No such group.
    #[error("group {0} not found")]
    NoGroup(String),
    /// The user or group database could not be read.
    #[error("looking up {what}: {source}")]
    Lookup {
        /// `user <name>` or `group <name>`.
        what: String,
        /// What the system said.
        source: nix::Error,
    },
    /// A set*id call failed.
    #[error("{call}: {source}")]
    Switch {
        /// `setgroups`, `setgid` or `setuid`.
        call: &'static str,
        /// What the system said.
        source: nix::Error,
    },
    /// setuid(0) still worked after the switch: the drop did not take.
    #[error("could still regain root after dropping privileges")]
    Regained,
}

/// Look a user up now (before any chroot), so a typo fails early.
pub fn lookup_user(name: &str) -> Result<User, PrivError> {
    User::from_name(name)
        .map_err(|source| PrivError::Lookup {
            what: format!("user {name}"),
            source,
        })?
        .ok_or_else(|| PrivError::NoUser(name.to_string()))
}

fn group_id(name: &str) -> Result<Gid, PrivError> {
    Ok(Group::from_name(name)
        .map_err(|source| PrivError::Lookup {
            what: format!("group {name}"),
            source,
        })?
        .ok_or_else(|| PrivError::NoGroup(name.to_string()))?
        .gid)
}

/// Switch to `user` (with `group`, else the user's own group) if running as root, and check
/// root cannot be regained; a no-op for a normal user.
pub fn become_user(user: &User, group: Option<&str>) -> Result<(), PrivError> {
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let gid = match group {
        Some(g) => group_id(g)?,
        None => user.gid,
    };
    let switch = |call| move |source| PrivError::Switch { call, source };
    setgroups(&[gid]).map_err(switch("setgroups"))?;
    setgid(gid).map_err(switch("setgid"))?;
    setuid(user.uid).map_err(switch("setuid"))?;
    if !user.uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivError::Regained);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_user_and_group_are_named() {
        let e = lookup_user("no-such-user-nut-rs").map(|u| u.name);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("user no-such-user-nut-rs not found".to_string())
        );
        assert_eq!(
            group_id("no-such-group-nut-rs").map_err(|e| e.to_string()),
            Err("group no-such-group-nut-rs not found".to_string())
        );
    }

    #[test]
    fn staying_the_same_user_is_fine() {
        // As root this switches to root (a no-op in effect); as anyone else it does nothing.
        if let Ok(me) = lookup_user(
            &User::from_uid(Uid::effective())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_default(),
        ) {
            assert!(become_user(&me, None).is_ok());
        }
    }
}
