//! What the tools send: stock's and ours through a recording TCP proxy in front of upsd, the
//! client's bytes compared. upsc and upslog open with `STARTTLS` and go on in clear text after
//! `ERR FEATURE-NOT-CONFIGURED`; upsrw and upscmd never ask for TLS; all end with `LOGOUT`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nut_test_support::{our_bin, Impl};

use super::Cli;

/// A proxy for one connection to `upstream`, keeping what the client sent.
struct Recorder {
    port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start(upstream: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        let thread = std::thread::spawn(move || {
            let (mut client, _) = listener.accept().unwrap();
            let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            let (mut client_r, mut server_w) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            // server → client on its own thread
            let back = std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(Shutdown::Write);
            });
            let mut buf = [0u8; 4096];
            loop {
                match client_r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = server_w.shutdown(Shutdown::Both);
            let _ = back.join();
        });
        Recorder {
            port,
            sent,
            thread: Some(thread),
        }
    }

    /// What the client sent, once it closed; tracking ids replaced by `<id>`, and the polls
    /// of one id counted once (how many `PENDING`s come first depends on the driver's speed).
    fn finish(mut self) -> String {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let text = String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned();
        let mut lines: Vec<String> = Vec::new();
        for l in text.lines() {
            let line = match l.strip_prefix("GET TRACKING ") {
                Some(id) if id.len() == 36 => "GET TRACKING <id>\n".to_owned(),
                _ => format!("{l}\n"),
            };
            if !(line.starts_with("GET TRACKING") && lines.last() == Some(&line)) {
                lines.push(line);
            }
        }
        lines.concat()
    }
}

/// Run `tool` (stock's, then ours) with `args` where `$P` is a recording proxy: what each
/// sent.
fn sent_by_both(cli: &Cli, tool: &str, args: &[&str]) -> (String, String) {
    let mut sent = Vec::new();
    for program in [cli.stock_tool(tool), our_bin(tool)] {
        let proxy = Recorder::start(cli.rig.port());
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("$P", &format!("127.0.0.1:{}", proxy.port)))
            .collect();
        let out = cli.run(&program, tool, &args, None);
        assert_eq!(out.code, Some(0), "{tool} {args:?}: {out:?}");
        sent.push(proxy.finish());
    }
    let ours = sent.pop().unwrap();
    let stock = sent.pop().unwrap();
    (stock, ours)
}

fn tools_send_what_stock_sends(which: Impl) {
    let Some(cli) = Cli::start(which) else { return };
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "upsc",
            &["ups@$P", "ups.status"],
            "STARTTLS\nGET VAR ups ups.status\nLOGOUT\n",
        ),
        ("upsc", &["ups@$P"], "STARTTLS\nLIST VAR ups\nLOGOUT\n"),
        ("upsc", &["-L", "$P"], "STARTTLS\nLIST UPS\nLOGOUT\n"),
        (
            "upsc",
            &["-c", "ups@$P"],
            "STARTTLS\nLIST CLIENT ups\nLOGOUT\n",
        ),
        (
            "upsrw",
            &["fake@$P"],
            "LIST RW fake\nGET DESC fake input.sensitivity\n",
        ),
        (
            "upsrw",
            &[
                "-s",
                "ups.mfr=x y",
                "-u",
                "admin",
                "-p",
                "adminpw",
                "second@$P",
            ],
            "USERNAME admin\nPASSWORD adminpw\nSET VAR second ups.mfr \"x y\"\nLOGOUT\n",
        ),
        (
            "upscmd",
            &["-l", "fake@$P"],
            "LIST CMD fake\nGET CMDDESC fake beeper.disable\n",
        ),
        (
            "upscmd",
            &[
                "-w",
                "-u",
                "admin",
                "-p",
                "adminpw",
                "fake@$P",
                "beeper.disable",
            ],
            "SET TRACKING ON\nINSTCMD fake beeper.disable\nGET TRACKING <id>\nLOGOUT\n",
        ),
    ];
    for (tool, args, expect) in cases {
        let (stock, ours) = sent_by_both(&cli, tool, args);
        assert_eq!(ours, stock, "{tool} {args:?}: ours (left) sent other bytes");
        assert!(
            stock.contains(expect),
            "stock {tool} {args:?} sent {stock:?}"
        );
    }
}
nut_test_support::both_upsd!(tools_send_what_stock_sends);
