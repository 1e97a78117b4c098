//! Our driver (usbhid-ups with the static `.dev` backend) on its socket: fed to stock upsd and
//! to ours, queried and commanded with stock upsc/upscmd/upsrw; killed and restarted; data
//! going stale and coming back; live updates read directly on the socket; `-k`, `-c exit`
//! and unknown ups.conf keys.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nut_test_support::daemon::{signal, start_upsd_bin, wait_for, wait_reply, wait_var};
use nut_test_support::usbhid::{
    driverpath, empty_dir, sock, start_driver, stock_commands_and_set_succeed, stock_set, target,
    DRIVER,
};
use nut_test_support::{data_file, our_bin, stock_nut, Impl, LineClient, NutDir, Proc, StockNut};
const EXTRA: &str =
    "!rw ups.delay.shutdown 10\n!cmd beeper.disable\n!cmd test.battery.start.quick\n";

/// A NutDir whose ups.conf has one UPS `ups` served by our driver from `ups.dev`.
pub(crate) fn dir_with(extra_conf: &str) -> NutDir {
    let dir = empty_dir();
    let dev = std::fs::read_to_string(data_file("bk650m2-ch.dev")).unwrap();
    dir.write_conf("ups.dev", &format!("{dev}{EXTRA}"));
    dir.write_conf(
        "ups.conf",
        &format!(
            "[ups]\n\tdriver = {DRIVER}\n\tport = auto\n\tdesc = \"our driver\"\n\
             \tbackend = \"static:{}\"\n{extra_conf}",
            dev_path(&dir).display()
        ),
    );
    dir
}

pub(crate) fn dev_path(dir: &NutDir) -> PathBuf {
    dir.conf().join("ups.dev")
}

/// Rewrite ups.conf for upsdrvctl: `driverpath` to our binaries, then `head`, the
/// configuration so far and `tail`.
fn for_upsdrvctl(dir: &NutDir, head: &str, tail: &str) {
    let conf = std::fs::read_to_string(dir.conf().join("ups.conf")).unwrap();
    dir.write_conf(
        "ups.conf",
        &format!(
            "driverpath = {}\n{head}{conf}{tail}",
            driverpath().display()
        ),
    );
}

fn run(dir: &NutDir, program: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    dir.run(program, args, Duration::from_secs(20))
}

/// `upsc ups@127.0.0.1:<port>` with the directory's path blanked out.
fn upsc_all(stock: &StockNut, dir: &NutDir) -> String {
    let (code, out, err) = run(dir, &stock.upsc, &[&target(dir)]);
    assert_eq!(code, Some(0), "upsc failed: {err}");
    out.replace(&dir.path().display().to_string(), "<dir>")
}

fn check_upsd(stock: &StockNut, which: Impl) -> String {
    let dir = dir_with("");
    let _driver = start_driver(&dir, &[]);
    let _upsd = start_upsd_bin(&dir, &which.binary(stock), &["-F", "-u", "root"]);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    let all = upsc_all(stock, &dir);
    for line in [
        "battery.charge: 100\n",
        "device.type: ups\n",
        "device.mfr: American Power Conversion\n",
        "driver.name: usbhid-ups\n",
        "driver.parameter.backend: static:<dir>/conf/ups.dev\n",
        "driver.parameter.pollinterval: 2\n",
        "driver.parameter.port: auto\n",
        "driver.parameter.synchronous: auto\n",
        "driver.version.internal: ",
        "ups.status: OL DISCHRG\n",
        "ups.delay.shutdown: 20\n",
    ] {
        assert!(all.contains(line), "{which:?}: missing {line:?} in\n{all}");
    }
    assert!(
        !all.contains("driver.parameter.bus"),
        "driver.* of the file are ignored"
    );

    // instant command and SET through stock clients reach the backend, with tracking
    stock_commands_and_set_succeed(stock, &dir, &format!("{which:?}"));
    // a read-only variable is refused (by upsd, before it reaches the driver)
    let (_, out, err) = stock_set(stock, &dir, "ups.load=3");
    assert!(
        !err.contains("SUCCESS"),
        "{which:?}: read-only SET succeeded: {out}{err}"
    );
    let log = dir.log("driver.log");
    assert!(
        log.contains("static backend: INSTCMD beeper.disable"),
        "{log}"
    );
    assert!(
        log.contains("static backend: INSTCMD test.battery.start.quick"),
        "{log}"
    );
    assert!(
        log.contains("static backend: SET ups.delay.shutdown 30"),
        "{log}"
    );
    upsc_all(stock, &dir)
}

#[test]
fn stock_and_our_upsd_serve_our_driver_alike() {
    let Some(stock) = stock_nut() else { return };
    let a = check_upsd(&stock, Impl::Stock);
    let b = check_upsd(&stock, Impl::Ours);
    assert_eq!(a, b, "stock upsd and ours show different variables");
}

#[test]
fn killed_driver_is_picked_up_again_and_stale_data_recovers() {
    let Some(stock) = stock_nut() else { return };
    for which in [Impl::Stock, Impl::Ours] {
        let dir = dir_with("");
        let mut driver = start_driver(&dir, &[]);
        let _upsd = start_upsd_bin(&dir, &which.binary(&stock), &["-F", "-u", "root"]);
        wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));

        signal(driver.pid(), "KILL");
        let _ = driver.child.wait();
        wait_for("upsd to lose the driver", Duration::from_secs(20), |last| {
            let mut c = LineClient::connect(dir.port).ok()?;
            let r = c.request("GET VAR ups ups.vendorid");
            *last = r.clone();
            r.starts_with("ERR ").then_some(())
        });
        let _driver = start_driver(&dir, &[]);
        wait_reply(
            dir.port,
            "GET VAR ups ups.vendorid",
            "VAR ups ups.vendorid \"051d\"\n",
            Duration::from_secs(20),
        );

        // the device "vanishes": data goes stale, and comes back with the device
        let hidden = dir.conf().join("ups.dev.away");
        std::fs::rename(dev_path(&dir), &hidden).unwrap();
        wait_reply(
            dir.port,
            "GET VAR ups ups.status",
            "ERR DATA-STALE\n",
            Duration::from_secs(10),
        );
        std::fs::rename(&hidden, dev_path(&dir)).unwrap();
        wait_reply(
            dir.port,
            "GET VAR ups ups.status",
            "VAR ups ups.status \"OL DISCHRG\"\n",
            Duration::from_secs(10),
        );
    }
}

/// Read from a raw socket connection until `want` is in what arrived.
pub(crate) fn read_until(s: &mut UnixStream, got: &mut String, want: &str, timeout: Duration) {
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while !got.contains(want) {
        assert!(
            t0.elapsed() < timeout,
            "timed out waiting for {want:?}; got:\n{got}"
        );
        if let Ok(n) = s.read(&mut buf) {
            assert!(n > 0, "driver closed the connection; got:\n{got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

#[test]
fn socket_dump_live_updates_and_requests() {
    let dir = dir_with("");
    let _driver = start_driver(&dir, &["-x", "pollinterval=1"]);
    let mut a = UnixStream::connect(sock(&dir)).unwrap();
    let mut b = UnixStream::connect(sock(&dir)).unwrap();
    let (mut ga, mut gb) = (String::new(), String::new());
    a.write_all(b"DUMPALL\n").unwrap();
    read_until(&mut a, &mut ga, "DUMPDONE\n", Duration::from_secs(5));
    assert!(ga.starts_with("SETINFO battery.charge \"100\"\n"), "{ga}");
    assert!(
        ga.ends_with(
            "ADDCMD beeper.disable\nADDCMD driver.exit\nADDCMD driver.killpower\n\
             ADDCMD driver.reload\nADDCMD driver.reload-or-error\nADDCMD driver.reload-or-exit\n\
             ADDCMD shutdown.default\nADDCMD test.battery.start.quick\nDATAOK\nDUMPDONE\n"
        ),
        "{ga}"
    );
    assert!(ga.contains(
        "SETINFO ups.delay.shutdown \"20\"\nSETAUX ups.delay.shutdown 10\nSETFLAGS ups.delay.shutdown RW STRING\n"
    ));
    b.write_all(b"NOBROADCAST\nGETPID\n").unwrap();
    read_until(&mut b, &mut gb, "\n", Duration::from_secs(5));
    assert!(gb.starts_with("PID "), "{gb}");
    gb.clear();

    // a device-side change with characters that need escaping reaches `a` escaped, not `b`
    let dev = std::fs::read_to_string(dev_path(&dir)).unwrap();
    std::fs::write(
        dev_path(&dir),
        dev.replace(
            "ups.test.result: Done and passed",
            "ups.test.result: say \"hi\" #1 \\o/",
        ),
    )
    .unwrap();
    ga.clear();
    read_until(
        &mut a,
        &mut ga,
        "SETINFO ups.test.result \"say \\\"hi\\\" \\#1 \\\\o/\"\n",
        Duration::from_secs(5),
    );
    b.write_all(b"PING\n").unwrap();
    read_until(&mut b, &mut gb, "PONG\n", Duration::from_secs(5));
    assert_eq!(gb, "PONG\n", "no broadcast to a NOBROADCAST connection");

    ga.clear();
    a.write_all(b"INSTCMD beeper.disable x TRACKING t-1\nSET ups.delay.shutdown \"15\" TRACKING t-2\nINSTCMD nope TRACKING t-3\nLOGOUT\n")
        .unwrap();
    read_until(&mut a, &mut ga, "OK Goodbye\n", Duration::from_secs(5));
    assert_eq!(
        ga,
        "TRACKING t-1 0\nSETINFO ups.delay.shutdown \"15\"\nTRACKING t-2 0\nTRACKING t-3 1\nOK Goodbye\n"
    );
    let mut rest = Vec::new();
    a.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(
        a.read_to_end(&mut rest).ok(),
        Some(0),
        "closed after LOGOUT"
    );
}

#[test]
fn killpower_and_exit_over_the_socket() {
    let dir = dir_with("");
    let mut driver = start_driver(&dir, &[]);
    let (code, _, err) = run(&dir, &our_bin(DRIVER), &["-a", "ups", "-k"]);
    assert_eq!(code, Some(0), "-k via the running driver: {err}");
    let log = dir.log("driver.log");
    assert!(
        log.contains("static backend: shutdown (kill power)"),
        "{log}"
    );

    let (code, _, err) = run(&dir, &our_bin(DRIVER), &["-a", "ups", "-c", "exit"]);
    assert_eq!(code, Some(0), "-c exit: {err}");
    wait_for("driver to exit", Duration::from_secs(5), |_| {
        driver.exited()
    });
    assert!(!sock(&dir).exists(), "socket removed on exit");

    // nothing running: -k opens the "device" itself
    let (code, _, err) = run(&dir, &our_bin(DRIVER), &["-a", "ups", "-k", "-u", "root"]);
    assert_eq!(code, Some(0), "-k directly: {err}");
    assert!(
        err.contains("static backend: shutdown (kill power)"),
        "{err}"
    );
}

#[test]
fn unknown_key_stops_the_driver_with_stock_message() {
    let dir = dir_with("\tbogus = 1\n");
    let (code, out, err) = run(&dir, &our_bin(DRIVER), &["-a", "ups", "-u", "root", "-F"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("Fatal error: 'bogus' is not a valid variable name for this driver."),
        "{out}{err}"
    );
    let dir = dir_with("");
    dir.write_conf("ups.conf", "[ups]\n\tdriver = usbhid-ups\n\tport = auto\n");
    let (code, _, err) = run(&dir, &our_bin(DRIVER), &["-a", "ups", "-u", "root", "-F"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("No matching HID UPS found"), "{err}");
}

#[test]
fn upsdrvctl_start_stop_shutdown() {
    let dir = dir_with("\tsdorder = 1\n");
    for_upsdrvctl(
        &dir,
        "",
        "[other]\n\tdriver = dummy-ups\n\tport = x.dev\n\tsdorder = -1\n",
    );
    let ctl = our_bin("upsdrvctl");
    let (code, out, _) = run(&dir, &ctl, &["-t", "shutdown"]);
    assert_eq!(code, Some(0));
    let drv = driverpath().join(DRIVER).display().to_string();
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            "*** Testing mode: not calling exec/kill".to_string(),
            format!("exec: {drv} -a ups -k"),
        ]
    );
    let (_, out, _) = run(&dir, &ctl, &["-t", "-u", "root", "start", "ups"]);
    assert!(
        out.contains(&format!("exec: {drv} -a ups -u root\n")),
        "{out}"
    );

    // for real: start goes to the background with a PID file, stop ends it
    let (code, out, err) = run(&dir, &ctl, &["-u", "root", "start", "ups"]);
    assert_eq!(code, Some(0), "start: {out}{err}");
    let pidfile = dir.state().join(format!("{DRIVER}-ups.pid"));
    assert!(pidfile.exists() && sock(&dir).exists());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (code, out, err) = run(&dir, &ctl, &["stop", "ups"]);
    assert_eq!(code, Some(0), "stop: {out}{err}");
    wait_for("driver to exit", Duration::from_secs(5), |_| {
        let gone = !PathBuf::from(format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "));
        gone.then_some(())
    });
    wait_for("PID file removed", Duration::from_secs(5), |_| {
        (!pidfile.exists()).then_some(())
    });
    let (code, _, err) = run(&dir, &ctl, &["stop", "ups"]);
    assert_ne!(code, Some(0), "stopping a stopped driver fails: {err}");
}

#[test]
fn a_second_instance_replaces_the_first() {
    let dir = dir_with("");
    let mut first = start_driver(&dir, &[]);
    let first_log = dir.log("driver.log");
    let child = dir
        .command(&our_bin(DRIVER), "driver2.log")
        .args(["-a", "ups", "-u", "root", "-F"])
        .spawn()
        .expect("spawn second driver");
    let mut second = Proc {
        child,
        name: "second usbhid-ups".into(),
    };
    wait_for("the first driver to exit", Duration::from_secs(10), |_| {
        first.exited()
    });
    wait_for(
        "the second driver to serve",
        Duration::from_secs(10),
        |last| {
            if let Some(st) = second.exited() {
                panic!("second driver exited ({st}):\n{}", dir.log("driver2.log"));
            }
            let mut s = UnixStream::connect(sock(&dir)).ok()?;
            s.write_all(b"GETPID\n").ok()?;
            let mut got = String::new();
            read_until(&mut s, &mut got, "\n", Duration::from_secs(2));
            *last = got.clone();
            (got == format!("PID {}\n", second.pid())).then_some(())
        },
    );
    assert!(
        dir.log("driver2.log")
            .contains("Duplicate driver instance detected"),
        "{first_log}"
    );
}

#[test]
fn dump_version_and_list_modes() {
    let dir = dir_with("");
    let (code, out, err) = run(
        &dir,
        &our_bin(DRIVER),
        &["-a", "ups", "-u", "root", "-d", "1", "-i", "1"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\nbattery.charge: 100\n"), "{out}");
    assert!(
        out.contains("\ndriver.parameter.pollinterval: 1\n"),
        "{out}"
    );
    assert!(out.contains("\nups.status: OL DISCHRG\n"), "{out}");
    assert!(!sock(&dir).exists(), "-d makes no socket");
    let (code, out, _) = run(&dir, &our_bin(DRIVER), &["-V"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Network UPS Tools - "), "{out}");
    let (code, out, _) = run(&dir, &our_bin(DRIVER), &["-L"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("\nVALUE vendorid \"") && out.contains("\nFLAG pollonly \""),
        "{out}"
    );
}

#[test]
fn a_client_that_never_reads_does_not_stall_the_others() {
    let dir = dir_with("");
    let mut driver = start_driver(&dir, &[]);
    let mut hog = UnixStream::connect(sock(&dir)).unwrap();
    hog.write_all("DUMPALL\n".repeat(3000).as_bytes()).unwrap();
    for _ in 0..5 {
        let t0 = Instant::now();
        let mut s = UnixStream::connect(sock(&dir)).unwrap();
        s.write_all(b"PING\n").unwrap();
        let mut got = String::new();
        read_until(&mut s, &mut got, "PONG\n", Duration::from_secs(2));
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    }
    assert!(driver.exited().is_none(), "{}", dir.log("driver.log"));
    wait_for("the hog to be dropped", Duration::from_secs(10), |_| {
        dir.log("driver.log")
            .contains("does not read its replies")
            .then_some(())
    });
    drop(hog);
}

#[test]
fn reload_republishes_the_configuration() {
    let dir = dir_with("");
    let _driver = start_driver(&dir, &[]);
    let mut a = UnixStream::connect(sock(&dir)).unwrap();
    let mut got = String::new();
    a.write_all(b"DUMPALL\n").unwrap();
    read_until(&mut a, &mut got, "DUMPDONE\n", Duration::from_secs(5));
    let conf = std::fs::read_to_string(dir.conf().join("ups.conf")).unwrap();
    dir.write_conf("ups.conf", &format!("{conf}\tpollfreq = 40\n"));
    got.clear();
    a.write_all(b"INSTCMD driver.reload TRACKING r1\n").unwrap();
    read_until(&mut a, &mut got, "TRACKING r1 0\n", Duration::from_secs(5));
    read_until(
        &mut a,
        &mut got,
        "SETINFO driver.parameter.pollfreq \"40\"\n",
        Duration::from_secs(5),
    );
}

#[test]
fn upsdrvctl_retries_a_failing_driver() {
    let dir = dir_with("\tbogus = 1\n");
    for_upsdrvctl(&dir, "maxretry = 2\nretrydelay = 1\n", "");
    let t0 = Instant::now();
    let (code, out, err) = run(&dir, &our_bin("upsdrvctl"), &["-u", "root", "start"]);
    assert_ne!(code, Some(0), "{out}{err}");
    assert_eq!(
        err.matches("Driver failed to start (exit status=1)")
            .count(),
        2,
        "{out}{err}"
    );
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "retrydelay honoured"
    );
}
