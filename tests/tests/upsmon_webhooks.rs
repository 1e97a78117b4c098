//! Our upsmon's built-in webhooks (NOTIFYURL / NOTIFYURLFLAG): a local HTTP server on
//! loopback receives the generic JSON and the WeChat Work payloads; endpoints that refuse or
//! never answer, and a NOTIFYCMD that hangs, do not delay the shutdown.

mod upsmon_common;

use nut_rs_tests::{free_port, stock_nut, Impl, NutDirOptions, Rig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use upsmon_common::*;

/// One request the test server got: (request line, headers, body).
type Request = (String, Vec<String>, String);

/// An HTTP server on 127.0.0.1 answering every request with 200; returns its port and the
/// requests received.
fn http_server() -> (u16, Arc<Mutex<Vec<Request>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push(h.trim_end().to_string());
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            g.lock().unwrap().push((
                line.trim_end().to_string(),
                headers,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
    });
    (port, got)
}

#[test]
fn json_and_wechat_payloads_reach_a_local_server() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (port, got) = http_server();
    let extra = format!(
        "NOTIFYURL generic json http://127.0.0.1:{port}/hook/SECRET-PATH-TOKEN\n\
         NOTIFYURL robot wechat \"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=SECRET-ROBOT-KEY\"\n\
         NOTIFYURLFLAG ONBATT generic+robot\n\
         NOTIFYURLFLAG ONLINE NONE\n\
         NOTIFYURLFLAG COMMOK NONE\n"
    );
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", &extra);
    let _pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{}\n{:?}", p.log(), p.notify_log(), got.lock().unwrap());
    wait_until(
        "login",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 1\n").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    let reqs = wait_until(
        "two webhook requests",
        Duration::from_secs(10),
        || {
            let g = got.lock().unwrap();
            (g.len() >= 2).then(|| g.clone())
        },
        logs,
    );
    let sys = rig.target("ups");
    let json = reqs
        .iter()
        .find(|r| r.0 == "POST /hook/SECRET-PATH-TOKEN HTTP/1.1")
        .unwrap_or_else(|| panic!("no JSON request: {reqs:?}"));
    assert!(
        json.1
            .contains(&"Content-Type: application/json".to_string()),
        "{json:?}"
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let prefix = format!(
        "{{\"event\":\"ONBATT\",\"ups\":\"{sys}\",\"message\":\"UPS {sys} on battery\",\"status\":\"OB\",\"time\":\""
    );
    assert!(json.2.starts_with(&prefix), "{}", json.2);
    assert!(
        json.2.ends_with(&format!("Z\",\"host\":\"{host}\"}}")),
        "{}",
        json.2
    );
    let robot = reqs
        .iter()
        .find(|r| r.0 == "POST /cgi-bin/webhook/send?key=SECRET-ROBOT-KEY HTTP/1.1")
        .unwrap_or_else(|| panic!("no WeChat request: {reqs:?}"));
    assert_eq!(
        robot.2,
        format!(
            "{{\"msgtype\":\"text\",\"text\":{{\"content\":\"[{host}] UPS {sys} on battery\"}}}}"
        )
    );
    // ONLINE is selected for no hook
    set_status(&rig, "OL");
    wait_until(
        "ONLINE",
        Duration::from_secs(5),
        || (!notified(&p, "ONLINE").is_empty()).then_some(()),
        logs,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(got.lock().unwrap().len(), 2, "{}", logs());
    let log = p.log();
    assert!(!log.contains("SECRET"), "a secret reached the log:\n{log}");
}

#[test]
fn dead_endpoints_and_a_hanging_notifycmd_do_not_delay_the_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    // refuses connections
    let refused = free_port();
    // accepts (through the backlog) but never answers
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let extra = format!(
        "NOTIFYURL refused json http://127.0.0.1:{refused}/x\n\
         NOTIFYURL silent ntfy http://127.0.0.1:{silent_port}/topic\n\
         NOTIFYURL robot wechat \"http://127.0.0.1:{silent_port}/send?key=k\"\n"
    );
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", &extra);
    // the NOTIFYCMD records, then hangs for ONBATT and LOWBATT
    write_script(
        &p.dir.join("notify.sh"),
        &format!(
            "echo \"$NOTIFYTYPE|$UPSNAME|$1|$(date +%s.%N)\" >> '{}'\n\
             case \"$NOTIFYTYPE\" in ONBATT|LOWBATT) sleep 100;; esac\n",
            p.dir.join("notify.log").display()
        ),
    );
    let mut pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{}", p.log(), p.notify_log());
    wait_until(
        "login",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 1\n").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    wait_until(
        "ONBATT",
        Duration::from_secs(5),
        || (!notified(&p, "ONBATT").is_empty()).then_some(()),
        logs,
    );
    set_status(&rig, "OB LB");
    let order = rig.dir.path().join("shutdown.order");
    let text = wait_until(
        "SHUTDOWNCMD",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&order)
                .ok()
                .filter(|t| !t.is_empty())
        },
        logs,
    );
    let shutdown_at: f64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let lowbatt_at: f64 = p
        .notify_log()
        .lines()
        .find(|l| l.starts_with("LOWBATT|"))
        .and_then(|l| l.rsplit('|').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no LOWBATT: {}", logs()));
    // LOWBATT -> FSD -> NUMLOGINS 1 -> SHUTDOWN -> FINALDELAY (1 s) -> SHUTDOWNCMD
    let took = shutdown_at - lowbatt_at;
    assert!(
        took < 2.0,
        "LOWBATT to SHUTDOWNCMD took {took:.3} s:\n{}",
        logs()
    );
    wait_until(
        "upsmon to exit",
        Duration::from_secs(5),
        || pp.exited(),
        logs,
    );
    drop(silent);
}
