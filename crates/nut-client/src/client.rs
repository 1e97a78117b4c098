//! The connection: line I/O, reply checks and one method per protocol command.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use nut_proto::{quote, split_line, ErrCode};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
use crate::tls::TlsConfig;

/// Timeout for connecting, for each line written or read, and for the TLS handshake, unless
/// changed with [`Client::set_timeout`]. Stock upsclient waits 5 s for a reply line too.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest reply line accepted (bytes, without the LF). Stock upsd never sends more than 512
/// bytes per line; anything far longer means we are not talking to a NUT server.
pub const MAX_LINE: usize = 4096;

/// Length of a tracking id in `OK TRACKING <id>` (a UUID in `8-4-4-4-12` form).
pub const TRACKING_ID_LEN: usize = 36;

/// Any byte stream the client can run over (TCP, TLS over TCP, or a test pipe).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Io = BufReader<Box<dyn Stream>>;

/// Result of `GET TRACKING <id>`: what the driver made of a tracked SET or INSTCMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingStatus {
    /// The driver has not answered yet.
    Pending,
    /// The driver carried it out.
    Success,
    /// `ERR <code>`: the driver failed (`FAILED`), reported an unknown error or the id is
    /// unknown (`UNKNOWN`), or the arguments were invalid (`INVALID-ARGUMENT`).
    Failed(ErrCode),
}

/// One connection to a NUT server (upsd).
///
/// Requests are strictly sequential: every method sends one line and reads its whole reply.
/// After an I/O error or a timeout the connection is closed and every later call returns
/// [`Error::Closed`]; connect again.
pub struct Client {
    io: Option<Io>,
    timeout: Option<Duration>,
    tls: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("open", &self.io.is_some())
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

async fn timed<T>(limit: Option<Duration>, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| Error::Timeout)?,
        None => fut.await,
    }
}

/// One argument as it goes on the wire: bare when the server's tokenizer keeps it as is,
/// else in quotes with `"`, `\` and `#` escaped. Plain names therefore go out exactly as
/// stock clients send them.
fn arg(word: &str) -> Cow<'_, str> {
    let bare = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'#' | b'='));
    if bare {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(quote(word))
    }
}

/// `verb` followed by each argument, encoded with [`arg`].
fn command(verb: &str, args: &[&str]) -> String {
    let mut line = verb.to_owned();
    for word in args {
        line.push(' ');
        line.push_str(&arg(word));
    }
    line
}

/// `ERR <code> ...` becomes the matching error; any other line passes.
fn err_check(line: &str) -> Result<()> {
    // Like upsclient: any line starting with the three letters ERR is an error.
    let Some(rest) = line.strip_prefix("ERR") else {
        return Ok(());
    };
    let rest = rest.trim_start();
    Err(match ErrCode::from_reply(rest) {
        Some(code) => Error::Server(code),
        None => Error::ServerOther(rest.to_owned()),
    })
}

fn words(line: &str) -> Result<Vec<String>> {
    split_line(line).map_err(|e| Error::Protocol(format!("{e}: {line:?}")))
}

/// True when `words` starts with the `query` words, compared case-insensitively.
fn echoes(query: &[&str], words: &[String]) -> bool {
    words.len() >= query.len()
        && query
            .iter()
            .zip(words)
            .all(|(q, w)| q.eq_ignore_ascii_case(w))
}

fn expect_ok(line: &str) -> Result<()> {
    if line.starts_with("OK") {
        Ok(())
    } else {
        Err(Error::Protocol(format!("expected OK, got {line:?}")))
    }
}

/// The id of `OK TRACKING <id>`, only when the line has exactly the length upscmd requires.
fn tracking_id(line: &str) -> Option<String> {
    let id = line.strip_prefix("OK TRACKING ")?;
    (id.len() == TRACKING_ID_LEN).then(|| id.to_owned())
}

fn first(mut rest: Vec<String>, what: &str) -> Result<String> {
    if rest.is_empty() {
        return Err(Error::Protocol(format!("no value in the reply to {what}")));
    }
    Ok(rest.swap_remove(0))
}

fn pairs(items: Vec<Vec<String>>, what: &str) -> Result<Vec<(String, String)>> {
    items
        .into_iter()
        .map(|item| {
            let mut it = item.into_iter();
            match (it.next(), it.next()) {
                (Some(a), Some(b)) => Ok((a, b)),
                _ => Err(Error::Protocol(format!("short item in {what}"))),
            }
        })
        .collect()
}

fn singles(items: Vec<Vec<String>>, what: &str) -> Result<Vec<String>> {
    items.into_iter().map(|item| first(item, what)).collect()
}

impl Client {
    /// Connect over TCP with [`DEFAULT_TIMEOUT`] (which also becomes the I/O timeout).
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Client> {
        Client::connect_timeout(addr, Some(DEFAULT_TIMEOUT)).await
    }

    /// Connect over TCP; `timeout` bounds name resolution plus connect and becomes the I/O
    /// timeout (`None`: wait forever).
    pub async fn connect_timeout(
        addr: impl ToSocketAddrs,
        timeout: Option<Duration>,
    ) -> Result<Client> {
        let tcp = timed(timeout, async { Ok(TcpStream::connect(addr).await?) }).await?;
        // Requests are single lines answered before the next one: nothing to coalesce.
        tcp.set_nodelay(true)?;
        let mut client = Client::from_stream(tcp);
        client.timeout = timeout;
        Ok(client)
    }

    /// Run the protocol over an already connected stream, with [`DEFAULT_TIMEOUT`].
    pub fn from_stream<S>(stream: S) -> Client
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Client {
            io: Some(BufReader::new(Box::new(stream) as Box<dyn Stream>)),
            timeout: Some(DEFAULT_TIMEOUT),
            tls: false,
        }
    }

    /// Change the timeout for each later write, reply line and TLS handshake.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The current I/O timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// True after a successful [`Client::starttls`].
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// False once the connection was closed by an error or [`Client::logout`].
    pub fn is_open(&self) -> bool {
        self.io.is_some()
    }

    // ---- low level -------------------------------------------------------------------

    /// Send one request line; the LF is added here. A line containing LF is refused.
    pub async fn send_line(&mut self, line: &str) -> Result<()> {
        if line.contains('\n') {
            return Err(Error::InvalidRequest(format!(
                "line feed inside a request: {line:?}"
            )));
        }
        if line.starts_with("PASSWORD") {
            tracing::trace!("C: PASSWORD <hidden>");
        } else {
            tracing::trace!("C: {line}");
        }
        let io = self.io.as_mut().ok_or(Error::Closed)?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let res = timed(self.timeout, async {
            io.write_all(&bytes).await?;
            io.flush().await?;
            Ok(())
        })
        .await;
        if res.is_err() {
            self.io = None;
        }
        res
    }

    /// Read one reply line, without its LF (a CR before it is dropped too). Bytes that are
    /// not UTF-8 are replaced (the tokenizer drops all non-ASCII anyway). EOF gives
    /// [`Error::Closed`]; a line longer than [`MAX_LINE`] is a protocol error. Any error here
    /// closes the connection.
    pub async fn read_line(&mut self) -> Result<String> {
        let io = self.io.as_mut().ok_or(Error::Closed)?;
        let res = timed(self.timeout, read_line_from(io)).await;
        match &res {
            Ok(line) => tracing::trace!("S: {line}"),
            Err(_) => self.io = None,
        }
        res
    }

    /// Read a reply line and return it with its words; `ERR ...` becomes an error.
    async fn reply(&mut self) -> Result<(String, Vec<String>)> {
        let line = self.read_line().await?;
        err_check(&line)?;
        let words = words(&line)?;
        Ok((line, words))
    }

    /// Send `line` and read a one-line reply that must not be `ERR`; return the raw line.
    async fn raw_request(&mut self, line: &str) -> Result<String> {
        self.send_line(line).await?;
        let reply = self.read_line().await?;
        err_check(&reply)?;
        Ok(reply)
    }

    /// Send `line`, expect a reply starting with `OK`; return the whole reply line.
    async fn request_ok(&mut self, line: &str) -> Result<String> {
        let reply = self.raw_request(line).await?;
        expect_ok(&reply)?;
        Ok(reply)
    }

    /// Send `line` and return the words of the single-line reply (unescaped by the
    /// tokenizer). `ERR <code>` gives [`Error::Server`] (or [`Error::ServerOther`]).
    pub async fn request(&mut self, line: &str) -> Result<Vec<String>> {
        self.send_line(line).await?;
        Ok(self.reply().await?.1)
    }

    /// `GET <query...>`: checks that the reply starts with the query words
    /// (case-insensitively, as upsclient does) and returns the words after them.
    pub async fn get(&mut self, query: &[&str]) -> Result<Vec<String>> {
        self.send_line(&command("GET", query)).await?;
        let (line, mut words) = self.reply().await?;
        if !echoes(query, &words) {
            return Err(Error::Protocol(format!(
                "reply {line:?} does not echo {:?}",
                query.join(" ")
            )));
        }
        Ok(words.split_off(query.len()))
    }

    /// `LIST <query...>`: expects `BEGIN LIST <query...>`, then items that start with the
    /// query words (case-insensitively), up to a line whose first two words are exactly `END`
    /// and `LIST`. Returns each item's words after the query words.
    ///
    /// An `ERR` instead of `BEGIN LIST` leaves the connection usable. Any other failure
    /// (a wrong `BEGIN LIST` line, an `ERR` or a malformed line inside the list) closes it,
    /// since the rest of the list could not be told apart from later replies.
    pub async fn list(&mut self, query: &[&str]) -> Result<Vec<Vec<String>>> {
        self.send_line(&command("LIST", query)).await?;
        let line = self.read_line().await?;
        // An ERR instead of BEGIN LIST is a complete one-line reply.
        err_check(&line)?;
        let res = self.list_items(query, &line).await;
        if res.is_err() {
            self.io = None;
        }
        res
    }

    async fn list_items(&mut self, query: &[&str], begin: &str) -> Result<Vec<Vec<String>>> {
        let words = words(begin)?;
        let begins = words.len() >= 2
            && words[0].eq_ignore_ascii_case("BEGIN")
            && words[1].eq_ignore_ascii_case("LIST")
            && echoes(query, &words[2..]);
        if !begins {
            return Err(Error::Protocol(format!(
                "expected BEGIN LIST {}, got {begin:?}",
                query.join(" ")
            )));
        }
        let mut items = Vec::new();
        loop {
            let (line, mut words) = self.reply().await?;
            if words.len() >= 2 && words[0] == "END" && words[1] == "LIST" {
                return Ok(items);
            }
            if !echoes(query, &words) {
                return Err(Error::Protocol(format!(
                    "list item {line:?} does not start with {:?}",
                    query.join(" ")
                )));
            }
            items.push(words.split_off(query.len()));
        }
    }

    // ---- TLS ---------------------------------------------------------------------------

    /// `STARTTLS`, then a TLS client handshake on the same socket; later traffic is
    /// encrypted. Like upsclient, any reply whose first 11 characters are `OK STARTTLS`
    /// starts the handshake. `ERR FEATURE-NOT-CONFIGURED` / `FEATURE-NOT-SUPPORTED` give
    /// [`Error::TlsUnavailable`] and leave the clear-text connection usable. A failed
    /// handshake gives [`Error::Tls`] and closes the connection.
    pub async fn starttls(&mut self, tls: &TlsConfig) -> Result<()> {
        self.send_line("STARTTLS").await?;
        let line = self.read_line().await?;
        if !line.starts_with("OK STARTTLS") {
            err_check(&line).map_err(|e| match e {
                Error::Server(
                    code @ (ErrCode::FeatureNotConfigured | ErrCode::FeatureNotSupported),
                ) => Error::TlsUnavailable(code),
                other => other,
            })?;
            return Err(Error::Protocol(format!(
                "expected OK STARTTLS, got {line:?}"
            )));
        }
        let reader = self.io.take().ok_or(Error::Closed)?;
        if !reader.buffer().is_empty() {
            return Err(Error::Protocol(
                "server sent data between OK STARTTLS and the handshake".into(),
            ));
        }
        let stream = reader.into_inner();
        let connector = TlsConnector::from(tls.config.clone());
        let name = tls.server_name.clone();
        let tls_stream = timed(self.timeout, async {
            connector
                .connect(name, stream)
                .await
                .map_err(|e| Error::Tls(e.to_string()))
        })
        .await?;
        self.io = Some(BufReader::new(Box::new(tls_stream) as Box<dyn Stream>));
        self.tls = true;
        Ok(())
    }

    // ---- GET ---------------------------------------------------------------------------

    /// `GET VAR <ups> <var>` → the value (unescaped).
    pub async fn get_var(&mut self, ups: &str, var: &str) -> Result<String> {
        first(self.get(&["VAR", ups, var]).await?, "GET VAR")
    }

    /// `GET TYPE <ups> <var>` → the type words, e.g. `["RW", "STRING:32"]` or `["NUMBER"]`.
    pub async fn get_type(&mut self, ups: &str, var: &str) -> Result<Vec<String>> {
        let rest = self.get(&["TYPE", ups, var]).await?;
        if rest.is_empty() {
            return Err(Error::Protocol("no type in the reply to GET TYPE".into()));
        }
        Ok(rest)
    }

    /// `GET DESC <ups> <var>` → the variable's description.
    pub async fn get_desc(&mut self, ups: &str, var: &str) -> Result<String> {
        first(self.get(&["DESC", ups, var]).await?, "GET DESC")
    }

    /// `GET CMDDESC <ups> <cmd>` → the instant command's description.
    pub async fn get_cmddesc(&mut self, ups: &str, cmd: &str) -> Result<String> {
        first(self.get(&["CMDDESC", ups, cmd]).await?, "GET CMDDESC")
    }

    /// `GET UPSDESC <ups>` → the `desc` from ups.conf (`Unavailable` when unset).
    pub async fn get_upsdesc(&mut self, ups: &str) -> Result<String> {
        first(self.get(&["UPSDESC", ups]).await?, "GET UPSDESC")
    }

    /// `GET NUMLOGINS <ups>` → how many connections did `LOGIN` to this UPS.
    pub async fn get_numlogins(&mut self, ups: &str) -> Result<u32> {
        let value = first(self.get(&["NUMLOGINS", ups]).await?, "GET NUMLOGINS")?;
        value
            .parse()
            .map_err(|_| Error::Protocol(format!("NUMLOGINS is not a number: {value:?}")))
    }

    // ---- LIST --------------------------------------------------------------------------

    /// `LIST UPS` → `(name, description)` pairs.
    pub async fn list_ups(&mut self) -> Result<Vec<(String, String)>> {
        pairs(self.list(&["UPS"]).await?, "LIST UPS")
    }

    /// `LIST VAR <ups>` → `(variable, value)` pairs.
    pub async fn list_var(&mut self, ups: &str) -> Result<Vec<(String, String)>> {
        pairs(self.list(&["VAR", ups]).await?, "LIST VAR")
    }

    /// `LIST RW <ups>` → `(variable, value)` pairs of the writable variables.
    pub async fn list_rw(&mut self, ups: &str) -> Result<Vec<(String, String)>> {
        pairs(self.list(&["RW", ups]).await?, "LIST RW")
    }

    /// `LIST CMD <ups>` → instant command names.
    pub async fn list_cmd(&mut self, ups: &str) -> Result<Vec<String>> {
        singles(self.list(&["CMD", ups]).await?, "LIST CMD")
    }

    /// `LIST ENUM <ups> <var>` → the allowed values.
    pub async fn list_enum(&mut self, ups: &str, var: &str) -> Result<Vec<String>> {
        singles(self.list(&["ENUM", ups, var]).await?, "LIST ENUM")
    }

    /// `LIST RANGE <ups> <var>` → `(min, max)` pairs.
    pub async fn list_range(&mut self, ups: &str, var: &str) -> Result<Vec<(String, String)>> {
        pairs(self.list(&["RANGE", ups, var]).await?, "LIST RANGE")
    }

    /// `LIST CLIENT <ups>` → addresses of the connections logged in to this UPS.
    pub async fn list_client(&mut self, ups: &str) -> Result<Vec<String>> {
        singles(self.list(&["CLIENT", ups]).await?, "LIST CLIENT")
    }

    // ---- session -----------------------------------------------------------------------

    /// `USERNAME <name>`. Sent bare like stock clients; only a name the bare form would
    /// break (space, `"`, `\`, `#`, `=`, empty) is quoted and escaped. The server checks
    /// nothing here; bad credentials show up later as `ACCESS-DENIED`.
    pub async fn username(&mut self, user: &str) -> Result<()> {
        self.request_ok(&command("USERNAME", &[user]))
            .await
            .map(drop)
    }

    /// `PASSWORD <password>`, encoded like [`Client::username`].
    pub async fn password(&mut self, password: &str) -> Result<()> {
        self.request_ok(&command("PASSWORD", &[password]))
            .await
            .map(drop)
    }

    /// `LOGIN <ups>`: counts this connection in the UPS's NUMLOGINS.
    pub async fn login(&mut self, ups: &str) -> Result<()> {
        self.request_ok(&command("LOGIN", &[ups])).await.map(drop)
    }

    /// `PRIMARY <ups>`; if the reply is anything but `OK...`, retries with the older
    /// `MASTER <ups>` (as upsmon 2.8 does) and reports that attempt's result.
    pub async fn primary(&mut self, ups: &str) -> Result<()> {
        self.send_line(&command("PRIMARY", &[ups])).await?;
        if self.read_line().await?.starts_with("OK") {
            return Ok(());
        }
        self.request_ok(&command("MASTER", &[ups])).await.map(drop)
    }

    /// `FSD <ups>`: sets the forced-shutdown flag on the server.
    pub async fn fsd(&mut self, ups: &str) -> Result<()> {
        self.request_ok(&command("FSD", &[ups])).await.map(drop)
    }

    /// `SET VAR <ups> <var> "<value>"` (value always quoted and escaped, like upsrw).
    /// Returns the tracking id when tracking is on (`OK TRACKING <36 chars>`), else `None`.
    pub async fn set_var(&mut self, ups: &str, var: &str, value: &str) -> Result<Option<String>> {
        let line = format!("SET VAR {} {} {}", arg(ups), arg(var), quote(value));
        Ok(tracking_id(&self.request_ok(&line).await?))
    }

    /// `INSTCMD <ups> <cmd> [<param>]`. Returns the tracking id like [`Client::set_var`].
    pub async fn instcmd(
        &mut self,
        ups: &str,
        cmd: &str,
        param: Option<&str>,
    ) -> Result<Option<String>> {
        let line = match param {
            Some(param) => command("INSTCMD", &[ups, cmd, param]),
            None => command("INSTCMD", &[ups, cmd]),
        };
        Ok(tracking_id(&self.request_ok(&line).await?))
    }

    /// `SET TRACKING ON|OFF`: whether later SET/INSTCMD replies carry a tracking id.
    pub async fn set_tracking(&mut self, on: bool) -> Result<()> {
        let line = if on {
            "SET TRACKING ON"
        } else {
            "SET TRACKING OFF"
        };
        self.request_ok(line).await.map(drop)
    }

    /// `GET TRACKING <id>`. `ERR FEATURE-NOT-CONFIGURED` (tracking is off on this
    /// connection) is an error; other known `ERR` codes are the tracked result.
    pub async fn get_tracking(&mut self, id: &str) -> Result<TrackingStatus> {
        self.send_line(&command("GET", &["TRACKING", id])).await?;
        let line = self.read_line().await?;
        match err_check(&line) {
            Err(Error::Server(ErrCode::FeatureNotConfigured)) => {
                Err(Error::Server(ErrCode::FeatureNotConfigured))
            }
            Err(Error::Server(code)) => Ok(TrackingStatus::Failed(code)),
            Err(other) => Err(other),
            Ok(()) => match line.trim_end() {
                "PENDING" => Ok(TrackingStatus::Pending),
                "SUCCESS" => Ok(TrackingStatus::Success),
                _ => Err(Error::Protocol(format!(
                    "expected PENDING, SUCCESS or ERR, got {line:?}"
                ))),
            },
        }
    }

    /// `VER` → the server's version line, as sent.
    pub async fn ver(&mut self) -> Result<String> {
        self.raw_request("VER").await
    }

    /// `NETVER` → the protocol version, e.g. `1.3`.
    pub async fn netver(&mut self) -> Result<String> {
        Ok(self.raw_request("NETVER").await?.trim().to_owned())
    }

    /// `LOGOUT`: waits for `OK Goodbye` (or the pre-1.5 `Goodbye...`), then closes.
    pub async fn logout(&mut self) -> Result<()> {
        let reply = self.raw_request("LOGOUT").await;
        let mut io = self.io.take();
        if let Some(io) = io.as_mut() {
            // The server closes on its side anyway; a failed shutdown changes nothing.
            let _ = timed(self.timeout, async { Ok(io.shutdown().await?) }).await;
        }
        let reply = reply?;
        if reply.starts_with("OK") || reply.starts_with("Goodbye") {
            Ok(())
        } else {
            Err(Error::Protocol(format!(
                "expected OK Goodbye, got {reply:?}"
            )))
        }
    }
}

async fn read_line_from(io: &mut Io) -> Result<String> {
    let mut line = Vec::new();
    loop {
        let buf = io.fill_buf().await?;
        if buf.is_empty() {
            return Err(Error::Closed);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..chunk]);
        io.consume(if done { chunk + 1 } else { chunk });
        if line.len() > MAX_LINE {
            return Err(Error::Protocol(format!(
                "reply line longer than {MAX_LINE} bytes"
            )));
        }
        if done {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_bare_unless_the_tokenizer_would_change_them() {
        assert_eq!(
            command("GET", &["VAR", "ups", "ups.status"]),
            "GET VAR ups ups.status"
        );
        assert_eq!(command("PASSWORD", &["s3cr!t'x"]), "PASSWORD s3cr!t'x");
        assert_eq!(command("PASSWORD", &["a b"]), "PASSWORD \"a b\"");
        assert_eq!(command("PASSWORD", &["a#b"]), r#"PASSWORD "a\#b""#);
        assert_eq!(command("PASSWORD", &["a=b"]), "PASSWORD \"a=b\"");
        assert_eq!(command("PASSWORD", &[r#"q"\"#]), r#"PASSWORD "q\"\\""#);
        assert_eq!(command("PASSWORD", &[""]), "PASSWORD \"\"");
        // Whatever we send, the server's tokenizer gets the argument back intact.
        for s in ["a b", "a#b", "a=b", r#"q"\"#, "", "x"] {
            assert_eq!(
                split_line(&command("X", &[s])).expect("parses"),
                ["X".to_string(), s.to_string()]
            );
        }
    }

    #[test]
    fn err_lines_map_to_codes() {
        assert!(matches!(
            err_check("ERR ACCESS-DENIED"),
            Err(Error::Server(ErrCode::AccessDenied))
        ));
        assert!(matches!(
            err_check("ERR ACCESS-DENIED \"SSL trust failed\""),
            Err(Error::Server(ErrCode::AccessDenied))
        ));
        match err_check("ERR SOMETHING-NEW extra") {
            Err(Error::ServerOther(text)) => assert_eq!(text, "SOMETHING-NEW extra"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err_check("OK").is_ok());
        assert!(err_check("VAR ups x \"ERR\"").is_ok());
    }

    #[test]
    fn tracking_id_needs_exactly_36_characters() {
        let id = "2DDC5036-F665-4D29-BE4C-0374D091D263";
        assert_eq!(
            tracking_id(&format!("OK TRACKING {id}")),
            Some(id.to_owned())
        );
        assert_eq!(tracking_id(&format!("OK TRACKING {id}X")), None);
        assert_eq!(tracking_id(&format!("OK TRACKING {}", &id[1..])), None);
        assert_eq!(tracking_id("OK"), None);
    }
}
