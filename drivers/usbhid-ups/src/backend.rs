//! The USB HID Power Device backend: NUT's `usbhid-ups` main logic over any [`Device`]
//! (hidraw, a replayed recording, a simulated unit) and any `Subdriver` table.
//!
//! * `init`: open the device through the factory, parse its report descriptor, pick the
//!   subdriver (APC for VID 051d), apply its descriptor fix, publish the identity strings,
//!   then the init walk: for each variable the first row (table order) whose path resolves
//!   and reads wins; ABSENT rows publish their default; command rows register commands.
//! * `update`: a quick walk (QUICK_POLL rows) each poll, a full walk every `pollfreq` seconds
//!   or after a command/write; reports younger than the poll interval are not asked again.
//! * `wait_event`: interrupt reports are filed into the buffers, their Input objects mapped to
//!   the Feature object with the same path and applied, and the status rebuilt at once.
//! * `instcmd` / `setvar` / `shutdown`: NUT 2.8.0's `instcmd`, `setvar`, `upsdrv_shutdown`.

use std::time::{Duration, Instant};

use nut_hid::{Descriptor, ReportKind};
use nut_hid_recording::hex_string;
use nut_state::Tree;

use crate::convert::{self, Conversion};
use crate::device::{Device, DeviceError, Identity};
use crate::report::{ReportError, Reports};
use crate::status::{self, LogThrottle, Readings, StatusBits, StatusOptions, StatusTracker};
use crate::subdriver::{self, Claim, Effect, Row, Subdriver, Target, ABSENT, CMD, QUICK_POLL};
use nut_driver::DriverConfig;
use nut_driver::{Backend, BackendError, CmdResult};

/// Opens (or re-opens) the device: the transport and the ups.conf matching live behind it.
pub type DeviceFactory = Box<dyn FnMut() -> Result<Box<dyn Device>, DeviceError>>;

/// The subdrivers tried in order.
pub(crate) static SUBDRIVERS: &[&Subdriver] = &[&crate::apc::SUBDRIVER];

/// Default `pollfreq` (seconds between full walks).
pub(crate) const DEFAULT_POLLFREQ: i64 = 30;

/// Most Input objects one interrupt report may update (NUT's `MAX_EVENT_NUM`).
const MAX_EVENTS: usize = 32;

/// The pause between the two writes of the `shutdown.return` / `shutdown.stayoff` fallbacks.
pub(crate) const COMPOSITE_PAUSE: Duration = Duration::from_millis(125);

/// The driver options this backend reads (config-files.md §2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Age under which a buffered report is reused (`pollinterval`).
    pub(crate) poll_interval: Duration,
    /// `pollfreq` as NUT reads it (`atoi`).
    pub(crate) pollfreq: i64,
    pub(crate) status: StatusOptions,
    pub(crate) lowbatt: Option<String>,
    pub(crate) ondelay: Option<String>,
    pub(crate) offdelay: Option<String>,
    pub(crate) pollonly: bool,
    pub(crate) interruptonly: bool,
    pub(crate) maxreport: bool,
    pub(crate) disable_fix_report_desc: bool,
    pub(crate) productid_given: bool,
    /// `subdriver`: a case-insensitive part of the subdriver name to use.
    pub(crate) subdriver: Option<String>,
    /// `lbrb_log_delay_sec` as the user set it; the delay in force is decided once the unit
    /// is known ([`status::lbrb_log_delay`]).
    pub(crate) lbrb_log_delay_sec: Option<u64>,
}

impl Options {
    /// Reads the options of a driver configuration.
    pub(crate) fn from_config(cfg: &DriverConfig) -> Options {
        let variant = status::Variant::V2_8_0;
        let lbrb_log_delay_sec = cfg.get("lbrb_log_delay_sec").map(|v| {
            status::parse_lbrb_log_delay(v).unwrap_or_else(|| {
                tracing::warn!(
                    "Warning: invalid value for lbrb_log_delay_sec: {v}, defaulting to {}",
                    status::LBRB_MODEL_DELAY
                );
                status::LBRB_MODEL_DELAY
            })
        });
        // The newer throttle only when asked for: by default the warning is logged once each
        // time the state starts.
        let throttle_keys = [
            "onlinedischarge_log_throttle_sec",
            "onlinedischarge_log_throttle_hovercharge",
        ];
        let onlinedischarge_log_throttle = (variant == status::Variant::Newer
            || throttle_keys.iter().any(|k| cfg.has(k)))
        .then(|| {
            let mut t = LogThrottle::default();
            if let Some(v) = cfg.get("onlinedischarge_log_throttle_sec") {
                t.repeat = status::parse_log_throttle_sec(v).unwrap_or_else(|| {
                    tracing::warn!(
                        "Warning: invalid value for onlinedischarge_log_throttle_sec: {v}, \
                         defaulting to 30"
                    );
                    status::Repeat::Every(30)
                });
            }
            if let Some(v) = cfg.get("onlinedischarge_log_throttle_hovercharge") {
                t.hovercharge = status::parse_hovercharge(v).unwrap_or_else(|| {
                    tracing::warn!(
                        "Warning: invalid value for onlinedischarge_log_throttle_hovercharge: \
                         {v}, defaulting to 100"
                    );
                    100
                });
            }
            t
        });
        Options {
            poll_interval: Duration::from_secs(cfg.poll_interval),
            pollfreq: cfg
                .get("pollfreq")
                .map_or(DEFAULT_POLLFREQ, |v| i64::from(nut_state::atoi(v))),
            status: StatusOptions {
                variant,
                onlinedischarge_onbattery: cfg.has("onlinedischarge")
                    || cfg.has("onlinedischarge_onbattery")
                    || cfg.has("onlinedischarge_battery"),
                onlinedischarge_calibration: cfg.has("onlinedischarge_calibration"),
                ignorelb: cfg.has("ignorelb"),
                // Set from `lbrb_log_delay_sec` and the unit in `init`.
                lbrb_log_delay_sec: 0,
                lbrb_log_delay_without_calibrating: cfg.has("lbrb_log_delay_without_calibrating"),
                onlinedischarge_log_throttle,
            },
            lowbatt: cfg.get("lowbatt").map(String::from),
            ondelay: cfg.get("ondelay").map(String::from),
            offdelay: cfg.get("offdelay").map(String::from),
            pollonly: cfg.has("pollonly"),
            interruptonly: cfg.has("interruptonly"),
            maxreport: cfg.has("maxreport"),
            disable_fix_report_desc: cfg.has("disable_fix_report_desc"),
            productid_given: cfg.get("productid").is_some(),
            subdriver: cfg.get("subdriver").map(String::from),
            lbrb_log_delay_sec,
        }
    }

    /// Puts the `lbrb_log_delay_sec` in force for the unit `id` into the status options.
    /// nut-rs applies NUT's model default (3 s for some APC units, spec apc-hid.md §7.5) only
    /// when the user set `lbrb_log_delay_without_calibrating` or chose the newer status
    /// variant: NUT 2.8.0, whose `ups.status` we reproduce by default, has no such delay.
    fn settle_lbrb_delay(&mut self, id: &Identity) {
        let model_default = self.status.variant == status::Variant::Newer
            || self.status.lbrb_log_delay_without_calibrating;
        let (vendor, product) = (id.manufacturer.as_deref(), id.product.as_deref());
        let delay = status::lbrb_log_delay(self.lbrb_log_delay_sec, model_default, vendor, product);
        if self.lbrb_log_delay_sec.is_none() && delay > 0 {
            tracing::info!(
                "Defaulting lbrb_log_delay_sec={delay} for {} model {}",
                vendor.unwrap_or_default(),
                product.unwrap_or_default()
            );
        }
        self.status.lbrb_log_delay_sec = delay;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Init,
    Quick,
    Full,
}

/// The device as opened: descriptor, buffers, quirks.
struct Attached {
    dev: Box<dyn Device>,
    desc: Descriptor,
    reports: Reports,
}

/// The HID backend; see the module documentation.
pub struct HidBackend {
    open: DeviceFactory,
    att: Option<Attached>,
    identity: Option<Identity>,
    sub: &'static Subdriver,
    /// Per table row: index of the HID object it reads (`None`: absent or disabled).
    rows: Vec<Option<usize>>,
    opts: Options,
    claim: Claim,
    bits: StatusBits,
    alarms: Vec<&'static str>,
    alarm_active: bool,
    lastpoll: Option<Instant>,
    data_changed: bool,
    tracker: StatusTracker,
    /// The last open found the unit there but unusable ([`DeviceError::Unavailable`]).
    unavailable: bool,
    /// `init` found the unit unusable: the rest of it runs at the first good reconnect.
    pending: bool,
}

impl HidBackend {
    /// A backend that opens its device with `open`.
    pub fn new(open: DeviceFactory) -> HidBackend {
        let sub = SUBDRIVERS[0];
        HidBackend {
            open,
            att: None,
            identity: None,
            sub,
            rows: Vec::new(),
            opts: Options::default(),
            claim: Claim::default(),
            bits: StatusBits::default(),
            alarms: Vec::new(),
            alarm_active: false,
            lastpoll: None,
            data_changed: false,
            tracker: StatusTracker::default(),
            unavailable: false,
            pending: false,
        }
    }

    fn use_interrupt(&self) -> bool {
        !self.opts.pollonly && !self.claim.no_interrupt
    }

    fn lookup_kind(&self) -> ReportKind {
        if self.opts.interruptonly {
            ReportKind::Input
        } else {
            ReportKind::Feature
        }
    }

    /// Opens the device, parses its descriptor and picks the subdriver.
    fn attach(&mut self, tree: &mut Tree) -> Result<(), BackendError> {
        let opened = (self.open)();
        self.unavailable = matches!(opened, Err(DeviceError::Unavailable(_)));
        let mut dev = opened.map_err(dev_err)?;
        let id = dev.identity().clone();
        if let Some(first) = &self.identity {
            let same = first.vendor_id == id.vendor_id
                && first.product_id == id.product_id
                && first.serial == id.serial
                && first.manufacturer == id.manufacturer
                && first.product == id.product;
            if !same {
                return Err(BackendError::Disconnected(format!(
                    "found {:04x}:{:04x} serial {:?}, not the unit we had",
                    id.vendor_id, id.product_id, id.serial
                )));
            }
        }
        let raw = dev.report_descriptor().map_err(dev_err)?;
        let mut desc = nut_hid::parse(&raw)
            .map_err(|e| BackendError::Fatal(format!("Failed to parse report descriptor: {e}")))?;
        let mut chosen = None;
        for sub in SUBDRIVERS {
            if let Some(want) = &self.opts.subdriver {
                if !sub
                    .name
                    .to_ascii_lowercase()
                    .contains(&want.to_ascii_lowercase())
                {
                    continue;
                }
            }
            let c = (sub.claim)(&id, self.opts.productid_given);
            if c.claimed {
                chosen = Some((*sub, c));
                break;
            }
        }
        let Some((sub, claim)) = chosen else {
            return Err(BackendError::Fatal(format!(
                "No matching HID UPS found (no subdriver for {:04x}:{:04x})",
                id.vendor_id, id.product_id
            )));
        };
        tracing::info!("Using subdriver: {}", sub.name);
        if !self.opts.disable_fix_report_desc && (sub.fix_report_desc)(&id, &mut desc) {
            tracing::debug!("Report Descriptor Fixed");
        }
        let mut reports = Reports::new(&desc);
        reports.max_report = claim.max_report || self.opts.maxreport;
        reports.interrupt_only = self.opts.interruptonly;
        let strings = (sub.format)(&id);
        for (name, v) in [
            ("ups.mfr", &strings.mfr),
            ("ups.model", &strings.model),
            ("ups.serial", &strings.serial),
        ] {
            match v {
                Some(v) => tree.set_info(name, v),
                None => tree.del_info(name),
            };
        }
        if let Some(f) = &strings.firmware {
            tree.set_info("ups.firmware", f);
        }
        if let Some(f) = &strings.firmware_aux {
            tree.set_info("ups.firmware.aux", f);
        }
        tree.set_info("ups.vendorid", &format!("{:04x}", id.vendor_id));
        tree.set_info("ups.productid", &format!("{:04x}", id.product_id));
        // Same unit, same descriptor: keep the row resolution (NUT keeps its pointers).
        let same_layout = self.att.as_ref().is_some_and(|a| a.desc == desc);
        if !same_layout || !std::ptr::eq(self.sub, sub) {
            self.rows = vec![None; sub.table.len()];
        }
        self.sub = sub;
        self.claim = claim;
        self.identity = Some(id);
        let _ = &mut dev;
        self.att = Some(Attached { dev, desc, reports });
        Ok(())
    }

    /// Resolves a row's path to an object index.
    fn resolve(&self, i: usize) -> Option<usize> {
        let att = self.att.as_ref()?;
        att.desc.position(self.sub.path(i)?, self.lookup_kind())
    }

    /// NUT's `hid_ups_walk`.
    fn walk(&mut self, tree: &mut Tree, mode: Walk, now: Instant) -> Result<(), BackendError> {
        let table = self.sub.table;
        let (mut polled, mut failed) = (0usize, 0usize);
        for (i, row) in table.iter().enumerate() {
            match mode {
                Walk::Init => {
                    if self.rows[i].is_none() {
                        let Some(pos) = self.resolve(i) else {
                            continue;
                        };
                        self.rows[i] = Some(pos);
                        if row.has(ABSENT) {
                            if let Target::Var(name) = row.target {
                                if tree.get(name).is_none() {
                                    tree.set_info(name, row.dfl);
                                    publish_flags(tree, row, name);
                                }
                            }
                            continue;
                        }
                        if let Target::Var(name) = row.target {
                            if tree.get(name).is_some() {
                                self.rows[i] = None;
                                continue;
                            }
                        }
                    } else if row.has(ABSENT) {
                        continue;
                    }
                }
                Walk::Quick => {
                    if !row.has(QUICK_POLL) {
                        continue;
                    }
                }
                Walk::Full => {
                    if row.has(ABSENT | CMD | subdriver::STATIC) {
                        continue;
                    }
                    if row.has(subdriver::SEMI_STATIC) && !self.data_changed {
                        continue;
                    }
                }
            }
            let Some(pos) = self.rows[i] else {
                continue;
            };
            polled += 1;
            let Some(att) = self.att.as_mut() else {
                return Err(BackendError::Disconnected("device not open".into()));
            };
            let Some(field) = att.desc.fields().get(pos) else {
                continue;
            };
            let value =
                match att
                    .reports
                    .value(att.dev.as_mut(), field, self.opts.poll_interval, now)
                {
                    Ok(v) => v,
                    Err(ReportError::Device(e)) if e.is_gone() => {
                        self.att = None;
                        return Err(BackendError::Disconnected(e.detail()));
                    }
                    Err(e) => {
                        tracing::debug!("{}: {e}", row.path);
                        failed += 1;
                        continue;
                    }
                };
            if let Target::Cmd(name) = row.target {
                tree.add_cmd(name);
                continue;
            }
            let published = self.apply(tree, row, value)?;
            if mode == Walk::Init && published {
                if let Target::Var(name) = row.target {
                    publish_flags(tree, row, name);
                }
            }
        }
        if mode != Walk::Init && polled > 0 && failed == polled {
            self.att = None;
            return Err(BackendError::Disconnected(format!(
                "all {polled} reads failed"
            )));
        }
        Ok(())
    }

    /// Applies one value to a row; returns whether a variable was set.
    fn apply(&mut self, tree: &mut Tree, row: &Row, value: f64) -> Result<bool, BackendError> {
        match subdriver::interpret(row, value) {
            Effect::Set(name, text) => {
                tree.set_info(name, &text);
                Ok(true)
            }
            Effect::SetString(name, index) => {
                let text = match self.att.as_mut().map(|a| a.dev.string(index)) {
                    Some(Ok(Some(s))) => convert::trim_string(&s),
                    Some(Err(e)) if e.is_gone() => {
                        self.att = None;
                        return Err(BackendError::Disconnected(e.detail()));
                    }
                    _ => String::new(),
                };
                tree.set_info(name, &text);
                Ok(true)
            }
            Effect::Status(token) => {
                self.bits.apply(token);
                Ok(false)
            }
            Effect::Alarm(text) => {
                self.alarms.push(text);
                Ok(false)
            }
            Effect::None => Ok(false),
        }
    }

    /// Rebuilds `ups.status` (and `input.transfer.reason`) from the bits at time `now`.
    fn commit_status(&mut self, tree: &mut Tree, now: Instant) {
        let get = |n: &str| tree.get(n).map(|v| v.raw().to_string());
        let readings = Readings {
            battery_charge: get("battery.charge"),
            battery_charge_low: get("battery.charge.low"),
            battery_runtime: get("battery.runtime"),
            battery_runtime_low: get("battery.runtime.low"),
            alarm_active: self.alarm_active,
        };
        let s = self
            .tracker
            .build(self.bits, &self.opts.status, &readings, now);
        if let Some(msg) = &s.online_discharge_log {
            tracing::warn!("{msg}");
        }
        match s.transfer_reason {
            Some(r) => tree.set_info("input.transfer.reason", r),
            None => tree.del_info("input.transfer.reason"),
        };
        tree.set_info("ups.status", &s.status);
    }

    /// Files an interrupt report and applies its Input objects (NUT's event loop).
    pub fn apply_interrupt(
        &mut self,
        tree: &mut Tree,
        data: &[u8],
        now: Instant,
    ) -> Result<(), BackendError> {
        let kind = self.lookup_kind();
        let Some(att) = self.att.as_mut() else {
            return Err(BackendError::Disconnected("device not open".into()));
        };
        let Some(id) = att.reports.file(data, now) else {
            tracing::debug!("interrupt report for an unknown id ignored");
            return Ok(());
        };
        let mut work = Vec::new();
        for f in att.desc.fields_of(id, ReportKind::Input).take(MAX_EVENTS) {
            let Ok(value) = att.reports.buffered_value(f) else {
                continue;
            };
            let target = att
                .desc
                .position(&f.path, kind)
                .or_else(|| att.desc.position(&f.path, ReportKind::Input));
            if let Some(pos) = target {
                work.push((pos, value));
            }
        }
        let table = self.sub.table;
        for (pos, value) in work {
            let row = table
                .iter()
                .enumerate()
                .find(|(i, r)| !r.has(ABSENT) && self.rows.get(*i) == Some(&Some(pos)));
            if let Some((_, row)) = row {
                self.apply(tree, row, value)?;
            }
        }
        self.commit_status(tree, now);
        Ok(())
    }

    /// NUT's `find_nut_info`: the first row of that name whose path resolved.
    fn find_row(&self, name: &str) -> Option<(&'static Row, usize)> {
        self.sub
            .table
            .iter()
            .zip(&self.rows)
            .find(|(r, pos)| {
                r.name().is_some_and(|n| n.eq_ignore_ascii_case(name)) && pos.is_some()
            })
            .and_then(|(r, pos)| pos.map(|p| (r, p)))
    }

    /// Writes a physical value to object `pos` (NUT's `HIDSetDataValue`).
    fn write(&mut self, pos: usize, value: f64) -> Result<(), ReportError> {
        let Some(att) = self.att.as_mut() else {
            return Err(ReportError::Device(DeviceError::Disconnected(
                "device not open".into(),
            )));
        };
        let Some(field) = att.desc.fields().get(pos) else {
            return Err(ReportError::NotWritable(0));
        };
        let sent = att.reports.set_value(att.dev.as_mut(), field, value)?;
        tracing::debug!("Report[set]: {}", hex_string(&sent));
        Ok(())
    }

    fn cmd(&mut self, tree: &mut Tree, cmd: &str, param: Option<&str>) -> CmdResult {
        if cmd.eq_ignore_ascii_case("beeper.off") {
            tracing::warn!("The 'beeper.off' command has been renamed to 'beeper.disable'");
            return self.cmd(tree, "beeper.disable", None);
        }
        if cmd.eq_ignore_ascii_case("beeper.on") {
            tracing::warn!("The 'beeper.on' command has been renamed to 'beeper.enable'");
            return self.cmd(tree, "beeper.enable", None);
        }
        let Some((row, pos)) = self.find_row(cmd) else {
            return self.fallback(tree, cmd);
        };
        if !row.is_cmd() {
            return CmdResult::Invalid;
        }
        let text = param.unwrap_or(row.dfl);
        self.write_row(row, pos, text, ("instcmd", cmd), CmdResult::Failed)
    }

    /// Writes `text`, converted by `row`, to object `pos`. A failure is logged under `what`
    /// (`("setvar", name)`) and answered `failed`.
    fn write_row(
        &mut self,
        row: &Row,
        pos: usize,
        text: &str,
        what: (&str, &str),
        failed: CmdResult,
    ) -> CmdResult {
        match self.write(pos, row.conv.to_device(text)) {
            Ok(()) => {
                self.data_changed = true;
                CmdResult::Handled
            }
            Err(e) => {
                tracing::warn!("{} {}: {e}", what.0, what.1);
                failed
            }
        }
    }

    /// The commands NUT builds from others when the table has no row for them.
    fn fallback(&mut self, tree: &mut Tree, cmd: &str) -> CmdResult {
        let c = cmd.to_ascii_lowercase();
        let value = |tree: &Tree, n: &str| tree.get(n).map(|v| v.raw().to_string());
        match c.as_str() {
            "load.on" => self.cmd(tree, "load.on.delay", Some("0")),
            "load.off" => self.cmd(tree, "load.off.delay", Some("0")),
            "shutdown.return" | "shutdown.stayoff" => {
                let stayoff = c == "shutdown.stayoff";
                if tree.get("ups.start.auto").is_some() {
                    self.var(tree, "ups.start.auto", if stayoff { "no" } else { "yes" });
                }
                let on = if stayoff {
                    Some("-1".to_string())
                } else {
                    value(tree, "ups.delay.start")
                };
                let r = self.cmd(tree, "load.on.delay", on.as_deref());
                if r != CmdResult::Handled {
                    return r;
                }
                std::thread::sleep(COMPOSITE_PAUSE);
                let off = value(tree, "ups.delay.shutdown");
                self.cmd(tree, "load.off.delay", off.as_deref())
            }
            _ => {
                tracing::debug!("instcmd: info element unavailable {cmd}");
                CmdResult::Invalid
            }
        }
    }

    fn var(&mut self, tree: &mut Tree, name: &str, text: &str) -> CmdResult {
        let Some((row, pos)) = self.find_row(name) else {
            return CmdResult::Unknown;
        };
        if !row.rw {
            return CmdResult::Unknown;
        }
        if row.has(ABSENT) {
            if let Target::Var(n) = row.target {
                tree.set_info(n, text);
            }
            return CmdResult::Handled;
        }
        // NUT would write -1 for a name its table does not know; we refuse it instead of
        // sending a value the unit never defined.
        if let Conversion::Lookup(table) = row.conv {
            if convert::reverse_lookup(table, text).is_none() {
                tracing::warn!("setvar {name}: {text:?} is not one of the known values");
                return CmdResult::Invalid;
            }
        }
        self.write_row(row, pos, text, ("setvar", name), CmdResult::Unknown)
    }
}

impl HidBackend {
    /// What a call that needs the unit says without it.
    fn not_open(&self) -> BackendError {
        BackendError::Disconnected(
            if self.pending {
                "the unit is not available yet"
            } else {
                "device not open"
            }
            .into(),
        )
    }

    /// The rest of `init` once the unit is open: the init walk, the options that set
    /// variables, the composite commands.
    fn finish_init(&mut self, tree: &mut Tree) -> Result<(), BackendError> {
        if let Some(id) = self.identity.clone() {
            self.opts.settle_lbrb_delay(&id);
        }
        let now = Instant::now();
        self.walk(tree, Walk::Init, now)
            .map_err(|e| BackendError::Fatal(format!("Can't initialize data from HID UPS: {e}")))?;
        for (var, opt) in [
            ("battery.charge.low", &self.opts.lowbatt),
            ("ups.delay.start", &self.opts.ondelay),
            ("ups.delay.shutdown", &self.opts.offdelay),
        ] {
            if let (Some(v), true) = (opt, tree.get(var).is_some()) {
                tree.set_info(var, &nut_state::strtol(v).to_string());
            }
        }
        let has = |s: &Self, n: &str| s.find_row(n).is_some();
        if has(self, "load.off.delay") {
            tree.add_cmd("load.off");
        }
        if has(self, "load.on.delay") {
            tree.add_cmd("load.on");
        }
        if has(self, "load.off.delay") && has(self, "load.on.delay") {
            tree.add_cmd("shutdown.return");
            tree.add_cmd("shutdown.stayoff");
        }
        tree.set_info("driver.version.data", self.sub.name);
        tree.set_info("driver.parameter.pollfreq", &self.opts.pollfreq.to_string());
        self.lastpoll = Some(now);
        Ok(())
    }

    /// One poll cycle on the open unit.
    fn update_attached(&mut self, tree: &mut Tree, now: Instant) -> Result<(), BackendError> {
        let due = match self.lastpoll {
            Some(t) => {
                let elapsed = now.saturating_duration_since(t).as_secs_f64();
                elapsed > self.opts.pollfreq as f64
            }
            None => true,
        };
        if due || self.data_changed {
            self.alarms.clear();
            self.walk(tree, Walk::Full, now)?;
            self.lastpoll = Some(now);
            self.data_changed = false;
            let mut alarms: Vec<&'static str> = std::mem::take(&mut self.alarms);
            alarms.extend(status::alarms(self.bits));
            if alarms.is_empty() {
                tree.del_info("ups.alarm");
                self.alarm_active = false;
            } else {
                tree.set_info("ups.alarm", &alarms.join(" "));
                self.alarm_active = true;
            }
        } else {
            self.walk(tree, Walk::Quick, now)?;
        }
        self.commit_status(tree, now);
        Ok(())
    }
}

/// A device failure while (re)opening: the core retries, as after an unplug.
fn dev_err(e: DeviceError) -> BackendError {
    BackendError::Disconnected(e.detail())
}

/// An init failure: nothing to retry, the driver stops with the reason.
fn fatal(e: BackendError) -> BackendError {
    match e {
        BackendError::Disconnected(s) | BackendError::Stale(s) => BackendError::Fatal(s),
        f => f,
    }
}

fn publish_flags(tree: &mut Tree, row: &Row, name: &str) {
    let mut words: Vec<&str> = Vec::new();
    if row.rw {
        words.push("RW");
    }
    if row.string_len.is_some() {
        words.push("STRING");
    }
    if !words.is_empty() {
        tree.set_flags(name, &words);
    }
    if let Some(len) = row.string_len {
        tree.set_aux(name, i64::from(len));
    }
}

impl Backend for HidBackend {
    fn init(&mut self, tree: &mut Tree, cfg: &DriverConfig) -> Result<(), BackendError> {
        self.opts = Options::from_config(cfg);
        if let Err(e) = self.attach(tree) {
            if !self.unavailable {
                return Err(fatal(e));
            }
            // (the reason is logged where it was found; the core retries with its back-off)
            self.pending = true;
            return Ok(());
        }
        self.finish_init(tree)
    }

    fn update(&mut self, tree: &mut Tree, now: Instant) -> Result<(), BackendError> {
        if self.att.is_none() {
            return Err(self.not_open());
        }
        self.update_attached(tree, now)
    }

    fn reconnect(&mut self, tree: &mut Tree) -> Result<(), BackendError> {
        self.att = None;
        self.attach(tree)?;
        if self.pending {
            self.finish_init(tree)?;
            self.pending = false;
            // (what `init_tree` does after a start with the unit there)
            nut_driver::copy_device_strings(tree);
            return Ok(());
        }
        self.walk(tree, Walk::Init, Instant::now())
    }

    fn has_events(&self) -> bool {
        self.use_interrupt()
    }

    fn event_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        if !self.use_interrupt() {
            return None;
        }
        self.att.as_ref()?.dev.event_fd()
    }

    fn wait_event(&mut self, tree: &mut Tree, timeout: Duration) -> Result<bool, BackendError> {
        if !self.use_interrupt() {
            std::thread::sleep(timeout);
            return Ok(false);
        }
        let Some(att) = self.att.as_mut() else {
            return Err(self.not_open());
        };
        match att.dev.read_interrupt(timeout) {
            Ok(None) => Ok(false),
            Ok(Some(data)) => {
                tracing::debug!("Report[int]: {}", hex_string(&data));
                self.apply_interrupt(tree, &data, Instant::now())?;
                Ok(true)
            }
            Err(e) if e.is_gone() => {
                self.att = None;
                Err(BackendError::Disconnected(e.detail()))
            }
            Err(e) => {
                tracing::debug!("interrupt read: {}", e.detail());
                Ok(false)
            }
        }
    }

    fn instcmd(&mut self, tree: &mut Tree, cmd: &str, param: Option<&str>) -> CmdResult {
        tracing::debug!("instcmd({cmd}, {})", param.unwrap_or("[NULL]"));
        self.cmd(tree, cmd, param)
    }

    fn setvar(&mut self, tree: &mut Tree, var: &str, value: &str) -> CmdResult {
        tracing::debug!("setvar({var}, {value})");
        self.var(tree, var, value)
    }

    fn shutdown(&mut self, tree: &mut Tree) -> Result<(), BackendError> {
        for c in ["shutdown.return", "shutdown.reboot", "load.off.delay"] {
            if self.cmd(tree, c, None) == CmdResult::Handled {
                tracing::info!("shutdown: {c} accepted");
                return Ok(());
            }
        }
        Err(BackendError::Fatal(
            "none of shutdown.return, shutdown.reboot, load.off.delay worked".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nut_driver::config::{split_xarg, Setting};

    fn options(x: &[&str], manufacturer: &str, product: &str) -> Options {
        let xs: Vec<Setting> = x.iter().map(|a| split_xarg(a)).collect();
        let cfg =
            DriverConfig::build("usbhid-ups", "ups", None, &xs, crate::OPTIONS).expect("config");
        let mut o = Options::from_config(&cfg);
        o.settle_lbrb_delay(&Identity {
            vendor_id: 0x051d,
            product_id: 0x0002,
            manufacturer: Some(manufacturer.into()),
            product: Some(product.into()),
            ..Identity::default()
        });
        o
    }

    const APC: &str = "American Power Conversion";

    #[test]
    fn lbrb_delay_in_force() {
        let delay = |x: &[&str], p: &str| options(x, APC, p).status.lbrb_log_delay_sec;
        // The 2.8.0 default: no delay, even for a model NUT 2.8.4+ delays.
        assert_eq!(delay(&[], "BK650M2-CH"), 0);
        // Another lbrb_* key brings the model default.
        let wc = ["lbrb_log_delay_without_calibrating"];
        assert_eq!(delay(&wc, "BK650M2-CH"), 3);
        assert!(
            options(&wc, APC, "BK650M2-CH")
                .status
                .lbrb_log_delay_without_calibrating
        );
        assert_eq!(delay(&wc, "Back-UPS ES 850G2"), 0);
        // The user's value wins; an invalid one is 3.
        assert_eq!(delay(&["lbrb_log_delay_sec=0"], "BK650M2-CH"), 0);
        assert_eq!(delay(&["lbrb_log_delay_sec=7"], "Back-UPS ES 850G2"), 7);
        assert_eq!(delay(&["lbrb_log_delay_sec=-2"], "Back-UPS ES 850G2"), 3);
    }

    #[test]
    fn log_throttle_options() {
        let t = |x: &[&str]| {
            options(x, APC, "BK650M2-CH")
                .status
                .onlinedischarge_log_throttle
        };
        assert_eq!(t(&[]), None);
        assert_eq!(
            t(&["onlinedischarge_log_throttle_sec=60"]),
            Some(LogThrottle {
                repeat: status::Repeat::Every(60),
                hovercharge: 100
            })
        );
        assert_eq!(
            t(&["onlinedischarge_log_throttle_hovercharge=90"]),
            Some(LogThrottle {
                repeat: status::Repeat::Default,
                hovercharge: 90
            })
        );
        assert_eq!(
            t(&[
                "onlinedischarge_log_throttle_sec=x",
                "onlinedischarge_log_throttle_hovercharge=0"
            ]),
            Some(LogThrottle {
                repeat: status::Repeat::Every(30),
                hovercharge: 100
            })
        );
    }
}
