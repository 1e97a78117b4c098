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

/// What [`proxy`] recorded: every line clients sent, and `<EOF>` when a client closed, with
/// the connection it came on.
#[derive(Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<Vec<(usize, String)>>>);

impl Recorded {
    /// The connections that sent `WATCH` (our upsmon's status push, docs/upsmon.md).
    fn watching(all: &[(usize, String)]) -> Vec<usize> {
        let watch = all.iter().filter(|(_, l)| l.starts_with("WATCH "));
        watch.map(|(c, _)| *c).collect()
    }

    /// The lines of the other connections (those a stock upsmon makes too), in order.
    pub(crate) fn lines(&self) -> Vec<String> {
        let all = self.0.lock().unwrap();
        let watching = Self::watching(&all);
        let other = all.iter().filter(|(c, _)| !watching.contains(c));
        other.map(|(_, l)| l.clone()).collect()
    }

    /// The lines of the watch connections, in order.
    pub(crate) fn watch_lines(&self) -> Vec<String> {
        let all = self.0.lock().unwrap();
        let watching = Self::watching(&all);
        let watch = all.iter().filter(|(c, _)| watching.contains(c));
        watch.map(|(_, l)| l.clone()).collect()
    }
}

/// A proxy on 127.0.0.1 to `upstream`; records every line clients send, and `<EOF>` when a
/// client closes.
pub(crate) fn proxy(upstream: u16) -> (u16, Recorded) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let lines = Recorded::default();
    let rec = lines.clone();
    std::thread::spawn(move || {
        for (conn, c) in l.incoming().enumerate() {
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
                let record = |line: String| rec.0.lock().unwrap().push((conn, line));
                loop {
                    let mut line = String::new();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => {
                            record("<EOF>".into());
                            let _ = s.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        Ok(_) => {
                            record(line.trim_end().to_string());
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

/// The requests of one primary through a power failure, consecutive repeats collapsed, and
/// those of its watch connection.
fn requests(mon: Mon) -> Option<(Vec<String>, Vec<String>)> {
    let stock = stock_nut()?;
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (port, lines) = proxy(rig.port());
    let p = upsmon_conf(&rig, mon, "primary", "upsmon", "pw", "FINALDELAY 2\n");
    monitor_through(&rig, &p, port);
    let mut pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{:?}", p.log(), lines.lines());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB LB");
    wait_until("exit", Duration::from_secs(15), || pp.exited(), logs);
    std::thread::sleep(Duration::from_millis(300));
    let all = lines.lines();
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
    Some((out, lines.watch_lines()))
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
    assert_eq!(stock.0, expected, "stock upsmon");
    assert_eq!(ours.0, expected, "our upsmon");
    // our upsmon's status push, on a connection of its own: no login (NUMLOGINS is stock's)
    assert_eq!(stock.1, Vec::<String>::new(), "stock upsmon");
    assert_eq!(ours.1, ["STARTTLS", "WATCH ups", "<EOF>"], "our upsmon");
}
