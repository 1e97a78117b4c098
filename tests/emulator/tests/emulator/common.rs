//! A host for the tests: the BK650M2-CH recording (plus a scenario) served by a [`Server`] on
//! a thread, on a manual clock, and the USB/IP messages vhci-hcd would send it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nut_hid_sim::{ManualClock, Unit};
use ups_emulator::server::{Ended, Log, Server, Shared};
use ups_emulator::usbip::{self, Command, Direction, Submit, Unlink, HEADER_LEN};
use ups_emulator::{check, Error};

/// The BK650M2-CH recording.
pub(crate) const BK650: &str =
    include_str!("../../../../drivers/usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml");

/// The devid vhci-hcd puts in every message (what the emulator writes to `attach`).
pub(crate) const DEVID: u32 = 0x0001_0002;

/// One served unit and the host end of its connection.
pub(crate) struct Rig {
    pub(crate) host: UnixStream,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) unit: Unit,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) server: Option<JoinHandle<Result<Ended, Error>>>,
    pub(crate) dir: tempfile::TempDir,
}

/// A RET_SUBMIT as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ret {
    /// The whole message, header and data.
    pub(crate) bytes: Vec<u8>,
    pub(crate) seqnum: u32,
    pub(crate) status: i32,
    pub(crate) actual: u32,
    pub(crate) data: Vec<u8>,
}

fn word(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Rig {
    /// The BK650M2-CH with `scenario` appended, its clock at 0.
    pub(crate) fn new(scenario: &str) -> Rig {
        Rig::with_text(&format!("{BK650}{scenario}"))
    }

    pub(crate) fn with_text(text: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("unit.toml");
        std::fs::write(&rec, text).unwrap();
        let clock = ManualClock::new();
        let unit = check::load(&rec, clock.clone()).unwrap();
        unit.lock().log_to(&dir.path().join("simlog")).unwrap();
        let shared = Shared::new();
        let log = Log::open(Some(&dir.path().join("log"))).unwrap();
        let mut server = Server::new(unit.clone(), shared.clone(), log);
        let (mut dev, host) = UnixStream::pair().unwrap();
        host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || server.serve(&mut dev, &s));
        Rig {
            host,
            clock,
            unit,
            shared,
            stop,
            server: Some(handle),
            dir,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The lines of a log file, without the time in front (`--log`'s lines start with it).
    pub(crate) fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
            .collect()
    }

    pub(crate) fn simlog(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("simlog"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    pub(crate) fn send(&mut self, cmd: &Command) {
        self.host.write_all(&usbip::encode(cmd)).unwrap();
    }

    /// A control URB as vhci-hcd sends it.
    pub(crate) fn control(&mut self, seqnum: u32, setup: [u8; 8], data: &[u8]) {
        let direction = if setup[0] & 0x80 != 0 {
            Direction::In
        } else {
            Direction::Out
        };
        let length = u32::from(u16::from_le_bytes([setup[6], setup[7]]));
        self.send(&Command::Submit(Submit {
            seqnum,
            devid: DEVID,
            direction,
            ep: 0,
            transfer_flags: if direction == Direction::In { 0x200 } else { 0 },
            transfer_buffer_length: length,
            start_frame: 0,
            number_of_packets: 0,
            interval: 0,
            setup,
            data: data.to_vec(),
        }));
    }

    /// An interrupt-IN URB of `len` bytes.
    pub(crate) fn interrupt_in(&mut self, seqnum: u32, len: u32) {
        self.send(&Command::Submit(Submit {
            seqnum,
            devid: DEVID,
            direction: Direction::In,
            ep: 1,
            transfer_flags: 0x200,
            transfer_buffer_length: len,
            start_frame: 0,
            number_of_packets: 0,
            interval: 10,
            setup: [0; 8],
            data: Vec::new(),
        }));
    }

    pub(crate) fn unlink(&mut self, seqnum: u32, unlink_seqnum: u32) {
        self.send(&Command::Unlink(Unlink {
            seqnum,
            devid: DEVID,
            unlink_seqnum,
        }));
    }

    /// The next message, a RET_SUBMIT whose data follows when `in_data`.
    pub(crate) fn ret(&mut self, in_data: bool) -> Ret {
        let mut h = [0u8; HEADER_LEN];
        self.host.read_exact(&mut h).unwrap();
        assert_eq!(word(&h, 0), usbip::RET_SUBMIT, "{h:02x?}");
        let actual = word(&h, 24);
        let mut data = vec![0; if in_data { actual as usize } else { 0 }];
        self.host.read_exact(&mut data).unwrap();
        let mut bytes = h.to_vec();
        bytes.extend_from_slice(&data);
        Ret {
            bytes,
            seqnum: word(&h, 4),
            status: word(&h, 20) as i32,
            actual,
            data,
        }
    }

    /// The next message, a RET_UNLINK: (seqnum, status, whole header).
    pub(crate) fn ret_unlink(&mut self) -> (u32, i32, Vec<u8>) {
        let mut h = [0u8; HEADER_LEN];
        self.host.read_exact(&mut h).unwrap();
        assert_eq!(word(&h, 0), usbip::RET_UNLINK, "{h:02x?}");
        (word(&h, 4), word(&h, 20) as i32, h.to_vec())
    }

    /// Asserts nothing arrives within `ms` milliseconds.
    pub(crate) fn silent(&mut self, ms: u64) {
        self.host
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        let mut b = [0u8; 1];
        match self.host.read(&mut b) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("expected silence, got {other:?} {b:02x?}"),
        }
        self.host
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
    }

    /// GET_REPORT(Feature, id) for `len` bytes.
    pub(crate) fn get_report(&mut self, seqnum: u32, id: u8, len: u16) -> Ret {
        let [l, h] = len.to_le_bytes();
        self.control(seqnum, [0xa1, 0x01, id, 0x03, 0, 0, l, h], &[]);
        self.ret(true)
    }

    /// SET_REPORT(Feature) of `report`.
    pub(crate) fn set_report(&mut self, seqnum: u32, report: &[u8]) -> Ret {
        let [l, h] = (report.len() as u16).to_le_bytes();
        self.control(seqnum, [0x21, 0x09, report[0], 0x03, 0, 0, l, h], report);
        self.ret(false)
    }

    /// Stops the server and returns how it ended.
    pub(crate) fn finish(&mut self) -> Result<Ended, Error> {
        self.stop.store(true, Ordering::SeqCst);
        self.server.take().unwrap().join().unwrap()
    }

    /// Waits for the server to end by itself.
    pub(crate) fn ended(&mut self) -> Result<Ended, Error> {
        self.server.take().unwrap().join().unwrap()
    }

    /// To `ms` milliseconds after the start.
    pub(crate) fn at_ms(&self, ms: u64) {
        self.clock.set(Duration::from_millis(ms));
    }
}

/// The expected bytes of a RET_SUBMIT.
pub(crate) fn ret_bytes(seqnum: u32, status: i32, actual: u32, data: &[u8]) -> Vec<u8> {
    usbip::ret_submit(seqnum, status, actual, 0, data)
}
