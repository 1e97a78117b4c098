//! End-to-end tests of our usbhid-ups driver: on its socket behind stock upsd and ours
//! (`socket`), replaying the BK650M2-CH recording (`replay`), recording a live event
//! (`record`), killing the power through upsdrvctl (`killpower`), under systemd (`systemd`:
//! `upsdrvctl -F`, the notifications), the configuration `nut-setup netserver` writes
//! (`first_run`), and hostile socket clients: floods, many connections, no descriptors left
//! (`flood`).

// A panic is how a test fails.
#![allow(clippy::unwrap_used)]

mod first_run;
mod flood;
mod killpower;
mod record;
mod replay;
mod socket;
mod systemd;
