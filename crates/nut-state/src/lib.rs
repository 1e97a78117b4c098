//! The NUT variable tree (values, flags, aux, enums, ranges, instant commands) and the driver
//! socket protocol that ships it between a driver and upsd (`shared/spec/sock-protocol.md`).
//!
//! One tree type serves both sides of the socket, so a variable means the same thing in the
//! driver that publishes it and in the upsd that replicates it. No I/O here.

mod msg;
mod num;
mod tree;

pub use msg::{DriverMsg, DriverReply, UpsdMsg};
pub use num::{atoi, strtol};
pub use tree::{Flags, Journal, Tree, Var};
