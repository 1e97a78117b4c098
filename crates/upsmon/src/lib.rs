//! upsmon: watches UPSes through upsd and shuts this host down in time.
//!
//! * The decision core is pure ([`machine`], with the status words, the notification texts
//!   (`notify`) and the clock-jump check): poll results and the time in, [`machine::Action`]s out.
//! * The daemon carries them out: its event loop and action interpreter (`daemon`) reach
//!   upsd through the sessions (`sessions`, one `session` task per `MONITOR` line) and the
//!   machine it runs on through the host (`host`: `exec` for NOTIFYCMD, `wall` and
//!   SHUTDOWNCMD, `webhook`, `powerdown` for POWERDOWNFLAG, `privsep` for the root parent).
//! * [`start`] is the start-up the `upsmon` binary calls with its command line.
//! * [`upssched`] is the `upssched` binary: upsmon's NOTIFYCMD timer helper, as in NUT 2.8.0.

mod clock;
mod daemon;
mod error;
mod exec;
mod host;
pub mod machine;
mod notify;
mod powerdown;
mod privsep;
mod session;
mod sessions;
pub mod start;
mod status;
pub mod upssched;
mod webhook;

pub use error::Error;
