//! A reply being built: whole lines, each cut at 512 bytes like stock upsd's answer buffer,
//! sent to the client in one write.

use nut_proto::{ErrCode, MAX_REPLY_LINE};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    buf: Vec<u8>,
}

impl Reply {
    pub fn new() -> Reply {
        Reply::default()
    }

    /// A reply of one line.
    pub fn line(text: impl AsRef<str>) -> Reply {
        let mut r = Reply::new();
        r.push(text);
        r
    }

    /// A reply of one `ERR` line.
    pub fn err(code: ErrCode) -> Reply {
        Reply::line(format!("ERR {code}"))
    }

    /// Append a line; with its newline it is cut to 512 bytes, so an over-long line loses
    /// its tail and its newline, as stock upsd's `sendback` does.
    pub fn push(&mut self, text: impl AsRef<str>) {
        let text = text.as_ref().as_bytes();
        let start = self.buf.len();
        self.buf.extend_from_slice(text);
        self.buf.push(b'\n');
        self.buf
            .truncate(start + MAX_REPLY_LINE.min(text.len() + 1));
    }

    pub fn append(&mut self, other: Reply) {
        self.buf.extend_from_slice(&other.buf);
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_512_bytes() {
        let mut r = Reply::new();
        r.push("a".repeat(511));
        assert_eq!(r.as_bytes().len(), 512);
        assert_eq!(r.as_bytes().last(), Some(&b'\n'));
        let r = Reply::line("b".repeat(600));
        assert_eq!(r.as_bytes(), "b".repeat(512).as_bytes());
        assert_eq!(
            Reply::err(ErrCode::DataStale).as_bytes(),
            b"ERR DATA-STALE\n"
        );
    }
}
