//! Differential test: the corpus (tests/corpus/requests.txt) replayed against stock upsd 2.8.0
//! and against our upsd, each fed by its own freshly started stock dummy-ups with identical
//! configuration and data. Replies must be byte-identical (see corpus header for the
//! normalisations).

use nut_test_support::corpus::{self, Exchange, Session};
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig, StockNut, UpsSpec};

/// The corpus setup: the default NutDir plus the scripted UPS `fake` (ENUM/RANGE), with a
/// short MAXAGE so the corpus can observe DATA-STALE soon after it stops a driver.
fn options() -> NutDirOptions {
    let mut opts = NutDirOptions {
        upsd_conf_extra: vec!["MAXAGE 5".into()],
        ..NutDirOptions::default()
    };
    opts.upses.push(UpsSpec::fake());
    opts
}

fn replay_on(stock: &StockNut, which: Impl, sessions: &[Session]) -> Vec<Exchange> {
    let mut rig = Rig::start(stock, which, options());
    let port = rig.port();
    let mut killed = Vec::new();
    let ex = corpus::replay(port, sessions, &mut |action, ups| {
        let sig = match action {
            "stop" => "STOP",
            "cont" => "CONT",
            _ => "KILL",
        };
        rig.driver.signal(ups, sig);
        if sig == "KILL" {
            killed.push(ups.to_string());
        }
    });
    // A driver that died on its own (or was killed from outside) makes every later reply
    // differ for a reason that has nothing to do with upsd: say so plainly.
    let dead: Vec<String> = rig
        .driver
        .exited()
        .into_iter()
        .filter(|d| !killed.iter().any(|k| d.starts_with(&format!("{k} "))))
        .collect();
    assert!(
        dead.is_empty(),
        "{which:?}: dummy-ups died during the replay: {dead:?}\n{}",
        dead.iter()
            .map(|d| rig
                .dir
                .log(&format!("dummy-ups-{}.log", d.split(' ').next().unwrap())))
            .collect::<Vec<_>>()
            .join("\n")
    );
    ex
}

/// Replay on two implementations in parallel and fail with a full diff on any mismatch.
fn differential(left: Impl, right: Impl) {
    let Some(stock) = stock_nut() else { return };
    let sessions = corpus::load();
    assert!(corpus::request_count(&sessions) >= 200);
    // Start (and check) the right-hand side first: when ours is missing this panics at once.
    let (a, b) = std::thread::scope(|s| {
        let sr = s.spawn(|| replay_on(&stock, right, &sessions));
        let sl = s.spawn(|| replay_on(&stock, left, &sessions));
        (
            sl.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            sr.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
        )
    });
    // NUT_RS_TRANSCRIPT=1 prints both full transcripts (to read what the corpus does)
    if std::env::var_os("NUT_RS_TRANSCRIPT").is_some() {
        eprintln!("##### {left:?}\n{}", corpus::transcript(&a));
        eprintln!("##### {right:?}\n{}", corpus::transcript(&b));
    }
    let report = corpus::diff(&format!("{left:?}"), &a, &format!("{right:?}"), &b);
    assert!(report.is_empty(), "{report}");
}

/// The real test: stock upsd vs ours.
#[test]
fn stock_vs_ours() {
    differential(Impl::Stock, Impl::Ours);
}

/// Self-check of the harness and the corpus: two stock upsd must agree with each other, so
/// every reply of the corpus is deterministic and the comparison above is meaningful.
#[test]
fn stock_vs_stock() {
    differential(Impl::Stock, Impl::Stock);
}
