//! The protocol messages that turn one tree into another: what the driver broadcasts after a
//! backend call changed its tree (NUT's `dstate_*` functions broadcast each change as it is
//! made; recording the changed entries and comparing them afterwards gives the same lines,
//! without the backend knowing about the socket).

use nut_state::{DriverMsg, Journal, Tree, Var};

/// Messages that bring a replica of the tree as it was before `journal` was recorded to
/// `new`: `DELINFO` for removed variables; for new ones their full dump; for changed ones
/// `SETINFO` (only when the value changed), `DELENUM`/`ADDENUM`, `DELRANGE`/`ADDRANGE`,
/// `SETAUX`, `SETFLAGS`; then `DELCMD`/`ADDCMD`. Each group in listing order, as a
/// comparison of the whole trees would give them. Values are always escaped on the wire.
pub(crate) fn changes(journal: &Journal, new: &Tree) -> Vec<DriverMsg> {
    let mut out = Vec::new();
    for (k, old) in journal.vars() {
        if let (Some(o), None) = (old, new.get(k)) {
            out.push(DriverMsg::DelInfo {
                var: o.name().to_string(),
            });
        }
    }
    for (k, old) in journal.vars() {
        match (old, new.get(k)) {
            (None, Some(v)) => out.extend(Tree::dump_var(v)),
            (Some(o), Some(v)) => var_diff(o, v, &mut out),
            (_, None) => {}
        }
    }
    for (k, old) in journal.cmds() {
        if let (Some(c), false) = (old, new.has_cmd(k)) {
            out.push(DriverMsg::DelCmd { cmd: c.to_string() });
        }
    }
    for (k, old) in journal.cmds() {
        if let (None, Some(c)) = (old, new.cmd(k)) {
            out.push(DriverMsg::AddCmd { cmd: c.to_string() });
        }
    }
    out
}

fn var_diff(o: &Var, v: &Var, out: &mut Vec<DriverMsg>) {
    let name = || v.name().to_string();
    if o.raw() != v.raw() {
        out.push(DriverMsg::SetInfo {
            var: name(),
            value: v.raw().to_string(),
        });
    }
    both_ways(
        o.enums(),
        v.enums(),
        |e| DriverMsg::DelEnum {
            var: name(),
            value: nut_proto::unescape(e),
        },
        |e| DriverMsg::AddEnum {
            var: name(),
            value: nut_proto::unescape(e),
        },
        out,
    );
    both_ways(
        o.ranges(),
        v.ranges(),
        |&(min, max)| DriverMsg::DelRange {
            var: name(),
            min,
            max,
        },
        |&(min, max)| DriverMsg::AddRange {
            var: name(),
            min,
            max,
        },
        out,
    );
    if o.aux != v.aux {
        out.push(DriverMsg::SetAux {
            var: name(),
            aux: v.aux,
        });
    }
    if o.flags.words() != v.flags.words() {
        out.push(DriverMsg::SetFlags {
            var: name(),
            flags: v.flags.words().into_iter().map(String::from).collect(),
        });
    }
}

/// `del` for each item only `old` has, then `add` for each item only `new` has, in order.
fn both_ways<T: PartialEq>(
    old: &[T],
    new: &[T],
    del: impl Fn(&T) -> DriverMsg,
    add: impl Fn(&T) -> DriverMsg,
    out: &mut Vec<DriverMsg>,
) {
    out.extend(old.iter().filter(|x| !new.contains(x)).map(del));
    out.extend(new.iter().filter(|x| !old.contains(x)).map(add));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The messages from `old` to `new` by comparing every entry of both (the oracle).
    fn diff(old: &Tree, new: &Tree) -> Vec<DriverMsg> {
        let mut out = Vec::new();
        for v in old.vars() {
            if new.get(v.name()).is_none() {
                out.push(DriverMsg::DelInfo {
                    var: v.name().to_string(),
                });
            }
        }
        for v in new.vars() {
            match old.get(v.name()) {
                None => out.extend(Tree::dump_var(v)),
                Some(o) => var_diff(o, v, &mut out),
            }
        }
        for c in old.cmds() {
            if !new.has_cmd(c) {
                out.push(DriverMsg::DelCmd { cmd: c.to_string() });
            }
        }
        for c in new.cmds() {
            if !old.has_cmd(c) {
                out.push(DriverMsg::AddCmd { cmd: c.to_string() });
            }
        }
        out
    }

    /// The lines `changes` gives for `new`, a copy of `old` that recorded its changes, after
    /// checking that the oracle gives the same.
    fn lines(old: &Tree, new: &mut Tree) -> Vec<String> {
        let journal = new.recorded();
        let got: Vec<String> = changes(&journal, new)
            .iter()
            .map(DriverMsg::to_line)
            .collect();
        let want: Vec<String> = diff(old, new).iter().map(DriverMsg::to_line).collect();
        assert_eq!(got, want);
        got
    }

    #[test]
    fn only_real_changes_are_sent_and_escaped() {
        let mut a = Tree::new();
        a.set_info("ups.status", "OL");
        a.set_info("ups.id", "x");
        a.set_info("gone", "1");
        a.add_cmd("load.off");
        let mut b = a.clone();
        b.record();
        assert!(lines(&a, &mut b).is_empty());
        b.record();
        b.set_info("ups.status", "ol"); // case-only: no change in the tree
        b.set_info("ups.id", r#"say "hi" #1"#);
        b.del_info("gone");
        b.set_info("new", "v");
        b.add_enum("new", "a\"");
        b.set_flags("new", &["RW", "STRING"]);
        b.set_aux("new", 5);
        b.del_cmd("load.off");
        b.add_cmd("beeper.disable");
        assert_eq!(
            lines(&a, &mut b),
            [
                "DELINFO gone",
                "SETINFO new \"v\"",
                "ADDENUM new \"a\\\"\"",
                "SETAUX new 5",
                "SETFLAGS new RW STRING",
                "SETINFO ups.id \"say \\\"hi\\\" \\#1\"",
                "DELCMD load.off",
                "ADDCMD beeper.disable",
            ]
        );
    }

    #[test]
    fn metadata_changes() {
        let mut a = Tree::new();
        a.set_info("x", "1");
        a.add_enum("x", "1");
        a.add_range("x", 1, 5);
        a.set_flags("x", &["RW"]);
        let mut b = a.clone();
        b.record();
        b.del_enum("x", "1");
        b.add_enum("x", "2");
        b.del_range("x", 1, 5);
        b.add_range("x", 2, 9);
        b.set_aux("x", 3);
        b.set_flags("x", &["RW", "NUMBER"]);
        assert_eq!(
            lines(&a, &mut b),
            [
                "DELENUM x \"1\"",
                "ADDENUM x \"2\"",
                "DELRANGE x 1 5",
                "ADDRANGE x 2 9",
                "SETAUX x 3",
                "SETFLAGS x RW NUMBER",
            ]
        );
    }

    /// One change a backend can make, on a small set of names so they collide.
    fn op() -> impl Strategy<Value = (u8, usize, usize, i32)> {
        (0u8..12, 0usize..4, 0usize..4, 0i32..3)
    }

    fn apply(t: &mut Tree, (kind, n, v, x): (u8, usize, usize, i32)) {
        const NAMES: [&str; 4] = ["a", "B.x", "b.x", "ups.status"];
        const VALUES: [&str; 4] = ["1", "OL", "ol", "say \"hi\""];
        let (name, value) = (NAMES[n], VALUES[v]);
        match kind {
            0 | 1 => {
                t.set_info(name, value);
            }
            2 => {
                t.del_info(name);
            }
            3 => {
                t.add_enum(name, value);
            }
            4 => {
                t.del_enum(name, value);
            }
            5 => {
                t.add_range(name, x, x + 1);
            }
            6 => {
                t.del_range(name, x, x + 5);
            }
            7 => {
                t.set_aux(name, i64::from(x));
            }
            8 => {
                t.set_flags(name, &["RW", "STRING", "NUMBER"][..v.min(3)]);
            }
            9 => {
                t.add_cmd(name);
            }
            10 => {
                t.del_cmd(name);
            }
            _ => {
                if x == 0 {
                    t.clear()
                } else {
                    t.set_immutable(name)
                }
            }
        }
    }

    proptest! {
        /// Whatever a backend does between two polls, the recorded changes give exactly the
        /// lines a comparison of the whole trees gives.
        #[test]
        fn recorded_changes_equal_the_whole_comparison(
            before in proptest::collection::vec(op(), 0..20),
            during in proptest::collection::vec(op(), 0..20),
        ) {
            let mut old = Tree::new();
            for o in before {
                apply(&mut old, o);
            }
            let mut new = old.clone();
            new.record();
            for o in during {
                apply(&mut new, o);
            }
            lines(&old, &mut new);
        }
    }
}
