//! The root binder: when the driver starts as root and the unit it takes is claimed by
//! another program (stock usbhid-ups still running), binding usbhid once that program lets go
//! needs root, which the driver gives up before it opens the unit. So before dropping root it
//! leaves one small process behind that keeps root for that one job: it watches the unit's
//! interface, and when the claim goes (the interface has no driver), binds usbhid to it and
//! waits for the hidraw node (one log line, as at start-up), then exits. It also exits when
//! the unit leaves the bus, when usbhid is bound by other means, or when the driver is gone
//! (the pipe whose other end the driver holds closes).
//!
//! `upsdrvctl prepare` (the driver's `--prepare`, a service manager's privileged pre-start)
//! leaves one too, with no driver to follow: that one lives until the claim goes or the unit
//! leaves; under systemd it is in the driver's service and stops with it. The driver, which
//! runs without root there, waits one retry for it before it says that binding needs root.
//!
//! Double fork: the binder is nobody's child to reap, whatever the driver does meanwhile
//! (going to the background included).

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::unistd::{fork, pipe2, ForkResult};

use super::plug::{Plug, Refusal};
use super::units::{usb_hid_units, State, UsbUnit};

/// How often the binder looks at the interface.
const EVERY: Duration = Duration::from_millis(250);

/// The driver's end of the pipe to the binder, while one runs.
static BINDER: OnceLock<OwnedFd> = OnceLock::new();

/// Whether a binder was left behind (then it, not the driver, binds usbhid).
pub(crate) fn running() -> bool {
    BINDER.get().is_some()
}

/// Leaves the binder behind for `unit` (claimed now); `plug` must be allowed to bind. With
/// `follow`, it ends with this process (the driver, which goes on); without, it outlives it.
pub(crate) fn spawn(plug: &Plug, unit: &UsbUnit, follow: bool) -> nix::Result<()> {
    if running() {
        return Ok(());
    }
    let (read, write) = pipe2(OFlag::O_CLOEXEC)?;
    // (not following: the binder holds both ends, so the pipe never closes)
    let keep = (!follow)
        .then(|| write.try_clone())
        .transpose()
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    // SAFETY: called before the driver starts any thread (it has none before serving); the
    // children only run this crate's code and leave with _exit.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            drop(read);
            nix::sys::wait::waitpid(child, None)?;
            let _ = BINDER.set(write);
            Ok(())
        }
        ForkResult::Child => {
            drop(write);
            // SAFETY: as above.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                watch(plug, unit.usb_dir.clone(), &read);
                drop(keep);
            }
            // SAFETY: _exit ends the process without running anything of the parent's.
            unsafe { libc::_exit(0) }
        }
    }
}

/// The binder's loop (see the module documentation).
fn watch(plug: &Plug, usb_dir: PathBuf, driver: &OwnedFd) {
    loop {
        let mut fds = [PollFd::new(driver.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(EVERY).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            // EOF or hang-up: the driver is gone
            _ => return,
        }
        let Some(unit) = usb_hid_units(&plug.sysfs)
            .into_iter()
            .find(|u| u.usb_dir == usb_dir)
        else {
            return;
        };
        match unit.state() {
            State::Claimed { .. } => continue,
            State::Unbound(_) => {
                if let Err(Refusal::Problem(p)) = plug.ready(&unit) {
                    tracing::error!("{p}");
                }
                return;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{claim, sysfs, unbind, BK650M2_ON_1_4};
    use std::fs;

    fn plug(t: &tempfile::TempDir) -> Plug {
        Plug {
            sysfs: t.path().join("sys"),
            dev: t.path().join("dev"),
            proc_: t.path().join("proc"),
            may_bind: true,
            binder: false,
            hidraw_wait: Duration::from_millis(100),
            udev_db: t.path().join("run/udev/data"),
        }
    }

    #[test]
    fn binds_once_the_claim_goes_and_stops_with_the_driver() {
        let t = sysfs(&[("hidraw0", BK650M2_ON_1_4)]);
        let p = plug(&t);
        claim(&p.sysfs, "1-4");
        let bind = p.sysfs.join("bus/usb/drivers/usbhid/bind");
        fs::write(&bind, "").unwrap();
        let usb_dir = usb_hid_units(&p.sysfs)[0].usb_dir.clone();
        let (read, write) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let (p2, dir2) = (p.clone(), usb_dir.clone());
        let w = std::thread::spawn(move || watch(&p2, dir2, &read));
        std::thread::sleep(Duration::from_millis(600));
        // still claimed: nothing written
        assert_eq!(fs::read_to_string(&bind).unwrap(), "");
        assert!(!w.is_finished());
        unbind(&p.sysfs, "1-4");
        w.join().unwrap();
        assert_eq!(fs::read_to_string(&bind).unwrap(), "1-4:1.0");
        drop(write);

        // The driver goes away while the unit is still claimed: the binder ends, binding
        // nothing.
        claim(&p.sysfs, "1-4");
        fs::write(&bind, "").unwrap();
        let (read, write) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let w = std::thread::spawn(move || watch(&p, usb_dir, &read));
        drop(write);
        w.join().unwrap();
        assert_eq!(fs::read_to_string(&bind).unwrap(), "");
    }
}
