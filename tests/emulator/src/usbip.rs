//! The USB/IP wire protocol as Linux's vhci-hcd speaks it once a socket is attached through
//! sysfs (no OP_REQ_IMPORT handshake): the host sends `USBIP_CMD_SUBMIT` (an URB) and
//! `USBIP_CMD_UNLINK` (cancel one), the device answers `USBIP_RET_SUBMIT` and
//! `USBIP_RET_UNLINK`. Every message starts with a 48-byte header of big-endian 32-bit words:
//!
//! | offset | CMD_SUBMIT | RET_SUBMIT | CMD_UNLINK | RET_UNLINK |
//! |---|---|---|---|---|
//! | 0 | command 1 | command 3 | command 2 | command 4 |
//! | 4 | seqnum | seqnum of the URB | seqnum | seqnum of the CMD_UNLINK |
//! | 8 | devid | 0 | devid | 0 |
//! | 12 | direction (0 out, 1 in) | 0 | 0 | 0 |
//! | 16 | endpoint number | 0 | 0 | 0 |
//! | 20 | transfer_flags | status | seqnum to unlink | status |
//! | 24 | transfer_buffer_length | actual_length | | |
//! | 28 | start_frame | start_frame | | |
//! | 32 | number_of_packets | number_of_packets | | |
//! | 36 | interval | error_count | | |
//! | 40 | setup packet (8 bytes) | 0 | | |
//!
//! OUT data (`transfer_buffer_length` bytes) follows a CMD_SUBMIT; IN data (`actual_length`
//! bytes, never more than the URB's buffer) follows a RET_SUBMIT. A status is a negative errno:
//! a stall is `-EPIPE`, an unlinked URB `-ECONNRESET`. vhci drops the connection on a
//! RET_SUBMIT for an URB it does not wait for, so an unlinked URB never gets one.
//! `number_of_packets` is echoed from the CMD_SUBMIT, as Linux's own USB/IP server does.
//!
//! This module is pure: bytes in, values out, and back (errors: [`Error::UnknownCommand`],
//! [`Error::BadDirection`], [`Error::TooLong`], [`Error::Connection`]).

use std::io::{self, Read};

use crate::Error;

/// Length of every header.
pub const HEADER_LEN: usize = 48;
/// `USBIP_CMD_SUBMIT`.
pub const CMD_SUBMIT: u32 = 1;
/// `USBIP_CMD_UNLINK`.
pub const CMD_UNLINK: u32 = 2;
/// `USBIP_RET_SUBMIT`.
pub const RET_SUBMIT: u32 = 3;
/// `USBIP_RET_UNLINK`.
pub const RET_UNLINK: u32 = 4;
/// The largest OUT transfer accepted (a HID device takes reports of at most a few KiB).
pub const MAX_OUT: u32 = 64 * 1024;

/// URB statuses (negative errno values, as Linux's USB core reports them).
pub mod status {
    /// Success.
    pub const OK: i32 = 0;
    /// A stall (`-EPIPE`).
    pub const STALL: i32 = -32;
    /// A transfer error: CRC, bit stuffing, no handshake (`-EPROTO`).
    pub const PROTOCOL: i32 = -71;
    /// An URB unlinked before it completed (`-ECONNRESET`).
    pub const UNLINKED: i32 = -104;

    /// The errno name of a status, for the logs.
    pub fn name(status: i32) -> String {
        match status {
            OK => "0".into(),
            STALL => "-EPIPE".into(),
            PROTOCOL => "-EPROTO".into(),
            UNLINKED => "-ECONNRESET".into(),
            s => s.to_string(),
        }
    }
}

/// Transfer direction, from the host's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host to device (`USBIP_DIR_OUT`, 0).
    Out,
    /// Device to host (`USBIP_DIR_IN`, 1).
    In,
}

/// A `USBIP_CMD_SUBMIT`: one URB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// Sequence number, echoed in the answer.
    pub seqnum: u32,
    /// The device id given at attach time.
    pub devid: u32,
    /// Direction.
    pub direction: Direction,
    /// Endpoint number (0: the control pipe).
    pub ep: u32,
    /// URB transfer flags.
    pub transfer_flags: u32,
    /// Size of the URB's buffer.
    pub transfer_buffer_length: u32,
    /// Start frame (ISO only).
    pub start_frame: u32,
    /// ISO packets (0 or 0xffffffff otherwise).
    pub number_of_packets: u32,
    /// Polling interval.
    pub interval: u32,
    /// The setup packet of a control transfer.
    pub setup: [u8; 8],
    /// The OUT data.
    pub data: Vec<u8>,
}

/// A `USBIP_CMD_UNLINK`: cancel the URB `unlink_seqnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlink {
    /// Sequence number of this request, echoed in the answer.
    pub seqnum: u32,
    /// The device id given at attach time.
    pub devid: u32,
    /// The URB to cancel.
    pub unlink_seqnum: u32,
}

/// What the host sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An URB.
    Submit(Submit),
    /// Cancel an URB.
    Unlink(Unlink),
}

fn word(h: &[u8; HEADER_LEN], i: usize) -> u32 {
    u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]])
}

/// The command in header `h`, and how many OUT data bytes follow it.
pub fn parse_header(h: &[u8; HEADER_LEN]) -> Result<(Command, usize), Error> {
    let (seqnum, devid) = (word(h, 4), word(h, 8));
    match word(h, 0) {
        CMD_SUBMIT => {
            let direction = match word(h, 12) {
                0 => Direction::Out,
                1 => Direction::In,
                d => return Err(Error::BadDirection(d)),
            };
            let transfer_buffer_length = word(h, 24);
            let follows = if direction == Direction::Out {
                if transfer_buffer_length > MAX_OUT {
                    return Err(Error::TooLong(transfer_buffer_length));
                }
                transfer_buffer_length as usize
            } else {
                0
            };
            let mut setup = [0u8; 8];
            setup.copy_from_slice(&h[40..48]);
            let submit = Submit {
                seqnum,
                devid,
                direction,
                ep: word(h, 16),
                transfer_flags: word(h, 20),
                transfer_buffer_length,
                start_frame: word(h, 28),
                number_of_packets: word(h, 32),
                interval: word(h, 36),
                setup,
                data: Vec::new(),
            };
            Ok((Command::Submit(submit), follows))
        }
        CMD_UNLINK => Ok((
            Command::Unlink(Unlink {
                seqnum,
                devid,
                unlink_seqnum: word(h, 20),
            }),
            0,
        )),
        c => Err(Error::UnknownCommand(c)),
    }
}

/// Reads one command, its raw header and OUT data from `r`; `Ok(None)` when the stream ends
/// cleanly between messages.
pub fn read_command(r: &mut impl Read) -> Result<Option<(Command, [u8; HEADER_LEN])>, Error> {
    let mut h = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut h[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (mut cmd, follows) = parse_header(&h)?;
    if let Command::Submit(s) = &mut cmd {
        s.data = vec![0; follows];
        r.read_exact(&mut s.data)?;
    }
    Ok(Some((cmd, h)))
}

fn put(out: &mut Vec<u8>, words: &[u32]) {
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
}

/// A `USBIP_RET_SUBMIT` for URB `seqnum`: `status`, then `data` (IN data; empty for OUT, whose
/// `actual_length` says how much was taken).
pub fn ret_submit(
    seqnum: u32,
    status: i32,
    actual_length: u32,
    number_of_packets: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len());
    put(
        &mut out,
        &[
            RET_SUBMIT,
            seqnum,
            0,
            0,
            0,
            status as u32,
            actual_length,
            0,
            number_of_packets,
            0,
            0,
            0,
        ],
    );
    out.extend_from_slice(data);
    out
}

/// A `USBIP_RET_UNLINK` answering the CMD_UNLINK `seqnum`.
pub fn ret_unlink(seqnum: u32, status: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    put(&mut out, &[RET_UNLINK, seqnum, 0, 0, 0, status as u32]);
    out.resize(HEADER_LEN, 0);
    out
}

/// The bytes of `cmd` as the host sends them (for tests and tools).
pub fn encode(cmd: &Command) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    match cmd {
        Command::Submit(s) => {
            let dir = u32::from(s.direction == Direction::In);
            put(
                &mut out,
                &[
                    CMD_SUBMIT,
                    s.seqnum,
                    s.devid,
                    dir,
                    s.ep,
                    s.transfer_flags,
                    s.transfer_buffer_length,
                    s.start_frame,
                    s.number_of_packets,
                    s.interval,
                ],
            );
            out.extend_from_slice(&s.setup);
            out.extend_from_slice(&s.data);
        }
        Command::Unlink(u) => {
            put(
                &mut out,
                &[CMD_UNLINK, u.seqnum, u.devid, 0, 0, u.unlink_seqnum],
            );
            out.resize(HEADER_LEN, 0);
        }
    }
    out
}

/// A header as 12 words of 8 hex digits (the layout of the kernel's protocol document).
pub fn header_words(h: &[u8]) -> String {
    h.chunks(4)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interrupt-IN CMD_SUBMIT of the kernel document's capture.
    const DOC_INTR_IN: &str = "00000001 00000d05 0001000f 00000001 00000001 00000200 \
                               00000040 ffffffff 00000000 00000004 00000000 00000000";

    fn bytes(words: &str) -> Vec<u8> {
        words
            .split_whitespace()
            .flat_map(|w| u32::from_str_radix(w, 16).unwrap().to_be_bytes())
            .collect()
    }

    #[test]
    fn the_kernel_documents_interrupt_in_submit() {
        let h: [u8; HEADER_LEN] = bytes(DOC_INTR_IN).try_into().unwrap();
        let (cmd, follows) = parse_header(&h).unwrap();
        assert_eq!(follows, 0, "IN: no data follows");
        let Command::Submit(s) = &cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(
            (s.seqnum, s.devid, s.direction, s.ep),
            (0xd05, 0x0001_000f, Direction::In, 1)
        );
        assert_eq!(
            (s.transfer_flags, s.transfer_buffer_length, s.start_frame),
            (0x200, 0x40, 0xffff_ffff)
        );
        assert_eq!((s.number_of_packets, s.interval), (0, 4));
        assert_eq!(encode(&cmd), h, "encodes back to the same bytes");
        assert_eq!(
            header_words(&h),
            DOC_INTR_IN.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn out_data_follows_a_submit_and_is_read_with_it() {
        let cmd = Command::Submit(Submit {
            seqnum: 7,
            devid: 0x0001_0002,
            direction: Direction::Out,
            ep: 0,
            transfer_flags: 0,
            transfer_buffer_length: 3,
            start_frame: 0,
            number_of_packets: 0,
            interval: 0,
            setup: [0x21, 0x09, 0x15, 0x03, 0, 0, 3, 0],
            data: vec![0x15, 0x14, 0x00],
        });
        let wire = encode(&cmd);
        assert_eq!(wire.len(), HEADER_LEN + 3);
        let mut r = &wire[..];
        let (got, h) = read_command(&mut r).unwrap().unwrap();
        assert_eq!(got, cmd);
        assert_eq!(h[..], wire[..HEADER_LEN]);
        assert!(read_command(&mut r).unwrap().is_none(), "clean end");
        // A stream cut inside a message is an error, not an end.
        let mut cut = &wire[..HEADER_LEN + 1];
        assert!(matches!(read_command(&mut cut), Err(Error::Connection(_))));
        let mut cut = &wire[..10];
        assert!(matches!(read_command(&mut cut), Err(Error::Connection(_))));
    }

    #[test]
    fn unlink_and_the_answers() {
        let h: [u8; HEADER_LEN] =
            bytes("00000002 00000009 00010002 00000000 00000000 00000005 0 0 0 0 0 0")
                .try_into()
                .unwrap();
        assert_eq!(
            parse_header(&h).unwrap().0,
            Command::Unlink(Unlink {
                seqnum: 9,
                devid: 0x0001_0002,
                unlink_seqnum: 5
            })
        );
        assert_eq!(
            header_words(&ret_unlink(9, status::UNLINKED)),
            "00000004 00000009 00000000 00000000 00000000 ffffff98 \
             00000000 00000000 00000000 00000000 00000000 00000000"
        );
        let ret = ret_submit(5, status::OK, 2, 0, &[0x0c, 0x64]);
        assert_eq!(
            header_words(&ret[..HEADER_LEN]),
            "00000003 00000005 00000000 00000000 00000000 00000000 \
             00000002 00000000 00000000 00000000 00000000 00000000"
        );
        assert_eq!(ret[HEADER_LEN..], [0x0c, 0x64]);
        assert_eq!(
            header_words(&ret_submit(6, status::STALL, 0, 0, &[])),
            "00000003 00000006 00000000 00000000 00000000 ffffffe0 \
             00000000 00000000 00000000 00000000 00000000 00000000"
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut h = [0u8; HEADER_LEN];
        h[3] = 3;
        assert!(matches!(parse_header(&h), Err(Error::UnknownCommand(3))));
        h[3] = 1;
        h[15] = 2;
        assert!(matches!(parse_header(&h), Err(Error::BadDirection(2))));
        h[15] = 0;
        h[24..28].copy_from_slice(&(MAX_OUT + 1).to_be_bytes());
        assert!(matches!(parse_header(&h), Err(Error::TooLong(_))));
        // IN: the length is the buffer's, nothing follows
        h[15] = 1;
        assert_eq!(parse_header(&h).unwrap().1, 0);
    }
}
