//! Our upsmon's built-in webhooks (NOTIFYURL / NOTIFYURLFLAG): a local HTTP server on
//! loopback receives the generic JSON and the WeChat Work payloads; endpoints that refuse or
//! never answer, and a NOTIFYCMD that hangs, do not delay the shutdown.

use nut_test_support::upsmon::*;
use nut_test_support::{free_port, stock_nut, Impl, NutDirOptions, Rig};
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn json_and_wechat_payloads_reach_a_local_server() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (port, got) = http_server("");
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
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
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
    wait_notified(&p, "ONLINE", 1, "ONLINE", Duration::from_secs(5), logs);
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
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB");
    wait_notified(&p, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
    set_status(&rig, "OB LB");
    let text = wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(10), logs);
    let shutdown_at: f64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let lowbatt_at: f64 = notified_at(&p, "LOWBATT")
        .first()
        .copied()
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

/// An https endpoint with a private CA: trusted through `SSL_CERT_FILE`, refused when that
/// file holds another CA (and the failure is logged without the secret path).
#[test]
fn https_endpoint_is_checked_against_ssl_cert_file() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let pki = nut_test_support::daemon::TestPki::new("webhook test CA");
    let (port, got) = https_server(&pki.certfile_pem, "");
    let ca = rig.dir.path().join("webhook-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let other = rig.dir.path().join("other-ca.pem");
    std::fs::write(
        &other,
        nut_test_support::daemon::TestPki::new("another CA").ca_pem,
    )
    .unwrap();
    let extra = format!(
        "NOTIFYURL secure json https://127.0.0.1:{port}/hook/SECRET-PATH-TOKEN\n\
         NOTIFYURLFLAG ONLINE NONE\nNOTIFYURLFLAG COMMOK NONE\n"
    );
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", &extra);
    let sys = rig.target("ups");
    let logs = || format!("{}\n{:?}", p.log(), got.lock().unwrap());
    // upsmon trusting the CA file `ca`, logged in, and the UPS on battery
    let onbatt_trusting = |ca: &std::path::Path| {
        let pp = start_upsmon_with(
            &rig,
            &p,
            &["-D", "-p"],
            &[("SSL_CERT_FILE", ca.as_os_str())],
        );
        wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
        set_status(&rig, "OB");
        pp
    };

    // the wrong CA: nothing arrives, the log names the host only
    {
        let _pp = onbatt_trusting(&other);
        let line = wait_until(
            "the refused delivery in the log",
            Duration::from_secs(10),
            || {
                p.log()
                    .lines()
                    .find(|l| l.contains("ONBATT attempt 1"))
                    .map(str::to_string)
            },
            logs,
        );
        assert!(
            line.ends_with(
                "webhook secure (https://127.0.0.1): ONBATT attempt 1: TLS: invalid peer certificate: UnknownIssuer"
            ),
            "{line}"
        );
        assert!(!p.log().contains("SECRET-PATH-TOKEN"), "{}", p.log());
        assert!(got.lock().unwrap().is_empty());
        set_status(&rig, "OL");
    }
    wait_logins(
        &rig,
        0,
        "the first upsmon to log out",
        Duration::from_secs(10),
        || p.log(),
    );

    // the right CA: the JSON arrives over TLS
    let _pp = onbatt_trusting(&ca);
    let req = wait_until(
        "the https request",
        Duration::from_secs(10),
        || got.lock().unwrap().first().cloned(),
        logs,
    );
    assert_eq!(req.0, "POST /hook/SECRET-PATH-TOKEN HTTP/1.1");
    assert!(
        req.2.starts_with(&format!(
            "{{\"event\":\"ONBATT\",\"ups\":\"{sys}\",\"message\":\"UPS {sys} on battery\",\"status\":\"OB\","
        )),
        "{}",
        req.2
    );
}
