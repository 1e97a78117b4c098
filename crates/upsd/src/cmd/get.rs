//! GET: NUMLOGINS, UPSDESC, VAR, TYPE, DESC, CMDDESC and TRACKING (`server/netget.c` order).
//! Answers echo the UPS and variable names as the client spelled them.

use std::borrow::Cow;

use nut_proto::{ErrCode, Get, GetReply, Reply, Text, VarType};

use super::misc::{SERVER_VERSION, VER_TEXT};
use super::{reply, Ctx, NO_DESCRIPTION};
use crate::state::{Secs, Server};

pub(super) fn get<'a>(ctx: Ctx<'a, '_>, query: Get) -> Reply<'a> {
    let tracking = ctx.session.tracking;
    let (server, now): (&'a Server, Secs) = (ctx.server, ctx.now);
    reply(answer(server, now, tracking, query).map(Reply::Get))
}

fn answer(server: &Server, now: Secs, tracking: bool, query: Get) -> Result<GetReply<'_>, ErrCode> {
    Ok(match query {
        Get::Tracking(None) => GetReply::TrackingOn(tracking),
        Get::Tracking(Some(_)) if !tracking => return Err(ErrCode::FeatureNotConfigured),
        Get::Tracking(Some(id)) => GetReply::Tracking(server.tracking.get(&id)),
        Get::NumLogins { ups } => {
            let count = server.available_ups(&ups, now)?.numlogins;
            GetReply::NumLogins {
                ups: ups.into(),
                count,
            }
        }
        Get::UpsDesc { ups } => {
            let desc = match &server.ups(&ups).ok_or(ErrCode::UnknownUps)?.desc {
                Some(desc) => Text::plain(desc.as_str()),
                None => Text::Wire("Unavailable"),
            };
            GetReply::UpsDesc {
                ups: ups.into(),
                desc,
            }
        }
        Get::Var { ups, var } => var_value(server, now, ups, var)?,
        Get::Type { ups, var } => {
            let v = server.available_ups(&ups, now)?.var(&var)?;
            let ty = VarType {
                rw: v.flags.rw,
                enumerated: !v.enums().is_empty(),
                ranged: !v.ranges().is_empty(),
                string: v.flags.string.then_some(v.aux),
                number: !v.flags.string,
            };
            GetReply::Type {
                ups: ups.into(),
                var: var.into(),
                ty,
            }
        }
        // The variable or command need not exist on the UPS; unknown names get a fixed
        // text. Stock sends the text unescaped.
        Get::Desc { ups, var } => {
            server.available_ups(&ups, now)?;
            let text = server.descriptions.var(&var);
            GetReply::Desc {
                ups: ups.into(),
                var: var.into(),
                text: Text::Wire(text.unwrap_or(NO_DESCRIPTION)),
            }
        }
        Get::CmdDesc { ups, cmd } => {
            server.available_ups(&ups, now)?;
            let text = server.descriptions.cmd(&cmd);
            GetReply::CmdDesc {
                ups: ups.into(),
                cmd: cmd.into(),
                text: Text::Wire(text.unwrap_or(NO_DESCRIPTION)),
            }
        }
    })
}

fn var_value(
    server: &Server,
    now: Secs,
    ups: String,
    var: String,
) -> Result<GetReply<'_>, ErrCode> {
    // server.* is answered by upsd itself, whatever the UPS name (and named in lower case).
    if var
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("server."))
    {
        let (name, value) = if var.eq_ignore_ascii_case("server.info") {
            ("server.info", VER_TEXT)
        } else if var.eq_ignore_ascii_case("server.version") {
            ("server.version", SERVER_VERSION)
        } else {
            return Err(ErrCode::VarNotSupported);
        };
        return Ok(GetReply::Var {
            ups: ups.into(),
            var: Cow::Borrowed(name),
            value: Text::Wire(value),
            fsd: false,
        });
    }
    let u = server.available_ups(&ups, now)?;
    let v = u.var(&var)?;
    let fsd = u.fsd.is_set() && var.eq_ignore_ascii_case("ups.status");
    Ok(GetReply::Var {
        ups: ups.into(),
        var: var.into(),
        value: Text::Wire(v.escaped()),
        fsd,
    })
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    #[test]
    fn get_forms_and_errors_in_stock_order() {
        let server_version = format!("VAR nope server.version \"{}\"", super::SERVER_VERSION);
        Rig::new().talk(&[
            ("GET", "ERR INVALID-ARGUMENT"),
            ("GET VAR", "ERR INVALID-ARGUMENT"),
            ("GET VAR ups", "ERR INVALID-ARGUMENT"),
            ("GET NUMLOGINS UPS", "NUMLOGINS UPS 0"),
            ("GET UPSDESC ups", "UPSDESC ups \"Rack \\\"A\\\"\""),
            ("GET UPSDESC other", "UPSDESC other \"Unavailable\""),
            ("GET VAR UPS Ups.Status", "VAR UPS Ups.Status \"OL\""),
            ("GET VAR nope ups.status", "ERR UNKNOWN-UPS"),
            ("GET VAR nope server.version x", &server_version),
            ("GET VAR ups server.nope", "ERR VAR-NOT-SUPPORTED"),
            ("GET VAR ups nope", "ERR VAR-NOT-SUPPORTED"),
            ("GET VAR other ups.status", "ERR DRIVER-NOT-CONNECTED"),
            ("GET TYPE ups ups.id", "TYPE ups ups.id RW STRING:8"),
            (
                "GET TYPE ups input.sensitivity",
                "TYPE ups input.sensitivity RW ENUM NUMBER",
            ),
            (
                "GET TYPE ups ups.delay.shutdown",
                "TYPE ups ups.delay.shutdown RW RANGE NUMBER",
            ),
            (
                "GET TYPE ups battery.charge",
                "TYPE ups battery.charge NUMBER",
            ),
            ("GET VAR ups ups.id", "VAR ups ups.id \"x\\#y\""),
            ("GET FOO ups x", "ERR INVALID-ARGUMENT"),
            ("GET TRACKING", "OFF"),
            ("GET TRACKING x", "ERR FEATURE-NOT-CONFIGURED"),
        ]);
    }

    #[test]
    fn stale_data_after_maxage() {
        let mut rig = Rig::new();
        rig.server.upses[0].last_heard = 89; // 16 s before `run`'s clock
        rig.talk(&[
            ("GET VAR ups ups.status", "ERR DATA-STALE"),
            ("GET UPSDESC ups", "UPSDESC ups \"Rack \\\"A\\\"\""),
        ]);
        rig.server.upses[0].last_heard = 90; // exactly MAXAGE: still fresh
        rig.talk(&[("GET NUMLOGINS ups", "NUMLOGINS ups 0")]);
    }
}
