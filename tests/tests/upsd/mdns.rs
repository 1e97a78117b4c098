//! upsd.conf's `MDNS on` (nut-rs's own), seen by python-zeroconf (Debian's python3-zeroconf,
//! the library Home Assistant discovers with) in a network namespace of its own, across a veth
//! link from the namespace where our upsd runs: `_nut._tcp` and `_http._tcp` are found with
//! their ports, the upsd's address and the UPS names, stock upsc reaches the UPS at the address
//! and port found, a reload that removes a UPS updates the TXT record, and stopping upsd withdraws
//! both services. Without the directive nothing is advertised.

use std::process::Output;
use std::time::{Duration, Instant};

use nut_test_support::daemon;
use nut_test_support::netns::{self, Star};
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig, UPS, UPS2};

/// The NUT and HTTP ports upsd listens on inside the server namespace (its own network
/// stack: nothing else uses them).
const NUT_PORT: u16 = 3493;
const HTTP_PORT: u16 = 9199;

/// Browse the DNS-SD types given for up to the seconds given (or until each type has a
/// resolved service), then print each resolved service as a JSON line; with `--watch`, keep
/// printing `removed <name>` lines for services withdrawn until that time is up.
///
/// A service is found when the browser adds it (its PTR record came), as Home Assistant's
/// discovery sees it, not on an update from its other records: the responder leaves the PTR
/// out of an answer when it multicast it less than a second before (RFC 6762 §6), as it did
/// for the browser just run, and a browser holding only the TXT record has nothing for the
/// goodbye to remove.
const BROWSE: &str = r#"
import json, sys, time
from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf
seconds, watch, types = float(sys.argv[1]), sys.argv[2] == "--watch", sys.argv[3:]
zc = Zeroconf(ip_version=IPVersion.V4Only)
seen, removed = {}, []
class Listener(ServiceListener):
    def add_service(self, zc, type_, name): seen[name] = type_
    def update_service(self, zc, type_, name): pass
    def remove_service(self, zc, type_, name): removed.append(name)
browsers = [ServiceBrowser(zc, t, Listener()) for t in types]
def resolved():
    out = []
    for name, type_ in sorted(seen.items()):
        info = zc.get_service_info(type_, name, timeout=3000)
        if info:
            txt = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            out.append({"type": type_, "name": name, "server": info.server, "port": info.port,
                        "v4": sorted(info.parsed_addresses()), "txt": txt})
    return out
end = time.monotonic() + seconds
while time.monotonic() < end and set(seen.values()) < set(types):
    time.sleep(0.1)
for s in resolved():
    print(json.dumps(s, sort_keys=True), flush=True)
if watch:
    print("ready", flush=True)
    while time.monotonic() < end + seconds and not removed:
        time.sleep(0.1)
    for name in removed:
        print("removed", name, flush=True)
zc.close()
"#;

/// Run the browser in `ns` for `types`, `seconds` at most.
fn browse(ns: &netns::NetNs, seconds: u32, types: &[&str]) -> Vec<serde_json::Value> {
    let out = daemon::output_within(
        browser(ns, seconds, false, types),
        Duration::from_secs(u64::from(seconds) + 30),
        "the zeroconf browser",
    );
    lines(&out)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn browser(ns: &netns::NetNs, seconds: u32, watch: bool, types: &[&str]) -> std::process::Child {
    netns::exec_in(ns, "/usr/bin/python3".as_ref())
        .args(["-c", BROWSE, &seconds.to_string()])
        .arg(if watch { "--watch" } else { "--once" })
        .args(types)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("python3: {e} (Debian's python3-zeroconf; scripts/test installs it)")
        })
}

fn lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "the zeroconf browser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The host name the services are announced under: this machine's, as `<short>.local.`.
fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("{}.local.", name.trim().split('.').next().unwrap())
}

/// Our upsd in the server namespace with `extra` upsd.conf lines, listening on the link to
/// client 1 (NUT) and everywhere (HTTP).
fn rig(extra: &[&str]) -> Option<Rig> {
    let stock = stock_nut()?;
    let mut lines = vec![
        format!("LISTEN {} {NUT_PORT}", Star::server_addr(1)),
        format!("LISTEN_HTTP 0.0.0.0 {HTTP_PORT}"),
    ];
    lines.extend(extra.iter().map(|l| l.to_string()));
    let opts = NutDirOptions {
        upsd_conf_extra: lines,
        ..NutDirOptions::default()
    };
    Some(Rig::start(&stock, Impl::Ours, opts))
}

#[test]
fn mdns_on_is_found_by_python_zeroconf_in_another_namespace() {
    if stock_nut().is_none() || !netns::available() {
        return;
    }
    let star = Star::new(1);
    let client = star.client(1);
    netns::run_in(&star.server, || {
        let Some(rig) = rig(&["MDNS on"]) else { return };
        let found = browse(client, 15, &["_nut._tcp.local.", "_http._tcp.local."]);
        let server = Star::server_addr(1).to_string();
        let host = host();
        let short = host.trim_end_matches(".local.");
        let expect = |kind: &str, port: u16, txt: serde_json::Value| {
            serde_json::json!({
                "type": format!("{kind}.local."),
                "name": format!("{short}.{kind}.local."),
                "server": host,
                "port": port,
                "v4": [server],
                "txt": txt,
            })
        };
        assert_eq!(
            found,
            [
                expect(
                    "_http._tcp",
                    HTTP_PORT,
                    serde_json::json!({"txtvers": "1", "path": "/", "ups": format!("{UPS},{UPS2}")})
                ),
                expect(
                    "_nut._tcp",
                    NUT_PORT,
                    serde_json::json!({"txtvers": "1", "ups": format!("{UPS},{UPS2}")})
                ),
            ],
            "{}",
            rig.upsd.log(&rig.dir)
        );
        // What Home Assistant does next: connect to the address and port found.
        let upsc = netns::exec_in(client, rig.stock.upsc.as_os_str())
            .arg(format!("{UPS}@{server}:{NUT_PORT}"))
            .arg("ups.status")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&upsc.stdout),
            "OL DISCHRG\n",
            "{upsc:?}"
        );
        let log = rig.upsd.log(&rig.dir);
        assert!(
            log.contains(&format!(
                "MDNS: advertising {short}._nut._tcp.local. on port {NUT_PORT} (ups={UPS},{UPS2})"
            )),
            "{log}"
        );

        // A reload that removes a UPS: the TXT record follows.
        let ups_conf = std::fs::read_to_string(rig.dir.conf().join("ups.conf")).unwrap();
        let (only_first, _) = ups_conf.split_once(&format!("[{UPS2}]")).unwrap();
        rig.dir.write_conf("ups.conf", only_first);
        daemon::signal(rig.upsd.proc_.pid(), "HUP");
        daemon::wait_for("the new TXT record", Duration::from_secs(10), |last| {
            *last = rig.upsd.log(&rig.dir);
            last.contains(&format!("on port {NUT_PORT} (ups={UPS})"))
                .then_some(())
        });
        let found = browse(client, 15, &["_nut._tcp.local."]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["txt"]["ups"], UPS, "{found:?}");

        // Stopping upsd withdraws the services at once (goodbye packets; without them a
        // browser would keep them for their TTL, 75 s and more).
        let mut watcher = browser(client, 10, true, &["_nut._tcp.local."]);
        let mut out = std::io::BufReader::new(watcher.stdout.take().unwrap());
        let mut seen = Vec::new();
        while seen.last().map(String::as_str) != Some("ready") {
            let mut line = String::new();
            assert_ne!(
                std::io::BufRead::read_line(&mut out, &mut line).unwrap(),
                0,
                "{seen:?}"
            );
            seen.push(line.trim_end().to_string());
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        let t0 = Instant::now();
        daemon::signal(rig.upsd.proc_.pid(), "TERM");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let took = t0.elapsed();
        assert!(watcher.wait().unwrap().success());
        assert_eq!(rest, format!("removed {short}._nut._tcp.local.\n"));
        eprintln!("the browser dropped the service {took:?} after SIGTERM");
        assert!(took < Duration::from_secs(5), "{took:?}");
    });
}

#[test]
fn nothing_is_advertised_without_mdns_on_nor_for_loopback_listeners() {
    let Some(stock) = stock_nut() else { return };
    if !netns::available() {
        return;
    }
    let star = Star::new(1);
    let types = ["_nut._tcp.local.", "_http._tcp.local."];
    netns::run_in(&star.server, || {
        let Some(rig) = rig(&[]) else { return };
        assert_eq!(
            browse(star.client(1), 4, &types),
            Vec::<serde_json::Value>::new()
        );
        assert!(!rig.upsd.log(&rig.dir).contains("MDNS"));
        drop(rig);
        // MDNS on, but the rig's only LISTEN is 127.0.0.1: said at start, nothing announced.
        let opts = NutDirOptions {
            upsd_conf_extra: vec!["MDNS on".into()],
            ..NutDirOptions::default()
        };
        let rig = Rig::start(&stock, Impl::Ours, opts);
        assert_eq!(
            browse(star.client(1), 4, &types),
            Vec::<serde_json::Value>::new()
        );
        let log = rig.upsd.log(&rig.dir);
        assert!(
            log.contains("MDNS: _nut._tcp not advertised: every LISTEN address is a loopback one"),
            "{log}"
        );
    });
}
