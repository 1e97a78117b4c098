//! Carrying the plan out: start each driver and wait for it to go to the background (with
//! retries), stop each by the PID of its PID file, run each `-k`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::cli::{usage, Opts};
use super::plan::{Globals, Job, Planner};
use crate::Error;

/// Runs the command of `o`; whether every driver did what was asked.
pub(crate) fn run(prog: &str, o: &Opts) -> Result<bool, Error> {
    let (cmd, ups) = match (&o.command, o.words.first()) {
        (Some(_), ups) => ("-c", ups),
        (None, Some(cmd)) => (cmd.as_str(), o.words.get(1)),
        (None, None) => {
            usage(prog);
            return Err(Error::Usage("Error: you must specify a command".into()));
        }
    };
    let ups = ups.map(String::as_str);
    if o.test {
        println!("*** Testing mode: not calling exec/kill");
    }
    if cmd == "prepare" {
        // (nut-rs) a service's privileged pre-start: never a failure, whatever it finds (the
        // driver started next says what is wrong)
        if let Err(e) = prepare(o, ups) {
            eprintln!("{e}");
        }
        return Ok(true);
    }
    let conf = nut_conf::ups_conf::load(&nut_daemon::conf_file("ups.conf")?)?;
    let pidpath = nut_daemon::altpidpath();
    let g = Globals::from_conf(&conf, &default_driverpath(&conf));
    let plan = Planner {
        conf: &conf,
        globals: &g,
        pass: &o.pass,
        pidpath: &pidpath,
    };
    let mut ok = true;
    match cmd {
        "-c" => {
            let command = o.command.as_deref().unwrap_or_default();
            for job in plan.command(ups, command)? {
                if o.debug > 0 {
                    eprintln!("Sending command '{command}' to UPS: {}", job.ups);
                }
                ok &= run_one(&job, o.test, "run the command for")?;
            }
        }
        "start" if o.pass.foreground > 0 => ok = start_foreground(plan.start(ups)?, o.test)?,
        "start" => {
            for job in plan.start(ups)? {
                if o.debug > 0 {
                    eprintln!("Starting UPS: {}", job.ups);
                }
                ok &= start_one(&job, &g, o.test)?;
            }
        }
        "stop" => {
            for job in plan.stop(ups)? {
                if o.debug > 0 {
                    eprintln!("Stopping UPS: {}", job.ups);
                }
                ok &= stop_one(&job, o.test);
            }
        }
        "shutdown" => {
            for job in plan.shutdown(ups)? {
                if o.debug > 0 {
                    eprintln!("Shutdown UPS: {}", job.ups);
                }
                ok &= run_one(&job, o.test, "shut down")?;
            }
        }
        other => {
            return Err(Error::Usage(format!(
                "Error: unrecognized command [{other}]"
            )))
        }
    }
    Ok(ok)
}

/// `prepare [<ups>]` (a nut-rs addition): each selected driver runs `--prepare` (as root:
/// what its device needs before the driver starts without root; usbhid-ups binds usbhid to a
/// unit libusb left without it) and is waited for. A driver that fails is named.
fn prepare(o: &Opts, ups: Option<&str>) -> Result<(), Error> {
    let conf = nut_conf::ups_conf::load(&nut_daemon::conf_file("ups.conf")?)?;
    let g = Globals::from_conf(&conf, &default_driverpath(&conf));
    let plan = Planner {
        conf: &conf,
        globals: &g,
        pass: &o.pass,
        pidpath: &nut_daemon::altpidpath(),
    };
    for job in plan.prepare(ups)? {
        if o.debug > 0 {
            eprintln!("Preparing UPS: {}", job.ups);
        }
        if o.test {
            println!("exec: {}", job.argv.join(" "));
            continue;
        }
        match command(&job).status() {
            Ok(st) if st.success() => {}
            Ok(st) => eprintln!("Driver could not prepare {} ({st})", job.ups),
            Err(e) => eprintln!("Can't run {} to prepare {}: {e}", job.argv[0], job.ups),
        }
    }
    Ok(())
}

/// Without `driverpath`, drivers installed next to this program, if ups.conf names one of
/// them, else `/lib/nut`.
fn default_driverpath(conf: &nut_conf::ups_conf::UpsConf) -> PathBuf {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    match here {
        Some(dir)
            if conf
                .sections
                .iter()
                .filter_map(|s| s.driver.as_ref())
                .any(|d| dir.join(d).is_file()) =>
        {
            dir
        }
        _ => PathBuf::from("/lib/nut"),
    }
}

fn command(job: &Job) -> Command {
    let mut c = Command::new(&job.argv[0]);
    c.args(&job.argv[1..]);
    c
}

fn run_error<'a>(what: &'static str, job: &'a Job) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Run {
        what,
        program: job.argv[0].clone(),
        source,
    }
}

/// Start a driver and wait (`maxstartdelay`) for it to go to the background; `maxretry`
/// attempts `retrydelay` apart.
fn start_one(job: &Job, g: &Globals, test: bool) -> Result<bool, Error> {
    if test {
        println!("exec: {}", job.argv.join(" "));
        return Ok(true);
    }
    if !Path::new(&job.argv[0]).is_file() {
        return Err(Error::NoProgram(job.argv[0].clone()));
    }
    for attempt in 1..=g.maxretry {
        let mut child = command(job).spawn().map_err(run_error("start", job))?;
        if g.nowait {
            return Ok(true);
        }
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().map_err(run_error("start", job))? {
                break Some(st);
            }
            if t0.elapsed() >= job.maxstartdelay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match status {
            None => {
                eprintln!("Startup timer elapsed, continuing...");
                return Ok(false);
            }
            Some(st) if st.success() => return Ok(true),
            Some(st) => match st.code() {
                Some(c) => eprintln!("Driver failed to start (exit status={c})"),
                None => eprintln!("Driver exited abnormally"),
            },
        }
        if attempt < g.maxretry {
            std::thread::sleep(g.retrydelay);
        }
    }
    Ok(false)
}

/// `-F start`: the drivers run in the foreground and upsdrvctl waits for them. With one
/// driver, upsdrvctl becomes it (exec: same PID, so a `Type=notify` unit sees the driver as
/// its main process); with several, it starts each and waits for all. Whether all ended well.
fn start_foreground(jobs: Vec<Job>, test: bool) -> Result<bool, Error> {
    if test {
        for job in &jobs {
            println!("exec: {}", job.argv.join(" "));
        }
        return Ok(true);
    }
    for job in &jobs {
        if !Path::new(&job.argv[0]).is_file() {
            return Err(Error::NoProgram(job.argv[0].clone()));
        }
    }
    if let [job] = jobs.as_slice() {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let _ = std::io::stdout().flush();
        // exec only returns on failure
        return Err(run_error("start", job)(command(job).exec()));
    }
    let mut children = Vec::new();
    for job in &jobs {
        children.push((job, command(job).spawn().map_err(run_error("start", job))?));
    }
    let mut ok = true;
    for (job, mut child) in children {
        let st = child.wait().map_err(run_error("run", job))?;
        if !st.success() {
            eprintln!("Driver for {} ended: {st}", job.ups);
            ok = false;
        }
    }
    Ok(ok)
}

/// SIGTERM to the PID of the driver's PID file.
fn stop_one(job: &Job, test: bool) -> bool {
    let text = match std::fs::read_to_string(&job.pidfile) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Can't open {}: {e}", job.pidfile.display());
            return false;
        }
    };
    if test {
        println!(
            "kill: SIGTERM to PID {} ({})",
            text.trim(),
            job.pidfile.display()
        );
        return true;
    }
    let Ok(pid) = text.trim().parse::<i32>() else {
        eprintln!("Bad PID in {}", job.pidfile.display());
        return false;
    };
    match kill(Pid::from_raw(pid), Signal::SIGTERM) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("Stopping {} failed: {e}", job.pidfile.display());
            false
        }
    }
}

/// `<driver> -a <ups> -k` (and `-c <command>`): run it and wait.
fn run_one(job: &Job, test: bool, what: &str) -> Result<bool, Error> {
    if test {
        println!("exec: {}", job.argv.join(" "));
        return Ok(true);
    }
    let st = command(job).status().map_err(run_error("run", job))?;
    if !st.success() {
        eprintln!("Driver failed to {what} {} ({st})", job.ups);
    }
    Ok(st.success())
}
