//! The link to one driver: connect to its socket, ask for DUMPALL, keep the replica up to
//! date, PING when it is quiet, report staleness, forward SET/INSTCMD, and reconnect when
//! the driver comes back (`shared/spec/sock-protocol.md` §5 and §8).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nut_proto::Tokenizer;
use nut_state::{DriverMsg, UpsdMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::alarm::Alarm;
use crate::clock;
use crate::state::{DriverLink, Secs, Server};

/// How often a missing driver is retried (stock: every main-loop pass, at most 2 s apart).
const RETRY: Duration = Duration::from_secs(2);
/// How often "can't connect" is logged for one UPS (stock `SS_CONNFAIL_INT`).
const CONNFAIL_LOG_INTERVAL: Secs = 300;

/// Run the link for UPS `name` until its section is removed or redefined (its generation
/// changes).
pub(crate) async fn run(
    server: Arc<Mutex<Server>>,
    name: String,
    generation: u64,
    socket: PathBuf,
) {
    let mut last_connfail: Option<Secs> = None;
    loop {
        if !current(&server, &name, generation) {
            return;
        }
        match UnixStream::connect(&socket).await {
            Ok(stream) => {
                last_connfail = None;
                tracing::info!("Connected to UPS [{name}]: {}", socket.display());
                serve(&server, &name, generation, stream).await;
            }
            Err(e) => {
                let now = clock::now();
                if last_connfail.is_none_or(|t| now.saturating_sub(t) >= CONNFAIL_LOG_INTERVAL) {
                    tracing::error!("Can't connect to UPS [{name}] ({}): {e}", socket.display());
                    last_connfail = Some(now);
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

fn current(server: &Arc<Mutex<Server>>, name: &str, generation: u64) -> bool {
    let s = lock(server);
    s.ups(name).is_some_and(|u| u.generation == generation)
}

/// The server lock; a panic elsewhere must not stop the others from serving.
pub(crate) fn lock(server: &Arc<Mutex<Server>>) -> std::sync::MutexGuard<'_, Server> {
    server.lock().unwrap_or_else(|e| e.into_inner())
}

enum End {
    Gone,
    Superseded,
}

async fn serve(server: &Arc<Mutex<Server>>, name: &str, generation: u64, mut stream: UnixStream) {
    if let Err(e) = send(&mut stream, &UpsdMsg::DumpAll).await {
        tracing::error!("Initial write to UPS [{name}] failed: {e}");
        return;
    }
    // Requests write to the socket directly (non-blocking, through a second descriptor of
    // it); the link's writer sends only what the socket did not take. A driver that stops
    // reading blocks neither what it sends nor the periodic check.
    let split = stream.into_std().and_then(|std| {
        let writer = std.try_clone()?;
        Ok((UnixStream::from_std(std)?, writer))
    });
    let (mut reader, writer) = match split {
        Ok(pair) => pair,
        Err(e) => {
            tracing::error!("Socket of UPS [{name}]: {e}");
            return;
        }
    };
    let link = DriverLink::new(writer);
    {
        let mut s = lock(server);
        let Some(ups) = s.ups_mut(name) else { return };
        ups.on_connect(link.clone(), clock::now());
    }
    // The periodic pass runs when something can change (a PING falls due, the data turns
    // stale) and after each read, not on a fixed tick: a quiet link wakes upsd only for its
    // PINGs and their replies.
    let wake = match Alarm::new().and_then(|a| a.set(clock::at_secs(clock::now() + 1)).map(|()| a))
    {
        Ok(alarm) => alarm,
        Err(e) => {
            tracing::error!("Timer for UPS [{name}]: {e}");
            return;
        }
    };
    let drain = link.clone();
    let mut writer = tokio::spawn(async move { drain.drain().await });
    let mut tok = Tokenizer::new();
    let mut buf = [0u8; 512];
    let end = loop {
        let checked = tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) | Err(_) => break End::Gone,
                Ok(n) => {
                    handle_bytes(server, name, generation, &mut tok, &buf[..n]);
                    check(server, name, generation)
                }
            },
            written = &mut writer => {
                if let Ok(Err(e)) = written {
                    tracing::warn!("Send to UPS [{name}] failed: {e}");
                }
                break End::Gone;
            }
            _ = wake.wait() => check(server, name, generation),
        };
        let next = match checked {
            Check::Ok(next) => next,
            // With the queue full the driver has a message to read already.
            Check::Ping(next) => {
                _ = link.offer(name, &UpsdMsg::Ping);
                next
            }
            Check::Superseded => break End::Superseded,
        };
        if let Err(e) = wake.set(clock::at_secs(next)) {
            tracing::error!("Timer for UPS [{name}]: {e}");
            break End::Gone;
        }
    };
    writer.abort();
    let mut s = lock(server);
    if let Some(ups) = s.ups_mut(name) {
        if ups.generation == generation {
            ups.on_disconnect();
        }
    }
    if matches!(end, End::Gone) {
        tracing::warn!("Lost connection to the driver of UPS [{name}]");
    }
}

/// Write one message to the driver, as a line.
async fn send(stream: &mut UnixStream, msg: &UpsdMsg) -> std::io::Result<()> {
    let mut line = msg.to_line();
    line.push('\n');
    stream.write_all(line.as_bytes()).await
}

fn handle_bytes(
    server: &Arc<Mutex<Server>>,
    name: &str,
    generation: u64,
    tok: &mut Tokenizer,
    bytes: &[u8],
) {
    let now = clock::now();
    let mut s = lock(server);
    let s = &mut *s;
    for &b in bytes {
        let words = match tok.push(b) {
            None => continue,
            Some(Ok(words)) => words,
            Some(Err(e)) => {
                // Like stock, the rest of this read is dropped.
                tracing::info!("Parse error on socket of UPS [{name}]: {e}");
                return;
            }
        };
        let Some(msg) = DriverMsg::parse(&words) else {
            continue;
        };
        if let DriverMsg::Tracking { id, status } = &msg {
            s.tracking.set(id, *status);
            tracing::info!("tracking ID: {id}\tresult: {}", s.tracking.get(id));
        }
        // A link whose section was redefined must not write into the new replica.
        let Some(ups) = s.ups_mut(name).filter(|u| u.generation == generation) else {
            return;
        };
        ups.on_message(&msg, now);
    }
}

/// What the periodic pass decided, and the second ([`clock::now`]) of the next pass.
enum Check {
    Ok(Secs),
    Ping(Secs),
    Superseded,
}

/// The longest a link goes without a periodic pass (a reload may change MAXAGE).
const MAX_PASS_GAP: Secs = 60;

/// The periodic pass: log staleness transitions, decide whether to PING, and when the next
/// pass is due (the first second at which either can change without a message).
fn check(server: &Arc<Mutex<Server>>, name: &str, generation: u64) -> Check {
    let now = clock::now();
    let mut s = lock(server);
    let maxage = s.maxage;
    let delay = s.tracking_delay;
    s.tracking.expire(now, delay);
    let Some(ups) = s.ups_mut(name) else {
        return Check::Superseded;
    };
    if ups.generation != generation {
        return Check::Superseded;
    }
    let stale = ups.is_stale(now, maxage);
    if stale && !ups.stale_reported {
        tracing::warn!("Data for UPS [{name}] is stale - check driver");
    } else if !stale && ups.stale_reported {
        tracing::info!("UPS [{name}] data is no longer stale");
    }
    ups.stale_reported = stale;
    let mut next = now + MAX_PASS_GAP;
    // Stale by age once more than MAXAGE seconds passed since the driver was last heard.
    let stale_at = ups.last_heard.saturating_add(maxage).saturating_add(1);
    if stale_at > now {
        next = next.min(stale_at);
    }
    // 2.8.0: no PING while the driver itself reports stale data.
    if ups.dumpdone && !ups.data_ok {
        return Check::Ok(next);
    }
    let third = maxage / 3;
    let ping =
        now.saturating_sub(ups.last_heard) > third && now.saturating_sub(ups.last_ping) > third;
    if ping {
        ups.last_ping = now;
    }
    let ping_at = ups
        .last_heard
        .max(ups.last_ping)
        .saturating_add(third)
        .saturating_add(1);
    next = next.min(ping_at.max(now + 1));
    if ping {
        Check::Ping(next)
    } else {
        Check::Ok(next)
    }
}
