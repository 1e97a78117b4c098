//! upsmon: watches UPSes through upsd and shuts this host down in time.
//!
//! The decision core ([`machine`], [`notify`], [`status`]) is pure: it takes poll results and
//! the time, and returns [`Action`]s for the I/O layer to carry out.

#![warn(missing_docs)]

pub mod clock;
pub mod machine;
pub mod notify;
pub mod status;

pub use machine::{
    check_supplies, Action, Comm, Error, Flags, LogLevel, Machine, Observation, Phase, PollResult,
};
pub use notify::format_message;
