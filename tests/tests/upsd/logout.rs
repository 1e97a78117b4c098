//! LOGOUT: `OK Goodbye`, then the server closes the connection (stock: at its next loop pass,
//! within ~2 s), and a LOGIN held by that connection is released.

use nut_test_support::{stock_nut, Impl, NutDirOptions, Reply, Rig};
use std::time::Duration;

fn logout_closes_and_releases_the_login(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, which, NutDirOptions::default());
    let mut c = rig.client();
    c.auth("monuser", "secret");
    assert_eq!(c.request("LOGIN ups"), "OK\n");
    let mut observer = rig.client();
    assert_eq!(observer.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
    assert_eq!(c.request("LOGOUT"), "OK Goodbye\n");
    c.quiet = Duration::from_secs(4);
    assert_eq!(c.read_reply(), Reply::Closed(Vec::new()));
    assert_eq!(observer.request("GET NUMLOGINS ups"), "NUMLOGINS ups 0\n");
    assert_eq!(
        observer.request("LIST CLIENT ups"),
        "BEGIN LIST CLIENT ups\nEND LIST CLIENT ups\n"
    );
}

nut_test_support::both_upsd!(logout_closes_and_releases_the_login);
