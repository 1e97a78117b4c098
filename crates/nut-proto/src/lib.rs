//! The NUT network protocol without I/O: the `parseconf` tokenizer shared by network requests,
//! the driver socket and every config file, the output escaping rule, and the `ERR` codes.
//!
//! Everything here works on bytes and strings so it can be unit-tested and fuzzed without
//! sockets. The behaviour follows NUT 2.8.0 (see `shared/spec/net-protocol.md` §2 and §5).

mod error;
mod escape;
mod tokenizer;

pub use error::ErrCode;
pub use escape::{escape, escape_capped, quote, unescape, ESCAPED_VALUE_MAX};
pub use tokenizer::{split_line, ParseError, Tokenizer, MAX_WORDS, MAX_WORD_LEN};

/// The IANA port of the NUT network protocol: upsd's LISTEN and upsmon's MONITOR default.
pub const DEFAULT_PORT: u16 = 3493;

/// Network protocol version we implement (answer to `NETVER` / `PROTVER`).
pub const PROTOCOL_VERSION: &str = "1.3";

/// The largest reply line stock upsd sends: longer lines are cut to this many bytes.
pub const MAX_REPLY_LINE: usize = 512;
