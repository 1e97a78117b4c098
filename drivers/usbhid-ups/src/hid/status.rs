//! `ups.status`, `ups.alarm` and `input.transfer.reason` from the status bits the mapping
//! rows collect (spec apc-hid.md §8). Pure: the bits are a value, the builder a function.
//!
//! The default is NUT 2.8.0's builder (`OL|OB [DISCHRG] [CHRG] [LB] [OVER] [RB] [TRIM]
//! [BOOST] [BYPASS] [OFF] [CAL]`); [`Variant::Newer`] gives the 2.8.1+ order with `CAL` first.

/// One internal status bit; the lower-case token that sets it is [`Bit::token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bit {
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
    pub fn token(self) -> &'static str {
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
    pub fn from_token(token: &str) -> Option<Bit> {
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
pub struct StatusBits(u32);

impl StatusBits {
    pub fn has(self, bit: Bit) -> bool {
        self.0 & bit.mask() != 0
    }

    pub fn set(&mut self, bit: Bit) {
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

    pub fn clear(&mut self, bit: Bit) {
        self.0 &= !bit.mask();
    }

    /// Applies a token from a lookup (`dischrg` sets, `!dischrg` clears). Returns false for
    /// an unknown token (ignored, as NUT does).
    pub fn apply(&mut self, token: &str) -> bool {
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
pub enum Variant {
    /// NUT 2.8.0 (the compatibility target).
    #[default]
    V2_8_0,
    /// NUT 2.8.1 and later: `CAL` first, an `offline` bit, CHRG only below 100 %.
    Newer,
}

/// Options that change how the bits become tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusOptions {
    pub variant: Variant,
    /// `onlinedischarge` / `onlinedischarge_onbattery` / `onlinedischarge_battery`: OL+DISCHRG
    /// is reported as OB.
    pub onlinedischarge_onbattery: bool,
    /// `onlinedischarge_calibration`: OL+DISCHRG adds CAL.
    pub onlinedischarge_calibration: bool,
    /// `ignorelb`: LB from the device is dropped, and synthesized from charge/runtime.
    pub ignorelb: bool,
}

/// Readings the builder needs beyond the bits (published values, already as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readings {
    pub battery_charge: Option<String>,
    pub battery_charge_low: Option<String>,
    pub battery_runtime: Option<String>,
    pub battery_runtime_low: Option<String>,
    /// Whether `ups.alarm` is active (set at the last full update).
    pub alarm_active: bool,
}

/// What one status commit publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `ups.status`.
    pub status: String,
    /// `input.transfer.reason`, or `None` to delete it.
    pub transfer_reason: Option<&'static str>,
    /// The unit claims to be on line and discharging without being told what that means
    /// (NUT logs a warning then).
    pub warn_online_discharge: bool,
}

/// Builds `ups.status` from the bits (NUT's `ups_status_set` + `status_commit`).
pub fn build(bits: StatusBits, opts: &StatusOptions, r: &Readings) -> Status {
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
    if bits.has(Bit::LowBatt) || bits.has(Bit::TimeLimitExp) || bits.has(Bit::ShutdownImm) {
        push("LB", &mut tokens);
    }
    if bits.has(Bit::Overload) {
        push("OVER", &mut tokens);
    }
    if bits.has(Bit::ReplaceBatt) || (opts.variant == Variant::Newer && bits.has(Bit::NoBattery)) {
        push("RB", &mut tokens);
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
pub fn alarms(bits: StatusBits) -> Vec<&'static str> {
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
    };

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
}
