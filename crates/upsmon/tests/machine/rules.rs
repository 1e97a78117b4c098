//! One test per upsmon rule: criticality, notify events and texts, timers, poll rate,
//! MINSUPPLIES, the primary and secondary shutdown sequences.

use std::time::{Duration, Instant};

use nut_conf::notify::NotifyEvent;
use upsmon::machine::{check_supplies, Action, LogLevel, Machine, Observation, Phase, PollResult};

use super::{conf, effects, starts_shutdown};

const PRIMARY: &str = "MONITOR ups@localhost 1 admin secret primary\n";
const SECONDARY: &str = "MONITOR ups@server 1 mon pass secondary\n";

struct Sim {
    m: Machine,
    t0: Instant,
    now: Instant,
}

impl Sim {
    fn new(text: &str) -> Sim {
        let c = conf(text);
        let t0 = Instant::now();
        Sim {
            m: Machine::new(&c, t0),
            t0,
            now: t0,
        }
    }
    fn at(&mut self, secs: f64) -> &mut Sim {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self
    }
    fn poll(&mut self, ups: usize, status: &str) -> Vec<Action> {
        self.result(
            ups,
            PollResult::Status {
                status: status.into(),
                alarm: None,
                battery: Default::default(),
            },
        )
    }
    fn poll_alarm(&mut self, ups: usize, status: &str, alarm: Option<&str>) -> Vec<Action> {
        self.result(
            ups,
            PollResult::Status {
                status: status.into(),
                alarm: alarm.map(String::from),
                battery: Default::default(),
            },
        )
    }
    fn lost(&mut self, ups: usize) -> Vec<Action> {
        self.result(ups, PollResult::CommLost)
    }
    fn result(&mut self, ups: usize, result: PollResult) -> Vec<Action> {
        self.m.observe(Observation { ups, result }, self.now)
    }
    fn tick(&mut self) -> Vec<Action> {
        self.m.tick(self.now)
    }
}

/// `(NOTIFYTYPE, message)` of the notifications among `actions`.
fn notes(actions: &[Action]) -> Vec<(&'static str, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify { event, message, .. } => Some((event.name(), message.clone())),
            _ => None,
        })
        .collect()
}

fn names(actions: &[Action]) -> Vec<&'static str> {
    notes(actions).into_iter().map(|(n, _)| n).collect()
}

fn n(name: &'static str, msg: &str) -> (&'static str, String) {
    (name, msg.to_string())
}

fn shuts_down(actions: &[Action]) -> bool {
    actions.contains(&Action::Shutdown)
}

// ---------------------------------------------------------------- primary / secondary sequences

#[test]
fn primary_power_failure_full_sequence() {
    let mut s = Sim::new(PRIMARY);
    assert_eq!(names(&s.at(0.0).poll(0, "OL CHRG")), Vec::<&str>::new());
    assert!(s.tick().is_empty());
    assert_eq!(
        notes(&s.at(5.0).poll(0, "OB DISCHRG")),
        vec![n("ONBATT", "UPS ups@localhost on battery")]
    );
    assert!(!starts_shutdown(&s.tick()));
    assert_eq!(
        notes(&s.at(10.0).poll(0, "OB DISCHRG LB")),
        vec![n("LOWBATT", "UPS ups@localhost battery is low")]
    );
    let a = s.tick();
    assert_eq!(
        effects(&a),
        vec![
            Action::SendFsd { ups: 0 },
            Action::WaitForSecondaries { ups: vec![0] }
        ]
    );
    assert!(matches!(s.m.phase(), Phase::WaitingForSecondaries { .. }));
    // Polls and ticks are ignored while waiting.
    assert!(s.poll(0, "OL").is_empty());
    assert!(s.tick().is_empty());
    // upsd said OK to FSD: the newer upsmon notifies FSD itself, once.
    assert_eq!(
        notes(&s.m.fsd_confirmed(0, s.now)),
        vec![n("FSD", "UPS ups@localhost: forced shutdown in progress")]
    );
    assert!(s.m.fsd_confirmed(0, s.now).is_empty());
    // A secondary is still logged in.
    let a = s.m.numlogins(2, s.t0 + Duration::from_secs_f64(10.25));
    assert_eq!(
        notes(&a),
        vec![n(
            "SHUTDOWN_HOSTSYNC",
            "Shutdown initiated; primary system is waiting for secondaries to log out or time out"
        )]
    );
    assert!(s
        .m
        .numlogins(2, s.t0 + Duration::from_secs_f64(10.5))
        .is_empty());
    // It left.
    let a = s.m.numlogins(1, s.t0 + Duration::from_secs(11));
    assert_eq!(
        a,
        vec![
            Action::Log {
                level: LogLevel::Critical,
                message: "Executing automatic power-fail shutdown".into()
            },
            Action::Wall {
                message: "Executing automatic power-fail shutdown".into()
            },
            Action::Notify {
                event: NotifyEvent::Shutdown,
                ups: None,
                message: "Auto logout and shutdown proceeding".into()
            },
            Action::Shutdown,
        ]
    );
    assert_eq!(s.m.phase(), Phase::ShutDown);
    // Inert afterwards: Shutdown at most once.
    assert!(s.m.forced(s.now).is_empty());
    assert!(s.m.numlogins(1, s.now).is_empty());
    assert!(s.m.secondaries_gone(s.now).is_empty());
    assert!(s.at(20.0).tick().is_empty());
}

#[test]
fn primary_hostsync_timer_expires() {
    let mut s = Sim::new(&format!("{PRIMARY}HOSTSYNC 15\n"));
    s.at(0.0).poll(0, "OB LB");
    assert!(starts_shutdown(&s.tick()));
    let mut t = 0.0;
    let mut seen = Vec::new();
    while t <= 15.0 {
        t += 0.25;
        let a = s.m.numlogins(3, s.t0 + Duration::from_secs_f64(t));
        seen.extend(names(&a));
        assert_eq!(shuts_down(&a), t > 15.0, "at {t}");
    }
    assert_eq!(seen, vec!["SHUTDOWN_HOSTSYNC", "SHUTDOWN"]);
}

#[test]
fn primary_with_nobody_else_skips_hostsync_notify() {
    let mut s = Sim::new(PRIMARY);
    s.poll(0, "OB LB");
    s.tick();
    let a = s.m.numlogins(1, s.now);
    assert_eq!(names(&a), vec!["SHUTDOWN"]);
    assert!(shuts_down(&a));
    // Failed GETs count as 0 logins.
    let mut s = Sim::new(PRIMARY);
    s.poll(0, "OB LB");
    s.tick();
    assert!(shuts_down(&s.m.numlogins(0, s.now)));
}

#[test]
fn secondaries_gone_ends_the_wait() {
    let mut s = Sim::new(PRIMARY);
    s.poll(0, "OB LB");
    s.tick();
    assert!(shuts_down(&s.m.secondaries_gone(s.now)));
}

#[test]
fn fsd_is_sent_to_every_primary_ups() {
    let mut s = Sim::new(
        "MONITOR a@h 1 u p primary\nMONITOR b@h 0 u p secondary\nMONITOR c@h 1 u p master\nMINSUPPLIES 2\n",
    );
    s.poll(0, "OB LB");
    s.poll(1, "OL");
    s.poll(2, "OL");
    let a = s.tick();
    assert_eq!(
        effects(&a),
        vec![
            Action::SendFsd { ups: 0 },
            Action::SendFsd { ups: 2 },
            Action::WaitForSecondaries { ups: vec![0, 2] }
        ]
    );
}

#[test]
fn secondary_waits_hostsync_for_the_primary() {
    let mut s = Sim::new(&format!("{SECONDARY}HOSTSYNC 15\n"));
    s.at(0.0).poll(0, "OB");
    s.tick();
    s.at(5.0).poll(0, "OB LB");
    for t in [5.0, 10.0, 15.0, 20.0] {
        if t > 5.0 {
            s.at(t).poll(0, "OB LB");
        }
        assert!(!starts_shutdown(&s.at(t).tick()), "at {t}");
    }
    s.at(20.5).poll(0, "OB LB");
    let a = s.tick();
    // A secondary never sends FSD: straight to the shutdown.
    assert_eq!(names(&a), vec!["SHUTDOWN"]);
    assert!(shuts_down(&a));
    assert!(!a.iter().any(|a| matches!(a, Action::SendFsd { .. })));
}

#[test]
fn secondary_shuts_down_on_fsd_at_once() {
    let mut s = Sim::new(SECONDARY);
    s.at(0.0).poll(0, "OL");
    s.tick();
    let a = s.at(5.0).poll(0, "FSD OB LB");
    assert_eq!(
        notes(&a),
        vec![
            n("FSD", "UPS ups@server: forced shutdown in progress"),
            n("ONBATT", "UPS ups@server on battery"),
            n("LOWBATT", "UPS ups@server battery is low"),
        ]
    );
    let a = s.tick();
    assert_eq!(names(&a), vec!["SHUTDOWN"]);
    assert!(shuts_down(&a));
}

#[test]
fn fsd_alone_is_critical_even_online() {
    let mut s = Sim::new(SECONDARY);
    s.poll(0, "FSD OL");
    assert!(shuts_down(&s.tick()));
}

#[test]
fn fsd_notified_once_per_episode() {
    let mut s = Sim::new(&format!("{SECONDARY}MINSUPPLIES 0\n"));
    assert_eq!(names(&s.at(0.0).poll(0, "FSD OL")), vec!["FSD"]);
    assert!(names(&s.at(1.0).poll(0, "FSD OL")).is_empty());
    assert!(names(&s.at(2.0).poll(0, "OL")).is_empty());
    assert_eq!(names(&s.at(3.0).poll(0, "OL FSD")), vec!["FSD"]);
}

#[test]
fn forced_shutdown_primary_and_secondary() {
    let mut s = Sim::new(PRIMARY);
    let a = s.m.forced(s.now);
    assert_eq!(
        effects(&a),
        vec![
            Action::SendFsd { ups: 0 },
            Action::WaitForSecondaries { ups: vec![0] }
        ]
    );
    assert!(s.m.forced(s.now).is_empty());
    let mut s = Sim::new(SECONDARY);
    s.poll(0, "OL");
    assert!(shuts_down(&s.m.forced(s.now)));
}

// ---------------------------------------------------------------- criticality rules

#[test]
fn ob_lb_with_cal_is_not_critical_and_cal_clears() {
    let mut s = Sim::new(PRIMARY);
    assert_eq!(
        notes(&s.at(0.0).poll(0, "OB LB CAL")),
        vec![
            n("ONBATT", "UPS ups@localhost on battery"),
            n("LOWBATT", "UPS ups@localhost battery is low"),
            n("CAL", "UPS ups@localhost: calibration in progress"),
        ]
    );
    assert!(!starts_shutdown(&s.tick()));
    // Calibration ends: NOTCAL, and the 2.8.0 bug (CAL never cleared) is gone.
    assert_eq!(
        notes(&s.at(5.0).poll(0, "OL")),
        vec![
            n("NOTCAL", "UPS ups@localhost: calibration finished"),
            n("ONLINE", "UPS ups@localhost on line power"),
        ]
    );
    s.tick();
    s.at(10.0).poll(0, "OB LB");
    assert!(starts_shutdown(&s.tick()));
}

#[test]
fn ob_without_lb_or_lb_without_ob_is_not_critical() {
    let mut s = Sim::new(PRIMARY);
    s.poll(0, "OB DISCHRG");
    assert!(!starts_shutdown(&s.tick()));
    s.at(5.0).poll(0, "OL LB CHRG");
    assert!(!starts_shutdown(&s.tick()));
}

#[test]
fn never_contacted_ups_counts_as_healthy() {
    let mut s = Sim::new(PRIMARY);
    for t in 0..100 {
        s.at(f64::from(t) * 5.0);
        s.lost(0);
        assert!(!starts_shutdown(&s.tick()));
    }
}

#[test]
fn deadtime_promotes_silent_on_battery_ups() {
    let mut s = Sim::new(&format!("{PRIMARY}DEADTIME 15\n"));
    s.at(0.0).poll(0, "OB DISCHRG");
    s.tick();
    for t in [5.0, 10.0, 15.0] {
        s.at(t).lost(0);
        assert!(!starts_shutdown(&s.tick()), "at {t}");
    }
    assert!(!s.m.flags(0).lowbatt);
    s.at(15.5).lost(0);
    let a = s.tick();
    assert!(starts_shutdown(&a));
    assert!(s.m.flags(0).lowbatt);
    assert!(a.contains(&Action::Log {
        level: LogLevel::Info,
        message: "Promoting dead UPS: ups@localhost".into()
    }));
}

#[test]
fn deadtime_promotion_on_secondary_is_critical_by_silence() {
    let mut s = Sim::new(&format!("{SECONDARY}DEADTIME 15\nHOSTSYNC 15\n"));
    s.at(0.0).poll(0, "OB DISCHRG");
    s.tick();
    s.at(5.0).lost(0);
    assert!(!starts_shutdown(&s.tick()));
    s.at(16.0).lost(0);
    assert!(shuts_down(&s.tick()));
}

#[test]
fn silence_while_online_never_shuts_down() {
    let mut s = Sim::new(&format!("{PRIMARY}NOCOMMWARNTIME 300\n"));
    s.at(0.0).poll(0, "OL CHRG");
    s.tick();
    let mut seen = Vec::new();
    for k in 1..=200 {
        let t = f64::from(k) * 5.0;
        seen.extend(names(&s.at(t).result(0, PollResult::DataStale)));
        assert!(!starts_shutdown(&s.tick()));
    }
    assert_eq!(seen, vec!["COMMBAD", "NOCOMM", "NOCOMM", "NOCOMM"]);
}

#[test]
fn comm_loss_with_bypass_cal_off_is_critical_at_once() {
    for status in ["OL BYPASS", "OL CAL", "OFF"] {
        let mut s = Sim::new(PRIMARY);
        s.at(0.0).poll(0, status);
        assert!(!starts_shutdown(&s.tick()), "{status} while talking");
        s.at(1.0).result(0, PollResult::DriverNotConnected);
        assert!(starts_shutdown(&s.tick()), "{status} then comm loss");
    }
}

#[test]
fn comm_loss_reasons_name_the_last_known_state() {
    for (status, reason) in [
        (
            "ALARM OL",
            "UPS [ups@localhost] was last known to be in an ALARM state and currently is not \
             communicating, assuming dead. If this is in error and causes unwanted shutdowns, \
             consider disabling the upsmon ALARMCRITICAL option.",
        ),
        (
            "OL CAL",
            "UPS [ups@localhost] was last known to be calibrating and currently is not \
             communicating, assuming dead",
        ),
        (
            "OL BYPASS",
            "UPS [ups@localhost] was last known to be on BYPASS and currently is not \
             communicating, assuming dead",
        ),
        (
            "OFF",
            "UPS [ups@localhost] was last known to be (administratively) OFF and currently is \
             not communicating, assuming dead",
        ),
    ] {
        let mut s = Sim::new(PRIMARY);
        s.at(0.0).poll(0, status);
        s.at(1.0).lost(0);
        let warnings: Vec<String> = s
            .tick()
            .into_iter()
            .filter_map(|a| match a {
                Action::Log {
                    level: LogLevel::Warning,
                    message,
                } => Some(message),
                _ => None,
            })
            .collect();
        assert_eq!(
            warnings,
            [
                reason,
                "Too few UPS(es) are healthy (0<1), initiating forced shutdown"
            ],
            "{status}"
        );
    }
}

#[test]
fn comm_loss_with_alarm_follows_alarmcritical() {
    let mut s = Sim::new(PRIMARY);
    s.poll_alarm(0, "ALARM OL", Some("Replace battery!"));
    assert!(!starts_shutdown(&s.tick()));
    s.at(1.0).lost(0);
    assert!(starts_shutdown(&s.tick()));

    let mut s = Sim::new(&format!("{PRIMARY}ALARMCRITICAL 0\n"));
    s.poll_alarm(0, "ALARM OL", Some("Replace battery!"));
    s.at(1.0).lost(0);
    assert!(!starts_shutdown(&s.tick()));
}

#[test]
fn comm_loss_with_over_follows_overduration() {
    // Default OVERDURATION -1: never.
    let mut s = Sim::new(PRIMARY);
    s.at(0.0).poll(0, "OL OVER");
    s.at(1.0).lost(0);
    for t in [1.0, 100.0, 1000.0] {
        assert!(!starts_shutdown(&s.at(t).tick()));
    }
    let mut s = Sim::new(&format!("{PRIMARY}OVERDURATION 10\n"));
    s.at(0.0).poll(0, "OL OVER");
    s.at(1.0).lost(0);
    assert!(!starts_shutdown(&s.at(9.0).tick()));
    assert!(starts_shutdown(&s.at(10.0).tick()));
    // Overloaded but talking: never critical.
    let mut s = Sim::new(&format!("{PRIMARY}OVERDURATION 0\n"));
    for t in 0..10 {
        s.at(f64::from(t) * 5.0).poll(0, "OL OVER");
        assert!(!starts_shutdown(&s.tick()));
    }
}

#[test]
fn trim_boost_eco_with_comm_loss_are_not_critical() {
    for status in ["OL TRIM", "OL BOOST", "OL ECO"] {
        let mut s = Sim::new(PRIMARY);
        s.at(0.0).poll(0, status);
        s.at(1.0).lost(0);
        assert!(!starts_shutdown(&s.at(1.0).tick()), "{status}");
        assert!(!starts_shutdown(&s.at(100.0).tick()), "{status}");
    }
}

#[test]
fn offduration_default_30s() {
    let mut s = Sim::new(PRIMARY);
    assert_eq!(
        notes(&s.at(0.0).poll(0, "OFF")),
        vec![n(
            "OFF",
            "UPS ups@localhost: administratively OFF or asleep"
        )]
    );
    for t in [5.0, 10.0, 30.0] {
        s.at(t).poll(0, "OFF");
        assert!(!starts_shutdown(&s.tick()), "at {t}");
    }
    s.at(30.5).poll(0, "OFF");
    assert!(starts_shutdown(&s.tick()));
}

#[test]
fn offduration_zero_and_negative() {
    let mut s = Sim::new(&format!("{PRIMARY}OFFDURATION 0\n"));
    s.poll(0, "OFF");
    assert!(starts_shutdown(&s.tick()));

    let mut s = Sim::new(&format!("{PRIMARY}OFFDURATION -1\n"));
    for t in 0..100 {
        s.at(f64::from(t) * 5.0).poll(0, "OFF");
        assert!(!starts_shutdown(&s.tick()));
    }
    // OFFDURATION < 0 also means OFF + comm loss is not critical.
    s.at(501.0).lost(0);
    assert!(!starts_shutdown(&s.tick()));
}

#[test]
fn off_going_away_resets_the_timer() {
    let mut s = Sim::new(PRIMARY);
    s.at(0.0).poll(0, "OFF");
    assert_eq!(
        notes(&s.at(20.0).poll(0, "OL")),
        vec![n(
            "NOTOFF",
            "UPS ups@localhost: no longer administratively OFF or asleep"
        )]
    );
    s.at(25.0).poll(0, "OFF");
    s.at(50.0).poll(0, "OFF");
    assert!(!starts_shutdown(&s.tick()));
    s.at(56.0).poll(0, "OFF");
    assert!(starts_shutdown(&s.tick()));
}

#[test]
fn oblbduration_delays_and_speeds_up_polling() {
    let mut s = Sim::new(&format!(
        "{PRIMARY}POLLFREQ 30\nPOLLFREQALERT 4\nOBLBDURATION 6\n"
    ));
    s.at(0.0).poll(0, "OB LB");
    let a = s.tick();
    assert!(!starts_shutdown(&a));
    // gcd(POLLFREQALERT 4, OBLBDURATION 6) = 2 s.
    assert_eq!(s.m.poll_interval(), Duration::from_secs(2));
    for t in [2.0, 4.0] {
        s.at(t).poll(0, "OB LB");
        assert!(!starts_shutdown(&s.tick()), "at {t}");
    }
    s.at(6.0).poll(0, "OB LB");
    assert!(starts_shutdown(&s.tick()));

    // Leaving OB+LB ends the timer.
    let mut s = Sim::new(&format!(
        "{PRIMARY}POLLFREQ 30\nPOLLFREQALERT 4\nOBLBDURATION 6\n"
    ));
    s.at(0.0).poll(0, "OB LB");
    s.tick();
    s.at(2.0).poll(0, "OB");
    s.tick();
    assert_eq!(s.m.poll_interval(), Duration::from_secs(4));
    s.at(4.0).poll(0, "OB LB");
    assert!(!starts_shutdown(&s.tick()));
    s.at(8.0).poll(0, "OB LB");
    assert!(!starts_shutdown(&s.tick()));
    s.at(10.0).poll(0, "OB LB");
    assert!(starts_shutdown(&s.tick()));
}

// ---------------------------------------------------------------- MINSUPPLIES and power values

#[test]
fn minsupplies_with_several_monitors() {
    let three =
        "MONITOR a@h 1 u p primary\nMONITOR b@h 1 u p primary\nMONITOR c@h 0 u p secondary\n";
    // MINSUPPLIES 1: one dual-fed host survives losing one UPS.
    let mut s = Sim::new(&format!("{three}MINSUPPLIES 1\n"));
    s.poll(0, "OB LB");
    s.poll(1, "OL");
    s.poll(2, "OB LB");
    assert!(!starts_shutdown(&s.tick()));
    s.at(5.0).poll(1, "OB LB");
    assert!(starts_shutdown(&s.tick()));

    // MINSUPPLIES 2: losing either one is too much.
    let mut s = Sim::new(&format!("{three}MINSUPPLIES 2\n"));
    s.poll(0, "OL");
    s.poll(1, "OB LB");
    s.poll(2, "OL");
    assert!(starts_shutdown(&s.tick()));

    // Power value 0 (monitor only) never matters.
    let mut s = Sim::new(&format!("{three}MINSUPPLIES 2\n"));
    s.poll(0, "OL");
    s.poll(1, "OL");
    s.poll(2, "FSD OB LB");
    assert!(!starts_shutdown(&s.tick()));
}

#[test]
fn power_value_two_and_never_contacted() {
    let conf = "MONITOR big@h 2 u p secondary\nMONITOR small@h 1 u p secondary\nMINSUPPLIES 2\n";
    let mut s = Sim::new(conf);
    // small is critical; big (never reached) counts as healthy with 2.
    s.poll(1, "FSD OB LB");
    s.lost(0);
    assert!(!starts_shutdown(&s.tick()));
    // big critical, small fine: 1 < 2.
    let mut s = Sim::new(conf);
    s.poll(0, "FSD OB LB");
    s.poll(1, "OL");
    assert!(shuts_down(&s.tick()));
}

#[test]
fn minsupplies_zero_never_shuts_down() {
    let mut s = Sim::new(&format!("{PRIMARY}MINSUPPLIES 0\n"));
    s.poll(0, "FSD OB LB");
    assert!(!starts_shutdown(&s.tick()));
}

#[test]
fn too_little_power_configured_is_an_error() {
    let c = conf("MONITOR a@h 1 u p primary\nMINSUPPLIES 2\n");
    assert_eq!(
        check_supplies(&c).unwrap_err().to_string(),
        "insufficient power configured: the sum of power values is 1, MINSUPPLIES is 2"
    );
    assert!(check_supplies(&conf(PRIMARY)).is_ok());
}

// ---------------------------------------------------------------- notify events and timers

#[test]
fn online_onbatt_and_first_poll() {
    let mut s = Sim::new(PRIMARY);
    // First OL after start: no ONLINE.
    assert!(notes(&s.at(0.0).poll(0, "OL")).is_empty());
    assert_eq!(names(&s.at(5.0).poll(0, "OB")), vec!["ONBATT"]);
    assert!(names(&s.at(6.0).poll(0, "OB")).is_empty());
    assert_eq!(
        notes(&s.at(10.0).poll(0, "OL")),
        vec![n("ONLINE", "UPS ups@localhost on line power")]
    );
    // ONBATT at startup.
    let mut s = Sim::new(PRIMARY);
    assert_eq!(names(&s.poll(0, "OB DISCHRG")), vec!["ONBATT"]);
}

#[test]
fn commbad_commok_and_nocomm() {
    let mut s = Sim::new(&format!("{PRIMARY}NOCOMMWARNTIME 60\n"));
    s.at(0.0).poll(0, "OL");
    assert_eq!(
        notes(&s.at(5.0).lost(0)),
        vec![n("COMMBAD", "Communications with UPS ups@localhost lost")]
    );
    let mut seen = Vec::new();
    let mut t = 5.0;
    while t < 200.0 {
        t += 5.0;
        for (name, msg) in notes(&s.at(t).lost(0)) {
            assert_eq!(msg, "UPS ups@localhost is unavailable");
            seen.push((name, t));
        }
    }
    // NOCOMM once 60 s passed since the last good poll, then every > 60 s.
    assert_eq!(
        seen,
        vec![("NOCOMM", 60.0), ("NOCOMM", 125.0), ("NOCOMM", 190.0)]
    );
    assert_eq!(
        notes(&s.at(201.0).poll(0, "OL")),
        vec![n(
            "COMMOK",
            "Communications with UPS ups@localhost established"
        )]
    );
    // Back to normal: no ONLINE (it was never OB).
    assert!(s.at(202.0).poll(0, "OL").is_empty());
}

#[test]
fn nocomm_repeats_by_whole_seconds_as_nut() {
    // NUT compares time_t seconds: polls 1.001 s apart with NOCOMMWARNTIME 2 repeat NOCOMM
    // every third poll (the first once 2 s passed since the last good poll), not every second.
    let mut s = Sim::new(&format!("{PRIMARY}NOCOMMWARNTIME 2\n"));
    s.at(0.0).poll(0, "OL");
    let mut seen = Vec::new();
    for k in 1..=10 {
        let t = f64::from(k) * 1.001;
        if names(&s.at(t).lost(0)).contains(&"NOCOMM") {
            seen.push(k);
        }
    }
    assert_eq!(seen, [2, 5, 8]);
}

#[test]
fn never_reached_ups_gets_commbad_then_nocomm() {
    let mut s = Sim::new(PRIMARY);
    assert_eq!(names(&s.at(0.0).lost(0)), vec!["COMMBAD"]);
    assert_eq!(names(&s.at(5.0).lost(0)), vec!["NOCOMM"]);
    assert!(names(&s.at(10.0).lost(0)).is_empty());
    // The first successful poll after that is a COMMOK.
    assert_eq!(names(&s.at(15.0).poll(0, "OL")), vec!["COMMOK"]);
}

#[test]
fn empty_status_counts_as_gone() {
    let mut s = Sim::new(PRIMARY);
    s.poll(0, "OL");
    assert_eq!(names(&s.at(1.0).poll(0, "")), vec!["COMMBAD"]);
}

#[test]
fn replbatt_repeats_every_rbwarntime() {
    let mut s = Sim::new(&format!("{PRIMARY}RBWARNTIME 100\n"));
    let mut seen = Vec::new();
    for k in 0..=50 {
        let t = f64::from(k) * 5.0;
        for (name, msg) in notes(&s.at(t).poll(0, "OL RB")) {
            assert_eq!(msg, "UPS ups@localhost battery needs to be replaced");
            seen.push((name, t));
        }
    }
    assert_eq!(
        seen,
        vec![("REPLBATT", 0.0), ("REPLBATT", 105.0), ("REPLBATT", 210.0)]
    );
}

#[test]
fn condition_events_and_texts() {
    let mut s = Sim::new(&format!("{PRIMARY}MINSUPPLIES 0\n"));
    s.at(0.0).poll(0, "OL");
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "OL BYPASS",
            &[(
                "BYPASS",
                "UPS ups@localhost: on bypass (powered, not protecting)",
            )],
        ),
        (
            "OL",
            &[("NOTBYPASS", "UPS ups@localhost: no longer on bypass")],
        ),
        (
            "OL ECO",
            &[(
                "ECO",
                "UPS ups@localhost: in ECO mode (as defined by vendor)",
            )],
        ),
        (
            "OL",
            &[("NOTECO", "UPS ups@localhost: no longer in ECO mode")],
        ),
        (
            "OL TRIM",
            &[("TRIM", "UPS ups@localhost: trimming incoming voltage")],
        ),
        (
            "OL",
            &[(
                "NOTTRIM",
                "UPS ups@localhost: no longer trimming incoming voltage",
            )],
        ),
        (
            "OL BOOST",
            &[("BOOST", "UPS ups@localhost: boosting incoming voltage")],
        ),
        (
            "OL",
            &[(
                "NOTBOOST",
                "UPS ups@localhost: no longer boosting incoming voltage",
            )],
        ),
        ("OL OVER", &[("OVER", "UPS ups@localhost: overloaded")]),
        (
            "OL",
            &[("NOTOVER", "UPS ups@localhost: no longer overloaded")],
        ),
        (
            "OL CAL",
            &[("CAL", "UPS ups@localhost: calibration in progress")],
        ),
        (
            "OL",
            &[("NOTCAL", "UPS ups@localhost: calibration finished")],
        ),
        (
            "OL WAIT",
            &[(
                "OTHER",
                "UPS ups@localhost: has at least one unclassified status token: [WAIT]",
            )],
        ),
        ("OL WAIT", &[]),
        (
            "OL WAIT FOO",
            &[(
                "OTHER",
                "UPS ups@localhost: has at least one unclassified status token: [WAIT FOO]",
            )],
        ),
        (
            "OL",
            &[(
                "NOTOTHER",
                "UPS ups@localhost has no unclassified status tokens anymore",
            )],
        ),
        // Several at once: NOT... first, then the words in order.
        (
            "OL TRIM BYPASS",
            &[
                ("TRIM", "UPS ups@localhost: trimming incoming voltage"),
                (
                    "BYPASS",
                    "UPS ups@localhost: on bypass (powered, not protecting)",
                ),
            ],
        ),
        (
            "OL BOOST",
            &[
                ("NOTBYPASS", "UPS ups@localhost: no longer on bypass"),
                (
                    "NOTTRIM",
                    "UPS ups@localhost: no longer trimming incoming voltage",
                ),
                ("BOOST", "UPS ups@localhost: boosting incoming voltage"),
            ],
        ),
    ];
    for (k, (status, want)) in cases.iter().enumerate() {
        let got = notes(&s.at(1.0 + k as f64).poll(0, status));
        let want: Vec<_> = want.iter().map(|(a, b)| n(a, b)).collect();
        assert_eq!(got, want, "status {status:?}");
    }
}

#[test]
fn alarm_texts() {
    let mut s = Sim::new(&format!("{PRIMARY}MINSUPPLIES 0\n"));
    s.at(0.0).poll(0, "OL");
    assert_eq!(
        notes(
            &s.at(1.0)
                .poll_alarm(0, "ALARM OL", Some("Replace battery!"))
        ),
        vec![n(
            "ALARM",
            "UPS ups@localhost: one or more active alarms: [Replace battery!]"
        )]
    );
    assert!(notes(
        &s.at(2.0)
            .poll_alarm(0, "ALARM OL", Some("Replace battery!"))
    )
    .is_empty());
    assert_eq!(
        notes(&s.at(3.0).poll_alarm(0, "ALARM OL", Some("Overheat"))),
        vec![n(
            "ALARM",
            "UPS ups@localhost: one or more active alarms: [Overheat]"
        )]
    );
    // ups.alarm unreadable: no re-notify.
    assert!(notes(&s.at(4.0).poll_alarm(0, "ALARM OL", None)).is_empty());
    assert_eq!(
        notes(&s.at(5.0).poll(0, "OL")),
        vec![n(
            "NOTALARM",
            "UPS ups@localhost is no longer in an alarm state (no active alarms)"
        )]
    );
    assert_eq!(
        notes(&s.at(6.0).poll_alarm(0, "ALARM OL", None)),
        vec![n(
            "ALARM",
            "UPS ups@localhost: one or more active alarms: [n/a]"
        )]
    );
}

#[test]
fn notifymsg_overrides_text() {
    let mut s = Sim::new(&format!(
        "{PRIMARY}NOTIFYMSG ONBATT \"Power out on %s!\"\nNOTIFYMSG SHUTDOWN \"bye\"\nNOTIFYMSG OTHER \"%s odd: %s\"\n"
    ));
    assert_eq!(
        notes(&s.poll(0, "OB X1")),
        vec![
            n("ONBATT", "Power out on ups@localhost!"),
            n("OTHER", "ups@localhost odd: X1")
        ]
    );
    let a = s.m.forced(s.now);
    assert!(names(&a).is_empty());
    let a = s.m.numlogins(1, s.now);
    assert_eq!(notes(&a), vec![n("SHUTDOWN", "bye")]);
}

#[test]
fn notify_ups_index() {
    let mut s = Sim::new("MONITOR a@h 1 u p primary\nMONITOR b@h 1 u p primary\n");
    assert_eq!(
        effects(&s.poll(1, "OB")),
        vec![Action::Notify {
            event: NotifyEvent::OnBatt,
            ups: Some(1),
            message: "UPS b@h on battery".into()
        }]
    );
}

#[test]
fn pollfreqalert_switching() {
    let two =
        "MONITOR a@h 1 u p primary\nMONITOR b@h 1 u p primary\nPOLLFREQ 30\nPOLLFREQALERT 5\n";
    let mut s = Sim::new(two);
    assert_eq!(s.m.poll_interval(), Duration::from_secs(30));
    s.poll(0, "OL");
    s.poll(1, "OL");
    assert!(!s
        .tick()
        .iter()
        .any(|a| matches!(a, Action::SetPollInterval(_))));
    let a = s.poll(0, "OB");
    assert!(a.contains(&Action::SetPollInterval(Duration::from_secs(5))));
    // b being OL does not relax polling while a is OB.
    let a = s.poll(1, "OL");
    assert!(!a.iter().any(|a| matches!(a, Action::SetPollInterval(_))));
    assert_eq!(s.m.poll_interval(), Duration::from_secs(5));
    let a = s.poll(0, "OL");
    assert!(a.contains(&Action::SetPollInterval(Duration::from_secs(30))));
    for status in [
        "OL BYPASS",
        "OL CAL",
        "OFF",
        "OL TRIM",
        "OL BOOST",
        "OL OVER",
    ] {
        let a = s.poll(1, status);
        assert!(
            a.contains(&Action::SetPollInterval(Duration::from_secs(5))),
            "{status}"
        );
        let a = s.poll(1, "OL");
        assert!(
            a.contains(&Action::SetPollInterval(Duration::from_secs(30))),
            "{status}"
        );
    }
    // ECO does not speed polling up.
    assert!(!s
        .poll(1, "OL ECO")
        .iter()
        .any(|a| matches!(a, Action::SetPollInterval(_))));
}

#[test]
fn lower_case_words_do_not_flap() {
    let mut s = Sim::new(&format!("{PRIMARY}MINSUPPLIES 0\n"));
    assert_eq!(
        names(&s.at(0.0).poll(0, "ob lb cal")),
        vec!["ONBATT", "LOWBATT", "CAL"]
    );
    assert!(names(&s.at(5.0).poll(0, "ob lb cal")).is_empty());
}

#[test]
fn reload_keeps_state_and_reconnects_changed_logins() {
    let c1 = conf("MONITOR a@h 1 u p primary\nMONITOR b@h 1 u p secondary\n");
    let t0 = Instant::now();
    let mut m = Machine::new(&c1, t0);
    let ob = |ups| Observation {
        ups,
        result: PollResult::Status {
            status: "OB".into(),
            alarm: None,
            battery: Default::default(),
        },
    };
    m.observe(ob(1), t0);
    let c2 = conf("MONITOR b@h 1 u newpass secondary\nMONITOR c@h 1 u p secondary\n");
    let a = m.reload(&c2, t0).unwrap();
    assert_eq!(effects(&a), vec![Action::Reconnect { ups: 0 }]);
    assert_eq!(m.len(), 2);
    assert_eq!(m.system(0), "b@h");
    assert!(m.flags(0).onbatt);
    // Still OB: no second ONBATT.
    assert!(names(&m.observe(ob(0), t0)).is_empty());
    let bad = conf("MONITOR b@h 1 u p secondary\nMINSUPPLIES 3\n");
    assert!(m.reload(&bad, t0).is_err());
}

#[test]
fn noparent_every_two_minutes() {
    let mut s = Sim::new(PRIMARY);
    let a = s.m.parent_died(s.t0);
    assert_eq!(
        notes(&a),
        vec![n(
            "NOPARENT",
            "upsmon parent process died - shutdown impossible"
        )]
    );
    assert!(a.contains(&Action::Log {
        level: LogLevel::Alert,
        message: "Parent died - shutdown impossible".into()
    }));
    assert!(s.m.parent_died(s.t0 + Duration::from_secs(119)).is_empty());
    assert!(!s.m.parent_died(s.t0 + Duration::from_secs(120)).is_empty());
}

#[test]
fn suspend_and_resume_forget_stale_readings() {
    let mut s = Sim::new(PRIMARY);
    s.at(0.0).poll(0, "OB DISCHRG");
    s.tick();
    assert_eq!(
        notes(&s.m.suspending(s.now)),
        vec![n(
            "SUSPEND_STARTING",
            "OS is entering sleep/suspend/hibernate mode"
        )]
    );
    // Asleep for an hour: without the reset, DEADTIME would promote OB to OB+LB.
    let a = s.m.resumed(s.t0 + Duration::from_secs(3600));
    assert_eq!(names(&a), vec!["SUSPEND_FINISHED"]);
    s.at(3600.0);
    assert!(!starts_shutdown(&s.tick()));
    assert!(!starts_shutdown(&s.at(3610.0).tick()));
    assert_eq!(names(&s.at(3611.0).poll(0, "OB DISCHRG")), vec!["ONBATT"]);
}

#[test]
fn time_jump_text_is_kept() {
    let s = Sim::new(PRIMARY);
    assert_eq!(
        s.m.notification(
            NotifyEvent::SuspendTimejumpUnexpected,
            None,
            Some("42.000000 seconds")
        ),
        Action::Notify {
            event: NotifyEvent::SuspendTimejumpUnexpected,
            ups: None,
            message: "Unexpected clock change by 42.000000 seconds, treating as wake up from sleep"
                .into()
        }
    );
}

#[test]
fn criticality_reasons_are_logged_once_not_every_tick() {
    // The I/O layer may tick often (every 250 ms): a reason is logged when it starts.
    let mut s = Sim::new(&format!("{PRIMARY}MINSUPPLIES 0\n"));
    s.at(0.0).poll(0, "OL BYPASS");
    s.at(1.0).lost(0);
    let logs = |a: &[Action]| {
        a.iter()
            .filter(|a| matches!(a, Action::Log { level, .. } if *level >= LogLevel::Warning))
            .count()
    };
    assert_eq!(logs(&s.tick()), 1);
    for k in 0..20 {
        assert_eq!(logs(&s.at(1.25 + f64::from(k) * 0.25).tick()), 0);
    }
    // Comms back and lost again: logged again.
    s.at(10.0).poll(0, "OL BYPASS");
    assert_eq!(logs(&s.tick()), 0);
    s.at(11.0).lost(0);
    assert_eq!(logs(&s.tick()), 1);
}
