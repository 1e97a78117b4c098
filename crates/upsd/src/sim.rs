//! upsd's pure core behind a small public API, for the whole-stack simulation
//! (`crates/nut-sim`): the server state, [`dispatch`](crate::cmd) of request lines, the
//! replica fed with driver-socket bytes, the FSD latch, the staleness rule and the PING rule.
//! No socket and no clock: the caller passes the time in whole seconds and moves the bytes.

use std::io::Read;
use std::os::unix::net::UnixStream;

use nut_proto::Tokenizer;
use nut_state::DriverMsg;

use crate::cmd::{dispatch, After, Session};
use crate::state::{DriverLink, Secs, Server, Ups};

/// One client connection of a [`SimServer`].
#[derive(Debug, Clone)]
pub struct SimClient {
    session: Session,
}

/// upsd with its UPSes, users and clients, driven by the caller.
#[derive(Debug)]
pub struct SimServer {
    server: Server,
    /// Per UPS: the tokenizer of its driver link and the driver's end of the link's socket
    /// pair (what upsd writes to the driver arrives there).
    links: Vec<(Tokenizer, Option<UnixStream>)>,
}

impl SimServer {
    /// A server for the UPSes `names` (in LIST UPS order) with these upsd.users and `MAXAGE`.
    pub fn new(names: &[&str], users: nut_conf::upsd_users::Users, maxage: u64) -> SimServer {
        let mut server = Server::new();
        server.maxage = maxage;
        server.users = users;
        for n in names {
            server
                .upses
                .push(Ups::new(n, None, std::path::PathBuf::from(n)));
        }
        let links = names.iter().map(|_| (Tokenizer::new(), None)).collect();
        SimServer { server, links }
    }

    /// A new client connection from `addr`, an IP address (panics on anything else).
    pub fn connect(&mut self, addr: &str) -> SimClient {
        let ip = addr
            .parse()
            .unwrap_or_else(|_| panic!("SimServer::connect: {addr:?} is not an IP address"));
        let entry = self.server.add_client(ip, -1, None);
        SimClient {
            session: Session::of(&entry),
        }
    }

    /// The connection is closed (its login, if any, is given back).
    pub fn disconnect(&mut self, client: &SimClient) {
        self.server.remove_client(client.session.id);
    }

    /// One request line at `now`: the reply's bytes, and whether upsd closes the connection
    /// after it (LOGOUT).
    pub fn request(&mut self, client: &mut SimClient, line: &str, now: Secs) -> (Vec<u8>, bool) {
        let words = nut_proto::split_line(line).unwrap_or_default();
        let reply = dispatch(&mut self.server, &mut client.session, words, now);
        let close = After::of(&reply) == After::Close;
        (reply.to_bytes(), close)
    }

    /// The driver of UPS `ups` (index) was connected at `now`; the caller sends it `DUMPALL`.
    /// The link is a socket pair (no I/O beyond it); an error making it leaves the UPS
    /// unlinked.
    pub fn driver_connected(&mut self, ups: usize, now: Secs) -> std::io::Result<()> {
        let (ours, driver) = UnixStream::pair()?;
        for end in [&ours, &driver] {
            end.set_nonblocking(true)?;
        }
        if let (Some(u), Some(l)) = (self.server.upses.get_mut(ups), self.links.get_mut(ups)) {
            u.on_connect(DriverLink::new(ours), now);
            *l = (Tokenizer::new(), Some(driver));
        }
        Ok(())
    }

    /// The driver link of UPS `ups` is gone: its replica is forgotten.
    pub fn driver_gone(&mut self, ups: usize) {
        if let (Some(u), Some(l)) = (self.server.upses.get_mut(ups), self.links.get_mut(ups)) {
            u.on_disconnect();
            l.1 = None;
        }
    }

    /// Whether UPS `ups` has a driver link.
    pub fn driver_linked(&self, ups: usize) -> bool {
        self.server.upses.get(ups).is_some_and(|u| u.link.is_some())
    }

    /// Bytes read from the driver of UPS `ups` at `now`.
    pub fn driver_bytes(&mut self, ups: usize, bytes: &[u8], now: Secs) {
        let (Some(u), Some((tok, _))) = (self.server.upses.get_mut(ups), self.links.get_mut(ups))
        else {
            return;
        };
        for &b in bytes {
            if let Some(Ok(words)) = tok.push(b) {
                if let Some(msg) = DriverMsg::parse(&words) {
                    u.on_message(&msg, now);
                }
            }
        }
    }

    /// The periodic pass of the link of UPS `ups` at `now` (once a second): whether upsd sends
    /// the driver a `PING` (stock 2.8.0: not while the driver reports stale data; when nothing
    /// was heard or pinged for MAXAGE/3 seconds). The same rule as the link's periodic check
    /// in `driver.rs`: change both together.
    pub fn driver_check(&mut self, ups: usize, now: Secs) -> bool {
        let maxage = self.server.maxage;
        let Some(u) = self.server.upses.get_mut(ups) else {
            return false;
        };
        if u.link.is_none() || (u.dumpdone && !u.data_ok) {
            return false;
        }
        let third = maxage / 3;
        if now.saturating_sub(u.last_heard) > third && now.saturating_sub(u.last_ping) > third {
            u.last_ping = now;
            return true;
        }
        false
    }

    /// What upsd wrote to the driver of UPS `ups` (SET, INSTCMD lines) since the last call.
    pub fn driver_output(&mut self, ups: usize) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some((_, Some(sock))) = self.links.get_mut(ups) {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = sock.read(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
        }
        out
    }

    /// Whether the data of UPS `ups` is stale at `now` (stock's rule).
    pub fn stale(&self, ups: usize, now: Secs) -> bool {
        self.server
            .upses
            .get(ups)
            .is_none_or(|u| u.is_stale(now, self.server.maxage))
    }

    /// The FSD latch of UPS `ups`.
    pub fn fsd(&self, ups: usize) -> bool {
        self.server.upses.get(ups).is_some_and(|u| u.fsd.is_set())
    }

    /// Logins counted on UPS `ups`.
    pub fn numlogins(&self, ups: usize) -> u32 {
        self.server.upses.get(ups).map_or(0, |u| u.numlogins)
    }
}
