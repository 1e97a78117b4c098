//! USERNAME, PASSWORD, LOGIN, LOGOUT, PRIMARY and MASTER (`server/netuser.c`).
//! Credentials are only stored here; they are checked when a privileged command runs.

use nut_proto::{ErrCode, OkReply, Reply};

use super::Ctx;

pub(super) fn username<'a>(ctx: Ctx<'a, '_>, name: String) -> Reply<'a> {
    if ctx.session.username.is_some() {
        return ErrCode::AlreadySetUsername.into();
    }
    ctx.session.username = Some(name);
    OkReply::Plain.into()
}

pub(super) fn password<'a>(ctx: Ctx<'a, '_>, password: String) -> Reply<'a> {
    if ctx.session.password.is_some() {
        return ErrCode::AlreadySetPassword.into();
    }
    ctx.session.password = Some(password);
    OkReply::Plain.into()
}

pub(super) fn login<'a>(ctx: Ctx<'a, '_>, name: &str) -> Reply<'a> {
    if ctx.session.login_ups.is_some() {
        return ErrCode::AlreadyLoggedIn.into();
    }
    let Some(canonical) = ctx.server.ups(name).map(|u| u.name.clone()) else {
        return ErrCode::UnknownUps.into();
    };
    if !ctx.check_action("LOGIN") {
        return ErrCode::AccessDenied.into();
    }
    if let Some(ups) = ctx.server.ups_mut(&canonical) {
        ups.numlogins += 1;
    }
    if let Some(entry) = ctx.server.client_mut(ctx.session.id) {
        entry.login_ups = Some(canonical.clone());
    }
    tracing::info!(
        "User {}@{} logged into UPS [{}]{}",
        ctx.session.username.as_deref().unwrap_or(""),
        ctx.session.addr,
        canonical,
        if ctx.session.tls { " (SSL)" } else { "" }
    );
    ctx.session.login_ups = Some(canonical);
    OkReply::Plain.into()
}

pub(super) fn logout<'a>() -> Reply<'a> {
    OkReply::Goodbye.into()
}

/// PRIMARY and MASTER: a pure permission probe; either action PRIMARY or MASTER will do.
pub(super) fn primary<'a>(ctx: Ctx<'a, '_>, name: &str, granted: OkReply) -> Reply<'a> {
    if ctx.server.ups(name).is_none() {
        return ErrCode::UnknownUps.into();
    }
    if !ctx.check_action("PRIMARY") && !ctx.check_action("MASTER") {
        return ErrCode::AccessDenied.into();
    }
    granted.into()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;
    use crate::cmd::{dispatch, After};

    #[test]
    fn login_counts_and_refuses_twice() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("USERNAME primary", "OK"),
            ("USERNAME again", "ERR ALREADY-SET-USERNAME"),
            ("PASSWORD pw", "OK"),
            ("PASSWORD pw", "ERR ALREADY-SET-PASSWORD"),
            ("LOGIN", "ERR INVALID-ARGUMENT"),
            ("LOGIN nope", "ERR UNKNOWN-UPS"),
            ("LOGIN Ups", "OK"),
            ("LOGIN ups", "ERR ALREADY-LOGGED-IN"),
            ("GET NUMLOGINS ups", "NUMLOGINS ups 1"),
            ("PRIMARY ups", "OK PRIMARY-GRANTED"),
            ("MASTER ups", "OK MASTER-GRANTED"),
            ("PRIMARY ups x", "ERR INVALID-ARGUMENT"),
        ]);
        rig.server.remove_client(rig.session.id);
        assert_eq!(rig.server.upses[0].numlogins, 0);
    }

    #[test]
    fn wrong_password_or_role_is_access_denied() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("USERNAME secondary", "OK"),
            ("PASSWORD nope", "OK"),
            ("LOGIN ups", "ERR ACCESS-DENIED"),
        ]);
        let mut d = rig.client();
        rig.talk_as(
            &mut d,
            &[
                ("USERNAME secondary", "OK"),
                ("PASSWORD pw", "OK"),
                ("PRIMARY ups", "ERR ACCESS-DENIED"),
                ("LOGIN other", "OK"),
            ],
        );
    }

    #[test]
    fn logout_says_goodbye_and_closes() {
        let mut rig = Rig::new();
        let reply = dispatch(
            &mut rig.server,
            &mut rig.session,
            vec!["LOGOUT".to_string()],
            0,
        );
        assert_eq!(reply.to_bytes(), b"OK Goodbye\n");
        assert_eq!(After::of(&reply), After::Close);
        rig.talk(&[("LOGOUT now", "ERR INVALID-ARGUMENT")]);
    }
}
