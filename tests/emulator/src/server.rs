//! The USB/IP server of the emulated unit, over any stream ([`Server::serve`]): a socketpair end
//! attached to vhci-hcd, an inherited descriptor (`ups-emulator serve --fd N`), or a test's
//! socket.
//!
//! * Control URBs (endpoint 0) are answered at once ([`crate::requests`]), unless a fault says
//!   otherwise ([`crate::faults`]): a stall, a transfer error, a short answer, or no answer at
//!   all (the URB is held until the host unlinks it, as a unit that does not answer).
//! * Interrupt-IN URBs (endpoint 1) are held, oldest first, until the unit has a report (its
//!   `[[interrupt]]` entries, the scenario's `interrupt = true` events), then completed with it
//!   (cut to the URB's buffer).
//! * An unlink of a held URB is answered `-ECONNRESET` and the URB never completes; an unlink
//!   of an URB already answered gets status 0.
//! * The server returns when the unit leaves the bus ([`Ended::Unplugged`]), when a replug is
//!   asked ([`Ended::Replug`]) or when `stop` is set ([`Ended::Stopped`]); the host closing the
//!   stream is [`Error::Closed`].
//!
//! Every message received is logged ([`Log`]) as bytes, then what it was and what it got:
//!
//! ```text
//! 0.012 CMD_SUBMIT 00000001 00000005 00010002 00000001 00000000 00000200 00000002 00000000 00000000 00000000 a1010c03 00000200
//! 0.012 #5 GET_REPORT Feature 0x0c len 2 -> 0c 64
//! 0.020 CMD_SUBMIT 00000001 00000006 00010002 00000000 00000000 00000000 00000003 00000000 00000000 00000000 21091503 00000300
//! 0.020 OUT 15 14 00
//! 0.020 #6 SET_REPORT Feature 0x15 len 3 -> ok
//! ```

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nut_hid::ReportKind;
use nut_hid_recording::hex_string;
use nut_hid_sim::Unit;

use crate::faults::{Action, Faults, Request};
use crate::requests::{Answer, Device, Setup};
use crate::usbip::{self, header_words, status, Command, Direction, Submit, Unlink};
use crate::Error;

/// The longest the server sleeps before it looks at the unit, the faults and `stop` again.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// What the server, the attach loop and the control socket share.
#[derive(Debug)]
pub struct Shared {
    faults: Mutex<Faults>,
    replug: AtomicBool,
    attached: Mutex<Option<u32>>,
    /// (writer, reader): a byte written wakes the server at once, so a report a control
    /// command queued goes out now, not at the server's next look (up to [`MAX_WAIT`]).
    /// Without it (no socketpair to be had) the server still looks every [`MAX_WAIT`].
    wake: Option<(UnixStream, UnixStream)>,
}

impl Shared {
    /// Nothing set.
    pub fn new() -> Arc<Shared> {
        let wake = UnixStream::pair()
            .and_then(|(w, r)| r.set_nonblocking(true).map(|()| (w, r)))
            .ok();
        Arc::new(Shared {
            faults: Mutex::default(),
            replug: AtomicBool::default(),
            attached: Mutex::default(),
            wake,
        })
    }

    /// Wakes the server (the unit has something to send now).
    pub fn wake(&self) {
        if let Some((w, _)) = &self.wake {
            // A full pipe already wakes it.
            let _ = (&mut &*w).write(&[1]);
        }
    }

    /// Reads the wake-ups (the server is awake).
    fn drain_wake(&self) {
        if let Some((_, r)) = &self.wake {
            let mut buf = [0u8; 64];
            while matches!((&mut &*r).read(&mut buf), Ok(n) if n > 0) {}
        }
    }

    /// The faults in force.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the server to end its connection so the unit is plugged in again.
    pub fn request_replug(&self) {
        self.replug.store(true, Ordering::SeqCst);
    }

    /// Forgets a replug request (the unit is being plugged in anyway).
    pub fn clear_replug(&self) {
        self.replug.store(false, Ordering::SeqCst);
    }

    fn take_replug(&self) -> bool {
        self.replug.swap(false, Ordering::SeqCst)
    }

    /// Records the vhci port the unit is attached to.
    pub fn set_attached(&self, port: Option<u32>) {
        *self.attached.lock().unwrap_or_else(|e| e.into_inner()) = port;
    }

    /// The vhci port the unit is attached to.
    pub fn attached(&self) -> Option<u32> {
        *self.attached.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The request log (`--log`): one line per event, prefixed with the seconds since the log
/// was opened; nothing without a file.
#[derive(Debug)]
pub struct Log {
    file: Option<File>,
    start: Instant,
}

impl Log {
    /// Appends to `path`, if given.
    pub fn open(path: Option<&Path>) -> Result<Log, Error> {
        let file = match path {
            Some(p) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|source| Error::File {
                        what: "--log",
                        path: p.to_path_buf(),
                        source,
                    })?,
            ),
            None => None,
        };
        Ok(Log {
            file,
            start: Instant::now(),
        })
    }

    /// Appends one line.
    pub fn line(&mut self, text: &str) {
        if let Some(f) = &mut self.file {
            let t = self.start.elapsed().as_secs_f64();
            // A log that cannot be written is not worth stopping the unit for.
            let _ = writeln!(f, "{t:.3} {text}").and_then(|()| f.flush());
        }
    }
}

/// Why [`Server::serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The unit left the bus (unplug command, scenario vanish, power off).
    Unplugged,
    /// A replug was asked while it was attached.
    Replug,
    /// `stop` was set (SIGTERM, SIGINT).
    Stopped,
}

/// An URB held for later.
#[derive(Debug, Clone, Copy)]
struct Held {
    seqnum: u32,
    len: u32,
    number_of_packets: u32,
}

/// The emulated unit's USB/IP server.
#[derive(Debug)]
pub struct Server {
    unit: Unit,
    device: Device,
    shared: Arc<Shared>,
    log: Log,
    /// Interrupt-IN URBs waiting for a report, oldest first.
    interrupts: VecDeque<Held>,
    /// Control URBs never to be answered (timeout faults), until unlinked.
    held: Vec<u32>,
}

impl Server {
    /// A server for `unit`.
    pub fn new(unit: Unit, shared: Arc<Shared>, log: Log) -> Server {
        let output_ids = {
            let u = unit.lock();
            nut_hid::parse(u.replay().descriptor())
                .map(|d| {
                    d.declared_reports()
                        .filter(|(_, k, _)| *k == ReportKind::Output)
                        .map(|(id, _, _)| id)
                        .collect()
                })
                .unwrap_or_default()
        };
        Server {
            unit,
            device: Device::new(output_ids),
            shared,
            log,
            interrupts: VecDeque::new(),
            held: Vec::new(),
        }
    }

    /// Appends a line to the request log (the attach loop logs its attaches).
    pub fn log(&mut self, text: &str) {
        self.log.line(text);
    }

    /// Serves one connection on `stream`, as a device just plugged in, until the unit leaves
    /// the bus, a replug is asked or `stop` is set. The stream is left open: the caller
    /// detaches from the kernel first, then closes it.
    pub fn serve<S: Read + Write + AsFd>(
        &mut self,
        stream: &mut S,
        stop: &AtomicBool,
    ) -> Result<Ended, Error> {
        self.device.reset();
        self.interrupts.clear();
        self.held.clear();
        let generation = self.unit.lock().generation();
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(Ended::Stopped);
            }
            if self.shared.take_replug() {
                return Ok(Ended::Replug);
            }
            {
                let u = self.unit.lock();
                if !u.present() || u.generation() != generation {
                    return Ok(Ended::Unplugged);
                }
            }
            self.complete_interrupts(stream)?;
            let wait = {
                let u = self.unit.lock();
                let now = u.replay().clock().now();
                match u.next_wake() {
                    Some(t) if t > now => t
                        .saturating_sub(now)
                        .clamp(Duration::from_millis(1), MAX_WAIT),
                    _ => MAX_WAIT,
                }
            };
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            let ready = {
                let mut fds = vec![PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
                if let Some((_, r)) = &self.shared.wake {
                    fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(n) if n > 0 => fds[0].any().unwrap_or(false),
                    Ok(_) | Err(Errno::EINTR) => false,
                    Err(e) => return Err(Error::Connection(e.into())),
                }
            };
            self.shared.drain_wake();
            if !ready {
                continue;
            }
            match usbip::read_command(stream)? {
                None => return Err(Error::Closed),
                Some((cmd, header)) => self.handle(stream, cmd, &header)?,
            }
        }
    }

    fn handle<S: Write>(
        &mut self,
        stream: &mut S,
        cmd: Command,
        header: &[u8],
    ) -> Result<(), Error> {
        match cmd {
            Command::Submit(s) => {
                self.log
                    .line(&format!("CMD_SUBMIT {}", header_words(header)));
                if !s.data.is_empty() {
                    self.log.line(&format!("OUT {}", hex_string(&s.data)));
                }
                match (s.ep, s.direction) {
                    (0, _) => self.control(stream, &s),
                    (1, Direction::In) => self.interrupt_in(stream, &s),
                    (1, Direction::Out) if self.device.out_endpoint() => {
                        self.interrupt_out(stream, &s)
                    }
                    (ep, dir) => {
                        self.log
                            .line(&format!("#{} URB endpoint {ep} {dir:?} -> stall", s.seqnum));
                        send(
                            stream,
                            &usbip::ret_submit(
                                s.seqnum,
                                status::STALL,
                                0,
                                s.number_of_packets,
                                &[],
                            ),
                        )
                    }
                }
            }
            Command::Unlink(u) => {
                self.log
                    .line(&format!("CMD_UNLINK {}", header_words(header)));
                self.unlink(stream, u)
            }
        }
    }

    fn control<S: Write>(&mut self, stream: &mut S, s: &Submit) -> Result<(), Error> {
        let setup = Setup::parse(s.setup);
        let what = format!("#{} {}", s.seqnum, setup.describe());
        let fault = self.shared.faults().take(setup.request());
        let (status, data, result) = match fault {
            Some(Action::Timeout) => {
                self.held.push(s.seqnum);
                self.log.line(&format!("{what} -> held (injected timeout)"));
                return Ok(());
            }
            Some(Action::Stall) => (status::STALL, Vec::new(), "stall (injected)".to_string()),
            Some(Action::Error) => (
                status::PROTOCOL,
                Vec::new(),
                "-EPROTO (injected)".to_string(),
            ),
            Some(Action::Short(_)) | None => {
                let answer = {
                    let unit = self.unit.clone();
                    let mut u = unit.lock();
                    self.device
                        .control(&mut u, &setup, &s.data, s.transfer_buffer_length as usize)
                };
                match answer {
                    Answer::In(mut v) => {
                        let mut text = if v.is_empty() {
                            "(empty)".to_string()
                        } else {
                            hex_string(&v)
                        };
                        if let Some(Action::Short(n)) = fault {
                            v.truncate(n);
                            text = format!(
                                "{} (injected short)",
                                if v.is_empty() {
                                    "(empty)".to_string()
                                } else {
                                    hex_string(&v)
                                }
                            );
                        }
                        (status::OK, v, text)
                    }
                    Answer::Ack => (status::OK, Vec::new(), "ok".to_string()),
                    Answer::Stall => (status::STALL, Vec::new(), "stall".to_string()),
                }
            }
        };
        self.log.line(&format!("{what} -> {result}"));
        let (actual, data) = match s.direction {
            Direction::In => (data.len() as u32, data),
            Direction::Out if status == status::OK => (s.data.len() as u32, Vec::new()),
            Direction::Out => (0, Vec::new()),
        };
        send(
            stream,
            &usbip::ret_submit(s.seqnum, status, actual, s.number_of_packets, &data),
        )
    }

    fn interrupt_in<S: Write>(&mut self, stream: &mut S, s: &Submit) -> Result<(), Error> {
        let stall = {
            let mut f = self.shared.faults();
            !f.holds_interrupts() && f.take(Request::Interrupt) == Some(Action::Stall)
        };
        let what = format!(
            "#{} INTERRUPT IN len {}",
            s.seqnum, s.transfer_buffer_length
        );
        if stall {
            self.log.line(&format!("{what} -> stall (injected)"));
            return send(
                stream,
                &usbip::ret_submit(s.seqnum, status::STALL, 0, s.number_of_packets, &[]),
            );
        }
        self.log.line(&format!("{what} -> pending"));
        self.interrupts.push_back(Held {
            seqnum: s.seqnum,
            len: s.transfer_buffer_length,
            number_of_packets: s.number_of_packets,
        });
        self.complete_interrupts(stream)
    }

    fn interrupt_out<S: Write>(&mut self, stream: &mut S, s: &Submit) -> Result<(), Error> {
        let id = s.data.first().copied().unwrap_or(0);
        let ok = self.device.declares_output(id)
            && self
                .unit
                .lock()
                .set_report(ReportKind::Output, &s.data)
                .is_ok();
        let (st, actual, result) = if ok {
            (status::OK, s.data.len() as u32, "ok")
        } else {
            (status::STALL, 0, "stall")
        };
        self.log.line(&format!(
            "#{} INTERRUPT OUT len {} -> {result}",
            s.seqnum,
            s.data.len()
        ));
        send(
            stream,
            &usbip::ret_submit(s.seqnum, st, actual, s.number_of_packets, &[]),
        )
    }

    fn unlink<S: Write>(&mut self, stream: &mut S, u: Unlink) -> Result<(), Error> {
        let target = u.unlink_seqnum;
        let was_held = if let Some(i) = self.interrupts.iter().position(|h| h.seqnum == target) {
            self.interrupts.remove(i);
            true
        } else if let Some(i) = self.held.iter().position(|&h| h == target) {
            self.held.remove(i);
            true
        } else {
            false
        };
        let st = if was_held {
            status::UNLINKED
        } else {
            status::OK
        };
        let note = if was_held { "" } else { " (already answered)" };
        self.log.line(&format!(
            "#{} UNLINK #{target} -> {}{note}",
            u.seqnum,
            status::name(st)
        ));
        send(stream, &usbip::ret_unlink(u.seqnum, st))
    }

    /// Completes held interrupt-IN URBs with the reports the unit has due.
    fn complete_interrupts<S: Write>(&mut self, stream: &mut S) -> Result<(), Error> {
        if self.interrupts.is_empty() || self.shared.faults().holds_interrupts() {
            return Ok(());
        }
        let unit = self.unit.clone();
        let mut u = unit.lock();
        while !self.interrupts.is_empty() {
            let Some(report) = u.pop_interrupt() else {
                break;
            };
            let Some(urb) = self.interrupts.pop_front() else {
                break;
            };
            let n = report.len().min(urb.len as usize);
            let data = &report[..n];
            self.log.line(&format!(
                "#{} INTERRUPT IN -> {}",
                urb.seqnum,
                hex_string(data)
            ));
            send(
                stream,
                &usbip::ret_submit(
                    urb.seqnum,
                    status::OK,
                    n as u32,
                    urb.number_of_packets,
                    data,
                ),
            )?;
        }
        Ok(())
    }
}

fn send<S: Write>(stream: &mut S, bytes: &[u8]) -> Result<(), Error> {
    stream.write_all(bytes)?;
    Ok(())
}
