//! upsd: the NUT network server. It replicates each driver's variable tree over the driver
//! socket and answers the NUT network protocol on TCP (plain or STARTTLS), byte for byte as
//! NUT 2.8.0's upsd does.
//!
//! Layers: [`cmd`] answers one request line against [`state::Server`] with no I/O;
//! [`client`] and [`driver`] move bytes between sockets and that state; [`config`] loads
//! NUT's files; the binary wires them up with NUT's command line.

pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod driver;
pub mod reply;
pub mod server;
pub mod state;
pub mod tls;
