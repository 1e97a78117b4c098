//! The driver state without I/O: the variable tree, the stale flag and the driver-socket
//! connections (NUT's `drivers/dstate.c` + the built-ins of `drivers/main.c`).
//!
//! Bytes received on a connection go into [`Core::feed`]; replies and broadcasts come out of
//! [`Core::take_output`] as bytes per connection, and lifecycle requests (`driver.exit`,
//! `driver.reload`) out of [`Core::take_actions`]. Backend calls go through [`Core::with_tree`],
//! which broadcasts whatever the call changed. The I/O loop around it lives in
//! [`crate::server`].

use std::collections::BTreeMap;

use nut_proto::Tokenizer;
use nut_state::{DriverMsg, DriverReply, Tree, UpsdMsg};

use crate::backend::{Backend, CmdResult};
use crate::diff::changes;

/// Identifies one socket connection.
pub type ConnId = u64;

/// Something the I/O layer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Queue these bytes (one or more complete lines) on a connection.
    Send(ConnId, Vec<u8>),
    /// Close the connection once what is queued has been written (after `LOGOUT`).
    Close(ConnId),
}

/// A request for the driver process itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// `driver.exit`: leave cleanly.
    Exit,
    /// `driver.reload*`: re-read the configuration.
    Reload,
}

/// Instant commands the core handles itself (NUT 2.8.1+/2.8.3+ built-ins), advertised with
/// `ADDCMD` like newer stock drivers do.
pub(crate) const BUILTIN_CMDS: &[&str] = &[
    "driver.exit",
    "driver.killpower",
    "driver.reload",
    "driver.reload-or-error",
    "driver.reload-or-exit",
    "shutdown.default",
];

#[derive(Debug)]
struct Conn {
    tok: Tokenizer,
    broadcast: bool,
    closing: bool,
}

/// The state of a running driver.
#[derive(Debug)]
pub struct Core {
    tree: Tree,
    stale: bool,
    conns: BTreeMap<ConnId, Conn>,
    out: Vec<Output>,
    actions: Vec<Action>,
    pid: u32,
    debug_base: i32,
    debug: i32,
}

impl Core {
    /// A core serving `tree` (already holding the configuration and the device's first data),
    /// for process `pid`, at debug level `debug`. It starts stale, as stock drivers do:
    /// call [`Core::set_stale`]`(false)` after the first good update. Publishes `driver.debug`
    /// (RW NUMBER) and the built-in commands.
    pub fn new(mut tree: Tree, pid: u32, debug: i32) -> Core {
        tree.set_info("driver.debug", &debug.to_string());
        tree.set_flags("driver.debug", &["RW", "NUMBER"]);
        for c in BUILTIN_CMDS {
            tree.add_cmd(c);
        }
        Core {
            tree,
            stale: true,
            conns: BTreeMap::new(),
            out: Vec::new(),
            actions: Vec::new(),
            pid,
            debug_base: debug,
            debug,
        }
    }

    /// The current tree.
    #[cfg(test)]
    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The debug level (changed by `SET driver.debug`).
    #[cfg(test)]
    pub(crate) fn debug_level(&self) -> i32 {
        self.debug
    }

    /// Run `f` on the tree and broadcast what it changed.
    pub fn with_tree<R>(&mut self, f: impl FnOnce(&mut Tree) -> R) -> R {
        self.tree.record();
        let r = f(&mut self.tree);
        let journal = self.tree.recorded();
        let msgs = changes(&journal, &self.tree);
        self.broadcast(&msgs);
        r
    }

    /// Mark the data stale or fresh; a change is broadcast as `DATASTALE` / `DATAOK`.
    pub fn set_stale(&mut self, stale: bool) {
        if stale != self.stale {
            self.stale = stale;
            let m = if stale {
                DriverMsg::DataStale
            } else {
                DriverMsg::DataOk
            };
            self.broadcast(&[m]);
        }
    }

    /// A new connection.
    pub fn open(&mut self, id: ConnId) {
        self.conns.insert(
            id,
            Conn {
                tok: Tokenizer::new(),
                broadcast: true,
                closing: false,
            },
        );
    }

    /// A connection went away.
    pub fn close(&mut self, id: ConnId) {
        self.conns.remove(&id);
    }

    /// Number of open connections.
    #[cfg(test)]
    pub(crate) fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Bytes received on `id`: every complete line is handled as a request.
    pub fn feed(&mut self, id: ConnId, bytes: &[u8], backend: &mut dyn Backend) {
        for &b in bytes {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            if conn.closing {
                return;
            }
            match conn.tok.push(b) {
                None => {}
                Some(Err(e)) => tracing::info!("Parse error on sock: {e}"),
                Some(Ok(words)) if words.is_empty() => {}
                Some(Ok(words)) => self.request(id, &words, backend),
            }
        }
    }

    /// Everything queued for the I/O layer since the last call.
    pub fn take_output(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// Lifecycle requests received since the last call.
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    fn send(&mut self, id: ConnId, msgs: &[DriverMsg]) {
        self.send_bytes(id, lines(msgs));
    }

    fn send_bytes(&mut self, id: ConnId, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.out.push(Output::Send(id, bytes));
        }
    }

    fn broadcast(&mut self, msgs: &[DriverMsg]) {
        if msgs.is_empty() {
            return;
        }
        let bytes = lines(msgs);
        for (&id, c) in &self.conns {
            if c.broadcast && !c.closing {
                self.out.push(Output::Send(id, bytes.clone()));
            }
        }
    }

    fn status_trailer(&self) -> DriverMsg {
        if self.stale {
            DriverMsg::DataStale
        } else {
            DriverMsg::DataOk
        }
    }

    /// One request line, already split into words.
    pub(crate) fn request(&mut self, id: ConnId, words: &[String], backend: &mut dyn Backend) {
        let Some(msg) = UpsdMsg::parse(words) else {
            tracing::info!("Unknown command on socket: {}", words.join(" "));
            return;
        };
        match msg {
            UpsdMsg::DumpAll => {
                let mut m = Vec::new();
                if self.stale {
                    m.push(DriverMsg::DataStale);
                }
                m.extend(self.tree.dump());
                if !self.stale {
                    m.push(DriverMsg::DataOk);
                }
                m.push(DriverMsg::DumpDone);
                self.send(id, &m);
            }
            UpsdMsg::Ping => self.send(id, &[DriverMsg::Pong]),
            UpsdMsg::Logout => {
                self.send_bytes(id, DriverReply::Goodbye.encode());
                self.out.push(Output::Close(id));
                if let Some(c) = self.conns.get_mut(&id) {
                    c.closing = true;
                }
            }
            UpsdMsg::GetPid => self.send_bytes(id, DriverReply::Pid(self.pid).encode()),
            UpsdMsg::NoBroadcast => self.set_broadcast(id, false),
            UpsdMsg::Broadcast(n) => self.set_broadcast(id, n.is_none_or(|n| n >= 1)),
            UpsdMsg::DumpStatus => self.dump_value(id, "ups.status"),
            UpsdMsg::DumpValue(var) => self.dump_value(id, &var),
            UpsdMsg::InstCmd {
                cmd,
                param,
                tracking,
            } => {
                let r = self.instcmd(&cmd, param.as_deref(), backend);
                tracing::debug!("INSTCMD {cmd} {param:?}: {r:?}");
                self.track(id, tracking, r);
            }
            UpsdMsg::Set {
                var,
                value,
                tracking,
            } => {
                let r = self.setvar(&var, &value, backend);
                tracing::debug!("SET {var} {value:?}: {r:?}");
                self.track(id, tracking, r);
            }
        }
    }

    /// The `TRACKING <id> <n>` answer, when the request carried an id.
    fn track(&mut self, id: ConnId, tracking: Option<String>, r: CmdResult) {
        if let Some(t) = tracking {
            self.send(
                id,
                &[DriverMsg::Tracking {
                    id: t,
                    status: r.code(),
                }],
            );
        }
    }

    fn set_broadcast(&mut self, id: ConnId, on: bool) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.broadcast = on;
        }
    }

    fn dump_value(&mut self, id: ConnId, var: &str) {
        let mut m = match self.tree.get(var) {
            Some(v) => Tree::dump_var(v),
            None => Vec::new(),
        };
        m.push(self.status_trailer());
        m.push(DriverMsg::DumpDone);
        self.send(id, &m);
    }

    /// Run an instant command: the core's built-ins first, then the backend.
    pub(crate) fn instcmd(
        &mut self,
        cmd: &str,
        param: Option<&str>,
        backend: &mut dyn Backend,
    ) -> CmdResult {
        match cmd.to_ascii_lowercase().as_str() {
            "driver.killpower" => {
                let allowed = self
                    .tree
                    .get("driver.flag.allow_killpower")
                    .is_some_and(|v| v.raw() == "1");
                if !allowed {
                    tracing::warn!(
                        "INSTCMD driver.killpower refused: driver.flag.allow_killpower is not 1"
                    );
                    return CmdResult::Invalid;
                }
                self.killpower(backend)
            }
            "shutdown.default" => self.killpower(backend),
            "driver.exit" => {
                self.actions.push(Action::Exit);
                CmdResult::Handled
            }
            "driver.reload"
            | "driver.reload-or-exit"
            | "driver.reload-or-restart"
            | "driver.reload-or-error" => {
                self.actions.push(Action::Reload);
                CmdResult::Handled
            }
            _ => self.with_tree(|t| backend.instcmd(t, cmd, param)),
        }
    }

    /// Kill the power through the backend (`driver.killpower`, `shutdown.default`).
    pub(crate) fn killpower(&mut self, backend: &mut dyn Backend) -> CmdResult {
        tracing::warn!("Initiating UPS shutdown");
        match self.with_tree(|t| backend.shutdown(t)) {
            Ok(()) => CmdResult::Handled,
            Err(e) => {
                tracing::error!("Shutdown failed: {e}");
                CmdResult::Failed
            }
        }
    }

    /// Write a variable: the core's `driver.debug` and `driver.flag.allow_killpower`, else the
    /// backend.
    pub(crate) fn setvar(
        &mut self,
        var: &str,
        value: &str,
        backend: &mut dyn Backend,
    ) -> CmdResult {
        match var.to_ascii_lowercase().as_str() {
            "driver.debug" => {
                let Ok(n) = value.trim().parse::<i32>() else {
                    return CmdResult::Invalid;
                };
                self.debug = if n < 0 { self.debug_base } else { n };
                let d = self.debug.to_string();
                self.with_tree(|t| t.set_info("driver.debug", &d));
                CmdResult::Handled
            }
            "driver.flag.allow_killpower" => {
                let Some(on) = parse_bool(value) else {
                    return CmdResult::Invalid;
                };
                let v = if on { "1" } else { "0" };
                self.with_tree(|t| t.set_info("driver.flag.allow_killpower", v));
                CmdResult::Handled
            }
            _ => self.with_tree(|t| backend.setvar(t, var, value)),
        }
    }
}

/// `0`/`1` and the words NUT accepts for `driver.flag.allow_killpower`.
fn parse_bool(v: &str) -> Option<bool> {
    let l = v.trim().to_ascii_lowercase();
    if l == "1" || l.starts_with("enable") || ["true", "yes", "on"].contains(&l.as_str()) {
        Some(true)
    } else if l == "0" || l.starts_with("disable") || ["false", "no", "off"].contains(&l.as_str()) {
        Some(false)
    } else {
        None
    }
}

fn lines(msgs: &[DriverMsg]) -> Vec<u8> {
    msgs.iter().flat_map(DriverMsg::encode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendError;
    use crate::config::DriverConfig;
    use std::time::Instant;

    /// A backend that records what it was asked and answers from a table.
    #[derive(Default)]
    struct Mock {
        log: Vec<String>,
        shutdown_fails: bool,
    }

    impl Backend for Mock {
        fn init(&mut self, _: &mut Tree, _: &DriverConfig) -> Result<(), BackendError> {
            Ok(())
        }
        fn update(&mut self, _: &mut Tree, _: Instant) -> Result<(), BackendError> {
            Ok(())
        }
        fn instcmd(&mut self, tree: &mut Tree, cmd: &str, param: Option<&str>) -> CmdResult {
            self.log.push(format!("instcmd {cmd} {param:?}"));
            match cmd {
                "beeper.disable" => {
                    tree.set_info("ups.beeper.status", "disabled");
                    CmdResult::Handled
                }
                "load.off.delay" => CmdResult::Invalid,
                "fail" => CmdResult::Failed,
                "conv" => CmdResult::ConversionFailed,
                _ => CmdResult::Unknown,
            }
        }
        fn setvar(&mut self, tree: &mut Tree, var: &str, value: &str) -> CmdResult {
            self.log.push(format!("set {var} {value}"));
            if tree.get(var).is_some_and(|v| v.flags.rw) {
                tree.set_info(var, value);
                CmdResult::Handled
            } else {
                CmdResult::Unknown
            }
        }
        fn shutdown(&mut self, _: &mut Tree) -> Result<(), BackendError> {
            self.log.push("shutdown".into());
            if self.shutdown_fails {
                Err(BackendError::Stale("no answer".into()))
            } else {
                Ok(())
            }
        }
    }

    fn tree() -> Tree {
        let mut t = Tree::new();
        t.set_info("ups.status", "OL");
        t.set_info("input.sensitivity", "medium");
        t.add_enum("input.sensitivity", "low");
        t.add_enum("input.sensitivity", "medium");
        t.set_flags("input.sensitivity", &["RW"]);
        t.set_info("ups.delay.shutdown", "20");
        t.set_flags("ups.delay.shutdown", &["RW", "STRING"]);
        t.set_aux("ups.delay.shutdown", 10);
        t.set_info("battery.charge.low", "10");
        t.add_range("battery.charge.low", 5, 50);
        t.set_flags("battery.charge.low", &["RW", "NUMBER"]);
        t.set_info("ups.mfr", "say \"hi\" #1");
        t.add_cmd("beeper.disable");
        t
    }

    /// A core with connections 1 and 2 open; fresh (not stale).
    fn core() -> (Core, Mock) {
        let mut c = Core::new(tree(), 4242, 0);
        c.set_stale(false);
        c.open(1);
        c.open(2);
        (c, Mock::default())
    }

    /// Feed `input` on `id` and return (what `id` got, what `other` got, closes).
    fn talk(c: &mut Core, m: &mut Mock, id: ConnId, input: &str) -> (String, String) {
        c.feed(id, input.as_bytes(), m);
        out_of(c, id)
    }

    fn out_of(c: &mut Core, id: ConnId) -> (String, String) {
        let mut mine = String::new();
        let mut other = String::new();
        for o in c.take_output() {
            match o {
                Output::Send(to, b) if to == id => mine.push_str(&String::from_utf8(b).unwrap()),
                Output::Send(_, b) => other.push_str(&String::from_utf8(b).unwrap()),
                Output::Close(to) => mine.push_str(&format!("<close {to}>\n")),
            }
        }
        (mine, other)
    }

    const DUMP_BODY: &str = "SETINFO battery.charge.low \"10\"\n\
        ADDRANGE battery.charge.low 5 50\n\
        SETFLAGS battery.charge.low RW NUMBER\n\
        SETINFO driver.debug \"0\"\n\
        SETFLAGS driver.debug RW NUMBER\n\
        SETINFO input.sensitivity \"medium\"\n\
        ADDENUM input.sensitivity \"low\"\n\
        ADDENUM input.sensitivity \"medium\"\n\
        SETFLAGS input.sensitivity RW\n\
        SETINFO ups.delay.shutdown \"20\"\n\
        SETAUX ups.delay.shutdown 10\n\
        SETFLAGS ups.delay.shutdown RW STRING\n\
        SETINFO ups.mfr \"say \\\"hi\\\" \\#1\"\n\
        SETINFO ups.status \"OL\"\n\
        ADDCMD beeper.disable\n\
        ADDCMD driver.exit\n\
        ADDCMD driver.killpower\n\
        ADDCMD driver.reload\n\
        ADDCMD driver.reload-or-error\n\
        ADDCMD driver.reload-or-exit\n\
        ADDCMD shutdown.default\n";

    #[test]
    fn dumpall_fresh_and_stale() {
        let (mut c, mut m) = core();
        let (mine, other) = talk(&mut c, &mut m, 1, "DUMPALL\n");
        assert_eq!(mine, format!("{DUMP_BODY}DATAOK\nDUMPDONE\n"));
        assert_eq!(other, "");
        c.set_stale(true);
        assert_eq!(
            out_of(&mut c, 1),
            ("DATASTALE\n".into(), "DATASTALE\n".into())
        );
        let (mine, _) = talk(&mut c, &mut m, 1, "dumpall\n");
        assert_eq!(mine, format!("DATASTALE\n{DUMP_BODY}DUMPDONE\n"));
        c.set_stale(true);
        assert_eq!(
            out_of(&mut c, 1),
            (String::new(), String::new()),
            "no repeat"
        );
    }

    #[test]
    fn a_new_core_starts_stale() {
        let mut c = Core::new(Tree::new(), 1, 0);
        c.open(7);
        c.feed(7, b"DUMPALL\n", &mut Mock::default());
        let (mine, _) = out_of(&mut c, 7);
        assert!(
            mine.starts_with("DATASTALE\nSETINFO driver.debug"),
            "{mine}"
        );
        assert!(
            mine.ends_with("ADDCMD shutdown.default\nDUMPDONE\n"),
            "{mine}"
        );
    }

    #[test]
    fn ping_getpid_logout_and_unknown() {
        let (mut c, mut m) = core();
        assert_eq!(talk(&mut c, &mut m, 1, "PING\n").0, "PONG\n");
        assert_eq!(talk(&mut c, &mut m, 1, "GETPID\n").0, "PID 4242\n");
        assert_eq!(talk(&mut c, &mut m, 1, "FOO bar\n\n").0, "");
        assert_eq!(talk(&mut c, &mut m, 1, "SET \"unterminated #\n").0, "");
        // split over two reads
        assert_eq!(talk(&mut c, &mut m, 1, "PI").0, "");
        assert_eq!(talk(&mut c, &mut m, 1, "NG\n").0, "PONG\n");
        assert_eq!(
            talk(&mut c, &mut m, 1, "LOGOUT\nPING\n").0,
            "OK Goodbye\n<close 1>\n",
            "nothing after LOGOUT"
        );
        c.close(1);
        assert_eq!(c.connections(), 1);
    }

    #[test]
    fn instcmd_word_counts_and_tracking() {
        let (mut c, mut m) = core();
        let (mine, other) = talk(&mut c, &mut m, 1, "INSTCMD beeper.disable\n");
        assert_eq!(mine, "SETINFO ups.beeper.status \"disabled\"\n");
        assert_eq!(other, mine, "the change is broadcast to everyone");
        assert_eq!(
            talk(&mut c, &mut m, 1, "INSTCMD beeper.disable TRACKING abc\n").0,
            "TRACKING abc 0\n",
            "no change, no broadcast"
        );
        assert_eq!(
            talk(
                &mut c,
                &mut m,
                1,
                "INSTCMD load.off.delay 5 TRACKING id-2\n"
            ),
            ("TRACKING id-2 2\n".into(), String::new())
        );
        for (line, want) in [
            ("INSTCMD nope TRACKING x\n", "TRACKING x 1\n"),
            ("INSTCMD fail TRACKING x\n", "TRACKING x 3\n"),
            ("INSTCMD conv TRACKING x\n", "TRACKING x 4\n"),
            // malformed: 4 words without TRACKING, 5 words without TRACKING, 6 words
            ("INSTCMD a b c\n", ""),
            ("INSTCMD a b c d\n", ""),
            ("INSTCMD a b TRACKING d e\n", ""),
            ("INSTCMD\n", ""),
        ] {
            assert_eq!(talk(&mut c, &mut m, 1, line).0, want, "{line}");
        }
        assert_eq!(
            m.log,
            [
                "instcmd beeper.disable None",
                "instcmd beeper.disable None",
                "instcmd load.off.delay Some(\"5\")",
                "instcmd nope None",
                "instcmd fail None",
                "instcmd conv None",
            ]
        );
    }

    #[test]
    fn set_word_counts_and_escaped_broadcast() {
        let (mut c, mut m) = core();
        let (mine, other) = talk(
            &mut c,
            &mut m,
            2,
            "SET ups.delay.shutdown \"a \\\"b\\\" \\\\c \\#d\" TRACKING t1\n",
        );
        let set = "SETINFO ups.delay.shutdown \"a \\\"b\\\" \\\\c \\#d\"\n";
        assert_eq!(mine, format!("{set}TRACKING t1 0\n"));
        assert_eq!(other, set);
        assert_eq!(
            talk(&mut c, &mut m, 2, "SET ups.mfr x TRACKING t2\n").0,
            "TRACKING t2 1\n"
        );
        // 4 words and 6 words run (extra words ignored); 5 without TRACKING is rejected
        assert_eq!(
            talk(&mut c, &mut m, 2, "SET ups.delay.shutdown 30 junk\n").1,
            "SETINFO ups.delay.shutdown \"30\"\n"
        );
        assert_eq!(
            talk(&mut c, &mut m, 2, "SET ups.delay.shutdown 40 x y\n").0,
            ""
        );
        assert_eq!(
            c.tree().get("ups.delay.shutdown").map(|v| v.raw()),
            Some("30")
        );
        assert_eq!(talk(&mut c, &mut m, 2, "SET ups.delay.shutdown\n").0, "");
    }

    #[test]
    fn nobroadcast_and_broadcast() {
        let (mut c, mut m) = core();
        assert_eq!(talk(&mut c, &mut m, 1, "NOBROADCAST\n").0, "");
        let (mine, other) = talk(&mut c, &mut m, 2, "SET ups.delay.shutdown 5\n");
        assert_eq!(
            (mine.as_str(), other.as_str()),
            ("SETINFO ups.delay.shutdown \"5\"\n", "")
        );
        // replies to its own requests still arrive
        assert_eq!(
            talk(&mut c, &mut m, 1, "SET ups.delay.shutdown 6 TRACKING q\n").0,
            "TRACKING q 0\n"
        );
        talk(&mut c, &mut m, 1, "BROADCAST 0\n");
        assert_eq!(talk(&mut c, &mut m, 2, "SET ups.delay.shutdown 7\n").1, "");
        talk(&mut c, &mut m, 1, "BROADCAST 1\n");
        assert_eq!(
            talk(&mut c, &mut m, 2, "SET ups.delay.shutdown 8\n").1,
            "SETINFO ups.delay.shutdown \"8\"\n"
        );
        talk(&mut c, &mut m, 1, "NOBROADCAST\n");
        talk(&mut c, &mut m, 1, "BROADCAST\n");
        c.set_stale(true);
        assert_eq!(out_of(&mut c, 1).0, "DATASTALE\n");
    }

    #[test]
    fn dumpvalue_and_dumpstatus() {
        let (mut c, mut m) = core();
        assert_eq!(
            talk(&mut c, &mut m, 1, "DUMPVALUE input.sensitivity\n").0,
            "SETINFO input.sensitivity \"medium\"\nADDENUM input.sensitivity \"low\"\n\
             ADDENUM input.sensitivity \"medium\"\nSETFLAGS input.sensitivity RW\nDATAOK\nDUMPDONE\n"
        );
        assert_eq!(
            talk(&mut c, &mut m, 1, "DUMPVALUE nope\n").0,
            "DATAOK\nDUMPDONE\n"
        );
        c.set_stale(true);
        c.take_output();
        assert_eq!(
            talk(&mut c, &mut m, 1, "DUMPSTATUS\n").0,
            "SETINFO ups.status \"OL\"\nDATASTALE\nDUMPDONE\n"
        );
    }

    #[test]
    fn builtins() {
        let (mut c, mut m) = core();
        c.with_tree(|t| {
            t.set_info("driver.flag.allow_killpower", "0");
            t.set_flags("driver.flag.allow_killpower", &["RW", "NUMBER"]);
        });
        c.take_output();
        assert_eq!(
            talk(&mut c, &mut m, 1, "INSTCMD driver.killpower TRACKING k\n").0,
            "TRACKING k 2\n"
        );
        assert!(m.log.is_empty());
        assert_eq!(
            talk(
                &mut c,
                &mut m,
                1,
                "SET driver.flag.allow_killpower maybe TRACKING s\n"
            )
            .0,
            "TRACKING s 2\n"
        );
        assert_eq!(
            talk(
                &mut c,
                &mut m,
                1,
                "SET driver.flag.allow_killpower enabled TRACKING s\n"
            ),
            (
                "SETINFO driver.flag.allow_killpower \"1\"\nTRACKING s 0\n".into(),
                "SETINFO driver.flag.allow_killpower \"1\"\n".into()
            )
        );
        assert_eq!(
            talk(&mut c, &mut m, 1, "INSTCMD driver.killpower TRACKING k\n").0,
            "TRACKING k 0\n"
        );
        m.shutdown_fails = true;
        assert_eq!(
            talk(&mut c, &mut m, 1, "INSTCMD shutdown.default TRACKING k\n").0,
            "TRACKING k 3\n"
        );
        assert_eq!(m.log, ["shutdown", "shutdown"]);
        assert_eq!(
            talk(&mut c, &mut m, 1, "SET driver.debug 3 TRACKING d\n").0,
            "SETINFO driver.debug \"3\"\nTRACKING d 0\n"
        );
        assert_eq!(c.debug_level(), 3);
        talk(&mut c, &mut m, 1, "SET driver.debug -1\n");
        assert_eq!(c.debug_level(), 0);
        assert_eq!(
            talk(
                &mut c,
                &mut m,
                1,
                "INSTCMD driver.reload TRACKING r\nINSTCMD driver.exit\n"
            )
            .0,
            "TRACKING r 0\n"
        );
        assert_eq!(c.take_actions(), [Action::Reload, Action::Exit]);
    }

    #[test]
    fn slow_or_closed_connections_do_not_matter_to_the_core() {
        let (mut c, mut m) = core();
        c.feed(99, b"PING\n", &mut m);
        assert!(c.take_output().is_empty(), "unknown connection is ignored");
        c.close(2);
        c.set_stale(true);
        assert_eq!(c.take_output(), [Output::Send(1, b"DATASTALE\n".to_vec())]);
    }
}
