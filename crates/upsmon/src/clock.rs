//! Noticing that the machine slept or the clock was set: the wall clock moved by more than the
//! monotonic clock (which stops while suspended) plus a tolerance, or went backwards.
//! NUT 2.8.3+ checks the length of its sleep between polls the same way and then treats the
//! host as just woken up ([`crate::Machine::resumed`]), so readings taken before the sleep
//! cannot trigger a shutdown.

use std::time::{Duration, Instant, SystemTime};

/// How far the two clocks may drift apart between two checks (NUT's sleep overhead tolerance).
pub(crate) const TOLERANCE: Duration = Duration::from_secs(5);

/// The two clocks at the last check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClockWatch {
    wall: SystemTime,
    mono: Instant,
}

impl ClockWatch {
    /// Start watching from these readings.
    pub(crate) fn new(wall: SystemTime, mono: Instant) -> ClockWatch {
        ClockWatch { wall, mono }
    }

    /// Take new readings; `Some(seconds)` the wall clock moved (negative: backwards) when that
    /// differs from the monotonic time passed by more than [`TOLERANCE`].
    pub(crate) fn check(&mut self, wall: SystemTime, mono: Instant) -> Option<f64> {
        let mono_dt = mono.saturating_duration_since(self.mono).as_secs_f64();
        let wall_dt = match wall.duration_since(self.wall) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        *self = ClockWatch { wall, mono };
        ((wall_dt - mono_dt).abs() > TOLERANCE.as_secs_f64()).then_some(wall_dt)
    }
}

/// The `%s` of `SUSPEND_TIMEJUMP_UNEXPECTED`, as NUT prints it.
pub(crate) fn jump_text(seconds: f64) -> String {
    format!("{seconds:.6} seconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_ticks_and_small_drift_are_no_jump() {
        let (w, m) = (SystemTime::now(), Instant::now());
        let mut c = ClockWatch::new(w, m);
        let s = Duration::from_secs;
        assert_eq!(c.check(w + s(1), m + s(1)), None);
        // a late tick (busy machine) moves both clocks alike
        assert_eq!(c.check(w + s(31), m + s(31)), None);
        assert_eq!(c.check(w + s(35), m + s(32)), None);
    }

    #[test]
    fn suspend_and_clock_changes_are_jumps() {
        let (w, m) = (SystemTime::now(), Instant::now());
        let s = Duration::from_secs;
        let mut c = ClockWatch::new(w, m);
        // suspended for an hour: the monotonic clock stood still
        assert_eq!(c.check(w + s(3600), m + s(1)), Some(3600.0));
        // the clock set back by ten minutes
        let mut c = ClockWatch::new(w, m);
        assert_eq!(c.check(w - s(600), m + s(1)), Some(-600.0));
        assert_eq!(jump_text(3600.0), "3600.000000 seconds");
        assert_eq!(jump_text(-600.0), "-600.000000 seconds");
    }
}
