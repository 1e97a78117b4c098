//! The variable tree with NUT's semantics (`common/state.c`): case-insensitive names kept in
//! case-insensitive order, values stored raw and escaped (escaped form capped at 255 bytes),
//! enums in insertion order, ranges with NUT's "min or max equal" duplicate rule, commands
//! sorted and de-duplicated case-insensitively.

use std::borrow::Cow;
use std::collections::BTreeMap;

use nut_proto::{escape_capped, ESCAPED_VALUE_MAX};

use crate::msg::DriverMsg;
use crate::num::{atoi, strtol};

/// Variable flags as carried by `SETFLAGS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `RW`: clients may write it (`SET VAR`).
    pub rw: bool,
    /// `STRING`: a text value, its maximum length in the aux value.
    pub string: bool,
    /// `NUMBER`: a numeric value.
    pub number: bool,
    /// Driver side only (`override.*` in ups.conf): device updates and DELINFO are ignored.
    pub immutable: bool,
}

impl Flags {
    /// The words a `SETFLAGS` line carries, in NUT's order.
    pub fn words(&self) -> Vec<&'static str> {
        let mut w = Vec::new();
        if self.rw {
            w.push("RW");
        }
        if self.string {
            w.push("STRING");
        }
        if self.number {
            w.push("NUMBER");
        }
        w
    }

    fn is_empty(&self) -> bool {
        !(self.rw || self.string || self.number)
    }
}

/// One variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    name: String,
    raw: String,
    escaped: String,
    /// `SETFLAGS` words (and the driver-side immutable mark).
    pub flags: Flags,
    /// `SETAUX`: a STRING variable's maximum length.
    pub aux: i64,
    enums: Vec<String>,
    ranges: Vec<(i32, i32)>,
}

impl Var {
    fn new(name: &str, raw: &str) -> Var {
        Var {
            name: name.to_string(),
            raw: raw.to_string(),
            escaped: escape_capped(raw, ESCAPED_VALUE_MAX),
            flags: Flags::default(),
            aux: 0,
            enums: Vec::new(),
            ranges: Vec::new(),
        }
    }

    /// The name as first published (its spelling is kept even if later lines differ in case).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value as the driver sent it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The value escaped for the wire (without the surrounding quotes), at most 255 bytes.
    pub fn escaped(&self) -> &str {
        &self.escaped
    }

    /// Allowed values, escaped, in insertion order.
    pub fn enums(&self) -> &[String] {
        &self.enums
    }

    /// Allowed `[min, max]` ranges in insertion order.
    pub fn ranges(&self) -> &[(i32, i32)] {
        &self.ranges
    }
}

/// The map key of a name: lower case. NUT's names nearly always are, so a lookup borrows the
/// name and allocates nothing.
fn key(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// The tree of one UPS: variables and instant commands.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    vars: BTreeMap<String, Var>,
    cmds: BTreeMap<String, String>,
    /// While recording ([`Tree::record`]): what each changed entry was before its first change.
    journal: Option<Box<Journal>>,
}

/// Two trees are equal when their variables and commands are (a recording is not content).
impl PartialEq for Tree {
    fn eq(&self, other: &Tree) -> bool {
        self.vars == other.vars && self.cmds == other.cmds
    }
}

impl Eq for Tree {}

/// The entries a tree changed while it recorded, each with what it was before (by key, in
/// listing order): enough to tell what changed without a copy of the whole tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    vars: BTreeMap<String, Option<Var>>,
    cmds: BTreeMap<String, Option<String>>,
}

impl Journal {
    /// Variables that may have changed, each with its state before (`None`: it did not
    /// exist), in listing order. The key is the name in lower case.
    pub fn vars(&self) -> impl Iterator<Item = (&str, Option<&Var>)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_ref()))
    }

    /// Commands that may have been added or removed, each with its spelling before (`None`:
    /// it did not exist), in listing order. The key is the name in lower case.
    pub fn cmds(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.cmds.iter().map(|(k, c)| (k.as_str(), c.as_deref()))
    }
}

/// Note `old` as the state of variable `k` before its first change while recording.
fn touch_var(journal: &mut Option<Box<Journal>>, k: &str, old: Option<&Var>) {
    if let Some(j) = journal {
        if !j.vars.contains_key(k) {
            j.vars.insert(k.to_string(), old.cloned());
        }
    }
}

/// Note `old` as the spelling of command `k` before its first change while recording.
fn touch_cmd(journal: &mut Option<Box<Journal>>, k: &str, old: Option<&String>) {
    if let Some(j) = journal {
        if !j.cmds.contains_key(k) {
            j.cmds.insert(k.to_string(), old.cloned());
        }
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Look a variable up, ignoring case.
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars.get(key(name).as_ref())
    }

    /// An instant command's spelling, looked up ignoring case.
    pub fn cmd(&self, name: &str) -> Option<&str> {
        self.cmds.get(key(name).as_ref()).map(String::as_str)
    }

    /// Start recording changes (dropping any earlier recording).
    pub fn record(&mut self) {
        self.journal = Some(Box::default());
    }

    /// Stop recording and return what changed since [`Tree::record`] (empty if it was not
    /// called).
    pub fn recorded(&mut self) -> Journal {
        self.journal.take().map(|j| *j).unwrap_or_default()
    }

    /// Variables in NUT's listing order (case-insensitive alphabetical).
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.vars.values()
    }

    /// Instant commands in NUT's listing order.
    pub fn cmds(&self) -> impl Iterator<Item = &str> {
        self.cmds.values().map(String::as_str)
    }

    /// Whether the UPS has this instant command, ignoring case.
    pub fn has_cmd(&self, name: &str) -> bool {
        self.cmds.contains_key(key(name).as_ref())
    }

    /// Whether there is no variable and no command.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty() && self.cmds.is_empty()
    }

    /// Remove every variable and command.
    pub fn clear(&mut self) {
        for (k, v) in &self.vars {
            touch_var(&mut self.journal, k, Some(v));
        }
        for (k, c) in &self.cmds {
            touch_cmd(&mut self.journal, k, Some(c));
        }
        self.vars.clear();
        self.cmds.clear();
    }

    /// Create or update a variable. Returns whether anything changed: a value that differs
    /// only in letter case is no change, and an immutable variable never changes.
    pub fn set_info(&mut self, name: &str, value: &str) -> bool {
        let k = key(name);
        match self.vars.get_mut(k.as_ref()) {
            Some(var) => {
                if var.raw.eq_ignore_ascii_case(value) || var.flags.immutable {
                    return false;
                }
                touch_var(&mut self.journal, &k, Some(var));
                var.raw.clear();
                var.raw.push_str(value);
                var.escaped = escape_capped(value, ESCAPED_VALUE_MAX);
                true
            }
            None => {
                touch_var(&mut self.journal, &k, None);
                self.vars.insert(k.into_owned(), Var::new(name, value));
                true
            }
        }
    }

    /// Delete a variable with everything attached to it; immutable ones stay.
    pub fn del_info(&mut self, name: &str) -> bool {
        let k = key(name);
        match self.vars.get(k.as_ref()) {
            Some(var) if !var.flags.immutable => {
                touch_var(&mut self.journal, &k, Some(var));
                self.vars.remove(k.as_ref()).is_some()
            }
            _ => false,
        }
    }

    /// Append an allowed value unless the same (escaped) value is already there.
    pub fn add_enum(&mut self, name: &str, value: &str) -> bool {
        let k = key(name);
        let Some(var) = self.vars.get_mut(k.as_ref()) else {
            return false;
        };
        let enc = escape_capped(value, ESCAPED_VALUE_MAX);
        if var.enums.contains(&enc) {
            return false;
        }
        touch_var(&mut self.journal, &k, Some(var));
        var.enums.push(enc);
        true
    }

    /// Remove the first enum entry equal to `value`, ignoring case (as NUT compares it).
    pub fn del_enum(&mut self, name: &str, value: &str) -> bool {
        let k = key(name);
        let Some(var) = self.vars.get_mut(k.as_ref()) else {
            return false;
        };
        match var.enums.iter().position(|e| e.eq_ignore_ascii_case(value)) {
            Some(i) => {
                touch_var(&mut self.journal, &k, Some(var));
                var.enums.remove(i);
                true
            }
            None => false,
        }
    }

    /// Append a range; NUT treats it as a duplicate when min *or* max matches an existing one.
    pub fn add_range(&mut self, name: &str, min: i32, max: i32) -> bool {
        if min > max {
            return false;
        }
        let k = key(name);
        let Some(var) = self.vars.get_mut(k.as_ref()) else {
            return false;
        };
        if var.ranges.iter().any(|&(a, b)| a == min || b == max) {
            return false;
        }
        touch_var(&mut self.journal, &k, Some(var));
        var.ranges.push((min, max));
        true
    }

    /// Remove the first range whose min or max matches.
    pub fn del_range(&mut self, name: &str, min: i32, max: i32) -> bool {
        let k = key(name);
        let Some(var) = self.vars.get_mut(k.as_ref()) else {
            return false;
        };
        match var.ranges.iter().position(|&(a, b)| a == min || b == max) {
            Some(i) => {
                touch_var(&mut self.journal, &k, Some(var));
                var.ranges.remove(i);
                true
            }
            None => false,
        }
    }

    /// Set the aux value of an existing variable. Returns whether it changed.
    pub fn set_aux(&mut self, name: &str, aux: i64) -> bool {
        let k = key(name);
        match self.vars.get_mut(k.as_ref()) {
            Some(var) if var.aux != aux => {
                touch_var(&mut self.journal, &k, Some(var));
                var.aux = aux;
                true
            }
            _ => false,
        }
    }

    /// Replace the RW/STRING/NUMBER flags (unknown words are ignored). The driver-side
    /// immutable mark is kept.
    pub fn set_flags<S: AsRef<str>>(&mut self, name: &str, words: &[S]) -> bool {
        let k = key(name);
        let Some(var) = self.vars.get_mut(k.as_ref()) else {
            return false;
        };
        let mut flags = Flags {
            immutable: var.flags.immutable,
            ..Flags::default()
        };
        for w in words {
            let w = w.as_ref();
            if w.eq_ignore_ascii_case("RW") {
                flags.rw = true;
            } else if w.eq_ignore_ascii_case("STRING") {
                flags.string = true;
            } else if w.eq_ignore_ascii_case("NUMBER") {
                flags.number = true;
            }
        }
        if flags == var.flags {
            return false;
        }
        touch_var(&mut self.journal, &k, Some(var));
        var.flags = flags;
        true
    }

    /// Mark a variable immutable (driver side, `override.*`).
    pub fn set_immutable(&mut self, name: &str) {
        let k = key(name);
        if let Some(var) = self.vars.get_mut(k.as_ref()) {
            if !var.flags.immutable {
                touch_var(&mut self.journal, &k, Some(var));
                var.flags.immutable = true;
            }
        }
    }

    /// Add an instant command (listed with its first spelling). Returns whether it is new.
    pub fn add_cmd(&mut self, name: &str) -> bool {
        let k = key(name);
        if self.cmds.contains_key(k.as_ref()) {
            return false;
        }
        touch_cmd(&mut self.journal, &k, None);
        self.cmds.insert(k.into_owned(), name.to_string());
        true
    }

    /// Remove an instant command, ignoring case. Returns whether it was there.
    pub fn del_cmd(&mut self, name: &str) -> bool {
        let k = key(name);
        match self.cmds.remove(k.as_ref()) {
            Some(old) => {
                touch_cmd(&mut self.journal, &k, Some(&old));
                true
            }
            None => false,
        }
    }

    /// Apply one tree-changing message from a driver. Returns whether the tree changed.
    /// Status messages (DATAOK, DUMPDONE, PONG, TRACKING ...) are not about the tree and
    /// leave it alone.
    pub fn apply(&mut self, msg: &DriverMsg) -> bool {
        match msg {
            DriverMsg::SetInfo { var, value } => self.set_info(var, value),
            DriverMsg::DelInfo { var } => self.del_info(var),
            DriverMsg::AddEnum { var, value } => self.add_enum(var, value),
            DriverMsg::DelEnum { var, value } => self.del_enum(var, value),
            DriverMsg::AddRange { var, min, max } => self.add_range(var, *min, *max),
            DriverMsg::DelRange { var, min, max } => self.del_range(var, *min, *max),
            DriverMsg::SetAux { var, aux } => self.set_aux(var, *aux),
            DriverMsg::SetFlags { var, flags } => self.set_flags(var, flags),
            DriverMsg::AddCmd { cmd } => self.add_cmd(cmd),
            DriverMsg::DelCmd { cmd } => self.del_cmd(cmd),
            DriverMsg::DataOk
            | DriverMsg::DataStale
            | DriverMsg::DumpDone
            | DriverMsg::Pong
            | DriverMsg::Tracking { .. } => false,
        }
    }

    /// The tree as the messages of a `DUMPALL` reply (without the DATAOK/DUMPDONE trailer):
    /// per variable SETINFO, its enums, ranges, SETAUX if non-zero, SETFLAGS if any; then
    /// every ADDCMD.
    pub fn dump(&self) -> Vec<DriverMsg> {
        let mut out = Vec::new();
        for var in self.vars.values() {
            out.extend(Self::dump_var(var));
        }
        out.extend(
            self.cmds
                .values()
                .map(|c| DriverMsg::AddCmd { cmd: c.clone() }),
        );
        out
    }

    /// The messages describing one variable (for `DUMPALL` and `DUMPVALUE`).
    pub fn dump_var(var: &Var) -> Vec<DriverMsg> {
        let mut out = vec![DriverMsg::SetInfo {
            var: var.name.clone(),
            value: var.raw.clone(),
        }];
        out.extend(var.enums.iter().map(|e| DriverMsg::AddEnum {
            var: var.name.clone(),
            value: nut_proto::unescape(e),
        }));
        out.extend(var.ranges.iter().map(|&(min, max)| DriverMsg::AddRange {
            var: var.name.clone(),
            min,
            max,
        }));
        if var.aux != 0 {
            out.push(DriverMsg::SetAux {
                var: var.name.clone(),
                aux: var.aux,
            });
        }
        if !var.flags.is_empty() {
            out.push(DriverMsg::SetFlags {
                var: var.name.clone(),
                flags: var.flags.words().into_iter().map(String::from).collect(),
            });
        }
        out
    }
}

/// Parse helpers used by the codec, kept here so the number rules live in one place.
pub(crate) fn parse_range(min: &str, max: &str) -> (i32, i32) {
    (atoi(min), atoi(max))
}

pub(crate) fn parse_aux(aux: &str) -> i64 {
    strtol(aux)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_keep_first_spelling() {
        let mut t = Tree::new();
        assert!(t.set_info("UPS.Status", "OL"));
        assert!(
            !t.set_info("ups.status", "ol"),
            "case-only change is no change"
        );
        assert_eq!(t.get("ups.status").map(Var::raw), Some("OL"));
        assert!(t.set_info("ups.status", "OB"));
        assert_eq!(t.get("UPS.STATUS").map(Var::name), Some("UPS.Status"));
    }

    #[test]
    fn order_is_case_insensitive_alphabetical() {
        let mut t = Tree::new();
        for n in [
            "ups.status",
            "Battery.charge",
            "battery.charge.low",
            "device.mfr",
        ] {
            t.set_info(n, "x");
        }
        let names: Vec<_> = t.vars().map(Var::name).collect();
        assert_eq!(
            names,
            [
                "Battery.charge",
                "battery.charge.low",
                "device.mfr",
                "ups.status"
            ]
        );
    }

    #[test]
    fn values_are_escaped_and_capped() {
        let mut t = Tree::new();
        t.set_info("a", r#"say "hi" #1 \o/"#);
        assert_eq!(t.get("a").map(Var::escaped), Some(r#"say \"hi\" \#1 \\o/"#));
        t.set_info("b", &"#".repeat(200));
        assert_eq!(t.get("b").map(|v| v.escaped().len()), Some(254));
    }

    #[test]
    fn enums_ranges_and_their_quirks() {
        let mut t = Tree::new();
        assert!(!t.add_enum("nope", "x"), "base variable must exist");
        t.set_info("input.sensitivity", "low");
        assert!(t.add_enum("input.sensitivity", "low"));
        assert!(t.add_enum("input.sensitivity", "high"));
        assert!(!t.add_enum("input.sensitivity", "low"));
        assert_eq!(
            t.get("input.sensitivity").map(Var::enums),
            Some(&["low".to_string(), "high".to_string()][..])
        );
        assert!(t.del_enum("input.sensitivity", "LOW"));

        t.set_info("x", "5");
        assert!(t.add_range("x", 1, 10));
        assert!(!t.add_range("x", 1, 20), "same min counts as duplicate");
        assert!(!t.add_range("x", 5, 10), "same max counts as duplicate");
        assert!(!t.add_range("x", 30, 20), "min > max is rejected");
        assert!(t.add_range("x", 20, 30));
        assert!(t.del_range("x", 20, 99));
        assert_eq!(t.get("x").map(Var::ranges), Some(&[(1, 10)][..]));
    }

    #[test]
    fn flags_replace_and_commands_sort() {
        let mut t = Tree::new();
        t.set_info("ups.id", "x");
        t.set_flags("ups.id", &["rw", "STRING", "bogus"]);
        assert_eq!(
            t.get("ups.id").map(|v| v.flags.words()),
            Some(vec!["RW", "STRING"])
        );
        t.set_flags("ups.id", &["NUMBER"]);
        assert_eq!(
            t.get("ups.id").map(|v| v.flags.words()),
            Some(vec!["NUMBER"])
        );
        for c in ["load.on", "Beeper.disable", "load.off", "beeper.DISABLE"] {
            t.add_cmd(c);
        }
        assert_eq!(
            t.cmds().collect::<Vec<_>>(),
            ["Beeper.disable", "load.off", "load.on"]
        );
        assert!(t.has_cmd("LOAD.OFF"));
    }

    #[test]
    fn immutable_survives_updates_and_delinfo() {
        let mut t = Tree::new();
        t.set_info("battery.charge.low", "30");
        t.set_immutable("battery.charge.low");
        assert!(!t.set_info("battery.charge.low", "10"));
        assert!(!t.del_info("battery.charge.low"));
        assert_eq!(t.get("battery.charge.low").map(Var::raw), Some("30"));
    }

    #[test]
    fn dump_lists_everything_in_order() {
        let mut t = Tree::new();
        t.set_info("b", "2");
        t.set_info("a", "say \"x\"");
        t.add_enum("a", "q\"");
        t.add_range("b", 1, 3);
        t.set_aux("a", 10);
        t.set_flags("a", &["RW", "STRING"]);
        t.add_cmd("load.off");
        let lines: Vec<String> = t.dump().iter().map(DriverMsg::to_line).collect();
        assert_eq!(
            lines,
            [
                "SETINFO a \"say \\\"x\\\"\"",
                "ADDENUM a \"q\\\"\"",
                "SETAUX a 10",
                "SETFLAGS a RW STRING",
                "SETINFO b \"2\"",
                "ADDRANGE b 1 3",
                "ADDCMD load.off",
            ]
        );
    }
}
