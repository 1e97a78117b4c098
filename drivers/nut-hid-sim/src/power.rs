//! What a SET_REPORT does to an APC unit beyond storing the bytes: the delay fields count
//! down, the output goes off and comes back, and the unit leaves the bus when it has neither
//! mains nor output. Data-driven: the fields are found in the descriptor by their own usage,
//! named through the usage table the unit is given (NUT's generic names plus a subdriver's
//! vendor names):
//!
//! | role | usages | a write of `v` |
//! |---|---|---|
//! | shutdown | `DelayBeforeShutdown`, `APCDelayBeforeShutdown` | `v ≥ 0`: count down from `v` s, then the output goes off; `v < 0` cancels |
//! | reboot | `DelayBeforeReboot`, `APCDelayBeforeReboot` | `v ≥ 0`: count down from `v` s, then the output goes off and comes back; `v < 0` cancels |
//! | startup | `DelayBeforeStartup`, `APCDelayBeforeStartup`, `BUPDelayBeforeStartup` | the delay before the output comes back once mains is present; `v < 0`: it stays off (`shutdown.stayoff`). Written while the output is off with mains present: on after `v` s (`load.on` writes 0) |
//! | mains | `ACPresent` | (read, not written: the scenario sets it) mains is present unless one of these fields reads 0 |
//!
//! Whichever collection holds the field (`UPS.PowerSummary`, `UPS.Output`,
//! `UPS.APCGeneralCollection`...), any Feature field with one of these usages takes part.
//!
//! While a delay runs, the unit's stored report shows the seconds left (`v`, `v-1`, ... each
//! whole second, as APC units count down); when it runs out, the field shows its recorded
//! (idle) value again. When the output goes off after a shutdown delay, it comes back once mains
//! is present, after the startup delay last written (never written: the field's recorded value
//! if that is ≥ 0, else at once), unless the startup delay was written negative; after a reboot
//! delay it always comes back (negative startup delay: at once).
//!
//! The unit is on the bus while it has mains or its output is on: with the output off and no
//! mains it is off (USB gone: `UNPLUG`), every delay forgotten, until the scenario brings mains
//! back (`REPLUG`). A unit without an `ACPresent` field always has mains.

use std::collections::BTreeMap;
use std::time::Duration;

use nut_hid::{Descriptor, Field, ReportKind, UsageTable};

/// Usage names by role, looked up in the unit's usage table.
const SHUTDOWN: &[&str] = &["DelayBeforeShutdown", "APCDelayBeforeShutdown"];
const REBOOT: &[&str] = &["DelayBeforeReboot", "APCDelayBeforeReboot"];
const STARTUP: &[&str] = &[
    "DelayBeforeStartup",
    "APCDelayBeforeStartup",
    "BUPDelayBeforeStartup",
];
const MAINS: &[&str] = &["ACPresent"];

/// What a delay field does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Shutdown,
    Reboot,
    Startup,
}

/// One delay field of the descriptor.
#[derive(Debug, Clone)]
struct Delay {
    field: Field,
    role: Role,
    /// The recorded value, shown when no countdown runs.
    idle: i64,
    /// Counting down from `.1` seconds since clock time `.0` (shutdown and reboot only).
    armed: Option<(Duration, i64)>,
}

/// A change of the output, for the unit's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// `OUTPUT OFF`.
    Off,
    /// `OUTPUT ON`.
    On,
}

impl Change {
    /// The log line.
    pub(crate) fn line(self) -> &'static str {
        match self {
            Change::Off => "OUTPUT OFF",
            Change::On => "OUTPUT ON",
        }
    }
}

/// What happens once the output is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Back on `delay` s after mains is present; `field` (a startup delay) counts it down.
    Return { delay: u64, field: Option<usize> },
    /// Off until a startup delay is written.
    StayOff,
}

/// The output coming back: at clock time `at`, counted down from `from` in `field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Return {
    at: Duration,
    from: Duration,
    field: Option<usize>,
}

/// The output and power state of a unit.
#[derive(Debug, Clone)]
pub(crate) struct Power {
    delays: Vec<Delay>,
    mains_fields: Vec<Field>,
    output_on: bool,
    mains: bool,
    /// Set while the output is off.
    plan: Plan,
    /// The last startup delay written: (index in `delays`, value).
    startup: Option<(usize, i64)>,
    /// Scheduled while the output is off, mains is present and the plan is to return.
    back: Option<Return>,
}

impl Power {
    /// The model of the unit described by `desc`, its fields named through `table`, starting
    /// with the output on and the mains state of the recorded reports.
    pub(crate) fn new(
        desc: &Descriptor,
        table: &UsageTable,
        feature: &BTreeMap<u8, Vec<u8>>,
        input: &BTreeMap<u8, Vec<u8>>,
    ) -> Self {
        let usages =
            |names: &[&str]| -> Vec<u32> { names.iter().filter_map(|n| table.usage(n)).collect() };
        let roles = [
            (Role::Shutdown, usages(SHUTDOWN)),
            (Role::Reboot, usages(REBOOT)),
            (Role::Startup, usages(STARTUP)),
        ];
        let mut delays = Vec::new();
        for f in desc
            .fields()
            .iter()
            .filter(|f| f.kind == ReportKind::Feature)
        {
            if let Some((role, _)) = roles.iter().find(|(_, u)| u.contains(&f.usage())) {
                let recorded = feature.get(&f.report_id).and_then(|r| f.extract(r));
                let idle = recorded.unwrap_or(if f.logical_min < 0 { -1 } else { 0 });
                delays.push(Delay {
                    field: f.clone(),
                    role: *role,
                    idle,
                    armed: None,
                });
            }
        }
        let mains_usages = usages(MAINS);
        let mains_fields = desc
            .fields()
            .iter()
            .filter(|f| f.kind != ReportKind::Output && mains_usages.contains(&f.usage()))
            .cloned()
            .collect();
        let mut p = Power {
            delays,
            mains_fields,
            output_on: true,
            mains: true,
            plan: Plan::StayOff,
            startup: None,
            back: None,
        };
        p.mains = p.read_mains(feature, input);
        p
    }

    /// Whether the unit is powered, hence on the bus.
    pub(crate) fn powered(&self) -> bool {
        self.mains || self.output_on
    }

    /// Whether the output is on.
    pub(crate) fn output_on(&self) -> bool {
        self.output_on
    }

    /// Whether mains is present.
    pub(crate) fn mains(&self) -> bool {
        self.mains
    }

    /// Mains as the reports say: present unless an `ACPresent` field reads 0.
    pub(crate) fn read_mains(
        &self,
        feature: &BTreeMap<u8, Vec<u8>>,
        input: &BTreeMap<u8, Vec<u8>>,
    ) -> bool {
        !self.mains_fields.iter().any(|f| {
            let store = if f.kind == ReportKind::Input {
                input
            } else {
                feature
            };
            store.get(&f.report_id).and_then(|r| f.extract(r)) == Some(0)
        })
    }

    /// Mains is now `present` (clock time `at`).
    pub(crate) fn set_mains(&mut self, present: bool, at: Duration) {
        self.mains = present;
        self.settle(at);
    }

    /// A SET_REPORT(Feature) of `report` at clock time `at`: the delay fields it holds take
    /// their new values.
    pub(crate) fn on_write(&mut self, report: &[u8], at: Duration) {
        let Some(&id) = report.first() else {
            return;
        };
        for i in 0..self.delays.len() {
            let d = &mut self.delays[i];
            if d.field.report_id != id {
                continue;
            }
            let Some(v) = d.field.extract(report) else {
                continue;
            };
            match d.role {
                Role::Shutdown | Role::Reboot => {
                    d.armed = (v >= 0).then_some((at, v));
                }
                Role::Startup => {
                    self.startup = Some((i, v));
                    if !self.output_on {
                        self.plan = match u64::try_from(v) {
                            Ok(delay) => Plan::Return {
                                delay,
                                field: Some(i),
                            },
                            Err(_) => Plan::StayOff,
                        };
                        self.back = None;
                    }
                }
            }
        }
        self.settle(at);
    }

    /// Clock time of the next thing the model does by itself: a delay running out or the
    /// output coming back.
    pub(crate) fn next_event(&self) -> Option<Duration> {
        let timers = self.delays.iter().filter_map(|d| {
            d.armed
                .map(|(t0, v)| t0.saturating_add(Duration::from_secs(v.unsigned_abs())))
        });
        timers.chain(self.back.map(|b| b.at)).min()
    }

    /// Does what is due at clock time `at` (the time [`Power::next_event`] gave), writing
    /// the idle values of the delays that ran out into `feature`; the output changes, in order.
    pub(crate) fn fire(
        &mut self,
        at: Duration,
        feature: &mut BTreeMap<u8, Vec<u8>>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.delays.len() {
            let Some((t0, v)) = self.delays[i].armed else {
                continue;
            };
            if t0.saturating_add(Duration::from_secs(v.unsigned_abs())) > at {
                continue;
            }
            self.delays[i].armed = None;
            let (field, idle, role) = {
                let d = &self.delays[i];
                (d.field.clone(), d.idle, d.role)
            };
            write(feature, &field, idle);
            if self.output_on {
                self.output_on = false;
                changes.push(Change::Off);
            }
            self.back = None;
            self.plan = self.plan_after(role);
        }
        if let Some(b) = self.back.filter(|b| b.at <= at) {
            self.back = None;
            if let Some(i) = b.field {
                let d = &self.delays[i];
                write(feature, &d.field.clone(), d.idle);
            }
            if !self.output_on {
                self.output_on = true;
                changes.push(Change::On);
            }
        }
        self.settle(at);
        changes
    }

    /// The plan once a delay of `role` turned the output off.
    fn plan_after(&self, role: Role) -> Plan {
        let default = self
            .delays
            .iter()
            .find(|d| d.role == Role::Startup)
            .map_or(0, |d| d.idle.max(0).unsigned_abs());
        match (self.startup, role) {
            (Some((i, v)), Role::Shutdown) => match u64::try_from(v) {
                Ok(delay) => Plan::Return {
                    delay,
                    field: Some(i),
                },
                Err(_) => Plan::StayOff,
            },
            (Some((i, v)), _) => Plan::Return {
                delay: v.max(0).unsigned_abs(),
                field: Some(i),
            },
            (None, _) => Plan::Return {
                delay: default,
                field: None,
            },
        }
    }

    /// Keeps the state consistent after a change at `at`: an unpowered unit forgets its
    /// delays; an output off with mains present and a plan to return gets its return time.
    fn settle(&mut self, at: Duration) {
        if !self.powered() {
            for d in &mut self.delays {
                d.armed = None;
            }
            self.back = None;
            return;
        }
        if self.output_on || !self.mains {
            self.back = None;
            return;
        }
        if let (Plan::Return { delay, field }, None) = (self.plan, self.back) {
            self.back = Some(Return {
                at: at.saturating_add(Duration::from_secs(delay)),
                from: at,
                field,
            });
        }
    }

    /// Writes the seconds left of every running countdown at clock time `now` into `feature`.
    pub(crate) fn show(&self, now: Duration, feature: &mut BTreeMap<u8, Vec<u8>>) {
        for d in &self.delays {
            if let Some((t0, v)) = d.armed {
                let gone = i64::try_from(now.saturating_sub(t0).as_secs()).unwrap_or(i64::MAX);
                write(feature, &d.field, v.saturating_sub(gone).max(0));
            }
        }
        if let Some(Return {
            at,
            from,
            field: Some(i),
        }) = self.back
        {
            let total = at.saturating_sub(from).as_secs();
            let gone = now.saturating_sub(from).as_secs();
            let left = i64::try_from(total.saturating_sub(gone)).unwrap_or(i64::MAX);
            write(feature, &self.delays[i].field, left);
        }
    }
}

/// Puts `value` into `field` of its report in `store` (created, or lengthened, as needed).
fn write(store: &mut BTreeMap<u8, Vec<u8>>, field: &Field, value: i64) {
    let id = field.report_id;
    let report = store.entry(id).or_insert_with(|| vec![id]);
    if report.len() < field.needed_len() {
        report.resize(field.needed_len(), 0);
    }
    if let Err(e) = field.insert(report, value) {
        tracing::warn!("simulator: {e}");
    }
}
