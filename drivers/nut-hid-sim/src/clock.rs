//! Where a simulated unit gets its time from: the wall clock ([`SystemClock`], optionally sped
//! up) or a clock that only moves when a test says so ([`ManualClock`]).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a replayed or simulated device gets its time from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time since an arbitrary, fixed origin.
    fn now(&self) -> Duration;
    /// Let `d` pass (a real clock sleeps; a manual clock just moves forward).
    fn sleep(&self, d: Duration);
}

/// Wall-clock time, optionally sped up (`speed` 10 = a 60 s scenario plays in 6 s).
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
    speed: f64,
}

impl SystemClock {
    /// Real time.
    pub fn new() -> Self {
        Self::with_speed(1.0)
    }

    /// A clock running `speed` times faster than real time (non-positive or non-finite: 1).
    pub fn with_speed(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        SystemClock {
            origin: Instant::now(),
            speed,
        }
    }

    /// How many times faster than real time this clock runs.
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed().mul_f64(self.speed)
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d.div_f64(self.speed));
    }
}

/// A clock that only moves when told to (or when a device "sleeps" on it): for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock::default())
    }

    /// Move forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(d);
    }

    /// Jump to `t`.
    pub fn set(&self, t: Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}
