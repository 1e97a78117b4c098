//! Our upsmon's `ntfy` webhook (`NOTIFYURL <name> ntfy <topic URL>`), end to end: a loopback
//! HTTP server stands in for an ntfy server and records the requests of a power failure
//! (on battery, back on line, on battery again, low battery, FSD, shutdown).
//!
//! What an ntfy server needs to publish (https://docs.ntfy.sh/publish/): `POST /<topic>` (or
//! PUT) with the message as the body; optional headers `Title`, `Priority` (1-5 or
//! min/low/default/high/max/urgent) and `Tags` (comma-separated; emoji short codes become
//! emojis). The test checks every request byte for byte: request line, the complete header
//! list and the body.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

/// What an ntfy server answers a publish with (abridged).
const NTFY_REPLY: &str = "{\"id\":\"x\",\"event\":\"message\"}\n";

const TOPIC: &str = "nut-SECRET-TOPIC-4711";

#[test]
fn ntfy_requests_of_a_power_failure() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (port, got) = http_server(NTFY_REPLY);
    let extra = format!("NOTIFYURL phone ntfy http://127.0.0.1:{port}/{TOPIC}\n");
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", &extra);
    let mut pp = start_upsmon(&rig, &p);
    let logs = || format!("{}--- requests:\n{:#?}", p.logs(), got.lock().unwrap());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    let n_requests = |n: usize| {
        wait_until(
            &format!("{n} ntfy requests"),
            Duration::from_secs(10),
            || {
                let g = got.lock().unwrap();
                (g.len() >= n).then(|| g.clone())
            },
            logs,
        )
    };
    let sys = rig.target("ups");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    // The exact request for one notification.
    let expect = |title: &str, priority: &str, tag: &str, body: &str| -> Request {
        (
            format!("POST /{TOPIC} HTTP/1.1"),
            vec![
                format!("Host: 127.0.0.1:{port}"),
                "User-Agent: nut-rs-upsmon".into(),
                "Content-Type: text/plain; charset=utf-8".into(),
                format!("Content-Length: {}", body.len()),
                "Connection: close".into(),
                format!("Title: {title}"),
                format!("Priority: {priority}"),
                format!("Tags: nut,{tag}"),
            ],
            body.to_string(),
        )
    };
    let onbatt = expect(
        &format!("ONBATT {sys}"),
        "high",
        "onbatt",
        &format!("UPS {sys} on battery"),
    );

    // the first OL poll notifies nothing, so nothing is posted
    std::thread::sleep(Duration::from_millis(1500));
    assert!(got.lock().unwrap().is_empty(), "{}", logs());

    set_status(&rig, "OB");
    let reqs = n_requests(1);
    assert_eq!(reqs, vec![onbatt.clone()], "{}", logs());

    set_status(&rig, "OL");
    let reqs = n_requests(2);
    assert_eq!(
        reqs[1],
        expect(
            &format!("ONLINE {sys}"),
            "default",
            "online",
            &format!("UPS {sys} on line power")
        ),
        "{}",
        logs()
    );

    // a power failure to the end: the primary notifies ONBATT, LOWBATT, FSD and SHUTDOWN
    // (each delivered by its own task: the order of arrival is not fixed)
    set_status(&rig, "OB LB");
    let reqs = n_requests(6);
    let mut rest = reqs[2..].to_vec();
    rest.sort();
    let mut want = vec![
        onbatt,
        expect(
            &format!("LOWBATT {sys}"),
            "urgent",
            "lowbatt",
            &format!("UPS {sys} battery is low"),
        ),
        expect(
            &format!("FSD {sys}"),
            "urgent",
            "fsd",
            &format!("UPS {sys}: forced shutdown in progress"),
        ),
        // not tied to one UPS: the title names this host
        expect(
            &format!("SHUTDOWN on {host}"),
            "urgent",
            "shutdown",
            "Auto logout and shutdown proceeding",
        ),
    ];
    want.sort();
    assert_eq!(rest, want, "{}", logs());

    // the hook did not change what NOTIFYCMD got, nor the shutdown (NOTIFYCMD runs in its
    // own process: its line may come after the hook's request)
    wait_notified(
        &p,
        "SHUTDOWN",
        1,
        "NOTIFYCMD for SHUTDOWN",
        Duration::from_secs(5),
        logs,
    );
    assert_eq!(
        notified(&p, "SHUTDOWN"),
        vec!["SHUTDOWN||Auto logout and shutdown proceeding".to_string()],
        "{}",
        logs()
    );
    wait_until(
        "upsmon to exit after SHUTDOWNCMD",
        Duration::from_secs(10),
        || pp.exited(),
        logs,
    );
    let order = std::fs::read_to_string(shutdown_order(&rig)).unwrap();
    assert_eq!(order.lines().count(), 1, "{order}");
    assert!(order.starts_with("primary "), "{order}");
    // nothing more was posted, and the topic (anyone who knows it can subscribe) was never
    // logged
    assert_eq!(got.lock().unwrap().len(), 6, "{}", logs());
    let log = p.log();
    assert!(!log.contains("SECRET"), "the topic reached the log:\n{log}");
}
