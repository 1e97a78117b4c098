//! What the kernel asks a new full-speed device, in its order (the probe on a real guest saw
//! these 12 requests), and what the BK650M2-CH answers, byte for byte.

use ups_emulator::usbip::status;

use crate::common::{ret_bytes, Rig, BK650};

/// `s` as a string descriptor.
fn string_desc(s: &str) -> Vec<u8> {
    let mut d = vec![(2 + 2 * s.len()) as u8, 3];
    for u in s.encode_utf16() {
        d.extend_from_slice(&u.to_le_bytes());
    }
    d
}

const DEVICE: [u8; 18] = [
    0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x1d, 0x05, 0x02, 0x00, 0x06, 0x01, 0x01, 0x02,
    0x03, 0x01,
];

const CONFIG: [u8; 34] = [
    0x09, 0x02, 0x22, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x01, 0x09, 0x04, 0x00, 0x00, 0x01, 0x03, 0x00,
    0x00, 0x00, 0x09, 0x21, 0x10, 0x01, 0x00, 0x01, 0x22, 0xe7, 0x02, 0x07, 0x05, 0x81, 0x03, 0x40,
    0x00, 0x0a,
];

#[test]
fn the_kernels_enumeration_of_the_bk650m2() {
    let rec = nut_hid_recording::Recording::parse(BK650, "bk650").unwrap();
    let mut r = Rig::new("");
    // GET_DESCRIPTOR(Device) for 64 bytes at address 0: the 18 there are
    r.control(1, [0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x40, 0x00], &[]);
    let got = r.ret(true);
    assert_eq!(got.bytes, ret_bytes(1, status::OK, 18, &DEVICE));
    // (SET_ADDRESS never reaches the device: vhci-hcd answers it itself)
    r.control(2, [0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00], &[]);
    assert_eq!(r.ret(true).bytes, ret_bytes(2, status::OK, 18, &DEVICE));
    // configuration: 9 bytes, then wTotalLength
    r.control(3, [0x80, 0x06, 0x00, 0x02, 0x00, 0x00, 0x09, 0x00], &[]);
    assert_eq!(r.ret(true).bytes, ret_bytes(3, status::OK, 9, &CONFIG[..9]));
    r.control(4, [0x80, 0x06, 0x00, 0x02, 0x00, 0x00, 0x22, 0x00], &[]);
    assert_eq!(r.ret(true).bytes, ret_bytes(4, status::OK, 34, &CONFIG));
    // strings: the language list, then product, manufacturer, serial in English (US)
    r.control(5, [0x80, 0x06, 0x00, 0x03, 0x00, 0x00, 0xff, 0x00], &[]);
    assert_eq!(
        r.ret(true).bytes,
        ret_bytes(5, status::OK, 4, &[0x04, 0x03, 0x09, 0x04])
    );
    for (seq, index, text) in [
        (6, 2, "BK650M2-CH"),
        (7, 1, "American Power Conversion"),
        (8, 3, "9B2019A14274"),
    ] {
        r.control(seq, [0x80, 0x06, index, 0x03, 0x09, 0x04, 0xff, 0x00], &[]);
        let d = string_desc(text);
        assert_eq!(
            r.ret(true).bytes,
            ret_bytes(seq, status::OK, d.len() as u32, &d),
            "{text}"
        );
    }
    // SET_CONFIGURATION 1: OUT without data
    r.control(9, [0x00, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00], &[]);
    assert_eq!(r.ret(false).bytes, ret_bytes(9, status::OK, 0, &[]));
    // usbhid: SET_IDLE 0, then the report descriptor by its length in the HID descriptor
    r.control(10, [0x21, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], &[]);
    assert_eq!(r.ret(false).bytes, ret_bytes(10, status::OK, 0, &[]));
    r.control(11, [0x81, 0x06, 0x00, 0x22, 0x00, 0x00, 0xe7, 0x02], &[]);
    let got = r.ret(true);
    assert_eq!(got.actual, 743);
    assert_eq!(
        got.data, rec.descriptor,
        "the recording's descriptor, byte for byte"
    );
    // the log has every request, bytes first
    let log = r.log();
    assert_eq!(
        log[0],
        "CMD_SUBMIT 00000001 00000001 00010002 00000001 00000000 00000200 00000040 \
         00000000 00000000 00000000 80060001 00004000"
    );
    assert_eq!(
        log[1],
        "#1 GET_DESCRIPTOR Device len 64 -> 12 01 00 02 00 00 00 40 1d 05 02 00 06 01 01 02 03 01"
    );
    assert!(
        log.contains(&"#9 SET_CONFIGURATION 1 -> ok".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"#10 SET_IDLE 0 report 0 -> ok".to_string()),
        "{log:?}"
    );
    assert!(log.iter().any(
        |l| l.starts_with("#11 GET_DESCRIPTOR Report interface 0 len 743 -> 05 84 09 04 a1 01")
    ));
    assert_eq!(log.len(), 22, "11 requests, 2 lines each: {log:#?}");
    assert_eq!(r.finish().unwrap(), ups_emulator::server::Ended::Stopped);
}

#[test]
fn what_the_unit_does_not_have_stalls_and_lengths_are_honoured() {
    let mut r = Rig::new("");
    // string 4 is the battery chemistry, 6 does not exist
    r.control(1, [0x80, 0x06, 0x04, 0x03, 0x09, 0x04, 0xff, 0x00], &[]);
    assert_eq!(r.ret(true).data, string_desc("PbAc"));
    r.control(2, [0x80, 0x06, 0x06, 0x03, 0x09, 0x04, 0xff, 0x00], &[]);
    assert_eq!(r.ret(true).bytes, ret_bytes(2, status::STALL, 0, &[]));
    // a full-speed-only device has no device qualifier; BOS neither
    r.control(3, [0x80, 0x06, 0x00, 0x06, 0x00, 0x00, 0x0a, 0x00], &[]);
    assert_eq!(r.ret(true).status, status::STALL);
    r.control(4, [0x80, 0x06, 0x00, 0x0f, 0x00, 0x00, 0x05, 0x00], &[]);
    assert_eq!(r.ret(true).status, status::STALL);
    // wLength shorter than the descriptor: cut
    r.control(5, [0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00], &[]);
    assert_eq!(r.ret(true).bytes, ret_bytes(5, status::OK, 8, &DEVICE[..8]));
    // HID descriptor on the interface
    r.control(6, [0x81, 0x06, 0x00, 0x21, 0x00, 0x00, 0x09, 0x00], &[]);
    assert_eq!(r.ret(true).data, CONFIG[18..27]);
    // GET_STATUS, GET_CONFIGURATION, SET_INTERFACE, CLEAR_FEATURE(halt) of the IN endpoint
    r.control(7, [0x80, 0x00, 0, 0, 0, 0, 2, 0], &[]);
    assert_eq!(r.ret(true).data, [0x01, 0x00]);
    r.control(8, [0x80, 0x08, 0, 0, 0, 0, 1, 0], &[]);
    assert_eq!(r.ret(true).data, [0x00], "not configured yet");
    r.control(9, [0x00, 0x09, 1, 0, 0, 0, 0, 0], &[]);
    r.ret(false);
    r.control(10, [0x80, 0x08, 0, 0, 0, 0, 1, 0], &[]);
    assert_eq!(r.ret(true).data, [0x01]);
    r.control(11, [0x01, 0x0b, 0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.ret(false).status, status::OK);
    r.control(12, [0x02, 0x01, 0, 0, 0x81, 0, 0, 0], &[]);
    assert_eq!(r.ret(false).status, status::OK);
    // an endpoint it does not have, an alternate setting it does not have, SET_CONFIGURATION 2
    r.control(13, [0x02, 0x01, 0, 0, 0x02, 0, 0, 0], &[]);
    assert_eq!(r.ret(false).status, status::STALL);
    r.control(14, [0x01, 0x0b, 1, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.ret(false).status, status::STALL);
    r.control(15, [0x00, 0x09, 2, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.ret(false).status, status::STALL);
    // a vendor request
    r.control(16, [0xc0, 0x33, 0, 0, 0, 0, 4, 0], &[]);
    assert_eq!(r.ret(true).bytes, ret_bytes(16, status::STALL, 0, &[]));
    // HID idle and protocol
    r.control(17, [0x21, 0x0a, 0, 0x7d, 0, 0, 0, 0], &[]);
    r.ret(false);
    r.control(18, [0xa1, 0x02, 0, 0, 0, 0, 1, 0], &[]);
    assert_eq!(r.ret(true).data, [0x7d]);
    r.control(19, [0x21, 0x0b, 0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.ret(false).status, status::OK);
    r.control(20, [0xa1, 0x03, 0, 0, 0, 0, 1, 0], &[]);
    assert_eq!(r.ret(true).data, [0x00]);
    // an endpoint the device does not have
    r.send(&ups_emulator::usbip::Command::Submit(
        ups_emulator::usbip::Submit {
            seqnum: 21,
            devid: crate::common::DEVID,
            direction: ups_emulator::usbip::Direction::In,
            ep: 3,
            transfer_flags: 0,
            transfer_buffer_length: 8,
            start_frame: 0,
            number_of_packets: 0,
            interval: 0,
            setup: [0; 8],
            data: Vec::new(),
        },
    ));
    assert_eq!(r.ret(true).bytes, ret_bytes(21, status::STALL, 0, &[]));
}
