//! Status push (nut-rs's `WATCH`, docs/upsmon.md "Status push"): our upsmon against our upsd
//! with POLLFREQ 30 hears mains lost and LB within well under a second (NOTIFYCMD ONBATT, FSD
//! on upsd); against stock upsd (which answers `ERR UNKNOWN-COMMAND`) it says so once and
//! goes on polling.

use nut_test_support::upsmon::*;
use nut_test_support::usbhid::epoch_now as now;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

const NO_PUSH: &str = "upsd has no status push (WATCH), polling every POLLFREQ";

#[test]
fn our_upsd_pushes_onbatt_and_lb_to_our_upsmon_at_once() {
    let Some(stock) = stock_nut() else {
        return;
    };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let slow = "POLLFREQ 30\nPOLLFREQALERT 30\nDEADTIME 90\n";
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", slow);
    let _pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{}", p.logs(), rig.upsd.log(&rig.dir));
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    // the watch connection is made after the first poll
    std::thread::sleep(Duration::from_millis(1500));
    let t_ob = now();
    set_status(&rig, "OB");
    let onbatt = wait_until(
        "ONBATT",
        Duration::from_secs(5),
        || notified_at(&p, "ONBATT").first().copied(),
        logs,
    ) - t_ob;
    let t_lb = now();
    set_status(&rig, "OB LB");
    wait_fsd(&rig, "FSD on upsd", Duration::from_secs(5), logs);
    let fsd = now() - t_lb;
    eprintln!("push: mains lost -> ONBATT {onbatt:.3} s, LB -> FSD {fsd:.3} s (POLLFREQ 30)");
    // (each includes upsrw's SET through dummy-ups)
    assert!(onbatt < 0.5, "ONBATT after {onbatt:.3} s\n{}", logs());
    assert!(fsd < 0.5, "FSD after {fsd:.3} s\n{}", logs());
    assert!(!p.log().contains(NO_PUSH), "{}", p.log());
}

#[test]
fn with_stock_upsd_our_upsmon_polls() {
    let Some(stock) = stock_nut() else {
        return;
    };
    let rig = Rig::start(&stock, Impl::Stock, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "POLLFREQ 2\n");
    let _pp = start_upsmon(&rig, &p);
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    wait_until(
        "the fallback logged",
        Duration::from_secs(5),
        || p.log().contains(NO_PUSH).then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    wait_notified(
        &p,
        "ONBATT",
        1,
        "ONBATT by polling",
        Duration::from_secs(5),
        logs,
    );
    assert_eq!(
        p.log().matches(NO_PUSH).count(),
        1,
        "logged once\n{}",
        p.log()
    );
}

/// Seconds from `t0` until upsd (ours) shows FSD in the status, read every 2 ms.
fn until_fsd_on_upsd(rig: &Rig, t0: f64, logs: impl Fn() -> String) -> f64 {
    let mut c = rig.client();
    wait_until(
        "FSD on upsd",
        Duration::from_secs(20),
        || {
            let fsd = c.request("GET VAR ups ups.status").contains("FSD");
            (!fsd).then(|| std::thread::sleep(Duration::from_millis(2)));
            fsd.then(now)
        },
        logs,
    ) - t0
}

/// One round with a primary and a secondary of kind `mon` on our upsd and stock dummy-ups,
/// NUT's default POLLFREQ and POLLFREQALERT (5 s), the events at a random phase of the polls:
/// (mains lost → ONBATT on the primary, on the secondary; LB → FSD set on upsd by the
/// primary, FSD notified on the secondary), in seconds.
fn round(stock: &nut_test_support::StockNut, mon: Mon, seed: u64) -> [f64; 4] {
    let rig = Rig::start(stock, Impl::Ours, NutDirOptions::default());
    let polls = "POLLFREQ 5\nPOLLFREQALERT 5\nDEADTIME 15\nHOSTSYNC 15\n";
    let p = role_conf(&rig, mon, "primary", polls);
    let s = role_conf(&rig, mon, "secondary", polls);
    let _pp = Group(start_upsmon(&rig, &p));
    let _sp = Group(start_upsmon(&rig, &s));
    let logs = || format!("{}\n{}", p.logs(), s.logs());
    wait_logins(&rig, 2, "logins", Duration::from_secs(15), logs);
    // a phase in [1, 6) s after the logins, from the seed
    let phase = |k: u64| Duration::from_millis(1000 + (seed * 7919 + k * 104_729) % 5000);
    std::thread::sleep(phase(1));
    let t_ob = now();
    set_status(&rig, "OB");
    let onbatt = |md: &MonDir| {
        wait_until(
            "ONBATT",
            Duration::from_secs(20),
            || notified_at(md, "ONBATT").first().copied(),
            logs,
        ) - t_ob
    };
    let (ob_p, ob_s) = (onbatt(&p), onbatt(&s));
    std::thread::sleep(phase(2));
    let t_lb = now();
    set_status(&rig, "OB LB");
    let fsd_p = until_fsd_on_upsd(&rig, t_lb, logs);
    let fsd_s = wait_until(
        "FSD on the secondary",
        Duration::from_secs(20),
        || notified_at(&s, "FSD").first().copied(),
        logs,
    ) - t_lb;
    [ob_p, ob_s, fsd_p, fsd_s]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The figures of docs/benchmarks.md ("Status push"): `cargo test -p nut-rs-tests --test
/// upsmon push::measure -- --ignored --nocapture` (ROUNDS=n, default 5, rounds of each).
#[test]
#[ignore = "a measurement (about 3 minutes), not a check"]
fn measure() {
    let Some(stock) = stock_nut() else {
        return;
    };
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut figures = Vec::new();
    for mon in [Mon::Stock, Mon::Ours] {
        let mut all: [Vec<f64>; 4] = Default::default();
        for i in 0..rounds {
            let r = round(&stock, mon, i + 1);
            eprintln!("{mon:?} round {}: {r:.3?}", i + 1);
            for (v, x) in all.iter_mut().zip(r) {
                v.push(x);
            }
        }
        let cell = |v: &Vec<f64>| {
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
            format!("{:.3} s ({:.3}–{:.3})", median(v.clone()), lo, hi)
        };
        figures.push((mon, all.map(|v| cell(&v))));
    }
    println!("| upsmon (both hosts) | mains lost → ONBATT, primary | mains lost → ONBATT, secondary | LB → FSD set on upsd (primary) | LB → FSD notified, secondary |");
    println!("|---|---|---|---|---|");
    for (mon, cells) in figures {
        println!("| {mon:?} | {} |", cells.join(" | "));
    }
}
