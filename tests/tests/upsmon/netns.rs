//! Faults with real processes in network namespaces: a server namespace (stock dummy-ups, our
//! upsd, our upsmon primary) and three client namespaces, each joined to the server by its
//! own veth pair, with a secondary upsmon each (ours and stock 2.8.0, mixed). Partitions
//! (link down, nftables drop rules, one way or both), packet loss (nftables), delay (a
//! userspace relay: the test machines' kernels have no netem), and restarts of upsd, the
//! driver and upsmon in the middle of an outage. Every scenario asserts its exact outcome
//! (which hosts ran SHUTDOWNCMD and in what order, their notifications, POWERDOWNFLAG) and the
//! properties of docs/faults.md. The scenarios run at once, each in namespaces of its own;
//! `NUT_RS_NETNS=name,name` runs only those. docs/faults.md describes it all.

use nut_test_support::netns::{self, DelayProxy, Fault, Star};
use nut_test_support::upsmon::*;
use nut_test_support::usbhid::epoch_now;
use nut_test_support::{
    stock_nut, Driver, Impl, NutDirOptions, Proc, Rig, StockNut, UpsSpec, Upsd, UPS, UPS_DESC,
};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// upsd's port on the veth links (its namespace is new: always free).
const PORT: u16 = 3493;
/// The delay relay's port next to it.
const RELAY_PORT: u16 = 3494;
/// HOSTSYNC of every upsmon.conf here (upsmon_conf's).
const HOSTSYNC: f64 = 5.0;
/// DEADTIME of upsmon_conf.
const DEADTIME: f64 = 3.0;

/// The upsmon of the server (index 0) and of the three clients.
struct World<'a> {
    hosts: Vec<(MonDir, Option<Proc>)>,
    _relays: Vec<DelayProxy>,
    rig: Rig,
    star: &'a Star,
    stock: &'a StockNut,
    /// What the test did and when (seconds since the epoch).
    events: Mutex<Vec<(f64, String)>>,
}

impl<'a> World<'a> {
    /// Inside the server namespace: dummy-ups and our upsd (listening on loopback and on the
    /// three links), the primary of kind `mix[0]` on loopback, secondaries of kind `mix[i]` in
    /// client i's namespace (through a relay delaying each way by `delay` for the clients of `delayed`);
    /// `extra` goes into every upsmon.conf. Returns once the four are logged in.
    fn start(
        star: &'a Star,
        stock: &'a StockNut,
        mix: [Mon; 4],
        extra: &str,
        delayed: &[(usize, Duration)],
    ) -> World<'a> {
        let opts = NutDirOptions {
            upses: vec![UpsSpec {
                name: UPS.into(),
                desc: Some(UPS_DESC.into()),
                data: "bk650m2-ch.dev".into(),
                ready_var: "ups.vendorid".into(),
            }],
            upsd_conf_extra: (1..=3)
                .map(|i| format!("LISTEN {} {PORT}", Star::server_addr(i)))
                .collect(),
        };
        let rig = Rig::start(stock, Impl::Ours, opts);
        let primary = upsmon_conf(&rig, mix[0], "primary", "upsmon", "pw", extra);
        let mut relays = Vec::new();
        let mut hosts = vec![(primary, None)];
        for (i, &mon) in (1..=3).zip(mix[1..].iter()) {
            let name = format!("c{i}");
            let md = upsmon_conf_named(&rig, mon, &name, "secondary", "monuser", "secret", extra);
            let mut port = PORT;
            if let Some((_, d)) = delayed.iter().find(|(c, _)| *c == i) {
                let listen = SocketAddr::from((Star::server_addr(i), RELAY_PORT));
                let upsd = SocketAddr::from(([127, 0, 0, 1], rig.port()));
                relays.push(DelayProxy::start(listen, upsd, *d));
                port = RELAY_PORT;
            }
            // The MONITOR line names the server's address on this client's link; no
            // POWERDOWNFLAG, as upsmon.conf(5) says for a host not connected to the UPS (stock
            // 2.8.0 and ours write it on any host whose upsmon.conf has one).
            let conf = md.dir.join("upsmon.conf");
            let text: String = std::fs::read_to_string(&conf)
                .unwrap()
                .replace(
                    &format!("MONITOR {} ", rig.target(UPS)),
                    &format!("MONITOR {UPS}@{}:{port} ", Star::server_addr(i)),
                )
                .lines()
                .filter(|l| !l.starts_with("POWERDOWNFLAG "))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&conf, text).unwrap();
            hosts.push((md, None));
        }
        let mut w = World {
            hosts,
            _relays: relays,
            rig,
            star,
            stock,
            events: Mutex::new(Vec::new()),
        };
        for h in 0..4 {
            w.start_upsmon(h);
        }
        wait_logins(
            &w.rig,
            4,
            "the four upsmon to log in",
            Duration::from_secs(15),
            || w.logs(),
        );
        w
    }

    /// [`World::start`] with the usual upsmon.conf and no relay.
    fn plain(star: &'a Star, stock: &'a StockNut, mix: [Mon; 4]) -> World<'a> {
        Self::start(star, stock, mix, "", &[])
    }

    /// (Re)start the upsmon of host `h` (0: the primary, i: client i).
    fn start_upsmon(&mut self, h: usize) {
        let p = if h == 0 {
            start_upsmon(&self.rig, &self.hosts[0].0)
        } else {
            start_upsmon_in(&self.rig, &self.hosts[h].0, self.star.client(h))
        };
        self.hosts[h].1 = Some(p);
    }

    /// Kill (SIGKILL) the upsmon of host `h`.
    fn kill_upsmon(&mut self, h: usize) {
        self.hosts[h].1 = None;
        self.mark(&format!("killed upsmon of {}", self.name(h)));
    }

    fn md(&self, h: usize) -> &MonDir {
        &self.hosts[h].0
    }

    /// `primary` or `cI`.
    fn name(&self, h: usize) -> String {
        if h == 0 {
            "primary".into()
        } else {
            format!("c{h}")
        }
    }

    /// Note what the test does now; returns the time.
    fn mark(&self, what: &str) -> f64 {
        let t = epoch_now();
        self.events.lock().unwrap().push((t, what.to_string()));
        t
    }

    /// Set ups.status through upsd and note it (`power <status>`).
    fn power(&self, status: &str) -> f64 {
        set_status(&self.rig, status);
        self.mark(&format!("power {status}"))
    }

    /// Everything for an assertion message.
    fn logs(&self) -> String {
        let mut s = String::new();
        for (md, _) in &self.hosts {
            s.push_str(&md.logs());
        }
        s.push_str(&self.rig.dir.logs());
        s.push_str(&format!(
            "--- shutdown.order:\n{}--- test events:\n",
            std::fs::read_to_string(shutdown_order(&self.rig)).unwrap_or_default()
        ));
        for (t, e) in self.events.lock().unwrap().iter() {
            s.push_str(&format!("{t:.3} {e}\n"));
        }
        s
    }

    /// The SHUTDOWNCMDs so far: (host, time).
    fn order(&self) -> Vec<(String, f64)> {
        std::fs::read_to_string(shutdown_order(&self.rig))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (who, at) = l.split_once(' ').unwrap();
                (who.to_string(), at.parse().unwrap())
            })
            .collect()
    }

    /// Wait until `n` SHUTDOWNCMDs ran; returns them.
    fn wait_order(&self, n: usize, timeout: Duration) -> Vec<(String, f64)> {
        wait_shutdowns(&self.rig, n, &format!("{n} SHUTDOWNCMDs"), timeout, || {
            self.logs()
        });
        self.order()
    }

    /// OB LB now: the three secondaries (in any order), then the primary, each within
    /// `bound` seconds; returns the SHUTDOWNCMDs.
    fn low_battery_shuts_all_down(&self, bound: f64) -> Vec<(String, f64)> {
        let lb = self.power("OB LB");
        let order = self.wait_order(4, Duration::from_secs_f64(bound + 5.0));
        assert_eq!(
            World::names(&order, &[3, 1]),
            ["c1", "c2", "c3", "primary"],
            "{}",
            self.logs()
        );
        for (who, t) in &order {
            assert!(
                *t > lb && t - lb < bound,
                "{who} {:.3} s after OB LB:\n{}",
                t - lb,
                self.logs()
            );
        }
        order
    }

    /// The hosts in `order`, sorted within each group of `groups` (see [`sort_groups`]).
    fn names(order: &[(String, f64)], groups: &[usize]) -> Vec<String> {
        sort_groups(order.iter().map(|(n, _)| n.clone()).collect(), groups)
    }

    /// The notification types host `h` got, in the order NOTIFYCMD wrote them, sorted within
    /// each group of `groups` (NOTIFYCMDs of one poll run side by side: their lines come in
    /// any order).
    fn types(&self, h: usize, groups: &[usize]) -> Vec<String> {
        let t = notifications(self.md(h))
            .iter()
            .map(|l| l.split('|').next().unwrap().to_string())
            .collect();
        sort_groups(t, groups)
    }

    /// Host `h` got exactly the notifications `want` ([`World::types`] with `groups`).
    fn expect_types(&self, h: usize, groups: &[usize], want: &[&str]) {
        assert_eq!(
            self.types(h, groups),
            want,
            "{}:\n{}",
            self.name(h),
            self.logs()
        );
    }

    /// Wait until every host of `hosts` got `n` notifications of `event`.
    fn wait_all(&self, hosts: &[usize], event: &str, n: usize, timeout: Duration) {
        for &h in hosts {
            wait_notified(
                self.md(h),
                event,
                n,
                &format!("{event} ×{n} at {}", self.name(h)),
                timeout,
                || self.logs(),
            );
        }
    }

    /// Every event in time order, in seconds since the first thing the test did: what the
    /// test did, each host's notifications and SHUTDOWNCMDs (printed by each scenario; the
    /// figures of docs/faults.md).
    fn timeline(&self) -> String {
        let events = self.events.lock().unwrap();
        let t0 = events.first().map_or(0.0, |e| e.0);
        let mut rows: Vec<(f64, String)> = events
            .iter()
            .map(|(t, e)| (*t, format!("test: {e}")))
            .collect();
        for h in 0..4 {
            let name = self.name(h);
            for l in self.md(h).notify_log().lines() {
                let ty = l.split('|').next().unwrap_or("");
                let t: f64 = l.rsplit('|').next().unwrap().parse().unwrap();
                rows.push((t, format!("{name}: {ty}")));
            }
        }
        for (who, t) in self.order() {
            rows.push((t, format!("{who}: SHUTDOWNCMD")));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        rows.iter()
            .map(|(t, e)| format!("{:7.2} {e}\n", t - t0))
            .collect()
    }

    /// When the primary set FSD: its FSD notification (ours), else its LOWBATT one (stock's
    /// primary notifies no FSD of its own; it sets FSD in the poll that saw LB).
    fn primary_fsd(&self) -> Option<f64> {
        let md = self.md(0);
        notified_at(md, "FSD")
            .first()
            .or(notified_at(md, "LOWBATT").first())
            .copied()
    }

    /// Print the timeline and check the properties: the end of every scenario.
    fn finish(&self) {
        eprintln!(
            "--- {}:\n{}",
            std::thread::current().name().unwrap_or("netns"),
            self.timeline()
        );
        let v = self.violations();
        assert!(v.is_empty(), "{v:?}:\n{}", self.logs());
    }

    /// What breaks the properties every scenario keeps, whatever the faults (docs/faults.md):
    /// * at most one SHUTDOWNCMD per host, and a host notified SHUTDOWN once iff it ran one;
    /// * POWERDOWNFLAG only on the primary, and only once it shut down;
    /// * the primary shut down after every secondary, or logged that HOSTSYNC expired, at
    ///   least HOSTSYNC after its FSD;
    /// * nobody shut down before the test took mains away.
    fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let order = self.order();
        let at = |n: &str| order.iter().find(|(w, _)| w == n).map(|(_, t)| *t);
        for h in 0..4 {
            let name = self.name(h);
            let runs = order.iter().filter(|(w, _)| *w == name).count();
            if runs > 1 {
                v.push(format!("{name} shut down {runs} times"));
            }
            let notified = notified(self.md(h), "SHUTDOWN").len();
            if notified != runs.min(1) {
                v.push(format!("{name}: {notified} SHUTDOWN notifications"));
            }
            let flag = self.md(h).flag().exists();
            if flag != (h == 0 && runs > 0) {
                let state = if flag { "written" } else { "missing" };
                v.push(format!("{name}: POWERDOWNFLAG {state}"));
            }
        }
        if let Some(tp) = at("primary") {
            let late: Vec<String> = (1..4)
                .map(|h| self.name(h))
                .filter(|n| at(n).is_none_or(|t| t > tp))
                .collect();
            if !late.is_empty() {
                if !self.md(0).log().contains("Host sync timer expired") {
                    v.push(format!(
                        "the primary left before {late:?} without HOSTSYNC expiring"
                    ));
                }
                if self.primary_fsd().is_none_or(|f| tp - f < HOSTSYNC) {
                    v.push(format!(
                        "the primary left before {late:?}, less than HOSTSYNC after its FSD"
                    ));
                }
            }
        }
        let mains_lost = self
            .events
            .lock()
            .unwrap()
            .iter()
            .find(|(_, e)| e.starts_with("power OB"))
            .map(|(t, _)| *t);
        for (who, t) in &order {
            if mains_lost.is_none_or(|m| *t < m) {
                v.push(format!("{who} shut down at {t:.3} while on mains"));
            }
        }
        v
    }
}

/// `v` with the entries of each group of `groups` consecutive ones sorted (entries that may
/// come in any order among themselves compare as a set); the rest as it is.
fn sort_groups(mut v: Vec<String>, groups: &[usize]) -> Vec<String> {
    let mut at = 0;
    for g in groups {
        let end = (at + g).min(v.len());
        v[at.min(end)..end].sort();
        at = end;
    }
    v
}

/// The control: no fault, OB+LB. The three secondaries (stock and ours) leave first, then the
/// primary, all within a few seconds; this is what every other scenario's harness must see
/// when a shutdown is due.
fn power_failure(star: &Star, stock: &StockNut) {
    let w = World::plain(star, stock, [Mon::Ours, Mon::Stock, Mon::Ours, Mon::Ours]);
    w.low_battery_shuts_all_down(8.0);
    for h in 0..4 {
        w.expect_types(h, &[4], &["FSD", "LOWBATT", "ONBATT", "SHUTDOWN"]);
    }
    w.finish();
    // The property checks bite: a POWERDOWNFLAG on a secondary, a second SHUTDOWNCMD.
    std::fs::write(w.md(1).flag(), "upsmon-shutdown-file").unwrap();
    assert_eq!(w.violations(), ["c1: POWERDOWNFLAG written"]);
    std::fs::remove_file(w.md(1).flag()).unwrap();
    let order = shutdown_order(&w.rig);
    let text = std::fs::read_to_string(&order).unwrap();
    std::fs::write(&order, format!("{text}c2 {}\n", epoch_now())).unwrap();
    assert_eq!(w.violations(), ["c2 shut down 2 times"]);
    std::fs::write(&order, text).unwrap();
    assert_eq!(w.violations(), Vec::<String>::new());
}

/// Partitions while on mains: client 1's link down, client 2's traffic dropped both ways,
/// client 3's dropped from the server only; held well past DEADTIME. Nobody shuts down;
/// healed, each secondary says COMMOK and then follows an OB blip.
fn partition_on_mains(star: &Star, stock: &StockNut) {
    let w = World::plain(star, stock, [Mon::Ours, Mon::Stock, Mon::Ours, Mon::Stock]);
    let cut = w.mark("partition: c1 link down, c2 dropped, c3 dropped to the client");
    star.link(1, false);
    star.faults(&[(2, Fault::Drop), (3, Fault::DropToClient)]);
    w.wait_all(&[1, 2, 3], "COMMBAD", 1, Duration::from_secs(10));
    // well past DEADTIME with the UPS on mains
    let hold = 2.0 * DEADTIME + 3.0;
    let left = hold - (epoch_now() - cut);
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
    assert!(w.order().is_empty(), "{}", w.logs());
    w.mark("healed");
    star.link(1, true);
    star.faults(&[]);
    w.wait_all(&[1, 2, 3], "COMMOK", 1, Duration::from_secs(15));
    w.power("OB");
    w.wait_all(&[0, 1, 2, 3], "ONBATT", 1, Duration::from_secs(5));
    w.power("OL");
    w.wait_all(&[0, 1, 2, 3], "ONLINE", 1, Duration::from_secs(5));
    for h in 1..4 {
        w.expect_types(h, &[], &["COMMBAD", "COMMOK", "ONBATT", "ONLINE"]);
    }
    w.expect_types(0, &[], &["ONBATT", "ONLINE"]);
    assert!(w.order().is_empty(), "{}", w.logs());
    w.finish();
}

/// Partitions while on battery (no low battery): client 1 (stock) by link down, client 2
/// (ours) by drop rules. Both shut down by the rule for a UPS last seen on battery that went
/// silent (DEADTIME, then HOSTSYNC without FSD); client 3 and the primary, still in touch, do
/// not, and nobody else does after mains comes back.
fn partition_on_battery(star: &Star, stock: &StockNut) {
    let w = World::plain(star, stock, [Mon::Ours, Mon::Stock, Mon::Ours, Mon::Ours]);
    w.power("OB");
    w.wait_all(&[0, 1, 2, 3], "ONBATT", 1, Duration::from_secs(5));
    let cut = w.mark("partition: c1 link down, c2 dropped");
    star.link(1, false);
    star.faults(&[(2, Fault::Drop)]);
    let order = w.wait_order(2, Duration::from_secs(20));
    assert_eq!(World::names(&order, &[2]), ["c1", "c2"], "{}", w.logs());
    for (who, t) in &order {
        assert!(
            t - cut > DEADTIME,
            "{who} left {:.3} s after the cut, before DEADTIME:\n{}",
            t - cut,
            w.logs()
        );
    }
    w.power("OL");
    w.wait_all(&[0, 3], "ONLINE", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.order().len(), 2, "{}", w.logs());
    // Stock's poll blocks until its 5 s timeout, says COMMBAD, then applies DEADTIME and
    // HOSTSYNC at once; ours counts DEADTIME and HOSTSYNC from the last answer while the poll
    // is still in flight, and shuts down before the poll times out: no COMMBAD.
    w.expect_types(1, &[1, 2], &["ONBATT", "COMMBAD", "SHUTDOWN"]);
    w.expect_types(2, &[], &["ONBATT", "SHUTDOWN"]);
    for h in [0, 3] {
        w.expect_types(h, &[], &["ONBATT", "ONLINE"]);
    }
    w.finish();
}

/// Client 1's link down while on mains; once it noticed (COMMBAD), OB+LB; returns when.
fn cut_c1_then_low_battery(w: &World, star: &Star) -> f64 {
    w.mark("partition: c1 link down");
    star.link(1, false);
    w.wait_all(&[1], "COMMBAD", 1, Duration::from_secs(10));
    w.power("OB LB")
}

/// Client 1, which saw nothing but COMMBAD while cut off, gets its link back: it shuts down
/// last, after that, with the notifications `want` (COMMBAD, then those of one poll).
fn heal_c1_which_goes_last(w: &World, star: &Star, want: &[&str]) {
    w.expect_types(1, &[], &["COMMBAD"]);
    let heal = w.mark("healed: c1 link up");
    star.link(1, true);
    let order = w.wait_order(4, Duration::from_secs(20));
    assert_eq!(order[3].0, "c1", "{}", w.logs());
    assert!(order[3].1 > heal, "{}", w.logs());
    w.expect_types(1, &[1, want.len() - 1], want);
}

/// Client 1 (ours) cut off (link down) while on mains, then OB+LB: clients 2 and 3 leave on
/// FSD; client 1's session still counts on upsd (its packets cannot reach it), so the primary
/// waits out HOSTSYNC and goes; client 1, last seen on mains, does not shut down until the
/// link is back and it reads FSD.
fn partition_then_low_battery(star: &Star, stock: &StockNut) {
    let w = World::plain(star, stock, [Mon::Ours, Mon::Ours, Mon::Stock, Mon::Ours]);
    let lb = cut_c1_then_low_battery(&w, star);
    let order = w.wait_order(3, Duration::from_secs(20));
    assert_eq!(
        World::names(&order, &[2, 1]),
        ["c2", "c3", "primary"],
        "{}",
        w.logs()
    );
    let fsd = w.primary_fsd().unwrap();
    let tp = order[2].1;
    assert!(
        (fsd + HOSTSYNC..lb + HOSTSYNC + 5.0).contains(&tp),
        "primary at {:.3} s after OB LB, FSD at {:.3} s:\n{}",
        tp - lb,
        fsd - lb,
        w.logs()
    );
    assert!(
        w.md(0).log().contains("Host sync timer expired"),
        "{}",
        w.logs()
    );
    // still cut off: client 1 knows nothing of the outage
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.order().len(), 3, "{}", w.logs());
    heal_c1_which_goes_last(
        &w,
        star,
        &["COMMBAD", "COMMOK", "FSD", "LOWBATT", "ONBATT", "SHUTDOWN"],
    );
    w.finish();
}

/// upsd dies during the primary's HOSTSYNC wait: client 1 (stock) cut off on mains, then
/// OB+LB; clients 2 and 3 leave on FSD and the primary waits for client 1's dead session. upsd
/// is killed then: our primary cannot read NUMLOGINS and keeps waiting until HOSTSYNC (a
/// secondary may still be up); stock 2.8.0's counts that as no login left and shuts down at
/// once, before HOSTSYNC, while client 1 has seen nothing of the outage: the property check
/// names exactly that for stock. With upsd back (FSD died with it) and the link healed,
/// client 1 reads OB+LB and shuts down by the secondary's rule.
fn upsd_dies_during_hostsync(star: &Star, stock: &StockNut) {
    upsd_dies_during_hostsync_with(star, stock, Mon::Ours);
}

/// The same with stock upsmon 2.8.0 as the primary: it goes at once.
fn upsd_dies_during_hostsync_stock_primary(star: &Star, stock: &StockNut) {
    upsd_dies_during_hostsync_with(star, stock, Mon::Stock);
}

fn upsd_dies_during_hostsync_with(star: &Star, stock: &StockNut, primary: Mon) {
    let mut w = World::plain(star, stock, [primary, Mon::Stock, Mon::Ours, Mon::Ours]);
    cut_c1_then_low_battery(&w, star);
    let order = w.wait_order(2, Duration::from_secs(10));
    assert_eq!(World::names(&order, &[2]), ["c2", "c3"], "{}", w.logs());
    let fsd = w.primary_fsd().unwrap();
    let kill = w.mark("upsd killed");
    assert!(kill - fsd < HOSTSYNC - 2.0, "{}", w.logs());
    let _ = w.rig.upsd.proc_.child.kill();
    let _ = w.rig.upsd.proc_.child.wait();
    let order = w.wait_order(3, Duration::from_secs(10));
    let tp = order[2].1;
    assert_eq!(order[2].0, "primary", "{}", w.logs());
    let took = format!(
        "primary {:.3} s after FSD, {:.3} s after upsd died:\n{}",
        tp - fsd,
        tp - kill,
        w.logs()
    );
    if primary == Mon::Ours {
        // it waits out HOSTSYNC (and says so), then goes
        assert!((HOSTSYNC..HOSTSYNC + 1.5).contains(&(tp - fsd)), "{took}");
        assert_eq!(w.violations(), Vec::<String>::new(), "{}", w.logs());
    } else {
        assert!(tp - fsd < HOSTSYNC && tp - kill < 2.5, "{took}");
        assert_eq!(
            w.violations(),
            [
                "the primary left before [\"c1\"] without HOSTSYNC expiring",
                "the primary left before [\"c1\"], less than HOSTSYNC after its FSD"
            ],
            "{}",
            w.logs()
        );
    }
    w.rig.upsd = Upsd::start(&w.rig.dir, &Impl::Ours.binary(w.stock), Impl::Ours);
    w.mark("upsd started");
    heal_c1_which_goes_last(
        &w,
        star,
        &["COMMBAD", "COMMOK", "LOWBATT", "ONBATT", "SHUTDOWN"],
    );
    eprintln!(
        "--- {}:\n{}",
        std::thread::current().name().unwrap_or("netns"),
        w.timeline()
    );
}

/// 15 % packet loss both ways on clients 1 (stock) and 3 (ours), 300 ms each way on client 2
/// (ours, through the relay). On mains for a while: no shutdown. Then OB+LB: every host shuts
/// down within 30 s, the primary last unless HOSTSYNC ran out.
fn loss_and_delay(star: &Star, stock: &StockNut) {
    let delay = Duration::from_millis(300);
    let w = World::start(
        star,
        stock,
        [Mon::Ours, Mon::Stock, Mon::Ours, Mon::Ours],
        "",
        &[(2, delay)],
    );
    // the relay answers a request through it 2 × 300 ms late
    let mut c = nut_test_support::LineClient::from_stream(
        std::net::TcpStream::connect((Star::server_addr(2), RELAY_PORT)).unwrap(),
    )
    .unwrap();
    c.quiet = Duration::from_secs(3);
    let t0 = Instant::now();
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
    let rtt = t0.elapsed();
    assert!(
        (2 * delay..2 * delay + Duration::from_millis(300)).contains(&rtt),
        "{rtt:?}"
    );
    w.mark("loss 15% on c1 and c3");
    star.faults(&[(1, Fault::Loss(15)), (3, Fault::Loss(15))]);
    std::thread::sleep(Duration::from_secs(6));
    assert!(w.order().is_empty(), "{}", w.logs());
    for h in 0..4 {
        assert!(notified(w.md(h), "ONBATT").is_empty(), "{}", w.logs());
    }
    let lb = w.power("OB LB");
    let order = w.wait_order(4, Duration::from_secs(30));
    let mut names = World::names(&order, &[4]);
    names.sort();
    assert_eq!(names, ["c1", "c2", "c3", "primary"], "{}", w.logs());
    for (who, t) in &order {
        assert!(
            t - lb < 30.0,
            "{who} {:.3} s after OB LB:\n{}",
            t - lb,
            w.logs()
        );
    }
    w.finish();
}

/// Restarts in the middle of an outage (DEADTIME 10 here, longer than any restart): upsd,
/// then the driver, then the upsmon of the primary, client 1 (stock) and client 2 (ours).
/// Nobody shuts down while on battery without low battery; every host comes back each time;
/// then OB+LB brings the usual order.
fn restarts_mid_outage(star: &Star, stock: &StockNut) {
    let mut w = World::start(
        star,
        stock,
        [Mon::Ours, Mon::Stock, Mon::Ours, Mon::Stock],
        "DEADTIME 10\n",
        &[],
    );
    w.power("OB");
    w.wait_all(&[0, 1, 2, 3], "ONBATT", 1, Duration::from_secs(5));

    w.mark("upsd killed");
    let _ = w.rig.upsd.proc_.child.kill();
    let _ = w.rig.upsd.proc_.child.wait();
    w.wait_all(&[0, 1, 2, 3], "COMMBAD", 1, Duration::from_secs(5));
    w.rig.upsd = Upsd::start(&w.rig.dir, &Impl::Ours.binary(w.stock), Impl::Ours);
    w.mark("upsd started");
    w.wait_all(&[0, 1, 2, 3], "COMMOK", 1, Duration::from_secs(10));
    wait_logins(
        &w.rig,
        4,
        "logins after upsd",
        Duration::from_secs(5),
        || w.logs(),
    );

    // the restarted driver reads its data file: on battery there too
    let dev = w.rig.dir.conf().join("bk650m2-ch.dev");
    let data = std::fs::read_to_string(&dev)
        .unwrap()
        .replace("ups.status: OL DISCHRG", "ups.status: OB");
    std::fs::write(&dev, data).unwrap();
    w.mark("driver killed");
    w.rig.driver.signal(UPS, "KILL");
    w.rig.driver = Driver::start(w.stock, &w.rig.dir);
    w.mark("driver started");
    let mut c = w.rig.client();
    wait_until(
        "upsd to serve the new driver's OB",
        Duration::from_secs(10),
        || (c.request("GET VAR ups ups.status") == "VAR ups ups.status \"OB\"\n").then_some(()),
        || w.logs(),
    );

    // every host in touch again: a COMMBAD and a COMMOK for upsd, and again for the driver
    w.wait_all(&[0, 1, 2, 3], "COMMOK", 2, Duration::from_secs(10));

    w.kill_upsmon(0);
    w.start_upsmon(0);
    w.mark("primary upsmon started");
    for h in [1, 2] {
        w.kill_upsmon(h);
        w.start_upsmon(h);
        w.mark(&format!("c{h} upsmon started"));
    }
    wait_logins(
        &w.rig,
        4,
        "logins after the restarts",
        Duration::from_secs(10),
        || w.logs(),
    );
    // the new processes find the UPS on battery
    w.wait_all(&[0, 1, 2], "ONBATT", 2, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    assert!(w.order().is_empty(), "{}", w.logs());

    w.low_battery_shuts_all_down(10.0);
    // a pair for upsd, a pair for the driver, ONBATT again from the new processes; then the
    // notifications of one poll (or two)
    for h in 0..4 {
        let restarted = h <= 2;
        let mut want = vec!["ONBATT", "COMMBAD", "COMMOK", "COMMBAD", "COMMOK"];
        let mut groups = vec![1; want.len()];
        if restarted {
            want.push("ONBATT");
            groups.push(1);
        }
        want.extend(["FSD", "LOWBATT", "SHUTDOWN"]);
        groups.push(3);
        w.expect_types(h, &groups, &want);
    }
    w.finish();
}

type Scenario = fn(&Star, &StockNut);

const SCENARIOS: &[(&str, Scenario)] = &[
    ("power_failure", power_failure),
    ("partition_on_mains", partition_on_mains),
    ("partition_on_battery", partition_on_battery),
    ("partition_then_low_battery", partition_then_low_battery),
    ("upsd_dies_during_hostsync", upsd_dies_during_hostsync),
    (
        "upsd_dies_during_hostsync_stock_primary",
        upsd_dies_during_hostsync_stock_primary,
    ),
    ("loss_and_delay", loss_and_delay),
    ("restarts_mid_outage", restarts_mid_outage),
];

/// Every scenario at once, each in four namespaces of its own; failures are listed by name.
#[test]
fn faults_in_network_namespaces() {
    let Some(stock) = stock_nut() else { return };
    if !netns::available() {
        return;
    }
    let only = std::env::var("NUT_RS_NETNS").ok();
    let chosen: Vec<&(&str, Scenario)> = SCENARIOS
        .iter()
        .filter(|(n, _)| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == *n)))
        .collect();
    assert!(!chosen.is_empty(), "no scenario named in NUT_RS_NETNS");
    let results: Vec<(&str, Result<f64, String>)> = std::thread::scope(|s| {
        // every scenario starts before the first join: the collect is the point
        #[allow(clippy::needless_collect)]
        let handles: Vec<_> = chosen
            .iter()
            .map(|&&(name, f)| {
                let stock = &stock;
                let h = std::thread::Builder::new()
                    .name(format!("netns::{name}"))
                    .spawn_scoped(s, move || {
                        let t0 = Instant::now();
                        let star = Star::new(3);
                        netns::run_in(&star.server, || f(&star, stock));
                        t0.elapsed().as_secs_f64()
                    })
                    .unwrap();
                (name, h)
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                let r = h.join().map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                });
                (name, r)
            })
            .collect()
    });
    let mut failed = Vec::new();
    for (name, r) in &results {
        match r {
            Ok(secs) => eprintln!("netns {name}: ok in {secs:.1} s"),
            Err(_) => failed.push(*name),
        }
    }
    assert!(
        failed.is_empty(),
        "failed scenarios: {failed:?}\n{}",
        results
            .iter()
            .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("=== {n}: {e}\n")))
            .collect::<String>()
    );
}
