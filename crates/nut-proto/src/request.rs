//! Requests, one type both ways: [`Request::parse`] reads the tokenizer's words as upsd 2.8.0
//! does (with its answer to each malformed shape), [`Request::to_line`] writes the line a
//! stock client sends, and [`Request::parse_reply`] reads the answer as upsclient does.

use std::borrow::Cow;
use std::fmt;

use crate::error::ParseError;
use crate::escape::{quote, word as word_arg};
use crate::get::Get;
use crate::list::{List, ListReply};
use crate::reply::{check_err, OkReply, Reply};

/// The commands upsd knows (`server/netcmds.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `VER`.
    Ver,
    /// `NETVER`.
    NetVer,
    /// `PROTVER`, the older name of NETVER.
    ProtVer,
    /// `HELP`.
    Help,
    /// `STARTTLS`.
    StartTls,
    /// `GET`.
    Get,
    /// `LIST`.
    List,
    /// `USERNAME`.
    Username,
    /// `PASSWORD`.
    Password,
    /// `LOGIN`.
    Login,
    /// `LOGOUT`.
    Logout,
    /// `PRIMARY`.
    Primary,
    /// `MASTER`, the older name of PRIMARY.
    Master,
    /// `FSD`.
    Fsd,
    /// `SET`.
    Set,
    /// `INSTCMD`.
    InstCmd,
    /// `CLEARFSD`: nut-rs only (stock 2.8.0 answers `ERR UNKNOWN-COMMAND`).
    ClearFsd,
    /// `WATCH`: nut-rs only (stock 2.8.0 answers `ERR UNKNOWN-COMMAND`).
    Watch,
}

impl Command {
    /// Every command, in stock's table order, then ours.
    pub const ALL: [Command; 18] = [
        Command::Ver,
        Command::NetVer,
        Command::ProtVer,
        Command::Help,
        Command::StartTls,
        Command::Get,
        Command::List,
        Command::Username,
        Command::Password,
        Command::Login,
        Command::Logout,
        Command::Primary,
        Command::Master,
        Command::Fsd,
        Command::Set,
        Command::InstCmd,
        Command::ClearFsd,
        Command::Watch,
    ];

    /// The command word, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Ver => "VER",
            Command::NetVer => "NETVER",
            Command::ProtVer => "PROTVER",
            Command::Help => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Get => "GET",
            Command::List => "LIST",
            Command::Username => "USERNAME",
            Command::Password => "PASSWORD",
            Command::Login => "LOGIN",
            Command::Logout => "LOGOUT",
            Command::Primary => "PRIMARY",
            Command::Master => "MASTER",
            Command::Fsd => "FSD",
            Command::Set => "SET",
            Command::InstCmd => "INSTCMD",
            Command::ClearFsd => "CLEARFSD",
            Command::Watch => "WATCH",
        }
    }

    /// The command a word names, in any case.
    pub fn from_word(word: &str) -> Option<Command> {
        Command::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether upsd wants USERNAME and then PASSWORD on the connection before it even looks
    /// at this command's arguments (`ERR USERNAME-REQUIRED` / `ERR PASSWORD-REQUIRED`).
    pub fn needs_user(self) -> bool {
        matches!(
            self,
            Command::Login
                | Command::Primary
                | Command::Master
                | Command::Fsd
                | Command::ClearFsd
                | Command::Set
                | Command::InstCmd
        )
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request of the NUT network protocol. Names keep the client's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `VER`: the server's version line.
    Ver,
    /// `NETVER`: the protocol version.
    NetVer,
    /// `PROTVER`: the same as NETVER.
    ProtVer,
    /// `HELP`: the command list.
    Help,
    /// `STARTTLS`: switch the connection to TLS (upsd ignores words after it).
    StartTls,
    /// `GET ...`.
    Get(Get),
    /// `LIST ...`.
    List(List),
    /// `USERNAME <name>`.
    Username(String),
    /// `PASSWORD <password>`.
    Password(String),
    /// `LOGIN <ups>`: count this connection in the UPS's NUMLOGINS.
    Login(String),
    /// `LOGOUT`.
    Logout,
    /// `PRIMARY <ups>`: may this user be the primary upsmon of the UPS?
    Primary(String),
    /// `MASTER <ups>`: the older name of PRIMARY.
    Master(String),
    /// `FSD <ups>`: set the forced-shutdown flag.
    Fsd(String),
    /// `CLEARFSD <ups>` (nut-rs): withdraw the FSD this connection set, if no other host can
    /// have acted on it (docs/upsmon.md, "Withdrawing FSD").
    ClearFsd(String),
    /// `WATCH <ups>` (nut-rs): from the `OK WATCHING` reply on, upsd writes a
    /// [`Pushed::Status`](crate::Pushed) line on this connection whenever the UPS's
    /// `ups.status` changes (docs/protocol-extensions.md).
    Watch(String),
    /// `SET VAR <ups> <var> <value>` (upsd ignores words after the value).
    SetVar {
        /// The UPS.
        ups: String,
        /// The variable.
        var: String,
        /// The new value.
        value: String,
    },
    /// `SET TRACKING ON|OFF`.
    SetTracking(bool),
    /// `INSTCMD <ups> <cmd> [<param>]`. upsd takes the parameter only when it is the third
    /// and last word; with more words it runs the command without one.
    InstCmd {
        /// The UPS.
        ups: String,
        /// The instant command.
        cmd: String,
        /// Its parameter.
        param: Option<String>,
    },
}

/// The first `N` words, when there are at least `N` (later words are ignored).
/// A GET or LIST query as words: the sub-command word, then the names after it.
pub(crate) trait SubQuery {
    /// The sub-command word and up to two names.
    fn parts(&self) -> (&'static str, Option<&str>, Option<&str>);

    /// The sub-command word.
    fn kind(&self) -> &'static str {
        self.parts().0
    }

    /// The words after `GET` or `LIST`: the sub-command, then the names.
    fn words(&self) -> impl Iterator<Item = &str> {
        let (kind, a, b) = self.parts();
        std::iter::once(kind).chain(a).chain(b)
    }
}

pub(crate) fn first_n<const N: usize>(mut args: Vec<String>) -> Option<[String; N]> {
    args.truncate(N);
    args.try_into().ok()
}

/// Exactly one word.
fn only(args: Vec<String>) -> Option<String> {
    let [word] = args.try_into().ok()?;
    Some(word)
}

impl Request {
    /// Read a request line's words (as the tokenizer gives them) the way upsd 2.8.0 does.
    ///
    /// An empty line or an unknown first word is [`ParseError::UnknownCommand`]; words that
    /// do not fit a known command are [`ParseError::InvalidArgument`]. upsd checks USERNAME
    /// and PASSWORD for the commands that [need them](Command::needs_user) before it answers
    /// INVALID-ARGUMENT, so that error carries the command.
    pub fn parse(words: Vec<String>) -> Result<Request, ParseError> {
        let mut words = words.into_iter();
        let command = words
            .next()
            .as_deref()
            .and_then(Command::from_word)
            .ok_or(ParseError::UnknownCommand)?;
        let args: Vec<String> = words.collect();
        let invalid = ParseError::InvalidArgument(command);
        let none = |args: &[String], request: Request| {
            if args.is_empty() {
                Ok(request)
            } else {
                Err(ParseError::InvalidArgument(command))
            }
        };
        let request = match command {
            Command::Ver => none(&args, Request::Ver)?,
            Command::NetVer => none(&args, Request::NetVer)?,
            Command::ProtVer => none(&args, Request::ProtVer)?,
            Command::Help => none(&args, Request::Help)?,
            Command::Logout => none(&args, Request::Logout)?,
            Command::StartTls => Request::StartTls,
            Command::Get => Request::Get(Get::parse(args).ok_or(invalid)?),
            Command::List => Request::List(List::parse(args).ok_or(invalid)?),
            Command::Username => Request::Username(only(args).ok_or(invalid)?),
            Command::Password => Request::Password(only(args).ok_or(invalid)?),
            Command::Login => Request::Login(only(args).ok_or(invalid)?),
            Command::Primary => Request::Primary(only(args).ok_or(invalid)?),
            Command::Master => Request::Master(only(args).ok_or(invalid)?),
            Command::Fsd => Request::Fsd(only(args).ok_or(invalid)?),
            Command::ClearFsd => Request::ClearFsd(only(args).ok_or(invalid)?),
            Command::Watch => Request::Watch(only(args).ok_or(invalid)?),
            Command::Set => parse_set(args).ok_or(invalid)?,
            Command::InstCmd => {
                let mut args = args;
                let param = if args.len() == 3 { args.pop() } else { None };
                let [ups, cmd] = first_n(args).ok_or(invalid)?;
                Request::InstCmd { ups, cmd, param }
            }
        };
        Ok(request)
    }

    /// The command of this request.
    pub fn command(&self) -> Command {
        match self {
            Request::Ver => Command::Ver,
            Request::NetVer => Command::NetVer,
            Request::ProtVer => Command::ProtVer,
            Request::Help => Command::Help,
            Request::StartTls => Command::StartTls,
            Request::Get(_) => Command::Get,
            Request::List(_) => Command::List,
            Request::Username(_) => Command::Username,
            Request::Password(_) => Command::Password,
            Request::Login(_) => Command::Login,
            Request::Logout => Command::Logout,
            Request::Primary(_) => Command::Primary,
            Request::Master(_) => Command::Master,
            Request::Fsd(_) => Command::Fsd,
            Request::ClearFsd(_) => Command::ClearFsd,
            Request::Watch(_) => Command::Watch,
            Request::SetVar { .. } | Request::SetTracking(_) => Command::Set,
            Request::InstCmd { .. } => Command::InstCmd,
        }
    }

    /// The line a stock client sends, without its newline: words bare unless the tokenizer
    /// would change them (then quoted and escaped), SET VAR's value always quoted.
    pub fn to_line(&self) -> String {
        let mut line = String::from(self.command().as_str());
        let mut word = |w: &str| {
            line.push(' ');
            line.push_str(&word_arg(w));
        };
        match self {
            Request::Ver
            | Request::NetVer
            | Request::ProtVer
            | Request::Help
            | Request::StartTls
            | Request::Logout => {}
            Request::Get(get) => get.words().for_each(word),
            Request::List(list) => list.words().for_each(word),
            Request::Username(w)
            | Request::Password(w)
            | Request::Login(w)
            | Request::Primary(w)
            | Request::Master(w)
            | Request::Fsd(w)
            | Request::ClearFsd(w)
            | Request::Watch(w) => word(w),
            Request::SetVar { ups, var, value } => {
                ["VAR", ups, var].into_iter().for_each(word);
                line.push(' ');
                line.push_str(&quote(value));
            }
            Request::SetTracking(on) => {
                word("TRACKING");
                word(if *on { "ON" } else { "OFF" });
            }
            Request::InstCmd { ups, cmd, param } => {
                [ups, cmd].into_iter().chain(param).for_each(|w| word(w));
            }
        }
        line
    }

    /// Read the (first) line of the answer to this request as upsclient does. `ERR` is the
    /// server's error; commands answered with `OK` accept any line starting with `OK` (LOGOUT
    /// also the pre-1.5 `Goodbye`, STARTTLS only `OK STARTTLS`); VER and HELP any other line.
    /// For LIST this is the `BEGIN LIST` line: the answer comes back without items, which
    /// follow through [`List::parse_item`].
    pub fn parse_reply(&self, line: &str) -> Result<Reply<'static>, ParseError> {
        match self {
            Request::Ver | Request::NetVer | Request::ProtVer | Request::Help => {
                check_err(line)?;
                Ok(Reply::Text(Cow::Owned(line.to_owned())))
            }
            Request::StartTls => match OkReply::parse(line)? {
                OkReply::StartTls => Ok(Reply::Ok(OkReply::StartTls)),
                _ => Err(ParseError::unexpected("expected OK STARTTLS", line)),
            },
            Request::Get(get) => get.parse_reply(line).map(Reply::Get),
            Request::List(list) => {
                list.parse_begin(line)?;
                Ok(Reply::List(ListReply::new(list.clone())))
            }
            Request::Logout if line.starts_with("Goodbye") => Ok(Reply::Ok(OkReply::Goodbye)),
            Request::Logout
            | Request::Username(_)
            | Request::Password(_)
            | Request::Login(_)
            | Request::Primary(_)
            | Request::Master(_)
            | Request::Fsd(_)
            | Request::ClearFsd(_)
            | Request::Watch(_)
            | Request::SetVar { .. }
            | Request::SetTracking(_)
            | Request::InstCmd { .. } => OkReply::parse(line).map(Reply::Ok),
        }
    }
}

/// SET: `VAR <ups> <var> <value> ...` or `TRACKING ON|OFF ...`, at least two words.
fn parse_set(args: Vec<String>) -> Option<Request> {
    if args.len() < 2 {
        return None;
    }
    if args[0].eq_ignore_ascii_case("VAR") {
        let [_, ups, var, value] = first_n(args)?;
        return Some(Request::SetVar { ups, var, value });
    }
    if args[0].eq_ignore_ascii_case("TRACKING") {
        let on = &args[1];
        if on.eq_ignore_ascii_case("ON") {
            return Some(Request::SetTracking(true));
        }
        if on.eq_ignore_ascii_case("OFF") {
            return Some(Request::SetTracking(false));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errcode::ErrCode;
    use crate::tokenizer::split_line;

    fn parse(line: &str) -> Result<Request, ParseError> {
        Request::parse(split_line(line).expect("tokenizes"))
    }

    fn invalid(cmd: Command) -> Result<Request, ParseError> {
        Err(ParseError::InvalidArgument(cmd))
    }

    #[test]
    fn arguments_are_bare_unless_the_tokenizer_would_change_them() {
        let pw = |s: &str| Request::Password(s.into()).to_line();
        assert_eq!(pw("s3cr!t'x"), "PASSWORD s3cr!t'x");
        assert_eq!(pw("a b"), "PASSWORD \"a b\"");
        assert_eq!(pw("a#b"), r#"PASSWORD "a\#b""#);
        assert_eq!(pw("a=b"), "PASSWORD \"a=b\"");
        assert_eq!(pw(r#"q"\"#), r#"PASSWORD "q\"\\""#);
        assert_eq!(pw(""), "PASSWORD \"\"");
        let get = Request::Get(Get::Var {
            ups: "ups".into(),
            var: "ups.status".into(),
        });
        assert_eq!(get.to_line(), "GET VAR ups ups.status");
    }

    #[test]
    fn stock_client_lines() {
        let set = Request::SetVar {
            ups: "ups".into(),
            var: "ups.id".into(),
            value: "a \"b\" #c".into(),
        };
        assert_eq!(set.to_line(), r#"SET VAR ups ups.id "a \"b\" \#c""#);
        let set = Request::SetVar {
            ups: "ups".into(),
            var: "ups.status".into(),
            value: "OL".into(),
        };
        assert_eq!(set.to_line(), r#"SET VAR ups ups.status "OL""#);
        let cmd = |param: Option<&str>| Request::InstCmd {
            ups: "ups".into(),
            cmd: "load.off".into(),
            param: param.map(Into::into),
        };
        assert_eq!(cmd(None).to_line(), "INSTCMD ups load.off");
        assert_eq!(cmd(Some("10")).to_line(), "INSTCMD ups load.off 10");
        assert_eq!(cmd(Some("a b")).to_line(), "INSTCMD ups load.off \"a b\"");
        assert_eq!(Request::SetTracking(true).to_line(), "SET TRACKING ON");
        assert_eq!(
            Request::Get(Get::Tracking(Some("ID".into()))).to_line(),
            "GET TRACKING ID"
        );
        assert_eq!(Request::List(List::Ups).to_line(), "LIST UPS");
        assert_eq!(Request::Logout.to_line(), "LOGOUT");
    }

    #[test]
    fn unknown_commands_and_argument_counts_as_upsd_has_them() {
        assert_eq!(parse(""), Err(ParseError::UnknownCommand));
        assert_eq!(parse("FOO"), Err(ParseError::UnknownCommand));
        assert_eq!(parse("vEr x"), invalid(Command::Ver));
        assert_eq!(parse("protver"), Ok(Request::ProtVer));
        assert_eq!(parse("STARTTLS x y"), Ok(Request::StartTls));
        assert_eq!(parse("LOGOUT now"), invalid(Command::Logout));
        assert_eq!(parse("USERNAME"), invalid(Command::Username));
        assert_eq!(parse("USERNAME a b"), invalid(Command::Username));
        assert_eq!(parse("login Ups"), Ok(Request::Login("Ups".into())));
        assert_eq!(parse("PRIMARY ups x"), invalid(Command::Primary));
        assert_eq!(parse("INSTCMD"), invalid(Command::InstCmd));
        assert_eq!(parse("INSTCMD ups"), invalid(Command::InstCmd));
        assert!(Command::InstCmd.needs_user() && !Command::Get.needs_user());
        assert_eq!(
            ParseError::InvalidArgument(Command::Set).request_code(),
            Some(ErrCode::InvalidArgument)
        );
    }

    #[test]
    fn instcmd_takes_its_parameter_only_as_the_last_of_three_words() {
        let cmd = |param: Option<&str>| {
            Ok(Request::InstCmd {
                ups: "ups".into(),
                cmd: "load.off".into(),
                param: param.map(Into::into),
            })
        };
        assert_eq!(parse("INSTCMD ups load.off"), cmd(None));
        assert_eq!(parse("INSTCMD ups load.off 10"), cmd(Some("10")));
        assert_eq!(parse("INSTCMD ups load.off a b"), cmd(None));
    }

    #[test]
    fn set_forms() {
        assert_eq!(
            parse("set var ups ups.delay.shutdown 60abc extra"),
            Ok(Request::SetVar {
                ups: "ups".into(),
                var: "ups.delay.shutdown".into(),
                value: "60abc".into()
            })
        );
        assert_eq!(parse("SET TRACKING on x"), Ok(Request::SetTracking(true)));
        assert_eq!(parse("SET tracking OFF"), Ok(Request::SetTracking(false)));
        for bad in [
            "SET",
            "SET VAR",
            "SET VAR ups x",
            "SET TRACKING",
            "SET TRACKING maybe",
            "SET FOO bar",
        ] {
            assert_eq!(parse(bad), invalid(Command::Set), "{bad}");
        }
    }

    #[test]
    fn replies_read_per_request() {
        let ok = |r: &Request, line: &str| r.parse_reply(line);
        let logout = Request::Logout;
        assert_eq!(ok(&logout, "OK Goodbye"), Ok(Reply::Ok(OkReply::Goodbye)));
        assert_eq!(ok(&logout, "Goodbye..."), Ok(Reply::Ok(OkReply::Goodbye)));
        assert!(ok(&Request::Login("ups".into()), "Goodbye").is_err());
        assert!(ok(&Request::StartTls, "OK").is_err());
        assert_eq!(
            ok(&Request::StartTls, "ERR FEATURE-NOT-CONFIGURED"),
            Err(ParseError::Server(ErrCode::FeatureNotConfigured))
        );
        assert_eq!(ok(&Request::NetVer, "1.3"), Ok(Reply::Text("1.3".into())));
        match ok(&Request::Login("ups".into()), "VAR ups x \"1\"") {
            Err(e) => assert!(e.to_string().contains("VAR ups x"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Words that survive the tokenizer: printable ASCII (and DEL), any length it keeps.
        fn word() -> impl Strategy<Value = String> {
            prop_oneof!["[a-zA-Z0-9._-]{1,12}", "[ -~\u{7f}]{0,40}",]
        }

        fn get() -> impl Strategy<Value = Get> {
            prop_oneof![
                word().prop_map(|ups| Get::NumLogins { ups }),
                word().prop_map(|ups| Get::UpsDesc { ups }),
                (word(), word()).prop_map(|(ups, var)| Get::Var { ups, var }),
                (word(), word()).prop_map(|(ups, var)| Get::Type { ups, var }),
                (word(), word()).prop_map(|(ups, var)| Get::Desc { ups, var }),
                (word(), word()).prop_map(|(ups, cmd)| Get::CmdDesc { ups, cmd }),
                proptest::option::of(word()).prop_map(Get::Tracking),
            ]
        }

        fn list() -> impl Strategy<Value = List> {
            prop_oneof![
                Just(List::Ups),
                word().prop_map(|ups| List::Var { ups }),
                word().prop_map(|ups| List::Rw { ups }),
                word().prop_map(|ups| List::Cmd { ups }),
                word().prop_map(|ups| List::Client { ups }),
                (word(), word()).prop_map(|(ups, var)| List::Enum { ups, var }),
                (word(), word()).prop_map(|(ups, var)| List::Range { ups, var }),
            ]
        }

        fn request() -> impl Strategy<Value = Request> {
            prop_oneof![
                Just(Request::Ver),
                Just(Request::NetVer),
                Just(Request::ProtVer),
                Just(Request::Help),
                Just(Request::StartTls),
                Just(Request::Logout),
                get().prop_map(Request::Get),
                list().prop_map(Request::List),
                word().prop_map(Request::Username),
                word().prop_map(Request::Password),
                word().prop_map(Request::Login),
                word().prop_map(Request::Primary),
                word().prop_map(Request::Master),
                word().prop_map(Request::Fsd),
                word().prop_map(Request::ClearFsd),
                word().prop_map(Request::Watch),
                (word(), word(), word()).prop_map(|(ups, var, value)| Request::SetVar {
                    ups,
                    var,
                    value
                }),
                any::<bool>().prop_map(Request::SetTracking),
                (word(), word(), proptest::option::of(word()))
                    .prop_map(|(ups, cmd, param)| Request::InstCmd { ups, cmd, param }),
            ]
        }

        proptest! {
            #[test]
            fn render_tokenize_parse_round_trips(req in request()) {
                let line = req.to_line();
                let words = split_line(&line).expect("a rendered line tokenizes");
                prop_assert_eq!(Request::parse(words), Ok(req), "via {:?}", line);
            }
        }
    }
}
