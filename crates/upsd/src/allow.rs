//! upsd.conf's `ALLOW_FROM` ("permitted devices"): which peers may connect, and the refusal
//! log, once per peer per minute so a client retrying in a loop cannot flood it.

use std::collections::HashMap;
use std::net::IpAddr;

use nut_conf::upsd_conf::AllowNet;

use crate::state::Secs;

/// How long a refused peer stays quiet in the log.
pub(crate) const LOG_EVERY: Secs = 60;

/// What to do with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve it.
    Admit,
    /// Close it unread, and log the refusal.
    RefuseAndLog,
    /// Close it unread; this peer's refusal was logged less than [`LOG_EVERY`] ago.
    Refuse,
}

/// The allowlist in force and when each refused peer was last logged.
#[derive(Debug, Default)]
pub(crate) struct Allowlist {
    nets: Vec<AllowNet>,
    logged: HashMap<IpAddr, Secs>,
}

impl Allowlist {
    /// A new list (start-up, reload): applies to connections accepted from now on.
    pub(crate) fn set(&mut self, nets: Vec<AllowNet>) {
        self.nets = nets;
    }

    /// The verdict on a connection from `peer` at `now`.
    pub(crate) fn check(&mut self, peer: IpAddr, now: Secs) -> Verdict {
        if self.nets.is_empty() || self.nets.iter().any(|n| n.contains(peer)) {
            return Verdict::Admit;
        }
        self.logged
            .retain(|_, at| now.saturating_sub(*at) < LOG_EVERY);
        if self.logged.contains_key(&peer) {
            return Verdict::Refuse;
        }
        self.logged.insert(peer, now);
        Verdict::RefuseAndLog
    }
}

/// The log line of a refusal.
pub(crate) fn refusal(peer: IpAddr) -> String {
    format!(
        "Refused connection from {peer}: not in upsd.conf's ALLOW_FROM (logged once a minute per address)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_once_a_minute_per_peer() {
        let mut list = Allowlist::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(list.check(a, 0), Verdict::Admit, "no list: stock");
        list.set(vec![AllowNet::parse("127.0.0.2").unwrap()]);
        assert_eq!(list.check("127.0.0.2".parse().unwrap(), 0), Verdict::Admit);
        assert_eq!(
            list.check("::ffff:127.0.0.2".parse().unwrap(), 0),
            Verdict::Admit
        );
        assert_eq!(list.check(a, 100), Verdict::RefuseAndLog);
        assert_eq!(list.check(a, 101), Verdict::Refuse);
        assert_eq!(list.check(b, 120), Verdict::RefuseAndLog);
        assert_eq!(list.check(a, 159), Verdict::Refuse);
        assert_eq!(list.check(a, 160), Verdict::RefuseAndLog);
        assert_eq!(list.check(b, 121), Verdict::Refuse);
        // A reload that allows the peer admits it at once.
        list.set(vec![AllowNet::parse("127.0.0.0/8").unwrap()]);
        assert_eq!(list.check(a, 161), Verdict::Admit);
        assert_eq!(
            refusal(a),
            "Refused connection from 127.0.0.1: not in upsd.conf's ALLOW_FROM (logged once a minute per address)"
        );
    }
}
