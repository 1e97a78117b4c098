//! The last hour of each UPS for the status page's chart (`/v1/ups/<name>/history`): every
//! [`EVERY`] upsd notes the few numeric variables the page draws ([`SAMPLED`]) in a ring of
//! [`LEN`] samples per UPS, in memory only (a restart starts empty). It runs only with an
//! HTTP listener, and costs under 30 KiB per UPS when full.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::driver::lock;
use crate::state::{Secs, Server};

/// The variables sampled, in the order of [`Sample::values`].
pub(crate) const SAMPLED: [&str; 4] = [
    "battery.charge",
    "battery.runtime",
    "ups.load",
    "input.voltage",
];
/// How often each UPS is sampled.
pub(crate) const EVERY: Duration = Duration::from_secs(10);
/// Samples kept per UPS: one hour at [`EVERY`].
pub(crate) const LEN: usize = 360;

/// One UPS at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// [`crate::clock::now`] when taken, for its age.
    pub(crate) at: Secs,
    /// Unix time when taken (the wall clock, which may jump).
    pub(crate) time: u64,
    /// Each of [`SAMPLED`]: `None` when the variable is missing, not a plain number, or the
    /// data was stale (a gap in the chart, as in `/metrics`).
    pub(crate) values: [Option<f64>; SAMPLED.len()],
}

/// A UPS's samples, oldest first, at most [`LEN`].
#[derive(Debug, Default)]
pub(crate) struct History {
    ring: VecDeque<Sample>,
}

impl History {
    /// Add `sample`, forgetting the oldest once [`LEN`] are kept.
    pub(crate) fn push(&mut self, sample: Sample) {
        if self.ring.len() == LEN {
            self.ring.pop_front();
        }
        // Allocated once, at its final size.
        self.ring.reserve_exact(LEN - self.ring.len());
        self.ring.push_back(sample);
    }

    /// The samples, oldest first.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.ring.iter().copied().collect()
    }
}

/// The sample of a UPS whose variables `var` looks up, at `at` (monotonic) and `time` (Unix);
/// all gaps unless `fresh` (its data is neither stale nor from a disconnected driver).
pub(crate) fn sample<'a>(
    var: impl Fn(&str) -> Option<&'a str>,
    fresh: bool,
    at: Secs,
    time: u64,
) -> Sample {
    let values = SAMPLED.map(|name| {
        fresh
            .then(|| var(name))
            .flatten()
            .and_then(crate::view::numeric)
    });
    Sample { at, time, values }
}

/// A number as `/metrics` writes it ([`crate::view::whole`]).
fn number(value: f64) -> Value {
    crate::view::whole(value).map_or_else(|| Value::from(value), Value::from)
}

/// `/v1/ups/<name>/history`: `name`'s samples as JSON, each with its age at `now`.
pub(crate) fn json(name: &str, samples: &[Sample], now: Secs) -> Value {
    let samples: Vec<Value> = samples
        .iter()
        .map(|s| {
            let mut o = Map::new();
            o.insert("age_seconds".into(), now.saturating_sub(s.at).into());
            o.insert("time".into(), s.time.into());
            for (name, value) in SAMPLED.iter().zip(s.values) {
                o.insert((*name).into(), value.map_or(Value::Null, number));
            }
            Value::Object(o)
        })
        .collect();
    json!({
        "name": name,
        "interval_seconds": EVERY.as_secs(),
        "variables": SAMPLED,
        "samples": samples,
    })
}

/// Sample every UPS every [`EVERY`], the first one [`EVERY`] after start, until upsd stops.
pub(crate) async fn run(server: Arc<Mutex<Server>>) {
    let start = tokio::time::Instant::now() + EVERY;
    let mut every = tokio::time::interval_at(start, EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let time = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = crate::clock::now();
        let mut s = lock(&server);
        let maxage = s.maxage;
        for ups in &mut s.upses {
            let fresh = ups.available(now, maxage).is_ok();
            let taken = sample(|n| ups.tree.get(n).map(|v| v.raw()), fresh, now, time);
            ups.history.push(taken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_hour() {
        let mut h = History::default();
        for i in 0..(LEN as u64 + 5) {
            h.push(sample(|_| Some("1"), true, i, 1000 + i));
        }
        let s = h.samples();
        assert_eq!(s.len(), LEN);
        assert_eq!((s[0].at, s[LEN - 1].at), (5, LEN as u64 + 4));
        assert_eq!(h.ring.capacity(), LEN);
        // what the docs say a UPS's hour costs
        assert!(size_of::<Sample>() * LEN < 30 * 1024);
    }

    #[test]
    fn only_fresh_plain_numbers_are_sampled() {
        let vars = |n: &str| match n {
            "battery.charge" => Some("100"),
            "battery.runtime" => Some("3618"),
            "ups.load" => Some("0x05"),
            _ => None,
        };
        let s = sample(vars, true, 7, 1_700_000_000);
        assert_eq!(s.values, [Some(100.0), Some(3618.0), None, None]);
        assert_eq!(sample(vars, false, 7, 0).values, [None; 4]);
        assert_eq!(
            json("ups", &[s], 27),
            json!({
                "name": "ups",
                "interval_seconds": 10,
                "variables": ["battery.charge", "battery.runtime", "ups.load", "input.voltage"],
                "samples": [{
                    "age_seconds": 20, "time": 1_700_000_000_u64, "battery.charge": 100,
                    "battery.runtime": 3618, "ups.load": null, "input.voltage": null,
                }],
            })
        );
    }
}
