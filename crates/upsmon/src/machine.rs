//! upsmon's decisions, without I/O: what each poll result means, when a UPS is critical, when
//! to notify, and when to shut down.
//!
//! Rules are those of current NUT (post-2.8.5 `clients/upsmon.c`, see the upsmon spec): comm-loss
//! criticality, `OFFDURATION`, `OVERDURATION`, `OBLBDURATION`, `ALARMCRITICAL`, every notify
//! event and `CAL` cleared when it goes away. Time is passed in; nothing here sleeps, reads a
//! clock or touches a socket.
//!
//! nut-rs adds the `ONBATT_SHUTDOWN_AFTER` / `_RUNTIME` / `_CHARGE` limits: a UPS last known on
//! battery that has been so for `AFTER` seconds (from the first poll that saw `OB`), or whose
//! last `battery.runtime` / `battery.charge` reading is below the limit, is critical at once
//! (for a secondary too: its own policy, no HOSTSYNC), with an `ONBATT_SHUTDOWN`
//! notification; `OL` before that gives `ONBATT_SHUTDOWN_CANCELLED`.
//!
//! And `CLEARFSD_ON_MAINS`: a primary that set FSD itself (not `upsmon -c fsd`), for its one
//! primary UPS, keeps reading the status of every UPS during its HOSTSYNC wait
//! ([`Machine::polls_while_waiting`], [`Machine::status_while_waiting`]); once all say `OL`
//! and none `OB`, it asks upsd to withdraw the FSD ([`Action::ClearFsd`]). upsd agrees only
//! while no other host can have acted on it; then the shutdown is called off
//! ([`Machine::fsd_clear_result`]: `FSD_CLEARED`, back to monitoring). Any other answer
//! leaves the shutdown going on.
//!
//! # Driving the machine
//!
//! One monitoring cycle of the I/O layer:
//! 1. for each `MONITOR` entry (config order) poll upsd and call [`Machine::observe`];
//! 2. call [`Machine::tick`] (NUT's `recalc()`: `DEADTIME` promotion, criticality, `MINSUPPLIES`);
//! 3. carry out the returned [`Action`]s in order, then sleep [`Machine::poll_interval`].
//!
//! Ticking more often (after every observation, or on a fast timer) is fine: the rules only
//! compare the injected time with the remembered poll times, and each criticality reason is
//! logged once when it starts to apply. Observations and ticks are ignored once the shutdown
//! has begun.
//!
//! A shutdown goes: [`Action::SendFsd`] for every UPS this host is primary for (report each `OK`
//! with [`Machine::fsd_confirmed`]), then [`Action::WaitForSecondaries`] (poll `GET NUMLOGINS`
//! every 250 ms and report each round with [`Machine::numlogins`]), then the `SHUTDOWN` notify
//! and [`Action::Shutdown`]. A host that is primary for nothing gets the last two at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nut_conf::notify::NotifyEvent;
use nut_conf::upsmon_conf::{Monitor, Role, UpsmonConf};

use crate::notify::{format_message, SHUTDOWN_BANNER};
use crate::status::{mentions, tokens, Token};
use crate::Error;

/// How often NUT's `sync_secondaries()` asks upsd for `NUMLOGINS`.
pub const NUMLOGINS_INTERVAL: Duration = Duration::from_millis(250);

/// `NOPARENT` is repeated at most this often.
pub const NOPARENT_INTERVAL: Duration = Duration::from_secs(120);

/// The result of polling one UPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Index into the `MONITOR` list ([`UpsmonConf::monitors`]).
    pub ups: usize,
    /// What the poll gave.
    pub result: PollResult,
}

/// What one poll of `ups.status` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// `GET VAR <ups> ups.status` answered. `alarm` is `ups.alarm`, which the I/O layer reads
    /// only when the status has an `ALARM` word (`None` if it did not or could not).
    /// An empty status counts as a failed poll, as in NUT.
    Status {
        /// The `ups.status` value.
        status: String,
        /// The `ups.alarm` value, if read.
        alarm: Option<String>,
        /// `battery.runtime` / `battery.charge`, if read.
        battery: Battery,
    },
    /// Connect, login or the GET failed (connection refused, timeout, `ERR UNKNOWN-UPS`, ...).
    CommLost,
    /// `ERR DATA-STALE`.
    DataStale,
    /// `ERR DRIVER-NOT-CONNECTED`.
    DriverNotConnected,
}

/// `battery.runtime` and `battery.charge` read along with the status: the I/O layer reads them
/// only while the status says `OB` and only when `ONBATT_SHUTDOWN_RUNTIME` /
/// `ONBATT_SHUTDOWN_CHARGE` is set (so the wire is stock's otherwise). Whole units, rounded
/// down (for a whole-number limit, `floor(x) < limit` exactly when `x < limit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Battery {
    /// `battery.runtime` in seconds, if read and numeric.
    pub runtime: Option<u64>,
    /// `battery.charge` in percent, if read and numeric.
    pub charge: Option<u64>,
}

impl Battery {
    /// A NUT value (`"1234"`, `"87.5"`) rounded down to a whole number; `None` if it is not a
    /// number. Negative values count as 0.
    pub fn whole(value: &str) -> Option<u64> {
        let v: f64 = value.trim().parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        // (in range: clamped below at 0, and as u64 saturates)
        Some(v.max(0.0).floor() as u64)
    }
}

/// Severity of an [`Action::Log`] line (syslog levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `LOG_DEBUG`.
    Debug,
    /// `LOG_INFO`.
    Info,
    /// `LOG_NOTICE`.
    Notice,
    /// `LOG_WARNING`.
    Warning,
    /// `LOG_ERR`.
    Error,
    /// `LOG_CRIT`.
    Critical,
    /// `LOG_ALERT`.
    Alert,
}

/// Something the I/O layer must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Deliver a notification per `NOTIFYFLAG` (SYSLOG/WALL/EXEC/IGNORE) for `event`.
    /// `ups` is the `MONITOR` index (its system string is `UPSNAME`); `None` means `UPSNAME`
    /// is empty. `message` is final (`NOTIFYMSG` or the stock text, filled in).
    Notify {
        /// The event (`NOTIFYTYPE` is [`NotifyEvent::name`]).
        event: NotifyEvent,
        /// The UPS concerned, if any.
        ups: Option<usize>,
        /// The formatted message.
        message: String,
    },
    /// Write a log line (syslog / stderr).
    Log {
        /// Severity.
        level: LogLevel,
        /// Text.
        message: String,
    },
    /// Broadcast `message` with `wall` (besides any notification).
    Wall {
        /// Text.
        message: String,
    },
    /// Primary: send `FSD <ups>` to upsd; on an `OK...` reply call [`Machine::fsd_confirmed`].
    SendFsd {
        /// `MONITOR` index.
        ups: usize,
    },
    /// Primary: every [`NUMLOGINS_INTERVAL`], `GET NUMLOGINS` for each of `ups` and call
    /// [`Machine::numlogins`] with the largest value until it returns [`Action::Shutdown`].
    /// A failed GET counts as a secondary still logged in (NUT counts it as 0 and goes at
    /// once), so only `HOSTSYNC`, which the machine applies, ends the wait then.
    WaitForSecondaries {
        /// The `MONITOR` indices this host is primary for.
        ups: Vec<usize>,
    },
    /// Once [`Action::Shutdown`] has handed `SHUTDOWNCMD` over (after `FINALDELAY`), send
    /// `LOGOUT` on these UPSes' sessions, so that a primary's `NUMLOGINS` no longer counts
    /// this host. Emitted just before [`Action::Shutdown`] when an `ONBATT_SHUTDOWN_*` limit
    /// (this host's own policy) started the shutdown; lists the UPSes this host is secondary
    /// for.
    LogoutAfterShutdown {
        /// `MONITOR` indices.
        ups: Vec<usize>,
    },
    /// Sleep `FINALDELAY`, create `POWERDOWNFLAG` (if configured) and run `SHUTDOWNCMD`, then
    /// exit per `SHUTDOWNEXIT`. Emitted at most once; the machine is inert afterwards.
    Shutdown,
    /// Sleep this long between monitoring cycles from now on.
    SetPollInterval(Duration),
    /// Primary, `CLEARFSD_ON_MAINS`: send `CLEARFSD <ups>` and report the answer with
    /// [`Machine::fsd_clear_result`].
    ClearFsd {
        /// `MONITOR` index.
        ups: usize,
    },
    /// Drop the connection to this UPS and log in again (credentials or role changed on reload).
    Reconnect {
        /// `MONITOR` index.
        ups: usize,
    },
}

/// NUT refuses to start (and dies on reload) if Σ power values < `MINSUPPLIES`.
pub fn check_supplies(conf: &UpsmonConf) -> Result<(), Error> {
    let total = conf.total_power_value();
    if total < u64::from(conf.minsupplies) {
        return Err(Error::InsufficientPower {
            total,
            minsupplies: conf.minsupplies,
        });
    }
    Ok(())
}

/// The conditions upsmon remembers about a UPS (the last known status, kept while comms are
/// lost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `OL`.
    pub online: bool,
    /// `OB`.
    pub onbatt: bool,
    /// `LB` (also set by the `DEADTIME` promotion).
    pub lowbatt: bool,
    /// `FSD`.
    pub fsd: bool,
    /// `CAL`.
    pub cal: bool,
    /// `OFF`.
    pub off: bool,
    /// `BYPASS`.
    pub bypass: bool,
    /// `ECO`.
    pub eco: bool,
    /// `ALARM`.
    pub alarm: bool,
    /// `OVER`.
    pub over: bool,
    /// `TRIM`.
    pub trim: bool,
    /// `BOOST`.
    pub boost: bool,
}

impl Flags {
    /// A condition that warrants `POLLFREQALERT`.
    fn alert(&self) -> bool {
        self.onbatt
            || self.off
            || self.bypass
            || self.alarm
            || self.cal
            || self.over
            || self.trim
            || self.boost
    }

    /// The flag a simple "appears" event sets or a `NOT...` event clears.
    fn of(&mut self, event: NotifyEvent) -> &mut bool {
        match event {
            NotifyEvent::LowBatt => &mut self.lowbatt,
            NotifyEvent::Cal | NotifyEvent::NotCal => &mut self.cal,
            NotifyEvent::NotOff => &mut self.off,
            NotifyEvent::Bypass | NotifyEvent::NotBypass => &mut self.bypass,
            NotifyEvent::NotAlarm => &mut self.alarm,
            NotifyEvent::NotOver => &mut self.over,
            NotifyEvent::Trim | NotifyEvent::NotTrim => &mut self.trim,
            NotifyEvent::Boost | NotifyEvent::NotBoost => &mut self.boost,
            NotifyEvent::Eco | NotifyEvent::NotEco => &mut self.eco,
            _ => unreachable!("no flag of its own: {event}"),
        }
    }
}

/// Communication state, NUT's `commstate`: unknown until the first poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comm {
    /// Not polled yet.
    Unknown,
    /// The last poll failed.
    Lost,
    /// The last poll succeeded.
    Ok,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Unknown,
    OnBattery,
    Online,
}

/// User and password of a `MONITOR` line, kept to notice changes on reload; never printed.
#[derive(Clone, PartialEq, Eq)]
struct Login(String, String);

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Login(..)")
    }
}

#[derive(Debug, Clone)]
struct Ups {
    system: String,
    login: Login,
    primary: bool,
    power_value: u32,
    flags: Flags,
    comm: Comm,
    line: Line,
    /// Last successful poll.
    lastpoll: Option<Instant>,
    /// Last time the UPS was not OB+LB (or was calibrating).
    lastnoncrit: Instant,
    lastrbwarn: Option<Instant>,
    lastncwarn: Option<Instant>,
    /// `FSD` already notified for this FSD episode.
    fsd_notified: bool,
    offsince: Option<Instant>,
    /// `OFF` has lasted `OFFDURATION`: the feed is assumed lost.
    off_confirmed: bool,
    oversince: Option<Instant>,
    /// When OB+LB began, while `OBLBDURATION` is running.
    oblbsince: Option<Instant>,
    /// When this on-battery episode was first seen (`ONBATT_SHUTDOWN_AFTER`).
    obsince: Option<Instant>,
    /// `battery.runtime` / `battery.charge` of the last good poll.
    battery: Battery,
    alarm_text: String,
    /// Unknown status words of the last poll.
    others: Vec<String>,
    /// Keys of the criticality reasons logged at the last tick.
    logged: Vec<&'static str>,
}

impl Ups {
    fn new(m: &Monitor, now: Instant) -> Ups {
        Ups {
            system: m.system.clone(),
            login: Login(m.user.clone(), m.password.clone()),
            primary: m.role == Role::Primary,
            power_value: m.power_value,
            flags: Flags::default(),
            comm: Comm::Unknown,
            line: Line::Unknown,
            lastpoll: None,
            lastnoncrit: now,
            lastrbwarn: None,
            lastncwarn: None,
            fsd_notified: false,
            offsince: None,
            off_confirmed: false,
            oversince: None,
            oblbsince: None,
            obsince: None,
            battery: Battery::default(),
            alarm_text: String::new(),
            others: Vec::new(),
            logged: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Params {
    minsupplies: u32,
    pollfreq: Duration,
    pollfreqalert: Duration,
    hostsync: Duration,
    deadtime: Duration,
    rbwarntime: Duration,
    nocommwarntime: Duration,
    /// < 0 never, 0 at once.
    offduration: i64,
    /// < 0 never.
    overduration: i64,
    /// <= 0 at once.
    oblbduration: i64,
    alarmcritical: bool,
    messages: BTreeMap<NotifyEvent, String>,
    /// `ONBATT_SHUTDOWN_AFTER`.
    onbatt_after: Option<Duration>,
    /// `ONBATT_SHUTDOWN_RUNTIME` seconds.
    onbatt_runtime: Option<u64>,
    /// `ONBATT_SHUTDOWN_CHARGE` percent.
    onbatt_charge: Option<u64>,
    /// `CLEARFSD_ON_MAINS`.
    clearfsd: bool,
}

impl Params {
    fn new(conf: &UpsmonConf) -> Params {
        Params {
            minsupplies: conf.minsupplies,
            pollfreq: Duration::from_secs(conf.pollfreq.max(1)),
            pollfreqalert: Duration::from_secs(conf.pollfreqalert.max(1)),
            hostsync: Duration::from_secs(conf.hostsync),
            deadtime: Duration::from_secs(conf.deadtime),
            rbwarntime: Duration::from_secs(conf.rbwarntime),
            nocommwarntime: Duration::from_secs(conf.nocommwarntime),
            offduration: conf.offduration,
            overduration: conf.overduration,
            oblbduration: conf.oblbduration,
            alarmcritical: conf.alarmcritical,
            messages: conf.notify_msgs.clone(),
            onbatt_after: conf.onbatt_shutdown_after.map(Duration::from_secs),
            onbatt_runtime: conf.onbatt_shutdown_runtime,
            onbatt_charge: conf.onbatt_shutdown_charge,
            clearfsd: conf.clearfsd_on_mains,
        }
    }

    /// Some `ONBATT_SHUTDOWN_*` limit is set.
    fn onbatt_policy(&self) -> bool {
        self.onbatt_after.is_some() || self.onbatt_runtime.is_some() || self.onbatt_charge.is_some()
    }
}

/// Where the machine is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Polling and deciding.
    Monitoring,
    /// Primary: FSD sent, waiting for the secondaries to log out.
    WaitingForSecondaries {
        /// When the wait began.
        since: Instant,
        /// `NUMLOGINS` rounds reported so far.
        rounds: u32,
    },
    /// [`Action::Shutdown`] was emitted.
    ShutDown,
}

/// What upsd said to `CLEARFSD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearResult {
    /// `OK`: the FSD is gone.
    Cleared,
    /// `ERR ...` (`FSD-SEEN`: another host may have acted on it), or no answer: the text.
    Refused(String),
    /// `ERR UNKNOWN-COMMAND`: an upsd without `CLEARFSD` (stock NUT).
    Unsupported,
}

/// A shutdown this primary may still call off (`CLEARFSD_ON_MAINS`).
#[derive(Debug, Clone)]
struct Withdrawal {
    /// The one UPS this host is primary for (where it set FSD).
    ups: usize,
    /// The status each UPS gave during the wait.
    statuses: Vec<Option<String>>,
    /// `CLEARFSD` was asked (once per shutdown).
    asked: bool,
}

/// upsmon's state: one entry per `MONITOR` line plus the global poll interval and phase.
#[derive(Debug, Clone)]
pub struct Machine {
    ups: Vec<Ups>,
    params: Params,
    interval: Duration,
    phase: Phase,
    last_noparent: Option<Instant>,
    /// An `ONBATT_SHUTDOWN_*` limit made a UPS critical at the tick that started the shutdown.
    timed: bool,
    /// The shutdown under way may still be called off.
    withdrawal: Option<Withdrawal>,
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

fn elapsed(now: Instant, since: Instant) -> Duration {
    now.saturating_duration_since(since)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Machine {
    /// A machine for `conf`'s `MONITOR` lines, nothing known about any UPS yet. The poll
    /// interval starts at `POLLFREQ`. (Check [`check_supplies`] first.)
    pub fn new(conf: &UpsmonConf, now: Instant) -> Machine {
        let params = Params::new(conf);
        Machine {
            ups: conf.monitors.iter().map(|m| Ups::new(m, now)).collect(),
            interval: params.pollfreq,
            params,
            phase: Phase::Monitoring,
            last_noparent: None,
            timed: false,
            withdrawal: None,
        }
    }

    /// Apply a re-read `upsmon.conf` (SIGHUP / `upsmon -c reload`). UPSes are matched by system
    /// string and keep their state; new ones start unknown; removed ones are forgotten (the
    /// I/O layer disconnects them). Indices follow `conf.monitors` from now on. A UPS whose user,
    /// password or role changed gets [`Action::Reconnect`].
    pub fn reload(&mut self, conf: &UpsmonConf, now: Instant) -> Result<Vec<Action>, Error> {
        check_supplies(conf)?;
        let mut out = Vec::new();
        let mut ups = Vec::with_capacity(conf.monitors.len());
        for (i, m) in conf.monitors.iter().enumerate() {
            let prev = self.ups.iter().position(|u| u.system == m.system);
            match prev {
                Some(p) => {
                    let mut u = self.ups[p].clone();
                    if u.power_value != m.power_value {
                        out.push(log(
                            LogLevel::Info,
                            format!(
                                "UPS [{}]: redefined power value to {}",
                                m.system, m.power_value
                            ),
                        ));
                    }
                    u.power_value = m.power_value;
                    let login = Login(m.user.clone(), m.password.clone());
                    let primary = m.role == Role::Primary;
                    if u.login != login || u.primary != primary {
                        u.login = login;
                        u.primary = primary;
                        out.push(Action::Reconnect { ups: i });
                    }
                    ups.push(u);
                }
                None => ups.push(Ups::new(m, now)),
            }
        }
        self.ups = ups;
        self.params = Params::new(conf);
        self.push_interval(&mut out);
        Ok(out)
    }

    /// Where the machine is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The sleep between monitoring cycles (`POLLFREQ`, `POLLFREQALERT`, or shorter while an
    /// `OBLBDURATION` runs).
    pub fn poll_interval(&self) -> Duration {
        self.interval
    }

    /// Number of `MONITOR` entries.
    pub fn len(&self) -> usize {
        self.ups.len()
    }

    /// No `MONITOR` entries at all.
    pub fn is_empty(&self) -> bool {
        self.ups.is_empty()
    }

    /// The system string of entry `ups`.
    pub fn system(&self, ups: usize) -> &str {
        &self.ups[ups].system
    }

    /// The last known conditions of entry `ups`.
    pub fn flags(&self, ups: usize) -> Flags {
        self.ups[ups].flags
    }

    /// The communication state of entry `ups`.
    pub fn comm(&self, ups: usize) -> Comm {
        self.ups[ups].comm
    }

    /// A notification for `event`, formatted with `NOTIFYMSG` or the stock text (for the I/O
    /// layer's own events such as `SUSPEND_TIMEJUMP_UNEXPECTED`, whose `extra` is the jump,
    /// e.g. `"42.000000 seconds"`).
    pub fn notification(
        &self,
        event: NotifyEvent,
        ups: Option<usize>,
        extra: Option<&str>,
    ) -> Action {
        let template = self
            .params
            .messages
            .get(&event)
            .map_or(event.default_message(), String::as_str);
        let message = match ups {
            Some(i) => format_message(template, &self.ups[i].system, extra),
            // No UPS: an extra text (the time jump) takes the first `%s` instead of being
            // lost as in NUT.
            None => format_message(template, extra.unwrap_or(""), None),
        };
        Action::Notify {
            event,
            ups,
            message,
        }
    }

    fn notify(&self, out: &mut Vec<Action>, event: NotifyEvent, ups: usize, extra: Option<&str>) {
        out.push(self.notification(event, Some(ups), extra));
    }

    /// Take in one poll result (NUT's `pollups()` after the network part).
    pub fn observe(&mut self, obs: Observation, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase != Phase::Monitoring || obs.ups >= self.ups.len() {
            return out;
        }
        match obs.result {
            PollResult::Status {
                status,
                alarm,
                battery,
            } if !status.trim().is_empty() => {
                self.ups[obs.ups].battery = battery;
                self.parse_status(obs.ups, &status, alarm.as_deref(), now, &mut out);
            }
            _ => self.ups_is_gone(obs.ups, now, &mut out),
        }
        self.push_interval(&mut out);
        out
    }

    fn ups_is_gone(&mut self, i: usize, now: Instant, out: &mut Vec<Action>) {
        if self.ups[i].comm != Comm::Lost {
            self.ups[i].comm = Comm::Lost;
            self.notify(out, NotifyEvent::CommBad, i, None);
            return;
        }
        let nocomm = self.params.nocommwarntime;
        let u = &self.ups[i];
        // A UPS never reached counts as silent since forever (NUT's lastpoll starts at 0).
        if u.lastpoll.is_some_and(|t| elapsed(now, t) < nocomm) {
            return;
        }
        // whole seconds, as NUT's time_t arithmetic: with POLLFREQ 1 and NOCOMMWARNTIME 2 the
        // repeat comes every 3 s, not at the first poll past 2.0 s
        if u.lastncwarn
            .is_none_or(|t| elapsed(now, t).as_secs() > nocomm.as_secs())
        {
            self.ups[i].lastncwarn = Some(now);
            self.notify(out, NotifyEvent::NoComm, i, None);
        }
    }

    fn parse_status(
        &mut self,
        i: usize,
        status: &str,
        alarm: Option<&str>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        // ups_is_alive
        self.ups[i].lastpoll = Some(now);
        match self.ups[i].comm {
            Comm::Lost => self.notify(out, NotifyEvent::CommOk, i, None),
            Comm::Unknown | Comm::Ok => {}
        }
        self.ups[i].comm = Comm::Ok;

        // Conditions whose name no longer appears are cleared first.
        if !mentions(status, "LB") {
            self.ups[i].flags.lowbatt = false;
        }
        if !mentions(status, "FSD") {
            self.ups[i].flags.fsd = false;
            self.ups[i].fsd_notified = false;
        }
        if !mentions(status, "OFF") {
            self.ups[i].offsince = None;
            self.ups[i].off_confirmed = false;
        }
        if !mentions(status, "OVER") {
            self.ups[i].oversince = None;
        }
        for (word, event) in [
            ("CAL", NotifyEvent::NotCal),
            ("OFF", NotifyEvent::NotOff),
            ("BYPASS", NotifyEvent::NotBypass),
            ("ALARM", NotifyEvent::NotAlarm),
            ("OVER", NotifyEvent::NotOver),
            ("TRIM", NotifyEvent::NotTrim),
            ("BOOST", NotifyEvent::NotBoost),
            ("ECO", NotifyEvent::NotEco),
        ] {
            if !mentions(status, word) {
                self.clear(i, event, out);
            }
        }

        let mut others: Vec<String> = Vec::new();
        for token in tokens(status) {
            self.token(i, token, alarm, now, &mut others, out);
            // update_crittimer, after every word as NUT does
            let f = self.ups[i].flags;
            if !(f.onbatt && f.lowbatt) || f.cal {
                self.ups[i].lastnoncrit = now;
            }
        }

        let prev = &self.ups[i].others;
        let changed =
            others.iter().any(|w| !prev.contains(w)) || prev.iter().any(|w| !others.contains(w));
        if changed {
            if others.is_empty() {
                self.notify(out, NotifyEvent::NotOther, i, None);
            } else {
                let list = others.join(" ");
                self.notify(out, NotifyEvent::Other, i, Some(&list));
            }
        }
        self.ups[i].others = others;
    }

    /// A `NOT...` transition: notify and clear if the condition was set.
    fn clear(&mut self, i: usize, event: NotifyEvent, out: &mut Vec<Action>) {
        let flag = self.ups[i].flags.of(event);
        if *flag {
            *flag = false;
            self.notify(out, event, i, None);
        }
    }

    /// A simple "appears" transition: notify and set if the condition was not set.
    fn set(&mut self, i: usize, event: NotifyEvent, out: &mut Vec<Action>) -> bool {
        let flag = self.ups[i].flags.of(event);
        if *flag {
            return false;
        }
        *flag = true;
        self.notify(out, event, i, None);
        true
    }

    fn token(
        &mut self,
        i: usize,
        token: Token,
        alarm: Option<&str>,
        now: Instant,
        others: &mut Vec<String>,
        out: &mut Vec<Action>,
    ) {
        match token {
            Token::Ol => {
                if !self.ups[i].flags.online {
                    if self.ups[i].line != Line::Unknown {
                        self.notify(out, NotifyEvent::Online, i, None);
                    }
                    if self.ups[i].flags.onbatt && self.params.onbatt_policy() {
                        self.notify(out, NotifyEvent::OnbattShutdownCancelled, i, None);
                    }
                    let u = &mut self.ups[i];
                    u.line = Line::Online;
                    u.flags.online = true;
                    u.flags.onbatt = false;
                    u.obsince = None;
                }
            }
            Token::Ob => {
                if !self.ups[i].flags.onbatt {
                    self.notify(out, NotifyEvent::OnBatt, i, None);
                    let u = &mut self.ups[i];
                    u.line = Line::OnBattery;
                    u.flags.onbatt = true;
                    u.flags.online = false;
                    u.obsince = Some(now);
                    if let Some(after) = self.params.onbatt_after {
                        let msg = format!(
                            "UPS [{}] on battery: shutdown in {} s (ONBATT_SHUTDOWN_AFTER) unless mains returns",
                            u.system,
                            after.as_secs()
                        );
                        out.push(log(LogLevel::Notice, msg));
                    }
                }
            }
            Token::Lb => {
                self.set(i, NotifyEvent::LowBatt, out);
            }
            Token::Rb => {
                let rbwarntime = self.params.rbwarntime;
                if self.ups[i]
                    .lastrbwarn
                    .is_none_or(|t| elapsed(now, t) > rbwarntime)
                {
                    self.ups[i].lastrbwarn = Some(now);
                    self.notify(out, NotifyEvent::ReplBatt, i, None);
                }
            }
            Token::Cal => {
                self.set(i, NotifyEvent::Cal, out);
            }
            Token::Off => self.ups_is_off(i, now, out),
            Token::Bypass => {
                self.set(i, NotifyEvent::Bypass, out);
            }
            Token::Eco => {
                self.set(i, NotifyEvent::Eco, out);
            }
            Token::Alarm => {
                let u = &mut self.ups[i];
                if u.flags.alarm {
                    // Re-notify when the text changes.
                    if let Some(text) = alarm {
                        if text != u.alarm_text {
                            u.alarm_text = text.to_string();
                            self.notify(out, NotifyEvent::Alarm, i, Some(text));
                        }
                    }
                } else {
                    u.flags.alarm = true;
                    u.alarm_text = alarm.unwrap_or("").to_string();
                    self.notify(out, NotifyEvent::Alarm, i, Some(alarm.unwrap_or("n/a")));
                }
            }
            Token::Over => {
                let u = &mut self.ups[i];
                if u.flags.over {
                    u.oversince.get_or_insert(now);
                } else {
                    u.flags.over = true;
                    u.oversince = Some(now);
                    self.notify(out, NotifyEvent::Over, i, None);
                }
            }
            Token::Trim => {
                self.set(i, NotifyEvent::Trim, out);
            }
            Token::Boost => {
                self.set(i, NotifyEvent::Boost, out);
            }
            Token::Fsd => {
                let u = &mut self.ups[i];
                if !u.flags.fsd {
                    u.flags.fsd = true;
                    if !u.fsd_notified {
                        u.fsd_notified = true;
                        self.notify(out, NotifyEvent::Fsd, i, None);
                    }
                }
            }
            Token::Ignored => {}
            Token::Other(word) => others.push(word),
        }
    }

    fn ups_is_off(&mut self, i: usize, now: Instant, out: &mut Vec<Action>) {
        let offduration = self.params.offduration;
        let u = &mut self.ups[i];
        if u.flags.off {
            let since = *u.offsince.get_or_insert(now);
            if offduration > 0
                && !u.off_confirmed
                && elapsed(now, since) > Duration::from_secs(offduration.unsigned_abs())
            {
                u.off_confirmed = true;
                let msg = format!(
                    "{} is in state OFF for {} sec, assuming the line is not fed (if it is calibrating etc., check the upsmon 'OFFDURATION' option)",
                    u.system,
                    elapsed(now, since).as_secs()
                );
                out.push(log(LogLevel::Warning, msg));
            }
            return;
        }
        u.offsince = Some(now);
        if offduration == 0 {
            u.off_confirmed = true;
            let msg = format!(
                "{} is in state OFF, assuming the line is not fed (if it is calibrating etc., check the upsmon 'OFFDURATION' option)",
                u.system
            );
            out.push(log(LogLevel::Warning, msg));
        }
        u.flags.off = true;
        self.notify(out, NotifyEvent::Off, i, None);
    }

    /// End of a monitoring cycle (NUT's `recalc()`): promote UPSes silent for `DEADTIME` while
    /// on battery to low battery, add up the power values of the UPSes that are not critical and
    /// start the shutdown if the sum is below `MINSUPPLIES`.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase != Phase::Monitoring {
            return out;
        }
        let mut val_ol: u64 = 0;
        let mut timed = false;
        for i in 0..self.ups.len() {
            let deadtime = self.params.deadtime;
            let u = &mut self.ups[i];
            let silent = u.lastpoll.is_none_or(|t| elapsed(now, t) > deadtime);
            if silent && u.flags.onbatt && !u.flags.lowbatt {
                u.flags.lowbatt = true;
                let msg = format!("Promoting dead UPS: {}", u.system);
                out.push(log(LogLevel::Info, msg));
            }
            let mut notes = Vec::new();
            let by_limit = !self.ups[i].flags.fsd && self.onbatt_limit(i, now).is_some();
            if self.is_critical(i, now, &mut notes) {
                timed |= by_limit;
                let msg = format!("Critical UPS: {}", self.ups[i].system);
                notes.push(("critical", log(LogLevel::Debug, msg)));
            } else {
                val_ol += u64::from(self.ups[i].power_value);
            }
            // Each reason is logged when it starts to apply, not on every tick.
            let keys: Vec<&'static str> = notes.iter().map(|n| n.0).collect();
            let u = &mut self.ups[i];
            out.extend(
                notes
                    .into_iter()
                    .filter(|(key, _)| !u.logged.contains(key))
                    .map(|(_, action)| action),
            );
            u.logged = keys;
        }
        if val_ol < u64::from(self.params.minsupplies) {
            out.push(log(
                LogLevel::Warning,
                format!(
                    "Too few UPS(es) are healthy ({val_ol}<{}), initiating forced shutdown",
                    self.params.minsupplies
                ),
            ));
            self.timed = timed;
            self.forceshutdown(now, &mut out);
            self.offer_withdrawal();
            return out;
        }
        self.push_interval(&mut out);
        out
    }

    /// The `ONBATT_SHUTDOWN_*` limit entry `i` has reached, if any: its note key and the text
    /// for the `ONBATT_SHUTDOWN` notification. Only while the UPS is (last known) on battery.
    fn onbatt_limit(&self, i: usize, now: Instant) -> Option<(&'static str, String)> {
        let p = &self.params;
        let u = &self.ups[i];
        if !u.flags.onbatt {
            return None;
        }
        if let (Some(after), Some(since)) = (p.onbatt_after, u.obsince) {
            let e = elapsed(now, since);
            if e >= after {
                return Some((
                    "t1",
                    format!(
                        "on battery for {} s, ONBATT_SHUTDOWN_AFTER {}",
                        e.as_secs(),
                        after.as_secs()
                    ),
                ));
            }
        }
        if let (Some(limit), Some(runtime)) = (p.onbatt_runtime, u.battery.runtime) {
            if runtime < limit {
                return Some((
                    "t2",
                    format!("battery.runtime {runtime} s below ONBATT_SHUTDOWN_RUNTIME {limit}"),
                ));
            }
        }
        if let (Some(limit), Some(charge)) = (p.onbatt_charge, u.battery.charge) {
            if charge < limit {
                return Some((
                    "t3",
                    format!("battery.charge {charge}% below ONBATT_SHUTDOWN_CHARGE {limit}"),
                ));
            }
        }
        None
    }

    /// Whether entry `ups` is critical now (NUT's `is_ups_critical()`); may start or end the
    /// `OBLBDURATION` timer.
    fn is_critical(
        &mut self,
        i: usize,
        now: Instant,
        notes: &mut Vec<(&'static str, Action)>,
    ) -> bool {
        if !self.ups[i].flags.fsd {
            // this host's own policy: critical at once, for a secondary too (no HOSTSYNC: the
            // primary knows nothing of it and will not set FSD)
            if let Some((key, text)) = self.onbatt_limit(i, now) {
                let note = self.notification(NotifyEvent::OnbattShutdown, Some(i), Some(&text));
                notes.push((key, note));
                return true;
            }
        }
        let p = &self.params;
        let u = &mut self.ups[i];
        let f = u.flags;
        if f.fsd {
            return true;
        }

        if u.comm == Comm::Lost {
            if f.over && p.overduration >= 0 {
                let since = u.oversince.unwrap_or(now);
                if elapsed(now, since) < Duration::from_secs(p.overduration.unsigned_abs()) {
                    notes.push(("r1", log(LogLevel::Warning, format!(
                            "UPS [{}] was last known to be overloaded for {} sec out of {} sec threshold and currently is not communicating, just so you know (waiting for OVERDURATION to elapse)",
                            u.system, elapsed(now, since).as_secs(), p.overduration
                        ))));
                } else {
                    notes.push(("r2", log(LogLevel::Warning, format!(
                            "UPS [{}] was last known to be overloaded for longer than the set threshold of {} sec and is still not communicating, assuming dead",
                            u.system, p.overduration
                        ))));
                    return true;
                }
            }
            // The first of these states the UPS was last known to be in makes it dead.
            let dead = [
                (
                    f.alarm && p.alarmcritical,
                    "r3",
                    "in an ALARM state",
                    ". If this is in error and causes unwanted shutdowns, consider disabling the upsmon ALARMCRITICAL option.",
                ),
                (f.cal, "r4", "calibrating", ""),
                (f.bypass, "r5", "on BYPASS", ""),
                (
                    u.off_confirmed || (p.offduration >= 0 && f.off),
                    "r6",
                    "(administratively) OFF",
                    "",
                ),
            ];
            if let Some((_, rule, state, hint)) = dead.into_iter().find(|d| d.0) {
                notes.push((rule, log(
                    LogLevel::Warning,
                    format!(
                        "UPS [{}] was last known to be {state} and currently is not communicating, assuming dead{hint}",
                        u.system
                    ),
                )));
                return true;
            }
        }

        if f.off && p.offduration >= 0 && u.off_confirmed {
            notes.push((
                "r7",
                log(
                    LogLevel::Warning,
                    format!("UPS [{}] is reported as (administratively) OFF", u.system),
                ),
            ));
            return true;
        }

        if !(f.onbatt && f.lowbatt) {
            if let Some(since) = u.oblbsince.take() {
                notes.push((
                    "r8",
                    log(
                        LogLevel::Warning,
                        format!(
                        "UPS [{}] returned from OB+LB state now after spending {} seconds in it",
                        u.system,
                        elapsed(now, since).as_secs()
                    ),
                    ),
                ));
            }
            return false;
        }

        if f.cal {
            notes.push(("r9", log(
                LogLevel::Warning,
                format!(
                    "UPS [{}] is OB+LB now, but it is also calibrating - not declaring a critical state",
                    u.system
                ),
            )));
            return false;
        }

        if p.oblbduration > 0 {
            let limit = Duration::from_secs(p.oblbduration.unsigned_abs());
            match u.oblbsince {
                None => {
                    u.oblbsince = Some(now);
                    notes.push(("r10", log(LogLevel::Warning, format!(
                        "UPS [{}] is OB+LB now, but OBLBDURATION={} - not declaring a critical state just now",
                        u.system, p.oblbduration
                    ))));
                    return false;
                }
                Some(since) if elapsed(now, since) < limit => return false,
                Some(since) => {
                    notes.push(("r11", log(
                        LogLevel::Warning,
                        format!(
                            "UPS [{}] is still OB+LB for {} sec out of {} delay - proceeding with shutdown alerts",
                            u.system,
                            elapsed(now, since).as_secs(),
                            p.oblbduration
                        ),
                    )));
                }
            }
        }

        if u.primary {
            return true;
        }

        // Secondary: give the primary HOSTSYNC to set FSD first.
        let waited = elapsed(now, u.lastnoncrit);
        if waited > p.hostsync {
            notes.push((
                "r12",
                log(
                    LogLevel::Warning,
                    format!(
                        "Giving up on the primary for UPS [{}] after {} sec since last comms",
                        u.system,
                        waited.as_secs()
                    ),
                ),
            ));
            return true;
        }
        false
    }

    /// `upsmon -c fsd` / SIGUSR1: shut down now, whatever the UPS state.
    pub fn forced(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == Phase::Monitoring {
            self.forceshutdown(now, &mut out);
        }
        out
    }

    fn forceshutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        let primaries: Vec<usize> = (0..self.ups.len())
            .filter(|&i| self.ups[i].primary)
            .collect();
        if primaries.is_empty() {
            self.doshutdown(out);
            return;
        }
        out.extend(primaries.iter().map(|&ups| Action::SendFsd { ups }));
        out.push(Action::WaitForSecondaries { ups: primaries });
        self.phase = Phase::WaitingForSecondaries {
            since: now,
            rounds: 0,
        };
    }

    /// After a shutdown this host started on its own readings: with `CLEARFSD_ON_MAINS`, for
    /// a single primary UPS whose FSD nobody else had set, it may be called off.
    fn offer_withdrawal(&mut self) {
        let primaries: Vec<usize> = (0..self.ups.len())
            .filter(|&i| self.ups[i].primary)
            .collect();
        let foreign_fsd = self.ups.iter().any(|u| u.flags.fsd);
        // (one primary: forceshutdown has just started the wait for the secondaries)
        if let (&[ups], true, false) = (primaries.as_slice(), self.params.clearfsd, foreign_fsd) {
            self.withdrawal = Some(Withdrawal {
                ups,
                statuses: vec![None; self.ups.len()],
                asked: false,
            });
        }
    }

    /// During the HOSTSYNC wait: whether to read every UPS's `ups.status` each round and
    /// report it with [`Machine::status_while_waiting`].
    pub fn polls_while_waiting(&self) -> bool {
        self.withdrawal.as_ref().is_some_and(|w| !w.asked)
    }

    /// A `ups.status` read during the HOSTSYNC wait; [`Action::ClearFsd`] once every UPS
    /// this host monitors says `OL` and none `OB` (mains is back everywhere).
    pub fn status_while_waiting(&mut self, ups: usize, status: &str, _now: Instant) -> Vec<Action> {
        let Some(w) = self.withdrawal.as_mut() else {
            return Vec::new();
        };
        if w.asked || ups >= w.statuses.len() {
            return Vec::new();
        }
        w.statuses[ups] = Some(status.to_string());
        let on_mains = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| mentions(s, "OL") && !mentions(s, "OB"))
        };
        if !w.statuses.iter().all(on_mains) {
            return Vec::new();
        }
        w.asked = true;
        vec![Action::ClearFsd { ups: w.ups }]
    }

    /// upsd's answer to [`Action::ClearFsd`]. `Cleared` calls the shutdown off: the statuses
    /// read during the wait are taken in (`ONLINE` and the like), `FSD_CLEARED` is notified
    /// and monitoring goes on. Anything else is logged and the wait goes on.
    pub fn fsd_clear_result(
        &mut self,
        ups: usize,
        result: ClearResult,
        now: Instant,
    ) -> Vec<Action> {
        // (a withdrawal exists only while the wait lasts: doshutdown drops it)
        let mut out = Vec::new();
        if self.withdrawal.as_ref().is_none_or(|w| w.ups != ups) {
            return out;
        }
        let sys = self.ups[ups].system.clone();
        match result {
            ClearResult::Cleared => {}
            ClearResult::Refused(why) => {
                let msg = format!("UPS [{sys}]: FSD stays ({why}), the shutdown goes on");
                out.push(log(LogLevel::Warning, msg));
                return out;
            }
            ClearResult::Unsupported => {
                let msg = format!(
                    "UPS [{sys}]: upsd cannot withdraw FSD (no CLEARFSD: not nut-rs's upsd), the shutdown goes on"
                );
                out.push(log(LogLevel::Warning, msg));
                return out;
            }
        }
        let Some(w) = self.withdrawal.take() else {
            return out;
        };
        self.phase = Phase::Monitoring;
        self.timed = false;
        let msg = format!(
            "UPS [{sys}]: mains returned before any other host acted on the FSD: FSD withdrawn, shutdown called off"
        );
        out.push(log(LogLevel::Notice, msg));
        let u = &mut self.ups[ups];
        u.flags.fsd = false;
        u.fsd_notified = false;
        for (i, status) in w.statuses.into_iter().enumerate() {
            if let Some(status) = status {
                self.parse_status(i, &without_fsd(&status), None, now, &mut out);
            }
        }
        self.notify(&mut out, NotifyEvent::FsdCleared, ups, None);
        self.push_interval(&mut out);
        out
    }

    fn doshutdown(&mut self, out: &mut Vec<Action>) {
        out.push(log(LogLevel::Critical, SHUTDOWN_BANNER.to_string()));
        out.push(Action::Wall {
            message: SHUTDOWN_BANNER.to_string(),
        });
        out.push(self.notification(NotifyEvent::Shutdown, None, None));
        if self.timed {
            let secondaries: Vec<usize> = (0..self.ups.len())
                .filter(|&i| !self.ups[i].primary)
                .collect();
            if !secondaries.is_empty() {
                out.push(Action::LogoutAfterShutdown { ups: secondaries });
            }
        }
        out.push(Action::Shutdown);
        self.phase = Phase::ShutDown;
        self.withdrawal = None;
    }

    /// upsd answered `OK` to `FSD <ups>`: notify `FSD` unless this episode was notified already.
    pub fn fsd_confirmed(&mut self, ups: usize, _now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(u) = self.ups.get_mut(ups) {
            if !u.fsd_notified {
                u.fsd_notified = true;
                self.notify(&mut out, NotifyEvent::Fsd, ups, None);
            }
        }
        out
    }

    /// One `NUMLOGINS` round of the primary's wait: `max_logins` is the largest count over
    /// the primary UPSes (a failed GET counts as 2: a secondary may still be there). Returns the shutdown once at most one login
    /// (ours) is left or `HOSTSYNC` has passed; `SHUTDOWN_HOSTSYNC` after the first round that
    /// still sees secondaries; nothing while waiting.
    pub fn numlogins(&mut self, max_logins: u64, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Phase::WaitingForSecondaries { since, rounds } = self.phase else {
            return out;
        };
        let rounds = rounds + 1;
        self.phase = Phase::WaitingForSecondaries { since, rounds };
        if max_logins <= 1 {
            self.doshutdown(&mut out);
        } else if elapsed(now, since) > self.params.hostsync {
            out.push(log(
                LogLevel::Info,
                "Host sync timer expired, forcing shutdown".to_string(),
            ));
            self.doshutdown(&mut out);
        } else if rounds == 1 {
            out.push(self.notification(NotifyEvent::ShutdownHostsync, None, None));
        }
        out
    }

    /// End the primary's wait now (the I/O layer judged the secondaries gone or timed out).
    pub fn secondaries_gone(&mut self, _now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::WaitingForSecondaries { .. }) {
            self.doshutdown(&mut out);
        }
        out
    }

    /// The privileged parent is gone: `NOPARENT` (at most every two minutes) and an alert.
    pub fn parent_died(&mut self, now: Instant) -> Vec<Action> {
        if self
            .last_noparent
            .is_some_and(|t| elapsed(now, t) < NOPARENT_INTERVAL)
        {
            return Vec::new();
        }
        self.last_noparent = Some(now);
        vec![
            self.notification(NotifyEvent::NoParent, None, None),
            log(
                LogLevel::Alert,
                "Parent died - shutdown impossible".to_string(),
            ),
        ]
    }

    /// The OS is about to sleep: `SUSPEND_STARTING`.
    pub fn suspending(&mut self, _now: Instant) -> Vec<Action> {
        vec![self.notification(NotifyEvent::SuspendStarting, None, None)]
    }

    /// The OS woke up (or the clock jumped, which NUT treats the same): `SUSPEND_FINISHED`,
    /// and every UPS forgets its conditions and counts as just polled, so readings from before
    /// the sleep cannot trigger a shutdown (no `DEADTIME` promotion for the time asleep).
    pub fn resumed(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase != Phase::Monitoring {
            return out;
        }
        out.push(self.notification(NotifyEvent::SuspendFinished, None, None));
        for u in &mut self.ups {
            u.flags = Flags::default();
            u.lastpoll = Some(now);
            u.lastnoncrit = now;
            u.offsince = None;
            u.off_confirmed = false;
            u.oversince = None;
            u.oblbsince = None;
            u.obsince = None;
            u.battery = Battery::default();
        }
        self.push_interval(&mut out);
        out
    }

    fn desired_interval(&self) -> Duration {
        let p = &self.params;
        let alert = self.ups.iter().any(|u| u.flags.alert());
        let mut d = if alert { p.pollfreqalert } else { p.pollfreq };
        if p.oblbduration > 0 && self.ups.iter().any(|u| u.oblbsince.is_some()) {
            let g = gcd(secs(p.pollfreqalert).max(1), p.oblbduration.unsigned_abs());
            d = d.min(Duration::from_secs(g.max(1)));
        }
        d
    }

    fn push_interval(&mut self, out: &mut Vec<Action>) {
        let d = self.desired_interval();
        if d != self.interval {
            self.interval = d;
            out.push(Action::SetPollInterval(d));
        }
    }
}

/// A status read during the wait, without the `FSD` upsd has just withdrawn.
fn without_fsd(status: &str) -> String {
    let words: Vec<&str> = status
        .split_ascii_whitespace()
        .filter(|w| *w != "FSD")
        .collect();
    words.join(" ")
}

fn log(level: LogLevel, message: String) -> Action {
    Action::Log { level, message }
}
