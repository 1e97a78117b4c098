//! NUT's configuration files as typed Rust values.
//!
//! Every parser takes the file's bytes and a file name (used only in messages) and returns a
//! typed value or a [`ConfError`] naming `file:line`. The `load(path)` functions are thin
//! wrappers that read the file first. All files but `nut.conf` share NUT's `parseconf`
//! grammar, tokenized by [`nut_proto::Tokenizer`]; see [`lines`]. The notify events upsmon.conf
//! and upssched.conf name are one type, [`notify::NotifyEvent`].
//!
//! Where stock NUT only logs a bad line and carries on, these parsers mostly reject the file:
//! a typo in a config that decides when machines power off must not pass silently. Harmless
//! oddities (obsolete directives, duplicates NUT ignores) become `warnings` instead.

use std::path::{Path, PathBuf};

use nut_proto::Tokenizer;

#[macro_use]
mod file;
pub mod notify;
pub mod nut_conf;
pub mod ups_conf;
pub mod upsd_conf;
pub mod upsd_users;
pub mod upsmon_conf;
pub mod upssched_conf;
mod value;

/// A problem at one line of a config file. Displays as `<file>:<line>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ConfError {
    /// The file, as given to the parser.
    pub file: PathBuf,
    /// Physical line number (1-based) where the offending logical line began.
    pub line: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfError {
    /// Build an error for `file:line`.
    pub fn new(file: &Path, line: usize, message: impl Into<String>) -> Self {
        ConfError {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// Anything that stops a config file from loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file that could not be read.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but its contents are wrong.
    #[error(transparent)]
    Syntax(#[from] ConfError),
}

/// One logical line of a parseconf file: its words, after quoting, escaping and comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Physical line number (1-based) where the logical line began.
    pub number: usize,
    /// The words; never empty.
    pub words: Vec<String>,
}

/// Tokenize a whole parseconf file. Blank and comment-only lines are skipped; an unescaped `#`
/// inside quotes is an error at the physical line where it occurs.
pub fn lines(text: &[u8], file: &Path) -> Result<Vec<Line>, ConfError> {
    let mut tok = Tokenizer::new();
    let mut out = Vec::new();
    let mut physical = 1;
    let mut start = 1;
    for &b in text {
        let done = tok.push(b);
        if let Some(Err(e)) = done {
            return Err(ConfError::new(
                file,
                physical,
                format!("{e}; write \\# for a literal # inside quotes"),
            ));
        }
        if b == b'\n' {
            physical += 1;
        }
        if let Some(Ok(words)) = done {
            if !words.is_empty() {
                out.push(Line {
                    number: start,
                    words,
                });
            }
            start = physical;
        }
    }
    if let Some(words) = tok.finish() {
        out.push(Line {
            number: start,
            words,
        });
    }
    Ok(out)
}

/// Is `word` a section header (`[name]`)? Returns the name between the brackets.
fn section_name(word: &str) -> Option<&str> {
    word.strip_prefix('[')?.strip_suffix(']')
}

/// The name of a line that is a section header, which must be alone on its line and not
/// empty (`empty` is the message for `[]`); `None` for any other line.
fn section_header<'a>(words: &'a [String], empty: &str) -> Result<Option<&'a str>, String> {
    let Some(name) = section_name(&words[0]) else {
        return Ok(None);
    };
    if words.len() > 1 {
        return Err(format!(
            "section header {} must be alone on its line",
            words[0]
        ));
    }
    if name.is_empty() {
        return Err(empty.to_string());
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(text: &str) -> Vec<(usize, Vec<String>)> {
        let got = lines(text.as_bytes(), Path::new("t.conf")).expect("parses");
        got.into_iter().map(|l| (l.number, l.words)).collect()
    }

    fn l(number: usize, words: &[&str]) -> (usize, Vec<String>) {
        (number, words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn lines_skip_blanks_and_comments_and_keep_physical_numbers() {
        // A continuation followed by indentation yields an empty word, as in NUT.
        let text = "# head\n\n  a = b\n\tflag # trailing\nc \\\nd\ne \\\n f\n";
        assert_eq!(
            words_of(text),
            vec![
                l(3, &["a", "=", "b"]),
                l(4, &["flag"]),
                l(5, &["c", "d"]),
                l(7, &["e", "", "f"]),
            ]
        );
    }

    #[test]
    fn lines_quoting_and_escaping() {
        let text =
            "password = \"a b\"\npassword = pass#word\ndesc = \"Rack \\\"A\\\"\"\nx = \"\"\n";
        assert_eq!(
            words_of(text),
            vec![
                l(1, &["password", "=", "a b"]),
                l(2, &["password", "=", "pass"]),
                l(3, &["desc", "=", "Rack \"A\""]),
                l(4, &["x", "=", ""]),
            ]
        );
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        assert_eq!(
            words_of("a\r\nb = c"),
            vec![l(1, &["a"]), l(2, &["b", "=", "c"])]
        );
    }

    #[test]
    fn quoted_hash_is_an_error_at_its_line() {
        let err = lines(b"ok\n\nx = \"a#b\"\n", Path::new("/x/u.conf")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/x/u.conf:3: Unbalanced word due to unescaped # in quotes; write \\# for a literal # inside quotes"
        );
        assert_eq!(err.line, 3);
    }

    #[test]
    fn helpers() {
        assert_eq!(value::parse_bool("YES"), Some(true));
        assert_eq!(value::parse_bool("Off"), Some(false));
        assert_eq!(value::parse_bool("2"), None);
        assert_eq!(value::parse_unsigned("15"), Some(15));
        assert_eq!(value::parse_unsigned("15s"), None);
        assert_eq!(value::parse_unsigned("-1"), None);
        assert_eq!(value::parse_unsigned("99999999999999999999999"), None);
        assert_eq!(value::parse_signed("-1"), Some(-1));
        assert_eq!(value::parse_signed("-"), None);
        assert_eq!(section_name("[a b]"), Some("a b"));
        assert_eq!(section_name("[]"), Some(""));
        assert_eq!(section_name("["), None);
    }

    #[test]
    fn io_error_names_the_file() {
        let err = ups_conf::load(Path::new("/nonexistent-dir/ups.conf")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/nonexistent-dir/ups.conf: cannot read: "),
            "{text}"
        );
    }
}
