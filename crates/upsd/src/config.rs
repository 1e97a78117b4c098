//! Loading upsd's files from CONFPATH: upsd.conf, ups.conf and upsd.users, plus
//! `cmdvartab` from DATAPATH. Every error names the file and line.

use std::path::{Path, PathBuf};

use nut_conf::upsd_conf::UpsdConf;
use nut_conf::upsd_users::Users;

use crate::state::Descriptions;
use crate::Error;

/// One UPS upsd serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpsDef {
    pub(crate) name: String,
    pub(crate) desc: Option<String>,
    /// `<driver>-<name>`, relative to STATEPATH.
    pub(crate) socket_name: String,
}

/// upsd.conf with the paths it decides resolved.
#[derive(Debug, Clone)]
pub(crate) struct ServerConf {
    pub(crate) upsd: UpsdConf,
    pub(crate) statepath: PathBuf,
    pub(crate) datapath: PathBuf,
}

/// STATEPATH as 2.8.0 upsd picks it: upsd.conf, then env `NUT_STATEPATH`, then built in.
pub(crate) fn load_server_conf(confpath: &Path) -> Result<ServerConf, Error> {
    let upsd = nut_conf::upsd_conf::load(&confpath.join("upsd.conf"))?;
    for w in &upsd.warnings {
        tracing::warn!("{w}");
    }
    let statepath = upsd.statepath.clone().unwrap_or_else(nut_daemon::statepath);
    let datapath = upsd
        .datapath
        .clone()
        .unwrap_or_else(|| PathBuf::from(nut_daemon::paths::DEFAULT_DATAPATH));
    Ok(ServerConf {
        upsd,
        statepath,
        datapath,
    })
}

/// The UPSes of ups.conf that upsd can serve (sections with both `driver` and `port`).
pub(crate) fn load_upses(confpath: &Path, allow_no_device: bool) -> Result<Vec<UpsDef>, Error> {
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
        return Err(Error::NoUps { file });
    }
    Ok(upses)
}

/// Warn (stock warns and carries on) about the files with secrets that others may read or
/// write: upsd.conf, ups.conf, upsd.users and the CERTFILE.
pub(crate) fn warn_perms(confpath: &Path, conf: &ServerConf) {
    let files = ["upsd.conf", "ups.conf", "upsd.users"].map(|f| confpath.join(f));
    let mut paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    if let Some(cert) = &conf.upsd.certfile {
        paths.push(cert);
    }
    nut_daemon::perms::warn_secret_files(&paths);
}

pub(crate) fn load_users(confpath: &Path) -> Result<Users, Error> {
    let users = nut_conf::upsd_users::load(&confpath.join("upsd.users"))?;
    for w in &users.warnings {
        tracing::warn!("{w}");
    }
    Ok(users)
}

/// `cmdvartab` is optional: without it descriptions read "Description unavailable".
pub(crate) fn load_descriptions(datapath: &Path) -> Descriptions {
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
