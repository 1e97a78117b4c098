//! Our `upssched` side by side with stock's `/sbin/upssched` (NUT 2.8.0): the same
//! upssched.conf, whose CMDSCRIPT appends `<time> <arg>` to a log, the same calls (with
//! `UPSNAME` and `NOTIFYTYPE`, as upsmon makes them) at the same offsets; the CMDSCRIPT calls
//! must have the same names, each within [`TOLERANCE`] of stock's time (stock's timer daemon
//! counts whole seconds of the wall clock and looks once a second, so it fires up to 1 s early
//! or late). Then the bad input (config errors with file:line, a hanging CMDSCRIPT) and our
//! upssched as our upsmon's NOTIFYCMD.

use nut_test_support::upsmon::*;
use nut_test_support::{our_bin, stock_nut, Impl, NutDirOptions, Rig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const STOCK: &str = "/sbin/upssched";
/// How far apart our CMDSCRIPT call and stock's may be, in seconds.
const TOLERANCE: f64 = 1.5;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A config dir with upssched.conf (`ats` after CMDSCRIPT, PIPEFN, LOCKFN) and a CMDSCRIPT
/// that logs `<time> <arg>`, hangs for `hang*` and fails for `fail*`.
fn sched_dir(ats: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write_script(
        &p.join("cmd"),
        &format!(
            "echo \"$(date +%s.%N) $1\" >> '{}'\ncase \"$1\" in hang*) sleep 8;; fail*) exit 3;; esac\n",
            p.join("calls").display()
        ),
    );
    std::fs::write(
        p.join("upssched.conf"),
        format!(
            "CMDSCRIPT {}\nPIPEFN {}\nLOCKFN {}\n{ats}",
            p.join("cmd").display(),
            p.join("pipe").display(),
            p.join("lock").display()
        ),
    )
    .unwrap();
    d
}

/// One call as upsmon makes it.
fn call(bin: &Path, dir: &Path, ups: &str, event: &str) -> Output {
    Command::new(bin)
        .arg(format!("UPS {ups}: {event}"))
        .env("NUT_CONFPATH", dir)
        .env("UPSNAME", ups)
        .env("NOTIFYTYPE", event)
        .output()
        .unwrap()
}

/// The CMDSCRIPT calls recorded in `dir`, as (seconds after `t0`, argument).
fn calls(dir: &Path, t0: f64) -> Vec<(f64, String)> {
    let text = std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let (t, arg) = l.split_once(' ').unwrap();
            (t.parse::<f64>().unwrap() - t0, arg.to_string())
        })
        .collect()
}

/// Run the calls `steps` (offset in seconds, UPSNAME, NOTIFYTYPE) with `bin`, wait until
/// `until` seconds, and return the CMDSCRIPT calls.
fn scenario(bin: &Path, ats: &str, steps: &[(f64, &str, &str)], until: f64) -> Vec<(f64, String)> {
    let d = sched_dir(ats);
    let t0 = now();
    for &(at, ups, event) in steps {
        let wait = t0 + at - now();
        if wait > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(wait));
        }
        let out = call(bin, d.path(), ups, event);
        assert!(out.status.success(), "{bin:?} {ups} {event}: {out:?}");
    }
    std::thread::sleep(Duration::from_secs_f64((t0 + until - now()).max(0.0)));
    calls(d.path(), t0)
}

/// Both upsscheds through the same scenario at once; their CMDSCRIPT calls must match by
/// name and time, and stock's names must be `want` (so the scenario shows what it is for).
fn side_by_side(ats: &str, steps: &[(f64, &str, &str)], until: f64, want: &[&str]) {
    if !Path::new(STOCK).exists() || stock_nut().is_none() {
        eprintln!("skipping: no stock upssched");
        return;
    }
    let ours_bin = our_bin("upssched");
    let (stock, ours) = std::thread::scope(|s| {
        let st = s.spawn(|| scenario(Path::new(STOCK), ats, steps, until));
        let ou = s.spawn(|| scenario(&ours_bin, ats, steps, until));
        (st.join().unwrap(), ou.join().unwrap())
    });
    let sorted = |v: &[(f64, String)]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.total_cmp(&b.0)));
        v
    };
    let (s, o) = (sorted(&stock), sorted(&ours));
    eprintln!("stock: {stock:?}\nours:  {ours:?}");
    let names = |v: &[(f64, String)]| v.iter().map(|c| c.1.clone()).collect::<Vec<_>>();
    let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
    want.sort();
    assert_eq!(names(&s), want, "stock's calls: {stock:?}");
    assert_eq!(names(&o), names(&s), "ours {ours:?} vs stock {stock:?}");
    for (a, b) in o.iter().zip(&s) {
        assert!(
            (a.0 - b.0).abs() <= TOLERANCE,
            "{} at {:.2} s, stock at {:.2} s",
            a.1,
            a.0,
            b.0
        );
    }
}

const ONBATT: &str =
    "AT ONBATT * START-TIMER onbatt 3\nAT ONLINE * CANCEL-TIMER onbatt online\nAT LOWBATT * EXECUTE lowbatt\n";

#[test]
fn mains_back_before_the_timer_cancels_it() {
    // ONLINE while the timer runs cancels it silently; a second ONLINE finds none: "online"
    side_by_side(
        ONBATT,
        &[
            (0.0, "ups@h", "ONBATT"),
            (1.0, "ups@h", "ONLINE"),
            (2.0, "ups@h", "ONLINE"),
        ],
        5.0,
        &["online"],
    );
}

#[test]
fn timer_left_running_fires_after_its_seconds() {
    side_by_side(ONBATT, &[(0.0, "ups@h", "ONBATT")], 5.0, &["onbatt"]);
}

#[test]
fn execute_runs_at_once_and_cancel_without_daemon_runs_its_command() {
    side_by_side(
        ONBATT,
        &[(0.0, "ups@h", "LOWBATT"), (1.0, "ups@h", "ONLINE")],
        3.0,
        &["lowbatt", "online"],
    );
}

#[test]
fn ups_names_exact_or_star_and_events_in_any_case() {
    side_by_side(
        "AT COMMBAD ups1@h START-TIMER commbad 2\nAT commok ups1@h CANCEL-TIMER commbad commok\nAT ONBATT * EXECUTE any\n",
        &[
            (0.0, "ups2@h", "COMMBAD"),
            (0.0, "UPS1@h", "COMMBAD"),
            (0.0, "ups2@h", "ONBATT"),
            (0.5, "ups1@h", "commbad"),
            (1.0, "ups2@h", "COMMOK"),
        ],
        4.0,
        &["any", "commbad"],
    );
}

#[test]
fn two_timers_and_a_cancel_of_one() {
    side_by_side(
        "AT ONBATT * START-TIMER short 2\nAT ONBATT * START-TIMER long 4\nAT ONLINE * CANCEL-TIMER long back\n",
        &[(0.0, "ups@h", "ONBATT"), (3.0, "ups@h", "ONLINE")],
        6.0,
        &["short"],
    );
}

#[test]
fn cancel_removes_only_the_first_timer_of_a_name() {
    // NUT 2.8.0 cancels one timer per CANCEL-TIMER: the second ONBATT's timer still fires
    side_by_side(
        ONBATT,
        &[
            (0.0, "a@h", "ONBATT"),
            (1.0, "b@h", "ONBATT"),
            (2.0, "a@h", "ONLINE"),
        ],
        6.0,
        &["onbatt"],
    );
}

#[test]
fn the_timer_daemon_exits_when_no_timer_is_left() {
    if !Path::new(STOCK).exists() || stock_nut().is_none() {
        return;
    }
    let gone_after = |bin: PathBuf| {
        let d = sched_dir(ONBATT);
        let t0 = Instant::now();
        assert!(call(&bin, d.path(), "ups@h", "ONBATT").status.success());
        assert!(d.path().join("pipe").exists(), "{bin:?}: no daemon");
        while d.path().join("pipe").exists() && t0.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let gone = t0.elapsed().as_secs_f64();
        // ours does not wait for CMDSCRIPT: its line may land just after the daemon has gone
        let t1 = Instant::now();
        while calls(d.path(), 0.0).is_empty() && t1.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(calls(d.path(), 0.0).len(), 1, "{bin:?}");
        gone
    };
    let (stock, ours) = std::thread::scope(|s| {
        let st = s.spawn(|| gone_after(STOCK.into()));
        let ou = s.spawn(|| gone_after(our_bin("upssched")));
        (st.join().unwrap(), ou.join().unwrap())
    });
    eprintln!("daemon gone after: stock {stock:.1} s, ours {ours:.1} s");
    // stock means to wait 15 s with no timer, but its loop usually spins once a caller has
    // hung up, so it mostly leaves as soon as the 3 s timer has fired (not always: no exact
    // comparison); ours leaves once the last timer has run
    assert!(stock < 15.0 + 3.0 + TOLERANCE, "stock {stock:.1} s");
    assert!(ours < 5.0, "ours {ours:.1} s");
}

fn conf_error(ats: &str) -> String {
    let d = sched_dir(ats);
    let out = call(&our_bin("upssched"), d.path(), "ups@h", "ONBATT");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!d.path().join("calls").exists(), "nothing may run");
    let conf = d.path().join("upssched.conf");
    String::from_utf8(out.stderr)
        .unwrap()
        .replace(&conf.display().to_string(), "upssched.conf")
}

#[test]
fn bad_config_is_refused_with_file_and_line() {
    assert_eq!(
        conf_error("AT ONBATT * EXECUTE now\nAT ONBAT * START-TIMER t 5\n"),
        "upssched.conf:5: unknown notify event \"ONBAT\"; expected one of ONLINE, ONBATT, LOWBATT, FSD, COMMOK, COMMBAD, SHUTDOWN, REPLBATT, NOCOMM, NOPARENT, CAL, NOTCAL, OFF, NOTOFF, BYPASS, NOTBYPASS, ECO, NOTECO, ALARM, NOTALARM, OVER, NOTOVER, TRIM, NOTTRIM, BOOST, NOTBOOST, OTHER, NOTOTHER, SHUTDOWN_HOSTSYNC, SUSPEND_STARTING, SUSPEND_FINISHED, SUSPEND_TIMEJUMP_UNEXPECTED, ONBATT_SHUTDOWN, ONBATT_SHUTDOWN_CANCELLED, FSD_CLEARED\n"
    );
    assert_eq!(
        conf_error("AT ONBATT * START-TIMER onbatt 30\nAT ONLINE * CANCEL-TIMER onbat\n"),
        "upssched.conf:5: unknown timer name \"onbat\": no START-TIMER starts it (timers started here: onbatt)\n"
    );
    assert_eq!(
        conf_error("AT ONBATT * START-TIMER t -30\n"),
        "upssched.conf:4: START-TIMER needs a timer length of 0 to 86400 seconds, got -30\n"
    );
    assert_eq!(
        conf_error("AT ONBATT * START-TIMER t 9999999\n"),
        "upssched.conf:4: START-TIMER needs a timer length of 0 to 86400 seconds (one day), got 9999999\n"
    );
    assert_eq!(
        conf_error("AT ONBATT * START-TIMERS t 3\n"),
        "upssched.conf:4: unknown AT command \"START-TIMERS\"; expected one of START-TIMER, START-TIMER-SHARED, CANCEL-TIMER, CANCEL-TIMER-MATCHED, EXECUTE\n"
    );
}

#[test]
fn a_hanging_or_failing_cmdscript_never_holds_up_the_call_or_a_timer() {
    // EXECUTE hang (the script sleeps 8 s) and a timer whose run hangs, then a 2 s timer:
    // the call returns at once with its output closed, and the later timer fires on time
    let d = sched_dir(
        "AT ONBATT * EXECUTE hang-now\nAT ONBATT * EXECUTE fail-now\nAT ONBATT * START-TIMER hang-timer 1\nAT ONBATT * START-TIMER shutdown 2\n",
    );
    let t0 = now();
    let started = Instant::now();
    let out = call(&our_bin("upssched"), d.path(), "ups@h", "ONBATT");
    let took = started.elapsed();
    assert!(out.status.success(), "{out:?}");
    assert!(took < Duration::from_secs(1), "the call took {took:?}");
    std::thread::sleep(Duration::from_secs(4));
    let mut got = calls(d.path(), t0);
    got.sort_by(|a, b| a.1.cmp(&b.1));
    let names: Vec<&str> = got.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        names,
        ["fail-now", "hang-now", "hang-timer", "shutdown"],
        "{got:?}"
    );
    let at = |n: &str| got.iter().find(|c| c.1 == n).unwrap().0;
    assert!(at("hang-now") < 1.0 && at("fail-now") < 1.0, "{got:?}");
    assert!((at("hang-timer") - 1.0).abs() < 0.5, "{got:?}");
    assert!((at("shutdown") - 2.0).abs() < 0.5, "{got:?}");
}

#[test]
fn our_upsmon_runs_our_upssched_as_notifycmd() {
    let Some(stock) = stock_nut() else {
        return;
    };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    // the same upsmon.conf with our upssched as NOTIFYCMD
    let conf = std::fs::read_to_string(p.dir.join("upsmon.conf")).unwrap();
    let conf: String = conf
        .lines()
        .map(|l| {
            if l.starts_with("NOTIFYCMD ") {
                format!("NOTIFYCMD {}\n", our_bin("upssched").display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let p = write_upsmon_conf(p.dir, "primary", Mon::Ours, &conf);
    let s = sched_dir(
        "AT ONBATT * EXECUTE hang-onbatt\nAT ONBATT * START-TIMER onbatt 2\nAT ONLINE * CANCEL-TIMER onbatt online\n",
    );
    for f in ["upssched.conf", "cmd"] {
        std::fs::copy(s.path().join(f), p.dir.join(f)).unwrap();
    }
    let _up = Group(start_upsmon(&rig, &p));
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    let t0 = now();
    set_status(&rig, "OB");
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls(s.path(), t0).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // the EXECUTE's script sleeps 8 s: upssched's call (upsmon's NOTIFYCMD) is over already
    assert!(
        p.log().contains("NOTIFYCMD for ONBATT finished"),
        "{:?}\n{}",
        calls(s.path(), t0),
        logs()
    );
    set_status(&rig, "OL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls(s.path(), t0).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = calls(s.path(), t0);
    let names: Vec<&str> = got.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        names,
        ["hang-onbatt", "onbatt", "online"],
        "{got:?}\n{}",
        logs()
    );
    // the timer, started by the AT line after the hanging EXECUTE, fires 2 s after it
    assert!((got[1].0 - got[0].0 - 2.0).abs() < 0.5, "{got:?}");
}

#[test]
fn an_unusable_pipefn_or_lockfn_is_named() {
    let d = sched_dir("");
    let p = d.path();
    for (pipe, lock, want) in [
        (
            p.join("no/pipe"),
            p.join("lock"),
            format!(
                "Unable to start the timer daemon: bind PIPEFN failed: {}: No such file or directory (os error 2)\n",
                p.join("no/pipe").display()
            ),
        ),
        (
            p.join("pipe"),
            p.join("no/lock"),
            format!(
                "Can't open LOCKFN: {}: No such file or directory (os error 2)\n",
                p.join("no/lock").display()
            ),
        ),
    ] {
        std::fs::write(
            p.join("upssched.conf"),
            format!(
                "CMDSCRIPT {}\nPIPEFN {}\nLOCKFN {}\nAT ONBATT * START-TIMER t 1\n",
                p.join("cmd").display(),
                pipe.display(),
                lock.display()
            ),
        )
        .unwrap();
        let out = call(&our_bin("upssched"), p, "ups@h", "ONBATT");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert_eq!(String::from_utf8(out.stderr).unwrap(), want);
    }
}

#[test]
fn five_calls_at_once_keep_every_timer() {
    if !Path::new(STOCK).exists() || stock_nut().is_none() {
        return;
    }
    // LOCKFN at work: five calls race to start the daemon; every timer must survive
    let race = |bin: PathBuf| {
        let d = sched_dir(ONBATT);
        let t0 = now();
        std::thread::scope(|s| {
            for i in 0..5 {
                let (bin, dir) = (&bin, d.path());
                s.spawn(move || {
                    let out = call(bin, dir, &format!("ups{i}@h"), "ONBATT");
                    assert!(out.status.success(), "{out:?}");
                });
            }
        });
        std::thread::sleep(Duration::from_secs_f64((t0 + 5.0 - now()).max(0.0)));
        calls(d.path(), t0)
    };
    let (stock, ours) = std::thread::scope(|s| {
        let st = s.spawn(|| race(STOCK.into()));
        let ou = s.spawn(|| race(our_bin("upssched")));
        (st.join().unwrap(), ou.join().unwrap())
    });
    eprintln!("stock: {stock:?}\nours:  {ours:?}");
    assert_eq!(stock.len(), 5, "{stock:?}");
    assert_eq!(ours.len(), stock.len(), "{ours:?}");
    for (o, s) in ours.iter().zip(&stock) {
        assert_eq!(o.1, "onbatt");
        assert!(
            (o.0 - s.0).abs() <= TOLERANCE,
            "ours {ours:?}, stock {stock:?}"
        );
    }
}
