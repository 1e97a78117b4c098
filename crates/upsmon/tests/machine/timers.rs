//! The `ONBATT_SHUTDOWN_*` limits (a nut-rs addition): exact behaviour at the boundaries, and
//! generated histories on a simulated clock checked against an independent model:
//!
//! * no spurious shutdown: never while the UPS is (last known) on line, whatever the limits and
//!   the battery readings; on battery only once a limit is reached;
//! * never late: the machine decides at the first tick at or after `ONBATT_SHUTDOWN_AFTER`
//!   from the first poll that saw `OB` (that poll comes at most one poll interval after the
//!   mains went), and at the poll that reads a runtime or charge below its limit.

use nut_conf::notify::NotifyEvent;
use proptest::prelude::*;
use upsmon::machine::{Action, Battery};

use super::{effects, names, notify, reading, starts_shutdown, Clock};

const SECONDARY: &str = "MONITOR ups@server 1 mon pass secondary\n";
const PRIMARY: &str = "MONITOR ups@localhost 1 admin secret primary\n";

#[test]
fn after_on_a_secondary_shuts_down_alone_at_the_deadline() {
    let mut c = Clock::new(&format!("{SECONDARY}ONBATT_SHUTDOWN_AFTER 3\n"));
    c.status(0.0, "OL");
    let a = c.status(1.0, "OB DISCHRG");
    assert_eq!(names(&a), ["ONBATT"]);
    assert!(a.contains(&Action::Log {
        level: upsmon::machine::LogLevel::Notice,
        message: "UPS [ups@server] on battery: shutdown in 3 s (ONBATT_SHUTDOWN_AFTER) unless mains returns".into()
    }));
    assert!(!starts_shutdown(&c.status(2.0, "OB DISCHRG")));
    assert!(!starts_shutdown(&c.tick(3.999)));
    let a = c.tick(4.0);
    let want_text = "on battery for 3 s, ONBATT_SHUTDOWN_AFTER 3";
    assert_eq!(
        effects(&a),
        vec![
            notify(&c.m, NotifyEvent::OnbattShutdown, Some(0), Some(want_text)),
            Action::Wall {
                message: "Executing automatic power-fail shutdown".into()
            },
            notify(&c.m, NotifyEvent::Shutdown, None, None),
            Action::LogoutAfterShutdown { ups: vec![0] },
            Action::Shutdown,
        ]
    );
    let Action::Notify { message, .. } = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(
        message,
        "UPS ups@server: shutdown policy reached (on battery for 3 s, ONBATT_SHUTDOWN_AFTER 3)"
    );
    // once
    assert!(c.tick(5.0).is_empty());
}

#[test]
fn after_on_a_primary_starts_fsd_for_everyone() {
    let mut c = Clock::new(&format!("{PRIMARY}ONBATT_SHUTDOWN_AFTER 10\n"));
    c.status(0.0, "OB");
    assert!(!starts_shutdown(&c.status(9.5, "OB")));
    let a = c.tick(10.0);
    assert_eq!(
        effects(&a),
        vec![
            notify(
                &c.m,
                NotifyEvent::OnbattShutdown,
                Some(0),
                Some("on battery for 10 s, ONBATT_SHUTDOWN_AFTER 10")
            ),
            Action::SendFsd { ups: 0 },
            Action::WaitForSecondaries { ups: vec![0] },
        ]
    );
    // the primary's own session is not logged out: it is the one NUMLOGINS leaves
    let a = c.m.numlogins(1, c.at(10.25));
    assert!(a.contains(&Action::Shutdown));
    assert!(!a
        .iter()
        .any(|a| matches!(a, Action::LogoutAfterShutdown { .. })));
}

#[test]
fn mains_back_before_the_deadline_cancels_with_a_notification() {
    let mut c = Clock::new(&format!("{SECONDARY}ONBATT_SHUTDOWN_AFTER 3\n"));
    c.status(0.0, "OL");
    c.status(1.0, "OB");
    let a = c.status(2.0, "OL CHRG");
    assert_eq!(
        effects(&a),
        vec![
            notify(&c.m, NotifyEvent::Online, Some(0), None),
            notify(&c.m, NotifyEvent::OnbattShutdownCancelled, Some(0), None),
        ]
    );
    let Action::Notify { message, .. } = &a[1] else {
        panic!("{a:?}")
    };
    assert_eq!(
        message,
        "UPS ups@server on line power again: timed shutdown cancelled"
    );
    assert!(!starts_shutdown(&c.tick(10.0)));
    // a new outage counts from its own start
    c.status(20.0, "OB");
    assert!(!starts_shutdown(&c.tick(22.9)));
    assert!(starts_shutdown(&c.tick(23.0)));
}

#[test]
fn without_the_limits_nothing_changes() {
    let mut c = Clock::new(SECONDARY);
    c.status(0.0, "OB");
    // readings are ignored without a limit
    c.poll(1.0, "OB", reading(Some(1), Some(1)));
    assert!(!starts_shutdown(&c.status(100_000.0, "OB")));
    assert_eq!(names(&c.status(100_001.0, "OL")), ["ONLINE"]);
}

#[test]
fn runtime_and_charge_below_the_limit() {
    let mut c = Clock::new(&format!(
        "{SECONDARY}ONBATT_SHUTDOWN_RUNTIME 300\nONBATT_SHUTDOWN_CHARGE 40\n"
    ));
    c.status(0.0, "OL");
    assert!(!starts_shutdown(&c.poll(
        1.0,
        "OB",
        reading(Some(301), Some(80))
    )));
    // equal is not below
    assert!(!starts_shutdown(&c.poll(
        2.0,
        "OB",
        reading(Some(300), Some(40))
    )));
    // a failed read is no reading
    assert!(!starts_shutdown(&c.poll(3.0, "OB", reading(None, None))));
    let a = c.poll(4.0, "OB", reading(Some(299), Some(90)));
    assert_eq!(
        effects(&a)[0],
        notify(
            &c.m,
            NotifyEvent::OnbattShutdown,
            Some(0),
            Some("battery.runtime 299 s below ONBATT_SHUTDOWN_RUNTIME 300")
        )
    );
    assert!(a.contains(&Action::Shutdown));

    let mut c = Clock::new(&format!("{SECONDARY}ONBATT_SHUTDOWN_CHARGE 40\n"));
    let a = c.poll(1.0, "OB", reading(None, Some(39)));
    assert_eq!(
        effects(&a)[1],
        notify(
            &c.m,
            NotifyEvent::OnbattShutdown,
            Some(0),
            Some("battery.charge 39% below ONBATT_SHUTDOWN_CHARGE 40")
        )
    );
    assert!(a.contains(&Action::Shutdown));
}

#[test]
fn low_readings_on_line_never_shut_down() {
    let mut c = Clock::new(&format!(
        "{SECONDARY}ONBATT_SHUTDOWN_RUNTIME 300\nONBATT_SHUTDOWN_CHARGE 40\nONBATT_SHUTDOWN_AFTER 1\n"
    ));
    for t in 0..20 {
        let a = c.poll(f64::from(t), "OL CHRG", reading(Some(0), Some(0)));
        assert!(!starts_shutdown(&a), "at {t}");
    }
}

#[test]
fn comm_loss_on_battery_keeps_the_clock_running() {
    let mut c = Clock::new(&format!(
        "{SECONDARY}ONBATT_SHUTDOWN_AFTER 5\nDEADTIME 60\n"
    ));
    c.status(0.0, "OB");
    assert!(!starts_shutdown(&c.status(1.0, "!lost")));
    assert!(starts_shutdown(&c.tick(5.0)));
}

#[test]
fn fsd_comes_first_and_is_no_timed_shutdown() {
    let mut c = Clock::new(&format!("{SECONDARY}ONBATT_SHUTDOWN_AFTER 1\n"));
    c.status(0.0, "OB");
    let a = c.status(2.0, "FSD OB");
    assert_eq!(names(&a), ["FSD", "SHUTDOWN"]);
    assert!(!a
        .iter()
        .any(|a| matches!(a, Action::LogoutAfterShutdown { .. })));
}

#[test]
fn whole_numbers_of_readings() {
    assert_eq!(Battery::whole("1234"), Some(1234));
    assert_eq!(Battery::whole("87.9"), Some(87));
    assert_eq!(Battery::whole(" 40.0 "), Some(40));
    assert_eq!(Battery::whole("-3"), Some(0));
    assert_eq!(Battery::whole("n/a"), None);
    assert_eq!(Battery::whole("inf"), None);
}

// ------------------------------------------------------------------------------- properties

/// One step of a history: so many quarter seconds later, a poll (status, readings) or a tick.
#[derive(Debug, Clone)]
enum Step {
    Poll(&'static str, Battery),
    Tick,
}

fn step() -> impl Strategy<Value = (u32, Step)> {
    let status = prop::sample::select(vec![
        "OL",
        "OL CHRG",
        "OB DISCHRG",
        "OB",
        "OL BOOST",
        "!lost",
    ]);
    let value = prop::option::of(0u64..700);
    let poll = (status, value.clone(), value)
        .prop_map(|(s, r, c)| Step::Poll(s, reading(r, c.map(|c| c % 101))));
    (1u32..=20, prop_oneof![3 => poll, 1 => Just(Step::Tick)])
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    after: Option<u64>,
    runtime: Option<u64>,
    charge: Option<u64>,
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop::option::of(1u64..=30),
        prop::option::of(1u64..=600),
        prop::option::of(1u64..=100),
    )
        .prop_map(|(after, runtime, charge)| Limits {
            after,
            runtime,
            charge,
        })
}

fn limits_conf(l: &Limits, primary: bool) -> String {
    let mut text = if primary { PRIMARY } else { SECONDARY }.to_string();
    // (DEADTIME far away: silence on battery is another rule, tested elsewhere)
    text.push_str("DEADTIME 100000\nHOSTSYNC 100000\n");
    for (key, v) in [
        ("ONBATT_SHUTDOWN_AFTER", l.after),
        ("ONBATT_SHUTDOWN_RUNTIME", l.runtime),
        ("ONBATT_SHUTDOWN_CHARGE", l.charge),
    ] {
        if let Some(v) = v {
            text.push_str(&format!("{key} {v}\n"));
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The machine starts the shutdown exactly when the model says a limit is reached: not
    /// before (no spurious shutdown, never while on line) and not after (the first tick at or
    /// past the deadline, the poll that reads a value below its limit).
    #[test]
    fn limits_fire_exactly_when_reached(
        l in limits(),
        primary in any::<bool>(),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut c = Clock::new(&limits_conf(&l, primary));
        let mut quarter: u32 = 0;
        // the model: last known on battery, since when, and the last good poll's readings
        let mut ob = false;
        let mut ob_since = 0.0;
        let mut last = Battery::default();
        for (dt, s) in steps {
            quarter += dt;
            let t = f64::from(quarter) / 4.0;
            let a = match s {
                Step::Poll(status, b) => {
                    if status != "!lost" {
                        last = b;
                        if status.starts_with("OL") {
                            ob = false;
                        } else if !ob {
                            ob = true;
                            ob_since = t;
                        }
                    }
                    c.poll(t, status, b)
                }
                Step::Tick => c.tick(t),
            };
            let reached = ob
                && (l.after.is_some_and(|after| t - ob_since >= after as f64)
                    || l.runtime.zip(last.runtime).is_some_and(|(lim, v)| v < lim)
                    || l.charge.zip(last.charge).is_some_and(|(lim, v)| v < lim));
            prop_assert_eq!(starts_shutdown(&a), reached, "at {} s: {:?}", t, a);
            if reached {
                break;
            }
        }
    }

    /// Whatever the limits, the readings and the comm losses: a UPS that is only ever seen on
    /// line never causes a shutdown.
    #[test]
    fn never_while_on_line(
        l in limits(),
        primary in any::<bool>(),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut c = Clock::new(&limits_conf(&l, primary));
        let mut quarter: u32 = 0;
        for (dt, s) in steps {
            quarter += dt;
            let t = f64::from(quarter) / 4.0;
            let a = match s {
                Step::Poll(status, b) if status.starts_with("OB") => c.poll(t, "OL", b),
                Step::Poll(status, b) => c.poll(t, status, b),
                Step::Tick => c.tick(t),
            };
            prop_assert!(!starts_shutdown(&a), "at {} s: {:?}", t, a);
        }
    }
}
