//! upsmon's decision core ([`upsmon::machine`]) on a simulated clock: one test per rule
//! ([`rules`]), and generated histories checked against an independent model ([`props`]); the
//! `ONBATT_SHUTDOWN_*` limits both ways ([`timers`]).

mod props;
mod rules;
mod timers;

use std::path::Path;

use nut_conf::upsmon_conf::{parse, UpsmonConf};
use upsmon::machine::Action;

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
