//! nut-client against a hostile server: the input is everything "upsd" sends back.
//!
//! A client on an in-memory stream whose server side holds the input, then end of stream,
//! makes every request the library has (GET, LIST of each kind, the login sequence, SET,
//! INSTCMD, FSD, tracking, LOGOUT, then WATCH and its pushed lines), each in turn, whatever
//! the one before gave. No panic and no hang (each answer is read from what the input holds).
//! What comes back is bounded by the input: a list has no more items than the input has
//! lines, and no value holds a line feed.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use nut_client::Client;
use tokio::io::AsyncWriteExt;

thread_local! {
    static RT: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime"),
    );
}

fn check_text(s: &str) {
    assert!(!s.contains('\n'), "{s:?}");
}

async fn session(data: &[u8]) {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let (client_side, mut server_side) = tokio::io::duplex(1 << 20);
    server_side.write_all(data).await.expect("buffered");
    server_side.shutdown().await.expect("end of stream");
    let mut c = Client::from_stream(client_side);
    let list = |items: usize| assert!(items <= lines, "{items} items from {lines} lines");
    if let Ok(v) = c.get_var("ups", "ups.status").await {
        check_text(&v);
    }
    if let Ok(words) = c.get_type("ups", "input.sensitivity").await {
        words.iter().for_each(|w| check_text(w));
    }
    if let Ok(v) = c.get_desc("ups", "ups.status").await {
        check_text(&v);
    }
    let _ = c.get_cmddesc("ups", "load.off").await;
    let _ = c.get_upsdesc("ups").await;
    let _ = c.get_numlogins("ups").await;
    if let Ok(items) = c.list_ups().await {
        list(items.len());
    }
    if let Ok(items) = c.list_var("ups").await {
        list(items.len());
        items.iter().for_each(|(n, v)| {
            check_text(n);
            check_text(v);
        });
    }
    if let Ok(items) = c.list_rw("ups").await {
        list(items.len());
    }
    if let Ok(items) = c.list_cmd("ups").await {
        list(items.len());
    }
    if let Ok(items) = c.list_enum("ups", "input.sensitivity").await {
        list(items.len());
    }
    if let Ok(items) = c.list_range("ups", "ups.delay.shutdown").await {
        list(items.len());
    }
    if let Ok(items) = c.list_client("ups").await {
        list(items.len());
    }
    let _ = c.username("admin").await;
    let _ = c.password("pw").await;
    let _ = c.login("ups").await;
    let _ = c.primary("ups").await;
    let _ = c.set_tracking(true).await;
    if let Ok(Some(id)) = c.set_var("ups", "ups.delay.shutdown", "30").await {
        let _ = c.get_tracking(&id).await;
    }
    let _ = c.instcmd("ups", "load.off", None).await;
    let _ = c.fsd("ups").await;
    let _ = c.clear_fsd("ups").await;
    let _ = c.ver().await;
    let _ = c.netver().await;
    let _ = c.logout().await;
    // the connection turned into a status watch (our upsd's WATCH): pushed lines
    if let Ok(mut w) = c.watch("ups").await {
        for _ in 0..lines {
            let Ok((ups, status)) = w.next().await else {
                break;
            };
            check_text(&ups);
            check_text(&status);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    RT.with(|rt| rt.borrow().block_on(session(data)));
});
