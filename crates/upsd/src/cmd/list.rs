//! LIST: UPS, VAR, RW, CMD, CLIENT, ENUM and RANGE (`server/netlist.c` order). Errors come
//! instead of the BEGIN line; the envelope echoes the client's spelling of names.

use nut_proto::{escape_capped, ErrCode};

use super::{Ctx, Outcome};
use crate::reply::Reply;

const DESC_MAX: usize = 511;

pub fn list(ctx: &mut Ctx<'_>, args: &[String]) -> Outcome {
    let Some(sub) = args.first() else {
        return ErrCode::InvalidArgument.into();
    };
    let sub = sub.to_ascii_uppercase();
    if sub == "UPS" {
        return ups_list(ctx).into();
    }
    let Some(name) = args.get(1) else {
        return ErrCode::InvalidArgument.into();
    };
    let result = match sub.as_str() {
        "VAR" | "RW" => vars(ctx, name, sub == "RW"),
        "CMD" => cmds(ctx, name),
        "CLIENT" => clients(ctx, name),
        _ => match args.get(2) {
            None => Err(ErrCode::InvalidArgument),
            Some(var) if sub == "ENUM" => enums(ctx, name, var),
            Some(var) if sub == "RANGE" => ranges(ctx, name, var),
            Some(_) => Err(ErrCode::InvalidArgument),
        },
    };
    match result {
        Ok(reply) => reply.into(),
        Err(code) => code.into(),
    }
}

fn ups_list(ctx: &Ctx<'_>) -> Reply {
    let mut r = Reply::line("BEGIN LIST UPS");
    for ups in &ctx.server.upses {
        let desc = match &ups.desc {
            Some(d) => escape_capped(d, DESC_MAX),
            None => "Description unavailable".into(),
        };
        r.push(format!("UPS {} \"{desc}\"", ups.name));
    }
    r.push("END LIST UPS");
    r
}

fn vars(ctx: &Ctx<'_>, name: &str, rw_only: bool) -> Result<Reply, ErrCode> {
    let ups = ctx.available_ups(name)?;
    let kind = if rw_only { "RW" } else { "VAR" };
    let mut r = Reply::line(format!("BEGIN LIST {kind} {name}"));
    for v in ups.tree.vars() {
        if rw_only && !v.flags.rw {
            continue;
        }
        let fsd = if !rw_only && ups.fsd && v.name().eq_ignore_ascii_case("ups.status") {
            "FSD "
        } else {
            ""
        };
        r.push(format!(
            "{kind} {name} {} \"{fsd}{}\"",
            v.name(),
            v.escaped()
        ));
    }
    r.push(format!("END LIST {kind} {name}"));
    Ok(r)
}

fn cmds(ctx: &Ctx<'_>, name: &str) -> Result<Reply, ErrCode> {
    let ups = ctx.available_ups(name)?;
    let mut r = Reply::line(format!("BEGIN LIST CMD {name}"));
    for c in ups.tree.cmds() {
        r.push(format!("CMD {name} {c}"));
    }
    r.push(format!("END LIST CMD {name}"));
    Ok(r)
}

/// No availability check and no login needed; item lines carry the canonical UPS name.
fn clients(ctx: &Ctx<'_>, name: &str) -> Result<Reply, ErrCode> {
    let ups = ctx.server.ups(name).ok_or(ErrCode::UnknownUps)?;
    let mut r = Reply::line(format!("BEGIN LIST CLIENT {name}"));
    for c in &ctx.server.clients {
        if let Some(login) = &c.login_ups {
            if login.eq_ignore_ascii_case(&ups.name) {
                r.push(format!("CLIENT {login} {}", c.addr));
            }
        }
    }
    r.push(format!("END LIST CLIENT {name}"));
    Ok(r)
}

fn enums(ctx: &Ctx<'_>, name: &str, var: &str) -> Result<Reply, ErrCode> {
    let ups = ctx.available_ups(name)?;
    let v = ups.tree.get(var).ok_or(ErrCode::VarNotSupported)?;
    let mut r = Reply::line(format!("BEGIN LIST ENUM {name} {var}"));
    for e in v.enums() {
        r.push(format!("ENUM {name} {var} \"{e}\""));
    }
    r.push(format!("END LIST ENUM {name} {var}"));
    Ok(r)
}

fn ranges(ctx: &Ctx<'_>, name: &str, var: &str) -> Result<Reply, ErrCode> {
    let ups = ctx.available_ups(name)?;
    let v = ups.tree.get(var).ok_or(ErrCode::VarNotSupported)?;
    let mut r = Reply::line(format!("BEGIN LIST RANGE {name} {var}"));
    for (min, max) in v.ranges() {
        r.push(format!("RANGE {name} {var} \"{min}\" \"{max}\""));
    }
    r.push(format!("END LIST RANGE {name} {var}"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;

    #[test]
    fn lists_echo_the_client_spelling() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        assert_eq!(
            run(&mut s, &mut c, &["list ups"]),
            "BEGIN LIST UPS\nUPS ups \"Rack \\\"A\\\"\"\nUPS other \"Description unavailable\"\nEND LIST UPS\n"
        );
        assert_eq!(
            run(&mut s, &mut c, &["LIST RW UPS"]),
            "BEGIN LIST RW UPS\nRW UPS input.sensitivity \"low\"\nRW UPS ups.delay.shutdown \"20\"\nRW UPS ups.id \"x\\#y\"\nEND LIST RW UPS\n"
        );
        assert_eq!(
            run(&mut s, &mut c, &["LIST CMD ups"]),
            "BEGIN LIST CMD ups\nCMD ups beeper.disable\nCMD ups load.off\nEND LIST CMD ups\n"
        );
        assert_eq!(
            run(&mut s, &mut c, &["LIST ENUM ups input.sensitivity", "LIST RANGE ups ups.delay.shutdown", "LIST ENUM ups battery.charge"]),
            "BEGIN LIST ENUM ups input.sensitivity\nENUM ups input.sensitivity \"low\"\nENUM ups input.sensitivity \"high\"\nEND LIST ENUM ups input.sensitivity\n\
             BEGIN LIST RANGE ups ups.delay.shutdown\nRANGE ups ups.delay.shutdown \"0\" \"600\"\nEND LIST RANGE ups ups.delay.shutdown\n\
             BEGIN LIST ENUM ups battery.charge\nEND LIST ENUM ups battery.charge\n"
        );
        assert_eq!(
            run(&mut s, &mut c, &["LIST", "LIST VAR", "LIST ENUM ups", "LIST FOO ups x", "LIST VAR other", "LIST CLIENT nope", "LIST ENUM ups nope"]),
            "ERR INVALID-ARGUMENT\nERR INVALID-ARGUMENT\nERR INVALID-ARGUMENT\nERR INVALID-ARGUMENT\nERR DRIVER-NOT-CONNECTED\nERR UNKNOWN-UPS\nERR VAR-NOT-SUPPORTED\n"
        );
    }

    #[test]
    fn list_var_is_sorted_and_clients_show_logins() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        let out = run(&mut s, &mut c, &["LIST VAR ups"]);
        assert_eq!(
            out,
            "BEGIN LIST VAR ups\nVAR ups battery.charge \"100\"\nVAR ups input.sensitivity \"low\"\nVAR ups ups.delay.shutdown \"20\"\nVAR ups ups.id \"x\\#y\"\nVAR ups ups.status \"OL\"\nEND LIST VAR ups\n"
        );
        run(
            &mut s,
            &mut c,
            &["USERNAME secondary", "PASSWORD pw", "LOGIN UPS"],
        );
        let mut d = session(&mut s);
        assert_eq!(
            run(&mut s, &mut d, &["LIST CLIENT Ups"]),
            "BEGIN LIST CLIENT Ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT Ups\n"
        );
    }
}
