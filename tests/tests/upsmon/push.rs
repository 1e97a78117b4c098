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
    let onbatt = seconds_to_notified(&rig, "OB", &p, "ONBATT", Duration::from_secs(5), logs);
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

/// When (epoch seconds) upsd first answers a status with all of `words`, read every 2 ms
/// from the moment this is called, on a thread of its own; an anonymous reader, which the
/// FSD rule does not count.
fn shown_at(rig: &Rig, words: &'static [&'static str]) -> std::thread::JoinHandle<f64> {
    let mut c = rig.client();
    std::thread::spawn(move || {
        let t0 = now();
        loop {
            let status = c.request("GET VAR ups ups.status");
            if words
                .iter()
                .all(|w| status.split(['"', ' ']).any(|s| s == *w))
            {
                return now();
            }
            assert!(now() - t0 < 20.0, "upsd never showed {words:?}: {status}");
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

/// One round with a primary and a secondary of kind `mon` on our upsd and stock dummy-ups,
/// NUT's default POLLFREQ and POLLFREQALERT (5 s), the events at a random phase of the polls.
/// In seconds from the moment upsd first served the driver's new status: mains lost →
/// ONBATT notified on the primary, on the secondary; LB → FSD set on upsd by the primary,
/// FSD notified on the secondary. Then the time from `upsrw -s` to that moment (OB, LB).
fn round(stock: &nut_test_support::StockNut, mon: Mon, seed: u64) -> ([f64; 4], [f64; 2]) {
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
    let shown = shown_at(&rig, &["OB"]);
    let t_set_ob = now();
    set_status(&rig, "OB");
    let t_ob = shown.join().unwrap();
    let notified = |md: &MonDir, event: &str, t0: f64| {
        wait_until(
            event,
            Duration::from_secs(20),
            || notified_at(md, event).first().copied(),
            logs,
        ) - t0
    };
    let (ob_p, ob_s) = (notified(&p, "ONBATT", t_ob), notified(&s, "ONBATT", t_ob));
    std::thread::sleep(phase(2));
    let shown = shown_at(&rig, &["OB", "LB"]);
    let t_set_lb = now();
    set_status(&rig, "OB LB");
    let t_lb = shown.join().unwrap();
    let fsd_p = shown_at(&rig, &["FSD"]).join().unwrap() - t_lb;
    let fsd_s = notified(&s, "FSD", t_lb);
    (
        [ob_p, ob_s, fsd_p, fsd_s],
        [t_ob - t_set_ob, t_lb - t_set_lb],
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median (min–max) of `v`, in ms.
fn cell(v: &[f64]) -> String {
    let ms = |x: f64| x * 1000.0;
    let lo = v.iter().copied().fold(f64::MAX, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!(
        "{:.0} ms ({:.0}–{:.0})",
        ms(median(v.to_vec())),
        ms(lo),
        ms(hi)
    )
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
    let mut rows = Vec::new();
    let mut publish: [Vec<f64>; 2] = Default::default();
    for mon in [Mon::Stock, Mon::Ours] {
        let mut all: [Vec<f64>; 4] = Default::default();
        for i in 0..rounds {
            let (r, set) = round(&stock, mon, i + 1);
            eprintln!(
                "{mon:?} round {}: {r:.3?}, upsrw -s to upsd: {set:.3?}",
                i + 1
            );
            for (v, x) in all.iter_mut().zip(r) {
                v.push(x);
            }
            for (v, x) in publish.iter_mut().zip(set) {
                v.push(x);
            }
        }
        rows.push(format!(
            "| {mon:?} | {} |",
            all.iter().map(|v| cell(v)).collect::<Vec<_>>().join(" | ")
        ));
    }
    println!("| upsmon (both hosts) | mains lost → ONBATT, primary | mains lost → ONBATT, secondary | LB → FSD set on upsd (primary) | LB → FSD notified, secondary |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "upsrw -s to upsd serving the driver's new status (not counted above): OB {}, OB LB {}",
        cell(&publish[0]),
        cell(&publish[1])
    );
}
