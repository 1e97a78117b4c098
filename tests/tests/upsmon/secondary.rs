//! Our upsmon as a secondary that loses its upsd while the UPS is on line power: COMMBAD,
//! then NOCOMM (repeated every NOCOMMWARNTIME), but no shutdown however long it lasts
//! (past DEADTIME: only a UPS last seen on battery is taken as critical when silent); when
//! upsd comes back on the same port, COMMOK and nothing else.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig, Upsd};
use std::time::{Duration, Instant};

#[test]
fn secondary_cut_off_from_upsd_while_online_does_not_shut_down() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    // the later NOCOMMWARNTIME overrides the helper's 300
    let s = upsmon_conf(
        &rig,
        Mon::Ours,
        "secondary",
        "monuser",
        "secret",
        "NOCOMMWARNTIME 2\n",
    );
    let mut sp = start_upsmon(&rig, &s);
    let order = shutdown_order(&rig);
    let logs = || {
        format!(
            "--- upsmon:\n{}\n--- notify.log:\n{}\n--- shutdown.order:\n{}",
            s.log(),
            s.notify_log(),
            std::fs::read_to_string(&order).unwrap_or_default()
        )
    };
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(s.notify_log(), "", "{}", logs());
    let sys = rig.target("ups");

    // upsd goes away
    let _ = rig.upsd.proc_.child.kill();
    let _ = rig.upsd.proc_.child.wait();
    let cut = Instant::now();
    wait_notified(&s, "COMMBAD", 1, "COMMBAD", Duration::from_secs(5), logs);
    assert_eq!(
        notified(&s, "COMMBAD"),
        vec![format!("COMMBAD|{sys}|Communications with UPS {sys} lost")],
        "{}",
        logs()
    );
    // NOCOMM after NOCOMMWARNTIME (2 s), then again NOCOMMWARNTIME later
    wait_notified(&s, "NOCOMM", 2, "two NOCOMM", Duration::from_secs(10), logs);
    let times = notified_at(&s, "NOCOMM");
    let gap = times[1] - times[0];
    assert!(
        (2.0..4.5).contains(&gap),
        "NOCOMM repeated after {gap:.3} s:\n{}",
        logs()
    );
    // past DEADTIME (3 s) by a margin: a shutdown would have started by now
    let quiet = Duration::from_secs(7);
    if let Some(left) = quiet.checked_sub(cut.elapsed()) {
        std::thread::sleep(left);
    }
    let nocomm = format!("NOCOMM|{sys}|UPS {sys} is unavailable");
    let n = notified(&s, "NOCOMM");
    assert!(n.len() >= 2, "{}", logs());
    assert!(n.iter().all(|l| *l == nocomm), "{}", logs());
    assert!(sp.exited().is_none(), "upsmon exited: {}", logs());
    assert!(notified(&s, "SHUTDOWN").is_empty(), "{}", logs());
    assert!(!order.exists(), "SHUTDOWNCMD ran: {}", logs());
    assert!(!s.flag().exists(), "{}", logs());
    assert!(
        !s.log().contains("Executing automatic power-fail shutdown"),
        "{}",
        logs()
    );

    // upsd is back on the same port: COMMOK, the session logs in again
    rig.upsd = Upsd::start(&rig.dir, &Impl::Ours.binary(&stock), Impl::Ours);
    wait_notified(&s, "COMMOK", 1, "COMMOK", Duration::from_secs(10), logs);
    wait_logins(&rig, 1, "login again", Duration::from_secs(5), logs);
    let nocomms_before = notified(&s, "NOCOMM").len();
    // more than NOCOMMWARNTIME: a NOCOMM now would be a stale warning
    std::thread::sleep(Duration::from_secs(3));
    // exactly what the user was told: COMMBAD, the NOCOMMs, COMMOK (no ONLINE: the UPS
    // was on line power all along), and no NOCOMM once communication is back
    let mut want = vec![format!("COMMBAD|{sys}|Communications with UPS {sys} lost")];
    want.extend(std::iter::repeat_n(nocomm, nocomms_before));
    want.push(format!(
        "COMMOK|{sys}|Communications with UPS {sys} established"
    ));
    let all = notifications(&s);
    assert_eq!(all, want, "{}", logs());
    assert_no_shutdown(&rig, &s, &mut sp, "OL DISCHRG", logs);
}
