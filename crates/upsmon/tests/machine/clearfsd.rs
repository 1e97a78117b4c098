//! `CLEARFSD_ON_MAINS` (a nut-rs addition): a primary that set FSD on its own readings asks
//! upsd to withdraw it once mains is back during the HOSTSYNC wait, and calls its shutdown off
//! only on upsd's `OK`. Both sides of the rule, then generated waits: `CLEARFSD` is asked at
//! most once, only after every UPS said `OL` and none `OB`; any answer but `OK` leaves the
//! shutdown going on; after `OK` the next critical reading starts a new one.

use nut_conf::notify::NotifyEvent;
use proptest::prelude::*;
use upsmon::machine::{Action, ClearResult, LogLevel, Phase};

use super::{effects, names, notify, starts_shutdown, Clock};

const PRIMARY: &str = "MONITOR ups@localhost 1 admin secret primary\nCLEARFSD_ON_MAINS 1\n";

/// A primary that has just set FSD on OB+LB at t = 1.
fn in_the_wait(conf: &str) -> Clock {
    let mut c = Clock::new(conf);
    c.status(0.0, "OB DISCHRG");
    let a = c.status(1.0, "OB DISCHRG LB");
    assert!(a.contains(&Action::SendFsd { ups: 0 }), "{a:?}");
    assert!(matches!(c.m.phase(), Phase::WaitingForSecondaries { .. }));
    c
}

fn warning(text: &str) -> Action {
    Action::Log {
        level: LogLevel::Warning,
        message: text.into(),
    }
}

#[test]
fn mains_back_during_the_wait_withdraws_fsd_and_calls_the_shutdown_off() {
    let mut c = in_the_wait(PRIMARY);
    assert!(c.m.polls_while_waiting());
    assert!(!c.m.numlogins(2, c.at(1.25)).contains(&Action::Shutdown));
    assert!(c
        .m
        .status_while_waiting(0, "FSD OB DISCHRG LB", c.at(1.5))
        .is_empty());
    assert_eq!(
        c.m.status_while_waiting(0, "FSD OL CHRG LB", c.at(2.0)),
        [Action::ClearFsd { ups: 0 }]
    );
    // asked once
    assert!(!c.m.polls_while_waiting());
    assert!(c
        .m
        .status_while_waiting(0, "FSD OL CHRG", c.at(2.25))
        .is_empty());

    let a = c.m.fsd_clear_result(0, ClearResult::Cleared, c.at(2.5));
    assert_eq!(
        a[0],
        Action::Log {
            level: LogLevel::Notice,
            message: "UPS [ups@localhost]: mains returned before any other host acted on the FSD: FSD withdrawn, shutdown called off".into()
        }
    );
    assert_eq!(
        effects(&a),
        [
            notify(&c.m, NotifyEvent::Online, Some(0), None),
            notify(&c.m, NotifyEvent::FsdCleared, Some(0), None),
        ]
    );
    let Action::Notify { message, .. } = &a[2] else {
        panic!("{a:?}")
    };
    assert_eq!(
        message,
        "UPS ups@localhost on line power again: forced shutdown withdrawn"
    );
    assert_eq!(c.m.phase(), Phase::Monitoring);
    assert!(!c.m.flags(0).fsd && !c.m.flags(0).onbatt && c.m.flags(0).online);
    // the wait is over: NUMLOGINS and the next polls decide nothing
    assert!(c.m.numlogins(1, c.at(2.75)).is_empty());
    assert!(!starts_shutdown(&c.status(3.0, "OL CHRG LB")));
    assert!(!starts_shutdown(&c.tick(60.0)));
    // a new outage is a new shutdown, with its own FSD notification
    assert_eq!(names(&c.status(70.0, "OB DISCHRG")), ["ONBATT"]);
    let a = c.status(71.0, "OB DISCHRG LB");
    assert!(a.contains(&Action::SendFsd { ups: 0 }), "{a:?}");
    assert_eq!(
        names(&c.m.fsd_confirmed(0, c.at(71.1))),
        ["FSD"],
        "FSD is notified again"
    );
}

#[test]
fn an_fsd_another_host_saw_stays_and_the_shutdown_goes_on() {
    for (result, log) in [
        (
            ClearResult::Refused("server replied ERR FSD-SEEN".into()),
            "UPS [ups@localhost]: FSD stays (server replied ERR FSD-SEEN), the shutdown goes on",
        ),
        (
            ClearResult::Unsupported,
            "UPS [ups@localhost]: upsd cannot withdraw FSD (no CLEARFSD: not nut-rs's upsd), the shutdown goes on",
        ),
    ] {
        let mut c = in_the_wait(PRIMARY);
        assert_eq!(
            c.m.status_while_waiting(0, "FSD OL", c.at(2.0)),
            [Action::ClearFsd { ups: 0 }]
        );
        assert_eq!(c.m.fsd_clear_result(0, result, c.at(2.1)), [warning(log)]);
        assert!(matches!(c.m.phase(), Phase::WaitingForSecondaries { .. }));
        assert!(!c.m.polls_while_waiting());
        // the secondaries leave; the primary shuts down
        assert!(c.m.numlogins(1, c.at(2.25)).contains(&Action::Shutdown));
        // a late answer changes nothing
        assert!(c
            .m
            .fsd_clear_result(0, ClearResult::Cleared, c.at(3.0))
            .is_empty());
        assert_eq!(c.m.phase(), Phase::ShutDown);
    }
}

#[test]
fn no_withdrawal_without_the_directive_or_for_a_forced_or_foreign_fsd() {
    // off by default
    let c = in_the_wait("MONITOR ups@localhost 1 admin secret primary\n");
    assert!(!c.m.polls_while_waiting());
    // upsmon -c fsd: the user asked for it
    let mut c = Clock::new(PRIMARY);
    c.status(0.0, "OL");
    assert!(starts_shutdown(&c.m.forced(c.at(1.0))));
    assert!(!c.m.polls_while_waiting());
    assert!(c.m.status_while_waiting(0, "FSD OL", c.at(2.0)).is_empty());
    // FSD set by someone else before this host acted
    let mut c = Clock::new(PRIMARY);
    assert!(starts_shutdown(&c.status(0.0, "FSD OL")));
    assert!(!c.m.polls_while_waiting());
    // primary for two UPSes: one withdrawal and one kept FSD would cut a running load
    let mut c = Clock::new(
        "MONITOR a@localhost 1 admin secret primary\nMONITOR b@localhost 1 admin secret primary\n\
         MINSUPPLIES 2\nCLEARFSD_ON_MAINS 1\n",
    );
    assert!(starts_shutdown(&c.status(0.0, "OB LB")));
    assert!(!c.m.polls_while_waiting());
}

#[test]
fn every_ups_must_be_back_on_mains() {
    let mut c = Clock::new(
        "MONITOR ups@localhost 1 admin secret primary\nMONITOR other@nas 0 mon pass secondary\n\
         CLEARFSD_ON_MAINS 1\n",
    );
    assert!(starts_shutdown(&c.status(0.0, "OB LB")));
    assert!(c.m.polls_while_waiting());
    // the other UPS not read yet, then still on battery
    assert!(c.m.status_while_waiting(0, "FSD OL", c.at(1.0)).is_empty());
    assert!(c.m.status_while_waiting(1, "OB", c.at(1.0)).is_empty());
    assert!(c.m.status_while_waiting(1, "OL OB", c.at(1.25)).is_empty());
    assert_eq!(
        c.m.status_while_waiting(1, "OL", c.at(1.5)),
        [Action::ClearFsd { ups: 0 }]
    );
}

/// What upsd reads during a generated wait.
#[derive(Debug, Clone)]
enum Step {
    Status(&'static str),
    Numlogins(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "FSD OB LB", "FSD OB", "FSD OL", "FSD OL LB", "FSD OL OB", "OL", "OB LB", "FSD",
        ])
        .prop_map(Step::Status),
        1 => (1u64..4).prop_map(Step::Numlogins),
    ]
}

fn answer() -> impl Strategy<Value = ClearResult> {
    prop_oneof![
        Just(ClearResult::Cleared),
        Just(ClearResult::Refused("server replied ERR FSD-SEEN".into())),
        Just(ClearResult::Unsupported),
    ]
}

proptest! {
    #[test]
    fn clearfsd_only_on_mains_once_and_only_ok_calls_off(
        steps in prop::collection::vec(step(), 1..40),
        answer in answer(),
    ) {
        let mut c = in_the_wait(PRIMARY);
        let mut asked = 0;
        let mut t = 1.0;
        for s in steps {
            t += 0.25;
            let now = c.at(t);
            let before = c.m.phase();
            match s {
                Step::Status(status) => {
                    let a = c.m.status_while_waiting(0, status, now);
                    if a.contains(&Action::ClearFsd { ups: 0 }) {
                        asked += 1;
                        let words: Vec<&str> = status.split(' ').collect();
                        prop_assert!(words.contains(&"OL") && !words.contains(&"OB"), "asked on {}", status);
                        let waiting = matches!(before, Phase::WaitingForSecondaries { .. });
                        prop_assert!(waiting);
                        let r = c.m.fsd_clear_result(0, answer.clone(), now);
                        let called_off = c.m.phase() == Phase::Monitoring;
                        prop_assert_eq!(called_off, answer == ClearResult::Cleared);
                        prop_assert!(!starts_shutdown(&r));
                    }
                }
                Step::Numlogins(n) => {
                    let a = c.m.numlogins(n, now);
                    let waiting = matches!(before, Phase::WaitingForSecondaries { .. });
                    // the wait ends in the shutdown as before, unless it was called off
                    prop_assert_eq!(a.contains(&Action::Shutdown), waiting && n <= 1);
                }
            }
        }
        prop_assert!(asked <= 1);
        if c.m.phase() == Phase::Monitoring {
            // called off: the next critical reading starts a new shutdown
            prop_assert!(starts_shutdown(&c.status(t + 1.0, "OB LB")));
        }
    }
}
