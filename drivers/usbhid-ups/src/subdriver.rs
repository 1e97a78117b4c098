//! The generic mapping-table model of a usbhid-ups subdriver (NUT's `hid_info_t` and
//! `subdriver_t`), and the pure function that turns one decoded HID value into what a row
//! publishes. A vendor is data: a [`Subdriver`] value with its table, usage names, claim
//! rule and string formatting; the backend walks any of them the same way.

use std::sync::OnceLock;

use nut_hid::{Descriptor, UsagePath, UsageTable};

use crate::convert::Conversion;
use crate::device::Identity;

/// `HU_FLAG_STATIC`: read at init only.
pub(crate) const STATIC: u32 = 2;
/// `HU_FLAG_SEMI_STATIC`: read at init and after a command or a write.
pub(crate) const SEMI_STATIC: u32 = 4;
/// `HU_FLAG_ABSENT`: a driver-side setting; the path must exist, the value is `dfl`.
pub(crate) const ABSENT: u32 = 8;
/// `HU_FLAG_QUICK_POLL`: read at every poll, not only at full walks.
pub(crate) const QUICK_POLL: u32 = 16;
/// `HU_TYPE_CMD`: an instant command writing `dfl` (or its argument) to the path.
pub(crate) const CMD: u32 = 64;

/// What a row feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A NUT variable.
    Var(&'static str),
    /// A status bit (NUT's "BOOL" rows): the lookup yields `token` / `!token`.
    Status,
    /// An `ups.alarm` sentence.
    #[allow(dead_code)] // NUT's model has alarm rows; the APC table has none
    Alarm,
    /// An instant command.
    Cmd(&'static str),
}

/// One row of a mapping table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) target: Target,
    /// `ST_FLAG_RW`.
    pub(crate) rw: bool,
    /// `ST_FLAG_STRING` with this maximum length (the variable's aux).
    pub(crate) string_len: Option<u32>,
    /// NUT-style usage path.
    pub(crate) path: &'static str,
    /// printf format of the value, or the default value (ABSENT rows, commands).
    pub(crate) dfl: &'static str,
    /// `HU_*` flags.
    pub(crate) flags: u32,
    pub(crate) conv: Conversion,
}

impl Row {
    /// The NUT name the row publishes or handles (`None` for status and alarm rows).
    pub(crate) fn name(&self) -> Option<&'static str> {
        match self.target {
            Target::Var(n) | Target::Cmd(n) => Some(n),
            Target::Status | Target::Alarm => None,
        }
    }

    pub(crate) fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub(crate) fn is_cmd(&self) -> bool {
        matches!(self.target, Target::Cmd(_))
    }
}

/// What applying a value to a row asks the backend to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Set a variable.
    Set(&'static str, String),
    /// Apply a status token (`dischrg`, `!dischrg`).
    Status(&'static str),
    /// Append an alarm sentence.
    Alarm(&'static str),
    /// Publish USB string `index` as this variable (the backend fetches it).
    SetString(&'static str, u8),
    /// Nothing: the value has no entry in the row's lookup (NUT skips it).
    None,
}

/// A row's effect for a decoded (physical) value: NUT's `ups_infoval_set`.
pub(crate) fn interpret(row: &Row, value: f64) -> Effect {
    if let Conversion::StringId = row.conv {
        return match row.target {
            Target::Var(n) if (0.0..=255.0).contains(&value) => Effect::SetString(n, value as u8),
            _ => Effect::None,
        };
    }
    let Some(text) = row.conv.to_nut(row.dfl, value) else {
        return Effect::None;
    };
    match row.target {
        Target::Var(n) => Effect::Set(n, text),
        Target::Status => match lookup_static(row, value) {
            Some(t) => Effect::Status(t),
            None => Effect::None,
        },
        Target::Alarm => match lookup_static(row, value) {
            Some(t) => Effect::Alarm(t),
            None => Effect::None,
        },
        Target::Cmd(_) => Effect::None,
    }
}

fn lookup_static(row: &Row, value: f64) -> Option<&'static str> {
    match row.conv {
        Conversion::Lookup(t) => crate::convert::lookup(t, value),
        _ => None,
    }
}

/// What a subdriver knows beyond its table.
#[derive(Debug)]
pub(crate) struct Subdriver {
    /// `driver.version.data` (e.g. "APC HID 0.98").
    pub(crate) name: &'static str,
    /// Vendor usage names, looked up before the generic ones.
    pub(crate) usages: &'static [(&'static str, u32)],
    pub(crate) table: &'static [Row],
    /// Whether this subdriver handles the device (`productid_given`: the user named a PID).
    pub(crate) claim: fn(&Identity, bool) -> Claim,
    /// Descriptor fix-up run right after parsing; returns whether anything changed.
    pub(crate) fix_report_desc: fn(&Identity, &mut Descriptor) -> bool,
    /// `ups.mfr`, `ups.model`, `ups.serial`, `ups.firmware`, `ups.firmware.aux`.
    pub(crate) format: fn(&Identity) -> Strings,
    /// Each row's path parsed with [`Subdriver::usages`], once per process (start with
    /// `OnceLock::new()`): a reconnect or a second backend resolves rows without parsing again.
    pub(crate) paths: OnceLock<Vec<Option<UsagePath>>>,
}

impl Subdriver {
    /// Row `i`'s path as usages; `None` for a row whose path names an unknown usage.
    pub(crate) fn path(&self, i: usize) -> Option<&UsagePath> {
        let paths = self.paths.get_or_init(|| {
            let names = UsageTable::generic().with_vendor(self.usages);
            self.table
                .iter()
                .map(|row| {
                    names
                        .parse_path(row.path)
                        .inspect_err(|e| tracing::debug!("{}: {e}", self.name))
                        .ok()
                })
                .collect()
        });
        paths.get(i)?.as_ref()
    }
}

/// A subdriver's verdict on a device, with the quirks it turns on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) claimed: bool,
    /// Ask GET_REPORT for NUT's `max_report_size` length (buggy Back-UPS firmware).
    pub(crate) max_report: bool,
    /// Do not read the interrupt pipe (its data is not HID reports on this model).
    pub(crate) no_interrupt: bool,
}

/// The identity strings a subdriver publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Strings {
    pub(crate) mfr: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) firmware: Option<String>,
    pub(crate) firmware_aux: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: Row = Row {
        target: Target::Var("battery.voltage"),
        rw: false,
        string_len: None,
        path: "UPS.Battery.Voltage",
        dfl: "%.1f",
        flags: 0,
        conv: Conversion::Format,
    };

    #[test]
    fn interprets_values() {
        assert_eq!(
            interpret(&ROW, 13.5),
            Effect::Set("battery.voltage", "13.5".into())
        );
        let status = Row {
            target: Target::Status,
            conv: Conversion::Lookup(&[(1, "dischrg"), (0, "!dischrg")]),
            ..ROW
        };
        assert_eq!(interpret(&status, 1.0), Effect::Status("dischrg"));
        assert_eq!(interpret(&status, 0.0), Effect::Status("!dischrg"));
        assert_eq!(interpret(&status, 13.0), Effect::None);
        let s = Row {
            target: Target::Var("battery.type"),
            conv: Conversion::StringId,
            ..ROW
        };
        assert_eq!(interpret(&s, 4.0), Effect::SetString("battery.type", 4));
        assert_eq!(interpret(&s, -1.0), Effect::None);
        let alarm = Row {
            target: Target::Alarm,
            conv: Conversion::Lookup(&[(1, "Fan failure!")]),
            ..ROW
        };
        assert_eq!(interpret(&alarm, 1.0), Effect::Alarm("Fan failure!"));
    }
}
