//! The client's error type.

use nut_proto::{ErrCode, ParseError};

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed (connect, read or write). The connection is closed afterwards.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The connect, a write, a reply or the TLS handshake took longer than the timeout. The
    /// connection is closed afterwards (a late reply would otherwise answer the next request).
    #[error("timed out")]
    Timeout,
    /// The server closed the connection, or an earlier error already closed it.
    #[error("connection closed")]
    Closed,
    /// The server answered `ERR <code>` with a code we know.
    #[error("server replied ERR {0}")]
    Server(ErrCode),
    /// The server answered `ERR <text>` with a code we do not know; the text after `ERR `.
    #[error("server replied ERR {0}")]
    ServerOther(String),
    /// The reply did not have the expected shape (wrong echo, missing value, not `OK`...).
    #[error("unexpected reply: {0}")]
    Protocol(String),
    /// The request cannot be sent as given (for example a line feed inside an argument).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// TLS setup or the handshake failed. After a failed handshake the connection is closed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// `STARTTLS` was refused with `ERR FEATURE-NOT-CONFIGURED` (no certificate on the
    /// server) or `ERR FEATURE-NOT-SUPPORTED` (server built without TLS). The connection is
    /// still open in clear text, so a caller may carry on without TLS (upsmon's TRYSSL).
    #[error("server does not offer TLS: ERR {0}")]
    TlsUnavailable(ErrCode),
}

impl Error {
    /// The server's error code, for [`Error::Server`] and [`Error::TlsUnavailable`].
    pub fn code(&self) -> Option<ErrCode> {
        match self {
            Error::Server(code) | Error::TlsUnavailable(code) => Some(*code),
            _ => None,
        }
    }
}

/// A reply that failed the request's checks: the server's `ERR`, or a protocol error.
impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        match e {
            ParseError::Server(code) => Error::Server(code),
            ParseError::ServerOther(text) => Error::ServerOther(text),
            other => Error::Protocol(other.to_string()),
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
