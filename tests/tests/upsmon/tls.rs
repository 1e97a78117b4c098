//! Our upsmon over STARTTLS to our upsd: with CERTVERIFY 1 + CERTPATH + FORCESSL 1 it logs in
//! and sees a power failure; a certificate from another CA, or an upsd without TLS while
//! FORCESSL is on, leaves it unconnected (COMMBAD) instead of falling back to clear text.

use nut_test_support::daemon::TestPki;
use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

/// A rig whose upsd has a CERTFILE (when `tls`), with the CA file upsmon is to trust: the
/// one that signed upsd's certificate, or an unrelated one (`other_ca`).
fn rig(tls: bool, other_ca: bool) -> Option<(Rig, tempfile::TempDir, std::path::PathBuf)> {
    let stock = stock_nut()?;
    let pki_dir = tempfile::tempdir().unwrap();
    let (ca, certfile) = TestPki::new("nut-rs upsmon test CA").write(pki_dir.path());
    let ca = if other_ca {
        let d = pki_dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        TestPki::new("some other CA").write(&d).0
    } else {
        ca
    };
    let mut opts = NutDirOptions::default();
    if tls {
        opts.upsd_conf_extra
            .push(format!("CERTFILE {}", certfile.display()));
    }
    Some((Rig::start(&stock, Impl::Ours, opts), pki_dir, ca))
}

fn tls_conf(ca: &std::path::Path) -> String {
    format!("CERTPATH {}\nCERTVERIFY 1\nFORCESSL 1\n", ca.display())
}

/// upsmon's log and notify log, and upsd's log.
fn all_logs(rig: &Rig, p: &MonDir) -> String {
    format!(
        "{}\n{}\n{}",
        p.log(),
        p.notify_log(),
        rig.upsd.log(&rig.dir)
    )
}

#[test]
fn verified_tls_session_sees_the_power_failure() {
    let Some((rig, _pki, ca)) = rig(true, false) else {
        return;
    };
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", &tls_conf(&ca));
    let _pp = start_upsmon(&rig, &p);
    let logs = || all_logs(&rig, &p);
    wait_logins(&rig, 1, "login over TLS", Duration::from_secs(10), logs);
    set_status(&rig, "OB");
    wait_notified(&p, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
}

fn never_logs_in(tls: bool, other_ca: bool) {
    let Some((rig, _pki, ca)) = rig(tls, other_ca) else {
        return;
    };
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", &tls_conf(&ca));
    let mut pp = start_upsmon(&rig, &p);
    let logs = || all_logs(&rig, &p);
    wait_notified(&p, "COMMBAD", 1, "COMMBAD", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(numlogins(&rig), "NUMLOGINS ups 0\n", "{}", logs());
    assert!(pp.exited().is_none(), "{}", logs());
}

#[test]
fn certificate_from_another_ca_is_refused() {
    never_logs_in(true, true);
}

#[test]
fn forcessl_refuses_clear_text() {
    never_logs_in(false, false);
}

/// upsd with `CERTREQUEST REQUIRE`: our upsmon presents the certificate and key of its
/// `CERTFILE` (NUT 2.8.6+) and logs in; without CERTFILE it stays out (COMMBAD).
#[test]
fn certfile_is_the_client_certificate_upsd_requires() {
    let Some(stock) = stock_nut() else { return };
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("nut-rs client-auth CA");
    let (ca, certfile) = pki.write(pki_dir.path());
    let client = pki_dir.path().join("upsmon.pem");
    std::fs::write(
        &client,
        format!("{}{}", pki.client_cert_pem, pki.client_key_pem),
    )
    .unwrap();
    let mut opts = NutDirOptions::default();
    opts.upsd_conf_extra.extend([
        format!("CERTFILE {}", certfile.display()),
        "CERTREQUEST REQUIRE".to_string(),
        format!("CERTPATH {}", ca.display()),
    ]);
    let rig = Rig::start(&stock, Impl::Ours, opts);

    let without = upsmon_conf(
        &rig,
        Mon::Ours,
        "secondary",
        "monuser",
        "secret",
        &tls_conf(&ca),
    );
    let mut wp = start_upsmon(&rig, &without);
    let logs = || format!("{}\n{}", without.log(), rig.upsd.log(&rig.dir));
    wait_until(
        "COMMBAD without a client certificate",
        Duration::from_secs(10),
        || (!notified(&without, "COMMBAD").is_empty()).then_some(()),
        logs,
    );
    assert_eq!(numlogins(&rig), "NUMLOGINS ups 0\n", "{}", logs());
    assert!(
        rig.upsd
            .log(&rig.dir)
            .contains("TLS handshake with 127.0.0.1 failed"),
        "{}",
        logs()
    );
    assert!(wp.exited().is_none());
    drop(wp);

    let with = upsmon_conf(
        &rig,
        Mon::Ours,
        "primary",
        "upsmon",
        "pw",
        &format!("{}CERTFILE {}\n", tls_conf(&ca), client.display()),
    );
    let _pp = start_upsmon(&rig, &with);
    wait_until(
        "login with the client certificate",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 1\n").then_some(()),
        || format!("{}\n{}", with.log(), rig.upsd.log(&rig.dir)),
    );
}
