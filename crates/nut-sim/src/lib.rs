//! A deterministic simulation of the whole stack (docs/simulation.md): the driver core with the
//! simulated unit, upsd's core and one primary and up to four secondary upsmon machines in one
//! world with a seeded scheduler, a simulated clock and a simulated network, under faults, with
//! the properties checked as it runs.
//!
//! * [`scenario`]: what a seed draws (hosts, battery, faults) and how a scenario is narrowed;
//! * `timeline`: mains and the battery over time: the unit's events and the truth;
//! * [`world`]: the world and the properties;
//! * [`shrink`]: a failing scenario made small;
//! * [`Error`]: why a scenario could not be set up.

mod error;
mod rng;
pub mod scenario;
pub mod shrink;
mod timeline;
pub mod world;

pub use error::Error;
pub use scenario::Scenario;
pub use world::{run, Mutation, Options, Outcome, Property, Violation};
