//! upsd: the NUT network server. It replicates each driver's variable tree over the driver
//! socket and answers the NUT network protocol on TCP (plain or STARTTLS), byte for byte as
//! NUT 2.8.0's upsd does.
//!
//! The binary parses NUT's command line into [`Options`] and calls [`run`]. Inside: `start`
//! is the start-up sequence; `cmd` answers one request (typed by `nut_proto`) against
//! `state::Server` with no I/O; `client` and `driver` move bytes between sockets and that
//! state (the driver link speaks `nut_state`'s messages; `link` is its bounded writing half,
//! `alarm` its timer); `server` wires links, listeners
//! and reloads; `config` and `tls` load NUT's files; [`Error`] says why start-up (or a reload)
//! failed. `http` is the optional read-only HTTP listener (`LISTEN_HTTP`): `view` renders
//! `/metrics`, `/v1/ups` and serves the status page from a snapshot of the state, with no
//! I/O; `history` keeps the last hour the page's chart draws. `mdns` advertises the
//! listeners over multicast DNS (`MDNS on`).

mod alarm;
mod allow;
mod client;
mod clock;
mod cmd;
mod config;
mod driver;
mod error;
mod fair;
#[doc(hidden)]
pub mod fuzz;
mod history;
mod http;
mod link;
mod mdns;
mod server;
pub mod sim;
mod start;
mod state;
mod tls;
mod view;

pub use error::Error;
pub use start::{run, Options};

/// `-V`'s line.
pub fn version_line() -> String {
    format!("Network UPS Tools upsd {}", cmd::SERVER_VERSION)
}
