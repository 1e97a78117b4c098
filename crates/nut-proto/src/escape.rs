//! Output escaping (`pconf_encode`): a backslash before `"`, `\` and `#`, nothing else.

use std::borrow::Cow;

/// upsd stores escaped values in a 256-byte buffer, so an escaped value is at most 255 bytes.
pub const ESCAPED_VALUE_MAX: usize = 255;

fn needs_escape(c: char) -> bool {
    matches!(c, '"' | '\\' | '#')
}

/// Escape `src` with no length cap.
pub fn escape(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 2);
    for c in src.chars() {
        if needs_escape(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escape `src` into at most `max` bytes the way `pconf_encode` fills a `max + 1` byte buffer:
/// it stops at the first character (with its backslash) that no longer fits.
pub fn escape_capped(src: &str, max: usize) -> String {
    let mut out = Vec::with_capacity(src.len().min(max) + 2);
    push_escaped(&mut out, src, max);
    // Only whole characters (and ASCII backslashes) were copied.
    String::from_utf8(out).unwrap_or_default()
}

/// [`escape_capped`] appended to `out`, without a String of its own (replies render this way).
pub(crate) fn push_escaped(out: &mut Vec<u8>, src: &str, max: usize) {
    let start = out.len();
    for c in src.chars() {
        let need = c.len_utf8() + usize::from(needs_escape(c));
        if out.len() - start + need > max {
            break;
        }
        if needs_escape(c) {
            out.push(b'\\');
        }
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
}

/// Undo [`escape`]: drop each backslash and keep the character after it.
pub fn unescape(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// `"` + escaped value + `"`: how values travel on the wire.
pub fn quote(src: &str) -> String {
    format!("\"{}\"", escape(src))
}

/// One word as it goes on the wire: bare when the other side's tokenizer keeps it as is, else
/// in quotes with `"`, `\` and `#` escaped (an empty word too). Plain names therefore go out
/// exactly as stock clients and drivers send them.
pub fn word(word: &str) -> Cow<'_, str> {
    let bare = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'#' | b'='));
    if bare {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(quote(word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quote_backslash_and_hash_only() {
        assert_eq!(escape(r#"He said "hi" #1"#), r#"He said \"hi\" \#1"#);
        assert_eq!(escape(r"a\b"), r"a\\b");
        assert_eq!(escape("a=b c'd"), "a=b c'd");
        assert_eq!(quote("OL CHRG"), "\"OL CHRG\"");
    }

    #[test]
    fn unescape_inverts_escape() {
        for s in [r#"He said "hi" #1"#, r"a\b", "plain", "", "trailing\\"] {
            assert_eq!(unescape(&escape(s)), s);
        }
        assert_eq!(unescape(r"dangling\"), "dangling");
    }

    #[test]
    fn cap_stops_before_a_pair_that_does_not_fit() {
        assert_eq!(escape_capped("abc", 2), "ab");
        // `#` needs two bytes; only one is left.
        assert_eq!(escape_capped("ab#", 3), "ab");
        assert_eq!(escape_capped("ab#", 4), r"ab\#");
        let long = "x".repeat(300);
        assert_eq!(escape_capped(&long, ESCAPED_VALUE_MAX).len(), 255);
    }
}
