//! A simulated unit ([`Unit`]): a [`Replay`] whose reports change over time as the recording's
//! `[[event]]` scenario says, with fault injection and the output and power model of
//! [`crate::power`].
//!
//! At `at_s` seconds after the unit was created, every `set` path is resolved to the Feature
//! AND Input fields of the descriptor with exactly that path (names from the usage table the
//! unit is given); the logical value is written into the stored report bytes with
//! [`nut_hid::Field::insert`] (a short recorded answer is zero-extended to what the field
//! needs; an Input report never recorded starts from the Feature report of the same id). With
//! `interrupt = true` the changed Input reports are sent on the interrupt pipe, in the order
//! their first field appears in `set` (file order).
//!
//! Faults ([`State::inject`], or the `fault` event extension documented in
//! [`nut_hid_recording`]):
//! * [`Fault::Vanish`]: the unit is unplugged for a while. Its generation changes (a handle
//!   opened before stays dead, as a dead hidraw node does), queued interrupts are lost, and it
//!   is back once the time is over, with the same reports and scenario clock.
//! * [`Fault::FailReads`]: the next `count` GET_REPORTs fail ([`Error::Injected`]).
//! * [`Fault::ComeBack`]: ends a vanish now.
//!
//! [`State::set_mains`] cuts or restores mains now, as a scenario step would
//! ([`crate::scenario::MainsSwitch`]): the same fields, the same interrupt reports.
//!
//! Time only moves when the unit is looked at: [`Unit::lock`] first plays everything due up to
//! the clock's now, in time order (a vanish ending, the power model's timers, scenario steps).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nut_hid::{Field, ReportKind, UsageTable};
use nut_hid_recording::Recording;

use crate::clock::{Clock, SystemClock};
use crate::power::Power;
use crate::replay::Replay;
use crate::scenario::{steps, Fault, MainsSwitch, Step};
use crate::Error;

/// A simulated unit. Clones share it (the driver's handles, the emulator's threads).
#[derive(Debug, Clone)]
pub struct Unit {
    state: Arc<Mutex<State>>,
}

impl Unit {
    /// Simulates `rec` in real time; the scenario starts now. `table` names the usages of the
    /// scenario's paths and of the power model; `origin` names the recording in errors.
    pub fn new(rec: &Recording, origin: &str, table: &UsageTable) -> Result<Self, Error> {
        Self::with_clock(rec, origin, table, Arc::new(SystemClock::new()))
    }

    /// Simulates `rec` on `clock`.
    pub fn with_clock(
        rec: &Recording,
        origin: &str,
        table: &UsageTable,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let desc = nut_hid::parse(&rec.descriptor)?;
        let steps = steps(rec, &desc, table, origin)?;
        let replay = Replay::with_clock(rec, clock);
        let power = Power::new(&desc, table, &replay.feature, &replay.input);
        let mains_switch = MainsSwitch::new(&desc, table);
        let state = State {
            mains_switch,
            replay,
            steps,
            next_step: 0,
            gone_until: None,
            generation: 0,
            fail_reads: 0,
            power,
            present: true,
        };
        Ok(Unit {
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// The unit, with everything due up to now played.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = s.replay.clock.now();
        s.advance(now);
        s
    }
}

/// The state of a [`Unit`], reached through [`Unit::lock`].
#[derive(Debug)]
pub struct State {
    replay: Replay,
    steps: Vec<Step>,
    next_step: usize,
    mains_switch: MainsSwitch,
    /// Unplugged until this clock time.
    gone_until: Option<Duration>,
    /// Bumped at each unplug: handles of an older generation are dead.
    generation: u64,
    fail_reads: u32,
    power: Power,
    /// Whether the unit is on the bus, as last logged.
    present: bool,
}

impl State {
    /// The report store (descriptor, strings, reports, SET_REPORTs received).
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// Whether the unit is on the bus (not unplugged, and powered).
    pub fn present(&self) -> bool {
        self.present
    }

    /// Changes at each unplug: a handle opened in an older generation is dead.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the unit's output (its load) is powered.
    pub fn output_on(&self) -> bool {
        self.power.output_on()
    }

    /// Whether the unit has mains (its `ACPresent` fields).
    pub fn mains(&self) -> bool {
        self.power.mains()
    }

    /// Time since the unit was created.
    pub fn elapsed(&self) -> Duration {
        self.replay.elapsed()
    }

    /// GET_REPORT(`kind`, `id`) for up to `len` bytes; fails while the unit is away, for the
    /// injected failures, and for an id it has no answer for (a stall).
    pub fn get_report(&mut self, kind: ReportKind, id: u8, len: usize) -> Result<Vec<u8>, Error> {
        if !self.present {
            return Err(Error::Gone);
        }
        if self.fail_reads > 0 {
            self.fail_reads -= 1;
            return Err(Error::Injected { id });
        }
        self.replay.get_report(kind, id, len)
    }

    /// SET_REPORT(`kind`) with the whole report: stored and logged; a Feature report may start
    /// or cancel a delay of the power model.
    pub fn set_report(&mut self, kind: ReportKind, report: &[u8]) -> Result<(), Error> {
        if !self.present {
            return Err(Error::Gone);
        }
        self.replay.set_report(kind, report)?;
        if kind == ReportKind::Feature {
            let now = self.replay.clock.now();
            self.power.on_write(report, now);
            self.advance(now);
        }
        Ok(())
    }

    /// The next interrupt-IN report due by now, if the unit is on the bus.
    pub fn pop_interrupt(&mut self) -> Option<Vec<u8>> {
        if !self.present {
            return None;
        }
        let now = self.replay.clock.now();
        self.replay.pop_due(now)
    }

    /// Clock time of the next thing the unit does by itself (an interrupt report due, a
    /// scenario step, the end of a vanish, a delay running out), if any.
    pub fn next_wake(&self) -> Option<Duration> {
        let interrupt = self.replay.next_due().filter(|_| self.present);
        let step = self
            .steps
            .get(self.next_step)
            .map(|s| self.replay.start.saturating_add(s.at));
        [
            interrupt,
            step,
            self.gone_until.filter(|t| *t != Duration::MAX),
            self.power.next_event(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Injects a fault now.
    pub fn inject(&mut self, fault: Fault) {
        let now = self.replay.clock.now();
        self.apply(fault, now);
        self.settle();
    }

    /// Cuts mains (`present` false) or brings it back now, as the recordings' power-failure
    /// events do (`ACPresent`, `Discharging`, `Charging` of `UPS.PowerSummary`, with
    /// `interrupt = true`): the reports change, the changed Input reports go out on the
    /// interrupt pipe, and the power model sees the change (no mains and no output: the unit
    /// leaves the bus). A unit that reports no mains refuses ([`Error::NoMains`]).
    pub fn set_mains(&mut self, present: bool) -> Result<(), Error> {
        let now = self.replay.clock.now();
        let step = self.mains_switch.step(present, now).ok_or(Error::NoMains)?;
        self.play(&step, now);
        self.settle();
        Ok(())
    }

    /// Presents another serial number from now on (the emulator's `replug serial <S>`).
    pub fn set_serial(&mut self, serial: &str) {
        self.replay.set_serial(serial);
    }

    /// Appends every SET_REPORT and every transition of the unit to `path` (the format is in
    /// the crate documentation).
    pub fn log_to(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        self.replay.log_to(path)
    }

    /// Applies the scenario, the end of a vanish and the power model up to `now`, in time
    /// order, then shows the running countdowns.
    fn advance(&mut self, now: Duration) {
        loop {
            let step_at = self
                .steps
                .get(self.next_step)
                .map(|s| self.replay.start.saturating_add(s.at));
            let back_at = self.gone_until;
            let power_at = self.power.next_event();
            let Some(t) = [back_at, power_at, step_at].into_iter().flatten().min() else {
                break;
            };
            if t > now {
                break;
            }
            if back_at == Some(t) {
                self.gone_until = None;
            } else if power_at == Some(t) {
                for change in self.power.fire(t, &mut self.replay.feature) {
                    self.replay.log_line(change.line());
                }
            } else {
                self.next_step += 1;
                if let Some(step) = self.steps.get(self.next_step - 1).cloned() {
                    self.play(&step, t);
                }
            }
            self.settle();
        }
        self.power.show(now, &mut self.replay.feature);
    }

    /// One scenario step at clock time `at`.
    fn play(&mut self, step: &Step, at: Duration) {
        let mut touched_inputs: Vec<u8> = Vec::new();
        for (fields, value) in &step.sets {
            for f in fields {
                set_field(&mut self.replay, f, *value);
                if f.kind == ReportKind::Input && !touched_inputs.contains(&f.report_id) {
                    touched_inputs.push(f.report_id);
                }
            }
        }
        let mains = self
            .power
            .read_mains(&self.replay.feature, &self.replay.input);
        self.power.set_mains(mains, at);
        // The unit only sends what it can: not while it is away or just went away.
        if step.interrupt && self.gone_until.is_none() && self.power.powered() {
            for id in touched_inputs {
                if let Some(r) = self.replay.input.get(&id).cloned() {
                    self.replay.queue_interrupt(at, r);
                }
            }
        }
        if let Some(f) = step.fault {
            self.apply(f, at);
        }
    }

    fn apply(&mut self, fault: Fault, at: Duration) {
        match fault {
            Fault::Vanish { for_ } => {
                self.gone_until = Some(at.saturating_add(for_));
                self.unplugged();
            }
            Fault::FailReads { count } => self.fail_reads = self.fail_reads.saturating_add(count),
            Fault::ComeBack => self.gone_until = None,
        }
    }

    /// Handles opened before are dead; queued interrupts are lost.
    fn unplugged(&mut self) {
        self.generation += 1;
        self.replay.pending.clear();
    }

    /// Logs the unit leaving or joining the bus.
    fn settle(&mut self) {
        let present = self.gone_until.is_none() && self.power.powered();
        if present == self.present {
            return;
        }
        self.present = present;
        if present {
            self.replay.log_line("REPLUG");
        } else {
            self.replay.log_line("UNPLUG");
            // (a vanish counted itself when it was applied)
            if !self.power.powered() {
                self.unplugged();
            }
        }
    }
}

/// Writes the logical `value` into `f` in its stored report.
fn set_field(replay: &mut Replay, f: &Field, value: i64) {
    let (store, other) = match f.kind {
        ReportKind::Input => (&mut replay.input, &replay.feature),
        _ => (&mut replay.feature, &replay.input),
    };
    let id = f.report_id;
    let report = store
        .entry(id)
        .or_insert_with(|| other.get(&id).cloned().unwrap_or_else(|| vec![id]));
    if report.len() < f.needed_len() {
        report.resize(f.needed_len(), 0);
    }
    if let Err(e) = f.insert(report, value) {
        tracing::warn!("simulator: {e}");
    }
}
