//! Report descriptor parsing with the rules of NUT's `hidparser.c` (NUT 2.8.0).
//!
//! Only the items NUT understands are interpreted: Usage Page, Usage, Collection, End
//! Collection, Input/Output/Feature, Report ID/Size/Count, Logical and Physical Min/Max, Unit,
//! Unit Exponent. Everything else (Push/Pop, Usage Min/Max, String Index, designators,
//! delimiters, reserved tags) is ignored, as NUT does.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::Error;
use crate::field::{Field, ReportKind};
use crate::usage::UsagePath;

/// Most HID objects NUT keeps (`MAX_REPORT`); parsing stops at this many.
pub const MAX_OBJECTS: usize = 500;
/// Largest descriptor NUT reads (`REPORT_DSC_SIZE`).
pub const MAX_DESCRIPTOR_LEN: usize = 6144;
/// Depth of the local usage stack (`USAGE_TAB_SIZE`); further usages are ignored.
pub const MAX_USAGE_STACK: usize = 50;
/// Most nodes in a usage path, collections and own usage together (`PATH_SIZE`).
pub const MAX_PATH_DEPTH: usize = 10;
/// Slots of NUT's per-(report id, type) offset table.
const MAX_REPORT_SLOTS: usize = 500;

/// Something the parser worked around or skipped; the descriptor is still usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Byte offset of the item in the descriptor.
    pub offset: usize,
    /// Report ID in effect when the item was met.
    pub report_id: u8,
    /// What was worked around.
    pub kind: NoteKind,
}

/// The kinds of [`Note`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKind {
    /// Signed LogMax was below LogMin and was re-read unsigned (NUT's APC work-around).
    LogMaxReinterpreted {
        /// The value read signed.
        signed: i64,
        /// The item's bits, used unsigned.
        raw: u32,
    },
    /// The object limit was reached; the rest of the descriptor was not parsed.
    TooManyObjects,
    /// A Usage item found the usage stack full and was dropped.
    UsageStackFull,
    /// End Collection without an open collection; ignored.
    UnmatchedEndCollection,
    /// A long item (or another item with tag 0xFC) was skipped.
    LongItemSkipped {
        /// Bytes skipped.
        len: usize,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (at, id) = (self.offset, self.report_id);
        match &self.kind {
            NoteKind::LogMaxReinterpreted { signed, raw } => write!(
                f,
                "byte {at}: LogMax {signed} is less than LogMin in ReportID 0x{id:02x}; interpreting it as {raw}"
            ),
            NoteKind::TooManyObjects => write!(
                f,
                "byte {at}: more than {MAX_OBJECTS} HID objects, the rest of the descriptor is ignored"
            ),
            NoteKind::UsageStackFull => write!(
                f,
                "byte {at}: more than {MAX_USAGE_STACK} usages before a main item; usage ignored"
            ),
            NoteKind::UnmatchedEndCollection => {
                write!(f, "byte {at}: End Collection without Collection; ignored")
            }
            NoteKind::LongItemSkipped { len } => {
                write!(f, "byte {at}: long item of {len} data bytes skipped")
            }
        }
    }
}

/// A parsed report descriptor: NUT's list of HID objects plus report lengths.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// The HID objects in descriptor order (padding slots are not objects).
    pub fields: Vec<Field>,
    /// Work-arounds applied and items skipped, in descriptor order.
    pub notes: Vec<Note>,
    /// NUT's `replen`: payload bytes per report id (without the id byte).
    replen: [u8; 256],
    /// Declared payload bits per (id, type), padding included, without NUT's 8-bit wrap.
    declared: BTreeMap<(u8, ReportKind), u64>,
}

impl Descriptor {
    /// NUT's buffer length for report `id` including the id byte (`replen + 1`).
    ///
    /// It is the largest `ceil((offset + size) / 8)` over every slot of that id (objects and
    /// padding, any type) with the 8-bit-wrapped offsets, so a report declaring more than 255
    /// bits gets a shorter buffer than it declares (BK650M2-CH report 0x20: 33, not 47).
    pub fn report_len(&self, id: u8) -> usize {
        usize::from(self.replen[usize::from(id)]) + 1
    }

    /// Report ids that carry at least one object, ascending (NUT allocates a buffer for each).
    pub fn report_ids(&self) -> Vec<u8> {
        let mut seen = [false; 256];
        for f in &self.fields {
            seen[usize::from(f.report_id)] = true;
        }
        (0u8..=255).filter(|&id| seen[usize::from(id)]).collect()
    }

    /// Declared payload size in bits of report `id` of type `kind` (sum of Report Size x
    /// Report Count over its main items, padding included, no wrap); `None` if undeclared.
    pub fn declared_bits(&self, id: u8, kind: ReportKind) -> Option<u64> {
        self.declared.get(&(id, kind)).copied()
    }

    /// All (id, type, bits) declarations in (id, type) order.
    pub fn declared_reports(&self) -> impl Iterator<Item = (u8, ReportKind, u64)> + '_ {
        self.declared.iter().map(|(&(id, k), &bits)| (id, k, bits))
    }

    /// NUT's object lookup: the first object of type `kind` whose path starts with `path`.
    ///
    /// Unlike NUT we never match an object whose path is shorter than the request (NUT then
    /// compares against leftover parser memory).
    pub fn find(&self, path: &UsagePath, kind: ReportKind) -> Option<&Field> {
        self.position(path, kind).map(|i| &self.fields[i])
    }

    /// Index in [`Descriptor::fields`] of what [`Descriptor::find`] returns.
    pub fn position(&self, path: &UsagePath, kind: ReportKind) -> Option<usize> {
        // The node at the request's depth decides almost every miss; test it before the
        // whole prefix.
        let depth = path.len().checked_sub(1);
        self.fields.iter().position(|f| {
            f.kind == kind
                && depth.is_none_or(|d| f.path.nodes().get(d) == path.nodes().get(d))
                && f.path.starts_with(path)
        })
    }

    /// Index of the first object (any type) of report `id` whose own usage is `usage`
    /// (NUT's `FindObject_with_ID_Node`, used by subdriver descriptor fixes).
    pub fn position_by_id_and_usage(&self, id: u8, usage: u32) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.report_id == id && f.path.last() == Some(usage))
    }

    /// Objects of report `id` with type `kind`, e.g. the Input objects an interrupt report updates.
    pub fn fields_of(&self, id: u8, kind: ReportKind) -> impl Iterator<Item = &Field> + '_ {
        self.fields
            .iter()
            .filter(move |f| f.report_id == id && f.kind == kind)
    }

    /// The objects, in descriptor order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Mutable access for subdriver fixes (e.g. APC's logical range patch). Report lengths are
    /// not recomputed, as in NUT.
    pub fn fields_mut(&mut self) -> &mut [Field] {
        &mut self.fields
    }
}

/// Global item state; it persists across main items (HID rule).
#[derive(Debug, Clone, Default)]
struct Globals {
    page: u16,
    report_id: u8,
    report_size: u8,
    report_count: u8,
    log_min: i64,
    log_max: i64,
    assumed_logmax: bool,
    phy_min: Option<i64>,
    phy_max: Option<i64>,
    unit: u32,
    unit_exp: i8,
}

/// Index of (id, kind) in the flat per-report tables.
fn slot(id: u8, kind: ReportKind) -> usize {
    usize::from(id) * 3
        + match kind {
            ReportKind::Input => 0,
            ReportKind::Output => 1,
            ReportKind::Feature => 2,
        }
}

/// NUT's per-(report id, type) bit offsets, kept in 8 bits.
struct Offsets {
    slots: Vec<Option<u8>>,
    used: usize,
    id0_used: bool,
}

impl Offsets {
    /// Current offset of (id, kind); creates the slot if the table has room.
    fn get(&mut self, id: u8, kind: ReportKind, at: usize) -> Result<u8, Error> {
        if id == 0 {
            // NUT treats a zero id as an empty slot and re-initialises it on every lookup, so
            // every slot of report 0 is at offset 0. Reproduced; devices with ids are unaffected.
            self.id0_used = true;
            return Ok(0);
        }
        let i = slot(id, kind);
        if let Some(off) = self.slots[i] {
            return Ok(off);
        }
        if self.used + usize::from(self.id0_used) >= MAX_REPORT_SLOTS {
            return Err(Error::TooManyReports {
                offset: at,
                report_id: id,
                max: MAX_REPORT_SLOTS,
            });
        }
        self.used += 1;
        self.slots[i] = Some(0);
        Ok(0)
    }

    fn advance(&mut self, id: u8, kind: ReportKind, bits: u8) {
        if let Some(off) = &mut self.slots[slot(id, kind)] {
            // NUT stores offsets in a uint8_t: reports over 255 bits wrap around.
            *off = off.wrapping_add(bits);
        }
    }
}

struct Parser {
    g: Globals,
    usages: Vec<u32>,
    path: Vec<u32>,
    offsets: Offsets,
    fields: Vec<Field>,
    notes: Vec<Note>,
    replen: [u8; 256],
    /// Declared bits per `slot(id, kind)`; `None` until a main item declares that report.
    declared: Vec<Option<u64>>,
}

/// Whether the main loop continues after a main item.
enum Flow {
    Continue,
    /// The object limit was reached; `rest` if slots of this item were left over.
    Full {
        rest: bool,
    },
}

/// Parses a report descriptor into NUT's HID objects.
///
/// NUT quirks reproduced on purpose (each matters for what a driver reads):
/// * offsets are 8-bit per (report id, type) and wrap past bit 255; report id 0 keeps every
///   slot at offset 0;
/// * a usage-less slot is padding (takes bits, no object); a Report Count of 0 means 256 slots;
///   a main item that is the descriptor's very last item yields only its first slot;
/// * LogMax below the current LogMin is re-read unsigned (noted with its report id);
/// * Unit Exponent above 7 is a 4-bit two's complement nibble;
/// * parsing stops at [`MAX_OBJECTS`] objects; usages beyond [`MAX_USAGE_STACK`] are dropped.
///
/// Never panics. Hard errors (truncated item, nesting beyond [`MAX_PATH_DEPTH`], over-large
/// descriptor, no object at all) name the byte offset; tolerable oddities become
/// [`Descriptor::notes`].
pub fn parse(bytes: &[u8]) -> Result<Descriptor, Error> {
    if bytes.len() > MAX_DESCRIPTOR_LEN {
        return Err(Error::TooLarge {
            len: bytes.len(),
            max: MAX_DESCRIPTOR_LEN,
        });
    }
    let mut p = Parser {
        g: Globals::default(),
        usages: Vec::with_capacity(MAX_USAGE_STACK),
        path: Vec::with_capacity(MAX_PATH_DEPTH),
        offsets: Offsets {
            slots: vec![None; 256 * 3],
            used: 0,
            id0_used: false,
        },
        fields: Vec::new(),
        notes: Vec::new(),
        replen: [0; 256],
        declared: vec![None; 256 * 3],
    };
    let mut pos = 0usize;
    while pos < bytes.len() {
        let at = pos;
        let prefix = bytes[pos];
        let len = match prefix & 0x03 {
            0 => 0,
            1 => 1,
            2 => 2,
            _ => 4,
        };
        let data = bytes.get(pos + 1..pos + 1 + len).ok_or(Error::Truncated {
            offset: at,
            needed: 1 + len,
            available: bytes.len() - at,
        })?;
        let value = data
            .iter()
            .rev()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        pos += 1 + len;
        match prefix & 0xFC {
            0x04 => p.g.page = value as u16,
            0x08 => p.usage(value, len, at),
            0xA0 => p.collection(value, at)?,
            0xC0 => p.end_collection(at),
            tag @ (0x80 | 0x90 | 0xB0) => {
                let kind = ReportKind::from_tag(tag).unwrap_or(ReportKind::Feature);
                // NUT only resumes a main item's remaining slots while descriptor bytes
                // remain: when the item is the very last one, only its first slot counts.
                let last = pos >= bytes.len();
                if let Flow::Full { rest } = p.main_item(kind, value, at, last)? {
                    if rest || pos < bytes.len() {
                        p.note(at, NoteKind::TooManyObjects);
                    }
                    break;
                }
            }
            0x84 => p.g.report_id = value as u8,
            0x74 => p.g.report_size = value as u8,
            0x94 => p.g.report_count = value as u8,
            0x54 => {
                let mut e = value as u8 as i8;
                // Exponents above 7 are 4-bit two's complement nibbles (0x0E = -2).
                if e > 7 {
                    e = (e as u8 | 0xF0) as i8;
                }
                p.g.unit_exp = e;
            }
            0x64 => p.g.unit = value,
            0x14 => p.g.log_min = signed(value, len),
            0x24 => p.log_max(value, len, at),
            0x34 => p.g.phy_min = Some(signed(value, len)),
            0x44 => p.g.phy_max = Some(signed(value, len)),
            0xFC => {
                // NUT skips the low byte of the item data as a payload length (right for the
                // 0xFE long item, whose first data byte is bDataSize).
                let skip = (value & 0xFF) as usize;
                if pos + skip > bytes.len() {
                    return Err(Error::Truncated {
                        offset: at,
                        needed: 1 + len + skip,
                        available: bytes.len() - at,
                    });
                }
                pos += skip;
                p.note(at, NoteKind::LongItemSkipped { len: skip });
            }
            _ => {}
        }
    }
    if p.fields.is_empty() {
        return Err(Error::NoObjects);
    }
    let mut declared = BTreeMap::new();
    for id in 0..=255u8 {
        for kind in [ReportKind::Input, ReportKind::Output, ReportKind::Feature] {
            if let Some(bits) = p.declared[slot(id, kind)] {
                declared.insert((id, kind), bits);
            }
        }
    }
    Ok(Descriptor {
        fields: p.fields,
        notes: p.notes,
        replen: p.replen,
        declared,
    })
}

/// Min/Max item data is two's complement of its encoded width.
fn signed(value: u32, len: usize) -> i64 {
    match len {
        1 => i64::from(value as u8 as i8),
        2 => i64::from(value as u16 as i16),
        4 => i64::from(value as i32),
        _ => i64::from(value),
    }
}

impl Parser {
    fn note(&mut self, offset: usize, kind: NoteKind) {
        self.notes.push(Note {
            offset,
            report_id: self.g.report_id,
            kind,
        });
    }

    fn usage(&mut self, value: u32, len: usize, at: usize) {
        if self.usages.len() >= MAX_USAGE_STACK {
            self.note(at, NoteKind::UsageStackFull);
            return;
        }
        // A 4-byte usage carries its own page.
        let usage = if len > 2 {
            value
        } else {
            (u32::from(self.g.page) << 16) | (value & 0xFFFF)
        };
        self.usages.push(usage);
    }

    fn push_node(&mut self, node: u32, at: usize) -> Result<(), Error> {
        if self.path.len() >= MAX_PATH_DEPTH {
            return Err(Error::PathTooDeep {
                offset: at,
                report_id: self.g.report_id,
                max: MAX_PATH_DEPTH,
            });
        }
        self.path.push(node);
        Ok(())
    }

    fn collection(&mut self, value: u32, at: usize) -> Result<(), Error> {
        let usage = self.usages.first().copied().unwrap_or(0);
        self.push_node(usage, at)?;
        // Vendor-defined collection types get an extra index node.
        if value >= 0x80 {
            self.push_node(0x00FF_0000 | (value & 0x7F), at)?;
        }
        self.usages.clear();
        Ok(())
    }

    fn end_collection(&mut self, at: usize) {
        match self.path.pop() {
            None => self.note(at, NoteKind::UnmatchedEndCollection),
            Some(node) => {
                // NUT pops once more when the removed node looks like an index node (page
                // 0x00FF): that removes the collection behind an index.
                if node & 0xFFFF_0000 == 0x00FF_0000 {
                    self.path.pop();
                }
            }
        }
        self.usages.clear();
    }

    fn log_max(&mut self, value: u32, len: usize, at: usize) {
        let v = signed(value, len);
        if v < self.g.log_min {
            // APC encodes e.g. 255 as `25 ff` (= -1): NUT re-reads it unsigned.
            self.note(
                at,
                NoteKind::LogMaxReinterpreted {
                    signed: v,
                    raw: value,
                },
            );
            self.g.log_max = i64::from(value);
            self.g.assumed_logmax = true;
        } else {
            self.g.log_max = v;
            self.g.assumed_logmax = false;
        }
    }

    fn main_item(
        &mut self,
        kind: ReportKind,
        value: u32,
        at: usize,
        last_item: bool,
    ) -> Result<Flow, Error> {
        // NUT counts down a uint8_t: a Report Count of 0 yields 256 slots.
        let count = match self.g.report_count {
            _ if last_item => 1,
            0 => 256,
            n => usize::from(n),
        };
        let id = self.g.report_id;
        let size = self.g.report_size;
        for done in 0..count {
            // Slot i takes the i-th stacked usage; past the stack it is padding (usage 0).
            let usage = self.usages.get(done).copied().unwrap_or(0);
            if self.path.len() >= MAX_PATH_DEPTH {
                return Err(Error::PathTooDeep {
                    offset: at,
                    report_id: id,
                    max: MAX_PATH_DEPTH,
                });
            }
            let offset = self.offsets.get(id, kind, at)?;
            // Usage 0 marks padding / a continuation: it takes bits but is no object.
            if usage != 0 {
                let mut nodes = self.path.clone();
                nodes.push(usage);
                self.fields.push(Field {
                    path: UsagePath(nodes),
                    report_id: id,
                    kind,
                    offset: u32::from(offset),
                    size: u32::from(size),
                    logical_min: self.g.log_min,
                    logical_max: self.g.log_max,
                    assumed_logmax: self.g.assumed_logmax,
                    physical_min: self.g.phy_min,
                    physical_max: self.g.phy_max,
                    unit: self.g.unit,
                    unit_exponent: self.g.unit_exp,
                    attributes: value,
                    item_offset: at,
                });
            }
            let bytes = (usize::from(offset) + usize::from(size)).div_ceil(8);
            let len = &mut self.replen[usize::from(id)];
            if bytes > usize::from(*len) {
                *len = bytes as u8;
            }
            *self.declared[slot(id, kind)].get_or_insert(0) += u64::from(size);
            self.offsets.advance(id, kind, size);
            if usage != 0 && self.fields.len() >= MAX_OBJECTS {
                return Ok(Flow::Full {
                    rest: done + 1 < count,
                });
            }
        }
        self.usages.clear();
        Ok(Flow::Continue)
    }
}
