//! WATCH (nut-rs): the connection is sent `STATUS <ups> "<status>"` whenever the UPS's
//! `ups.status` changes, so our upsmon polls at once instead of at its next POLLFREQ
//! (docs/upsmon.md, "Status push"). Anyone may watch, as anyone may `GET VAR` the status;
//! the connection itself pushes the lines ([`crate::client`]).

use nut_proto::{ErrCode, OkReply, Reply};

use super::{Ctx, Watching};

pub(super) fn watch<'a>(ctx: Ctx<'a, '_>, name: &str) -> Reply<'a> {
    let Some(ups) = ctx.server.ups(name) else {
        return ErrCode::UnknownUps.into();
    };
    // Subscribed under the server lock: every change after this reply is pushed.
    ctx.session.watch = Some(Watching {
        ups: ups.name.clone(),
        changes: ups.status_push.subscribe(),
    });
    OkReply::Watching.into()
}

/// The next line to push on a watching connection: waits for a status change and renders
/// it. A change to "no status" (driver gone) pushes nothing; a removed UPS ends the watch.
pub(crate) async fn next_push(watch: &mut Option<Watching>) -> Vec<u8> {
    loop {
        let Some(w) = watch.as_mut() else {
            return std::future::pending().await;
        };
        if w.changes.changed().await.is_err() {
            *watch = None;
            continue;
        }
        if let Some(status) = w.changes.borrow_and_update().as_deref() {
            let mut line = Vec::new();
            nut_proto::Pushed::status_line(&w.ups, status, &mut line);
            return line;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::next_push;
    use crate::cmd::testutil::Rig;

    /// The next pushed line, or "" when none comes within 50 ms.
    async fn pushed(rig: &mut Rig) -> String {
        let next =
            tokio::time::timeout(Duration::from_millis(50), next_push(&mut rig.session.watch));
        next.await
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn anyone_may_watch_a_known_ups() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("WATCH", "ERR INVALID-ARGUMENT"),
            ("WATCH nope", "ERR UNKNOWN-UPS"),
            ("watch Ups", "OK WATCHING"),
            // a UPS whose driver is not connected may be watched too
            ("WATCH other", "OK WATCHING"),
            ("GET VAR ups ups.status", "VAR ups ups.status \"OL\""),
        ]);
        assert_eq!(
            rig.session.watch.as_ref().map(|w| w.ups.as_str()),
            Some("other")
        );
    }

    #[tokio::test]
    async fn each_status_change_is_pushed_as_get_var_would_answer_it() {
        let mut rig = Rig::new();
        rig.talk(&[("WATCH ups", "OK WATCHING")]);
        assert_eq!(pushed(&mut rig).await, "", "nothing before a change");
        rig.status("OB DISCHRG");
        assert_eq!(pushed(&mut rig).await, "STATUS ups \"OB DISCHRG\"\n");
        rig.status("OB DISCHRG");
        assert_eq!(
            pushed(&mut rig).await,
            "",
            "the same status again is no change"
        );
        // changes not yet sent are replaced by the newest
        rig.status("OB LB");
        rig.status("OB DISCHRG LB");
        assert_eq!(pushed(&mut rig).await, "STATUS ups \"OB DISCHRG LB\"\n");
        assert_eq!(pushed(&mut rig).await, "");
        let mut primary = rig.client();
        rig.talk_as(
            &mut primary,
            &[
                ("USERNAME primary", "OK"),
                ("PASSWORD pw", "OK"),
                ("FSD ups", "OK FSD-SET"),
            ],
        );
        assert_eq!(pushed(&mut rig).await, "STATUS ups \"FSD OB DISCHRG LB\"\n");
        rig.status("OL \"x\"");
        assert_eq!(pushed(&mut rig).await, "STATUS ups \"FSD OL \\\"x\\\"\"\n");
        // the driver going away pushes nothing; its return (WAIT, then the dump) does
        rig.server.ups_mut("ups").unwrap().on_disconnect();
        assert_eq!(pushed(&mut rig).await, "");
        rig.talk(&[("GET VAR ups ups.status", "ERR DRIVER-NOT-CONNECTED")]);
        // a UPS removed by a reload ends the watch
        rig.server.upses.retain(|u| u.name != "ups");
        assert_eq!(pushed(&mut rig).await, "");
        assert!(rig.session.watch.is_none());
    }
}
