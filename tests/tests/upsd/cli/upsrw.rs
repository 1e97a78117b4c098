//! upsrw: the listing with types, enums and ranges, writes (with `-w` too), prompts on
//! stdin, and every error path.

use nut_test_support::Impl;

use super::Cli;

fn upsrw_matches_stock(which: Impl) {
    let Some(cli) = Cli::start(which) else { return };
    // (arguments, stdin, what stock's stdout or stderr must hold)
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        // listings: STRING, NUMBER, ENUM STRING/ENUM, RANGE, descriptions or not
        (&["ups@$H"], None, "[battery.charge]\nBattery charge (percent of full)\nType: NUMBER\nValue: 100\n\n"),
        (&["second@$H"], None, "[device.type]\nDescription unavailable\nType: STRING\nMaximum length: 32\n"),
        (&["fake@$H"], None, "Option: \"medium\" SELECTED\n"),
        (&["-l", "fake@$H"], None, "Type: RANGE NUMBER\n"),
        (&["-s", "ups.id=x", "-l", "fake@$H"], None, "Listing mode requested, overriding setvar specified earlier!\n"),
        // errors
        (&["nope@$H"], None, "Error: Unknown UPS\n"),
        (&["ups@$CLOSED"], None, "Error: Connection failure: Connection refused\n"),
        (&["-s", "ups.mfr=x", "-u", "admin", "-p", "adminpw", "nope@$H"], None, "Unexpected response from upsd: ERR UNKNOWN-UPS\n"),
        (&["-s", "ups.mfr=x", "-u", "admin", "-p", "wrong", "second@$H"], None, "Unexpected response from upsd: ERR ACCESS-DENIED\n"),
        (&["-s", "ups.mfr=x", "-u", "ghost", "-p", "x", "second@$H"], None, "ERR ACCESS-DENIED\n"),
        (&["-s", "ups.mfr=x", "-u", "nobody", "-p", "nopw", "second@$H"], None, "ERR ACCESS-DENIED\n"),
        (&["-s", "ups.mfr=x", "-u", "cmdonly", "-p", "cmdpw", "second@$H"], None, "ERR ACCESS-DENIED\n"),
        (&["-s", "nope.var=x", "-u", "admin", "-p", "adminpw", "second@$H"], None, "ERR VAR-NOT-SUPPORTED\n"),
        (&["-s", "mfr=x", "-u", "admin", "-p", "adminpw", "second@$H"], None, "Error: old variable names are not supported\n"),
        (&["-s", "ups.mfr=x", "-u", "admin", "-p", "adminpw", "second@$CLOSED"], None, "Connection refused\n"),
        (&["-t", "abc", "second@$H"], None, "Could not convert the provided value for timeout ('-t' option) to unsigned int: Invalid argument\n"),
        (&["-t", "99999999999", "second@$H"], None, "to unsigned int: Numerical result out of range\n"),
        (&["ups@"], None, "Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]\n"),
        // usage
        (&[], None, "usage: upsrw [-h]\n"),
        (&["-h"], None, "Demo program to set variables within UPS hardware.\n"),
        (&["-V"], None, "Network UPS Tools upsrw 2.8.0\n"),
        (&["-x", "second@$H"], None, "upsrw: invalid option -- 'x'\n"),
        (&["-s"], None, "upsrw: option requires an argument -- 's'\n"),
        // writes that succeed; -w waits for the driver's answer
        (&["-s", "ups.mfr=written", "-u", "admin", "-p", "adminpw", "second@$H"], None, "OK\n"),
        (&["-s", "ups.model=by setonly", "-u", "setonly", "-p", "setpw", "second@$H"], None, "OK\n"),
        (&["-w", "-s", "ups.mfr=waited", "-u", "admin", "-p", "adminpw", "second@$H"], None, "SUCCESS\n"),
        (&["-w", "-t", "5", "-s", "input.sensitivity=high", "-u", "admin", "-p", "adminpw", "fake@$H"], None, "SUCCESS\n"),
        (&["-w", "-s", "ups.delay.start=60", "-u", "admin", "-p", "adminpw", "fake@$H"], None, "ERR FAILED\n"),
        (&["-w", "-t", "0", "-s", "input.sensitivity=high", "-u", "admin", "-p", "adminpw", "fake@$H"], None, "Can't receive status tracking information: timeout\n"),
        // what is missing is asked for: user and password, then the value
        (&["-s", "ups.mfr=asked", "second@$H"], Some("admin\nadminpw\n"), "Password: OK\n"),
        (&["-s", "ups.mfr", "-u", "admin", "-p", "adminpw", "second@$H"], Some("typed value\n"), "Enter new value for ups.mfr: "),
        (&["-s", "ups.mfr=x", "-p", "adminpw", "second@$H"], Some("\n"), "Username ("),
        (&["-s", "ups.mfr=x", "-u", "admin", "second@$H"], Some("wrong\n"), "Password: Unexpected response from upsd: ERR ACCESS-DENIED\n"),
    ];
    for (args, stdin, expect) in cases {
        cli.same_saying("upsrw", args, *stdin, expect);
    }
}
nut_test_support::both_upsd!(upsrw_matches_stock);
