//! Stock NUT 2.8.0 clients (upsc, upsrw, upscmd, upslog, PyNUT) against an upsd fed by stock
//! dummy-ups. Every test runs twice: `<name>::stock` against stock upsd (checks the
//! expectations themselves) and `<name>::ours` against our upsd (the real test).
//! Expected outputs were captured from stock 2.8.0 with tests/data/*.dev.

use nut_test_support::{stock_nut, Impl, LineClient, NutDirOptions, Rig};
use std::path::Path;
use std::time::{Duration, Instant};

/// Start a rig for `which`; `None` when stock NUT is not installed (skip).
fn rig(which: Impl) -> Option<Rig> {
    let stock = stock_nut()?;
    Some(Rig::start(&stock, which, NutDirOptions::default()))
}

/// Run a stock client program with the rig's environment; (exit code, stdout, stderr).
fn run(rig: &Rig, program: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    rig.dir.run(program, args, Duration::from_secs(15))
}

/// stdout of a client that must succeed.
fn ok(rig: &Rig, program: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(rig, program, args);
    assert_eq!(
        code,
        Some(0),
        "{} {args:?} failed: stdout {out:?} stderr {err:?}",
        program.display()
    );
    out
}

/// stderr without the "Init SSL without certificate database" noise of 2.8.0 clients.
fn errors(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("Init SSL"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `upsrw <flags> -s <assignment> -u admin -p adminpw <target>`, which must succeed with
/// nothing on stdout; its stderr without the SSL noise.
fn set_as_admin(rig: &Rig, target: &str, flags: &[&str], assignment: &str) -> String {
    let mut args = flags.to_vec();
    args.extend(["-s", assignment, "-u", "admin", "-p", "adminpw", target]);
    let (code, out, err) = run(rig, &rig.stock.upsrw, &args);
    assert_eq!((code, out.as_str()), (Some(0), ""), "stderr {err:?}");
    errors(&err)
}

/// Poll `upsc <ups> <var>` until it prints `want` (a SET goes through dummy-ups, ~1 s).
fn wait_for_value(rig: &Rig, ups: &str, var: &str, want: &str) {
    let t0 = Instant::now();
    let target = rig.target(ups);
    loop {
        let (_, out, _) = run(rig, &rig.stock.upsc, &[&target, var]);
        if out == format!("{want}\n") {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(6),
            "{var} never became {want:?} (last {out:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const UPSC_UPS: &str = "\
battery.charge: 100
battery.charge.low: 50
battery.mfr.date: 2001/01/01
battery.runtime: 3618
battery.runtime.low: 300
battery.type: PbAc
battery.voltage: 13.5
battery.voltage.nominal: 12.0
device.mfr: American Power Conversion
device.model: BK650M2-CH
device.serial: xxxx
device.type: ups
driver.name: dummy-ups
driver.parameter.mode: dummy-once
driver.parameter.pollinterval: 2
driver.parameter.port: bk650m2-ch.dev
driver.parameter.synchronous: auto
driver.version: 2.8.0
driver.version.internal: 0.15
input.sensitivity: low
input.transfer.high: 278
input.transfer.low: 160
input.voltage: 232.0
input.voltage.nominal: 220
ups.beeper.status: disabled
ups.delay.shutdown: 20
ups.load: 5
ups.mfr: American Power Conversion
ups.mfr.date: 2020/05/08
ups.model: BK650M2-CH
ups.productid: 0002
ups.realpower.nominal: 390
ups.serial: xxxx
ups.status: OL DISCHRG
ups.test.result: Done and passed
ups.timer.reboot: 0
ups.timer.shutdown: -1
ups.vendorid: 051d
";

const UPSC_SECOND: &str = r#"battery.charge: 9
device.mfr: Say \"hi\" \#1 C:\\x
device.model: Escape Test
device.type: ups
driver.name: dummy-ups
driver.parameter.mode: dummy-once
driver.parameter.pollinterval: 2
driver.parameter.port: escapes.dev
driver.parameter.synchronous: auto
driver.version: 2.8.0
driver.version.internal: 0.15
ups.mfr: Say "hi" #1 C:\x
ups.model: Escape Test
ups.status: OB LB
"#;

const UPSRW_SECOND: &str = r#"[battery.charge]
Battery charge (percent of full)
Type: NUMBER
Value: 9

[device.type]
Description unavailable
Type: STRING
Maximum length: 32
Value: ups

[ups.mfr]
UPS manufacturer
Type: STRING
Maximum length: 32
Value: Say "hi" #1 C:\x

[ups.model]
UPS model
Type: STRING
Maximum length: 32
Value: Escape Test

[ups.status]
UPS status
Type: STRING
Maximum length: 32
Value: OB LB

"#;

fn upsc_lists_upses(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let host = format!("127.0.0.1:{}", rig.port());
    assert_eq!(ok(&rig, &rig.stock.upsc, &["-l", &host]), "ups\nsecond\n");
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &["-L", &host]),
        "ups: APC Back-UPS BK650M2-CH\nsecond: Description unavailable\n"
    );
}
nut_test_support::both_upsd!(upsc_lists_upses);

fn upsc_full_dump(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let dump = ok(&rig, &rig.stock.upsc, &[&rig.target("ups")]);
    assert_eq!(dump, UPSC_UPS);
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &[&rig.target("second")]),
        UPSC_SECOND
    );
    // upsc matches UPS names case-insensitively through the server
    assert_eq!(ok(&rig, &rig.stock.upsc, &[&rig.target("UPS")]), UPSC_UPS);
    if which == Impl::Ours {
        // and the very same command against a live stock upsd
        let stock = Rig::stock(&rig.stock);
        assert_eq!(ok(&stock, &stock.stock.upsc, &[&stock.target("ups")]), dump);
    }
}
nut_test_support::both_upsd!(upsc_full_dump);

fn upsc_single_variable(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let t = rig.target("ups");
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &[&t, "ups.status"]),
        "OL DISCHRG\n"
    );
    assert_eq!(ok(&rig, &rig.stock.upsc, &[&t, "battery.charge"]), "100\n");
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &[&rig.target("second"), "ups.mfr"]),
        "Say \"hi\" #1 C:\\x\n"
    );
    let (code, out, err) = run(&rig, &rig.stock.upsc, &[&t, "nosuch.var"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(errors(&err), "Error: Variable not supported by UPS\n");
    let (code, _, err) = run(&rig, &rig.stock.upsc, &[&rig.target("nosuch")]);
    assert_eq!(code, Some(1));
    assert_eq!(errors(&err), "Error: Unknown UPS\n");
}
nut_test_support::both_upsd!(upsc_single_variable);

fn upsc_clients(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let t = rig.target("ups");
    assert_eq!(ok(&rig, &rig.stock.upsc, &["-c", &t]), "");
    let mut session = rig.client();
    session.auth("monuser", "secret");
    assert_eq!(session.request("LOGIN ups"), "OK\n");
    assert_eq!(ok(&rig, &rig.stock.upsc, &["-c", &t]), "127.0.0.1\n");
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &["-c", &rig.target("second")]),
        ""
    );
    let mut session2 = rig.client();
    session2.auth("upsmon", "pw");
    assert_eq!(session2.request("LOGIN ups"), "OK\n");
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &["-c", &t]),
        "127.0.0.1\n127.0.0.1\n"
    );
    assert_eq!(session.request("GET NUMLOGINS ups"), "NUMLOGINS ups 2\n");
}
nut_test_support::both_upsd!(upsc_clients);

fn upsrw_lists_and_sets(which: Impl) {
    let Some(rig) = rig(which) else { return };
    assert_eq!(
        ok(&rig, &rig.stock.upsrw, &[&rig.target("second")]),
        UPSRW_SECOND
    );
    let t = rig.target("ups");
    let full = ok(&rig, &rig.stock.upsrw, &[&t]);
    assert!(
        full.starts_with(
            "[battery.charge]\nBattery charge (percent of full)\nType: NUMBER\nValue: 100\n\n"
        ),
        "{full}"
    );
    assert_eq!(
        full.matches("\n[").count() + 1,
        31,
        "31 writable variables: {full}"
    );
    if which == Impl::Ours {
        let stock = Rig::stock(&rig.stock);
        assert_eq!(
            ok(&stock, &stock.stock.upsrw, &[&stock.target("ups")]),
            full
        );
    }
    assert_eq!(set_as_admin(&rig, &t, &[], "ups.delay.shutdown=30"), "OK\n");
    wait_for_value(&rig, "ups", "ups.delay.shutdown", "30");

    // -w waits for the driver's verdict through SET TRACKING
    assert_eq!(
        set_as_admin(&rig, &t, &["-w"], "ups.delay.shutdown=40"),
        "SUCCESS\n"
    );
    assert_eq!(
        ok(&rig, &rig.stock.upsc, &[&t, "ups.delay.shutdown"]),
        "40\n"
    );

    // refused: wrong password, no SET right, too long
    for (user, pw, set, msg) in [
        (
            "admin",
            "nope",
            "ups.delay.shutdown=50",
            "Unexpected response from upsd: ERR ACCESS-DENIED\n",
        ),
        (
            "cmdonly",
            "cmdpw",
            "ups.delay.shutdown=50",
            "Unexpected response from upsd: ERR ACCESS-DENIED\n",
        ),
        (
            "setonly",
            "setpw",
            "input.sensitivity=high",
            "Unexpected response from upsd: ERR TOO-LONG\n",
        ),
    ] {
        let (code, _, err) = run(
            &rig,
            &rig.stock.upsrw,
            &["-s", set, "-u", user, "-p", pw, &t],
        );
        assert_eq!(code, Some(1), "{user} {set}");
        assert_eq!(errors(&err), msg, "{user} {set}");
    }
}
nut_test_support::both_upsd!(upsrw_lists_and_sets);

fn upscmd_lists_and_runs(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let t = rig.target("ups");
    assert_eq!(
        ok(&rig, &rig.stock.upscmd, &["-l", &t]),
        "Instant commands supported on UPS [ups]:\n\nload.off - Turn off the load immediately\n"
    );
    let (code, out, err) = run(
        &rig,
        &rig.stock.upscmd,
        &["-u", "admin", "-p", "adminpw", &t, "load.off"],
    );
    assert_eq!((code, out.as_str()), (Some(0), ""));
    assert_eq!(errors(&err), "OK\n");
    // dummy-ups does not implement load.off: with -w the driver's answer comes back
    let (code, _, err) = run(
        &rig,
        &rig.stock.upscmd,
        &["-w", "-u", "cmdonly", "-p", "cmdpw", &t, "load.off"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(errors(&err), "ERR UNKNOWN\n");
    let (code, _, err) = run(
        &rig,
        &rig.stock.upscmd,
        &["-u", "setonly", "-p", "setpw", &t, "load.off"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        errors(&err),
        "Unexpected response from upsd: ERR ACCESS-DENIED\n"
    );
    let (code, _, err) = run(
        &rig,
        &rig.stock.upscmd,
        &["-u", "admin", "-p", "adminpw", &t, "load.on"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        errors(&err),
        "Unexpected response from upsd: ERR CMD-NOT-SUPPORTED\n"
    );
}
nut_test_support::both_upsd!(upscmd_lists_and_runs);

fn upslog_writes_samples(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let log = rig.dir.path().join("upslog.txt");
    let mut c = rig.dir.command(&rig.stock.upslog, "upslog.log");
    c.args(["-s", &rig.target("ups"), "-l"])
        .arg(&log)
        .args(["-i", "1", "-F"]);
    let child = c.spawn().expect("spawn upslog");
    let _guard = nut_test_support::Proc {
        child,
        name: "upslog".into(),
    };
    let t0 = Instant::now();
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(l) = text.lines().next() {
            break l.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "upslog wrote nothing: {}",
            rig.dir.log("upslog.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // default format: %TIME @Y@m@d @H@M@S% charge voltage load [status] temperature frequency
    let (stamp, rest) = line.split_at(16.min(line.len()));
    let shape_ok = stamp.len() == 16
        && stamp.bytes().enumerate().all(|(i, c)| match i {
            8 => c == b' ',
            15 => c == b' ',
            _ => c.is_ascii_digit(),
        });
    assert!(shape_ok, "bad time stamp in {line:?}");
    assert_eq!(rest, "100 232.0 5 [OL DISCHRG] NA NA", "line {line:?}");
}
nut_test_support::both_upsd!(upslog_writes_samples);

const PYNUT_SCRIPT: &str = r#"
import sys
from PyNUT import PyNUTClient
c = PyNUTClient(host="127.0.0.1", port=int(sys.argv[1]), login="admin", password="adminpw")
print(sorted(c.GetUPSList().items()))
print(sorted(c.GetUPSVars("ups").items()))
print(sorted(c.GetUPSVars("second").items()))
print(sorted(c.GetRWVars("second").items()))
print(sorted(c.GetUPSCommands("ups").items()))
print(c.RunUPSCommand("ups", "load.off"))
print(c.SetRWVar("ups", "ups.delay.shutdown", "45"))
try:
    c.GetUPSVars("nosuch")
except Exception as e:
    print(type(e).__name__, e)
"#;

const PYNUT_OUT: &str = r#"[(b'second', b'Description unavailable'), (b'ups', b'APC Back-UPS BK650M2-CH')]
[(b'battery.charge', b'100'), (b'battery.charge.low', b'50'), (b'battery.mfr.date', b'2001/01/01'), (b'battery.runtime', b'3618'), (b'battery.runtime.low', b'300'), (b'battery.type', b'PbAc'), (b'battery.voltage', b'13.5'), (b'battery.voltage.nominal', b'12.0'), (b'device.mfr', b'American Power Conversion'), (b'device.model', b'BK650M2-CH'), (b'device.serial', b'xxxx'), (b'device.type', b'ups'), (b'driver.name', b'dummy-ups'), (b'driver.parameter.mode', b'dummy-once'), (b'driver.parameter.pollinterval', b'2'), (b'driver.parameter.port', b'bk650m2-ch.dev'), (b'driver.parameter.synchronous', b'auto'), (b'driver.version', b'2.8.0'), (b'driver.version.internal', b'0.15'), (b'input.sensitivity', b'low'), (b'input.transfer.high', b'278'), (b'input.transfer.low', b'160'), (b'input.voltage', b'232.0'), (b'input.voltage.nominal', b'220'), (b'ups.beeper.status', b'disabled'), (b'ups.delay.shutdown', b'20'), (b'ups.load', b'5'), (b'ups.mfr', b'American Power Conversion'), (b'ups.mfr.date', b'2020/05/08'), (b'ups.model', b'BK650M2-CH'), (b'ups.productid', b'0002'), (b'ups.realpower.nominal', b'390'), (b'ups.serial', b'xxxx'), (b'ups.status', b'OL DISCHRG'), (b'ups.test.result', b'Done and passed'), (b'ups.timer.reboot', b'0'), (b'ups.timer.shutdown', b'-1'), (b'ups.vendorid', b'051d')]
[(b'battery.charge', b'9'), (b'device.mfr', b'Say \\\\\\'), (b'device.model', b'Escape Test'), (b'device.type', b'ups'), (b'driver.name', b'dummy-ups'), (b'driver.parameter.mode', b'dummy-once'), (b'driver.parameter.pollinterval', b'2'), (b'driver.parameter.port', b'escapes.dev'), (b'driver.parameter.synchronous', b'auto'), (b'driver.version', b'2.8.0'), (b'driver.version.internal', b'0.15'), (b'ups.mfr', b'Say \\'), (b'ups.model', b'Escape Test'), (b'ups.status', b'OB LB')]
[(b'battery.charge', b'9'), (b'device.type', b'ups'), (b'ups.mfr', b'Say \\'), (b'ups.model', b'Escape Test'), (b'ups.status', b'OB LB')]
[(b'load.off', b'Description unavailable')]
OK
OK
PyNUTError b'ERR UNKNOWN-UPS'
"#;

fn pynut(which: Impl) {
    let Some(rig) = rig(which) else { return };
    let python = Path::new("/usr/bin/python3");
    let port = rig.port().to_string();
    let (code, out, err) = run(&rig, python, &["-c", PYNUT_SCRIPT, &port]);
    assert_eq!(code, Some(0), "PyNUT failed: {err}");
    assert_eq!(out, PYNUT_OUT);
    wait_for_value(&rig, "ups", "ups.delay.shutdown", "45");
}
nut_test_support::both_upsd!(pynut);

/// `start_ours()` is the one-call way to get stock dummy-ups feeding our upsd.
#[test]
fn start_ours_serves_the_dump() {
    let Some(rig) = nut_test_support::start_ours() else {
        return;
    };
    let mut c: LineClient = rig.client();
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
}
