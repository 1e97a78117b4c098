//! Whole upsd sessions: several connections, each a sequence of requests built from the
//! protocol's words (logins with right and wrong passwords, GET and LIST of every kind, SET,
//! INSTCMD, FSD, CLEARFSD, WATCH, PRIMARY, LOGOUT, STARTTLS) mixed with raw bytes, while the
//! driver changes the status and connections come and go (upsd's `fuzz::Harness`: the real
//! `dispatch` and server state, no sockets to clients).
//!
//! No panic, and what a client would see holds:
//! * each request gets one reply line, or one whole `BEGIN LIST` ... `END LIST`; every line is
//!   printable ASCII and starts with a word a stock client knows;
//! * permissions: a SET or INSTCMD reaches the driver if and only if it was answered `OK`;
//! * a connection's replies to one read stay bounded (a list is at most the tree).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use upsd::fuzz::Harness;

#[derive(Debug, Arbitrary)]
enum Name {
    Ups,
    Other,
    Nope,
    Upper,
}

impl Name {
    fn s(&self) -> &'static str {
        match self {
            Name::Ups => "ups",
            Name::Other => "other",
            Name::Nope => "nope",
            Name::Upper => "UPS",
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Var {
    Status,
    Charge,
    Sensitivity,
    Delay,
    Id,
    Server,
    Missing,
}

impl Var {
    fn s(&self) -> &'static str {
        match self {
            Var::Status => "ups.status",
            Var::Charge => "battery.charge",
            Var::Sensitivity => "input.sensitivity",
            Var::Delay => "ups.delay.shutdown",
            Var::Id => "ups.id",
            Var::Server => "server.version",
            Var::Missing => "no.such.var",
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Req {
    User(u8),
    Pass(bool),
    Login(Name),
    Primary(Name),
    Logout,
    Get(u8, Name, Var),
    List(u8, Name, Var),
    Set(Name, Var, String),
    Tracking(bool),
    GetTracking(String),
    Instcmd(Name, bool, Option<String>),
    Fsd(Name),
    ClearFsd(Name),
    Watch(Name),
    Ver,
    Help,
    StartTls,
    Words(Vec<String>),
}

/// A value in quotes, without control characters (a line feed would end the request early).
fn quote(v: &str) -> String {
    let v: String = v.chars().filter(|c| !c.is_control()).collect();
    nut_proto::quote(&v)
}

impl Req {
    fn line(&self) -> String {
        match self {
            Req::User(n) => format!(
                "USERNAME {}",
                ["admin", "primary", "secondary", "x"][*n as usize % 4]
            ),
            Req::Pass(ok) => format!("PASSWORD {}", if *ok { "pw" } else { "wrong" }),
            Req::Login(u) => format!("LOGIN {}", u.s()),
            Req::Primary(u) => format!("PRIMARY {}", u.s()),
            Req::Logout => "LOGOUT".into(),
            Req::Get(k, u, v) => match k % 7 {
                0 => format!("GET VAR {} {}", u.s(), v.s()),
                1 => format!("GET TYPE {} {}", u.s(), v.s()),
                2 => format!("GET DESC {} {}", u.s(), v.s()),
                3 => format!("GET CMDDESC {} load.off", u.s()),
                4 => format!("GET UPSDESC {}", u.s()),
                5 => format!("GET NUMLOGINS {}", u.s()),
                _ => "GET VAR".into(),
            },
            Req::List(k, u, v) => match k % 7 {
                0 => format!("LIST VAR {}", u.s()),
                1 => format!("LIST RW {}", u.s()),
                2 => format!("LIST CMD {}", u.s()),
                3 => format!("LIST ENUM {} {}", u.s(), v.s()),
                4 => format!("LIST RANGE {} {}", u.s(), v.s()),
                5 => format!("LIST CLIENT {}", u.s()),
                _ => "LIST UPS".into(),
            },
            Req::Set(u, v, val) => format!("SET VAR {} {} {}", u.s(), v.s(), quote(val)),
            Req::Tracking(on) => format!("SET TRACKING {}", if *on { "ON" } else { "OFF" }),
            Req::GetTracking(id) => format!("GET TRACKING {}", quote(id)),
            Req::Instcmd(u, known, p) => {
                let cmd = if *known { "load.off" } else { "no.such" };
                match p {
                    Some(p) => format!("INSTCMD {} {cmd} {}", u.s(), quote(p)),
                    None => format!("INSTCMD {} {cmd}", u.s()),
                }
            }
            Req::Fsd(u) => format!("FSD {}", u.s()),
            Req::ClearFsd(u) => format!("CLEARFSD {}", u.s()),
            Req::Watch(u) => format!("WATCH {}", u.s()),
            Req::Ver => "VER".into(),
            Req::Help => "HELP".into(),
            Req::StartTls => "STARTTLS".into(),
            Req::Words(w) => w.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "),
        }
    }

    fn reaches_driver(&self) -> bool {
        matches!(self, Req::Set(..) | Req::Instcmd(..))
    }
}

#[derive(Debug, Arbitrary)]
enum Step {
    Connect,
    Request(u8, Req),
    Raw(u8, Vec<u8>),
    Status(u8),
    Disconnect(u8),
    Later(u8),
}

const FIRST_WORDS: &[&str] = &[
    "OK",
    "ERR",
    "VAR",
    "TYPE",
    "DESC",
    "CMDDESC",
    "UPSDESC",
    "NUMLOGINS",
    "BEGIN",
    "END",
    "UPS",
    "RW",
    "CMD",
    "ENUM",
    "RANGE",
    "CLIENT",
    "PENDING",
    "SUCCESS",
    "Network",
    "1.3",
    "Commands:",
];

/// Check one reply to one request: one line or one whole list.
fn check_reply(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("ASCII replies");
    assert!(text.ends_with('\n'), "{text:?}");
    let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
    for l in &lines {
        assert!(l.bytes().all(|b| (0x20..0x7f).contains(&b)), "{l:?}");
        let first = l.split(' ').next().unwrap_or("");
        assert!(FIRST_WORDS.contains(&first), "{l:?}");
    }
    if lines[0].starts_with("BEGIN LIST") {
        let last = lines.last().copied().unwrap_or("");
        assert_eq!(last.replacen("END", "BEGIN", 1), lines[0], "{text:?}");
    } else {
        assert_eq!(lines.len(), 1, "{text:?}");
    }
    assert!(out.len() < 64 * 1024, "{} bytes", out.len());
}

fuzz_target!(|steps: Vec<Step>| {
    let mut h = Harness::new();
    let mut now = 105u64;
    h.connect();
    for step in steps.into_iter().take(200) {
        match step {
            Step::Connect => {
                if h.connections() < 16 {
                    h.connect();
                }
            }
            Step::Request(c, req) => {
                let conn = usize::from(c) % h.connections();
                let open = h.is_open(conn);
                let mut line = req.line().into_bytes();
                line.push(b'\n');
                let out = h.feed(conn, &line, now);
                let sent = h.to_driver();
                if !open {
                    assert!(out.is_empty() && sent.is_empty());
                    continue;
                }
                if out.is_empty() {
                    // only a line the tokenizer refuses (a word too long) gets no answer
                    assert!(sent.is_empty());
                    continue;
                }
                check_reply(&out);
                if req.reaches_driver() {
                    assert_eq!(
                        out.starts_with(b"OK"),
                        !sent.is_empty(),
                        "{req:?} -> {out:?}"
                    );
                } else {
                    assert!(sent.is_empty(), "{req:?} reached the driver");
                }
            }
            Step::Raw(c, bytes) => {
                let conn = usize::from(c) % h.connections();
                let out = h.feed(conn, &bytes, now);
                assert!(out.len() <= (bytes.len() + 1) * 4096, "{} bytes", out.len());
                let _ = h.to_driver();
            }
            Step::Status(s) => {
                let status =
                    ["OL", "OB", "OB LB", "OL CHRG", "OB DISCHRG LB", "WAIT"][s as usize % 6];
                h.driver_says(&format!("SETINFO ups.status \"{status}\""), now);
            }
            Step::Disconnect(c) => {
                let conn = usize::from(c) % h.connections();
                h.disconnect(conn);
            }
            Step::Later(s) => {
                now += u64::from(s);
                // the driver keeps talking (a stale driver is a step of its own)
                if s % 2 == 0 {
                    h.driver_says("DATAOK", now);
                }
            }
        }
    }
});
