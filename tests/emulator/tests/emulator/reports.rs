//! GET_REPORT and SET_REPORT on the control pipe, the faults set through the control commands,
//! and the logs of both.

use ups_emulator::ctl;
use ups_emulator::server::Ended;
use ups_emulator::usbip::{header_words, status};

use crate::common::{ret_bytes, Rig};

#[test]
fn get_report_answers_as_recorded() {
    let mut r = Rig::new("");
    let got = r.get_report(5, 0x0c, 2);
    assert_eq!(
        header_words(&got.bytes[..48]),
        "00000003 00000005 00000000 00000000 00000000 00000000 00000002 00000000 00000000 \
         00000000 00000000 00000000"
    );
    assert_eq!(got.bytes[48..], [0x0c, 0x64]);
    // asked for less: cut; asked for more: the recorded answer as it is
    assert_eq!(
        r.get_report(6, 0x0f, 2).bytes,
        ret_bytes(6, status::OK, 2, &[0x0f, 0x22])
    );
    assert_eq!(r.get_report(7, 0x0f, 64).data, [0x0f, 0x22, 0x0e]);
    // an id the recording lacks stalls, as the unit does
    assert_eq!(
        r.get_report(8, 0x99, 8).bytes,
        ret_bytes(8, status::STALL, 0, &[])
    );
    // Input reports: none recorded for this unit
    r.control(9, [0xa1, 0x01, 0x0c, 0x01, 0, 0, 2, 0], &[]);
    assert_eq!(r.ret(true).status, status::STALL);
    // wLength 0
    assert_eq!(
        r.get_report(10, 0x0c, 0).bytes,
        ret_bytes(10, status::OK, 0, &[])
    );
    let log = r.log();
    assert_eq!(log[1], "#5 GET_REPORT Feature 0x0c len 2 -> 0c 64");
    assert_eq!(log[7], "#8 GET_REPORT Feature 0x99 len 8 -> stall");
    assert_eq!(log[9], "#9 GET_REPORT Input 0x0c len 2 -> stall");
    assert_eq!(log[11], "#10 GET_REPORT Feature 0x0c len 0 -> (empty)");
}

#[test]
fn set_report_is_stored_logged_and_counts_down() {
    let mut r = Rig::new("");
    r.at_ms(1000);
    let got = r.set_report(3, &[0x15, 0x14, 0x00]);
    assert_eq!(
        got.bytes,
        ret_bytes(3, status::OK, 3, &[]),
        "OUT: actual_length, no data"
    );
    assert_eq!(r.get_report(4, 0x15, 3).data, [0x15, 0x14, 0x00]);
    r.at_ms(4000);
    assert_eq!(
        r.get_report(5, 0x15, 3).data,
        [0x15, 0x11, 0x00],
        "3 s later"
    );
    // the 24 bytes NUT 2.8.0 sends for shutdown.reboot
    let mut reboot = vec![0u8; 24];
    reboot[..2].copy_from_slice(&[0x40, 0x0a]);
    assert_eq!(r.set_report(6, &reboot).actual, 24);
    // SET_REPORT Output: this unit declares none
    r.control(7, [0x21, 0x09, 0x90, 0x02, 0, 0, 2, 0], &[0x90, 0x01]);
    assert_eq!(r.ret(false).bytes, ret_bytes(7, status::STALL, 0, &[]));
    assert_eq!(
        r.simlog(),
        [
            "SET_REPORT 0x15 15 14 00".to_string(),
            format!("SET_REPORT 0x40 40 0a {}", ["00"; 22].join(" ")),
        ]
    );
    let log = r.log();
    assert_eq!(log[1], "OUT 15 14 00");
    assert_eq!(log[2], "#3 SET_REPORT Feature 0x15 len 3 -> ok");
    // On mains the reboot turns the output off and on 10 s later, the unit stays on the bus.
    r.at_ms(14_000);
    assert_eq!(r.get_report(8, 0x40, 2).data, [0x40, 0x00]);
    assert_eq!(r.simlog()[2..], ["OUTPUT OFF", "OUTPUT ON"]);
    assert_eq!(r.finish().unwrap(), Ended::Stopped);
}

#[test]
fn faults_from_the_control_commands() {
    let mut r = Rig::new("");
    let (unit, shared) = (r.unit.clone(), r.shared.clone());
    let cmd = |line: &str| ctl::answer(line, &unit, &shared);
    assert_eq!(
        cmd("stall get_report 0x0c times 1"),
        "ok stall get_report 0x0c (1 left)"
    );
    assert_eq!(
        r.get_report(1, 0x0c, 2).bytes,
        ret_bytes(1, status::STALL, 0, &[])
    );
    assert_eq!(r.get_report(2, 0x0c, 2).data, [0x0c, 0x64], "once only");
    assert_eq!(cmd("short 0x0f 1"), "ok short 0x0f 1");
    assert_eq!(
        r.get_report(3, 0x0f, 3).bytes,
        ret_bytes(3, status::OK, 1, &[0x0f])
    );
    assert_eq!(cmd("error 0x15"), "ok error 0x15");
    assert_eq!(
        r.set_report(4, &[0x15, 0x14, 0x00]).bytes,
        ret_bytes(4, -71, 0, &[])
    );
    assert_eq!(r.get_report(5, 0x15, 3).status, -71);
    assert!(
        r.simlog().is_empty(),
        "a failed SET_REPORT never reached the unit"
    );
    assert_eq!(
        cmd("status"),
        "present=yes attached=no output=on mains=yes serial=9B2019A14274 \
         faults=short 0x0f 1; error 0x15"
    );
    assert_eq!(cmd("clear"), "ok cleared");
    assert_eq!(r.get_report(6, 0x0f, 3).data, [0x0f, 0x22, 0x0e]);
    // a timeout: no answer until the host gives up and unlinks
    assert_eq!(cmd("timeout get_report"), "ok timeout get_report");
    r.control(7, [0xa1, 0x01, 0x0c, 0x03, 0, 0, 2, 0], &[]);
    r.silent(150);
    r.unlink(8, 7);
    let (seq, st, h) = r.ret_unlink();
    assert_eq!((seq, st), (8, status::UNLINKED));
    assert_eq!(
        header_words(&h),
        "00000004 00000008 00000000 00000000 00000000 ffffff98 00000000 00000000 00000000 \
         00000000 00000000 00000000"
    );
    cmd("clear");
    // an unlink of an URB already answered
    r.get_report(9, 0x0c, 2);
    r.unlink(10, 9);
    assert_eq!(r.ret_unlink().1, 0);
    let log = r.log();
    assert!(log.contains(&"#1 GET_REPORT Feature 0x0c len 2 -> stall (injected)".to_string()));
    assert!(log.contains(&"#3 GET_REPORT Feature 0x0f len 3 -> 0f (injected short)".to_string()));
    assert!(log.contains(&"#4 SET_REPORT Feature 0x15 len 3 -> -EPROTO (injected)".to_string()));
    assert!(
        log.contains(&"#7 GET_REPORT Feature 0x0c len 2 -> held (injected timeout)".to_string())
    );
    assert!(log.contains(&"#8 UNLINK #7 -> -ECONNRESET".to_string()));
    assert!(log.contains(&"#10 UNLINK #9 -> 0 (already answered)".to_string()));
    assert!(log.contains(
        &"CMD_UNLINK 00000002 0000000a 00010002 00000000 00000000 00000009 00000000 00000000 \
          00000000 00000000 00000000 00000000"
            .to_string()
    ));
    // bad commands say why
    assert!(cmd("stall everything").starts_with("error: "));
}

#[test]
fn unplug_and_replug_end_the_connection() {
    let mut r = Rig::new("");
    let (unit, shared) = (r.unit.clone(), r.shared.clone());
    assert_eq!(ctl::answer("unplug", &unit, &shared), "ok unplugged");
    assert_eq!(r.ended().unwrap(), Ended::Unplugged);
    assert!(ctl::status(&unit, &shared).starts_with("present=no "));
    assert_eq!(
        ctl::answer("replug serial OTHER1", &unit, &shared),
        "ok replugged"
    );
    let u = unit.lock();
    assert!(u.present());
    assert_eq!(u.replay().string(3), Some("OTHER1"));
    drop(u);
    assert_eq!(r.simlog(), ["UNPLUG", "REPLUG"]);

    // attached and asked to replug: the connection ends so the unit is plugged in again
    let mut r = Rig::new("");
    assert_eq!(ctl::answer("replug", &r.unit, &r.shared), "ok replugged");
    assert_eq!(r.ended().unwrap(), Ended::Replug);
    // the host closing the connection is an error for the attach loop
    let r = Rig::new("");
    let Rig { host, server, .. } = r;
    drop(host);
    let e = server.unwrap().join().unwrap().unwrap_err();
    assert!(matches!(e, ups_emulator::Error::Closed), "{e}");
}

/// Killpower as NUT 2.8.0 sends it to this unit (APCDelayBeforeReboot = 10, the whole 24-byte
/// report) over USB/IP while on battery. Mains still out at the cut: the unit cuts the load
/// and leaves the bus (the connection ends), and rejoins it with the load powered when mains
/// is back. The power race, mains back before the cut: the load is still cycled, and the
/// unit stays attached.
#[test]
fn killpower_cycles_the_load_with_mains_out_at_the_cut_and_in_the_power_race() {
    let mut reboot = vec![0u8; 24];
    reboot[..2].copy_from_slice(&[0x40, 0x0a]);
    let sent = format!("SET_REPORT 0x40 40 0a {}", ["00"; 22].join(" "));
    for back_ms in [30_000u64, 8_000] {
        let mut r = Rig::new(&format!(
            r#"
[[event]]
at_s = 1.0
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.ACPresent" = 0 }}
interrupt = true

[[event]]
at_s = {}
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 1, "UPS.PowerSummary.ACPresent" = 1 }}
interrupt = true
"#,
            back_ms / 1000
        ));
        r.at_ms(2000);
        assert!(!r.unit.lock().mains());
        assert_eq!(r.set_report(3, &reboot).actual, 24);
        r.at_ms(11_999);
        assert_eq!(r.get_report(4, 0x40, 2).data, [0x40, 0x01]);
        r.at_ms(12_000);
        if back_ms > 12_000 {
            assert_eq!(r.ended().unwrap(), Ended::Unplugged);
            assert!(!r.unit.lock().present());
            r.at_ms(back_ms);
            let u = r.unit.lock();
            assert!(u.present() && u.output_on() && u.mains());
            drop(u);
            assert_eq!(
                r.simlog(),
                [&sent, "OUTPUT OFF", "UNPLUG", "REPLUG", "OUTPUT ON"]
            );
        } else {
            assert_eq!(r.get_report(5, 0x40, 2).data, [0x40, 0x00]);
            assert!(r.unit.lock().output_on());
            assert_eq!(r.simlog(), [&sent, "OUTPUT OFF", "OUTPUT ON"]);
            assert_eq!(r.finish().unwrap(), Ended::Stopped);
        }
    }
}
