//! VER, NETVER/PROTVER, HELP, STARTTLS and FSD.

use nut_proto::{ErrCode, PROTOCOL_VERSION};

use super::{After, Ctx, Outcome};
use crate::reply::Reply;

/// Our version as `server.version` and VER show it.
pub const SERVER_VERSION: &str = concat!("nut-rs ", env!("CARGO_PKG_VERSION"));
/// The address VER and `server.info` point to, as stock's do.
const URL: &str = "http://www.networkupstools.org/";

pub fn ver_text() -> String {
    format!("Network UPS Tools upsd {SERVER_VERSION} - {URL}")
}

pub fn ver(_: &mut Ctx<'_>, args: &[String]) -> Outcome {
    if !args.is_empty() {
        return ErrCode::InvalidArgument.into();
    }
    Reply::line(ver_text()).into()
}

pub fn netver(_: &mut Ctx<'_>, args: &[String]) -> Outcome {
    if !args.is_empty() {
        return ErrCode::InvalidArgument.into();
    }
    Reply::line(PROTOCOL_VERSION).into()
}

pub fn help(_: &mut Ctx<'_>, args: &[String]) -> Outcome {
    if !args.is_empty() {
        return ErrCode::InvalidArgument.into();
    }
    // 2.8.0's text: PROTVER, PRIMARY and FSD exist but are not listed.
    Reply::line("Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS")
        .into()
}

/// Arguments are ignored.
pub fn starttls(ctx: &mut Ctx<'_>, _: &[String]) -> Outcome {
    if ctx.session.tls {
        return ErrCode::AlreadySslMode.into();
    }
    if !ctx.server.tls_ready {
        return ErrCode::FeatureNotConfigured.into();
    }
    Outcome {
        reply: Reply::line("OK STARTTLS"),
        after: After::StartTls,
    }
}

pub fn fsd(ctx: &mut Ctx<'_>, args: &[String]) -> Outcome {
    let [name] = args else {
        return ErrCode::InvalidArgument.into();
    };
    if ctx.server.ups(name).is_none() {
        return ErrCode::UnknownUps.into();
    }
    if !ctx.check_action("FSD") {
        return ErrCode::AccessDenied.into();
    }
    if let Some(ups) = ctx.server.ups_mut(name) {
        ups.fsd = true;
        tracing::warn!(
            "Client {}@{} set FSD on UPS [{}]",
            ctx.session.username.as_deref().unwrap_or(""),
            ctx.session.addr,
            ups.name
        );
    }
    Reply::line("OK FSD-SET").into()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;

    #[test]
    fn version_lines() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        assert_eq!(run(&mut s, &mut c, &["NETVER", "protver", "HELP"]), "1.3\n1.3\nCommands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS\n");
        assert!(run(&mut s, &mut c, &["VER"]).starts_with("Network UPS Tools upsd nut-rs "));
    }

    #[test]
    fn starttls_without_certificate() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        assert_eq!(
            run(&mut s, &mut c, &["STARTTLS x y"]),
            "ERR FEATURE-NOT-CONFIGURED\n"
        );
        s.tls_ready = true;
        c.tls = true;
        assert_eq!(run(&mut s, &mut c, &["STARTTLS"]), "ERR ALREADY-SSL-MODE\n");
    }

    #[test]
    fn fsd_latch_shows_in_get_and_list_var_only() {
        let (mut s, _rx) = server();
        let mut c = session(&mut s);
        let out = run(
            &mut s,
            &mut c,
            &[
                "USERNAME primary",
                "PASSWORD pw",
                "FSD nope",
                "FSD Ups",
                "GET VAR ups ups.status",
            ],
        );
        assert_eq!(
            out,
            "OK\nOK\nERR UNKNOWN-UPS\nOK FSD-SET\nVAR ups ups.status \"FSD OL\"\n"
        );
        let mut d = session(&mut s);
        assert_eq!(
            run(
                &mut s,
                &mut d,
                &["USERNAME secondary", "PASSWORD pw", "FSD ups"]
            ),
            "OK\nOK\nERR ACCESS-DENIED\n"
        );
    }
}
