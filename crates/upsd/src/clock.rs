//! Whole seconds on a monotonic clock, the unit of stock upsd's timing rules.

use std::sync::OnceLock;
use std::time::Instant;

use crate::state::Secs;

static START: OnceLock<Instant> = OnceLock::new();

/// Seconds since the first call (which the server makes at start-up).
pub(crate) fn now() -> Secs {
    START.get_or_init(Instant::now).elapsed().as_secs()
}
