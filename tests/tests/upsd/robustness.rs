//! Robustness of OUR upsd (fed by stock dummy-ups): stalled and flooding clients, garbage and
//! very long lines, the 60 s idle timeout, MAXCONN, and replies written in one piece.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nut_test_support::{
    stock_nut, Driver, Impl, LineClient, NutDir, NutDirOptions, Reply, Rig, Upsd,
};

const STATUS_REPLY: &str = "VAR ups ups.status \"OL DISCHRG\"\n";

fn ours(extra: &[&str]) -> Option<Rig> {
    let stock = stock_nut()?;
    let opts = NutDirOptions {
        upsd_conf_extra: extra.iter().map(|s| s.to_string()).collect(),
        ..NutDirOptions::default()
    };
    Some(Rig::start(&stock, Impl::Ours, opts))
}

/// `GET VAR ups ups.status` on `c` must be answered within `limit`; returns the time taken.
fn prompt_status(c: &mut LineClient, limit: Duration) -> Duration {
    let t0 = Instant::now();
    assert_eq!(c.request("GET VAR ups ups.status"), STATUS_REPLY);
    let took = t0.elapsed();
    assert!(took < limit, "reply took {took:?}");
    took
}

#[test]
fn stalled_and_flooding_clients_do_not_delay_others() {
    let Some(rig) = ours(&[]) else { return };
    let port = rig.port();

    // A client that stops in the middle of a line.
    let mut stalled = rig.client();
    stalled.send(b"GET VAR ups ups.sta").unwrap();

    // A client that pipelines 10 000 requests in big writes and reads concurrently.
    const N: usize = 10_000;
    let flood = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = flood.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut flood = flood;
        let all = "GET VAR ups ups.status\n".repeat(N);
        for chunk in all.as_bytes().chunks(64 * 1024) {
            flood.write_all(chunk).unwrap();
        }
        flood
    });
    let counter = std::thread::spawn(move || {
        reader
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while got.iter().filter(|&&b| b == b'\n').count() < N {
            let n = reader.read(&mut buf).expect("flood reply");
            assert!(n > 0, "server closed the flooding client");
            got.extend_from_slice(&buf[..n]);
        }
        got
    });

    // Meanwhile a third client gets prompt answers.
    let mut third = rig.client();
    let mut worst = Duration::ZERO;
    while !counter.is_finished() {
        worst = worst.max(prompt_status(&mut third, Duration::from_millis(500)));
    }
    let _flood = writer.join().unwrap();
    let got = counter.join().unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), STATUS_REPLY.repeat(N));
    eprintln!("third client: slowest reply during the flood {worst:?}");

    // The stalled client finishes its line and is answered.
    stalled.send(b"tus\n").unwrap();
    assert_eq!(
        stalled.read_reply(),
        Reply::Complete(STATUS_REPLY.as_bytes().to_vec())
    );
}

/// Lines of garbage: every byte value but `"`, `\` and LF, from a fixed-seed generator, plus
/// hand-made ones with NUL, 0xFF, CR and quotes.
fn garbage_lines() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = vec![
        b"\x00\n".to_vec(),
        b"\xff\xfe\xfd\n".to_vec(),
        b"\x00GET\x00 VAR\xff ups ups.status\r\n".to_vec(),
        b"GET VAR ups \xffups.status\x01\n".to_vec(),
        b"\xff GET VAR ups ups.status\n".to_vec(),
        b"GET \"\" VAR ups\n".to_vec(),
        b"GET DESC ups \"a\x00b\xffc\"\n".to_vec(),
        b"LIST\x7f UPS\n".to_vec(),
        b"\t\x0b\x0c\r\n".to_vec(),
        b"GET DESC ups \"un#balanced\"\nGET UPSDESC ups\n".to_vec(),
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..12 {
        let mut l = Vec::new();
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = (x >> 24) as u8;
            if b != b'"' && b != b'\\' && b != b'\n' {
                l.push(b);
            }
        }
        l.push(b'\n');
        lines.push(l);
    }
    lines
}

/// Send each garbage line in one write and record the rendered replies; every few lines a
/// known request checks the connection is still in sync.
fn garbage_transcript(port: u16) -> String {
    let mut c = LineClient::connect(port).unwrap();
    c.quiet = Duration::from_millis(200);
    let mut t = String::new();
    for (i, line) in garbage_lines().iter().enumerate() {
        c.send(line).unwrap();
        t.push_str(&format!(
            "> {}\n{}",
            nut_test_support::escape_bytes(line),
            c.read_reply().render()
        ));
        if i % 4 == 3 {
            t.push_str(&format!("> sync\n{}", c.request("GET VAR ups ups.status")));
        }
    }
    t
}

#[test]
fn garbage_gets_the_same_answers_as_stock_and_others_are_still_served() {
    let Some(stock) = stock_nut() else { return };
    let theirs = {
        let rig = Rig::stock(&stock);
        garbage_transcript(rig.port())
    };
    let rig = Rig::ours(&stock);
    let mine = garbage_transcript(rig.port());
    assert_eq!(mine, theirs, "ours (left) vs stock (right)");
    // Spot checks of the stock rules: bytes outside 0x20..0x7E vanish from words, a `#` in
    // quotes is a parse error that drops the rest of the read.
    assert!(
        mine.contains(
            "> \\x00GET\\x00 VAR\\xFF ups ups.status\\x0D\\n\nVAR ups ups.status \"OL DISCHRG\"\n"
        ),
        "{mine}"
    );
    assert!(
        mine.contains("> GET DESC ups \"un#balanced\"\\nGET UPSDESC ups\\n\n<no reply>\n"),
        "{mine}"
    );
    let mut other = rig.client();
    prompt_status(&mut other, Duration::from_millis(500));
}

/// Raw bytes received until `tail` arrives (or 3 s pass).
fn read_until(s: &mut TcpStream, tail: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while !got.ends_with(tail) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

nut_test_support::both_upsd!(very_long_lines_are_cut_per_word_and_per_line);

fn very_long_lines_are_cut_per_word_and_per_line(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    // A user whose password is exactly 512 characters long (the longest word stock keeps).
    let dir = NutDir::new();
    let mut users = std::fs::read_to_string(dir.conf().join("upsd.users")).unwrap();
    users.push_str(&format!(
        "[longpw]\n\tpassword = {}\n\tactions = SET\n",
        "p".repeat(512)
    ));
    dir.write_conf("upsd.users", &users);
    let _driver = Driver::start(&stock, &dir);
    let _upsd = Upsd::start(&dir, &which.binary(&stock), which);
    let port = dir.port;

    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // One 100 KB word: cut at 512 characters, no such variable.
    let line = format!("GET VAR ups {}\nGET UPSDESC ups\n", "x".repeat(100_000));
    s.write_all(line.as_bytes()).unwrap();
    let want = "ERR VAR-NOT-SUPPORTED\nUPSDESC ups \"APC Back-UPS BK650M2-CH\"\n";
    assert_eq!(
        String::from_utf8_lossy(&read_until(&mut s, b"BK650M2-CH\"\n")),
        want
    );

    // 50 000 extra words: words after the 32nd are dropped, extra arguments ignored.
    let line = format!("GET VAR ups ups.status{}\n", " w".repeat(50_000));
    s.write_all(line.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_until(&mut s, b"\n")),
        STATUS_REPLY
    );

    // A 100 000-character password is cut to the 512 characters of the configured one...
    let line = format!(
        "USERNAME longpw\nPASSWORD {}\nSET VAR ups battery.charge.low 40\n",
        "p".repeat(100_000)
    );
    s.write_all(line.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_until(&mut s, b"OK\nOK\nOK\n")),
        "OK\nOK\nOK\n"
    );
    // ... while 511 characters are not the password.
    let mut short = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let line = format!(
        "USERNAME longpw\nPASSWORD {}\nSET VAR ups battery.charge.low 40\n",
        "p".repeat(511)
    );
    short.write_all(line.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_until(&mut short, b"ACCESS-DENIED\n")),
        "OK\nOK\nERR ACCESS-DENIED\n"
    );

    // A reply longer than 512 bytes is cut to 512 bytes, without its newline (as stock):
    // `DESC ups <512 x> "Description unavailable"` would be 547 bytes.
    let line = format!("GET DESC ups {}\nGET UPSDESC ups\n", "x".repeat(100_000));
    s.write_all(line.as_bytes()).unwrap();
    let got = read_until(&mut s, b"BK650M2-CH\"\n");
    let want = format!(
        "DESC ups {}UPSDESC ups \"APC Back-UPS BK650M2-CH\"\n",
        "x".repeat(503)
    );
    assert_eq!(String::from_utf8_lossy(&got), want);

    // Another client is still served.
    let mut other = LineClient::connect(port).unwrap();
    prompt_status(&mut other, Duration::from_millis(500));
}

#[test]
fn idle_clients_are_dropped_after_60_seconds_active_ones_stay() {
    let Some(rig) = ours(&[]) else { return };
    let port = rig.port();
    let active = std::thread::spawn(move || {
        let mut c = LineClient::connect(port).unwrap();
        let t0 = Instant::now();
        // A line every 20 s, then one more at 72 s.
        for at in [0, 20, 40, 60, 72] {
            std::thread::sleep(Duration::from_secs(at).saturating_sub(t0.elapsed()));
            assert_eq!(
                c.request("GET VAR ups ups.status"),
                STATUS_REPLY,
                "request at {at} s"
            );
        }
    });

    // A partial line does not count as activity (stock refreshes the timer per complete line).
    let partial = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_secs(30));
        s.write_all(b"GET VAR ups").unwrap();
        dropped_after_a_minute(s, t0, "client with a partial line");
    });

    let t0 = Instant::now();
    let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let after = dropped_after_a_minute(idle, t0, "idle client");
    eprintln!("idle client dropped after {after:?}");
    active.join().unwrap();
    partial.join().unwrap();
}

/// Wait for upsd to close `s` (EOF), which must come 60 to 64 s after `t0` (stock's idle
/// timeout of 60 s, checked every few seconds); how long it took.
fn dropped_after_a_minute(mut s: TcpStream, t0: Instant, who: &str) -> Duration {
    s.set_read_timeout(Some(Duration::from_secs(70))).unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf);
    let after = t0.elapsed();
    assert!(
        matches!(n, Ok(0)),
        "expected EOF, got {n:?} after {after:?}"
    );
    assert!(
        after > Duration::from_secs(60) && after < Duration::from_secs(64),
        "{who} dropped after {after:?}"
    );
    after
}

#[test]
fn maxconn_holds_further_connections_until_one_leaves() {
    let Some(rig) = ours(&["MAXCONN 3"]) else {
        return;
    };
    let mut clients: Vec<LineClient> = (0..3)
        .map(|_| {
            let mut c = rig.client();
            c.quiet = Duration::from_secs(2);
            assert!(c.request("VER").starts_with("Network UPS Tools upsd "));
            c
        })
        .collect();
    let mut fourth = rig.client();
    fourth.quiet = Duration::from_millis(1500);
    fourth.send(b"VER\n").unwrap();
    assert_eq!(fourth.read_reply(), Reply::NoReply);
    // The three are still served.
    for c in &mut clients {
        assert_eq!(c.request("GET VAR ups ups.status"), STATUS_REPLY);
    }
    let t0 = Instant::now();
    clients.pop();
    fourth.quiet = Duration::from_secs(3);
    match fourth.read_reply() {
        Reply::Complete(b) => {
            assert!(b.starts_with(b"Network UPS Tools upsd "), "{b:?}")
        }
        other => panic!("fourth client after one left: {}", other.render()),
    }
    eprintln!("fourth client served {:?} after one left", t0.elapsed());
    assert_eq!(fourth.request("GET VAR ups ups.status"), STATUS_REPLY);
}

/// Time from sending `LIST VAR ups` to the complete reply, and how many reads it took.
fn timed_list_var(s: &mut TcpStream) -> (Duration, usize, Vec<u8>) {
    let t0 = Instant::now();
    s.write_all(b"LIST VAR ups\n").unwrap();
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while !got.ends_with(b"END LIST VAR ups\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        reads += 1;
        got.extend_from_slice(&buf[..n]);
    }
    (t0.elapsed(), reads, got)
}

#[test]
fn list_var_arrives_in_one_piece_without_a_nagle_stall() {
    let Some(rig) = ours(&[]) else { return };
    let mut s = TcpStream::connect(("127.0.0.1", rig.port())).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let (_, _, first) = timed_list_var(&mut s);
    assert!(first.starts_with(b"BEGIN LIST VAR ups\nVAR ups battery.charge \"100\"\n"));
    assert!(first.len() > 1000, "{}", first.len());

    // Once more after a pause: the whole block is there in one read.
    s.write_all(b"LIST VAR ups\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(buf[..n], first[..]);

    let mut times = Vec::new();
    for _ in 0..10 {
        let (t, reads, got) = timed_list_var(&mut s);
        assert_eq!(got, first);
        assert_eq!(reads, 1, "LIST VAR came in {reads} reads");
        times.push(t);
    }
    times.sort();
    eprintln!("LIST VAR ups round trips: {times:?}");
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(20),
        "median LIST VAR round trip {median:?}"
    );
}
