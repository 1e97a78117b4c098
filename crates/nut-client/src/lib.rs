//! An async (tokio) client for the NUT network protocol, over plain TCP or upgraded to TLS
//! with `STARTTLS`. It is what our upsmon, CLI tools and interop tests use to talk to upsd
//! (ours or stock NUT's).
//!
//! Each method sends a [`nut_proto::Request`] and reads the answer through that request's
//! checks ([`nut_proto::Request::parse_reply`], [`nut_proto::List::parse_item`]): the shared
//! `parseconf` tokenizer undoes the server's escaping, and replies are checked the way stock
//! NUT's upsclient checks them:
//! `GET`/`LIST` replies must echo the query words (case-insensitively), a list ends at a line
//! whose first two words are exactly `END LIST`, any line starting with `ERR` is an error,
//! `OK` replies are prefix checks, and `OK TRACKING <id>` counts only with a 36-character id.
//! Requests for plain names are byte-for-byte what stock clients send.
//!
//! ```no_run
//! # async fn demo() -> nut_client::Result<()> {
//! use nut_client::{Client, Error, TlsConfig};
//!
//! let mut client = Client::connect("127.0.0.1:3493").await?;
//! match client.starttls(&TlsConfig::from_ca_file("ca.pem", "127.0.0.1")?).await {
//!     Ok(()) | Err(Error::TlsUnavailable(_)) => {} // TLS, or clear text if not offered
//!     Err(e) => return Err(e),
//! }
//! let status = client.get_var("ups", "ups.status").await?;
//! println!("{status}");
//! client.logout().await
//! # }
//! ```

mod client;
mod error;
mod tls;
mod watch;

pub use client::{Client, DEFAULT_TIMEOUT, MAX_LINE};
pub use error::{Error, Result};
pub use nut_proto::ErrCode;
pub use nut_proto::{TrackingStatus, TRACKING_ID_LEN};
pub use tls::TlsConfig;
pub use watch::Watcher;
