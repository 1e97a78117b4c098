//! `upsmon.conf`: what upsmon watches, how it notifies, and when it shuts the host down.
//!
//! Keywords are case-sensitive except `DEBUG_MIN`, as in NUT. Unlike stock upsmon, which logs
//! an unknown or malformed line and carries on, such lines are errors: a typo here decides
//! whether a machine powers off in time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nut_proto::DEFAULT_PORT;

use crate::file::{each_parseconf_line, load_with, Warnings};
use crate::notify::{NotifyEvent, NotifyFlags};
use crate::value::{
    arity, boolean, certident, command, debug_min, non_empty_path, one, parse_bool, parse_signed,
    parse_unsigned, seconds, unknown_directive,
};
use crate::{ConfError, Error};

/// The role upsmon plays for one UPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `primary` (or `master`): this host sets FSD and waits for the others.
    Primary,
    /// `secondary` (or `slave`): this host shuts down when told.
    Secondary,
}

/// A system string `<ups>[@<host>[:<port>]]`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemName {
    /// The UPS name on the server.
    pub(crate) ups: String,
    /// Host name or address, without brackets (`localhost` if omitted).
    pub(crate) host: String,
    /// TCP port ([`DEFAULT_PORT`] if omitted).
    pub(crate) port: u16,
}

/// Why a system string could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SystemNameError {
    /// Nothing before `@`.
    #[error("no UPS name before \"@\"")]
    EmptyUps,
    /// Nothing after `@`.
    #[error("no host after \"@\"")]
    EmptyHost,
    /// `[` without `]`.
    #[error("missing \"]\" after the IPv6 address")]
    MissingBracket,
    /// A bare IPv6 address, which cannot be told from `host:port`.
    #[error("IPv6 addresses need brackets, e.g. ups@[::1]:3493")]
    Ipv6NeedsBrackets,
    /// Something other than `:port` after `]`.
    #[error("unexpected {0:?} after \"]\"; expected \":port\" or nothing")]
    AfterBracket(String),
    /// The port is not a number from 1 to 65535.
    #[error("port must be a number from 1 to 65535, got {0:?}")]
    BadPort(String),
}

impl SystemName {
    /// Split `ups`, `ups@host`, `ups@host:port`, `ups@[v6addr]` or `ups@[v6addr]:port`.
    pub(crate) fn parse(s: &str) -> Result<SystemName, SystemNameError> {
        let (ups, rest) = match s.split_once('@') {
            None => (s, None),
            Some((u, r)) => (u, Some(r)),
        };
        if ups.is_empty() {
            return Err(SystemNameError::EmptyUps);
        }
        let Some(rest) = rest else {
            return Ok(SystemName {
                ups: ups.to_string(),
                host: "localhost".to_string(),
                port: DEFAULT_PORT,
            });
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or(SystemNameError::MissingBracket)?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| SystemNameError::AfterBracket(after.to_string()))?,
                ),
            };
            (host, port)
        } else {
            match rest.split_once(':') {
                Some((_, p)) if p.contains(':') => return Err(SystemNameError::Ipv6NeedsBrackets),
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(SystemNameError::EmptyHost);
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => parse_unsigned(p)
                .and_then(|n| u16::try_from(n).ok())
                .filter(|&n| n != 0)
                .ok_or_else(|| SystemNameError::BadPort(p.to_string()))?,
        };
        Ok(SystemName {
            ups: ups.to_string(),
            host: host.to_string(),
            port,
        })
    }
}

/// One `MONITOR` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// The system string as written (it is what `UPSNAME` and `%s` show).
    pub system: String,
    /// UPS name part of `system`.
    pub ups: String,
    /// Host part of `system` (`localhost` if omitted).
    pub host: String,
    /// Port part of `system` (3493 if omitted).
    pub port: u16,
    /// How many power supplies of this host the UPS feeds (0 = monitor only).
    pub power_value: u32,
    /// upsd user name.
    pub user: String,
    /// upsd password.
    pub password: String,
    /// Primary or secondary.
    pub role: Role,
    /// Line number of the `MONITOR` line.
    pub line: usize,
}

/// `SHUTDOWNEXIT`: whether upsmon exits after starting the shutdown (2.8.1+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShutdownExit {
    /// `yes` / `on` / `true` / `0`: exit at once (the default, and 2.8.0's only behaviour).
    #[default]
    Yes,
    /// `no` / `off` / `false` / a negative number: keep running until killed.
    No,
    /// A number of seconds to keep running before exiting.
    After(u64),
}

/// One `CERTHOST <host> <certname> <verify> <forcessl>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertHost {
    /// Host the rule applies to.
    pub host: String,
    /// Expected certificate name.
    pub certname: String,
    /// Verify the server certificate.
    pub verify: bool,
    /// Refuse to talk without TLS.
    pub forcessl: bool,
}

/// The payload format of a `NOTIFYURL` endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `{"event","ups","message","status","time","host"}` for a generic receiver.
    Json,
    /// A WeChat Work group robot (`msgtype` text).
    Wechat,
    /// An ntfy topic: the message as the body, title, priority and tags as headers.
    Ntfy,
}

/// An `http://` or `https://` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https://`.
    pub https: bool,
    /// Host name or address (an IPv6 address without brackets).
    pub host: String,
    /// Port, the scheme's default when not given.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parse a URL; user:password@ and white space or control characters are refused (the
    /// path goes into the request line as it is).
    pub fn parse(s: &str) -> Result<HttpUrl, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else {
            return Err("the URL must start with http:// or https://".into());
        };
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("white space or a control character in the URL".into());
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err("user:password@ in the URL is not supported".into());
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or("unclosed [ in the URL host")?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or("bad port in the URL")?,
            };
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| "bad port in the URL")?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err("no host in the URL".into());
        }
        Ok(HttpUrl {
            https,
            host,
            port,
            path,
        })
    }

    /// What may be logged: scheme and host, never the path or query (they hold the secrets).
    pub fn redacted(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host
        )
    }
}

/// A `NOTIFYURL <name> <kind> <url>` line (a nut-rs addition; stock upsmon ignores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyUrl {
    /// The name `NOTIFYURLFLAG` refers to.
    pub name: String,
    /// Payload format.
    pub kind: HookKind,
    /// Endpoint.
    pub url: HttpUrl,
}

/// A `NOTIFYURLFLAG <event> <name>[+<name>...]|NONE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyUrlFlag {
    /// The hooks that get the event; empty for `NONE`.
    pub names: Vec<String>,
    /// Where it was set (for the check that every name exists).
    pub line: usize,
}

/// A parsed `upsmon.conf`, with NUT's defaults for what it does not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsmonConf {
    /// `MONITOR` lines, duplicates of a system string dropped.
    pub monitors: Vec<Monitor>,
    /// `MINSUPPLIES` (default 1).
    pub minsupplies: u32,
    /// `SHUTDOWNCMD`, one word (quote a command with arguments).
    pub shutdowncmd: Option<String>,
    /// `NOTIFYCMD`, one word.
    pub notifycmd: Option<String>,
    /// `NOTIFYMSG` texts by event.
    pub notify_msgs: BTreeMap<NotifyEvent, String>,
    /// `NOTIFYFLAG` flags by event (the last line for an event wins).
    pub notify_flags: BTreeMap<NotifyEvent, NotifyFlags>,
    /// `POLLFREQ` seconds (default 5).
    pub pollfreq: u64,
    /// `POLLFREQALERT` seconds (default 5).
    pub pollfreqalert: u64,
    /// `HOSTSYNC` seconds (default 15).
    pub hostsync: u64,
    /// `DEADTIME` seconds (default 15).
    pub deadtime: u64,
    /// `POWERDOWNFLAG` file (no default).
    pub powerdownflag: Option<PathBuf>,
    /// `FINALDELAY` seconds (default 5).
    pub finaldelay: u64,
    /// `RBWARNTIME` seconds (default 43200).
    pub rbwarntime: u64,
    /// `NOCOMMWARNTIME` seconds (default 300).
    pub nocommwarntime: u64,
    /// `OFFDURATION` seconds; < 0 never, 0 at once (default 30).
    pub offduration: i64,
    /// `OVERDURATION` seconds (default -1).
    pub overduration: i64,
    /// `OBLBDURATION` seconds; <= 0 at once (default 0).
    pub oblbduration: i64,
    /// `ALARMCRITICAL` (default true).
    pub alarmcritical: bool,
    /// `SHUTDOWNEXIT` (default [`ShutdownExit::Yes`]).
    pub shutdownexit: ShutdownExit,
    /// `RUN_AS_USER`.
    pub run_as_user: Option<String>,
    /// `CERTPATH`.
    pub certpath: Option<PathBuf>,
    /// `CERTFILE`.
    pub certfile: Option<PathBuf>,
    /// `CERTIDENT <name> <password>`.
    pub certident: Option<(String, String)>,
    /// `CERTHOST` lines.
    pub certhosts: Vec<CertHost>,
    /// `CERTVERIFY` (default false).
    pub certverify: bool,
    /// `FORCESSL` (default false).
    pub forcessl: bool,
    /// `DEBUG_MIN`.
    pub debug_min: Option<u32>,
    /// `POLLFAIL_LOG_THROTTLE_MAX` (default -1).
    pub pollfail_log_throttle_max: i64,
    /// `NOTIFYURL` lines.
    pub notify_urls: Vec<NotifyUrl>,
    /// `NOTIFYURLFLAG` by event; an event without one goes to every hook.
    pub notify_url_flags: BTreeMap<NotifyEvent, NotifyUrlFlag>,
    /// `ONBATT_SHUTDOWN_AFTER` seconds (nut-rs): a UPS on battery this long is critical.
    pub onbatt_shutdown_after: Option<u64>,
    /// `ONBATT_SHUTDOWN_RUNTIME` seconds (nut-rs): a UPS on battery with `battery.runtime`
    /// below this is critical.
    pub onbatt_shutdown_runtime: Option<u64>,
    /// `ONBATT_SHUTDOWN_CHARGE` percent (nut-rs): a UPS on battery with `battery.charge` below
    /// this is critical.
    pub onbatt_shutdown_charge: Option<u64>,
    /// `CLEARFSD_ON_MAINS` (nut-rs, default false): a primary whose FSD no other host can have
    /// acted on withdraws it when mains returns during its HOSTSYNC wait, and stays up.
    pub clearfsd_on_mains: bool,
    /// Accepted lines with no effect (`file:line: ...`).
    pub warnings: Vec<String>,
}

impl Default for UpsmonConf {
    fn default() -> Self {
        UpsmonConf {
            monitors: Vec::new(),
            minsupplies: 1,
            shutdowncmd: None,
            notifycmd: None,
            notify_msgs: BTreeMap::new(),
            notify_flags: BTreeMap::new(),
            pollfreq: 5,
            pollfreqalert: 5,
            hostsync: 15,
            deadtime: 15,
            powerdownflag: None,
            finaldelay: 5,
            rbwarntime: 43200,
            nocommwarntime: 300,
            offduration: 30,
            overduration: -1,
            oblbduration: 0,
            alarmcritical: true,
            shutdownexit: ShutdownExit::Yes,
            run_as_user: None,
            certpath: None,
            certfile: None,
            certident: None,
            certhosts: Vec::new(),
            certverify: false,
            forcessl: false,
            debug_min: None,
            pollfail_log_throttle_max: -1,
            notify_urls: Vec::new(),
            notify_url_flags: BTreeMap::new(),
            onbatt_shutdown_after: None,
            onbatt_shutdown_runtime: None,
            onbatt_shutdown_charge: None,
            clearfsd_on_mains: false,
            warnings: Vec::new(),
        }
    }
}

impl UpsmonConf {
    /// The `NOTIFYURL` endpoints that receive `event`.
    pub fn hooks_for(&self, event: NotifyEvent) -> Vec<&NotifyUrl> {
        match self.notify_url_flags.get(&event) {
            None => self.notify_urls.iter().collect(),
            Some(f) => self
                .notify_urls
                .iter()
                .filter(|h| f.names.contains(&h.name))
                .collect(),
        }
    }

    /// Flags in effect for `event`: the configured ones, else NUT 2.8.0's defaults.
    pub fn notify_flags_for(&self, event: NotifyEvent) -> NotifyFlags {
        self.notify_flags
            .get(&event)
            .copied()
            .unwrap_or_else(|| NotifyFlags::default_for(event))
    }

    /// The message template for `event`: `NOTIFYMSG`, else NUT's default text.
    pub fn notify_msg_for(&self, event: NotifyEvent) -> &str {
        self.notify_msgs
            .get(&event)
            .map_or(event.default_message(), String::as_str)
    }

    /// Sum of all power values; upsmon refuses to run if it is below `minsupplies`.
    pub fn total_power_value(&self) -> u64 {
        self.monitors.iter().map(|m| u64::from(m.power_value)).sum()
    }
}

const KEYWORDS: &[&str] = &[
    "MONITOR",
    "MINSUPPLIES",
    "SHUTDOWNCMD",
    "NOTIFYCMD",
    "NOTIFYMSG",
    "NOTIFYFLAG",
    "POLLFREQ",
    "POLLFREQALERT",
    "HOSTSYNC",
    "DEADTIME",
    "POWERDOWNFLAG",
    "FINALDELAY",
    "RBWARNTIME",
    "NOCOMMWARNTIME",
    "OFFDURATION",
    "OVERDURATION",
    "OBLBDURATION",
    "ALARMCRITICAL",
    "SHUTDOWNEXIT",
    "RUN_AS_USER",
    "CERTPATH",
    "CERTFILE",
    "CERTIDENT",
    "CERTHOST",
    "CERTVERIFY",
    "FORCESSL",
    "DEBUG_MIN",
    "POLLFAIL_LOG_THROTTLE_MAX",
    "NOTIFYURL",
    "NOTIFYURLFLAG",
    "ONBATT_SHUTDOWN_AFTER",
    "ONBATT_SHUTDOWN_RUNTIME",
    "ONBATT_SHUTDOWN_CHARGE",
];

/// The longest `ONBATT_SHUTDOWN_AFTER` / `ONBATT_SHUTDOWN_RUNTIME` accepted: one day (no UPS
/// battery lasts that long; a larger value is a typo, e.g. milliseconds).
pub const ONBATT_SHUTDOWN_MAX_SECS: u64 = 86_400;

/// An `ONBATT_SHUTDOWN_*` value: a whole number from 1 to `max`.
fn bounded(key: &str, v: &str, max: u64, unit: &str) -> Result<u64, String> {
    match parse_unsigned(v) {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{key} expects a whole number of {unit} from 1 to {max}, got {v:?}"
        )),
    }
}

/// A NOTIFYMSG text is a printf format: allow only `%s` (one, or two for ALARM and OTHER,
/// which pass extra text) and `%%`, so no message can make the formatter misbehave.
fn notify_text(event: NotifyEvent, text: &str) -> Result<(), String> {
    let max = event.max_placeholders();
    let mut count = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            Some('%') => {}
            Some('s') => count += 1,
            other => {
                let got = other.map(String::from).unwrap_or_default();
                return Err(format!(
                    "NOTIFYMSG {event}: \"%{got}\" is not allowed; use %s for the UPS name and %% for a literal %"
                ));
            }
        }
    }
    if count > max {
        return Err(format!(
            "NOTIFYMSG {event}: at most {max} %s allowed, got {count}"
        ));
    }
    Ok(())
}

fn signed(key: &str, v: &str) -> Result<i64, String> {
    parse_signed(v).ok_or_else(|| format!("{key} expects a whole number, got {v:?}"))
}

fn positive_seconds(key: &str, v: &str) -> Result<u64, String> {
    match parse_unsigned(v) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{key} expects a whole number of seconds >= 1, got {v:?}"
        )),
    }
}

fn shutdown_exit(v: &str) -> Result<ShutdownExit, String> {
    if let Some(n) = parse_signed(v) {
        return Ok(match u64::try_from(n) {
            Ok(0) => ShutdownExit::Yes,
            Ok(secs) => ShutdownExit::After(secs),
            Err(_) => ShutdownExit::No,
        });
    }
    match parse_bool(v) {
        Some(true) => Ok(ShutdownExit::Yes),
        Some(false) => Ok(ShutdownExit::No),
        None => Err(format!(
            "SHUTDOWNEXIT expects yes, no or a number of seconds, got {v:?}"
        )),
    }
}

fn monitor(words: &[String], line: usize) -> Result<Monitor, String> {
    if words.len() == 5 {
        return Err("MONITOR takes 5 values: <system> <powervalue> <user> <password> <role>; the old form without a user name is no longer supported".into());
    }
    arity(
        words,
        5,
        5,
        "5 values: <system> <powervalue> <user> <password> <role>",
    )?;
    let system = &words[1];
    let name = SystemName::parse(system).map_err(|e| format!("MONITOR system {system:?}: {e}"))?;
    let pv = &words[2];
    let power_value = parse_unsigned(pv)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("MONITOR power value must be a whole number >= 0, got {pv:?}"))?;
    let r = &words[5];
    let role = if r.eq_ignore_ascii_case("primary") || r.eq_ignore_ascii_case("master") {
        Role::Primary
    } else if r.eq_ignore_ascii_case("secondary") || r.eq_ignore_ascii_case("slave") {
        Role::Secondary
    } else {
        return Err(format!(
            "MONITOR role must be primary (or master) or secondary (or slave), got {r:?}"
        ));
    };
    Ok(Monitor {
        system: system.clone(),
        ups: name.ups,
        host: name.host,
        port: name.port,
        power_value,
        user: words[3].clone(),
        password: words[4].clone(),
        role,
        line,
    })
}

fn apply(
    conf: &mut UpsmonConf,
    words: &[String],
    line: usize,
    warn: &mut Warnings<'_>,
) -> Result<(), String> {
    let key = words[0].as_str();
    if let Some(level) = debug_min(words)? {
        conf.debug_min = Some(level);
        return Ok(());
    }
    match key {
        "MONITOR" => {
            let m = monitor(words, line)?;
            if let Some(prev) = conf.monitors.iter().find(|p| p.system == m.system) {
                warn.push(format!(
                    "duplicate MONITOR {} ignored; first defined at line {}",
                    m.system, prev.line
                ));
            } else {
                conf.monitors.push(m);
            }
        }
        "MINSUPPLIES" => {
            let v = one(words)?;
            conf.minsupplies = parse_unsigned(&v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("MINSUPPLIES expects a whole number >= 0, got {v:?}"))?;
        }
        "SHUTDOWNCMD" => conf.shutdowncmd = Some(command(key, words)?),
        "NOTIFYCMD" => conf.notifycmd = Some(command(key, words)?),
        "NOTIFYMSG" => {
            arity(words, 2, 2, "an event and a quoted message")?;
            let event = NotifyEvent::parse(&words[1])?;
            notify_text(event, &words[2])?;
            conf.notify_msgs.insert(event, words[2].clone());
        }
        "NOTIFYFLAG" => {
            arity(words, 2, 2, "an event and flags like SYSLOG+WALL+EXEC")?;
            let event = NotifyEvent::parse(&words[1])?;
            conf.notify_flags
                .insert(event, NotifyFlags::parse(&words[2])?);
        }
        "POLLFREQ" => conf.pollfreq = positive_seconds(key, &one(words)?)?,
        "POLLFREQALERT" => conf.pollfreqalert = positive_seconds(key, &one(words)?)?,
        "HOSTSYNC" => conf.hostsync = seconds(key, &one(words)?)?,
        "DEADTIME" => conf.deadtime = seconds(key, &one(words)?)?,
        "POWERDOWNFLAG" => conf.powerdownflag = Some(non_empty_path(key, &one(words)?)?),
        "FINALDELAY" => conf.finaldelay = seconds(key, &one(words)?)?,
        "RBWARNTIME" => conf.rbwarntime = seconds(key, &one(words)?)?,
        "NOCOMMWARNTIME" => conf.nocommwarntime = seconds(key, &one(words)?)?,
        "OFFDURATION" => conf.offduration = signed(key, &one(words)?)?,
        "OVERDURATION" => conf.overduration = signed(key, &one(words)?)?,
        "OBLBDURATION" => conf.oblbduration = signed(key, &one(words)?)?,
        "POLLFAIL_LOG_THROTTLE_MAX" => conf.pollfail_log_throttle_max = signed(key, &one(words)?)?,
        "ALARMCRITICAL" => conf.alarmcritical = boolean(key, &one(words)?)?,
        "SHUTDOWNEXIT" => conf.shutdownexit = shutdown_exit(&one(words)?)?,
        "RUN_AS_USER" => {
            let v = one(words)?;
            if v.is_empty() {
                return Err("RUN_AS_USER expects a user name, got an empty value".into());
            }
            conf.run_as_user = Some(v);
        }
        "CERTPATH" => conf.certpath = Some(non_empty_path(key, &one(words)?)?),
        "CERTFILE" => conf.certfile = Some(non_empty_path(key, &one(words)?)?),
        "CERTIDENT" => conf.certident = Some(certident(words)?),
        "CERTHOST" => {
            arity(
                words,
                4,
                4,
                "4 values: <host> <certname> <verify 0|1> <forcessl 0|1>",
            )?;
            conf.certhosts.push(CertHost {
                host: words[1].clone(),
                certname: words[2].clone(),
                verify: boolean("CERTHOST verify", &words[3])?,
                forcessl: boolean("CERTHOST forcessl", &words[4])?,
            });
        }
        "NOTIFYURL" => {
            arity(
                words,
                3,
                3,
                "3 values: <name> <json|wechat|ntfy> <url> (put a URL with '=' in double quotes)",
            )?;
            let kind = match words[2].to_ascii_lowercase().as_str() {
                "json" => HookKind::Json,
                "wechat" => HookKind::Wechat,
                "ntfy" => HookKind::Ntfy,
                other => {
                    return Err(format!(
                        "NOTIFYURL kind '{other}' is not json, wechat or ntfy"
                    ))
                }
            };
            let url = HttpUrl::parse(&words[3]).map_err(|e| format!("NOTIFYURL: {e}"))?;
            if conf.notify_urls.iter().any(|h| h.name == words[1]) {
                return Err(format!("NOTIFYURL {} is defined twice", words[1]));
            }
            conf.notify_urls.push(NotifyUrl {
                name: words[1].clone(),
                kind,
                url,
            });
        }
        "NOTIFYURLFLAG" => {
            arity(words, 2, 2, "an event and <name>[+<name>...] or NONE")?;
            let event = NotifyEvent::parse(&words[1])?;
            let names = if words[2].eq_ignore_ascii_case("NONE") {
                Vec::new()
            } else {
                words[2].split('+').map(str::to_string).collect()
            };
            conf.notify_url_flags
                .insert(event, NotifyUrlFlag { names, line });
        }
        "ONBATT_SHUTDOWN_AFTER" => {
            let v = one(words)?;
            conf.onbatt_shutdown_after =
                Some(bounded(key, &v, ONBATT_SHUTDOWN_MAX_SECS, "seconds")?);
        }
        "ONBATT_SHUTDOWN_RUNTIME" => {
            let v = one(words)?;
            conf.onbatt_shutdown_runtime =
                Some(bounded(key, &v, ONBATT_SHUTDOWN_MAX_SECS, "seconds")?);
        }
        "ONBATT_SHUTDOWN_CHARGE" => {
            conf.onbatt_shutdown_charge = Some(bounded(key, &one(words)?, 100, "percent")?);
        }
        "CLEARFSD_ON_MAINS" => conf.clearfsd_on_mains = boolean(key, &one(words)?)?,
        "CERTVERIFY" => conf.certverify = boolean(key, &one(words)?)?,
        "FORCESSL" => conf.forcessl = boolean(key, &one(words)?)?,
        _ => return Err(unknown_directive(key, KEYWORDS)),
    }
    Ok(())
}

/// Parse the bytes of an `upsmon.conf`; `file` is only used in messages.
pub fn parse(text: &[u8], file: &Path) -> Result<UpsmonConf, ConfError> {
    let mut conf = UpsmonConf::default();
    conf.warnings = each_parseconf_line(text, file, |words, n, warn| {
        apply(&mut conf, &words, n, warn)
    })?;
    // (by name, so that of two bad lines the same one is reported as when events were keyed
    // by their names)
    let mut url_flags: Vec<_> = conf.notify_url_flags.iter().collect();
    url_flags.sort_by_key(|(event, _)| event.name());
    for (event, flag) in url_flags {
        if let Some(n) = flag
            .names
            .iter()
            .find(|n| !conf.notify_urls.iter().any(|h| &h.name == *n))
        {
            return Err(ConfError::new(
                file,
                flag.line,
                format!("NOTIFYURLFLAG {event}: no NOTIFYURL named {n}"),
            ));
        }
    }
    Ok(conf)
}

/// Read and parse an `upsmon.conf`.
pub fn load(path: &Path) -> Result<UpsmonConf, Error> {
    load_with(path, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    parse_helpers!("upsmon.conf", UpsmonConf);

    #[test]
    fn defaults() {
        let c = ok("");
        assert_eq!(c, UpsmonConf::default());
        assert_eq!(c.minsupplies, 1);
        assert_eq!((c.pollfreq, c.pollfreqalert), (5, 5));
        assert_eq!((c.hostsync, c.deadtime), (15, 15));
        assert_eq!(c.finaldelay, 5);
        assert_eq!((c.rbwarntime, c.nocommwarntime), (43200, 300));
        assert_eq!((c.offduration, c.overduration, c.oblbduration), (30, -1, 0));
        assert!(c.alarmcritical);
        assert_eq!(c.shutdownexit, ShutdownExit::Yes);
        assert_eq!(c.pollfail_log_throttle_max, -1);
        assert!(!c.certverify && !c.forcessl);
        assert_eq!(c.powerdownflag, None);
        assert_eq!(
            c.notify_flags_for(NotifyEvent::OnBatt).to_string(),
            "SYSLOG+WALL"
        );
        assert_eq!(c.notify_flags_for(NotifyEvent::Cal).to_string(), "SYSLOG");
        assert_eq!(c.notify_msg_for(NotifyEvent::OnBatt), "UPS %s on battery");
    }

    #[test]
    fn typical_file() {
        let c = ok(r#"RUN_AS_USER nut
MONITOR apc@localhost 1 upsmon "s3cret" primary
MONITOR other@[::1]:3494 0 mon pw slave
MONITOR bare 2 u p Secondary
MINSUPPLIES 1
SHUTDOWNCMD "/sbin/shutdown -h +0"
NOTIFYCMD /usr/sbin/upssched
POLLFREQ 5
POLLFREQALERT 2
HOSTSYNC 20
DEADTIME 25
POWERDOWNFLAG /etc/killpower
NOTIFYMSG ONBATT "UPS %s on battery!"
NOTIFYFLAG onbatt SYSLOG+WALL+EXEC
NOTIFYFLAG ONLINE IGNORE
RBWARNTIME 3600
NOCOMMWARNTIME 600
FINALDELAY 0
OFFDURATION -1
OVERDURATION 10
OBLBDURATION 3
ALARMCRITICAL 0
SHUTDOWNEXIT 120
CERTPATH /etc/ssl/certs
CERTFILE /etc/nut/client.pem
CERTIDENT "my cert" pw
CERTHOST ups.example.com srv 1 0
CERTVERIFY 1
FORCESSL on
debug_min 2
POLLFAIL_LOG_THROTTLE_MAX 100
"#);
        assert_eq!(c.monitors.len(), 3);
        assert_eq!(
            c.monitors[0],
            Monitor {
                system: "apc@localhost".into(),
                ups: "apc".into(),
                host: "localhost".into(),
                port: 3493,
                power_value: 1,
                user: "upsmon".into(),
                password: "s3cret".into(),
                role: Role::Primary,
                line: 2,
            }
        );
        assert_eq!(
            (
                c.monitors[1].host.as_str(),
                c.monitors[1].port,
                c.monitors[1].role
            ),
            ("::1", 3494, Role::Secondary)
        );
        assert_eq!(c.monitors[1].power_value, 0);
        assert_eq!(
            (
                c.monitors[2].ups.as_str(),
                c.monitors[2].host.as_str(),
                c.monitors[2].role
            ),
            ("bare", "localhost", Role::Secondary)
        );
        assert_eq!(c.total_power_value(), 3);
        assert_eq!(c.shutdowncmd.as_deref(), Some("/sbin/shutdown -h +0"));
        assert_eq!(c.notifycmd.as_deref(), Some("/usr/sbin/upssched"));
        assert_eq!(
            (c.pollfreq, c.pollfreqalert, c.hostsync, c.deadtime),
            (5, 2, 20, 25)
        );
        assert_eq!(c.powerdownflag, Some(PathBuf::from("/etc/killpower")));
        assert_eq!(c.notify_msg_for(NotifyEvent::OnBatt), "UPS %s on battery!");
        assert_eq!(
            c.notify_flags_for(NotifyEvent::OnBatt).to_string(),
            "SYSLOG+WALL+EXEC"
        );
        assert_eq!(
            c.notify_flags_for(NotifyEvent::Online),
            NotifyFlags {
                ignore: true,
                ..NotifyFlags::default()
            }
        );
        assert_eq!(
            (c.rbwarntime, c.nocommwarntime, c.finaldelay),
            (3600, 600, 0)
        );
        assert_eq!((c.offduration, c.overduration, c.oblbduration), (-1, 10, 3));
        assert!(!c.alarmcritical);
        assert_eq!(c.shutdownexit, ShutdownExit::After(120));
        assert_eq!(c.certpath, Some(PathBuf::from("/etc/ssl/certs")));
        assert_eq!(c.certfile, Some(PathBuf::from("/etc/nut/client.pem")));
        assert_eq!(c.certident, Some(("my cert".into(), "pw".into())));
        assert_eq!(
            c.certhosts,
            vec![CertHost {
                host: "ups.example.com".into(),
                certname: "srv".into(),
                verify: true,
                forcessl: false
            }]
        );
        assert!(c.certverify && c.forcessl);
        assert_eq!(c.debug_min, Some(2));
        assert_eq!(c.run_as_user.as_deref(), Some("nut"));
        assert_eq!(c.pollfail_log_throttle_max, 100);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn shutdownexit_forms() {
        for (v, want) in [
            ("yes", ShutdownExit::Yes),
            ("TRUE", ShutdownExit::Yes),
            ("0", ShutdownExit::Yes),
            ("off", ShutdownExit::No),
            ("-1", ShutdownExit::No),
            ("5", ShutdownExit::After(5)),
        ] {
            assert_eq!(ok(&format!("SHUTDOWNEXIT {v}")).shutdownexit, want, "{v}");
        }
    }

    #[test]
    fn system_names() {
        let p = |s: &str| SystemName::parse(s);
        let sn = |u: &str, h: &str, port| SystemName {
            ups: u.into(),
            host: h.into(),
            port,
        };
        assert_eq!(p("ups"), Ok(sn("ups", "localhost", 3493)));
        assert_eq!(p("ups@host"), Ok(sn("ups", "host", 3493)));
        assert_eq!(p("ups@10.0.0.1:1234"), Ok(sn("ups", "10.0.0.1", 1234)));
        assert_eq!(p("ups@[fe80::1]"), Ok(sn("ups", "fe80::1", 3493)));
        assert_eq!(p("ups@[::1]:3494"), Ok(sn("ups", "::1", 3494)));
        assert_eq!(p("@host"), Err(SystemNameError::EmptyUps));
        assert_eq!(p("ups@"), Err(SystemNameError::EmptyHost));
        assert_eq!(p("ups@:1"), Err(SystemNameError::EmptyHost));
        assert_eq!(p("ups@[::1"), Err(SystemNameError::MissingBracket));
        assert_eq!(p("ups@::1"), Err(SystemNameError::Ipv6NeedsBrackets));
        assert_eq!(
            p("ups@[::1]x"),
            Err(SystemNameError::AfterBracket("x".into()))
        );
        assert_eq!(p("ups@h:"), Err(SystemNameError::BadPort("".into())));
        assert_eq!(p("ups@h:0"), Err(SystemNameError::BadPort("0".into())));
        assert_eq!(
            p("ups@h:70000"),
            Err(SystemNameError::BadPort("70000".into()))
        );
    }

    #[test]
    fn duplicate_monitor_warns() {
        let c = ok("MONITOR a@h 1 u p primary\nMONITOR a@h 0 u p secondary\n");
        assert_eq!(c.monitors.len(), 1);
        assert_eq!(c.monitors[0].power_value, 1);
        assert_eq!(
            c.warnings,
            vec!["upsmon.conf:2: duplicate MONITOR a@h ignored; first defined at line 1"]
        );
    }

    #[test]
    fn notifymsg_formats() {
        let c = ok("NOTIFYMSG ALARM \"%s: alarm %s (100%%)\"\nNOTIFYMSG SHUTDOWN \"bye\"\n");
        assert_eq!(c.notify_msg_for(NotifyEvent::Alarm), "%s: alarm %s (100%%)");
        assert_eq!(c.notify_msg_for(NotifyEvent::Shutdown), "bye");
    }

    #[test]
    fn onbatt_shutdown_timers() {
        let c = ok(
            "ONBATT_SHUTDOWN_AFTER 180\nONBATT_SHUTDOWN_RUNTIME 300\nONBATT_SHUTDOWN_CHARGE 40\n",
        );
        assert_eq!(c.onbatt_shutdown_after, Some(180));
        assert_eq!(c.onbatt_shutdown_runtime, Some(300));
        assert_eq!(c.onbatt_shutdown_charge, Some(40));
        let c = ok("ONBATT_SHUTDOWN_AFTER 86400\nONBATT_SHUTDOWN_CHARGE 100\n");
        assert_eq!(
            (c.onbatt_shutdown_after, c.onbatt_shutdown_charge),
            (Some(86400), Some(100))
        );
        for (line, msg) in [
            ("ONBATT_SHUTDOWN_AFTER -5", "ONBATT_SHUTDOWN_AFTER expects a whole number of seconds from 1 to 86400, got \"-5\""),
            ("ONBATT_SHUTDOWN_AFTER 0", "ONBATT_SHUTDOWN_AFTER expects a whole number of seconds from 1 to 86400, got \"0\""),
            ("ONBATT_SHUTDOWN_AFTER 3m", "ONBATT_SHUTDOWN_AFTER expects a whole number of seconds from 1 to 86400, got \"3m\""),
            ("ONBATT_SHUTDOWN_AFTER 86401", "ONBATT_SHUTDOWN_AFTER expects a whole number of seconds from 1 to 86400, got \"86401\""),
            ("ONBATT_SHUTDOWN_RUNTIME 1e9", "ONBATT_SHUTDOWN_RUNTIME expects a whole number of seconds from 1 to 86400, got \"1e9\""),
            ("ONBATT_SHUTDOWN_CHARGE 101", "ONBATT_SHUTDOWN_CHARGE expects a whole number of percent from 1 to 100, got \"101\""),
            ("ONBATT_SHUTDOWN_CHARGE 40%", "ONBATT_SHUTDOWN_CHARGE expects a whole number of percent from 1 to 100, got \"40%\""),
            ("ONBATT_SHUTDOWN_CHARGE -1", "ONBATT_SHUTDOWN_CHARGE expects a whole number of percent from 1 to 100, got \"-1\""),
        ] {
            assert_eq!(fail(&format!("MONITOR u 1 a b primary\n{line}\n")), format!("upsmon.conf:2: {msg}"));
        }
    }

    #[test]
    fn clearfsd_on_mains() {
        assert!(!ok("").clearfsd_on_mains);
        assert!(ok("CLEARFSD_ON_MAINS 1\n").clearfsd_on_mains);
        assert!(!ok("CLEARFSD_ON_MAINS 1\nCLEARFSD_ON_MAINS no\n").clearfsd_on_mains);
        assert_eq!(
            fail("MONITOR u 1 a b primary\nCLEARFSD_ON_MAINS maybe\n"),
            "upsmon.conf:2: CLEARFSD_ON_MAINS expects a boolean (true, on, yes, 1 or false, off, no, 0), got \"maybe\""
        );
    }

    #[test]
    fn notifyflag_replaces_previous_flags() {
        let c = ok("NOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONBATT WALL\n");
        assert_eq!(c.notify_flags_for(NotifyEvent::OnBatt).to_string(), "WALL");
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            fail("MONITOR ups@localhost 1 pass primary\n"),
            "upsmon.conf:1: MONITOR takes 5 values: <system> <powervalue> <user> <password> <role>; the old form without a user name is no longer supported"
        );
        assert_eq!(
            fail("MONITOR ups 1 u\n"),
            "upsmon.conf:1: MONITOR takes 5 values: <system> <powervalue> <user> <password> <role>, got 3 words"
        );
        assert_eq!(
            fail("MONITOR ups 1 u p primary extra\n"),
            "upsmon.conf:1: MONITOR takes 5 values: <system> <powervalue> <user> <password> <role>, got 6 words"
        );
        assert_eq!(
            fail("MONITOR ups@::1 1 u p primary"),
            "upsmon.conf:1: MONITOR system \"ups@::1\": IPv6 addresses need brackets, e.g. ups@[::1]:3493"
        );
        assert_eq!(
            fail("MONITOR ups -1 u p primary"),
            "upsmon.conf:1: MONITOR power value must be a whole number >= 0, got \"-1\""
        );
        assert_eq!(
            fail("MONITOR ups 1 u p primry"),
            "upsmon.conf:1: MONITOR role must be primary (or master) or secondary (or slave), got \"primry\""
        );
        assert_eq!(
            fail("SHUTDOWNCMD /sbin/shutdown -h now"),
            "upsmon.conf:1: SHUTDOWNCMD takes one word; quote a command with arguments, e.g. SHUTDOWNCMD \"/sbin/shutdown -h now\""
        );
        assert_eq!(
            fail("NOTIFYCMD \"\""),
            "upsmon.conf:1: NOTIFYCMD expects a command, got an empty value"
        );
        assert_eq!(
            fail("NOTIFYFLAG ONBATT SYSLOG+EMAIL"),
            "upsmon.conf:1: unknown notify flag \"EMAIL\" in \"SYSLOG+EMAIL\"; expected SYSLOG, WALL, EXEC or IGNORE joined by +"
        );
        assert_eq!(
            fail("NOTIFYFLAG ONBATT syslog"),
            "upsmon.conf:1: unknown notify flag \"syslog\" in \"syslog\"; expected SYSLOG, WALL, EXEC or IGNORE joined by +"
        );
        assert_eq!(
            fail("NOTIFYFLAG ONBATT"),
            "upsmon.conf:1: NOTIFYFLAG takes an event and flags like SYSLOG+WALL+EXEC, got 1 word"
        );
        assert!(fail("NOTIFYMSG ONBAT \"x\"").starts_with(
            "upsmon.conf:1: unknown notify event \"ONBAT\"; expected one of ONLINE, ONBATT, LOWBATT,"
        ));
        assert_eq!(
            fail("NOTIFYMSG ONBATT \"%s is at %d%%\""),
            "upsmon.conf:1: NOTIFYMSG ONBATT: \"%d\" is not allowed; use %s for the UPS name and %% for a literal %"
        );
        assert_eq!(
            fail("NOTIFYMSG ONBATT \"50%\""),
            "upsmon.conf:1: NOTIFYMSG ONBATT: \"%\" is not allowed; use %s for the UPS name and %% for a literal %"
        );
        assert_eq!(
            fail("NOTIFYMSG ONBATT \"%s %s\""),
            "upsmon.conf:1: NOTIFYMSG ONBATT: at most 1 %s allowed, got 2"
        );
        assert_eq!(
            fail("NOTIFYMSG alarm \"%s %s %s\""),
            "upsmon.conf:1: NOTIFYMSG ALARM: at most 2 %s allowed, got 3"
        );
        assert_eq!(
            fail("NOTIFYMSG ONBATT UPS on battery"),
            "upsmon.conf:1: NOTIFYMSG takes an event and a quoted message, got 4 words"
        );
        assert_eq!(
            fail("POLLFREQ 0"),
            "upsmon.conf:1: POLLFREQ expects a whole number of seconds >= 1, got \"0\""
        );
        assert_eq!(
            fail("DEADTIME 15s"),
            "upsmon.conf:1: DEADTIME expects a whole number of seconds, got \"15s\""
        );
        assert_eq!(
            fail("OFFDURATION x"),
            "upsmon.conf:1: OFFDURATION expects a whole number, got \"x\""
        );
        assert_eq!(
            fail("MINSUPPLIES -1"),
            "upsmon.conf:1: MINSUPPLIES expects a whole number >= 0, got \"-1\""
        );
        assert_eq!(
            fail("SHUTDOWNEXIT later"),
            "upsmon.conf:1: SHUTDOWNEXIT expects yes, no or a number of seconds, got \"later\""
        );
        assert_eq!(
            fail("CERTHOST h n 2 0"),
            "upsmon.conf:1: CERTHOST verify expects a boolean (true, on, yes, 1 or false, off, no, 0), got \"2\""
        );
        assert_eq!(
            fail("\nfinaldelay 5"),
            "upsmon.conf:2: unknown directive \"finaldelay\"; directives are case-sensitive, did you mean FINALDELAY?"
        );
        assert!(fail("EMAIL me").starts_with(
            "upsmon.conf:1: unknown directive \"EMAIL\"; expected one of MONITOR, MINSUPPLIES,"
        ));
        assert_eq!(
            fail("MONITOR ups 1 u \"p#w\" primary"),
            "upsmon.conf:1: Unbalanced word due to unescaped # in quotes; write \\# for a literal # inside quotes"
        );
    }

    #[test]
    fn notify_urls() {
        let c = ok("NOTIFYURL hook json http://127.0.0.1:9/x\nNOTIFYURLFLAG onbatt hook\n\
                    NOTIFYURL robot wechat \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K\"\n\
                    NOTIFYURLFLAG ONLINE NONE\n");
        assert_eq!(c.notify_urls.len(), 2);
        let names = |e| -> Vec<String> { c.hooks_for(e).iter().map(|h| h.name.clone()).collect() };
        assert_eq!(names(NotifyEvent::OnBatt), ["hook"]);
        assert_eq!(names(NotifyEvent::Online), Vec::<String>::new());
        assert_eq!(names(NotifyEvent::LowBatt), ["hook", "robot"]);
        let robot = &c.notify_urls[1];
        assert_eq!(robot.kind, HookKind::Wechat);
        assert_eq!(
            (
                robot.url.https,
                robot.url.host.as_str(),
                robot.url.port,
                robot.url.path.as_str()
            ),
            (
                true,
                "qyapi.weixin.qq.com",
                443,
                "/cgi-bin/webhook/send?key=K"
            )
        );
        assert_eq!(robot.url.redacted(), "https://qyapi.weixin.qq.com");
        assert_eq!(
            fail("\nNOTIFYURL a xml http://x/\n"),
            "upsmon.conf:2: NOTIFYURL kind 'xml' is not json, wechat or ntfy"
        );
        assert_eq!(
            fail("NOTIFYURL a json http://x/\n\nNOTIFYURLFLAG ONBATT a+nope\n"),
            "upsmon.conf:3: NOTIFYURLFLAG ONBATT: no NOTIFYURL named nope"
        );
        assert_eq!(
            fail("NOTIFYURL a json http://x/\nNOTIFYURL a ntfy http://y/\n"),
            "upsmon.conf:2: NOTIFYURL a is defined twice"
        );
        assert!(fail("NOTIFYURLFLAG NOSUCHEVENT a\n")
            .starts_with("upsmon.conf:1: unknown notify event"));
    }

    #[test]
    fn http_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.path.as_str()), (8080, "/"));
        let u = HttpUrl::parse("http://[::1]:81?x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 81, "/?x")
        );
        for bad in [
            "ftp://x",
            "http://u:p@x/",
            "http:///x",
            "http://x/a b",
            "http://x:99999/",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
