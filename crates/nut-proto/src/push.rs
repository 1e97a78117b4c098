//! Lines upsd writes without being asked, on a connection that sent `WATCH <ups>` (nut-rs;
//! stock upsd has no such command and never sends these): `STATUS <ups> "<status>"` each
//! time the UPS's `ups.status` changes, the value escaped as in a `VAR` reply and with the
//! `FSD` prefix while the latch is set, exactly what `GET VAR <ups> ups.status` answers.

use crate::escape::word;
use crate::tokenizer::split_line;

/// A pushed line, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pushed {
    /// `STATUS <ups> "<status>"`: the UPS's `ups.status` is now `status` (unescaped).
    Status {
        /// The UPS, spelled as in upsd's ups.conf.
        ups: String,
        /// The new status words.
        status: String,
    },
}

impl Pushed {
    /// The line (with its newline) for UPS `ups` whose status is `escaped`, already escaped
    /// for the wire (the form a `VAR` reply carries).
    pub fn status_line(ups: &str, escaped: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"STATUS ");
        out.extend_from_slice(word(ups).as_bytes());
        out.extend_from_slice(b" \"");
        out.extend_from_slice(escaped.as_bytes());
        out.extend_from_slice(b"\"\n");
    }

    /// Read a line (without its newline): `Some` for a pushed line, `None` for anything
    /// else (a reply to a request).
    pub fn parse(line: &str) -> Option<Pushed> {
        if !line.starts_with("STATUS ") {
            return None;
        }
        let words = split_line(line).ok()?;
        match <[String; 3]>::try_from(words) {
            Ok([_, ups, status]) => Some(Pushed::Status { ups, status }),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_both_ways() {
        let mut out = Vec::new();
        Pushed::status_line("ups", "FSD OB \\\"x\\\"", &mut out);
        assert_eq!(out, b"STATUS ups \"FSD OB \\\"x\\\"\"\n");
        let line = std::str::from_utf8(&out).unwrap().trim_end();
        assert_eq!(
            Pushed::parse(line),
            Some(Pushed::Status {
                ups: "ups".into(),
                status: "FSD OB \"x\"".into()
            })
        );
        for other in [
            "OK WATCHING",
            "1.3",
            "STATUS ups",
            "STATUS a b c",
            "ERR DATA-STALE",
        ] {
            assert_eq!(Pushed::parse(other), None, "{other}");
        }
    }
}
