//! The USB descriptors of the emulated unit, built from its recording: a full-speed device with
//! one configuration holding one HID interface, as APC units present themselves.
//!
//! | descriptor | fields that come from the recording | fixed |
//! |---|---|---|
//! | device (18 bytes) | idVendor, idProduct, bcdDevice (0 when not recorded), iManufacturer, iProduct, iSerialNumber (`[usb.indices]`, 0 when absent) | bcdUSB 2.00, class 0/0/0, bMaxPacketSize0 64, one configuration |
//! | configuration | wTotalLength | value 1, self-powered with remote wakeup (0xe0), 2 mA |
//! | interface | bNumEndpoints (2 when the descriptor declares Output reports) | number 0, alternate 0, class 3 (HID), subclass 0, protocol 0 |
//! | HID (0x21) | wDescriptorLength (the report descriptor's length) | HID 1.10, country 0, one report descriptor |
//! | endpoints | | 0x81 interrupt IN, 64 bytes, 10 ms; 0x01 interrupt OUT likewise, only with Output reports (as the Smart-UPS X 750) |
//! | string 0 | | language 0x0409 (English, US) |
//! | string N | `[strings]` N, UTF-16LE | |

use std::collections::BTreeMap;

use nut_hid_recording::Usb;

/// Descriptor types (`wValue` high byte of GET_DESCRIPTOR).
pub mod kind {
    /// Device.
    pub const DEVICE: u8 = 1;
    /// Configuration.
    pub const CONFIGURATION: u8 = 2;
    /// String.
    pub const STRING: u8 = 3;
    /// Interface.
    pub const INTERFACE: u8 = 4;
    /// Endpoint.
    pub const ENDPOINT: u8 = 5;
    /// HID class descriptor.
    pub const HID: u8 = 0x21;
    /// HID report descriptor.
    pub const REPORT: u8 = 0x22;
}

/// `bMaxPacketSize0`.
pub const MAX_PACKET0: u8 = 64;
/// wMaxPacketSize of the interrupt endpoints.
pub const MAX_PACKET: u16 = 64;
/// The interrupt endpoints' bInterval (ms).
pub const INTERVAL: u8 = 10;
/// The IN endpoint.
pub const EP_IN: u8 = 0x81;
/// The OUT endpoint, when there is one.
pub const EP_OUT: u8 = 0x01;
/// The only configuration's value.
pub const CONFIG_VALUE: u8 = 1;
/// Configuration bmAttributes: self-powered, remote wakeup.
pub const CONFIG_ATTRIBUTES: u8 = 0xe0;
/// The language of every string (English, US).
pub const LANGID: u16 = 0x0409;
/// Most UTF-16 units a string descriptor holds (bLength is one byte).
pub const MAX_STRING_UNITS: usize = 126;

/// The 18-byte device descriptor of `usb`.
pub fn device(usb: &Usb) -> [u8; 18] {
    let [vl, vh] = usb.vendor_id.to_le_bytes();
    let [pl, ph] = usb.product_id.to_le_bytes();
    let [dl, dh] = usb.bcd_device.unwrap_or(0).to_le_bytes();
    let i = usb.indices;
    [
        18,
        kind::DEVICE,
        0x00,
        0x02, // bcdUSB 2.00
        0,
        0,
        0, // class, subclass, protocol: per interface
        MAX_PACKET0,
        vl,
        vh,
        pl,
        ph,
        dl,
        dh,
        i.manufacturer.unwrap_or(0),
        i.product.unwrap_or(0),
        i.serial.unwrap_or(0),
        1, // bNumConfigurations
    ]
}

/// The 9-byte HID descriptor for a report descriptor of `report_len` bytes.
pub fn hid(report_len: u16) -> [u8; 9] {
    let [ll, lh] = report_len.to_le_bytes();
    [9, kind::HID, 0x10, 0x01, 0, 1, kind::REPORT, ll, lh]
}

/// The whole configuration: configuration, interface, HID and endpoint descriptors.
pub fn configuration(report_len: u16, out_endpoint: bool) -> Vec<u8> {
    let endpoints: u8 = if out_endpoint { 2 } else { 1 };
    let mut c = vec![
        9,
        kind::CONFIGURATION,
        0,
        0, // wTotalLength, below
        1, // bNumInterfaces
        CONFIG_VALUE,
        0, // iConfiguration
        CONFIG_ATTRIBUTES,
        1, // bMaxPower: 2 mA
    ];
    c.extend_from_slice(&[9, kind::INTERFACE, 0, 0, endpoints, 3, 0, 0, 0]);
    c.extend_from_slice(&hid(report_len));
    let [ml, mh] = MAX_PACKET.to_le_bytes();
    c.extend_from_slice(&[7, kind::ENDPOINT, EP_IN, 3, ml, mh, INTERVAL]);
    if out_endpoint {
        c.extend_from_slice(&[7, kind::ENDPOINT, EP_OUT, 3, ml, mh, INTERVAL]);
    }
    let [tl, th] = (c.len() as u16).to_le_bytes();
    c[2] = tl;
    c[3] = th;
    c
}

/// String descriptor `index`: 0 is the language list, others come from `strings`.
pub fn string(index: u8, strings: &BTreeMap<u8, String>) -> Option<Vec<u8>> {
    if index == 0 {
        let [l, h] = LANGID.to_le_bytes();
        return Some(vec![4, kind::STRING, l, h]);
    }
    let s = strings.get(&index)?;
    let units: Vec<u16> = s.encode_utf16().take(MAX_STRING_UNITS).collect();
    let mut d = Vec::with_capacity(2 + 2 * units.len());
    d.push((2 + 2 * units.len()) as u8);
    d.push(kind::STRING);
    for u in units {
        d.extend_from_slice(&u.to_le_bytes());
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nut_hid_recording::Indices;

    fn bk650_usb() -> Usb {
        Usb {
            vendor_id: 0x051d,
            product_id: 0x0002,
            bcd_device: Some(0x0106),
            bus: None,
            port: None,
            indices: Indices {
                manufacturer: Some(1),
                product: Some(2),
                serial: Some(3),
            },
        }
    }

    #[test]
    fn device_descriptor_of_the_bk650m2() {
        assert_eq!(
            device(&bk650_usb()),
            [
                0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x1d, 0x05, 0x02, 0x00, 0x06, 0x01,
                0x01, 0x02, 0x03, 0x01
            ]
        );
        let mut usb = bk650_usb();
        usb.bcd_device = None;
        usb.indices = Indices::default();
        let d = device(&usb);
        assert_eq!(d[12..17], [0, 0, 0, 0, 0]);
    }

    #[test]
    fn configuration_with_and_without_an_out_endpoint() {
        assert_eq!(
            configuration(743, false),
            [
                0x09, 0x02, 0x22, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x01, // configuration
                0x09, 0x04, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, // interface
                0x09, 0x21, 0x10, 0x01, 0x00, 0x01, 0x22, 0xe7, 0x02, // HID, 743 bytes
                0x07, 0x05, 0x81, 0x03, 0x40, 0x00, 0x0a, // interrupt IN
            ]
        );
        let c = configuration(425, true);
        assert_eq!(c.len(), 41, "wTotalLength 0x0029, as the Smart-UPS X 750's");
        assert_eq!(c[2..4], [0x29, 0x00]);
        assert_eq!(c[13], 2, "two endpoints");
        assert_eq!(c[34..], [0x07, 0x05, 0x01, 0x03, 0x40, 0x00, 0x0a]);
    }

    #[test]
    fn strings_in_utf16() {
        let mut strings = BTreeMap::new();
        strings.insert(4, "PbAc".to_string());
        strings.insert(9, "é".repeat(200));
        assert_eq!(string(0, &strings).unwrap(), [0x04, 0x03, 0x09, 0x04]);
        assert_eq!(
            string(4, &strings).unwrap(),
            [0x0a, 0x03, b'P', 0, b'b', 0, b'A', 0, b'c', 0]
        );
        assert_eq!(string(5, &strings), None);
        let long = string(9, &strings).unwrap();
        assert_eq!(long.len(), 254, "cut to 126 units");
        assert_eq!(long[..4], [254, 3, 0xe9, 0x00]);
    }
}
