//! nut-load against a small server on loopback that answers as upsd does: counts, the LIST
//! framing, the login sequence, a new connection per `upsc` request, and the open loop's
//! pacing.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::Parser;
use nut_load::{run, Args};

/// A server answering each line as upsd would; counts lines and connections.
fn server() -> (u16, Arc<AtomicU64>, Arc<AtomicU64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (lines, conns) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (lc, cc) = (lines.clone(), conns.clone());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            cc.fetch_add(1, Ordering::Relaxed);
            let lc = lc.clone();
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                for line in BufReader::new(s).lines() {
                    let Ok(line) = line else { return };
                    lc.fetch_add(1, Ordering::Relaxed);
                    let reply = match line.split(' ').next().unwrap_or("") {
                        "GET" => "VAR ups ups.status \"OL\"\n".to_string(),
                        "LIST" => "BEGIN LIST VAR ups\nVAR ups battery.charge \"100\"\n\
                                   VAR ups ups.status \"OL\"\nEND LIST VAR ups\n"
                            .to_string(),
                        "LOGOUT" => "OK Goodbye\n".to_string(),
                        "PASSWORD" if line != "PASSWORD secret" => "ERR ACCESS-DENIED\n".into(),
                        _ => "OK\n".to_string(),
                    };
                    if w.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, lines, conns)
}

fn args(port: u16, extra: &[&str]) -> Args {
    let target = format!("127.0.0.1:{port}");
    let mut v = vec!["nut-load", "--target", &target];
    v.extend_from_slice(extra);
    Args::parse_from(v)
}

#[test]
fn closed_loop_get_answers_every_request() {
    let (port, lines, _) = server();
    let r = run(&args(port, &["-c", "4", "-d", "0.5"])).unwrap();
    let (answered, errors, failed) = r.counts();
    assert!(answered > 50, "{}", r.render(false));
    assert_eq!((errors, failed), (0, 0));
    assert_eq!(lines.load(Ordering::Relaxed), answered);
    assert!(r
        .render(false)
        .starts_with("Get, 4 connections, closed loop, 0.5 s\n"));
}

#[test]
fn list_reads_whole_lists_and_counts_each_once() {
    let (port, lines, _) = server();
    let r = run(&args(port, &["-m", "list", "-c", "2", "-n", "300"])).unwrap();
    assert_eq!(r.counts(), (300, 0, 0), "{}", r.render(false));
    assert_eq!(lines.load(Ordering::Relaxed), 300);
}

#[test]
fn upsc_mix_connects_per_request_and_login_get_logs_in_once() {
    let (port, lines, conns) = server();
    let r = run(&args(port, &["-m", "upsc", "-c", "2", "-n", "40"])).unwrap();
    assert_eq!(r.counts(), (40, 0, 0));
    assert_eq!(conns.load(Ordering::Relaxed), 40);
    assert_eq!(
        lines.load(Ordering::Relaxed),
        80,
        "GET and LOGOUT each time"
    );

    let (port, lines, conns) = server();
    let r = run(&args(port, &["-m", "login-get", "-c", "3", "-n", "30"])).unwrap();
    assert_eq!(r.counts(), (30, 0, 0));
    assert_eq!(conns.load(Ordering::Relaxed), 3);
    assert_eq!(lines.load(Ordering::Relaxed), 30 + 3 * 3);
    let (port, _, _) = server();
    let e = run(&args(port, &["-m", "login-get", "--password", "nope"])).unwrap_err();
    assert!(
        e.to_string().contains("PASSWORD nope: ERR ACCESS-DENIED"),
        "{e}"
    );
}

#[test]
fn open_loop_keeps_the_rate() {
    let (port, _, _) = server();
    let r = run(&args(port, &["-c", "5", "-r", "400", "-d", "1"])).unwrap();
    let (answered, _, failed) = r.counts();
    assert_eq!(failed, 0);
    assert!(
        (360..=410).contains(&answered),
        "{answered}: {}",
        r.render(false)
    );
    let json = r.render(true);
    assert!(
        json.starts_with("{\"mix\":\"Get\",\"connections\":5,\"rate\":400,"),
        "{json}"
    );
}

#[test]
fn refuses_non_loopback_and_out_of_range() {
    let e = run(&Args::parse_from([
        "nut-load",
        "--target",
        "192.0.2.1:3493",
    ]))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "refusing target 192.0.2.1:3493: nut-load only talks to loopback (127.0.0.0/8, ::1)"
    );
    let e = run(&args(3493, &["-c", "20001"])).unwrap_err();
    assert_eq!(e.to_string(), "--connections 20001 is not within 1..=20000");
}

#[test]
fn idle_holds_connections_and_sends_nothing() {
    let (port, lines, conns) = server();
    let pid = std::process::id().to_string();
    let r = run(&args(
        port,
        &["-m", "idle", "-c", "5", "-d", "0.3", "--pid", &pid],
    ))
    .unwrap();
    assert_eq!(r.counts(), (0, 0, 0));
    assert_eq!(conns.load(Ordering::Relaxed), 5);
    assert_eq!(lines.load(Ordering::Relaxed), 0);
    assert!(
        r.render(false).contains("\nserver RSS: "),
        "{}",
        r.render(false)
    );
}
