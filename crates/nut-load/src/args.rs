//! The command line.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use clap::{Parser, ValueEnum};

use crate::Error;

/// The most connections a run may open.
pub const MAX_CONNECTIONS: usize = 20_000;
/// The longest a run (or its warm-up) may last, in seconds.
pub const MAX_SECONDS: f64 = 600.0;

/// What each request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mix {
    /// `GET VAR <ups> <var>` on kept connections.
    Get,
    /// `LIST VAR <ups>` on kept connections.
    List,
    /// A new connection per request: connect, GET, LOGOUT (what one upsc run does).
    Upsc,
    /// USERNAME, PASSWORD and LOGIN once per connection, then GET.
    LoginGet,
    /// Connections opened and held, no request (for the server's memory per connection).
    Idle,
}

/// `nut-load`: load a NUT server on loopback and measure it.
#[derive(Debug, Clone, Parser)]
#[command(name = "nut-load", version, about)]
pub struct Args {
    /// The server, `host:port` (loopback only).
    #[arg(long, default_value = "127.0.0.1:3493")]
    pub target: String,
    /// Connections to open (1 to 20,000).
    #[arg(short = 'c', long, default_value_t = 100)]
    pub connections: usize,
    /// The local address to connect from (loopback only), e.g. 127.0.0.2: a second "host"
    /// for a server that shares its turns per source address.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// The request mix.
    #[arg(short = 'm', long, value_enum, default_value_t = Mix::Get)]
    pub mix: Mix,
    /// The UPS to ask about.
    #[arg(long, default_value = "ups")]
    pub ups: String,
    /// The variable GET asks for.
    #[arg(long, default_value = "ups.status")]
    pub var: String,
    /// User for `login-get`.
    #[arg(long, default_value = "monuser")]
    pub user: String,
    /// Password for `login-get`.
    #[arg(long, default_value = "secret")]
    pub password: String,
    /// Open loop: this many requests per second in all, at fixed times. Without it, closed
    /// loop.
    #[arg(short = 'r', long)]
    pub rate: Option<f64>,
    /// Seconds to measure (at most 600).
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many requests (besides the duration).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Seconds of load before measuring (at most 600).
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// The server's PID: report its CPU time per request and its RSS (from /proc).
    #[arg(long)]
    pub pid: Option<u32>,
    /// Generator threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// One JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// Where to connect and from where, once every option is in range and both ends are
    /// loopback.
    pub(crate) fn check(&self) -> Result<Route, Error> {
        if !(1..=MAX_CONNECTIONS).contains(&self.connections) {
            return Err(Error::Invalid(format!(
                "--connections {} is not within 1..={MAX_CONNECTIONS}",
                self.connections
            )));
        }
        for (name, v) in [("--duration", self.duration), ("--warmup", self.warmup)] {
            if !(0.0..=MAX_SECONDS).contains(&v) {
                return Err(Error::Invalid(format!(
                    "{name} {v} is not within 0..={MAX_SECONDS} seconds"
                )));
            }
        }
        if self.duration <= 0.0 {
            return Err(Error::Invalid("--duration must be above 0".into()));
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r <= 10_000_000.0) {
                return Err(Error::Invalid(format!("--rate {r} is not within (0, 1e7]")));
            }
        }
        if self.threads == 0 || self.threads > 64 {
            return Err(Error::Invalid("--threads must be within 1..=64".into()));
        }
        let to = loopback(&self.target)?;
        if let Some(from) = self.bind {
            if !is_loopback(from) || from.is_ipv4() != to.is_ipv4() {
                return Err(Error::Invalid(format!(
                    "--bind {from}: a loopback address of the target's family"
                )));
            }
        }
        Ok(Route {
            to,
            from: self.bind,
        })
    }
}

/// Where connections go, and the local address they come from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) to: SocketAddr,
    /// Unset: the kernel's choice.
    pub(crate) from: Option<IpAddr>,
}

/// `target` resolved, if every address it names is loopback.
pub(crate) fn loopback(target: &str) -> Result<SocketAddr, Error> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| Error::BadTarget(target.into(), e.to_string()))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| Error::BadTarget(target.into(), "no address".into()))?;
    if addrs.iter().all(|a| is_loopback(a.ip())) {
        Ok(first)
    } else {
        Err(Error::NotLoopback(target.into()))
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(loopback("127.0.0.1:3493").is_ok());
        assert!(loopback("127.8.9.10:1").is_ok());
        assert!(loopback("[::1]:3493").is_ok());
        assert!(loopback("[::ffff:127.0.0.1]:3493").is_ok());
        for t in [
            "10.0.0.1:3493",
            "192.168.1.2:3493",
            "[2001:db8::1]:3493",
            "0.0.0.0:3493",
        ] {
            assert_eq!(
                loopback(t).unwrap_err().to_string(),
                format!("refusing target {t}: nut-load only talks to loopback (127.0.0.0/8, ::1)")
            );
        }
        assert!(matches!(loopback("nonsense"), Err(Error::BadTarget(..))));
    }

    #[test]
    fn bounds() {
        let mut a = Args::parse_from(["nut-load"]);
        assert!(a.check().is_ok());
        a.connections = 20_001;
        assert!(a.check().is_err());
        a.connections = 1;
        a.duration = 601.0;
        assert_eq!(
            a.check().unwrap_err().to_string(),
            "--duration 601 is not within 0..=600 seconds"
        );
    }

    #[test]
    fn bind_only_to_loopback_of_the_targets_family() {
        let route = Args::parse_from(["nut-load", "--bind", "127.0.0.2"])
            .check()
            .unwrap();
        assert_eq!(route.from, Some(IpAddr::from([127, 0, 0, 2])));
        for (bind, target) in [("10.0.0.1", "127.0.0.1:3493"), ("::1", "127.0.0.1:3493")] {
            let a = Args::parse_from(["nut-load", "--bind", bind, "--target", target]);
            assert_eq!(
                a.check().unwrap_err().to_string(),
                format!("--bind {bind}: a loopback address of the target's family")
            );
        }
    }
}
