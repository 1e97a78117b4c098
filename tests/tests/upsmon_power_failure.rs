//! Our upsmon in a power failure, with stock upsmon 2.8.0 as the other host and stock
//! dummy-ups behind upsd (ours or stock): ONBATT and LOWBATT reach NOTIFYCMD with the right
//! argument and environment, the primary sets FSD, the secondary runs its SHUTDOWNCMD before
//! the primary, the primary writes POWERDOWNFLAG and `upsmon -K` then says so. Also: no
//! shutdown for a short OB blip or an upsd restart while OL, and a UPS last seen OB whose
//! upsd goes away is taken as critical after DEADTIME.
//!
//! Stock upsmon 2.8.0 always uses /run/nut/upsmon.pid, so it runs in its own mount namespace
//! with a private tmpfs on /run/nut (`unshare -m`); ours uses `$NUT_ALTPIDPATH/upsmon.pid`.

use nut_rs_tests::{our_bin, run_with_timeout, stock_nut, Impl, NutDirOptions, Proc, Rig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Which upsmon runs a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mon {
    Stock,
    Ours,
}

const EVENTS: &[&str] = &[
    "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "REPLBATT", "NOCOMM",
];

/// A configured upsmon (not started yet).
pub struct MonDir {
    pub dir: PathBuf,
    pub role: String,
    pub mon: Mon,
}

impl MonDir {
    pub fn notify_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("notify.log")).unwrap_or_default()
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("upsmon.log")).unwrap_or_default()
    }
    pub fn flag(&self) -> PathBuf {
        self.dir.join("killpower")
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Write `<rig>/upsmon-<role>/upsmon.conf` with a NOTIFYCMD that appends
/// `$NOTIFYTYPE|$UPSNAME|$1` to `notify.log` and a SHUTDOWNCMD that appends
/// `<role> <time>` to the rig's `shutdown.order`. `extra` lines are appended.
pub fn upsmon_conf(rig: &Rig, mon: Mon, role: &str, user: &str, pw: &str, extra: &str) -> MonDir {
    let dir = rig.dir.path().join(format!("upsmon-{role}"));
    std::fs::create_dir_all(&dir).unwrap();
    let shutdown = dir.join("shutdown.sh");
    let order = rig.dir.path().join("shutdown.order");
    write_script(
        &shutdown,
        &format!("echo \"$1 $(date +%s.%N)\" >> '{}'\n", order.display()),
    );
    let notify = dir.join("notify.sh");
    write_script(
        &notify,
        &format!(
            "echo \"$NOTIFYTYPE|$UPSNAME|$1|$(date +%s.%N)\" >> '{}'\n",
            dir.join("notify.log").display()
        ),
    );
    let mut conf = format!(
        "MONITOR {target} 1 {user} {pw} {role}\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/sh {shutdown} {role}\"\n\
         NOTIFYCMD {notify}\n\
         POWERDOWNFLAG {flag}\n\
         POLLFREQ 1\n\
         POLLFREQALERT 1\n\
         HOSTSYNC 5\n\
         DEADTIME 3\n\
         FINALDELAY 1\n\
         NOCOMMWARNTIME 300\n",
        target = rig.target("ups"),
        shutdown = shutdown.display(),
        notify = notify.display(),
        flag = dir.join("killpower").display(),
    );
    for e in EVENTS {
        conf.push_str(&format!("NOTIFYFLAG {e} SYSLOG+EXEC\n"));
    }
    conf.push_str(extra);
    let p = dir.join("upsmon.conf");
    std::fs::write(&p, conf).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    MonDir {
        dir,
        role: role.into(),
        mon,
    }
}

/// Start the upsmon of `md` in the foreground (`-D`); output to `<dir>/upsmon.log`.
pub fn start_upsmon(rig: &Rig, md: &MonDir) -> Proc {
    let log = std::fs::File::create(md.dir.join("upsmon.log")).unwrap();
    let mut cmd = match md.mon {
        Mon::Stock => {
            let mut c = Command::new("unshare");
            c.args([
                "-m",
                "sh",
                "-c",
                "mkdir -p /run/nut && mount -t tmpfs tmpfs /run/nut && exec \"$0\" -D -p",
            ])
            .arg(&rig.stock.upsmon);
            c
        }
        Mon::Ours => {
            let mut c = Command::new(our_bin("upsmon"));
            c.args(["-D", "-p"]);
            c
        }
    };
    let child = cmd
        .env("NUT_CONFPATH", &md.dir)
        .env("NUT_STATEPATH", rig.dir.state())
        .env("NUT_ALTPIDPATH", &md.dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("spawn upsmon");
    Proc {
        child,
        name: format!("upsmon {:?} {}", md.mon, md.role),
    }
}

use std::os::unix::process::CommandExt;

pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < timeout,
            "timed out ({timeout:?}) waiting for {what}:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn set_status(rig: &Rig, status: &str) {
    let (code, _, err) = run_with_timeout(
        Command::new(&rig.stock.upsrw).args([
            "-s",
            &format!("ups.status={status}"),
            "-u",
            "admin",
            "-p",
            "adminpw",
            &rig.target("ups"),
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "upsrw: {err}");
}

pub fn numlogins(rig: &Rig) -> String {
    rig.client().request("GET NUMLOGINS ups")
}

/// `upsmon -K` of ours with the config of `md`.
pub fn killpower_check(md: &MonDir) -> Option<i32> {
    let (code, _, _) = run_with_timeout(
        Command::new(our_bin("upsmon"))
            .arg("-K")
            .env("NUT_CONFPATH", &md.dir),
        Duration::from_secs(10),
    );
    code
}

/// The lines of the notify log with this type, as `type|upsname|message`.
fn notified(md: &MonDir, event: &str) -> Vec<String> {
    md.notify_log()
        .lines()
        .filter(|l| l.starts_with(&format!("{event}|")))
        .map(|l| l.rsplit_once('|').unwrap().0.to_string())
        .collect()
}

fn power_failure(upsd: Impl, primary: Mon, secondary: Mon) {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, upsd, NutDirOptions::default());
    let p = upsmon_conf(&rig, primary, "primary", "upsmon", "pw", "");
    let s = upsmon_conf(&rig, secondary, "secondary", "monuser", "secret", "");
    let mut pp = start_upsmon(&rig, &p);
    let mut sp = start_upsmon(&rig, &s);
    let logs = || {
        format!(
            "--- primary ({:?}):\n{}\n{}\n--- secondary ({:?}):\n{}\n{}\n--- upsd:\n{}",
            p.mon,
            p.log(),
            p.notify_log(),
            s.mon,
            s.log(),
            s.notify_log(),
            rig.upsd.log(&rig.dir)
        )
    };
    wait_until(
        "both upsmon to log in",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 2\n").then_some(()),
        logs,
    );
    let sys = rig.target("ups");

    set_status(&rig, "OB");
    for md in [&p, &s] {
        wait_until(
            "ONBATT",
            Duration::from_secs(5),
            || (!notified(md, "ONBATT").is_empty()).then_some(()),
            logs,
        );
        assert_eq!(
            notified(md, "ONBATT"),
            vec![format!("ONBATT|{sys}|UPS {sys} on battery")],
            "{}",
            logs()
        );
    }
    assert!(pp.exited().is_none() && sp.exited().is_none(), "{}", logs());

    set_status(&rig, "OB LB");
    let order = rig.dir.path().join("shutdown.order");
    let text = wait_until(
        "both SHUTDOWNCMDs",
        Duration::from_secs(25),
        || {
            let t = std::fs::read_to_string(&order).unwrap_or_default();
            (t.lines().count() >= 2).then_some(t)
        },
        logs,
    );
    let roles: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(roles, ["secondary", "primary"], "{}", logs());
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OB LB\"\n",
        "{}",
        logs()
    );
    assert_eq!(
        notified(&p, "LOWBATT"),
        vec![format!("LOWBATT|{sys}|UPS {sys} battery is low")],
        "{}",
        logs()
    );
    assert!(
        notified(&s, "FSD").contains(&format!("FSD|{sys}|UPS {sys}: forced shutdown in progress")),
        "{}",
        logs()
    );
    for md in [&p, &s] {
        assert_eq!(
            notified(md, "SHUTDOWN"),
            vec!["SHUTDOWN||Auto logout and shutdown proceeding".to_string()],
            "{:?} {}: {}",
            md.mon,
            md.role,
            logs()
        );
        assert_eq!(
            std::fs::read_to_string(md.flag()).unwrap_or_default(),
            "upsmon-shutdown-file",
            "{:?} {} POWERDOWNFLAG: {}",
            md.mon,
            md.role,
            logs()
        );
        assert_eq!(killpower_check(md), Some(0), "{}", logs());
    }
    wait_until(
        "both upsmon to exit",
        Duration::from_secs(10),
        || (pp.exited().is_some() && sp.exited().is_some()).then_some(()),
        logs,
    );
    if std::env::var_os("NUT_RS_SHOW_LOGS").is_some() {
        eprintln!("{}", logs());
    }
}

#[test]
fn ours_primary_stock_secondary_our_upsd() {
    power_failure(Impl::Ours, Mon::Ours, Mon::Stock);
}

#[test]
fn stock_primary_our_secondary_our_upsd() {
    power_failure(Impl::Ours, Mon::Stock, Mon::Ours);
}

#[test]
fn ours_primary_and_secondary_stock_upsd() {
    power_failure(Impl::Stock, Mon::Ours, Mon::Ours);
}

/// No POWERDOWNFLAG before a shutdown: `-K` exits 1.
#[test]
fn killpower_check_without_flag() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    assert_eq!(killpower_check(&p), Some(1));
    std::fs::write(p.flag(), "not the magic").unwrap();
    assert_eq!(killpower_check(&p), Some(1));
}

/// A short OB blip and an upsd restart while OL: notifications, but no shutdown.
#[test]
fn no_spurious_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let mut pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{}", p.log(), p.notify_log());
    wait_until(
        "login",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 1\n").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    wait_until(
        "ONBATT",
        Duration::from_secs(5),
        || (!notified(&p, "ONBATT").is_empty()).then_some(()),
        logs,
    );
    set_status(&rig, "OL");
    wait_until(
        "ONLINE",
        Duration::from_secs(5),
        || (!notified(&p, "ONLINE").is_empty()).then_some(()),
        logs,
    );
    // upsd restarts while OL
    let _ = rig.upsd.proc_.child.kill();
    let _ = rig.upsd.proc_.child.wait();
    wait_until(
        "COMMBAD",
        Duration::from_secs(5),
        || (!notified(&p, "COMMBAD").is_empty()).then_some(()),
        logs,
    );
    std::thread::sleep(Duration::from_secs(4)); // longer than DEADTIME
    rig.upsd = nut_rs_tests::Upsd::start(&rig.dir, &Impl::Ours.binary(&stock), Impl::Ours);
    wait_until(
        "COMMOK",
        Duration::from_secs(10),
        || (!notified(&p, "COMMOK").is_empty()).then_some(()),
        logs,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(pp.exited().is_none(), "upsmon exited: {}", logs());
    assert!(notified(&p, "SHUTDOWN").is_empty(), "{}", logs());
    assert!(!p.flag().exists(), "{}", logs());
    // no FSD was set
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL\"\n",
        "{}",
        logs()
    );
}

/// Last seen OB, then upsd goes away: after DEADTIME the UPS counts as OB+LB and the
/// primary shuts down (its FSD and NUMLOGINS fail, which counts as nobody left).
#[test]
fn critical_by_silence() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let _pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{}", p.log(), p.notify_log());
    wait_until(
        "login",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 1\n").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    wait_until(
        "ONBATT",
        Duration::from_secs(5),
        || (!notified(&p, "ONBATT").is_empty()).then_some(()),
        logs,
    );
    let _ = rig.upsd.proc_.child.kill();
    let _ = rig.upsd.proc_.child.wait();
    let t0 = Instant::now();
    let order = rig.dir.path().join("shutdown.order");
    wait_until(
        "SHUTDOWNCMD",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&order)
                .ok()
                .filter(|t| !t.is_empty())
        },
        logs,
    );
    // DEADTIME 3 s + FINALDELAY 1 s, at the earliest
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(
        std::fs::read_to_string(p.flag()).unwrap_or_default(),
        "upsmon-shutdown-file"
    );
}
