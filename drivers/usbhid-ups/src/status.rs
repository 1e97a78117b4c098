//! `ups.status`, `ups.alarm` and `input.transfer.reason` from the status bits the mapping
//! rows collect (spec apc-hid.md §8). Pure: the bits are a value, the builder a function.
//!
//! The default is NUT 2.8.0's builder (`OL|OB [DISCHRG] [CHRG] [LB] [OVER] [RB] [TRIM]
//! [BOOST] [BYPASS] [OFF] [CAL]`); [`Variant::Newer`] gives the 2.8.1+ order with `CAL` first.
//!
//! Two later mechanisms keep a little state between builds, in a [`StatusTracker`] that is
//! handed the time of each build (no clock is read here): NUT 2.8.3+'s `lbrb_log_delay_sec`
//! (LB / RB only once their cause outlasted the delay) and NUT 2.8.2+'s throttle of the
//! OL+DISCHRG warning (`onlinedischarge_log_throttle_*`, which changes the log, not the status).

use std::time::{Duration, Instant};

/// One internal status bit; the lower-case token that sets it is [`Bit::token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bit {
    Online,
    Offline,
    Dischrg,
    Chrg,
    LowBatt,
    Overload,
    ReplaceBatt,
    ShutdownImm,
    Trim,
    Boost,
    BypassAuto,
    BypassMan,
    Off,
    Cal,
    Overheat,
    CommFault,
    Depleted,
    TimeLimitExp,
    FullyCharged,
    NotFullyCharged,
    AwaitingPower,
    FanFail,
    NoBattery,
    BattVoltLo,
    BattVoltHi,
    ChargerFail,
    VRange,
    FRange,
}

const ALL: [Bit; 28] = [
    Bit::Online,
    Bit::Offline,
    Bit::Dischrg,
    Bit::Chrg,
    Bit::LowBatt,
    Bit::Overload,
    Bit::ReplaceBatt,
    Bit::ShutdownImm,
    Bit::Trim,
    Bit::Boost,
    Bit::BypassAuto,
    Bit::BypassMan,
    Bit::Off,
    Bit::Cal,
    Bit::Overheat,
    Bit::CommFault,
    Bit::Depleted,
    Bit::TimeLimitExp,
    Bit::FullyCharged,
    Bit::NotFullyCharged,
    Bit::AwaitingPower,
    Bit::FanFail,
    Bit::NoBattery,
    Bit::BattVoltLo,
    Bit::BattVoltHi,
    Bit::ChargerFail,
    Bit::VRange,
    Bit::FRange,
];

impl Bit {
    /// NUT's internal token (`online`, `dischrg`, ...).
    pub(crate) fn token(self) -> &'static str {
        match self {
            Bit::Online => "online",
            Bit::Offline => "offline",
            Bit::Dischrg => "dischrg",
            Bit::Chrg => "chrg",
            Bit::LowBatt => "lowbatt",
            Bit::Overload => "overload",
            Bit::ReplaceBatt => "replacebatt",
            Bit::ShutdownImm => "shutdownimm",
            Bit::Trim => "trim",
            Bit::Boost => "boost",
            Bit::BypassAuto => "bypassauto",
            Bit::BypassMan => "bypassman",
            Bit::Off => "off",
            Bit::Cal => "cal",
            Bit::Overheat => "overheat",
            Bit::CommFault => "commfault",
            Bit::Depleted => "depleted",
            Bit::TimeLimitExp => "timelimitexp",
            Bit::FullyCharged => "fullycharged",
            Bit::NotFullyCharged => "notfullycharged",
            Bit::AwaitingPower => "awaitingpower",
            Bit::FanFail => "fanfail",
            Bit::NoBattery => "nobattery",
            Bit::BattVoltLo => "battvoltlo",
            Bit::BattVoltHi => "battvolthi",
            Bit::ChargerFail => "chargerfail",
            Bit::VRange => "vrange",
            Bit::FRange => "frange",
        }
    }

    /// The bit of a token (case-insensitive).
    pub(crate) fn from_token(token: &str) -> Option<Bit> {
        ALL.iter()
            .copied()
            .find(|b| b.token().eq_ignore_ascii_case(token))
    }

    fn mask(self) -> u32 {
        1 << (self as u32)
    }
}

/// The persistent status bits (NUT's `ups_status`); they only change when a row reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StatusBits(u32);

impl StatusBits {
    pub(crate) fn has(self, bit: Bit) -> bool {
        self.0 & bit.mask() != 0
    }

    pub(crate) fn set(&mut self, bit: Bit) {
        self.0 |= bit.mask();
        // A pair of opposites never holds together.
        match bit {
            Bit::Online => self.clear(Bit::Offline),
            Bit::Offline => self.clear(Bit::Online),
            Bit::FullyCharged => self.clear(Bit::NotFullyCharged),
            Bit::NotFullyCharged => self.clear(Bit::FullyCharged),
            _ => {}
        }
    }

    pub(crate) fn clear(&mut self, bit: Bit) {
        self.0 &= !bit.mask();
    }

    /// Applies a token from a lookup (`dischrg` sets, `!dischrg` clears). Returns false for
    /// an unknown token (ignored, as NUT does).
    pub(crate) fn apply(&mut self, token: &str) -> bool {
        let (clear, name) = match token.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, token),
        };
        match Bit::from_token(name) {
            Some(b) if clear => {
                self.clear(b);
                true
            }
            Some(b) => {
                self.set(b);
                true
            }
            None => false,
        }
    }
}

/// Which NUT release's status builder to reproduce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Variant {
    /// NUT 2.8.0 (the compatibility target).
    #[default]
    V2_8_0,
    /// NUT 2.8.1 and later: `CAL` first, an `offline` bit, CHRG only below 100 %.
    Newer,
}

/// Options that change how the bits become tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StatusOptions {
    pub(crate) variant: Variant,
    /// `onlinedischarge` / `onlinedischarge_onbattery` / `onlinedischarge_battery`: OL+DISCHRG
    /// is reported as OB.
    pub(crate) onlinedischarge_onbattery: bool,
    /// `onlinedischarge_calibration`: OL+DISCHRG adds CAL.
    pub(crate) onlinedischarge_calibration: bool,
    /// `ignorelb`: LB from the device is dropped, and synthesized from charge/runtime.
    pub(crate) ignorelb: bool,
    /// The `lbrb_log_delay_sec` in force (0: LB and RB at once), see [`lbrb_log_delay`].
    pub(crate) lbrb_log_delay_sec: u64,
    /// `lbrb_log_delay_without_calibrating`: delay LB / RB on line even without CAL.
    pub(crate) lbrb_log_delay_without_calibrating: bool,
    /// `onlinedischarge_log_throttle_*`: newer NUT's throttle of the OL+DISCHRG warning;
    /// `None` logs it once each time the state starts.
    pub(crate) onlinedischarge_log_throttle: Option<LogThrottle>,
}

/// When the OL+DISCHRG warning may be logged again (`onlinedischarge_log_throttle_sec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Key not set: every 30 s while the unit publishes no `battery.charge`, else only when
    /// the charge changes.
    #[default]
    Default,
    /// A negative value: never by time, only when the charge changes.
    Never,
    /// At most every this many seconds (0: at every update), and when the charge changes.
    Every(u64),
}

/// Newer NUT's throttle of the OL+DISCHRG warning. The first warning of an OL+DISCHRG spell
/// is always logged; later ones when [`LogThrottle::repeat`] allows it, or when
/// `battery.charge` moved (since the last warning) to a value below
/// [`LogThrottle::hovercharge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogThrottle {
    pub(crate) repeat: Repeat,
    /// `onlinedischarge_log_throttle_hovercharge` (1..=100): charges at or above it are
    /// hovering, their changes log nothing.
    pub(crate) hovercharge: i32,
}

impl Default for LogThrottle {
    fn default() -> LogThrottle {
        LogThrottle {
            repeat: Repeat::Default,
            hovercharge: 100,
        }
    }
}

/// The LB/RB delay NUT 2.8.3+ gives certain APC models when `lbrb_log_delay_sec` is not set.
pub(crate) const LBRB_MODEL_DELAY: u64 = 3;

/// `lbrb_log_delay_sec` as NUT reads it (`atoi`); `None` for a negative value or a non-number
/// other than `0` (NUT then uses [`LBRB_MODEL_DELAY`] and warns).
pub(crate) fn parse_lbrb_log_delay(v: &str) -> Option<u64> {
    let n = nut_state::atoi(v);
    if (n == 0 && v != "0") || n < 0 {
        None
    } else {
        u64::try_from(n).ok()
    }
}

/// `onlinedischarge_log_throttle_sec` as NUT reads it; `None` for a non-number other than
/// `0` (NUT then uses 30 s and warns).
pub(crate) fn parse_log_throttle_sec(v: &str) -> Option<Repeat> {
    let n = nut_state::atoi(v);
    if n == 0 && v != "0" {
        None
    } else {
        Some(u64::try_from(n).map_or(Repeat::Never, Repeat::Every))
    }
}

/// `onlinedischarge_log_throttle_hovercharge` as NUT reads it; `None` outside 1..=100 (NUT
/// then uses 100 and warns).
pub(crate) fn parse_hovercharge(v: &str) -> Option<i32> {
    let n = nut_state::atoi(v);
    (1..=100).contains(&n).then_some(n)
}

/// Whether NUT (2.8.4+) defaults `lbrb_log_delay_sec` to 3 for this unit (spec apc-hid.md
/// §7.5): vendor string `APC` or `American Power Conversion`, and a product string whose
/// model (the start, or after a space) is BX...MI, BVK...M2 or BK...M2-CH / BK...M2_CH.
pub(crate) fn lbrb_delay_model(vendor: Option<&str>, product: Option<&str>) -> bool {
    let (Some(vendor), Some(p)) = (vendor, product) else {
        return false;
    };
    if vendor != "APC" && vendor != "American Power Conversion" {
        return false;
    }
    let model = |prefix: &str| p.starts_with(prefix) || p.contains(&format!(" {prefix}"));
    let b = p.as_bytes();
    let n = b.len();
    (n > 6 && model("BX") && p.ends_with("MI"))
        || (n > 7 && model("BVK") && p.ends_with("M2"))
        || (n > 9
            && model("BK")
            && &b[n - 5..n - 3] == b"M2"
            && matches!(b[n - 3], b'-' | b'_')
            && p.ends_with("CH"))
}

/// The `lbrb_log_delay_sec` in force: the user's value if set; else, when `model_default`
/// allows it (nut-rs: the user set another `lbrb_*` key or chose the newer status variant;
/// NUT 2.8.0 has no such delay), [`LBRB_MODEL_DELAY`] for the models of [`lbrb_delay_model`];
/// else 0.
pub(crate) fn lbrb_log_delay(
    user: Option<u64>,
    model_default: bool,
    vendor: Option<&str>,
    product: Option<&str>,
) -> u64 {
    match user {
        Some(v) => v,
        None if model_default && lbrb_delay_model(vendor, product) => LBRB_MODEL_DELAY,
        None => 0,
    }
}

/// Readings the builder needs beyond the bits (published values, already as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Readings {
    pub(crate) battery_charge: Option<String>,
    pub(crate) battery_charge_low: Option<String>,
    pub(crate) battery_runtime: Option<String>,
    pub(crate) battery_runtime_low: Option<String>,
    /// Whether `ups.alarm` is active (set at the last full update).
    pub(crate) alarm_active: bool,
}

/// What one status commit publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    /// `ups.status`.
    pub(crate) status: String,
    /// `input.transfer.reason`, or `None` to delete it.
    pub(crate) transfer_reason: Option<&'static str>,
    /// The unit claims to be on line and discharging without being told what that means.
    pub(crate) warn_online_discharge: bool,
    /// The OL+DISCHRG warning to log now (`None`: nothing to log, or throttled).
    pub(crate) online_discharge_log: Option<String>,
}

/// What the status builder remembers between builds (NUT's `last_lb_start`,
/// `last_rb_start` and the OL+DISCHRG log throttle).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StatusTracker {
    /// Since when LB's cause has been seen under the LB/RB delay.
    lb_since: Option<Instant>,
    /// Since when RB's cause has been seen under the LB/RB delay.
    rb_since: Option<Instant>,
    /// Without a throttle: the warning of this OL+DISCHRG spell was logged.
    warned: bool,
    /// With a throttle: when the warning was last logged in this spell, and the charge then.
    logged_at: Option<Instant>,
    logged_charge: Option<i32>,
}

impl StatusTracker {
    /// NUT 2.8.3+: whether LB / RB wait for [`StatusOptions::lbrb_log_delay_sec`] now.
    fn delaying(opts: &StatusOptions, online: bool, cal: bool) -> bool {
        opts.lbrb_log_delay_sec > 0 && online && (cal || opts.lbrb_log_delay_without_calibrating)
    }

    /// Whether a delayed token whose cause was first seen at `*since` is due now; the first
    /// sighting only starts the clock.
    fn due(since: &mut Option<Instant>, delay: u64, now: Instant) -> bool {
        match *since {
            None => {
                *since = Some(now);
                false
            }
            Some(t) => now.saturating_duration_since(t) > Duration::from_secs(delay),
        }
    }

    /// The OL+DISCHRG warning to log now, if any.
    fn online_discharge_log(
        &mut self,
        dischrg: bool,
        warn: bool,
        opts: &StatusOptions,
        r: &Readings,
        now: Instant,
    ) -> Option<String> {
        let Some(t) = opts.onlinedischarge_log_throttle else {
            let first = warn && !self.warned;
            self.warned = warn;
            return first.then(|| {
                "ups_status_set: seems that UPS is in OL+DISCHRG state now. Is it calibrating \
                 or do you perhaps want to set 'onlinedischarge' option?"
                    .to_string()
            });
        };
        if !dischrg {
            self.logged_at = None;
            self.logged_charge = None;
        }
        if !warn {
            return None;
        }
        let charge = r.battery_charge.as_deref().map(nut_state::atoi);
        let current = charge.filter(|&c| c > 0);
        let moved = current.filter(|&c| Some(c) != self.logged_charge);
        let mut log = moved.is_some_and(|c| c < t.hovercharge);
        let every = match t.repeat {
            Repeat::Default if charge.is_none() => Some(30),
            Repeat::Default | Repeat::Never => None,
            Repeat::Every(n) => Some(n),
        };
        match self.logged_at {
            None => log = true,
            Some(at) => {
                if every
                    .is_some_and(|n| now.saturating_duration_since(at) >= Duration::from_secs(n))
                {
                    log = true;
                }
            }
        }
        if !log {
            return None;
        }
        self.logged_at = Some(now);
        let note = match (moved, self.logged_charge) {
            (Some(c), None) => format!("Battery charge is currently {c}. "),
            (Some(c), Some(p)) => format!(
                "Battery charge changed from {p} to {c} since last such report ({}). ",
                if c > p { "charging" } else { "draining" }
            ),
            (None, _) => String::new(),
        };
        if moved.is_some() {
            self.logged_charge = moved;
        }
        Some(format!(
            "ups_status_set: seems that UPS is in OL+DISCHRG state now. {note}Is it \
             calibrating (perhaps you want to set 'onlinedischarge_calibration' option)? Some \
             models report OL+DISCHRG when they are in fact on battery (perhaps you want to \
             set 'onlinedischarge_onbattery' option)."
        ))
    }

    /// Builds `ups.status` from the bits at time `now` (NUT's `ups_status_set` +
    /// `status_commit`): the tokens, with the LB/RB delay, and the OL+DISCHRG warning.
    pub(crate) fn build(
        &mut self,
        bits: StatusBits,
        opts: &StatusOptions,
        r: &Readings,
        now: Instant,
    ) -> Status {
        let transfer_reason = if bits.has(Bit::VRange) {
            Some("input voltage out of range")
        } else if bits.has(Bit::FRange) {
            Some("input frequency out of range")
        } else {
            None
        };
        let mut tokens: Vec<&'static str> = Vec::new();
        let push = |t: &'static str, tokens: &mut Vec<&'static str>| {
            if opts.ignorelb && t == "LB" {
                return;
            }
            if opts.variant == Variant::Newer && tokens.contains(&t) {
                return;
            }
            tokens.push(t);
        };
        let online = bits.has(Bit::Online);
        let dischrg = bits.has(Bit::Dischrg);
        let cal = bits.has(Bit::Cal) || (online && dischrg && opts.onlinedischarge_calibration);
        let mut warn = false;
        if opts.variant == Variant::Newer && cal {
            push("CAL", &mut tokens);
        }
        if !online {
            if opts.variant == Variant::V2_8_0 || bits.has(Bit::Offline) || dischrg {
                push("OB", &mut tokens);
            }
        } else if dischrg {
            if opts.onlinedischarge_onbattery {
                push("OB", &mut tokens);
            } else {
                if !cal {
                    warn = true;
                }
                push("OL", &mut tokens);
            }
        } else {
            push("OL", &mut tokens);
        }
        if dischrg && !bits.has(Bit::Depleted) {
            push("DISCHRG", &mut tokens);
        }
        if bits.has(Bit::Chrg) {
            let chrg = match opts.variant {
                Variant::V2_8_0 => !bits.has(Bit::FullyCharged),
                Variant::Newer => {
                    if bits.has(Bit::NotFullyCharged) {
                        true
                    } else if bits.has(Bit::FullyCharged) {
                        false
                    } else {
                        let c = r
                            .battery_charge
                            .as_deref()
                            .map(|c| c.trim().parse::<f64>().unwrap_or(0.0))
                            .unwrap_or(0.0);
                        c > 0.0 && c < 100.0
                    }
                }
            };
            if chrg {
                push("CHRG", &mut tokens);
            }
        }
        let delaying = Self::delaying(opts, online, cal);
        let delay = opts.lbrb_log_delay_sec;
        if bits.has(Bit::LowBatt) || bits.has(Bit::TimeLimitExp) || bits.has(Bit::ShutdownImm) {
            if !delaying || Self::due(&mut self.lb_since, delay, now) {
                push("LB", &mut tokens);
            }
        } else {
            self.lb_since = None;
        }
        if bits.has(Bit::Overload) {
            push("OVER", &mut tokens);
        }
        if bits.has(Bit::ReplaceBatt)
            || (opts.variant == Variant::Newer && bits.has(Bit::NoBattery))
        {
            // Once LB is over (or was never delayed), RB waits no longer.
            if !delaying || self.lb_since.is_none() || Self::due(&mut self.rb_since, delay, now) {
                push("RB", &mut tokens);
            }
        } else {
            self.rb_since = None;
        }
        if bits.has(Bit::Trim) {
            push("TRIM", &mut tokens);
        }
        if bits.has(Bit::Boost) {
            push("BOOST", &mut tokens);
        }
        if bits.has(Bit::BypassAuto) || bits.has(Bit::BypassMan) {
            push("BYPASS", &mut tokens);
        }
        if bits.has(Bit::Off) {
            push("OFF", &mut tokens);
        }
        if opts.variant == Variant::V2_8_0 && cal {
            push("CAL", &mut tokens);
        }
        let mut status = tokens.join(" ");
        if opts.ignorelb && synthesized_lb(r) {
            status.push_str(" LB");
        }
        if r.alarm_active {
            status = format!("ALARM {status}");
        }
        Status {
            status,
            transfer_reason,
            warn_online_discharge: warn,
            online_discharge_log: self.online_discharge_log(dischrg, warn, opts, r, now),
        }
    }
}

/// `ignorelb`: charge below its low mark, else runtime below its low mark (C `strtol`).
fn synthesized_lb(r: &Readings) -> bool {
    let below = |v: &Option<String>, low: &Option<String>| match (v, low) {
        (Some(v), Some(low)) => nut_state::strtol(v) < nut_state::strtol(low),
        _ => false,
    };
    below(&r.battery_charge, &r.battery_charge_low)
        || below(&r.battery_runtime, &r.battery_runtime_low)
}

/// The `ups.alarm` sentences of the bits, in NUT's order (NUT's `ups_alarm_set`).
pub(crate) fn alarms(bits: StatusBits) -> Vec<&'static str> {
    let table: [(Bit, &'static str); 12] = [
        (Bit::ReplaceBatt, "Replace battery!"),
        (Bit::ShutdownImm, "Shutdown imminent!"),
        (Bit::FanFail, "Fan failure!"),
        (Bit::NoBattery, "No battery installed!"),
        (Bit::BattVoltLo, "Battery voltage too low!"),
        (Bit::BattVoltHi, "Battery voltage too high!"),
        (Bit::ChargerFail, "Battery charger fail!"),
        (Bit::Overheat, "Temperature too high!"),
        (Bit::CommFault, "Internal UPS fault!"),
        (Bit::AwaitingPower, "Awaiting power!"),
        (Bit::BypassAuto, "Automatic bypass mode!"),
        (Bit::BypassMan, "Manual bypass mode!"),
    ];
    table
        .iter()
        .filter(|(b, _)| bits.has(*b))
        .map(|&(_, s)| s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-off build: no state from earlier builds.
    fn build(bits: StatusBits, opts: &StatusOptions, r: &Readings) -> Status {
        StatusTracker::default().build(bits, opts, r, Instant::now())
    }

    fn bits(tokens: &[&str]) -> StatusBits {
        let mut b = StatusBits::default();
        for t in tokens {
            assert!(b.apply(t), "{t}");
        }
        b
    }

    fn st(tokens: &[&str], opts: StatusOptions) -> String {
        build(bits(tokens), &opts, &Readings::default()).status
    }

    const V280: StatusOptions = StatusOptions {
        variant: Variant::V2_8_0,
        onlinedischarge_onbattery: false,
        onlinedischarge_calibration: false,
        ignorelb: false,
        lbrb_log_delay_sec: 0,
        lbrb_log_delay_without_calibrating: false,
        onlinedischarge_log_throttle: None,
    };

    /// Builds in sequence on one tracker; times are seconds after an arbitrary start.
    struct Clock {
        t0: Instant,
        tracker: StatusTracker,
        opts: StatusOptions,
    }

    impl Clock {
        fn new(opts: StatusOptions) -> Clock {
            Clock {
                t0: Instant::now(),
                tracker: StatusTracker::default(),
                opts,
            }
        }

        fn at_r(&mut self, secs: f64, tokens: &[&str], r: &Readings) -> Status {
            let now = self.t0 + Duration::from_secs_f64(secs);
            self.tracker.build(bits(tokens), &self.opts, r, now)
        }

        /// `ups.status` at `secs`.
        fn at(&mut self, secs: f64, tokens: &[&str]) -> String {
            self.at_r(secs, tokens, &Readings::default()).status
        }

        /// The OL+DISCHRG log line at `secs` with `battery.charge` (if any); the status must
        /// stay `OL DISCHRG`.
        fn log(&mut self, secs: f64, charge: Option<&str>) -> Option<String> {
            let r = Readings {
                battery_charge: charge.map(String::from),
                ..Readings::default()
            };
            let s = self.at_r(secs, &["online", "dischrg"], &r);
            assert_eq!(s.status, "OL DISCHRG");
            s.online_discharge_log
        }
    }

    fn delayed(secs: u64) -> StatusOptions {
        StatusOptions {
            lbrb_log_delay_sec: secs,
            ..V280
        }
    }

    #[test]
    fn power_tokens_2_8_0() {
        assert_eq!(st(&["online"], V280), "OL");
        assert_eq!(st(&[], V280), "OB");
        assert_eq!(st(&["online", "!online"], V280), "OB");
        assert_eq!(st(&["offline", "dischrg"], V280), "OB DISCHRG");
        let s = build(bits(&["online", "dischrg"]), &V280, &Readings::default());
        assert_eq!(s.status, "OL DISCHRG");
        assert!(s.warn_online_discharge);
        let ob = StatusOptions {
            onlinedischarge_onbattery: true,
            ..V280
        };
        assert_eq!(st(&["online", "dischrg"], ob), "OB DISCHRG");
        let cal = StatusOptions {
            onlinedischarge_calibration: true,
            ..V280
        };
        let s = build(bits(&["online", "dischrg"]), &cal, &Readings::default());
        assert_eq!(s.status, "OL DISCHRG CAL");
        assert!(!s.warn_online_discharge);
    }

    #[test]
    fn every_token_in_2_8_0_order() {
        let all = [
            "online",
            "dischrg",
            "chrg",
            "lowbatt",
            "overload",
            "replacebatt",
            "trim",
            "boost",
            "bypassauto",
            "off",
            "cal",
        ];
        assert_eq!(
            st(&all, V280),
            "OL DISCHRG CHRG LB OVER RB TRIM BOOST BYPASS OFF CAL"
        );
        assert_eq!(st(&["online", "chrg", "fullycharged"], V280), "OL");
        assert_eq!(st(&["online", "dischrg", "depleted"], V280), "OL");
        assert_eq!(st(&["online", "timelimitexp"], V280), "OL LB");
        assert_eq!(st(&["online", "shutdownimm"], V280), "OL LB");
        assert_eq!(st(&["online", "bypassman"], V280), "OL BYPASS");
        assert_eq!(st(&["online", "nobattery"], V280), "OL");
        // Bits persist until cleared.
        assert_eq!(st(&["online", "chrg", "!chrg"], V280), "OL");
        assert!(!bits(&[]).apply("bogus"));
    }

    #[test]
    fn newer_variant() {
        let n = StatusOptions {
            variant: Variant::Newer,
            ..V280
        };
        assert_eq!(st(&["online", "cal"], n), "CAL OL");
        assert_eq!(st(&["online", "nobattery"], n), "OL RB");
        assert_eq!(st(&["!online"], n), "");
        let r = |c: &str| Readings {
            battery_charge: Some(c.into()),
            ..Readings::default()
        };
        assert_eq!(build(bits(&["online", "chrg"]), &n, &r("100")).status, "OL");
        assert_eq!(
            build(bits(&["online", "chrg"]), &n, &r("66")).status,
            "OL CHRG"
        );
        let cal = StatusOptions {
            onlinedischarge_calibration: true,
            ..n
        };
        assert_eq!(st(&["online", "dischrg"], cal), "CAL OL DISCHRG");
    }

    #[test]
    fn ignorelb_and_alarm() {
        let o = StatusOptions {
            ignorelb: true,
            ..V280
        };
        let low = Readings {
            battery_charge: Some("20".into()),
            battery_charge_low: Some("50".into()),
            ..Readings::default()
        };
        assert_eq!(
            build(bits(&["online", "lowbatt"]), &o, &Readings::default()).status,
            "OL"
        );
        assert_eq!(build(bits(&["online"]), &o, &low).status, "OL LB");
        let rt = Readings {
            battery_runtime: Some("100".into()),
            battery_runtime_low: Some("300".into()),
            alarm_active: true,
            ..Readings::default()
        };
        assert_eq!(build(bits(&["online"]), &o, &rt).status, "ALARM OL LB");
    }

    #[test]
    fn transfer_reason_and_alarms() {
        let s = build(
            bits(&["online", "vrange", "frange"]),
            &V280,
            &Readings::default(),
        );
        assert_eq!(s.transfer_reason, Some("input voltage out of range"));
        let s = build(bits(&["online", "frange"]), &V280, &Readings::default());
        assert_eq!(s.transfer_reason, Some("input frequency out of range"));
        assert_eq!(
            build(bits(&["online"]), &V280, &Readings::default()).transfer_reason,
            None
        );
        assert_eq!(
            alarms(bits(&["replacebatt", "nobattery", "bypassauto"])),
            [
                "Replace battery!",
                "No battery installed!",
                "Automatic bypass mode!"
            ]
        );
        assert!(alarms(bits(&["online", "dischrg"])).is_empty());
    }

    #[test]
    fn lbrb_delay_while_calibrating() {
        let mut c = Clock::new(delayed(3));
        let lb = ["online", "cal", "lowbatt"];
        // The first sighting starts the clock; LB once the cause is older than 3 s.
        assert_eq!(c.at(0.0, &lb), "OL CAL");
        assert_eq!(c.at(2.0, &lb), "OL CAL");
        assert_eq!(c.at(3.0, &lb), "OL CAL");
        assert_eq!(c.at(3.5, &lb), "OL LB CAL");
        assert_eq!(c.at(10.0, &lb), "OL LB CAL");
        // The cause went away: the next one waits again from its own start.
        assert_eq!(c.at(11.0, &["online", "cal"]), "OL CAL");
        assert_eq!(c.at(12.0, &lb), "OL CAL");
        assert_eq!(c.at(15.0, &lb), "OL CAL");
        assert_eq!(c.at(16.0, &lb), "OL LB CAL");
        // timelimitexp and shutdownimm are LB causes too.
        let mut c = Clock::new(delayed(3));
        assert_eq!(c.at(0.0, &["online", "cal", "shutdownimm"]), "OL CAL");
        assert_eq!(c.at(4.0, &["online", "cal", "timelimitexp"]), "OL LB CAL");
        // onlinedischarge_calibration's CAL counts as calibrating.
        let mut c = Clock::new(StatusOptions {
            onlinedischarge_calibration: true,
            ..delayed(3)
        });
        let odl = ["online", "dischrg", "lowbatt"];
        assert_eq!(c.at(0.0, &odl), "OL DISCHRG CAL");
        assert_eq!(c.at(4.0, &odl), "OL DISCHRG LB CAL");
        // The newer variant: same delay, CAL first.
        let mut c = Clock::new(StatusOptions {
            variant: Variant::Newer,
            ..delayed(3)
        });
        assert_eq!(c.at(0.0, &lb), "CAL OL");
        assert_eq!(c.at(4.0, &lb), "CAL OL LB");
    }

    #[test]
    fn lbrb_delay_immediate_cases() {
        let lb = ["online", "lowbatt"];
        // Not calibrating, without lbrb_log_delay_without_calibrating: at once.
        let mut c = Clock::new(delayed(3));
        assert_eq!(c.at(0.0, &lb), "OL LB");
        assert_eq!(c.at(0.0, &["online", "replacebatt"]), "OL RB");
        // No delay: at once, even while calibrating.
        let mut c = Clock::new(delayed(0));
        assert_eq!(c.at(0.0, &["online", "cal", "lowbatt"]), "OL LB CAL");
        // Not online (a real power failure): at once.
        let mut c = Clock::new(StatusOptions {
            lbrb_log_delay_without_calibrating: true,
            ..delayed(3)
        });
        assert_eq!(
            c.at(0.0, &["dischrg", "lowbatt", "cal"]),
            "OB DISCHRG LB CAL"
        );
        // ... and the pending clock of an earlier on-line sighting is kept, as NUT does.
        let mut c = Clock::new(StatusOptions {
            lbrb_log_delay_without_calibrating: true,
            ..delayed(3)
        });
        assert_eq!(c.at(0.0, &lb), "OL");
        assert_eq!(c.at(1.0, &["dischrg", "lowbatt"]), "OB DISCHRG LB");
        assert_eq!(c.at(2.0, &lb), "OL");
        assert_eq!(c.at(3.5, &lb), "OL LB");
    }

    #[test]
    fn lbrb_delay_without_calibrating() {
        let mut c = Clock::new(StatusOptions {
            lbrb_log_delay_without_calibrating: true,
            ..delayed(3)
        });
        let lb = ["online", "lowbatt"];
        assert_eq!(c.at(0.0, &lb), "OL");
        assert_eq!(c.at(3.0, &lb), "OL");
        assert_eq!(c.at(4.0, &lb), "OL LB");
        // A flash shorter than the delay never shows.
        assert_eq!(c.at(5.0, &["online"]), "OL");
        assert_eq!(c.at(6.0, &lb), "OL");
        assert_eq!(c.at(8.0, &["online"]), "OL");
        assert_eq!(c.at(20.0, &["online"]), "OL");
    }

    #[test]
    fn rb_delay_follows_lb() {
        let opts = StatusOptions {
            lbrb_log_delay_without_calibrating: true,
            ..delayed(3)
        };
        // RB alone (LB not pending): at once.
        let mut c = Clock::new(opts);
        assert_eq!(c.at(0.0, &["online", "replacebatt"]), "OL RB");
        // LB then RB: each waits from its own start.
        let mut c = Clock::new(opts);
        let both = ["online", "lowbatt", "replacebatt"];
        assert_eq!(c.at(0.0, &["online", "lowbatt"]), "OL");
        assert_eq!(c.at(2.0, &both), "OL");
        assert_eq!(c.at(4.0, &both), "OL LB");
        assert_eq!(c.at(5.0, &both), "OL LB");
        assert_eq!(c.at(5.5, &both), "OL LB RB");
        // LB ended: RB at once.
        let mut c = Clock::new(opts);
        assert_eq!(c.at(0.0, &both), "OL");
        assert_eq!(c.at(1.0, &["online", "replacebatt"]), "OL RB");
        // The typical flash (LB, LB+RB, all well within 3 s) shows nothing.
        let mut c = Clock::new(opts);
        assert_eq!(c.at(0.0, &["online", "lowbatt"]), "OL");
        assert_eq!(c.at(1.0, &both), "OL");
        assert_eq!(c.at(2.0, &["online"]), "OL");
        // Newer variant: nobattery is an RB cause, delayed the same way.
        let mut c = Clock::new(StatusOptions {
            variant: Variant::Newer,
            ..opts
        });
        let nb = ["online", "lowbatt", "nobattery"];
        assert_eq!(c.at(0.0, &nb), "OL");
        assert_eq!(c.at(4.0, &nb), "OL LB RB");
    }

    #[test]
    fn lbrb_model_default() {
        let apc = Some("American Power Conversion");
        assert!(lbrb_delay_model(apc, Some("BK650M2-CH")));
        assert!(lbrb_delay_model(Some("APC"), Some("Back-UPS BK650M2_CH")));
        assert!(lbrb_delay_model(Some("APC"), Some("Back-UPS BX750MI")));
        assert!(lbrb_delay_model(Some("APC"), Some("BX1600MI")));
        assert!(lbrb_delay_model(apc, Some("Back-UPS BVK750M2")));
        assert!(!lbrb_delay_model(apc, Some("Back-UPS ES 850G2")));
        assert!(!lbrb_delay_model(apc, Some("Smart-UPS X 750")));
        assert!(!lbrb_delay_model(apc, Some("XBX750MI")));
        assert!(!lbrb_delay_model(apc, Some("BK650M2-C")));
        assert!(!lbrb_delay_model(Some("CPS"), Some("BX750MI")));
        assert!(!lbrb_delay_model(None, Some("BX750MI")));
        assert!(!lbrb_delay_model(apc, None));
        let p = Some("BK650M2-CH");
        // nut-rs: the model default only with another lbrb_* key or the newer variant.
        assert_eq!(lbrb_log_delay(None, false, apc, p), 0);
        assert_eq!(lbrb_log_delay(None, true, apc, p), 3);
        assert_eq!(lbrb_log_delay(Some(0), true, apc, p), 0);
        assert_eq!(
            lbrb_log_delay(Some(5), false, apc, Some("Back-UPS ES 850G2")),
            5
        );
        assert_eq!(
            lbrb_log_delay(None, true, apc, Some("Back-UPS ES 850G2")),
            0
        );
    }

    #[test]
    fn option_values() {
        assert_eq!(parse_lbrb_log_delay("0"), Some(0));
        assert_eq!(parse_lbrb_log_delay("10"), Some(10));
        assert_eq!(parse_lbrb_log_delay("-1"), None);
        assert_eq!(parse_lbrb_log_delay("soon"), None);
        assert_eq!(parse_log_throttle_sec("0"), Some(Repeat::Every(0)));
        assert_eq!(parse_log_throttle_sec("60"), Some(Repeat::Every(60)));
        assert_eq!(parse_log_throttle_sec("-1"), Some(Repeat::Never));
        assert_eq!(parse_log_throttle_sec("often"), None);
        assert_eq!(parse_hovercharge("90"), Some(90));
        assert_eq!(parse_hovercharge("100"), Some(100));
        assert_eq!(parse_hovercharge("0"), None);
        assert_eq!(parse_hovercharge("101"), None);
    }

    #[test]
    fn online_discharge_log_once_per_spell_by_default() {
        let mut c = Clock::new(V280);
        assert!(c.log(0.0, Some("100")).is_some());
        assert_eq!(c.log(1.0, Some("90")), None);
        assert_eq!(c.log(1000.0, None), None);
        assert_eq!(c.at(1001.0, &["online"]), "OL");
        assert!(c.log(1002.0, None).is_some());
        // CAL from the unit: nothing to warn about.
        let s = c.at_r(1003.0, &["online", "dischrg", "cal"], &Readings::default());
        assert_eq!(
            (s.status.as_str(), s.online_discharge_log),
            ("OL DISCHRG CAL", None)
        );
    }

    fn throttled(repeat: Repeat, hovercharge: i32) -> StatusOptions {
        StatusOptions {
            onlinedischarge_log_throttle: Some(LogThrottle {
                repeat,
                hovercharge,
            }),
            ..V280
        }
    }

    #[test]
    fn online_discharge_log_throttle_by_charge() {
        // Defaults with battery.charge: first warning, then only when the charge moved below
        // the hover mark (100).
        let mut c = Clock::new(throttled(Repeat::Default, 100));
        let first = c.log(0.0, Some("100")).unwrap();
        assert!(first.contains("state now. Battery charge is currently 100. Is it"));
        assert_eq!(c.log(500.0, Some("100")), None);
        let down = c.log(501.0, Some("99")).unwrap();
        assert!(down
            .contains("Battery charge changed from 100 to 99 since last such report (draining). "));
        assert_eq!(c.log(502.0, Some("99")), None);
        // Back to 100: hovering, not logged (and 100 is not remembered).
        assert_eq!(c.log(503.0, Some("100")), None);
        assert_eq!(c.log(504.0, Some("99")), None);
        let lower = c.log(505.0, Some("98")).unwrap();
        assert!(lower.contains("changed from 99 to 98"));
        // A hover mark of 90 ignores the wobble between 90 and 100.
        let mut c = Clock::new(throttled(Repeat::Default, 90));
        assert!(c.log(0.0, Some("97")).is_some());
        assert_eq!(c.log(1.0, Some("95")), None);
        assert_eq!(c.log(2.0, Some("91")), None);
        assert!(c.log(3.0, Some("89")).unwrap().contains("from 97 to 89"));
        // The spell ends when DISCHRG goes; the next one warns again from scratch.
        assert_eq!(c.at(4.0, &["online"]), "OL");
        assert!(c
            .log(5.0, Some("89"))
            .unwrap()
            .contains("Battery charge is currently 89."));
    }

    #[test]
    fn online_discharge_log_throttle_by_time() {
        // Defaults without battery.charge: every 30 s.
        let mut c = Clock::new(throttled(Repeat::Default, 100));
        assert!(c.log(0.0, None).is_some());
        assert_eq!(c.log(29.0, None), None);
        assert!(c.log(30.0, None).is_some());
        assert_eq!(c.log(59.5, None), None);
        assert!(c.log(60.0, None).is_some());
        // Every 60 s with a hovering charge: time alone triggers, without a charge note.
        let mut c = Clock::new(throttled(Repeat::Every(60), 100));
        assert!(c.log(0.0, Some("100")).is_some());
        assert_eq!(c.log(59.0, Some("100")), None);
        let again = c.log(60.0, Some("100")).unwrap();
        assert!(again.contains("state now. Is it calibrating"));
        // Every 0 s: every update.
        let mut c = Clock::new(throttled(Repeat::Every(0), 100));
        assert!(c.log(0.0, Some("100")).is_some());
        assert!(c.log(0.0, Some("100")).is_some());
        // Never: the first warning only (charge moves still count).
        let mut c = Clock::new(throttled(Repeat::Never, 100));
        assert!(c.log(0.0, None).is_some());
        assert_eq!(c.log(10_000.0, None), None);
        assert!(c.log(10_001.0, Some("50")).is_some());
        // Not online, or told what OL+DISCHRG means: no warning at all.
        let mut c = Clock::new(StatusOptions {
            onlinedischarge_onbattery: true,
            ..throttled(Repeat::Every(0), 100)
        });
        let s = c.at_r(0.0, &["online", "dischrg"], &Readings::default());
        assert_eq!(
            (s.status.as_str(), s.online_discharge_log),
            ("OB DISCHRG", None)
        );
    }
}
