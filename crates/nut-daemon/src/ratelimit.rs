//! Rate-limited log lines: a condition that repeats (accept failing with EMFILE, a driver
//! that stopped reading) is logged at most once per interval, and the next line that gets
//! through says how many were held back in between.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use nut_daemon::ratelimit::RateLimit;
//!
//! let mut limit = RateLimit::new(Duration::from_secs(10));
//! let t0 = Instant::now();
//! assert_eq!(limit.check(t0).map(|s| s.to_string()), Some(String::new()));
//! assert!(limit.check(t0 + Duration::from_secs(1)).is_none());
//! assert!(limit.check(t0 + Duration::from_secs(2)).is_none());
//! let next = limit.check(t0 + Duration::from_secs(10)).map(|s| s.to_string());
//! assert_eq!(next.as_deref(), Some(" (2 more like this held back)"));
//! ```

use std::fmt;
use std::time::{Duration, Instant};

/// One repeated log line's limiter: at most one line per `interval`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    interval: Duration,
    last: Option<Instant>,
    held: u64,
}

/// What a line that gets through appends: nothing, or how many were held back since the
/// last one (` (N more like this held back)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Lines held back since the last one logged.
    pub count: u64,
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            return Ok(());
        }
        write!(f, " ({} more like this held back)", self.count)
    }
}

impl RateLimit {
    /// A limiter letting one line through per `interval`.
    pub const fn new(interval: Duration) -> RateLimit {
        RateLimit {
            interval,
            last: None,
            held: 0,
        }
    }

    /// The condition happened at `now`: `Some` (with the count held back since the last
    /// line) when it is to be logged, `None` when it is held back.
    pub fn check(&mut self, now: Instant) -> Option<Held> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.interval)
        {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        let count = std::mem::take(&mut self.held);
        Some(Held { count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let mut l = RateLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_millis(s);
        // Every 100 ms for 25 s: 3 lines get through.
        let passed: Vec<(u64, u64)> = (0..250)
            .filter_map(|i| l.check(at(i * 100)).map(|h| (i * 100, h.count)))
            .collect();
        assert_eq!(passed, [(0, 0), (10_000, 99), (20_000, 99)]);
        // The next line counts those held back since the last one, however long ago...
        assert_eq!(l.check(at(60_000)), Some(Held { count: 49 }));
        // ... and after a quiet spell says nothing more.
        assert_eq!(
            l.check(at(70_000)).map(|h| h.to_string()),
            Some(String::new())
        );
        assert!(l.check(at(70_001)).is_none());
        assert_eq!(
            l.check(at(90_000)).map(|h| h.to_string()).as_deref(),
            Some(" (1 more like this held back)")
        );
    }
}
