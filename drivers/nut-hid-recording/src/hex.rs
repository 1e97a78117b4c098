//! Hex bytes as recordings write them.

use std::fmt::Write as _;

/// Parses hex bytes separated by any whitespace (pairs may also be run together: `0c64`).
/// The reason is a short English phrase.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        if word.len() % 2 != 0 {
            return Err(format!("{word:?} has an odd number of digits"));
        }
        for pair in word.as_bytes().chunks(2) {
            let digits = std::str::from_utf8(pair).unwrap_or("");
            if !pair.iter().all(u8::is_ascii_hexdigit) {
                return Err(format!("{word:?} is not hex"));
            }
            match u8::from_str_radix(digits, 16) {
                Ok(b) => out.push(b),
                Err(_) => return Err(format!("{word:?} is not hex")),
            }
        }
    }
    if out.is_empty() {
        return Err("no bytes".to_string());
    }
    Ok(out)
}

/// `0c 64 00`: lowercase hex bytes separated by one space.
pub fn hex_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_any_whitespace() {
        assert_eq!(parse_hex(" 0c\t64\n\n00 ").unwrap(), vec![0x0c, 0x64, 0]);
        assert_eq!(parse_hex("0c64").unwrap(), vec![0x0c, 0x64]);
        assert_eq!(hex_string(&[0x0c, 0xff, 0]), "0c ff 00");
    }
}
