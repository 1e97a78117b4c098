//! The protocol messages that turn one tree into another: what the driver broadcasts after a
//! backend call changed its tree (NUT's `dstate_*` functions broadcast each change as it is
//! made; comparing before and after gives the same lines, without the backend knowing about
//! the socket).

use nut_state::{DriverMsg, Tree, Var};

/// Messages that bring a replica of `old` to `new`: `DELINFO` for removed variables; for new
/// ones their full dump; for changed ones `SETINFO` (only when the value changed),
/// `DELENUM`/`ADDENUM`, `DELRANGE`/`ADDRANGE`, `SETAUX`, `SETFLAGS`; then `DELCMD`/`ADDCMD`.
/// Values are always escaped on the wire.
pub(crate) fn diff(old: &Tree, new: &Tree) -> Vec<DriverMsg> {
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

    fn lines(old: &Tree, new: &Tree) -> Vec<String> {
        diff(old, new).iter().map(DriverMsg::to_line).collect()
    }

    #[test]
    fn only_real_changes_are_sent_and_escaped() {
        let mut a = Tree::new();
        a.set_info("ups.status", "OL");
        a.set_info("ups.id", "x");
        a.set_info("gone", "1");
        a.add_cmd("load.off");
        let mut b = a.clone();
        assert!(lines(&a, &b).is_empty());
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
            lines(&a, &b),
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
        b.del_enum("x", "1");
        b.add_enum("x", "2");
        b.del_range("x", 1, 5);
        b.add_range("x", 2, 9);
        b.set_aux("x", 3);
        b.set_flags("x", &["RW", "NUMBER"]);
        assert_eq!(
            lines(&a, &b),
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
}
