//! Reaction times of a primary upsmon, stock 2.8.0 and ours, in the same scenario (our upsd,
//! stock dummy-ups, POLLFREQ 1, FINALDELAY 1, no secondary, both as root parent + monitoring
//! child): mains lost → ONBATT (NOTIFYCMD
//! ran), LB set → FSD on upsd, LB set → SHUTDOWNCMD. Each figure is printed (run with
//! `--nocapture` to see them); ours must stay within one poll interval of each bound.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

use nut_test_support::usbhid::epoch_now as now;

fn stamp(line: &str) -> f64 {
    line.rsplit(['|', ' ']).next().unwrap().parse().unwrap()
}

/// (mains lost → ONBATT, LB → FSD on upsd, LB → SHUTDOWNCMD) in seconds.
fn scenario(mon: Mon) -> Option<(f64, f64, f64)> {
    let stock = stock_nut()?;
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, mon, "primary", "upsmon", "pw", "");
    // NUT's default two processes (root parent, monitoring child; `-u root` so that the
    // child can write the test's logs)
    let _pp = Group(start_upsmon_with(&rig, &p, &["-D", "-u", "root"], &[]));
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_millis(1500));
    let onbatt = seconds_to_notified(&rig, "OB", &p, "ONBATT", Duration::from_secs(5), logs);
    std::thread::sleep(Duration::from_millis(1500));
    let t_lb = now();
    set_status(&rig, "OB LB");
    wait_fsd(&rig, "FSD on upsd", Duration::from_secs(5), logs);
    let fsd = now();
    let order = wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(10), logs);
    let shutdown = stamp(order.lines().next().unwrap());
    let r = (onbatt, fsd - t_lb, shutdown - t_lb);
    eprintln!(
        "{mon:?} primary: mains lost -> ONBATT {:.3} s, LB -> FSD {:.3} s, LB -> SHUTDOWNCMD {:.3} s",
        r.0, r.1, r.2
    );
    Some(r)
}

#[test]
fn stock_and_our_primary_react_alike() {
    let Some(stock) = scenario(Mon::Stock) else {
        return;
    };
    let ours = scenario(Mon::Ours).unwrap();
    // polls are 1 s apart and the phase is random: allow one interval
    assert!(ours.0 <= stock.0.max(1.0) + 1.0, "{ours:?} vs {stock:?}");
    assert!(ours.1 <= stock.1.max(1.0) + 1.0, "{ours:?} vs {stock:?}");
    assert!(ours.2 <= stock.2.max(2.0) + 1.0, "{ours:?} vs {stock:?}");
}
