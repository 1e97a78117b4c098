//! upsd.conf's `LISTEN_HTTP` (nut-rs's own), on OUR upsd fed by stock dummy-ups: `/metrics`
//! passes Prometheus' own `promtool check metrics` and carries what stock upsc shows under
//! nut_exporter's names; `/v1/ups` shows the variables exactly as upsc prints them; bad
//! requests get 404/405/413/431, a slow client is cut, and a flood of HTTP clients does not
//! delay a NUT reply (nor a NUT flood an HTTP reply). A real Prometheus (Debian's package) scrapes it, and stock upsd logs the
//! directive as invalid and carries on. Debian's headless Chromium loads the status page at
//! `/` over HTTP and HTTPS: what its DOM shows is what upsc prints.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nut_test_support::{free_port, stock_nut, Impl, NutDirOptions, Rig, UPS, UPS2};

/// Our upsd with the default two UPSes and an HTTP listener on a free port.
fn rig() -> Option<(Rig, u16)> {
    let stock = stock_nut()?;
    let http = free_port();
    let opts = NutDirOptions {
        upsd_conf_extra: vec![format!("LISTEN_HTTP 127.0.0.1 {http}")],
        ..NutDirOptions::default()
    };
    Some((Rig::start(&stock, Impl::Ours, opts), http))
}

/// A response: status code, head (status line and headers), body.
struct Response {
    status: u16,
    head: String,
    body: String,
}

/// Send `request` as is and read until the server closes.
fn raw(port: u16, request: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    parse(got)
}

/// GET `path` over TLS, checking the server's certificate against `ca_pem`.
fn https_get(port: u16, ca_pem: &str, path: &str) -> Response {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let _ = tls.read_to_end(&mut got);
    parse(got)
}

fn parse(got: Vec<u8>) -> Response {
    let text = String::from_utf8(got).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(port: u16, path: &str) -> Response {
    raw(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// `upsc <ups>` (stock) as name -> value.
fn upsc(rig: &Rig, ups: &str) -> BTreeMap<String, String> {
    let out = Command::new(&rig.stock.upsc)
        .arg(rig.target(ups))
        .output()
        .unwrap();
    assert!(out.status.success(), "upsc: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap_or((l.trim_end_matches(':'), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The samples of a Prometheus text body: `name{labels}` -> value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

/// `promtool check metrics` on `body`: its exit code and what it printed.
fn promtool(body: &str) -> (Option<i32>, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool: {e} (Debian's prometheus package has it; scripts/test installs it)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn metrics_pass_promtool_and_carry_what_upsc_shows() {
    let Some((rig, http)) = rig() else { return };
    let _nut_client = rig.client();
    let r = get(http, "/metrics");
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(
        r.head
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{}",
        r.head
    );
    assert_eq!(promtool(&r.body), (Some(0), String::new()), "{}", r.body);

    let m = samples(&r.body);
    for ups in [UPS, UPS2] {
        let vars = upsc(&rig, ups);
        let mut numeric = 0;
        for (name, value) in &vars {
            let series = format!(
                "network_ups_tools_{}{{ups=\"{ups}\"}}",
                name.replace(['.', '-'], "_")
            );
            let plain = !value.is_empty()
                && value.trim_start_matches('-').split('.').count() <= 2
                && value
                    .trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.')
                && !value.ends_with('.')
                && !value.trim_start_matches('-').starts_with('.');
            if name == "ups.status" || !plain {
                assert_eq!(m.get(&series), None, "{name}: {value:?}");
                continue;
            }
            numeric += 1;
            assert_eq!(m.get(&series), Some(&value.parse().unwrap()), "{name}");
        }
        assert!(numeric >= 3, "{ups}: only {numeric} numeric variables");
        let flags: Vec<&str> = vars["ups.status"].split(' ').collect();
        for flag in ["OL", "OB", "LB", "CHRG", "DISCHRG", "FSD"] {
            let series = format!("network_ups_tools_ups_status{{ups=\"{ups}\",flag=\"{flag}\"}}");
            let want = if flags.contains(&flag) { 1.0 } else { 0.0 };
            assert_eq!(m.get(&series), Some(&want), "{series} ({flags:?})");
        }
        for flag in &flags {
            let series = format!("network_ups_tools_ups_status{{ups=\"{ups}\",flag=\"{flag}\"}}");
            assert_eq!(m.get(&series), Some(&1.0), "{series}");
        }
        let info = r
            .body
            .lines()
            .find(|l| l.starts_with(&format!("network_ups_tools_device_info{{ups=\"{ups}\",")))
            .unwrap_or_else(|| panic!("no device_info for {ups}:\n{}", r.body));
        // label values escape backslash and double quote
        let mfr = vars["device.mfr"]
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        assert!(info.contains(&format!(",mfr=\"{mfr}\",")), "{info}");
        assert!(info.ends_with("} 1"), "{info}");
        assert_eq!(
            m.get(&format!("nut_upsd_driver_stale{{ups=\"{ups}\"}}")),
            Some(&0.0)
        );
        assert_eq!(
            m.get(&format!("nut_upsd_driver_connected{{ups=\"{ups}\"}}")),
            Some(&1.0)
        );
        let age = m[&format!("nut_upsd_last_update_age_seconds{{ups=\"{ups}\"}}")];
        assert!((0.0..=15.0).contains(&age), "{ups}: age {age}");
    }
    assert_eq!(m.get("nut_upsd_clients_connected"), Some(&1.0));

    // Each upsc run is one LIST request (LIST VAR), counted.
    let list = |m: &BTreeMap<String, f64>| m["nut_upsd_requests_total{command=\"LIST\"}"];
    let before = list(&samples(&get(http, "/metrics").body));
    upsc(&rig, UPS);
    upsc(&rig, UPS2);
    assert_eq!(list(&samples(&get(http, "/metrics").body)), before + 2.0);
}

#[test]
fn v1_ups_shows_variables_exactly_as_upsc() {
    let Some((rig, http)) = rig() else { return };
    let r = get(http, "/v1/ups");
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(
        r.head.contains("content-type: application/json"),
        "{}",
        r.head
    );
    let list: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [UPS, UPS2]);
    let mut client = rig.client();
    client.auth("upsmon", "pw");
    assert_eq!(client.request(&format!("LOGIN {UPS}")), "OK\n");
    for ups in [UPS, UPS2] {
        let r = get(http, &format!("/v1/ups/{ups}"));
        assert_eq!(r.status, 200);
        let u: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let vars = upsc(&rig, ups);
        let shown: BTreeMap<String, String> =
            serde_json::from_value(u["variables"].clone()).unwrap();
        assert_eq!(shown, vars, "{ups}");
        let flags: Vec<&str> = vars["ups.status"].split(' ').collect();
        assert_eq!(u["status"], serde_json::json!(flags));
        assert_eq!(u["name"], ups);
        assert_eq!(u["stale"], false);
        assert_eq!(u["driver_connected"], true);
        let clients = if ups == UPS {
            serde_json::json!(["127.0.0.1"])
        } else {
            serde_json::json!([])
        };
        assert_eq!(u["clients"], clients, "{ups}");
        // the same object as in the list
        assert!(list.as_array().unwrap().iter().any(|l| l["name"] == ups));
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&get(http, &format!("/v1/ups/{UPS}")).body)
            .unwrap()["description"],
        nut_test_support::UPS_DESC
    );
    let r = get(http, "/v1/ups/nope");
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "{\n  \"error\": \"unknown UPS \\\"nope\\\"\"\n}\n")
    );
}

#[test]
fn bad_requests_are_refused_and_slow_clients_cut() {
    let Some((rig, http)) = rig() else { return };
    let r = get(http, "/nope");
    assert_eq!(r.status, 404);
    let r = raw(
        http,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
    );
    assert_eq!(r.status, 405);
    assert!(r.head.contains("\r\nallow: GET, HEAD"), "{}", r.head);
    let r = raw(
        http,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.status, 413);
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    assert_eq!(raw(http, big.as_bytes()).status, 431);
    // HEAD: the headers of GET, no body.
    let r = raw(http, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.body.as_str()), (200, ""));

    // A client that never finishes its request head is dropped after 5 s.
    let mut slow = TcpStream::connect(("127.0.0.1", http)).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    let _ = slow.read_to_end(&mut got);
    let took = t0.elapsed();
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(8)).contains(&took),
        "cut after {took:?}"
    );
    // hyper answers 408 before closing
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    drop(rig);
}

#[test]
fn an_http_flood_does_not_delay_nut_replies_nor_the_other_way_round() {
    let Some((rig, http)) = rig() else { return };
    // Idle HTTP connections, each stalled mid-head (fewer than are served at once, so the
    // fast clients below are served too).
    let stalled: Vec<TcpStream> = (0..24)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", http)).unwrap();
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n");
            s
        })
        .collect();
    // And clients hammering /metrics and /v1/ups as fast as they are answered.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Collected: the threads must run while the NUT requests are timed.
    #[allow(clippy::needless_collect)]
    let hammers: Vec<_> = (0..4)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let path = if i % 2 == 0 { "/metrics" } else { "/v1/ups" };
                    if let Ok(mut s) = TcpStream::connect(("127.0.0.1", http)) {
                        let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
                        let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                        let mut b = Vec::new();
                        let _ = s.read_to_end(&mut b);
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut nut = rig.client();
    let mut worst = Duration::ZERO;
    for _ in 0..50 {
        let t0 = Instant::now();
        let reply = nut.request(&format!("GET VAR {UPS} ups.status"));
        worst = worst.max(t0.elapsed());
        assert!(
            reply.starts_with(&format!("VAR {UPS} ups.status ")),
            "{reply}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served: u32 = hammers.into_iter().map(|h| h.join().unwrap()).sum();
    drop(stalled);
    eprintln!("NUT GET worst {worst:?} under an HTTP flood ({served} HTTP replies)");
    assert!(
        worst < Duration::from_millis(500),
        "a NUT GET took {worst:?} during the HTTP flood"
    );
    assert!(served > 0, "the HTTP flood was never served");

    // The other way round: NUT clients hammering GET VAR and LIST VAR do not delay HTTP.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    #[allow(clippy::needless_collect)]
    let hammers: Vec<_> = (0..4)
        .map(|i| {
            let stop = stop.clone();
            let mut c = rig.client();
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let line = if i % 2 == 0 {
                        format!("GET VAR {UPS} ups.status")
                    } else {
                        format!("LIST VAR {UPS}")
                    };
                    c.request(&line);
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut worst = Duration::ZERO;
    for _ in 0..30 {
        let t0 = Instant::now();
        let r = get(http, &format!("/v1/ups/{UPS}"));
        worst = worst.max(t0.elapsed());
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered: u32 = hammers.into_iter().map(|h| h.join().unwrap()).sum();
    eprintln!("HTTP GET worst {worst:?} under a NUT flood ({answered} NUT replies)");
    assert!(
        worst < Duration::from_millis(500),
        "an HTTP GET took {worst:?} during the NUT flood"
    );
    assert!(answered > 100, "the NUT flood got {answered} answers");
}

/// Poll `check` every 200 ms for up to `secs` seconds.
fn within<T>(secs: u64, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let t0 = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(e) if t0.elapsed() > Duration::from_secs(secs) => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn a_real_prometheus_scrapes_metrics() {
    let Some((rig, http)) = rig() else { return };
    let dir = tempfile::tempdir().unwrap();
    let web = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: nut\n    static_configs:\n      - targets: ['127.0.0.1:{http}']\n"
        ),
    )
    .unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("prometheus: {e} (Debian's prometheus package)"));
    let query = |q: &str| -> Result<Vec<serde_json::Value>, String> {
        let r = std::panic::catch_unwind(|| get(web, &format!("/api/v1/query?query={q}")))
            .map_err(|_| "no answer".to_string())?;
        let v: serde_json::Value = serde_json::from_str(&r.body).map_err(|e| e.to_string())?;
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if result.is_empty() {
            return Err(format!("{q}: {}", r.body));
        }
        Ok(result)
    };
    let up = within(60, "the scrape", || query("up"));
    let charge = within(10, "battery.charge", || {
        query("network_ups_tools_battery_charge")
    });
    let ol = within(10, "OL", || {
        query("network_ups_tools_ups_status%7Bflag%3D%22OL%22%7D")
    });
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    assert_eq!(up.len(), 1, "{up:?}\n{log}");
    assert_eq!(up[0]["value"][1], "1", "scrape failed: {up:?}\n{log}");
    let vars = upsc(&rig, UPS);
    let of = |result: &[serde_json::Value], ups: &str| -> Option<String> {
        result
            .iter()
            .find(|s| s["metric"]["ups"] == ups)
            .map(|s| s["value"][1].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(of(&charge, UPS), Some(vars["battery.charge"].clone()));
    let online = vars["ups.status"].split(' ').any(|f| f == "OL");
    assert_eq!(
        of(&ol, UPS).as_deref(),
        Some(if online { "1" } else { "0" })
    );
}

#[test]
fn stock_upsd_logs_listen_http_as_invalid_and_serves_nut() {
    let Some(stock) = stock_nut() else { return };
    let http = free_port();
    let opts = NutDirOptions {
        upsd_conf_extra: vec![format!("LISTEN_HTTP 127.0.0.1 {http}")],
        ..NutDirOptions::default()
    };
    let rig = Rig::start(&stock, Impl::Stock, opts);
    let log = rig.upsd.log(&rig.dir);
    assert!(
        log.contains(&format!(
            "upsd.conf: invalid directive LISTEN_HTTP 127.0.0.1 {http}"
        )),
        "{log}"
    );
    assert!(TcpStream::connect(("127.0.0.1", http)).is_err());
    assert!(upsc(&rig, UPS).contains_key("ups.status"));
}

#[test]
fn listen_https_serves_the_same_over_tls_with_certfile() {
    let Some(stock) = stock_nut() else { return };
    let pki = nut_test_support::daemon::TestPki::new("nut-rs http test CA");
    let keep = tempfile::tempdir().unwrap();
    let (_, certfile) = pki.write(keep.path());
    let https = free_port();
    let opts = NutDirOptions {
        upsd_conf_extra: vec![
            format!("CERTFILE {}", certfile.display()),
            format!("LISTEN_HTTPS 127.0.0.1 {https}"),
        ],
        ..NutDirOptions::default()
    };
    let rig = Rig::start(&stock, Impl::Ours, opts);
    let r = https_get(https, &pki.ca_pem, "/metrics");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(promtool(&r.body), (Some(0), String::new()), "{}", r.body);
    let ups = upsc(&rig, UPS);
    let series = format!("network_ups_tools_battery_charge{{ups=\"{UPS}\"}}");
    assert_eq!(
        samples(&r.body).get(&series),
        Some(&ups["battery.charge"].parse().unwrap())
    );
    let r = https_get(https, &pki.ca_pem, &format!("/v1/ups/{UPS}"));
    let u: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let shown: BTreeMap<String, String> = serde_json::from_value(u["variables"].clone()).unwrap();
    assert_eq!(shown, ups);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut s = TcpStream::connect(("127.0.0.1", https)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

/// A connection from `from` to `port`: what it got until the server closed (`None`: still
/// open after 3 s).
fn http_from(from: &str, port: u16) -> Option<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut s = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let to = format!("127.0.0.1:{port}").parse().unwrap();
        socket.connect(to).await.unwrap().into_std().unwrap()
    });
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => Some(got),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(got),
        Err(_) => None,
    }
}

#[test]
fn allow_from_applies_to_http_clients() {
    let Some((rig, http)) = rig() else { return };
    let port = rig.port();
    rig.dir.write_conf(
        "upsd.conf",
        &format!("LISTEN 127.0.0.1 {port}\nLISTEN_HTTP 127.0.0.1 {http}\nALLOW_FROM 127.0.0.2\n"),
    );
    nut_test_support::daemon::signal(rig.upsd.proc_.pid(), "HUP");
    nut_test_support::daemon::wait_for("the new list", Duration::from_secs(5), |last| {
        let got = http_from("127.0.0.1", http);
        *last = format!("{got:?}");
        (got == Some(Vec::new())).then_some(())
    });
    let served = http_from("127.0.0.2", http).unwrap();
    assert!(served.starts_with(b"HTTP/1.1 200 OK\r\n"), "{served:?}");
    let log = rig.upsd.log(&rig.dir);
    assert!(
        log.contains("HTTP: Refused connection from 127.0.0.1: not in upsd.conf's ALLOW_FROM"),
        "{log}"
    );
}

/// Run Debian's headless Chromium on `url` with `args` (`--dump-dom` or `--screenshot=…`),
/// giving the page `budget_ms` of virtual time to fetch and draw: what it printed.
fn chromium(url: &str, args: &[&str], budget_ms: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg("--ignore-certificate-errors")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("chromium: {e} (Debian's chromium package; scripts/test installs it)")
        });
    let out = nut_test_support::daemon::output_within(
        child,
        Duration::from_secs(90),
        &format!("chromium {url} {args:?}"),
    );
    assert!(
        out.status.success(),
        "chromium {url}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The element of `dom` (as Chromium serialises it) with `id`: its attributes and its
/// content, entities decoded.
fn element<'a>(dom: &'a str, id: &str) -> (&'a str, String) {
    let at = dom
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id:?} in\n{dom}"));
    let open = dom[..at].rfind('<').unwrap();
    let tag = dom[open + 1..].split([' ', '>']).next().unwrap();
    let end = open + dom[open..].find('>').unwrap();
    let close = end + dom[end..].find(&format!("</{tag}>")).unwrap();
    (&dom[open..end], unescape(&dom[end + 1..close]))
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in an element's `attrs`.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let start = attrs.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = attrs[start..].find('"')?;
    Some(unescape(&attrs[start..start + len]))
}

/// The status page's words for a flag of `ups.status`.
fn flag_words(flag: &str) -> &str {
    match flag {
        "OL" => "On line",
        "OB" => "On battery",
        "LB" => "Low battery",
        "DISCHRG" => "Discharging",
        "CHRG" => "Charging",
        other => panic!("no words expected for {other}"),
    }
}

/// A runtime as the status page shows it.
fn runtime_words(seconds: &str) -> String {
    let s: u64 = seconds.parse().unwrap();
    let m = s / 60;
    match (s, m) {
        (0..=59, _) => format!("{s} s"),
        (_, 0..=59) => format!("{m} min"),
        _ => format!("{} h {} min", m / 60, m % 60),
    }
}

/// How many samples of each variable `/v1/ups/<ups>/history` has with a value.
fn history_counts(http: u16, ups: &str) -> BTreeMap<String, usize> {
    let r = get(http, &format!("/v1/ups/{ups}/history"));
    assert_eq!(r.status, 200, "{}", r.body);
    let h: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(h["interval_seconds"], 10);
    let names: Vec<String> = serde_json::from_value(h["variables"].clone()).unwrap();
    let samples = h["samples"].as_array().unwrap();
    names
        .into_iter()
        .map(|n| {
            let count = samples.iter().filter(|s| !s[&n].is_null()).count();
            (n, count)
        })
        .collect()
}

/// Check the status page's DOM against stock upsc: the status flags in words, the four
/// values exactly as upsc prints them (and with their unit), and a chart line per variable
/// with as many points as the history had values (`before` or `after` the page loaded, as a
/// sample may have been taken meanwhile).
fn check_page(
    dom: &str,
    rig: &Rig,
    before: &BTreeMap<&str, BTreeMap<String, usize>>,
    after: &BTreeMap<&str, BTreeMap<String, usize>>,
) {
    assert_eq!(
        attr(element(dom, "updated").0, "data-ups").as_deref(),
        Some("2")
    );
    let (_, error) = element(dom, "error");
    assert_eq!(error, "", "the page says: {error}");
    for ups in [UPS, UPS2] {
        let vars = upsc(rig, ups);
        let (attrs, status) = element(dom, &format!("ups-{ups}-status"));
        assert_eq!(attr(attrs, "data-flags"), Some(vars["ups.status"].clone()));
        let words: Vec<String> = vars["ups.status"]
            .split(' ')
            .map(|f| {
                format!(
                    "<span class=\"flag {}\" data-flag=\"{f}\">{}</span>",
                    kind(f),
                    flag_words(f)
                )
            })
            .collect();
        assert_eq!(status, words.concat(), "{ups}");
        for (name, shown) in [
            (
                "battery.charge",
                vars.get("battery.charge").map(|v| format!("{v} %")),
            ),
            (
                "battery.runtime",
                vars.get("battery.runtime").map(|v| runtime_words(v)),
            ),
            ("ups.load", vars.get("ups.load").map(|v| format!("{v} %"))),
            (
                "input.voltage",
                vars.get("input.voltage").map(|v| format!("{v} V")),
            ),
        ] {
            let (attrs, text) = element(dom, &format!("ups-{ups}-{name}"));
            assert_eq!(
                attr(attrs, "data-value"),
                vars.get(name).cloned(),
                "{ups} {name}"
            );
            assert_eq!(text, shown.unwrap_or("–".into()), "{ups} {name}");
            let path = dom[dom.find(&format!(" id=\"ups-{ups}-chart\"")).unwrap()..]
                .split("</svg>")
                .next()
                .unwrap();
            let line = path
                .split("<path ")
                .find(|p| p.contains(&format!(" data-var=\"{name}\"")))
                .unwrap_or_else(|| panic!("{ups}: no chart line for {name}"));
            let points: usize = attr(&format!(" {line}"), "data-points")
                .unwrap()
                .parse()
                .unwrap();
            let counts = [before[ups][name], after[ups][name]];
            assert!(
                counts.contains(&points),
                "{ups} {name}: {points} points, history {counts:?}"
            );
            assert_eq!(points > 0, vars.contains_key(name), "{ups} {name}");
        }
    }
    let (_, title) = element(dom, &format!("ups-{UPS}"));
    assert!(
        title.starts_with(&format!(
            "<h2>{UPS}<small>{}</small></h2>",
            nut_test_support::UPS_DESC
        )),
        "{title}"
    );
}

/// The colour class of a flag on the status page.
fn kind(flag: &str) -> &str {
    match flag {
        "OL" => "ok",
        "OB" | "LB" => "alarm",
        _ => "",
    }
}

#[test]
fn the_status_page_in_chromium_shows_what_upsc_shows() {
    let Some(stock) = stock_nut() else { return };
    let pki = nut_test_support::daemon::TestPki::new("nut-rs status page test CA");
    let keep = tempfile::tempdir().unwrap();
    let (_, certfile) = pki.write(keep.path());
    let (http, https) = (free_port(), free_port());
    let opts = NutDirOptions {
        upsd_conf_extra: vec![
            format!("LISTEN_HTTP 127.0.0.1 {http}"),
            format!("CERTFILE {}", certfile.display()),
            format!("LISTEN_HTTPS 127.0.0.1 {https}"),
        ],
        ..NutDirOptions::default()
    };
    let rig = Rig::start(&stock, Impl::Ours, opts);
    // The page and its history, as served.
    let r = get(http, "/");
    assert_eq!(r.status, 200);
    assert!(
        r.head.contains("content-type: text/html; charset=utf-8"),
        "{}",
        r.head
    );
    // Relative URLs only (so it works over HTTPS and under a proxy's sub-path): the one
    // absolute URL is SVG's namespace, a name that is never fetched.
    let absolute = r.body.replace("http://www.w3.org/2000/svg", "");
    assert!(!absolute.contains("://"), "an absolute URL in the page");
    // upsd samples every 10 s: wait for two samples of each UPS's charge.
    let counts = || -> BTreeMap<&str, BTreeMap<String, usize>> {
        [UPS, UPS2]
            .into_iter()
            .map(|u| (u, history_counts(http, u)))
            .collect()
    };
    within(35, "two samples", || {
        let c = counts();
        (c[UPS]["battery.charge"] >= 2 && c[UPS2]["battery.charge"] >= 2)
            .then_some(())
            .ok_or(format!("{c:?}"))
    });
    for url in [
        format!("http://127.0.0.1:{http}/"),
        format!("https://127.0.0.1:{https}/"),
    ] {
        let before = counts();
        let dom = chromium(&url, &["--dump-dom"], 3000);
        let after = counts();
        check_page(&dom, &rig, &before, &after);
    }
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &format!("http://127.0.0.1:{http}/"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,470",
            "--hide-scrollbars",
        ],
        3000,
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());
    eprintln!(
        "status page screenshot: {} ({} bytes)",
        shot.display(),
        png.len()
    );
}
