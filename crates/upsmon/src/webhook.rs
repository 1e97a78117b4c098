//! Built-in webhooks (a nut-rs addition): notify events POSTed to HTTP endpoints, without a
//! NOTIFYCMD script. The payloads and the delivery live here; the two optional upsmon.conf
//! directives are parsed by `nut_conf::upsmon_conf` (stock upsmon logs them as invalid and
//! ignores them):
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

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nut_conf::upsmon_conf::{HookKind, HttpUrl, NotifyUrl};
use nut_daemon::pem;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Attempts per notification and endpoint.
pub(crate) const ATTEMPTS: u32 = 4;
/// Total time one notification may take on one endpoint, retries included.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);
/// Time for one attempt (connect, send, status line).
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// First backoff; doubled after each failed attempt.
pub(crate) const BACKOFF: Duration = Duration::from_millis(500);

/// The `Host` header for `url` (the port only when it is not the scheme's default).
fn host_header(url: &HttpUrl) -> String {
    let default = if url.https { 443 } else { 80 };
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    if url.port == default {
        host
    } else {
        format!("{host}:{}", url.port)
    }
}

/// One notification as the hooks see it.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    /// The `NOTIFYTYPE` name.
    pub(crate) event: String,
    /// MONITOR system string, empty for events not tied to a UPS.
    pub(crate) ups: String,
    /// The formatted message.
    pub(crate) message: String,
    /// Last `ups.status` seen for the UPS (empty when unknown).
    pub(crate) status: String,
    /// When it happened.
    pub(crate) time: SystemTime,
    /// This host's name.
    pub(crate) host: String,
}

/// JSON string literal.
fn json_str(s: &str) -> String {
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
fn rfc3339(t: SystemTime) -> String {
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
fn payload(kind: HookKind, ev: &Notification) -> (&'static str, Vec<(String, String)>, String) {
    match kind {
        HookKind::Json => (
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
        HookKind::Wechat => (
            "application/json",
            Vec::new(),
            format!(
                "{{\"msgtype\":\"text\",\"text\":{{\"content\":{}}}}}",
                json_str(&format!("[{}] {}", ev.host, ev.message))
            ),
        ),
        HookKind::Ntfy => {
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

/// The CA certificates https trusts: only those of `SSL_CERT_FILE` when it is set (as
/// OpenSSL-based tools read it: a private CA, a self-hosted ntfy), else the system bundle.
fn trusted_roots() -> Result<Vec<CertificateDer<'static>>, String> {
    match std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        Some(f) => pem::certificates(Path::new(&f))
            .map_err(|e| format!("no CA certificate in SSL_CERT_FILE: {e}")),
        None => {
            let bundles: Vec<PathBuf> = SYSTEM_CA_BUNDLES.iter().map(PathBuf::from).collect();
            pem::first_bundle(&bundles).ok_or_else(|| "no system CA bundle found for https".into())
        }
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    static CONNECTOR: OnceLock<Result<tokio_rustls::TlsConnector, String>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(trusted_roots()?);
            if added == 0 {
                return Err("no usable CA certificate for https".into());
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
    url: &HttpUrl,
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
        host_header(url),
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
pub(crate) fn spawn_send(hook: &NotifyUrl, ev: &Notification) {
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
    fn payloads() {
        let ev = Notification {
            event: "ONBATT".into(),
            ups: "ups@localhost".into(),
            message: "UPS \"ups@localhost\" on battery".into(),
            status: "OB".into(),
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            host: "box".into(),
        };
        let (_, _, body) = payload(HookKind::Json, &ev);
        assert_eq!(
            body,
            "{\"event\":\"ONBATT\",\"ups\":\"ups@localhost\",\"message\":\"UPS \\\"ups@localhost\\\" on battery\",\"status\":\"OB\",\"time\":\"2023-11-14T22:13:20Z\",\"host\":\"box\"}"
        );
        let (_, _, body) = payload(HookKind::Wechat, &ev);
        assert!(body.starts_with("{\"msgtype\":\"text\",\"text\":{\"content\":\"[box] UPS"));
    }
}
