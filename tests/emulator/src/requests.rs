//! The control pipe of the emulated unit: USB standard requests and HID class requests,
//! answered from the unit's [`State`] and its descriptors ([`crate::descriptors`]).
//!
//! | request | answer |
//! |---|---|
//! | GET_DESCRIPTOR device, configuration, string N (any language) | the descriptor; a string index the unit lacks, or another type (device qualifier, BOS...), stalls |
//! | GET_DESCRIPTOR HID (0x21), report (0x22) on interface 0 | the HID descriptor, the recording's report descriptor byte for byte |
//! | SET_ADDRESS, SET_CONFIGURATION 0/1, GET_CONFIGURATION, SET_INTERFACE 0/0, GET_INTERFACE | as a device with one configuration and one interface |
//! | GET_STATUS (device, interface, endpoint), CLEAR_FEATURE / SET_FEATURE (remote wakeup, endpoint halt) | self-powered, remote wakeup as set; halts are acknowledged |
//! | GET_REPORT Feature / Input `id` | the unit's stored report; an id it has no answer for stalls, as a real unit does |
//! | SET_REPORT Feature `id`; Output `id` when the descriptor declares it | stored (and logged by the unit) |
//! | SET_IDLE, GET_IDLE, SET_PROTOCOL, GET_PROTOCOL | remembered, answered |
//! | anything else | stall |
//!
//! Every IN answer is cut to the request's `wLength` (and to the URB's buffer).

use nut_hid::ReportKind;
use nut_hid_sim::State;

use crate::descriptors::{self, kind};
use crate::faults::Request;

/// bRequest values.
mod req {
    pub(super) const GET_STATUS: u8 = 0x00;
    pub(super) const CLEAR_FEATURE: u8 = 0x01;
    pub(super) const SET_FEATURE: u8 = 0x03;
    pub(super) const SET_ADDRESS: u8 = 0x05;
    pub(super) const GET_DESCRIPTOR: u8 = 0x06;
    pub(super) const GET_CONFIGURATION: u8 = 0x08;
    pub(super) const SET_CONFIGURATION: u8 = 0x09;
    pub(super) const GET_INTERFACE: u8 = 0x0a;
    pub(super) const SET_INTERFACE: u8 = 0x0b;
    // HID class
    pub(super) const GET_REPORT: u8 = 0x01;
    pub(super) const GET_IDLE: u8 = 0x02;
    pub(super) const GET_PROTOCOL: u8 = 0x03;
    pub(super) const SET_REPORT: u8 = 0x09;
    pub(super) const SET_IDLE: u8 = 0x0a;
    pub(super) const SET_PROTOCOL: u8 = 0x0b;
}

/// Feature selectors.
const DEVICE_REMOTE_WAKEUP: u16 = 1;
const ENDPOINT_HALT: u16 = 0;

/// A control request's setup packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// bmRequestType.
    pub request_type: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength.
    pub length: u16,
}

impl Setup {
    /// The 8 bytes of a setup packet (little-endian words).
    pub fn parse(b: [u8; 8]) -> Setup {
        Setup {
            request_type: b[0],
            request: b[1],
            value: u16::from_le_bytes([b[2], b[3]]),
            index: u16::from_le_bytes([b[4], b[5]]),
            length: u16::from_le_bytes([b[6], b[7]]),
        }
    }

    fn class(&self) -> bool {
        self.request_type & 0x60 == 0x20
    }

    fn report_kind(&self) -> Option<ReportKind> {
        match self.value >> 8 {
            1 => Some(ReportKind::Input),
            2 => Some(ReportKind::Output),
            3 => Some(ReportKind::Feature),
            _ => None,
        }
    }

    fn report_id(&self) -> u8 {
        (self.value & 0xff) as u8
    }

    /// What the faults see of this request.
    pub fn request(&self) -> Request {
        match (self.class(), self.request) {
            (true, req::GET_REPORT) if self.request_type & 0x80 != 0 => {
                Request::GetReport(self.report_id())
            }
            (true, req::SET_REPORT) if self.request_type & 0x80 == 0 => {
                Request::SetReport(self.report_id())
            }
            (false, req::GET_DESCRIPTOR) => Request::GetDescriptor,
            _ => Request::OtherControl,
        }
    }

    /// The request in words, for the log: `GET_REPORT Feature 0x0c len 2`.
    pub fn describe(&self) -> String {
        let (v, i, l) = (self.value, self.index, self.length);
        let kind_name = |k: Option<ReportKind>| k.map_or("?", ReportKind::name);
        match (self.class(), self.request) {
            (false, req::GET_DESCRIPTOR) => {
                let index = v & 0xff;
                match (v >> 8) as u8 {
                    kind::DEVICE => format!("GET_DESCRIPTOR Device len {l}"),
                    kind::CONFIGURATION => format!("GET_DESCRIPTOR Configuration {index} len {l}"),
                    kind::STRING => {
                        format!("GET_DESCRIPTOR String {index} lang 0x{i:04x} len {l}")
                    }
                    kind::HID => format!("GET_DESCRIPTOR HID interface {i} len {l}"),
                    kind::REPORT => format!("GET_DESCRIPTOR Report interface {i} len {l}"),
                    t => format!("GET_DESCRIPTOR type 0x{t:02x} index {index} len {l}"),
                }
            }
            (false, req::GET_STATUS) => format!("GET_STATUS {} len {l}", recipient(self)),
            (false, req::CLEAR_FEATURE) => {
                format!("CLEAR_FEATURE {} {v} index {i}", recipient(self))
            }
            (false, req::SET_FEATURE) => format!("SET_FEATURE {} {v} index {i}", recipient(self)),
            (false, req::SET_ADDRESS) => format!("SET_ADDRESS {v}"),
            (false, req::GET_CONFIGURATION) => format!("GET_CONFIGURATION len {l}"),
            (false, req::SET_CONFIGURATION) => format!("SET_CONFIGURATION {v}"),
            (false, req::GET_INTERFACE) => format!("GET_INTERFACE {i} len {l}"),
            (false, req::SET_INTERFACE) => format!("SET_INTERFACE {i} alt {v}"),
            (true, req::GET_REPORT) => format!(
                "GET_REPORT {} 0x{:02x} len {l}",
                kind_name(self.report_kind()),
                self.report_id()
            ),
            (true, req::SET_REPORT) => format!(
                "SET_REPORT {} 0x{:02x} len {l}",
                kind_name(self.report_kind()),
                self.report_id()
            ),
            (true, req::GET_IDLE) => format!("GET_IDLE report {} len {l}", v & 0xff),
            (true, req::SET_IDLE) => format!("SET_IDLE {} report {}", v >> 8, v & 0xff),
            (true, req::GET_PROTOCOL) => format!("GET_PROTOCOL len {l}"),
            (true, req::SET_PROTOCOL) => format!("SET_PROTOCOL {v}"),
            _ => format!(
                "request type 0x{:02x} request 0x{:02x} value 0x{v:04x} index 0x{i:04x} len {l}",
                self.request_type, self.request
            ),
        }
    }
}

fn recipient(s: &Setup) -> &'static str {
    match s.request_type & 0x1f {
        0 => "device",
        1 => "interface",
        2 => "endpoint",
        _ => "other",
    }
}

/// The answer to a control request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// IN data (already cut to `wLength`).
    In(Vec<u8>),
    /// An OUT request (or one without data) accepted.
    Ack,
    /// A stall.
    Stall,
}

/// The USB-level state of the emulated device (what SET_CONFIGURATION, SET_IDLE... set).
#[derive(Debug, Clone)]
pub struct Device {
    configuration: u8,
    idle: u8,
    protocol: u8,
    remote_wakeup: bool,
    out_endpoint: bool,
    output_ids: Vec<u8>,
}

impl Device {
    /// A device whose descriptor declares Output reports `output_ids` (then it has an
    /// interrupt OUT endpoint).
    pub fn new(output_ids: Vec<u8>) -> Device {
        Device {
            configuration: 0,
            idle: 0,
            protocol: 1,
            remote_wakeup: false,
            out_endpoint: !output_ids.is_empty(),
            output_ids,
        }
    }

    /// Back to the state of a device just plugged in.
    pub fn reset(&mut self) {
        *self = Device::new(std::mem::take(&mut self.output_ids));
    }

    /// Whether the device has an interrupt OUT endpoint.
    pub fn out_endpoint(&self) -> bool {
        self.out_endpoint
    }

    /// Whether Output report `id` is declared.
    pub fn declares_output(&self, id: u8) -> bool {
        self.output_ids.contains(&id)
    }

    /// Answers `setup` (with its OUT `data`) from `unit`; `max` is the URB's buffer size.
    pub fn control(&mut self, unit: &mut State, setup: &Setup, data: &[u8], max: usize) -> Answer {
        let cut = |mut v: Vec<u8>| {
            v.truncate(usize::from(setup.length).min(max));
            Answer::In(v)
        };
        let (t, v, i) = (setup.request_type, setup.value, setup.index);
        match (t, setup.request) {
            (0x80, req::GET_STATUS) => cut(vec![1 | (u8::from(self.remote_wakeup) << 1), 0]),
            (0x81, req::GET_STATUS) if i == 0 => cut(vec![0, 0]),
            (0x82, req::GET_STATUS) if self.endpoint(i) => cut(vec![0, 0]),
            (0x00, req::CLEAR_FEATURE | req::SET_FEATURE) if v == DEVICE_REMOTE_WAKEUP => {
                self.remote_wakeup = setup.request == req::SET_FEATURE;
                Answer::Ack
            }
            (0x02, req::CLEAR_FEATURE | req::SET_FEATURE)
                if v == ENDPOINT_HALT && self.endpoint(i) =>
            {
                Answer::Ack
            }
            (0x00, req::SET_ADDRESS) => Answer::Ack,
            (0x80 | 0x81, req::GET_DESCRIPTOR) => {
                self.descriptor(unit, setup).map_or(Answer::Stall, cut)
            }
            (0x80, req::GET_CONFIGURATION) => cut(vec![self.configuration]),
            (0x00, req::SET_CONFIGURATION) if v <= u16::from(descriptors::CONFIG_VALUE) => {
                self.configuration = v as u8;
                Answer::Ack
            }
            (0x81, req::GET_INTERFACE) if i == 0 => cut(vec![0]),
            (0x01, req::SET_INTERFACE) if i == 0 && v == 0 => Answer::Ack,
            (0xa1, req::GET_REPORT) if i == 0 => {
                let Some(kind) = setup.report_kind().filter(|k| *k != ReportKind::Output) else {
                    return Answer::Stall;
                };
                let len = usize::from(setup.length).min(max);
                if len == 0 {
                    return Answer::In(Vec::new());
                }
                unit.get_report(kind, setup.report_id(), len)
                    .map_or(Answer::Stall, cut)
            }
            (0x21, req::SET_REPORT) if i == 0 => {
                let kind = match setup.report_kind() {
                    Some(ReportKind::Feature) => ReportKind::Feature,
                    Some(ReportKind::Output) if self.declares_output(setup.report_id()) => {
                        ReportKind::Output
                    }
                    _ => return Answer::Stall,
                };
                match unit.set_report(kind, data) {
                    Ok(()) => Answer::Ack,
                    Err(_) => Answer::Stall,
                }
            }
            (0xa1, req::GET_IDLE) if i == 0 => cut(vec![self.idle]),
            (0x21, req::SET_IDLE) if i == 0 => {
                self.idle = (v >> 8) as u8;
                Answer::Ack
            }
            (0xa1, req::GET_PROTOCOL) if i == 0 => cut(vec![self.protocol]),
            (0x21, req::SET_PROTOCOL) if i == 0 && v <= 1 => {
                self.protocol = v as u8;
                Answer::Ack
            }
            _ => Answer::Stall,
        }
    }

    /// Whether `index` (wIndex of an endpoint request) names an endpoint of the device.
    fn endpoint(&self, index: u16) -> bool {
        match index & 0xff {
            0x00 | 0x80 => true,
            e if e == u16::from(descriptors::EP_IN) => true,
            e => self.out_endpoint && e == u16::from(descriptors::EP_OUT),
        }
    }

    fn descriptor(&self, unit: &State, setup: &Setup) -> Option<Vec<u8>> {
        let replay = unit.replay();
        let index = (setup.value & 0xff) as u8;
        let interface = setup.request_type == 0x81;
        let report_len = u16::try_from(replay.descriptor().len()).unwrap_or(u16::MAX);
        match ((setup.value >> 8) as u8, interface) {
            (kind::DEVICE, false) if index == 0 => Some(descriptors::device(replay.usb()).to_vec()),
            (kind::CONFIGURATION, false) if index == 0 => {
                Some(descriptors::configuration(report_len, self.out_endpoint))
            }
            (kind::STRING, false) => descriptors::string(index, replay.strings()),
            (kind::HID, _) if setup.index == 0 => Some(descriptors::hid(report_len).to_vec()),
            (kind::REPORT, _) if setup.index == 0 => Some(replay.descriptor().to_vec()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_packets_parse_and_read_as_the_log_prints_them() {
        let s = Setup::parse([0xa1, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x02, 0x00]);
        assert_eq!(
            s,
            Setup {
                request_type: 0xa1,
                request: 1,
                value: 0x030c,
                index: 0,
                length: 2
            }
        );
        assert_eq!(s.describe(), "GET_REPORT Feature 0x0c len 2");
        assert_eq!(s.request(), Request::GetReport(0x0c));
        let cases: [([u8; 8], &str, Request); 8] = [
            (
                [0x80, 6, 0, 1, 0, 0, 64, 0],
                "GET_DESCRIPTOR Device len 64",
                Request::GetDescriptor,
            ),
            (
                [0x80, 6, 3, 3, 0x09, 0x04, 0xff, 0],
                "GET_DESCRIPTOR String 3 lang 0x0409 len 255",
                Request::GetDescriptor,
            ),
            (
                [0x81, 6, 0, 0x22, 0, 0, 0xe7, 2],
                "GET_DESCRIPTOR Report interface 0 len 743",
                Request::GetDescriptor,
            ),
            (
                [0, 9, 1, 0, 0, 0, 0, 0],
                "SET_CONFIGURATION 1",
                Request::OtherControl,
            ),
            (
                [0x21, 0x0a, 0, 0, 0, 0, 0, 0],
                "SET_IDLE 0 report 0",
                Request::OtherControl,
            ),
            (
                [0x21, 9, 0x15, 3, 0, 0, 3, 0],
                "SET_REPORT Feature 0x15 len 3",
                Request::SetReport(0x15),
            ),
            (
                [0x02, 1, 0, 0, 0x81, 0, 0, 0],
                "CLEAR_FEATURE endpoint 0 index 129",
                Request::OtherControl,
            ),
            (
                [0xc0, 0x33, 1, 0, 2, 0, 4, 0],
                "request type 0xc0 request 0x33 value 0x0001 index 0x0002 len 4",
                Request::OtherControl,
            ),
        ];
        for (bytes, text, r) in cases {
            let s = Setup::parse(bytes);
            assert_eq!(s.describe(), text);
            assert_eq!(s.request(), r, "{text}");
        }
    }
}
