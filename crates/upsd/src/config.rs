//! Loading upsd's files from CONFPATH: upsd.conf, ups.conf and upsd.users, plus
//! `cmdvartab` from DATAPATH. Every error names the file and line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use nut_conf::upsd_conf::UpsdConf;
use nut_conf::upsd_users::Users;

use crate::state::Descriptions;

/// Where Debian's NUT keeps driver sockets.
pub const DEFAULT_STATEPATH: &str = "/run/nut";
/// Where Debian's NUT keeps `cmdvartab`.
pub const DEFAULT_DATAPATH: &str = "/usr/share/nut";

/// One UPS upsd serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsDef {
    pub name: String,
    pub desc: Option<String>,
    /// `<driver>-<name>`, relative to STATEPATH.
    pub socket_name: String,
}

/// upsd.conf with the paths it decides resolved.
#[derive(Debug, Clone)]
pub struct ServerConf {
    pub upsd: UpsdConf,
    pub statepath: PathBuf,
    pub datapath: PathBuf,
}

/// STATEPATH as 2.8.0 upsd picks it: upsd.conf, then env `NUT_STATEPATH`, then built in.
pub fn load_server_conf(confpath: &Path) -> Result<ServerConf> {
    let upsd = nut_conf::upsd_conf::load(&confpath.join("upsd.conf"))?;
    for w in &upsd.warnings {
        tracing::warn!("{w}");
    }
    let statepath = upsd
        .statepath
        .clone()
        .or_else(|| std::env::var_os("NUT_STATEPATH").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATEPATH));
    let datapath = upsd
        .datapath
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATAPATH));
    Ok(ServerConf {
        upsd,
        statepath,
        datapath,
    })
}

/// The UPSes of ups.conf that upsd can serve (sections with both `driver` and `port`).
pub fn load_upses(confpath: &Path, allow_no_device: bool) -> Result<Vec<UpsDef>> {
    let file = confpath.join("ups.conf");
    let conf = nut_conf::ups_conf::load(&file)?;
    for w in &conf.warnings {
        tracing::warn!("{w}");
    }
    let mut upses = Vec::new();
    for s in &conf.sections {
        match (&s.driver, &s.port) {
            (Some(driver), Some(_)) => upses.push(UpsDef {
                name: s.name.clone(),
                desc: s.desc.clone(),
                socket_name: format!("{driver}-{}", s.name),
            }),
            _ => tracing::warn!(
                "{}:{}: UPS [{}]: ignoring incomplete configuration (needs driver and port)",
                file.display(),
                s.line,
                s.name
            ),
        }
    }
    let allow = allow_no_device || env_true("ALLOW_NO_DEVICE");
    if upses.is_empty() && !allow {
        bail!(
            "{}: no UPS defined (a section needs driver and port); set ALLOW_NO_DEVICE to run without one",
            file.display()
        );
    }
    Ok(upses)
}

pub fn load_users(confpath: &Path) -> Result<Users> {
    let users = nut_conf::upsd_users::load(&confpath.join("upsd.users"))?;
    for w in &users.warnings {
        tracing::warn!("{w}");
    }
    Ok(users)
}

/// `cmdvartab` is optional: without it descriptions read "Description unavailable".
pub fn load_descriptions(datapath: &Path) -> Descriptions {
    let file = datapath.join("cmdvartab");
    let text = match std::fs::read(&file) {
        Ok(text) => text,
        Err(e) => {
            tracing::info!(
                "{} not readable ({e}) - disabling descriptions",
                file.display()
            );
            return Descriptions::default();
        }
    };
    Descriptions::parse(&text, &file).unwrap_or_else(|e| {
        tracing::warn!("{e} - disabling descriptions");
        Descriptions::default()
    })
}

fn env_true(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// CONFPATH: env `NUT_CONFPATH`, else `/etc/nut`.
pub fn confpath() -> PathBuf {
    nut_daemon::confpath()
}

/// ALTPIDPATH: env `NUT_ALTPIDPATH`, else STATEPATH.
pub fn pidpath(statepath: &Path) -> PathBuf {
    std::env::var_os("NUT_ALTPIDPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| statepath.to_path_buf())
}
