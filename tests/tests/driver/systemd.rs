//! Our driver under `nut-driver@.service`: `upsdrvctl -F start <ups>` becomes the driver (the
//! same PID, so it is the unit's main process) and, with `NOTIFY_SOCKET` set, the driver says
//! `READY=1` once it has read the unit and its socket is up, `RELOADING=1` with
//! `MONOTONIC_USEC` and `READY=1` around `upsdrvctl -c reload <ups>` (the unit's ExecReload),
//! `STOPPING=1` on SIGTERM; and pings the watchdog from its poll loop.

use std::path::PathBuf;
use std::time::Duration;

use nut_test_support::daemon::{signal, wait_for};
use nut_test_support::sd_notify::{monotonic_usec, NotifySocket, STOPPING};
use nut_test_support::usbhid::{bk650m2_recording, driverpath, empty_dir, sock, DRIVER};
use nut_test_support::{our_bin, NutDir, Proc};

/// A NUT directory whose ups.conf runs our driver for `ups` on the BK650M2-CH recording.
fn dir() -> NutDir {
    let dir = empty_dir();
    dir.write_conf(
        "ups.conf",
        &format!(
            "driverpath = \"{}\"\n[ups]\n\tdriver = {DRIVER}\n\tport = auto\n\trecording = \"{}\"\n",
            driverpath().display(),
            bk650m2_recording().display(),
        ),
    );
    dir
}

fn spawn(dir: &NutDir, program: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut c = dir.command(&our_bin(program), "driver.log");
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    Proc {
        child: c.spawn().expect("spawn"),
        name: program.into(),
    }
}

#[test]
fn upsdrvctl_foreground_becomes_the_driver_and_notifies() {
    let dir = dir();
    let mut notify = NotifySocket::new();
    let path = notify.path().to_str().unwrap().to_string();
    let mut p = spawn(
        &dir,
        "upsdrvctl",
        &["-F", "-u", "root", "start", "ups"],
        &[("NOTIFY_SOCKET", &path)],
    );
    let log = || dir.log("driver.log");
    assert_eq!(
        notify.expect("READY=1", log),
        format!("READY=1\nSTATUS={DRIVER} serving ups")
    );
    assert!(sock(&dir).exists(), "READY before the socket:\n{}", log());
    // the process upsdrvctl started as is now the driver (exec: same PID)
    let exe = std::fs::read_link(format!("/proc/{}/exe", p.pid())).unwrap();
    assert_eq!(exe, our_bin(DRIVER), "{}", log());

    let before = monotonic_usec();
    let (code, out, err) = dir.run(
        &our_bin("upsdrvctl"),
        &["-c", "reload", "ups"],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "upsdrvctl -c reload ups: {out}{err}");
    let reloading = notify.expect("RELOADING=1", log);
    NotifySocket::assert_reloading(&reloading, before, monotonic_usec());
    assert_eq!(
        notify.expect("READY=1 after the reload", log),
        format!("READY=1\nSTATUS={DRIVER} serving ups")
    );

    signal(p.pid(), "TERM");
    assert_eq!(notify.expect("STOPPING=1", log), STOPPING);
    wait_for("the driver to exit", Duration::from_secs(10), |_| {
        p.exited()
    });
    assert_eq!(notify.next(Duration::from_millis(300)), None);
    assert_eq!(notify.pings, 0);
}

#[test]
fn upsdrvctl_foreground_with_several_drivers_waits_for_them() {
    let dir = dir();
    let conf = dir.conf().join("ups.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let second = text
        .split_once("[ups]")
        .map(|(_, s)| format!("[two]{s}"))
        .unwrap();
    std::fs::write(&conf, format!("{text}{second}")).unwrap();
    let mut p = spawn(&dir, "upsdrvctl", &["-F", "-u", "root", "start"], &[]);
    let socks: Vec<PathBuf> = ["ups", "two"]
        .iter()
        .map(|u| dir.state().join(format!("{DRIVER}-{u}")))
        .collect();
    wait_for("both driver sockets", Duration::from_secs(15), |_| {
        socks.iter().all(|s| s.exists()).then_some(())
    });
    // upsdrvctl itself stays, as the parent of both
    let exe = std::fs::read_link(format!("/proc/{}/exe", p.pid())).unwrap();
    assert_eq!(exe, our_bin("upsdrvctl"));
    assert_eq!(p.exited(), None);
    let (code, out, err) = dir.run(
        &our_bin("upsdrvctl"),
        &["-c", "exit"],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let st = wait_for("upsdrvctl to exit", Duration::from_secs(10), |_| p.exited());
    assert!(st.success(), "{st}: {}", dir.log("driver.log"));
}

/// `upsdrvctl prepare` (nut-rs; the unit's root pre-start) runs each driver with `--prepare`
/// and waits for it: the driver reads its section and exits without serving (no socket, no
/// PID file). It exits 0 whatever it finds: a driver that cannot run, an unknown UPS.
#[test]
fn upsdrvctl_prepare_runs_each_drivers_root_step_and_never_fails() {
    let dir = dir();
    let conf = dir.conf().join("ups.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        format!("{text}[two]\n\tdriver = nope\n\tport = auto\n"),
    )
    .unwrap();
    let upsdrvctl = our_bin("upsdrvctl");
    let run = |args: &[&str]| dir.run(&upsdrvctl, args, Duration::from_secs(20));
    let banner = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split(" 0.").next().unwrap_or(l).to_string())
            .collect()
    };

    let (code, out, err) = run(&["-t", "prepare"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let drv = driverpath();
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            "*** Testing mode: not calling exec/kill".to_string(),
            format!("exec: {}/{DRIVER} -a ups --prepare", drv.display()),
            format!("exec: {}/nope -a two --prepare", drv.display()),
        ]
    );

    let (code, out, err) = run(&["prepare", "ups"]);
    assert_eq!(code, Some(0), "{out}{err}");
    // upsdrvctl's banner, then the driver's: it ran, and said nothing else
    assert_eq!(
        banner(&out),
        [
            "Network UPS Tools - UPS driver controller",
            "Network UPS Tools - Generic HID driver (nut-rs)"
        ]
    );
    assert_eq!(err, "");
    assert!(!sock(&dir).exists());
    assert_eq!(std::fs::read_dir(dir.state()).unwrap().count(), 0);

    let (code, out, err) = run(&["prepare", "two"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        err,
        format!(
            "Can't run {}/nope to prepare two: No such file or directory (os error 2)\n",
            drv.display()
        )
    );
    let (code, out, err) = run(&["prepare", "zz"]);
    assert_eq!(
        (code, err.as_str()),
        (Some(0), "UPS zz not found in ups.conf\n"),
        "{out}"
    );
    // the other commands still fail on it
    let (code, _, err) = run(&["start", "zz"]);
    assert_eq!(
        (code, err.as_str()),
        (Some(1), "UPS zz not found in ups.conf\n")
    );
}

#[test]
fn watchdog_pings_from_the_poll_loop() {
    let dir = dir();
    let mut notify = NotifySocket::new();
    let path = notify.path().to_str().unwrap().to_string();
    let p = spawn(
        &dir,
        DRIVER,
        &["-a", "ups", "-u", "root", "-F"],
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "1000000")],
    );
    let log = || dir.log("driver.log");
    assert!(notify.expect("READY=1", log).starts_with("READY=1\n"));
    notify.assert_pings_follow_the_process(
        p.pid(),
        Duration::from_millis(500),
        Duration::from_secs(2),
    );
}

/// What ran of the late-shutdown hook `conf/systemd/system-shutdown/nutshutdown` with nut.conf
/// `nut_conf` and POWERDOWNFLAG `flag_set` or not: our upsmon and upsdrvctl in its sbin, our
/// nut-mode in its lib, `sleep` and `systemctl` stubs that log their arguments. Returns the
/// stubs' log and the SET_REPORTs the simulated unit got.
fn run_hook(nut_conf: &str, flag_set: bool) -> (String, Vec<String>) {
    let dir = dir();
    let flag = dir.path().join("killpower");
    dir.write_conf(
        "ups.conf",
        &format!(
            "{}\tsimlog = \"{}\"\n",
            std::fs::read_to_string(dir.conf().join("ups.conf")).unwrap(),
            dir.path().join("simlog").display()
        ),
    );
    dir.write_conf(
        "upsmon.conf",
        &format!("POWERDOWNFLAG {}\n", flag.display()),
    );
    nut_test_support::set_mode(&dir.conf().join("upsmon.conf"), 0o600);
    dir.write_conf("nut.conf", nut_conf);
    if flag_set {
        std::fs::write(&flag, "upsmon-shutdown-file").unwrap();
    }
    let (sbin, lib, bin) = (
        dir.path().join("sbin"),
        dir.path().join("lib"),
        dir.path().join("bin"),
    );
    for d in [&sbin, &lib, &bin] {
        std::fs::create_dir(d).unwrap();
    }
    for (d, name) in [(&sbin, "upsmon"), (&sbin, "upsdrvctl"), (&lib, "nut-mode")] {
        std::os::unix::fs::symlink(our_bin(name), d.join(name)).unwrap();
    }
    let stubs = dir.path().join("stubs.log");
    for name in ["sleep", "systemctl"] {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\n", stubs.display()),
        )
        .unwrap();
        nut_test_support::set_mode(&p, 0o755);
    }
    let hook = nut_test_support::tests_dir().join("../conf/systemd/system-shutdown/nutshutdown");
    let mut cmd = std::process::Command::new(&hook);
    cmd.arg("poweroff")
        .envs(dir.env())
        .env("NUT_RS_SBINDIR", &sbin)
        .env("NUT_RS_LIBDIR", &lib)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        );
    let (code, out, err) = nut_test_support::run_with_timeout(&mut cmd, Duration::from_secs(40));
    assert_eq!(code, Some(0), "nutshutdown: {out}{err}");
    let simlog = std::fs::read_to_string(dir.path().join("simlog")).unwrap_or_default();
    (
        std::fs::read_to_string(&stubs).unwrap_or_default(),
        simlog.lines().map(String::from).collect(),
    )
}

#[test]
fn shutdown_hook_kills_the_power_when_upsmon_set_the_flag() {
    use nut_test_support::usbhid::bk650m2_reboot_line;
    // the flag is set: upsdrvctl shutdown reaches the unit, and without POWEROFF_WAIT that is all
    let (stubs, simlog) = run_hook("MODE=standalone\n", true);
    assert_eq!(simlog, [bk650m2_reboot_line()]);
    assert_eq!(stubs, "");
    // POWEROFF_WAIT: wait that long, then reboot (the mains may have come back meanwhile)
    let (stubs, simlog) = run_hook("MODE=netserver\nPOWEROFF_WAIT=\"15m\"\n", true);
    assert_eq!(simlog, [bk650m2_reboot_line()]);
    assert_eq!(stubs, "sleep 15m\nsystemctl reboot --force --force\n");
    // no flag: a plain shutdown, nothing sent
    let (stubs, simlog) = run_hook("MODE=standalone\nPOWEROFF_WAIT=15m\n", false);
    assert_eq!((stubs.as_str(), simlog.len()), ("", 0));
    // MODE=none (and an unknown MODE): NUT does not run here, the hook does nothing
    for conf in ["MODE=none\n", "MODE=foo\n"] {
        let (stubs, simlog) = run_hook(conf, true);
        assert_eq!((stubs.as_str(), simlog.len()), ("", 0), "{conf}");
    }
}
