//! What the unit tests share about the Back-UPS BK650M2-CH the recordings come from: its
//! recording (`tests/data`) and its identity as Linux shows it on the bus.

use crate::device::Identity;

/// The BK650M2-CH recording.
pub(crate) const BK650: &str = include_str!("../tests/data/back-ups-bk650m2-ch.recording.toml");

/// The BK650M2-CH on port 1-4 (bus 1, device 4), with the product string its firmware gives
/// and the serial number trimmed.
pub(crate) fn bk650m2() -> Identity {
    Identity {
        vendor_id: 0x051d,
        product_id: 0x0002,
        bcd_device: Some(0x0106),
        manufacturer: Some("American Power Conversion".into()),
        product: Some("Back-UPS BK650M2-CH FW:294803G -292804G ".into()),
        serial: Some("9B2019A14274".into()),
        bus: Some("001".into()),
        device: Some("004".into()),
        port: Some("1-4".into()),
    }
}
