//! The network commands, one module each, answered the way stock upsd answers them
//! (`server/netcmds.h`): [`dispatch`] parses the request (an unknown first word is
//! UNKNOWN-COMMAND), checks USERNAME then PASSWORD for the commands that need them before it
//! looks at their arguments (malformed ones are INVALID-ARGUMENT), and hands the typed
//! request to its handler, which builds the typed reply. No I/O here.

mod auth;
mod fsd;
mod get;
mod instcmd;
mod list;
mod misc;
mod set;
mod watch;

pub(crate) use list::Rendered;
pub(crate) use misc::SERVER_VERSION;
pub(crate) use watch::next_push;

use std::net::IpAddr;
use std::ops::{Deref, DerefMut};

use nut_proto::{ErrCode, OkReply, ParseError, Reply, Request};

use crate::state::{ClientEntry, Secs, Server};

/// Per-connection state. What a client declares (USERNAME, PASSWORD, LOGIN, SET TRACKING,
/// WATCH) is boxed, created by the first of them: most connections (upsc, exporters,
/// dashboards) declare nothing, and every connection's task holds its session for its whole
/// life. The declared fields read through the session as if they were its own ([`Deref`]);
/// a write to one boxes them ([`DerefMut`]).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Registry id (see `Server::clients`).
    pub(crate) id: u64,
    /// The peer's address (shown as NUT shows it by its `Display`).
    pub(crate) addr: IpAddr,
    /// The connection runs over TLS.
    pub(crate) tls: bool,
    declared: Option<Box<Declared>>,
}

/// What a client declared on its connection (see [`Session`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct Declared {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// Canonical name of the UPS this session did LOGIN to.
    pub(crate) login_ups: Option<String>,
    /// SET TRACKING ON on this connection.
    pub(crate) tracking: bool,
    /// `WATCH <ups>` was answered `OK WATCHING`: the status changes to push.
    pub(crate) watch: Option<Watching>,
}

/// What a session that declared nothing reads.
static NOTHING_DECLARED: Declared = Declared {
    username: None,
    password: None,
    login_ups: None,
    tracking: false,
    watch: None,
};

impl Session {
    /// The session of a newly registered connection: nothing declared yet.
    pub(crate) fn of(entry: &ClientEntry) -> Session {
        Session {
            id: entry.id,
            addr: entry.addr,
            tls: false,
            declared: None,
        }
    }
}

impl Deref for Session {
    type Target = Declared;

    fn deref(&self) -> &Declared {
        self.declared.as_deref().unwrap_or(&NOTHING_DECLARED)
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Declared {
        self.declared.get_or_insert_with(Box::default)
    }
}

/// A connection's `WATCH`: the UPS (as ups.conf spells it) and its status changes.
#[derive(Debug, Clone)]
pub(crate) struct Watching {
    pub(crate) ups: String,
    pub(crate) changes: tokio::sync::watch::Receiver<Option<String>>,
}

/// What the connection must do after sending a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Continue,
    /// `OK STARTTLS` was sent: the TLS handshake starts now.
    StartTls,
    /// `OK Goodbye` (LOGOUT): close once the bytes already read are handled.
    Close,
}

impl After {
    /// What sending `reply` commits the connection to.
    pub(crate) fn of(reply: &Reply<'_>) -> After {
        match reply {
            Reply::Ok(OkReply::StartTls) => After::StartTls,
            Reply::Ok(OkReply::Goodbye) => After::Close,
            _ => After::Continue,
        }
    }
}

/// The context a handler runs in; replies may borrow from the server (LIST VAR borrows the
/// tree's names and escaped values), hence the two lifetimes.
pub(crate) struct Ctx<'a, 's> {
    pub(crate) server: &'a mut Server,
    pub(crate) session: &'s mut Session,
    pub(crate) now: Secs,
}

impl Ctx<'_, '_> {
    /// May this session (its USERNAME and PASSWORD) perform `action`?
    fn check_action(&self, action: &str) -> bool {
        self.server.check_action(self.session, action)
    }
}

/// Answer one request line (its words, as the tokenizer gave them).
pub(crate) fn dispatch<'a>(
    server: &'a mut Server,
    session: &mut Session,
    words: Vec<String>,
    now: Secs,
) -> Reply<'a> {
    let request = Request::parse(words);
    let command = match &request {
        Ok(request) => request.command(),
        Err(ParseError::InvalidArgument(command)) => *command,
        Err(_) => return ErrCode::UnknownCommand.into(),
    };
    server.count_request(command);
    if command.needs_user() {
        if session.username.is_none() {
            return ErrCode::UsernameRequired.into();
        }
        if session.password.is_none() {
            return ErrCode::PasswordRequired.into();
        }
    }
    let request = match request {
        Ok(request) => request,
        Err(e) => return e.request_code().unwrap_or(ErrCode::InvalidArgument).into(),
    };
    fsd::note_read(server, session, &request, now);
    let ctx = Ctx {
        server,
        session,
        now,
    };
    match request {
        Request::Ver => misc::ver(),
        Request::NetVer | Request::ProtVer => misc::netver(),
        Request::Help => misc::help(),
        Request::StartTls => misc::starttls(ctx),
        Request::Get(query) => get::get(ctx, query),
        Request::List(query) => list::list(ctx, query),
        Request::Username(name) => auth::username(ctx, name),
        Request::Password(password) => auth::password(ctx, password),
        Request::Login(ups) => auth::login(ctx, &ups),
        Request::Logout => auth::logout(),
        Request::Primary(ups) => auth::primary(ctx, &ups, OkReply::PrimaryGranted),
        Request::Master(ups) => auth::primary(ctx, &ups, OkReply::MasterGranted),
        Request::Fsd(ups) => fsd::fsd(ctx, &ups),
        Request::ClearFsd(ups) => fsd::clear_fsd(ctx, &ups),
        Request::Watch(ups) => watch::watch(ctx, &ups),
        Request::SetVar { ups, var, value } => set::set_var(ctx, &ups, &var, &value),
        Request::SetTracking(on) => set::set_tracking(ctx, on),
        Request::InstCmd { ups, cmd, param } => instcmd::instcmd(ctx, &ups, &cmd, param),
    }
}

/// What stock answers for a UPS, variable or command without a description.
const NO_DESCRIPTION: &str = "Description unavailable";

/// A `Result` of a handler step as the reply: the error code, or what the step built.
fn reply<'a>(result: Result<Reply<'a>, ErrCode>) -> Reply<'a> {
    result.unwrap_or_else(Reply::Err)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! [`Rig`]: a server with one UPS fed like dummy-ups would feed it and one connection, for
    //! handler tests that state only their requests and the replies, side by side.
    use super::*;
    use nut_state::UpsdMsg;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// The server, the driver's end of UPS `ups`'s link, and a first connection.
    pub(crate) struct Rig {
        pub(crate) server: Server,
        /// The first connection, which [`Rig::run`] uses.
        pub(crate) session: Session,
        driver: UnixStream,
        /// Bytes from the driver's end after the last whole line.
        unread: Vec<u8>,
    }

    impl Rig {
        /// UPS `ups` (connected, with a few variables of each kind and two commands), UPS
        /// `other` (no driver), and the users `admin`, `primary` and `secondary` (password
        /// `pw`).
        pub(crate) fn new() -> Rig {
            let (mut server, driver) = server();
            Rig {
                session: local_client(&mut server),
                server,
                driver,
                unread: Vec::new(),
            }
        }

        /// Send each request on the first connection and check its reply (written without
        /// the last newline; a list reply is its lines joined by `\n`).
        #[track_caller]
        pub(crate) fn talk(&mut self, exchange: &[(&str, &str)]) {
            talk(&mut self.server, &mut self.session, exchange);
        }

        /// [`Rig::run`] on another connection.
        pub(crate) fn run_as(&mut self, client: &mut Session, lines: &[&str]) -> String {
            run(&mut self.server, client, lines)
        }

        /// [`Rig::talk`] on another connection.
        #[track_caller]
        pub(crate) fn talk_as(&mut self, client: &mut Session, exchange: &[(&str, &str)]) {
            talk(&mut self.server, client, exchange);
        }

        /// Send request lines on the first connection; the replies, concatenated.
        pub(crate) fn run(&mut self, lines: &[&str]) -> String {
            run(&mut self.server, &mut self.session, lines)
        }

        /// Another connection.
        pub(crate) fn client(&mut self) -> Session {
            local_client(&mut self.server)
        }

        /// The driver of UPS `ups` publishes `ups.status` `value` (at time 100).
        pub(crate) fn status(&mut self, value: &str) {
            self.apply(&nut_state::DriverMsg::SetInfo {
                var: "ups.status".into(),
                value: value.into(),
            });
        }

        /// The driver of UPS `ups` sends `line` (at time 100).
        #[track_caller]
        pub(crate) fn driver(&mut self, line: &str) {
            let words = nut_proto::split_line(line).unwrap_or_default();
            self.apply(&nut_state::DriverMsg::parse(&words).expect("a driver message"));
        }

        fn apply(&mut self, msg: &nut_state::DriverMsg) {
            if let Some(ups) = self.server.ups_mut("ups") {
                ups.on_message(msg, 100);
            }
        }

        /// What reached UPS `ups`'s driver since the last call.
        pub(crate) fn sent(&mut self) -> Vec<UpsdMsg> {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = self.driver.read(&mut buf) {
                self.unread.extend_from_slice(&buf[..n]);
            }
            let whole = self
                .unread
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let lines: Vec<u8> = self.unread.drain(..whole).collect();
            String::from_utf8_lossy(&lines)
                .lines()
                .filter_map(|l| UpsdMsg::parse(&nut_proto::split_line(l).unwrap_or_default()))
                .collect()
        }
    }

    /// A connection from 127.0.0.1.
    fn local_client(server: &mut Server) -> Session {
        let entry = server.add_client(std::net::Ipv4Addr::LOCALHOST.into(), -1, None);
        Session::of(&entry)
    }

    fn server() -> (Server, UnixStream) {
        crate::fuzz::sample_server()
    }

    #[track_caller]
    fn talk(server: &mut Server, session: &mut Session, exchange: &[(&str, &str)]) {
        for (request, reply) in exchange {
            assert_eq!(
                run(server, session, &[request]),
                format!("{reply}\n"),
                "the reply to {request:?}"
            );
        }
    }

    /// Run request lines through one session (at time 105); the replies, concatenated.
    fn run(server: &mut Server, session: &mut Session, lines: &[&str]) -> String {
        let mut out = Vec::new();
        for line in lines {
            let words = nut_proto::split_line(line).unwrap_or_default();
            dispatch(server, session, words, 105).render_into(&mut out);
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::Rig;

    #[test]
    fn unknown_and_empty_lines() {
        Rig::new().talk(&[
            ("", "ERR UNKNOWN-COMMAND"),
            ("FOO", "ERR UNKNOWN-COMMAND"),
            ("vEr x", "ERR INVALID-ARGUMENT"),
        ]);
    }

    #[test]
    fn auth_comes_before_arguments() {
        Rig::new().talk(&[
            ("INSTCMD", "ERR USERNAME-REQUIRED"),
            ("USERNAME x", "OK"),
            ("instcmd", "ERR PASSWORD-REQUIRED"),
            ("PASSWORD y", "OK"),
            ("INSTCMD", "ERR INVALID-ARGUMENT"),
        ]);
    }
}
