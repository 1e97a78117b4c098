//! What a run measured, as text or one JSON object.

use std::fmt::Write as _;
use std::time::Duration;

use crate::conn::Tally;
use crate::proc_stats::ServerStats;
use crate::{Args, Mix};

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Report {
    mix: Mix,
    connections: usize,
    rate: Option<f64>,
    elapsed: Duration,
    tally: Tally,
    server: Option<ServerStats>,
}

impl Report {
    pub(crate) fn new(
        args: &Args,
        elapsed: Duration,
        tally: Tally,
        server: Option<ServerStats>,
    ) -> Report {
        Report {
            mix: args.mix,
            connections: args.connections,
            rate: args.rate,
            elapsed,
            tally,
            server,
        }
    }

    /// Answered requests per second.
    pub fn throughput(&self) -> f64 {
        self.tally.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Requests answered, answered with `ERR`, and not answered.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.tally.answered, self.tally.errors, self.tally.failed)
    }

    /// Latency at quantile `q` (0..=1) in microseconds.
    pub fn latency_us(&self, q: f64) -> u64 {
        self.tally.hist.value_at_quantile(q)
    }

    /// The server's CPU time per answered request, in microseconds.
    pub fn cpu_per_request_us(&self) -> Option<f64> {
        let cpu = self.server?.cpu?;
        (self.tally.answered > 0).then(|| cpu.as_secs_f64() * 1e6 / self.tally.answered as f64)
    }

    /// The text report, or one JSON object.
    pub fn render(&self, json: bool) -> String {
        let (answered, errors, failed) = self.counts();
        let mode = match self.rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".to_string(),
        };
        let p = |q| self.latency_us(q);
        let max = self.tally.hist.max();
        let memory = self.server.and_then(|s| s.memory);
        if json {
            let mut o = format!(
                "{{\"mix\":\"{:?}\",\"connections\":{},\"rate\":{},\"seconds\":{:.3},\
                 \"answered\":{answered},\"errors\":{errors},\"failed\":{failed},\
                 \"rps\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{max}",
                self.mix,
                self.connections,
                self.rate.map_or("null".into(), |r| r.to_string()),
                self.elapsed.as_secs_f64(),
                self.throughput(),
                p(0.5),
                p(0.99),
                p(0.999),
            );
            if let Some(c) = self.cpu_per_request_us() {
                let _ = write!(o, ",\"server_cpu_us_per_req\":{c:.3}");
            }
            if let Some((rss, peak)) = memory {
                let _ = write!(o, ",\"server_rss_kb\":{rss},\"server_peak_rss_kb\":{peak}");
            }
            o.push('}');
            return o;
        }
        let mut o = format!(
            "{:?}, {} connections, {mode}, {:.1} s\n\
             requests: {answered} answered ({errors} ERR), {failed} unanswered, {:.0} req/s\n\
             latency (us): p50 {} p99 {} p99.9 {} max {max}",
            self.mix,
            self.connections,
            self.elapsed.as_secs_f64(),
            self.throughput(),
            p(0.5),
            p(0.99),
            p(0.999),
        );
        if let Some(s) = self.server {
            match (s.cpu, self.cpu_per_request_us()) {
                (Some(cpu), Some(per)) => {
                    let _ = write!(
                        o,
                        "\nserver CPU: {:.2} s, {per:.2} us per request",
                        cpu.as_secs_f64()
                    );
                }
                _ => o.push_str("\nserver CPU: unknown (process gone?)"),
            }
            if let Some((rss, peak)) = memory {
                let _ = write!(o, "\nserver RSS: {rss} KB (peak {peak} KB)");
            }
        }
        o
    }
}
