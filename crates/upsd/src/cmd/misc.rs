//! VER, NETVER/PROTVER, HELP and STARTTLS.

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
    if ctx.server.tls.is_none() {
        return ErrCode::FeatureNotConfigured.into();
    }
    OkReply::StartTls.into()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    #[test]
    fn version_lines() {
        let ver = format!(
            "Network UPS Tools upsd {} - http://www.networkupstools.org/",
            super::SERVER_VERSION
        );
        Rig::new().talk(&[
            ("NETVER", "1.3"),
            ("protver", "1.3"),
            (
                "HELP",
                "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS",
            ),
            ("VER", &ver),
        ]);
    }

    #[test]
    fn starttls_without_certificate() {
        let mut rig = Rig::new();
        rig.talk(&[("STARTTLS x y", "ERR FEATURE-NOT-CONFIGURED")]);
        // A loaded configuration (one without certificates will do for this check).
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(std::sync::Arc::new(
            rustls::server::ResolvesServerCertUsingSni::new(),
        ));
        rig.server.tls = Some(std::sync::Arc::new(config));
        rig.session.tls = true;
        rig.talk(&[("STARTTLS", "ERR ALREADY-SSL-MODE")]);
    }
}
