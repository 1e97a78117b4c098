//! `nut-scanner -U`: the APC units this driver can serve, found by the driver's own sysfs
//! discovery (USB devices with a HID interface), printed as stock nut-scanner 2.8.0 prints them: ready `ups.conf`
//! sections (`-N`, the default) or one parsable line per unit (`-P`).
//!
//! A unit is listed once per USB device, when its vendor is APC (051d) and its product id is one stock's USB table
//! gives usbhid-ups for that vendor ([`crate::apc::PRODUCT_IDS`]). Strings lose their trailing
//! spaces, as stock trims them.

use std::io::Write;
use std::path::Path;

use crate::device::Identity;

/// Where sysfs normally is.
pub const SYSFS: &str = "/sys";

/// One unit as stock nut-scanner describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `idVendor`.
    pub vendor_id: u16,
    /// `idProduct`.
    pub product_id: u16,
    /// The product string, trailing spaces trimmed.
    pub product: Option<String>,
    /// The serial number, trailing spaces trimmed.
    pub serial: Option<String>,
    /// The manufacturer string, trailing spaces trimmed.
    pub vendor: Option<String>,
    /// The bus number as three digits (`001`).
    pub bus: Option<String>,
}

impl Found {
    fn from_identity(id: &Identity) -> Found {
        let trim = |s: &Option<String>| s.as_deref().map(|s| s.trim_end_matches(' ').to_string());
        Found {
            vendor_id: id.vendor_id,
            product_id: id.product_id,
            product: trim(&id.product),
            serial: trim(&id.serial),
            vendor: trim(&id.manufacturer),
            bus: id.bus.clone(),
        }
    }

    /// The options stock prints after `driver` and `port`, in its order, with its hex case.
    pub fn options(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![
            ("vendorid", format!("{:04X}", self.vendor_id)),
            ("productid", format!("{:04X}", self.product_id)),
        ];
        let strings = [
            ("product", &self.product),
            ("serial", &self.serial),
            ("vendor", &self.vendor),
            ("bus", &self.bus),
        ];
        for (name, value) in strings {
            if let Some(v) = value {
                o.push((name, v.clone()));
            }
        }
        o
    }
}

/// The APC units under the sysfs root `sysfs`, in (bus, device number) order, one per USB
/// device, whether or not their interface has a driver (a unit stock's libusb left without
/// one, or one stock holds, is listed too).
#[cfg(target_os = "linux")]
pub fn scan_usb(sysfs: &Path) -> Vec<Found> {
    crate::transport::linux::Plug::units_under(sysfs)
        .iter()
        .map(|u| &u.identity)
        .filter(|id| {
            id.vendor_id == crate::apc::VENDOR_ID
                && crate::apc::PRODUCT_IDS.contains(&id.product_id)
        })
        .map(Found::from_identity)
        .collect()
}

/// No hidraw discovery outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn scan_usb(_sysfs: &Path) -> Vec<Found> {
    Vec::new()
}

/// The units as stock's ups.conf display: `[nutdevN]` sections numbered from 1.
pub fn ups_conf(found: &[Found]) -> String {
    let mut s = String::new();
    for (n, f) in found.iter().enumerate() {
        s += &format!(
            "[nutdev{}]\n\tdriver = \"usbhid-ups\"\n\tport = \"auto\"\n",
            n + 1
        );
        for (name, value) in f.options() {
            s += &format!("\t{name} = \"{value}\"\n");
        }
    }
    s
}

/// The units as stock's parsable display: `USB:driver="usbhid-ups",port="auto",...`.
pub fn parsable(found: &[Found]) -> String {
    let mut s = String::new();
    for f in found {
        s += "USB:driver=\"usbhid-ups\",port=\"auto\"";
        for (name, value) in f.options() {
            s += &format!(",{name}=\"{value}\"");
        }
        s += "\n";
    }
    s
}

/// Scan types and network options stock has and this nut-scanner does not: the letter, the
/// long name, and what it scans or sets.
const UNSUPPORTED: &[(char, &str, &str)] = &[
    ('S', "snmp_scan", "SNMP scan"),
    ('M', "xml_scan", "XML/HTTP scan"),
    ('O', "oldnut_scan", "NUT scan"),
    ('A', "avahi_scan", "NUT scan (avahi)"),
    ('I', "ipmi_scan", "IPMI scan"),
    ('E', "eaton_serial", "Eaton serial scan"),
    ('t', "timeout", "network option"),
    ('s', "start_ip", "network option"),
    ('e', "end_ip", "network option"),
    ('m', "mask_cidr", "network option"),
    ('p', "port", "NUT scan option"),
    ('c', "community", "SNMP option"),
    ('l', "secLevel", "SNMP option"),
    ('u', "secName", "SNMP option"),
    ('w', "authProtocol", "SNMP option"),
    ('W', "authPassword", "SNMP option"),
    ('x', "privProtocol", "SNMP option"),
    ('X', "privPassword", "SNMP option"),
    ('b', "username", "IPMI option"),
    ('B', "password", "IPMI option"),
    ('d', "authType", "IPMI option"),
    ('L', "cipher_suite_id", "IPMI option"),
    ('T', "thread", "thread limit"),
];

/// The options this nut-scanner has: letter and long name.
const SUPPORTED: &[(char, &str)] = &[
    ('C', "complete_scan"),
    ('U', "usb_scan"),
    ('N', "disp_nut_conf"),
    ('P', "disp_parsable"),
    ('q', "quiet"),
    ('D', "nut_debug_level"),
    ('V', "version"),
    ('a', "available"),
    ('h', "help"),
];

/// `-h`.
pub fn usage() -> String {
    "nut-scanner (nut-rs): finds the power devices this system can reach.\n\
     \n\
     OPTIONS:\n  \
     -C, --complete_scan: every scan available (here: USB; the default).\n  \
     -U, --usb_scan: USB: APC units on Linux hidraw.\n\
     * SNMP, XML/HTTP, NUT (old and avahi), IPMI and Eaton serial scans are not available in nut-rs.\n\
     \n\
     display specific options:\n  \
     -N, --disp_nut_conf: print ups.conf sections (the default).\n  \
     -P, --disp_parsable: print one parsable line per device.\n\
     \n\
     Miscellaneous options:\n  \
     -V, --version: print the version.\n  \
     -a, --available: list the scans available.\n  \
     -q, --quiet: print only the results, not which bus is being scanned.\n  \
     -D, --nut_debug_level: raise the debug level (repeatable).\n"
        .to_string()
}

/// The whole nut-scanner program over the sysfs root `sysfs`: `args` without the program
/// name, results on `out`, messages on `err`; the exit code.
pub fn main(args: &[String], sysfs: &Path, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match run(args, sysfs, out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "nut-scanner: {e}");
            1
        }
    }
}

fn run(
    args: &[String],
    sysfs: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<u8> {
    let mut letters = Vec::new();
    for a in args {
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            let letter = SUPPORTED
                .iter()
                .map(|&(c, n)| (c, n))
                .chain(UNSUPPORTED.iter().map(|&(c, n, _)| (c, n)))
                .find(|&(_, n)| n == name)
                .map(|(c, _)| c);
            match letter {
                Some(c) => letters.push(c),
                None => {
                    writeln!(err, "nut-scanner: unrecognized option '--{name}'")?;
                    return bad_option(out, err);
                }
            }
        } else if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            letters.extend(short.chars());
        } else {
            writeln!(err, "nut-scanner: unexpected argument '{a}'")?;
            return bad_option(out, err);
        }
    }
    let mut parsable_display = false;
    let mut quiet = false;
    for c in letters {
        if let Some((_, long, what)) = UNSUPPORTED.iter().find(|&&(u, _, _)| u == c) {
            writeln!(
                err,
                "nut-scanner: -{c} (--{long}, {what}) is not supported by nut-rs's nut-scanner: it scans USB only (-U)"
            )?;
            return Ok(1);
        }
        match c {
            'C' | 'U' | 'D' => {}
            'N' => parsable_display = false,
            'P' => parsable_display = true,
            'q' => quiet = true,
            'V' => {
                writeln!(
                    out,
                    "Network UPS Tools - {} (nut-rs)",
                    env!("CARGO_PKG_VERSION")
                )?;
                return Ok(0);
            }
            'a' => {
                writeln!(out, "USB")?;
                return Ok(0);
            }
            'h' => {
                write!(out, "{}", usage())?;
                return Ok(0);
            }
            other => {
                writeln!(err, "nut-scanner: invalid option -- '{other}'")?;
                return bad_option(out, err);
            }
        }
    }
    if !quiet {
        writeln!(err, "Scanning USB bus.")?;
    }
    let found = scan_usb(sysfs);
    let text = if parsable_display {
        parsable(&found)
    } else {
        ups_conf(&found)
    };
    write!(out, "{text}")?;
    Ok(0)
}

/// A wrong command line: the usage on `out`, a pointer to it on `err`, exit code 255 (stock's
/// `-1`).
fn bad_option(out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    write!(out, "{}", usage())?;
    writeln!(err, "\nnut-scanner: see the usage above for the options.")?;
    Ok(255)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{sysfs, Usb, BK650M2_ON_1_4, MOUSE_ON_1_6};

    /// Two APC units, a mouse, an APC unit with an id stock does not list, and a second
    /// hidraw node of the first unit.
    fn tree() -> tempfile::TempDir {
        sysfs(&[
            ("hidraw0", BK650M2_ON_1_4),
            ("hidraw1", MOUSE_ON_1_6),
            (
                "hidraw2",
                Usb {
                    port: "1-5",
                    vid: "051d",
                    pid: "0003",
                    serial: None,
                    devnum: 5,
                },
            ),
            (
                "hidraw3",
                Usb {
                    port: "1-7",
                    vid: "051d",
                    pid: "0004",
                    serial: Some("X"),
                    devnum: 7,
                },
            ),
            ("hidraw4", BK650M2_ON_1_4),
        ])
    }

    fn run_args(args: &[&str], sys: &Path) -> (String, String, u8) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = main(&args, sys, &mut out, &mut err);
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            code,
        )
    }

    #[test]
    fn lists_apc_units_as_ups_conf_sections() {
        let t = tree();
        let (out, err, code) = run_args(&["-U"], &t.path().join("sys"));
        assert_eq!(code, 0);
        assert_eq!(err, "Scanning USB bus.\n");
        assert_eq!(
            out,
            "[nutdev1]\n\
             \tdriver = \"usbhid-ups\"\n\
             \tport = \"auto\"\n\
             \tvendorid = \"051D\"\n\
             \tproductid = \"0002\"\n\
             \tproduct = \"Back-UPS BK650M2-CH FW:294803G -292804G\"\n\
             \tserial = \"9B2019A14274\"\n\
             \tvendor = \"American Power Conversion\"\n\
             \tbus = \"001\"\n\
             [nutdev2]\n\
             \tdriver = \"usbhid-ups\"\n\
             \tport = \"auto\"\n\
             \tvendorid = \"051D\"\n\
             \tproductid = \"0003\"\n\
             \tproduct = \"Back-UPS BK650M2-CH FW:294803G -292804G\"\n\
             \tvendor = \"American Power Conversion\"\n\
             \tbus = \"001\"\n"
        );
    }

    #[test]
    fn parsable_quiet_and_nothing_found() {
        let t = tree();
        let (out, err, code) = run_args(&["-qUP"], &t.path().join("sys"));
        assert_eq!((err.as_str(), code), ("", 0));
        assert_eq!(
            out,
            "USB:driver=\"usbhid-ups\",port=\"auto\",vendorid=\"051D\",productid=\"0002\",\
             product=\"Back-UPS BK650M2-CH FW:294803G -292804G\",serial=\"9B2019A14274\",\
             vendor=\"American Power Conversion\",bus=\"001\"\n\
             USB:driver=\"usbhid-ups\",port=\"auto\",vendorid=\"051D\",productid=\"0003\",\
             product=\"Back-UPS BK650M2-CH FW:294803G -292804G\",\
             vendor=\"American Power Conversion\",bus=\"001\"\n"
        );
        let (out, err, code) = run_args(&["--usb_scan"], &t.path().join("none"));
        assert_eq!(
            (out.as_str(), err.as_str(), code),
            ("", "Scanning USB bus.\n", 0)
        );
    }

    #[test]
    fn help_and_the_scans_we_do_not_have() {
        let none = Path::new("/nonexistent");
        let (out, err, code) = run_args(&["-h"], none);
        assert_eq!((out, err.as_str(), code), (usage(), "", 0));
        let (out, err, code) = run_args(&["-S"], none);
        assert_eq!(
            (out.as_str(), err.as_str(), code),
            (
                "",
                "nut-scanner: -S (--snmp_scan, SNMP scan) is not supported by nut-rs's nut-scanner: it scans USB only (-U)\n",
                1
            )
        );
        let (_, err, code) = run_args(&["-U", "--mask_cidr=10.0.0.0/8"], none);
        assert_eq!(
            (err.as_str(), code),
            (
                "nut-scanner: -m (--mask_cidr, network option) is not supported by nut-rs's nut-scanner: it scans USB only (-U)\n",
                1
            )
        );
        let (out, err, code) = run_args(&["-Z"], none);
        assert_eq!(out, usage());
        assert_eq!(
            (err.as_str(), code),
            (
                "nut-scanner: invalid option -- 'Z'\n\nnut-scanner: see the usage above for the options.\n",
                255
            )
        );
        assert_eq!(run_args(&["-a"], none).0, "USB\n");
    }
}
