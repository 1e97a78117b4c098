//! Every parser must return a value or an error on any input, never panic.

use std::path::Path;

use ::nut_conf::nut_conf as nut_conf_file;
use ::nut_conf::{lines, ups_conf, upsd_conf, upsd_users, upsmon_conf, upssched_conf};
use proptest::prelude::*;

/// Bytes biased towards the characters the grammars care about.
fn conf_bytes() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop::sample::select(
        b"[]=\"\\# \t\n\r@:+-*'0123456789abcMONITORLISTENATpasswordupsmonprimary".to_vec(),
    );
    prop::collection::vec(prop_oneof![3 => interesting, 1 => any::<u8>()], 0..400)
}

fn all(text: &[u8]) {
    let f = Path::new("fuzz.conf");
    let _ = lines(text, f);
    let _ = ups_conf::parse(text, f);
    let _ = upsd_conf::parse(text, f);
    let _ = upsd_users::parse(text, f);
    let _ = upsmon_conf::parse(text, f);
    let _ = nut_conf_file::parse(text, f);
    let _ = upssched_conf::parse(text, f);
}

proptest! {
    #[test]
    fn parsers_never_panic(text in conf_bytes()) {
        all(&text);
    }

    #[test]
    fn parsers_never_panic_on_keyword_lines(
        key in prop::sample::select(vec![
            "MONITOR", "LISTEN", "AT", "NOTIFYFLAG", "NOTIFYMSG", "CERTHOST", "SHUTDOWNEXIT",
            "CMDSCRIPT", "MODE=", "[u]", "password =", "upsmon", "actions =", "MAXCONN",
        ]),
        args in prop::collection::vec("[ -~]{0,12}", 0..7),
    ) {
        let prefix = "CMDSCRIPT a\nPIPEFN b\nLOCKFN c\n[u]\n";
        let text = format!("{prefix}{key} {}\n", args.join(" "));
        all(text.as_bytes());
    }

    #[test]
    fn errors_point_inside_the_file(text in conf_bytes()) {
        let physical = text.iter().filter(|&&b| b == b'\n').count() + 1;
        let f = Path::new("x");
        for err in [
            ups_conf::parse(&text, f).err(),
            upsd_conf::parse(&text, f).err(),
            upsd_users::parse(&text, f).err(),
            upsmon_conf::parse(&text, f).err(),
            nut_conf_file::parse(&text, f).err(),
            upssched_conf::parse(&text, f).err(),
        ].into_iter().flatten() {
            prop_assert!(err.line >= 1 && err.line <= physical, "{err}");
        }
    }
}
