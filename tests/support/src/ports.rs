//! TCP ports for the servers the tests start: ours, stock upsd and dummy-ups (which take a
//! port only as a number in a configuration file), the HTTP peers, and ports kept closed.
//!
//! Asking the kernel for a free port (bind port 0, close, pass the number on) leaves a window
//! before the server binds it, in which the kernel may give the same port to anyone wanting an
//! ephemeral one: another test binary doing the same, or any outgoing connection of the
//! machine. The server then fails with "Address already in use" (or a test talks to another
//! test's server). So the ports come from below Linux's ephemeral range (32768-60999 by
//! default), which the kernel hands to no one by itself, cut into blocks: each test process
//! claims a block of its own with an exclusive `flock` (released when the process ends,
//! however it ends; unlike ports, files are shared by every network namespace a test thread
//! enters), then hands its ports out in turn, skipping any that something else has bound.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};

/// The first port of the first block.
const FIRST: u16 = 16384;
/// Ports per block: more than one test process has servers and closed ports at once.
const BLOCK: u16 = 256;
/// Blocks between [`FIRST`] and the ephemeral range.
const BLOCKS: u16 = (32768 - FIRST) / BLOCK;
/// Where the blocks are claimed: one fixed place, whatever `TMPDIR` each test process has.
const LOCKS: &str = "/tmp/nut-rs-test-ports";

/// A TCP port on 127.0.0.1 for a server to listen on (or a client to find closed): nothing
/// listens on it now, and no other process is given it (see the module's doc comment).
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let first = claimed_block();
    for _ in 0..BLOCK {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % u32::from(BLOCK);
        let port = first + u16::try_from(offset).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!(
        "every port of this test process's block {first}-{} is in use",
        first + BLOCK - 1
    );
}

/// The first port of this process's block, claimed on the first call.
fn claimed_block() -> u16 {
    static CLAIM: OnceLock<(Flock<File>, u16)> = OnceLock::new();
    CLAIM.get_or_init(claim).1
}

/// Lock the first free block, starting from one picked by the PID (so processes seldom meet).
fn claim() -> (Flock<File>, u16) {
    let locks = Path::new(LOCKS);
    // world-writable and sticky like /tmp: a test run as another user claims blocks too
    if std::fs::create_dir(locks).is_ok() {
        crate::set_mode(locks, 0o1777);
    }
    let start = u16::try_from(std::process::id() % u32::from(BLOCKS)).unwrap();
    for i in 0..BLOCKS {
        let first = FIRST + (start + i) % BLOCKS * BLOCK;
        // a directory: anyone may open it to lock it, whoever made it
        let block = locks.join(first.to_string());
        let _ = std::fs::create_dir(&block);
        let dir = File::open(&block).unwrap_or_else(|e| panic!("open {}: {e}", block.display()));
        if let Ok(lock) = Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            return (lock, first);
        }
    }
    panic!("every block of test ports ({FIRST}-32767) is claimed by another process (see {LOCKS})");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_from_a_block_no_other_process_can_claim() {
        let (a, b) = (free_port(), free_port());
        assert_ne!(a, b);
        let first = claimed_block();
        for p in [a, b] {
            assert!(
                (first..first + BLOCK).contains(&p),
                "{p} not in {first}+{BLOCK}"
            );
            assert!(p < 32768, "{p} is in Linux's ephemeral range");
            TcpListener::bind(("127.0.0.1", p)).unwrap();
        }
        // another open of the block's directory (as another process makes) cannot lock it
        let again = File::open(Path::new(LOCKS).join(first.to_string())).unwrap();
        assert!(Flock::lock(again, FlockArg::LockExclusiveNonblock).is_err());
    }
}
