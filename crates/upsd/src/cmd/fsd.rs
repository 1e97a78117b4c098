//! FSD (stock) and CLEARFSD (nut-rs): the forced-shutdown latch, and its withdrawal by the
//! connection that set it while no other host can have acted on it
//! ([`Fsd`](crate::state::Fsd) keeps the latch and the rule; docs/upsmon.md, "Withdrawing
//! FSD").

use nut_proto::{ErrCode, Get, List, OkReply, Reply, Request};

use super::{Ctx, Session};
use crate::state::{Secs, Server};

/// Stock's checks of FSD, in its order: the UPS, then the FSD right.
fn check(ctx: &Ctx<'_, '_>, name: &str) -> Result<(), ErrCode> {
    if ctx.server.ups(name).is_none() {
        return Err(ErrCode::UnknownUps);
    }
    if !ctx.check_action("FSD") {
        return Err(ErrCode::AccessDenied);
    }
    Ok(())
}

pub(super) fn fsd<'a>(ctx: Ctx<'a, '_>, name: &str) -> Reply<'a> {
    if let Err(e) = check(&ctx, name) {
        return e.into();
    }
    if let Some(ups) = ctx.server.ups_mut(name) {
        ups.fsd.setter.get_or_insert(ctx.session.id);
        ups.publish_status();
        tracing::warn!(
            "Client {}@{} set FSD on UPS [{}]",
            ctx.session.username.as_deref().unwrap_or(""),
            ctx.session.addr,
            ups.name
        );
    }
    OkReply::FsdSet.into()
}

pub(super) fn clear_fsd<'a>(ctx: Ctx<'a, '_>, name: &str) -> Reply<'a> {
    if let Err(e) = check(&ctx, name) {
        return e.into();
    }
    let user = ctx.session.username.as_deref().unwrap_or("");
    let Some(ups) = ctx.server.ups_mut(name) else {
        return ErrCode::UnknownUps.into();
    };
    match ups.fsd.setter {
        None => return ErrCode::FsdNotSet.into(),
        Some(setter) if setter != ctx.session.id => return ErrCode::AccessDenied.into(),
        Some(_) => {}
    }
    if let Some(witness) = &ups.fsd.witness {
        tracing::warn!(
            "Client {user}@{} may not withdraw FSD on UPS [{}]: {witness}",
            ctx.session.addr,
            ups.name
        );
        return ErrCode::FsdSeen.into();
    }
    ups.fsd.setter = None;
    ups.publish_status();
    tracing::warn!(
        "Client {user}@{} withdrew FSD on UPS [{}]",
        ctx.session.addr,
        ups.name
    );
    OkReply::FsdCleared.into()
}

/// Before `request` is answered: a status with FSD sent to another client that identified
/// itself makes the latch final.
pub(super) fn note_read(server: &mut Server, session: &Session, request: &Request, now: Secs) {
    let ups = match request {
        Request::Get(Get::Var { ups, var }) if var.eq_ignore_ascii_case("ups.status") => ups,
        Request::List(List::Var { ups }) => ups,
        _ => return,
    };
    if session.username.is_none() && session.login_ups.is_none() {
        return;
    }
    let maxage = server.maxage;
    let Some(u) = server.ups_mut(ups) else {
        return;
    };
    if u.fsd.setter.is_none_or(|s| s == session.id) || u.available(now, maxage).is_err() {
        return;
    }
    let who = match &session.username {
        Some(user) => format!("{user}@{}", session.addr),
        None => session.addr.to_string(),
    };
    u.fsd.witnessed(|| format!("{who} read the FSD status"));
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    /// A second connection, logged in to `ups` as a secondary.
    fn logged_in_secondary(rig: &mut Rig) -> crate::cmd::Session {
        let mut sec = rig.client();
        rig.run_as(
            &mut sec,
            &["USERNAME secondary", "PASSWORD pw", "LOGIN ups"],
        );
        sec
    }

    const PRIMARY: [(&str, &str); 3] = [
        ("USERNAME primary", "OK"),
        ("PASSWORD pw", "OK"),
        ("LOGIN ups", "OK"),
    ];

    #[test]
    fn fsd_latch_shows_in_get_and_list_var_only() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("USERNAME primary", "OK"),
            ("PASSWORD pw", "OK"),
            ("FSD nope", "ERR UNKNOWN-UPS"),
            ("FSD Ups", "OK FSD-SET"),
            ("GET VAR ups ups.status", "VAR ups ups.status \"FSD OL\""),
        ]);
        let mut d = rig.client();
        rig.talk_as(
            &mut d,
            &[
                ("USERNAME secondary", "OK"),
                ("PASSWORD pw", "OK"),
                ("FSD ups", "ERR ACCESS-DENIED"),
                ("CLEARFSD ups", "ERR ACCESS-DENIED"),
            ],
        );
    }

    #[test]
    fn the_setter_withdraws_an_fsd_nobody_else_saw() {
        let mut rig = Rig::new();
        rig.talk(&PRIMARY);
        rig.status("OB LB");
        // a secondary logged in, but it has not polled since
        let mut sec = rig.client();
        rig.talk_as(
            &mut sec,
            &[
                ("USERNAME secondary", "OK"),
                ("PASSWORD pw", "OK"),
                ("LOGIN ups", "OK"),
            ],
        );
        rig.talk(&[
            ("CLEARFSD ups", "ERR FSD-NOT-SET"),
            ("FSD ups", "OK FSD-SET"),
            ("GET VAR ups ups.status", "VAR ups ups.status \"FSD OB LB\""),
        ]);
        // anonymous readers (upsc, exporters, dashboards) shut nothing down
        let mut upsc = rig.client();
        rig.talk_as(
            &mut upsc,
            &[("GET VAR ups ups.status", "VAR ups ups.status \"FSD OB LB\"")],
        );
        rig.status("OL CHRG");
        rig.talk(&[
            ("CLEARFSD ups", "OK FSD-CLEARED"),
            ("GET VAR ups ups.status", "VAR ups ups.status \"OL CHRG\""),
            ("CLEARFSD ups", "ERR FSD-NOT-SET"),
        ]);
        rig.talk_as(
            &mut sec,
            &[("GET VAR ups ups.status", "VAR ups ups.status \"OL CHRG\"")],
        );
    }

    #[test]
    fn an_fsd_another_host_read_stays() {
        for read in ["GET VAR ups UPS.STATUS", "LIST VAR ups"] {
            let mut rig = Rig::new();
            rig.talk(&PRIMARY);
            rig.status("OB LB");
            rig.talk(&[("FSD ups", "OK FSD-SET")]);
            let mut sec = rig.client();
            rig.run_as(&mut sec, &["USERNAME secondary", "PASSWORD pw", read]);
            rig.status("OL");
            rig.talk(&[
                ("CLEARFSD ups", "ERR FSD-SEEN"),
                ("GET VAR ups ups.status", "VAR ups ups.status \"FSD OL\""),
            ]);
        }
    }

    #[test]
    fn a_host_that_left_during_the_outage_keeps_the_fsd() {
        // before FSD (a secondary on its own timer) and after it
        for leave_before_fsd in [true, false] {
            let mut rig = Rig::new();
            rig.talk(&PRIMARY);
            let sec = logged_in_secondary(&mut rig);
            rig.status("OB DISCHRG");
            if leave_before_fsd {
                rig.server.remove_client(sec.id);
            }
            rig.talk(&[("FSD ups", "OK FSD-SET")]);
            if !leave_before_fsd {
                rig.server.remove_client(sec.id);
            }
            rig.status("OL");
            rig.talk(&[("CLEARFSD ups", "ERR FSD-SEEN")]);
        }
    }

    #[test]
    fn a_clean_return_to_mains_forgets_earlier_departures() {
        let mut rig = Rig::new();
        rig.talk(&PRIMARY);
        let sec = logged_in_secondary(&mut rig);
        rig.status("OB DISCHRG");
        rig.server.remove_client(sec.id);
        rig.status("OL");
        // a new outage
        rig.status("OB DISCHRG");
        rig.talk(&[("FSD ups", "OK FSD-SET")]);
        rig.status("OL");
        rig.talk(&[("CLEARFSD ups", "OK FSD-CLEARED")]);
    }

    #[test]
    fn clearfsd_needs_the_fsd_right_and_a_known_ups() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("CLEARFSD ups", "ERR USERNAME-REQUIRED"),
            ("USERNAME secondary", "OK"),
            ("CLEARFSD ups", "ERR PASSWORD-REQUIRED"),
            ("PASSWORD pw", "OK"),
            ("CLEARFSD", "ERR INVALID-ARGUMENT"),
            ("CLEARFSD nope", "ERR UNKNOWN-UPS"),
            ("CLEARFSD ups", "ERR ACCESS-DENIED"),
        ]);
    }
}
