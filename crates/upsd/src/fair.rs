//! A fair share of the server per source address.
//!
//! Every connection with a request waiting takes its turn in the runtime's run queue, in
//! order. So 10,000 connections from one flooding host put 10,000 turns in front of a
//! client on another host: about 0.3 s at our rate. Here the turns are shared per address
//! instead. While more than one address has connections, an address may have at most
//! [`SHARE`] reads answered per round; its other connections with a request waiting park,
//! in order, and each round wakes the next [`SHARE`] of them. A round ends when the rounds
//! task gets its turn, after every connection that was ready before it: one address then
//! delays a client on another by at most [`SHARE`] answers, whatever it sends.
//!
//! It costs nothing while one address has all the connections (a single host's load), and
//! little otherwise: a parked connection is a waker in a queue, and rounds run only while
//! someone is parked. The state is the thread's (the server runs on one thread).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::net::IpAddr;
use std::task::{Context, Poll, Waker};

/// Reads answered per address per round while others wait.
pub(crate) const SHARE: u32 = 32;

/// One address's connections and turns.
#[derive(Debug, Default)]
struct Addr {
    /// Open connections from it.
    conns: u32,
    /// Reads answered since the round began.
    served: u32,
    /// Connections waiting for a turn, in order.
    parked: VecDeque<Waker>,
    /// Connections this round woke from `parked`: their turn is kept for them.
    woken: Vec<Waker>,
}

/// The shares of every address with a connection, and the rounds.
#[derive(Debug, Default)]
pub(crate) struct Shares {
    addrs: HashMap<IpAddr, Addr>,
    /// Connections parked, all addresses.
    parked: usize,
    /// The rounds task, while it sleeps (nobody parked).
    rounds: Option<Waker>,
}

impl Shares {
    /// A connection from `ip` opened.
    pub(crate) fn join(&mut self, ip: IpAddr) {
        self.addrs.entry(ip).or_default().conns += 1;
    }

    /// A connection from `ip` closed.
    pub(crate) fn leave(&mut self, ip: IpAddr) {
        if let Some(a) = self.addrs.get_mut(&ip) {
            a.conns = a.conns.saturating_sub(1);
            if a.conns == 0 {
                self.parked -= a.parked.len();
                self.addrs.remove(&ip);
            }
        }
    }

    /// Whether the connection of `waker`, from `ip`, may answer a read now; if not, it is
    /// parked and `waker` is woken when its turn comes.
    pub(crate) fn admit(&mut self, ip: IpAddr, waker: &Waker) -> bool {
        let alone = self.addrs.len() < 2;
        let Some(a) = self.addrs.get_mut(&ip) else {
            return true;
        };
        if let Some(i) = a.woken.iter().position(|w| w.will_wake(waker)) {
            a.woken.swap_remove(i);
            a.served += 1;
            return true;
        }
        if alone || (a.served < SHARE && a.parked.is_empty()) {
            a.served += 1;
            return true;
        }
        a.parked.push_back(waker.clone());
        self.parked += 1;
        if let Some(r) = self.rounds.take() {
            r.wake();
        }
        false
    }

    /// Begin a round: every address's count starts again and the next [`SHARE`] parked
    /// connections of each are woken. Returns whether some stay parked (another round is
    /// due once these had their turn).
    pub(crate) fn round(&mut self) -> bool {
        for a in self.addrs.values_mut() {
            a.served = 0;
            a.woken.clear();
            let n = a.parked.len().min(SHARE as usize);
            for w in a.parked.drain(..n) {
                w.wake_by_ref();
                a.woken.push(w);
            }
            self.parked -= n;
        }
        self.parked > 0
    }

    /// Connections parked, all addresses.
    pub(crate) fn parked(&self) -> usize {
        self.parked
    }
}

thread_local! {
    static SHARES: RefCell<Shares> = RefCell::default();
}

/// A connection from `ip` opened on this thread.
pub(crate) fn join(ip: IpAddr) {
    SHARES.with_borrow_mut(|s| s.join(ip));
}

/// A connection from `ip` closed on this thread.
pub(crate) fn leave(ip: IpAddr) {
    SHARES.with_borrow_mut(|s| s.leave(ip));
}

/// Whether the connection polled with `cx`, from `ip`, may answer a read now (see
/// [`Shares::admit`]).
pub(crate) fn admit(ip: IpAddr, cx: &Context<'_>) -> bool {
    SHARES.with_borrow_mut(|s| s.admit(ip, cx.waker()))
}

/// The rounds: asleep while nobody is parked; otherwise one round each time it gets its
/// turn, that is after every task that was ready before it.
pub(crate) async fn rounds() {
    poll_fn(|cx: &mut Context<'_>| {
        SHARES.with_borrow_mut(|s| {
            if s.parked() == 0 {
                s.rounds = Some(cx.waker().clone());
            } else {
                s.round();
                // Back of the run queue: the next round begins after these turns.
                cx.waker().wake_by_ref();
            }
        });
        Poll::<()>::Pending
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// A connection's waker that counts its wake-ups.
    struct Conn(AtomicUsize);
    impl Wake for Conn {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn conns(n: usize) -> Vec<(Arc<Conn>, Waker)> {
        (0..n)
            .map(|_| {
                let c = Arc::new(Conn(AtomicUsize::new(0)));
                (c.clone(), Waker::from(c))
            })
            .collect()
    }

    const FLOOD: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn one_address_alone_is_never_parked() {
        let mut s = Shares::default();
        let cs = conns(1000);
        for _ in &cs {
            s.join(FLOOD);
        }
        for _ in 0..3 {
            for (_, w) in &cs {
                assert!(s.admit(FLOOD, w));
            }
        }
        assert_eq!(s.parked(), 0);
    }

    #[test]
    fn a_flooding_address_takes_its_share_per_round_and_the_other_its_turn_at_once() {
        let mut s = Shares::default();
        let flood = conns(100);
        let (_, other) = &conns(1)[0];
        for _ in &flood {
            s.join(FLOOD);
        }
        s.join(OTHER);
        // Every flooder is ready: the first SHARE answer, the rest park in order.
        let admitted: Vec<bool> = flood.iter().map(|(_, w)| s.admit(FLOOD, w)).collect();
        assert!(admitted[..SHARE as usize].iter().all(|&a| a));
        assert!(admitted[SHARE as usize..].iter().all(|&a| !a));
        assert_eq!(s.parked(), 100 - SHARE as usize);
        // The other address answers at once, flood or not.
        assert!(s.admit(OTHER, other));
        // A served flooder asking again in the same round waits behind the parked ones.
        assert!(!s.admit(FLOOD, &flood[0].1));
        // A round wakes the next SHARE parked, in order, and keeps their turns for them even
        // when a newcomer of the same address is polled first.
        assert!(s.round());
        let woken: Vec<usize> = flood
            .iter()
            .map(|(c, _)| c.0.load(Ordering::Relaxed))
            .collect();
        let first_parked = SHARE as usize;
        assert!(woken[..first_parked].iter().all(|&n| n == 0));
        assert!(woken[first_parked..2 * first_parked]
            .iter()
            .all(|&n| n == 1));
        assert!(woken[2 * first_parked..].iter().all(|&n| n == 0));
        assert!(
            !s.admit(FLOOD, &flood[1].1),
            "a newcomer parks behind the others"
        );
        for (_, w) in &flood[first_parked..2 * first_parked] {
            assert!(s.admit(FLOOD, w));
        }
        // Rounds go on until nobody is parked; every flooder got its turn once.
        while s.round() {}
        assert_eq!(s.parked(), 0);
        let total: usize = flood.iter().map(|(c, _)| c.0.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 100 - SHARE as usize + 2);
    }

    #[test]
    fn leaving_forgets_the_address_and_its_parked() {
        let mut s = Shares::default();
        let flood = conns(SHARE as usize + 5);
        for _ in &flood {
            s.join(FLOOD);
        }
        s.join(OTHER);
        for (_, w) in &flood {
            s.admit(FLOOD, w);
        }
        assert_eq!(s.parked(), 5);
        for _ in &flood {
            s.leave(FLOOD);
        }
        assert_eq!(s.parked(), 0);
        assert_eq!(s.addrs.len(), 1);
        s.leave(OTHER);
        assert!(s.addrs.is_empty());
        // Unknown or already gone: nothing happens.
        s.leave(OTHER);
        assert!(s.admit(OTHER, &conns(1)[0].1));
    }
}
