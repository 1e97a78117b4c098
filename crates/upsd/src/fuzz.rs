//! Whole upsd sessions without client sockets, for the fuzz target `upsd_session` and the
//! handler tests; not a stable API.
//!
//! [`Harness`] holds the server the handler tests use ([`sample_server`]: UPS `ups` fed as
//! dummy-ups would feed it, UPS `other` with no driver, users `admin`, `primary` and
//! `secondary` with password `pw`) and any number of connections. Bytes sent on a connection
//! go through NUT's tokenizer into `dispatch` as the connection task does (a parse error
//! drops the rest of that read; LOGOUT and STARTTLS end the connection here); the replies
//! come back as bytes, and what reached the driver is read from its end of the socket.

use std::io::Read;
use std::os::unix::net::UnixStream;

use nut_proto::Tokenizer;
use nut_state::DriverMsg;

use crate::cmd::{dispatch, After, Session};
use crate::link::DriverLink;
use crate::state::{Server, Ups};

/// The server of the handler tests and the driver's end of UPS `ups`'s link.
pub(crate) fn sample_server() -> (Server, UnixStream) {
    let mut s = Server::new();
    let (ours, driver) = UnixStream::pair().expect("socket pair");
    for end in [&ours, &driver] {
        end.set_nonblocking(true).expect("non-blocking");
    }
    let link = DriverLink::new(ours);
    let mut ups = Ups::new("ups", Some("Rack \"A\"".into()), "dummy-ups-ups".into());
    ups.on_connect(link, 100);
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
        if let Some(msg) = DriverMsg::parse(&words) {
            ups.on_message(&msg, 100);
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
    (s, driver)
}

/// One connection: its session and tokenizer; `None` once it ended.
struct Conn {
    session: Session,
    tok: Tokenizer,
}

/// A server and its connections, driven by bytes (see the module documentation).
pub struct Harness {
    server: Server,
    driver: UnixStream,
    conns: Vec<Option<Conn>>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// The sample server, no connection yet.
    pub fn new() -> Harness {
        let (server, driver) = sample_server();
        Harness {
            server,
            driver,
            conns: Vec::new(),
        }
    }

    /// A new connection from 127.0.0.1; its number.
    pub fn connect(&mut self) -> usize {
        let entry = self
            .server
            .add_client(std::net::Ipv4Addr::LOCALHOST.into(), -1, None);
        let session = Session::of(&entry);
        self.conns.push(Some(Conn {
            session,
            tok: Tokenizer::new(),
        }));
        self.conns.len() - 1
    }

    /// The connections made so far (ended ones included).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Whether connection `conn` is still open.
    pub fn is_open(&self, conn: usize) -> bool {
        self.conns.get(conn).is_some_and(Option::is_some)
    }

    /// Close connection `conn` (the client went away).
    pub fn disconnect(&mut self, conn: usize) {
        if let Some(c) = self.conns.get_mut(conn).and_then(Option::take) {
            self.server.remove_client(c.session.id);
        }
    }

    /// One read of `bytes` on connection `conn` at time `now` (seconds); the replies, in
    /// one buffer as they would be written. An ended connection answers nothing.
    pub fn feed(&mut self, conn: usize, bytes: &[u8], now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return out;
        };
        let mut end = false;
        for &b in bytes {
            match c.tok.push(b) {
                None => {}
                Some(Err(_)) => break,
                Some(Ok(words)) => {
                    let reply = dispatch(&mut self.server, &mut c.session, words, now);
                    reply.render_into(&mut out);
                    if After::of(&reply) != After::Continue {
                        end = true;
                        break;
                    }
                }
            }
        }
        if end {
            self.disconnect(conn);
        }
        out
    }

    /// The driver publishes `line` (e.g. `SETINFO ups.status "OB LB"`) at time `now`.
    pub fn driver_says(&mut self, line: &str, now: u64) {
        let words = nut_proto::split_line(line).unwrap_or_default();
        if let (Some(msg), Some(ups)) = (DriverMsg::parse(&words), self.server.ups_mut("ups")) {
            ups.on_message(&msg, now);
        }
    }

    /// What upsd wrote to the driver's socket since the last call.
    pub fn to_driver(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.driver.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}
