//! upsmon's decision core ([`upsmon::machine`]) on a simulated clock: one test per rule
//! ([`rules`]), and generated histories checked against an independent model ([`props`]); the
//! `ONBATT_SHUTDOWN_*` limits both ways ([`timers`]); `CLEARFSD_ON_MAINS` ([`clearfsd`]).

mod clearfsd;
mod props;
mod rules;
mod timers;

use std::path::Path;
use std::time::{Duration, Instant};

use nut_conf::notify::NotifyEvent;
use nut_conf::upsmon_conf::{parse, UpsmonConf};
use upsmon::machine::{Action, Battery, Machine, Observation, PollResult};

/// An upsmon.conf from its text.
fn conf(text: &str) -> UpsmonConf {
    parse(text.as_bytes(), Path::new("upsmon.conf")).expect("test config parses")
}

/// Whether `actions` begin the shutdown: `FSD` for a primary, the shutdown itself otherwise.
fn starts_shutdown(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Shutdown | Action::SendFsd { .. }))
}

/// Actions other than logs.
fn effects(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Log { .. }))
        .cloned()
        .collect()
}

/// One machine on a simulated clock (seconds since its start).
pub(crate) struct Clock {
    pub(crate) m: Machine,
    t0: Instant,
}

impl Clock {
    pub(crate) fn new(text: &str) -> Clock {
        let t0 = Instant::now();
        Clock {
            m: Machine::new(&conf(text), t0),
            t0,
        }
    }
    pub(crate) fn at(&self, t: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(t)
    }
    /// A poll at `t` answering `status` (with these battery readings), then the tick.
    pub(crate) fn poll(&mut self, t: f64, status: &str, battery: Battery) -> Vec<Action> {
        let result = if status == "!lost" {
            PollResult::CommLost
        } else {
            PollResult::Status {
                status: status.into(),
                alarm: None,
                battery,
            }
        };
        let now = self.at(t);
        let mut a = self.m.observe(Observation { ups: 0, result }, now);
        a.extend(self.m.tick(now));
        a
    }
    pub(crate) fn status(&mut self, t: f64, status: &str) -> Vec<Action> {
        self.poll(t, status, Battery::default())
    }
    pub(crate) fn tick(&mut self, t: f64) -> Vec<Action> {
        let now = self.at(t);
        self.m.tick(now)
    }
}

pub(crate) fn reading(runtime: Option<u64>, charge: Option<u64>) -> Battery {
    Battery { runtime, charge }
}

pub(crate) fn notify(
    m: &Machine,
    event: NotifyEvent,
    ups: Option<usize>,
    extra: Option<&str>,
) -> Action {
    m.notification(event, ups, extra)
}

pub(crate) fn names(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify { event, .. } => Some(event.name()),
            _ => None,
        })
        .collect()
}
