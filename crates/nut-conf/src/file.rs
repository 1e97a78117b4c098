//! What every config file's parser shares: its lines handed one by one to a handler whose
//! errors and warnings come out as `file:line: message`, reading the file from disk, and the
//! `ok`/`fail` helpers of the parsers' tests.

use std::fmt;
use std::path::Path;

use crate::{lines, ConfError, Error};

/// A file's warnings, each `file:line: message`; a line's handler adds to them.
pub(crate) struct Warnings<'a> {
    file: &'a Path,
    line: usize,
    list: Vec<String>,
}

impl Warnings<'_> {
    /// A warning about the line being handled.
    pub(crate) fn push(&mut self, message: impl fmt::Display) {
        let file = self.file.display();
        self.list.push(format!("{file}:{}: {message}", self.line));
    }
}

/// Hand each numbered line to `handle`; an `Err(message)` stops the parse as
/// `file:line: message`. Returns the warnings.
pub(crate) fn each_line<T>(
    file: &Path,
    numbered: impl IntoIterator<Item = (usize, T)>,
    mut handle: impl FnMut(T, usize, &mut Warnings<'_>) -> Result<(), String>,
) -> Result<Vec<String>, ConfError> {
    let mut warnings = Warnings {
        file,
        line: 0,
        list: Vec::new(),
    };
    for (n, item) in numbered {
        warnings.line = n;
        handle(item, n, &mut warnings).map_err(|m| ConfError::new(file, n, m))?;
    }
    Ok(warnings.list)
}

/// [`each_line`] over the logical lines of a parseconf file: the words and where they began.
pub(crate) fn each_parseconf_line(
    text: &[u8],
    file: &Path,
    handle: impl FnMut(Vec<String>, usize, &mut Warnings<'_>) -> Result<(), String>,
) -> Result<Vec<String>, ConfError> {
    let numbered = lines(text, file)?.into_iter().map(|l| (l.number, l.words));
    each_line(file, numbered, handle)
}

/// Read `path` and hand its bytes to `parse`.
pub(crate) fn load_with<T>(
    path: &Path,
    parse: fn(&[u8], &Path) -> Result<T, ConfError>,
) -> Result<T, Error> {
    let text = std::fs::read(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })?;
    Ok(parse(&text, path)?)
}

/// `ok(text)` (the parsed file) and `fail(text)` (the error's text) for a parser's tests, the
/// file being called `$file`.
#[cfg(test)]
macro_rules! parse_helpers {
    ($file:literal, $conf:ty) => {
        fn ok(text: &str) -> $conf {
            parse(text.as_bytes(), std::path::Path::new($file)).expect("parses")
        }

        fn fail(text: &str) -> String {
            parse(text.as_bytes(), std::path::Path::new($file))
                .unwrap_err()
                .to_string()
        }
    };
}
