//! Our upsmon in NUT's default process model (no `-p`): a root parent that only writes
//! POWERDOWNFLAG and runs SHUTDOWNCMD, and a monitoring child running as `nut`. Checked from
//! the outside: the uids in /proc, the user that NOTIFYCMD and SHUTDOWNCMD run as, the owner
//! of the flag file, the PID file naming the child, `-c stop` and SIGTERM ending both
//! processes, NOPARENT when the parent is killed, and the split-mode warning on reload.

use nut_test_support::upsmon::*;
use nut_test_support::{run_with_timeout, stock_nut, Rig};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

/// A secondary of ours (user `monuser`) whose scripts and logs the `nut` child can reach.
fn secondary_for_nut(rig: &Rig, extra: &str) -> MonDir {
    let md = upsmon_conf(rig, Mon::Ours, "secondary", "monuser", "secret", extra);
    open_for_nut(rig, &md);
    md
}

/// `child` runs as `nut` (real and effective uid) under `parent`.
fn assert_child_of_as_nut(child: u32, parent: u32, context: &str) {
    let nut = nut_test_support::daemon::user_uid("nut").expect("user nut");
    assert_eq!(
        (uids(child), ppid(child)),
        ((nut, nut), Some(parent)),
        "{context}"
    );
}

#[test]
fn parent_runs_the_shutdown_as_root_and_the_child_monitors_as_nut() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::ours(&stock);
    let md = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    open_for_nut(&rig, &md);
    let mut group = Group(start_upsmon_with(&rig, &md, &["-D", "-u", "nut"], &[]));
    let parent = group.0.pid();
    let logs = || format!("{}{}", md.logs(), rig.dir.logs());
    let child = logged_in_child(&rig, &md, logs);
    assert_ne!(child, parent);
    assert_eq!(uids(parent), (0, 0), "{}", logs());
    assert_child_of_as_nut(child, parent, &logs());

    set_status(&rig, "OB LB");
    let text = wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(20), logs);
    assert_eq!(text, "primary root\n", "{}", logs());
    let sys = rig.target("ups");
    // notifications come from the unprivileged child
    assert_eq!(
        notified_lines(&md, "LOWBATT"),
        [format!("LOWBATT|{sys}|UPS {sys} battery is low|nut")],
        "{}",
        logs()
    );
    assert_eq!(
        notified_lines(&md, "SHUTDOWN"),
        ["SHUTDOWN||Auto logout and shutdown proceeding|nut"],
        "{}",
        logs()
    );
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OB LB\"\n"
    );
    let flag = std::fs::metadata(md.flag()).unwrap();
    assert_eq!(flag.uid(), 0, "POWERDOWNFLAG is written by the root parent");
    assert_eq!(
        std::fs::read_to_string(md.flag()).unwrap(),
        "upsmon-shutdown-file"
    );
    let status = wait_until(
        "the parent to exit",
        Duration::from_secs(10),
        || group.0.exited(),
        logs,
    );
    assert!(status.success(), "{status:?}\n{}", logs());
    // the child exits on its own once it has asked for the shutdown; the parent does not
    // wait for it (SHUTDOWNEXIT yes), so under load the child may still be finishing
    wait_until(
        "the child to exit too",
        Duration::from_secs(10),
        || has_exited(child).then_some(()),
        logs,
    );
    assert!(!md.dir.join("upsmon.pid").exists(), "{}", logs());
}

#[test]
fn stop_command_and_sigterm_to_the_parent_end_both_processes() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::ours(&stock);
    // RUN_AS_USER in upsmon.conf wins over -u, as in NUT (the file is read after the options)
    let md = secondary_for_nut(&rig, "RUN_AS_USER nut\n");
    for how in ["-c stop", "SIGTERM to the parent"] {
        let mut group = Group(start_upsmon_with(&rig, &md, &["-D", "-u", "root"], &[]));
        let parent = group.0.pid();
        let child = child_pid(&md);
        assert_child_of_as_nut(child, parent, &md.log());
        if how == "-c stop" {
            upsmon_command(&md.dir, "stop");
        } else {
            let _ = Command::new("kill")
                .args(["-TERM", &parent.to_string()])
                .status();
        }
        let status = wait_until(
            "the parent to exit",
            Duration::from_secs(10),
            || group.0.exited(),
            || md.log(),
        );
        assert!(status.success(), "{how}: {status:?}\n{}", md.log());
        assert!(ppid(child).is_none(), "{how}: child still running");
        assert!(!md.dir.join("upsmon.pid").exists(), "{how}");
        assert!(
            md.log().contains("upsmon parent: exiting (child exited)"),
            "{how}: {}",
            md.log()
        );
    }
}

#[test]
fn a_killed_parent_is_reported_and_the_child_still_tries_the_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::ours(&stock);
    let md = secondary_for_nut(&rig, "NOTIFYFLAG NOPARENT SYSLOG+EXEC\n");
    let group = Group(start_upsmon_with(&rig, &md, &["-D", "-u", "nut"], &[]));
    let logs = || md.logs();
    let child = logged_in_child(&rig, &md, logs);
    let _ = Command::new("kill")
        .args(["-KILL", &group.0.pid().to_string()])
        .status();
    wait_notified(&md, "NOPARENT", 1, "NOPARENT", Duration::from_secs(5), logs);
    assert_eq!(
        notified_lines(&md, "NOPARENT"),
        ["NOPARENT||upsmon parent process died - shutdown impossible|nut"],
        "{}",
        logs()
    );
    assert!(
        md.log().contains("Parent died - shutdown impossible"),
        "{}",
        logs()
    );
    // at most one NOPARENT per two minutes
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(notified_lines(&md, "NOPARENT").len(), 1, "{}", logs());

    // the shutdown still happens, with the child's own rights (NUT 2.8 would only log)
    set_status(&rig, "FSD OB LB");
    let text = wait_shutdowns(
        &rig,
        1,
        "SHUTDOWNCMD from the child",
        Duration::from_secs(15),
        logs,
    );
    assert_eq!(text, "secondary nut\n", "{}", logs());
    assert!(
        md.log().contains("Unable to call parent pipe for shutdown"),
        "{}",
        logs()
    );
    assert!(
        md.log().contains("Not root, shutdown may fail"),
        "{}",
        logs()
    );
    wait_until(
        "the child to exit",
        Duration::from_secs(10),
        || ppid(child).is_none().then_some(()),
        logs,
    );
}

#[test]
fn reload_warns_that_the_parent_keeps_its_shutdown_settings() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::ours(&stock);
    let md = secondary_for_nut(&rig, "");
    let _group = Group(start_upsmon_with(&rig, &md, &["-D", "-u", "nut"], &[]));
    child_pid(&md);
    let conf_path = md.dir.join("upsmon.conf");
    let conf = std::fs::read_to_string(&conf_path).unwrap();
    std::fs::write(
        &conf_path,
        conf.replace("SHUTDOWNCMD \"", "SHUTDOWNCMD \"echo changed; "),
    )
    .unwrap();
    upsmon_command(&md.dir, "reload");
    wait_until(
        "the split-mode warning",
        Duration::from_secs(5),
        || {
            let log = md.log();
            (log.contains("Warning: SHUTDOWNCMD redefined in split-process mode!")
                && log.contains("You must restart upsmon for this change to work"))
            .then_some(())
        },
        || md.log(),
    );
}

#[test]
fn unknown_run_as_user_is_fatal() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::ours(&stock);
    let md = upsmon_conf(&rig, Mon::Ours, "secondary", "monuser", "secret", "");
    let (code, out, err) = run_with_timeout(
        &mut our_upsmon(&md.dir, &["-F", "-u", "no-such-user-nut-rs"]),
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("user no-such-user-nut-rs not found"),
        "{out}{err}"
    );
}

/// The PID of `md`'s monitoring child, once it has logged into upsd.
fn logged_in_child(rig: &Rig, md: &MonDir, logs: impl Fn() -> String) -> u32 {
    let child = child_pid(md);
    wait_logins(rig, 1, "the child to log in", Duration::from_secs(10), logs);
    child
}
