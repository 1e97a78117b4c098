//! Least privilege: after binding its ports as root, upsd runs as an unprivileged user.

use anyhow::{bail, Context, Result};
use nix::unistd::{setgid, setgroups, setuid, Uid, User};

/// The account Debian's NUT runs as.
pub const DEFAULT_USER: &str = "nut";

/// Look the user up now (before any chroot), so a typo fails early.
pub fn lookup(name: &str) -> Result<User> {
    match User::from_name(name).with_context(|| format!("looking up user {name}"))? {
        Some(u) => Ok(u),
        None => bail!("user {name} not found"),
    }
}

/// Switch to `user` if running as root; a no-op for a normal user.
pub fn become_user(user: &User) -> Result<()> {
    if !Uid::effective().is_root() {
        return Ok(());
    }
    setgroups(&[user.gid]).context("setgroups")?;
    setgid(user.gid).context("setgid")?;
    setuid(user.uid).context("setuid")?;
    if user.uid.is_root() {
        return Ok(());
    }
    if setuid(Uid::from_raw(0)).is_ok() {
        bail!("could still regain root after dropping privileges");
    }
    Ok(())
}
