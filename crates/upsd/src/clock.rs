//! Whole seconds on a monotonic clock, the unit of stock upsd's timing rules, and
//! milliseconds on the same clock for the idle sweep.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::state::Secs;

static START: OnceLock<Instant> = OnceLock::new();

fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// Seconds since the first call (which the server makes at start-up).
pub(crate) fn now() -> Secs {
    start().elapsed().as_secs()
}

/// Milliseconds since the first call.
pub(crate) fn millis() -> u64 {
    u64::try_from(start().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The instant `ms` milliseconds after the first call.
pub(crate) fn at_millis(ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::from_std(start() + Duration::from_millis(ms))
}

/// The instant at which [`now`] turns `secs`.
pub(crate) fn at_secs(secs: Secs) -> Instant {
    start() + Duration::from_secs(secs)
}
