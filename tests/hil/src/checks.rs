//! The checks of one recording, in order: the kernel enumerates the emulated unit; our driver
//! and stock's (Debian's usbhid-ups 2.8.0, libusb) each read it behind our upsd and are sent
//! every instant command and writable variable through stock upscmd/upsrw; their upsc dumps
//! and SET_REPORT bytes must be equal; kill power (`-k`, `upsdrvctl shutdown`) the same way;
//! then our driver alone under real-kernel faults (unplug, replug, another serial, a stalled
//! unit), a mains cut announced on the interrupt pipe, as the `nut` user with this repository's udev rule, and in record mode; with
//! `--plugin`, the first plug-in and migration checks of [`crate::plugin`].
//!
//! Each driver gets a fresh unit (a new emulator process, a new enumeration), so one run's
//! SET_REPORTs cannot change what the other sees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nut_test_support::daemon::{start_upsd, wait_for, wait_reply};
use nut_test_support::usbhid::{empty_dir, sock, target, DRIVER};
use nut_test_support::{our_bin, stock_nut, LineClient, NutDir, Proc, StockNut};

use crate::emulator::Emulator;
use crate::Runner;

/// Variables that differ between any two drivers by design: their own names and versions.
fn ignored(var: &str) -> bool {
    var.starts_with("driver.")
}

/// Differences between stock 2.8.0 and ours that are on purpose, by variable: none so far.
/// (Ours also publishes NUT 2.8.1+'s `driver.*` commands; those are left out of the command
/// list below, like every `driver.*` variable.)
const ON_PURPOSE: &[(&str, &str)] = &[];

/// Which driver program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Ours,
    Stock,
}

impl Which {
    pub(crate) fn driver(self, stock: &StockNut) -> PathBuf {
        match self {
            Which::Ours => our_bin(DRIVER),
            Which::Stock => stock.upsd.with_file_name(DRIVER),
        }
    }
}

/// One NUT directory, its upsd and (while it runs) a driver, for one unit.
pub(crate) struct Setup {
    pub(crate) dir: NutDir,
    _upsd: Proc,
    pub(crate) driver: Option<Proc>,
}

impl Setup {
    /// ups.conf for the unit (`extra` lines added to its section), and our upsd.
    pub(crate) fn new(vendor: u16, extra: &str) -> Setup {
        let dir = empty_dir();
        dir.write_conf(
            "ups.conf",
            &format!(
                "[ups]\n\tdriver = {DRIVER}\n\tport = auto\n\tvendorid = {vendor:04x}\n\
                 \tpollinterval = 2\n{extra}"
            ),
        );
        let upsd = start_upsd(&dir, &["-F", "-u", "root"]);
        Setup {
            dir,
            _upsd: upsd,
            driver: None,
        }
    }

    /// Start a driver in the foreground (`-a ups -F`, then `args`) and wait until upsd serves
    /// the unit's data.
    pub(crate) fn start(&mut self, program: &Path, args: &[&str]) {
        self.spawn(program, args);
        self.wait_fresh(Duration::from_secs(60));
    }

    /// Start a driver in the foreground (`-a ups -F`, then `args`), without waiting.
    pub(crate) fn spawn(&mut self, program: &Path, args: &[&str]) {
        self.spawn_as(program, args, None);
    }

    /// [`Setup::spawn`], as the user and group `ids` from the start when given (as a service
    /// manager runs it), not as root.
    pub(crate) fn spawn_as(&mut self, program: &Path, args: &[&str], ids: Option<(u32, u32)>) {
        use std::os::unix::process::CommandExt;
        let _ = std::fs::remove_file(sock(&self.dir));
        // Run as another user, the program is a copy in the set-up's directory (mode 0755):
        // the checkout it was built in may be one only its owner can enter (`mktemp -d`,
        // a home directory), and the guest sees it with the host's modes.
        let program = match ids {
            Some(_) => {
                let name = program.file_name().expect("a program has a file name");
                let copy = self.dir.path().join(name);
                std::fs::copy(program, &copy)
                    .unwrap_or_else(|e| panic!("copy {}: {e}", program.display()));
                copy
            }
            None => program.to_path_buf(),
        };
        let mut c = self.dir.command(&program, "driver.log");
        if let Some((uid, gid)) = ids {
            c.uid(uid).gid(gid);
        }
        let child = c.args(["-a", "ups", "-F"]).args(args).spawn().unwrap();
        self.driver = Some(Proc {
            child,
            name: program.display().to_string(),
        });
    }

    pub(crate) fn stop(&mut self) {
        self.driver = None;
    }

    /// Wait until upsd serves `ups.status` (not stale), and not the `WAIT` a driver publishes
    /// before its first full read (upsd serves that alone for a moment after the driver starts).
    pub(crate) fn wait_fresh(&mut self, timeout: Duration) {
        let port = self.dir.port;
        let dir = &self.dir;
        let driver = &mut self.driver;
        wait_for("upsd to serve fresh data of the unit", timeout, |last| {
            if let Some(st) = driver.as_mut().and_then(Proc::exited) {
                panic!("the driver exited ({st}):\n{}", dir.log("driver.log"));
            }
            let r = get(port, "GET VAR ups ups.status");
            *last = format!("{r:?}\n{}", dir.log("driver.log"));
            (r.starts_with("VAR ") && r != "VAR ups ups.status \"WAIT\"\n").then_some(())
        });
    }

    /// Wait until upsd says the data is stale.
    fn wait_stale(&self, timeout: Duration) {
        wait_reply(
            self.dir.port,
            "GET VAR ups ups.status",
            "ERR DATA-STALE\n",
            timeout,
        );
    }

    /// `upsc ups@...`: the variables.
    fn dump(&self, stock: &StockNut) -> BTreeMap<String, String> {
        let (code, out, err) =
            self.dir
                .run(&stock.upsc, &[&target(&self.dir)], Duration::from_secs(20));
        assert_eq!(code, Some(0), "upsc: {out}{err}");
        parse_dump(&out)
    }
}

/// One request on a new connection; the reply line.
pub(crate) fn get(port: u16, line: &str) -> String {
    match LineClient::connect(port) {
        Ok(mut c) => c.try_request(line).unwrap_or_else(|e| e),
        Err(e) => e.to_string(),
    }
}

fn parse_dump(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Each action, its verdict and the SET_REPORTs it caused.
fn transcript(actions: &[(String, Vec<String>)]) -> String {
    actions
        .iter()
        .map(|(a, sets)| {
            format!(
                "{a}\n{}",
                sets.iter().map(|l| format!("  {l}\n")).collect::<String>()
            )
        })
        .collect()
}

fn dump_text(vars: &BTreeMap<String, String>) -> String {
    vars.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

/// What a run of one driver gave: its dump, and the SET_REPORT lines each action caused.
struct Run {
    dump: BTreeMap<String, String>,
    commands: Vec<String>,
    actions: Vec<(String, Vec<String>)>,
}

/// The writable variables upsrw lists, each with the value a check writes: another option of
/// an enum, else the number plus 10 (strings that are no number are left alone).
fn writes(stock: &StockNut, dir: &NutDir) -> Vec<(String, String)> {
    let (code, out, err) = dir.run(
        &stock.upsrw,
        &["-u", "admin", "-p", "adminpw", &target(dir)],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "upsrw: {out}{err}");
    let mut writes = Vec::new();
    // blocks: [name] / description / Type: ... / Option: "x" [SELECTED] / Value: y
    for block in out.split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        let Some(var) = lines
            .first()
            .and_then(|l| l.strip_prefix('['))
            .and_then(|l| l.strip_suffix(']'))
        else {
            continue;
        };
        let options: Vec<(&str, bool)> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("Option: \""))
            .map(|o| match o.strip_suffix("\" SELECTED") {
                Some(o) => (o, true),
                None => (o.trim_end_matches('"'), false),
            })
            .collect();
        let value = if let Some((o, _)) = options.iter().find(|(_, selected)| !selected) {
            Some((*o).to_string())
        } else {
            lines
                .iter()
                .find_map(|l| l.strip_prefix("Value: "))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|n| (n + 10).to_string())
        };
        if let Some(value) = value {
            writes.push((var.to_string(), value));
        }
    }
    writes
}

/// The actions a run performs: instant commands, then writes.
#[derive(Debug, Clone)]
struct Actions {
    commands: Vec<String>,
    writes: Vec<(String, String)>,
}

/// Read the unit with `which`, then send it `actions` (by default, every instant command and
/// writable variable its upsd shows) one by one through stock upscmd and upsrw, noting the
/// SET_REPORTs each one caused.
fn run_driver(
    which: Which,
    stock: &StockNut,
    recording: &Path,
    work: &Path,
    actions: Option<&Actions>,
) -> (Run, Actions) {
    let emu = Emulator::attach(recording, &work.join(format!("{which:?}-unit")));
    let mut s = Setup::new(vendor_of(recording), "");
    s.start(&which.driver(stock), &["-u", "root"]);
    let dump = s.dump(stock);
    let t = target(&s.dir);
    let (code, out, err) = s
        .dir
        .run(&stock.upscmd, &["-l", &t], Duration::from_secs(20));
    assert_eq!(code, Some(0), "upscmd -l: {out}{err}");
    // (ours also has NUT 2.8.1+'s driver.* commands; stock 2.8.0 has none)
    let commands: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_once(" - ").map(|(c, _)| c.to_string()))
        .filter(|c| !c.starts_with("driver.") && c != "shutdown.default")
        .collect();
    let actions = match actions {
        Some(a) => a.clone(),
        None => Actions {
            commands: commands.clone(),
            writes: writes(stock, &s.dir),
        },
    };
    let mut done = Vec::new();
    let steps = (actions
        .commands
        .iter()
        .map(|c| (format!("upscmd {c}"), c.clone())))
    .chain(
        actions
            .writes
            .iter()
            .map(|(v, value)| (format!("upsrw {v}={value}"), format!("{v}={value}"))),
    );
    for (label, what) in steps {
        let before = emu.sets().len();
        let (program, args) = if label.starts_with("upscmd") {
            (&stock.upscmd, ["-w", &t, &what, "", ""])
        } else {
            (&stock.upsrw, ["-w", "-s", &what, &t, ""])
        };
        let args: Vec<&str> = ["-u", "admin", "-p", "adminpw"]
            .into_iter()
            .chain(args.into_iter().filter(|a| !a.is_empty()))
            .collect();
        let (code, out, err) = s.dir.run(program, &args, Duration::from_secs(30));
        let verdict = format!("exit {code:?} {}", last_line(&format!("{out}{err}")));
        // (a SET_REPORT reaches the unit before the driver answers; a little slack anyway)
        std::thread::sleep(Duration::from_millis(300));
        let mut sets = emu.sets().split_off(before);
        sets.insert(0, verdict);
        done.push((label, sets));
    }
    s.stop();
    (
        Run {
            dump,
            commands,
            actions: done,
        },
        actions,
    )
}

fn last_line(text: &str) -> String {
    text.lines()
        .rfind(|l| !l.starts_with("Init SSL"))
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn vendor_of(recording: &Path) -> u16 {
    let text = std::fs::read_to_string(recording).unwrap();
    nut_hid_recording::Recording::parse(&text, "recording")
        .unwrap()
        .usb
        .vendor_id
}

/// The SET_REPORTs of `-k` (no driver running: the program opens the unit itself), or of
/// `upsdrvctl shutdown` with `upsdrvctl` the given program.
fn killpower(
    recording: &Path,
    work: &Path,
    label: &str,
    program: &Path,
    args: &[&str],
) -> Vec<String> {
    let emu = Emulator::attach(recording, &work.join(format!("{label}-unit")));
    let s = Setup::new(vendor_of(recording), "");
    let (code, out, err) = s.dir.run(program, args, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{label}: {out}{err}");
    std::thread::sleep(Duration::from_millis(500));
    emu.sets()
}

/// Every check of one recording.
pub(crate) fn run(r: &mut Runner, recording: &Path, out: Option<&Path>, plugin: bool) {
    let Some(stock) = stock_nut() else {
        println!("FAIL {}: stock NUT 2.8.0 is not installed", r.name);
        return;
    };
    let work = PathBuf::from("/tmp/hil");
    let _ = std::fs::create_dir_all(&work);
    let rec = nut_hid_recording::Recording::parse(
        &std::fs::read_to_string(recording).unwrap_or_default(),
        &recording.display().to_string(),
    );
    let Ok(rec) = rec else {
        println!("FAIL {}: the recording does not parse", r.name);
        return;
    };

    r.check(
        "the kernel enumerates the unit: hidraw node, descriptor, strings",
        || {
            let emu = Emulator::attach(recording, &work.join("enumerate"));
            let (_, usb) = emu.hidraw().unwrap();
            let hid_desc = std::fs::read_dir(&usb)
                .unwrap()
                .flatten()
                .find_map(|e| {
                    std::fs::read_dir(e.path())
                        .ok()?
                        .flatten()
                        .find_map(|h| std::fs::read(h.path().join("report_descriptor")).ok())
                })
                .unwrap();
            assert_eq!(
                hid_desc, rec.descriptor,
                "the report descriptor the kernel read"
            );
            for (file, index) in [
                ("manufacturer", rec.usb.indices.manufacturer),
                ("product", rec.usb.indices.product),
                ("serial", rec.usb.indices.serial),
            ] {
                let want = index.and_then(|i| rec.strings.get(&i)).cloned();
                let got = std::fs::read_to_string(usb.join(file))
                    .ok()
                    .map(|s| s.trim_end_matches('\n').to_string());
                assert_eq!(got, want, "sysfs {file}");
            }
        },
    );

    let mut stock_run = None;
    r.check(
        "stock usbhid-ups 2.8.0 reads the unit and runs its commands",
        || {
            stock_run = Some(run_driver(Which::Stock, &stock, recording, &work, None));
        },
    );
    let mut ours_run = None;
    if let Some((_, actions)) = &stock_run {
        r.check(
            "our usbhid-ups reads the unit and runs the same commands",
            || {
                ours_run = Some(run_driver(Which::Ours, &stock, recording, &work, Some(actions)).0);
            },
        );
    }
    let stock_run = stock_run.map(|(run, _)| run);
    if let (Some(st), Some(ou)) = (&stock_run, &ours_run) {
        if let Some(dir) = out {
            let _ = std::fs::write(dir.join("ours.txt"), dump_text(&ou.dump));
            let _ = std::fs::write(dir.join("stock.txt"), dump_text(&st.dump));
            let _ = std::fs::write(dir.join("actions-ours.txt"), transcript(&ou.actions));
            let _ = std::fs::write(dir.join("actions-stock.txt"), transcript(&st.actions));
        }
        r.check("the upsc dumps are equal (driver.* aside)", || {
            assert!(
                st.dump.contains_key("ups.status"),
                "stock's dump has no ups.status"
            );
            let mut diffs = Vec::new();
            let keys: std::collections::BTreeSet<&String> =
                st.dump.keys().chain(ou.dump.keys()).collect();
            for k in keys {
                if ignored(k) || ON_PURPOSE.iter().any(|(v, _)| v == k) {
                    continue;
                }
                match (st.dump.get(k), ou.dump.get(k)) {
                    (Some(a), Some(b)) if a == b => {}
                    (a, b) => diffs.push(format!("{k}: stock {a:?}, ours {b:?}")),
                }
            }
            assert!(
                diffs.is_empty(),
                "{} differences\n{}",
                diffs.len(),
                diffs.join("\n")
            );
        });
        r.check("the same instant commands", || {
            assert_eq!(ou.commands, st.commands);
        });
        r.check(
            &format!(
                "every command and write gives stock's SET_REPORT bytes ({} actions, {} SET_REPORTs)",
                st.actions.len(),
                st.actions.iter().map(|(_, s)| s.len() - 1).sum::<usize>()
            ),
            || {
                assert!(
                    st.actions.iter().any(|(_, s)| s.len() > 1),
                    "no action reached the unit:\n{}",
                    transcript(&st.actions)
                );
                assert_eq!(st.actions.len(), ou.actions.len(), "as many actions");
                let mut diffs = Vec::new();
                for ((a, s), (_, o)) in st.actions.iter().zip(&ou.actions) {
                    if s != o {
                        diffs.push(format!("{a}:\n  stock {s:?}\n  ours  {o:?}"));
                    }
                }
                assert!(
                    diffs.is_empty(),
                    "{} of {} differ\n{}",
                    diffs.len(),
                    st.actions.len(),
                    diffs.join("\n")
                );
            },
        );
    }

    r.check("killpower: `usbhid-ups -k` sends stock's bytes", || {
        let st = killpower(
            recording,
            &work,
            "stock-k",
            &Which::Stock.driver(&stock),
            &["-a", "ups", "-k", "-u", "root"],
        );
        let ou = killpower(
            recording,
            &work,
            "ours-k",
            &Which::Ours.driver(&stock),
            &["-a", "ups", "-k", "-u", "root"],
        );
        assert!(!st.is_empty(), "stock sent nothing");
        assert_eq!(ou, st);
    });
    r.check(
        "killpower: `upsdrvctl shutdown` sends stock's bytes",
        || {
            let stock_ctl = PathBuf::from("/sbin/upsdrvctl");
            let st = killpower(
                recording,
                &work,
                "stock-drvctl",
                &stock_ctl,
                &["-u", "root", "shutdown"],
            );
            let ou = killpower(
                recording,
                &work,
                "ours-drvctl",
                &our_bin("upsdrvctl"),
                &["-u", "root", "shutdown"],
            );
            assert!(!st.is_empty(), "stock sent nothing");
            assert_eq!(ou, st);
        },
    );

    faults(r, recording, &work, &rec);
    if plugin {
        crate::plugin::run(r, &stock, recording, &work);
    }
}

/// Our driver (with `serial =` set) reading a fresh unit, which is then unplugged: once upsd
/// says the data is stale (within MAXAGE).
fn unplugged(recording: &Path, dir: &Path, serial: &str) -> (Emulator, Setup) {
    let emu = Emulator::attach(recording, dir);
    let mut s = Setup::new(vendor_of(recording), &format!("\tserial = {serial}\n"));
    s.start(&our_bin(DRIVER), &["-u", "root"]);
    emu.ctl("unplug");
    emu.wait_hidraw(false);
    s.wait_stale(Duration::from_secs(15));
    (emu, s)
}

/// Our driver alone on the real USB stack: unplug, replug, another serial, a stalled unit,
/// the `nut` user, record mode.
fn faults(r: &mut Runner, recording: &Path, work: &Path, rec: &nut_hid_recording::Recording) {
    let serial = rec
        .usb
        .indices
        .serial
        .and_then(|i| rec.strings.get(&i))
        .cloned()
        .unwrap_or_default();
    r.check(
        "unplugged: stale within MAXAGE; replugged: fresh again, no restart",
        || {
            let (emu, mut s) = unplugged(recording, &work.join("unplug-unit"), &serial);
            emu.ctl("replug");
            emu.wait_hidraw(true);
            s.wait_fresh(Duration::from_secs(45));
        },
    );
    r.check(
        "a unit with another serial is not taken when serial = is set",
        || {
            let (emu, mut s) = unplugged(recording, &work.join("serial-unit"), &serial);
            emu.ctl("replug serial OTHER0000001");
            emu.wait_hidraw(true);
            // the driver retries with a growing delay: give it two tries' worth
            std::thread::sleep(Duration::from_secs(10));
            assert_eq!(
                get(s.dir.port, "GET VAR ups ups.status"),
                "ERR DATA-STALE\n",
                "the other unit was taken:\n{}",
                s.dir.log("driver.log")
            );
            emu.ctl("unplug");
            emu.wait_hidraw(false);
            emu.ctl(&format!("replug serial {serial}"));
            emu.wait_hidraw(true);
            s.wait_fresh(Duration::from_secs(45));
        },
    );
    r.check(
        "a unit that stalls every GET_REPORT: stale, then fresh once it answers",
        || {
            let emu = Emulator::attach(recording, &work.join("stall-unit"));
            let mut s = Setup::new(vendor_of(recording), "");
            s.start(&our_bin(DRIVER), &["-u", "root"]);
            emu.ctl("stall get_report");
            s.wait_stale(Duration::from_secs(30));
            emu.ctl("clear");
            s.wait_fresh(Duration::from_secs(45));
        },
    );
    // NUT's APC subdriver leaves the interrupt pipe of 051d:0003 units unused (ours as stock,
    // drivers/usbhid-ups/src/apc.rs): those see a change at their next poll (every 2 s).
    let polled_only = (rec.usb.vendor_id, rec.usb.product_id) == (0x051d, 0x0003);
    let within = Duration::from_secs(if polled_only { 3 } else { 1 });
    r.check(
        &format!(
            "a mains cut: upsd shows OB DISCHRG within {} s, OL within {0} s of mains back{}",
            within.as_secs(),
            if polled_only {
                " (polled: no interrupt pipe)"
            } else {
                ""
            }
        ),
        || {
            let emu = Emulator::attach(recording, &work.join("mains-unit"));
            let mut s = Setup::new(vendor_of(recording), "");
            s.start(&our_bin(DRIVER), &["-u", "root"]);
            let mut ups = LineClient::connect(s.dir.port).unwrap();
            let (_, line) = crate::latency::cut(&emu, &mut ups, within);
            assert_eq!(line, "VAR ups ups.status \"OB DISCHRG\"\n");
            // (only OL: the interrupt report gives "OL CHRG", then the next poll reads the
            // BK650M2-CH's UPS.PresentStatus, which the switch, as the recordings' events, leaves
            // at its recorded Discharging 1, Charging 0: "OL DISCHRG", its idle status)
            crate::latency::restore(&emu, &mut ups, within);
        },
    );
    r.check(
        "as the nut user, through the node group and mode of our udev rule",
        || {
            let emu = Emulator::attach(recording, &work.join("nut-unit"));
            let (node, _) = emu.hidraw().unwrap();
            use std::os::unix::fs::MetadataExt;
            let nut_gid = nut_gid();
            // (`udevadm settle` can return before udevd has seen the kernel's event)
            wait_for(
                "udev to give the node to nut",
                Duration::from_secs(15),
                |last| {
                    let meta = std::fs::metadata(&node).ok()?;
                    let got = (meta.gid(), meta.mode() & 0o777);
                    *last = format!(
                        "{} is gid {} mode {:o}\n{}",
                        node.display(),
                        got.0,
                        got.1,
                        crate::guest::run("udevadm", &["info", &node.display().to_string()])
                            .unwrap_or_else(|e| e)
                    );
                    (got == (nut_gid, 0o660)).then_some(())
                },
            );
            let mut s = Setup::new(vendor_of(recording), "");
            // the driver's socket goes where nut may write, as /run/nut is
            std::os::unix::fs::chown(s.dir.state(), Some(nut_uid()), Some(nut_gid)).unwrap();
            // (no -u: the driver drops to nut)
            s.start(&our_bin(DRIVER), &[]);
            let pid = s.driver.as_ref().map(Proc::pid).unwrap();
            let uids = nut_test_support::daemon::proc_uids(pid);
            assert_eq!(uids[1], nut_uid(), "the driver's effective uid");
        },
    );
    r.check(
        "record mode: the written recording replays to the same upsc dump",
        || {
            let Some(stock) = stock_nut() else { return };
            let emu = Emulator::attach(recording, &work.join("record-unit"));
            let mut s = Setup::new(vendor_of(recording), "");
            let file = s.dir.path().join("recorded.toml");
            s.start(
                &our_bin(DRIVER),
                &["-u", "root", "-x", &format!("record={}", file.display())],
            );
            let live = s.dump(&stock);
            s.stop();
            drop(emu);
            let text = std::fs::read_to_string(&file).unwrap();
            let recorded = nut_hid_recording::Recording::parse(&text, "recorded").unwrap();
            for (id, answer) in &rec.feature {
                assert_eq!(
                    recorded.feature.get(id),
                    Some(answer),
                    "Feature report 0x{id:02x}"
                );
            }
            let mut r2 = Setup::new(
                vendor_of(recording),
                &format!("\trecording = {}\n", file.display()),
            );
            r2.start(&our_bin(DRIVER), &["-u", "root"]);
            let replayed = r2.dump(&stock);
            let differ: Vec<String> = live
                .iter()
                .filter(|(k, v)| !ignored(k) && replayed.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}: live {v:?}, replayed {:?}", replayed.get(k)))
                .collect();
            assert!(differ.is_empty(), "{}", differ.join("\n"));
        },
    );
}

pub(crate) fn nut_uid() -> u32 {
    nut_test_support::daemon::user_uid("nut").unwrap()
}

pub(crate) fn nut_gid() -> u32 {
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    groups
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"nut")).then(|| f.get(2)?.parse().ok())?
        })
        .unwrap()
}
