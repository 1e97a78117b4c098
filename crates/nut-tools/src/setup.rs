//! `nut-setup`: writes a working configuration in one command. The one preset, `netserver`,
//! is what a NAS expects of a network UPS server: UPS `ups` (usbhid-ups, the APC unit
//! `nut-scanner -U` finds), user `monuser`/`secret` with upsmon secondary rights, upsd
//! listening on every address, nut.conf `MODE=netserver`, and a local upsmon as primary.
//!
//! `nut-setup netserver [--confdir DIR] [--force] [--no-detect]`. Files are written mode 0640;
//! as root they are also given to root:nut, so upsd and upsmon (running as `nut`) can read
//! them. A file that configures something is never replaced without `--force`; a file of
//! comments and blank lines only (a sample), or a nut.conf that only says `MODE=none`, is.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use usbhid_ups::scan::Found;

use crate::Error;

/// The UPS name of the preset.
pub const UPS_NAME: &str = "ups";
/// The user NAS clients log in as.
pub const NAS_USER: &str = "monuser";
/// Its password, as the NAS expects.
pub const NAS_PASSWORD: &str = "secret";
/// The user of the local upsmon (primary), with a password made at setup.
pub const LOCAL_USER: &str = "upsmon_local";
/// The shutdown command of the local upsmon.
pub const SHUTDOWNCMD: &str = "/sbin/shutdown -h +0";
/// The mode of every file written.
pub const MODE: u32 = 0o640;
/// The group given the files when run as root.
pub const GROUP: &str = "nut";

/// One file of the preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its name in the config directory.
    pub name: &'static str,
    /// Its text.
    pub text: String,
    /// What it sets up, in a few words (printed after writing it).
    pub summary: String,
}

/// What the command line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    /// `--confdir DIR`; else the config directory every program reads.
    pub confdir: Option<PathBuf>,
    /// `--force`: replace files that configure something.
    pub force: bool,
    /// `--no-detect`: do not look for a unit; ups.conf matches any unit the driver supports.
    pub no_detect: bool,
}

/// `-h`.
pub const USAGE: &str = "\
usage: nut-setup netserver [--confdir DIR] [--force] [--no-detect]

Writes nut.conf, ups.conf, upsd.conf, upsd.users and upsmon.conf for a network UPS server
as NAS clients expect it: UPS 'ups' (usbhid-ups; the APC unit found on USB, if any), user
'monuser' password 'secret' (upsmon secondary), upsd listening on all addresses (port 3493),
MODE=netserver, and the local upsmon as primary with SHUTDOWNCMD \"/sbin/shutdown -h +0\".

  --confdir DIR  write here (default: $NUT_CONFPATH, else /etc/nut, else /etc/ups)
  --force        replace files that already configure something
  --no-detect    do not scan USB; the driver takes the one supported unit
  -h, --help     this text

Files are mode 0640, and root:nut when run as root.
";

/// Parses `args` (without the program name); `None` for `-h`.
pub fn parse_args(args: &[String]) -> Result<Option<Opts>, Error> {
    let mut opts = Opts {
        confdir: None,
        force: false,
        no_detect: false,
    };
    let mut preset = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--force" => opts.force = true,
            "--no-detect" => opts.no_detect = true,
            "--confdir" => {
                let dir = it
                    .next()
                    .ok_or_else(|| Error::Usage("--confdir needs a directory".into()))?;
                opts.confdir = Some(PathBuf::from(dir));
            }
            s if s.starts_with("--confdir=") => {
                opts.confdir = Some(PathBuf::from(&s["--confdir=".len()..]));
            }
            s if s.starts_with('-') => {
                return Err(Error::Usage(format!(
                    "unknown option {s} (see nut-setup -h)"
                )))
            }
            "netserver" if preset.is_none() => preset = Some(()),
            s => {
                return Err(Error::Usage(format!(
                    "unknown preset '{s}': the one preset is netserver (see nut-setup -h)"
                )))
            }
        }
    }
    if preset.is_none() {
        return Err(Error::Usage(
            "name the preset: nut-setup netserver (see nut-setup -h)".into(),
        ));
    }
    Ok(Some(opts))
}

/// A value as a parseconf word: quoted, `\` and `"` escaped.
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The files of the netserver preset for the unit `unit` (none found: the driver takes the
/// first unit it supports) and the local upsmon's password `local_password`.
pub fn netserver(unit: Option<&Found>, local_password: &str) -> Vec<File> {
    let head = "# Written by nut-setup (nut-rs), preset netserver.\n";
    let mut ups = format!("{head}[{UPS_NAME}]\n\tdriver = usbhid-ups\n\tport = auto\n");
    let ups_summary = match unit {
        Some(f) => {
            ups += &format!(
                "\tvendorid = {:04X}\n\tproductid = {:04X}\n",
                f.vendor_id, f.product_id
            );
            if let Some(s) = &f.serial {
                ups += &format!("\tserial = {}\n", quoted(s));
            }
            if let Some(p) = &f.product {
                ups += &format!("\tdesc = {}\n", quoted(p));
            }
            format!(
                "[{UPS_NAME}]: usbhid-ups on {:04X}:{:04X}{}",
                f.vendor_id,
                f.product_id,
                f.serial
                    .as_deref()
                    .map(|s| format!(", serial {s}"))
                    .unwrap_or_default()
            )
        }
        None => format!("[{UPS_NAME}]: usbhid-ups on the first supported unit (port auto)"),
    };
    vec![
        File {
            name: "nut.conf",
            text: format!("{head}MODE=netserver\n"),
            summary: "MODE=netserver".into(),
        },
        File {
            name: "ups.conf",
            text: ups,
            summary: ups_summary,
        },
        File {
            name: "upsd.conf",
            // Bound last line first: IPv4 must work; IPv6 may be missing on the host.
            text: format!("{head}LISTEN :: 3493\nLISTEN 0.0.0.0 3493\n"),
            summary: "LISTEN :: and 0.0.0.0, port 3493".into(),
        },
        File {
            name: "upsd.users",
            text: format!(
                "{head}[{NAS_USER}]\n\tpassword = {NAS_PASSWORD}\n\tupsmon secondary\n\
                 [{LOCAL_USER}]\n\tpassword = {}\n\tupsmon primary\n",
                quoted(local_password)
            ),
            summary: format!(
                "{NAS_USER}/{NAS_PASSWORD} (upsmon secondary), {LOCAL_USER} (upsmon primary)"
            ),
        },
        File {
            name: "upsmon.conf",
            text: format!(
                "{head}MONITOR {UPS_NAME}@localhost 1 {LOCAL_USER} {} primary\n\
                 MINSUPPLIES 1\nSHUTDOWNCMD {}\nPOWERDOWNFLAG /etc/killpower\n",
                quoted(local_password),
                quoted(SHUTDOWNCMD)
            ),
            summary: format!("MONITOR {UPS_NAME}@localhost primary, SHUTDOWNCMD {SHUTDOWNCMD}"),
        },
    ]
}

/// Whether the file's text configures nothing: only comments and blank lines (a sample), or
/// for nut.conf, nothing but `MODE=none`.
fn is_sample(name: &str, text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .all(|l| name == "nut.conf" && matches!(l, "MODE=none" | "MODE=\"none\"" | "MODE='none'"))
}

/// A password of 16 hex digits from the system's random source.
pub fn random_password() -> Result<String, Error> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| Error::File {
            what: "reading",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `files` into `dir` (mode 0640; `owner`: the uid and gid to give them), refusing
/// before writing anything when one exists and configures something, unless `force`. Returns
/// what was done, one line per file.
pub fn write(
    dir: &Path,
    files: &[File],
    force: bool,
    owner: Option<(u32, u32)>,
) -> Result<Vec<String>, Error> {
    let mut replacing = Vec::new();
    for f in files {
        let path = dir.join(f.name);
        match fs::read(&path) {
            Ok(old) => {
                if !force && !is_sample(f.name, &String::from_utf8_lossy(&old)) {
                    return Err(Error::Exists(path));
                }
                replacing.push(f.name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::File {
                    what: "reading",
                    path,
                    source,
                })
            }
        }
    }
    let mut done = Vec::new();
    for f in files {
        let path = dir.join(f.name);
        let io = |what| {
            let path = path.clone();
            move |source| Error::File { what, path, source }
        };
        // A new file, then renamed over the old one: a reader never sees half a file.
        let tmp = dir.join(format!(".{}.nut-setup", f.name));
        let _ = fs::remove_file(&tmp);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE)
            .open(&tmp)
            .map_err(io("creating"))?;
        out.write_all(f.text.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(io("writing"))?;
        // The umask may have taken bits away; never more than 0640.
        fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(MODE))
            .map_err(io("chmod"))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).map_err(io("chown"))?;
        }
        fs::rename(&tmp, &path).map_err(io("renaming into place"))?;
        let verb = if replacing.contains(&f.name) {
            "replaced"
        } else {
            "wrote"
        };
        done.push(format!("{verb} {}: {}", path.display(), f.summary));
    }
    Ok(done)
}

/// The whole program: `args` without the program name; what it printed goes to stdout and
/// stderr; the exit code.
pub fn main(args: &[String], sysfs: &Path) -> u8 {
    match run(args, sysfs) {
        Ok(()) => 0,
        Err(e @ Error::Usage(_)) => {
            eprintln!("nut-setup: {e}");
            2
        }
        Err(e) => {
            eprintln!("nut-setup: {e}");
            1
        }
    }
}

fn run(args: &[String], sysfs: &Path) -> Result<(), Error> {
    let Some(opts) = parse_args(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    let default_dir = opts.confdir.is_none();
    let dir = match opts.confdir {
        Some(d) => d,
        None => nut_daemon::conf_dir()?,
    };
    let found = if opts.no_detect {
        Vec::new()
    } else {
        usbhid_ups::scan::scan_usb(sysfs)
    };
    match found.as_slice() {
        [] if !opts.no_detect => {
            println!("no APC unit found on USB: ups.conf takes the one unit the driver supports")
        }
        [] => {}
        [one] => println!(
            "found {} on bus {}",
            one.product.as_deref().unwrap_or("an APC unit"),
            one.bus.as_deref().unwrap_or("?")
        ),
        [first, ..] => println!(
            "found {} APC units; ups.conf names the first ({}); see nut-scanner -U for the others",
            found.len(),
            first.serial.as_deref().unwrap_or("no serial")
        ),
    }
    let files = netserver(found.first(), &random_password()?);
    let root = nix::unistd::Uid::effective().is_root();
    let owner = if root {
        let group = nix::unistd::Group::from_name(GROUP)
            .ok()
            .flatten()
            .ok_or(Error::NoGroup)?;
        Some((0, group.gid.as_raw()))
    } else {
        None
    };
    for line in write(&dir, &files, opts.force, owner)? {
        println!("{line}");
    }
    if root {
        println!("mode 0640, owner root:{GROUP}");
    } else {
        println!("mode 0640, owned by you (not root: run as root to give them to root:{GROUP})");
    }
    if root && default_dir && Path::new("/run/systemd/system").is_dir() {
        systemd_reload();
    }
    Ok(())
}

/// Under a running systemd: `systemctl daemon-reload`, so that nut-driver-generator reads the
/// new ups.conf and nut-driver.target wants the driver of UPS `ups` before the units are
/// started. A failure is said, not fatal: the files are written.
fn systemd_reload() {
    match std::process::Command::new("systemctl")
        .arg("daemon-reload")
        .status()
    {
        Ok(st) if st.success() => {
            println!("systemctl daemon-reload: the units now know UPS {UPS_NAME}")
        }
        Ok(st) => eprintln!("nut-setup: systemctl daemon-reload failed ({st}): run it yourself"),
        Err(e) => eprintln!("nut-setup: cannot run systemctl daemon-reload ({e}): run it yourself"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn bk650() -> Found {
        Found {
            vendor_id: 0x051d,
            product_id: 0x0002,
            product: Some("Back-UPS BK650M2-CH FW:294803G -292804G".into()),
            serial: Some("9B2019A14274".into()),
            vendor: Some("American Power Conversion".into()),
            bus: Some("001".into()),
        }
    }

    #[test]
    fn the_preset_files_are_these_and_parse() {
        let files = netserver(Some(&bk650()), "0123456789abcdef");
        let text = |n: &str| {
            files
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.text.clone())
                .unwrap()
        };
        let head = "# Written by nut-setup (nut-rs), preset netserver.\n";
        assert_eq!(text("nut.conf"), format!("{head}MODE=netserver\n"));
        assert_eq!(
            text("ups.conf"),
            format!(
                "{head}[ups]\n\tdriver = usbhid-ups\n\tport = auto\n\tvendorid = 051D\n\
                 \tproductid = 0002\n\tserial = \"9B2019A14274\"\n\
                 \tdesc = \"Back-UPS BK650M2-CH FW:294803G -292804G\"\n"
            )
        );
        assert_eq!(
            text("upsd.conf"),
            format!("{head}LISTEN :: 3493\nLISTEN 0.0.0.0 3493\n")
        );
        assert_eq!(
            text("upsd.users"),
            format!(
                "{head}[monuser]\n\tpassword = secret\n\tupsmon secondary\n\
                 [upsmon_local]\n\tpassword = \"0123456789abcdef\"\n\tupsmon primary\n"
            )
        );
        assert_eq!(
            text("upsmon.conf"),
            format!(
                "{head}MONITOR ups@localhost 1 upsmon_local \"0123456789abcdef\" primary\n\
                 MINSUPPLIES 1\nSHUTDOWNCMD \"/sbin/shutdown -h +0\"\nPOWERDOWNFLAG /etc/killpower\n"
            )
        );

        // Written and read back by the parsers of upsd, upsmon and the driver.
        let dir = tempfile::tempdir().unwrap();
        let done = write(dir.path(), &files, false, None).unwrap();
        assert_eq!(done.len(), 5);
        assert_eq!(
            done[1],
            format!(
                "wrote {}: [ups]: usbhid-ups on 051D:0002, serial 9B2019A14274",
                dir.path().join("ups.conf").display()
            )
        );
        for f in &files {
            let meta = fs::metadata(dir.path().join(f.name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{}", f.name);
        }
        let p = |n: &str| dir.path().join(n);
        let nut = nut_conf::nut_conf::load(&p("nut.conf")).unwrap();
        assert_eq!(nut.mode, nut_conf::nut_conf::Mode::Netserver);
        let ups = nut_conf::ups_conf::load(&p("ups.conf")).unwrap();
        let section = ups.section("ups").unwrap();
        assert!(ups.warnings.is_empty(), "{:?}", ups.warnings);
        let get = |k: &str| {
            section
                .settings
                .iter()
                .find(|s| s.key == k)
                .and_then(|s| s.value.clone())
        };
        assert_eq!(get("serial").as_deref(), Some("9B2019A14274"));
        assert_eq!(get("vendorid").as_deref(), Some("051D"));
        let upsd = nut_conf::upsd_conf::load(&p("upsd.conf")).unwrap();
        let listen: Vec<(String, u16)> = upsd
            .listen
            .iter()
            .map(|l| (l.addr.clone(), l.port))
            .collect();
        assert_eq!(
            listen,
            [("::".to_string(), 3493), ("0.0.0.0".to_string(), 3493)]
        );
        let users = nut_conf::upsd_users::load(&p("upsd.users")).unwrap();
        assert_eq!(users.users.len(), 2);
        let mon = nut_conf::upsmon_conf::load(&p("upsmon.conf")).unwrap();
        assert_eq!(mon.monitors.len(), 1);
        assert_eq!(mon.monitors[0].password, "0123456789abcdef");
        assert_eq!(mon.shutdowncmd.as_deref(), Some("/sbin/shutdown -h +0"));
    }

    #[test]
    fn without_a_unit_any_supported_one() {
        let files = netserver(None, "x");
        assert_eq!(
            files[1].text,
            "# Written by nut-setup (nut-rs), preset netserver.\n[ups]\n\tdriver = usbhid-ups\n\tport = auto\n"
        );
    }

    #[test]
    fn never_replaces_a_configured_file_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let files = netserver(None, "pw");
        // Samples are replaced: comments only, and nut.conf's MODE=none.
        fs::write(dir.path().join("upsd.conf"), "# LISTEN 127.0.0.1 3493\n\n").unwrap();
        fs::write(dir.path().join("nut.conf"), "# the mode\nMODE=none\n").unwrap();
        fs::write(dir.path().join("ups.conf"), "[mine]\n driver = dummy-ups\n").unwrap();
        let e = write(dir.path(), &files, false, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} exists and is not a sample: not replacing it (use --force)",
                dir.path().join("ups.conf").display()
            )
        );
        // Nothing was written.
        assert_eq!(
            fs::read_to_string(dir.path().join("nut.conf")).unwrap(),
            "# the mode\nMODE=none\n"
        );
        assert!(!dir.path().join("upsd.users").exists());

        let done = write(dir.path(), &files, true, None).unwrap();
        assert!(done[0].starts_with("replaced "), "{}", done[0]);
        assert!(done[3].starts_with("wrote "), "{}", done[3]);
        assert_eq!(
            fs::read_to_string(dir.path().join("ups.conf")).unwrap(),
            files[1].text
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn command_line() {
        let a = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            a(&["netserver", "--confdir", "/x", "--force"]).unwrap(),
            Some(Opts {
                confdir: Some(PathBuf::from("/x")),
                force: true,
                no_detect: false
            })
        );
        assert_eq!(a(&["-h"]).unwrap(), None);
        assert_eq!(
            a(&[]).unwrap_err().to_string(),
            "name the preset: nut-setup netserver (see nut-setup -h)"
        );
        assert_eq!(
            a(&["standalone"]).unwrap_err().to_string(),
            "unknown preset 'standalone': the one preset is netserver (see nut-setup -h)"
        );
        assert_eq!(
            a(&["netserver", "--confdir"]).unwrap_err().to_string(),
            "--confdir needs a directory"
        );
    }
}
