//! End-to-end tests of our upsd, with stock NUT 2.8.0 on the other side: the differential
//! corpus against stock upsd, stock clients (upsc, upsrw, upscmd, upslog, PyNUT), LOGOUT, the
//! lifecycle (reload, config errors, drivers coming and going), robustness, STARTTLS, the
//! systemd notifications (`systemd`), and our CLI tools byte for byte against stock's (`cli`).

// A panic is how a test fails.
#![allow(clippy::unwrap_used)]

mod allow_from;
mod bounded;
mod cli;
mod differential;
mod http;
mod lifecycle;
mod logout;
mod mdns;
mod robustness;
mod stock_clients;
mod systemd;
mod tls;
