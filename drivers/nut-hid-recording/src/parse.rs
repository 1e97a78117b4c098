//! [`Recording::parse`]: strict, every error at its line.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::{
    parse_hex, ErrorKind, Event, FaultSpec, Interrupt, Recording, RecordingError, Usb, FORMAT,
};

type Res<T> = Result<T, RecordingError>;

/// Parsing context: the text (for line numbers) and the origin.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        let prefix = self.text.get(..end).unwrap_or(self.text);
        prefix.bytes().filter(|&b| b == b'\n').count() + 1
    }

    fn err(&self, span: &Range<usize>, kind: ErrorKind) -> RecordingError {
        RecordingError {
            origin: self.origin.to_string(),
            line: self.line(span),
            kind,
        }
    }

    fn table<'t, 'i>(&self, v: &'t Spanned<DeValue<'i>>, key: &str) -> Res<&'t DeTable<'i>> {
        v.get_ref().as_table().ok_or_else(|| {
            self.err(
                &v.span(),
                ErrorKind::WrongType {
                    key: key.to_string(),
                    expected: "a table",
                },
            )
        })
    }

    fn string<'t>(&self, v: &'t Spanned<DeValue<'_>>, key: &str) -> Res<&'t str> {
        v.get_ref().as_str().ok_or_else(|| {
            self.err(
                &v.span(),
                ErrorKind::WrongType {
                    key: key.to_string(),
                    expected: "a string",
                },
            )
        })
    }

    fn integer(&self, v: &Spanned<DeValue<'_>>, key: &str) -> Res<i64> {
        v.get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok())
            .ok_or_else(|| {
                self.err(
                    &v.span(),
                    ErrorKind::WrongType {
                        key: key.to_string(),
                        expected: "an integer",
                    },
                )
            })
    }

    /// An integer that must fit `T`; `reason` says why one does not.
    fn integer_as<T: TryFrom<i64>>(
        &self,
        v: &Spanned<DeValue<'_>>,
        key: &str,
        reason: &str,
    ) -> Res<T> {
        T::try_from(self.integer(v, key)?).map_err(|_| self.bad_value(&v.span(), key, reason))
    }

    fn seconds(&self, v: &Spanned<DeValue<'_>>, key: &str) -> Res<f64> {
        let n = match v.get_ref() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(_) => self.integer(v, key).ok().map(|i| i as f64),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
            _ => Err(self.err(
                &v.span(),
                ErrorKind::WrongType {
                    key: key.to_string(),
                    expected: "a finite number of seconds >= 0",
                },
            )),
        }
    }

    fn hex(&self, v: &Spanned<DeValue<'_>>, key: &str) -> Res<Vec<u8>> {
        let s = self.string(v, key)?;
        parse_hex(s).map_err(|reason| {
            self.err(
                &v.span(),
                ErrorKind::BadHex {
                    key: key.to_string(),
                    reason,
                },
            )
        })
    }

    fn usb_id(&self, v: &Spanned<DeValue<'_>>, key: &str) -> Res<u16> {
        let s = self.string(v, key)?;
        let ok = s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
        match u16::from_str_radix(s, 16) {
            Ok(n) if ok => Ok(n),
            _ => Err(self.err(
                &v.span(),
                ErrorKind::BadUsbId {
                    key: key.to_string(),
                    value: s.to_string(),
                },
            )),
        }
    }

    fn unknown(&self, k: &Spanned<std::borrow::Cow<'_, str>>, prefix: &str) -> RecordingError {
        let key = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        self.err(&k.span(), ErrorKind::UnknownKey { key })
    }

    fn missing(&self, span: &Range<usize>, key: &str) -> RecordingError {
        self.err(
            span,
            ErrorKind::Missing {
                key: key.to_string(),
            },
        )
    }

    fn bad_value(&self, span: &Range<usize>, key: &str, reason: &str) -> RecordingError {
        self.err(
            span,
            ErrorKind::BadValue {
                key: key.to_string(),
                reason: reason.to_string(),
            },
        )
    }
}

/// `0xNN` (two hex digits, either case) -> the id.
fn parse_report_id(s: &str) -> Option<u8> {
    let digits = s.strip_prefix("0x")?;
    if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(digits, 16).ok()
}

impl Recording {
    /// Parses a recording. `origin` (a file name, "-x recording") only appears in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Recording, RecordingError> {
        let cx = Ctx { text, origin };
        let doc = DeTable::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            cx.err(&span, ErrorKind::Toml(e.message().trim().to_string()))
        })?;
        let whole = doc.span();
        let doc = doc.get_ref();
        let mut rec = Recording::default();
        let mut format = None;
        let mut usb = None;
        let mut descriptor = None;
        for (k, v) in in_file_order(doc) {
            match k.get_ref().as_ref() {
                "format" => format = Some((cx.string(v, "format")?, v.span())),
                "usb" => usb = Some(parse_usb(&cx, v)?),
                "strings" => {
                    for (sk, sv) in in_file_order(cx.table(v, "strings")?) {
                        let key = format!("strings.{}", sk.get_ref());
                        let idx = sk
                            .get_ref()
                            .parse::<u8>()
                            .ok()
                            .filter(|&i| i > 0 && !sk.get_ref().starts_with('+'))
                            .ok_or_else(|| {
                                cx.err(&sk.span(), ErrorKind::BadStringIndex { key: key.clone() })
                            })?;
                        let text = cx.string(sv, &key)?.to_string();
                        if rec.strings.insert(idx, text).is_some() {
                            return Err(cx.err(&sk.span(), ErrorKind::Duplicate { key }));
                        }
                    }
                }
                "descriptor" => {
                    let t = cx.table(v, "descriptor")?;
                    for (dk, dv) in in_file_order(t) {
                        match dk.get_ref().as_ref() {
                            "hex" => descriptor = Some(cx.hex(dv, "descriptor.hex")?),
                            _ => return Err(cx.unknown(dk, "descriptor")),
                        }
                    }
                    if descriptor.is_none() {
                        return Err(cx.missing(&v.span(), "descriptor.hex"));
                    }
                }
                "feature" => rec.feature = parse_answers(&cx, v, "feature")?,
                "input" => rec.input = parse_answers(&cx, v, "input")?,
                "interrupt" => rec.interrupts = parse_interrupts(&cx, v)?,
                "event" => rec.events = parse_events(&cx, v)?,
                _ => return Err(cx.unknown(k, "")),
            }
        }
        let Some((format, span)) = format else {
            return Err(cx.missing(&(0..0), "format"));
        };
        if format != FORMAT {
            return Err(cx.err(
                &span,
                ErrorKind::Format {
                    found: format.to_string(),
                },
            ));
        }
        rec.usb = usb.ok_or_else(|| cx.missing(&whole, "usb"))?;
        rec.descriptor = descriptor.ok_or_else(|| cx.missing(&whole, "descriptor"))?;
        Ok(rec)
    }
}

/// A table's entries in file order (TOML tables come back sorted by key), so that values keep
/// the order they were written in and errors point at the first offending line.
fn in_file_order<'t, 'i>(
    t: &'t DeTable<'i>,
) -> Vec<(
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
)> {
    let mut entries: Vec<_> = t.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn parse_usb(cx: &Ctx<'_>, v: &Spanned<DeValue<'_>>) -> Res<Usb> {
    let t = cx.table(v, "usb")?;
    let mut usb = Usb::default();
    let (mut vid, mut pid) = (false, false);
    for (k, v) in in_file_order(t) {
        let key = format!("usb.{}", k.get_ref());
        match k.get_ref().as_ref() {
            "vendor_id" => {
                usb.vendor_id = cx.usb_id(v, &key)?;
                vid = true;
            }
            "product_id" => {
                usb.product_id = cx.usb_id(v, &key)?;
                pid = true;
            }
            "bcd_device" => usb.bcd_device = Some(cx.usb_id(v, &key)?),
            "bus" => usb.bus = Some(cx.string(v, &key)?.to_string()),
            "port" => usb.port = Some(cx.string(v, &key)?.to_string()),
            "indices" => {
                for (ik, iv) in in_file_order(cx.table(v, &key)?) {
                    let ikey = format!("usb.indices.{}", ik.get_ref());
                    let slot = match ik.get_ref().as_ref() {
                        "manufacturer" => &mut usb.indices.manufacturer,
                        "product" => &mut usb.indices.product,
                        "serial" => &mut usb.indices.serial,
                        _ => return Err(cx.unknown(ik, "usb.indices")),
                    };
                    let n = cx.integer(iv, &ikey)?;
                    let idx = u8::try_from(n).ok().filter(|&i| i > 0).ok_or_else(|| {
                        cx.err(&iv.span(), ErrorKind::BadStringIndex { key: ikey })
                    })?;
                    *slot = Some(idx);
                }
            }
            _ => return Err(cx.unknown(k, "usb")),
        }
    }
    if !vid {
        return Err(cx.missing(&v.span(), "usb.vendor_id"));
    }
    if !pid {
        return Err(cx.missing(&v.span(), "usb.product_id"));
    }
    Ok(usb)
}

fn parse_answers(
    cx: &Ctx<'_>,
    v: &Spanned<DeValue<'_>>,
    section: &str,
) -> Res<BTreeMap<u8, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for (k, v) in in_file_order(cx.table(v, section)?) {
        let key = format!("{section}.{}", k.get_ref());
        let id = parse_report_id(k.get_ref())
            .ok_or_else(|| cx.err(&k.span(), ErrorKind::BadId { key: key.clone() }))?;
        let bytes = cx.hex(v, &key)?;
        if bytes[0] != id {
            return Err(cx.err(
                &v.span(),
                ErrorKind::IdMismatch {
                    key,
                    first: bytes[0],
                },
            ));
        }
        if out.insert(id, bytes).is_some() {
            return Err(cx.err(&k.span(), ErrorKind::Duplicate { key }));
        }
    }
    Ok(out)
}

fn array_of_tables<'t, 'i>(
    cx: &Ctx<'_>,
    v: &'t Spanned<DeValue<'i>>,
    key: &str,
) -> Res<Vec<(&'t DeTable<'i>, Range<usize>)>> {
    let arr = v.get_ref().as_array().ok_or_else(|| {
        cx.err(
            &v.span(),
            ErrorKind::WrongType {
                key: key.to_string(),
                expected: "an array of tables ([[...]])",
            },
        )
    })?;
    arr.iter()
        .map(|item| Ok((cx.table(item, key)?, item.span())))
        .collect()
}

fn parse_interrupts(cx: &Ctx<'_>, v: &Spanned<DeValue<'_>>) -> Res<Vec<Interrupt>> {
    let mut out = Vec::new();
    for (t, span) in array_of_tables(cx, v, "interrupt")? {
        let (mut after, mut hex) = (None, None);
        for (k, v) in in_file_order(t) {
            match k.get_ref().as_ref() {
                "after_ms" => {
                    after = Some(cx.integer_as::<u64>(v, "interrupt.after_ms", "negative")?);
                }
                "hex" => hex = Some(cx.hex(v, "interrupt.hex")?),
                _ => return Err(cx.unknown(k, "interrupt")),
            }
        }
        out.push(Interrupt {
            after_ms: after.ok_or_else(|| cx.missing(&span, "interrupt.after_ms"))?,
            report: hex.ok_or_else(|| cx.missing(&span, "interrupt.hex"))?,
        });
    }
    Ok(out)
}

fn parse_events(cx: &Ctx<'_>, v: &Spanned<DeValue<'_>>) -> Res<Vec<Event>> {
    let mut out = Vec::new();
    for (t, span) in array_of_tables(cx, v, "event")? {
        let mut at = None;
        let mut set = Vec::new();
        let mut has_set = false;
        let mut interrupt = false;
        let mut fault: Option<(&str, Range<usize>)> = None;
        let mut duration = None;
        let mut count = None;
        for (k, v) in in_file_order(t) {
            match k.get_ref().as_ref() {
                "at_s" => at = Some(cx.seconds(v, "event.at_s")?),
                "set" => {
                    has_set = true;
                    for (pk, pv) in in_file_order(cx.table(v, "event.set")?) {
                        let key = format!("event.set.{}", pk.get_ref());
                        set.push((pk.get_ref().to_string(), cx.integer(pv, &key)?));
                    }
                }
                "interrupt" => {
                    interrupt = v.get_ref().as_bool().ok_or_else(|| {
                        cx.err(
                            &v.span(),
                            ErrorKind::WrongType {
                                key: "event.interrupt".into(),
                                expected: "true or false",
                            },
                        )
                    })?;
                }
                "fault" => fault = Some((cx.string(v, "event.fault")?, v.span())),
                "duration_s" => duration = Some((cx.seconds(v, "event.duration_s")?, k.span())),
                "count" => {
                    let n = cx.integer_as::<u32>(v, "event.count", "not a count")?;
                    count = Some((n, k.span()));
                }
                _ => return Err(cx.unknown(k, "event")),
            }
        }
        let fault = match fault {
            None => None,
            Some(("vanish", _)) => Some(FaultSpec::Vanish {
                duration_s: duration.take().map(|(d, _)| d),
            }),
            Some(("fail_reads", span)) => Some(FaultSpec::FailReads {
                count: count
                    .take()
                    .map(|(c, _)| c)
                    .ok_or_else(|| cx.missing(&span, "event.count"))?,
            }),
            Some(("come_back", _)) => Some(FaultSpec::ComeBack),
            Some((other, span)) => {
                return Err(cx.bad_value(
                    &span,
                    "event.fault",
                    &format!("{other:?} is not one of \"vanish\", \"fail_reads\", \"come_back\""),
                ))
            }
        };
        // duration_s / count only make sense with their fault.
        if let Some((_, span)) = duration {
            return Err(cx.bad_value(&span, "event.duration_s", "only with fault = \"vanish\""));
        }
        if let Some((_, span)) = count {
            return Err(cx.bad_value(&span, "event.count", "only with fault = \"fail_reads\""));
        }
        if !has_set && fault.is_none() {
            return Err(cx.missing(&span, "event.set"));
        }
        out.push(Event {
            at_s: at.ok_or_else(|| cx.missing(&span, "event.at_s"))?,
            set,
            interrupt,
            fault,
            line: cx.line(&span),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Indices;

    const BK650: &str =
        include_str!("../../usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml");

    fn kind(text: &str) -> (usize, ErrorKind) {
        let e = Recording::parse(text, "t.toml").unwrap_err();
        (e.line, e.kind)
    }

    const MIN: &str = "format = \"nut-hid-recording/1\"\n[usb]\nvendor_id = \"051d\"\nproduct_id = \"0002\"\n[descriptor]\nhex = \"05 84\"\n";

    #[test]
    fn parses_the_bk650m2_recording() {
        let r = Recording::parse(BK650, "bk650").unwrap();
        assert_eq!(r.usb.vendor_id, 0x051d);
        assert_eq!(r.usb.product_id, 0x0002);
        assert_eq!(r.usb.bcd_device, Some(0x0106));
        assert_eq!(r.usb.bus, None);
        assert_eq!(
            r.usb.indices,
            Indices {
                manufacturer: Some(1),
                product: Some(2),
                serial: Some(3)
            }
        );
        assert_eq!(r.strings.len(), 5);
        assert_eq!(r.strings[&1], "American Power Conversion");
        assert_eq!(r.strings[&3], "9B2019A14274");
        assert_eq!(r.strings[&4], "PbAc");
        assert_eq!(r.descriptor.len(), 743);
        assert_eq!(&r.descriptor[..4], &[0x05, 0x84, 0x09, 0x04]);
        assert_eq!(&r.descriptor[740..], &[0x82, 0xc0, 0xc0]);
        assert_eq!(r.feature[&0x0f], vec![0x0f, 0x22, 0x0e]);
        assert_eq!(r.feature[&0xe3], vec![0xe3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.feature[&0x26], vec![0x26, 0x46, 0x05]);
        assert_eq!(r.feature[&0x16], vec![0x16, 0x0e, 0x00]);
        assert_eq!(r.feature.len(), 42);
        assert!(r.input.is_empty());
        assert_eq!(
            r.interrupts,
            vec![
                Interrupt {
                    after_ms: 103,
                    report: vec![0x16, 0x0e, 0x00]
                },
                Interrupt {
                    after_ms: 168,
                    report: vec![0x0c, 0x64]
                },
                Interrupt {
                    after_ms: 160,
                    report: vec![0x16, 0x0e, 0x00]
                },
            ]
        );
        assert!(r.events.is_empty());
        nut_hid::parse(&r.descriptor).unwrap();
    }

    #[test]
    fn scenario_events() {
        let text = format!(
            "{MIN}[[event]]\nat_s = 5\nset = {{ \"UPS.PowerSummary.PresentStatus.ACPresent\" = 0, \"UPS.PowerSummary.RemainingCapacity\" = 80 }}\ninterrupt = true\n\n[[event]]\nat_s = 6.5\nfault = \"vanish\"\n"
        );
        let r = Recording::parse(&text, "t").unwrap();
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.events[0].at_s, 5.0);
        assert_eq!(r.events[0].line, 7);
        assert_eq!(
            r.events[0].set,
            vec![
                ("UPS.PowerSummary.PresentStatus.ACPresent".to_string(), 0),
                ("UPS.PowerSummary.RemainingCapacity".to_string(), 80)
            ]
        );
        assert!(r.events[0].interrupt);
        assert_eq!(
            r.events[1].fault,
            Some(FaultSpec::Vanish { duration_s: None })
        );
    }

    #[test]
    fn unknown_keys_name_key_and_line() {
        let e = Recording::parse(
            &format!("{MIN}[feature]\n\"0x0c\" = \"0c 64\"\nbogus = 1\n"),
            "f.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, 9);
        assert_eq!(
            e.kind,
            ErrorKind::BadId {
                key: "feature.bogus".into()
            }
        );
        assert_eq!(
            kind("format = \"nut-hid-recording/1\"\n[usb]\nvendor_id = \"051d\"\nproduct_id = \"0002\"\nvendr = 1\n"),
            (
                5,
                ErrorKind::UnknownKey {
                    key: "usb.vendr".into()
                }
            )
        );
        assert_eq!(
            kind(&format!("{MIN}extra = 2\n")),
            (
                7,
                ErrorKind::UnknownKey {
                    key: "descriptor.extra".into()
                }
            )
        );
        assert_eq!(
            kind(&format!(
                "{MIN}[[interrupt]]\nafter_ms = 0\nhex = \"16\"\ndelay = 3\n"
            )),
            (
                10,
                ErrorKind::UnknownKey {
                    key: "interrupt.delay".into()
                }
            )
        );
        assert_eq!(
            kind(&format!(
                "{MIN}[[event]]\nat_s = 1\nset = {{}}\nrepeat = true\n"
            )),
            (
                10,
                ErrorKind::UnknownKey {
                    key: "event.repeat".into()
                }
            )
        );
        assert_eq!(
            kind(&format!("top = 1\n{MIN}")),
            (1, ErrorKind::UnknownKey { key: "top".into() })
        );
        let e =
            Recording::parse(&format!("{MIN}[usb.indices]\nvendor = 1\n"), "x.toml").unwrap_err();
        assert_eq!(e.to_string(), "x.toml:8: unknown key `usb.indices.vendor`");
    }

    #[test]
    fn bad_hex_ids_and_format() {
        assert_eq!(
            kind("format = \"nut-hid-recording/1\"\n[usb]\nvendor_id = \"051d\"\nproduct_id = \"0002\"\n[descriptor]\nhex = \"05 8g\"\n"),
            (
                6,
                ErrorKind::BadHex {
                    key: "descriptor.hex".into(),
                    reason: "\"8g\" is not hex".into()
                }
            )
        );
        assert_eq!(
            kind(&format!("{MIN}[feature]\n\"0x0c\" = \"0c 6\"\n")).1,
            ErrorKind::BadHex {
                key: "feature.0x0c".into(),
                reason: "\"6\" has an odd number of digits".into()
            }
        );
        assert_eq!(
            kind(&format!("{MIN}[feature]\n\"0x0c\" = \"  \"\n")).1,
            ErrorKind::BadHex {
                key: "feature.0x0c".into(),
                reason: "no bytes".into()
            }
        );
        for bad in ["0xc", "0x0c0", "12", "0X0c", "0xzz", "0x+1"] {
            assert_eq!(
                kind(&format!("{MIN}[input]\n\"{bad}\" = \"0c 64\"\n")),
                (
                    8,
                    ErrorKind::BadId {
                        key: format!("input.{bad}")
                    }
                ),
                "{bad}"
            );
        }
        assert_eq!(
            kind(&format!("{MIN}[feature]\n\"0x0c\" = \"0d 64\"\n")),
            (
                8,
                ErrorKind::IdMismatch {
                    key: "feature.0x0c".into(),
                    first: 0x0d
                }
            )
        );
        assert_eq!(
            kind("format = \"nut-hid-recording/2\"\n[usb]\nvendor_id = \"051d\"\nproduct_id = \"0002\"\n[descriptor]\nhex = \"05\"\n"),
            (
                1,
                ErrorKind::Format {
                    found: "nut-hid-recording/2".into()
                }
            )
        );
        assert_eq!(
            kind(
                "[usb]\nvendor_id = \"051d\"\nproduct_id = \"0002\"\n[descriptor]\nhex = \"05\"\n"
            )
            .1,
            ErrorKind::Missing {
                key: "format".into()
            }
        );
        assert_eq!(
            kind("format = \"nut-hid-recording/1\"\n[usb]\nvendor_id = \"51d\"\n"),
            (
                3,
                ErrorKind::BadUsbId {
                    key: "usb.vendor_id".into(),
                    value: "51d".into()
                }
            )
        );
        assert_eq!(
            kind(&format!("{MIN}[strings]\n\"0\" = \"x\"\n")).1,
            ErrorKind::BadStringIndex {
                key: "strings.0".into()
            }
        );
        assert_eq!(
            kind(&format!("{MIN}[[event]]\nat_s = -1\nset = {{}}\n")).0,
            8
        );
        assert_eq!(
            kind(&format!("{MIN}[[event]]\nat_s = 1\nfault = \"explode\"\n")).1,
            ErrorKind::BadValue {
                key: "event.fault".into(),
                reason: "\"explode\" is not one of \"vanish\", \"fail_reads\", \"come_back\""
                    .into()
            }
        );
        assert_eq!(
            kind(&format!(
                "{MIN}[[event]]\nat_s = 1\nset = {{}}\ncount = 2\n"
            ))
            .1,
            ErrorKind::BadValue {
                key: "event.count".into(),
                reason: "only with fault = \"fail_reads\"".into()
            }
        );
        assert_eq!(
            kind(&format!(
                "{MIN}[feature]\n\"0x0c\" = \"0c 64\"\n\"0x0C\" = \"0c 65\"\n"
            )),
            (
                9,
                ErrorKind::Duplicate {
                    key: "feature.0x0C".into()
                }
            ),
            "the later line is the duplicate"
        );
        assert_eq!(
            kind(&format!("{MIN}[strings]\n\"5\" = \"a\"\n\"05\" = \"b\"\n")).1,
            ErrorKind::Duplicate {
                key: "strings.05".into()
            }
        );
        // Not TOML at all: still a line.
        let (line, k) = kind("format = \"nut-hid-recording/1\"\n[usb\n");
        assert_eq!(line, 2);
        assert!(matches!(k, ErrorKind::Toml(_)));
    }
}
