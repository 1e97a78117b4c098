//! Our upsmon over STARTTLS to our upsd: with CERTVERIFY 1 + CERTPATH + FORCESSL 1 it logs in
//! and sees a power failure; a certificate from another CA, or an upsd without TLS while
//! FORCESSL is on, leaves it unconnected (COMMBAD) instead of falling back to clear text.

mod upsmon_common;

use nut_rs_tests::daemon::TestPki;
use nut_rs_tests::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;
use upsmon_common::*;

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
