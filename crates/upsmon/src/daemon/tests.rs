//! The daemon over fake sessions and a fake host, on tokio's paused clock: every effect is
//! written to one journal, in order, with the time where timing matters, and each test reads
//! back exactly what a user of upsmon would see happen.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nut_conf::notify::NotifyEvent;
use nut_conf::upsmon_conf::{Monitor, NotifyUrl, UpsmonConf};
use tokio::time::Instant;

use super::{Daemon, Input, Settings};
use crate::host::Host;
use crate::machine::{Action, ClearResult, LogLevel, PollResult};
use crate::sessions::{Report, SessionId, Sessions};
use crate::webhook::Notification;

/// Everything the fakes were asked to do, in order.
type Journal = Rc<RefCell<Vec<String>>>;

/// Time since the test began, for the entries whose timing matters.
fn since(start: Instant) -> String {
    format!("{:?}", start.elapsed())
}

/// upsd sessions that answer as the test says.
struct FakeSessions {
    journal: Journal,
    start: Instant,
    next: u64,
    /// Whether upsd answers `FSD` with OK.
    fsd_ok: bool,
    /// `NUMLOGINS` answers in turn; the last one repeats.
    numlogins: VecDeque<u32>,
    /// `NUMLOGINS` fails (upsd gone, or its driver).
    numlogins_fail: bool,
    /// `ups.status` answers during the HOSTSYNC wait, in turn; the last one repeats.
    statuses: VecDeque<&'static str>,
    /// upsd's answer to `CLEARFSD`.
    clear_fsd: ClearResult,
}

impl Sessions for FakeSessions {
    fn spawn(&mut self, monitor: &Monitor, _conf: &UpsmonConf) -> SessionId {
        let id = self.next;
        self.next += 1;
        let m = monitor;
        let entry = format!("spawn #{id} {} as {}:{}", m.system, m.user, m.password);
        self.journal.borrow_mut().push(entry);
        SessionId(id)
    }

    fn end(&mut self, id: SessionId) {
        self.journal.borrow_mut().push(format!("end #{}", id.0));
    }

    async fn fsd(&mut self, id: SessionId) -> bool {
        self.journal.borrow_mut().push(format!("FSD #{}", id.0));
        self.fsd_ok
    }

    async fn numlogins(&mut self, id: SessionId) -> Option<u32> {
        let entry = format!("NUMLOGINS #{} at {}", id.0, since(self.start));
        self.journal.borrow_mut().push(entry);
        if self.numlogins_fail {
            return None;
        }
        let n = match self.numlogins.len() {
            0 => 1,
            1 => self.numlogins[0],
            _ => self.numlogins.pop_front().unwrap_or(1),
        };
        Some(n)
    }

    fn set_poll_interval(&mut self, every: Duration) {
        self.journal
            .borrow_mut()
            .push(format!("poll every {every:?}"));
    }

    fn stop_polling(&mut self) {
        self.journal.borrow_mut().push("stop polling".into());
    }

    async fn logout(&mut self, id: SessionId) {
        let entry = format!("LOGOUT #{} at {}", id.0, since(self.start));
        self.journal.borrow_mut().push(entry);
    }

    async fn status(&mut self, id: SessionId) -> Option<String> {
        let entry = format!("GET ups.status #{} at {}", id.0, since(self.start));
        self.journal.borrow_mut().push(entry);
        let s = match self.statuses.len() {
            0 => return None,
            1 => self.statuses[0],
            _ => self.statuses.pop_front().unwrap_or("OB"),
        };
        Some(s.into())
    }

    async fn clear_fsd(&mut self, id: SessionId) -> ClearResult {
        let entry = format!("CLEARFSD #{} at {}", id.0, since(self.start));
        self.journal.borrow_mut().push(entry);
        self.clear_fsd.clone()
    }
}

/// A machine that writes down what it is told.
struct FakeHost {
    journal: Journal,
    start: Instant,
    /// Added to the wall clock (a suspend, a clock change).
    wall_jump: Duration,
    /// `Some(answer)`: a root parent that answers the shutdown request so.
    parent: Option<Result<(), String>>,
    parent_gone: bool,
    root: bool,
}

impl FakeHost {
    fn push(&self, entry: String) {
        self.journal.borrow_mut().push(entry);
    }
}

impl Host for FakeHost {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.push(format!("{level:?}: {message}"));
    }

    fn wall(&mut self, message: &str) {
        self.push(format!("wall: {message}"));
    }

    fn notifycmd(&mut self, cmd: &str, message: &str, upsname: &str, notifytype: &str) {
        self.push(format!(
            "UPSNAME={upsname} NOTIFYTYPE={notifytype} {cmd} \"{message}\""
        ));
    }

    fn webhook(&mut self, hook: &NotifyUrl, n: &Notification) {
        self.push(format!(
            "webhook {}: {} ups={} status={} host={} time={:?}: {}",
            hook.name,
            n.event,
            n.ups,
            n.status,
            n.host,
            n.time.duration_since(UNIX_EPOCH).unwrap_or_default(),
            n.message
        ));
    }

    fn wall_clock(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000) + self.start.elapsed() + self.wall_jump
    }

    fn has_parent(&self) -> bool {
        self.parent.is_some()
    }

    fn parent_gone(&self) -> bool {
        self.parent_gone
    }

    fn ask_parent_to_shut_down(&mut self) -> Result<(), String> {
        self.push(format!(
            "parent asked to shut down at {}",
            since(self.start)
        ));
        self.parent.clone().unwrap_or(Err("no parent".into()))
    }

    fn is_root(&self) -> bool {
        self.root
    }

    fn set_powerdown_flag(&mut self, path: &Path) -> std::io::Result<()> {
        self.push(format!(
            "POWERDOWNFLAG {} at {}",
            path.display(),
            since(self.start)
        ));
        Ok(())
    }

    async fn run_shutdowncmd(&mut self, cmd: &str) {
        self.push(format!("SHUTDOWNCMD {cmd} at {}", since(self.start)));
    }
}

/// A daemon on `conf_text` (written to upsmon.conf in a temporary directory, for reloads).
struct Rig {
    daemon: Daemon<FakeSessions, FakeHost>,
    journal: Journal,
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(conf_text: &str) -> Rig {
        Rig::with(conf_text, |_, _| {})
    }

    /// With the fakes set up by `setup` before the daemon starts.
    fn with(conf_text: &str, setup: impl FnOnce(&mut FakeSessions, &mut FakeHost)) -> Rig {
        let dir = tempfile::tempdir().expect("temporary directory");
        let confpath = dir.path().join("upsmon.conf");
        std::fs::write(&confpath, conf_text).expect("write upsmon.conf");
        let conf = crate::start::load_conf(&confpath).expect("a valid upsmon.conf");
        let journal = Journal::default();
        let start = Instant::now();
        let mut sessions = FakeSessions {
            journal: journal.clone(),
            start,
            next: 0,
            fsd_ok: true,
            numlogins: VecDeque::new(),
            numlogins_fail: false,
            statuses: VecDeque::new(),
            clear_fsd: ClearResult::Cleared,
        };
        let mut host = FakeHost {
            journal: journal.clone(),
            start,
            wall_jump: Duration::ZERO,
            parent: None,
            parent_gone: false,
            root: true,
        };
        setup(&mut sessions, &mut host);
        let settings = Settings {
            confpath,
            powerdownflag: conf.powerdownflag.clone(),
            hostname: "box".into(),
        };
        let daemon = Daemon::start(conf, settings, sessions, host);
        Rig {
            daemon,
            journal,
            dir,
        }
    }

    /// The journal so far, emptied.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.journal.borrow_mut())
    }

    /// Nothing was done since the last look.
    #[track_caller]
    fn assert_quiet(&self) {
        assert_eq!(self.take(), Vec::<String>::new());
    }

    async fn status(&mut self, session: u64, status: &str) -> Option<ExitCode> {
        let result = PollResult::Status {
            status: status.into(),
            alarm: None,
            battery: Default::default(),
        };
        self.poll(session, result).await
    }

    async fn poll(&mut self, session: u64, result: PollResult) -> Option<ExitCode> {
        let report = Report {
            session: SessionId(session),
            result,
            started: Instant::now().into_std(),
        };
        self.daemon.handle(Input::Report(report)).await
    }

    /// Replace upsmon.conf and send the reload signal.
    async fn reload(&mut self, conf_text: &str) -> Option<ExitCode> {
        std::fs::write(self.dir.path().join("upsmon.conf"), conf_text).expect("rewrite");
        self.daemon.handle(Input::Reload).await
    }
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// The ONBATT notification of `ups` with the default flags: the log line and the wall.
fn on_battery(ups: &str) -> Vec<String> {
    vec![
        format!("Warning: UPS {ups} on battery"),
        format!("wall: UPS {ups} on battery"),
    ]
}

const PRIMARY: &str = "MONITOR ups@h 1 mon pw primary
SHUTDOWNCMD \"/sbin/poweroff\"
POWERDOWNFLAG /run/killpower
FINALDELAY 5
";

/// `FSD` on the primary's session, confirmed, and the FSD notification (default flags).
const FSD_SET: [&str; 4] = [
    "FSD #0",
    "Info: FSD set on UPS [ups@h]",
    "Warning: UPS ups@h: forced shutdown in progress",
    "wall: UPS ups@h: forced shutdown in progress",
];

/// The banner and the SHUTDOWN notification (default flags), then PRIMARY's shutdown by
/// this process after FINALDELAY, `at` since the test began.
fn shutdown_at(at: &str) -> Vec<String> {
    let mut lines = strings(&[
        "Critical: Executing automatic power-fail shutdown",
        "wall: Executing automatic power-fail shutdown",
        "Warning: Auto logout and shutdown proceeding",
        "wall: Auto logout and shutdown proceeding",
        "stop polling",
    ]);
    // FINALDELAY, then the flag, then the command
    lines.push(format!("POWERDOWNFLAG /run/killpower at {at}"));
    lines.push(format!("SHUTDOWNCMD /sbin/poweroff at {at}"));
    lines
}

#[tokio::test(start_paused = true)]
async fn a_primary_on_low_battery_sets_fsd_waits_and_shuts_down_once() {
    let mut rig = Rig::new(PRIMARY);
    assert_eq!(rig.take(), ["spawn #0 ups@h as mon:pw"]);
    assert_eq!(rig.status(0, "OL").await, None);
    rig.assert_quiet();

    assert_eq!(rig.status(0, "OB LB").await, Some(ExitCode::SUCCESS));
    let mut want = on_battery("ups@h");
    want.extend(strings(&[
        "Warning: UPS ups@h battery is low",
        "wall: UPS ups@h battery is low",
        "Debug: Critical UPS: ups@h",
        "Warning: Too few UPS(es) are healthy (0<1), initiating forced shutdown",
    ]));
    // (the confirmation is fed back to the machine, which notifies FSD)
    want.extend(strings(&FSD_SET));
    want.push("NUMLOGINS #0 at 0ns".into());
    want.extend(shutdown_at("5s"));
    assert_eq!(rig.take(), want);

    // the machine is done: nothing more is shut down
    assert_eq!(rig.daemon.handle(Input::ForcedShutdown).await, None);
    assert_eq!(rig.daemon.handle(Input::Tick).await, None);
    assert_eq!(rig.status(0, "OB LB").await, None);
    assert_eq!(rig.take(), ["Warning: Signal 10: User requested FSD"]);
}

#[tokio::test(start_paused = true)]
async fn a_refused_fsd_is_logged_and_not_notified() {
    let mut rig = Rig::with(PRIMARY, |s, _| s.fsd_ok = false);
    rig.take();
    rig.daemon.handle(Input::ForcedShutdown).await;
    let got = rig.take();
    let want = strings(&[
        "Warning: Signal 10: User requested FSD",
        "FSD #0",
        "Error: FSD set on UPS [ups@h] failed",
        "NUMLOGINS #0 at 0ns",
    ]);
    assert_eq!(got[..4], want);
    assert!(!got
        .iter()
        .any(|l| l.contains("forced shutdown in progress")));
    // as NUT: the wait and this host's shutdown still follow
    assert_eq!(
        got.last().map(String::as_str),
        Some("SHUTDOWNCMD /sbin/poweroff at 5s")
    );
}

#[tokio::test(start_paused = true)]
async fn the_wait_for_secondaries_polls_numlogins_every_250_ms_until_they_are_gone() {
    let mut rig = Rig::with(PRIMARY, |s, _| s.numlogins = [3, 3, 2, 1].into());
    rig.take();
    rig.daemon.handle(Input::ForcedShutdown).await;
    let mut want = strings(&["Warning: Signal 10: User requested FSD"]);
    want.extend(strings(&FSD_SET));
    want.extend(strings(&[
        "NUMLOGINS #0 at 0ns",
        // once, after the first round that still sees secondaries
        "Warning: Shutdown initiated; primary system is waiting for secondaries to log out or time out",
        "wall: Shutdown initiated; primary system is waiting for secondaries to log out or time out",
        "NUMLOGINS #0 at 250ms",
        "NUMLOGINS #0 at 500ms",
        "NUMLOGINS #0 at 750ms",
    ]));
    want.extend(shutdown_at("5.75s"));
    assert_eq!(rig.take(), want);
}

/// `upsmon -c fsd` on PRIMARY with HOSTSYNC 1 and the sessions set up by `setup`; what
/// happened.
async fn forced_with_hostsync_1(setup: impl FnOnce(&mut FakeSessions)) -> Vec<String> {
    let conf = format!("{PRIMARY}HOSTSYNC 1\n");
    let mut rig = Rig::with(&conf, |s, _| setup(s));
    rig.take();
    rig.daemon.handle(Input::ForcedShutdown).await;
    rig.take()
}

/// The times of the primary's NUMLOGINS rounds.
fn numlogins_rounds(got: &[String]) -> Vec<&str> {
    got.iter()
        .filter_map(|l| l.strip_prefix("NUMLOGINS #0 at "))
        .collect()
}

/// The rounds of a wait that HOSTSYNC 1 ends: the first past one second.
const HOSTSYNC_1_ROUNDS: [&str; 6] = ["0ns", "250ms", "500ms", "750ms", "1s", "1.25s"];

#[tokio::test(start_paused = true)]
async fn hostsync_ends_the_wait_for_secondaries_that_stay() {
    let got = forced_with_hostsync_1(|s| s.numlogins = [2].into()).await;
    // the wait began at 0: the first round past one second ends it
    assert_eq!(numlogins_rounds(&got), HOSTSYNC_1_ROUNDS);
    let expired = got
        .iter()
        .position(|l| l == "Info: Host sync timer expired, forcing shutdown");
    let last_round = got.iter().position(|l| l == "NUMLOGINS #0 at 1.25s");
    assert_eq!(expired, last_round.map(|i| i + 1), "{got:#?}");
    // SHUTDOWN_HOSTSYNC once, while waiting
    let hostsync = "wall: Shutdown initiated; primary system is waiting for secondaries to log out or time out";
    assert_eq!(got.iter().filter(|l| *l == hostsync).count(), 1);
    assert_eq!(got.iter().position(|l| l == hostsync), Some(7), "{got:#?}");
    assert_eq!(
        got.last().map(String::as_str),
        Some("SHUTDOWNCMD /sbin/poweroff at 6.25s")
    );
}

/// OB+LB on the primary with `CLEARFSD_ON_MAINS`; `statuses` are what it reads during the
/// wait, with one secondary still logged in.
async fn clearfsd_rig(answer: ClearResult, statuses: &[&'static str]) -> (Rig, Vec<String>) {
    let conf = format!("{PRIMARY}CLEARFSD_ON_MAINS 1\n");
    let mut rig = Rig::with(&conf, |s, _| {
        s.numlogins = [2].into();
        s.statuses = statuses.iter().copied().collect();
        s.clear_fsd = answer;
    });
    rig.status(0, "OB").await;
    rig.take();
    rig.status(0, "OB LB").await;
    let got = rig.take();
    (rig, got)
}

#[tokio::test(start_paused = true)]
async fn mains_back_in_the_wait_withdraws_fsd_and_monitoring_goes_on() {
    let (mut rig, got) = clearfsd_rig(ClearResult::Cleared, &["FSD OB LB", "FSD OL CHRG LB"]).await;
    let from = got.iter().position(|l| l == "FSD #0").expect("FSD sent");
    assert_eq!(
        got[from..],
        strings(&[
            "FSD #0",
            "Info: FSD set on UPS [ups@h]",
            "Warning: UPS ups@h: forced shutdown in progress",
            "wall: UPS ups@h: forced shutdown in progress",
            "GET ups.status #0 at 0ns",
            "NUMLOGINS #0 at 0ns",
            "Warning: Shutdown initiated; primary system is waiting for secondaries to log out or time out",
            "wall: Shutdown initiated; primary system is waiting for secondaries to log out or time out",
            "GET ups.status #0 at 250ms",
            "CLEARFSD #0 at 250ms",
            "Notice: UPS [ups@h]: mains returned before any other host acted on the FSD: FSD withdrawn, shutdown called off",
            "Warning: UPS ups@h on line power",
            "wall: UPS ups@h on line power",
            "Warning: UPS ups@h on line power again: forced shutdown withdrawn",
            "wall: UPS ups@h on line power again: forced shutdown withdrawn",
        ])
    );
    // a poll begun before the withdrawal read the old status: it is dropped
    let before = Instant::now() - Duration::from_millis(100);
    let old = Report {
        session: SessionId(0),
        result: PollResult::Status {
            status: "FSD OB LB".into(),
            alarm: None,
            battery: Default::default(),
        },
        started: before.into_std(),
    };
    assert_eq!(rig.daemon.handle(Input::Report(old)).await, None);
    rig.assert_quiet();
    // monitoring goes on; the next low battery is a new shutdown
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(rig.status(0, "OL CHRG").await, None);
    rig.assert_quiet();
    rig.status(0, "OB").await;
    rig.take();
    rig.status(0, "OB LB").await;
    assert!(rig.take().contains(&"FSD #0".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_refused_clearfsd_leaves_the_shutdown_going() {
    let (_, got) = clearfsd_rig(
        ClearResult::Refused("server replied ERR FSD-SEEN".into()),
        &["FSD OL"],
    )
    .await;
    let clear = got
        .iter()
        .position(|l| l == "CLEARFSD #0 at 0ns")
        .expect("asked");
    assert_eq!(
        got[clear + 1],
        "Warning: UPS [ups@h]: FSD stays (server replied ERR FSD-SEEN), the shutdown goes on"
    );
    // asked once; no more status reads; HOSTSYNC (15 s) ends the wait
    assert_eq!(got.iter().filter(|l| l.starts_with("CLEARFSD")).count(), 1);
    assert_eq!(
        got.iter()
            .filter(|l| l.starts_with("GET ups.status"))
            .count(),
        1
    );
    assert_eq!(
        got.last().map(String::as_str),
        Some("SHUTDOWNCMD /sbin/poweroff at 20.25s")
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_numlogins_waits_out_hostsync() {
    // NUT counts it as no login left and shuts down at once; a secondary may still be up
    let got = forced_with_hostsync_1(|s| s.numlogins_fail = true).await;
    assert_eq!(numlogins_rounds(&got), HOSTSYNC_1_ROUNDS);
    assert!(got.contains(&"Info: Host sync timer expired, forcing shutdown".to_string()));
    assert_eq!(
        got.last().map(String::as_str),
        Some("SHUTDOWNCMD /sbin/poweroff at 6.25s")
    );
}

const SECONDARY: &str = "MONITOR ups@h 1 mon pw secondary
SHUTDOWNCMD \"/sbin/poweroff\"
POWERDOWNFLAG /run/killpower
FINALDELAY 3
";

#[tokio::test(start_paused = true)]
async fn a_secondary_shuts_down_without_fsd_and_warns_when_not_root() {
    let mut rig = Rig::with(SECONDARY, |_, h| h.root = false);
    rig.take();
    assert_eq!(
        rig.daemon.handle(Input::ForcedShutdown).await,
        Some(ExitCode::SUCCESS)
    );
    let mut want = strings(&["Warning: Signal 10: User requested FSD"]);
    want.extend(shutdown_at("3s"));
    want.insert(6, "Warning: Not root, shutdown may fail".into());
    assert_eq!(rig.take(), want);
}

#[tokio::test(start_paused = true)]
async fn a_secondary_on_its_own_limit_logs_out_once_shutdowncmd_ran() {
    let mut rig = Rig::new(&format!("{SECONDARY}ONBATT_SHUTDOWN_AFTER 3\n"));
    rig.take();
    assert_eq!(rig.status(0, "OB").await, None);
    let mut want = on_battery("ups@h");
    want.push(
        "Notice: UPS [ups@h] on battery: shutdown in 3 s (ONBATT_SHUTDOWN_AFTER) unless mains returns"
            .into(),
    );
    assert_eq!(rig.take(), want);
    tokio::time::advance(Duration::from_millis(2750)).await;
    assert_eq!(rig.daemon.handle(Input::Tick).await, None);
    rig.assert_quiet();
    tokio::time::advance(Duration::from_millis(250)).await;
    assert_eq!(
        rig.daemon.handle(Input::Tick).await,
        Some(ExitCode::SUCCESS)
    );
    let reason = "UPS ups@h: shutdown policy reached (on battery for 3 s, ONBATT_SHUTDOWN_AFTER 3)";
    let mut want = strings(&[
        &format!("Warning: {reason}"),
        &format!("wall: {reason}"),
        "Debug: Critical UPS: ups@h",
        "Warning: Too few UPS(es) are healthy (0<1), initiating forced shutdown",
    ]);
    want.extend(shutdown_at("6s"));
    // after FINALDELAY and SHUTDOWNCMD, not before
    want.extend(strings(&[
        "LOGOUT #0 at 6s",
        "Info: Logged out of UPS [ups@h]",
    ]));
    assert_eq!(rig.take(), want);
}

#[tokio::test(start_paused = true)]
async fn the_root_parent_shuts_down_and_a_dead_pipe_falls_back_to_this_process() {
    let mut rig = Rig::with(SECONDARY, |_, h| h.parent = Some(Ok(())));
    rig.take();
    rig.daemon.handle(Input::ForcedShutdown).await;
    let got = rig.take();
    assert_eq!(
        got[got.len() - 2..],
        ["stop polling", "parent asked to shut down at 3s"]
    );

    let mut rig = Rig::with(SECONDARY, |_, h| {
        h.parent = Some(Err("EPIPE: Broken pipe".into()))
    });
    rig.take();
    rig.daemon.handle(Input::ForcedShutdown).await;
    let got = rig.take();
    assert_eq!(
        got[got.len() - 4..],
        [
            "parent asked to shut down at 3s",
            "Error: Unable to call parent pipe for shutdown: EPIPE: Broken pipe",
            "POWERDOWNFLAG /run/killpower at 3s",
            "SHUTDOWNCMD /sbin/poweroff at 3s",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdownexit_keeps_upsmon_running_that_long_after_the_command() {
    let conf = format!("{SECONDARY}SHUTDOWNEXIT 30\n");
    let mut rig = Rig::new(&conf);
    rig.take();
    let start = Instant::now();
    assert_eq!(
        rig.daemon.handle(Input::ForcedShutdown).await,
        Some(ExitCode::SUCCESS)
    );
    assert_eq!(start.elapsed(), Duration::from_secs(33));
    let got = rig.take();
    assert_eq!(
        got[got.len() - 2..],
        [
            "SHUTDOWNCMD /sbin/poweroff at 3s",
            "Info: SHUTDOWNEXIT: staying connected"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn notifyflag_and_notifyurlflag_route_each_event() {
    let mut rig = Rig::new(
        "MONITOR ups@h 1 mon pw secondary
NOTIFYCMD /usr/bin/notify
NOTIFYFLAG ONBATT SYSLOG+EXEC
NOTIFYFLAG ONLINE IGNORE
NOTIFYFLAG LOWBATT SYSLOG+WALL+IGNORE
NOTIFYURL all json http://127.0.0.1:9/all
NOTIFYURL phone ntfy http://127.0.0.1:9/phone
NOTIFYURLFLAG ONLINE phone
NOTIFYURLFLAG COMMBAD NONE
",
    );
    rig.take();
    rig.status(0, "OL").await;
    rig.assert_quiet();

    rig.status(0, "OB").await;
    let webhook = "ONBATT ups=ups@h status=OB host=box time=1700000000s: UPS ups@h on battery";
    assert_eq!(
        rig.take(),
        [
            "Warning: UPS ups@h on battery".to_string(),
            "UPSNAME=ups@h NOTIFYTYPE=ONBATT /usr/bin/notify \"UPS ups@h on battery\"".into(),
            format!("webhook all: {webhook}"),
            format!("webhook phone: {webhook}"),
        ]
    );

    // IGNORE: no log, wall or command, but a hook that asks for the event still gets it
    rig.status(0, "OL").await;
    assert_eq!(
        rig.take(),
        ["webhook phone: ONLINE ups=ups@h status=OL host=box time=1700000000s: UPS ups@h on line power"]
    );

    // IGNORE wins over the other flags
    rig.status(0, "OL LB").await;
    assert_eq!(
        rig.take(),
        [
            "webhook all: LOWBATT ups=ups@h status=OL LB host=box time=1700000000s: UPS ups@h battery is low",
            "webhook phone: LOWBATT ups=ups@h status=OL LB host=box time=1700000000s: UPS ups@h battery is low",
        ]
    );

    // the default flags (SYSLOG+WALL), and no hook for NONE
    rig.poll(0, PollResult::CommLost).await;
    assert_eq!(
        rig.take(),
        [
            "Warning: Communications with UPS ups@h lost",
            "wall: Communications with UPS ups@h lost"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn exec_without_notifycmd_and_events_of_no_ups() {
    let mut rig = Rig::new("MONITOR ups@h 1 mon pw secondary\nNOTIFYFLAG NOPARENT EXEC\n");
    rig.take();
    let notify = |event: NotifyEvent, ups| Action::Notify {
        event,
        ups,
        message: "text".into(),
    };
    rig.daemon
        .execute(vec![
            notify(NotifyEvent::NoParent, None),
            notify(NotifyEvent::Cal, Some(0)),
        ])
        .await;
    assert_eq!(
        rig.take(),
        [
            "Debug: EXEC for NOPARENT but no NOTIFYCMD",
            // CAL's stock flags are SYSLOG only
            "Warning: text",
        ]
    );

    let mut rig =
        Rig::new("MONITOR ups@h 1 mon pw secondary\nNOTIFYCMD notify\nNOTIFYFLAG SHUTDOWN EXEC\n");
    rig.take();
    rig.daemon
        .execute(vec![notify(NotifyEvent::Shutdown, None)])
        .await;
    assert_eq!(rig.take(), ["UPSNAME= NOTIFYTYPE=SHUTDOWN notify \"text\""]);
}

#[tokio::test(start_paused = true)]
async fn the_poll_interval_follows_the_machine() {
    let mut rig = Rig::new("MONITOR ups@h 1 mon pw secondary\nPOLLFREQ 10\nPOLLFREQALERT 2\n");
    rig.take();
    rig.status(0, "OL").await;
    rig.status(0, "OB").await;
    rig.status(0, "OL").await;
    let polls: Vec<String> = rig
        .take()
        .into_iter()
        .filter(|l| l.starts_with("poll"))
        .collect();
    assert_eq!(polls, ["poll every 2s", "poll every 10s"]);
}

const TWO: &str = "MONITOR a@h 1 mon pw secondary
MONITOR b@h 1 mon pw secondary
MINSUPPLIES 1
";

#[tokio::test(start_paused = true)]
async fn reload_keeps_adds_and_drops_sessions() {
    let mut rig = Rig::new(TWO);
    assert_eq!(
        rig.take(),
        ["spawn #0 a@h as mon:pw", "spawn #1 b@h as mon:pw"]
    );
    rig.reload("MONITOR b@h 1 mon pw secondary\nMONITOR c@h 0 mon pw secondary\n")
        .await;
    assert_eq!(
        rig.take(),
        [
            "Info: Reloading configuration",
            "spawn #2 c@h as mon:pw",
            "Info: No longer monitoring UPS [a@h]",
            "end #0",
        ]
    );
    // a late report of the dropped session is ignored; b@h kept its session and state
    rig.status(0, "OB").await;
    rig.assert_quiet();
    rig.status(1, "OL").await;
    rig.status(1, "OB").await;
    assert_eq!(rig.take(), on_battery("b@h"));
}

#[tokio::test(start_paused = true)]
async fn reload_reconnects_the_one_ups_whose_login_changed() {
    let mut rig = Rig::new(TWO);
    rig.take();
    rig.status(1, "OL").await;
    rig.reload(&TWO.replace("b@h 1 mon pw", "b@h 1 mon newpw"))
        .await;
    assert_eq!(
        rig.take(),
        [
            "Info: Reloading configuration",
            "spawn #2 b@h as mon:newpw",
            "end #1",
        ]
    );
    rig.status(1, "OB").await;
    rig.assert_quiet();
    rig.status(2, "OB").await;
    assert_eq!(rig.take(), on_battery("b@h"));
}

#[tokio::test(start_paused = true)]
async fn a_bad_reload_keeps_the_old_configuration() {
    let mut rig = Rig::with(TWO, |_, h| h.parent = Some(Ok(())));
    rig.take();
    rig.reload("MONITOR a@h 1 mon\n").await;
    let file = rig.dir.path().join("upsmon.conf");
    assert_eq!(
        rig.take(),
        [
            "Info: Reloading configuration".to_string(),
            format!(
                "Error: reload failed, keeping the old configuration: {}:1: MONITOR takes 5 values: <system> <powervalue> <user> <password> <role>, got 3 words",
                file.display()
            ),
        ]
    );
    rig.reload(&format!("{TWO}MINSUPPLIES 3\nSHUTDOWNCMD /sbin/off\n"))
        .await;
    assert_eq!(
        rig.take(),
        [
            "Info: Reloading configuration",
            // the root parent keeps the command it was started with
            "Warning: Warning: SHUTDOWNCMD redefined in split-process mode!",
            "Warning: You must restart upsmon for this change to work",
            "Error: reload refused, keeping the old configuration: insufficient power configured: the sum of power values is 2, MINSUPPLIES is 3",
        ]
    );
    // still watching both
    rig.status(0, "OL").await;
    rig.status(0, "OB").await;
    assert_eq!(rig.take()[0], "Warning: UPS a@h on battery");
}

#[tokio::test(start_paused = true)]
async fn the_timer_notices_a_dead_parent_and_a_clock_jump() {
    let mut rig = Rig::with(TWO, |_, h| {
        h.parent = Some(Ok(()));
        h.parent_gone = true;
    });
    rig.take();
    rig.daemon.handle(Input::Tick).await;
    assert_eq!(
        rig.take(),
        [
            "Warning: upsmon parent process died - shutdown impossible",
            "wall: upsmon parent process died - shutdown impossible",
            "Alert: Parent died - shutdown impossible",
        ]
    );

    let mut rig = Rig::new(TWO);
    rig.take();
    tokio::time::advance(Duration::from_secs(1)).await;
    rig.daemon.handle(Input::Tick).await;
    rig.assert_quiet();
    rig.daemon.host.wall_jump = Duration::from_secs(3600);
    rig.daemon.handle(Input::Tick).await;
    assert_eq!(
        rig.take(),
        [
            "Warning: It seems we have slept without warning or the system clock was changed by 3600.000000 seconds",
            "Warning: Unexpected clock change by 3600.000000 seconds, treating as wake up from sleep",
            "wall: Unexpected clock change by 3600.000000 seconds, treating as wake up from sleep",
            "Warning: OS just finished sleep/suspend/hibernate mode, de-activating obsolete UPS readings to avoid an unfortunate shutdown",
            "wall: OS just finished sleep/suspend/hibernate mode, de-activating obsolete UPS readings to avoid an unfortunate shutdown",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_signal_ends_upsmon() {
    let mut rig = Rig::new(TWO);
    rig.take();
    assert_eq!(
        rig.daemon.handle(Input::Stop).await,
        Some(ExitCode::SUCCESS)
    );
    assert_eq!(rig.take(), ["Info: Signal received: exiting"]);
}
