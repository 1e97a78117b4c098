//! [`Recording::to_toml`]: the format written back, as record mode writes it.

use std::fmt::Write as _;

use crate::{hex_string, FaultSpec, Recording, FORMAT};

impl Recording {
    /// Writes the recording in the same format (descriptor 24 bytes a line). Comments of a
    /// parsed file are not kept; `Recording::parse(&r.to_toml(), ..) == r`.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "format = {}", quote(FORMAT));
        o.push_str("\n[usb]\n");
        let u = &self.usb;
        let _ = writeln!(o, "vendor_id = \"{:04x}\"", u.vendor_id);
        let _ = writeln!(o, "product_id = \"{:04x}\"", u.product_id);
        if let Some(b) = u.bcd_device {
            let _ = writeln!(o, "bcd_device = \"{b:04x}\"");
        }
        if let Some(b) = &u.bus {
            let _ = writeln!(o, "bus = {}", quote(b));
        }
        if let Some(p) = &u.port {
            let _ = writeln!(o, "port = {}", quote(p));
        }
        let ix = &u.indices;
        if ix.manufacturer.is_some() || ix.product.is_some() || ix.serial.is_some() {
            o.push_str("\n[usb.indices]\n");
            for (name, v) in [
                ("manufacturer", ix.manufacturer),
                ("product", ix.product),
                ("serial", ix.serial),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(o, "{name} = {v}");
                }
            }
        }
        if !self.strings.is_empty() {
            o.push_str("\n[strings]\n");
            for (i, s) in &self.strings {
                let _ = writeln!(o, "\"{i}\" = {}", quote(s));
            }
        }
        o.push_str("\n[descriptor]\nhex = \"\"\"\n");
        for line in self.descriptor.chunks(24) {
            o.push_str(&hex_string(line));
            o.push('\n');
        }
        o.push_str("\"\"\"\n");
        for (name, answers) in [("feature", &self.feature), ("input", &self.input)] {
            if !answers.is_empty() {
                let _ = writeln!(o, "\n[{name}]");
                for (id, bytes) in answers {
                    let _ = writeln!(o, "\"0x{id:02x}\" = \"{}\"", hex_string(bytes));
                }
            }
        }
        for i in &self.interrupts {
            o.push_str(&i.to_toml());
        }
        for e in &self.events {
            let _ = write!(o, "\n[[event]]\nat_s = {:?}\n", e.at_s);
            // An event needs `set` or `fault`: keep an empty `set` when it is all there is.
            if !e.set.is_empty() || e.fault.is_none() {
                let entries: Vec<String> = e
                    .set
                    .iter()
                    .map(|(p, v)| format!("{} = {v}", quote(p)))
                    .collect();
                if entries.is_empty() {
                    o.push_str("set = {}\n");
                } else {
                    let _ = writeln!(o, "set = {{ {} }}", entries.join(", "));
                }
            }
            if e.interrupt {
                o.push_str("interrupt = true\n");
            }
            match e.fault {
                None => {}
                Some(FaultSpec::Vanish { duration_s }) => {
                    o.push_str("fault = \"vanish\"\n");
                    if let Some(d) = duration_s {
                        let _ = writeln!(o, "duration_s = {d:?}");
                    }
                }
                Some(FaultSpec::FailReads { count }) => {
                    let _ = writeln!(o, "fault = \"fail_reads\"\ncount = {count}");
                }
                Some(FaultSpec::ComeBack) => o.push_str("fault = \"come_back\"\n"),
            }
        }
        o
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use crate::{Event, FaultSpec, Recording};

    const BK650: &str =
        include_str!("../../usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml");

    #[test]
    fn round_trip() {
        let mut r = Recording::parse(BK650, "bk650").unwrap();
        r.usb.bus = Some("001".into());
        r.usb.port = Some("1-4".into());
        r.strings.insert(9, "quote \" back\\slash\ttab é".into());
        r.input.insert(0x16, vec![0x16, 0x0c, 0x00]);
        r.events.push(Event {
            at_s: 5.0,
            set: vec![("UPS.PowerSummary.PresentStatus.ACPresent".into(), 0)],
            interrupt: true,
            fault: None,
            line: 0,
        });
        r.events.push(Event {
            at_s: 7.25,
            set: vec![],
            interrupt: false,
            fault: Some(FaultSpec::Vanish {
                duration_s: Some(2.5),
            }),
            line: 0,
        });
        r.events.push(Event {
            at_s: 9.0,
            set: vec![],
            interrupt: false,
            fault: Some(FaultSpec::FailReads { count: 3 }),
            line: 0,
        });
        r.events.push(Event {
            at_s: 10.0,
            set: vec![],
            interrupt: false,
            fault: Some(FaultSpec::ComeBack),
            line: 0,
        });
        r.events.push(Event {
            at_s: 11.0,
            set: vec![],
            interrupt: true,
            fault: None,
            line: 0,
        });
        let text = r.to_toml();
        let back = Recording::parse(&text, "rt").unwrap();
        assert_eq!(back, r);
        assert_eq!(back.to_toml(), text);
        assert!(text.contains("\"0x0f\" = \"0f 22 0e\"\n"), "{text}");
    }
}
