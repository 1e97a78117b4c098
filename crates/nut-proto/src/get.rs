//! GET: the queries ([`Get`]), their one-line answers ([`GetReply`]) and the tracking result
//! ([`TrackingStatus`]). An answer echoes the query's words in the client's spelling.

use std::borrow::Cow;
use std::fmt;

use crate::errcode::ErrCode;
use crate::error::ParseError;
use crate::escape::ESCAPED_VALUE_MAX;
use crate::reply::{
    check_err, echoed, joined, line, reply_words, write_err, write_number, write_words, Text,
};
use crate::request::{first_n, SubQuery};

/// upsd escapes UPS descriptions into a 512-byte buffer.
pub const DESC_MAX: usize = 511;

/// What `GET` asks for. Names keep the client's spelling: the answer echoes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Get {
    /// `GET NUMLOGINS <ups>`: how many connections did LOGIN to the UPS.
    NumLogins {
        /// The UPS.
        ups: String,
    },
    /// `GET UPSDESC <ups>`: the `desc` of ups.conf.
    UpsDesc {
        /// The UPS.
        ups: String,
    },
    /// `GET VAR <ups> <var>`: a variable's value.
    Var {
        /// The UPS.
        ups: String,
        /// The variable.
        var: String,
    },
    /// `GET TYPE <ups> <var>`: a variable's type words.
    Type {
        /// The UPS.
        ups: String,
        /// The variable.
        var: String,
    },
    /// `GET DESC <ups> <var>`: a variable's description.
    Desc {
        /// The UPS.
        ups: String,
        /// The variable.
        var: String,
    },
    /// `GET CMDDESC <ups> <cmd>`: an instant command's description.
    CmdDesc {
        /// The UPS.
        ups: String,
        /// The instant command.
        cmd: String,
    },
    /// `GET TRACKING` (is tracking on for this connection?) or `GET TRACKING <id>` (how did
    /// a tracked SET or INSTCMD go?).
    Tracking(Option<String>),
}

impl SubQuery for Get {
    fn parts(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            Get::NumLogins { ups } => ("NUMLOGINS", Some(ups), None),
            Get::UpsDesc { ups } => ("UPSDESC", Some(ups), None),
            Get::Var { ups, var } => ("VAR", Some(ups), Some(var)),
            Get::Type { ups, var } => ("TYPE", Some(ups), Some(var)),
            Get::Desc { ups, var } => ("DESC", Some(ups), Some(var)),
            Get::CmdDesc { ups, cmd } => ("CMDDESC", Some(ups), Some(cmd)),
            Get::Tracking(id) => ("TRACKING", id.as_deref(), None),
        }
    }
}

impl Get {
    /// The words after `GET`, with upsd's rules: the sub-command in any case, words after
    /// the last one a query needs ignored; `None` is upsd's INVALID-ARGUMENT.
    pub(crate) fn parse(mut args: Vec<String>) -> Option<Get> {
        let sub = args.first()?;
        if sub.eq_ignore_ascii_case("TRACKING") {
            args.truncate(2);
            let id = if args.len() == 2 { args.pop() } else { None };
            return Some(Get::Tracking(id));
        }
        let is = |name: &str| sub.eq_ignore_ascii_case(name);
        if is("NUMLOGINS") || is("UPSDESC") {
            let numlogins = is("NUMLOGINS");
            let [_, ups] = first_n(args)?;
            return Some(if numlogins {
                Get::NumLogins { ups }
            } else {
                Get::UpsDesc { ups }
            });
        }
        let [sub, ups, var] = first_n(args)?;
        let is = |name: &str| sub.eq_ignore_ascii_case(name);
        Some(if is("VAR") {
            Get::Var { ups, var }
        } else if is("TYPE") {
            Get::Type { ups, var }
        } else if is("DESC") {
            Get::Desc { ups, var }
        } else if is("CMDDESC") {
            Get::CmdDesc { ups, cmd: var }
        } else {
            return None;
        })
    }

    /// Read the answer to this query as upsclient does: `ERR` is the server's error; the
    /// line must start with the query's words (compared case-insensitively) and carry a
    /// value after them. GET TRACKING `<id>` takes `ERR <code>` as the tracked result,
    /// except FEATURE-NOT-CONFIGURED (tracking is off).
    pub fn parse_reply(&self, line: &str) -> Result<GetReply<'static>, ParseError> {
        Ok(match self {
            Get::Tracking(id) => return parse_tracking(id.is_some(), line),
            Get::Type { .. } => {
                let (ups, var, rest) = self.echo(line)?;
                if rest.is_empty() {
                    return Err(self.no_value(line));
                }
                let ty = VarType::parse(&rest).ok_or_else(|| {
                    ParseError::unexpected("bad STRING length in the reply to GET TYPE", line)
                })?;
                GetReply::Type { ups, var, ty }
            }
            Get::NumLogins { .. } => {
                let (ups, _, value) = self.echo_value(line)?;
                let count = value
                    .parse()
                    .map_err(|_| ParseError::unexpected("NUMLOGINS is not a number", line))?;
                GetReply::NumLogins { ups, count }
            }
            Get::UpsDesc { .. } => {
                let (ups, _, desc) = self.echo_value(line)?;
                GetReply::UpsDesc {
                    ups,
                    desc: Text::plain(desc),
                }
            }
            Get::Var { .. } => {
                let (ups, var, value) = self.echo_value(line)?;
                GetReply::Var {
                    ups,
                    var,
                    value: Text::plain(value),
                    fsd: false,
                }
            }
            Get::Desc { .. } => {
                let (ups, var, text) = self.echo_value(line)?;
                GetReply::Desc {
                    ups,
                    var,
                    text: Text::plain(text),
                }
            }
            Get::CmdDesc { .. } => {
                let (ups, cmd, text) = self.echo_value(line)?;
                GetReply::CmdDesc {
                    ups,
                    cmd,
                    text: Text::plain(text),
                }
            }
        })
    }

    /// Check the echo: the UPS and variable words as the server spelled them, and the
    /// words after the echo.
    fn echo(&self, line: &str) -> Result<Echo<Vec<String>>, ParseError> {
        check_err(line)?;
        let mut words = reply_words(line)?;
        let Some(n) = echoed(self.words(), &words) else {
            let reason = format!("reply does not echo {}", joined(self.words()));
            return Err(ParseError::unexpected(reason, line));
        };
        let rest = words.split_off(n);
        let mut echo = words.into_iter().skip(1).map(Cow::Owned);
        let ups = echo.next().unwrap_or_default();
        let var = echo.next().unwrap_or_default();
        Ok((ups, var, rest))
    }

    /// [`Get::echo`] and the first word after it, which must be there.
    fn echo_value(&self, line: &str) -> Result<Echo<String>, ParseError> {
        let (ups, var, rest) = self.echo(line)?;
        let value = rest.into_iter().next().ok_or_else(|| self.no_value(line))?;
        Ok((ups, var, value))
    }

    fn no_value(&self, line: &str) -> ParseError {
        ParseError::unexpected(
            format!("no value in the reply to GET {}", self.kind()),
            line,
        )
    }
}

/// The UPS and variable words an answer echoed, and what followed them.
type Echo<T> = (Cow<'static, str>, Cow<'static, str>, T);

/// The answer to `GET TRACKING` (`with_id` false: ON or OFF) or `GET TRACKING <id>`.
fn parse_tracking(with_id: bool, line: &str) -> Result<GetReply<'static>, ParseError> {
    if !with_id {
        check_err(line)?;
        return match line.trim_end() {
            "ON" => Ok(GetReply::TrackingOn(true)),
            "OFF" => Ok(GetReply::TrackingOn(false)),
            _ => Err(ParseError::unexpected("expected ON or OFF", line)),
        };
    }
    let status = match check_err(line) {
        Err(ParseError::Server(ErrCode::FeatureNotConfigured)) => {
            return Err(ParseError::Server(ErrCode::FeatureNotConfigured))
        }
        Err(ParseError::Server(code)) => TrackingStatus::Failed(code),
        Err(other) => return Err(other),
        Ok(()) => match line.trim_end() {
            "PENDING" => TrackingStatus::Pending,
            "SUCCESS" => TrackingStatus::Success,
            _ => {
                return Err(ParseError::unexpected(
                    "expected PENDING, SUCCESS or ERR",
                    line,
                ))
            }
        },
    };
    Ok(GetReply::Tracking(status))
}

/// The answer to a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetReply<'a> {
    /// `NUMLOGINS <ups> <count>`.
    NumLogins {
        /// The UPS as the query spelled it.
        ups: Cow<'a, str>,
        /// Connections logged in to it.
        count: u32,
    },
    /// `UPSDESC <ups> "<desc>"`, escaped into at most [`DESC_MAX`] bytes.
    UpsDesc {
        /// The UPS as the query spelled it.
        ups: Cow<'a, str>,
        /// The description (`Unavailable` when ups.conf has none).
        desc: Text<'a>,
    },
    /// `VAR <ups> <var> "<value>"`, the value escaped into at most 255 bytes.
    Var {
        /// The UPS as the query spelled it.
        ups: Cow<'a, str>,
        /// The variable as the query spelled it.
        var: Cow<'a, str>,
        /// The value.
        value: Text<'a>,
        /// upsd's FSD latch on `ups.status`: `FSD ` goes before the value, after the
        /// escaping. A client cannot tell it apart: a parsed reply has it in the value.
        fsd: bool,
    },
    /// `TYPE <ups> <var> <type words>`.
    Type {
        /// The UPS as the query spelled it.
        ups: Cow<'a, str>,
        /// The variable as the query spelled it.
        var: Cow<'a, str>,
        /// The type.
        ty: VarType,
    },
    /// `DESC <ups> <var> "<text>"`.
    Desc {
        /// The UPS as the query spelled it.
        ups: Cow<'a, str>,
        /// The variable as the query spelled it.
        var: Cow<'a, str>,
        /// The description.
        text: Text<'a>,
    },
    /// `CMDDESC <ups> <cmd> "<text>"`.
    CmdDesc {
        /// The UPS as the query spelled it.
        ups: Cow<'a, str>,
        /// The instant command as the query spelled it.
        cmd: Cow<'a, str>,
        /// The description.
        text: Text<'a>,
    },
    /// `ON` or `OFF`: the answer to `GET TRACKING`.
    TrackingOn(bool),
    /// `PENDING`, `SUCCESS` or `ERR <code>`: the answer to `GET TRACKING <id>`.
    Tracking(TrackingStatus),
}

impl GetReply<'_> {
    pub(crate) fn render_into(&self, out: &mut Vec<u8>) {
        line(out, |o| match self {
            GetReply::NumLogins { ups, count } => {
                write_words(o, ["NUMLOGINS", &**ups, ""]);
                write_number(o, count);
            }
            GetReply::UpsDesc { ups, desc } => {
                write_words(o, ["UPSDESC", &**ups, ""]);
                desc.write_quoted(o, "", DESC_MAX);
            }
            GetReply::Var {
                ups,
                var,
                value,
                fsd,
            } => {
                write_words(o, ["VAR", &**ups, &**var, ""]);
                value.write_quoted(o, if *fsd { "FSD " } else { "" }, ESCAPED_VALUE_MAX);
            }
            GetReply::Type { ups, var, ty } => {
                write_words(o, ["TYPE", &**ups, &**var]);
                for word in ty.words() {
                    o.push(b' ');
                    o.extend_from_slice(word.as_bytes());
                }
            }
            GetReply::Desc { ups, var, text } => {
                write_words(o, ["DESC", &**ups, &**var, ""]);
                text.write_quoted(o, "", usize::MAX);
            }
            GetReply::CmdDesc { ups, cmd, text } => {
                write_words(o, ["CMDDESC", &**ups, &**cmd, ""]);
                text.write_quoted(o, "", usize::MAX);
            }
            GetReply::TrackingOn(on) => o.extend_from_slice(if *on { b"ON" } else { b"OFF" }),
            GetReply::Tracking(TrackingStatus::Pending) => o.extend_from_slice(b"PENDING"),
            GetReply::Tracking(TrackingStatus::Success) => o.extend_from_slice(b"SUCCESS"),
            GetReply::Tracking(TrackingStatus::Failed(code)) => write_err(o, *code),
        });
    }

    /// The text a VAR, UPSDESC, DESC or CMDDESC answer carries, unescaped.
    pub fn into_text(self) -> Option<String> {
        match self {
            GetReply::UpsDesc { desc: text, .. }
            | GetReply::Var { value: text, .. }
            | GetReply::Desc { text, .. }
            | GetReply::CmdDesc { text, .. } => Some(text.into_string()),
            _ => None,
        }
    }
}

/// A variable's type as `GET TYPE` words it: `[RW] [ENUM] [RANGE] STRING:<n>|NUMBER`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VarType {
    /// `RW`: writable with SET VAR.
    pub rw: bool,
    /// `ENUM`: the value is one of LIST ENUM.
    pub enumerated: bool,
    /// `RANGE`: the value lies in one of LIST RANGE.
    pub ranged: bool,
    /// `STRING:<n>`: a string of at most n bytes.
    pub string: Option<i64>,
    /// `NUMBER`.
    pub number: bool,
}

impl VarType {
    /// The words, in upsd's order.
    pub fn words(&self) -> Vec<Cow<'static, str>> {
        let mut words = Vec::new();
        for (on, word) in [
            (self.rw, "RW"),
            (self.enumerated, "ENUM"),
            (self.ranged, "RANGE"),
        ] {
            if on {
                words.push(Cow::Borrowed(word));
            }
        }
        if let Some(n) = self.string {
            words.push(Cow::Owned(format!("STRING:{n}")));
        }
        if self.number {
            words.push(Cow::Borrowed("NUMBER"));
        }
        words
    }

    /// Read type words; unknown words are skipped (as upsrw does), a `STRING:` without a
    /// number gives `None`.
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Option<VarType> {
        let mut ty = VarType::default();
        for word in words {
            match word.as_ref() {
                "RW" => ty.rw = true,
                "ENUM" => ty.enumerated = true,
                "RANGE" => ty.ranged = true,
                "NUMBER" => ty.number = true,
                w => {
                    if let Some(n) = w.strip_prefix("STRING:") {
                        ty.string = Some(n.parse().ok()?);
                    }
                }
            }
        }
        Some(ty)
    }
}

/// How a tracked SET or INSTCMD went: the answer to `GET TRACKING <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingStatus {
    /// The driver has not answered yet.
    Pending,
    /// The driver carried it out.
    Success,
    /// `ERR <code>`: the driver failed (`FAILED`), reported an unknown error or the id is
    /// unknown (`UNKNOWN`), or the arguments were invalid (`INVALID-ARGUMENT`).
    Failed(ErrCode),
}

impl fmt::Display for TrackingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackingStatus::Pending => f.write_str("PENDING"),
            TrackingStatus::Success => f.write_str("SUCCESS"),
            TrackingStatus::Failed(code) => write!(f, "ERR {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;
    use crate::request::Request;
    use crate::tokenizer::split_line;

    fn get(line: &str) -> Get {
        match split_line(line).map(Request::parse) {
            Ok(Ok(Request::Get(get))) => get,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn bytes(reply: GetReply<'_>) -> String {
        String::from_utf8(Reply::Get(reply).to_bytes()).expect("ASCII")
    }

    #[test]
    fn queries_keep_the_client_spelling_and_ignore_extra_words() {
        assert_eq!(
            get("get var UPS Ups.Status extra"),
            Get::Var {
                ups: "UPS".into(),
                var: "Ups.Status".into()
            }
        );
        assert_eq!(
            get("GET numlogins ups x"),
            Get::NumLogins { ups: "ups".into() }
        );
        assert_eq!(get("GET TRACKING"), Get::Tracking(None));
        assert_eq!(get("GET tracking id x"), Get::Tracking(Some("id".into())));
        assert_eq!(
            get("GET CMDDESC ups load.off"),
            Get::CmdDesc {
                ups: "ups".into(),
                cmd: "load.off".into()
            }
        );
        for bad in [
            "GET",
            "GET VAR",
            "GET VAR ups",
            "GET FOO ups x",
            "GET UPSDESC",
        ] {
            let words = split_line(bad).expect("tokenizes");
            assert_eq!(
                Request::parse(words),
                Err(ParseError::InvalidArgument(crate::Command::Get)),
                "{bad}"
            );
        }
    }

    #[test]
    fn answers_render_with_upsd_limits() {
        let ups = || Cow::Borrowed("UPS");
        assert_eq!(
            bytes(GetReply::NumLogins {
                ups: ups(),
                count: 3
            }),
            "NUMLOGINS UPS 3\n"
        );
        assert_eq!(
            bytes(GetReply::UpsDesc {
                ups: ups(),
                desc: Text::plain(r#"Rack "A""#)
            }),
            "UPSDESC UPS \"Rack \\\"A\\\"\"\n"
        );
        // The cap holds the escaped text; FSD comes on top of it.
        let long = "#".repeat(200);
        let out = bytes(GetReply::Var {
            ups: ups(),
            var: "ups.status".into(),
            value: Text::plain(long.as_str()),
            fsd: true,
        });
        assert_eq!(
            out,
            format!("VAR UPS ups.status \"FSD {}\"\n", r"\#".repeat(127))
        );
        let ty = VarType {
            rw: true,
            enumerated: true,
            ranged: true,
            string: Some(8),
            number: false,
        };
        assert_eq!(
            bytes(GetReply::Type {
                ups: ups(),
                var: "ups.id".into(),
                ty
            }),
            "TYPE UPS ups.id RW ENUM RANGE STRING:8\n"
        );
        // DESC texts go out as upsd has them (stock does not escape them).
        assert_eq!(
            bytes(GetReply::Desc {
                ups: ups(),
                var: "x".into(),
                text: Text::Wire(r#"say "hi""#)
            }),
            "DESC UPS x \"say \"hi\"\"\n"
        );
        assert_eq!(bytes(GetReply::TrackingOn(false)), "OFF\n");
        assert_eq!(
            bytes(GetReply::Tracking(TrackingStatus::Failed(ErrCode::Unknown))),
            "ERR UNKNOWN\n"
        );
    }

    #[test]
    fn answers_parse_back_with_the_echo_checked_case_insensitively() {
        let q = Get::Var {
            ups: "ups".into(),
            var: "ups.status".into(),
        };
        let reply = q.parse_reply("VAR UPS Ups.Status \"a \\\"b\\\" \\#c\"");
        assert_eq!(
            reply.map(GetReply::into_text),
            Ok(Some("a \"b\" #c".to_string()))
        );
        for bad in [
            "VAR other ups.status \"OL\"",
            "VAR ups ups.status",
            "VAR ups",
        ] {
            assert!(
                matches!(q.parse_reply(bad), Err(ParseError::UnexpectedReply { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            q.parse_reply("ERR DATA-STALE"),
            Err(ParseError::Server(ErrCode::DataStale))
        );
        let n = Get::NumLogins { ups: "ups".into() };
        assert!(matches!(
            n.parse_reply("NUMLOGINS ups 2"),
            Ok(GetReply::NumLogins { count: 2, .. })
        ));
        assert!(n.parse_reply("NUMLOGINS ups x").is_err());
        let t = Get::Type {
            ups: "ups".into(),
            var: "ups.id".into(),
        };
        match t.parse_reply("TYPE ups ups.id RW STRING:8") {
            Ok(GetReply::Type { ty, .. }) => assert_eq!(ty.words(), ["RW", "STRING:8"]),
            other => panic!("{other:?}"),
        }
        assert!(t.parse_reply("TYPE ups ups.id").is_err());
    }

    #[test]
    fn tracking_results_and_errors() {
        let q = Get::Tracking(Some("id".into()));
        let status = |line: &str| match q.parse_reply(line) {
            Ok(GetReply::Tracking(s)) => Ok(s),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(status("PENDING"), Ok(TrackingStatus::Pending));
        assert_eq!(status("SUCCESS\r"), Ok(TrackingStatus::Success));
        assert_eq!(
            status("ERR FAILED"),
            Ok(TrackingStatus::Failed(ErrCode::Failed))
        );
        assert_eq!(
            status("ERR FEATURE-NOT-CONFIGURED"),
            Err(ParseError::Server(ErrCode::FeatureNotConfigured))
        );
        assert_eq!(
            status("ERR NEW"),
            Err(ParseError::ServerOther("NEW".into()))
        );
        assert!(status("DONE").is_err());
        assert_eq!(
            Get::Tracking(None).parse_reply("ON"),
            Ok(GetReply::TrackingOn(true))
        );
        assert_eq!(
            TrackingStatus::Failed(ErrCode::Unknown).to_string(),
            "ERR UNKNOWN"
        );
    }

    proptest::proptest! {
        #[test]
        fn a_rendered_value_reads_back(value in "[ -~]{0,100}", ups in "[a-zA-Z0-9._-]{1,12}") {
            let query = Get::Var { ups: ups.clone(), var: "ups.status".into() };
            let reply = GetReply::Var {
                ups: ups.into(),
                var: "ups.status".into(),
                value: Text::plain(value.as_str()),
                fsd: false,
            };
            let line = bytes(reply.clone());
            proptest::prop_assert_eq!(query.parse_reply(line.trim_end_matches('\n')), Ok(reply));
        }
    }
}
