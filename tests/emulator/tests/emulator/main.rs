//! The emulator without a kernel: a test plays vhci-hcd on one end of a socketpair with
//! hand-built USB/IP messages and checks the bytes of every answer; the binary's command line;
//! the attach loop on a fake sysfs tree.

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod attach;
mod cli;
mod common;
mod enumeration;
mod interrupts;
mod reports;
