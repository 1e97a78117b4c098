//! The driver socket codec, both directions (nut-state), as upsd and a driver read it.
//!
//! Arbitrary bytes go through NUT's tokenizer line by line. Each line is read as a message a
//! driver sends upsd (`DriverMsg`: SETINFO, DELINFO, ADDENUM, ..., DUMPDONE, PONG), as a reply
//! to a tracked command (`DriverReply`), and as a message upsd sends a driver (`UpsdMsg`:
//! INSTCMD, SET, PING, DUMPALL, ...). No panic; a message that parses encodes to one line
//! that parses back to the same message (what a driver writes, upsd reads unchanged, and the
//! other way round; names that are not plain words go in quotes, and an INSTCMD parameter
//! with a space, which stock upsd sends escaped but unquoted, is left out). The driver messages are applied to a variable tree, as upsd's replica
//! does: no panic, and every variable it then holds has a name (empty too, as stock keeps it) and an escaped value that
//! stay printable (ASCII 0x20-0x7f, what the tokenizer passes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nut_proto::Tokenizer;
use nut_state::{DriverMsg, DriverReply, Tree, UpsdMsg};

/// The words of the one line `bytes` holds, as the other side's tokenizer reads them.
fn reread(bytes: &[u8]) -> Vec<String> {
    assert_eq!(bytes.last(), Some(&b'\n'), "{bytes:?}");
    assert_eq!(
        bytes.iter().filter(|&&b| b == b'\n').count(),
        1,
        "{bytes:?}"
    );
    let mut tok = Tokenizer::new();
    let mut lines = Vec::new();
    for &b in bytes {
        if let Some(Ok(words)) = tok.push(b) {
            lines.push(words);
        }
    }
    assert_eq!(lines.len(), 1, "{bytes:?}");
    lines.remove(0)
}

fn nut_state_word_is_bare(w: &str) -> bool {
    matches!(nut_proto::word(w), std::borrow::Cow::Borrowed(_))
}

fuzz_target!(|data: &[u8]| {
    let mut tok = Tokenizer::new();
    let mut tree = Tree::default();
    for &b in data {
        let Some(Ok(words)) = tok.push(b) else {
            continue;
        };
        if let Some(msg) = DriverMsg::parse(&words) {
            assert_eq!(DriverMsg::parse(&reread(&msg.encode())), Some(msg.clone()));
            tree.apply(&msg);
        }
        if let Some(reply) = DriverReply::parse(&words) {
            assert_eq!(DriverReply::parse(&reread(&reply.encode())), Some(reply));
        }
        if let Some(msg) = UpsdMsg::parse(&words) {
            // stock upsd escapes an INSTCMD parameter without quoting it: one with a space
            // (or nothing in it) is read back differently, by stock drivers too
            let bare_param = match &msg {
                UpsdMsg::InstCmd { param: Some(p), .. } => nut_state_word_is_bare(p),
                _ => true,
            };
            if bare_param {
                assert_eq!(UpsdMsg::parse(&reread(&msg.encode())), Some(msg));
            }
        }
    }
    for v in tree.vars() {
        assert!(
            v.name().bytes().all(|b| (0x20..=0x7f).contains(&b)),
            "{:?}",
            v.name()
        );
        assert!(
            v.escaped().bytes().all(|b| (0x20..=0x7f).contains(&b)),
            "{:?}",
            v.escaped()
        );
    }
});
