//! Value conversions between HID values and NUT strings (spec apc-hid.md §6): printf-style
//! numeric formats, lookup tables in both directions, HID packed dates, APC's BCD-like dates
//! and the Kelvin/Celsius guess. All pure.

/// A value-to-text table (NUT's `info_lkp_t` without conversion functions). The first entry
/// whose value matches wins when reading; the first whose text matches wins when writing.
pub(crate) type Lookup = &'static [(i64, &'static str)];

/// How a mapping row turns the HID value into its NUT text (and back, for writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// Printed with the row's printf format (`%.0f`, `%.1f`, `%.2f`); written with `atol`.
    Format,
    /// A table lookup; a value without an entry publishes nothing.
    Lookup(Lookup),
    /// HID packed date `(year-1980)*512 + month*32 + day`.
    Date,
    /// APC's date: the hex digits read as decimal `0xMMDDYY`.
    ApcDate,
    /// Kelvin to Celsius when the value is within 273..=373, else kept (already Celsius).
    KelvinCelsius,
    /// The value is a USB string descriptor index; the string is published.
    StringId,
}

impl Conversion {
    /// HID value -> NUT text, for every conversion that needs no device (`None` for
    /// [`Conversion::StringId`], and for a lookup without an entry).
    pub(crate) fn to_nut(self, fmt: &str, value: f64) -> Option<String> {
        match self {
            Conversion::Format => Some(printf_float(fmt, value)),
            Conversion::Lookup(table) => lookup(table, value).map(str::to_string),
            Conversion::Date => Some(date_to_nut(value)),
            Conversion::ApcDate => Some(apc_date_to_nut(value)),
            Conversion::KelvinCelsius => Some(kelvin_celsius(value)),
            Conversion::StringId => None,
        }
    }

    /// NUT text -> HID value for a write: the reverse function or table (a text without an
    /// entry gives -1, as NUT's `hu_find_valinfo`), else C's `atol`.
    pub(crate) fn to_device(self, text: &str) -> f64 {
        match self {
            Conversion::Lookup(table) => reverse_lookup(table, text).unwrap_or(-1) as f64,
            Conversion::Date => date_from_nut(text),
            Conversion::ApcDate => apc_date_from_nut(text),
            Conversion::Format | Conversion::KelvinCelsius | Conversion::StringId => {
                nut_state::strtol(text) as f64
            }
        }
    }
}

/// NUT's lookup by value: the entry equal to the value truncated toward zero.
pub(crate) fn lookup(table: Lookup, value: f64) -> Option<&'static str> {
    let v = value as i64;
    table.iter().find(|(k, _)| *k == v).map(|&(_, s)| s)
}

/// The value of the first entry with exactly this text.
pub(crate) fn reverse_lookup(table: Lookup, text: &str) -> Option<i64> {
    table.iter().find(|(_, s)| *s == text).map(|&(k, _)| k)
}

/// printf of one double with a `%.Nf` format (also `%f`, `%g`-free formats with literal
/// text around); anything else falls back to the shortest decimal form.
pub(crate) fn printf_float(fmt: &str, value: f64) -> String {
    let Some(pos) = fmt.find('%') else {
        return fmt.to_string();
    };
    let (head, spec) = fmt.split_at(pos);
    let spec = &spec[1..];
    let (precision, rest) = match spec.strip_prefix('.') {
        Some(r) => {
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            (digits.parse().unwrap_or(0), &r[digits.len()..])
        }
        None => (6usize, spec),
    };
    match rest.strip_prefix('f') {
        Some(tail) => format!("{head}{value:.precision$}{tail}"),
        None => format!("{head}{value}"),
    }
}

/// HID packed date -> `YYYY/MM/DD`; 0 is "not set".
pub(crate) fn date_to_nut(value: f64) -> String {
    let v = value as i64;
    if v == 0 {
        return "not set".into();
    }
    let year = 1980 + (v >> 9);
    let month = (v >> 5) & 0x0f;
    let day = v & 0x1f;
    format!("{year:04}/{month:02}/{day:02}")
}

/// Parses up to three `/`-separated integers like `sscanf("%04ld/%02ld/%02ld")` would.
fn scan_date(text: &str) -> Option<(i64, i64, i64)> {
    let mut it = text.trim().splitn(3, '/');
    let y = it.next()?.trim().parse().ok()?;
    let m = it.next()?.trim().parse().ok()?;
    let d: String = it
        .next()?
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((y, m, d.parse().ok()?))
}

/// `YYYY/MM/DD` -> HID packed date; out of range or unparsable gives 0.
pub(crate) fn date_from_nut(text: &str) -> f64 {
    match scan_date(text) {
        Some((y, m, d)) if y - 1980 <= 127 && m <= 12 && d <= 31 => {
            (((y - 1980) << 9) + (m << 5) + d) as f64
        }
        _ => 0.0,
    }
}

/// APC date `0xMMDDYY` (digits read as decimal) -> `YYYY/MM/DD`; 0 is "not set".
pub(crate) fn apc_date_to_nut(value: f64) -> String {
    let v = value as i64;
    if v == 0 {
        return "not set".into();
    }
    let digit = |shift: u32| (v >> shift) & 0xf;
    let mut year = digit(0) + 10 * digit(4);
    let month = digit(16) + 10 * digit(20);
    let day = digit(8) + 10 * digit(12);
    year += if year >= 70 { 1900 } else { 2000 };
    format!("{year:04}/{month:02}/{day:02}")
}

/// `YYYY/MM/DD` -> APC date; out of range or unparsable gives 0.
pub(crate) fn apc_date_from_nut(text: &str) -> f64 {
    match scan_date(text) {
        Some((y, m, d)) if y < 2070 && m <= 12 && d <= 31 => {
            let y = y % 100;
            let v = (((y / 10) & 0x0f) << 4)
                + (y % 10)
                + (((m / 10) & 0x0f) << 20)
                + ((m % 10) << 16)
                + (((d / 10) & 0x0f) << 12)
                + ((d % 10) << 8);
            v as f64
        }
        _ => 0.0,
    }
}

/// Kelvin -> Celsius (`%.1f`) when 273 <= v <= 373, else the value as Celsius.
pub(crate) fn kelvin_celsius(value: f64) -> String {
    if (273.0..=373.0).contains(&value) {
        format!("{:.1}", value - 273.15)
    } else {
        format!("{value:.1}")
    }
}

/// Text of a USB string descriptor as NUT publishes it (trailing newlines removed).
pub(crate) fn trim_string(s: &str) -> String {
    s.trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEEPER: Lookup = &[(1, "disabled"), (2, "enabled"), (3, "muted")];

    #[test]
    fn printf_formats() {
        assert_eq!(printf_float("%.0f", 100.0), "100");
        assert_eq!(printf_float("%.1f", 13.5), "13.5");
        assert_eq!(printf_float("%.1f", 232.0), "232.0");
        assert_eq!(printf_float("%.2f", 1.5), "1.50");
        assert_eq!(printf_float("%.0f", -1.0), "-1");
        assert_eq!(printf_float("%.0f", 3618.0), "3618");
        assert_eq!(printf_float("x%.1fV", 12.0), "x12.0V");
    }

    #[test]
    fn dates() {
        assert_eq!(date_to_nut(10785.0), "2001/01/01");
        assert_eq!(date_to_nut(20648.0), "2020/05/08");
        assert_eq!(date_to_nut(0.0), "not set");
        assert_eq!(date_from_nut("2020/05/08"), 20648.0);
        assert_eq!(date_from_nut("2200/01/01"), 0.0);
        assert_eq!(date_from_nut("garbage"), 0.0);
        assert_eq!(apc_date_to_nut(f64::from(0x10_22_02)), "2002/10/22");
        assert_eq!(apc_date_to_nut(f64::from(0x01_20_99)), "1999/01/20");
        assert_eq!(apc_date_to_nut(0.0), "not set");
        assert_eq!(apc_date_from_nut("2002/10/22"), f64::from(0x10_22_02));
        assert_eq!(apc_date_from_nut("2071/01/01"), 0.0);
    }

    #[test]
    fn kelvin() {
        assert_eq!(kelvin_celsius(300.0), "26.9");
        assert_eq!(kelvin_celsius(25.0), "25.0");
    }

    #[test]
    fn lookups_both_ways() {
        let c = Conversion::Lookup(BEEPER);
        assert_eq!(c.to_nut("%s", 1.0).as_deref(), Some("disabled"));
        assert_eq!(c.to_nut("%s", 3.0).as_deref(), Some("muted"));
        assert_eq!(c.to_nut("%s", 9.0), None);
        assert_eq!(c.to_device("enabled"), 2.0);
        assert_eq!(c.to_device("loud"), -1.0);
        assert_eq!(Conversion::Format.to_device("45"), 45.0);
        assert_eq!(Conversion::Format.to_device("12.9"), 12.0);
        assert_eq!(
            Conversion::Date.to_nut("%s", 10785.0).as_deref(),
            Some("2001/01/01")
        );
        assert_eq!(Conversion::StringId.to_nut("%s", 4.0), None);
    }
}
