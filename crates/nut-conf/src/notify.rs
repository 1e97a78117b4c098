//! upsmon's notify events: the vocabulary `NOTIFYFLAG`, `NOTIFYMSG`, `NOTIFYURLFLAG` (upsmon.conf)
//! and `AT` (upssched.conf) name, and what a notification does when nothing is configured.
//!
//! One table ([`NotifyEvent`]) holds each event's `NOTIFYTYPE` name and NUT's default message:
//! the default is the value `NOTIFYMSG` has when it is not set, as [`NotifyFlags::default_for`]
//! is the value of `NOTIFYFLAG`, so both defaults live with the type. The stock texts are what
//! `NOTIFYCMD` scripts and `upssched` setups match on, so they are kept byte for byte.

use std::fmt;

/// Declares [`NotifyEvent`] from one table: variant, `NOTIFYTYPE` name, default message.
macro_rules! notify_events {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $message:literal; )*) => {
        /// Every notify event any NUT release knows, in NUT's order of `NOTIFYTYPE` names
        /// (2.8.0 knows the first eleven and `CAL`), then nut-rs's own (`ONBATT_SHUTDOWN*`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum NotifyEvent {
            $( $(#[$doc])* $variant, )*
        }

        impl NotifyEvent {
            /// Every event, in NUT's order.
            pub const ALL: &'static [NotifyEvent] = &[$( NotifyEvent::$variant ),*];

            /// The `NOTIFYTYPE` name (`ONLINE`, `NOTCAL`, `SHUTDOWN_HOSTSYNC`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $( NotifyEvent::$variant => $name, )*
                }
            }

            /// NUT's message template, used when `NOTIFYMSG` does not set one: the first `%s`
            /// is the UPS system string (`ups@host`), a second one (`ALARM`, `OTHER`) the
            /// extra text.
            pub fn default_message(self) -> &'static str {
                match self {
                    $( NotifyEvent::$variant => $message, )*
                }
            }
        }
    };
}

notify_events! {
    /// The UPS went back on line power (not sent for the first `OL` after start).
    Online = "ONLINE", "UPS %s on line power";
    /// The UPS went on battery.
    OnBatt = "ONBATT", "UPS %s on battery";
    /// The battery became low.
    LowBatt = "LOWBATT", "UPS %s battery is low";
    /// Forced shutdown: `FSD` seen in the status, or this primary set it.
    Fsd = "FSD", "UPS %s: forced shutdown in progress";
    /// Communications regained after a loss.
    CommOk = "COMMOK", "Communications with UPS %s established";
    /// Communications lost.
    CommBad = "COMMBAD", "Communications with UPS %s lost";
    /// This host starts shutting down.
    Shutdown = "SHUTDOWN", "Auto logout and shutdown proceeding";
    /// The battery needs replacing (`RB`), repeated every `RBWARNTIME`.
    ReplBatt = "REPLBATT", "UPS %s battery needs to be replaced";
    /// The UPS has been unreachable for `NOCOMMWARNTIME`, repeated as long as it lasts.
    NoComm = "NOCOMM", "UPS %s is unavailable";
    /// upsmon's privileged parent died.
    NoParent = "NOPARENT", "upsmon parent process died - shutdown impossible";
    /// Calibration started (`CAL`).
    Cal = "CAL", "UPS %s: calibration in progress";
    /// Calibration finished.
    NotCal = "NOTCAL", "UPS %s: calibration finished";
    /// The UPS is administratively off or asleep (`OFF`).
    Off = "OFF", "UPS %s: administratively OFF or asleep";
    /// `OFF` went away.
    NotOff = "NOTOFF", "UPS %s: no longer administratively OFF or asleep";
    /// The UPS is on bypass (`BYPASS`).
    Bypass = "BYPASS", "UPS %s: on bypass (powered, not protecting)";
    /// `BYPASS` went away.
    NotBypass = "NOTBYPASS", "UPS %s: no longer on bypass";
    /// ECO mode (`ECO`).
    Eco = "ECO", "UPS %s: in ECO mode (as defined by vendor)";
    /// `ECO` went away.
    NotEco = "NOTECO", "UPS %s: no longer in ECO mode";
    /// `ALARM` appeared, or the `ups.alarm` text changed.
    Alarm = "ALARM", "UPS %s: one or more active alarms: [%s]";
    /// `ALARM` went away.
    NotAlarm = "NOTALARM", "UPS %s is no longer in an alarm state (no active alarms)";
    /// Overload (`OVER`).
    Over = "OVER", "UPS %s: overloaded";
    /// `OVER` went away.
    NotOver = "NOTOVER", "UPS %s: no longer overloaded";
    /// Trimming (`TRIM`).
    Trim = "TRIM", "UPS %s: trimming incoming voltage";
    /// `TRIM` went away.
    NotTrim = "NOTTRIM", "UPS %s: no longer trimming incoming voltage";
    /// Boosting (`BOOST`).
    Boost = "BOOST", "UPS %s: boosting incoming voltage";
    /// `BOOST` went away.
    NotBoost = "NOTBOOST", "UPS %s: no longer boosting incoming voltage";
    /// The set of unknown status tokens changed and is not empty.
    Other = "OTHER", "UPS %s: has at least one unclassified status token: [%s]";
    /// No unknown status tokens any more.
    NotOther = "NOTOTHER", "UPS %s has no unclassified status tokens anymore";
    /// The primary waits for secondaries to log out (2.8.5+).
    ShutdownHostsync = "SHUTDOWN_HOSTSYNC",
        "Shutdown initiated; primary system is waiting for secondaries to log out or time out";
    /// The OS is going to sleep.
    SuspendStarting = "SUSPEND_STARTING", "OS is entering sleep/suspend/hibernate mode";
    /// The OS woke up.
    SuspendFinished = "SUSPEND_FINISHED",
        "OS just finished sleep/suspend/hibernate mode, de-activating obsolete UPS readings to avoid an unfortunate shutdown";
    /// The clock jumped unexpectedly.
    SuspendTimejumpUnexpected = "SUSPEND_TIMEJUMP_UNEXPECTED",
        "Unexpected clock change by %s, treating as wake up from sleep";
    /// nut-rs: an `ONBATT_SHUTDOWN_*` limit was reached; the second `%s` says which.
    OnbattShutdown = "ONBATT_SHUTDOWN", "UPS %s: shutdown policy reached (%s)";
    /// nut-rs: the UPS is on line power again before an `ONBATT_SHUTDOWN_*` limit was reached.
    OnbattShutdownCancelled = "ONBATT_SHUTDOWN_CANCELLED",
        "UPS %s on line power again: timed shutdown cancelled";
    /// nut-rs: mains returned before any other host acted on the FSD this primary set, and it
    /// withdrew it (`CLEARFSD_ON_MAINS`).
    FsdCleared = "FSD_CLEARED", "UPS %s on line power again: forced shutdown withdrawn";
}

impl NotifyEvent {
    /// The event called `name` (case-insensitive, as `NOTIFYFLAG`/`NOTIFYMSG` take it).
    pub fn from_name(name: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL
            .iter()
            .copied()
            .find(|e| e.name().eq_ignore_ascii_case(name))
    }

    /// [`NotifyEvent::from_name`], or the message for `file:line` listing the known names.
    pub(crate) fn parse(v: &str) -> Result<NotifyEvent, String> {
        NotifyEvent::from_name(v).ok_or_else(|| {
            let names: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.name()).collect();
            format!(
                "unknown notify event {v:?}; expected one of {}",
                names.join(", ")
            )
        })
    }

    /// How many `%s` a `NOTIFYMSG` may hold: `ALARM`, `OTHER` and `ONBATT_SHUTDOWN` pass extra
    /// text.
    pub(crate) fn max_placeholders(self) -> usize {
        match self {
            NotifyEvent::Alarm | NotifyEvent::Other | NotifyEvent::OnbattShutdown => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a notification goes: `NOTIFYFLAG` words joined by `+`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyFlags {
    /// `SYSLOG`: log it.
    pub syslog: bool,
    /// `WALL`: broadcast it to logged-in users.
    pub wall: bool,
    /// `EXEC`: run `NOTIFYCMD` with it.
    pub exec: bool,
    /// `IGNORE`: do nothing at all.
    pub ignore: bool,
}

impl NotifyFlags {
    /// Stock flags for `event` in NUT 2.8.0: `SYSLOG+WALL`, but only `SYSLOG` for `CAL`.
    pub fn default_for(event: NotifyEvent) -> NotifyFlags {
        NotifyFlags {
            syslog: true,
            wall: event != NotifyEvent::Cal,
            exec: false,
            ignore: false,
        }
    }

    /// Parse `SYSLOG+WALL+EXEC` (flag names are case-sensitive, as in NUT); the error is the
    /// message for `file:line`.
    pub(crate) fn parse(s: &str) -> Result<NotifyFlags, String> {
        let mut flags = NotifyFlags::default();
        for part in s.split('+') {
            match part {
                "SYSLOG" => flags.syslog = true,
                "WALL" => flags.wall = true,
                "EXEC" => flags.exec = true,
                "IGNORE" => flags.ignore = true,
                _ => {
                    return Err(format!(
                        "unknown notify flag {part:?} in {s:?}; expected SYSLOG, WALL, EXEC or IGNORE joined by +"
                    ))
                }
            }
        }
        Ok(flags)
    }
}

impl fmt::Display for NotifyFlags {
    /// `SYSLOG+WALL` style; `IGNORE` alone when nothing is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.syslog, "SYSLOG"),
            (self.wall, "WALL"),
            (self.exec, "EXEC"),
            (self.ignore, "IGNORE"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if names.is_empty() {
            f.write_str("IGNORE")
        } else {
            f.write_str(&names.join("+"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_nut_order_and_case_insensitive() {
        let names: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), 35);
        assert_eq!(names[..4], ["ONLINE", "ONBATT", "LOWBATT", "FSD"]);
        assert_eq!(names[28..30], ["SHUTDOWN_HOSTSYNC", "SUSPEND_STARTING"]);
        assert_eq!(
            names[32..],
            [
                "ONBATT_SHUTDOWN",
                "ONBATT_SHUTDOWN_CANCELLED",
                "FSD_CLEARED"
            ]
        );
        for &e in NotifyEvent::ALL {
            assert_eq!(NotifyEvent::from_name(&e.name().to_lowercase()), Some(e));
        }
        assert_eq!(NotifyEvent::from_name("NOPE"), None);
        assert_eq!(
            NotifyEvent::ShutdownHostsync.to_string(),
            "SHUTDOWN_HOSTSYNC"
        );
    }

    #[test]
    fn default_flags() {
        assert_eq!(
            NotifyFlags::default_for(NotifyEvent::OnBatt).to_string(),
            "SYSLOG+WALL"
        );
        assert_eq!(
            NotifyFlags::default_for(NotifyEvent::Cal).to_string(),
            "SYSLOG"
        );
        assert_eq!(NotifyFlags::default().to_string(), "IGNORE");
    }
}
