//! The simulated world: one unit, its driver, upsd and the upsmon hosts on one clock, driven
//! by a queue of timed events; and the properties, checked as the world runs.
//!
//! Processes are the real cores: the driver is `nut_driver::Core` with usbhid-ups's
//! `HidBackend` over a `SimDevice` (the `nut_hid_sim` unit, its clock set to the world's),
//! upsd is `upsd::sim::SimServer` (its `dispatch`, replica, FSD latch and staleness rule),
//! each host is an `upsmon::machine::Machine`. What is modelled here is only what sits
//! between them: sockets (bytes moved, a delay each way, partitions, resets, timeouts), the
//! upsmon daemon's action interpreter, the poll and retry timers, restarts, the OS shutdown and
//! the kill-power hook.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nut_conf::upsmon_conf::UpsmonConf;
use nut_driver::{Backend, ConnId, Core, DriverConfig, Output};
use nut_hid_recording::Recording;
use nut_hid_sim::ManualClock;
use upsd::sim::{SimClient, SimServer};
use upsmon::machine::{
    Action, Battery as Reads, ClearResult, Machine, Observation, Phase, PollResult,
};
use usbhid_ups::backend::HidBackend;
use usbhid_ups::device::Device;
use usbhid_ups::transport::sim::SimDevice;

use crate::error::Error;
use crate::scenario::{Fault, Scenario};
use crate::timeline::Timeline;

/// The recording the unit plays (its `[[event]]` list is the scenario's power).
const RECORDING: &str =
    include_str!("../../../drivers/usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml");

/// upsmon's I/O timeout.
const IO_TIMEOUT: u64 = 5000;
/// upsd drops a client silent this long.
const IDLE: u64 = 61_000;

/// A property of the whole stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// A host shut down although its UPS was never critical and no rule of its own said so.
    Spurious,
    /// The primary shut down while a secondary was still logged in and HOSTSYNC had not
    /// passed.
    Hostsync,
    /// The unit was told to cut the power before the primary's shutdown.
    Killpower,
    /// A host shut down twice.
    Twice,
    /// OB+LB persisted with the network fine, and a host did not shut down within the bound.
    Missed,
    /// A host shut down while mains was on and communication was fine.
    MainsOn,
}

impl Property {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Property::Spurious => "spurious-shutdown",
            Property::Hostsync => "hostsync",
            Property::Killpower => "killpower-before-primary",
            Property::Twice => "shutdown-twice",
            Property::Missed => "missed-shutdown",
            Property::MainsOn => "shutdown-on-mains",
        }
    }
}

/// A property that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which.
    pub property: Property,
    /// When, milliseconds.
    pub at: u64,
    /// The host concerned.
    pub host: Option<usize>,
    /// What happened.
    pub detail: String,
}

/// A deliberately broken rule, to show that the checker finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// The primary does not wait for its secondaries (no HOSTSYNC).
    SkipHostsync,
    /// Hosts shut down on battery without LB.
    ShutdownOnBattery,
    /// upsmon does not see `LB`.
    IgnoreLowBattery,
    /// The primary kills the power as soon as it decides to shut down.
    EarlyKillpower,
    /// Hosts shut down on mains (`OL`) once they have run for 100 s.
    ShutdownOnMains,
}

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// A broken rule to inject.
    pub mutation: Option<Mutation>,
    /// Keep a timeline of what happened.
    pub trace: bool,
}

/// What a run gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Properties that did not hold (empty: all held).
    pub violations: Vec<Violation>,
    /// What happened (with [`Options::trace`]).
    pub trace: Vec<String>,
    /// Hosts that ran SHUTDOWNCMD.
    pub shutdowns: usize,
    /// Hosts still running (or with upsmon stopped) when the battery ran out.
    pub crashed: usize,
    /// Events processed.
    pub events: u64,
}

/// Run `s` to its end.
pub fn run(s: &Scenario, opts: &Options) -> Result<Outcome, Error> {
    let mut w = World::new(s, opts)?;
    w.run();
    Ok(Outcome {
        violations: w.violations,
        trace: w.trace,
        shutdowns: w.hosts.iter().filter(|h| h.shutdowns > 0).count(),
        crashed: w.hosts.iter().filter(|h| h.crashed).count(),
        events: w.events,
    })
}

const RECORDING_NAME: &str = "back-ups-bk650m2-ch.recording.toml";
const USERS: &[u8] =
    b"[monp]\n password = pw\n upsmon primary\n[mons]\n password = pw\n upsmon secondary\n";
const DRIVER_ARGS: &[&str] = &["port=auto", "pollinterval=2"];

/// `what()` once per process; its error is made again (with its source) when asked for.
fn cached<T: Send + Sync, E>(
    cell: &'static OnceLock<Option<T>>,
    what: impl Fn() -> Result<T, E>,
) -> Result<&'static T, E> {
    match cell.get_or_init(|| what().ok()) {
        Some(t) => Ok(t),
        None => what().map(|_| unreachable!("failed once, fails again")),
    }
}

fn base_recording() -> Result<&'static Recording, Error> {
    static REC: OnceLock<Option<Recording>> = OnceLock::new();
    cached(&REC, || Recording::parse(RECORDING, RECORDING_NAME)).map_err(Error::Recording)
}

fn users() -> Result<&'static nut_conf::upsd_users::Users, Error> {
    static USERS_: OnceLock<Option<nut_conf::upsd_users::Users>> = OnceLock::new();
    cached(&USERS_, || {
        nut_conf::upsd_users::parse(USERS, Path::new("upsd.users"))
    })
    .map_err(Error::Conf)
}

fn driver_config() -> Result<&'static DriverConfig, Error> {
    static CFG: OnceLock<Option<DriverConfig>> = OnceLock::new();
    cached(&CFG, || {
        let x: Vec<_> = DRIVER_ARGS
            .iter()
            .map(|a| nut_driver::config::split_xarg(a))
            .collect();
        DriverConfig::build("usbhid-ups", "ups", None, &x, usbhid_ups::OPTIONS)
    })
    .map_err(Error::Driver)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rpc {
    Poll,
    Fsd,
    NumLogins,
    /// `CLEARFSD_ON_MAINS`: the status read in each round of the primary's wait.
    WaitStatus,
    ClearFsd,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// Truth sample `i` of the timeline takes effect.
    Sample(usize),
    Fault(usize),
    PartitionEnd(usize),
    DelayEnd(usize),
    UpsdStart,
    DriverStart,
    UpsmonStart(usize),
    Wake(usize, u64),
    Thaw,
    DriverPoll(u64),
    UpsdTick(u64),
    Cycle(usize, u64),
    Arrive(usize, u64, Rpc),
    Done(usize, u64, Rpc, Reply),
    Numlogins(usize, u64),
    ShutdownCmd(usize, u64),
    HostOff(usize),
    End,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reply {
    /// The conversation failed (timeout, reset, refused): the connection is closed.
    Broken,
    /// Reply lines, then upsd's time of answering (ms).
    Lines(Vec<String>),
}

struct Driver {
    core: Core,
    backend: HidBackend,
    /// upsd's connection.
    link: Option<ConnId>,
    next_conn: ConnId,
    disconnected: bool,
    /// The last update failed (the data is stale).
    failed: bool,
    backoff: u64,
    next_poll: u64,
    /// When the backend last really read the unit.
    last_read: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostState {
    Running,
    /// upsmon is not running (restart) or the host sleeps.
    Stopped,
    /// FINALDELAY before SHUTDOWNCMD.
    ShuttingDown,
    /// SHUTDOWNCMD ran: the OS is going down.
    Halting,
    Off,
}

#[derive(Debug)]
struct Conn {
    client: SimClient,
    upsd_gen: u64,
    last_request: u64,
    logged_in: bool,
}

#[derive(Debug)]
struct Host {
    conf: UpsmonConf,
    primary: bool,
    machine: Option<Machine>,
    /// Bumped whenever pending timers and replies of this host must be forgotten.
    gen: u64,
    state: HostState,
    interval: u64,
    conn: Option<Conn>,
    busy: bool,
    actions: VecDeque<Action>,
    decided: bool,
    shutdowns: u32,
    /// upsd's processing time of the last good poll.
    last_good: u64,
    /// The last failed poll.
    last_bad: Option<u64>,
    partitioned: bool,
    extra_delay: u64,
    /// The primary's wait: this secondary was not logged in at some point of it.
    gone_in_wait: bool,
    /// Time of a [`Property::Missed`] already reported.
    missed: bool,
    /// The host was powered off while running.
    crashed: bool,
}

/// A disturbance of the world: `[from, to)` ms, one host or all.
#[derive(Debug, Clone, Copy)]
struct Disturbance {
    from: u64,
    to: u64,
    host: Option<usize>,
}

struct World<'s> {
    s: &'s Scenario,
    users: &'static nut_conf::upsd_users::Users,
    cfg: &'static DriverConfig,
    opts: Options,
    now: u64,
    epoch: Instant,
    queue: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    events: u64,
    timeline: Timeline,
    clock: Arc<ManualClock>,
    port: SimDevice,
    driver: Option<Driver>,
    driver_gen: u64,
    frozen: bool,
    /// What upsd wrote to the driver while it hung (the socket keeps it).
    inbox: Vec<u8>,
    frozen_until: u64,
    /// Times at which the unit's reports change by themselves (its `[[event]]`s).
    unit_changes: Vec<u64>,
    /// Until then, every driver poll reads the unit (a fault may be playing).
    read_until: u64,
    upsd: Option<SimServer>,
    upsd_gen: u64,
    hosts: Vec<Host>,
    disturbances: Vec<Disturbance>,
    /// The truth now: on battery, low battery; since when OB+LB.
    mains: bool,
    oblb_since: Option<u64>,
    /// When upsd's FSD latch was set: from, until (`u64::MAX`: still set).
    fsd_latched: Vec<(u64, u64)>,
    wait_since: Option<u64>,
    primary_shutdown: Option<u64>,
    violations: Vec<Violation>,
    trace: Vec<String>,
}

impl<'s> World<'s> {
    fn new(s: &'s Scenario, opts: &Options) -> Result<World<'s>, Error> {
        let timeline = Timeline::new(s);
        let mut rec = base_recording()?.clone();
        rec.events = timeline.recording_events();
        let unit_changes = rec
            .events
            .iter()
            .map(|e| (e.at_s * 1000.0) as u64)
            .collect();
        let clock = ManualClock::new();
        let port =
            SimDevice::with_clock(&rec, RECORDING_NAME, clock.clone()).map_err(Error::Unit)?;
        let mut hosts = Vec::new();
        for (i, hc) in s.hosts.iter().enumerate() {
            let text = hc.upsmon_conf(i == 0);
            let conf = nut_conf::upsmon_conf::parse(text.as_bytes(), Path::new("upsmon.conf"))
                .map_err(Error::Conf)?;
            hosts.push(Host {
                interval: conf.pollfreq * 1000,
                conf,
                primary: i == 0,
                machine: None,
                gen: 0,
                state: HostState::Stopped,
                conn: None,
                busy: false,
                actions: VecDeque::new(),
                decided: false,
                shutdowns: 0,
                last_good: 0,
                last_bad: None,
                partitioned: false,
                extra_delay: 0,
                gone_in_wait: false,
                missed: false,
                crashed: false,
            });
        }
        let mut w = World {
            s,
            users: users()?,
            cfg: driver_config()?,
            opts: *opts,
            now: 0,
            // far from the real clock: the backend's few `Instant::now()` are long ago
            epoch: Instant::now() + Duration::from_secs(10 * 365 * 86400),
            queue: BinaryHeap::new(),
            seq: 0,
            events: 0,
            timeline,
            clock,
            port,
            driver: None,
            driver_gen: 0,
            frozen: false,
            inbox: Vec::new(),
            frozen_until: 0,
            unit_changes,
            read_until: 0,
            upsd: None,
            upsd_gen: 0,
            hosts,
            disturbances: Vec::new(),
            mains: true,
            oblb_since: None,
            fsd_latched: Vec::new(),
            wait_since: None,
            primary_shutdown: None,
            violations: Vec::new(),
            trace: Vec::new(),
        };
        for i in 0..w.timeline.changes.len() {
            let at = w.timeline.changes[i].at;
            w.at(at, Ev::Sample(i));
        }
        for (n, (_, e)) in s.events.iter().enumerate() {
            w.at(e.at, Ev::Fault(n));
        }
        w.at(s.end, Ev::End);
        w.at(0, Ev::DriverStart);
        w.at(0, Ev::UpsdStart);
        for h in 0..w.hosts.len() {
            w.at(500, Ev::UpsmonStart(h));
        }
        Ok(w)
    }

    fn at(&mut self, t: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, ev)));
    }

    fn inst(&self) -> Instant {
        self.epoch + Duration::from_millis(self.now)
    }

    fn secs(&self) -> u64 {
        self.now / 1000
    }

    fn log(&mut self, what: impl FnOnce() -> String) {
        if self.opts.trace {
            let line = format!("{:>9.3} {}", self.now as f64 / 1000.0, what());
            self.trace.push(line);
        }
    }

    fn violate(&mut self, property: Property, host: Option<usize>, detail: String) {
        self.log(|| format!("VIOLATION {}: {detail}", property.name()));
        self.violations.push(Violation {
            property,
            at: self.now,
            host,
            detail,
        });
    }

    fn disturb(&mut self, from: u64, to: u64, host: Option<usize>) {
        self.disturbances.push(Disturbance { from, to, host });
    }

    fn run(&mut self) {
        while let Some(Reverse((t, _, ev))) = self.queue.pop() {
            self.now = t;
            self.clock.set(Duration::from_millis(t));
            self.events += 1;
            if ev == Ev::End {
                break;
            }
            self.handle(ev);
            self.check_liveness();
            if self.timeline.depleted.is_some_and(|d| d <= t) {
                self.log(|| "battery empty: the load is off".into());
                for h in &mut self.hosts {
                    if matches!(h.state, HostState::Running | HostState::Stopped) {
                        h.crashed = true;
                    }
                    h.state = HostState::Off;
                }
                break;
            }
        }
        self.check_sets();
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Sample(i) => {
                let c = self.timeline.changes[i];
                self.mains = c.mains;
                let oblb = !c.mains && c.lb;
                if oblb && self.oblb_since.is_none() {
                    self.oblb_since = Some(self.now);
                } else if !oblb {
                    self.oblb_since = None;
                }
            }
            Ev::Fault(n) => self.fault(n),
            Ev::PartitionEnd(h) => self.hosts[h].partitioned = false,
            Ev::DelayEnd(h) => self.hosts[h].extra_delay = 0,
            Ev::UpsdStart => self.upsd_start(),
            Ev::DriverStart => self.driver_start(),
            Ev::UpsmonStart(h) => self.upsmon_start(h),
            Ev::Wake(h, gen) => {
                if self.hosts[h].gen == gen && self.hosts[h].state == HostState::Stopped {
                    self.hosts[h].state = HostState::Running;
                    let now = self.inst();
                    let a = match self.hosts[h].machine.as_mut() {
                        Some(m) => m.resumed(now),
                        None => Vec::new(),
                    };
                    self.log(|| format!("host {h} wakes up (time jump)"));
                    self.actions(h, a);
                    self.cycle(h);
                }
            }
            Ev::Thaw => {
                if self.frozen && self.now >= self.frozen_until {
                    // what waits in the socket is read after the next poll (`driver_poll`)
                    self.frozen = false;
                    self.log(|| "driver thaws".into());
                }
            }
            Ev::DriverPoll(gen) => {
                if gen == self.driver_gen {
                    self.driver_poll();
                }
            }
            Ev::UpsdTick(gen) => {
                if gen == self.upsd_gen && self.upsd.is_some() {
                    self.upsd_tick();
                    self.at(self.now + 1000, Ev::UpsdTick(gen));
                }
            }
            Ev::Cycle(h, gen) => {
                if self.hosts[h].gen == gen {
                    self.cycle(h);
                }
            }
            Ev::Arrive(h, gen, rpc) => self.arrive(h, gen, rpc),
            Ev::Done(h, gen, rpc, reply) => {
                if self.hosts[h].gen == gen {
                    self.done(h, rpc, reply);
                }
            }
            Ev::Numlogins(h, gen) => {
                if self.hosts[h].gen == gen && !self.hosts[h].busy {
                    self.numlogins_round(h);
                }
            }
            Ev::ShutdownCmd(h, gen) => {
                if self.hosts[h].gen == gen && self.hosts[h].state == HostState::ShuttingDown {
                    self.shutdown_cmd(h);
                }
            }
            Ev::HostOff(h) => self.host_off(h),
            Ev::End => {}
        }
    }

    // ---- faults ----

    fn fault(&mut self, n: usize) {
        let f = self.s.events[n].1.fault;
        let now = self.now;
        self.log(|| format!("fault #{}: {f:?}", self.s.events[n].0));
        // how long after a fault ends the world counts as settled again
        let settle = 5000;
        match f {
            Fault::MainsOff | Fault::MainsOn => {}
            Fault::Partition { host, secs } => {
                self.hosts[host].partitioned = true;
                self.at(now + secs * 1000, Ev::PartitionEnd(host));
                self.disturb_link(host, now, now + secs * 1000 + settle);
            }
            Fault::Drop { host } => {
                self.reset(host);
                self.disturb(now, now + settle, Some(host));
            }
            Fault::Delay { host, ms, secs } => {
                self.hosts[host].extra_delay = ms;
                self.at(now + secs * 1000, Ev::DelayEnd(host));
                self.disturb_link(host, now, now + secs * 1000 + settle);
            }
            Fault::RestartUpsd { down } => {
                if self.upsd.is_some() && self.hosts[0].state != HostState::Off {
                    self.upsd_stop();
                    self.at(now + down * 1000, Ev::UpsdStart);
                    self.disturb(now, now + down * 1000 + settle, None);
                }
            }
            Fault::RestartDriver { down } => {
                if self.driver.is_some() && self.hosts[0].state != HostState::Off {
                    self.driver_stop();
                    self.at(now + down * 1000, Ev::DriverStart);
                    self.disturb(now, now + down * 1000 + 35_000, None);
                }
            }
            Fault::RestartUpsmon { host, down } => {
                if matches!(
                    self.hosts[host].state,
                    HostState::Running | HostState::Stopped
                ) {
                    self.upsmon_stop(host);
                    self.at(now + down * 1000, Ev::UpsmonStart(host));
                    self.disturb(now, now + down * 1000, Some(host));
                }
            }
            Fault::ClockJump { host, secs } => {
                if self.hosts[host].state == HostState::Running {
                    let h = &mut self.hosts[host];
                    h.gen += 1;
                    h.busy = false;
                    h.state = HostState::Stopped;
                    let gen = h.gen;
                    self.at(now + secs * 1000, Ev::Wake(host, gen));
                    self.disturb(now, now + secs * 1000 + settle, Some(host));
                }
            }
            Fault::FreezeDriver { secs } => {
                if self.driver.is_none() {
                    return;
                }
                self.frozen = true;
                self.frozen_until = self.frozen_until.max(now + secs * 1000);
                self.at(now + secs * 1000, Ev::Thaw);
                let maxage = self.s.maxage * 1000;
                self.disturb(now, now + secs * 1000 + maxage + settle, None);
            }
            Fault::Vanish { secs } => {
                self.port.inject(nut_hid_sim::Fault::Vanish {
                    for_: Duration::from_secs(secs),
                });
                self.read_until = self.read_until.max(now + secs * 1000 + 1000);
                self.disturb(now, now + secs * 1000 + 35_000, None);
            }
            Fault::FailReads { count } => {
                self.port.inject(nut_hid_sim::Fault::FailReads { count });
                self.read_until = self.read_until.max(now + 2000 * u64::from(count) + 1000);
                self.disturb(now, now + 2000 * u64::from(count) + settle, None);
            }
        }
    }

    /// upsd is gone, and its FSD latch with it.
    fn unlatch(&mut self) {
        if let Some(l) = self.fsd_latched.last_mut().filter(|l| l.1 == u64::MAX) {
            l.1 = self.now;
        }
    }

    /// A disturbance of host `h`'s network: for the primary, every secondary's way to upsd.
    fn disturb_link(&mut self, h: usize, from: u64, to: u64) {
        if h == 0 {
            for s in 1..self.hosts.len() {
                self.disturb(from, to, Some(s));
            }
        } else {
            self.disturb(from, to, Some(h));
        }
    }

    /// The host's TCP connection is reset: both ends know.
    fn reset(&mut self, h: usize) {
        if let Some(c) = self.hosts[h].conn.take() {
            if let Some(u) = self.upsd.as_mut().filter(|_| c.upsd_gen == self.upsd_gen) {
                u.disconnect(&c.client);
            }
            self.logged_out(h);
        }
    }

    /// Secondary `h` has no login at upsd any more.
    fn logged_out(&mut self, h: usize) {
        if self.wait_since.is_some() {
            self.hosts[h].gone_in_wait = true;
        }
    }

    // ---- upsd ----

    fn upsd_start(&mut self) {
        if self.hosts[0].state == HostState::Off {
            return;
        }
        self.upsd_gen += 1;
        self.upsd = Some(SimServer::new(&["ups"], self.users.clone(), self.s.maxage));
        self.log(|| "upsd starts".into());
        let gen = self.upsd_gen;
        self.upsd_tick();
        self.at(self.now + 1000, Ev::UpsdTick(gen));
    }

    fn upsd_stop(&mut self) {
        self.upsd = None;
        self.unlatch();
        self.upsd_gen += 1;
        if let Some(d) = self.driver.as_mut() {
            if let Some(id) = d.link.take() {
                d.core.close(id);
            }
        }
        for h in 0..self.hosts.len() {
            if self.hosts[h].conn.is_some() {
                self.logged_out(h);
            }
        }
        self.log(|| "upsd stops".into());
    }

    fn upsd_tick(&mut self) {
        let now_s = self.secs();
        // the driver link: retried every 2 s
        let linked = self.upsd.as_ref().is_some_and(|u| u.driver_linked(0));
        if !linked && now_s % 2 == 0 {
            if let Some(d) = self.driver.as_mut() {
                let id = d.next_conn;
                d.next_conn += 1;
                d.core.open(id);
                d.link = Some(id);
                let linked = self
                    .upsd
                    .as_mut()
                    .is_some_and(|u| u.driver_connected(0, now_s).is_ok());
                if linked {
                    self.send_driver(b"DUMPALL\n".to_vec());
                }
            }
        } else if linked {
            let ping = self.upsd.as_mut().is_some_and(|u| u.driver_check(0, now_s));
            if ping {
                self.send_driver(b"PING\n".to_vec());
            }
        }
        // idle clients
        for h in 0..self.hosts.len() {
            let idle = self.hosts[h]
                .conn
                .as_ref()
                .is_some_and(|c| c.upsd_gen == self.upsd_gen && self.now > c.last_request + IDLE);
            if idle {
                self.log(|| format!("upsd drops host {h} (idle)"));
                self.reset(h);
            }
        }
    }

    /// Bytes from upsd to the driver (kept in the socket while the driver hangs, and until
    /// its first poll after: the driver's loop polls the device when a poll is due before it
    /// reads its socket).
    fn send_driver(&mut self, bytes: Vec<u8>) {
        if self.frozen || !self.inbox.is_empty() {
            self.inbox.extend_from_slice(&bytes);
            return;
        }
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        let Some(id) = d.link else { return };
        d.core.feed(id, &bytes, &mut d.backend);
        self.driver_flush();
    }

    /// What the driver wrote goes to upsd.
    fn driver_flush(&mut self) {
        let now_s = self.secs();
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        for o in d.core.take_output() {
            if let Output::Send(id, bytes) = o {
                if Some(id) == d.link {
                    if let Some(u) = self.upsd.as_mut() {
                        u.driver_bytes(0, &bytes, now_s);
                    }
                }
            }
        }
    }

    // ---- the driver ----

    fn driver_start(&mut self) {
        if self.hosts[0].state == HostState::Off || self.driver.is_some() {
            return;
        }
        self.driver_gen += 1;
        let port = self.port.clone();
        let mut backend = HidBackend::new(Box::new(move || {
            let dev: Box<dyn Device> = Box::new(port.reopen()?);
            Ok(dev)
        }));
        let started = nut_driver::init_tree(&mut backend, self.cfg, &usbhid_ups::DRIVER);
        let gen = self.driver_gen;
        match started {
            Ok(st) => {
                let mut core = Core::new(st.tree, 4242, 0);
                if st.first_update.is_ok() {
                    core.set_stale(false);
                }
                let _ = core.take_output();
                self.driver = Some(Driver {
                    core,
                    backend,
                    link: None,
                    next_conn: 1,
                    disconnected: false,
                    failed: st.first_update.is_err(),
                    last_read: self.now,
                    backoff: 1000,
                    next_poll: self.now + self.s.pollinterval * 1000,
                });
                self.log(|| "driver starts".into());
                self.at(self.now + self.s.pollinterval * 1000, Ev::DriverPoll(gen));
            }
            Err(e) => {
                // the service manager tries again
                self.log(|| format!("driver fails to start: {e}"));
                self.at(self.now + 5000, Ev::DriverStart);
            }
        }
    }

    fn driver_stop(&mut self) {
        self.driver = None;
        // a new process does not hang where the old one did
        self.frozen = false;
        self.inbox.clear();
        self.driver_gen += 1;
        if let Some(u) = self.upsd.as_mut() {
            u.driver_gone(0);
        }
        self.log(|| "driver stops".into());
    }

    fn driver_poll(&mut self) {
        let gen = self.driver_gen;
        if self.frozen {
            self.at(self.now + 1000, Ev::DriverPoll(gen));
            return;
        }
        let now = self.inst();
        let t = self.now;
        let interval = self.s.pollinterval * 1000;
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        if t < d.next_poll {
            // no poll due: the loop reads its socket at once
            let next = d.next_poll;
            let inbox = std::mem::take(&mut self.inbox);
            if !inbox.is_empty() {
                self.send_driver(inbox);
            }
            self.at(next, Ev::DriverPoll(gen));
            return;
        }
        d.next_poll = t + interval;
        // A unit whose reports did not change since the last good read gives the same tree:
        // the read is skipped (but never for longer than the backend's full-walk period).
        let changed = {
            let i = self.unit_changes.partition_point(|&c| c <= d.last_read);
            self.unit_changes.get(i).is_some_and(|&c| c <= t)
        };
        let quiet = !d.disconnected
            && !d.failed
            && !changed
            && t >= self.read_until
            && t < d.last_read + 30_000;
        let mut ok = !quiet;
        if !quiet && d.disconnected {
            let (core, backend) = (&mut d.core, &mut d.backend);
            match core.with_tree(|tr| backend.reconnect(tr)) {
                Ok(()) => {
                    d.disconnected = false;
                    d.backoff = 1000;
                }
                Err(_) => {
                    d.backoff = (d.backoff * 2).min(30_000);
                    d.next_poll = t + d.backoff;
                    ok = false;
                }
            }
        }
        if ok {
            let (core, backend) = (&mut d.core, &mut d.backend);
            d.last_read = t;
            match core.with_tree(|tr| backend.update(tr, now)) {
                Ok(()) => {
                    d.failed = false;
                    d.core.set_stale(false);
                }
                Err(e) => {
                    d.failed = true;
                    d.core.set_stale(true);
                    if !matches!(e, nut_driver::BackendError::Stale(_)) {
                        d.disconnected = true;
                        d.backoff = 1000;
                        d.next_poll = t + 1000;
                    }
                }
            }
        }
        let next = d.next_poll;
        self.driver_flush();
        let inbox = std::mem::take(&mut self.inbox);
        if !inbox.is_empty() {
            self.send_driver(inbox);
        }
        self.at(next, Ev::DriverPoll(gen));
    }

    // ---- upsmon hosts ----

    fn upsmon_start(&mut self, h: usize) {
        if self.hosts[h].state != HostState::Stopped {
            return;
        }
        let now = self.inst();
        let host = &mut self.hosts[h];
        host.gen += 1;
        host.machine = Some(Machine::new(&host.conf, now));
        host.interval = host.conf.pollfreq * 1000;
        host.state = HostState::Running;
        host.busy = false;
        host.actions.clear();
        host.decided = false;
        if h == 0 {
            self.wait_since = None;
        }
        self.log(|| format!("upsmon {h} starts"));
        self.cycle(h);
    }

    fn upsmon_stop(&mut self, h: usize) {
        self.reset_if_reachable(h);
        let host = &mut self.hosts[h];
        host.gen += 1;
        host.machine = None;
        host.state = HostState::Stopped;
        host.busy = false;
        self.log(|| format!("upsmon {h} stops"));
    }

    /// The host closes its connection: upsd notices only if the link is up.
    fn reset_if_reachable(&mut self, h: usize) {
        if self.cut(h) {
            // the FIN is lost: upsd keeps the session until it is idle
            self.hosts[h].conn = None;
        } else {
            self.reset(h);
        }
    }

    /// One-way delay between host `h` and upsd. upsd runs on the primary (host 0): its own
    /// link is the loopback, and its network's delay adds to every secondary's.
    fn delay(&self, h: usize) -> u64 {
        if h == 0 {
            return 1;
        }
        self.s.delay + self.hosts[h].extra_delay + self.hosts[0].extra_delay
    }

    /// Whether host `h` is cut off from upsd: its own link is down, or (for a secondary) the
    /// primary's, where upsd runs.
    fn cut(&self, h: usize) -> bool {
        h != 0 && (self.hosts[h].partitioned || self.hosts[0].partitioned)
    }

    /// Send `rpc` from host `h` now.
    fn send(&mut self, h: usize, rpc: Rpc) {
        let d = self.delay(h);
        let gen = self.hosts[h].gen;
        self.hosts[h].busy = true;
        self.at(self.now + d, Ev::Arrive(h, gen, rpc));
        // what the host gets back if nothing comes: its I/O timeout
        self.at(self.now + IO_TIMEOUT, Ev::Done(h, gen, rpc, Reply::Broken));
    }

    fn arrive(&mut self, h: usize, gen: u64, rpc: Rpc) {
        if self.hosts[h].gen != gen || self.cut(h) {
            return; // lost: the timeout answers
        }
        let now_s = self.secs();
        let upsd_gen = self.upsd_gen;
        let primary = self.hosts[h].primary;
        let Some(u) = self.upsd.as_mut() else {
            // refused: the host learns at once (one delay back)
            let back = self.now + self.delay(h);
            self.at(back, Ev::Done(h, gen, rpc, Reply::Broken));
            return;
        };
        // a connection upsd no longer knows: reset
        if self.hosts[h]
            .conn
            .as_ref()
            .is_some_and(|c| c.upsd_gen != upsd_gen)
        {
            self.hosts[h].conn = None;
            let back = self.now + self.delay(h);
            self.at(back, Ev::Done(h, gen, rpc, Reply::Broken));
            return;
        }
        let mut lines = Vec::new();
        if self.hosts[h].conn.is_none() {
            if rpc != Rpc::Poll {
                // only polls connect
                let back = self.now + self.delay(h);
                self.at(back, Ev::Done(h, gen, rpc, Reply::Broken));
                return;
            }
            let mut client = u.connect(&format!("10.0.0.{}", h + 1));
            let user = if primary { "monp" } else { "mons" };
            let mut ok = true;
            for l in [
                format!("USERNAME {user}"),
                "PASSWORD pw".to_string(),
                "LOGIN ups".to_string(),
            ] {
                let (bytes, _) = u.request(&mut client, &l, now_s);
                ok &= bytes.starts_with(b"OK");
            }
            if primary {
                let _ = u.request(&mut client, "PRIMARY ups", now_s);
            }
            self.hosts[h].conn = Some(Conn {
                client,
                upsd_gen,
                last_request: self.now,
                logged_in: ok,
            });
        }
        let Some(c) = self.hosts[h].conn.as_mut() else {
            return;
        };
        c.last_request = self.now;
        let mut ask = |line: &str| -> String {
            let (bytes, _) = u.request(&mut c.client, line, now_s);
            String::from_utf8_lossy(&bytes).trim_end().to_string()
        };
        match rpc {
            Rpc::Poll => {
                let status = ask("GET VAR ups ups.status");
                let ob = value(&status).is_some_and(|v| v.split(' ').any(|w| w == "OB"));
                let alarm = value(&status).is_some_and(|v| v.split(' ').any(|w| w == "ALARM"));
                lines.push(status);
                let hc = &self.s.hosts[h];
                if alarm {
                    lines.push(ask("GET VAR ups ups.alarm"));
                } else {
                    lines.push(String::new());
                }
                if ob && hc.onbatt_runtime.is_some() {
                    lines.push(ask("GET VAR ups battery.runtime"));
                } else {
                    lines.push(String::new());
                }
                if ob && hc.onbatt_charge.is_some() {
                    lines.push(ask("GET VAR ups battery.charge"));
                } else {
                    lines.push(String::new());
                }
            }
            Rpc::Fsd => {
                lines.push(ask("FSD ups"));
                if u.fsd(0) && self.fsd_latched.last().is_none_or(|l| l.1 != u64::MAX) {
                    self.fsd_latched.push((self.now, u64::MAX));
                }
            }
            Rpc::NumLogins => lines.push(ask("GET NUMLOGINS ups")),
            Rpc::WaitStatus => lines.push(ask("GET VAR ups ups.status")),
            Rpc::ClearFsd => {
                lines.push(ask("CLEARFSD ups"));
                if !u.fsd(0) {
                    self.unlatch();
                }
            }
        }
        lines.push(self.now.to_string());
        let back = self.now + self.delay(h);
        self.at(back, Ev::Done(h, gen, rpc, Reply::Lines(lines)));
    }

    fn done(&mut self, h: usize, rpc: Rpc, reply: Reply) {
        if !self.hosts[h].busy {
            return; // already answered (the timeout of an answered request)
        }
        self.hosts[h].busy = false;
        // a new request must not take this one's timeout: forget the pending ones
        self.hosts[h].gen += 1;
        let now = self.inst();
        match rpc {
            Rpc::Poll => {
                let result = match &reply {
                    Reply::Broken => {
                        self.reset_if_reachable(h);
                        PollResult::CommLost
                    }
                    Reply::Lines(l) => {
                        // a status that says where the power comes from (not `WAIT`): the
                        // host knows the line as it was when upsd answered
                        let line = value(&l[0])
                            .is_some_and(|v| v.split(' ').any(|w| w == "OL" || w == "OB"));
                        if line {
                            let at = l.last().and_then(|t| t.parse().ok()).unwrap_or(self.now);
                            self.hosts[h].last_good = at;
                        }
                        poll_result(l)
                    }
                };
                let result = match result {
                    PollResult::Status {
                        status,
                        alarm,
                        battery,
                    } if self.opts.mutation == Some(Mutation::IgnoreLowBattery) => {
                        PollResult::Status {
                            status: status
                                .split(' ')
                                .filter(|w| *w != "LB")
                                .collect::<Vec<_>>()
                                .join(" "),
                            alarm,
                            battery,
                        }
                    }
                    r => r,
                };
                if !matches!(result, PollResult::Status { .. }) {
                    self.hosts[h].last_bad = Some(self.now);
                }
                self.log(|| format!("host {h} polls: {result:?}"));
                let online = self.now >= 100_000
                    && matches!(&result, PollResult::Status { status, .. } if status.contains("OL"));
                let mut a = Vec::new();
                if let Some(m) = self.hosts[h].machine.as_mut() {
                    a.extend(m.observe(Observation { ups: 0, result }, now));
                    a.extend(m.tick(now));
                }
                let mutant = match self.opts.mutation {
                    Some(Mutation::ShutdownOnBattery) => true,
                    Some(Mutation::ShutdownOnMains) => online,
                    _ => false,
                };
                if mutant {
                    let on_battery = self.opts.mutation == Some(Mutation::ShutdownOnBattery);
                    let m = self.hosts[h].machine.as_mut();
                    if let Some(m) = m.filter(|m| !on_battery || m.flags(0).onbatt) {
                        a.extend(m.forced(now));
                    }
                }
                self.actions(h, a);
                let next = self.now + self.hosts[h].interval;
                let gen = self.hosts[h].gen;
                if self.hosts[h].state == HostState::Running
                    && self.hosts[h]
                        .machine
                        .as_ref()
                        .is_some_and(|m| m.phase() == Phase::Monitoring)
                {
                    self.at(next.max(self.now + 1), Ev::Cycle(h, gen));
                }
            }
            Rpc::Fsd => {
                let ok = matches!(&reply, Reply::Lines(l) if l[0].starts_with("OK"));
                self.log(|| format!("host {h} FSD: {ok}"));
                if ok {
                    let a = match self.hosts[h].machine.as_mut() {
                        Some(m) => m.fsd_confirmed(0, now),
                        None => Vec::new(),
                    };
                    self.hosts[h].actions.extend(a);
                }
                self.drive(h);
            }
            Rpc::WaitStatus => {
                let status = match &reply {
                    Reply::Lines(l) => value(&l[0]),
                    Reply::Broken => None,
                };
                let asks = match (status, self.hosts[h].machine.as_mut()) {
                    (Some(st), Some(m)) => m.status_while_waiting(0, &st, now),
                    _ => Vec::new(),
                };
                let clear = asks.iter().any(|a| matches!(a, Action::ClearFsd { .. }));
                if clear && self.hosts[h].conn.is_some() {
                    self.log(|| format!("host {h} asks CLEARFSD"));
                    self.send(h, Rpc::ClearFsd);
                } else if clear {
                    self.clear_result(h, ClearResult::Refused("not connected".into()));
                } else {
                    self.numlogins_ask(h);
                }
            }
            Rpc::ClearFsd => {
                let result = match &reply {
                    Reply::Lines(l) if l[0].starts_with("OK") => ClearResult::Cleared,
                    Reply::Lines(l) if l[0] == "ERR UNKNOWN-COMMAND" => ClearResult::Unsupported,
                    Reply::Lines(l) => ClearResult::Refused(l[0].clone()),
                    Reply::Broken => ClearResult::Refused("connection lost".into()),
                };
                self.clear_result(h, result);
            }
            Rpc::NumLogins => {
                let n = match &reply {
                    Reply::Lines(l) => l[0]
                        .strip_prefix("NUMLOGINS ups ")
                        .and_then(|n| n.parse().ok()),
                    Reply::Broken => None,
                };
                self.numlogins_answer(h, n);
            }
        }
    }

    /// One round of the primary's wait: with `CLEARFSD_ON_MAINS`, the status first (and
    /// `CLEARFSD` when the machine asks), then NUMLOGINS, as the daemon does.
    fn numlogins_round(&mut self, h: usize) {
        let watch = self.hosts[h]
            .machine
            .as_ref()
            .is_some_and(Machine::polls_while_waiting);
        if watch && self.hosts[h].conn.is_some() {
            self.send(h, Rpc::WaitStatus);
        } else {
            self.numlogins_ask(h);
        }
    }

    fn numlogins_ask(&mut self, h: usize) {
        if self.hosts[h].conn.is_none() {
            self.numlogins_answer(h, None);
        } else {
            self.send(h, Rpc::NumLogins);
        }
    }

    /// upsd's answer to `CLEARFSD`: the shutdown is called off, or the wait goes on.
    fn clear_result(&mut self, h: usize, result: ClearResult) {
        let now = self.inst();
        self.log(|| format!("host {h} CLEARFSD: {result:?}"));
        let next = match self.hosts[h].machine.as_mut() {
            Some(m) => m.fsd_clear_result(0, result, now),
            None => return,
        };
        let off = self.hosts[h]
            .machine
            .as_ref()
            .is_some_and(|m| m.phase() == Phase::Monitoring);
        if off {
            // monitoring again: a later decision is a new one
            self.hosts[h].decided = false;
            self.wait_since = None;
            self.actions(h, next);
            self.cycle(h);
        } else {
            self.hosts[h].actions.extend(next);
            self.numlogins_ask(h);
        }
    }

    /// A NUMLOGINS round's answer; a failed request counts as a secondary still there (2),
    /// as in the daemon (NUT counts it as 0 and goes at once).
    fn numlogins_answer(&mut self, h: usize, n: Option<u64>) {
        let n = n.unwrap_or(2);
        let now = self.inst();
        let a = match self.hosts[h].machine.as_mut() {
            Some(m) => m.numlogins(n, now),
            None => return,
        };
        self.log(|| format!("host {h} NUMLOGINS {n}"));
        self.actions(h, a);
        let waiting = self.hosts[h]
            .machine
            .as_ref()
            .is_some_and(|m| matches!(m.phase(), Phase::WaitingForSecondaries { .. }));
        if waiting && self.hosts[h].state == HostState::Running {
            let gen = self.hosts[h].gen;
            self.at(self.now + 250, Ev::Numlogins(h, gen));
        }
    }

    fn cycle(&mut self, h: usize) {
        let host = &self.hosts[h];
        if host.state != HostState::Running || host.busy {
            return;
        }
        if host
            .machine
            .as_ref()
            .is_none_or(|m| m.phase() != Phase::Monitoring)
        {
            return;
        }
        self.send(h, Rpc::Poll);
    }

    fn actions(&mut self, h: usize, a: Vec<Action>) {
        self.hosts[h].actions.extend(a);
        self.drive(h);
    }

    /// Carry out the host's actions in order; a request to upsd suspends until its answer.
    fn drive(&mut self, h: usize) {
        while !self.hosts[h].busy {
            let Some(a) = self.hosts[h].actions.pop_front() else {
                return;
            };
            match a {
                Action::SendFsd { .. } => {
                    self.decide(h, "FSD");
                    // the machine's HOSTSYNC counts from here
                    if self.wait_since.is_none() {
                        self.begin_wait();
                    }
                    if self.hosts[h].conn.is_some() {
                        self.send(h, Rpc::Fsd);
                    }
                }
                Action::WaitForSecondaries { .. } => {
                    if self.wait_since.is_none() {
                        self.begin_wait();
                    }
                    self.log(|| format!("host {h} waits for the secondaries"));
                    if self.opts.mutation == Some(Mutation::SkipHostsync) {
                        let now = self.inst();
                        let more = match self.hosts[h].machine.as_mut() {
                            Some(m) => m.secondaries_gone(now),
                            None => Vec::new(),
                        };
                        for m in more.into_iter().rev() {
                            self.hosts[h].actions.push_front(m);
                        }
                    } else {
                        self.numlogins_round(h);
                    }
                }
                // upsmon exits after SHUTDOWNCMD, which closes the connection anyway
                Action::LogoutAfterShutdown { .. } => {}
                Action::Shutdown => {
                    self.decide(h, "SHUTDOWN");
                    if h == 0 {
                        self.check_hostsync();
                    }
                    let host = &mut self.hosts[h];
                    host.state = HostState::ShuttingDown;
                    let at = self.now + host.conf.finaldelay * 1000;
                    let gen = host.gen;
                    self.at(at, Ev::ShutdownCmd(h, gen));
                }
                Action::SetPollInterval(d) => {
                    self.hosts[h].interval = d.as_millis() as u64;
                }
                // asked for and answered in the wait's rounds (`numlogins_round`)
                Action::ClearFsd { .. }
                | Action::Notify { .. }
                | Action::Log { .. }
                | Action::Wall { .. }
                | Action::Reconnect { .. } => {}
            }
        }
    }

    /// The primary's wait for its secondaries starts: who is logged in now?
    fn begin_wait(&mut self) {
        self.wait_since = Some(self.now);
        for s in 1..self.hosts.len() {
            let logged = self.hosts[s]
                .conn
                .as_ref()
                .is_some_and(|c| c.logged_in && c.upsd_gen == self.upsd_gen);
            self.hosts[s].gone_in_wait = !logged;
        }
    }

    fn shutdown_cmd(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        host.shutdowns += 1;
        host.state = HostState::Halting;
        host.gen += 1;
        host.busy = false;
        let n = host.shutdowns;
        let off = self.now + self.s.hosts[h].os_shutdown * 1000;
        self.log(|| format!("host {h} runs SHUTDOWNCMD"));
        if n > 1 {
            self.violate(
                Property::Twice,
                Some(h),
                format!("host {h} ran SHUTDOWNCMD {n} times"),
            );
        }
        if h == 0 {
            self.primary_shutdown = Some(self.now);
        }
        // upsmon exits after SHUTDOWNCMD: its connection closes
        self.reset_if_reachable(h);
        self.at(off, Ev::HostOff(h));
    }

    fn host_off(&mut self, h: usize) {
        self.hosts[h].state = HostState::Off;
        self.log(|| format!("host {h} is off"));
        if h != 0 {
            return;
        }
        // the primary's services stop, then the shutdown hook kills the power (driver -k)
        self.upsd = None;
        self.unlatch();
        self.upsd_gen += 1;
        self.driver = None;
        self.driver_gen += 1;
        self.disturb(self.now, u64::MAX, None);
        self.killpower();
    }

    /// `driver -k` without a running driver: open the unit and send its shutdown.
    fn killpower(&mut self) {
        let port = self.port.clone();
        let mut backend = HidBackend::new(Box::new(move || {
            let dev: Box<dyn Device> = Box::new(port.reopen()?);
            Ok(dev)
        }));
        let mut tree = nut_state::Tree::new();
        let r = backend
            .init(&mut tree, self.cfg)
            .and_then(|()| backend.shutdown(&mut tree));
        self.log(|| format!("killpower: {r:?}"));
    }

    /// A host decided to shut down: was its UPS critical, or did its own rule say so?
    fn decide(&mut self, h: usize, what: &str) {
        if self.hosts[h].decided {
            return;
        }
        self.hosts[h].decided = true;
        self.log(|| format!("host {h} decides: {what}"));
        if h == 0 && self.opts.mutation == Some(Mutation::EarlyKillpower) {
            self.killpower();
        }
        let now = self.now;
        let hc = &self.s.hosts[h];
        // how stale what the host acts on can be: the driver's poll, upsd serving data up to
        // MAXAGE, the network
        let lag = 1000 * (self.s.pollinterval + self.s.maxage + 3) + 2 * (self.delay(h) + 4000);
        let from = self.hosts[h].last_good.min(now).saturating_sub(lag);
        let oblb = self.timeline.any(from, now, |c| !c.mains && c.lb);
        let ob = self.timeline.any(from, now, |c| !c.mains);
        let comm_bad = self.hosts[h].last_bad.is_some_and(|t| t >= from);
        let fsd = self.fsd_latched.iter().any(|&(a, b)| a <= now && b > from);
        let allowed = fsd || oblb || (ob && (comm_bad || hc.timed()));
        if !allowed {
            self.violate(
                Property::Spurious,
                Some(h),
                format!(
                    "host {h} shuts down ({what}) without OB+LB, FSD or a rule of its own \
                     since {:.3} s (OB seen: {ob}, comm lost: {comm_bad})",
                    from as f64 / 1000.0
                ),
            );
        }
        // mains on and everything fine for long enough: never
        let g = 1000 * (self.hosts[h].conf.pollfreq + self.s.pollinterval + 5)
            + 2 * self.delay(h)
            + 2000;
        let start = now.saturating_sub(g);
        let mains_on = !self.timeline.any(start, now, |c| !c.mains);
        let calm = self.calm(h, start, now);
        let latched = self.upsd.as_ref().is_some_and(|u| u.fsd(0));
        if mains_on && calm && !latched && now >= g {
            self.violate(
                Property::MainsOn,
                Some(h),
                format!(
                    "host {h} shuts down ({what}) with mains on and communication fine since \
                     {:.3} s",
                    start as f64 / 1000.0
                ),
            );
        }
    }

    /// No disturbance for host `h` (or everyone) overlaps `[from, to]`.
    fn calm(&self, h: usize, from: u64, to: u64) -> bool {
        !self
            .disturbances
            .iter()
            .any(|d| d.host.is_none_or(|x| x == h) && d.from <= to && d.to > from)
    }

    /// The end of the last disturbance of host `h` that started by now.
    fn calm_since(&self, h: usize) -> u64 {
        self.disturbances
            .iter()
            .filter(|d| d.host.is_none_or(|x| x == h) && d.from <= self.now)
            .map(|d| d.to)
            .max()
            .unwrap_or(0)
    }

    fn check_hostsync(&mut self) {
        let Some(since) = self.wait_since else {
            return;
        };
        let waited = self.now - since;
        let hostsync = self.hosts[0].conf.hostsync * 1000;
        if waited > hostsync {
            return;
        }
        for s in 1..self.hosts.len() {
            let logged = self.hosts[s]
                .conn
                .as_ref()
                .is_some_and(|c| c.logged_in && c.upsd_gen == self.upsd_gen);
            if logged && !self.hosts[s].gone_in_wait {
                self.violate(
                    Property::Hostsync,
                    Some(0),
                    format!(
                        "the primary shuts down after {:.3} s of HOSTSYNC {} s while secondary \
                         {s} is still logged in",
                        waited as f64 / 1000.0,
                        hostsync / 1000
                    ),
                );
                return;
            }
        }
    }

    fn check_liveness(&mut self) {
        let Some(since) = self.oblb_since else {
            return;
        };
        for h in 0..self.hosts.len() {
            let host = &self.hosts[h];
            if host.decided || host.missed || host.state != HostState::Running {
                continue;
            }
            let c = &host.conf;
            let bound = 1000 * (self.s.pollinterval + 3 + c.pollfreq + 2 * c.hostsync)
                + 2000 * c.pollfreqalert
                + 4 * self.delay(h)
                + 10_000;
            let start = since.max(self.calm_since(h));
            if self.now > start && self.now - start > bound {
                self.hosts[h].missed = true;
                self.violate(
                    Property::Missed,
                    Some(h),
                    format!(
                        "host {h} still runs {:.3} s after OB+LB with everything fine since \
                         {:.3} s (bound {} s)",
                        (self.now - start) as f64 / 1000.0,
                        start as f64 / 1000.0,
                        bound / 1000
                    ),
                );
            }
        }
    }

    /// Every SET_REPORT the unit received came after the primary's SHUTDOWNCMD.
    fn check_sets(&mut self) {
        let sets = self.port.sets();
        if let Some((t, bytes)) = sets.first() {
            let t = t.as_millis() as u64;
            if self.primary_shutdown.is_none_or(|p| t < p) {
                self.now = t;
                self.violate(
                    Property::Killpower,
                    None,
                    format!("the unit got SET_REPORT {bytes:02x?} before the primary's shutdown"),
                );
            }
        }
    }
}

/// The value of a `VAR <ups> <var> "<value>"` reply line.
fn value(line: &str) -> Option<String> {
    let words = nut_proto_split(line)?;
    (words.len() == 4 && words[0] == "VAR").then(|| words[3].clone())
}

/// A reply line's words, by the NUT protocol's tokenizer.
fn nut_proto_split(line: &str) -> Option<Vec<String>> {
    let mut tok = nut_proto::Tokenizer::new();
    let mut words = None;
    for &b in line.as_bytes().iter().chain(b"\n") {
        if let Some(r) = tok.push(b) {
            words = r.ok();
        }
    }
    words
}

/// What upsmon's session makes of a poll's replies.
fn poll_result(lines: &[String]) -> PollResult {
    if let Some(status) = value(&lines[0]) {
        if status.trim().is_empty() {
            return PollResult::CommLost;
        }
        let whole = |l: &String| value(l).and_then(|v| Reads::whole(&v));
        return PollResult::Status {
            status,
            alarm: value(&lines[1]),
            battery: Reads {
                runtime: whole(&lines[2]),
                charge: whole(&lines[3]),
            },
        };
    }
    match lines[0].as_str() {
        "ERR DATA-STALE" => PollResult::DataStale,
        "ERR DRIVER-NOT-CONNECTED" => PollResult::DriverNotConnected,
        _ => PollResult::CommLost,
    }
}
