//! What parsing a line can give instead of a value: the tokenizer's one error, a request upsd
//! refuses, or a reply a client refuses (an `ERR` reply among them, so `?` carries it).

use std::fmt;

use crate::errcode::ErrCode;
use crate::request::Command;

/// Why a request or reply line did not parse into its type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The tokenizer met an unescaped `#` inside a quoted word.
    UnescapedHash,
    /// A request line that is empty or whose first word is no command: upsd answers
    /// `ERR UNKNOWN-COMMAND`.
    UnknownCommand,
    /// The words after a known command do not fit it: upsd answers `ERR INVALID-ARGUMENT`,
    /// after the USERNAME/PASSWORD check of the commands that need one.
    InvalidArgument(Command),
    /// The server answered `ERR <code>`.
    Server(ErrCode),
    /// The server answered `ERR <text>` with a code this crate does not know: the text.
    ServerOther(String),
    /// A reply line without the shape the request calls for.
    UnexpectedReply {
        /// What was wrong with it.
        reason: String,
        /// The line as received.
        line: String,
    },
}

impl ParseError {
    /// A reply `line` refused for `reason`.
    pub(crate) fn unexpected(reason: impl Into<String>, line: &str) -> ParseError {
        ParseError::UnexpectedReply {
            reason: reason.into(),
            line: line.to_owned(),
        }
    }

    /// The code upsd answers a request with this error, if it is one about a request.
    pub fn request_code(&self) -> Option<ErrCode> {
        match self {
            ParseError::UnknownCommand => Some(ErrCode::UnknownCommand),
            ParseError::InvalidArgument(_) => Some(ErrCode::InvalidArgument),
            _ => None,
        }
    }

    /// True for an `ERR` reply of the server (as opposed to a malformed line).
    pub fn is_server_error(&self) -> bool {
        matches!(self, ParseError::Server(_) | ParseError::ServerOther(_))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnescapedHash => {
                f.write_str("Unbalanced word due to unescaped # in quotes")
            }
            ParseError::UnknownCommand => f.write_str("unknown command"),
            ParseError::InvalidArgument(cmd) => write!(f, "invalid arguments to {cmd}"),
            ParseError::Server(code) => write!(f, "server replied ERR {code}"),
            ParseError::ServerOther(text) => write!(f, "server replied ERR {text}"),
            ParseError::UnexpectedReply { reason, line } => write!(f, "{reason}: {line:?}"),
        }
    }
}

impl std::error::Error for ParseError {}
