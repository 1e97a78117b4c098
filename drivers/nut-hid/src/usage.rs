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
///
/// Both directions are kept sorted with the losing duplicates dropped, so a lookup is a binary
/// search: the driver resolves every mapping row's path at start-up, a few hundred names
/// against a few hundred entries.
#[derive(Debug, Clone)]
pub struct UsageTable {
    /// Every entry, in priority order.
    entries: Vec<(&'static str, u32)>,
    /// By name, ASCII case-insensitive; the first entry of each name in priority order.
    by_name: Vec<(&'static str, u32)>,
    /// By usage; the first name of each usage in priority order.
    by_usage: Vec<(u32, &'static str)>,
}

impl Default for UsageTable {
    fn default() -> Self {
        Self::generic()
    }
}

impl UsageTable {
    /// An empty table (every usage prints as hex).
    pub fn empty() -> Self {
        Self::from_entries(Vec::new())
    }

    /// NUT's generic table: Power Device (0x84) then Battery System (0x85) usages. This is
    /// what the EXPLORE subdriver names paths with.
    pub fn generic() -> Self {
        Self::from_entries(generic_entries().collect())
    }

    /// Puts a vendor table in front (it wins over later tables for both directions).
    pub fn with_vendor(self, vendor: &[(&'static str, u32)]) -> Self {
        let mut entries = vendor.to_vec();
        entries.extend(self.entries);
        Self::from_entries(entries)
    }

    /// Indexes `entries`, given in priority order.
    fn from_entries(entries: Vec<(&'static str, u32)>) -> Self {
        let mut by_name = entries.clone();
        // Stable sorts keep priority order among equals, so dedup keeps the winner.
        by_name.sort_by(|a, b| cmp_no_case(a.0, b.0));
        by_name.dedup_by(|later, first| later.0.eq_ignore_ascii_case(first.0));
        let mut by_usage: Vec<(u32, &'static str)> = entries.iter().map(|&(n, u)| (u, n)).collect();
        by_usage.sort_by_key(|&(u, _)| u);
        by_usage.dedup_by_key(|&mut (u, _)| u);
        UsageTable {
            entries,
            by_name,
            by_usage,
        }
    }

    /// Usage for a name, ASCII case-insensitive, first table entry wins.
    pub fn usage(&self, name: &str) -> Option<u32> {
        let i = self
            .by_name
            .binary_search_by(|(n, _)| cmp_no_case(n, name))
            .ok()?;
        Some(self.by_name[i].1)
    }

    /// Name of a usage, first table entry wins.
    pub fn name(&self, usage: u32) -> Option<&'static str> {
        let i = self
            .by_usage
            .binary_search_by_key(&usage, |&(u, _)| u)
            .ok()?;
        Some(self.by_usage[i].1)
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

/// The generic table's entries in priority order.
fn generic_entries() -> impl Iterator<Item = (&'static str, u32)> {
    let page = |p: u32, list: &'static [(u16, &'static str)]| {
        list.iter()
            .map(move |&(id, name)| (name, (p << 16) | u32::from(id)))
    };
    page(0x84, tables::POWER_DEVICE).chain(page(0x85, tables::BATTERY_SYSTEM))
}

/// Orders names as their ASCII lowercase forms would be ordered.
fn cmp_no_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The sorted indexes answer what a search of the entries in priority order answers, for
    /// every name (any case) and usage, with a vendor table that overrides generic names and
    /// usages both ways.
    #[test]
    fn indexes_agree_with_a_search_in_priority_order() {
        let vendor = [
            ("Voltage", 0xff86_0001),   // a generic name, another usage
            ("MyVoltage", 0x0084_0030), // a generic usage (Voltage), another name
            ("APCSensitivity", 0xff86_0061),
            ("apcsensitivity", 0xff86_0062), // a loser by case
        ];
        let t = UsageTable::generic().with_vendor(&vendor);
        let entries: Vec<_> = vendor.iter().copied().chain(generic_entries()).collect();
        for &(name, usage) in &entries {
            let first_by_name = entries
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|&(_, u)| u);
            let first_by_usage = entries.iter().find(|&&(_, u)| u == usage).map(|&(n, _)| n);
            assert_eq!(t.usage(name), first_by_name, "{name}");
            assert_eq!(t.usage(&name.to_ascii_uppercase()), first_by_name, "{name}");
            assert_eq!(t.name(usage), first_by_usage, "{usage:08x}");
        }
        assert_eq!(t.usage("Voltage"), Some(0xff86_0001));
        assert_eq!(t.name(0x0084_0030), Some("MyVoltage"));
        assert_eq!(t.usage("APCSENSITIVITY"), Some(0xff86_0061));
        assert_eq!(t.usage("NoSuchName"), None);
        assert_eq!(t.name(0x1234_5678), None);
    }
}
