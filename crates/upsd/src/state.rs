//! What upsd knows: the UPSes it replicates from their drivers, the users, the connected
//! clients, the tracking store and the variable descriptions. Plain data, changed only by the
//! command handlers and the driver links while they hold the server lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nut_conf::upsd_users::{User, Users};
use nut_proto::{Command, ErrCode, TrackingStatus};
use nut_state::{DriverMsg, Tree, Var};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit};

use crate::cmd::{Rendered, Session};
pub(crate) use crate::link::DriverLink;

/// Seconds on a monotonic clock, whole like stock upsd's `time()` arithmetic.
pub(crate) type Secs = u64;

/// upsd.users as upsd checks it: a privileged operation needs an existing user with a
/// password, the exact password and the permission; any failure is the same ACCESS-DENIED.
fn authenticate<'a>(
    users: &'a Users,
    name: Option<&str>,
    password: Option<&str>,
) -> Option<&'a User> {
    let user = users.find(name?)?;
    (user.password.as_deref()? == password?).then_some(user)
}

/// May this user (USERNAME and PASSWORD) perform `action`?
fn check_action(users: &Users, name: Option<&str>, password: Option<&str>, action: &str) -> bool {
    authenticate(users, name, password).is_some_and(|u| u.has_action(action))
}

/// May this user (USERNAME and PASSWORD) run instant command `cmd`?
fn check_instcmd(users: &Users, name: Option<&str>, password: Option<&str>, cmd: &str) -> bool {
    authenticate(users, name, password).is_some_and(|u| u.may_instcmd(cmd))
}

/// One UPS of ups.conf and the replica of its driver's tree.
#[derive(Debug, Default)]
pub(crate) struct Ups {
    /// The section name as written in ups.conf.
    pub(crate) name: String,
    pub(crate) desc: Option<String>,
    /// `<STATEPATH>/<driver>-<name>`.
    pub(crate) socket: PathBuf,
    pub(crate) tree: Replica,
    /// LIST VAR, RW and CMD as last rendered (see [`crate::cmd::Rendered`]).
    pub(crate) rendered: Rendered,
    pub(crate) link: Option<DriverLink>,
    pub(crate) dumpdone: bool,
    pub(crate) data_ok: bool,
    pub(crate) last_heard: Secs,
    pub(crate) last_ping: Secs,
    /// Whether the last periodic check found the data stale (for log transitions).
    pub(crate) stale_reported: bool,
    /// The FSD latch: once set by `FSD <ups>` it stays until upsd restarts, unless its setter
    /// withdraws it in time (`CLEARFSD`, see [`Fsd`]).
    pub(crate) fsd: Fsd,
    pub(crate) numlogins: u32,
    /// Bumped when the section is redefined or removed, so an old driver link stops.
    pub(crate) generation: u64,
    /// What `GET VAR <ups> ups.status` would answer (escaped, `FSD` prefix included) while
    /// the driver is connected and has published one; the `WATCH` connections hold its
    /// receivers (latest value wins: a slow watcher is sent the newest, never a backlog).
    pub(crate) status_push: watch::Sender<Option<String>>,
    /// The last hour of the status page's variables (sampled only with an HTTP listener).
    pub(crate) history: crate::history::History,
}

impl Ups {
    pub(crate) fn new(name: &str, desc: Option<String>, socket: PathBuf) -> Ups {
        Ups {
            name: name.to_string(),
            desc,
            socket,
            ..Ups::default()
        }
    }

    /// A message from the driver, heard at `now`: the dump and staleness markers, or a
    /// change to the tree.
    pub(crate) fn on_message(&mut self, msg: &DriverMsg, now: Secs) {
        self.last_heard = now;
        match msg {
            DriverMsg::DumpDone => self.dumpdone = true,
            DriverMsg::DataOk => self.data_ok = true,
            DriverMsg::DataStale => self.data_ok = false,
            m => {
                self.tree.change().apply(m);
                match m {
                    DriverMsg::SetInfo { var, value } if var.eq_ignore_ascii_case("ups.status") => {
                        self.fsd.on_status(value);
                        self.publish_status();
                    }
                    DriverMsg::DelInfo { var } if var.eq_ignore_ascii_case("ups.status") => {
                        self.publish_status();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Tell the `WATCH` connections the status `GET VAR` now answers, if it changed.
    pub(crate) fn publish_status(&self) {
        let now = match (&self.link, self.tree.get("ups.status")) {
            (Some(_), Some(v)) if self.fsd.is_set() => Some(format!("FSD {}", v.escaped())),
            (Some(_), Some(v)) => Some(v.escaped().to_owned()),
            _ => None,
        };
        self.status_push.send_if_modified(|cur| {
            let changed = *cur != now;
            if changed {
                *cur = now;
            }
            changed
        });
    }

    /// Stock's staleness rule (2.8.0): the driver said DATASTALE after its dump, or nothing
    /// recognisable came from it for more than MAXAGE seconds.
    pub(crate) fn is_stale(&self, now: Secs, maxage: Secs) -> bool {
        (self.dumpdone && !self.data_ok) || now.saturating_sub(self.last_heard) > maxage
    }

    /// The availability check that guards most commands.
    pub(crate) fn available(&self, now: Secs, maxage: Secs) -> Result<(), ErrCode> {
        if self.link.is_none() {
            return Err(ErrCode::DriverNotConnected);
        }
        if self.is_stale(now, maxage) {
            return Err(ErrCode::DataStale);
        }
        Ok(())
    }

    /// A variable of the tree, or VAR-NOT-SUPPORTED.
    pub(crate) fn var(&self, name: &str) -> Result<&Var, ErrCode> {
        self.tree.get(name).ok_or(ErrCode::VarNotSupported)
    }

    /// Called when the socket connects: fresh dump pending, status WAIT until it arrives.
    pub(crate) fn on_connect(&mut self, link: DriverLink, now: Secs) {
        self.link = Some(link);
        self.dumpdone = false;
        self.last_heard = now;
        self.tree.change().set_info("ups.status", "WAIT");
        self.publish_status();
    }

    /// Called when the socket goes away: everything the driver published is forgotten.
    pub(crate) fn on_disconnect(&mut self) {
        self.link = None;
        self.tree.change().clear();
        self.publish_status();
    }
}

/// A UPS's tree as upsd replicates it from the driver, and a version that every change
/// bumps, so a reply rendered from the tree stays valid while the version is the same. It
/// reads as the [`Tree`]; it changes only through [`Replica::change`] (no `DerefMut`), so no
/// change can leave the version behind.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    tree: Tree,
    version: u64,
}

impl Replica {
    /// The tree, to change: the version is bumped first.
    pub(crate) fn change(&mut self) -> &mut Tree {
        self.version += 1;
        &mut self.tree
    }

    /// Bumped by every [`Replica::change`].
    pub(crate) fn version(&self) -> u64 {
        self.version
    }
}

impl std::ops::Deref for Replica {
    type Target = Tree;

    fn deref(&self) -> &Tree {
        &self.tree
    }
}

/// The FSD latch, and what decides whether it may still be withdrawn (nut-rs's `CLEARFSD`).
/// A host that may have acted on the FSD, or on the outage it belongs to, cannot be called back, so the latch
/// becomes final at the first of: another client that identified itself (USERNAME or LOGIN,
/// as every upsmon does) was sent a status with FSD; a client logged in to the UPS left
/// (LOGOUT or lost connection) during the outage. The outage starts with a status that says
/// `OB` and ends at a status without `OB` while FSD is not set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Fsd {
    /// The connection that set FSD; `None` while FSD is not set.
    pub(crate) setter: Option<u64>,
    /// The UPS has been on battery since it was last on line with FSD not set.
    outage: bool,
    /// The first reason the latch is final, for the log and the refusal.
    pub(crate) witness: Option<String>,
}

impl Fsd {
    /// Whether FSD is set.
    pub(crate) fn is_set(&self) -> bool {
        self.setter.is_some()
    }

    /// A new `ups.status` from the driver.
    pub(crate) fn on_status(&mut self, status: &str) {
        if status.split_ascii_whitespace().any(|w| w == "OB") {
            self.outage = true;
        } else if !self.is_set() {
            self.outage = false;
            self.witness = None;
        }
    }

    /// Note the first reason the latch became final.
    pub(crate) fn witnessed(&mut self, why: impl FnOnce() -> String) {
        if self.witness.is_none() {
            self.witness = Some(why());
        }
    }

    /// A client logged in to the UPS (`who`, not the setter) left: final if during the
    /// outage or while FSD is set.
    pub(crate) fn on_departure(&mut self, id: u64, who: &str) {
        if (self.outage || self.is_set()) && self.setter != Some(id) {
            self.witnessed(|| format!("{who} logged out"));
        }
    }
}

/// A connected client as other clients see it (LIST CLIENT) and as reload and the idle sweep
/// reach it ([`Peer`]).
#[derive(Debug, Clone)]
pub(crate) struct ClientEntry {
    pub(crate) id: u64,
    /// The peer's address (shown as NUT shows it by its `Display`).
    pub(crate) addr: IpAddr,
    /// Canonical name of the UPS this client did LOGIN to.
    pub(crate) login_ups: Option<String>,
    pub(crate) peer: Arc<Peer>,
}

/// What a connection shares with the server: the way to drop it, and when it last sent a
/// complete line (for the idle sweep, which replaces a timer per connection).
#[derive(Debug)]
pub(crate) struct Peer {
    /// The connection's socket. It stays open while the client is registered (the
    /// connection closes it only after [`Server::remove_client`]), so [`Peer::kick`] never
    /// reaches another socket.
    fd: RawFd,
    /// [`crate::clock::millis`] at the last complete line (or the connect).
    active: AtomicU64,
    /// The connection's MAXCONN slot, given back when the connection's task and the
    /// registry both let go of the peer (here rather than in every connection's future).
    _permit: Option<OwnedSemaphorePermit>,
}

impl Peer {
    /// The peer of a connection on socket `fd` holding `permit`, active now.
    pub(crate) fn new(fd: RawFd, permit: Option<OwnedSemaphorePermit>) -> Peer {
        Peer {
            fd,
            active: AtomicU64::new(crate::clock::millis()),
            _permit: permit,
        }
    }

    /// A complete line arrived now.
    pub(crate) fn touch(&self) {
        self.active.store(crate::clock::millis(), Ordering::Relaxed);
    }

    /// When the last complete line arrived ([`crate::clock::millis`]).
    pub(crate) fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Drop the connection: shut its socket down both ways, so its next (or pending) read
    /// sees the end and the connection closes as if the client had left. No waker, no
    /// notification and no select per connection: a socket shut down is its own signal.
    pub(crate) fn kick(&self) {
        // SAFETY: shutdown(2) takes a descriptor and flags and touches no memory of ours;
        // `fd` is the registered connection's open socket (see the field).
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
    }
}

/// Tracking results of SET/INSTCMD, by upper-case id.
#[derive(Debug, Default)]
pub(crate) struct Tracking {
    pub(crate) enabled: bool,
    entries: HashMap<String, (Option<i32>, Secs)>,
}

impl Tracking {
    pub(crate) fn add(&mut self, id: &str, now: Secs) {
        if self.enabled {
            self.entries.insert(id.to_ascii_uppercase(), (None, now));
        }
    }

    pub(crate) fn set(&mut self, id: &str, status: i32) {
        if let Some(e) = self.entries.get_mut(&id.to_ascii_uppercase()) {
            e.0 = Some(status);
        }
    }

    /// The answer to `GET TRACKING <id>` as 2.8.0 gives it (-1 reads as pending, unknown
    /// numbers and ids as ERR UNKNOWN).
    pub(crate) fn get(&self, id: &str) -> TrackingStatus {
        match self.entries.get(&id.to_ascii_uppercase()) {
            Some((None | Some(-1), _)) => TrackingStatus::Pending,
            Some((Some(0), _)) => TrackingStatus::Success,
            Some((Some(2), _)) => TrackingStatus::Failed(ErrCode::InvalidArgument),
            Some((Some(3), _)) => TrackingStatus::Failed(ErrCode::Failed),
            None | Some(_) => TrackingStatus::Failed(ErrCode::Unknown),
        }
    }

    /// Forget entries older than `delay` seconds.
    pub(crate) fn expire(&mut self, now: Secs, delay: Secs) {
        self.entries
            .retain(|_, (_, at)| now.saturating_sub(*at) <= delay);
    }
}

/// Texts of `GET DESC` / `GET CMDDESC`, from `cmdvartab` in DATAPATH.
#[derive(Debug, Default, Clone)]
pub(crate) struct Descriptions {
    vars: HashMap<String, String>,
    cmds: HashMap<String, String>,
}

impl Descriptions {
    /// Read the `VARDESC name "text"` / `CMDDESC name "text"` lines of a cmdvartab; other
    /// lines are skipped, a later line for the same name replaces an earlier one.
    pub(crate) fn parse(
        text: &[u8],
        file: &std::path::Path,
    ) -> Result<Descriptions, nut_conf::ConfError> {
        let mut d = Descriptions::default();
        for line in nut_conf::lines(text, file)? {
            let [kind, name, desc, ..] = &line.words[..] else {
                continue;
            };
            let map = match kind.as_str() {
                "VARDESC" => &mut d.vars,
                "CMDDESC" => &mut d.cmds,
                _ => continue,
            };
            map.insert(name.to_ascii_lowercase(), desc.clone());
        }
        Ok(d)
    }

    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub(crate) fn cmd(&self, name: &str) -> Option<&str> {
        self.cmds
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Everything the server knows, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Server {
    /// In LIST UPS order.
    pub(crate) upses: Vec<Ups>,
    pub(crate) users: Users,
    /// Most recent connection first, as LIST CLIENT shows them.
    pub(crate) clients: Vec<ClientEntry>,
    pub(crate) tracking: Tracking,
    pub(crate) descriptions: Descriptions,
    pub(crate) maxage: Secs,
    pub(crate) tracking_delay: Secs,
    /// What STARTTLS hands the connection to (here rather than in every connection); `None`:
    /// no certificate is loaded, STARTTLS is not offered.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Wakes the idle sweep when the first client connects.
    pub(crate) first_client: Arc<Notify>,
    /// `ALLOW_FROM`: who may connect.
    pub(crate) allow: crate::allow::Allowlist,
    /// Requests answered since start, by command in [`Command::ALL`]'s order (`/metrics`).
    requests: [u64; Command::ALL.len()],
    next_client_id: u64,
    next_generation: u64,
}

impl Server {
    pub(crate) fn new() -> Server {
        Server {
            maxage: 15,
            tracking_delay: 3600,
            ..Server::default()
        }
    }

    /// Find a UPS by name, ignoring case.
    pub(crate) fn ups(&self, name: &str) -> Option<&Ups> {
        self.upses
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn ups_mut(&mut self, name: &str) -> Option<&mut Ups> {
        self.upses
            .iter_mut()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// Register a new connection on socket `fd`, holding its MAXCONN slot `permit`; it is
    /// listed first.
    pub(crate) fn add_client(
        &mut self,
        addr: IpAddr,
        fd: RawFd,
        permit: Option<OwnedSemaphorePermit>,
    ) -> ClientEntry {
        self.next_client_id += 1;
        let entry = ClientEntry {
            id: self.next_client_id,
            addr,
            login_ups: None,
            peer: Arc::new(Peer::new(fd, permit)),
        };
        if self.clients.is_empty() {
            self.first_client.notify_one();
        }
        self.clients.insert(0, entry.clone());
        entry
    }

    /// Forget a connection and give back its login.
    pub(crate) fn remove_client(&mut self, id: u64) {
        let Some(pos) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let entry = self.clients.remove(pos);
        if let Some(name) = entry.login_ups {
            if let Some(ups) = self.ups_mut(&name) {
                ups.numlogins = ups.numlogins.saturating_sub(1);
                ups.fsd.on_departure(id, &entry.addr.to_string());
            }
        }
    }

    /// A request for `command` is being answered.
    pub(crate) fn count_request(&mut self, command: Command) {
        if let Some(i) = Command::ALL.iter().position(|&c| c == command) {
            self.requests[i] = self.requests[i].saturating_add(1);
        }
    }

    /// Requests answered since start, by command word.
    pub(crate) fn requests(&self) -> Vec<(&'static str, u64)> {
        Command::ALL
            .iter()
            .zip(self.requests)
            .map(|(c, n)| (c.as_str(), n))
            .collect()
    }

    /// A fresh generation number for a UPS link.
    pub(crate) fn next_generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// `UNKNOWN-UPS`, then the availability check that guards most commands.
    pub(crate) fn available_ups(&self, name: &str, now: Secs) -> Result<&Ups, ErrCode> {
        let ups = self.ups(name).ok_or(ErrCode::UnknownUps)?;
        ups.available(now, self.maxage)?;
        Ok(ups)
    }

    /// May `session` (its USERNAME and PASSWORD) perform `action`?
    pub(crate) fn check_action(&self, session: &Session, action: &str) -> bool {
        let (user, password) = (session.username.as_deref(), session.password.as_deref());
        check_action(&self.users, user, password, action)
    }

    /// May `session` run instant command `cmd`?
    pub(crate) fn check_instcmd(&self, session: &Session, cmd: &str) -> bool {
        let (user, password) = (session.username.as_deref(), session.password.as_deref());
        check_instcmd(&self.users, user, password, cmd)
    }

    /// The registry entry of a connection.
    pub(crate) fn client_mut(&mut self, id: u64) -> Option<&mut ClientEntry> {
        self.clients.iter_mut().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_words_match_2_8_0() {
        let mut t = Tracking::default();
        let unknown = TrackingStatus::Failed(ErrCode::Unknown);
        t.add("abc", 0);
        assert_eq!(t.get("ABC"), unknown, "not added while disabled");
        t.enabled = true;
        t.add("abc", 0);
        assert_eq!(t.get("ABC"), TrackingStatus::Pending);
        for (status, word) in [
            (0, "SUCCESS"),
            (1, "ERR UNKNOWN"),
            (2, "ERR INVALID-ARGUMENT"),
            (3, "ERR FAILED"),
            (4, "ERR UNKNOWN"),
            (-1, "PENDING"),
        ] {
            t.set("Abc", status);
            assert_eq!(t.get("abc").to_string(), word);
        }
        t.expire(3601, 3600);
        assert_eq!(t.get("abc"), unknown);
    }

    #[test]
    fn descriptions_parse_cmdvartab_lines() {
        let d = Descriptions::parse(
            b"# comment\nVARDESC ups.status \"UPS status\"\nCMDDESC load.off \"Turn off the load immediately\"\nVARDESC broken\n",
            std::path::Path::new("cmdvartab"),
        )
        .unwrap_or_default();
        assert_eq!(d.var("UPS.STATUS"), Some("UPS status"));
        assert_eq!(d.cmd("load.off"), Some("Turn off the load immediately"));
        assert_eq!(d.var("broken"), None);
    }

    #[test]
    fn users_need_exact_password_and_permission() {
        let users = nut_conf::upsd_users::parse(
            b"[admin]\n password = pw\n actions = SET\n instcmds = all\n[nopw]\n actions = SET\n",
            std::path::Path::new("upsd.users"),
        )
        .unwrap_or_default();
        assert!(check_action(&users, Some("admin"), Some("pw"), "set"));
        assert!(!check_action(&users, Some("admin"), Some("PW"), "SET"));
        assert!(!check_action(&users, Some("Admin"), Some("pw"), "SET"));
        assert!(!check_action(&users, Some("admin"), Some("pw"), "FSD"));
        assert!(!check_action(&users, Some("nopw"), Some(""), "SET"));
        assert!(check_instcmd(&users, Some("admin"), Some("pw"), "load.off"));
        assert!(!check_instcmd(&users, None, Some("pw"), "load.off"));
    }
}
