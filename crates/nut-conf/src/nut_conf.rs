//! `nut.conf`: shell-style `KEY=value` lines (sourced by init scripts), not parseconf.
//!
//! Supported: `#` comment lines, optional `export`, values bare or in `'...'` / `"..."`
//! (backslash escapes outside single quotes), a trailing `# comment`. No expansion is done:
//! values are kept verbatim. Spaces around `=` or an unquoted space inside a value are errors,
//! as they would make the shell run a command instead of assigning.

use std::path::Path;

use crate::file::{each_line, load_with};
use crate::{ConfError, Error};

/// `MODE`: which NUT parts this host runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// `none`: start nothing (the default).
    #[default]
    None,
    /// `standalone`: driver, upsd and upsmon, local only.
    Standalone,
    /// `netserver`: as standalone, with upsd reachable over the network.
    Netserver,
    /// `netclient`: upsmon only, watching a remote upsd.
    Netclient,
}

/// A parsed `nut.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NutConf {
    /// `MODE` (default [`Mode::None`]).
    pub mode: Mode,
    /// Every assignment in file order, `MODE` included.
    pub vars: Vec<(String, String)>,
}

impl NutConf {
    /// The last value assigned to `key` (case-sensitive, as in the shell).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Parse the shell word that starts `s`; returns it and the rest of the line.
fn shell_value(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            ' ' | '\t' => return Ok((out, &s[i..])),
            '\'' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => out.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        // Inside double quotes a backslash only escapes these.
                        Some((_, '\\')) => match chars.peek() {
                            Some(&(_, e)) if matches!(e, '"' | '\\' | '$' | '`') => {
                                out.push(e);
                                chars.next();
                            }
                            _ => out.push('\\'),
                        },
                        Some((_, c)) => out.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                chars.next();
                match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => return Err("a trailing \\ (line continuation) is not supported".into()),
                }
            }
            _ => {
                out.push(c);
                chars.next();
            }
        }
    }
    Ok((out, ""))
}

fn mode(v: &str) -> Result<Mode, String> {
    match v {
        "none" => Ok(Mode::None),
        "standalone" => Ok(Mode::Standalone),
        "netserver" => Ok(Mode::Netserver),
        "netclient" => Ok(Mode::Netclient),
        _ => Err(format!(
            "MODE must be none, standalone, netserver or netclient, got {v:?}"
        )),
    }
}

fn parse_line(line: &str) -> Result<Option<(String, String)>, String> {
    let line = line.trim_start_matches([' ', '\t']);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = line
        .strip_prefix("export")
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map(|rest| rest.trim_start_matches([' ', '\t']))
        .unwrap_or(line);
    let Some((key, rest)) = line.split_once('=') else {
        return Err(format!("expected KEY=value, got {line:?}"));
    };
    if !is_name(key) {
        return Err(format!(
            "expected KEY=value with no spaces around =, got {line:?}"
        ));
    }
    let (value, tail) = shell_value(rest)?;
    let tail = tail.trim_start_matches([' ', '\t']);
    if !tail.is_empty() && !tail.starts_with('#') {
        return Err(format!(
            "unexpected {tail:?} after the value of {key}; quote values with spaces"
        ));
    }
    Ok(Some((key.to_string(), value)))
}

/// Parse the bytes of a `nut.conf`; `file` is only used in messages.
pub fn parse(text: &[u8], file: &Path) -> Result<NutConf, ConfError> {
    let text = String::from_utf8_lossy(text);
    let mut conf = NutConf::default();
    let numbered = text.split('\n').enumerate().map(|(i, line)| (i + 1, line));
    // (no warnings: every odd line is an error)
    each_line(file, numbered, |line, _, _| {
        if let Some((key, value)) = parse_line(line)? {
            if key == "MODE" {
                conf.mode = mode(&value)?;
            }
            conf.vars.push((key, value));
        }
        Ok(())
    })?;
    Ok(conf)
}

/// Read and parse a `nut.conf`.
pub fn load(path: &Path) -> Result<NutConf, Error> {
    load_with(path, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    parse_helpers!("nut.conf", NutConf);

    #[test]
    fn default_is_none() {
        assert_eq!(ok("# comment only\n\n"), NutConf::default());
        assert_eq!(ok("").mode, Mode::None);
    }

    #[test]
    fn modes() {
        for (v, m) in [
            ("none", Mode::None),
            ("standalone", Mode::Standalone),
            ("netserver", Mode::Netserver),
            ("netclient", Mode::Netclient),
        ] {
            assert_eq!(ok(&format!("MODE={v}\n")).mode, m, "{v}");
        }
        assert_eq!(
            ok("MODE=standalone\nMODE=netclient\n").mode,
            Mode::Netclient
        );
    }

    #[test]
    fn quoting_and_comments() {
        let c = ok(r#"# Debian-style header
MODE="netserver"
  UPSD_OPTIONS='-D -u nut'   # trailing comment
export POWEROFF_WAIT=15m
NUT_DEBUG_LEVEL=
ALLOW_NO_DEVICE=tr"u"e
X="a \"b\" \$c \n"
Y=a\ b
"#);
        assert_eq!(c.mode, Mode::Netserver);
        assert_eq!(
            c.vars,
            vec![
                ("MODE".to_string(), "netserver".to_string()),
                ("UPSD_OPTIONS".into(), "-D -u nut".into()),
                ("POWEROFF_WAIT".into(), "15m".into()),
                ("NUT_DEBUG_LEVEL".into(), "".into()),
                ("ALLOW_NO_DEVICE".into(), "true".into()),
                ("X".into(), "a \"b\" $c \\n".into()),
                ("Y".into(), "a b".into()),
            ]
        );
        assert_eq!(c.get("POWEROFF_WAIT"), Some("15m"));
        assert_eq!(c.get("poweroff_wait"), None);
    }

    #[test]
    fn crlf_lines() {
        assert_eq!(ok("MODE=standalone\r\n").mode, Mode::Standalone);
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            fail("\nMODE = standalone\n"),
            "nut.conf:2: expected KEY=value with no spaces around =, got \"MODE = standalone\""
        );
        assert_eq!(
            fail("MODE=Standalone\n"),
            "nut.conf:1: MODE must be none, standalone, netserver or netclient, got \"Standalone\""
        );
        assert_eq!(
            fail("MODE=\n"),
            "nut.conf:1: MODE must be none, standalone, netserver or netclient, got \"\""
        );
        assert_eq!(
            fail("UPSD_OPTIONS=-D -u nut\n"),
            "nut.conf:1: unexpected \"-u nut\" after the value of UPSD_OPTIONS; quote values with spaces"
        );
        assert_eq!(fail("X='abc\n"), "nut.conf:1: unterminated ' quote");
        assert_eq!(fail("X=\"abc\n"), "nut.conf:1: unterminated \" quote");
        assert_eq!(
            fail("X=abc\\\n"),
            "nut.conf:1: a trailing \\ (line continuation) is not supported"
        );
        assert_eq!(
            fail("standalone\n"),
            "nut.conf:1: expected KEY=value, got \"standalone\""
        );
    }
}
