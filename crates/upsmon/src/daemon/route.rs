//! Where a notification goes: per `NOTIFYFLAG` to the log (`SYSLOG`), to `wall` (`WALL`) and
//! to `NOTIFYCMD` with `UPSNAME` and `NOTIFYTYPE` (`EXEC`), or nowhere (`IGNORE`); and per
//! `NOTIFYURLFLAG` to the webhooks, whatever `NOTIFYFLAG` says.

use nut_conf::notify::NotifyEvent;

use super::Daemon;
use crate::host::Host;
use crate::machine::LogLevel;
use crate::sessions::Sessions;
use crate::webhook::Notification;

impl<S: Sessions, H: Host> Daemon<S, H> {
    /// Deliver one notification about `ups` (`None`: not about one UPS).
    pub(super) fn notify(&mut self, event: NotifyEvent, ups: Option<usize>, message: &str) {
        let name = event.name();
        let flags = self.conf.notify_flags_for(event);
        let system = self.system(ups);
        if !flags.ignore {
            if flags.syslog {
                self.host.log(LogLevel::Warning, message);
            }
            if flags.wall {
                self.host.wall(message);
            }
            if flags.exec {
                match &self.conf.notifycmd {
                    Some(cmd) => self.host.notifycmd(cmd, message, &system, name),
                    None => self.host.log(
                        LogLevel::Debug,
                        &format!("EXEC for {name} but no NOTIFYCMD"),
                    ),
                }
            }
        }
        let hooks = self.conf.hooks_for(event);
        if hooks.is_empty() {
            return;
        }
        let notification = Notification {
            event: name.to_string(),
            ups: system,
            message: message.to_string(),
            status: ups
                .and_then(|i| self.slots.get(i))
                .map(|s| s.status.clone())
                .unwrap_or_default(),
            time: self.host.wall_clock(),
            host: self.settings.hostname.clone(),
        };
        for hook in hooks {
            self.host.webhook(hook, &notification);
        }
    }
}
