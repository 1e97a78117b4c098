//! Checks shared by the config fuzz targets, and [`conf_target!`], which makes one.
//!
//! Every `nut_conf::*::parse` takes the file's bytes and a file name and must never panic.
//! Beyond that, its messages must point into the file: an error names `file:line` with a
//! line that exists, and so does every warning.

use std::path::Path;

use nut_conf::ConfError;

#[doc(hidden)]
pub use libfuzzer_sys;

/// The whole fuzz target of a config parser: `conf_target!(nut_conf::ups_conf::parse,
/// "/etc/nut/ups.conf", warnings)` runs [`check_parse`] on every input, with the `warnings`
/// of a successful parse checked too (leave `warnings` out for a result that has none).
#[macro_export]
macro_rules! conf_target {
    ($parse:path, $file:literal, warnings) => {
        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            $crate::check_parse(data, $file, $parse, |c| &c.warnings);
        });
    };
    ($parse:path, $file:literal) => {
        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            $crate::check_parse(data, $file, $parse, $crate::no_warnings);
        });
    };
}

/// Physical lines in `text` (a last line without newline counts; an empty file has one).
pub fn physical_lines(text: &[u8]) -> usize {
    text.iter().filter(|&&b| b == b'\n').count() + 1
}

/// An error must name the file it was given and a line inside it.
pub fn check_error(text: &[u8], file: &Path, err: &ConfError) {
    assert_eq!(err.file, file, "error names another file: {err}");
    let lines = physical_lines(text);
    assert!(
        (1..=lines).contains(&err.line),
        "error at line {} of a {lines}-line file: {err}",
        err.line
    );
    let shown = err.to_string();
    let prefix = format!("{}:{}: ", file.display(), err.line);
    assert!(shown.starts_with(&prefix), "{shown:?} lacks {prefix:?}");
}

/// Warnings read `file:line: message`, with a line inside the file.
pub fn check_warnings(text: &[u8], file: &Path, warnings: &[String]) {
    let lines = physical_lines(text);
    let head = format!("{}:", file.display());
    for w in warnings {
        let rest = w
            .strip_prefix(&head)
            .unwrap_or_else(|| panic!("warning {w:?} does not start with {head:?}"));
        let (number, _) = rest
            .split_once(": ")
            .unwrap_or_else(|| panic!("warning {w:?} has no line number"));
        let n: usize = number
            .parse()
            .unwrap_or_else(|_| panic!("warning {w:?} has no line number"));
        assert!(
            (1..=lines).contains(&n),
            "warning at line {n} of a {lines}-line file: {w:?}"
        );
    }
}

/// Run a parser over `data` and apply the checks; `warnings` extracts the warnings of a
/// successful parse.
pub fn check_parse<T>(
    data: &[u8],
    name: &str,
    parse: fn(&[u8], &Path) -> Result<T, ConfError>,
    warnings: fn(&T) -> &[String],
) {
    let file = Path::new(name);
    match parse(data, file) {
        Ok(conf) => check_warnings(data, file, warnings(&conf)),
        Err(err) => check_error(data, file, &err),
    }
}

/// For parsers whose result carries no warnings.
pub fn no_warnings<T>(_: &T) -> &[String] {
    &[]
}
