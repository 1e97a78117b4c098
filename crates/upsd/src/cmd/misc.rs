//! VER, NETVER/PROTVER, HELP, STARTTLS and FSD.

use std::borrow::Cow;

use nut_proto::{ErrCode, OkReply, Reply, HELP_TEXT, PROTOCOL_VERSION};

use super::Ctx;

/// Our version as `server.version` and VER show it.
pub(crate) const SERVER_VERSION: &str = concat!("nut-rs ", env!("CARGO_PKG_VERSION"));

/// VER's line and `server.info`, pointing where stock's do.
pub(super) const VER_TEXT: &str = concat!(
    "Network UPS Tools upsd nut-rs ",
    env!("CARGO_PKG_VERSION"),
    " - http://www.networkupstools.org/"
);

pub(super) fn ver<'a>() -> Reply<'a> {
    Reply::Text(Cow::Borrowed(VER_TEXT))
}

pub(super) fn netver<'a>() -> Reply<'a> {
    Reply::Text(Cow::Borrowed(PROTOCOL_VERSION))
}

pub(super) fn help<'a>() -> Reply<'a> {
    Reply::Text(Cow::Borrowed(HELP_TEXT))
}

pub(super) fn starttls<'a>(ctx: Ctx<'a, '_>) -> Reply<'a> {
    if ctx.session.tls {
        return ErrCode::AlreadySslMode.into();
    }
    if !ctx.server.tls_ready {
        return ErrCode::FeatureNotConfigured.into();
    }
    OkReply::StartTls.into()
}

pub(super) fn fsd<'a>(ctx: Ctx<'a, '_>, name: &str) -> Reply<'a> {
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
    OkReply::FsdSet.into()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    #[test]
    fn version_lines() {
        let mut rig = Rig::new();
        assert_eq!(rig.run(&["NETVER", "protver", "HELP"]), "1.3\n1.3\nCommands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS\n");
        assert_eq!(
            rig.run(&["VER"]),
            format!(
                "Network UPS Tools upsd {} - http://www.networkupstools.org/\n",
                super::SERVER_VERSION
            )
        );
    }

    #[test]
    fn starttls_without_certificate() {
        let mut rig = Rig::new();
        assert_eq!(rig.run(&["STARTTLS x y"]), "ERR FEATURE-NOT-CONFIGURED\n");
        rig.server.tls_ready = true;
        rig.session.tls = true;
        assert_eq!(rig.run(&["STARTTLS"]), "ERR ALREADY-SSL-MODE\n");
    }

    #[test]
    fn fsd_latch_shows_in_get_and_list_var_only() {
        let mut rig = Rig::new();
        let out = rig.run(&[
            "USERNAME primary",
            "PASSWORD pw",
            "FSD nope",
            "FSD Ups",
            "GET VAR ups ups.status",
        ]);
        assert_eq!(
            out,
            "OK\nOK\nERR UNKNOWN-UPS\nOK FSD-SET\nVAR ups ups.status \"FSD OL\"\n"
        );
        let mut d = rig.client();
        assert_eq!(
            rig.run_as(&mut d, &["USERNAME secondary", "PASSWORD pw", "FSD ups"]),
            "OK\nOK\nERR ACCESS-DENIED\n"
        );
    }
}
