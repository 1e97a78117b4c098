//! Notify events: their names (`NOTIFYTYPE`), stock messages and message formatting.
//!
//! The stock texts are what `NOTIFYCMD` scripts and `upssched` setups match on, so they are
//! kept byte for byte as NUT prints them.

use std::fmt;

/// Longest notification NUT formats (its buffer is 512 bytes including the final NUL).
pub const MAX_MESSAGE_LEN: usize = 511;

/// What upsmon logs and walls when it starts the power-fail shutdown (before `SHUTDOWN`).
pub const SHUTDOWN_BANNER: &str = "Executing automatic power-fail shutdown";

/// Every notify event upsmon knows, in NUT's order of `NOTIFYTYPE` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// The UPS went back on line power (not sent for the first `OL` after start).
    Online,
    /// The UPS went on battery.
    OnBatt,
    /// The battery became low.
    LowBatt,
    /// Forced shutdown: `FSD` seen in the status, or this primary set it.
    Fsd,
    /// Communications regained after a loss.
    CommOk,
    /// Communications lost.
    CommBad,
    /// This host starts shutting down.
    Shutdown,
    /// The primary waits for secondaries to log out (2.8.5+).
    ShutdownHostsync,
    /// The battery needs replacing (`RB`), repeated every `RBWARNTIME`.
    ReplBatt,
    /// The UPS has been unreachable for `NOCOMMWARNTIME`, repeated as long as it lasts.
    NoComm,
    /// upsmon's privileged parent died.
    NoParent,
    /// Calibration started (`CAL`).
    Cal,
    /// Calibration finished.
    NotCal,
    /// The UPS is administratively off or asleep (`OFF`).
    Off,
    /// `OFF` went away.
    NotOff,
    /// The UPS is on bypass (`BYPASS`).
    Bypass,
    /// `BYPASS` went away.
    NotBypass,
    /// ECO mode (`ECO`).
    Eco,
    /// `ECO` went away.
    NotEco,
    /// `ALARM` appeared, or the `ups.alarm` text changed.
    Alarm,
    /// `ALARM` went away.
    NotAlarm,
    /// Overload (`OVER`).
    Over,
    /// `OVER` went away.
    NotOver,
    /// Trimming (`TRIM`).
    Trim,
    /// `TRIM` went away.
    NotTrim,
    /// Boosting (`BOOST`).
    Boost,
    /// `BOOST` went away.
    NotBoost,
    /// The set of unknown status tokens changed and is not empty.
    Other,
    /// No unknown status tokens any more.
    NotOther,
    /// The OS is going to sleep.
    SuspendStarting,
    /// The OS woke up.
    SuspendFinished,
    /// The clock jumped unexpectedly.
    SuspendTimejumpUnexpected,
}

impl Event {
    /// Every event, in the order of `nut_conf::upsmon_conf::NOTIFY_EVENTS`.
    pub const ALL: [Event; 32] = [
        Event::Online,
        Event::OnBatt,
        Event::LowBatt,
        Event::Fsd,
        Event::CommOk,
        Event::CommBad,
        Event::Shutdown,
        Event::ReplBatt,
        Event::NoComm,
        Event::NoParent,
        Event::Cal,
        Event::NotCal,
        Event::Off,
        Event::NotOff,
        Event::Bypass,
        Event::NotBypass,
        Event::Eco,
        Event::NotEco,
        Event::Alarm,
        Event::NotAlarm,
        Event::Over,
        Event::NotOver,
        Event::Trim,
        Event::NotTrim,
        Event::Boost,
        Event::NotBoost,
        Event::Other,
        Event::NotOther,
        Event::ShutdownHostsync,
        Event::SuspendStarting,
        Event::SuspendFinished,
        Event::SuspendTimejumpUnexpected,
    ];

    /// The `NOTIFYTYPE` name (`ONLINE`, `NOTCAL`, `SHUTDOWN_HOSTSYNC`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Event::Online => "ONLINE",
            Event::OnBatt => "ONBATT",
            Event::LowBatt => "LOWBATT",
            Event::Fsd => "FSD",
            Event::CommOk => "COMMOK",
            Event::CommBad => "COMMBAD",
            Event::Shutdown => "SHUTDOWN",
            Event::ShutdownHostsync => "SHUTDOWN_HOSTSYNC",
            Event::ReplBatt => "REPLBATT",
            Event::NoComm => "NOCOMM",
            Event::NoParent => "NOPARENT",
            Event::Cal => "CAL",
            Event::NotCal => "NOTCAL",
            Event::Off => "OFF",
            Event::NotOff => "NOTOFF",
            Event::Bypass => "BYPASS",
            Event::NotBypass => "NOTBYPASS",
            Event::Eco => "ECO",
            Event::NotEco => "NOTECO",
            Event::Alarm => "ALARM",
            Event::NotAlarm => "NOTALARM",
            Event::Over => "OVER",
            Event::NotOver => "NOTOVER",
            Event::Trim => "TRIM",
            Event::NotTrim => "NOTTRIM",
            Event::Boost => "BOOST",
            Event::NotBoost => "NOTBOOST",
            Event::Other => "OTHER",
            Event::NotOther => "NOTOTHER",
            Event::SuspendStarting => "SUSPEND_STARTING",
            Event::SuspendFinished => "SUSPEND_FINISHED",
            Event::SuspendTimejumpUnexpected => "SUSPEND_TIMEJUMP_UNEXPECTED",
        }
    }

    /// The event called `name` (case-insensitive, as `NOTIFYFLAG`/`NOTIFYMSG` take it).
    pub fn from_name(name: &str) -> Option<Event> {
        Event::ALL
            .iter()
            .copied()
            .find(|e| e.name().eq_ignore_ascii_case(name))
    }

    /// NUT's message template: the first `%s` is the UPS system string (`ups@host`), a second
    /// one (`ALARM`, `OTHER`) the extra text.
    pub fn stock_message(self) -> &'static str {
        match self {
            Event::Online => "UPS %s on line power",
            Event::OnBatt => "UPS %s on battery",
            Event::LowBatt => "UPS %s battery is low",
            Event::Fsd => "UPS %s: forced shutdown in progress",
            Event::CommOk => "Communications with UPS %s established",
            Event::CommBad => "Communications with UPS %s lost",
            Event::Shutdown => "Auto logout and shutdown proceeding",
            Event::ShutdownHostsync => {
                "Shutdown initiated; primary system is waiting for secondaries to log out or time out"
            }
            Event::ReplBatt => "UPS %s battery needs to be replaced",
            Event::NoComm => "UPS %s is unavailable",
            Event::NoParent => "upsmon parent process died - shutdown impossible",
            Event::Cal => "UPS %s: calibration in progress",
            Event::NotCal => "UPS %s: calibration finished",
            Event::Off => "UPS %s: administratively OFF or asleep",
            Event::NotOff => "UPS %s: no longer administratively OFF or asleep",
            Event::Bypass => "UPS %s: on bypass (powered, not protecting)",
            Event::NotBypass => "UPS %s: no longer on bypass",
            Event::Eco => "UPS %s: in ECO mode (as defined by vendor)",
            Event::NotEco => "UPS %s: no longer in ECO mode",
            Event::Alarm => "UPS %s: one or more active alarms: [%s]",
            Event::NotAlarm => "UPS %s is no longer in an alarm state (no active alarms)",
            Event::Over => "UPS %s: overloaded",
            Event::NotOver => "UPS %s: no longer overloaded",
            Event::Trim => "UPS %s: trimming incoming voltage",
            Event::NotTrim => "UPS %s: no longer trimming incoming voltage",
            Event::Boost => "UPS %s: boosting incoming voltage",
            Event::NotBoost => "UPS %s: no longer boosting incoming voltage",
            Event::Other => "UPS %s: has at least one unclassified status token: [%s]",
            Event::NotOther => "UPS %s has no unclassified status tokens anymore",
            Event::SuspendStarting => "OS is entering sleep/suspend/hibernate mode",
            Event::SuspendFinished => {
                "OS just finished sleep/suspend/hibernate mode, de-activating obsolete UPS readings to avoid an unfortunate shutdown"
            }
            Event::SuspendTimejumpUnexpected => {
                "Unexpected clock change by %s, treating as wake up from sleep"
            }
        }
    }

    /// Whether the event concerns one UPS (`UPSNAME` set). `SHUTDOWN`, `SHUTDOWN_HOSTSYNC`,
    /// `NOPARENT` and the `SUSPEND_*` events run `NOTIFYCMD` with `UPSNAME` empty.
    pub fn is_per_ups(self) -> bool {
        !matches!(
            self,
            Event::Shutdown
                | Event::ShutdownHostsync
                | Event::NoParent
                | Event::SuspendStarting
                | Event::SuspendFinished
                | Event::SuspendTimejumpUnexpected
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fill a `NOTIFYMSG`-style template: the first `%s` becomes `system`, a second `%s` `extra`
/// (empty if none), further `%s` nothing; `%%` is a literal `%`; any other `%` sequence is
/// kept as written. The result is cut to [`MAX_MESSAGE_LEN`] bytes, as NUT's buffer does.
pub fn format_message(template: &str, system: &str, extra: Option<&str>) -> String {
    let mut out = String::with_capacity(template.len() + system.len());
    let mut args = [system, extra.unwrap_or("")].into_iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('s') => {
                chars.next();
                out.push_str(args.next().unwrap_or(""));
            }
            Some('%') => {
                chars.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    truncate_at_char(&mut out, MAX_MESSAGE_LEN);
    out
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_nut_conf_list() {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names, nut_conf::upsmon_conf::NOTIFY_EVENTS);
        for e in Event::ALL {
            assert_eq!(Event::from_name(&e.name().to_lowercase()), Some(e));
        }
        assert_eq!(Event::from_name("NOPE"), None);
    }

    #[test]
    fn stock_texts_2_8_0() {
        let m = |e: Event| format_message(e.stock_message(), "ups@host", None);
        assert_eq!(m(Event::Online), "UPS ups@host on line power");
        assert_eq!(m(Event::OnBatt), "UPS ups@host on battery");
        assert_eq!(m(Event::LowBatt), "UPS ups@host battery is low");
        assert_eq!(m(Event::Fsd), "UPS ups@host: forced shutdown in progress");
        assert_eq!(
            m(Event::CommOk),
            "Communications with UPS ups@host established"
        );
        assert_eq!(m(Event::CommBad), "Communications with UPS ups@host lost");
        assert_eq!(m(Event::Shutdown), "Auto logout and shutdown proceeding");
        assert_eq!(
            m(Event::ReplBatt),
            "UPS ups@host battery needs to be replaced"
        );
        assert_eq!(m(Event::NoComm), "UPS ups@host is unavailable");
        assert_eq!(
            m(Event::NoParent),
            "upsmon parent process died - shutdown impossible"
        );
        assert_eq!(m(Event::Cal), "UPS ups@host: calibration in progress");
    }

    #[test]
    fn two_placeholders() {
        assert_eq!(
            format_message(
                Event::Alarm.stock_message(),
                "u@h",
                Some("Replace battery!")
            ),
            "UPS u@h: one or more active alarms: [Replace battery!]"
        );
        assert_eq!(
            format_message(Event::Other.stock_message(), "u@h", Some("WAIT FOO")),
            "UPS u@h: has at least one unclassified status token: [WAIT FOO]"
        );
        // A NOTIFYMSG with one %s ignores the extra text.
        assert_eq!(format_message("%s alarm", "u@h", Some("x")), "u@h alarm");
    }

    #[test]
    fn percent_handling_and_truncation() {
        assert_eq!(format_message("100%% %d %s", "u", None), "100% %d u");
        assert_eq!(format_message("trailing %", "u", None), "trailing %");
        assert_eq!(format_message("%s %s %s", "a", Some("b")), "a b ");
        let long = "é".repeat(400);
        let out = format_message(&long, "u", None);
        assert!(out.len() <= MAX_MESSAGE_LEN);
        assert_eq!(out.len(), 510);
    }
}
