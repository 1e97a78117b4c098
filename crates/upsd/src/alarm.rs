//! A one-shot alarm on a timerfd, for the driver links' periodic pass.
//!
//! tokio's timer wheel wakes the thread at each level of the wheel on the way to a deadline
//! (for the 5 s wait before a PING: about 4 s, then 64 ms, then the deadline), and at idle
//! those wake-ups were most of upsd's. The kernel's timerfd wakes the loop once, at the
//! deadline.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The timerfd, for `AsyncFd` (which wants `AsRawFd`).
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A deadline the loop can wait for; unset, [`Alarm::wait`] never returns.
pub(crate) struct Alarm {
    fd: AsyncFd<Fd>,
}

impl Alarm {
    /// An unset alarm on the monotonic clock (the clock of `std::time::Instant` on Linux).
    pub(crate) fn new() -> io::Result<Alarm> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: `Fd` owns the timerfd (an `OwnedFd` inside `TimerFd`), so the descriptor
        // stays open and the same for as long as the `AsyncFd` holds it.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Alarm { fd })
    }

    /// Ring at `at` (at once if it has passed), replacing any earlier deadline.
    pub(crate) fn set(&self, at: Instant) -> io::Result<()> {
        // A zero expiration would disarm the timer: a deadline that has passed rings in 1 ns.
        let left = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        // Setting the timer also clears an expiry not yet read (the kernel resets its
        // count), so the new deadline is the only one that rings.
        self.fd.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(left)),
            TimerSetTimeFlags::empty(),
        )?;
        Ok(())
    }

    /// Wait for the deadline (cancel-safe: a wait dropped before it rang loses nothing).
    pub(crate) async fn wait(&self) -> io::Result<()> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|fd| read_expiry(&fd.get_ref().0)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

/// Read the expiry count (the alarm rang) or `WouldBlock` (it has not).
fn read_expiry(fd: &TimerFd) -> io::Result<()> {
    let mut count = [0u8; 8];
    match nix::unistd::read(fd.as_fd(), &mut count) {
        Ok(_) => Ok(()),
        Err(Errno::EAGAIN) => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rings_once_at_the_deadline_and_a_new_deadline_replaces_the_old() {
        let alarm = Alarm::new().unwrap();
        let t0 = Instant::now();
        alarm.set(t0 + Duration::from_millis(30)).unwrap();
        alarm.wait().await.unwrap();
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(30), "rang after {took:?}");

        // Moved before it rang: only the new deadline counts.
        let t1 = Instant::now();
        alarm.set(t1 + Duration::from_millis(10)).unwrap();
        alarm.set(t1 + Duration::from_millis(60)).unwrap();
        alarm.wait().await.unwrap();
        assert!(t1.elapsed() >= Duration::from_millis(60));

        // A deadline that has passed rings at once; unset, it does not ring.
        alarm.set(t1).unwrap();
        alarm.wait().await.unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(50), alarm.wait()).await;
        assert!(
            waited.is_err(),
            "an alarm that rang rings again only when set again"
        );
    }
}
