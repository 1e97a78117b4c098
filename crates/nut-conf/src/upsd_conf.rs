//! `upsd.conf`: one directive per line, no sections.
//!
//! Keywords are case-sensitive except `DEBUG_MIN`, as in NUT. Unlike stock upsd, which logs
//! a bad line and carries on, an unknown directive, a wrong number of arguments or a bad value
//! is an error. Obsolete `ACCEPT`, `REJECT` and `ACL` are accepted with a warning.
//!
//! `ALLOW_FROM <address or network>...` is nut-rs's own (the "permitted devices" list of NAS
//! UPS servers): when given, upsd closes connections from any other peer before reading a
//! byte.
//!
//! `LISTEN_HTTP <address> [<port>]` is nut-rs's own too: upsd's read-only HTTP listener
//! (`/metrics`, `/v1/ups`), off unless given; the port defaults to [`DEFAULT_HTTP_PORT`].
//! `LISTEN_HTTPS` is the same over TLS with `CERTFILE`'s certificate (and `CERTREQUEST`'s
//! client checks), and needs `CERTFILE`. Stock upsd 2.8.0 logs either line as an invalid
//! directive and carries on.
//!
//! `MDNS <boolean>` is nut-rs's own as well: advertise the NUT and HTTP listeners over
//! multicast DNS (DNS-SD), off by default.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::value::{
    arity, boolean, certident, debug_min, non_empty_path, one, parse_bool, parse_unsigned, seconds,
    unknown_directive,
};
use nut_proto::DEFAULT_PORT;

use crate::file::{each_parseconf_line, load_with, Warnings};
use crate::{ConfError, Error};

/// One `LISTEN <addr> [<port>]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Host name or address as written (resolved by upsd, not here).
    pub addr: String,
    /// TCP port, [`DEFAULT_PORT`] if omitted.
    pub port: u16,
}

/// `LISTEN_HTTP`'s port when none is given: nut_exporter's (Prometheus' port allocation list),
/// so a scrape job that pointed at nut_exporter on this host needs only a new path.
pub const DEFAULT_HTTP_PORT: u16 = 9199;

/// One `ALLOW_FROM` entry: an address (`192.0.2.7`, a /32 or /128) or a network in CIDR
/// notation (`192.0.2.0/24`, `2001:db8::/32`). IPv4-mapped IPv6 entries and peers
/// (`::ffff:192.0.2.7`) are taken as the IPv4 address they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowNet {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// The prefix length: up to 32 for IPv4, 128 for IPv6.
    pub prefix: u8,
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; anything else unchanged.
fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The top `prefix` bits of `addr` as a mask over its width.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

impl AllowNet {
    /// Parses `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`, `::ffff:192.0.2.0/120`.
    pub fn parse(v: &str) -> Result<AllowNet, String> {
        let bad = || {
            format!(
                "ALLOW_FROM expects addresses or networks (192.0.2.7, 192.0.2.0/24, 2001:db8::/32), got {v:?}"
            )
        };
        let (addr, prefix) = match v.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (v, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= width && !p.starts_with('+'))
                .ok_or_else(|| format!("ALLOW_FROM {v}: the prefix length must be 0 to {width}"))?,
        };
        if mask(addr, prefix) != addr {
            return Err(format!(
                "ALLOW_FROM {v}: host bits are set after /{prefix}; the network is {}/{prefix}",
                mask(addr, prefix)
            ));
        }
        Ok(match unmapped(addr) {
            IpAddr::V4(a) if addr.is_ipv6() && prefix >= 96 => AllowNet {
                addr: IpAddr::V4(a),
                prefix: prefix - 96,
            },
            _ => AllowNet { addr, prefix },
        })
    }

    /// Whether `peer` is in this network (an IPv4-mapped IPv6 peer as its IPv4 address).
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = unmapped(peer);
        peer.is_ipv4() == self.addr.is_ipv4() && mask(peer, self.prefix) == self.addr
    }
}

impl std::fmt::Display for AllowNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `CERTREQUEST`: what upsd asks of client certificates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CertRequest {
    /// `0` / `NO`: no client certificate.
    #[default]
    No,
    /// `1` / `REQUEST`: ask, accept without.
    Request,
    /// `2` / `REQUIRE`: ask and refuse clients without a valid one.
    Require,
}

/// A parsed `upsd.conf`, with NUT's defaults for what it does not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsdConf {
    /// `LISTEN` lines in file order; empty means upsd's default (`127.0.0.1` and `::1`).
    pub listen: Vec<Listen>,
    /// `LISTEN_HTTP` lines in file order (port [`DEFAULT_HTTP_PORT`] if omitted); empty: no
    /// HTTP listener.
    pub listen_http: Vec<Listen>,
    /// `LISTEN_HTTPS` lines in file order: as `listen_http`, over TLS with `CERTFILE`.
    pub listen_https: Vec<Listen>,
    /// `MAXAGE`: seconds of driver silence before data is stale (default 15).
    pub maxage: u64,
    /// `TRACKINGDELAY`: seconds a tracking result is kept (default 3600).
    pub trackingdelay: u64,
    /// `MAXCONN`: connection limit; `None` means the open-files limit.
    pub maxconn: Option<usize>,
    /// `STATEPATH`: driver socket directory.
    pub statepath: Option<PathBuf>,
    /// `DATAPATH`: where `cmdvartab` lives.
    pub datapath: Option<PathBuf>,
    /// `CERTFILE`: PEM with certificate chain and key; enables STARTTLS.
    pub certfile: Option<PathBuf>,
    /// `CERTPATH`: CA directory or bundle.
    pub certpath: Option<PathBuf>,
    /// `CERTIDENT <name> <password>`.
    pub certident: Option<(String, String)>,
    /// `CERTREQUEST` (default [`CertRequest::No`]).
    pub certrequest: CertRequest,
    /// `DISABLE_WEAK_SSL` (default false).
    pub disable_weak_ssl: bool,
    /// `ALLOW_NO_DEVICE` (default false).
    pub allow_no_device: bool,
    /// `ALLOW_NOT_ALL_LISTENERS` (default false).
    pub allow_not_all_listeners: bool,
    /// `DEBUG_MIN`: minimum debug level.
    pub debug_min: Option<u32>,
    /// `ALLOW_FROM` entries of every line, in file order; empty: every peer may connect
    /// (stock behaviour).
    pub allow_from: Vec<AllowNet>,
    /// `MDNS`: advertise `_nut._tcp` and the HTTP listener over multicast DNS (default
    /// false).
    pub mdns: bool,
    /// Accepted lines that have no effect (`file:line: ...`).
    pub warnings: Vec<String>,
}

impl Default for UpsdConf {
    fn default() -> Self {
        UpsdConf {
            listen: Vec::new(),
            listen_http: Vec::new(),
            listen_https: Vec::new(),
            maxage: 15,
            trackingdelay: 3600,
            maxconn: None,
            statepath: None,
            datapath: None,
            certfile: None,
            certpath: None,
            certident: None,
            certrequest: CertRequest::No,
            disable_weak_ssl: false,
            allow_no_device: false,
            allow_not_all_listeners: false,
            debug_min: None,
            allow_from: Vec::new(),
            mdns: false,
            warnings: Vec::new(),
        }
    }
}

impl UpsdConf {
    /// Whether a peer at `peer` may connect: no `ALLOW_FROM`, or an entry contains it.
    pub fn allows(&self, peer: IpAddr) -> bool {
        self.allow_from.is_empty() || self.allow_from.iter().any(|n| n.contains(peer))
    }
}

const KEYWORDS: [&str; 21] = [
    "LISTEN",
    "LISTEN_HTTP",
    "LISTEN_HTTPS",
    "MAXAGE",
    "TRACKINGDELAY",
    "MAXCONN",
    "STATEPATH",
    "DATAPATH",
    "CERTFILE",
    "CERTPATH",
    "CERTIDENT",
    "CERTREQUEST",
    "DISABLE_WEAK_SSL",
    "ALLOW_NO_DEVICE",
    "ALLOW_NOT_ALL_LISTENERS",
    "DEBUG_MIN",
    "ALLOW_FROM",
    "MDNS",
    "ACCEPT",
    "REJECT",
    "ACL",
];

/// `ALLOW_NO_DEVICE` style: a boolean, or a number where non-zero means true.
fn flag_or_number(key: &str, v: &str) -> Result<bool, String> {
    if let Some(n) = parse_unsigned(v) {
        return Ok(n != 0);
    }
    parse_bool(v).ok_or_else(|| {
        format!("{key} expects a boolean (true, on, yes, 1 or false, off, no, 0) or a number, got {v:?}")
    })
}

fn port(key: &str, v: &str) -> Result<u16, String> {
    parse_unsigned(v)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("{key} port must be a number from 1 to 65535, got {v:?}"))
}

/// `LISTEN` / `LISTEN_HTTP`: an address and an optional port (`default` if omitted).
fn listen(key: &str, words: &[String], default: u16) -> Result<Listen, String> {
    arity(words, 1, 2, "an address and an optional port")?;
    if words[1].is_empty() {
        return Err(format!("{key} expects an address, got an empty value"));
    }
    let port = match words.get(2) {
        Some(p) => port(key, p)?,
        None => default,
    };
    Ok(Listen {
        addr: words[1].clone(),
        port,
    })
}

fn cert_request(v: &str) -> Result<CertRequest, String> {
    match v.to_ascii_uppercase().as_str() {
        "0" | "NO" => Ok(CertRequest::No),
        "1" | "REQUEST" => Ok(CertRequest::Request),
        "2" | "REQUIRE" => Ok(CertRequest::Require),
        _ => Err(format!(
            "CERTREQUEST expects 0/NO, 1/REQUEST or 2/REQUIRE, got {v:?}"
        )),
    }
}

/// Apply one line; `Err` carries the message for `file:line`.
fn apply(conf: &mut UpsdConf, words: &[String], warn: &mut Warnings<'_>) -> Result<(), String> {
    let key = words[0].as_str();
    if let Some(level) = debug_min(words)? {
        conf.debug_min = Some(level);
        return Ok(());
    }
    match key {
        "LISTEN" => conf.listen.push(listen(key, words, DEFAULT_PORT)?),
        "LISTEN_HTTP" => conf
            .listen_http
            .push(listen(key, words, DEFAULT_HTTP_PORT)?),
        "LISTEN_HTTPS" => conf
            .listen_https
            .push(listen(key, words, DEFAULT_HTTP_PORT)?),
        "MAXAGE" => conf.maxage = seconds(key, &one(words)?)?,
        "TRACKINGDELAY" => conf.trackingdelay = seconds(key, &one(words)?)?,
        "MAXCONN" => {
            let v = one(words)?;
            let n = parse_unsigned(&v)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    format!("MAXCONN expects a whole number of connections >= 1, got {v:?}")
                })?;
            conf.maxconn = Some(n);
        }
        "STATEPATH" => conf.statepath = Some(non_empty_path(key, &one(words)?)?),
        "DATAPATH" => conf.datapath = Some(non_empty_path(key, &one(words)?)?),
        "CERTFILE" => conf.certfile = Some(non_empty_path(key, &one(words)?)?),
        "CERTPATH" => conf.certpath = Some(non_empty_path(key, &one(words)?)?),
        "CERTIDENT" => conf.certident = Some(certident(words)?),
        "CERTREQUEST" => conf.certrequest = cert_request(&one(words)?)?,
        "DISABLE_WEAK_SSL" => conf.disable_weak_ssl = boolean(key, &one(words)?)?,
        "ALLOW_NO_DEVICE" => conf.allow_no_device = flag_or_number(key, &one(words)?)?,
        "ALLOW_NOT_ALL_LISTENERS" => {
            conf.allow_not_all_listeners = flag_or_number(key, &one(words)?)?
        }
        "ALLOW_FROM" => {
            arity(words, 1, usize::MAX, "one or more addresses or networks")?;
            for w in &words[1..] {
                conf.allow_from.push(AllowNet::parse(w)?);
            }
        }
        "MDNS" => conf.mdns = boolean(key, &one(words)?)?,
        "ACCEPT" | "REJECT" | "ACL" => {
            warn.push(format!("{key} is obsolete and ignored; use LISTEN"));
        }
        _ => return Err(unknown_directive(key, &KEYWORDS)),
    }
    Ok(())
}

/// Parse the bytes of an `upsd.conf`; `file` is only used in messages.
pub fn parse(text: &[u8], file: &Path) -> Result<UpsdConf, ConfError> {
    let mut conf = UpsdConf::default();
    let mut first_https = None;
    conf.warnings = each_parseconf_line(text, file, |words, line, warn| {
        if words[0] == "LISTEN_HTTPS" {
            first_https.get_or_insert(line);
        }
        apply(&mut conf, &words, warn)
    })?;
    if let (Some(line), None) = (first_https, &conf.certfile) {
        return Err(ConfError::new(
            file,
            line,
            "LISTEN_HTTPS needs CERTFILE (a PEM with the certificate chain and key); use LISTEN_HTTP for plain HTTP",
        ));
    }
    Ok(conf)
}

/// Read and parse an `upsd.conf`.
pub fn load(path: &Path) -> Result<UpsdConf, Error> {
    load_with(path, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    parse_helpers!("upsd.conf", UpsdConf);

    #[test]
    fn defaults() {
        let conf = ok("# nothing\n");
        assert_eq!(conf, UpsdConf::default());
        assert_eq!(conf.maxage, 15);
        assert_eq!(conf.trackingdelay, 3600);
        assert_eq!(conf.maxconn, None);
        assert_eq!(conf.certrequest, CertRequest::No);
        assert!(conf.listen.is_empty());
    }

    #[test]
    fn listen_http_is_repeatable_with_its_own_default_port() {
        let conf = ok("LISTEN_HTTP 127.0.0.1\nLISTEN_HTTP ::1 8080\nLISTEN 127.0.0.1\n");
        assert_eq!(
            conf.listen_http,
            [
                Listen {
                    addr: "127.0.0.1".into(),
                    port: 9199
                },
                Listen {
                    addr: "::1".into(),
                    port: 8080
                }
            ]
        );
        assert_eq!(conf.listen[0].port, 3493);
        assert_eq!(
            fail("MAXAGE 5\nLISTEN_HTTP 127.0.0.1 0"),
            "upsd.conf:2: LISTEN_HTTP port must be a number from 1 to 65535, got \"0\""
        );
        assert_eq!(
            fail("LISTEN_HTTP"),
            "upsd.conf:1: LISTEN_HTTP takes an address and an optional port, got 0 words"
        );
        assert_eq!(
            fail("LISTEN_HTTP \"\" 80"),
            "upsd.conf:1: LISTEN_HTTP expects an address, got an empty value"
        );
        let conf = ok("LISTEN_HTTPS 0.0.0.0\nCERTFILE /etc/nut/upsd.pem\n");
        assert_eq!(
            conf.listen_https,
            [Listen {
                addr: "0.0.0.0".into(),
                port: 9199
            }]
        );
        assert_eq!(
            fail("MAXAGE 5\nLISTEN_HTTPS ::1 9443\nLISTEN_HTTPS ::1 9444\n"),
            "upsd.conf:2: LISTEN_HTTPS needs CERTFILE (a PEM with the certificate chain and key); use LISTEN_HTTP for plain HTTP"
        );
    }

    #[test]
    fn every_directive() {
        let conf = ok(r#"LISTEN 0.0.0.0
LISTEN ::1 3494
LISTEN "localhost" 13493
MAXAGE 30
TRACKINGDELAY 60
MAXCONN 100
STATEPATH /run/nut
DATAPATH "/usr/share/nut"
CERTFILE /etc/nut/upsd.pem
CERTPATH /etc/ssl/certs
CERTIDENT "my cert" s3cret
CERTREQUEST REQUIRE
DISABLE_WEAK_SSL yes
ALLOW_NO_DEVICE 2
ALLOW_NOT_ALL_LISTENERS On
debug_min 3
"#);
        assert_eq!(
            conf.listen,
            vec![
                Listen {
                    addr: "0.0.0.0".into(),
                    port: 3493
                },
                Listen {
                    addr: "::1".into(),
                    port: 3494
                },
                Listen {
                    addr: "localhost".into(),
                    port: 13493
                },
            ]
        );
        assert_eq!(conf.maxage, 30);
        assert_eq!(conf.trackingdelay, 60);
        assert_eq!(conf.maxconn, Some(100));
        assert_eq!(conf.statepath, Some(PathBuf::from("/run/nut")));
        assert_eq!(conf.datapath, Some(PathBuf::from("/usr/share/nut")));
        assert_eq!(conf.certfile, Some(PathBuf::from("/etc/nut/upsd.pem")));
        assert_eq!(conf.certpath, Some(PathBuf::from("/etc/ssl/certs")));
        assert_eq!(conf.certident, Some(("my cert".into(), "s3cret".into())));
        assert_eq!(conf.certrequest, CertRequest::Require);
        assert!(conf.disable_weak_ssl);
        assert!(conf.allow_no_device);
        assert!(conf.allow_not_all_listeners);
        assert_eq!(conf.debug_min, Some(3));
        assert!(conf.warnings.is_empty());
    }

    #[test]
    fn certrequest_and_boolean_forms() {
        for (v, want) in [
            ("0", CertRequest::No),
            ("no", CertRequest::No),
            ("1", CertRequest::Request),
            ("Request", CertRequest::Request),
            ("2", CertRequest::Require),
        ] {
            assert_eq!(ok(&format!("CERTREQUEST {v}")).certrequest, want, "{v}");
        }
        for v in ["true", "ON", "yes", "1"] {
            assert!(ok(&format!("DISABLE_WEAK_SSL {v}")).disable_weak_ssl, "{v}");
        }
        for v in ["false", "off", "NO", "0"] {
            assert!(
                !ok(&format!("DISABLE_WEAK_SSL {v}\n")).disable_weak_ssl,
                "{v}"
            );
        }
        assert!(!ok("ALLOW_NO_DEVICE 0").allow_no_device);
        assert!(ok("ALLOW_NO_DEVICE true").allow_no_device);
        assert!(!ok("").mdns);
        assert!(ok("MDNS on").mdns);
        assert!(!ok("MDNS off").mdns);
        assert_eq!(
            fail("LISTEN 127.0.0.1\nMDNS please"),
            "upsd.conf:2: MDNS expects a boolean (true, on, yes, 1 or false, off, no, 0), got \"please\""
        );
        assert_eq!(
            fail("MDNS"),
            "upsd.conf:1: MDNS takes exactly one value, got 0 words"
        );
    }

    #[test]
    fn obsolete_directives_warn() {
        let conf = ok("ACCEPT all\n\nREJECT x\nACL all 0.0.0.0/0\n");
        assert_eq!(
            conf.warnings,
            vec![
                "upsd.conf:1: ACCEPT is obsolete and ignored; use LISTEN",
                "upsd.conf:3: REJECT is obsolete and ignored; use LISTEN",
                "upsd.conf:4: ACL is obsolete and ignored; use LISTEN",
            ]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            fail("MAXAGE 15\nMAXAGE abc\n"),
            "upsd.conf:2: MAXAGE expects a whole number of seconds, got \"abc\""
        );
        assert_eq!(
            fail("TRACKINGDELAY -5"),
            "upsd.conf:1: TRACKINGDELAY expects a whole number of seconds, got \"-5\""
        );
        assert_eq!(
            fail("MAXAGE\n"),
            "upsd.conf:1: MAXAGE takes exactly one value, got 0 words"
        );
        assert_eq!(
            fail("STATEPATH /a /b\n"),
            "upsd.conf:1: STATEPATH takes exactly one value, got 2 words"
        );
        assert_eq!(
            fail("STATEPATH \"\"\n"),
            "upsd.conf:1: STATEPATH expects a path, got an empty value"
        );
        assert_eq!(
            fail("MAXCONN 0"),
            "upsd.conf:1: MAXCONN expects a whole number of connections >= 1, got \"0\""
        );
        assert_eq!(
            fail("LISTEN 127.0.0.1 http"),
            "upsd.conf:1: LISTEN port must be a number from 1 to 65535, got \"http\""
        );
        assert_eq!(
            fail("LISTEN 127.0.0.1 65536"),
            "upsd.conf:1: LISTEN port must be a number from 1 to 65535, got \"65536\""
        );
        assert_eq!(
            fail("LISTEN"),
            "upsd.conf:1: LISTEN takes an address and an optional port, got 0 words"
        );
        assert_eq!(
            fail("LISTEN \"\""),
            "upsd.conf:1: LISTEN expects an address, got an empty value"
        );
        assert_eq!(
            fail("CERTIDENT name"),
            "upsd.conf:1: CERTIDENT takes a certificate name and a password, got 1 word"
        );
        assert_eq!(
            fail("DISABLE_WEAK_SSL maybe"),
            "upsd.conf:1: DISABLE_WEAK_SSL expects a boolean (true, on, yes, 1 or false, off, no, 0), got \"maybe\""
        );
        assert_eq!(
            fail("ALLOW_NO_DEVICE maybe"),
            "upsd.conf:1: ALLOW_NO_DEVICE expects a boolean (true, on, yes, 1 or false, off, no, 0) or a number, got \"maybe\""
        );
        assert_eq!(
            fail("CERTREQUEST 3"),
            "upsd.conf:1: CERTREQUEST expects 0/NO, 1/REQUEST or 2/REQUIRE, got \"3\""
        );
        assert_eq!(
            fail("DEBUG_MIN -1"),
            "upsd.conf:1: DEBUG_MIN expects a whole number >= 0, got \"-1\""
        );
        assert_eq!(
            fail("\n\nmaxage 10"),
            "upsd.conf:3: unknown directive \"maxage\"; directives are case-sensitive, did you mean MAXAGE?"
        );
        assert_eq!(
            fail("LISTNE 1.2.3.4"),
            "upsd.conf:1: unknown directive \"LISTNE\"; expected one of LISTEN, LISTEN_HTTP, LISTEN_HTTPS, MAXAGE, TRACKINGDELAY, MAXCONN, STATEPATH, DATAPATH, CERTFILE, CERTPATH, CERTIDENT, CERTREQUEST, DISABLE_WEAK_SSL, ALLOW_NO_DEVICE, ALLOW_NOT_ALL_LISTENERS, DEBUG_MIN, ALLOW_FROM, MDNS, ACCEPT, REJECT, ACL"
        );
    }

    #[test]
    fn allow_from_lists_networks_and_matches_peers() {
        let conf = ok(
            "ALLOW_FROM 192.168.1.0/24 10.0.0.7\nALLOW_FROM 2001:db8::/32 ::ffff:172.16.0.0/108\n",
        );
        let nets: Vec<String> = conf.allow_from.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            nets,
            [
                "192.168.1.0/24",
                "10.0.0.7/32",
                "2001:db8::/32",
                "172.16.0.0/12"
            ]
        );
        let allows = |a: &str| conf.allows(a.parse().unwrap());
        for a in [
            "192.168.1.1",
            "192.168.1.255",
            "10.0.0.7",
            "::ffff:10.0.0.7",
            "::ffff:192.168.1.9",
            "2001:db8:1::5",
            "172.31.255.255",
        ] {
            assert!(allows(a), "{a}");
        }
        for a in [
            "192.168.2.1",
            "10.0.0.8",
            "127.0.0.1",
            "::1",
            "::ffff:10.0.0.8",
            "2001:db9::1",
            "172.32.0.0",
            // A v4-compatible (not mapped) address is IPv6.
            "::10.0.0.7",
        ] {
            assert!(!allows(a), "{a}");
        }
        // Without the directive everyone may connect; /0 allows a whole family.
        assert!(ok("").allows("203.0.113.5".parse().unwrap()));
        let any4 = ok("ALLOW_FROM 0.0.0.0/0");
        assert!(any4.allows("203.0.113.5".parse().unwrap()));
        assert!(!any4.allows("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn allow_from_errors_name_the_line_and_value() {
        assert_eq!(
            fail("\nALLOW_FROM"),
            "upsd.conf:2: ALLOW_FROM takes one or more addresses or networks, got 0 words"
        );
        assert_eq!(
            fail("ALLOW_FROM 10.0.0.1 nas.local"),
            "upsd.conf:1: ALLOW_FROM expects addresses or networks (192.0.2.7, 192.0.2.0/24, 2001:db8::/32), got \"nas.local\""
        );
        assert_eq!(
            fail("ALLOW_FROM 10.0.0.0/33"),
            "upsd.conf:1: ALLOW_FROM 10.0.0.0/33: the prefix length must be 0 to 32"
        );
        assert_eq!(
            fail("ALLOW_FROM 192.168.1.5/24"),
            "upsd.conf:1: ALLOW_FROM 192.168.1.5/24: host bits are set after /24; the network is 192.168.1.0/24"
        );
        assert_eq!(
            fail("ALLOW_FROM fe80::1%eth0"),
            "upsd.conf:1: ALLOW_FROM expects addresses or networks (192.0.2.7, 192.0.2.0/24, 2001:db8::/32), got \"fe80::1%eth0\""
        );
    }
}
