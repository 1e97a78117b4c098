//! Lifecycle of OUR upsd fed by stock dummy-ups: reload (SIGHUP and `upsd -c reload`),
//! start-up config errors, drivers coming and going, stale data, `-c stop`, `-V`, `-u`.

use std::time::{Duration, Instant};

use nut_test_support::daemon::{
    proc_uids, run_upsd, run_upsd_bin, signal, start_driver, start_upsd, start_upsd_bin, user_uid,
    wait_closed, wait_for, wait_reply, wait_var,
};
use nut_test_support::{
    stock_nut, Driver, Impl, LineClient, NutDir, NutDirOptions, UpsSpec, UPS, UPS_DESC, USERS,
};

/// ups.conf text for (name, data file, desc) sections.
fn ups_conf(sections: &[(&str, &str, Option<&str>)]) -> String {
    let mut s = String::new();
    for (name, data, desc) in sections {
        s.push_str(&format!(
            "[{name}]\n\tdriver = dummy-ups\n\tport = {data}\n"
        ));
        if let Some(d) = desc {
            s.push_str(&format!("\tdesc = \"{d}\"\n"));
        }
    }
    s
}

/// upsd.users text: the standard users plus `extra` (appended verbatim).
fn users_with(extra: &str) -> String {
    let mut users = String::new();
    for (name, pw, lines) in USERS {
        users.push_str(&format!("[{name}]\n\tpassword = {pw}\n"));
        for l in *lines {
            users.push_str(&format!("\t{l}\n"));
        }
    }
    users.push_str(extra);
    users
}

fn list_ups(port: u16) -> String {
    LineClient::connect(port).unwrap().request("LIST UPS")
}

/// A user with SET tries to set a variable: the reply line.
fn try_set(port: u16, user: &str, pw: &str) -> String {
    let mut c = LineClient::connect(port).unwrap();
    c.auth(user, pw);
    c.request("SET VAR ups battery.charge.low 40")
}

fn only_ups() -> NutDirOptions {
    NutDirOptions {
        upses: vec![NutDirOptions::default().upses[0].clone()],
        upsd_conf_extra: Vec::new(),
    }
}

nut_test_support::both_upsd!(reload_by_command_keeps_clients_applies_changes_and_kicks_removed_ups);

fn reload_by_command_keeps_clients_applies_changes_and_kicks_removed_ups(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let binary = which.binary(&stock);
    let dir = NutDir::new();
    let _drivers = Driver::start(&stock, &dir);
    let upsd = start_upsd_bin(&dir, &binary, &["-FF", "-u", "root"]);
    let port = dir.port;
    wait_var(port, UPS, "ups.vendorid", Duration::from_secs(10));
    wait_var(port, "second", "device.type", Duration::from_secs(10));

    // -FF writes the PID file.
    let pid_file = dir.state().join("upsd.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{}\n", upsd.pid())
    );

    // A primary logged into `ups`, a secondary logged into `second`.
    let mut on_ups = LineClient::connect(port).unwrap();
    on_ups.auth("upsmon", "pw");
    assert_eq!(on_ups.request("LOGIN ups"), "OK\n");
    let mut on_second = LineClient::connect(port).unwrap();
    on_second.auth("monuser", "secret");
    assert_eq!(on_second.request("LOGIN second"), "OK\n");
    assert_eq!(on_ups.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
    assert_eq!(
        list_ups(port),
        format!(
            "BEGIN LIST UPS\nUPS ups \"{UPS_DESC}\"\nUPS second \"Description unavailable\"\nEND LIST UPS\n"
        )
    );
    // Not a user yet.
    assert_eq!(try_set(port, "newuser", "newpw"), "ERR ACCESS-DENIED\n");

    // New desc for `ups`, `second` removed, `third` added; a new user.
    dir.write_conf(
        "ups.conf",
        &ups_conf(&[
            ("ups", "bk650m2-ch.dev", Some("Changed description")),
            ("third", "bk650m2-ch.dev", Some("Third UPS")),
        ]),
    );
    dir.write_conf(
        "upsd.users",
        &users_with("[newuser]\n\tpassword = newpw\n\tactions = SET\n"),
    );
    let (code, out, err) = run_upsd_bin(&dir, &binary, &["-c", "reload"]);
    assert_eq!(code, Some(0), "upsd -c reload: {out}{err}");

    let want =
        "BEGIN LIST UPS\nUPS third \"Third UPS\"\nUPS ups \"Changed description\"\nEND LIST UPS\n";
    wait_for(
        "the reload to show in LIST UPS",
        Duration::from_secs(5),
        |last| {
            *last = list_ups(port);
            (*last == want).then_some(())
        },
    );

    // The client of the removed UPS was kicked: EOF on its socket.
    wait_closed(&mut on_second, Duration::from_secs(5));
    // The other one is still there, still logged in.
    assert_eq!(on_ups.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
    assert_eq!(
        on_ups.request("LIST CLIENT ups"),
        "BEGIN LIST CLIENT ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT ups\n"
    );
    assert_eq!(
        on_ups.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
    assert_eq!(
        on_ups.request("GET VAR second ups.status"),
        "ERR UNKNOWN-UPS\n"
    );
    assert_eq!(on_ups.request("LOGIN second"), "ERR ALREADY-LOGGED-IN\n");
    let mut fresh = LineClient::connect(port).unwrap();
    fresh.auth("monuser", "secret");
    assert_eq!(fresh.request("LOGIN second"), "ERR UNKNOWN-UPS\n");
    // No driver for `third`.
    assert_eq!(
        fresh.request("GET VAR third ups.status"),
        "ERR DRIVER-NOT-CONNECTED\n"
    );
    // The new user may SET.
    assert_eq!(try_set(port, "newuser", "newpw"), "OK\n");

    // `second` comes back (its driver kept running): listed first, served again.
    dir.write_conf(
        "ups.conf",
        &ups_conf(&[
            ("ups", "bk650m2-ch.dev", Some("Changed description")),
            ("third", "bk650m2-ch.dev", Some("Third UPS")),
            ("second", "escapes.dev", None),
        ]),
    );
    signal(upsd.pid(), "HUP");
    let want = "BEGIN LIST UPS\nUPS second \"Description unavailable\"\nUPS third \"Third UPS\"\nUPS ups \"Changed description\"\nEND LIST UPS\n";
    wait_for(
        "`second` back in LIST UPS",
        Duration::from_secs(5),
        |last| {
            *last = list_ups(port);
            (*last == want).then_some(())
        },
    );
    wait_var(port, "second", "device.type", Duration::from_secs(5));
    assert_eq!(fresh.request("LOGIN second"), "OK\n");
    assert_eq!(on_ups.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
    drop(upsd);
}

#[test]
fn sighup_with_a_broken_users_file_changes_nothing_and_logs_file_line() {
    let Some(stock) = stock_nut() else { return };
    let dir = NutDir::with(only_ups());
    let _driver = Driver::start(&stock, &dir);
    let upsd = start_upsd(&dir, &["-F", "-u", "root"]);
    let port = dir.port;
    wait_var(port, UPS, "ups.vendorid", Duration::from_secs(10));

    let mut logged_in = LineClient::connect(port).unwrap();
    logged_in.auth("monuser", "secret");
    assert_eq!(logged_in.request("LOGIN ups"), "OK\n");

    // A changed desc together with an upsd.users that has an unknown field on line 3.
    dir.write_conf(
        "ups.conf",
        &ups_conf(&[("ups", "bk650m2-ch.dev", Some("Not applied"))]),
    );
    dir.write_conf(
        "upsd.users",
        "[setonly]\n\tpassword = setpw\n\tbogus = 1\n[other]\n\tpassword = x\n\tactions = SET\n",
    );
    signal(upsd.pid(), "HUP");
    let users_file = dir.conf().join("upsd.users");
    let marker = format!("{}:3:", users_file.display());
    wait_for(
        "the reload error in the log",
        Duration::from_secs(5),
        |last| {
            *last = dir.log("upsd.log");
            last.contains(&marker).then_some(())
        },
    );
    // Nothing changed: old desc, old users, the client is still logged in.
    assert_eq!(
        list_ups(port),
        format!("BEGIN LIST UPS\nUPS ups \"{UPS_DESC}\"\nEND LIST UPS\n")
    );
    assert_eq!(try_set(port, "setonly", "setpw"), "OK\n");
    assert_eq!(try_set(port, "admin", "adminpw"), "OK\n");
    assert_eq!(try_set(port, "other", "x"), "ERR ACCESS-DENIED\n");
    assert_eq!(logged_in.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");

    // Fixed file + SIGHUP: both changes apply, the client stays.
    dir.write_conf(
        "upsd.users",
        "[setonly]\n\tpassword = setpw\n[other]\n\tpassword = x\n\tactions = SET\n",
    );
    signal(upsd.pid(), "HUP");
    let want = "BEGIN LIST UPS\nUPS ups \"Not applied\"\nEND LIST UPS\n";
    wait_for(
        "the reload to show in LIST UPS",
        Duration::from_secs(5),
        |last| {
            *last = list_ups(port);
            (*last == want).then_some(())
        },
    );
    assert_eq!(try_set(port, "other", "x"), "OK\n");
    assert_eq!(try_set(port, "admin", "adminpw"), "ERR ACCESS-DENIED\n");
    assert_eq!(logged_in.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
    assert!(upsd.child.id() > 0);
}

/// Start our upsd expecting it to fail; returns its stderr.
fn startup_failure(dir: &NutDir) -> String {
    let (code, out, err) = run_upsd(dir, &["-F", "-u", "root"]);
    assert!(
        code.is_some_and(|c| c != 0),
        "upsd should fail, exit code {code:?}; stdout: {out} stderr: {err}"
    );
    err
}

#[test]
fn startup_config_errors_exit_non_zero_naming_file_and_line() {
    let Some(_stock) = stock_nut() else { return };
    let dir = NutDir::with(only_ups());
    let conf = dir.conf().join("upsd.conf");
    let listen = format!("LISTEN 127.0.0.1 {}\n", dir.port);

    dir.write_conf("upsd.conf", &format!("{listen}MAXAGE abc\n"));
    let err = startup_failure(&dir);
    assert!(err.contains(&format!("{}:2:", conf.display())), "{err}");
    assert!(err.contains("MAXAGE"), "{err}");

    dir.write_conf(
        "upsd.conf",
        &format!("# comment\n\n{listen}NOSUCHDIRECTIVE 1\n"),
    );
    let err = startup_failure(&dir);
    assert!(err.contains(&format!("{}:4:", conf.display())), "{err}");
    assert!(err.contains("NOSUCHDIRECTIVE"), "{err}");

    dir.write_conf("upsd.conf", &listen);
    dir.write_conf(
        "upsd.users",
        "[admin]\n\tpassword = adminpw\n\tactions = SET\n\tfavourite = blue\n",
    );
    let err = startup_failure(&dir);
    let users = dir.conf().join("upsd.users");
    assert!(err.contains(&format!("{}:4:", users.display())), "{err}");
    assert!(err.contains("favourite"), "{err}");
    // Nothing is listening afterwards.
    assert!(LineClient::connect(dir.port).is_err());
}

nut_test_support::both_upsd!(drivers_come_and_go_without_restarting_upsd);

fn drivers_come_and_go_without_restarting_upsd(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let binary = which.binary(&stock);
    let dir = NutDir::with(only_ups());
    let port = dir.port;
    let _upsd = start_upsd_bin(&dir, &binary, &["-F", "-u", "root"]);

    let mut c = LineClient::connect(port).unwrap();
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "ERR DRIVER-NOT-CONNECTED\n"
    );
    assert_eq!(
        c.request("LIST UPS"),
        format!("BEGIN LIST UPS\nUPS ups \"{UPS_DESC}\"\nEND LIST UPS\n")
    );
    assert_eq!(
        c.request("GET UPSDESC ups"),
        format!("UPSDESC ups \"{UPS_DESC}\"\n")
    );

    for round in 0..2 {
        let t0 = Instant::now();
        let driver = start_driver(&stock, &dir, "ups", "root");
        wait_reply(
            port,
            "GET VAR ups ups.vendorid",
            "VAR ups ups.vendorid \"051d\"\n",
            Duration::from_secs(10),
        );
        let took = t0.elapsed();
        assert!(
            took < Duration::from_millis(3500),
            "round {round}: upsd took {took:?} to serve a new driver"
        );
        // The long-lived connection sees it too.
        assert_eq!(
            c.request("GET VAR ups ups.status"),
            "VAR ups ups.status \"OL DISCHRG\"\n"
        );
        drop(driver); // SIGKILL
        wait_reply(
            port,
            "GET VAR ups ups.status",
            "ERR DRIVER-NOT-CONNECTED\n",
            Duration::from_secs(3),
        );
        assert_eq!(
            c.request("GET VAR ups ups.status"),
            "ERR DRIVER-NOT-CONNECTED\n"
        );
    }
}

nut_test_support::both_upsd!(a_stopped_driver_goes_stale_after_maxage_and_fresh_again);

fn a_stopped_driver_goes_stale_after_maxage_and_fresh_again(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let binary = which.binary(&stock);
    let mut opts = only_ups();
    opts.upsd_conf_extra.push("MAXAGE 6".into());
    let dir = NutDir::with(opts);
    let port = dir.port;
    let driver = start_driver(&stock, &dir, "ups", "root");
    let _upsd = start_upsd_bin(&dir, &binary, &["-F", "-u", "root"]);
    wait_var(port, UPS, "ups.vendorid", Duration::from_secs(10));

    signal(driver.pid(), "STOP");
    let t0 = Instant::now();
    let mut c = LineClient::connect(port).unwrap();
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
    wait_reply(
        port,
        "GET VAR ups ups.status",
        "ERR DATA-STALE\n",
        Duration::from_secs(12),
    );
    let stale_after = t0.elapsed();
    assert!(
        stale_after <= Duration::from_secs(10),
        "stale only after {stale_after:?}"
    );
    assert_eq!(c.request("GET NUMLOGINS ups"), "ERR DATA-STALE\n");
    assert_eq!(c.request("LIST VAR ups"), "ERR DATA-STALE\n");
    assert_eq!(
        c.request("LIST UPS"),
        format!("BEGIN LIST UPS\nUPS ups \"{UPS_DESC}\"\nEND LIST UPS\n")
    );

    signal(driver.pid(), "CONT");
    let fresh_after = wait_reply(
        port,
        "GET VAR ups ups.status",
        "VAR ups ups.status \"OL DISCHRG\"\n",
        Duration::from_secs(5),
    );
    assert!(
        fresh_after <= Duration::from_secs(3),
        "fresh again only after {fresh_after:?}"
    );
    eprintln!("{which:?}: stale after {stale_after:?}, fresh again after {fresh_after:?}");
}

nut_test_support::both_upsd!(stop_command_stops_upsd_and_removes_the_pid_file);

fn stop_command_stops_upsd_and_removes_the_pid_file(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let binary = which.binary(&stock);
    let dir = NutDir::with(only_ups());
    let mut upsd = start_upsd_bin(&dir, &binary, &["-FF", "-u", "root"]);
    let pid_file = dir.state().join("upsd.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{}\n", upsd.pid())
    );
    let (code, out, err) = run_upsd_bin(&dir, &binary, &["-c", "stop"]);
    assert_eq!(code, Some(0), "upsd -c stop: {out}{err}");
    let status = wait_for("upsd to exit", Duration::from_secs(5), |_| upsd.exited());
    assert_eq!(status.code(), Some(0), "{}", dir.log("upsd.log"));
    assert!(!pid_file.exists(), "the PID file is still there");
    assert!(LineClient::connect(dir.port).is_err());

    // No PID file, nothing to signal: an error.
    let (code, _out, err) = run_upsd_bin(&dir, &binary, &["-c", "reload"]);
    assert_ne!(code, Some(0), "{err}");
}

#[test]
fn version_flag_prints_one_version_line() {
    let Some(_stock) = stock_nut() else { return };
    let dir = NutDir::with(only_ups());
    let (code, out, err) = run_upsd(&dir, &["-V"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("Network UPS Tools upsd ")
            && out.ends_with('\n')
            && out.lines().count() == 1,
        "{out:?}"
    );
}

#[test]
fn user_option_runs_upsd_as_that_user() {
    let Some(stock) = stock_nut() else { return };
    let Some(nut_uid) = user_uid("nut") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("no user `nut` although stock NUT is installed");
        }
        eprintln!("skipping: no user `nut`");
        return;
    };
    if !nut_test_support::daemon::is_root() {
        eprintln!("skipping: -u needs root");
        return;
    }
    let dir = NutDir::with(NutDirOptions {
        upses: vec![UpsSpec {
            name: UPS.into(),
            desc: Some(UPS_DESC.into()),
            data: "bk650m2-ch.dev".into(),
            ready_var: "ups.vendorid".into(),
        }],
        upsd_conf_extra: Vec::new(),
    });
    // The state dir belongs to nut: dummy-ups (as nut) makes its socket there.
    let st = std::process::Command::new("chown")
        .args(["nut:", &dir.state().display().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let driver = start_driver(&stock, &dir, "ups", "nut");
    let upsd = start_upsd(&dir, &["-F", "-u", "nut"]);
    wait_reply(
        dir.port,
        "GET VAR ups ups.vendorid",
        "VAR ups ups.vendorid \"051d\"\n",
        Duration::from_secs(10),
    );
    assert_eq!(proc_uids(upsd.pid()), vec![nut_uid; 4]);
    assert_eq!(proc_uids(driver.pid()), vec![nut_uid; 4]);
}
