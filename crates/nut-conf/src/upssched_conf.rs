//! `upssched.conf`: timers started and cancelled by upsmon notifications.
//!
//! upssched reads the file top to bottom, so `CMDSCRIPT`, `PIPEFN` and `LOCKFN` must come
//! before the first `AT`. Keywords and AT commands are case-sensitive; `DEBUG_MIN` is not.
//! Unknown directives or commands, bad timer lengths and unknown event names are errors here
//! (stock upssched only logs some of them, and then never fires the timer). So are a timer
//! longer than [`MAX_TIMER_SECS`] and a `CANCEL-TIMER` naming a timer no `START-TIMER` in the
//! file starts (a typo that would leave the timer running).

use std::path::{Path, PathBuf};

use crate::file::{each_parseconf_line, load_with};
use crate::notify::NotifyEvent;
use crate::value::{
    arity, command, debug_min, non_empty_path, one, parse_unsigned, unknown_directive,
};
use crate::{ConfError, Error};

/// What an `AT` line does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtCommand {
    /// `START-TIMER <name> <secs>`: start an independent timer.
    StartTimer {
        /// Timer name, passed to CMDSCRIPT on expiry.
        name: String,
        /// Seconds until it fires.
        secs: u64,
    },
    /// `START-TIMER-SHARED <name> <secs>`: start unless already running (not in 2.8.0).
    StartTimerShared {
        /// Timer name.
        name: String,
        /// Seconds until it fires.
        secs: u64,
    },
    /// `CANCEL-TIMER <name> [<cmd>]`: cancel; run `<cmd>` if no such timer was running.
    CancelTimer {
        /// Timer name.
        name: String,
        /// Command for CMDSCRIPT when nothing was cancelled.
        cmd: Option<String>,
    },
    /// `CANCEL-TIMER-MATCHED <name> [<cmd>]`: as above, only for the same UPS and event
    /// (not in 2.8.0).
    CancelTimerMatched {
        /// Timer name.
        name: String,
        /// Command for CMDSCRIPT when nothing was cancelled.
        cmd: Option<String>,
    },
    /// `EXECUTE <name>`: run CMDSCRIPT `<name>` now.
    Execute {
        /// Argument for CMDSCRIPT.
        name: String,
    },
}

/// One `AT <notifytype> <upsname|*> <command> <args>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// Notify event.
    pub notifytype: NotifyEvent,
    /// Exact `UPSNAME` (the MONITOR system string) or `*`.
    pub upsname: String,
    /// What to do.
    pub command: AtCommand,
    /// Line number.
    pub line: usize,
}

impl At {
    /// Does this line apply to env `UPSNAME` and `NOTIFYTYPE`? The UPS name is compared
    /// exactly (or `*`), the type case-insensitively, as upssched does.
    pub fn matches(&self, upsname: &str, notifytype: &str) -> bool {
        (self.upsname == "*" || self.upsname == upsname)
            && NotifyEvent::from_name(notifytype) == Some(self.notifytype)
    }
}

/// A parsed `upssched.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsschedConf {
    /// `CMDSCRIPT`: the script run with a timer or command name.
    pub cmdscript: Option<String>,
    /// `PIPEFN`: the timer daemon's socket.
    pub pipefn: Option<PathBuf>,
    /// `LOCKFN`: lock file against start races.
    pub lockfn: Option<PathBuf>,
    /// `DEBUG_MIN`.
    pub debug_min: Option<u32>,
    /// `AT` lines in file order.
    pub ats: Vec<At>,
    /// Accepted lines with no effect (`file:line: ...`); none are produced today.
    pub warnings: Vec<String>,
}

impl UpsschedConf {
    /// The `AT` lines to run, in order, for env `UPSNAME` and `NOTIFYTYPE`.
    pub fn matching<'a>(
        &'a self,
        upsname: &'a str,
        notifytype: &'a str,
    ) -> impl Iterator<Item = &'a At> + 'a {
        self.ats
            .iter()
            .filter(move |a| a.matches(upsname, notifytype))
    }
}

/// The longest timer accepted: one day. No UPS runs a host that long on battery; a longer
/// value is a typo (stock would take it and never fire in time).
pub const MAX_TIMER_SECS: u64 = 86_400;

const KEYWORDS: &[&str] = &["CMDSCRIPT", "PIPEFN", "LOCKFN", "DEBUG_MIN", "AT"];
const COMMANDS: &[&str] = &[
    "START-TIMER",
    "START-TIMER-SHARED",
    "CANCEL-TIMER",
    "CANCEL-TIMER-MATCHED",
    "EXECUTE",
];

fn at_command(cmd: &str, args: &[String]) -> Result<AtCommand, String> {
    let name = args[0].clone();
    if name.is_empty() {
        return Err(format!("{cmd} needs a non-empty name"));
    }
    let timer = |args: &[String]| -> Result<u64, String> {
        match args {
            [_, secs] if secs.starts_with('-') => Err(format!(
                "{cmd} needs a timer length of 0 to {MAX_TIMER_SECS} seconds, got {secs}"
            )),
            [_, secs] => match parse_unsigned(secs) {
                Some(n) if n <= MAX_TIMER_SECS => Ok(n),
                Some(_) => Err(format!(
                    "{cmd} needs a timer length of 0 to {MAX_TIMER_SECS} seconds (one day), got {secs}"
                )),
                None if secs.bytes().all(|b| b.is_ascii_digit()) && !secs.is_empty() => Err(
                    format!("{cmd} needs a timer length of 0 to {MAX_TIMER_SECS} seconds (one day), got {secs}"),
                ),
                None => Err(format!("{cmd} expects a whole number of seconds, got {secs:?}")),
            },
            _ => Err(format!("{cmd} takes a timer name and a number of seconds")),
        }
    };
    let cancel_cmd = || args.get(1).cloned();
    Ok(match cmd {
        "START-TIMER" => AtCommand::StartTimer {
            name,
            secs: timer(args)?,
        },
        "START-TIMER-SHARED" => AtCommand::StartTimerShared {
            name,
            secs: timer(args)?,
        },
        "CANCEL-TIMER" => AtCommand::CancelTimer {
            name,
            cmd: cancel_cmd(),
        },
        "CANCEL-TIMER-MATCHED" => AtCommand::CancelTimerMatched {
            name,
            cmd: cancel_cmd(),
        },
        "EXECUTE" => {
            if args.len() > 1 {
                return Err("EXECUTE takes one command name".into());
            }
            AtCommand::Execute { name }
        }
        _ => {
            let hint = match COMMANDS.iter().find(|c| c.eq_ignore_ascii_case(cmd)) {
                Some(c) => format!("; commands are case-sensitive, did you mean {c}?"),
                None => format!("; expected one of {}", COMMANDS.join(", ")),
            };
            return Err(format!("unknown AT command {cmd:?}{hint}"));
        }
    })
}

fn apply(conf: &mut UpsschedConf, words: &[String], line: usize) -> Result<(), String> {
    let key = words[0].as_str();
    if let Some(level) = debug_min(words)? {
        conf.debug_min = Some(level);
        return Ok(());
    }
    match key {
        "CMDSCRIPT" => conf.cmdscript = Some(command(key, words)?),
        "PIPEFN" => conf.pipefn = Some(non_empty_path(key, &one(words)?)?),
        "LOCKFN" => conf.lockfn = Some(non_empty_path(key, &one(words)?)?),
        "AT" => {
            arity(
                words,
                4,
                5,
                "<notifytype> <upsname|*> <command> <name> [<arg>]",
            )?;
            for (set, what) in [
                (conf.cmdscript.is_some(), "CMDSCRIPT"),
                (conf.pipefn.is_some(), "PIPEFN"),
                (conf.lockfn.is_some(), "LOCKFN"),
            ] {
                if !set {
                    return Err(format!("{what} must be set before any AT line"));
                }
            }
            let notifytype = NotifyEvent::parse(&words[1])?;
            if words[2].is_empty() {
                return Err("AT needs a UPS name or *, got an empty value".into());
            }
            conf.ats.push(At {
                notifytype,
                upsname: words[2].clone(),
                command: at_command(&words[3], &words[4..])?,
                line,
            });
        }
        _ => return Err(unknown_directive(key, KEYWORDS)),
    }
    Ok(())
}

/// Every `CANCEL-TIMER` must name a timer some `START-TIMER` line starts.
fn check_cancelled_names(conf: &UpsschedConf, file: &Path) -> Result<(), ConfError> {
    let started: Vec<&str> = conf
        .ats
        .iter()
        .filter_map(|a| match &a.command {
            AtCommand::StartTimer { name, .. } | AtCommand::StartTimerShared { name, .. } => {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect();
    for at in &conf.ats {
        if let AtCommand::CancelTimer { name, .. } | AtCommand::CancelTimerMatched { name, .. } =
            &at.command
        {
            if !started.contains(&name.as_str()) {
                let known = if started.is_empty() {
                    "no START-TIMER line starts any".to_string()
                } else {
                    let mut names = started.clone();
                    names.sort_unstable();
                    names.dedup();
                    format!("timers started here: {}", names.join(", "))
                };
                return Err(ConfError::new(
                    file,
                    at.line,
                    format!("unknown timer name {name:?}: no START-TIMER starts it ({known})"),
                ));
            }
        }
    }
    Ok(())
}

/// Parse the bytes of an `upssched.conf`; `file` is only used in messages.
pub fn parse(text: &[u8], file: &Path) -> Result<UpsschedConf, ConfError> {
    let mut conf = UpsschedConf::default();
    conf.warnings = each_parseconf_line(text, file, |words, n, _| apply(&mut conf, &words, n))?;
    check_cancelled_names(&conf, file)?;
    Ok(conf)
}

/// Read and parse an `upssched.conf`.
pub fn load(path: &Path) -> Result<UpsschedConf, Error> {
    load_with(path, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "CMDSCRIPT /bin/cmd\nPIPEFN /run/p\nLOCKFN /run/l\n";

    parse_helpers!("upssched.conf", UpsschedConf);

    #[test]
    fn spec_example() {
        let c = ok(r#"CMDSCRIPT /usr/bin/upssched-cmd
PIPEFN /run/nut/upssched.pipe
LOCKFN /run/nut/upssched.lock
AT ONBATT * START-TIMER onbatt 300
AT ONLINE * CANCEL-TIMER onbatt online
AT COMMBAD apc@localhost START-TIMER commbad 30
AT COMMOK apc@localhost CANCEL-TIMER commbad
"#);
        assert_eq!(c.cmdscript.as_deref(), Some("/usr/bin/upssched-cmd"));
        assert_eq!(c.pipefn, Some(PathBuf::from("/run/nut/upssched.pipe")));
        assert_eq!(c.lockfn, Some(PathBuf::from("/run/nut/upssched.lock")));
        assert_eq!(
            c.ats[0],
            At {
                notifytype: NotifyEvent::OnBatt,
                upsname: "*".into(),
                command: AtCommand::StartTimer {
                    name: "onbatt".into(),
                    secs: 300
                },
                line: 4,
            }
        );
        assert_eq!(
            c.ats[1].command,
            AtCommand::CancelTimer {
                name: "onbatt".into(),
                cmd: Some("online".into())
            }
        );
        assert_eq!(
            c.ats[3].command,
            AtCommand::CancelTimer {
                name: "commbad".into(),
                cmd: None
            }
        );
        let hits: Vec<usize> = c
            .matching("apc@localhost", "commbad")
            .map(|a| a.line)
            .collect();
        assert_eq!(hits, vec![6]);
        assert_eq!(c.matching("APC@localhost", "COMMBAD").count(), 0);
        assert_eq!(c.matching("other@h", "onbatt").count(), 1);
    }

    #[test]
    fn newer_commands_and_debug_min() {
        let c = ok(&format!(
            "{HEAD}debug_min 1\nAT onbatt * START-TIMER-SHARED t 5\nAT ONLINE * CANCEL-TIMER-MATCHED t back\nAT LOWBATT * EXECUTE now\n"
        ));
        assert_eq!(c.debug_min, Some(1));
        assert_eq!(
            c.ats.iter().map(|a| a.command.clone()).collect::<Vec<_>>(),
            vec![
                AtCommand::StartTimerShared {
                    name: "t".into(),
                    secs: 5
                },
                AtCommand::CancelTimerMatched {
                    name: "t".into(),
                    cmd: Some("back".into())
                },
                AtCommand::Execute { name: "now".into() },
            ]
        );
        assert_eq!(c.ats[0].notifytype, NotifyEvent::OnBatt);
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            fail("PIPEFN /p\nLOCKFN /l\nAT ONBATT * START-TIMER t 5\n"),
            "upssched.conf:3: CMDSCRIPT must be set before any AT line"
        );
        assert_eq!(
            fail("CMDSCRIPT /c\nLOCKFN /l\nAT ONBATT * START-TIMER t 5\n"),
            "upssched.conf:3: PIPEFN must be set before any AT line"
        );
        assert_eq!(
            fail("CMDSCRIPT /c\nPIPEFN /p\nAT ONBATT * START-TIMER t 5\n"),
            "upssched.conf:3: LOCKFN must be set before any AT line"
        );
        // after the three lines every AT needs: line 4
        for (at, want) in [
            (
                "AT ONBATT * START-TIMER t",
                "START-TIMER takes a timer name and a number of seconds",
            ),
            (
                "AT ONBATT * START-TIMER t 5m",
                "START-TIMER expects a whole number of seconds, got \"5m\"",
            ),
            (
                "AT ONBATT * start-timer t 5",
                "unknown AT command \"start-timer\"; commands are case-sensitive, did you mean START-TIMER?",
            ),
            (
                "AT ONBATT * STOP t",
                "unknown AT command \"STOP\"; expected one of START-TIMER, START-TIMER-SHARED, CANCEL-TIMER, CANCEL-TIMER-MATCHED, EXECUTE",
            ),
            ("AT ONBATT * EXECUTE a b", "EXECUTE takes one command name"),
            ("AT ONBATT * EXECUTE \"\"", "EXECUTE needs a non-empty name"),
            (
                "AT ONBATT * START-TIMER",
                "AT takes <notifytype> <upsname|*> <command> <name> [<arg>], got 3 words",
            ),
        ] {
            assert_eq!(
                fail(&format!("{HEAD}{at}\n")),
                format!("upssched.conf:4: {want}")
            );
        }
        for (secs, want) in [
            ("-5", "START-TIMER needs a timer length of 0 to 86400 seconds, got -5"),
            (
                "86401",
                "START-TIMER needs a timer length of 0 to 86400 seconds (one day), got 86401",
            ),
            (
                "99999999999999999999999",
                "START-TIMER needs a timer length of 0 to 86400 seconds (one day), got 99999999999999999999999",
            ),
        ] {
            assert_eq!(
                fail(&format!("{HEAD}AT ONBATT * START-TIMER t {secs}\n")),
                format!("upssched.conf:4: {want}")
            );
        }
        assert_eq!(
            ok(&format!("{HEAD}AT ONBATT * START-TIMER t 86400\n")).ats[0].command,
            AtCommand::StartTimer {
                name: "t".into(),
                secs: 86400
            }
        );
        assert_eq!(
            fail(&format!(
                "{HEAD}AT ONBATT * START-TIMER onbatt 5\nAT ONLINE * CANCEL-TIMER onbat back\n"
            )),
            "upssched.conf:5: unknown timer name \"onbat\": no START-TIMER starts it (timers started here: onbatt)"
        );
        assert_eq!(
            fail(&format!("{HEAD}AT ONLINE * CANCEL-TIMER t\n")),
            "upssched.conf:4: unknown timer name \"t\": no START-TIMER starts it (no START-TIMER line starts any)"
        );
        assert!(fail(&format!("{HEAD}AT ONBAT * EXECUTE x\n")).starts_with(
            "upssched.conf:4: unknown notify event \"ONBAT\"; expected one of ONLINE,"
        ));
        assert_eq!(
            fail("CMDSCRIPT /bin/cmd arg\n"),
            "upssched.conf:1: CMDSCRIPT takes one word; quote a command with arguments, e.g. CMDSCRIPT \"/bin/cmd arg\""
        );
        assert_eq!(
            fail("cmdscript /x\n"),
            "upssched.conf:1: unknown directive \"cmdscript\"; directives are case-sensitive, did you mean CMDSCRIPT?"
        );
        assert_eq!(
            fail("PIPEFN\n"),
            "upssched.conf:1: PIPEFN takes exactly one value, got 0 words"
        );
    }
}
