//! STARTTLS on OUR upsd (CERTFILE = certificate chain + key, served with rustls), with
//! stock dummy-ups as the driver and these clients: stock upsc (NSS), nut-client (rustls) and
//! stock upsmon (NSS, CERTVERIFY 1 + FORCESSL 1 against an NSS database holding our CA).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nut_client::{Client, ErrCode, Error, TlsConfig};
use nut_test_support::daemon::{start_upsd, wait_for, wait_reply, wait_var, TestPki};
use nut_test_support::{
    run_with_timeout, stock_nut, Driver, LineClient, NutDir, NutDirOptions, Proc, StockNut, UPS,
};

/// Our upsd (`-D`, so the log shows TLS handshakes) for the UPS `ups`, with a CERTFILE or not.
struct TlsRig {
    upsd: Proc,
    _driver: Driver,
    /// ca.pem of the CA that signed upsd's certificate (also when upsd has no CERTFILE).
    ca: PathBuf,
    /// That CA, with a client certificate it signed.
    pki: TestPki,
    dir: NutDir,
}

impl TlsRig {
    fn start(stock: &StockNut, with_cert: bool) -> TlsRig {
        Self::start_with(stock, with_cert, |_| String::new())
    }

    /// With more upsd.conf lines, made from the path of the CA's ca.pem.
    fn start_with(stock: &StockNut, with_cert: bool, extra: impl Fn(&Path) -> String) -> TlsRig {
        let dir = NutDir::with(NutDirOptions {
            upses: vec![NutDirOptions::default().upses[0].clone()],
            upsd_conf_extra: Vec::new(),
        });
        let pki = TestPki::new("nut-rs test CA");
        let (ca, certfile) = pki.write(dir.path());
        let mut conf = format!("LISTEN 127.0.0.1 {}\n", dir.port);
        if with_cert {
            conf.push_str(&format!("CERTFILE {}\n", certfile.display()));
        }
        conf.push_str(&extra(&ca));
        dir.write_conf("upsd.conf", &conf);
        let driver = Driver::start(stock, &dir);
        let upsd = start_upsd(&dir, &["-D", "-u", "root"]);
        wait_var(dir.port, UPS, "ups.vendorid", Duration::from_secs(10));
        TlsRig {
            upsd,
            _driver: driver,
            ca,
            pki,
            dir,
        }
    }
    fn port(&self) -> u16 {
        self.dir.port
    }
    fn log(&self) -> String {
        self.dir.log("upsd.log")
    }
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }
}

fn have_certutil() -> bool {
    if Path::new("/usr/bin/certutil").is_file() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("certutil is missing (apt-get install -y libnss3-tools); CI does not skip");
    }
    eprintln!("skipping: certutil not installed (apt-get install -y libnss3-tools)");
    false
}

#[test]
fn stock_upsc_reads_over_starttls() {
    let Some(stock) = stock_nut() else { return };
    let rig = TlsRig::start(&stock, true);
    let mut c = Command::new(&stock.upsc);
    c.args([&format!("ups@{}", rig.addr()), "ups.status"]);
    let (code, out, err) = run_with_timeout(&mut c, Duration::from_secs(15));
    assert_eq!((code, out.as_str()), (Some(0), "OL DISCHRG\n"), "{err}");
    // upsc sent STARTTLS and did the handshake.
    wait_for("the handshake in the log", Duration::from_secs(3), |last| {
        *last = rig.log();
        last.contains("TLS handshake done with 127.0.0.1")
            .then_some(())
    });
    // On the wire: OK STARTTLS in clear text, then nothing else until the handshake.
    let mut raw = LineClient::connect(rig.port()).unwrap();
    assert_eq!(raw.request("STARTTLS"), "OK STARTTLS\n");
    raw.quiet = Duration::from_millis(300);
    assert_eq!(raw.read_reply(), nut_test_support::Reply::NoReply);
}

#[tokio::test]
async fn nut_client_starttls_verifies_the_ca() {
    let Some(stock) = stock_nut() else { return };
    let rig = TlsRig::start(&stock, true);

    for name in ["127.0.0.1", "localhost"] {
        let mut c = Client::connect(rig.addr()).await.unwrap();
        c.starttls(&TlsConfig::from_ca_file(&rig.ca, name).unwrap())
            .await
            .unwrap();
        assert!(c.is_tls());
        assert_eq!(c.get_var("ups", "ups.status").await.unwrap(), "OL DISCHRG");
        // A second STARTTLS is refused inside TLS; the session goes on.
        match c.request("STARTTLS").await {
            Err(Error::Server(ErrCode::AlreadySslMode)) => {}
            other => panic!("second STARTTLS: {other:?}"),
        }
        c.username("monuser").await.unwrap();
        c.password("secret").await.unwrap();
        c.login("ups").await.unwrap();
        assert_eq!(c.get_numlogins("ups").await.unwrap(), 1);
        c.logout().await.unwrap();
    }

    // A CA that did not sign the server's certificate: the handshake fails.
    let other = TestPki::new("some other CA");
    let other_dir = tempfile::tempdir().unwrap();
    let (other_ca, _) = other.write(other_dir.path());
    let mut c = Client::connect(rig.addr()).await.unwrap();
    let e = c
        .starttls(&TlsConfig::from_ca_file(&other_ca, "127.0.0.1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(!c.is_open());
    // The server is fine afterwards.
    let mut c = LineClient::connect(rig.port()).unwrap();
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
}

#[test]
fn starttls_without_certfile_is_not_configured_and_clear_text_goes_on() {
    let Some(stock) = stock_nut() else { return };
    let rig = TlsRig::start(&stock, false);
    let mut c = LineClient::connect(rig.port()).unwrap();
    assert_eq!(c.request("STARTTLS"), "ERR FEATURE-NOT-CONFIGURED\n");
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
    // upsc falls back to clear text.
    let mut upsc = Command::new(&stock.upsc);
    upsc.args([&format!("ups@{}", rig.addr()), "ups.status"]);
    let (code, out, err) = run_with_timeout(&mut upsc, Duration::from_secs(15));
    assert_eq!((code, out.as_str()), (Some(0), "OL DISCHRG\n"), "{err}");
    assert!(!rig.log().contains("TLS handshake done"));
}

/// Stock upsmon in its own mount namespace (private /run/nut for its PID file), as its own
/// process group; the whole group is killed on drop.
struct Upsmon {
    child: Child,
    log: PathBuf,
}

impl Upsmon {
    fn start(stock: &StockNut, rig: &TlsRig, nssdb: &Path) -> Upsmon {
        Self::start_with(stock, rig, nssdb, "")
    }

    fn start_with(stock: &StockNut, rig: &TlsRig, nssdb: &Path, extra: &str) -> Upsmon {
        let mut conf = format!(
            "MONITOR ups@{} 1 monuser secret secondary\n\
             MINSUPPLIES 1\n\
             SHUTDOWNCMD \"/bin/true\"\n\
             POWERDOWNFLAG {}\n\
             POLLFREQ 2\n\
             POLLFREQALERT 2\n\
             DEADTIME 15\n\
             CERTPATH {}\n\
             CERTVERIFY 1\n\
             FORCESSL 1\n",
            rig.addr(),
            rig.dir.path().join("killpower").display(),
            nssdb.display()
        );
        conf.push_str(extra);
        rig.dir.write_conf("upsmon.conf", &conf);
        let log = rig.dir.path().join("upsmon.log");
        let out = std::fs::File::create(&log).unwrap();
        let script = format!(
            "mkdir -p /run/nut && mount -t tmpfs tmpfs /run/nut && exec {} -D -p -u root",
            stock.upsmon.display()
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c", &script]);
        for (k, v) in rig.dir.env() {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("spawn unshare upsmon");
        Upsmon { child, log }
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn wait_log(&self, text: &str) {
        wait_for(
            &format!("upsmon to log {text:?}"),
            Duration::from_secs(15),
            |last| {
                *last = self.log();
                last.contains(text).then_some(())
            },
        );
    }
}

impl Drop for Upsmon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An NSS database (for CERTPATH) trusting the CA in `ca_pem`.
fn nss_db(dir: &Path, ca_pem: &Path) -> PathBuf {
    let db = dir.join("nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db_arg = db.display().to_string();
    for args in [
        vec!["-N", "-d", &db_arg, "--empty-password"],
        vec![
            "-A",
            "-d",
            &db_arg,
            "-n",
            "nutca",
            "-t",
            "C,,",
            "-i",
            ca_pem.to_str().unwrap(),
        ],
    ] {
        let (code, out, err) = run_with_timeout(
            Command::new("certutil").args(&args),
            Duration::from_secs(20),
        );
        assert_eq!(code, Some(0), "certutil {args:?}: {out}{err}");
    }
    db
}

#[test]
fn stock_upsmon_logs_in_over_verified_tls() {
    let Some(stock) = stock_nut() else { return };
    if !have_certutil() {
        return;
    }
    let rig = TlsRig::start(&stock, true);
    let db = nss_db(rig.dir.path(), &rig.ca);
    let upsmon = Upsmon::start(&stock, &rig, &db);
    wait_reply(
        rig.port(),
        "GET NUMLOGINS ups",
        "NUMLOGINS ups 1\n",
        Duration::from_secs(15),
    );
    let mut c = LineClient::connect(rig.port()).unwrap();
    assert_eq!(
        c.request("LIST CLIENT ups"),
        "BEGIN LIST CLIENT ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT ups\n"
    );
    upsmon.wait_log("Connected to NUT server 127.0.0.1 in SSL");
    // NSS verified the certificate against the CA in CERTPATH.
    assert!(
        upsmon
            .log()
            .contains("Intend to authenticate server 127.0.0.1 : SUCCESS"),
        "{}",
        upsmon.log()
    );
    assert!(
        rig.log().contains("TLS handshake done with 127.0.0.1"),
        "{}",
        rig.log()
    );
    assert!(!upsmon
        .log()
        .contains("Certificate verification is disabled"));
    eprintln!("upsmon log:\n{}", upsmon.log());
    assert!(rig.upsd.child.id() > 0);
}

/// upsmon's log line when its FORCESSL session fails on its side of the handshake.
const SSL_REFUSED: &str = "Can not connect to NUT server 127.0.0.1 in SSL, disconnect";

/// upsmon with FORCESSL 1 must not log in: wait for its `refusal` log line, then check
/// upsd's view.
fn assert_upsmon_stays_out(rig: &TlsRig, upsmon: &Upsmon, refusal: &str) {
    upsmon.wait_log(refusal);
    let mut c = LineClient::connect(rig.port()).unwrap();
    assert_eq!(c.request("GET NUMLOGINS ups"), "NUMLOGINS ups 0\n");
    assert_eq!(
        c.request("LIST CLIENT ups"),
        "BEGIN LIST CLIENT ups\nEND LIST CLIENT ups\n"
    );
    if refusal == SSL_REFUSED {
        assert!(
            !upsmon
                .log()
                .contains("Connected to NUT server 127.0.0.1 in SSL"),
            "{}",
            upsmon.log()
        );
    }
    eprintln!("upsmon log:\n{}", upsmon.log());
}

#[test]
fn stock_upsmon_with_forcessl_stays_out_when_upsd_has_no_certificate() {
    let Some(stock) = stock_nut() else { return };
    if !have_certutil() {
        return;
    }
    let rig = TlsRig::start(&stock, false);
    let db = nss_db(rig.dir.path(), &rig.ca);
    let upsmon = Upsmon::start(&stock, &rig, &db);
    assert_upsmon_stays_out(&rig, &upsmon, SSL_REFUSED);
}

#[test]
fn stock_upsmon_with_certverify_rejects_a_certificate_from_another_ca() {
    let Some(stock) = stock_nut() else { return };
    if !have_certutil() {
        return;
    }
    let rig = TlsRig::start(&stock, true);
    let other = TestPki::new("some other CA");
    let other_dir = rig.dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let (other_ca, _) = other.write(&other_dir);
    let db = nss_db(&other_dir, &other_ca);
    let upsmon = Upsmon::start(&stock, &rig, &db);
    assert_upsmon_stays_out(&rig, &upsmon, SSL_REFUSED);
    assert!(
        upsmon
            .log()
            .contains("Certificate validation failed for 127.0.0.1"),
        "{}",
        upsmon.log()
    );
    assert!(!rig.log().contains("TLS handshake done"), "{}", rig.log());
}

/// The NSS database password of [`nss_db_with_client`].
const NSS_DB_PASSWORD: &str = "dbsecret";

/// An NSS database (password [`NSS_DB_PASSWORD`]) trusting the rig's CA and holding its client
/// certificate and key under the nickname `nutclient`.
fn nss_db_with_client(rig: &TlsRig) -> PathBuf {
    let dir = rig.dir.path();
    let db = dir.join("nssdb-client");
    std::fs::create_dir_all(&db).unwrap();
    let pwfile = dir.join("nss-password");
    std::fs::write(&pwfile, NSS_DB_PASSWORD).unwrap();
    let (cert, key, p12) = (
        dir.join("client.pem"),
        dir.join("client.key"),
        dir.join("client.p12"),
    );
    std::fs::write(&cert, &rig.pki.client_cert_pem).unwrap();
    std::fs::write(&key, &rig.pki.client_key_pem).unwrap();
    let s = |p: &Path| p.display().to_string();
    let steps: Vec<(&str, Vec<String>)> = vec![
        (
            "certutil",
            vec!["-N".into(), "-d".into(), s(&db), "-f".into(), s(&pwfile)],
        ),
        (
            "certutil",
            vec![
                "-A".into(),
                "-d".into(),
                s(&db),
                "-f".into(),
                s(&pwfile),
                "-n".into(),
                "nutca".into(),
                "-t".into(),
                "C,,".into(),
                "-i".into(),
                s(&rig.ca),
            ],
        ),
        (
            "openssl",
            vec![
                "pkcs12".into(),
                "-export".into(),
                "-in".into(),
                s(&cert),
                "-inkey".into(),
                s(&key),
                "-name".into(),
                "nutclient".into(),
                "-out".into(),
                s(&p12),
                "-passout".into(),
                "pass:p12secret".into(),
            ],
        ),
        (
            "pk12util",
            vec![
                "-i".into(),
                s(&p12),
                "-d".into(),
                s(&db),
                "-W".into(),
                "p12secret".into(),
                "-k".into(),
                s(&pwfile),
            ],
        ),
    ];
    for (program, args) in steps {
        let (code, out, err) =
            run_with_timeout(Command::new(program).args(&args), Duration::from_secs(20));
        assert_eq!(code, Some(0), "{program} {args:?}: {out}{err}");
    }
    db
}

/// `CERTREQUEST REQUIRE` with the CA in CERTPATH: stock upsmon presenting its certificate
/// (CERTIDENT, from its NSS database) logs in over TLS.
#[test]
fn stock_upsmon_with_a_client_certificate_logs_in_when_upsd_requires_one() {
    let Some(stock) = stock_nut() else { return };
    if !have_certutil() {
        return;
    }
    let rig = TlsRig::start_with(&stock, true, |ca| {
        format!("CERTREQUEST REQUIRE\nCERTPATH {}\n", ca.display())
    });
    let db = nss_db_with_client(&rig);
    let upsmon = Upsmon::start_with(
        &stock,
        &rig,
        &db,
        &format!("CERTIDENT nutclient {NSS_DB_PASSWORD}\n"),
    );
    wait_reply(
        rig.port(),
        "GET NUMLOGINS ups",
        "NUMLOGINS ups 1\n",
        Duration::from_secs(15),
    );
    upsmon.wait_log("Connected to NUT server 127.0.0.1 in SSL");
    assert!(
        rig.log().contains("TLS handshake done with 127.0.0.1"),
        "{}",
        rig.log()
    );
}

/// `CERTREQUEST REQUIRE`: stock upsmon without a client certificate stays out, and so does
/// stock upsc; `CERTREQUEST REQUEST` lets upsc in without one.
#[test]
fn clients_without_a_certificate_are_refused_by_require_and_let_in_by_request() {
    let Some(stock) = stock_nut() else { return };
    if !have_certutil() {
        return;
    }
    let rig = TlsRig::start_with(&stock, true, |ca| {
        format!("CERTREQUEST REQUIRE\nCERTPATH {}\n", ca.display())
    });
    let db = nss_db(rig.dir.path(), &rig.ca);
    let upsmon = Upsmon::start(&stock, &rig, &db);
    // TLS 1.3: the client's side of the handshake ends before upsd checks its certificate,
    // so upsmon 2.8.0 sees the refusal at its first request
    let refusal = format!("Set username on [ups@{}] failed", rig.addr());
    assert_upsmon_stays_out(&rig, &upsmon, &refusal);
    assert!(
        rig.log().contains("TLS handshake with 127.0.0.1 failed"),
        "{}",
        rig.log()
    );
    let upsc = |rig: &TlsRig| {
        run_with_timeout(
            Command::new(&stock.upsc).args([&format!("ups@{}", rig.addr()), "ups.status"]),
            Duration::from_secs(15),
        )
    };
    let (code, out, err) = upsc(&rig);
    assert_ne!(
        code,
        Some(0),
        "upsc got in without a certificate: {out}{err}"
    );
    drop(upsmon);
    drop(rig);

    let rig = TlsRig::start_with(&stock, true, |ca| {
        format!("CERTREQUEST REQUEST\nCERTPATH {}\n", ca.display())
    });
    let (code, out, err) = upsc(&rig);
    assert_eq!((code, out.as_str()), (Some(0), "OL DISCHRG\n"), "{err}");
    assert!(
        rig.log().contains("TLS handshake done with 127.0.0.1"),
        "{}",
        rig.log()
    );
}
