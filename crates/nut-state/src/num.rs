//! C's lenient number parsing, because the driver protocol is defined by it: leading
//! whitespace, an optional sign, then digits up to the first non-digit; no digits means 0.

/// `strtol(s, NULL, 10)`, saturating at the `i64` bounds as strtol does at `long`'s.
pub fn strtol(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        v = match v.checked_mul(10).and_then(|v| v.checked_add(d)) {
            Some(v) => v,
            None => return if neg { i64::MIN } else { i64::MAX },
        };
    }
    if neg {
        -v
    } else {
        v
    }
}

/// `atoi(s)`: like strtol, narrowed to `int` (glibc's atoi is `(int) strtol(...)`).
pub fn atoi(s: &str) -> i32 {
    strtol(s) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_c() {
        assert_eq!(atoi("42"), 42);
        assert_eq!(atoi("  -7x"), -7);
        assert_eq!(atoi("+3"), 3);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("12.9"), 12);
        assert_eq!(strtol("99999999999999999999"), i64::MAX);
    }
}
