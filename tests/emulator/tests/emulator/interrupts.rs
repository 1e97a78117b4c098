//! Interrupt-IN URBs: held until the unit has a report (the recording's `[[interrupt]]`
//! entries, a scenario event), completed with it; unlinked while held.

use ups_emulator::ctl;
use ups_emulator::usbip::status;

use crate::common::{ret_bytes, Rig};

/// The mains loss on held interrupt URBs `seq` and `seq + 1`: the changed PresentStatus
/// report, then PowerSummary's ACPresent.
fn expect_mains_lost(r: &mut Rig, seq: u32) {
    assert_eq!(
        r.ret(true).bytes,
        ret_bytes(seq, status::OK, 3, &[0x16, 0x0a, 0x00])
    );
    assert_eq!(
        r.ret(true).bytes,
        ret_bytes(seq + 1, status::OK, 2, &[0x13, 0x00])
    );
}

const MAINS_LOST_AT_5S: &str = r#"
[[event]]
at_s = 5
set = { "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.ACPresent" = 0 }
interrupt = true
"#;

#[test]
fn an_interrupt_urb_is_held_until_the_unit_has_a_report() {
    let mut r = Rig::new(MAINS_LOST_AT_5S);
    r.interrupt_in(1, 64);
    r.silent(120);
    // the recording's first interrupt report is due 103 ms after the start
    r.at_ms(103);
    assert_eq!(
        r.ret(true).bytes,
        ret_bytes(1, status::OK, 3, &[0x16, 0x0e, 0x00])
    );
    // the next two (271 and 431 ms), one URB each
    r.at_ms(500);
    r.interrupt_in(2, 64);
    assert_eq!(r.ret(true).data, [0x0c, 0x64]);
    r.interrupt_in(3, 64);
    assert_eq!(r.ret(true).data, [0x16, 0x0e, 0x00]);
    // the scenario's event at 5 s: both changed Input reports, in the order of `set`
    r.interrupt_in(4, 64);
    r.interrupt_in(5, 8);
    r.silent(120);
    r.at_ms(5000);
    expect_mains_lost(&mut r, 4);
    // and GET_REPORT reads the new state
    assert_eq!(r.get_report(6, 0x16, 3).data, [0x16, 0x0a, 0x00]);
    let log = r.log();
    assert!(
        log.contains(&"#1 INTERRUPT IN len 64 -> pending".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"#1 INTERRUPT IN -> 16 0e 00".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"#5 INTERRUPT IN -> 13 00".to_string()),
        "{log:#?}"
    );
}

#[test]
fn a_report_longer_than_the_urb_is_cut_to_it() {
    let mut r = Rig::new("");
    r.interrupt_in(1, 2);
    r.at_ms(103);
    assert_eq!(
        r.ret(true).bytes,
        ret_bytes(1, status::OK, 2, &[0x16, 0x0e])
    );
}

#[test]
fn unlinking_a_held_urb() {
    let mut r = Rig::new("");
    r.interrupt_in(1, 64);
    r.unlink(2, 1);
    let (seq, st, _) = r.ret_unlink();
    assert_eq!((seq, st), (2, status::UNLINKED));
    // the report it would have had goes to the next URB; the unlinked one never completes
    r.at_ms(103);
    r.silent(120);
    r.interrupt_in(3, 64);
    assert_eq!(
        r.ret(true).bytes,
        ret_bytes(3, status::OK, 3, &[0x16, 0x0e, 0x00])
    );
    // an unlink of an URB that was answered
    r.unlink(4, 3);
    assert_eq!(r.ret_unlink().1, status::OK);
}

#[test]
fn interrupt_faults() {
    let mut r = Rig::new("");
    assert_eq!(
        ctl::answer("timeout interrupt", &r.unit, &r.shared),
        "ok timeout interrupt"
    );
    r.interrupt_in(1, 64);
    r.at_ms(1000);
    r.silent(150);
    ctl::answer("clear", &r.unit, &r.shared);
    assert_eq!(r.ret(true).data, [0x16, 0x0e, 0x00]);
    ctl::answer("stall interrupt times 1", &r.unit, &r.shared);
    r.interrupt_in(2, 64);
    assert_eq!(r.ret(true).bytes, ret_bytes(2, status::STALL, 0, &[]));
    r.interrupt_in(3, 64);
    assert_eq!(r.ret(true).data, [0x0c, 0x64]);
}

#[test]
fn mains_off_and_on_announce_themselves_on_the_interrupt_pipe() {
    let mut r = Rig::new("");
    r.at_ms(500);
    // the recording's three interrupt reports first
    for seq in 1..=3 {
        r.interrupt_in(seq, 64);
        r.ret(true);
    }
    r.interrupt_in(4, 64);
    r.interrupt_in(5, 64);
    r.silent(120);
    assert_eq!(ctl::answer("mains off", &r.unit, &r.shared), "ok mains off");
    // as the scenario sends them
    expect_mains_lost(&mut r, 4);
    assert!(ctl::status(&r.unit, &r.shared).contains(" output=on mains=no "));
    assert_eq!(r.get_report(6, 0x16, 3).data, [0x16, 0x0a, 0x00]);
    r.interrupt_in(7, 64);
    r.interrupt_in(8, 64);
    assert_eq!(ctl::answer("mains on", &r.unit, &r.shared), "ok mains on");
    assert_eq!(r.ret(true).data, [0x16, 0x0d, 0x00]);
    assert_eq!(r.ret(true).data, [0x13, 0x01]);
    assert!(ctl::status(&r.unit, &r.shared).contains(" mains=yes "));
}
