//! What the HTTP listener shows, decided with no I/O: a [`Snapshot`] copied out of the
//! server state under its lock, then rendered outside it as Prometheus text (`/metrics`) or
//! JSON (`/v1/ups`, and a UPS's history for the chart), and the routing of a request to one
//! of them or to the status page (`/`, `status.html`, served as is) ([`route`]).
//!
//! The metric names follow DRuggeri's nut_exporter (namespace `network_ups_tools`), so its
//! Grafana dashboard works unchanged; upsd's own metrics are under `nut_upsd_`.

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use serde_json::{json, Map, Value};

use crate::history::Sample;
use crate::state::{Secs, Server};

/// The status page: one file, its style and script inline, nothing fetched from elsewhere.
const PAGE: &str = include_str!("status.html");

/// nut_exporter's namespace (its `--metrics.namespace` default).
const NAMESPACE: &str = "network_ups_tools";

/// nut_exporter's `--nut.statuses` default: these flags are always shown, 0 when not set.
const USUAL_FLAGS: [&str; 15] = [
    "OL", "OB", "LB", "HB", "RB", "CHRG", "DISCHRG", "BYPASS", "CAL", "OFF", "OVER", "TRIM",
    "BOOST", "FSD", "SD",
];

/// nut_exporter's labels of `network_ups_tools_device_info`, each from `device.<label>`.
const DEVICE_LABELS: [&str; 9] = [
    "model",
    "mfr",
    "serial",
    "type",
    "description",
    "contact",
    "location",
    "part",
    "macaddr",
];

/// One variable as upsc shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VarView {
    pub(crate) name: String,
    /// The value as upsc prints it (`FSD ` in front of `ups.status` while the latch is set).
    pub(crate) value: String,
    /// The `cmdvartab` description, if any.
    pub(crate) desc: Option<String>,
}

/// One UPS as the HTTP listener shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UpsView {
    pub(crate) name: String,
    pub(crate) desc: Option<String>,
    /// In LIST VAR order (sorted by name).
    pub(crate) vars: Vec<VarView>,
    /// The driver's socket is connected.
    pub(crate) connected: bool,
    /// Not connected, or stale by stock's rule: GET VAR would answer an error.
    pub(crate) stale: bool,
    /// Seconds since upsd last heard from the driver (`None`: never).
    pub(crate) age: Option<Secs>,
    /// Addresses of the clients logged in to this UPS, as LIST CLIENT shows them.
    pub(crate) clients: Vec<String>,
    /// Its samples, oldest first: copied only for the UPS whose history was asked for.
    pub(crate) history: Vec<Sample>,
}

impl UpsView {
    /// The flags of `ups.status`, in order.
    pub(crate) fn flags(&self) -> Vec<&str> {
        self.var("ups.status")
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .map(|v| v.value.as_str())
    }
}

/// Everything a response needs, copied out of the server state.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Snapshot {
    /// In LIST UPS order.
    pub(crate) upses: Vec<UpsView>,
    /// NUT protocol connections open now.
    pub(crate) clients: usize,
    /// Requests answered since start, by command word (every command, 0 included).
    pub(crate) requests: Vec<(&'static str, u64)>,
    /// When it was taken ([`crate::clock::now`]).
    pub(crate) now: Secs,
}

impl Snapshot {
    /// Copy what the listener shows out of `server` at `now` (the caller holds the lock),
    /// with the history of the UPS named `history_of` (ignoring case).
    pub(crate) fn take(server: &Server, now: Secs, history_of: Option<&str>) -> Snapshot {
        let upses = server
            .upses
            .iter()
            .map(|u| {
                let fsd = u.fsd.is_set();
                let vars = u
                    .tree
                    .vars()
                    .map(|v| VarView {
                        name: v.name().to_string(),
                        value: if fsd && v.name().eq_ignore_ascii_case("ups.status") {
                            format!("FSD {}", v.raw())
                        } else {
                            v.raw().to_string()
                        },
                        desc: server.descriptions.var(v.name()).map(str::to_string),
                    })
                    .collect();
                let heard = u.link.is_some() || u.dumpdone;
                UpsView {
                    name: u.name.clone(),
                    desc: u.desc.clone(),
                    vars,
                    connected: u.link.is_some(),
                    stale: u.available(now, server.maxage).is_err(),
                    age: heard.then(|| now.saturating_sub(u.last_heard)),
                    clients: server
                        .clients
                        .iter()
                        .filter(|c| {
                            c.login_ups
                                .as_deref()
                                .is_some_and(|l| l.eq_ignore_ascii_case(&u.name))
                        })
                        .map(|c| c.addr.to_string())
                        .collect(),
                    history: if history_of.is_some_and(|h| h.eq_ignore_ascii_case(&u.name)) {
                        u.history.samples()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        Snapshot {
            upses,
            clients: server.clients.len(),
            requests: server.requests(),
            now,
        }
    }
}

/// `value` as a whole number, if it is one (written without a fraction: `230`, not `230.0`,
/// in `/metrics` and in the JSON of the history).
pub(crate) fn whole(value: f64) -> Option<i64> {
    (value.fract() == 0.0 && value.abs() < 9e15).then_some(value as i64)
}

/// A value Prometheus can take: a plain decimal number (`230`, `-5`, `13.60`). Words,
/// hexadecimal, `inf`/`nan` and exponents are left out, as text.
pub(crate) fn numeric(value: &str) -> Option<f64> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || digits.ends_with('.') {
        return None;
    }
    value.parse().ok()
}

/// nut_exporter's metric name for a variable: dots and dashes (and anything else a name
/// cannot hold) as underscores.
fn metric_name(var: &str) -> String {
    let mut name = format!("{NAMESPACE}_");
    name.extend(var.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    name
}

/// nut_exporter's help text: `<description> (<variable>)`.
fn help(var: &VarView) -> String {
    let desc = var.desc.as_deref().unwrap_or("Description unavailable");
    format!("{desc} ({})", var.name)
}

type Labels = Vec<(&'static str, String)>;

/// One metric family: name, help, type and its samples.
#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: MetricType,
    samples: Vec<(Labels, f64)>,
}

/// The metric families of a snapshot, in a stable order: per variable name in order of
/// first appearance (UPS by UPS), then the status flags, the device info and upsd's own.
fn families(s: &Snapshot) -> Vec<Family> {
    let mut vars: Vec<Family> = Vec::new();
    let mut status = Vec::new();
    let mut device = Vec::new();
    for u in s.upses.iter().filter(|u| !u.stale) {
        let ups = || vec![("ups", u.name.clone())];
        for v in &u.vars {
            if v.name.eq_ignore_ascii_case("ups.status") {
                continue;
            }
            let Some(value) = numeric(&v.value) else {
                continue;
            };
            let name = metric_name(&v.name);
            match vars.iter_mut().find(|f| f.name == name) {
                // Two UPSes with the variable: one family. One UPS with two variables that
                // come out as one name (`a.b`, `a-b`): the first only.
                Some(f) if f.samples.iter().any(|(l, _)| l == &ups()) => {}
                Some(f) => f.samples.push((ups(), value)),
                None => vars.push(Family {
                    name,
                    help: help(v),
                    kind: MetricType::Gauge,
                    samples: vec![(ups(), value)],
                }),
            }
        }
        let flags = u.flags();
        let extra = flags.iter().filter(|f| !USUAL_FLAGS.contains(f));
        for flag in USUAL_FLAGS.iter().chain(extra) {
            let set = if flags.contains(flag) { 1.0 } else { 0.0 };
            status.push((
                vec![("ups", u.name.clone()), ("flag", flag.to_string())],
                set,
            ));
        }
        let mut labels = ups();
        for label in DEVICE_LABELS {
            let value = u.var(&format!("device.{label}")).unwrap_or_default();
            labels.push((label, value.to_string()));
        }
        device.push((labels, 1.0));
    }
    let gauge = |name: &str, help: &str, samples| Family {
        name: name.to_string(),
        help: help.to_string(),
        kind: MetricType::Gauge,
        samples,
    };
    let per_ups = |f: &dyn Fn(&UpsView) -> Option<f64>| -> Vec<(Labels, f64)> {
        s.upses
            .iter()
            .filter_map(|u| Some((vec![("ups", u.name.clone())], f(u)?)))
            .collect()
    };
    let mut out = vars;
    if !status.is_empty() {
        out.push(gauge(
            &format!("{NAMESPACE}_ups_status"),
            "UPS status flags (ups.status), 1 if set",
            status,
        ));
    }
    if !device.is_empty() {
        out.push(gauge(
            &format!("{NAMESPACE}_device_info"),
            "UPS Device information",
            device,
        ));
    }
    out.push(gauge(
        "nut_upsd_clients_connected",
        "NUT protocol connections open",
        vec![(Vec::new(), s.clients as f64)],
    ));
    out.push(Family {
        name: "nut_upsd_requests".into(),
        help: "NUT protocol requests answered, by command".into(),
        kind: MetricType::Counter,
        samples: s
            .requests
            .iter()
            .map(|(c, n)| (vec![("command", c.to_string())], *n as f64))
            .collect(),
    });
    out.push(gauge(
        "nut_upsd_driver_connected",
        "1 if upsd is connected to the UPS's driver",
        per_ups(&|u| Some(if u.connected { 1.0 } else { 0.0 })),
    ));
    out.push(gauge(
        "nut_upsd_driver_stale",
        "1 if the UPS's data is stale or its driver is not connected (GET VAR answers an error)",
        per_ups(&|u| Some(if u.stale { 1.0 } else { 0.0 })),
    ));
    out.push(gauge(
        "nut_upsd_last_update_age_seconds",
        "Seconds since upsd last heard from the UPS's driver",
        per_ups(&|u| u.age.map(|a| a as f64)),
    ));
    out.push(gauge(
        "nut_upsd_ups_clients",
        "Clients logged in to the UPS (LOGIN)",
        per_ups(&|u| Some(u.clients.len() as f64)),
    ));
    out
}

/// The families as prometheus-client's collector, so its encoder writes the text.
#[derive(Debug)]
struct Collector(Vec<Family>);

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            if family.samples.is_empty() {
                continue;
            }
            let kind = family.kind;
            let mut metric = encoder.encode_descriptor(&family.name, &family.help, None, kind)?;
            for (labels, value) in &family.samples {
                let sample = metric.encode_family(labels)?;
                match (kind, whole(*value)) {
                    (MetricType::Counter, Some(n)) => {
                        ConstCounter::new(u64::try_from(n).unwrap_or(0)).encode(sample)?
                    }
                    (MetricType::Counter, None) => ConstCounter::new(*value).encode(sample)?,
                    (_, Some(n)) => ConstGauge::new(n).encode(sample)?,
                    (_, None) => ConstGauge::new(*value).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

/// `/metrics`: the snapshot in the Prometheus text format (0.0.4).
pub(crate) fn metrics(s: &Snapshot) -> String {
    let collector = Collector(families(s));
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(collector));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    text
}

/// One UPS as `/v1/ups/<name>` shows it.
pub(crate) fn ups_json(u: &UpsView) -> Value {
    let variables: Map<String, Value> = u
        .vars
        .iter()
        .map(|v| (v.name.clone(), Value::String(v.value.clone())))
        .collect();
    json!({
        "name": u.name,
        "description": u.desc,
        "driver_connected": u.connected,
        "stale": u.stale,
        "last_update_age_seconds": u.age,
        "status": u.flags(),
        "variables": variables,
        "clients": u.clients,
    })
}

/// A response decided from a request and a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

/// The content type of `/metrics`.
pub(crate) const METRICS_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
const JSON_TYPE: &str = "application/json";
const HTML_TYPE: &str = "text/html; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";

fn plain(status: u16, body: &str) -> Reply {
    Reply {
        status,
        content_type: TEXT_TYPE,
        body: format!("{body}\n"),
    }
}

fn json_reply(status: u16, value: &Value) -> Reply {
    Reply {
        status,
        content_type: JSON_TYPE,
        body: format!("{value:#}\n"),
    }
}

/// Answer a request: `method` and `path` as received, `has_body` whether it carries a body;
/// `snapshot` is taken only for a path that shows data, with the history of the UPS it names
/// for `/v1/ups/<name>/history`. Only GET and HEAD are served (405 otherwise), no request may
/// have a body (413), unknown paths are 404.
pub(crate) fn route(
    method: &str,
    path: &str,
    has_body: bool,
    snapshot: impl FnOnce(Option<&str>) -> Snapshot,
) -> Reply {
    if method != "GET" && method != "HEAD" {
        return plain(405, "405 Method Not Allowed: only GET and HEAD are served");
    }
    if has_body {
        return plain(413, "413 Content Too Large: requests carry no body here");
    }
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    match path {
        "/" => Reply {
            status: 200,
            content_type: HTML_TYPE,
            body: PAGE.to_string(),
        },
        "/metrics" => Reply {
            status: 200,
            content_type: METRICS_TYPE,
            body: metrics(&snapshot(None)),
        },
        "/v1/ups" | "/v1/ups/" => {
            let s = snapshot(None);
            json_reply(200, &Value::Array(s.upses.iter().map(ups_json).collect()))
        }
        _ => {
            let one = path
                .strip_prefix("/v1/ups/")
                .and_then(|rest| match rest.split_once('/') {
                    None => Some((rest, false)),
                    Some((name, "history")) => Some((name, true)),
                    Some(_) => None,
                });
            let Some((name, history)) = one.filter(|(name, _)| !name.is_empty()) else {
                return plain(
                    404,
                    "404 Not Found: try /, /metrics, /v1/ups, /v1/ups/<name> or /v1/ups/<name>/history",
                );
            };
            let s = snapshot(history.then_some(name));
            match s.upses.iter().find(|u| u.name.eq_ignore_ascii_case(name)) {
                Some(u) if history => {
                    json_reply(200, &crate::history::json(&u.name, &u.history, s.now))
                }
                Some(u) => json_reply(200, &ups_json(u)),
                None => json_reply(404, &json!({ "error": format!("unknown UPS {name:?}") })),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str, desc: Option<&str>) -> VarView {
        VarView {
            name: name.into(),
            value: value.into(),
            desc: desc.map(str::to_string),
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            upses: vec![
                UpsView {
                    name: "ups1".into(),
                    desc: Some("Rack \"A\"".into()),
                    vars: vec![
                        var("battery.charge", "100", Some("Battery charge (percent)")),
                        var("battery.voltage", "13.60", None),
                        var("device.mfr", "APC", None),
                        var("device.model", "Back-UPS\\ES", None),
                        var("input.transfer.high-x", "-5", None),
                        var("ups.firmware", "0x1f", None),
                        var("ups.status", "OL CHRG ALARM", Some("UPS status")),
                    ],
                    connected: true,
                    stale: false,
                    age: Some(2),
                    clients: vec!["127.0.0.1".into()],
                    history: Vec::new(),
                },
                UpsView {
                    name: "gone".into(),
                    desc: None,
                    vars: vec![var("battery.charge", "50", None)],
                    connected: false,
                    stale: true,
                    age: None,
                    clients: Vec::new(),
                    history: Vec::new(),
                },
            ],
            clients: 3,
            requests: vec![("GET", 7), ("LIST", 1)],
            now: 100,
        }
    }

    #[test]
    fn metrics_follow_nut_exporter_names_and_add_upsd_own() {
        let flags: String = USUAL_FLAGS
            .iter()
            .map(|f| {
                let set = u8::from(*f == "OL" || *f == "CHRG");
                format!("network_ups_tools_ups_status{{ups=\"ups1\",flag=\"{f}\"}} {set}\n")
            })
            .collect();
        let expected = format!(
            "# HELP network_ups_tools_battery_charge Battery charge (percent) (battery.charge)\n\
# TYPE network_ups_tools_battery_charge gauge\n\
network_ups_tools_battery_charge{{ups=\"ups1\"}} 100\n\
# HELP network_ups_tools_battery_voltage Description unavailable (battery.voltage)\n\
# TYPE network_ups_tools_battery_voltage gauge\n\
network_ups_tools_battery_voltage{{ups=\"ups1\"}} 13.6\n\
# HELP network_ups_tools_input_transfer_high_x Description unavailable (input.transfer.high-x)\n\
# TYPE network_ups_tools_input_transfer_high_x gauge\n\
network_ups_tools_input_transfer_high_x{{ups=\"ups1\"}} -5\n\
# HELP network_ups_tools_ups_status UPS status flags (ups.status), 1 if set\n\
# TYPE network_ups_tools_ups_status gauge\n\
{flags}network_ups_tools_ups_status{{ups=\"ups1\",flag=\"ALARM\"}} 1\n\
# HELP network_ups_tools_device_info UPS Device information\n\
# TYPE network_ups_tools_device_info gauge\n\
network_ups_tools_device_info{{ups=\"ups1\",model=\"Back-UPS\\\\ES\",mfr=\"APC\",serial=\"\",type=\"\",description=\"\",contact=\"\",location=\"\",part=\"\",macaddr=\"\"}} 1\n\
# HELP nut_upsd_clients_connected NUT protocol connections open\n\
# TYPE nut_upsd_clients_connected gauge\n\
nut_upsd_clients_connected 3\n\
# HELP nut_upsd_requests_total NUT protocol requests answered, by command\n\
# TYPE nut_upsd_requests_total counter\n\
nut_upsd_requests_total{{command=\"GET\"}} 7\n\
nut_upsd_requests_total{{command=\"LIST\"}} 1\n\
# HELP nut_upsd_driver_connected 1 if upsd is connected to the UPS's driver\n\
# TYPE nut_upsd_driver_connected gauge\n\
nut_upsd_driver_connected{{ups=\"ups1\"}} 1\n\
nut_upsd_driver_connected{{ups=\"gone\"}} 0\n\
# HELP nut_upsd_driver_stale 1 if the UPS's data is stale or its driver is not connected (GET VAR answers an error)\n\
# TYPE nut_upsd_driver_stale gauge\n\
nut_upsd_driver_stale{{ups=\"ups1\"}} 0\n\
nut_upsd_driver_stale{{ups=\"gone\"}} 1\n\
# HELP nut_upsd_last_update_age_seconds Seconds since upsd last heard from the UPS's driver\n\
# TYPE nut_upsd_last_update_age_seconds gauge\n\
nut_upsd_last_update_age_seconds{{ups=\"ups1\"}} 2\n\
# HELP nut_upsd_ups_clients Clients logged in to the UPS (LOGIN)\n\
# TYPE nut_upsd_ups_clients gauge\n\
nut_upsd_ups_clients{{ups=\"ups1\"}} 1\n\
nut_upsd_ups_clients{{ups=\"gone\"}} 0\n"
        );
        assert_eq!(metrics(&snapshot()), expected);
    }

    #[test]
    fn only_plain_decimals_are_numbers() {
        for (text, want) in [
            ("230", Some(230.0)),
            ("-5", Some(-5.0)),
            ("13.60", Some(13.6)),
            ("0x1f", None),
            ("1e3", None),
            ("inf", None),
            ("NaN", None),
            ("", None),
            ("-", None),
            ("5.", None),
            (".5", None),
            ("+5", None),
            ("1.2.3", None),
            ("OL", None),
        ] {
            assert_eq!(numeric(text), want, "{text:?}");
        }
    }

    #[test]
    fn json_shows_variables_as_upsc_and_parsed_flags() {
        let s = snapshot();
        let r = route("GET", "/v1/ups/UPS1", false, |_| s.clone());
        assert_eq!((r.status, r.content_type), (200, "application/json"));
        assert_eq!(
            r.body,
            r#"{
  "clients": [
    "127.0.0.1"
  ],
  "description": "Rack \"A\"",
  "driver_connected": true,
  "last_update_age_seconds": 2,
  "name": "ups1",
  "stale": false,
  "status": [
    "OL",
    "CHRG",
    "ALARM"
  ],
  "variables": {
    "battery.charge": "100",
    "battery.voltage": "13.60",
    "device.mfr": "APC",
    "device.model": "Back-UPS\\ES",
    "input.transfer.high-x": "-5",
    "ups.firmware": "0x1f",
    "ups.status": "OL CHRG ALARM"
  }
}
"#
        );
        let list = route("GET", "/v1/ups", false, |_| s.clone());
        let value: Value = serde_json::from_str(&list.body).unwrap_or_default();
        assert_eq!(
            value,
            json!([ups_json(&s.upses[0]), {
                "clients": [], "description": null, "driver_connected": false,
                "last_update_age_seconds": null, "name": "gone", "stale": true, "status": [],
                "variables": {"battery.charge": "50"},
            }])
        );
    }

    #[test]
    fn the_page_is_served_as_is_and_the_history_of_the_ups_named() {
        let r = route("GET", "/", false, |_| panic!("the page needs no snapshot"));
        assert_eq!(
            (r.status, r.content_type),
            (200, "text/html; charset=utf-8")
        );
        assert_eq!(r.body, PAGE);
        let r = route("GET", "/v1/ups/UPS1/history?x", false, |named| {
            assert_eq!(named, Some("UPS1"));
            let mut s = snapshot();
            s.upses[0].history = snapshot_history();
            s
        });
        assert_eq!((r.status, r.content_type), (200, "application/json"));
        let value: Value = serde_json::from_str(&r.body).unwrap_or_default();
        assert_eq!(
            value,
            crate::history::json("ups1", &snapshot_history(), 100),
            "{}",
            r.body
        );
        assert_eq!(value["samples"][0]["age_seconds"], 10);
        let r = route("GET", "/v1/ups/nope/history", false, |_| snapshot());
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "{\n  \"error\": \"unknown UPS \\\"nope\\\"\"\n}\n")
        );
    }

    /// One sample, 10 s before [`snapshot`]'s `now`.
    fn snapshot_history() -> Vec<Sample> {
        vec![crate::history::sample(|_| Some("5"), true, 90, 1_000)]
    }

    #[test]
    fn bad_requests_get_their_status_without_a_snapshot() {
        let never = |_: Option<&str>| -> Snapshot { panic!("no snapshot for a refused request") };
        let cases = [
            ("POST", "/metrics", false, 405),
            ("DELETE", "/v1/ups", false, 405),
            ("GET", "/metrics", true, 413),
            ("GET", "/index.html", false, 404),
            ("GET", "/v1/ups/a/b", false, 404),
            ("GET", "/v1/ups/a/history/x", false, 404),
            ("GET", "/v1/ups//history", false, 404),
            ("GET", "/metricsx", false, 404),
        ];
        for (method, path, body, status) in cases {
            assert_eq!(
                route(method, path, body, never).status,
                status,
                "{method} {path}"
            );
        }
        let r = route("GET", "/v1/ups/nope", false, |_| Snapshot::default());
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "{\n  \"error\": \"unknown UPS \\\"nope\\\"\"\n}\n")
        );
        let r = route("HEAD", "/metrics?x=1", false, |_| Snapshot::default());
        assert_eq!((r.status, r.content_type), (200, METRICS_TYPE));
    }
}
