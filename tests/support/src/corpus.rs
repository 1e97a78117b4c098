//! The differential request corpus (`tests/corpus/requests.txt`): parser, replay, normalisation
//! and diff. The file format is documented at the top of the corpus file itself.

use nut_proto::OkReply;

use crate::{LineClient, Reply};
use std::time::Duration;

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes sent in one write (the trailing `\n` already appended unless `\c`).
    Request {
        /// What is written.
        bytes: Vec<u8>,
        /// Its line in the corpus file.
        line: usize,
    },
    /// `@sleep <ms>`: wait before the next step.
    Sleep(Duration),
    /// Keep the connection open until the whole corpus has run.
    Keep,
    /// `@driver <stop|cont|kill> <ups>`: signal that UPS's dummy-ups (SIGSTOP/SIGCONT/SIGKILL).
    Driver {
        /// `stop`, `cont` or `kill`.
        action: String,
        /// The UPS whose driver is signalled.
        ups: String,
    },
}

/// One `=== <name>` session: one TCP connection and its steps.
#[derive(Debug, Clone)]
pub struct Session {
    /// The name after `===`.
    pub name: String,
    /// The line of its `===` header.
    pub line: usize,
    /// What it does, in order.
    pub steps: Vec<Step>,
}

/// Decode the escapes of one request line (see the corpus header).
pub fn decode_request(src: &str) -> Result<Vec<u8>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut newline = true;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            return Err("lone backslash at end of line".into());
        };
        i += 2;
        match e {
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'.' => {}
            b'c' => {
                if i != b.len() {
                    return Err("\\c must end the line".into());
                }
                newline = false;
            }
            b'x' => {
                let hex = src.get(i..i + 2).ok_or("\\x needs two hex digits")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
                i += 2;
            }
            b'{' => {
                let close = src[i..].find('}').ok_or("unterminated \\{")? + i;
                let inner = &src[i..close];
                let (n, text) = inner.split_once('*').ok_or("\\{N*text} needs '*'")?;
                let n: usize = n
                    .parse()
                    .map_err(|_| format!("bad count in \\{{{inner}}}"))?;
                // the repeated text may hold escapes too (but no "}")
                let one = decode_request(&format!("{text}\\c"))?;
                for _ in 0..n {
                    out.extend_from_slice(&one);
                }
                i = close + 1;
            }
            other => return Err(format!("unknown escape \\{}", other as char)),
        }
    }
    if newline {
        out.push(b'\n');
    }
    Ok(out)
}

/// Parse the corpus text into sessions.
pub fn parse(text: &str) -> Result<Vec<Session>, String> {
    let mut sessions: Vec<Session> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let err = |m: String| format!("requests.txt:{line}: {m}");
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        if let Some(name) = raw.strip_prefix("===") {
            sessions.push(Session {
                name: name.trim().to_string(),
                line,
                steps: Vec::new(),
            });
            continue;
        }
        let Some(cur) = sessions.last_mut() else {
            return Err(err("request before the first '=== session' line".into()));
        };
        if let Some(d) = raw.strip_prefix('@') {
            let mut w = d.split_whitespace();
            match (w.next(), w.next()) {
                (Some("sleep"), Some(ms)) => {
                    let ms: u64 = ms.parse().map_err(|_| err(format!("bad @sleep {ms}")))?;
                    cur.steps.push(Step::Sleep(Duration::from_millis(ms)));
                }
                (Some("keep"), None) => cur.steps.push(Step::Keep),
                (Some("driver"), Some(action @ ("stop" | "cont" | "kill"))) => {
                    let ups = w
                        .next()
                        .ok_or_else(|| err("@driver needs a UPS name".into()))?;
                    cur.steps.push(Step::Driver {
                        action: action.into(),
                        ups: ups.into(),
                    });
                }
                _ => return Err(err(format!("unknown directive @{d}"))),
            }
            continue;
        }
        let bytes = decode_request(raw).map_err(err)?;
        cur.steps.push(Step::Request { bytes, line });
    }
    Ok(sessions)
}

/// Load and parse `tests/corpus/requests.txt`.
pub fn load() -> Vec<Session> {
    let p = crate::tests_dir().join("corpus").join("requests.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// Number of request lines in a corpus.
pub fn request_count(sessions: &[Session]) -> usize {
    sessions
        .iter()
        .flat_map(|s| &s.steps)
        .filter(|s| matches!(s, Step::Request { .. }))
        .count()
}

/// One request and its (normalised) reply text.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The session's name.
    pub session: String,
    /// The request's line in the corpus file.
    pub line: usize,
    /// The bytes sent.
    pub request: Vec<u8>,
    /// The reply as rendered by [`Reply::render`], normalised.
    pub reply: String,
}

const VER_PREFIX: &str = "Network UPS Tools upsd ";

fn is_tracking_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'A'..=b'F').contains(&c),
        })
}

/// Normalise the parts of a reply that legitimately differ between implementations:
/// the version text (VER, server.info, server.version) and tracking UUIDs (shape-checked,
/// remembered in `last_id` for `$TRACKING`).
pub fn normalise(reply: &str, last_id: &mut Option<String>) -> String {
    let mut out = String::new();
    for line in reply.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        out.push_str(&normalise_line(body, last_id));
        out.push_str(nl);
    }
    out
}

fn normalise_line(body: &str, last_id: &mut Option<String>) -> String {
    if body.starts_with(VER_PREFIX) {
        return format!("{VER_PREFIX}<VERSION TEXT>");
    }
    if let Ok(OkReply::Tracking(id)) = OkReply::parse(body) {
        if is_tracking_id(&id) {
            *last_id = Some(id);
            return "OK TRACKING <UUID>".into();
        }
        return body.to_string();
    }
    // VAR lines are matched as text on purpose: the quoting itself is what is compared.
    let words: Vec<&str> = body.splitn(4, ' ').collect();
    if words.len() == 4 && words[0] == "VAR" {
        let var = words[2].to_ascii_lowercase();
        let val = words[3];
        if var == "server.info" && val.starts_with(&format!("\"{VER_PREFIX}")) && val.ends_with('"')
        {
            return format!("VAR {} {} \"<INFO>\"", words[1], words[2]);
        }
        if var == "server.version" && val.len() > 2 && val.starts_with('"') && val.ends_with('"') {
            return format!("VAR {} {} \"<VERSION>\"", words[1], words[2]);
        }
    }
    body.to_string()
}

fn count_lf(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// Replay every session against the upsd on `port`, in order, each on its own connection.
/// `@driver` steps are handed to `driver(action, ups)`.
pub fn replay(
    port: u16,
    sessions: &[Session],
    driver: &mut dyn FnMut(&str, &str),
) -> Vec<Exchange> {
    let mut out = Vec::new();
    let mut kept: Vec<LineClient> = Vec::new();
    for s in sessions {
        let mut c = LineClient::connect(port)
            .unwrap_or_else(|e| panic!("session {:?}: connect: {e}", s.name));
        let mut last_id: Option<String> = None;
        let mut keep = false;
        for step in &s.steps {
            match step {
                Step::Sleep(d) => std::thread::sleep(*d),
                Step::Keep => keep = true,
                Step::Driver { action, ups } => driver(action, ups),
                Step::Request { bytes, line } => {
                    let id = last_id.clone().unwrap_or_else(|| "NO-TRACKING-ID".into());
                    let bytes = replace_bytes(bytes, b"$TRACKING", id.as_bytes());
                    let mut reply = String::new();
                    if c.send(&bytes).is_err() {
                        reply.push_str("<send failed>\n");
                    } else {
                        let first = c.read_reply();
                        let mut more = !matches!(first, Reply::NoReply | Reply::Closed(_))
                            && count_lf(&bytes) > 1;
                        reply.push_str(&normalise(&first.render(), &mut last_id));
                        // Several protocol lines in one write: collect the further replies.
                        while more {
                            let r = c.read_reply();
                            more = !matches!(r, Reply::NoReply | Reply::Closed(_));
                            if r != Reply::NoReply {
                                reply.push_str(&normalise(&r.render(), &mut last_id));
                            }
                        }
                    }
                    out.push(Exchange {
                        session: s.name.clone(),
                        line: *line,
                        request: bytes,
                        reply,
                    });
                }
            }
        }
        if keep {
            kept.push(c);
        } else {
            drop(c);
            // let the server notice the close before the next session (NUMLOGINS, LIST CLIENT)
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    out
}

fn replace_bytes(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Compare two replays; returns a readable report of every mismatch (empty if none).
pub fn diff(left_name: &str, left: &[Exchange], right_name: &str, right: &[Exchange]) -> String {
    let mut report = String::new();
    let mut n = 0;
    for (a, b) in left.iter().zip(right) {
        if a.reply != b.reply {
            n += 1;
            report.push_str(&format!(
                "--- mismatch #{n}: requests.txt:{} (session {:?})\n  request: {}\n",
                a.line,
                a.session,
                crate::escape_bytes(&a.request)
            ));
            // lines shown escaped (trailing spaces, CR, missing LF are visible)
            for (name, r) in [(left_name, &a.reply), (right_name, &b.reply)] {
                report.push_str(&format!("  {name}:\n"));
                for l in r.split_inclusive('\n') {
                    report.push_str(&format!("    | {}\n", crate::escape_bytes(l.as_bytes())));
                }
            }
        }
    }
    if left.len() != right.len() {
        report.push_str(&format!(
            "--- different number of exchanges: {left_name} {} vs {right_name} {}\n",
            left.len(),
            right.len()
        ));
    }
    if n > 0 {
        report.insert_str(
            0,
            &format!(
                "{n} of {} replies differ ({left_name} vs {right_name}):\n",
                left.len()
            ),
        );
    }
    report
}

/// Render a replay as a transcript (for reading/debugging).
pub fn transcript(ex: &[Exchange]) -> String {
    let mut s = String::new();
    let mut cur = "";
    for e in ex {
        if e.session != cur {
            s.push_str(&format!("=== {}\n", e.session));
            cur = &e.session;
        }
        s.push_str(&format!("> {}\n", crate::escape_bytes(&e.request)));
        for l in e.reply.lines() {
            s.push_str(&format!("< {l}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes() {
        assert_eq!(decode_request("GET VAR").unwrap(), b"GET VAR\n");
        assert_eq!(decode_request("\\.").unwrap(), b"\n");
        assert_eq!(decode_request("a\\x00\\xFFb\\c").unwrap(), b"a\x00\xFFb");
        assert_eq!(decode_request("\\{3*ab}c").unwrap(), b"abababc\n");
        assert_eq!(decode_request("\\{2*a\\n}\\c").unwrap(), b"a\na\n");
        assert_eq!(decode_request("x\\\\y\\ty").unwrap(), b"x\\y\ty\n");
        assert!(decode_request("bad\\q").is_err());
    }

    #[test]
    fn normalises_versions_and_ids() {
        let mut id = None;
        assert_eq!(
            normalise(
                "Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n",
                &mut id
            ),
            "Network UPS Tools upsd <VERSION TEXT>\n"
        );
        assert_eq!(
            normalise("VAR ups server.version \"2.8.0\"\n", &mut id),
            "VAR ups server.version \"<VERSION>\"\n"
        );
        assert_eq!(
            normalise(
                "OK TRACKING 2DDC5036-F665-4D29-BE4C-0374D091D263\n",
                &mut id
            ),
            "OK TRACKING <UUID>\n"
        );
        assert_eq!(id.as_deref(), Some("2DDC5036-F665-4D29-BE4C-0374D091D263"));
        // wrong shape is kept as is, so it shows up in a diff
        assert_eq!(
            normalise("OK TRACKING 2ddc5036\n", &mut id),
            "OK TRACKING 2ddc5036\n"
        );
    }

    #[test]
    fn diff_reports_every_mismatch() {
        let ex = |reply: &str| Exchange {
            session: "s".into(),
            line: 7,
            request: b"GET VAR ups ups.status\n".to_vec(),
            reply: reply.into(),
        };
        let same = [ex("OK\n"), ex("A\n")];
        assert_eq!(diff("Stock", &same, "Ours", &same), "");
        let other = [ex("ERR X\n"), ex("B\n")];
        let d = diff("Stock", &same, "Ours", &other);
        assert!(d.starts_with("2 of 2 replies differ"), "{d}");
        assert!(d.contains("requests.txt:7"), "{d}");
        assert!(d.contains("    | ERR X\\n"), "{d}");
        assert!(d.contains("    | B\\n"), "{d}");
    }

    #[test]
    fn the_corpus_parses_and_is_big_enough() {
        let s = load();
        assert!(request_count(&s) >= 200, "{} requests", request_count(&s));
    }
}
