//! The recording's `[[event]]` scenario compiled against its descriptor ([`steps`]), the mains
//! switch a test throws while the unit runs ([`MainsSwitch`], the emulator's `mains off|on`),
//! and the faults a test or an event injects ([`Fault`]).

use std::time::Duration;

use nut_hid::{Descriptor, Field, ReportKind, UsagePath, UsageTable};
use nut_hid_recording::{FaultSpec, Recording};

use crate::Error;

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Unplugged for a while.
    Vanish {
        /// How long (`Duration::MAX`: until [`Fault::ComeBack`]).
        for_: Duration,
    },
    /// GET_REPORTs fail like a STALL.
    FailReads {
        /// How many.
        count: u32,
    },
    /// Plugged back in now.
    ComeBack,
}

impl From<FaultSpec> for Fault {
    fn from(f: FaultSpec) -> Self {
        match f {
            FaultSpec::Vanish { duration_s } => Fault::Vanish {
                for_: duration_s
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .unwrap_or(Duration::MAX),
            },
            FaultSpec::FailReads { count } => Fault::FailReads { count },
            FaultSpec::ComeBack => Fault::ComeBack,
        }
    }
}

/// One `[[event]]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// Time after the start of the unit.
    pub(crate) at: Duration,
    /// (fields with that path, logical value)
    pub(crate) sets: Vec<(Vec<Field>, i64)>,
    pub(crate) interrupt: bool,
    pub(crate) fault: Option<Fault>,
}

/// The scenario of `rec`, in time order (events at the same time keep their file order).
/// Every `set` path is resolved with `table` to the Feature AND Input fields of `desc` with
/// exactly that path; a path naming none is an error with the event's line.
pub(crate) fn steps(
    rec: &Recording,
    desc: &Descriptor,
    table: &UsageTable,
    origin: &str,
) -> Result<Vec<Step>, Error> {
    let mut steps = Vec::new();
    for ev in &rec.events {
        let mut sets = Vec::new();
        for (path, value) in &ev.set {
            let err = |reason: String| Error::EventPath {
                origin: origin.to_string(),
                line: ev.line,
                path: path.clone(),
                reason,
            };
            let p = table.parse_path(path).map_err(|e| err(e.to_string()))?;
            let fields = settable(desc, &p);
            if fields.is_empty() {
                return Err(err("no Feature or Input field has this path".into()));
            }
            sets.push((fields, *value));
        }
        steps.push(Step {
            at: Duration::try_from_secs_f64(ev.at_s).unwrap_or(Duration::MAX),
            sets,
            interrupt: ev.interrupt,
            fault: ev.fault.map(Fault::from),
        });
    }
    steps.sort_by_key(|s| s.at);
    Ok(steps)
}

/// The fields of `desc` with exactly `path` that a scenario can set (Feature and Input).
fn settable(desc: &Descriptor, path: &UsagePath) -> Vec<Field> {
    desc.fields()
        .iter()
        .filter(|f| &f.path == path && f.kind != ReportKind::Output)
        .cloned()
        .collect()
}

/// What a mains loss or return sets, as the recordings' power-failure events write it
/// (`back-ups-bk650m2-ch.power-failure.toml`): each path with its value when mains is present;
/// the value is inverted when mains is lost. The first two say whether mains is present.
const MAINS_PATHS: &[(&str, bool)] = &[
    ("UPS.PowerSummary.PresentStatus.ACPresent", true),
    ("UPS.PowerSummary.ACPresent", true),
    ("UPS.PowerSummary.PresentStatus.Discharging", false),
    ("UPS.PowerSummary.PresentStatus.Charging", true),
];

/// The mains switch: [`MAINS_PATHS`] resolved once against the unit's descriptor (a path
/// naming no field is left out), played as a scenario step with `interrupt = true`
/// ([`MainsSwitch::step`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct MainsSwitch {
    /// (fields of a path, whether they read 1 with mains present)
    sets: Vec<(Vec<Field>, bool)>,
    /// Whether an `ACPresent` path names a field (without one the unit always has mains).
    has_mains: bool,
}

impl MainsSwitch {
    /// The fields of `desc` the switch writes, the paths read through `table`.
    pub(crate) fn new(desc: &Descriptor, table: &UsageTable) -> Self {
        let mut switch = MainsSwitch::default();
        for (i, (path, with_mains)) in MAINS_PATHS.iter().enumerate() {
            let Ok(p) = table.parse_path(path) else {
                continue;
            };
            let fields = settable(desc, &p);
            if fields.is_empty() {
                continue;
            }
            switch.has_mains |= i < 2;
            switch.sets.push((fields, *with_mains));
        }
        switch
    }

    /// The step that makes mains `present` at clock time `at`; none for a unit that reports no
    /// mains (it always has mains).
    pub(crate) fn step(&self, present: bool, at: Duration) -> Option<Step> {
        if !self.has_mains {
            return None;
        }
        let sets = self
            .sets
            .iter()
            .map(|(f, with_mains)| (f.clone(), i64::from(*with_mains == present)))
            .collect();
        Some(Step {
            at,
            sets,
            interrupt: true,
            fault: None,
        })
    }
}
