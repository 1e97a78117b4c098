//! Plugging the emulated unit into Linux's vhci-hcd through sysfs, and the attach loop.
//!
//! vhci-hcd (`modprobe vhci-hcd`) is a host controller whose ports are fed by user space: write
//! `"<port> <sockfd> <devid> <speed>"` to `<root>/vhci_hcd.0/attach` and the kernel takes the
//! socket (it keeps its own reference) and enumerates the device the other end serves; write
//! `"<port>"` to `detach` and the device is unplugged. `status` (then `status.1`... with more
//! controllers) lists the ports:
//!
//! ```text
//! hub port sta spd dev      sockfd local_busid
//! hs  0000 004 000 00000000 000000 0-0
//! ss  0008 004 000 00000000 000000 0-0
//! ```
//!
//! A full-speed device goes on a free (`sta` 4, `VDEV_ST_NULL`) port of a USB 2.0 (`hs`) hub;
//! older kernels print no `hub` column. The root (`/sys/devices/platform` on a real system) is
//! a parameter, so the logic runs on a fake tree in tests.
//!
//! [`run`] is the attach loop: wait until the unit is on the bus, attach, serve, and when the
//! unit leaves (unplug, power off), a replug is asked, or the emulator stops, **detach first**,
//! then close the socket (a process that exits with its socket still attached hangs in the
//! kernel).

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nut_hid_sim::Unit;

use crate::server::{Ended, Server, Shared};
use crate::Error;

/// `USB_SPEED_FULL`, the speed written to `attach`.
pub const SPEED_FULL: u32 = 2;
/// `VDEV_ST_NULL`: a free port.
pub const PORT_FREE: u32 = 4;
/// The default sysfs root.
pub const SYSFS_ROOT: &str = "/sys/devices/platform";
/// How long to look for a free port (a port just detached frees itself asynchronously).
const PORT_WAIT: Duration = Duration::from_secs(10);

/// One line of a `status` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// `hs` or `ss` (`None`: a kernel without the column).
    pub hub: Option<String>,
    /// The port number to write to `attach` and `detach`.
    pub port: u32,
    /// `sta`: 4 free, 5 not assigned, 6 used, 7 error.
    pub status: u32,
}

/// The port lines of a `status` file (the header and anything unreadable skipped).
pub fn parse_status(text: &str) -> Vec<Port> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (hub, rest) = match cols.first() {
                Some(&h) if h == "hs" || h == "ss" => (Some(h.to_string()), &cols[1..]),
                _ => (None, &cols[..]),
            };
            let port = rest.first()?.parse().ok()?;
            let status = rest.get(1)?.parse().ok()?;
            Some(Port { hub, port, status })
        })
        .collect()
}

/// A vhci-hcd controller's sysfs directory.
#[derive(Debug, Clone)]
pub struct Vhci {
    dir: PathBuf,
}

impl Vhci {
    /// The controller under `root`: `vhci_hcd.0`, else the first `vhci_hcd.N` with an
    /// `attach` file.
    pub fn find(root: &Path) -> Result<Vhci, Error> {
        let first = root.join("vhci_hcd.0");
        if first.join("attach").exists() {
            return Ok(Vhci { dir: first });
        }
        let mut dirs: Vec<PathBuf> = fs::read_dir(root)
            .map_err(|_| Error::NoVhci(root.to_path_buf()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("vhci_hcd."))
                    && p.join("attach").exists()
            })
            .collect();
        dirs.sort();
        dirs.into_iter()
            .next()
            .map(|dir| Vhci { dir })
            .ok_or_else(|| Error::NoVhci(root.to_path_buf()))
    }

    /// The controller's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every port of every `status` file.
    pub fn ports(&self) -> Result<Vec<Port>, Error> {
        let mut ports = Vec::new();
        for i in 0.. {
            let name = if i == 0 {
                "status".to_string()
            } else {
                format!("status.{i}")
            };
            let path = self.dir.join(name);
            if i > 0 && !path.exists() {
                break;
            }
            let text = fs::read_to_string(&path).map_err(|source| Error::Sysfs { path, source })?;
            ports.extend(parse_status(&text));
        }
        Ok(ports)
    }

    /// The first free USB 2.0 port.
    pub fn free_port(&self) -> Result<u32, Error> {
        self.ports()?
            .into_iter()
            .find(|p| p.status == PORT_FREE && p.hub.as_deref().is_none_or(|h| h == "hs"))
            .map(|p| p.port)
            .ok_or_else(|| Error::NoFreePort(self.dir.clone()))
    }

    /// Plugs the device served on the other end of `sockfd` into `port`.
    pub fn attach(&self, port: u32, sockfd: i32, devid: u32, speed: u32) -> Result<(), Error> {
        let path = self.dir.join("attach");
        fs::write(&path, format!("{port} {sockfd} {devid} {speed}"))
            .map_err(|source| Error::Sysfs { path, source })
    }

    /// Unplugs the device on `port`.
    pub fn detach(&self, port: u32) -> Result<(), Error> {
        let path = self.dir.join("detach");
        fs::write(&path, format!("{port}")).map_err(|source| Error::Sysfs { path, source })
    }
}

/// Attaches a new socketpair to a free port (retrying while ports free themselves), and
/// returns the port and our end.
fn plug(vhci: &Vhci, devid: u32) -> Result<(u32, UnixStream), Error> {
    let deadline = Instant::now() + PORT_WAIT;
    loop {
        let (ours, theirs) = UnixStream::pair()?;
        let tried = vhci.free_port().and_then(|port| {
            vhci.attach(port, theirs.as_raw_fd(), devid, SPEED_FULL)
                .map(|()| port)
        });
        // The kernel holds its own reference to the socket: ours can go.
        drop(theirs);
        match tried {
            Ok(port) => return Ok((port, ours)),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The attach loop: while the unit is on the bus, keep it attached to `vhci` and serve it;
/// on each unplug or replug, detach (first), close, wait for the unit, attach again. Returns
/// when `stop` is set (after detaching), or with the error that ended it. Each attach and detach
/// is printed on stdout (`attached port N`, `detached port N`) and logged.
pub fn run(
    server: &mut Server,
    unit: &Unit,
    shared: &Arc<Shared>,
    vhci: &Vhci,
    devid: u32,
    stop: &AtomicBool,
) -> Result<(), Error> {
    loop {
        while !unit.lock().present() {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        shared.clear_replug();
        let (port, mut stream) = plug(vhci, devid)?;
        shared.set_attached(Some(port));
        server.log(&format!("ATTACHED port {port}"));
        println!("attached port {port}");
        let ended = server.serve(&mut stream, stop);
        // Detach before the socket closes, whatever happened.
        let detached = vhci.detach(port);
        shared.set_attached(None);
        server.log(&format!("DETACHED port {port}"));
        println!("detached port {port}");
        drop(stream);
        match ended? {
            Ended::Stopped => return detached,
            Ended::Unplugged | Ended::Replug => {
                if let Err(e) = detached {
                    eprintln!("ups-emulator: detach: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "hub port sta spd dev      sockfd local_busid\n\
                          hs  0000 006 002 00010002 000003 1-1\n\
                          hs  0001 004 000 00000000 000000 0-0\n\
                          ss  0008 004 000 00000000 000000 0-0\n";

    fn tree(status: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("vhci_hcd.0");
        fs::create_dir(&dir).unwrap();
        for f in ["attach", "detach"] {
            fs::write(dir.join(f), "").unwrap();
        }
        fs::write(dir.join("status"), status).unwrap();
        root
    }

    #[test]
    fn status_lines_of_both_layouts() {
        assert_eq!(
            parse_status(STATUS),
            [
                Port {
                    hub: Some("hs".into()),
                    port: 0,
                    status: 6
                },
                Port {
                    hub: Some("hs".into()),
                    port: 1,
                    status: 4
                },
                Port {
                    hub: Some("ss".into()),
                    port: 8,
                    status: 4
                },
            ]
        );
        assert_eq!(
            parse_status("port sta spd dev      socket           local_busid\n0003 004 000 00000000 0000000000000000 0-0\n"),
            [Port { hub: None, port: 3, status: 4 }]
        );
    }

    #[test]
    fn a_free_usb2_port_is_found_and_attach_and_detach_write_what_the_kernel_reads() {
        let root = tree(STATUS);
        let v = Vhci::find(root.path()).unwrap();
        assert_eq!(v.free_port().unwrap(), 1, "port 0 is used, port 8 is USB 3");
        v.attach(1, 7, 0x0001_0002, SPEED_FULL).unwrap();
        assert_eq!(
            fs::read_to_string(v.dir().join("attach")).unwrap(),
            "1 7 65538 2"
        );
        v.detach(1).unwrap();
        assert_eq!(fs::read_to_string(v.dir().join("detach")).unwrap(), "1");
        // more controllers: status.1 is read too
        let root = tree(
            "hub port sta spd dev      sockfd local_busid\nhs  0000 006 002 00010002 000003 1-1\n",
        );
        fs::write(
            root.path().join("vhci_hcd.0/status.1"),
            "hub port sta spd dev      sockfd local_busid\nhs  0016 004 000 00000000 000000 0-0\n",
        )
        .unwrap();
        assert_eq!(Vhci::find(root.path()).unwrap().free_port().unwrap(), 16);
    }

    #[test]
    fn no_controller_or_no_free_port_is_an_error_naming_the_place() {
        let empty = tempfile::tempdir().unwrap();
        let e = Vhci::find(empty.path()).unwrap_err();
        assert!(matches!(e, Error::NoVhci(_)), "{e}");
        assert!(e.to_string().contains("vhci-hcd module"), "{e}");
        let root = tree(
            "hub port sta spd dev      sockfd local_busid\nhs  0000 006 002 00010002 000003 1-1\n",
        );
        let e = Vhci::find(root.path()).unwrap().free_port().unwrap_err();
        assert!(matches!(e, Error::NoFreePort(_)), "{e}");
        // another controller number
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("vhci_hcd.1");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("attach"), "").unwrap();
        assert_eq!(Vhci::find(root.path()).unwrap().dir(), dir);
    }
}
