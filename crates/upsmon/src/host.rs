//! The daemon's seam to the rest of the machine it runs on: logging, the programs it runs
//! (`wall`, NOTIFYCMD, SHUTDOWNCMD), the webhooks, the POWERDOWNFLAG file, the root parent
//! and the wall clock. [`Host`] is what the daemon asks for; [`System`] does it, the tests
//! record it. (Timing is tokio's, which the tests pause and advance.)

use std::path::Path;
use std::time::SystemTime;

use nut_conf::upsmon_conf::NotifyUrl;

use crate::machine::LogLevel;
use crate::privsep::ParentLink;
use crate::webhook::Notification;
use crate::{exec, powerdown, privsep, webhook};

/// What the daemon does to the machine it runs on.
pub(crate) trait Host {
    /// Write a log line (stderr in the foreground, syslog in the background).
    fn log(&mut self, level: LogLevel, message: &str);
    /// Broadcast `message` with `wall`, in the background.
    fn wall(&mut self, message: &str);
    /// Run `NOTIFYCMD` for one notification in the background, with `UPSNAME` and
    /// `NOTIFYTYPE` in its environment.
    fn notifycmd(&mut self, cmd: &str, message: &str, upsname: &str, notifytype: &str);
    /// POST a notification to a `NOTIFYURL`, in the background.
    fn webhook(&mut self, hook: &NotifyUrl, notification: &Notification);
    /// The wall clock (to notice a suspend or a clock change).
    fn wall_clock(&self) -> SystemTime;
    /// Whether a root parent does the shutdown (NUT's split process model).
    fn has_parent(&self) -> bool;
    /// The root parent has exited (never true without one).
    fn parent_gone(&self) -> bool;
    /// Ask the root parent to create POWERDOWNFLAG and run SHUTDOWNCMD.
    fn ask_parent_to_shut_down(&mut self) -> Result<(), String>;
    /// Whether this process runs as root.
    fn is_root(&self) -> bool;
    /// Create the POWERDOWNFLAG file.
    fn set_powerdown_flag(&mut self, path: &Path) -> std::io::Result<()>;
    /// Run SHUTDOWNCMD and wait for it.
    async fn run_shutdowncmd(&mut self, cmd: &str);
}

/// The machine upsmon runs on.
pub(crate) struct System {
    /// The root parent, in the split process model.
    pub(crate) parent: Option<ParentLink>,
}

impl Host for System {
    fn log(&mut self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Debug => tracing::debug!("{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!("{message}"),
            LogLevel::Warning => tracing::warn!("{message}"),
            LogLevel::Error | LogLevel::Critical | LogLevel::Alert => {
                tracing::error!("{message}")
            }
        }
    }

    fn wall(&mut self, message: &str) {
        exec::spawn_wall(message);
    }

    fn notifycmd(&mut self, cmd: &str, message: &str, upsname: &str, notifytype: &str) {
        exec::spawn_notifycmd(cmd, message, upsname, notifytype);
    }

    fn webhook(&mut self, hook: &NotifyUrl, notification: &Notification) {
        webhook::spawn_send(hook, notification);
    }

    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    fn has_parent(&self) -> bool {
        self.parent.is_some()
    }

    fn parent_gone(&self) -> bool {
        self.parent.as_ref().is_some_and(|p| !p.parent_alive())
    }

    fn ask_parent_to_shut_down(&mut self) -> Result<(), String> {
        match &self.parent {
            Some(p) => p.request_shutdown().map_err(|e| e.to_string()),
            None => Err("no parent process".into()),
        }
    }

    fn is_root(&self) -> bool {
        privsep::is_root()
    }

    fn set_powerdown_flag(&mut self, path: &Path) -> std::io::Result<()> {
        powerdown::set(path)
    }

    async fn run_shutdowncmd(&mut self, cmd: &str) {
        let cmd = cmd.to_string();
        let _ = tokio::task::spawn_blocking(move || exec::run_shutdowncmd(&cmd)).await;
    }
}
