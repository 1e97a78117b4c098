//! Replies, as upsd renders them and a client reads them back: [`Reply`] renders to the exact
//! bytes stock upsd 2.8.0 sends (each line cut at 512 bytes with its newline, values escaped
//! with upsd's limits), and the `parse_reply` methods of the requests check a reply line the
//! way stock upsclient does.
//!
//! Rendering appends to one buffer: a whole reply, a LIST of any length included, is built
//! without a string per line, so upsd can send everything one read asked for in one write.

use std::borrow::Cow;
use std::io::Write as _;

use crate::errcode::ErrCode;
use crate::error::ParseError;
use crate::escape::{push_escaped, unescape};
use crate::get::GetReply;
use crate::list::ListReply;
use crate::tokenizer::split_line;
use crate::MAX_REPLY_LINE;

/// Length of the id in `OK TRACKING <id>` (a UUID in `8-4-4-4-12` form); stock clients take
/// the reply as a tracking id only at exactly this length.
pub const TRACKING_ID_LEN: usize = 36;

/// HELP's answer in 2.8.0 (PROTVER, PRIMARY and FSD exist but are not listed).
pub const HELP_TEXT: &str =
    "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS";

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `OK ...`.
    Ok(OkReply),
    /// `ERR <code>`.
    Err(ErrCode),
    /// A line sent as it is: VER's version line, NETVER's version, HELP's command list.
    Text(Cow<'a, str>),
    /// The one-line answer to a GET.
    Get(GetReply<'a>),
    /// `BEGIN LIST ...`, the items, `END LIST ...`.
    List(ListReply<'a>),
    /// Lines a [`Reply`] rendered earlier, sent as they are: upsd keeps a long LIST reply
    /// rendered while what it shows does not change.
    Rendered(&'a [u8]),
}

impl From<ErrCode> for Reply<'_> {
    fn from(code: ErrCode) -> Self {
        Reply::Err(code)
    }
}

impl From<OkReply> for Reply<'_> {
    fn from(ok: OkReply) -> Self {
        Reply::Ok(ok)
    }
}

impl Reply<'_> {
    /// Append the reply's bytes to `out`.
    pub fn render_into(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Ok(ok) => line(out, |o| ok.write(o)),
            Reply::Err(code) => line(out, |o| write_err(o, *code)),
            Reply::Text(text) => line(out, |o| o.extend_from_slice(text.as_bytes())),
            Reply::Get(get) => get.render_into(out),
            Reply::List(list) => list.render_into(out),
            Reply::Rendered(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// The reply's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(&mut out);
        out
    }
}

/// The `OK` replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OkReply {
    /// `OK`: USERNAME, PASSWORD, LOGIN, SET TRACKING, and SET or INSTCMD without tracking.
    /// A client reads any other line that starts with `OK` as this one too.
    Plain,
    /// `OK Goodbye`: LOGOUT; the server closes the connection.
    Goodbye,
    /// `OK PRIMARY-GRANTED`.
    PrimaryGranted,
    /// `OK MASTER-GRANTED`.
    MasterGranted,
    /// `OK FSD-SET`.
    FsdSet,
    /// `OK FSD-CLEARED` (nut-rs: the answer to `CLEARFSD`).
    FsdCleared,
    /// `OK WATCHING` (nut-rs: the answer to `WATCH`; status lines follow as they change).
    Watching,
    /// `OK STARTTLS`: the TLS handshake starts right after this line.
    StartTls,
    /// `OK TRACKING <id>`: SET or INSTCMD handed to the driver; GET TRACKING `<id>` asks how
    /// it went.
    Tracking(String),
}

impl OkReply {
    fn write(&self, out: &mut Vec<u8>) {
        let text = match self {
            OkReply::Plain => "OK",
            OkReply::Goodbye => "OK Goodbye",
            OkReply::PrimaryGranted => "OK PRIMARY-GRANTED",
            OkReply::MasterGranted => "OK MASTER-GRANTED",
            OkReply::FsdSet => "OK FSD-SET",
            OkReply::FsdCleared => "OK FSD-CLEARED",
            OkReply::Watching => "OK WATCHING",
            OkReply::StartTls => "OK STARTTLS",
            OkReply::Tracking(id) => {
                out.extend_from_slice(b"OK TRACKING ");
                id.as_str()
            }
        };
        out.extend_from_slice(text.as_bytes());
    }

    /// Read an `OK` line as upsclient does: `ERR` is the server's error, anything else that
    /// does not start with `OK` is refused, and `OK TRACKING <id>` counts only with an id of
    /// exactly [`TRACKING_ID_LEN`] characters.
    pub fn parse(line: &str) -> Result<OkReply, ParseError> {
        check_err(line)?;
        if !line.starts_with("OK") {
            return Err(ParseError::unexpected("expected OK", line));
        }
        if let Some(id) = line.strip_prefix("OK TRACKING ") {
            if id.len() == TRACKING_ID_LEN {
                return Ok(OkReply::Tracking(id.to_owned()));
            }
        }
        // upsclient compares the first 11 characters only.
        if line.starts_with("OK STARTTLS") {
            return Ok(OkReply::StartTls);
        }
        Ok(match line {
            "OK Goodbye" => OkReply::Goodbye,
            "OK PRIMARY-GRANTED" => OkReply::PrimaryGranted,
            "OK MASTER-GRANTED" => OkReply::MasterGranted,
            "OK FSD-SET" => OkReply::FsdSet,
            "OK FSD-CLEARED" => OkReply::FsdCleared,
            "OK WATCHING" => OkReply::Watching,
            _ => OkReply::Plain,
        })
    }
}

/// A text a reply carries between double quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text<'a> {
    /// The text itself: escaped when rendered, and cut where the field's limit says.
    Plain(Cow<'a, str>),
    /// Already as it goes on the wire, copied verbatim: upsd keeps tree values and enum
    /// entries escaped, and sends DESC texts unescaped as stock does.
    Wire(&'a str),
}

impl<'a> Text<'a> {
    /// A plain text.
    pub fn plain(text: impl Into<Cow<'a, str>>) -> Text<'a> {
        Text::Plain(text.into())
    }

    /// The text, unescaped.
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            Text::Plain(text) => Cow::Borrowed(text),
            Text::Wire(wire) => Cow::Owned(unescape(wire)),
        }
    }

    /// The text, unescaped, as an owned string.
    pub fn into_string(self) -> String {
        match self {
            Text::Plain(text) => text.into_owned(),
            Text::Wire(wire) => unescape(wire),
        }
    }

    /// `"` + `prefix` + the text (escaped into at most `max` bytes when plain) + `"`.
    pub(crate) fn write_quoted(&self, out: &mut Vec<u8>, prefix: &str, max: usize) {
        out.push(b'"');
        out.extend_from_slice(prefix.as_bytes());
        match self {
            Text::Plain(text) => push_escaped(out, text, max),
            Text::Wire(wire) => out.extend_from_slice(wire.as_bytes()),
        }
        out.push(b'"');
    }
}

/// Append one line: what `write` puts there, then LF. With its LF the line is cut to
/// [`MAX_REPLY_LINE`] bytes, as stock's `sendback` cuts its buffer: an over-long line loses
/// its tail and its LF.
pub(crate) fn line(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    write(out);
    out.push(b'\n');
    out.truncate(start + MAX_REPLY_LINE);
}

/// Append `words` separated by single spaces.
pub(crate) fn write_words<'w>(out: &mut Vec<u8>, words: impl IntoIterator<Item = &'w str>) {
    for (i, word) in words.into_iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word.as_bytes());
    }
}

/// Append a number in decimal.
pub(crate) fn write_number(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
}

pub(crate) fn write_err(out: &mut Vec<u8>, code: ErrCode) {
    out.extend_from_slice(b"ERR ");
    out.extend_from_slice(code.as_str().as_bytes());
}

/// Like upsclient: any line that starts with the three letters `ERR` is the server's error,
/// known by the first word after it when this crate knows that code.
pub fn check_err(line: &str) -> Result<(), ParseError> {
    let Some(rest) = line.strip_prefix("ERR") else {
        return Ok(());
    };
    let rest = rest.trim_start();
    Err(match ErrCode::from_reply(rest) {
        Some(code) => ParseError::Server(code),
        None => ParseError::ServerOther(rest.to_owned()),
    })
}

/// The words of a reply line, unescaped by the tokenizer.
pub(crate) fn reply_words(line: &str) -> Result<Vec<String>, ParseError> {
    split_line(line).map_err(|e| ParseError::unexpected(e.to_string(), line))
}

/// How many words of `words` echo `query` (case-insensitively, as upsclient compares), or
/// `None` when they do not.
pub(crate) fn echoed<'q>(
    query: impl IntoIterator<Item = &'q str>,
    words: &[String],
) -> Option<usize> {
    let mut n = 0;
    for q in query {
        if !words.get(n)?.eq_ignore_ascii_case(q) {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// The query words as one string, for error messages.
pub(crate) fn joined<'q>(words: impl IntoIterator<Item = &'q str>) -> String {
    words.into_iter().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_512_bytes_with_their_newline() {
        let r = Reply::Text("a".repeat(511).into());
        assert_eq!(r.to_bytes().len(), 512);
        assert_eq!(r.to_bytes().last(), Some(&b'\n'));
        let r = Reply::Text("b".repeat(600).into());
        assert_eq!(r.to_bytes(), "b".repeat(512).as_bytes());
        assert_eq!(
            Reply::Err(ErrCode::DataStale).to_bytes(),
            b"ERR DATA-STALE\n"
        );
    }

    #[test]
    fn ok_lines_both_ways() {
        let id = "2DDC5036-F665-4D29-BE4C-0374D091D263";
        for (ok, text) in [
            (OkReply::Plain, "OK".to_string()),
            (OkReply::Goodbye, "OK Goodbye".into()),
            (OkReply::PrimaryGranted, "OK PRIMARY-GRANTED".into()),
            (OkReply::MasterGranted, "OK MASTER-GRANTED".into()),
            (OkReply::FsdSet, "OK FSD-SET".into()),
            (OkReply::FsdCleared, "OK FSD-CLEARED".into()),
            (OkReply::Watching, "OK WATCHING".into()),
            (OkReply::StartTls, "OK STARTTLS".into()),
            (OkReply::Tracking(id.into()), format!("OK TRACKING {id}")),
        ] {
            assert_eq!(
                Reply::Ok(ok.clone()).to_bytes(),
                format!("{text}\n").as_bytes()
            );
            assert_eq!(OkReply::parse(&text), Ok(ok));
        }
    }

    #[test]
    fn ok_checks_are_prefix_checks_and_tracking_ids_need_36_characters() {
        let id = "2DDC5036-F665-4D29-BE4C-0374D091D263";
        assert_eq!(OkReply::parse("OK whatever"), Ok(OkReply::Plain));
        assert_eq!(OkReply::parse("OKAY"), Ok(OkReply::Plain));
        assert_eq!(OkReply::parse("OK STARTTLS now"), Ok(OkReply::StartTls));
        assert_eq!(
            OkReply::parse(&format!("OK TRACKING {}", &id[1..])),
            Ok(OkReply::Plain)
        );
        assert_eq!(
            OkReply::parse(&format!("OK TRACKING {id}X")),
            Ok(OkReply::Plain)
        );
        assert!(matches!(
            OkReply::parse("VAR ups x \"1\""),
            Err(ParseError::UnexpectedReply { .. })
        ));
        assert_eq!(
            OkReply::parse("ERR ACCESS-DENIED"),
            Err(ParseError::Server(ErrCode::AccessDenied))
        );
    }

    #[test]
    fn any_line_starting_with_err_is_an_error() {
        assert_eq!(
            check_err("ERR ACCESS-DENIED \"SSL trust failed\""),
            Err(ParseError::Server(ErrCode::AccessDenied))
        );
        assert_eq!(
            check_err("ERR SOMETHING-NEW extra"),
            Err(ParseError::ServerOther("SOMETHING-NEW extra".into()))
        );
        assert_eq!(
            check_err("ERRATIC"),
            Err(ParseError::ServerOther("ATIC".into()))
        );
        assert_eq!(check_err("OK"), Ok(()));
        assert_eq!(check_err("VAR ups x \"ERR\""), Ok(()));
    }

    #[test]
    fn text_renders_plain_escaped_and_capped_and_wire_verbatim() {
        let mut out = Vec::new();
        Text::plain(r#"a "b" #c"#).write_quoted(&mut out, "", 255);
        assert_eq!(out, br#""a \"b\" \#c""#);
        out.clear();
        Text::plain("ab#").write_quoted(&mut out, "FSD ", 3);
        assert_eq!(out, b"\"FSD ab\"");
        out.clear();
        Text::Wire(r"x\#y").write_quoted(&mut out, "", 1);
        assert_eq!(out, br#""x\#y""#);
        assert_eq!(Text::Wire(r"x\#y").into_string(), "x#y");
        assert_eq!(Text::Wire(r"x\#y").as_text(), "x#y");
    }
}
