//! The whole story on one machine: our usbhid-ups on the simulated APC Back-UPS BK650M2-CH
//! loses mains and then reaches low battery through interrupt reports; our upsd serves it;
//! our upsmon is the primary (two processes, monitoring as `nut`) and stock upsmon 2.8.0 a
//! secondary. The secondary must shut down first, the primary after it with POWERDOWNFLAG
//! written, and the late shutdown hook (`upsmon -K`, then `upsdrvctl shutdown` once the
//! driver is stopped) must send the unit the bytes stock NUT sends to cut its power.

use nut_test_support::daemon::wait_for;
use nut_test_support::upsmon::*;
use nut_test_support::usbhid::{bk650m2_reboot_line, simlog, simulated_rig};
use nut_test_support::{our_bin, stock_nut};
use std::process::Command;
use std::time::Duration;

/// Mains lost at 5 s, battery low at 8 s (late enough for both upsmon to be logged in).
const SCENARIO: &str = r#"
[[event]]
at_s = 5.0
set = { "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.ACPresent" = 0 }
interrupt = true

[[event]]
at_s = 8.0
set = { "UPS.PowerSummary.RemainingCapacity" = 9, "UPS.PowerSummary.BelowRemainingCapacityLimit" = 1 }
interrupt = true
"#;

#[test]
fn power_failure_on_the_simulated_back_ups_shuts_everything_down_in_order() {
    let Some(stock) = stock_nut() else { return };
    let (rig, mut driver, _) = simulated_rig(stock, SCENARIO, 2);
    let simlog = simlog(&rig.dir);
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );

    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    open_for_nut(&rig, &p);
    let s = upsmon_conf(&rig, Mon::Stock, "secondary", "monuser", "secret", "");
    let mut primary = Group(start_upsmon_with(&rig, &p, &["-D", "-u", "nut"], &[]));
    let mut secondary = start_upsmon(&rig, &s);
    let logs = || format!("{}{}{}", p.logs(), s.logs(), rig.dir.logs());
    wait_logins(
        &rig,
        2,
        "both upsmon to log in",
        Duration::from_secs(5),
        logs,
    );

    let text = wait_shutdowns(&rig, 2, "both SHUTDOWNCMDs", Duration::from_secs(30), logs);
    let roles = shutdown_roles(&text);
    assert_eq!(roles, ["secondary", "primary"], "{}", logs());
    assert!(text.ends_with("primary root\n"), "{text}\n{}", logs());
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OB DISCHRG LB\"\n",
        "{}",
        logs()
    );
    assert_eq!(
        rig.client().request("GET VAR ups battery.charge"),
        "VAR ups battery.charge \"9\"\n"
    );
    let sys = rig.target("ups");
    for (event, message) in [
        ("ONBATT", format!("UPS {sys} on battery")),
        ("LOWBATT", format!("UPS {sys} battery is low")),
    ] {
        assert_eq!(
            notified_lines(&p, event),
            [format!("{event}|{sys}|{message}|nut")],
            "{}",
            logs()
        );
    }
    wait_until(
        "both upsmon to exit",
        Duration::from_secs(10),
        || (primary.0.exited().is_some() && secondary.exited().is_some()).then_some(()),
        logs,
    );

    // the late shutdown hook, as Debian's nutshutdown runs it once the driver is stopped
    assert_eq!(killpower_check(&p), Some(0), "{}", logs());
    let _ = Command::new("kill")
        .args(["-TERM", &driver.pid().to_string()])
        .status();
    wait_for("the driver to stop", Duration::from_secs(10), |_| {
        driver.exited().map(|_| ())
    });
    assert_eq!(std::fs::read_to_string(&simlog).unwrap_or_default(), "");
    let (code, out, err) = rig.dir.run(
        &our_bin("upsdrvctl"),
        &["shutdown"],
        Duration::from_secs(40),
    );
    assert_eq!(code, Some(0), "upsdrvctl shutdown: {out}{err}");
    let sent: Vec<String> = std::fs::read_to_string(&simlog)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("SET_REPORT"))
        .map(str::to_string)
        .collect();
    assert_eq!(sent, [bk650m2_reboot_line()], "{out}{err}");
}
