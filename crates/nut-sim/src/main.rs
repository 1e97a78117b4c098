//! `nut-sim N [SEED] [options]`: run N scenarios (seeds SEED, SEED+1, ...), report each
//! violation with the command that replays it and a shrunk scenario, and end with
//! `sim: N scenarios, V violations` (exit status 1 when V > 0). See docs/simulation.md.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use nut_sim::shrink::shrink;
use nut_sim::{run, Mutation, Options, Scenario};

const USAGE: &str = "usage: nut-sim N [SEED] [--keep I,J,...] [--secondaries K] [--trace] \
                     [--mutate skip-hostsync|shutdown-on-battery|ignore-lb|early-killpower|shutdown-on-mains] [--threads T] [--shrink-max M]";

struct Args {
    n: u64,
    seed: Option<u64>,
    keep: Option<Vec<usize>>,
    secondaries: Option<usize>,
    trace: bool,
    mutation: Option<Mutation>,
    threads: usize,
    shrink_max: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        n: 0,
        seed: None,
        keep: None,
        secondaries: None,
        trace: false,
        mutation: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        shrink_max: 3,
    };
    let mut positional = Vec::new();
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what} needs a number\n{USAGE}"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--keep" => {
                let v = it.next().unwrap_or_default();
                let keep: Result<Vec<usize>, _> = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect();
                a.keep = Some(keep.map_err(|_| format!("--keep {v:?}: not a list of numbers"))?);
            }
            "--secondaries" => a.secondaries = Some(num(it.next(), "--secondaries")? as usize),
            "--threads" => a.threads = num(it.next(), "--threads")?.max(1) as usize,
            "--shrink-max" => a.shrink_max = num(it.next(), "--shrink-max")?,
            "--trace" => a.trace = true,
            "--mutate" => {
                a.mutation = Some(match it.next().as_deref() {
                    Some("skip-hostsync") => Mutation::SkipHostsync,
                    Some("shutdown-on-battery") => Mutation::ShutdownOnBattery,
                    Some("ignore-lb") => Mutation::IgnoreLowBattery,
                    Some("early-killpower") => Mutation::EarlyKillpower,
                    Some("shutdown-on-mains") => Mutation::ShutdownOnMains,
                    other => return Err(format!("--mutate {other:?}: unknown\n{USAGE}")),
                })
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => positional.push(arg),
        }
    }
    let mut p = positional.into_iter();
    a.n = num(p.next(), "N")?;
    if let Some(s) = p.next() {
        a.seed = Some(s.parse().map_err(|_| format!("SEED {s:?}: not a number"))?);
    }
    if p.next().is_some() {
        return Err(USAGE.to_string());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let base = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let opts = Options {
        mutation: args.mutation,
        trace: args.trace,
    };
    let mutate = match args.mutation {
        Some(Mutation::SkipHostsync) => " --mutate skip-hostsync",
        Some(Mutation::ShutdownOnBattery) => " --mutate shutdown-on-battery",
        Some(Mutation::IgnoreLowBattery) => " --mutate ignore-lb",
        Some(Mutation::EarlyKillpower) => " --mutate early-killpower",
        Some(Mutation::ShutdownOnMains) => " --mutate shutdown-on-mains",
        None => "",
    }
    .to_string();
    println!(
        "sim: seeds {base}..{} ({} threads)",
        base.wrapping_add(args.n.saturating_sub(1)),
        args.threads
    );
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let violations = AtomicU64::new(0);
    let shrunk = AtomicU64::new(0);
    let with_shutdown = AtomicU64::new(0);
    let hosts_down = AtomicU64::new(0);
    let events = AtomicU64::new(0);
    let broken = AtomicU64::new(0);
    let crashed = AtomicU64::new(0);
    let out = Mutex::new(());
    let progress_every = (args.n / 100).max(10_000);
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.n {
                    return;
                }
                let seed = base.wrapping_add(i);
                let full = Scenario::generate(seed);
                let s = full.restrict(args.keep.as_deref(), args.secondaries);
                let outcome = match run(&s, &opts) {
                    Ok(o) => o,
                    Err(e) => {
                        eprintln!("nut-sim: seed {seed}: {e}");
                        broken.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                events.fetch_add(outcome.events, Ordering::Relaxed);
                crashed.fetch_add(outcome.crashed as u64, Ordering::Relaxed);
                if outcome.shutdowns > 0 {
                    with_shutdown.fetch_add(1, Ordering::Relaxed);
                    hosts_down.fetch_add(outcome.shutdowns as u64, Ordering::Relaxed);
                }
                if i > 0 && i % progress_every == 0 {
                    eprintln!(
                        "sim: {i} scenarios so far, {} violations, {:.0} s",
                        violations.load(Ordering::Relaxed),
                        started.elapsed().as_secs_f64()
                    );
                }
                if outcome.violations.is_empty() {
                    if args.trace {
                        let _g = out.lock();
                        println!("{s}");
                        for l in &outcome.trace {
                            println!("{l}");
                        }
                    }
                    continue;
                }
                violations.fetch_add(outcome.violations.len() as u64, Ordering::Relaxed);
                let mut report = String::new();
                for v in &outcome.violations {
                    report.push_str(&format!(
                        "FAIL seed {seed}: {} at {:.3} s: {}\n",
                        v.property.name(),
                        v.at as f64 / 1000.0,
                        v.detail
                    ));
                }
                let keep = match &args.keep {
                    Some(k) => format!(
                        " --keep {}",
                        k.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
                    ),
                    None => String::new(),
                };
                let sec = args
                    .secondaries
                    .map(|n| format!(" --secondaries {n}"))
                    .unwrap_or_default();
                report.push_str(&format!(
                    "  replay: scripts/sim 1 {seed}{keep}{sec}{mutate} --trace\n"
                ));
                if shrunk.fetch_add(1, Ordering::Relaxed) < args.shrink_max {
                    let property = outcome.violations[0].property;
                    let (keep, secondaries) = shrink(&s, property, &opts);
                    let small = full.restrict(Some(&keep), Some(secondaries));
                    report.push_str(&format!(
                        "  shrunk ({} of {} faults, {secondaries} secondaries): scripts/sim 1 {seed} \
                         --keep {} --secondaries {secondaries}{mutate} --trace\n",
                        keep.len(),
                        full.events.len(),
                        small.keep_list(),
                    ));
                    for l in small.to_string().lines() {
                        report.push_str(&format!("    {l}\n"));
                    }
                }
                let _g = out.lock();
                print!("{report}");
                if args.trace {
                    println!("{s}");
                    for l in &outcome.trace {
                        println!("{l}");
                    }
                }
            });
        }
    });
    let v = violations.load(Ordering::Relaxed);
    println!(
        "sim: {} scenarios in {:.1} s, {} events; {} reached a shutdown ({} hosts shut down, \
         {} still up when the battery ran out)",
        args.n,
        started.elapsed().as_secs_f64(),
        events.load(Ordering::Relaxed),
        with_shutdown.load(Ordering::Relaxed),
        hosts_down.load(Ordering::Relaxed),
        crashed.load(Ordering::Relaxed)
    );
    println!("sim: {} scenarios, {v} violations", args.n);
    if v > 0 || broken.load(Ordering::Relaxed) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
