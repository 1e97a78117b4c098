//! The connection: line I/O, and one method per protocol command, each sending a
//! [`Request`] rendered by nut-proto and reading the answer through its checks.

use std::future::Future;
use std::time::Duration;

use nut_proto::{
    check_err, split_line, ErrCode, Get, GetReply, List, ListItem, OkReply, Reply, Request,
    TrackingStatus,
};
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

/// Any byte stream the client can run over (TCP, TLS over TCP, or a test pipe).
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub(crate) type Io = BufReader<Box<dyn Stream>>;

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

/// An answer of a shape its request never parses to.
fn mismatch(reply: impl std::fmt::Debug) -> Error {
    Error::Protocol(format!("unexpected reply {reply:?}"))
}

fn get_text(reply: GetReply<'_>) -> Result<String> {
    match reply {
        GetReply::UpsDesc { desc: text, .. }
        | GetReply::Var { value: text, .. }
        | GetReply::Desc { text, .. }
        | GetReply::CmdDesc { text, .. } => Ok(text.into_string()),
        other => Err(mismatch(other)),
    }
}

fn tracking_id(ok: OkReply) -> Option<String> {
    match ok {
        OkReply::Tracking(id) => Some(id),
        _ => None,
    }
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

    /// The connection, handed to a [`crate::Watcher`].
    pub(crate) fn take_io(&mut self) -> Option<Io> {
        self.io.take()
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

    /// Send `request` and read the first line of its answer through the request's checks.
    async fn ask(&mut self, request: &Request) -> Result<Reply<'static>> {
        self.send_line(&request.to_line()).await?;
        let line = self.read_line().await?;
        Ok(request.parse_reply(&line)?)
    }

    /// Send a request answered with `OK ...`; returns which `OK`.
    pub(crate) async fn ask_ok(&mut self, request: Request) -> Result<OkReply> {
        match self.ask(&request).await? {
            Reply::Ok(ok) => Ok(ok),
            other => Err(mismatch(other)),
        }
    }

    /// Send `line` and return the words of the single-line reply (unescaped by the
    /// tokenizer). `ERR <code>` gives [`Error::Server`] (or [`Error::ServerOther`]).
    pub async fn request(&mut self, line: &str) -> Result<Vec<String>> {
        self.send_line(line).await?;
        let reply = self.read_line().await?;
        check_err(&reply)?;
        split_line(&reply).map_err(|e| Error::Protocol(format!("{e}: {reply:?}")))
    }

    /// `GET <query>`: the answer, its echo of the query checked.
    async fn get(&mut self, query: Get) -> Result<GetReply<'static>> {
        match self.ask(&Request::Get(query)).await? {
            Reply::Get(reply) => Ok(reply),
            other => Err(mismatch(other)),
        }
    }

    /// `LIST <query>`: the items, each checked against the query, up to `END LIST`.
    ///
    /// An `ERR` instead of `BEGIN LIST` leaves the connection usable. Any other failure
    /// (a wrong `BEGIN LIST` line, an `ERR` or a malformed line inside the list) closes it,
    /// since the rest of the list could not be told apart from later replies.
    async fn list(&mut self, query: List) -> Result<Vec<ListItem<'static>>> {
        self.send_line(&Request::List(query.clone()).to_line())
            .await?;
        let line = self.read_line().await?;
        // An ERR instead of BEGIN LIST is a complete one-line reply.
        check_err(&line)?;
        let res = self.list_items(&query, &line).await;
        if res.is_err() {
            self.io = None;
        }
        res
    }

    async fn list_items(&mut self, query: &List, begin: &str) -> Result<Vec<ListItem<'static>>> {
        query.parse_begin(begin)?;
        let mut items = Vec::new();
        loop {
            let line = self.read_line().await?;
            match query.parse_item(&line)? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
    }

    // ---- TLS ---------------------------------------------------------------------------

    /// `STARTTLS`, then a TLS client handshake on the same socket; later traffic is
    /// encrypted. Like upsclient, any reply whose first 11 characters are `OK STARTTLS`
    /// starts the handshake. `ERR FEATURE-NOT-CONFIGURED` / `FEATURE-NOT-SUPPORTED` give
    /// [`Error::TlsUnavailable`] and leave the clear-text connection usable. A failed
    /// handshake gives [`Error::Tls`] and closes the connection.
    pub async fn starttls(&mut self, tls: &TlsConfig) -> Result<()> {
        match self.ask_ok(Request::StartTls).await {
            Ok(_) => {}
            Err(Error::Server(
                code @ (ErrCode::FeatureNotConfigured | ErrCode::FeatureNotSupported),
            )) => return Err(Error::TlsUnavailable(code)),
            Err(e) => return Err(e),
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
        let (ups, var) = (ups.to_owned(), var.to_owned());
        get_text(self.get(Get::Var { ups, var }).await?)
    }

    /// `GET TYPE <ups> <var>` → the type words, e.g. `["RW", "STRING:32"]` or `["NUMBER"]`.
    pub async fn get_type(&mut self, ups: &str, var: &str) -> Result<Vec<String>> {
        let (ups, var) = (ups.to_owned(), var.to_owned());
        match self.get(Get::Type { ups, var }).await? {
            GetReply::Type { ty, .. } => {
                Ok(ty.words().into_iter().map(|w| w.into_owned()).collect())
            }
            other => Err(mismatch(other)),
        }
    }

    /// `GET DESC <ups> <var>` → the variable's description.
    pub async fn get_desc(&mut self, ups: &str, var: &str) -> Result<String> {
        let (ups, var) = (ups.to_owned(), var.to_owned());
        get_text(self.get(Get::Desc { ups, var }).await?)
    }

    /// `GET CMDDESC <ups> <cmd>` → the instant command's description.
    pub async fn get_cmddesc(&mut self, ups: &str, cmd: &str) -> Result<String> {
        let (ups, cmd) = (ups.to_owned(), cmd.to_owned());
        get_text(self.get(Get::CmdDesc { ups, cmd }).await?)
    }

    /// `GET UPSDESC <ups>` → the `desc` from ups.conf (`Unavailable` when unset).
    pub async fn get_upsdesc(&mut self, ups: &str) -> Result<String> {
        let ups = ups.to_owned();
        get_text(self.get(Get::UpsDesc { ups }).await?)
    }

    /// `GET NUMLOGINS <ups>` → how many connections did `LOGIN` to this UPS.
    pub async fn get_numlogins(&mut self, ups: &str) -> Result<u32> {
        let ups = ups.to_owned();
        match self.get(Get::NumLogins { ups }).await? {
            GetReply::NumLogins { count, .. } => Ok(count),
            other => Err(mismatch(other)),
        }
    }

    // ---- LIST --------------------------------------------------------------------------

    /// `LIST <query>`, each item as `pick` takes it; an item of another kind (which the
    /// query's checks never give) is a protocol error.
    async fn list_as<T>(&mut self, query: List, pick: Pick<T>) -> Result<Vec<T>> {
        let items = self.list(query).await?;
        items
            .into_iter()
            .map(|item| pick(item).map_err(mismatch))
            .collect()
    }

    /// `LIST UPS` → `(name, description)` pairs.
    pub async fn list_ups(&mut self) -> Result<Vec<(String, String)>> {
        self.list_as(List::Ups, |item| match item {
            ListItem::Ups { name, desc } => Ok((name.into_owned(), desc.into_string())),
            other => Err(other),
        })
        .await
    }

    /// `LIST VAR <ups>` → `(variable, value)` pairs.
    pub async fn list_var(&mut self, ups: &str) -> Result<Vec<(String, String)>> {
        let ups = ups.to_owned();
        self.list_as(List::Var { ups }, var_pair).await
    }

    /// `LIST RW <ups>` → `(variable, value)` pairs of the writable variables.
    pub async fn list_rw(&mut self, ups: &str) -> Result<Vec<(String, String)>> {
        let ups = ups.to_owned();
        self.list_as(List::Rw { ups }, var_pair).await
    }

    /// `LIST CMD <ups>` → instant command names.
    pub async fn list_cmd(&mut self, ups: &str) -> Result<Vec<String>> {
        let ups = ups.to_owned();
        self.list_as(List::Cmd { ups }, |item| match item {
            ListItem::Cmd(cmd) => Ok(cmd.into_owned()),
            other => Err(other),
        })
        .await
    }

    /// `LIST ENUM <ups> <var>` → the allowed values.
    pub async fn list_enum(&mut self, ups: &str, var: &str) -> Result<Vec<String>> {
        let (ups, var) = (ups.to_owned(), var.to_owned());
        self.list_as(List::Enum { ups, var }, |item| match item {
            ListItem::Enum(value) => Ok(value.into_string()),
            other => Err(other),
        })
        .await
    }

    /// `LIST RANGE <ups> <var>` → `(min, max)` pairs.
    pub async fn list_range(&mut self, ups: &str, var: &str) -> Result<Vec<(String, String)>> {
        let (ups, var) = (ups.to_owned(), var.to_owned());
        self.list_as(List::Range { ups, var }, |item| match item {
            ListItem::Range { min, max } => Ok((min.into_string(), max.into_string())),
            other => Err(other),
        })
        .await
    }

    /// `LIST CLIENT <ups>` → addresses of the connections logged in to this UPS.
    pub async fn list_client(&mut self, ups: &str) -> Result<Vec<String>> {
        let ups = ups.to_owned();
        self.list_as(List::Client { ups }, |item| match item {
            ListItem::Client { addr, .. } => Ok(addr.into_owned()),
            other => Err(other),
        })
        .await
    }

    // ---- session -----------------------------------------------------------------------

    /// `USERNAME <name>`. Sent bare like stock clients; only a name the bare form would
    /// break (space, `"`, `\`, `#`, `=`, empty) is quoted and escaped. The server checks
    /// nothing here; bad credentials show up later as `ACCESS-DENIED`.
    pub async fn username(&mut self, user: &str) -> Result<()> {
        self.ask_ok(Request::Username(user.to_owned()))
            .await
            .map(drop)
    }

    /// `PASSWORD <password>`, encoded like [`Client::username`].
    pub async fn password(&mut self, password: &str) -> Result<()> {
        self.ask_ok(Request::Password(password.to_owned()))
            .await
            .map(drop)
    }

    /// `LOGIN <ups>`: counts this connection in the UPS's NUMLOGINS.
    pub async fn login(&mut self, ups: &str) -> Result<()> {
        self.ask_ok(Request::Login(ups.to_owned())).await.map(drop)
    }

    /// `PRIMARY <ups>`; if the reply is anything but `OK...`, retries with the older
    /// `MASTER <ups>` (as upsmon 2.8 does) and reports that attempt's result.
    pub async fn primary(&mut self, ups: &str) -> Result<()> {
        let primary = Request::Primary(ups.to_owned());
        self.send_line(&primary.to_line()).await?;
        let line = self.read_line().await?;
        if primary.parse_reply(&line).is_ok() {
            return Ok(());
        }
        self.ask_ok(Request::Master(ups.to_owned())).await.map(drop)
    }

    /// `FSD <ups>`: sets the forced-shutdown flag on the server.
    pub async fn fsd(&mut self, ups: &str) -> Result<()> {
        self.ask_ok(Request::Fsd(ups.to_owned())).await.map(drop)
    }

    /// `CLEARFSD <ups>` (nut-rs's upsd only; stock answers `ERR UNKNOWN-COMMAND`): withdraws
    /// the FSD this connection set, unless another host may have acted on it
    /// (`ERR FSD-SEEN`).
    pub async fn clear_fsd(&mut self, ups: &str) -> Result<()> {
        self.ask_ok(Request::ClearFsd(ups.to_owned()))
            .await
            .map(drop)
    }

    /// `SET VAR <ups> <var> "<value>"` (value always quoted and escaped, like upsrw).
    /// Returns the tracking id when tracking is on (`OK TRACKING <36 chars>`), else `None`.
    pub async fn set_var(&mut self, ups: &str, var: &str, value: &str) -> Result<Option<String>> {
        let request = Request::SetVar {
            ups: ups.to_owned(),
            var: var.to_owned(),
            value: value.to_owned(),
        };
        Ok(tracking_id(self.ask_ok(request).await?))
    }

    /// `INSTCMD <ups> <cmd> [<param>]`. Returns the tracking id like [`Client::set_var`].
    pub async fn instcmd(
        &mut self,
        ups: &str,
        cmd: &str,
        param: Option<&str>,
    ) -> Result<Option<String>> {
        let request = Request::InstCmd {
            ups: ups.to_owned(),
            cmd: cmd.to_owned(),
            param: param.map(str::to_owned),
        };
        Ok(tracking_id(self.ask_ok(request).await?))
    }

    /// `SET TRACKING ON|OFF`: whether later SET/INSTCMD replies carry a tracking id.
    pub async fn set_tracking(&mut self, on: bool) -> Result<()> {
        self.ask_ok(Request::SetTracking(on)).await.map(drop)
    }

    /// `GET TRACKING <id>`. `ERR FEATURE-NOT-CONFIGURED` (tracking is off on this
    /// connection) is an error; other known `ERR` codes are the tracked result.
    pub async fn get_tracking(&mut self, id: &str) -> Result<TrackingStatus> {
        match self.get(Get::Tracking(Some(id.to_owned()))).await? {
            GetReply::Tracking(status) => Ok(status),
            other => Err(mismatch(other)),
        }
    }

    /// `VER` → the server's version line, as sent.
    pub async fn ver(&mut self) -> Result<String> {
        self.text(Request::Ver).await
    }

    /// `NETVER` → the protocol version, e.g. `1.3`.
    pub async fn netver(&mut self) -> Result<String> {
        Ok(self.text(Request::NetVer).await?.trim().to_owned())
    }

    async fn text(&mut self, request: Request) -> Result<String> {
        match self.ask(&request).await? {
            Reply::Text(text) => Ok(text.into_owned()),
            other => Err(mismatch(other)),
        }
    }

    /// `LOGOUT`: waits for `OK Goodbye` (or the pre-1.5 `Goodbye...`), then closes.
    pub async fn logout(&mut self) -> Result<()> {
        let reply = self.ask_ok(Request::Logout).await;
        let mut io = self.io.take();
        if let Some(io) = io.as_mut() {
            // The server closes on its side anyway; a failed shutdown changes nothing.
            let _ = timed(self.timeout, async { Ok(io.shutdown().await?) }).await;
        }
        reply.map(drop)
    }
}

/// How a LIST method takes an item: its value, or the item back when it is of another kind.
type Pick<T> = fn(ListItem<'static>) -> std::result::Result<T, ListItem<'static>>;

/// `(variable, value)` of a LIST VAR or LIST RW item.
fn var_pair(item: ListItem<'static>) -> std::result::Result<(String, String), ListItem<'static>> {
    match item {
        ListItem::Var { var, value, .. } => Ok((var.into_owned(), value.into_string())),
        other => Err(other),
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
