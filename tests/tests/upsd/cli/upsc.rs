//! upsc: variables, one variable, the UPS and client lists, and every error path.

use nut_test_support::Impl;

use super::Cli;

fn upsc_matches_stock(which: Impl) {
    let Some(cli) = Cli::start(which) else { return };
    // (arguments, what stock's stdout or stderr must hold: the case is about that)
    let cases: &[(&[&str], &str)] = &[
        (&["ups@$H"], "battery.charge: 100\n"),
        (&["second@$H"], "ups.mfr: Say \"hi\" #1 C:\\x\n"),
        (&["fake@$H"], "input.sensitivity: medium\n"),
        (&["ups@$H", "ups.status"], "OL DISCHRG\n"),
        (&["ups@$H", "UPS.STATUS"], "OL DISCHRG\n"),
        (&["second@$H", "ups.mfr"], "Say \"hi\" #1 C:\\x\n"),
        (&["-l", "$H"], "ups\nsecond\nfake\n"),
        (&["-L", "$H"], "second: Description unavailable\n"),
        (&["-lL", "$H"], "ups: APC Back-UPS BK650M2-CH\n"),
        (&["-c", "ups@$H"], ""),
        (&["nope@$H"], "Error: Unknown UPS\n"),
        (&["nope@$H", "ups.status"], "Error: Unknown UPS\n"),
        (
            &["ups@$H", "nope.var"],
            "Error: Variable not supported by UPS\n",
        ),
        (
            &["ups@$H", "status"],
            "Error: old-style variable names are not supported\n",
        ),
        (&["-c", "nope@$H"], "Error: Unknown UPS\n"),
        (
            &["ups@$CLOSED"],
            "Error: Connection failure: Connection refused\n",
        ),
        (
            &["-l", "$CLOSED"],
            "Error: Connection failure: Connection refused\n",
        ),
        (&["ups@nosuchhost.invalid"], "Error: No such host\n"),
        (&[], "Error: invalid UPS definition.\n"),
        (&[""], "upscli_splitname: can't parse empty string\n"),
        (&["ups@"], "upscli_splitaddr: can't parse empty string\n"),
        (&["ups@host:"], "no port specified after ':' separator\n"),
        (
            &["ups@host:70000"],
            "no port specified after ':' separator\n",
        ),
        (&["ups@[::1"], "missing closing bracket"),
        (
            &["-l", "[::1"],
            "Error: invalid hostname.\nRequired format: [hostname[:port]]\n",
        ),
        (&["-h"], "usage: upsc -l | -L [<hostname>[:port]]\n"),
        (&["-x", "ups@$H"], "upsc: invalid option -- 'x'\n"),
        (&["--", "ups@$H", "ups.status"], "OL DISCHRG\n"),
    ];
    for (args, expect) in cases {
        cli.same_saying("upsc", args, None, expect);
    }
}
nut_test_support::both_upsd!(upsc_matches_stock);

/// `-V` is the one deliberate difference: stock's upsc calls itself `upscmd` there.
#[test]
fn upsc_version_names_upsc() {
    let Some(cli) = Cli::start(Impl::Stock) else {
        return;
    };
    let (stock, ours) = cli.both("upsc", &["-V"], None);
    assert_eq!(
        (stock.code, stock.stdout.as_str(), stock.stderr.as_str()),
        (Some(0), "", "Network UPS Tools upscmd 2.8.0\n")
    );
    assert_eq!(
        (ours.code, ours.stdout.as_str(), ours.stderr.as_str()),
        (Some(0), "", "Network UPS Tools upsc 2.8.0\n")
    );
}
