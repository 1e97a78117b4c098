//! Value checks shared by the parseconf-based files. Each returns the message for
//! `file:line` on failure, so callers only add the position.

use std::path::PathBuf;

/// NUT's booleans: `true|on|yes|1` and `false|off|no|0`, any case.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    const YES: [&str; 4] = ["true", "on", "yes", "1"];
    const NO: [&str; 4] = ["false", "off", "no", "0"];
    if YES.iter().any(|y| s.eq_ignore_ascii_case(y)) {
        Some(true)
    } else if NO.iter().any(|n| s.eq_ignore_ascii_case(n)) {
        Some(false)
    } else {
        None
    }
}

/// A whole number made only of ASCII digits (no sign, no suffix), within `u64`.
pub(crate) fn parse_unsigned(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Like [`parse_unsigned`] with an optional leading `-`.
pub(crate) fn parse_signed(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Message for a keyword nobody knows, with a hint when only its case is wrong.
pub(crate) fn unknown_directive(word: &str, keywords: &[&str]) -> String {
    if let Some(k) = keywords.iter().find(|k| k.eq_ignore_ascii_case(word)) {
        format!("unknown directive \"{word}\"; directives are case-sensitive, did you mean {k}?")
    } else {
        format!(
            "unknown directive \"{word}\"; expected one of {}",
            keywords.join(", ")
        )
    }
}

/// Check the argument count of `words[0]`; `what` describes the arguments for the message.
pub(crate) fn arity(words: &[String], min: usize, max: usize, what: &str) -> Result<(), String> {
    let got = words.len() - 1;
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(format!(
            "{} takes {what}, got {got} {}",
            words[0],
            plural(got)
        ))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "word"
    } else {
        "words"
    }
}

pub(crate) fn non_empty_path(key: &str, v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        Err(format!("{key} expects a path, got an empty value"))
    } else {
        Ok(PathBuf::from(v))
    }
}

pub(crate) fn seconds(key: &str, v: &str) -> Result<u64, String> {
    parse_unsigned(v).ok_or_else(|| format!("{key} expects a whole number of seconds, got {v:?}"))
}

pub(crate) fn debug_level(key: &str, v: &str) -> Result<u32, String> {
    parse_unsigned(v)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{key} expects a whole number >= 0, got {v:?}"))
}

pub(crate) fn boolean(key: &str, v: &str) -> Result<bool, String> {
    parse_bool(v).ok_or_else(|| {
        format!("{key} expects a boolean (true, on, yes, 1 or false, off, no, 0), got {v:?}")
    })
}

/// The one value of a `KEY value` line.
pub(crate) fn one(words: &[String]) -> Result<String, String> {
    arity(words, 1, 1, "exactly one value").map(|()| words[1].clone())
}

/// `DEBUG_MIN <level>`, the one keyword matched in any case, as in NUT: the level when `words`
/// is such a line.
pub(crate) fn debug_min(words: &[String]) -> Result<Option<u32>, String> {
    if !words[0].eq_ignore_ascii_case("DEBUG_MIN") {
        return Ok(None);
    }
    debug_level("DEBUG_MIN", &one(words)?).map(Some)
}

/// `CERTIDENT <name> <password>`.
pub(crate) fn certident(words: &[String]) -> Result<(String, String), String> {
    arity(words, 2, 2, "a certificate name and a password")?;
    Ok((words[1].clone(), words[2].clone()))
}

/// A command line given as one word (`SHUTDOWNCMD`, `NOTIFYCMD`, `CMDSCRIPT`).
pub(crate) fn command(key: &str, words: &[String]) -> Result<String, String> {
    if words.len() > 2 {
        return Err(format!(
            "{key} takes one word; quote a command with arguments, e.g. {key} \"{}\"",
            words[1..].join(" ")
        ));
    }
    let v = one(words)?;
    if v.is_empty() {
        return Err(format!("{key} expects a command, got an empty value"));
    }
    Ok(v)
}
