//! The whole power failure, from mains lost to the load powered again, on one machine: our
//! usbhid-ups on the simulated APC Back-UPS BK650M2-CH (a scripted scenario: mains lost, low
//! battery, mains back), our upsd, our upsmon primary, a stock upsmon 2.8.0 secondary and our
//! upsmon secondary with `ONBATT_SHUTDOWN_AFTER`, WeChat
//! Work webhooks to a loopback endpoint. The timed secondary leaves first, low battery brings
//! FSD, the stock secondary and then the primary leave, the late shutdown hook kills the power
//! (`upsmon -K`, `upsdrvctl shutdown`), the unit cuts the load and powers itself off, and mains
//! back powers the load again. The measured timeline is printed (`--nocapture`) and kept in
//! docs/upsmon.md.

use nut_test_support::upsmon::*;
use nut_test_support::usbhid::{cut_and_return_lines, epoch_now, simlog, simulated_rig};
use nut_test_support::{our_bin, stock_nut};
use std::time::Duration;

/// Mains lost (s after the driver opened the unit).
const MAINS_LOST: f64 = 4.0;
/// Low battery.
const LOW_BATTERY: f64 = 11.0;
/// Mains back: well after the cut (killpower comes at about 15 s, the cut 10 s later).
const MAINS_BACK: f64 = 35.0;
/// The timed secondary's `ONBATT_SHUTDOWN_AFTER`.
const AFTER: f64 = 3.0;

fn scenario() -> String {
    format!(
        r#"
[[event]]
at_s = {MAINS_LOST:.1}
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.ACPresent" = 0 }}
interrupt = true

[[event]]
at_s = {LOW_BATTERY:.1}
set = {{ "UPS.PowerSummary.RemainingCapacity" = 9, "UPS.PowerSummary.BelowRemainingCapacityLimit" = 1 }}
interrupt = true

[[event]]
at_s = {MAINS_BACK:.1}
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 1, "UPS.PowerSummary.ACPresent" = 1, "UPS.PowerSummary.BelowRemainingCapacityLimit" = 0 }}
interrupt = true
"#
    )
}

/// The WeChat Work robot URL of host `key` on the loopback server.
fn robot(port: u16, key: &str) -> String {
    format!("NOTIFYURL robot wechat \"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={key}\"\n")
}

#[test]
fn mains_lost_to_load_restored_with_three_hosts_and_a_webhook() {
    let Some(stock) = stock_nut() else { return };
    // t = 0: the driver opens the simulated unit (its scenario clock starts) just before its
    // socket appears.
    let (rig, _driver, t0) = simulated_rig(stock, &scenario(), 1);
    let simlog = simlog(&rig.dir);
    let (port, posts, arrivals) = http_server_timed("{\"errcode\":0,\"errmsg\":\"ok\"}");

    let p = role_conf(&rig, Mon::Ours, "primary", &robot(port, "PRIMARY"));
    let s = upsmon_conf_named(
        &rig,
        Mon::Stock,
        "stock",
        "secondary",
        "monuser",
        "secret",
        "",
    );
    let timed = upsmon_conf_named(
        &rig,
        Mon::Ours,
        "timed",
        "secondary",
        "monuser",
        "secret",
        &format!("ONBATT_SHUTDOWN_AFTER {AFTER}\n{}", robot(port, "TIMED")),
    );
    let mut procs = [
        start_upsmon(&rig, &p),
        start_upsmon(&rig, &s),
        start_upsmon(&rig, &timed),
    ];
    let logs = || {
        format!(
            "{}{}{}{}\nposts: {:?}",
            p.logs(),
            s.logs(),
            timed.logs(),
            rig.dir.logs(),
            posts.lock().unwrap()
        )
    };
    wait_logins(
        &rig,
        3,
        "every upsmon to log in",
        Duration::from_secs(5),
        logs,
    );
    assert!(
        epoch_now() - t0 < MAINS_LOST,
        "logged in after mains was lost: {}",
        logs()
    );

    // SHUTDOWNCMDs: `<host> <time>` lines, in the order they ran.
    let text = wait_shutdowns(&rig, 3, "every SHUTDOWNCMD", Duration::from_secs(30), logs);
    let order: Vec<(String, f64)> = text
        .lines()
        .map(|l| {
            let (who, at) = l.split_once(' ').unwrap();
            (who.to_string(), at.parse::<f64>().unwrap() - t0)
        })
        .collect();
    let who: Vec<&str> = order.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(who, ["timed", "stock", "primary"], "{}", logs());
    let at = |host: &str| order.iter().find(|(w, _)| w == host).unwrap().1;
    // on battery for AFTER seconds (+ a poll, + FINALDELAY), before low battery
    let left = at("timed");
    assert!(
        (MAINS_LOST + AFTER..MAINS_LOST + AFTER + 3.5).contains(&left),
        "timed secondary at {left:.3} s: {}",
        logs()
    );
    assert!(left < LOW_BATTERY, "{}", logs());
    // low battery → FSD → the stock secondary (FINALDELAY 1), then the primary
    assert!(
        (LOW_BATTERY..LOW_BATTERY + 4.0).contains(&at("stock")),
        "{order:?}\n{}",
        logs()
    );
    assert!(at("primary") - at("stock") < 3.0, "{order:?}\n{}", logs());

    let rel = |md: &MonDir, event: &str| -> f64 {
        notified_at(md, event)
            .first()
            .map(|t| t - t0)
            .unwrap_or_else(|| panic!("no {event} from {}: {}", md.role, logs()))
    };
    let onbatt = rel(&p, "ONBATT");
    let lowbatt = rel(&p, "LOWBATT");
    let fsd = rel(&p, "FSD");
    let stock_fsd = rel(&s, "FSD");
    assert!((MAINS_LOST..MAINS_LOST + 2.0).contains(&onbatt), "{onbatt}");
    assert!(
        (LOW_BATTERY..LOW_BATTERY + 2.0).contains(&lowbatt),
        "{lowbatt}"
    );
    // LOWBATT and FSD come from the same poll (their NOTIFYCMDs run side by side); the stock
    // secondary sees FSD at its next poll (NOTIFYCMD times: a few ms of slack)
    assert!(
        (fsd - lowbatt).abs() < 0.5
            && fsd.min(lowbatt) <= stock_fsd + 0.2
            && stock_fsd < at("stock"),
        "LOWBATT {lowbatt}, FSD {fsd}, stock FSD {stock_fsd}, {order:?}\n{}",
        logs()
    );

    wait_until(
        "every upsmon to exit",
        Duration::from_secs(10),
        || {
            procs
                .iter_mut()
                .all(|pr| pr.exited().is_some())
                .then_some(())
        },
        logs,
    );
    // The primary's POWERDOWNFLAG, then the late hook: `upsmon -K` says kill the power, and
    // `upsdrvctl shutdown` reaches the running driver (its socket).
    assert_eq!(killpower_check(&p), Some(0), "{}", logs());
    assert_eq!(std::fs::read_to_string(&simlog).unwrap_or_default(), "");
    let (code, out, err) = rig.dir.run(
        &our_bin("upsdrvctl"),
        &["shutdown"],
        Duration::from_secs(40),
    );
    let killpower = epoch_now() - t0;
    assert_eq!(code, Some(0), "upsdrvctl shutdown: {out}{err}");
    let mut unit: Vec<(String, f64)> = Vec::new();
    wait_until(
        "the unit to cut the load and restore it",
        Duration::from_secs(40),
        || {
            let t = std::fs::read_to_string(&simlog).unwrap_or_default();
            for l in t.lines().skip(unit.len()) {
                unit.push((l.to_string(), epoch_now() - t0));
            }
            (unit.len() >= 5).then_some(())
        },
        logs,
    );
    let lines: Vec<String> = unit.iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(lines, cut_and_return_lines());
    // shutdown.reboot: 10 s after killpower, still on battery; the load back with mains
    let off = unit[1].1;
    let on = unit[4].1;
    assert!(
        (killpower + 9.0..killpower + 12.0).contains(&off),
        "{unit:?}"
    );
    assert!(
        off < MAINS_BACK,
        "the cut came after mains was back: {unit:?}"
    );
    // (logged when the driver's next reopen attempt touches the unit: attempts 1, 2, 4, 8 and
    // 16 s apart after the unplug)
    assert!((MAINS_BACK..MAINS_BACK + 16.0).contains(&on), "{unit:?}");

    // The webhook posts: each host's ONBATT; the primary's LOWBATT, FSD and SHUTDOWN, the
    // last before its SHUTDOWNCMD ran (FINALDELAY gives it the time).
    let sys = rig.target("ups");
    let got: Vec<(String, String, f64)> = {
        let g = posts.lock().unwrap();
        let a = arrivals.lock().unwrap();
        g.iter()
            .zip(a.iter())
            .map(|(r, t)| {
                let key = r.0.split("key=").nth(1).unwrap_or("").split(' ').next();
                (key.unwrap_or("").to_string(), r.2.clone(), t - t0)
            })
            .collect()
    };
    let post = |key: &str, message: &str| -> f64 {
        let body = "{\"msgtype\":\"text\",\"text\":{\"content\":\"[";
        got.iter()
            .find(|(k, b, _)| k == key && b.starts_with(body) && b.contains(message))
            .unwrap_or_else(|| panic!("no {key} post of {message:?}: {got:?}"))
            .2
    };
    let p_onbatt = post("PRIMARY", &format!("] UPS {sys} on battery\"}}}}"));
    let p_low = post("PRIMARY", &format!("] UPS {sys} battery is low\"}}}}"));
    let p_fsd = post(
        "PRIMARY",
        &format!("] UPS {sys}: forced shutdown in progress\"}}}}"),
    );
    let p_shutdown = post("PRIMARY", "] Auto logout and shutdown proceeding\"}}");
    assert!(p_onbatt < p_low && p_low.max(p_fsd) < p_shutdown, "{got:?}");
    assert!(p_shutdown < at("primary"), "{got:?}");
    let t_onbatt = post("TIMED", &format!("] UPS {sys} on battery\"}}}}"));
    let reached = post("TIMED", &format!("] UPS {sys}: shutdown policy reached ("));
    assert!(t_onbatt < reached && reached < at("timed"), "{got:?}");

    let mut rows: Vec<(f64, String, &str)> = vec![
        (MAINS_LOST, "mains lost (scenario)".into(), "unit"),
        (onbatt, "ONBATT (NOTIFYCMD)".into(), "primary"),
        (p_onbatt, "ONBATT WeChat post".into(), "primary"),
        (LOW_BATTERY, "battery low (scenario)".into(), "unit"),
        (lowbatt, "LOWBATT (NOTIFYCMD)".into(), "primary"),
        (fsd, "FSD (NOTIFYCMD), FSD set on upsd".into(), "primary"),
        (stock_fsd, "FSD seen".into(), "stock secondary"),
        (at("stock"), "SHUTDOWNCMD".into(), "stock secondary"),
        (p_shutdown, "SHUTDOWN WeChat post".into(), "primary"),
        (
            at("primary"),
            "SHUTDOWNCMD (POWERDOWNFLAG written)".into(),
            "primary",
        ),
        (
            killpower,
            "`upsmon -K` 0, `upsdrvctl shutdown` done: APCDelayBeforeReboot = 10".into(),
            "late hook",
        ),
        (off, "OUTPUT OFF, UNPLUG (no mains: the unit is off)".into(), "unit"),
        (
            MAINS_BACK,
            "mains back (scenario): the unit rejoins the bus, the load is powered at once (no DelayBeforeStartup)".into(),
            "unit",
        ),
        (
            on,
            "REPLUG, OUTPUT ON in the simlog (the driver's reopen attempt)".into(),
            "driver",
        ),
    ];
    rows.extend([
        (t_onbatt, "ONBATT WeChat post".into(), "timed secondary"),
        (
            reached,
            "ONBATT_SHUTDOWN WeChat post (shutdown policy reached)".into(),
            "timed secondary",
        ),
        (
            at("timed"),
            format!("SHUTDOWNCMD (ONBATT_SHUTDOWN_AFTER {AFTER})"),
            "timed secondary",
        ),
    ]);
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    eprintln!("| t (s) | event | who |\n|---|---|---|");
    for (t, what, who) in rows {
        eprintln!("| {t:.2} | {what} | {who} |");
    }
}
