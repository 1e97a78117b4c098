//! The control commands ([`Command::parse`]) and the transfer faults they set ([`Faults`]).
//!
//! One command per line:
//!
//! | command | effect |
//! |---|---|
//! | `unplug` | the unit leaves the bus (detached from vhci) until `replug` |
//! | `replug [serial <S>]` | the unit comes back (detach first if attached), optionally presenting serial `S` |
//! | `mains off` / `mains on` | mains is cut / back: the unit's reports change as the recordings' power-failure events change them, and an interrupt-IN report announces it |
//! | `stall <target> [times <N>]` | the matching requests stall (`-EPIPE`) |
//! | `timeout <target> [times <N>]` | the matching requests are never answered (the host times out and unlinks them) |
//! | `short <id> <len> [times <N>]` | GET_REPORT of report `id` answers at most `len` bytes |
//! | `error <id> [times <N>]` | GET_REPORT and SET_REPORT of report `id` fail with a transfer error (`-EPROTO`) |
//! | `clear` | removes every fault set here |
//! | `status` | one line: `present=… attached=… output=… mains=… serial=… faults=…` |
//!
//! A `<target>` is `get_report [<id>]`, `set_report [<id>]` (no id: every report),
//! `get_descriptor`, `control` (every control request) or `interrupt` (the interrupt-IN pipe). A
//! report id is written `0x0c` or `12`. Without `times`, a fault lasts until `clear`; the first
//! fault (in the order set) that matches a request applies, and counts down.

use std::fmt;

/// A request, as the faults see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// GET_REPORT of an id.
    GetReport(u8),
    /// SET_REPORT of an id.
    SetReport(u8),
    /// GET_DESCRIPTOR.
    GetDescriptor,
    /// Any other control request.
    OtherControl,
    /// An interrupt-IN URB.
    Interrupt,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// GET_REPORT (of one id, or all).
    GetReport(Option<u8>),
    /// SET_REPORT (of one id, or all).
    SetReport(Option<u8>),
    /// GET_REPORT and SET_REPORT of one id.
    Report(u8),
    /// GET_DESCRIPTOR.
    GetDescriptor,
    /// Every control request.
    Control,
    /// The interrupt-IN pipe.
    Interrupt,
}

impl Target {
    fn matches(self, r: Request) -> bool {
        let id_ok = |want: Option<u8>, id: u8| want.is_none_or(|w| w == id);
        match (self, r) {
            (Target::GetReport(w), Request::GetReport(id)) => id_ok(w, id),
            (Target::SetReport(w), Request::SetReport(id)) => id_ok(w, id),
            (Target::Report(w), Request::GetReport(id) | Request::SetReport(id)) => w == id,
            (Target::GetDescriptor, Request::GetDescriptor) => true,
            (Target::Control, r) => r != Request::Interrupt,
            (Target::Interrupt, Request::Interrupt) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::GetReport(None) => f.write_str("get_report"),
            Target::GetReport(Some(id)) => write!(f, "get_report 0x{id:02x}"),
            Target::SetReport(None) => f.write_str("set_report"),
            Target::SetReport(Some(id)) => write!(f, "set_report 0x{id:02x}"),
            Target::Report(id) => write!(f, "0x{id:02x}"),
            Target::GetDescriptor => f.write_str("get_descriptor"),
            Target::Control => f.write_str("control"),
            Target::Interrupt => f.write_str("interrupt"),
        }
    }
}

/// What a fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer `-EPIPE`.
    Stall,
    /// Never answer.
    Timeout,
    /// Answer at most this many bytes.
    Short(usize),
    /// Answer `-EPROTO`.
    Error,
}

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// What it does.
    pub action: Action,
    /// To which requests.
    pub target: Target,
    /// How many more times (`None`: until cleared).
    pub times: Option<u32>,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            Action::Stall => write!(f, "stall {}", self.target)?,
            Action::Timeout => write!(f, "timeout {}", self.target)?,
            Action::Short(len) => match self.target {
                Target::GetReport(Some(id)) => write!(f, "short 0x{id:02x} {len}")?,
                t => write!(f, "short {t} {len}")?,
            },
            Action::Error => write!(f, "error {}", self.target)?,
        }
        if let Some(n) = self.times {
            write!(f, " ({n} left)")?;
        }
        Ok(())
    }
}

/// The faults in force.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    rules: Vec<Rule>,
}

impl Faults {
    /// Adds a fault, after those already set.
    pub fn add(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// What to do with `r`, if a fault matches it (it counts one use). A `short` fault only
    /// matches GET_REPORT.
    pub fn take(&mut self, r: Request) -> Option<Action> {
        let i = self.rules.iter().position(|rule| {
            rule.target.matches(r)
                && (!matches!(rule.action, Action::Short(_)) || matches!(r, Request::GetReport(_)))
        })?;
        let rule = &mut self.rules[i];
        let action = rule.action;
        if let Some(n) = &mut rule.times {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.rules.remove(i);
            }
        }
        Some(action)
    }

    /// Whether a `timeout interrupt` holds the interrupt pipe (not counted).
    pub fn holds_interrupts(&self) -> bool {
        self.rules
            .iter()
            .find(|r| r.target.matches(Request::Interrupt))
            .is_some_and(|r| r.action == Action::Timeout)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("none");
        }
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A control command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `unplug`.
    Unplug,
    /// `replug [serial <S>]`.
    Replug {
        /// Another serial number to present.
        serial: Option<String>,
    },
    /// `mains off` (false) or `mains on` (true).
    Mains(bool),
    /// `stall`, `timeout`, `short`, `error`.
    Fault(Rule),
    /// `clear`.
    Clear,
    /// `status`.
    Status,
}

fn report_id(s: &str) -> Result<u8, String> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => s.parse(),
    };
    v.map_err(|_| format!("{s:?} is not a report id (0x00..0xff)"))
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{s:?} is not {what}"))
}

impl Command {
    /// Parses one command line (the grammar is in the module documentation).
    pub fn parse(line: &str) -> Result<Command, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&verb, mut rest)) = words.split_first() else {
            return Err("empty command".into());
        };
        let mut times = None;
        if let [head @ .., "times", n] = rest {
            let n: u32 = number(n, "a count")?;
            if n == 0 {
                return Err("times 0 does nothing".into());
            }
            times = Some(n);
            rest = head;
        }
        let fault = |action, target| {
            Ok(Command::Fault(Rule {
                action,
                target,
                times,
            }))
        };
        let no_times = |c: Command| {
            if times.is_some() {
                Err(format!("{verb} takes no `times`"))
            } else {
                Ok(c)
            }
        };
        match (verb, rest) {
            ("unplug", []) => no_times(Command::Unplug),
            ("replug", []) => no_times(Command::Replug { serial: None }),
            ("replug", ["serial", s]) => no_times(Command::Replug {
                serial: Some((*s).to_string()),
            }),
            ("mains", ["off"]) => no_times(Command::Mains(false)),
            ("mains", ["on"]) => no_times(Command::Mains(true)),
            ("clear", []) => no_times(Command::Clear),
            ("status", []) => no_times(Command::Status),
            ("stall", t) => fault(Action::Stall, target(t)?),
            ("timeout", t) => fault(Action::Timeout, target(t)?),
            ("short", [id, len]) => fault(
                Action::Short(number(len, "a length")?),
                Target::GetReport(Some(report_id(id)?)),
            ),
            ("error", [id]) => fault(Action::Error, Target::Report(report_id(id)?)),
            _ => Err(format!(
                "unknown command {line:?} (unplug, replug [serial S], mains off|on, \
                 stall|timeout TARGET [times N], short ID LEN [times N], error ID [times N], \
                 clear, status)"
            )),
        }
    }
}

fn target(words: &[&str]) -> Result<Target, String> {
    Ok(match words {
        ["get_report"] => Target::GetReport(None),
        ["get_report", id] => Target::GetReport(Some(report_id(id)?)),
        ["set_report"] => Target::SetReport(None),
        ["set_report", id] => Target::SetReport(Some(report_id(id)?)),
        ["get_descriptor"] => Target::GetDescriptor,
        ["control"] => Target::Control,
        ["interrupt"] => Target::Interrupt,
        _ => {
            return Err(format!(
                "{:?} is not a target (get_report [ID], set_report [ID], get_descriptor, \
                 control, interrupt)",
                words.join(" ")
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(line: &str) -> Rule {
        match Command::parse(line).unwrap() {
            Command::Fault(r) => r,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn commands_parse() {
        assert_eq!(Command::parse("unplug"), Ok(Command::Unplug));
        assert_eq!(
            Command::parse(" replug  serial ABC123 "),
            Ok(Command::Replug {
                serial: Some("ABC123".into())
            })
        );
        assert_eq!(
            Command::parse("replug"),
            Ok(Command::Replug { serial: None })
        );
        assert_eq!(Command::parse("mains off"), Ok(Command::Mains(false)));
        assert_eq!(Command::parse(" mains  on "), Ok(Command::Mains(true)));
        assert_eq!(
            Command::parse("mains"),
            Err(
                "unknown command \"mains\" (unplug, replug [serial S], mains off|on, \
                 stall|timeout TARGET [times N], short ID LEN [times N], error ID [times N], \
                 clear, status)"
                    .into()
            )
        );
        assert_eq!(
            Command::parse("mains off times 2"),
            Err("mains takes no `times`".into())
        );
        assert_eq!(
            rule("stall get_report 0x0c times 2"),
            Rule {
                action: Action::Stall,
                target: Target::GetReport(Some(0x0c)),
                times: Some(2)
            }
        );
        assert_eq!(rule("timeout get_report").target, Target::GetReport(None));
        assert_eq!(rule("timeout interrupt").action, Action::Timeout);
        assert_eq!(
            rule("short 12 1"),
            Rule {
                action: Action::Short(1),
                target: Target::GetReport(Some(0x0c)),
                times: None
            }
        );
        assert_eq!(rule("error 0x40").target, Target::Report(0x40));
        for bad in [
            "",
            "stall",
            "stall get_report 0x100",
            "stall nothing",
            "short 0x0c",
            "error 0x0c times 0",
            "unplug times 2",
            "replug serial",
            "mains",
            "mains down",
            "mains off now",
            "status now",
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn first_matching_fault_applies_and_counts_down() {
        let mut f = Faults::default();
        f.add(rule("stall get_report 0x0c times 2"));
        f.add(rule("short 0x0c 1"));
        f.add(rule("error 0x15"));
        assert_eq!(
            f.to_string(),
            "stall get_report 0x0c (2 left); short 0x0c 1; error 0x15"
        );
        assert_eq!(f.take(Request::GetReport(0x0d)), None);
        assert_eq!(f.take(Request::GetReport(0x0c)), Some(Action::Stall));
        assert_eq!(f.take(Request::GetReport(0x0c)), Some(Action::Stall));
        assert_eq!(f.take(Request::GetReport(0x0c)), Some(Action::Short(1)));
        assert_eq!(f.take(Request::GetReport(0x0c)), Some(Action::Short(1)));
        assert_eq!(f.take(Request::SetReport(0x15)), Some(Action::Error));
        assert_eq!(f.take(Request::GetReport(0x15)), Some(Action::Error));
        assert_eq!(f.take(Request::SetReport(0x0c)), None, "short: GET only");
        assert!(!f.holds_interrupts());
        f.add(rule("timeout interrupt"));
        assert!(f.holds_interrupts());
        f.clear();
        assert_eq!(f.to_string(), "none");
        f.add(rule("stall control"));
        assert_eq!(f.take(Request::GetDescriptor), Some(Action::Stall));
        assert_eq!(f.take(Request::Interrupt), None);
    }
}
