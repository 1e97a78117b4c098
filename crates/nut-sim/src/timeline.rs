//! The power: mains from the scenario's `MainsOff` / `MainsOn` faults, and the battery
//! draining on battery and charging on mains, sampled every few seconds. The samples become the
//! unit's `[[event]]` list (what the driver reads) and the truth the properties are checked
//! against (what was really going on).

use nut_hid_recording::Event as RecEvent;

use crate::scenario::{Fault, Scenario};

/// The truth from `at` on, until the next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// Milliseconds.
    pub(crate) at: u64,
    /// Mains present.
    pub(crate) mains: bool,
    /// The unit says low battery.
    pub(crate) lb: bool,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: u64,
    mains: bool,
    charge: i64,
    lb: bool,
    /// At a mains flip: mains and LB just before it. The battery is sampled every [`STEP`],
    /// so the charge may have crossed the LB limit on battery within the last step; the unit
    /// reports it with the flip, but the truth had that moment (for the checks only).
    before_flip: Option<(bool, bool)>,
}

/// The power over the whole run.
#[derive(Debug)]
pub(crate) struct Timeline {
    /// Where mains or LB change (the first at 0).
    pub(crate) changes: Vec<Change>,
    samples: Vec<Sample>,
    runtime: u64,
    /// When the battery ran out on battery, if it did.
    pub(crate) depleted: Option<u64>,
}

/// Sampling step while the charge moves.
const STEP: u64 = 10_000;

impl Timeline {
    pub(crate) fn new(s: &Scenario) -> Timeline {
        let b = &s.battery;
        let mut flips: Vec<(u64, bool)> = s
            .events
            .iter()
            .filter_map(|(_, e)| match e.fault {
                Fault::MainsOff => Some((e.at, false)),
                Fault::MainsOn => Some((e.at, true)),
                _ => None,
            })
            .collect();
        flips.sort_by_key(|f| f.0);
        let mut t = 0u64;
        let mut mains = true;
        let mut charge = 100.0f64;
        let mut depleted = None;
        let mut samples = vec![Sample {
            at: 0,
            mains,
            charge: 100,
            lb: false,
            before_flip: None,
        }];
        let mut next_flip = 0;
        while t < s.end {
            let flip_at = flips.get(next_flip).map_or(u64::MAX, |f| f.0);
            let moving = !mains || charge < 100.0;
            let step_end = if moving { t + STEP } else { u64::MAX };
            let t2 = flip_at.min(step_end).min(s.end);
            let dt = (t2 - t) as f64;
            if mains {
                charge = (charge + 100.0 * dt / (b.recharge as f64 * 1000.0)).min(100.0);
            } else {
                let drained = 100.0 * dt / (b.runtime as f64 * 1000.0);
                if drained >= charge {
                    depleted = Some(t + (charge / 100.0 * b.runtime as f64 * 1000.0) as u64);
                    break;
                }
                charge -= drained;
            }
            t = t2;
            let low = |charge: f64| (charge.floor() as i64) < b.low as i64;
            let before_flip = flips
                .get(next_flip)
                .is_some_and(|f| f.0 <= t)
                .then_some((mains, low(charge)));
            while flips.get(next_flip).is_some_and(|f| f.0 <= t) {
                mains = flips[next_flip].1;
                next_flip += 1;
            }
            let c = charge.floor() as i64;
            samples.push(Sample {
                at: t,
                mains,
                charge: c,
                lb: c < b.low as i64,
                before_flip,
            });
        }
        let mut changes: Vec<Change> = Vec::new();
        for x in &samples {
            let before = x.before_flip.map(|(mains, lb)| Change {
                at: x.at,
                mains,
                lb,
            });
            let now = Change {
                at: x.at,
                mains: x.mains,
                lb: x.lb,
            };
            for c in before.into_iter().chain([now]) {
                if changes
                    .last()
                    .is_none_or(|l| (l.mains, l.lb) != (c.mains, c.lb))
                {
                    changes.push(c);
                }
            }
        }
        Timeline {
            changes,
            samples,
            runtime: b.runtime,
            depleted,
        }
    }

    /// Whether `pred` holds at some time of `[from, to]`.
    pub(crate) fn any(&self, from: u64, to: u64, pred: impl Fn(&Change) -> bool) -> bool {
        self.changes.iter().enumerate().any(|(i, c)| {
            let end = self.changes.get(i + 1).map_or(u64::MAX, |n| n.at);
            c.at <= to && end > from && pred(c)
        })
    }

    /// The unit's `[[event]]`s: each sample's changes, on the Feature and Input fields the
    /// Back-UPS reports them in.
    pub(crate) fn recording_events(&self) -> Vec<RecEvent> {
        let mut out = Vec::new();
        let mut prev: Option<Sample> = None;
        for x in &self.samples {
            let mut set: Vec<(String, i64)> = Vec::new();
            let p = prev.unwrap_or(Sample {
                at: 0,
                mains: true,
                charge: -1,
                lb: false,
                before_flip: None,
            });
            let charging = x.mains && x.charge < 100;
            let was_charging = prev.is_some_and(|p| p.mains && p.charge < 100);
            if prev.is_none() || x.mains != p.mains || charging != was_charging {
                let m = i64::from(x.mains);
                set.push(("UPS.PowerSummary.PresentStatus.ACPresent".into(), m));
                set.push(("UPS.PowerSummary.ACPresent".into(), m));
                set.push((
                    "UPS.PowerSummary.PresentStatus.Discharging".into(),
                    i64::from(!x.mains),
                ));
                set.push((
                    "UPS.PowerSummary.PresentStatus.Charging".into(),
                    i64::from(charging),
                ));
            }
            if x.charge != p.charge {
                let runtime = x.charge * self.runtime as i64 / 100;
                set.push(("UPS.PowerSummary.RemainingCapacity".into(), x.charge));
                set.push(("UPS.Battery.RunTimeToEmpty".into(), runtime));
                set.push(("UPS.PowerSummary.RunTimeToEmpty".into(), runtime));
            }
            if prev.is_none() || x.lb != p.lb {
                set.push((
                    "UPS.PowerSummary.BelowRemainingCapacityLimit".into(),
                    i64::from(x.lb),
                ));
            }
            if !set.is_empty() {
                out.push(RecEvent {
                    at_s: x.at as f64 / 1000.0,
                    set,
                    interrupt: false,
                    fault: None,
                    line: 0,
                });
            }
            prev = Some(*x);
        }
        out
    }
}
