//! The protocol tokenizer and output escaping.
//!
//! 1. Arbitrary bytes go through `Tokenizer::push` one by one and `finish`: no panic, and every
//!    word it hands back respects the documented limits (printable ASCII, <= 512 bytes,
//!    <= 32 words).
//! 2. Round trip: for a string `s` of printable ASCII (0x20..=0x7e) up to `MAX_WORD_LEN` bytes,
//!    `split_line(&quote(s)) == [s]`.
//! 3. `escape_capped(s, max)` is a prefix of `escape(s)`, at most `max` bytes, and never cuts an
//!    escape pair in half.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nut_proto::{escape, escape_capped, quote, split_line, Tokenizer, MAX_WORDS, MAX_WORD_LEN};

fn check_words(words: &[String]) {
    assert!(words.len() <= MAX_WORDS, "{} words", words.len());
    for w in words {
        assert!(w.len() <= MAX_WORD_LEN, "word of {} bytes", w.len());
        assert!(
            w.bytes().all(|b| (0x20..=0x7f).contains(&b)),
            "non-printable byte kept in {w:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. Streaming tokenizer over arbitrary bytes.
    let mut t = Tokenizer::new();
    for &b in data {
        if let Some(Ok(words)) = t.push(b) {
            check_words(&words);
        }
    }
    if let Some(words) = t.finish() {
        check_words(&words);
    }
    assert!(t.is_idle(), "finish() must leave the tokenizer idle");

    // 2. quote/split_line round trip on the printable-ASCII projection of the input.
    let s: String = data
        .iter()
        .copied()
        .filter(|b| (0x20..=0x7e).contains(b))
        .take(MAX_WORD_LEN)
        .map(char::from)
        .collect();
    let quoted = quote(&s);
    assert_eq!(
        split_line(&quoted),
        Ok(vec![s.clone()]),
        "round trip of {s:?} via {quoted:?}"
    );

    // 3. escape_capped against escape, with a cap taken from the first byte.
    let max = data.first().map_or(0, |&b| usize::from(b) * 2);
    let full = escape(&s);
    let capped = escape_capped(&s, max);
    assert!(capped.len() <= max, "{} > {max}", capped.len());
    assert!(
        full.starts_with(&capped),
        "{capped:?} is not a prefix of {full:?}"
    );
    // The cut falls between whole characters: unescaping the capped text gives a prefix of s.
    let unescaped = split_line(&format!("\"{capped}\"")).expect("capped text is well formed");
    assert_eq!(unescaped.len(), 1);
    assert!(
        s.starts_with(&unescaped[0]),
        "{:?} not a prefix of {s:?}",
        unescaped[0]
    );
    if capped.len() < full.len() {
        // It stopped only because the next character (with its backslash) did not fit.
        let next = &full[capped.len()..];
        let need = if next.starts_with('\\') { 2 } else { 1 };
        assert!(
            capped.len() + need > max,
            "stopped early at {} of {max}",
            capped.len()
        );
    }
});
