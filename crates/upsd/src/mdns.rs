//! `MDNS on` (upsd.conf): DNS-SD over multicast DNS, so zeroconf clients (Home Assistant's NUT
//! integration, avahi-browse) find this server: `_nut._tcp` on the NUT port and `_http._tcp`
//! (`_https._tcp` for `LISTEN_HTTPS`) on the HTTP listener's, each with the UPS names in its
//! TXT record. What is advertised is decided from the bound listeners with no I/O ([`plan`]);
//! mdns-sd's responder thread announces it and answers queries. A failure to advertise is
//! logged and upsd carries on serving.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo, UnregisterStatus};

/// The most bytes of a TXT string (`ups=<names>`), DNS-SD's limit.
const TXT_MAX: usize = 255;
/// How long stopping waits for the goodbye packets (and their repeat) to go out.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);
/// mdns-sd's count of repeated goodbye packets, in its metrics.
const REPEATS: &str = "unregister-resend";

/// The addresses a service is announced with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addrs {
    /// A wildcard listener: every address of every interface (kept up to date).
    Every,
    /// These addresses, each announced on its own interface.
    These(Vec<IpAddr>),
}

/// One service to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    /// `_nut._tcp`, `_http._tcp` or `_https._tcp`.
    pub(crate) kind: &'static str,
    pub(crate) port: u16,
    pub(crate) addrs: Addrs,
    pub(crate) txt: Vec<(String, String)>,
}

/// The listeners of each kind, as bound.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listeners {
    pub(crate) nut: Vec<SocketAddr>,
    pub(crate) http: Vec<SocketAddr>,
    pub(crate) https: Vec<SocketAddr>,
}

/// The services to announce for `listeners` serving `upses` (in LIST UPS order), and a
/// warning per thing left out. Loopback listeners are not announced (no other host could
/// reach them); of several ports of one kind, the first listener's is announced.
pub(crate) fn plan(listeners: &Listeners, upses: &[String]) -> (Vec<Service>, Vec<String>) {
    let mut warnings = Vec::new();
    let (names, left_out) = ups_txt(upses);
    if left_out > 0 {
        warnings.push(format!(
            "MDNS: {left_out} UPS names left out of the TXT record (at most {TXT_MAX} bytes)"
        ));
    }
    let mut services = Vec::new();
    for (kind, bound, directive) in [
        ("_nut._tcp", &listeners.nut, "LISTEN"),
        ("_http._tcp", &listeners.http, "LISTEN_HTTP"),
        ("_https._tcp", &listeners.https, "LISTEN_HTTPS"),
    ] {
        let reachable: Vec<&SocketAddr> = bound.iter().filter(|a| !a.ip().is_loopback()).collect();
        let Some(first) = reachable.first() else {
            if !bound.is_empty() {
                warnings.push(format!(
                    "MDNS: {kind} not advertised: every {directive} address is a loopback one"
                ));
            }
            continue;
        };
        let port = first.port();
        let on_port = reachable.iter().filter(|a| a.port() == port);
        let addrs = if on_port.clone().any(|a| a.ip().is_unspecified()) {
            Addrs::Every
        } else {
            Addrs::These(on_port.map(|a| a.ip()).collect())
        };
        let mut txt = vec![("txtvers".to_string(), "1".to_string())];
        if kind != "_nut._tcp" {
            txt.push(("path".into(), "/".into()));
        }
        txt.push(("ups".into(), names.clone()));
        services.push(Service {
            kind,
            port,
            addrs,
            txt,
        });
    }
    (services, warnings)
}

/// `ups`'s TXT value: the names joined by commas, as many as fit (with `ups=`) in a TXT
/// string; and how many did not fit.
fn ups_txt(upses: &[String]) -> (String, usize) {
    let mut value = String::new();
    for (i, name) in upses.iter().enumerate() {
        let sep = if value.is_empty() { "" } else { "," };
        if "ups=".len() + value.len() + sep.len() + name.len() > TXT_MAX {
            return (value, upses.len() - i);
        }
        value.push_str(sep);
        value.push_str(name);
    }
    (value, 0)
}

/// The running advertisement.
pub(crate) struct Advertiser {
    daemon: ServiceDaemon,
    /// The instance name (the host's name) and its `.local.` host name.
    instance: String,
    host: String,
    listeners: Listeners,
    /// The UPS names last announced (`None` before the first time), to re-announce only on
    /// a change.
    upses: Option<Vec<String>>,
}

impl Advertiser {
    /// Start the responder and announce `listeners` serving `upses`; `None` (logged) when it
    /// cannot start.
    pub(crate) fn start(listeners: Listeners, upses: &[String]) -> Option<Advertiser> {
        let daemon = match ServiceDaemon::new() {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("MDNS: cannot start the mDNS responder: {e}");
                return None;
            }
        };
        // Loopback listeners are not advertised, and nobody else hears the loopback.
        let _ = daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6]);
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let instance = match hostname.split('.').next() {
            Some(short) if !short.is_empty() => short.to_string(),
            _ => "upsd".to_string(),
        };
        let mut me = Advertiser {
            daemon,
            host: format!("{instance}.local."),
            instance,
            listeners,
            upses: None,
        };
        me.update(upses);
        Some(me)
    }

    /// Announce the services for `upses` (at start, and after a reload if they changed).
    pub(crate) fn update(&mut self, upses: &[String]) {
        if self.upses.as_deref() == Some(upses) {
            return;
        }
        let (services, warnings) = plan(&self.listeners, upses);
        for w in warnings {
            tracing::warn!("{w}");
        }
        for s in &services {
            match self.info(s).and_then(|info| self.daemon.register(info)) {
                Ok(()) => tracing::info!(
                    "MDNS: advertising {}.{}.local. on port {} (ups={})",
                    self.instance,
                    s.kind,
                    s.port,
                    upses.join(",")
                ),
                Err(e) => tracing::error!("MDNS: cannot advertise {}: {e}", s.kind),
            }
        }
        self.upses = Some(upses.to_vec());
    }

    fn info(&self, s: &Service) -> Result<ServiceInfo, mdns_sd::Error> {
        let addrs = match &s.addrs {
            Addrs::Every => Vec::new(),
            Addrs::These(a) => a.clone(),
        };
        let info = ServiceInfo::new(
            &format!("{}.local.", s.kind),
            &self.instance,
            &self.host,
            addrs.as_slice(),
            s.port,
            s.txt.as_slice(),
        )?;
        Ok(match s.addrs {
            Addrs::Every => info.enable_addr_auto(),
            Addrs::These(_) => info,
        })
    }

    /// Withdraw the services (goodbye packets, so browsers drop them now) and stop.
    ///
    /// mdns-sd sends each goodbye at once and again 120 ms later (RFC 6762 §10.1 allows the
    /// repeat): a browser that missed the only one would show the service until its PTR
    /// record's TTL ran out, 75 minutes. Shutting the responder down drops what it has not
    /// sent yet, so stopping waits for the repeat too, at most [`GOODBYE_WAIT`] in all.
    pub(crate) fn stop(self) {
        let deadline = Instant::now() + GOODBYE_WAIT;
        let names = self.upses.as_deref().unwrap_or_default();
        let goodbyes: Vec<_> = plan(&self.listeners, names)
            .0
            .iter()
            .filter_map(|s| {
                let fullname = format!("{}.{}.local.", self.instance, s.kind);
                self.daemon.unregister(&fullname).ok()
            })
            .collect();
        let mut sent = false;
        for done in goodbyes {
            let left = deadline.saturating_duration_since(Instant::now());
            sent |= matches!(done.recv_timeout(left), Ok(UnregisterStatus::OK));
        }
        if sent {
            self.wait_for_repeat(deadline);
        }
        let _ = self.daemon.shutdown();
    }

    /// Wait until the responder has repeated the goodbyes (its count of them is no longer
    /// zero), or `deadline`.
    fn wait_for_repeat(&self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let repeated = self
                .daemon
                .get_metrics()
                .ok()
                .and_then(|m| m.recv_timeout(left).ok())
                .and_then(|m| m.get(REPEATS).copied())
                .unwrap_or(0);
            if repeated > 0 || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|a| a.parse().unwrap_or_else(|e| panic!("{a}: {e}")))
            .collect()
    }

    #[test]
    fn each_listener_kind_is_one_service_with_the_ups_names() {
        let listeners = Listeners {
            nut: addrs(&[
                "127.0.0.1:3493",
                "192.0.2.7:3493",
                "[2001:db8::7]:3493",
                "192.0.2.8:4000",
            ]),
            http: addrs(&["0.0.0.0:9199", "192.0.2.7:9199"]),
            https: addrs(&["[::1]:9443"]),
        };
        let (services, warnings) = plan(&listeners, &["ups".into(), "second".into()]);
        let txt = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            services,
            [
                Service {
                    kind: "_nut._tcp",
                    port: 3493,
                    addrs: Addrs::These(
                        addrs(&["192.0.2.7:0", "[2001:db8::7]:0"])
                            .iter()
                            .map(SocketAddr::ip)
                            .collect()
                    ),
                    txt: txt(&[("txtvers", "1"), ("ups", "ups,second")]),
                },
                Service {
                    kind: "_http._tcp",
                    port: 9199,
                    addrs: Addrs::Every,
                    txt: txt(&[("txtvers", "1"), ("path", "/"), ("ups", "ups,second")]),
                },
            ]
        );
        assert_eq!(
            warnings,
            ["MDNS: _https._tcp not advertised: every LISTEN_HTTPS address is a loopback one"]
        );
    }

    #[test]
    fn names_that_do_not_fit_the_txt_string_are_left_out_and_said() {
        let upses: Vec<String> = (0..40).map(|i| format!("ups-number-{i:02}")).collect();
        let (value, left) = ups_txt(&upses);
        // 18 names of 13 bytes and 17 commas after "ups=": 255 bytes
        assert_eq!((value.len() + "ups=".len(), left), (255, 22));
        let listeners = Listeners {
            nut: addrs(&["0.0.0.0:3493"]),
            ..Listeners::default()
        };
        let (_, warnings) = plan(&listeners, &upses);
        assert_eq!(
            warnings,
            ["MDNS: 22 UPS names left out of the TXT record (at most 255 bytes)"]
        );
        assert_eq!(ups_txt(&[]), (String::new(), 0));
    }
}
