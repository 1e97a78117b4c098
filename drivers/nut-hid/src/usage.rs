//! Usage paths and the name tables that print and parse them.

use std::fmt;

use crate::descriptor::MAX_PATH_DEPTH;
use crate::error::Error;
use crate::tables;

/// A usage path: collection usages then the object's usage, each `(page << 16) | id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsagePath(pub Vec<u32>);

impl UsagePath {
    /// The nodes, outermost first.
    pub fn nodes(&self) -> &[u32] {
        &self.0
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the path has no node.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The object's own usage.
    pub fn last(&self) -> Option<u32> {
        self.0.last().copied()
    }

    /// Whether `prefix`'s nodes are this path's first nodes (NUT's lookup rule).
    pub fn starts_with(&self, prefix: &UsagePath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

/// Unnamed form: nodes as 8 hex digits joined by dots.
impl fmt::Display for UsagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n:08x}")?;
        }
        Ok(())
    }
}

/// Names <-> usages, searched in priority order (a subdriver's vendor table first, then NUT's
/// generic table), like NUT's `usage_tables_t` list.
#[derive(Debug, Clone)]
pub struct UsageTable {
    entries: Vec<(&'static str, u32)>,
}

impl Default for UsageTable {
    fn default() -> Self {
        Self::generic()
    }
}

impl UsageTable {
    /// An empty table (every usage prints as hex).
    pub fn empty() -> Self {
        UsageTable {
            entries: Vec::new(),
        }
    }

    /// NUT's generic table: Power Device (0x84) then Battery System (0x85) usages. This is
    /// what the EXPLORE subdriver names paths with.
    pub fn generic() -> Self {
        let page = |p: u32, list: &'static [(u16, &'static str)]| {
            list.iter()
                .map(move |&(id, name)| (name, (p << 16) | u32::from(id)))
        };
        UsageTable {
            entries: page(0x84, tables::POWER_DEVICE)
                .chain(page(0x85, tables::BATTERY_SYSTEM))
                .collect(),
        }
    }

    /// Puts a vendor table in front (it wins over later tables for both directions).
    pub fn with_vendor(mut self, vendor: &[(&'static str, u32)]) -> Self {
        let mut entries = vendor.to_vec();
        entries.append(&mut self.entries);
        self.entries = entries;
        self
    }

    /// Usage for a name, ASCII case-insensitive, first table entry wins.
    pub fn usage(&self, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, u)| u)
    }

    /// Name of a usage, first table entry wins.
    pub fn name(&self, usage: u32) -> Option<&'static str> {
        self.entries
            .iter()
            .find(|&&(_, u)| u == usage)
            .map(|&(n, _)| n)
    }

    /// Parses `UPS.PowerSummary.RemainingCapacity`. A component is a table name
    /// (case-insensitive), else hex digits (`ff860042`), else `[n]` (= `0x00FF0000 + n`).
    /// Empty components are skipped like NUT's `strtok`. Unlike NUT, which silently drops an
    /// unparsable component, that is an error here.
    pub fn parse_path(&self, s: &str) -> Result<UsagePath, Error> {
        let mut nodes = Vec::new();
        for token in s.split('.').filter(|t| !t.is_empty()) {
            let node = self
                .usage(token)
                .or_else(|| parse_hex(token))
                .or_else(|| parse_index(token))
                .ok_or_else(|| Error::UnknownUsage {
                    path: s.to_string(),
                    token: token.to_string(),
                })?;
            if nodes.len() >= MAX_PATH_DEPTH {
                return Err(Error::TooDeep {
                    path: s.to_string(),
                    max: MAX_PATH_DEPTH,
                });
            }
            nodes.push(node);
        }
        Ok(UsagePath(nodes))
    }

    /// Prints a path like NUT: table names, `[n]` for unnamed index nodes, else 8 hex digits.
    pub fn path_name(&self, p: &UsagePath) -> String {
        let mut out = String::new();
        for (i, &node) in p.0.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            self.push_node(&mut out, node);
        }
        out
    }

    /// Name of a single node as [`UsageTable::path_name`] prints it.
    pub fn node_name(&self, node: u32) -> String {
        let mut out = String::new();
        self.push_node(&mut out, node);
        out
    }

    fn push_node(&self, out: &mut String, node: u32) {
        use std::fmt::Write;
        if let Some(name) = self.name(node) {
            out.push_str(name);
        } else if node & 0xFFFF_0000 == 0x00FF_0000 {
            let _ = write!(out, "[{}]", node & 0xFFFF);
        } else {
            let _ = write!(out, "{node:08x}");
        }
    }
}

fn parse_hex(token: &str) -> Option<u32> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u64::from_str_radix(token, 16).ok()?;
    u32::try_from(v).ok()
}

fn parse_index(token: &str) -> Option<u32> {
    let digits = token.strip_prefix('[')?.strip_suffix(']')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    (n <= 0xFFFF).then_some(0x00FF_0000 + n)
}
