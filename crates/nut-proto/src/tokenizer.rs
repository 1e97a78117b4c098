//! The `parseconf` state machine: one byte at a time, words out at each end of line.
//!
//! NUT uses one tokenizer for network requests, the driver socket and config files, quirks
//! included: `#` starts a comment even inside a bare word, an unescaped `#` inside quotes is an
//! error, `=` is a word by itself, bytes outside 0x20..=0x7F are dropped, at most 32 words of at
//! most 512 characters are kept (the rest is dropped silently).

use crate::error::ParseError;

/// Words kept per line (`PCONF_DEFAULT_ARG_LIMIT`); later words are dropped.
pub const MAX_WORDS: usize = 32;
/// Characters kept per word (`PCONF_DEFAULT_WORDLEN_LIMIT`); later characters are dropped.
pub const MAX_WORD_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FindWordStart,
    FindEol,
    QuoteCollect,
    QuoteLiteral,
    Collect,
    CollectLiteral,
}

/// A streaming tokenizer. Feed it bytes with [`Tokenizer::push`]; it hands back each complete
/// line's words, or the parse error, and starts the next line fresh.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    state: State,
    words: Vec<String>,
    word: String,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

/// C `isspace` in the C locale, minus LF which the state machine handles first.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

impl Tokenizer {
    /// A tokenizer at the start of a line.
    pub fn new() -> Self {
        Tokenizer {
            state: State::FindWordStart,
            words: Vec::new(),
            word: String::new(),
        }
    }

    /// True when nothing of a line has been seen since the last one ended.
    pub fn is_idle(&self) -> bool {
        self.state == State::FindWordStart && self.words.is_empty() && self.word.is_empty()
    }

    fn add_char(&mut self, b: u8) {
        // CVE-2012-2944: only printable ASCII (and DEL) is ever stored.
        if !(0x20..=0x7f).contains(&b) || self.word.len() >= MAX_WORD_LEN {
            return;
        }
        self.word.push(b as char);
    }

    fn end_word(&mut self) {
        let word = std::mem::take(&mut self.word);
        if self.words.len() < MAX_WORDS {
            self.words.push(word);
        }
    }

    fn end_line(&mut self) -> Vec<String> {
        self.state = State::FindWordStart;
        std::mem::take(&mut self.words)
    }

    fn find_word_start(&mut self, b: u8) -> Option<Vec<String>> {
        match b {
            b'\n' => return Some(self.end_line()),
            b'#' => self.state = State::FindEol,
            b'\\' => self.state = State::CollectLiteral,
            b'"' => self.state = State::QuoteCollect,
            b if is_space(b) => {}
            b'=' => {
                self.add_char(b);
                self.end_word();
            }
            b => {
                self.add_char(b);
                self.state = State::Collect;
            }
        }
        None
    }

    /// Feed one byte. Returns `Some(Ok(words))` when it ended a line (words may be empty for a
    /// blank or comment-only line), `Some(Err(_))` on a parse error (the partial line is
    /// discarded), `None` otherwise.
    pub fn push(&mut self, b: u8) -> Option<Result<Vec<String>, ParseError>> {
        match self.state {
            State::FindWordStart => return self.find_word_start(b).map(Ok),
            State::FindEol => {
                if b == b'\n' {
                    return Some(Ok(self.end_line()));
                }
            }
            State::QuoteCollect => match b {
                b'#' => {
                    self.word.clear();
                    self.words.clear();
                    self.state = State::FindWordStart;
                    return Some(Err(ParseError::UnescapedHash));
                }
                b'"' => {
                    self.end_word();
                    self.state = State::FindWordStart;
                }
                b'\\' => self.state = State::QuoteLiteral,
                b => self.add_char(b),
            },
            State::Collect => match b {
                b'#' => {
                    self.end_word();
                    self.state = State::FindEol;
                }
                b'\n' => {
                    self.end_word();
                    return Some(Ok(self.end_line()));
                }
                b if is_space(b) => {
                    self.end_word();
                    self.state = State::FindWordStart;
                }
                b'=' => {
                    self.end_word();
                    self.state = State::FindWordStart;
                    self.find_word_start(b);
                }
                b'\\' => self.state = State::CollectLiteral,
                b => self.add_char(b),
            },
            // The byte after a backslash, in or out of quotes; backslash-newline continues
            // the word on the next line.
            State::QuoteLiteral | State::CollectLiteral => {
                if b != b'\n' {
                    self.add_char(b);
                }
                self.state = match self.state {
                    State::QuoteLiteral => State::QuoteCollect,
                    _ => State::Collect,
                };
            }
        }
        None
    }

    /// End of input: tie off a last line that had no newline. Returns `None` if there was
    /// nothing pending. An unterminated quoted word is kept as it is, like a file read.
    pub fn finish(&mut self) -> Option<Vec<String>> {
        if matches!(
            self.state,
            State::Collect | State::CollectLiteral | State::QuoteCollect | State::QuoteLiteral
        ) || !self.word.is_empty()
        {
            self.end_word();
        }
        if self.words.is_empty() {
            self.state = State::FindWordStart;
            return None;
        }
        Some(self.end_line())
    }
}

/// Tokenize one line of text (no newline needed), as `pconf_line` does.
pub fn split_line(line: &str) -> Result<Vec<String>, ParseError> {
    let mut t = Tokenizer::new();
    for &b in line.as_bytes() {
        if let Some(done) = t.push(b) {
            return done;
        }
    }
    Ok(t.finish().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_line(line).expect("parses")
    }

    #[test]
    fn quirks_verified_on_stock_2_8_0() {
        assert_eq!(words("GET DESC ups ab#cd"), ["GET", "DESC", "ups", "ab"]);
        assert_eq!(words(r#"x "a b""#), ["x", "a b"]);
        assert_eq!(words(r#"x ab"c"#), ["x", "ab\"c"]);
        assert_eq!(words(r#"x "ab"cd"#), ["x", "ab", "cd"]);
        assert_eq!(words(r"x a\ b"), ["x", "a b"]);
        assert_eq!(words(r#"x """#), ["x", ""]);
        assert_eq!(words("x a=b"), ["x", "a", "=", "b"]);
        assert_eq!(words(r#"x "a=b""#), ["x", "a=b"]);
        assert_eq!(words("x \"a\tb\""), ["x", "ab"]);
        assert_eq!(words("x caf\u{e9}"), ["x", "caf"]);
    }

    #[test]
    fn equals_is_always_a_word_outside_quotes() {
        for line in ["a=b", "a = b", "a= b", "a =b"] {
            assert_eq!(words(line), ["a", "=", "b"], "{line}");
        }
        assert_eq!(words("=="), ["=", "="]);
    }

    #[test]
    fn escapes_inside_and_outside_quotes() {
        assert_eq!(words(r#""a\"b\\c\#d""#), [r#"a"b\c#d"#]);
        assert_eq!(words(r"a\#b"), ["a#b"]);
        assert_eq!(words(r"\#"), ["#"]);
    }

    #[test]
    fn hash_in_quotes_is_an_error_and_the_next_line_is_fresh() {
        let mut t = Tokenizer::new();
        let mut out = Vec::new();
        for &b in b"GET \"a#b\"\nVER\n" {
            if let Some(r) = t.push(b) {
                out.push(r);
            }
        }
        assert_eq!(out[0], Err(ParseError::UnescapedHash));
        // The caller decides what to drop after an error; the tokenizer itself restarts at
        // the byte after `#`, as pconf_char does.
        assert_eq!(out[1], Ok(vec!["b\"".to_string()]));
        assert_eq!(out[2], Ok(vec!["VER".to_string()]));
    }

    #[test]
    fn empty_and_comment_lines_are_lines_with_no_words() {
        let mut t = Tokenizer::new();
        assert_eq!(t.push(b'\n'), Some(Ok(vec![])));
        for &b in b"  # just a comment" {
            assert_eq!(t.push(b), None);
        }
        assert_eq!(t.push(b'\n'), Some(Ok(vec![])));
    }

    #[test]
    fn crlf_works_and_cr_is_space() {
        assert_eq!(words("VER\r"), ["VER"]);
        let mut t = Tokenizer::new();
        let got: Vec<_> = b"LIST UPS\r\n".iter().filter_map(|&b| t.push(b)).collect();
        assert_eq!(got, vec![Ok(vec!["LIST".to_string(), "UPS".to_string()])]);
    }

    #[test]
    fn limits_drop_silently() {
        let many: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        let got = words(&many.join(" "));
        assert_eq!(got.len(), MAX_WORDS);
        assert_eq!(got[31], "w31");
        let long = "y".repeat(600);
        assert_eq!(words(&long)[0].len(), MAX_WORD_LEN);
    }

    #[test]
    fn backslash_newline_continues_the_line() {
        let mut t = Tokenizer::new();
        let got: Vec<_> = b"a b\\\nc\n".iter().filter_map(|&b| t.push(b)).collect();
        assert_eq!(got, vec![Ok(vec!["a".into(), "bc".into()])]);
        // A quoted word swallows a raw newline (it is a dropped control byte).
        let mut t = Tokenizer::new();
        let got: Vec<_> = b"\"a\nb\"\n".iter().filter_map(|&b| t.push(b)).collect();
        assert_eq!(got, vec![Ok(vec!["ab".into()])]);
    }

    #[test]
    fn control_bytes_still_start_a_word() {
        // A lone control byte opens a bare word that stores nothing: an empty word.
        assert_eq!(words("a \u{1} b"), ["a", "", "b"]);
    }

    #[test]
    fn finish_ties_off_a_line_without_newline() {
        let mut t = Tokenizer::new();
        for &b in b"flag" {
            t.push(b);
        }
        assert_eq!(t.finish(), Some(vec!["flag".to_string()]));
        assert_eq!(t.finish(), None);
        assert!(t.is_idle());
    }
}
