//! The `usbhid-ups` binary: NUT's driver command line and start-up sequence (read the ups.conf
//! section, drop root, open the device, publish, create the socket, go to the background,
//! serve), plus `-k` (kill power) and `-c` (command a running instance).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Parser};
use nut_state::Tree;
use usbhid_ups::backend::Backend;
use usbhid_ups::config::{split_xarg, DriverConfig, Setting, USBHID_KEYS};
use usbhid_ups::core::{upsc_dump, Core};
use usbhid_ups::hid::backend::HidBackend;
use usbhid_ups::hid::device::Device;
use usbhid_ups::hid::matcher::Matcher;
use usbhid_ups::hid::record::RecordMode;
use usbhid_ups::hid::recording::Recording;
use usbhid_ups::hid::replay::identity_of;
use usbhid_ups::hid::sim::SimDevice;
use usbhid_ups::query::{altpidpath, statepath, Query};
use usbhid_ups::server::{self, LoopConfig, Stop};
use usbhid_ups::static_dev::StaticBackend;

const NAME: &str = "Generic HID driver (nut-rs)";

/// The command line of a NUT driver (`drivers/main.c`).
#[derive(Parser, Debug)]
#[command(disable_help_flag = true, disable_version_flag = true)]
struct Args {
    #[arg(short = 'a')]
    ups: Option<String>,
    #[arg(short = 's')]
    standalone: Option<String>,
    #[arg(short = 'k')]
    killpower: bool,
    #[arg(short = 'F', action = ArgAction::Count)]
    foreground: u8,
    #[arg(short = 'B')]
    background: bool,
    #[arg(short = 'D', action = ArgAction::Count)]
    debug: u8,
    #[arg(short = 'd')]
    dump: Option<u32>,
    #[arg(short = 'h')]
    help: bool,
    #[arg(short = 'x', action = ArgAction::Append)]
    xargs: Vec<String>,
    #[arg(short = 'L')]
    list: bool,
    #[arg(short = 'q', action = ArgAction::Count)]
    quiet: u8,
    #[arg(short = 'r')]
    chroot: Option<PathBuf>,
    #[arg(short = 'u')]
    user: Option<String>,
    #[arg(short = 'g')]
    group: Option<String>,
    #[arg(short = 'V')]
    version: bool,
    #[arg(short = 'i')]
    interval: Option<u64>,
    #[arg(short = 'c')]
    command: Option<String>,
    #[arg(short = 'P')]
    pid: Option<i32>,
}

/// Keys of [`USBHID_KEYS`] that are flags, and a line of help for each key (for `-L`, `-h`).
const HELP: &[(&str, bool, &str)] = &[
    (
        "vendor",
        false,
        "Regular expression for the USB manufacturer string",
    ),
    (
        "product",
        false,
        "Regular expression for the USB product string",
    ),
    (
        "serial",
        false,
        "Regular expression for the USB serial number",
    ),
    (
        "vendorid",
        false,
        "Regular expression for the USB vendor id (4 hex digits)",
    ),
    (
        "productid",
        false,
        "Regular expression for the USB product id (4 hex digits)",
    ),
    ("bus", false, "Regular expression for the USB bus name"),
    (
        "device",
        false,
        "Regular expression for the USB device number",
    ),
    ("busport", false, "Regular expression for the USB port"),
    (
        "allow_duplicates",
        true,
        "Take the first free device that matches",
    ),
    (
        "usb_set_altinterface",
        false,
        "USB alternate interface to select",
    ),
    ("usb_config_index", false, "USB configuration index (hex)"),
    (
        "usb_hid_rep_index",
        false,
        "USB HID report descriptor index (hex)",
    ),
    (
        "usb_hid_desc_index",
        false,
        "USB HID descriptor index (hex)",
    ),
    (
        "usb_hid_ep_in",
        false,
        "USB HID interrupt IN endpoint (hex)",
    ),
    (
        "usb_hid_ep_out",
        false,
        "USB HID interrupt OUT endpoint (hex)",
    ),
    (
        "subdriver",
        false,
        "Use this subdriver instead of the automatic choice",
    ),
    ("lowbatt", false, "Low battery level to set at start (%)"),
    (
        "offdelay",
        false,
        "Delay before the output goes off at shutdown (s)",
    ),
    (
        "ondelay",
        false,
        "Delay before the output comes back on (s)",
    ),
    (
        "pollfreq",
        false,
        "Seconds between full walks of the device",
    ),
    ("pollonly", true, "Do not use the interrupt pipe"),
    (
        "interruptonly",
        true,
        "Only use the interrupt pipe, do not poll",
    ),
    (
        "interruptsize",
        false,
        "Bytes to read from the interrupt pipe",
    ),
    (
        "interrupt_pipe_no_events_tolerance",
        false,
        "Reconnect after this many empty interrupt reads (-1: never)",
    ),
    (
        "onlinedischarge",
        true,
        "Treat OL+DISCHRG as on battery (old name)",
    ),
    (
        "onlinedischarge_onbattery",
        true,
        "Treat OL+DISCHRG as on battery",
    ),
    (
        "onlinedischarge_battery",
        true,
        "Treat OL+DISCHRG as on battery (documented alias)",
    ),
    (
        "onlinedischarge_calibration",
        true,
        "Treat OL+DISCHRG as calibration",
    ),
    (
        "onlinedischarge_log_throttle_sec",
        false,
        "Seconds between OL+DISCHRG warnings",
    ),
    (
        "onlinedischarge_log_throttle_hovercharge",
        false,
        "Charge (%) above which OL+DISCHRG is not logged",
    ),
    (
        "lbrb_log_delay_sec",
        false,
        "Ignore LB/RB flapping shorter than this (s)",
    ),
    (
        "lbrb_log_delay_without_calibrating",
        true,
        "Apply lbrb_log_delay_sec also when not calibrating",
    ),
    (
        "disable_fix_report_desc",
        true,
        "Do not fix up known broken report descriptors",
    ),
    (
        "maxreport",
        true,
        "Work around wrong report lengths of some APC firmware",
    ),
    ("explore", true, "Diagnostic mode for unknown devices"),
    (
        "waitbeforereconnect",
        false,
        "Seconds to wait before reconnecting after an error",
    ),
    (
        "recording",
        false,
        "Replay this nut-hid-recording/1 file instead of a device (relative: in the config directory)",
    ),
    (
        "record",
        false,
        "Write the device, then its interrupt reports, to this nut-hid-recording/1 file",
    ),
    (
        "simlog",
        false,
        "Append every SET_REPORT sent to a recording to this file",
    ),
    (
        "backend",
        false,
        "static:<file> serves a .dev file instead of a device",
    ),
];

fn help_of(key: &str) -> (bool, &'static str) {
    HELP.iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, f, d)| (f, d))
        .unwrap_or((false, ""))
}

fn usage(progname: &str) {
    println!(
        "\nusage: {progname} (-a <id>|-s <id>) [OPTIONS]
  -a <id>        - autoconfig using ups.conf section <id>
                 - note: -x after -a overrides ups.conf settings
  -s <id>        - configure directly from cmd line arguments (give every setting with -x)
  -V             - print version, then exit
  -L             - print parseable list of driver variables
  -D             - raise debugging level (and stay foreground by default)
  -d <count>     - dump data to stdout after 'count' updates loop and exit
  -F             - stay foregrounded even if no debugging is enabled (-FF: and write a PID file)
  -B             - stay backgrounded even if debugging is bumped
  -q             - raise log level threshold
  -h             - display this help
  -k             - force shutdown
  -c <command>   - send command to running driver: exit, reload, reload-or-exit, reload-or-error
  -i <int>       - poll interval
  -r <dir>       - chroot to <dir>
  -u <user>      - switch to <user> (if started as root)
  -g <group>     - set socket access to <group> (if started as root)
  -x <var>=<val> - set driver variable <var> to <val>

Acceptable values for -x or ups.conf in this driver:
"
    );
    for k in USBHID_KEYS {
        match help_of(k) {
            (true, d) => println!("{d:>60} : -x {k}"),
            (false, d) => println!("{d:>60} : -x {k}=<value>"),
        }
    }
}

fn main() -> ExitCode {
    let argv0 = std::env::args()
        .next()
        .unwrap_or_else(|| "usbhid-ups".into());
    let progname = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().trim_end_matches(".exe").to_string())
        .unwrap_or_else(|| "usbhid-ups".into());
    println!(
        "Network UPS Tools - {NAME} {} ({})",
        usbhid_ups::DRIVER_VERSION,
        usbhid_ups::VERSION
    );
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            usage(&progname);
            return ExitCode::FAILURE;
        }
    };
    match run(&progname, args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(progname: &str, args: Args) -> Result<ExitCode> {
    if args.version {
        return Ok(ExitCode::SUCCESS);
    }
    if args.help {
        usage(progname);
        return Ok(ExitCode::SUCCESS);
    }
    if args.list {
        for k in USBHID_KEYS {
            let (flag, desc) = help_of(k);
            let kind = if flag { "FLAG" } else { "VALUE" };
            println!("{kind} {k} \"{desc}\"");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let foreground = (args.debug > 0 || args.foreground > 0) && !args.background;
    // Like stock: messages go to stderr while in the foreground (and for -k, -c, -d), to
    // syslog once in the background.
    let to_syslog = !foreground && !args.killpower && args.command.is_none() && args.dump.is_none();
    let level = match (args.debug, args.quiet) {
        (0, q) if q > 0 => "warn",
        (0, _) => "info",
        (1 | 2, _) => "debug",
        _ => "trace",
    };
    nut_daemon::init_logging(progname, None, level, to_syslog);
    if args.chroot.is_some() {
        bail!("-r (chroot) is not supported by this driver");
    }
    let Some(upsname) = args.ups.clone().or(args.standalone.clone()) else {
        usage(progname);
        bail!("Error: specifying '-a <id>' or '-s <id>' is now mandatory");
    };
    let sock = statepath().join(format!("{progname}-{upsname}"));
    let pidfile = altpidpath().join(format!("{progname}-{upsname}.pid"));

    if let Some(cmd) = &args.command {
        return send_command(&sock, &pidfile, cmd, args.pid);
    }

    let conf = if args.ups.is_some() {
        let path = nut_daemon::confpath().join("ups.conf");
        Some(nut_conf::ups_conf::load(&path)?)
    } else {
        None
    };
    let xargs: Vec<Setting> = args.xargs.iter().map(|a| split_xarg(a)).collect();
    let mut cfg = DriverConfig::build(progname, &upsname, conf.as_ref(), &xargs, USBHID_KEYS)?;
    if let Some(i) = args.interval {
        if i == 0 {
            bail!("Error: command-line: invalid pollinterval: {i}");
        }
        cfg.poll_interval = i;
    }
    let debug = i32::from(args.debug).max(cfg.debug_min.unwrap_or(0) as i32);
    let make_backend = || backend_for(&cfg, true);

    if args.killpower {
        // Never record from -k: it would replace a recording the running driver is writing.
        return killpower(&sock, &cfg, || backend_for(&cfg, false));
    }

    // Drop root before touching the device or creating the socket, as NUT 2.8.0 does.
    let user = args
        .user
        .clone()
        .or(cfg.user.clone())
        .unwrap_or_else(|| "nut".into());
    become_user(&user, args.group.as_deref().or(cfg.group.as_deref()))?;

    let mut backend = make_backend()?;
    let mut tree = Tree::new();
    cfg.publish(&mut tree);
    tree.set_info("device.type", "ups");
    backend
        .init(&mut tree, &cfg)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tree.set_info("driver.version", usbhid_ups::VERSION);
    tree.set_info("driver.version.internal", usbhid_ups::DRIVER_VERSION);
    tree.set_info("driver.name", progname);
    let first_ok = match backend.update(&mut tree, Instant::now()) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("first update failed: {e}");
            false
        }
    };
    for (ups, dev) in [
        ("ups.mfr", "device.mfr"),
        ("ups.model", "device.model"),
        ("ups.serial", "device.serial"),
    ] {
        if let Some(v) = tree.get(ups).map(|v| v.raw().to_string()) {
            tree.set_info(dev, &v);
        }
    }
    let poll = Duration::from_secs(cfg.poll_interval);

    if let Some(n) = args.dump {
        for _ in 0..n {
            std::thread::sleep(poll);
            if let Err(e) = backend.update(&mut tree, Instant::now()) {
                tracing::warn!("update failed: {e}");
            }
        }
        print!("{}", upsc_dump(&tree));
        return Ok(ExitCode::SUCCESS);
    }

    stop_previous_instance(&sock);
    let listener =
        server::bind(&sock).with_context(|| format!("Can't create socket {}", sock.display()))?;
    tracing::debug!("socket {} open", sock.display());

    if !foreground {
        nix::unistd::daemon(true, false).context("going to the background")?;
    }
    let write_pid = !foreground || args.foreground >= 2;
    if write_pid {
        std::fs::write(&pidfile, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", pidfile.display()))?;
    }
    server::setup_signals().context("installing signal handlers")?;

    let mut core = Core::new(tree, std::process::id(), debug);
    if first_ok {
        core.set_stale(false);
    }
    let upsname2 = upsname.clone();
    let prog2 = progname.to_string();
    let xargs2 = xargs.clone();
    let standalone = args.ups.is_none();
    let mut on_reload = move |core: &mut Core| -> Duration {
        let conf = if standalone {
            None
        } else {
            match nut_conf::ups_conf::load(&nut_daemon::confpath().join("ups.conf")) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!("reload: {e}");
                    return poll;
                }
            }
        };
        match DriverConfig::build(&prog2, &upsname2, conf.as_ref(), &xargs2, USBHID_KEYS) {
            Ok(c) => {
                core.with_tree(|t| c.publish(t));
                Duration::from_secs(c.poll_interval)
            }
            Err(e) => {
                tracing::error!("reload: {e}");
                poll
            }
        }
    };
    let stop = server::run(
        &mut core,
        backend.as_mut(),
        listener,
        LoopConfig {
            poll_interval: poll,
            on_reload: &mut on_reload,
        },
    );
    let _ = std::fs::remove_file(&sock);
    if write_pid {
        let _ = std::fs::remove_file(&pidfile);
    }
    match stop {
        Stop::Signal(s) => tracing::info!("Signal {s}: exiting"),
        Stop::Requested => tracing::info!("exiting on request (driver.exit)"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A driver already serving this UPS is asked to exit (NUT 2.8.3+ behaviour; 2.8.0 signals
/// the PID of its PID file) before its socket is replaced.
fn stop_previous_instance(sock: &Path) {
    let Ok(mut q) = Query::connect(sock) else {
        return;
    };
    tracing::warn!(
        "Duplicate driver instance detected (socket {} answers)! Terminating other driver!",
        sock.display()
    );
    let _ = q.tracked("INSTCMD driver.exit", Duration::from_secs(5));
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) && Query::connect(sock).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The device backend selected by the configuration: `backend = static:<file>` serves a `.dev`
/// file; `recording = <file>` runs the HID backend on a simulated unit played from a
/// `nut-hid-recording/1` file (its `[[event]]` scenario included; `simlog = <file>` logs the
/// SET_REPORTs it receives); otherwise the HID backend on real hardware. With `record` (and
/// `record_mode`), the HID backend's device, real or simulated, is recorded ([`RecordMode`]).
fn backend_for(cfg: &DriverConfig, record_mode: bool) -> Result<Box<dyn Backend>> {
    if let Some(b) = cfg.get("backend") {
        return match b.strip_prefix("static:") {
            Some(file) if !file.is_empty() => Ok(Box::new(StaticBackend::new(Path::new(file)))),
            _ => bail!("unknown backend '{b}' (supported: static:<file>)"),
        };
    }
    let mut record = cfg
        .get("record")
        .filter(|_| record_mode)
        .map(|f| RecordMode::new(PathBuf::from(f)));
    let Some(file) = cfg.get("recording") else {
        return hidraw_backend(cfg, record);
    };
    // Like dummy-ups's port, a relative recording is looked up in the config directory.
    let path = nut_daemon::confpath().join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading recording {}", path.display()))?;
    let rec = Recording::parse(&text, file)?;
    let matcher = Matcher::new(|k| cfg.get(k))?;
    if let Some(why) = matcher.mismatch(&identity_of(&rec)) {
        bail!("No matching HID UPS found ({file}: {why} does not match)");
    }
    let unit = SimDevice::new(&rec, file)?;
    if let Some(log) = cfg.get("simlog") {
        unit.log_sets_to(Path::new(log))
            .with_context(|| format!("opening simlog {log}"))?;
    }
    Ok(Box::new(HidBackend::new(Box::new(move || {
        let dev: Box<dyn Device> = Box::new(unit.reopen()?);
        Ok(match &mut record {
            Some(r) => r.wrap(dev),
            None => dev,
        })
    }))))
}

/// The HID backend on the first hidraw device that matches the ups.conf options and that a
/// subdriver claims; reconnects look for the same unit (serial, else port).
#[cfg(target_os = "linux")]
fn hidraw_backend(cfg: &DriverConfig, mut record: Option<RecordMode>) -> Result<Box<dyn Backend>> {
    use usbhid_ups::hid::device::{DeviceError, Identity};
    use usbhid_ups::hid::hidraw::{find, find_same, HidrawDevice};
    let matcher = Matcher::new(|k| cfg.get(k))?;
    let productid_given = cfg.get("productid").is_some();
    let mut seen: Option<Identity> = None;
    Ok(Box::new(HidBackend::new(Box::new(move || {
        let sysfs = Path::new("/sys");
        let info = match &seen {
            Some(before) => find_same(sysfs, before),
            None => find(sysfs, &matcher).into_iter().find(|i| {
                usbhid_ups::hid::backend::SUBDRIVERS
                    .iter()
                    .any(|s| (s.claim)(&i.identity, productid_given).claimed)
            }),
        };
        let info =
            info.ok_or_else(|| DeviceError::Disconnected("No matching HID UPS found".into()))?;
        let dev: Box<dyn Device> = Box::new(HidrawDevice::open(&info, Path::new("/dev"))?);
        seen = Some(info.identity.clone());
        Ok(match &mut record {
            Some(r) => r.wrap(dev),
            None => dev,
        })
    }))))
}

#[cfg(not(target_os = "linux"))]
fn hidraw_backend(_cfg: &DriverConfig, _record: Option<RecordMode>) -> Result<Box<dyn Backend>> {
    bail!("no USB transport on this system: use recording = <file> or backend = static:<file>")
}

/// `-k`: ask a running instance first, else open the device ourselves.
fn killpower(
    sock: &Path,
    cfg: &DriverConfig,
    make_backend: impl FnOnce() -> Result<Box<dyn Backend>>,
) -> Result<ExitCode> {
    match Query::connect(sock) {
        Ok(mut q) => {
            let t = Duration::from_secs(2);
            let r = q
                .tracked("SET driver.flag.allow_killpower \"1\"", t)
                .and_then(|_| q.tracked("INSTCMD driver.killpower", Duration::from_secs(30)));
            match r {
                Ok(0) => {
                    tracing::info!("the running driver shut the UPS down");
                    return Ok(ExitCode::SUCCESS);
                }
                Ok(n) => bail!("Shutdown failed! (the running driver answered {n})"),
                Err(e) => tracing::info!(
                    "no answer from the running driver ({e}); trying the device directly"
                ),
            }
        }
        Err(e) => tracing::debug!("{e}; opening the device directly"),
    }
    let mut backend = make_backend()?;
    let mut tree = Tree::new();
    cfg.publish(&mut tree);
    backend
        .init(&mut tree, cfg)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::warn!("Initiating UPS shutdown");
    match backend.shutdown(&mut tree) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => bail!("Shutdown failed! ({e})"),
    }
}

/// `-c <command>`: `INSTCMD driver.<command>` over the socket, else a signal to the PID.
fn send_command(sock: &Path, pidfile: &Path, cmd: &str, pid: Option<i32>) -> Result<ExitCode> {
    let instcmd = match cmd {
        "exit" | "reload" | "reload-or-exit" | "reload-or-error" | "reload-or-restart" => {
            format!("INSTCMD driver.{cmd}")
        }
        _ => bail!("Error: unknown argument to option -c: {cmd}"),
    };
    match Query::connect(sock).and_then(|mut q| q.tracked(&instcmd, Duration::from_secs(15))) {
        Ok(0) => return Ok(ExitCode::SUCCESS),
        Ok(n) => bail!("the driver answered {n} to {instcmd}"),
        Err(e) => tracing::info!("{e}; falling back to the PID file"),
    }
    if cmd != "exit" {
        bail!("cannot reach the driver on {}", sock.display());
    }
    let pid = match pid {
        Some(p) => p,
        None => nut_daemon::read_pid(pidfile)?,
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .with_context(|| format!("signalling PID {pid}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Switch to `user` (and `group`) when running as root; a no-op otherwise.
fn become_user(user: &str, group: Option<&str>) -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    nut_daemon::become_user(&nut_daemon::lookup_user(user)?, group)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_help() {
        for k in USBHID_KEYS {
            assert!(!help_of(k).1.is_empty(), "no help for {k}");
        }
        assert_eq!(HELP.len(), USBHID_KEYS.len());
    }
}
