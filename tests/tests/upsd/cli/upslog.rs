//! upslog: `-l -` lines from a format string over a few intervals, ended by SIGTERM (one
//! more line, then "Signal 15: exiting"), and the command-line errors.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nut_test_support::daemon::signal;
use nut_test_support::{our_bin, Impl};

use super::{Cli, Outcome};

/// Every escape, known variables and not, the unknown ones and a `%` left open; nothing
/// that changes from one second (or one process) to the next.
const FORMAT: &str = "%VAR ups.status% [%VAR nope.var%] %VAR bad% %FOO% %% %UPSHOST% \
    %TIME @Y% %VAR%  %var battery.charge% %VARx% %UPSHOSTS% %VAR ups.mfr";

/// Start `program` as upslog; its stdout lines arrive on the channel as they are written.
fn spawn(cli: &Cli, program: &Path, args: &[String]) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = cli.command(program, "upslog", args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn upslog");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// `lines` lines from `rx` (30 s at most for all).
fn take(rx: &mpsc::Receiver<String>, lines: usize) -> Vec<String> {
    (0..lines)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(30))
                .expect("upslog wrote a line")
        })
        .collect()
}

/// Run upslog with `args` until it wrote its two header lines and `samples` lines, then
/// SIGTERM it: what it printed, with each different sample line once, and how many samples
/// it wrote. (How many lines come around the signal depends on where it lands in stock's
/// loop, which counts whole seconds: one more line usually, none or two sometimes, for
/// stock as for ours. The lines themselves never change here.)
fn run_until_term(cli: &Cli, program: &Path, args: &[String], samples: usize) -> (Outcome, usize) {
    let (mut child, rx) = spawn(cli, program, args);
    let mut lines = take(&rx, 2 + samples);
    // The signal lands in the pause between two samples.
    signal(child.id(), "TERM");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    lines.extend(rx.iter());
    let count = lines.len() - 2;
    let mut distinct: Vec<String> = Vec::new();
    for line in lines {
        if !distinct.contains(&line) {
            distinct.push(line);
        }
    }
    let outcome = Outcome {
        code: status.code(),
        stdout: distinct.iter().map(|l| format!("{l}\n")).collect(),
        stderr,
    };
    (outcome, count)
}

fn upslog_matches_stock(which: Impl) {
    let Some(cli) = Cli::start(which) else { return };
    let pid_file = cli.expand("$DIR/upslog.pid");
    let modern: Vec<String> = [
        "-s", "ups@$H", "-l", "-", "-i", "1", "-p", &pid_file, "-f", FORMAT,
    ]
    .iter()
    .map(|a| cli.expand(a))
    .collect();
    // the 2.8.0 form: <ups> <file> <interval> <format words...>
    let old: Vec<String> = [
        "-p",
        &pid_file,
        "--",
        "second@$H",
        "-",
        "1",
        "%VAR",
        "ups.mfr%",
        "%VAR ups.status%",
    ]
    .iter()
    .map(|a| cli.expand(a))
    .collect();
    for (args, expect) in [
        (&modern, "OL DISCHRG [NA] INVALID INVALID % ups@"),
        (&old, "Say \"hi\" #1 C:\\x OB LB \n"),
    ] {
        let (stock, stock_samples) = run_until_term(&cli, &cli.stock_tool("upslog"), args, 3);
        let (ours, our_samples) = run_until_term(&cli, &our_bin("upslog"), args, 3);
        let ours = ours.normalised();
        assert_eq!(
            ours, stock,
            "upslog {args:?}: ours (left) differs from stock's"
        );
        assert!(stock.stdout.contains(expect), "{stock:?}");
        // the banner, the "logging status" line, and one line repeated every second
        assert_eq!(stock.stdout.lines().count(), 3, "{stock:?}");
        assert!(stock_samples >= 3 && our_samples >= 3);
        assert_eq!(
            stock.stderr,
            "Init SSL without certificate database\nSignal 15: exiting\n"
        );
        assert_eq!(stock.code, Some(0));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(pid.trim().parse::<u32>().is_ok(), "{pid:?}");
    }

    // command-line errors and help
    let cases: &[(&[&str], &str)] = &[
        (&[], "No UPS defined for monitoring - use -s <system>\n"),
        (
            &["-s", "ups@$H"],
            "No filename defined for logging - use -l <file>\n",
        ),
        (&["-l", "-"], "No UPS defined for monitoring"),
        (&["-x", "-s", "ups@$H"], "upslog: invalid option -- 'x'\n"),
        (
            &["-s", "ups@", "-l", "-"],
            "Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]\n\n",
        ),
        (
            &["-s", "ups@$H", "-l", "$DIR/no/such/dir/log"],
            "could not open logfile",
        ),
        (
            &["-s", "ups@$H", "-l", "-", "-u", "no-such-user-nut-rs"],
            "user no-such-user-nut-rs not found\n",
        ),
        (
            &["-s", "ups@$CLOSED", "-l", "-", "-u", "no-such-user-nut-rs"],
            "Warning: initial connect failed: Connection failure: Connection refused\n",
        ),
        (&["-h"], "%TIME @Y@m@d @H@M@S% %VAR battery.charge%"),
        (&["a", "b"], "UPS status logger.\n"),
        (&["-V"], "Network UPS Tools upslog 2.8.0\n"),
    ];
    for (args, expect) in cases {
        cli.same_saying("upslog", args, None, expect);
    }
}
nut_test_support::both_upsd!(upslog_matches_stock);
