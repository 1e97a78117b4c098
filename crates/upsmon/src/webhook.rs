//! Built-in webhooks (a nut-rs addition): notify events POSTed to HTTP endpoints, without a
//! NOTIFYCMD script.
//!
//! Two optional upsmon.conf directives (stock upsmon logs them as invalid and ignores them):
//!
//! ```text
//! NOTIFYURL <name> <kind> <url>          # kind: json | wechat | ntfy
//! NOTIFYURLFLAG <event> <name>[+<name>...] | NONE
//! ```
//!
//! * `json`: `{"event","ups","message","status","time","host"}` (generic receiver).
//! * `wechat`: a WeChat Work group robot, `{"msgtype":"text","text":{"content":"<message>"}}`.
//! * `ntfy`: the message as the body, `Title: <event> <ups>` header (an ntfy topic URL).
//!
//! An event without `NOTIFYURLFLAG` goes to every `NOTIFYURL`; `NOTIFYURLFLAG <event> NONE`
//! sends it nowhere. Events with `NOTIFYFLAG ... IGNORE` are still sent when a hook selects
//! them explicitly.
//!
//! Delivery is asynchronous: each POST runs in its own task, with [`ATTEMPTS`] attempts,
//! exponential backoff and a total [`DEADLINE`]; nothing waits for it, so a slow or dead
//! endpoint never delays a shutdown. URLs are logged as scheme and host only (a robot key
//! or a token in the path or query is a secret). `http://` and `https://` are supported;
//! https trusts the system CA bundle, or only the PEM file `SSL_CERT_FILE` names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nut_conf::ConfError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Attempts per notification and endpoint.
pub const ATTEMPTS: u32 = 4;
/// Total time one notification may take on one endpoint, retries included.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Time for one attempt (connect, send, status line).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// First backoff; doubled after each failed attempt.
pub const BACKOFF: Duration = Duration::from_millis(500);

/// The payload format of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Json,
    Wechat,
    Ntfy,
}

/// One `NOTIFYURL` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    pub kind: Kind,
    pub url: Url,
}

/// The webhook part of upsmon.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookConf {
    pub hooks: Vec<Hook>,
    /// Event (upper case) → hook names; an empty list sends the event nowhere.
    pub flags: BTreeMap<String, Vec<String>>,
}

impl WebhookConf {
    /// The hooks that receive `event`.
    pub fn hooks_for(&self, event: &str) -> Vec<&Hook> {
        match self.flags.get(&event.to_ascii_uppercase()) {
            None => self.hooks.iter().collect(),
            Some(names) => self
                .hooks
                .iter()
                .filter(|h| names.contains(&h.name))
                .collect(),
        }
    }
}

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else {
            return Err("the URL must start with http:// or https://".into());
        };
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
        Ok(Url {
            https,
            host,
            port,
            path,
        })
    }

    /// What may be logged: scheme and host, never the path or query.
    pub fn redacted(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host
        )
    }

    fn host_header(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Take the `NOTIFYURL`/`NOTIFYURLFLAG` lines out of an upsmon.conf: returns the text with
/// those lines blanked (so line numbers of the rest stay right) and the webhook settings.
pub fn extract(text: &[u8], file: &Path) -> Result<(Vec<u8>, WebhookConf), ConfError> {
    let lines = nut_conf::lines(text, file)?;
    let mut conf = WebhookConf::default();
    let mut blank = Vec::new();
    for l in &lines {
        let key = l.words[0].as_str();
        if key != "NOTIFYURL" && key != "NOTIFYURLFLAG" {
            continue;
        }
        blank.push(l.number);
        let err = |m: String| ConfError::new(file, l.number, m);
        if key == "NOTIFYURL" {
            if l.words.len() != 4 {
                return Err(err(
                    "NOTIFYURL needs 3 arguments: <name> <json|wechat|ntfy> <url> \
                     (put a URL with '=' in double quotes)"
                        .into(),
                ));
            }
            let kind = match l.words[2].to_ascii_lowercase().as_str() {
                "json" => Kind::Json,
                "wechat" => Kind::Wechat,
                "ntfy" => Kind::Ntfy,
                other => {
                    return Err(err(format!(
                        "NOTIFYURL kind '{other}' is not json, wechat or ntfy"
                    )))
                }
            };
            let url = Url::parse(&l.words[3]).map_err(|e| err(format!("NOTIFYURL: {e}")))?;
            if conf.hooks.iter().any(|h| h.name == l.words[1]) {
                return Err(err(format!("NOTIFYURL {} is defined twice", l.words[1])));
            }
            conf.hooks.push(Hook {
                name: l.words[1].clone(),
                kind,
                url,
            });
        } else {
            if l.words.len() != 3 {
                return Err(err(
                    "NOTIFYURLFLAG needs 2 arguments: <event> <name>[+<name>...]|NONE".into(),
                ));
            }
            let event = l.words[1].to_ascii_uppercase();
            if !nut_conf::upsmon_conf::NOTIFY_EVENTS.contains(&event.as_str()) {
                return Err(err(format!(
                    "'{}' is not a valid notify event name",
                    l.words[1]
                )));
            }
            let names: Vec<String> = if l.words[2].eq_ignore_ascii_case("NONE") {
                Vec::new()
            } else {
                l.words[2].split('+').map(str::to_string).collect()
            };
            conf.flags.insert(event, names);
        }
    }
    for (event, names) in &conf.flags {
        for n in names {
            if !conf.hooks.iter().any(|h| &h.name == n) {
                return Err(ConfError::new(
                    file,
                    0,
                    format!("NOTIFYURLFLAG {event}: no NOTIFYURL named {n}"),
                ));
            }
        }
    }
    // blank the physical lines of the webhook directives (and their continuations)
    let mut out = Vec::with_capacity(text.len());
    let mut blanking = false;
    for (physical, line) in (1..).zip(text.split_inclusive(|&b| b == b'\n')) {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if blank.contains(&physical) || blanking {
            blanking = body.ends_with(b"\\");
            if line.ends_with(b"\n") {
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    Ok((out, conf))
}

/// One notification as the hooks see it.
#[derive(Debug, Clone)]
pub struct Event {
    pub event: String,
    /// MONITOR system string, empty for events not tied to a UPS.
    pub ups: String,
    pub message: String,
    /// Last `ups.status` seen for the UPS (empty when unknown).
    pub status: String,
    pub time: SystemTime,
    pub host: String,
}

/// JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// RFC 3339 UTC timestamp, seconds precision.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // civil_from_days (H. Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Content type, extra headers and body for `hook`.
pub fn payload(kind: Kind, ev: &Event) -> (&'static str, Vec<(String, String)>, String) {
    match kind {
        Kind::Json => (
            "application/json",
            Vec::new(),
            format!(
                "{{\"event\":{},\"ups\":{},\"message\":{},\"status\":{},\"time\":{},\"host\":{}}}",
                json_str(&ev.event),
                json_str(&ev.ups),
                json_str(&ev.message),
                json_str(&ev.status),
                json_str(&rfc3339(ev.time)),
                json_str(&ev.host)
            ),
        ),
        Kind::Wechat => (
            "application/json",
            Vec::new(),
            format!(
                "{{\"msgtype\":\"text\",\"text\":{{\"content\":{}}}}}",
                json_str(&format!("[{}] {}", ev.host, ev.message))
            ),
        ),
        Kind::Ntfy => {
            let title = if ev.ups.is_empty() {
                format!("{} on {}", ev.event, ev.host)
            } else {
                format!("{} {}", ev.event, ev.ups)
            };
            let priority = match ev.event.as_str() {
                "LOWBATT" | "FSD" | "SHUTDOWN" | "NOCOMM" | "NOPARENT" => "urgent",
                "ONBATT" | "COMMBAD" | "REPLBATT" => "high",
                _ => "default",
            };
            (
                "text/plain; charset=utf-8",
                vec![
                    ("Title".into(), title.replace(['\r', '\n'], " ")),
                    ("Priority".into(), priority.into()),
                    (
                        "Tags".into(),
                        format!("nut,{}", ev.event.to_ascii_lowercase()),
                    ),
                ],
                ev.message.clone(),
            )
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where the distributions keep the CA bundle.
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    use std::sync::OnceLock;
    static CONNECTOR: OnceLock<Result<tokio_rustls::TlsConnector, String>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            use rustls_pki_types::pem::PemObject;
            use rustls_pki_types::CertificateDer;
            let mut roots = rustls::RootCertStore::empty();
            // SSL_CERT_FILE, as OpenSSL-based tools read it: a private CA (a self-hosted ntfy)
            let custom = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty());
            let files: Vec<std::path::PathBuf> = match &custom {
                Some(f) => vec![f.into()],
                None => SYSTEM_CA_BUNDLES.iter().map(Into::into).collect(),
            };
            for f in &files {
                if let Ok(iter) = CertificateDer::pem_file_iter(f) {
                    for c in iter.flatten() {
                        let _ = roots.add(c);
                    }
                }
            }
            if roots.is_empty() {
                return Err(match custom {
                    Some(f) => format!(
                        "no CA certificate in SSL_CERT_FILE {}",
                        std::path::Path::new(&f).display()
                    ),
                    None => "no system CA bundle found for https".into(),
                });
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
        })
        .clone()
}

/// One POST; Ok(status code).
async fn post_once(
    url: &Url,
    content_type: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<u16, String> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut io: Box<dyn Io> = if url.https {
        let name = rustls_pki_types::ServerName::try_from(url.host.clone())
            .map_err(|e| format!("server name: {e}"))?;
        let s = tls_connector()?
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nut-rs-upsmon\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path,
        url.host_header(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    io.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    io.flush().await.map_err(|e| format!("send: {e}"))?;
    // the status line is all we need
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "no HTTP status line in the answer".to_string())?;
    Ok(code)
}

/// Deliver `ev` to `hook` in the background (retries, backoff, deadline).
pub fn spawn_send(hook: &Hook, ev: &Event) {
    let hook = hook.clone();
    let (ct, headers, body) = payload(hook.kind, ev);
    let event = ev.event.clone();
    tokio::spawn(async move {
        let where_ = format!("webhook {} ({})", hook.name, hook.url.redacted());
        let work = async {
            let mut backoff = BACKOFF;
            for attempt in 1..=ATTEMPTS {
                let r = tokio::time::timeout(
                    ATTEMPT_TIMEOUT,
                    post_once(&hook.url, ct, &headers, &body),
                )
                .await
                .unwrap_or_else(|_| Err("timed out".into()));
                match r {
                    Ok(code) if (200..300).contains(&code) => {
                        tracing::debug!("{where_}: {event} delivered (HTTP {code})");
                        return;
                    }
                    Ok(code) => {
                        tracing::warn!("{where_}: {event} attempt {attempt}: HTTP {code}")
                    }
                    Err(e) => tracing::warn!("{where_}: {event} attempt {attempt}: {e}"),
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
            tracing::error!("{where_}: {event} not delivered after {ATTEMPTS} attempts");
        };
        if tokio::time::timeout(DEADLINE, work).await.is_err() {
            tracing::error!("{where_}: {event} not delivered within {DEADLINE:?}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path.as_str()),
            (
                true,
                "qyapi.weixin.qq.com",
                443,
                "/cgi-bin/webhook/send?key=SECRET"
            )
        );
        assert_eq!(u.redacted(), "https://qyapi.weixin.qq.com");
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.path.as_str()), (8080, "/"));
        let u = Url::parse("http://[::1]:81?x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 81, "/?x")
        );
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://u:p@x/").is_err());
    }

    #[test]
    fn extract_blanks_lines_and_parses() {
        let text = b"POLLFREQ 5\nNOTIFYURL hook json http://127.0.0.1:9/x\nNOTIFYURLFLAG onbatt hook\nNOTIFYURLFLAG ONLINE NONE\nFINALDELAY 1\n";
        let (out, c) = extract(text, Path::new("upsmon.conf")).unwrap();
        assert_eq!(out, b"POLLFREQ 5\n\n\n\nFINALDELAY 1\n");
        assert_eq!(c.hooks.len(), 1);
        assert_eq!(c.hooks_for("ONBATT").len(), 1);
        assert_eq!(c.hooks_for("ONLINE").len(), 0);
        assert_eq!(c.hooks_for("LOWBATT").len(), 1);
        let e = extract(b"\nNOTIFYURL a xml http://x/\n", Path::new("f")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(extract(b"NOTIFYURLFLAG ONBATT nope\n", Path::new("f")).is_err());
    }

    #[test]
    fn payloads() {
        let ev = Event {
            event: "ONBATT".into(),
            ups: "ups@localhost".into(),
            message: "UPS \"ups@localhost\" on battery".into(),
            status: "OB".into(),
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            host: "box".into(),
        };
        let (_, _, body) = payload(Kind::Json, &ev);
        assert_eq!(
            body,
            "{\"event\":\"ONBATT\",\"ups\":\"ups@localhost\",\"message\":\"UPS \\\"ups@localhost\\\" on battery\",\"status\":\"OB\",\"time\":\"2023-11-14T22:13:20Z\",\"host\":\"box\"}"
        );
        let (_, _, body) = payload(Kind::Wechat, &ev);
        assert!(body.starts_with("{\"msgtype\":\"text\",\"text\":{\"content\":\"[box] UPS"));
    }
}
