//! End-to-end tests of our upsmon with stock NUT 2.8.0 as the other host or the server:
//! power failures and the shutdown order, the process model, the command line, reload,
//! notifications (NOTIFYCMD, webhooks, ntfy, ALARM), TLS, its wire traffic and timing; and
//! the whole chain from our driver to the kill-power bytes (`full_stack`); the systemd
//! notifications (`systemd`); faults in network namespaces (`netns`).

// A panic is how a test fails.
#![allow(clippy::unwrap_used)]

mod alarm;
mod clearfsd;
mod cli;
mod full_stack;
mod netns;
mod ntfy;
mod onbatt_timers;
mod power_failure;
mod privsep;
mod push;
mod reload;
mod scenario;
mod secondary;
mod stock;
mod systemd;
mod timing;
mod tls;
mod upssched;
mod webhooks;
mod wire;
