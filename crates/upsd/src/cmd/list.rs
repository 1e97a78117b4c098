//! LIST: UPS, VAR, RW, CMD, CLIENT, ENUM and RANGE (`server/netlist.c` order). Errors come
//! instead of the BEGIN line; the envelope echoes the client's spelling of names. Items
//! borrow names and escaped values from the tree: a long list costs one vector of items.
//! The replies to LIST VAR, RW and CMD are kept rendered per UPS ([`Rendered`]) and sent
//! as they are until the tree or the FSD latch changes: a request costs one copy.

use nut_proto::{ErrCode, List, ListItem, ListReply, Reply, Text};
use nut_state::Tree;

use super::{reply, Ctx, NO_DESCRIPTION};
use crate::state::{Secs, Server};

/// The rendered replies to `LIST VAR`, `LIST RW` and `LIST CMD` of one UPS, one each, kept
/// with what they were rendered from: the query as the client spelled it (the reply echoes
/// it), the tree's version and the FSD latch (`FSD` in front of `ups.status`). Staleness and
/// the driver's connection are checked before, on every request.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    /// LIST VAR, RW, CMD.
    slots: [Option<Slot>; 3],
}

#[derive(Debug)]
struct Slot {
    query: List,
    version: u64,
    fsd: bool,
    bytes: Vec<u8>,
}

pub(super) fn list<'a>(ctx: Ctx<'a, '_>, query: List) -> Reply<'a> {
    let (server, now) = (ctx.server, ctx.now);
    if let Some((slot, name)) = kept(&query) {
        return reply(rendered(server, now, name, slot, &query));
    }
    let server: &'a Server = server;
    reply(items(server, now, &query).map(|items| Reply::List(ListReply { query, items })))
}

/// The slot of [`Rendered`] and the UPS of a LIST VAR, RW or CMD.
fn kept(query: &List) -> Option<(usize, &str)> {
    match query {
        List::Var { ups } => Some((0, ups)),
        List::Rw { ups } => Some((1, ups)),
        List::Cmd { ups } => Some((2, ups)),
        _ => None,
    }
}

/// LIST VAR, RW or CMD of UPS `name` (in `slot` of [`Rendered`]): the availability checks,
/// then the reply kept rendered, rendered again first if what it shows changed.
fn rendered<'a>(
    server: &'a mut Server,
    now: Secs,
    name: &str,
    slot: usize,
    query: &List,
) -> Result<Reply<'a>, ErrCode> {
    let maxage = server.maxage;
    let ups = server.ups_mut(name).ok_or(ErrCode::UnknownUps)?;
    ups.available(now, maxage)?;
    let (version, fsd) = (ups.tree.version(), ups.fsd.is_set());
    let slot = &mut ups.rendered.slots[slot];
    let fresh = slot
        .as_ref()
        .is_some_and(|s| s.version == version && s.fsd == fsd && s.query == *query);
    if !fresh {
        let mut bytes = slot.take().map(|s| s.bytes).unwrap_or_default();
        bytes.clear();
        Reply::List(ListReply {
            items: tree_items(&ups.tree, fsd, query),
            query: query.clone(),
        })
        .render_into(&mut bytes);
        *slot = Some(Slot {
            query: query.clone(),
            version,
            fsd,
            bytes,
        });
    }
    Ok(Reply::Rendered(slot.as_ref().map_or(&[], |s| &s.bytes)))
}

/// The items of LIST VAR, RW or CMD, from the tree and the FSD latch.
fn tree_items<'a>(tree: &'a Tree, fsd: bool, query: &List) -> Vec<ListItem<'a>> {
    match query {
        List::Cmd { .. } => tree.cmds().map(|cmd| ListItem::Cmd(cmd.into())).collect(),
        _ => {
            let rw_only = matches!(query, List::Rw { .. });
            tree.vars()
                .filter(|v| !rw_only || v.flags.rw)
                .map(|v| ListItem::Var {
                    var: v.name().into(),
                    value: Text::Wire(v.escaped()),
                    fsd: !rw_only && fsd && v.name().eq_ignore_ascii_case("ups.status"),
                })
                .collect()
        }
    }
}

/// The items of a LIST (those of VAR, RW and CMD are sent from [`Rendered`] instead).
fn items<'a>(server: &'a Server, now: Secs, query: &List) -> Result<Vec<ListItem<'a>>, ErrCode> {
    Ok(match query {
        List::Ups => server
            .upses
            .iter()
            .map(|ups| ListItem::Ups {
                name: ups.name.as_str().into(),
                desc: match &ups.desc {
                    Some(desc) => Text::plain(desc.as_str()),
                    None => Text::Wire(NO_DESCRIPTION),
                },
            })
            .collect(),
        List::Var { ups } | List::Rw { ups } | List::Cmd { ups } => {
            let ups = server.available_ups(ups, now)?;
            tree_items(&ups.tree, ups.fsd.is_set(), query)
        }
        // No availability check and no login needed; items carry the canonical UPS name.
        List::Client { ups } => {
            let ups = server.ups(ups).ok_or(ErrCode::UnknownUps)?;
            server
                .clients
                .iter()
                .filter_map(|c| {
                    let login = c.login_ups.as_deref()?;
                    login
                        .eq_ignore_ascii_case(&ups.name)
                        .then(|| ListItem::Client {
                            ups: login.into(),
                            addr: c.addr.to_string().into(),
                        })
                })
                .collect()
        }
        // Enum entries are kept escaped.
        List::Enum { ups, var } => server
            .available_ups(ups, now)?
            .var(var)?
            .enums()
            .iter()
            .map(|e| ListItem::Enum(Text::Wire(e)))
            .collect(),
        List::Range { ups, var } => server
            .available_ups(ups, now)?
            .var(var)?
            .ranges()
            .iter()
            .map(|(min, max)| ListItem::Range {
                min: Text::plain(min.to_string()),
                max: Text::plain(max.to_string()),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    #[test]
    fn lists_echo_the_client_spelling() {
        Rig::new().talk(&[
            ("list ups", "BEGIN LIST UPS\nUPS ups \"Rack \\\"A\\\"\"\nUPS other \"Description unavailable\"\nEND LIST UPS"),
            ("LIST RW UPS", "BEGIN LIST RW UPS\nRW UPS input.sensitivity \"low\"\nRW UPS ups.delay.shutdown \"20\"\nRW UPS ups.id \"x\\#y\"\nEND LIST RW UPS"),
            ("LIST CMD ups", "BEGIN LIST CMD ups\nCMD ups beeper.disable\nCMD ups load.off\nEND LIST CMD ups"),
            ("LIST ENUM ups input.sensitivity", "BEGIN LIST ENUM ups input.sensitivity\nENUM ups input.sensitivity \"low\"\nENUM ups input.sensitivity \"high\"\nEND LIST ENUM ups input.sensitivity"),
            ("LIST RANGE ups ups.delay.shutdown", "BEGIN LIST RANGE ups ups.delay.shutdown\nRANGE ups ups.delay.shutdown \"0\" \"600\"\nEND LIST RANGE ups ups.delay.shutdown"),
            ("LIST ENUM ups battery.charge", "BEGIN LIST ENUM ups battery.charge\nEND LIST ENUM ups battery.charge"),
            ("LIST", "ERR INVALID-ARGUMENT"),
            ("LIST VAR", "ERR INVALID-ARGUMENT"),
            ("LIST ENUM ups", "ERR INVALID-ARGUMENT"),
            ("LIST FOO ups x", "ERR INVALID-ARGUMENT"),
            ("LIST VAR other", "ERR DRIVER-NOT-CONNECTED"),
            ("LIST CLIENT nope", "ERR UNKNOWN-UPS"),
            ("LIST ENUM ups nope", "ERR VAR-NOT-SUPPORTED"),
        ]);
    }

    #[test]
    fn list_var_is_sorted_and_clients_show_logins() {
        let mut rig = Rig::new();
        rig.talk(&[(
            "LIST VAR ups",
            "BEGIN LIST VAR ups\nVAR ups battery.charge \"100\"\nVAR ups input.sensitivity \"low\"\nVAR ups ups.delay.shutdown \"20\"\nVAR ups ups.id \"x\\#y\"\nVAR ups ups.status \"OL\"\nEND LIST VAR ups",
        )]);
        rig.run(&["USERNAME secondary", "PASSWORD pw", "LOGIN UPS"]);
        let mut d = rig.client();
        rig.talk_as(
            &mut d,
            &[(
                "LIST CLIENT Ups",
                "BEGIN LIST CLIENT Ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT Ups",
            )],
        );
    }
}

#[cfg(test)]
mod kept_tests {
    use crate::cmd::testutil::Rig;
    use crate::link::DriverLink;

    /// A LIST reply: `BEGIN LIST <query>`, an item line per entry (`<kind> <ups> <entry>`),
    /// `END LIST <query>`.
    fn listed(kind: &str, ups: &str, entries: &[&str]) -> String {
        let mut text = format!("BEGIN LIST {kind} {ups}\n");
        for entry in entries {
            text += &format!("{kind} {ups} {entry}\n");
        }
        text + &format!("END LIST {kind} {ups}")
    }

    /// The sample's variables, `ups.status` last.
    fn vars(status: &str) -> [String; 5] {
        [
            "battery.charge \"100\"".into(),
            "input.sensitivity \"low\"".into(),
            "ups.delay.shutdown \"20\"".into(),
            "ups.id \"x\\#y\"".into(),
            format!("ups.status \"{status}\""),
        ]
    }

    fn var_list(ups: &str, vars: &[String]) -> String {
        listed(
            "VAR",
            ups,
            &vars.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    }

    /// Each LIST VAR, RW and CMD is kept rendered: every change to what it shows must show.
    #[test]
    fn kept_lists_show_every_change() {
        let mut rig = Rig::new();
        let rw = [
            "input.sensitivity \"low\"",
            "ups.delay.shutdown \"20\"",
            "ups.id \"x\\#y\"",
        ];
        rig.talk(&[
            ("LIST VAR ups", &var_list("ups", &vars("OL"))),
            ("LIST RW ups", &listed("RW", "ups", &rw)),
            (
                "LIST CMD ups",
                &listed("CMD", "ups", &["beeper.disable", "load.off"]),
            ),
        ]);
        // the driver's updates, and the client's spelling echoed
        rig.status("OB DISCHRG");
        rig.driver("SETINFO battery.charge \"90\"");
        let mut now = vars("OB DISCHRG");
        now[0] = "battery.charge \"90\"".into();
        rig.talk(&[
            ("LIST VAR ups", &var_list("ups", &now)),
            ("LIST VAR UPS", &var_list("UPS", &now)),
            ("LIST VAR ups", &var_list("ups", &now)),
        ]);
        rig.driver("SETFLAGS battery.charge RW");
        rig.driver("ADDCMD test.battery.start");
        rig.driver("DELINFO ups.id");
        now[3] = "ups.status \"OB DISCHRG\"".into();
        rig.talk(&[
            ("LIST VAR ups", &var_list("ups", &now[..4])),
            (
                "LIST RW ups",
                &listed("RW", "ups", &["battery.charge \"90\"", rw[0], rw[1]]),
            ),
            (
                "LIST CMD ups",
                &listed(
                    "CMD",
                    "ups",
                    &["beeper.disable", "load.off", "test.battery.start"],
                ),
            ),
        ]);
        // upsd's own FSD latch, in front of ups.status
        rig.talk(&[
            ("USERNAME admin", "OK"),
            ("PASSWORD pw", "OK"),
            ("FSD ups", "OK FSD-SET"),
        ]);
        now[3] = "ups.status \"FSD OB DISCHRG\"".into();
        rig.talk(&[("LIST VAR ups", &var_list("ups", &now[..4]))]);
        // stale data and a lost driver answer errors, a reconnected one its fresh tree
        rig.driver("DATASTALE");
        rig.talk(&[("LIST VAR ups", "ERR DATA-STALE")]);
        rig.driver("DATAOK");
        rig.talk(&[("LIST VAR ups", &var_list("ups", &now[..4]))]);
        let ups = rig.server.ups_mut("ups").expect("UPS ups");
        ups.on_disconnect();
        rig.talk(&[
            ("LIST VAR ups", "ERR DRIVER-NOT-CONNECTED"),
            ("LIST CMD ups", "ERR DRIVER-NOT-CONNECTED"),
        ]);
        let (ours, _driver) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        let ups = rig.server.ups_mut("ups").expect("UPS ups");
        ups.on_connect(DriverLink::new(ours), 100);
        rig.talk(&[
            (
                "LIST VAR ups",
                &var_list("ups", &["ups.status \"FSD WAIT\"".into()]),
            ),
            ("LIST RW ups", &listed("RW", "ups", &[])),
            ("LIST CMD ups", &listed("CMD", "ups", &[])),
        ]);
    }
}
