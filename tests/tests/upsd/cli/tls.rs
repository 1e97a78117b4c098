//! Over STARTTLS: our upsd with a CERTFILE; stock upsc and ours both upgrade and print the
//! same, the notices of Debian's NSS-built upsclient on stderr included.

use nut_test_support::daemon::TestPki;
use nut_test_support::{Impl, NutDirOptions};

use super::Cli;

#[test]
fn upsc_over_starttls_matches_stock() {
    let pki = TestPki::new("nut-rs cli CA");
    let certs = tempfile::tempdir().unwrap();
    let (_ca, certfile) = pki.write(certs.path());
    let opts = NutDirOptions {
        upses: vec![NutDirOptions::default().upses[0].clone()],
        upsd_conf_extra: vec![format!("CERTFILE {}", certfile.display())],
    };
    let Some(cli) = Cli::start_with(Impl::Ours, opts) else {
        return;
    };
    let cases: &[(&[&str], &str)] = &[
        (&["ups@$H", "ups.status"], "OL DISCHRG\n"),
        (&["ups@$H"], "device.model: BK650M2-CH\n"),
        (&["-L", "$H"], "ups: APC Back-UPS BK650M2-CH\n"),
        (&["nope@$H"], "Error: Unknown UPS\n"),
    ];
    for (args, expect) in cases {
        let stock = cli.same_saying("upsc", args, None, expect);
        // on TLS, as stock says (and ours, being identical)
        assert!(
            stock.stderr.contains("in SSL"),
            "stock upsc {args:?} did not use TLS: {stock:?}"
        );
    }
}
