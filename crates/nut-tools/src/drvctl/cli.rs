//! upsdrvctl's command line: `upsdrvctl [-t] [-u user] [-r dir] [-D] [-d] [-F|-FF|-B]
//! start|stop|shutdown [<ups>]` and `upsdrvctl [options] -c <command> [<ups>]` (NUT 2.8.1+),
//! options bundled as NUT's getopt takes them (`-tD`, `-uroot`); and nut-rs's
//! `upsdrvctl [options] prepare [<ups>]` (a service's privileged pre-start).

use std::process::ExitCode;

use super::exec;
use super::plan::PassOn;
use crate::Error;

/// What the command line asks for.
#[derive(Debug, Default)]
pub(crate) struct Opts {
    /// `-t`: print what would be done.
    pub(crate) test: bool,
    /// `-D` count.
    pub(crate) debug: u8,
    /// What goes on to the drivers (`-u`, `-r`, `-d`, `-F`, `-B`).
    pub(crate) pass: PassOn,
    /// `-c <command>`: send the command to the running drivers (the words name the UPS).
    pub(crate) command: Option<String>,
    /// The command and its UPS.
    pub(crate) words: Vec<String>,
}

/// The whole program after the banner: `prog` names it in the usage text, `args` are its
/// arguments. A failure (or a driver that failed) is the failure exit code.
pub fn main(prog: &str, args: &[String]) -> ExitCode {
    let ok = parse(args, prog).and_then(|o| match o {
        Some(o) => exec::run(prog, &o),
        None => Ok(true),
    });
    match ok {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `-h`.
pub(crate) fn usage(prog: &str) {
    println!("Starts and stops UPS drivers via ups.conf.\n");
    println!("usage: {prog} [OPTIONS] (start | stop | shutdown) [<ups>]");
    println!("       {prog} [OPTIONS] -c <command> [<ups>]");
    println!("       {prog} [OPTIONS] prepare [<ups>]\n");
    println!("  -h\t\t\tdisplay this help");
    println!("  -r <path>\t\tdrivers will chroot to <path>");
    println!("  -t\t\t\ttesting mode - prints actions without doing them");
    println!("  -u <user>\t\tdrivers started will switch from root to <user>");
    println!("  -D            \traise debugging level");
    println!("  -d            \tpass debugging level from upsdrvctl to driver");
    println!("  -F            \tdriver stays foregrounded, upsdrvctl waits for it (one driver:");
    println!("                \tupsdrvctl becomes the driver, same PID); -FF: with PID file");
    println!("  -B            \tdriver goes to the background even when debugging");
    println!("  -c <command>\t\tsend <command> to the running driver(s): reload, exit, ...");
    println!("  start\t\t\tstart all UPS drivers in ups.conf");
    println!("  start\t<ups>\t\tonly start driver for UPS <ups>");
    println!("  stop\t\t\tstop all UPS drivers in ups.conf");
    println!("  stop <ups>\t\tonly stop driver for UPS <ups>");
    println!("  shutdown\t\tshutdown all UPS drivers in ups.conf");
    println!("  shutdown <ups>\tonly shutdown UPS <ups>");
    println!("  prepare [<ups>]\t(nut-rs) as root, what the device of each (or only <ups>)");
    println!("                \tneeds before its driver starts without root (usbhid-ups:");
    println!("                \tusbhid bound to a unit libusb left without it); exits 0");
}

/// The options; `None` after `-h` (the usage is printed).
fn parse(args: &[String], prog: &str) -> Result<Option<Opts>, Error> {
    let mut o = Opts::default();
    let mut pass_debug = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if o.words.is_empty() && a.starts_with('-') && a.len() > 1 {
            let flags: Vec<char> = a[1..].chars().collect();
            for (i, c) in flags.iter().enumerate() {
                match c {
                    't' => o.test = true,
                    'D' => o.debug += 1,
                    'd' => pass_debug = true,
                    'F' => o.pass.foreground += 1,
                    'B' => o.pass.background = true,
                    'h' => {
                        usage(prog);
                        return Ok(None);
                    }
                    'u' | 'r' | 'c' => {
                        let rest: String = flags[i + 1..].iter().collect();
                        let v = if rest.is_empty() {
                            it.next()
                                .cloned()
                                .ok_or_else(|| Error::Usage(format!("-{c} needs a value")))?
                        } else {
                            rest
                        };
                        match c {
                            'u' => o.pass.user = Some(v),
                            'r' => o.pass.chroot = Some(v),
                            _ => o.command = Some(v),
                        }
                        break;
                    }
                    _ => {
                        usage(prog);
                        return Err(Error::Usage(format!("Error: unknown option -{c}")));
                    }
                }
            }
        } else {
            o.words.push(a.clone());
        }
    }
    if pass_debug {
        o.pass.debug = o.debug.max(1);
    }
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Opts {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args, "upsdrvctl").expect("parses").expect("not -h")
    }

    #[test]
    fn bundled_options_and_values() {
        let o = opts(&["-tDd", "-uroot", "-r", "/chroot", "start", "ups"]);
        assert!(o.test);
        assert_eq!(o.debug, 1);
        assert_eq!(o.pass.debug, 1);
        assert_eq!(o.pass.user.as_deref(), Some("root"));
        assert_eq!(o.pass.chroot.as_deref(), Some("/chroot"));
        assert_eq!(o.words, ["start", "ups"]);
        let o = opts(&["-FF", "-c", "reload", "ups"]);
        assert_eq!((o.pass.foreground, o.pass.background), (2, false));
        assert_eq!(o.command.as_deref(), Some("reload"));
        assert_eq!(o.words, ["ups"]);
        let o = opts(&["-B", "-creload-or-exit"]);
        assert!(o.pass.background);
        assert_eq!(o.command.as_deref(), Some("reload-or-exit"));
        assert!(o.words.is_empty());
        // nut-rs's prepare is a command word like start: -d passes the debug level on
        let o = opts(&["-Dd", "prepare", "ups"]);
        assert_eq!((o.debug, o.pass.debug), (1, 1));
        assert_eq!(o.words, ["prepare", "ups"]);
        // Options after the command are words.
        assert_eq!(opts(&["stop", "-t"]).words, ["stop", "-t"]);
        let args = vec!["-u".to_string()];
        assert_eq!(
            parse(&args, "upsdrvctl")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("-u needs a value".into())
        );
    }
}
