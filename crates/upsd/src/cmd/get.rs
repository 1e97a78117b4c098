//! GET: NUMLOGINS, UPSDESC, VAR, TYPE, DESC, CMDDESC and TRACKING (`server/netget.c` order).

use nut_proto::{escape_capped, ErrCode};

use super::misc::{ver_text, SERVER_VERSION};
use super::{Ctx, Outcome};
use crate::reply::Reply;

/// Descriptions are escaped into a 512-byte buffer.
const DESC_MAX: usize = 511;

pub fn get(ctx: &mut Ctx<'_>, args: &[String]) -> Outcome {
    let Some(sub) = args.first() else {
        return ErrCode::InvalidArgument.into();
    };
    if sub.eq_ignore_ascii_case("TRACKING") {
        return tracking(ctx, args.get(1));
    }
    let Some(name) = args.get(1) else {
        return ErrCode::InvalidArgument.into();
    };
    if sub.eq_ignore_ascii_case("NUMLOGINS") {
        return numlogins(ctx, name);
    }
    if sub.eq_ignore_ascii_case("UPSDESC") {
        return upsdesc(ctx, name);
    }
    let Some(var) = args.get(2) else {
        return ErrCode::InvalidArgument.into();
    };
    let result = match sub.to_ascii_uppercase().as_str() {
        "VAR" => var_value(ctx, name, var),
        "TYPE" => var_type(ctx, name, var),
        "DESC" => desc(ctx, name, var, "DESC"),
        "CMDDESC" => desc(ctx, name, var, "CMDDESC"),
        _ => Err(ErrCode::InvalidArgument),
    };
    match result {
        Ok(line) => Reply::line(line).into(),
        Err(code) => code.into(),
    }
}

fn tracking(ctx: &Ctx<'_>, id: Option<&String>) -> Outcome {
    match id {
        None => Reply::line(if ctx.session.tracking { "ON" } else { "OFF" }).into(),
        Some(_) if !ctx.session.tracking => ErrCode::FeatureNotConfigured.into(),
        Some(id) => Reply::line(ctx.server.tracking.get(id)).into(),
    }
}

fn numlogins(ctx: &Ctx<'_>, name: &str) -> Outcome {
    match ctx.available_ups(name) {
        Ok(ups) => Reply::line(format!("NUMLOGINS {name} {}", ups.numlogins)).into(),
        Err(code) => code.into(),
    }
}

fn upsdesc(ctx: &Ctx<'_>, name: &str) -> Outcome {
    let Some(ups) = ctx.server.ups(name) else {
        return ErrCode::UnknownUps.into();
    };
    let desc = match &ups.desc {
        Some(d) => escape_capped(d, DESC_MAX),
        None => "Unavailable".into(),
    };
    Reply::line(format!("UPSDESC {name} \"{desc}\"")).into()
}

fn var_value(ctx: &Ctx<'_>, name: &str, var: &str) -> Result<String, ErrCode> {
    // server.* is answered by upsd itself, whatever the UPS name.
    if var.len() >= 7 && var[..7].eq_ignore_ascii_case("server.") {
        return if var.eq_ignore_ascii_case("server.info") {
            Ok(format!("VAR {name} server.info \"{}\"", ver_text()))
        } else if var.eq_ignore_ascii_case("server.version") {
            Ok(format!("VAR {name} server.version \"{SERVER_VERSION}\""))
        } else {
            Err(ErrCode::VarNotSupported)
        };
    }
    let ups = ctx.available_ups(name)?;
    let v = ups.tree.get(var).ok_or(ErrCode::VarNotSupported)?;
    let fsd = if ups.fsd && var.eq_ignore_ascii_case("ups.status") {
        "FSD "
    } else {
        ""
    };
    Ok(format!("VAR {name} {var} \"{fsd}{}\"", v.escaped()))
}

fn var_type(ctx: &Ctx<'_>, name: &str, var: &str) -> Result<String, ErrCode> {
    let ups = ctx.available_ups(name)?;
    let v = ups.tree.get(var).ok_or(ErrCode::VarNotSupported)?;
    let mut line = format!("TYPE {name} {var}");
    if v.flags.rw {
        line.push_str(" RW");
    }
    if !v.enums().is_empty() {
        line.push_str(" ENUM");
    }
    if !v.ranges().is_empty() {
        line.push_str(" RANGE");
    }
    if v.flags.string {
        line.push_str(&format!(" STRING:{}", v.aux));
    } else {
        line.push_str(" NUMBER");
    }
    Ok(line)
}

/// The variable or command need not exist on the UPS; unknown names get a fixed text.
fn desc(ctx: &Ctx<'_>, name: &str, what: &str, kind: &str) -> Result<String, ErrCode> {
    ctx.available_ups(name)?;
    let d = &ctx.server.descriptions;
    let text = if kind == "DESC" {
        d.var(what)
    } else {
        d.cmd(what)
    };
    Ok(format!(
        "{kind} {name} {what} \"{}\"",
        text.unwrap_or("Description unavailable")
    ))
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;

    #[test]
    fn get_forms_and_errors_in_stock_order() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        let out = run(
            &mut s,
            &mut c,
            &[
                "GET",
                "GET VAR",
                "GET VAR ups",
                "GET NUMLOGINS UPS",
                "GET UPSDESC ups",
                "GET UPSDESC other",
                "GET VAR UPS Ups.Status",
                "GET VAR nope ups.status",
                "GET VAR nope server.version x",
                "GET VAR ups server.nope",
                "GET VAR ups nope",
                "GET VAR other ups.status",
                "GET TYPE ups ups.id",
                "GET TYPE ups input.sensitivity",
                "GET TYPE ups ups.delay.shutdown",
                "GET TYPE ups battery.charge",
                "GET VAR ups ups.id",
                "GET FOO ups x",
                "GET TRACKING",
                "GET TRACKING x",
            ],
        );
        let expected = format!(
            "ERR INVALID-ARGUMENT\nERR INVALID-ARGUMENT\nERR INVALID-ARGUMENT\n\
             NUMLOGINS UPS 0\nUPSDESC ups \"Rack \\\"A\\\"\"\nUPSDESC other \"Unavailable\"\n\
             VAR UPS Ups.Status \"OL\"\nERR UNKNOWN-UPS\nVAR nope server.version \"{}\"\n\
             ERR VAR-NOT-SUPPORTED\nERR VAR-NOT-SUPPORTED\nERR DRIVER-NOT-CONNECTED\n\
             TYPE ups ups.id RW STRING:8\nTYPE ups input.sensitivity RW ENUM NUMBER\n\
             TYPE ups ups.delay.shutdown RW RANGE NUMBER\nTYPE ups battery.charge NUMBER\n\
             VAR ups ups.id \"x\\#y\"\nERR INVALID-ARGUMENT\nOFF\nERR FEATURE-NOT-CONFIGURED\n",
            super::SERVER_VERSION
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn stale_data_after_maxage() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        s.upses[0].last_heard = 89; // 16 s before `run`'s clock
        assert_eq!(
            run(
                &mut s,
                &mut c,
                &["GET VAR ups ups.status", "GET UPSDESC ups"]
            ),
            "ERR DATA-STALE\nUPSDESC ups \"Rack \\\"A\\\"\"\n"
        );
        s.upses[0].last_heard = 90; // exactly MAXAGE: still fresh
        assert_eq!(
            run(&mut s, &mut c, &["GET NUMLOGINS ups"]),
            "NUMLOGINS ups 0\n"
        );
    }
}
