//! Our upsmon's command line and bad input, without a UPS: a bad upsmon.conf line stops
//! start-up with file:line, too little power for MINSUPPLIES is fatal, a MONITOR to a host
//! nobody listens on gives COMMBAD and NOCOMM and is retried, `-c stop` and `-c fsd` reach
//! the running process through its PID file.

use nut_test_support::upsmon::{our_upsmon, upsmon_command, wait_until, write_script};
use nut_test_support::{free_port, run_with_timeout, Proc};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A directory with an upsmon.conf made of `MONITOR ups@127.0.0.1:<dead port>` (primary),
/// recording NOTIFYCMD/SHUTDOWNCMD scripts, and `extra`.
fn conf_dir(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::Builder::new()
        .prefix("nut-rs-upsmon-")
        .tempdir()
        .unwrap();
    let dir = d.path().to_path_buf();
    write_script(
        &dir.join("notify.sh"),
        &format!(
            "echo \"$NOTIFYTYPE|$UPSNAME|$1\" >> '{}'\n",
            dir.join("notify.log").display()
        ),
    );
    write_script(
        &dir.join("shutdown.sh"),
        &format!("echo done >> '{}'\n", dir.join("shutdown.log").display()),
    );
    let conf = format!(
        "MONITOR ups@127.0.0.1:{port} 1 upsmon pw primary\n\
         SHUTDOWNCMD \"{dir}/shutdown.sh\"\n\
         NOTIFYCMD {dir}/notify.sh\n\
         POLLFREQ 1\n\
         POLLFREQALERT 1\n\
         HOSTSYNC 2\n\
         FINALDELAY 0\n\
         NOCOMMWARNTIME 1\n\
         NOTIFYFLAG COMMBAD SYSLOG+EXEC\n\
         NOTIFYFLAG NOCOMM SYSLOG+EXEC\n\
         NOTIFYFLAG SHUTDOWN SYSLOG+EXEC\n\
         {extra}",
        port = free_port(),
        dir = dir.display()
    );
    std::fs::write(dir.join("upsmon.conf"), conf).unwrap();
    (d, dir)
}

fn spawn(dir: &Path) -> Proc {
    let log = std::fs::File::create(dir.join("upsmon.log")).unwrap();
    let child = our_upsmon(dir, &["-D", "-p"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Proc {
        child,
        name: "upsmon".into(),
    }
}

/// `upsmon -F` on `dir`, which must refuse to start (exit 1): its stderr.
fn refused(dir: &Path) -> String {
    let (code, _, err) = run_with_timeout(&mut our_upsmon(dir, &["-F"]), Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    err
}

/// Wait until the upsmon of `dir` has written its PID file.
fn wait_pid_file(dir: &Path, context: impl Fn() -> String) {
    wait_until(
        "PID file",
        Duration::from_secs(5),
        // filled, not just created: the file is created empty before upsmon is ready for
        // signals, and a second instance reading it empty would not be refused
        || (!read(dir, "upsmon.pid").trim().is_empty()).then_some(()),
        context,
    );
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_default()
}

#[test]
fn bad_line_stops_start_up_with_file_and_line() {
    let (_d, dir) = conf_dir("POLLFREQ often\n");
    let err = refused(&dir);
    assert!(err.contains("upsmon.conf:12:"), "{err}");
    let (_d, dir) = conf_dir("NOTIFYURL hook xml http://127.0.0.1/\n");
    let err = refused(&dir);
    assert!(err.contains("upsmon.conf:12:"), "{err}");
}

#[test]
fn too_little_power_for_minsupplies_is_fatal() {
    let (_d, dir) = conf_dir("MINSUPPLIES 2\n");
    let err = refused(&dir);
    assert!(err.contains("insufficient power"), "{err}");
}

#[test]
fn version_and_help() {
    let (_d, dir) = conf_dir("");
    let (code, out, _) = run_with_timeout(&mut our_upsmon(&dir, &["-V"]), Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Network UPS Tools upsmon"), "{out}");
    let (code, out, _) = run_with_timeout(&mut our_upsmon(&dir, &["-h"]), Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(out.contains("-K"), "{out}");
}

#[test]
fn unreachable_upsd_is_reported_and_retried_then_stop() {
    let (_d, dir) = conf_dir("");
    let mut p = spawn(&dir);
    let logs = || format!("{}\n{}", read(&dir, "upsmon.log"), read(&dir, "notify.log"));
    wait_until(
        "COMMBAD and NOCOMM",
        Duration::from_secs(10),
        || {
            let n = read(&dir, "notify.log");
            (n.contains("COMMBAD|") && n.contains("NOCOMM|")).then_some(())
        },
        logs,
    );
    assert!(p.exited().is_none(), "{}", logs());
    assert!(read(&dir, "shutdown.log").is_empty(), "{}", logs());
    // -c stop through the PID file
    let pid: u32 = read(&dir, "upsmon.pid").trim().parse().unwrap();
    assert_eq!(pid, p.pid());
    upsmon_command(&dir, "stop");
    let st = wait_until("exit", Duration::from_secs(5), || p.exited(), logs);
    assert!(st.success(), "{st}");
    assert!(!dir.join("upsmon.pid").exists());
}

#[test]
fn second_instance_is_refused() {
    let (_d, dir) = conf_dir("");
    let _p = spawn(&dir);
    wait_pid_file(&dir, String::new);
    let err = refused(&dir);
    assert!(err.contains("already running"), "{err}");
}

#[test]
fn c_fsd_forces_the_shutdown() {
    let (_d, dir) = conf_dir("");
    let mut p = spawn(&dir);
    let logs = || format!("{}\n{}", read(&dir, "upsmon.log"), read(&dir, "notify.log"));
    wait_pid_file(&dir, logs);
    upsmon_command(&dir, "fsd");
    wait_until(
        "SHUTDOWNCMD",
        Duration::from_secs(10),
        || (!read(&dir, "shutdown.log").is_empty()).then_some(()),
        logs,
    );
    assert!(
        read(&dir, "notify.log").contains("SHUTDOWN||Auto logout and shutdown proceeding\n"),
        "{}",
        logs()
    );
    wait_until("exit", Duration::from_secs(5), || p.exited(), logs);
}

/// No MONITOR lines at all (MINSUPPLIES 0): upsmon idles and still obeys `-c stop`.
#[test]
fn no_monitor_lines_still_obeys_stop() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("upsmon.conf"), "MINSUPPLIES 0\nPOLLFREQ 1\n").unwrap();
    let mut p = spawn(dir);
    let logs = || read(dir, "upsmon.log");
    wait_pid_file(dir, logs);
    upsmon_command(dir, "stop");
    let st = wait_until("exit", Duration::from_secs(5), || p.exited(), logs);
    assert!(st.success(), "{st}");
}
