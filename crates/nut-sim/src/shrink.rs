//! Shrinking a failing scenario: fewer secondaries, then fewer faults (delta reduction of the
//! fault list: halves, quarters, ... then one at a time), keeping a violation of the same
//! property. The result is replayed with `--keep` and `--secondaries`.

use crate::scenario::Scenario;
use crate::world::{run, Options, Property};

/// The smallest restriction of `s` found that still violates `property`: the kept fault
/// numbers and the number of secondaries.
pub fn shrink(s: &Scenario, property: Property, opts: &Options) -> (Vec<usize>, usize) {
    let fails = |keep: &[usize], secondaries: usize| {
        let r = s.restrict(Some(keep), Some(secondaries));
        run(&r, opts).is_ok_and(|o| o.violations.iter().any(|v| v.property == property))
    };
    let mut keep: Vec<usize> = s.events.iter().map(|(i, _)| *i).collect();
    let mut secondaries = s.hosts.len() - 1;
    while secondaries > 0 && fails(&keep, secondaries - 1) {
        secondaries -= 1;
    }
    let mut chunk = keep.len().div_ceil(2).max(1);
    loop {
        let mut removed = false;
        let mut i = 0;
        while i < keep.len() {
            let mut trial = keep.clone();
            trial.drain(i..(i + chunk).min(keep.len()));
            if fails(&trial, secondaries) {
                keep = trial;
                removed = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed {
            break;
        }
        if !removed {
            chunk = chunk.div_ceil(2);
        }
    }
    (keep, secondaries)
}
