//! `upsdrvctl`: start, stop and shut down the UPS drivers of ups.conf (NUT's interface:
//! `upsdrvctl [-t] [-u user] [-r dir] [-D] [-d] start|stop|shutdown [<ups>]`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nut_tools::drvctl::{self, Globals, Job, PassOn};

fn usage(prog: &str) {
    println!("Starts and stops UPS drivers via ups.conf.\n");
    println!("usage: {prog} [OPTIONS] (start | stop | shutdown) [<ups>]\n");
    println!("  -h\t\t\tdisplay this help");
    println!("  -r <path>\t\tdrivers will chroot to <path>");
    println!("  -t\t\t\ttesting mode - prints actions without doing them");
    println!("  -u <user>\t\tdrivers started will switch from root to <user>");
    println!("  -D            \traise debugging level");
    println!("  -d            \tpass debugging level from upsdrvctl to driver");
    println!("  start\t\t\tstart all UPS drivers in ups.conf");
    println!("  start\t<ups>\t\tonly start driver for UPS <ups>");
    println!("  stop\t\t\tstop all UPS drivers in ups.conf");
    println!("  stop <ups>\t\tonly stop driver for UPS <ups>");
    println!("  shutdown\t\tshutdown all UPS drivers in ups.conf");
    println!("  shutdown <ups>\tonly shutdown UPS <ups>");
}

struct Opts {
    test: bool,
    debug: u8,
    pass_debug: bool,
    pass: PassOn,
    words: Vec<String>,
}

fn parse(args: &[String], prog: &str) -> Result<Option<Opts>> {
    let mut o = Opts {
        test: false,
        debug: 0,
        pass_debug: false,
        pass: PassOn::default(),
        words: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if o.words.is_empty() && a.starts_with('-') && a.len() > 1 {
            let flags: Vec<char> = a[1..].chars().collect();
            for (i, c) in flags.iter().enumerate() {
                match c {
                    't' => o.test = true,
                    'D' => o.debug += 1,
                    'd' => o.pass_debug = true,
                    'h' => {
                        usage(prog);
                        return Ok(None);
                    }
                    'u' | 'r' => {
                        let rest: String = flags[i + 1..].iter().collect();
                        let v = if rest.is_empty() {
                            it.next()
                                .cloned()
                                .with_context(|| format!("-{c} needs a value"))?
                        } else {
                            rest
                        };
                        if *c == 'u' {
                            o.pass.user = Some(v);
                        } else {
                            o.pass.chroot = Some(v);
                        }
                        break;
                    }
                    _ => {
                        usage(prog);
                        bail!("Error: unknown option -{c}");
                    }
                }
            }
        } else {
            o.words.push(a.clone());
        }
    }
    if o.pass_debug {
        o.pass.debug = o.debug.max(1);
    }
    Ok(Some(o))
}

fn main() -> ExitCode {
    println!(
        "Network UPS Tools - UPS driver controller {} (nut-rs)",
        env!("CARGO_PKG_VERSION")
    );
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| "upsdrvctl".into());
    match run(&prog, &args[1..]) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn statepath_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn run(prog: &str, args: &[String]) -> Result<bool> {
    let Some(o) = parse(args, prog)? else {
        return Ok(true);
    };
    let Some(cmd) = o.words.first() else {
        usage(prog);
        bail!("Error: you must specify a command");
    };
    let ups = o.words.get(1).map(String::as_str);
    let path = nut_daemon::confpath().join("ups.conf");
    let conf = nut_conf::ups_conf::load(&path)?;
    let pidpath = statepath_env("NUT_ALTPIDPATH")
        .or_else(|| statepath_env("NUT_STATEPATH"))
        .unwrap_or_else(|| PathBuf::from("/run/nut"));
    // Without `driverpath`, prefer drivers installed next to this program.
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let default_path = match here {
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
    };
    let g = Globals::from_conf(&conf, &default_path);
    if o.test {
        println!("*** Testing mode: not calling exec/kill");
    }
    let mut ok = true;
    match cmd.as_str() {
        "start" => {
            for job in drvctl::start(&conf, ups, &g, &o.pass, &pidpath)? {
                if o.debug > 0 {
                    eprintln!("Starting UPS: {}", job.ups);
                }
                ok &= start_one(&job, &g, o.test)?;
            }
        }
        "stop" => {
            for job in drvctl::stop(&conf, ups, &g, &pidpath)? {
                if o.debug > 0 {
                    eprintln!("Stopping UPS: {}", job.ups);
                }
                ok &= stop_one(&job, o.test);
            }
        }
        "shutdown" => {
            for job in drvctl::shutdown(&conf, ups, &g, &o.pass, &pidpath)? {
                if o.debug > 0 {
                    eprintln!("Shutdown UPS: {}", job.ups);
                }
                if o.test {
                    println!("exec: {}", job.argv.join(" "));
                    continue;
                }
                let st = Command::new(&job.argv[0])
                    .args(&job.argv[1..])
                    .status()
                    .with_context(|| format!("Can't run {}", job.argv[0]))?;
                if !st.success() {
                    eprintln!("Driver failed to shut down {} ({st})", job.ups);
                    ok = false;
                }
            }
        }
        other => bail!("Error: unrecognized command [{other}]"),
    }
    Ok(ok)
}

fn start_one(job: &Job, g: &Globals, test: bool) -> Result<bool> {
    if test {
        println!("exec: {}", job.argv.join(" "));
        return Ok(true);
    }
    if !Path::new(&job.argv[0]).is_file() {
        bail!("Can't start {}: no such file", job.argv[0]);
    }
    for attempt in 1..=g.maxretry {
        let mut child = Command::new(&job.argv[0])
            .args(&job.argv[1..])
            .spawn()
            .with_context(|| format!("Can't start {}", job.argv[0]))?;
        if g.nowait {
            return Ok(true);
        }
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait()? {
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
    match nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    ) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("Stopping {} failed: {e}", job.pidfile.display());
            false
        }
    }
}
