//! Property tests: thousands of generated histories (outages, blips, comm loss, upsd restarts,
//! stale data) on a simulated clock, checked against an independent model of the rules.
//!
//! * no spurious shutdown: the shutdown starts only if the UPSes the model says *may* be
//!   critical leave less than MINSUPPLIES;
//! * no missed shutdown: it starts as soon as the UPSes the model says *must* be critical do;
//! * the primary's wait ends within HOSTSYNC, and `Shutdown` comes at most once.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use upsmon::machine::{Action, Machine, Observation, Phase, PollResult};

use super::{conf, starts_shutdown};

/// What a poll can give; `None` status = a failure of the given kind.
const POOL: &[&str] = &[
    "OL",
    "OL CHRG",
    "OL CHRG",
    "OB DISCHRG",
    "OB DISCHRG",
    "OB LB DISCHRG",
    "OB LB",
    "FSD OB LB",
    "OL LB CHRG",
    "OB LB CAL",
    "OL CAL",
    "OL BYPASS",
    "OFF",
    "OL ALARM",
    "OL TRIM",
    "OL BOOST",
    "OL OVER",
    "OL RB",
    "OB RB",
    "WAIT",
    "OL ECO",
    "!lost",
    "!stale",
    "!nodriver",
    "!empty",
];

#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    deadtime: u64,
    hostsync: u64,
    offduration: i64,
}

/// The model's memory of one UPS, kept independently of the machine.
#[derive(Debug, Clone, Default)]
struct Model {
    primary: bool,
    pv: u32,
    /// Words of the last good status.
    last: Vec<String>,
    /// Sticky on-battery (OL clears, OB sets, other statuses keep it).
    ob: bool,
    last_good: Option<f64>,
    /// The last observation failed.
    lost: bool,
    /// The latest good poll whose final state was not OB+LB-without-CAL (machine start at 0).
    last_noncrit_poll: f64,
    /// Start of the current run of good polls that are all OB+LB without CAL.
    critrun_start: Option<f64>,
    /// First good poll of the current run of OFF polls.
    off_start: Option<f64>,
    /// OFF has lasted more than OFFDURATION at some poll of the current run.
    off_confirmed: bool,
}

impl Model {
    fn has(&self, w: &str) -> bool {
        self.last.iter().any(|x| x == w)
    }

    fn good_poll(&mut self, status: &str, t: f64, p: &Params) {
        self.last = status.split(' ').map(String::from).collect();
        self.lost = false;
        self.last_good = Some(t);
        if self.has("OL") {
            self.ob = false;
        }
        if self.has("OB") {
            self.ob = true;
        }
        let crit = self.ob && self.has("LB") && !self.has("CAL");
        if crit {
            self.critrun_start.get_or_insert(t);
        } else {
            self.critrun_start = None;
            self.last_noncrit_poll = t;
        }
        if self.has("OFF") {
            let start = *self.off_start.get_or_insert(t);
            if p.offduration == 0 || (p.offduration > 0 && t - start > p.offduration as f64) {
                self.off_confirmed = true;
            }
        } else {
            self.off_start = None;
            self.off_confirmed = false;
        }
    }

    fn silent(&self, t: f64, p: &Params) -> bool {
        self.last_good.is_some_and(|g| t - g > p.deadtime as f64)
    }

    /// Comms lost while the last status says the UPS could not be trusted to hold.
    fn lost_in_a_critical_state(&self, p: &Params) -> bool {
        self.lost
            && (self.has("CAL")
                || self.has("BYPASS")
                || self.has("ALARM")
                || (self.has("OFF") && p.offduration >= 0))
    }

    /// A necessary condition for the machine to call this UPS critical.
    fn may_be_critical(&self, t: f64, p: &Params) -> bool {
        if self.has("FSD") || self.lost_in_a_critical_state(p) || self.off_confirmed {
            return true;
        }
        self.ob
            && (self.has("LB") || self.silent(t, p))
            && (self.primary || t - self.last_noncrit_poll > p.hostsync as f64)
    }

    /// A sufficient condition: the rules leave no choice.
    fn must_be_critical(&self, t: f64, p: &Params) -> bool {
        if self.has("FSD") || self.off_confirmed || self.lost_in_a_critical_state(p) {
            return true;
        }
        let hostsync = p.hostsync as f64;
        let by_lb = self
            .critrun_start
            .is_some_and(|start| self.ob && (self.primary || t - start > hostsync));
        let by_silence = self.ob
            && self.silent(t, p)
            && self
                .last_good
                .is_some_and(|g| self.primary || t - g > hostsync);
        by_lb || by_silence
    }
}

fn result_for(word: &str) -> PollResult {
    match word {
        "!lost" => PollResult::CommLost,
        "!stale" => PollResult::DataStale,
        "!nodriver" => PollResult::DriverNotConnected,
        "!empty" => PollResult::Status {
            status: String::new(),
            alarm: None,
            battery: Default::default(),
        },
        s => PollResult::Status {
            status: s.to_string(),
            alarm: s.contains("ALARM").then(|| "Replace battery!".to_string()),
            battery: Default::default(),
        },
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    /// (role primary?, power value) per MONITOR line.
    ups: Vec<(bool, u32)>,
    minsupplies: u32,
    params: Params,
    /// Per cycle: seconds since the last cycle, and per UPS a new pool index or "same as
    /// before".
    steps: Vec<(f64, Vec<Option<usize>>)>,
    /// NUMLOGINS answers during the primary's wait.
    logins: Vec<u64>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=3)
        .prop_flat_map(|n| {
            (
                prop::collection::vec((any::<bool>(), 0u32..=2), n),
                prop::sample::select(vec![15u64, 30]),
                prop::sample::select(vec![5u64, 15]),
                prop::sample::select(vec![-1i64, 0, 30]),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![0.25, 1.0, 2.0, 5.0, 5.0, 5.0, 10.0, 17.0]),
                        prop::collection::vec(
                            prop_oneof![6 => Just(None), 4 => (0..POOL.len()).prop_map(Some)],
                            n,
                        ),
                    ),
                    1..120,
                ),
                prop::collection::vec(0u64..=3, 1..200),
                0u32..=4,
            )
        })
        .prop_map(
            |(mut ups, deadtime, hostsync, offduration, steps, logins, min)| {
                if ups.iter().all(|u| u.1 == 0) {
                    ups[0].1 = 1;
                }
                let total: u32 = ups.iter().map(|u| u.1).sum();
                Scenario {
                    ups,
                    minsupplies: min.min(total).max(1),
                    params: Params {
                        deadtime,
                        hostsync,
                        offduration,
                    },
                    steps,
                    logins,
                }
            },
        )
}

fn config(s: &Scenario) -> String {
    let mut text = String::new();
    for (i, (primary, pv)) in s.ups.iter().enumerate() {
        let role = if *primary { "primary" } else { "secondary" };
        text.push_str(&format!("MONITOR ups{i}@host {pv} user pass {role}\n"));
    }
    text.push_str(&format!(
        "MINSUPPLIES {}\nDEADTIME {}\nHOSTSYNC {}\nOFFDURATION {}\n",
        s.minsupplies, s.params.deadtime, s.params.hostsync, s.params.offduration
    ));
    text
}

fn count_shutdowns(actions: &[Action]) -> usize {
    actions.iter().filter(|a| **a == Action::Shutdown).count()
}

/// Runs a scenario, checking the properties; returns whether the host shut down.
fn run(s: &Scenario) -> Result<bool, TestCaseError> {
    let conf = conf(&config(s));
    let t0 = Instant::now();
    let at = |t: f64| t0 + Duration::from_secs_f64(t);
    let mut m = Machine::new(&conf, t0);
    let p = s.params;
    let mut models: Vec<Model> = s
        .ups
        .iter()
        .map(|&(primary, pv)| Model {
            primary,
            pv,
            ..Model::default()
        })
        .collect();
    let mut current: Vec<usize> = vec![0; s.ups.len()];
    let mut t = 0.0;
    let mut shutdowns = 0;
    let mut fsd_sent = vec![0usize; s.ups.len()];

    for (k, (dt, changes)) in s.steps.iter().enumerate() {
        if k > 0 {
            t += dt;
        }
        for (i, change) in changes.iter().enumerate() {
            if let Some(c) = change {
                current[i] = *c;
            }
            let word = POOL[current[i]];
            let a = m.observe(
                Observation {
                    ups: i,
                    result: result_for(word),
                },
                at(t),
            );
            prop_assert!(!starts_shutdown(&a), "observe never shuts down");
            if m.phase() != Phase::Monitoring {
                prop_assert!(a.is_empty());
                continue;
            }
            if word.starts_with('!') {
                models[i].lost = true;
            } else {
                models[i].good_poll(word, t, &p);
            }
        }
        if m.phase() != Phase::Monitoring {
            prop_assert!(m.tick(at(t)).is_empty());
            continue;
        }

        let a = m.tick(at(t));
        let healthy_may: u32 = models
            .iter()
            .filter(|u| !u.may_be_critical(t, &p))
            .map(|u| u.pv)
            .sum();
        let healthy_must: u32 = models
            .iter()
            .filter(|u| !u.must_be_critical(t, &p))
            .map(|u| u.pv)
            .sum();
        let started = starts_shutdown(&a);
        prop_assert!(
            !started || healthy_may < s.minsupplies,
            "spurious shutdown at t={t}: models {models:?}, actions {a:?}"
        );
        prop_assert!(
            started || healthy_must >= s.minsupplies,
            "missed shutdown at t={t}: models {models:?}, actions {a:?}"
        );
        shutdowns += count_shutdowns(&a);
        for act in &a {
            if let Action::SendFsd { ups } = act {
                fsd_sent[*ups] += 1;
                prop_assert!(s.ups[*ups].0, "FSD only to primary UPSes");
                m.fsd_confirmed(*ups, at(t));
            }
        }
        let is_primary = s.ups.iter().any(|u| u.0);
        if started && is_primary {
            // The wait for secondaries, every 250 ms.
            let waiting = matches!(m.phase(), Phase::WaitingForSecondaries { .. });
            prop_assert!(waiting);
            let start = t;
            let mut ended = false;
            for (round, &logins) in s.logins.iter().chain(std::iter::repeat(&2)).enumerate() {
                let tw = start + 0.25 * (round as f64 + 1.0);
                let a = m.numlogins(logins, at(tw));
                shutdowns += count_shutdowns(&a);
                if a.contains(&Action::Shutdown) {
                    prop_assert!(
                        logins <= 1 || tw - start > p.hostsync as f64,
                        "wait ended early"
                    );
                    prop_assert!(tw - start <= p.hostsync as f64 + 0.25, "wait too long");
                    ended = true;
                    break;
                }
                prop_assert!(logins > 1, "one login left but still waiting");
                if round > 1000 {
                    break;
                }
            }
            prop_assert!(ended);
            t += 0.25;
        } else if started {
            prop_assert_eq!(count_shutdowns(&a), 1, "secondary shuts down at once");
            let waits = a
                .iter()
                .any(|a| matches!(a, Action::WaitForSecondaries { .. }));
            prop_assert!(!waits);
        }
    }
    prop_assert!(shutdowns <= 1, "Shutdown emitted {} times", shutdowns);
    prop_assert!(fsd_sent.iter().all(|&n| n <= 1));
    prop_assert_eq!(shutdowns == 1, m.phase() == Phase::ShutDown);
    // Once shut down, nothing more happens.
    if m.phase() == Phase::ShutDown {
        prop_assert!(m.forced(at(t + 1.0)).is_empty());
        prop_assert!(m.tick(at(t + 1000.0)).is_empty());
    }
    Ok(shutdowns == 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn no_spurious_no_missed_at_most_once(s in scenario()) {
        run(&s)?;
    }
}

/// The one UPS of `conf_text`, polled every 5 s, each poll followed by a tick.
struct EveryFive {
    m: Machine,
    t0: Instant,
    /// Seconds since the start at the last poll.
    t: u64,
}

impl EveryFive {
    fn new(conf_text: &str) -> EveryFive {
        let t0 = Instant::now();
        EveryFive {
            m: Machine::new(&conf(conf_text), t0),
            t0,
            t: 0,
        }
    }

    fn now(&self) -> Instant {
        self.t0 + Duration::from_secs(self.t)
    }

    /// 5 s later, the poll answering `word`: what the poll gave, then what the tick gave.
    fn poll(&mut self, word: &str) -> (Vec<Action>, Vec<Action>) {
        self.t += 5;
        let observation = Observation {
            ups: 0,
            result: result_for(word),
        };
        let seen = self.m.observe(observation, self.now());
        (seen, self.m.tick(self.now()))
    }
}

/// Histories of only outages that never reach LB, blips, comm loss while on line, upsd
/// restarts and stale data: never a shutdown.
fn benign_step() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "OL",
        "OL CHRG",
        "OB DISCHRG",
        "OL TRIM",
        "OL BOOST",
        "OL RB",
        "WAIT",
        "!lost",
        "!stale",
        "!nodriver",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn blips_and_comm_loss_while_online_never_shut_down(
        primary in any::<bool>(),
        words in prop::collection::vec(benign_step(), 1..200),
    ) {
        let role = if primary { "primary" } else { "secondary" };
        let mut u = EveryFive::new(&format!("MONITOR ups@h 1 u p {role}\n"));
        let mut ob = false;
        for w in words {
            // Comm loss only while on line: silence for DEADTIME on battery rightly shuts
            // down, so the generator brings the mains back first.
            let w = if w.starts_with('!') && ob { "OL" } else { w };
            let (seen, a) = u.poll(w);
            prop_assert!(!starts_shutdown(&seen));
            if w.contains("OL") {
                ob = false;
            } else if w.contains("OB") {
                ob = true;
            }
            prop_assert!(!starts_shutdown(&a), "at {}: {a:?}", u.t);
        }
    }

    /// A primary whose UPS reports OB+LB (no CAL) shuts down at the first tick after that
    /// poll, whatever came before.
    #[test]
    fn primary_ob_lb_always_shuts_down(
        prefix in prop::collection::vec(benign_step(), 0..50),
        lb in prop::sample::select(vec!["OB LB", "OB LB DISCHRG", "LB OB", "FSD OB LB"]),
    ) {
        let mut u = EveryFive::new("MONITOR ups@h 1 u p primary\n");
        let mut started = false;
        for w in prefix {
            started |= starts_shutdown(&u.poll(w).1);
        }
        if !started {
            let (_, a) = u.poll(lb);
            let fsd = a.contains(&Action::SendFsd { ups: 0 });
            prop_assert!(fsd);
            let a = u.m.numlogins(1, u.now() + Duration::from_millis(250));
            prop_assert_eq!(count_shutdowns(&a), 1);
        }
    }
}

#[test]
fn the_generator_reaches_both_outcomes() {
    // Sanity check that the big property is not vacuous: some scenarios shut down, some not.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for _ in 0..500 {
        let s = scenario().new_tree(&mut runner).unwrap().current();
        if run(&s).unwrap() {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 50 && no > 50, "shut down {yes}, not {no}");
}
