//! What a primary upsmon sends to upsd in a power failure, stock 2.8.0 and ours, recorded by
//! a proxy between upsmon and our upsd: the same requests in the same order (STARTTLS probe,
//! USERNAME, PASSWORD, LOGIN, PRIMARY, only `GET VAR ups ups.status` per poll, `FSD ups`,
//! `GET NUMLOGINS ups`), no polls during FINALDELAY and no LOGOUT at exit.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A proxy on 127.0.0.1 to `upstream`; records every line clients send, and `<EOF>` when a
/// client closes.
pub(crate) fn proxy(upstream: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let rec = lines.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            let Ok(s) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c2, mut s2) = (c.try_clone().unwrap(), s.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let rec = rec.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(c);
                let mut s = s;
                loop {
                    let mut line = String::new();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => {
                            rec.lock().unwrap().push("<EOF>".into());
                            let _ = s.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        Ok(_) => {
                            rec.lock().unwrap().push(line.trim_end().to_string());
                            if s.write_all(line.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (port, lines)
}

/// Point the MONITOR line of `md` at the proxy on `port` instead of the rig's upsd.
pub(crate) fn monitor_through(rig: &Rig, md: &MonDir, port: u16) {
    let conf = md.dir.join("upsmon.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace(&rig.target("ups"), &format!("ups@127.0.0.1:{port}"));
    std::fs::write(&conf, text).unwrap();
}

/// The requests of one primary through a power failure, consecutive repeats collapsed.
fn requests(mon: Mon) -> Option<Vec<String>> {
    let stock = stock_nut()?;
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (port, lines) = proxy(rig.port());
    let p = upsmon_conf(&rig, mon, "primary", "upsmon", "pw", "FINALDELAY 2\n");
    monitor_through(&rig, &p, port);
    let mut pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{:?}", p.log(), lines.lock().unwrap());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB LB");
    wait_until("exit", Duration::from_secs(15), || pp.exited(), logs);
    std::thread::sleep(Duration::from_millis(300));
    let all = lines.lock().unwrap().clone();
    // nothing but NUMLOGINS after the FSD (no polls in FINALDELAY)
    let fsd = all.iter().position(|l| l == "FSD ups").expect("FSD sent");
    assert!(
        all[fsd + 1..]
            .iter()
            .all(|l| l == "GET NUMLOGINS ups" || l == "<EOF>"),
        "{mon:?}: {all:?}"
    );
    let mut out: Vec<String> = Vec::new();
    for l in all {
        if out.last() != Some(&l) {
            out.push(l);
        }
    }
    Some(out)
}

#[test]
fn primary_requests_match_stock() {
    let Some(stock) = requests(Mon::Stock) else {
        return;
    };
    let ours = requests(Mon::Ours).unwrap();
    let expected = [
        "STARTTLS",
        "USERNAME upsmon",
        "PASSWORD pw",
        "LOGIN ups",
        "PRIMARY ups",
        "GET VAR ups ups.status",
        "FSD ups",
        "GET NUMLOGINS ups",
        "<EOF>",
    ];
    assert_eq!(stock, expected, "stock upsmon");
    assert_eq!(ours, expected, "our upsmon");
}
