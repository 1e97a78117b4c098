//! The recording's `[[event]]` scenario compiled against its descriptor ([`steps`]), and the
//! faults a test or an event injects ([`Fault`]).

use std::time::Duration;

use nut_hid::{Descriptor, Field, ReportKind, UsageTable};
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
            let fields: Vec<Field> = desc
                .fields()
                .iter()
                .filter(|f| f.path == p && f.kind != ReportKind::Output)
                .cloned()
                .collect();
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
