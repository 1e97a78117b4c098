//! LIST: UPS, VAR, RW, CMD, CLIENT, ENUM and RANGE (`server/netlist.c` order). Errors come
//! instead of the BEGIN line; the envelope echoes the client's spelling of names. Items
//! borrow names and escaped values from the tree: a long list costs one vector of items.

use nut_proto::{ErrCode, List, ListItem, ListReply, Reply, Text};

use super::{reply, Ctx, NO_DESCRIPTION};
use crate::state::{Secs, Server};

pub(super) fn list<'a>(ctx: Ctx<'a, '_>, query: List) -> Reply<'a> {
    let (server, now): (&'a Server, Secs) = (ctx.server, ctx.now);
    reply(items(server, now, &query).map(|items| Reply::List(ListReply { query, items })))
}

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
        List::Var { ups } | List::Rw { ups } => {
            let rw_only = matches!(query, List::Rw { .. });
            let ups = server.available_ups(ups, now)?;
            ups.tree
                .vars()
                .filter(|v| !rw_only || v.flags.rw)
                .map(|v| ListItem::Var {
                    var: v.name().into(),
                    value: Text::Wire(v.escaped()),
                    fsd: !rw_only
                        && ups.fsd.is_set()
                        && v.name().eq_ignore_ascii_case("ups.status"),
                })
                .collect()
        }
        List::Cmd { ups } => server
            .available_ups(ups, now)?
            .tree
            .cmds()
            .map(|cmd| ListItem::Cmd(cmd.into()))
            .collect(),
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
                            addr: c.addr.as_str().into(),
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
