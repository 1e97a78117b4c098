//! A scenario: the hosts and their upsmon.conf, the battery, and a timed list of faults, all
//! drawn from one seed ([`Scenario::generate`]). The world is deterministic given a scenario,
//! so a scenario is replayed by its seed, and shrunk by keeping a subset of its faults and
//! fewer secondaries ([`Scenario::restrict`]).

use std::fmt;

use crate::rng::Rng;

/// One upsmon host's settings (upsmon.conf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConf {
    /// `POLLFREQ`.
    pub pollfreq: u64,
    /// `POLLFREQALERT`.
    pub pollfreqalert: u64,
    /// `HOSTSYNC`.
    pub hostsync: u64,
    /// `DEADTIME`.
    pub deadtime: u64,
    /// `FINALDELAY`.
    pub finaldelay: u64,
    /// Seconds from `SHUTDOWNCMD` to the host being off (its sessions closed).
    pub os_shutdown: u64,
    /// `ONBATT_SHUTDOWN_AFTER`.
    pub onbatt_after: Option<u64>,
    /// `ONBATT_SHUTDOWN_RUNTIME`.
    pub onbatt_runtime: Option<u64>,
    /// `ONBATT_SHUTDOWN_CHARGE`.
    pub onbatt_charge: Option<u64>,
    /// `CLEARFSD_ON_MAINS` (the primary only).
    pub clearfsd: bool,
}

impl HostConf {
    /// Some `ONBATT_SHUTDOWN_*` limit is set: the host's own rule may shut it down on battery.
    pub fn timed(&self) -> bool {
        self.onbatt_after.is_some() || self.onbatt_runtime.is_some() || self.onbatt_charge.is_some()
    }

    /// The upsmon.conf text for this host (`primary` or `secondary`).
    pub fn upsmon_conf(&self, primary: bool) -> String {
        let role = if primary { "primary" } else { "secondary" };
        let mut s = format!(
            "MONITOR ups@localhost 1 mon{} pw {role}\nMINSUPPLIES 1\nSHUTDOWNCMD \"/bin/true\"\n\
             POLLFREQ {}\nPOLLFREQALERT {}\nHOSTSYNC {}\nDEADTIME {}\nFINALDELAY {}\n",
            if primary { "p" } else { "s" },
            self.pollfreq,
            self.pollfreqalert,
            self.hostsync,
            self.deadtime,
            self.finaldelay
        );
        if self.clearfsd {
            s.push_str("CLEARFSD_ON_MAINS yes\n");
        }
        for (k, v) in [
            ("ONBATT_SHUTDOWN_AFTER", self.onbatt_after),
            ("ONBATT_SHUTDOWN_RUNTIME", self.onbatt_runtime),
            ("ONBATT_SHUTDOWN_CHARGE", self.onbatt_charge),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("{k} {v}\n"));
            }
        }
        s
    }
}

/// The battery of the simulated unit: it drains while on battery and charges on mains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Battery {
    /// Seconds on battery from 100 % to empty.
    pub runtime: u64,
    /// Seconds on mains from 0 to 100 %.
    pub recharge: u64,
    /// The unit says LB below this charge (%).
    pub low: u64,
}

/// A fault, at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Mains fails.
    MainsOff,
    /// Mains returns.
    MainsOn,
    /// The host's network link to upsd is down for a while (nothing passes, nothing is closed).
    Partition {
        /// Host index (0 is the primary).
        host: usize,
        /// Seconds.
        secs: u64,
    },
    /// The host's TCP connection to upsd is reset (both sides see it).
    Drop {
        /// Host index.
        host: usize,
    },
    /// Messages between the host and upsd take `ms` longer, for a while.
    Delay {
        /// Host index.
        host: usize,
        /// Extra delay each way, milliseconds.
        ms: u64,
        /// Seconds.
        secs: u64,
    },
    /// upsd stops and starts again after `down` seconds (its FSD latch and logins are lost).
    RestartUpsd {
        /// Seconds down.
        down: u64,
    },
    /// The driver stops and starts again after `down` seconds.
    RestartDriver {
        /// Seconds down.
        down: u64,
    },
    /// The host's upsmon stops and starts again after `down` seconds.
    RestartUpsmon {
        /// Host index.
        host: usize,
        /// Seconds down.
        down: u64,
    },
    /// The host sleeps `secs` (no polls) and its clock jumps: upsmon sees a time jump.
    ClockJump {
        /// Host index.
        host: usize,
        /// Seconds asleep (0: only the wall clock was set).
        secs: u64,
    },
    /// The driver hangs (no polls, no answers) for a while: upsd's MAXAGE makes it stale.
    FreezeDriver {
        /// Seconds.
        secs: u64,
    },
    /// The unit leaves the USB bus for a while.
    Vanish {
        /// Seconds.
        secs: u64,
    },
    /// The unit's next GET_REPORTs fail.
    FailReads {
        /// How many.
        count: u32,
    },
}

impl Fault {
    /// The host this fault is about, if any.
    pub fn host(&self) -> Option<usize> {
        match *self {
            Fault::Partition { host, .. }
            | Fault::Drop { host }
            | Fault::Delay { host, .. }
            | Fault::RestartUpsmon { host, .. }
            | Fault::ClockJump { host, .. } => Some(host),
            _ => None,
        }
    }
}

/// A fault and when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds after the start.
    pub at: u64,
    /// What happens.
    pub fault: Fault,
}

/// Everything a run depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The seed it was drawn from.
    pub seed: u64,
    /// Host 0 is the primary (it also runs upsd and the driver); the others are secondaries.
    pub hosts: Vec<HostConf>,
    /// The unit's battery.
    pub battery: Battery,
    /// Base one-way delay between a host and upsd, milliseconds.
    pub delay: u64,
    /// upsd's `MAXAGE`.
    pub maxage: u64,
    /// The driver's `pollinterval`.
    pub pollinterval: u64,
    /// Length of the run, milliseconds.
    pub end: u64,
    /// The faults, in time order; `index` numbers them for `--keep`.
    pub events: Vec<(usize, Event)>,
}

impl Scenario {
    /// The scenario of `seed`.
    pub fn generate(seed: u64) -> Scenario {
        let mut r = Rng::new(seed);
        let secondaries = r.range(0, 4) as usize;
        let hostsync = r.pick(&[5, 15, 15, 30]);
        let host = |r: &mut Rng| {
            let pollfreq = r.pick(&[2, 5, 5, 10]);
            HostConf {
                pollfreq,
                pollfreqalert: r.pick(&[1, 2, 5]).min(pollfreq),
                hostsync,
                deadtime: r.pick(&[3, 4]) * pollfreq.max(5),
                finaldelay: r.pick(&[0, 5]),
                os_shutdown: r.range(3, 30),
                onbatt_after: r.chance(15).then(|| r.pick(&[20, 60, 180])),
                onbatt_runtime: r.chance(10).then(|| r.pick(&[60, 300])),
                onbatt_charge: r.chance(10).then(|| r.pick(&[30, 60])),
                clearfsd: false,
            }
        };
        let mut hosts: Vec<HostConf> = (0..=secondaries).map(|_| host(&mut r)).collect();
        // drawn apart, so that adding it left every other draw of a seed as it was
        hosts[0].clearfsd = Rng::new(seed ^ 0xc1ea_9f5d).chance(50);
        let battery = Battery {
            runtime: r.range(60, 400),
            recharge: r.range(120, 1800),
            low: r.range(15, 40),
        };
        let end = 1000 * r.range(100, 500);
        let mut events = Vec::new();
        let n_hosts = hosts.len() as u64;
        let at_rand = |r: &mut Rng| r.range(1000, end - 1000);
        // The power: a few outages, long and short (flapping).
        let outages = r.range(0, 3);
        for _ in 0..outages {
            let at = at_rand(&mut r);
            let len = if r.chance(40) {
                r.range(1, 20)
            } else {
                r.range(30, 400)
            };
            events.push(Event {
                at,
                fault: Fault::MainsOff,
            });
            events.push(Event {
                at: at + 1000 * len + r.range(0, 999),
                fault: Fault::MainsOn,
            });
            if r.chance(30) {
                // flapping: a burst of short returns and losses
                let mut t = at + r.range(500, 5000);
                for _ in 0..r.range(1, 6) {
                    events.push(Event {
                        at: t,
                        fault: Fault::MainsOn,
                    });
                    t += r.range(200, 4000);
                    events.push(Event {
                        at: t,
                        fault: Fault::MainsOff,
                    });
                    t += r.range(200, 8000);
                }
            }
        }
        let faults = r.range(0, 8);
        for _ in 0..faults {
            let at = at_rand(&mut r);
            let host = r.range(0, n_hosts - 1) as usize;
            let fault = match r.range(0, 10) {
                0 => Fault::Partition {
                    host,
                    secs: r.pick(&[3, 10, 30, 90, 300]),
                },
                1 => Fault::Drop { host },
                2 => Fault::Delay {
                    host,
                    ms: r.pick(&[100, 500, 2000, 4000]),
                    secs: r.pick(&[5, 30, 120]),
                },
                3 => Fault::RestartUpsd {
                    down: r.pick(&[0, 2, 10, 40]),
                },
                4 => Fault::RestartDriver {
                    down: r.pick(&[0, 2, 10, 40]),
                },
                5 => Fault::RestartUpsmon {
                    host,
                    down: r.pick(&[0, 2, 10, 40]),
                },
                6 => Fault::ClockJump {
                    host,
                    secs: r.pick(&[0, 0, 30, 600]),
                },
                7 => Fault::FreezeDriver {
                    secs: r.pick(&[5, 20, 60]),
                },
                8 => Fault::Vanish {
                    secs: r.pick(&[1, 5, 30]),
                },
                9 => Fault::FailReads {
                    count: r.range(1, 10) as u32,
                },
                _ => Fault::Drop { host },
            };
            events.push(Event { at, fault });
        }
        events.retain(|e| e.at < end);
        events.sort_by_key(|e| e.at);
        Scenario {
            seed,
            hosts,
            battery,
            delay: r.pick(&[1, 5, 20, 100]),
            maxage: 15,
            pollinterval: 2,
            end,
            events: events.into_iter().enumerate().collect(),
        }
    }

    /// The same scenario with only the faults numbered in `keep` (all if `None`) and at most
    /// `secondaries` secondaries (faults about the hosts removed go too).
    pub fn restrict(&self, keep: Option<&[usize]>, secondaries: Option<usize>) -> Scenario {
        let mut s = self.clone();
        if let Some(n) = secondaries {
            s.hosts.truncate(n + 1);
        }
        let hosts = s.hosts.len();
        s.events.retain(|(i, e)| {
            keep.is_none_or(|k| k.contains(i)) && e.fault.host().is_none_or(|h| h < hosts)
        });
        s
    }

    /// The fault numbers, for `--keep`.
    pub fn keep_list(&self) -> String {
        let v: Vec<String> = self.events.iter().map(|(i, _)| i.to_string()).collect();
        v.join(",")
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: 1 primary + {} secondaries, battery {} s (LB below {} %, recharge {} s), \
             delay {} ms, {} s",
            self.seed,
            self.hosts.len() - 1,
            self.battery.runtime,
            self.battery.low,
            self.battery.recharge,
            self.delay,
            self.end / 1000
        )?;
        for (i, h) in self.hosts.iter().enumerate() {
            writeln!(f, "  host {i}: {h:?}")?;
        }
        for (i, e) in &self.events {
            writeln!(f, "  #{i} at {:.3} s: {:?}", e.at as f64 / 1000.0, e.fault)?;
        }
        Ok(())
    }
}
