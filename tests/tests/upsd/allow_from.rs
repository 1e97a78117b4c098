//! upsd.conf's `ALLOW_FROM` (nut-rs's "permitted devices"), on OUR upsd fed by stock
//! dummy-ups: a peer outside the list is closed before a byte is read or written, the refusal
//! is logged once per peer per minute, a reload applies a new list to new connections, and
//! stock upsc is served from an allowed address. (`upsd -c reload` is the same SIGHUP; the
//! lifecycle tests cover it.) Stock upsd has no such directive.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use nut_test_support::daemon::{signal, wait_for};
use nut_test_support::{stock_nut, Impl, LineClient, NutDirOptions, Rig, UPS};

/// A connection to upsd on `port` from the local address `from`.
fn connect_from(from: &str, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(format!("{from}:0").parse::<SocketAddr>().unwrap())
            .unwrap();
        let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        socket.connect(to).await.unwrap().into_std().unwrap()
    })
}

/// What the server sends a silent client before closing (`None`: it did not close in 2 s).
fn bytes_until_close(mut s: TcpStream) -> Option<Vec<u8>> {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) => return None,
        }
    }
}

/// `LIST UPS` over a connection from `from`.
fn list_ups_from(from: &str, port: u16) -> String {
    let s = connect_from(from, port);
    s.set_nonblocking(false).unwrap();
    let mut c = LineClient::from_stream(s).unwrap();
    c.request("LIST UPS")
}

fn upsc(rig: &Rig) -> (Option<i32>, String, String) {
    let out = Command::new(&rig.stock.upsc)
        .arg(rig.target(UPS))
        .arg("ups.mfr")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const REFUSED_1: &str = "Refused connection from 127.0.0.1: not in upsd.conf's ALLOW_FROM";
const REFUSED_2: &str = "Refused connection from 127.0.0.2: not in upsd.conf's ALLOW_FROM";

#[test]
fn peers_outside_allow_from_are_closed_unread_and_logged_once() {
    let Some(stock) = stock_nut() else { return };
    let opts = NutDirOptions {
        upses: vec![NutDirOptions::default().upses[0].clone()],
        upsd_conf_extra: Vec::new(),
    };
    // Started without the directive (the readiness check comes from 127.0.0.1): stock's
    // behaviour, everyone is served.
    let rig = Rig::start(&stock, Impl::Ours, opts);
    let port = rig.port();
    assert!(list_ups_from("127.0.0.2", port).starts_with("BEGIN LIST UPS\n"));
    let mut before = rig.client();
    assert!(before.request("LIST UPS").starts_with("BEGIN LIST UPS\n"));

    // Only 127.0.0.2 (and a network that does not hold 127.0.0.1).
    rig.dir.write_conf(
        "upsd.conf",
        &format!("LISTEN 127.0.0.1 {port}\nALLOW_FROM 127.0.0.2 10.0.0.0/8\nALLOW_FROM ::1\n"),
    );
    signal(rig.upsd.proc_.pid(), "HUP");
    wait_for("the new list", Duration::from_secs(5), |last| {
        let got = bytes_until_close(connect_from("127.0.0.1", port));
        *last = format!("{got:?}");
        (got == Some(Vec::new())).then_some(())
    });
    // Refused: closed with nothing written, even when the client talks first.
    for _ in 0..3 {
        assert_eq!(
            bytes_until_close(connect_from("127.0.0.1", port)),
            Some(Vec::new())
        );
    }
    let mut talker = LineClient::connect(port).unwrap();
    let _ = talker.send(b"LIST UPS\n");
    assert!(
        matches!(talker.read_reply(), nut_test_support::Reply::Closed(_)),
        "a refused client got a reply"
    );
    let (code, out, err) = upsc(&rig);
    assert_eq!((code, out.as_str()), (Some(1), ""), "upsc: {err}");
    // Allowed: served; the connection made before the reload is kept.
    assert_eq!(
        list_ups_from("127.0.0.2", port),
        format!(
            "BEGIN LIST UPS\nUPS {UPS} \"{}\"\nEND LIST UPS\n",
            nut_test_support::UPS_DESC
        )
    );
    assert!(before.request("LIST UPS").starts_with("BEGIN LIST UPS\n"));

    // The refusals of 127.0.0.1 are one log line, naming the peer and the directive.
    let log = rig.upsd.log(&rig.dir);
    assert_eq!(log.matches(REFUSED_1).count(), 1, "{log}");

    // A new list: now stock upsc (from 127.0.0.1) is served and 127.0.0.2 is refused.
    rig.dir.write_conf(
        "upsd.conf",
        &format!("LISTEN 127.0.0.1 {port}\nALLOW_FROM 127.0.0.1/32\n"),
    );
    signal(rig.upsd.proc_.pid(), "HUP");
    wait_for("stock upsc to be served", Duration::from_secs(5), |last| {
        let (code, out, err) = upsc(&rig);
        *last = format!("{code:?} {out}{err}");
        (code == Some(0)).then_some(out)
    });
    assert_eq!(upsc(&rig).1, "American Power Conversion\n");
    assert_eq!(
        bytes_until_close(connect_from("127.0.0.2", port)),
        Some(Vec::new())
    );
    let log = rig.upsd.log(&rig.dir);
    assert_eq!(log.matches(REFUSED_2).count(), 1, "{log}");
    assert_eq!(log.matches(REFUSED_1).count(), 1, "{log}");
}
