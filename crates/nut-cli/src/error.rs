//! The one error type: how a tool gives up, worded as stock's `fatalx` and
//! `fatal_with_errno` word it. The tool prints it on stderr and exits with status 1.

use crate::conn::{os_text, strerror};

/// Why a tool stopped (exit status 1; the text is stock's message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message printed as it is (`fatalx`).
    #[error("{0}")]
    Fatal(String),
    /// A request failed: the context stock puts first, then upsclient's text for the error.
    #[error("{context}{}", strerror(.source))]
    Client {
        /// The start of the message, e.g. `Error: `.
        context: String,
        /// What the client reported.
        source: nut_client::Error,
    },
    /// A system call failed (`fatal_with_errno`): `<what>: <strerror>`.
    #[error("{what}: {}", os_text(.source))]
    Io {
        /// What was being done.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
}

impl Error {
    /// A `fatalx` message.
    pub(crate) fn fatal(message: impl Into<String>) -> Error {
        Error::Fatal(message.into())
    }

    /// `<context><upscli_strerror>`.
    pub(crate) fn client(context: impl Into<String>, source: nut_client::Error) -> Error {
        Error::Client {
            context: context.into(),
            source,
        }
    }

    /// `<what>: <strerror>`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// Result alias for the tools.
pub type Result<T> = std::result::Result<T, Error>;
