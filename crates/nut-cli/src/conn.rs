//! What stock's clients get from libupsclient, over [`nut_client::Client`]: the
//! `upsname[@hostname[:port]]` syntax, connecting (every address of the name in turn, then
//! `STARTTLS` for the tools that try TLS), the error texts of `upscli_strerror`, and the
//! `LOGOUT` sent on the way out.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use nut_client::{Client, Error as ClientError, TlsConfig, DEFAULT_TIMEOUT};
use nut_proto::{Get, OkReply, Request, DEFAULT_PORT};
pub(crate) use nut_state::{atoi, strtol};

use crate::{Error, Result};

/// `std`'s `Result`, for the helpers whose errors are not [`Error`].
type StdResult<T, E> = std::result::Result<T, E>;

/// Longest `upsname@host:port` stock copies (`SMALLBUF` less its NUL).
const SPLIT_MAX: usize = 511;

/// Where to connect: the UPS name (when there is one), host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) ups: String,
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// `strtok`'s first token of `s` split at any of `delims` (empty tokens skipped).
fn first_token<'a>(s: &'a str, delims: &[char]) -> Option<&'a str> {
    s.split(|c| delims.contains(&c)).find(|t| !t.is_empty())
}

/// Cut `s` to at most `max` bytes on a character boundary (stock copies into fixed buffers).
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `upscli_splitname`: `upsname[@hostname[:port]]`, host `localhost` and port 3493 by
/// default. Complaints go to stderr as stock's do; `Err` means "invalid definition".
pub(crate) fn split_name(arg: Option<&str>) -> StdResult<Target, ()> {
    let arg = arg.ok_or(())?;
    let tmp = cut(arg, SPLIT_MAX);
    if tmp.is_empty() {
        eprintln!("upscli_splitname: can't parse empty string");
        return Err(());
    }
    // (stock crashes on a name made only of '@')
    let ups = first_token(tmp, &['@']).ok_or(())?.to_owned();
    match tmp.find('@') {
        None => Ok(Target {
            ups,
            host: "localhost".into(),
            port: DEFAULT_PORT,
        }),
        Some(at) => {
            let (host, port) = split_addr(&tmp[at + 1..])?;
            Ok(Target { ups, host, port })
        }
    }
}

/// `upscli_splitaddr`: `hostname[:port]` or `[literal][:port]`.
pub(crate) fn split_addr(arg: &str) -> StdResult<(String, u16), ()> {
    let tmp = cut(arg, SPLIT_MAX);
    if tmp.is_empty() {
        eprintln!("upscli_splitaddr: can't parse empty string");
        return Err(());
    }
    let (host, port_part) = if let Some(inner) = tmp.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            eprintln!("upscli_splitaddr: missing closing bracket in [domain literal]");
            return Err(());
        };
        let host = first_token(inner, &[']']).ok_or(())?;
        let rest = &inner[close + 1..];
        match rest.strip_prefix(':') {
            Some(port) => (host, port),
            None => return Ok((host.to_owned(), DEFAULT_PORT)),
        }
    } else {
        let host = first_token(tmp, &[':']).ok_or(())?;
        match tmp.find(':') {
            Some(colon) => (host, &tmp[colon + 1..]),
            None => return Ok((host.to_owned(), DEFAULT_PORT)),
        }
    };
    let port = strtol(port_part);
    if port_part.is_empty() || !(1..=65535).contains(&port) {
        eprintln!("upscli_splitaddr: no port specified after ':' separator");
        return Err(());
    }
    Ok((host.to_owned(), port as u16))
}

/// `strerror(errno)` of an I/O error, without Rust's ` (os error N)`.
pub(crate) fn os_text(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
    };
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text,
    }
}

/// upsclient's table from upsd's `ERR` words to its messages (matched as prefixes, in
/// this order); anything else is "Unknown error".
const UPSD_ERRORS: &[(&str, &str)] = &[
    ("VAR-NOT-SUPPORTED", "Variable not supported by UPS"),
    ("UNKNOWN-UPS", "Unknown UPS"),
    ("ACCESS-DENIED", "Access denied"),
    ("PASSWORD-REQUIRED", "Password required"),
    ("PASSWORD-INCORRECT", "Password incorrect"),
    ("MISSING-ARGUMENT", "Missing argument"),
    ("DATA-STALE", "Data stale"),
    ("VAR-UNKNOWN", "Variable unknown"),
    ("ALREADY-LOGGED-IN", "Already logged in"),
    ("ALREADY-SET-PASSWORD", "Already set password"),
    ("UNKNOWN-TYPE", "Unknown variable type"),
    ("UNKNOWN-VAR", "Unknown variable"),
    ("READONLY", "Read-only variable"),
    ("TOO-LONG", "New value is too long"),
    ("INVALID-VALUE", "Invalid value for variable"),
    ("SET-FAILED", "Set command failed"),
    ("UNKNOWN-INSTCMD", "Unknown instant command"),
    ("INSTCMD-FAILED", "Instant command failed"),
    ("CMD-NOT-SUPPORTED", "Instant command not supported"),
    ("INVALID-USERNAME", "Invalid username"),
    ("ALREADY-SET-USERNAME", "Already set username"),
    ("UNKNOWN-COMMAND", "Unknown command"),
    ("INVALID-PASSWORD", "Invalid password"),
    ("USERNAME-REQUIRED", "Username required"),
    ("DRIVER-NOT-CONNECTED", "Driver not connected"),
];

/// upsclient's text for the words after `ERR `.
fn server_text(rest: &str) -> &'static str {
    UPSD_ERRORS
        .iter()
        .find(|(word, _)| rest.starts_with(word))
        .map_or("Unknown error", |(_, text)| text)
}

/// What `upscli_strerror` says for an error of a connected client.
pub(crate) fn strerror(e: &ClientError) -> String {
    match e {
        ClientError::Server(code) | ClientError::TlsUnavailable(code) => {
            server_text(code.as_str()).to_owned()
        }
        ClientError::ServerOther(rest) => server_text(rest).to_owned(),
        ClientError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            format!("Write error: {}", os_text(io))
        }
        ClientError::Io(io) => format!("Read error: {}", os_text(io)),
        ClientError::Timeout | ClientError::Closed => "Server disconnected".into(),
        ClientError::Tls(text) => format!("SSL error: {text}"),
        ClientError::InvalidRequest(_) => "Invalid argument".into(),
        _ => "Protocol error".into(),
    }
}

/// Why a connection could not be made, as `upscli_strerror` words it.
#[derive(Debug)]
pub(crate) struct ConnectError(pub(crate) String);

/// A connection with stock's exit: `LOGOUT` sent (its answer not awaited) when done.
pub(crate) struct Conn {
    pub(crate) client: Client,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.client.fmt(f)
    }
}

/// Whether to try `STARTTLS` (upsc, upslog's first connection: `UPSCLI_CONN_TRYSSL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tls {
    Try,
    No,
}

impl Conn {
    /// `upscli_connect`: every address of `host` in turn; with [`Tls::Try`], `STARTTLS`
    /// next, going on in clear text when the server does not answer `OK STARTTLS`.
    pub(crate) async fn connect(host: &str, port: u16, tls: Tls) -> StdResult<Conn, ConnectError> {
        let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(_) => return Err(ConnectError("No such host".into())),
        };
        let mut last = ConnectError("No such host".into());
        let mut connected = None;
        for addr in addrs {
            match Client::connect_timeout(addr, None).await {
                Ok(client) => {
                    connected = Some(client);
                    break;
                }
                Err(ClientError::Io(e)) => {
                    last = ConnectError(format!("Connection failure: {}", os_text(&e)));
                }
                Err(e) => last = ConnectError(strerror(&e)),
            }
        }
        let mut client = connected.ok_or(last)?;
        client.set_timeout(Some(DEFAULT_TIMEOUT));
        if tls == Tls::Try {
            // NSS-built stock clients (Debian's) say this as they start TLS without a CA.
            eprintln!("Init SSL without certificate database");
            start_tls(&mut client, host).await?;
        }
        Ok(Conn { client })
    }

    /// Send `request` and read the line that answers it, unchecked (upsclient's
    /// `upscli_sendline` and `upscli_readline`, which stock's upsrw and upscmd use for the
    /// login and the change itself). Failures are worded `<send><error>` and
    /// `<read><error>`.
    pub(crate) async fn raw(
        &mut self,
        request: &Request,
        send: &str,
        read: &str,
    ) -> Result<String> {
        self.client
            .send_line(&request.to_line())
            .await
            .map_err(|e| Error::client(send, e))?;
        self.client
            .read_line()
            .await
            .map_err(|e| Error::client(read, e))
    }

    /// `USERNAME` and `PASSWORD` as upsrw and upscmd send them: the answers are read but not
    /// checked (bad credentials show up as `ACCESS-DENIED` later).
    pub(crate) async fn authenticate(&mut self, user: &str, password: &str) -> Result<()> {
        let user = Request::Username(user.to_owned());
        self.raw(&user, "Can't set username: ", "Set username failed: ")
            .await?;
        let password = Request::Password(password.to_owned());
        self.raw(&password, "Can't set password: ", "Set password failed: ")
            .await?;
        Ok(())
    }

    /// `SET TRACKING ON` for `-w`; `what` is `set variable` (upsrw) or `command` (upscmd).
    pub(crate) async fn enable_tracking(&mut self, what: &str) -> Result<()> {
        let reply = self
            .raw(
                &Request::SetTracking(true),
                &format!("Can't enable {what} status tracking: "),
                &format!("Enabling {what} status tracking failed: "),
            )
            .await?;
        if !reply.starts_with("OK") {
            return Err(Error::fatal(format!(
                "Enabling {what} status tracking failed. upsd answered: {reply}"
            )));
        }
        Ok(())
    }

    /// The answer to a SET or INSTCMD (already read as `reply`), as stock's upsrw and upscmd
    /// report it: anything but `OK...` is fatal; with `-w` and an `OK TRACKING <id>`, ask
    /// `GET TRACKING <id>` every second until it is not `PENDING` or `timeout` seconds have
    /// passed; the last line goes to stderr.
    pub(crate) async fn report(
        &mut self,
        reply: String,
        tracking: bool,
        timeout: u32,
    ) -> Result<()> {
        if !reply.starts_with("OK") {
            return Err(Error::fatal(format!(
                "Unexpected response from upsd: {reply}"
            )));
        }
        let id = match OkReply::parse(&reply) {
            Ok(OkReply::Tracking(id)) if tracking => id,
            _ => {
                eprintln!("{reply}");
                return Ok(());
            }
        };
        let start = now_secs();
        let request = Request::Get(Get::Tracking(Some(id)));
        loop {
            if now_secs().saturating_sub(start) >= u64::from(timeout) {
                return Err(Error::fatal(
                    "Can't receive status tracking information: timeout",
                ));
            }
            self.client
                .send_line(&request.to_line())
                .await
                .map_err(|e| Error::client("Can't send status tracking request: ", e))?;
            let before = self.client.timeout();
            self.client
                .set_timeout(Some(Duration::from_secs(u64::from(timeout))));
            let line = self.client.read_line().await;
            self.client.set_timeout(before);
            let line =
                line.map_err(|e| Error::client("Can't receive status tracking information: ", e))?;
            if !line.starts_with("PENDING") {
                eprintln!("{line}");
                return Ok(());
            }
            tokio::time::sleep(POLL_PAUSE).await;
        }
    }

    /// `upscli_disconnect`: `LOGOUT` without waiting for the answer, then close.
    pub(crate) async fn disconnect(mut self) {
        if self.client.is_open() {
            let _ = self.client.send_line(&Request::Logout.to_line()).await;
        }
    }
}

/// `STARTTLS` without certificate checks (stock's default, `CERTVERIFY 0`), with the
/// messages NSS-built stock clients print; clear text goes on when upsd does not offer TLS.
async fn start_tls(client: &mut Client, host: &str) -> StdResult<(), ConnectError> {
    let config = TlsConfig::dangerous_no_verify(host)
        .or_else(|_| TlsConfig::dangerous_no_verify("localhost"))
        .map_err(|e| ConnectError(strerror(&e)))?;
    match client.starttls(&config).await {
        Ok(()) => {
            eprintln!("Connecting in SSL to '{host}' (no certificate name specified)");
            eprintln!("Do not intend to authenticate server {host}");
            eprintln!("SSL handshake done successfully with server {host}");
            eprintln!("Connected to NUT server {host} in SSL");
            eprintln!("Certificate verification is disabled");
            Ok(())
        }
        Err(ClientError::TlsUnavailable(_))
        | Err(ClientError::Server(_))
        | Err(ClientError::ServerOther(_))
        | Err(ClientError::Protocol(_)) => Ok(()),
        Err(e) => {
            eprintln!("Error while connecting to NUT server {host}, disconnect");
            Err(ConnectError(strerror(&e)))
        }
    }
}

/// `str_to_uint(text, 10)` of NUT's common code: decimal digits only once white space
/// around them is trimmed; the errno of a refusal.
pub(crate) fn str_to_uint(text: &str) -> StdResult<u32, std::io::Error> {
    let invalid = || std::io::Error::from_raw_os_error(libc::EINVAL);
    let range = || std::io::Error::from_raw_os_error(libc::ERANGE);
    let digits = text.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: u128 = digits.parse().map_err(|_| range())?;
    u32::try_from(n).map_err(|_| range())
}

/// `-t <timeout>` of upsrw and upscmd, or stock's fatal message.
pub(crate) fn parse_timeout(arg: &str) -> Result<u32> {
    str_to_uint(arg).map_err(|e| {
        Error::io(
            "Could not convert the provided value for timeout ('-t' option) to unsigned int",
            e,
        )
    })
}

/// Whole seconds, as `time()` counts for stock's tracking timeout.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A second, for the pause between `GET TRACKING` polls.
pub(crate) const POLL_PAUSE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use nut_client::ErrCode;

    /// `code` as upsclient names it.
    fn code_text(code: ErrCode) -> &'static str {
        server_text(code.as_str())
    }

    fn target(ups: &str, host: &str, port: u16) -> StdResult<Target, ()> {
        Ok(Target {
            ups: ups.into(),
            host: host.into(),
            port,
        })
    }

    #[test]
    fn split_name_as_upsclient() {
        assert_eq!(split_name(Some("ups")), target("ups", "localhost", 3493));
        assert_eq!(split_name(Some("ups@h")), target("ups", "h", 3493));
        assert_eq!(split_name(Some("ups@h:10")), target("ups", "h", 10));
        assert_eq!(split_name(Some("ups@h:10x")), target("ups", "h", 10));
        assert_eq!(split_name(Some("ups@[::1]:10")), target("ups", "::1", 10));
        assert_eq!(split_name(Some("ups@[::1]")), target("ups", "::1", 3493));
        assert_eq!(split_name(Some("ups@a@b")), target("ups", "a@b", 3493));
        assert_eq!(split_name(Some("ups@:77")), target("ups", "77", 77));
        for bad in [
            "",
            "ups@",
            "ups@h:",
            "ups@h:0",
            "ups@h:65536",
            "ups@[::1",
            "ups@::1",
        ] {
            assert_eq!(split_name(Some(bad)), Err(()), "{bad}");
        }
        assert_eq!(split_name(None), Err(()));
    }

    #[test]
    fn error_texts_are_upsclients() {
        assert_eq!(code_text(ErrCode::UnknownUps), "Unknown UPS");
        assert_eq!(
            code_text(ErrCode::VarNotSupported),
            "Variable not supported by UPS"
        );
        assert_eq!(code_text(ErrCode::InvalidArgument), "Unknown error");
        assert_eq!(
            strerror(&ClientError::ServerOther("PASSWORD-INCORRECT".into())),
            "Password incorrect"
        );
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(os_text(&refused), "Connection refused");
    }
}
