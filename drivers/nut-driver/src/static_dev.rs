//! A device-less backend that serves a dummy-ups-like `.dev` file, selected with
//! `backend = static:<file>` (or `-x backend=static:<file>`): for demos without hardware and
//! for the driver's own end-to-end tests.
//!
//! File format, one item per line (`#` starts a comment line):
//! * `name: value` — a variable (as printed by `upsc`); `driver.*` lines are ignored, the core
//!   publishes its own, as dummy-ups does;
//! * `!rw <name> [<maxlen>]` — make a variable writable (`RW`, and `STRING:<maxlen>` if given);
//! * `!cmd <name>` — an instant command;
//! * `!enum <name> <value>...` and `!range <name> <min> <max>` — allowed values.
//!
//! The file is re-read when its modification time changes (checked each poll). While it is
//! missing the backend reports the device as disconnected, so the data goes stale and comes
//! back when the file does. Commands and writes are logged (`static backend: ...` at info
//! level); writes change the variable; `shutdown` only logs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use nut_state::Tree;

use crate::backend::{Backend, BackendError, CmdResult};
use crate::config::DriverConfig;

/// What a `.dev` file describes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DevFile {
    /// `name: value` lines.
    pub(crate) vars: Vec<(String, String)>,
    /// `!rw` lines.
    pub(crate) rw: Vec<(String, Option<i64>)>,
    /// `!cmd` lines.
    pub(crate) cmds: Vec<String>,
    /// `!enum` lines, one entry per value.
    pub(crate) enums: Vec<(String, String)>,
    /// `!range` lines.
    pub(crate) ranges: Vec<(String, i32, i32)>,
}

impl DevFile {
    /// Parse the text of a `.dev` file; bad lines are skipped with a warning.
    pub(crate) fn parse(text: &str) -> DevFile {
        let mut d = DevFile::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('!') {
                let words = nut_proto::split_line(rest).unwrap_or_default();
                let w: Vec<&str> = words.iter().map(String::as_str).collect();
                match w.as_slice() {
                    ["rw", name] => d.rw.push((name.to_string(), None)),
                    ["rw", name, len] => d.rw.push((name.to_string(), len.parse().ok())),
                    ["cmd", name] => d.cmds.push(name.to_string()),
                    ["enum", name, values @ ..] => d
                        .enums
                        .extend(values.iter().map(|v| (name.to_string(), v.to_string()))),
                    ["range", name, min, max] => {
                        if let (Ok(a), Ok(b)) = (min.parse(), max.parse()) {
                            d.ranges.push((name.to_string(), a, b));
                        }
                    }
                    _ => tracing::warn!("static backend: line {}: ignored: {line}", n + 1),
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) => {
                    let name = name.trim();
                    if !name.to_ascii_lowercase().starts_with("driver.") {
                        d.vars.push((name.to_string(), value.trim().to_string()));
                    }
                }
                None => tracing::warn!("static backend: line {}: ignored: {line}", n + 1),
            }
        }
        d
    }
}

/// The backend; see the module documentation.
#[derive(Debug)]
pub struct StaticBackend {
    path: PathBuf,
    mtime: Option<SystemTime>,
    published: BTreeSet<String>,
}

impl StaticBackend {
    /// A backend for the `.dev` file at `path`.
    pub fn new(path: &Path) -> StaticBackend {
        StaticBackend {
            path: path.to_path_buf(),
            mtime: None,
            published: BTreeSet::new(),
        }
    }

    fn mtime(&self) -> Result<SystemTime, BackendError> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(|e| BackendError::Disconnected(format!("{}: {e}", self.path.display())))
    }

    fn load(&mut self, tree: &mut Tree) -> Result<(), BackendError> {
        let mtime = self.mtime()?;
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| BackendError::Disconnected(format!("{}: {e}", self.path.display())))?;
        let d = DevFile::parse(&text);
        let mut now = BTreeSet::new();
        for (name, value) in &d.vars {
            tree.set_info(name, value);
            now.insert(name.to_ascii_lowercase());
        }
        for gone in self.published.difference(&now) {
            tree.del_info(gone);
        }
        for (name, len) in &d.rw {
            match len {
                Some(n) => {
                    tree.set_flags(name, &["RW", "STRING"]);
                    tree.set_aux(name, *n);
                }
                None => {
                    tree.set_flags(name, &["RW"]);
                }
            }
        }
        for (name, v) in &d.enums {
            tree.add_enum(name, v);
        }
        for (name, a, b) in &d.ranges {
            tree.add_range(name, *a, *b);
        }
        for c in &d.cmds {
            tree.add_cmd(c);
        }
        self.published = now;
        self.mtime = Some(mtime);
        Ok(())
    }
}

impl Backend for StaticBackend {
    fn init(&mut self, tree: &mut Tree, _cfg: &DriverConfig) -> Result<(), BackendError> {
        self.load(tree)
            .map_err(|e| BackendError::Fatal(e.to_string()))
    }

    fn update(&mut self, tree: &mut Tree, _now: Instant) -> Result<(), BackendError> {
        let m = self.mtime()?;
        if Some(m) != self.mtime {
            self.load(tree)?;
        }
        Ok(())
    }

    fn reconnect(&mut self, _tree: &mut Tree) -> Result<(), BackendError> {
        self.mtime()?;
        self.mtime = None;
        Ok(())
    }

    fn instcmd(&mut self, tree: &mut Tree, cmd: &str, param: Option<&str>) -> CmdResult {
        if !tree.has_cmd(cmd) {
            tracing::info!("static backend: unknown INSTCMD {cmd}");
            return CmdResult::Unknown;
        }
        match param {
            Some(p) => tracing::info!("static backend: INSTCMD {cmd} {p}"),
            None => tracing::info!("static backend: INSTCMD {cmd}"),
        }
        CmdResult::Handled
    }

    fn setvar(&mut self, tree: &mut Tree, var: &str, value: &str) -> CmdResult {
        match tree.get(var) {
            Some(v) if v.flags.rw => {
                if let (true, Ok(max)) = (v.flags.string, usize::try_from(v.aux)) {
                    if max > 0 && value.len() > max {
                        return CmdResult::Invalid;
                    }
                }
                tracing::info!("static backend: SET {var} {value}");
                tree.set_info(var, value);
                CmdResult::Handled
            }
            _ => {
                tracing::info!("static backend: SET of unknown or read-only {var}");
                CmdResult::Unknown
            }
        }
    }

    fn shutdown(&mut self, _tree: &mut Tree) -> Result<(), BackendError> {
        tracing::info!("static backend: shutdown (kill power)");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vars_and_directives() {
        let d = DevFile::parse(
            "# c\nups.status: OL CHRG\ndriver.name: x\n!rw ups.delay.shutdown 10\n\
             !cmd beeper.disable\n!enum input.sensitivity low \"very high\"\n!range x 1 9\njunk\n",
        );
        assert_eq!(d.vars, [("ups.status".to_string(), "OL CHRG".to_string())]);
        assert_eq!(d.rw, [("ups.delay.shutdown".to_string(), Some(10))]);
        assert_eq!(d.cmds, ["beeper.disable"]);
        assert_eq!(d.enums.len(), 2);
        assert_eq!(d.enums[1].1, "very high");
        assert_eq!(d.ranges, [("x".to_string(), 1, 9)]);
    }
}
