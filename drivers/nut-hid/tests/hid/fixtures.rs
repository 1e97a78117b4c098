//! The parser and codec against real APC descriptors and the values NUT printed for them.

use std::collections::BTreeMap;

use nut_hid::{parse, Descriptor, NoteKind, ReportBuffer, ReportKind, UsageTable};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex_bytes(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).unwrap_or_else(|_| panic!("bad hex {t:?}")))
        .collect()
}

fn descriptor(name: &str) -> Descriptor {
    let bytes = hex_bytes(&data(name));
    parse(&bytes).expect("fixture descriptor parses")
}

/// Non-comment, non-empty lines of the section starting at `start` up to the next `# SECTION`.
fn section(text: &str, start: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("# SECTION") {
            inside = line.starts_with(start);
            continue;
        }
        if inside && !line.trim().is_empty() && !line.starts_with('#') {
            out.push(line.to_string());
        }
    }
    out
}

fn kind(name: &str) -> ReportKind {
    match name {
        "Input" => ReportKind::Input,
        "Output" => ReportKind::Output,
        "Feature" => ReportKind::Feature,
        other => panic!("bad type {other}"),
    }
}

fn hex_u8(s: &str) -> u8 {
    u8::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex id")
}

/// Section A2: declared bits per (id, type) exactly; NUT's buffer length (8-bit offsets)
/// equals the declared length while no slot starts past bit 255, else the wrapped value.
fn check_lengths(desc_file: &str, table_file: &str, wrapped: &[(u8, usize)]) {
    let desc = descriptor(desc_file);
    let mut declared = BTreeMap::new();
    for line in section(&data(table_file), "# SECTION A2") {
        let w: Vec<&str> = line.split_whitespace().collect();
        // report 0x01 Feature    8 bits =   1 bytes payload (+1 id byte)
        let (id, k, bits): (u8, ReportKind, u64) =
            (hex_u8(w[1]), kind(w[2]), w[3].parse().expect("bits"));
        declared.insert((id, k), bits);
    }
    let ours: BTreeMap<_, _> = desc
        .declared_reports()
        .map(|(id, k, bits)| ((id, k), bits))
        .collect();
    assert_eq!(ours, declared);

    let mut max_bits: BTreeMap<u8, u64> = BTreeMap::new();
    for (&(id, _), &bits) in &declared {
        let e = max_bits.entry(id).or_default();
        *e = (*e).max(bits);
    }
    for (&id, &bits) in &max_bits {
        let expected = match wrapped.iter().find(|(w, _)| *w == id) {
            Some(&(_, len)) => len,
            None => {
                assert!(bits <= 256, "report 0x{id:02x} wraps but is not listed");
                bits.div_ceil(8) as usize + 1
            }
        };
        assert_eq!(desc.report_len(id), expected, "report 0x{id:02x}");
    }
    assert_eq!(
        desc.report_ids(),
        max_bits.keys().copied().collect::<Vec<_>>()
    );
}

#[test]
fn bk650m2_report_lengths() {
    // 23 x 16-bit slots: offsets wrap at 256, NUT sizes these 33 bytes (seen in its log).
    let wrapped: Vec<(u8, usize)> = [0x20, 0x23, 0x24, 0x25, 0x26, 0x31, 0x32, 0x33, 0x52]
        .iter()
        .map(|&id| (id, 33))
        .collect();
    check_lengths(
        "back-ups-bk650m2-ch.descriptor.hex",
        "back-ups-bk650m2-ch.values.txt",
        &wrapped,
    );
    let desc = descriptor("back-ups-bk650m2-ch.descriptor.hex");
    assert_eq!(desc.report_len(0x16), 5);
    assert_eq!(desc.report_len(0x21), 24);
    assert_eq!(desc.report_len(0x0c), 2);
}

#[test]
fn smart_ups_x_750_report_lengths() {
    // 63 x 8-bit slots: 504 bits declared, NUT's wrapped offsets give 32 payload bytes.
    check_lengths(
        "smart-ups-x-750.descriptor.hex",
        "smart-ups-x-750.fields.txt",
        &[(0x89, 33), (0x90, 33)],
    );
}

#[test]
fn bk650m2_logmax_hack_notes() {
    let desc = descriptor("back-ups-bk650m2-ch.descriptor.hex");
    let hacks: Vec<(u8, i64, u32)> = desc
        .notes
        .iter()
        .filter_map(|n| match n.kind {
            NoteKind::LogMaxReinterpreted { signed, raw } => Some((n.report_id, signed, raw)),
            _ => None,
        })
        .collect();
    assert_eq!(
        hacks,
        vec![(0x0c, -1, 255), (0x22, -1, 255), (0x40, -1, 255)]
    );
    assert_eq!(desc.notes.len(), 3, "{:?}", desc.notes);
    assert_eq!(
        desc.notes[0].to_string(),
        format!(
            "byte {}: LogMax -1 is less than LogMin in ReportID 0x0c; interpreting it as 255",
            desc.notes[0].offset
        )
    );
    let assumed: Vec<(u8, ReportKind)> = desc
        .fields
        .iter()
        .filter(|f| f.assumed_logmax)
        .map(|f| (f.report_id, f.kind))
        .collect();
    assert_eq!(
        assumed,
        vec![
            (0x0c, ReportKind::Feature),
            (0x0c, ReportKind::Input),
            (0x22, ReportKind::Feature),
            (0x40, ReportKind::Feature)
        ]
    );
}

/// Replays section B through a [`ReportBuffer`]: every `Report[buf]` line must equal our
/// buffer, and every `Path:` line's value must be what NUT printed.
#[test]
fn bk650m2_decodes_like_nut() {
    let desc = descriptor("back-ups-bk650m2-ch.descriptor.hex");
    // EXPLORE names paths with the generic table only (e.g. UPS.Input.ff860061).
    let table = UsageTable::generic();
    let mut buf = ReportBuffer::new(&desc);
    let text = data("back-ups-bk650m2-ch.values.txt");
    let lines: Vec<&str> = section_raw(&text);

    let mut last: Option<(String, Vec<u8>)> = None;
    let (mut values, mut bufs) = (0, 0);
    let mut i = 0;
    while i < lines.len() {
        let msg = lines[i].split_once('\t').map_or(lines[i], |(_, m)| m);
        i += 1;
        if let Some(rest) = msg.strip_prefix("[D3] Report[") {
            let (tag, rest) = rest.split_once("]: (").expect("report line");
            let (n, hex) = rest.split_once(" bytes) => ").expect("report bytes");
            let mut bytes = hex_bytes(hex);
            // Continuation lines hold only hex.
            while i < lines.len() {
                let m = lines[i].split_once('\t').map_or(lines[i], |(_, m)| m);
                let Some(cont) = m.strip_prefix("[D3] ") else {
                    break;
                };
                if cont.trim().is_empty()
                    || !cont
                        .split_whitespace()
                        .all(|t| t.len() == 2 && u8::from_str_radix(t, 16).is_ok())
                {
                    break;
                }
                bytes.extend(hex_bytes(cont));
                i += 1;
            }
            assert_eq!(bytes.len(), n.parse::<usize>().expect("count"), "{msg}");
            let id = bytes[0];
            match tag {
                "get" | "err" => {
                    assert!(buf.fill(id, &bytes) > 0, "no buffer for 0x{id:02x}");
                }
                "buf" => {
                    assert_eq!(buf.report(id), Some(bytes.as_slice()), "{msg}");
                    bufs += 1;
                }
                other => panic!("unexpected Report[{other}]"),
            }
            last = Some((tag.to_string(), bytes));
        } else if let Some(pos) = msg.find("Path: ") {
            let rest = &msg[pos + 6..];
            let parts: Vec<&str> = rest.split(", ").collect();
            let path = table.parse_path(parts[0]).expect("path");
            let k = kind(parts[1].trim_start_matches("Type: "));
            let id = hex_u8(parts[2].trim_start_matches("ReportID: "));
            let offset: u32 = parts[3]
                .trim_start_matches("Offset: ")
                .parse()
                .expect("offset");
            let size: u32 = parts[4].trim_start_matches("Size: ").parse().expect("size");
            let nut: f64 = parts[5]
                .trim_start_matches("Value: ")
                .parse()
                .expect("value");
            let f = desc
                .fields
                .iter()
                .find(|f| f.path == path && f.kind == k)
                .unwrap_or_else(|| panic!("no object {rest}"));
            assert_eq!(
                (f.report_id, f.offset, f.size),
                (id, offset, size),
                "{rest}"
            );
            assert!(last.is_some(), "value before any report");
            let ours = f.value(buf.report(id).expect("buffer")).expect("value");
            assert!(
                (ours - nut).abs() <= 1e-9 * nut.abs().max(1.0),
                "{rest}: ours {ours}"
            );
            values += 1;
        }
    }
    assert_eq!(values, 71 + 9 + 1 + 9);
    assert!(bufs > 40, "{bufs} buffer lines checked");
}

fn section_raw(text: &str) -> Vec<&str> {
    let start = text.find("# SECTION B").expect("section B");
    text[start..]
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}
