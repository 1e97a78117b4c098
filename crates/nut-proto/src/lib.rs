//! The NUT network protocol without I/O: the `parseconf` tokenizer shared by network requests,
//! the driver socket and every config file, the output escaping rule, the `ERR` codes, and
//! the typed messages of the network protocol, one type both ways:
//!
//! * [`Request`] (with [`Get`] and [`List`]): parsed from the tokenizer's words as upsd
//!   parses them, rendered to the line a stock client sends;
//! * [`Reply`] (with [`OkReply`], [`GetReply`], [`ListReply`]): rendered to the bytes stock
//!   upsd sends, read back by a client with upsclient's checks
//!   ([`Request::parse_reply`], [`List::parse_item`]);
//! * [`Pushed`]: the lines upsd writes unasked after nut-rs's `WATCH`;
//! * [`ParseError`]: what a line can be instead.
//!
//! Everything here works on bytes and strings so it can be unit-tested and fuzzed without
//! sockets. The behaviour follows NUT 2.8.0 (see `shared/spec/net-protocol.md` §2 and §5).

mod errcode;
mod error;
mod escape;
mod get;
mod list;
mod push;
mod reply;
mod request;
mod tokenizer;

pub use errcode::ErrCode;
pub use error::ParseError;
pub use escape::{escape, escape_capped, quote, unescape, word, ESCAPED_VALUE_MAX};
pub use get::{Get, GetReply, TrackingStatus, VarType, DESC_MAX};
pub use list::{List, ListItem, ListReply};
pub use push::Pushed;
pub use reply::{check_err, OkReply, Reply, Text, HELP_TEXT, TRACKING_ID_LEN};
pub use request::{Command, Request};
pub use tokenizer::{split_line, Tokenizer, MAX_WORDS, MAX_WORD_LEN};

/// The IANA port of the NUT network protocol: upsd's LISTEN and upsmon's MONITOR default.
pub const DEFAULT_PORT: u16 = 3493;

/// Network protocol version we implement (answer to `NETVER` / `PROTVER`).
pub const PROTOCOL_VERSION: &str = "1.3";

/// The largest reply line stock upsd sends: longer lines are cut to this many bytes.
pub const MAX_REPLY_LINE: usize = 512;
