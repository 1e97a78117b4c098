//! upscmd: the command list, commands that run (with `-w` too), prompts, and every error
//! path.

use nut_test_support::Impl;

use super::Cli;

fn upscmd_matches_stock(which: Impl) {
    let Some(cli) = Cli::start(which) else { return };
    let admin = ["-u", "admin", "-p", "adminpw"];
    let with_admin = |rest: &[&'static str]| -> Vec<&'static str> {
        admin.iter().copied().chain(rest.iter().copied()).collect()
    };
    // (arguments, stdin, what stock's stdout or stderr must hold)
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["-l", "ups@$H"], None, "Instant commands supported on UPS [ups]:\n\nload.off - Turn off the load immediately\n"),
        (vec!["-l", "fake@$H"], None, "beeper.disable - "),
        (vec!["-l", "nope@$H"], None, "Error: Unknown UPS\n"),
        (vec!["-l", "ups@$CLOSED"], None, "Error: Connection failure: Connection refused\n"),
        // runs, as admin and as a user allowed just this command
        (with_admin(&["ups@$H", "load.off"]), None, "OK\n"),
        (vec!["-u", "cmdonly", "-p", "cmdpw", "ups@$H", "load.off"], None, "OK\n"),
        (with_admin(&["fake@$H", "beeper.disable"]), None, "OK\n"),
        // -w: the driver's result
        (with_admin(&["-w", "fake@$H", "beeper.disable"]), None, "SUCCESS\n"),
        (with_admin(&["-w", "-t", "3", "fake@$H", "test.battery.start.quick"]), None, "SUCCESS\n"),
        (with_admin(&["-w", "fake@$H", "load.off"]), None, "ERR UNKNOWN\n"),
        (with_admin(&["-w", "fake@$H", "beeper.disable", "5"]), None, "ERR INVALID-ARGUMENT\n"),
        (with_admin(&["-w", "ups@$H", "load.off"]), None, "ERR UNKNOWN\n"),
        (with_admin(&["-w", "-t", "0", "fake@$H", "beeper.disable"]), None, "Can't receive status tracking information: timeout\n"),
        // refusals
        (vec!["-u", "cmdonly", "-p", "cmdpw", "fake@$H", "beeper.disable"], None, "Unexpected response from upsd: ERR ACCESS-DENIED\n"),
        (vec!["-u", "admin", "-p", "wrong", "ups@$H", "load.off"], None, "Unexpected response from upsd: ERR ACCESS-DENIED\n"),
        (vec!["-u", "nobody", "-p", "nopw", "ups@$H", "load.off"], None, "ERR ACCESS-DENIED\n"),
        (with_admin(&["ups@$H", "nope.cmd"]), None, "ERR CMD-NOT-SUPPORTED\n"),
        (with_admin(&["nope@$H", "load.off"]), None, "ERR UNKNOWN-UPS\n"),
        (with_admin(&["ups@$H", "shutdown"]), None, "Error: old command names are not supported\n"),
        (with_admin(&["ups@$CLOSED", "load.off"]), None, "Connection refused\n"),
        (vec!["-t", "x", "ups@$H", "load.off"], None, "to unsigned int: Invalid argument\n"),
        // usage: none, -h, a UPS without a command (after connecting), options after it
        (vec![], None, "usage: upscmd [-h]\n"),
        (vec!["-h"], None, "Administration program to initiate instant commands on UPS hardware.\n"),
        (with_admin(&["ups@$H"]), None, "  <command>\tValid instant command"),
        (vec!["-x"], None, "upscmd: invalid option -- 'x'\n"),
        (vec!["-V"], None, "Network UPS Tools upscmd 2.8.0\n"),
        // prompts: user and password on stdin; end of input at the user name
        (vec!["ups@$H", "load.off"], Some("admin\nadminpw\n"), "Password: OK\n"),
        (vec!["ups@$H", "load.off", "-u", "admin"], None, "Error reading from stdin!\n"),
        (vec!["-u", "admin", "ups@$H", "load.off"], Some("wrong\n"), "Password: Unexpected response from upsd: ERR ACCESS-DENIED\n"),
    ];
    for (args, stdin, expect) in &cases {
        cli.same_saying("upscmd", args, *stdin, expect);
    }
}
nut_test_support::both_upsd!(upscmd_matches_stock);
