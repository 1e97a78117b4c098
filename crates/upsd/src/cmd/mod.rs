//! The network commands, one module each, dispatched the way stock upsd does
//! (`server/netcmds.h`): the first word picks the command case-insensitively, commands that
//! need a user check USERNAME then PASSWORD before anything else, and every handler sees
//! only the words after the command.

mod auth;
mod get;
mod instcmd;
mod list;
mod misc;

pub use misc::SERVER_VERSION;
mod set;

use nut_proto::ErrCode;

use crate::reply::Reply;
use crate::state::{Secs, Server, Ups};

/// Per-connection state.
#[derive(Debug, Default, Clone)]
pub struct Session {
    /// Registry id (see `Server::clients`).
    pub id: u64,
    pub addr: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Canonical name of the UPS this session did LOGIN to.
    pub login_ups: Option<String>,
    pub tracking: bool,
    pub tls: bool,
}

/// What the connection must do after sending the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Continue,
    /// `OK STARTTLS` was sent: the TLS handshake starts now.
    StartTls,
    /// LOGOUT: close once the bytes already read are handled.
    Close,
}

/// What a handler gives back.
pub struct Outcome {
    pub reply: Reply,
    pub after: After,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Outcome {
            reply,
            after: After::Continue,
        }
    }
}

impl From<ErrCode> for Outcome {
    fn from(code: ErrCode) -> Outcome {
        Reply::err(code).into()
    }
}

/// The context a handler runs in.
pub struct Ctx<'a> {
    pub server: &'a mut Server,
    pub session: &'a mut Session,
    pub now: Secs,
}

impl Ctx<'_> {
    /// `UNKNOWN-UPS`, then the availability check.
    fn available_ups(&self, name: &str) -> Result<&Ups, ErrCode> {
        let ups = self.server.ups(name).ok_or(ErrCode::UnknownUps)?;
        ups.available(self.now, self.server.maxage)?;
        Ok(ups)
    }

    fn user(&self) -> (Option<&str>, Option<&str>) {
        (
            self.session.username.as_deref(),
            self.session.password.as_deref(),
        )
    }

    fn check_action(&self, action: &str) -> bool {
        let (u, p) = self.user();
        crate::state::check_action(&self.server.users, u, p, action)
    }
}

type Handler = fn(&mut Ctx<'_>, &[String]) -> Outcome;

/// (name, needs USERNAME+PASSWORD, handler), in stock's table order.
const COMMANDS: &[(&str, bool, Handler)] = &[
    ("VER", false, misc::ver),
    ("NETVER", false, misc::netver),
    ("PROTVER", false, misc::netver),
    ("HELP", false, misc::help),
    ("STARTTLS", false, misc::starttls),
    ("GET", false, get::get),
    ("LIST", false, list::list),
    ("USERNAME", false, auth::username),
    ("PASSWORD", false, auth::password),
    ("LOGIN", true, auth::login),
    ("LOGOUT", false, auth::logout),
    ("PRIMARY", true, auth::primary),
    ("MASTER", true, auth::master),
    ("FSD", true, misc::fsd),
    ("SET", true, set::set),
    ("INSTCMD", true, instcmd::instcmd),
];

/// Answer one request line (its words, as the tokenizer gave them).
pub fn dispatch(
    server: &mut Server,
    session: &mut Session,
    words: &[String],
    now: Secs,
) -> Outcome {
    let Some(first) = words.first() else {
        return ErrCode::UnknownCommand.into();
    };
    let Some(&(_, needs_user, handler)) = COMMANDS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(first))
    else {
        return ErrCode::UnknownCommand.into();
    };
    if needs_user {
        if session.username.is_none() {
            return ErrCode::UsernameRequired.into();
        }
        if session.password.is_none() {
            return ErrCode::PasswordRequired.into();
        }
    }
    let mut ctx = Ctx {
        server,
        session,
        now,
    };
    handler(&mut ctx, &words[1..])
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A server with one UPS fed like dummy-ups would feed it, for handler tests.
    use super::*;
    use crate::state::DriverLink;

    pub fn server() -> (Server, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let mut s = Server::new();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut ups = Ups::new("ups", Some("Rack \"A\"".into()), "dummy-ups-ups".into());
        ups.on_connect(DriverLink { tx }, 100);
        for line in [
            "SETINFO ups.status \"OL\"",
            "SETINFO battery.charge \"100\"",
            "SETINFO input.sensitivity \"low\"",
            "ADDENUM input.sensitivity \"low\"",
            "ADDENUM input.sensitivity \"high\"",
            "SETFLAGS input.sensitivity RW",
            "SETINFO ups.delay.shutdown \"20\"",
            "ADDRANGE ups.delay.shutdown 0 600",
            "SETFLAGS ups.delay.shutdown RW",
            "SETINFO ups.id \"x\\#y\"",
            "SETAUX ups.id 8",
            "SETFLAGS ups.id RW STRING",
            "ADDCMD load.off",
            "ADDCMD beeper.disable",
            "DATAOK",
            "DUMPDONE",
        ] {
            let words = nut_proto::split_line(line).unwrap_or_default();
            if let Some(msg) = nut_state::DriverMsg::parse(&words) {
                ups.tree.apply(&msg);
                match msg {
                    nut_state::DriverMsg::DataOk => ups.data_ok = true,
                    nut_state::DriverMsg::DumpDone => ups.dumpdone = true,
                    _ => {}
                }
            }
        }
        s.upses.push(ups);
        s.upses
            .push(Ups::new("other", None, "dummy-ups-other".into()));
        s.users = nut_conf::upsd_users::parse(
            b"[admin]\n password = pw\n actions = SET FSD\n instcmds = all\n\
              [primary]\n password = pw\n upsmon primary\n\
              [secondary]\n password = pw\n upsmon secondary\n",
            std::path::Path::new("upsd.users"),
        )
        .unwrap_or_default();
        (s, rx)
    }

    /// Run request lines through one session; returns the concatenated replies.
    pub fn run(server: &mut Server, session: &mut Session, lines: &[&str]) -> String {
        let mut out = Vec::new();
        for line in lines {
            let words = nut_proto::split_line(line).unwrap_or_default();
            let o = dispatch(server, session, &words, 105);
            out.extend_from_slice(o.reply.as_bytes());
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn session(server: &mut Server) -> Session {
        let entry = server.add_client("127.0.0.1".into());
        Session {
            id: entry.id,
            addr: entry.addr,
            ..Session::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;

    #[test]
    fn unknown_and_empty_lines() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        assert_eq!(
            run(&mut s, &mut c, &["", "FOO", "vEr x"]),
            "ERR UNKNOWN-COMMAND\nERR UNKNOWN-COMMAND\nERR INVALID-ARGUMENT\n"
        );
    }

    #[test]
    fn auth_comes_before_arguments() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        assert_eq!(
            run(
                &mut s,
                &mut c,
                &["INSTCMD", "USERNAME x", "instcmd", "PASSWORD y", "INSTCMD"]
            ),
            "ERR USERNAME-REQUIRED\nOK\nERR PASSWORD-REQUIRED\nOK\nERR INVALID-ARGUMENT\n"
        );
    }
}
