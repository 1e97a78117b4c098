//! Driver socket messages in both directions, parsed from tokenizer words and formatted as
//! lines (without the trailing newline). Values are always sent quoted and escaped.

use nut_proto::{quote, word};

use crate::tree::{parse_aux, parse_range};

/// A message from a driver to upsd (or any socket client): a change of the tree, a state of
/// the data, or the answer to a request. In each variant, `var` names the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverMsg {
    /// `SETINFO <var> "<value>"`: set a variable.
    SetInfo {
        /// The variable.
        var: String,
        /// Its value, unescaped.
        value: String,
    },
    /// `DELINFO <var>`: remove a variable.
    DelInfo {
        /// The variable.
        var: String,
    },
    /// `ADDENUM <var> "<value>"`: one more allowed value.
    AddEnum {
        /// The variable.
        var: String,
        /// The allowed value, unescaped.
        value: String,
    },
    /// `DELENUM <var> "<value>"`: an allowed value less.
    DelEnum {
        /// The variable.
        var: String,
        /// The value no longer allowed, unescaped.
        value: String,
    },
    /// `ADDRANGE <var> <min> <max>`: one more allowed range.
    AddRange {
        /// The variable.
        var: String,
        /// Lower bound.
        min: i32,
        /// Upper bound.
        max: i32,
    },
    /// `DELRANGE <var> <min> <max>`: an allowed range less.
    DelRange {
        /// The variable.
        var: String,
        /// Lower bound.
        min: i32,
        /// Upper bound.
        max: i32,
    },
    /// `SETAUX <var> <n>`: the auxiliary value (a STRING variable's maximum length).
    SetAux {
        /// The variable.
        var: String,
        /// The value, as `strtol` reads it.
        aux: i64,
    },
    /// `SETFLAGS <var> <flag>...`: the variable's flags (`RW`, `STRING`, `NUMBER`).
    SetFlags {
        /// The variable.
        var: String,
        /// The flag words.
        flags: Vec<String>,
    },
    /// `ADDCMD <cmd>`: an instant command the driver accepts.
    AddCmd {
        /// The command.
        cmd: String,
    },
    /// `DELCMD <cmd>`: an instant command no longer accepted.
    DelCmd {
        /// The command.
        cmd: String,
    },
    /// `DATAOK`: the data is fresh.
    DataOk,
    /// `DATASTALE`: the data is stale (the device does not answer).
    DataStale,
    /// `DUMPDONE`: the end of a `DUMPALL` (or `DUMPVALUE`) answer.
    DumpDone,
    /// `PONG`: the answer to `PING`.
    Pong,
    /// `TRACKING <id> <n>`: the result of a tracked SET/INSTCMD.
    Tracking {
        /// The id the request carried.
        id: String,
        /// As `atoi` reads it (0 success, 1 unknown error, 2 invalid argument, 3 failed,
        /// 4 conversion failed).
        status: i32,
    },
}

impl DriverMsg {
    /// Recognise a line the way upsd 2.8.0 does (`server/sstate.c`): keywords ignore case,
    /// each needs a minimum number of words, extra words are ignored. `None` means "not
    /// recognised", which upsd ignores silently and which does not count as a sign of life.
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Option<DriverMsg> {
        let w = |i: usize| words.get(i).map(AsRef::as_ref);
        let kw = w(0)?.to_ascii_uppercase();
        let n = words.len();
        let msg = match (kw.as_str(), n) {
            ("PONG", _) => DriverMsg::Pong,
            ("DUMPDONE", _) => DriverMsg::DumpDone,
            ("DATASTALE", _) => DriverMsg::DataStale,
            ("DATAOK", _) => DriverMsg::DataOk,
            ("ADDCMD", 2..) => DriverMsg::AddCmd { cmd: w(1)?.into() },
            ("DELCMD", 2..) => DriverMsg::DelCmd { cmd: w(1)?.into() },
            ("DELINFO", 2..) => DriverMsg::DelInfo { var: w(1)?.into() },
            ("SETFLAGS", 3..) => DriverMsg::SetFlags {
                var: w(1)?.into(),
                flags: words[2..].iter().map(|s| s.as_ref().to_string()).collect(),
            },
            ("SETINFO", 3..) => DriverMsg::SetInfo {
                var: w(1)?.into(),
                value: w(2)?.into(),
            },
            ("ADDENUM", 3..) => DriverMsg::AddEnum {
                var: w(1)?.into(),
                value: w(2)?.into(),
            },
            ("DELENUM", 3..) => DriverMsg::DelEnum {
                var: w(1)?.into(),
                value: w(2)?.into(),
            },
            ("SETAUX", 3..) => DriverMsg::SetAux {
                var: w(1)?.into(),
                aux: parse_aux(w(2)?),
            },
            ("TRACKING", 3..) => DriverMsg::Tracking {
                id: w(1)?.into(),
                status: crate::num::atoi(w(2)?),
            },
            (kw @ ("ADDRANGE" | "DELRANGE"), 4..) => {
                let var = w(1)?.into();
                let (min, max) = parse_range(w(2)?, w(3)?);
                if kw == "ADDRANGE" {
                    DriverMsg::AddRange { var, min, max }
                } else {
                    DriverMsg::DelRange { var, min, max }
                }
            }
            _ => return None,
        };
        Some(msg)
    }

    /// The line a driver sends for this message.
    pub fn to_line(&self) -> String {
        match self {
            DriverMsg::SetInfo { var, value } => format!("SETINFO {} {}", word(var), quote(value)),
            DriverMsg::DelInfo { var } => format!("DELINFO {}", word(var)),
            DriverMsg::AddEnum { var, value } => format!("ADDENUM {} {}", word(var), quote(value)),
            DriverMsg::DelEnum { var, value } => format!("DELENUM {} {}", word(var), quote(value)),
            DriverMsg::AddRange { var, min, max } => format!("ADDRANGE {} {min} {max}", word(var)),
            DriverMsg::DelRange { var, min, max } => format!("DELRANGE {} {min} {max}", word(var)),
            DriverMsg::SetAux { var, aux } => format!("SETAUX {} {aux}", word(var)),
            DriverMsg::SetFlags { var, flags } => {
                format!("SETFLAGS {} {}", word(var), words(flags))
            }
            DriverMsg::AddCmd { cmd } => format!("ADDCMD {}", word(cmd)),
            DriverMsg::DelCmd { cmd } => format!("DELCMD {}", word(cmd)),
            DriverMsg::DataOk => "DATAOK".into(),
            DriverMsg::DataStale => "DATASTALE".into(),
            DriverMsg::DumpDone => "DUMPDONE".into(),
            DriverMsg::Pong => "PONG".into(),
            DriverMsg::Tracking { id, status } => format!("TRACKING {} {status}", word(id)),
        }
    }

    /// The line with its newline, as the bytes a driver writes.
    pub fn encode(&self) -> Vec<u8> {
        line_bytes(self.to_line())
    }
}

/// A driver's answer to `GETPID` or `LOGOUT`. Neither is state: upsd's [`DriverMsg::parse`]
/// does not recognise them (nor takes them as a sign of life); a tool talking to a driver reads
/// them with [`DriverReply::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverReply {
    /// `PID <n>`: the driver's process id.
    Pid(u32),
    /// `OK Goodbye`: the connection closes.
    Goodbye,
}

impl DriverReply {
    /// Recognise `PID <n>` (a number) or `OK Goodbye` (keywords ignore case).
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Option<DriverReply> {
        let w = |i: usize| words.get(i).map(AsRef::as_ref);
        match (w(0)?.to_ascii_uppercase().as_str(), w(1)) {
            ("PID", Some(n)) => n.parse().ok().map(DriverReply::Pid),
            ("OK", Some(g)) if g.eq_ignore_ascii_case("Goodbye") => Some(DriverReply::Goodbye),
            _ => None,
        }
    }

    /// The line a driver sends.
    pub fn to_line(&self) -> String {
        match self {
            DriverReply::Pid(pid) => format!("PID {pid}"),
            DriverReply::Goodbye => "OK Goodbye".into(),
        }
    }

    /// The line with its newline.
    pub fn encode(&self) -> Vec<u8> {
        line_bytes(self.to_line())
    }
}

/// Words joined by spaces, each as [`word`] writes it.
fn words(list: &[String]) -> String {
    list.iter().map(|w| word(w)).collect::<Vec<_>>().join(" ")
}

fn line_bytes(line: String) -> Vec<u8> {
    let mut b = line.into_bytes();
    b.push(b'\n');
    b
}

/// A message from upsd (or a tool like upsdrvctl, or `driver -c`) to a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsdMsg {
    /// `DUMPALL`: send the whole tree, then `DUMPDONE`.
    DumpAll,
    /// `PING`: answer `PONG`.
    Ping,
    /// `SET <var> "<value>" [TRACKING <id>]`: write a variable.
    Set {
        /// The variable.
        var: String,
        /// The value, unescaped.
        value: String,
        /// Answer `TRACKING <id> <n>` with this id.
        tracking: Option<String>,
    },
    /// `INSTCMD <cmd> [<param>] [TRACKING <id>]`: run an instant command.
    InstCmd {
        /// The command.
        cmd: String,
        /// Its parameter, unescaped.
        param: Option<String>,
        /// Answer `TRACKING <id> <n>` with this id.
        tracking: Option<String>,
    },
    /// `LOGOUT`: answer `OK Goodbye` and close.
    Logout,
    /// `GETPID`: answer `PID <n>`.
    GetPid,
    /// `NOBROADCAST`: stop sending changes to this connection.
    NoBroadcast,
    /// `BROADCAST [<n>]`: send changes again (`0` stops them).
    Broadcast(Option<i32>),
    /// `DUMPVALUE <var>`: send one variable, the data state and `DUMPDONE`.
    DumpValue(String),
    /// `DUMPSTATUS`: `DUMPVALUE ups.status`.
    DumpStatus,
}

impl UpsdMsg {
    /// Parse a request on the driver side, with the word-count rules of a NUT driver:
    /// INSTCMD takes 2, 3, 4 (`cmd TRACKING id`) or 5 words; SET takes 3 or 5 with TRACKING
    /// (a 4- or 6+-word SET runs, ignoring extra words, as 2.8.0 does).
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Option<UpsdMsg> {
        let w = |i: usize| words.get(i).map(AsRef::as_ref);
        let kw = w(0)?.to_ascii_uppercase();
        let n = words.len();
        let is_tracking = |i: usize| w(i).is_some_and(|s| s.eq_ignore_ascii_case("TRACKING"));
        Some(match (kw.as_str(), n) {
            ("DUMPALL", _) => UpsdMsg::DumpAll,
            ("PING", _) => UpsdMsg::Ping,
            ("LOGOUT", _) => UpsdMsg::Logout,
            ("GETPID", _) => UpsdMsg::GetPid,
            ("NOBROADCAST", _) => UpsdMsg::NoBroadcast,
            ("BROADCAST", _) => UpsdMsg::Broadcast(w(1).map(crate::num::atoi)),
            ("DUMPSTATUS", _) => UpsdMsg::DumpStatus,
            ("DUMPVALUE", 2..) => UpsdMsg::DumpValue(w(1)?.into()),
            ("INSTCMD", 2) => UpsdMsg::InstCmd {
                cmd: w(1)?.into(),
                param: None,
                tracking: None,
            },
            ("INSTCMD", 3) => UpsdMsg::InstCmd {
                cmd: w(1)?.into(),
                param: Some(w(2)?.into()),
                tracking: None,
            },
            ("INSTCMD", 4) if is_tracking(2) => UpsdMsg::InstCmd {
                cmd: w(1)?.into(),
                param: None,
                tracking: Some(w(3)?.into()),
            },
            ("INSTCMD", 5) if is_tracking(3) => UpsdMsg::InstCmd {
                cmd: w(1)?.into(),
                param: Some(w(2)?.into()),
                tracking: Some(w(4)?.into()),
            },
            ("SET", 5) if !is_tracking(3) => return None,
            ("SET", 3..) => UpsdMsg::Set {
                var: w(1)?.into(),
                value: w(2)?.into(),
                tracking: if n == 5 { Some(w(4)?.into()) } else { None },
            },
            _ => return None,
        })
    }

    /// The line upsd sends. Like stock upsd, an INSTCMD parameter is escaped but not quoted.
    pub fn to_line(&self) -> String {
        let track = |t: &Option<String>| match t {
            Some(id) => format!(" TRACKING {}", word(id)),
            None => String::new(),
        };
        match self {
            UpsdMsg::DumpAll => "DUMPALL".into(),
            UpsdMsg::Ping => "PING".into(),
            UpsdMsg::Logout => "LOGOUT".into(),
            UpsdMsg::GetPid => "GETPID".into(),
            UpsdMsg::NoBroadcast => "NOBROADCAST".into(),
            UpsdMsg::Broadcast(None) => "BROADCAST".into(),
            UpsdMsg::Broadcast(Some(n)) => format!("BROADCAST {n}"),
            UpsdMsg::DumpValue(v) => format!("DUMPVALUE {}", word(v)),
            UpsdMsg::DumpStatus => "DUMPSTATUS".into(),
            UpsdMsg::Set {
                var,
                value,
                tracking,
            } => format!("SET {} {}{}", word(var), quote(value), track(tracking)),
            UpsdMsg::InstCmd {
                cmd,
                param,
                tracking,
            } => {
                let p = match param {
                    Some(p) => format!(" {}", nut_proto::escape(p)),
                    None => String::new(),
                };
                format!("INSTCMD {}{p}{}", word(cmd), track(tracking))
            }
        }
    }

    /// The line with its newline, as the bytes upsd (or a tool) writes.
    pub fn encode(&self) -> Vec<u8> {
        line_bytes(self.to_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nut_proto::split_line;

    fn parse_driver(line: &str) -> Option<DriverMsg> {
        DriverMsg::parse(&split_line(line).ok()?)
    }

    #[test]
    fn odd_names_are_quoted_so_the_other_side_reads_them_back() {
        let msgs = [
            DriverMsg::SetInfo {
                var: String::new(),
                value: "OL".into(),
            },
            DriverMsg::DelInfo { var: "a b".into() },
            DriverMsg::AddCmd { cmd: "x#y".into() },
        ];
        let lines: Vec<String> = msgs.iter().map(DriverMsg::to_line).collect();
        assert_eq!(
            lines,
            ["SETINFO \"\" \"OL\"", "DELINFO \"a b\"", "ADDCMD \"x\\#y\""]
        );
        for (m, l) in msgs.iter().zip(&lines) {
            let words = split_line(l).unwrap_or_default();
            assert_eq!(DriverMsg::parse(&words).as_ref(), Some(m));
        }
        // plain names go out bare, as stock drivers write them
        let set = DriverMsg::SetInfo {
            var: "ups.status".into(),
            value: "OL".into(),
        };
        assert_eq!(set.to_line(), "SETINFO ups.status \"OL\"");
    }

    #[test]
    fn minimum_word_counts_as_upsd_2_8_0() {
        assert_eq!(parse_driver("pong"), Some(DriverMsg::Pong));
        assert_eq!(parse_driver("DUMPDONE extra"), Some(DriverMsg::DumpDone));
        assert_eq!(parse_driver("SETINFO ups.status"), None);
        assert_eq!(parse_driver("SETFLAGS ups.id"), None, "no flags: ignored");
        assert_eq!(parse_driver("ADDRANGE x 1"), None);
        assert_eq!(parse_driver("PID 1234"), None);
        assert_eq!(parse_driver("OK Goodbye"), None);
        assert_eq!(
            parse_driver("SETINFO ups.status \"OL CHRG\" junk"),
            Some(DriverMsg::SetInfo {
                var: "ups.status".into(),
                value: "OL CHRG".into()
            })
        );
        assert_eq!(
            parse_driver("TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2 3"),
            Some(DriverMsg::Tracking {
                id: "1BD31808-CB49-4AEC-9D75-D056E6F018D2".into(),
                status: 3
            })
        );
        assert_eq!(
            parse_driver("ADDRANGE x 10abc -5"),
            Some(DriverMsg::AddRange {
                var: "x".into(),
                min: 10,
                max: -5
            })
        );
    }

    #[test]
    fn driver_lines_round_trip_through_the_tokenizer() {
        let msgs = [
            DriverMsg::SetInfo {
                var: "ups.id".into(),
                value: r#"a "b" \c #d"#.into(),
            },
            DriverMsg::SetFlags {
                var: "ups.id".into(),
                flags: vec!["RW".into(), "STRING".into()],
            },
            DriverMsg::SetAux {
                var: "ups.id".into(),
                aux: 8,
            },
            DriverMsg::DelEnum {
                var: "x".into(),
                value: "".into(),
            },
            DriverMsg::DataStale,
        ];
        for m in msgs {
            assert_eq!(parse_driver(&m.to_line()), Some(m));
        }
    }

    #[test]
    fn upsd_messages_format_like_stock() {
        let set = UpsdMsg::Set {
            var: "ups.delay.shutdown".into(),
            value: "30".into(),
            tracking: Some("ID".into()),
        };
        assert_eq!(set.to_line(), "SET ups.delay.shutdown \"30\" TRACKING ID");
        let cmd = UpsdMsg::InstCmd {
            cmd: "load.off".into(),
            param: Some("a#b".into()),
            tracking: None,
        };
        assert_eq!(cmd.to_line(), "INSTCMD load.off a\\#b");
    }

    #[test]
    fn replies_are_not_state_messages() {
        for r in [DriverReply::Pid(1234), DriverReply::Goodbye] {
            let words = split_line(&r.to_line()).unwrap_or_default();
            assert_eq!(DriverReply::parse(&words), Some(r));
            assert_eq!(DriverMsg::parse(&words), None);
        }
        assert_eq!(DriverReply::Goodbye.encode(), b"OK Goodbye\n");
        assert_eq!(DriverReply::Pid(7).encode(), b"PID 7\n");
        assert_eq!(DriverReply::parse(&["PID", "x"]), None);
        assert_eq!(DriverReply::parse(&["PONG"]), None);
        assert_eq!(DriverMsg::Pong.encode(), b"PONG\n");
        assert_eq!(UpsdMsg::DumpAll.encode(), b"DUMPALL\n");
    }

    #[test]
    fn driver_side_word_count_rules() {
        let p = |l: &str| UpsdMsg::parse(&split_line(l).unwrap_or_default());
        assert!(p("INSTCMD a b c d e f").is_none());
        assert!(matches!(
            p("INSTCMD a TRACKING id"),
            Some(UpsdMsg::InstCmd {
                param: None,
                tracking: Some(_),
                ..
            })
        ));
        assert!(p("INSTCMD a b c d").is_none());
        assert!(p("SET v \"1\" x y").is_none());
        assert!(matches!(
            p("SET v \"1\" x"),
            Some(UpsdMsg::Set { tracking: None, .. })
        ));
        assert!(matches!(
            p("SET v \"1\" TRACKING id"),
            Some(UpsdMsg::Set {
                tracking: Some(_),
                ..
            })
        ));
        assert_eq!(p("dumpall"), Some(UpsdMsg::DumpAll));
    }
}
