//! `upsdrvctl`: start, stop and shut down the UPS drivers of ups.conf (NUT's
//! `drivers/upsdrvctl.c`). [`plan`] decides, [`cli`] reads the command line, `exec` does it.

pub mod cli;
mod exec;
pub mod plan;

pub use cli::main;
