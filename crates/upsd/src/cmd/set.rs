//! SET VAR and SET TRACKING (`server/netset.c` check order).

use nut_proto::{ErrCode, OkReply, Reply};
use nut_state::{atoi, UpsdMsg};

use super::{reply, Ctx};
use crate::state::DriverLink;

pub(super) fn set_tracking<'a>(ctx: Ctx<'a, '_>, on: bool) -> Reply<'a> {
    if on {
        ctx.server.tracking.enabled = true;
    }
    // Like 2.8.0, the store itself stays on once any client enabled it.
    ctx.session.tracking = on;
    OkReply::Plain.into()
}

pub(super) fn set_var<'a>(mut ctx: Ctx<'a, '_>, name: &str, var: &str, value: &str) -> Reply<'a> {
    reply(checked_set(&mut ctx, name, var, value))
}

fn checked_set<'a>(
    ctx: &mut Ctx<'_, '_>,
    name: &str,
    var: &str,
    value: &str,
) -> Result<Reply<'a>, ErrCode> {
    let ups = ctx.server.available_ups(name, ctx.now)?;
    if !ctx.check_action("SET") {
        return Err(ErrCode::AccessDenied);
    }
    let v = ups.var(var)?;
    if !v.flags.rw {
        return Err(ErrCode::Readonly);
    }
    if v.flags.string {
        if v.aux < 1 {
            tracing::warn!("UPS [{}]: auxdata for {var} is invalid", ups.name);
            return Err(ErrCode::SetFailed);
        }
        if v.aux < value.len() as i64 {
            return Err(ErrCode::TooLong);
        }
    }
    // Enum entries are stored escaped and compared exactly, as stock does.
    if !v.enums().is_empty() && !v.enums().iter().any(|e| e == value) {
        return Err(ErrCode::InvalidValue);
    }
    if !v.ranges().is_empty() {
        let n = atoi(value);
        if !v.ranges().iter().any(|&(min, max)| n >= min && n <= max) {
            return Err(ErrCode::InvalidValue);
        }
    }
    let link = ups.link.clone().ok_or(ErrCode::SetFailed)?;
    let ups_name = ups.name.clone();
    forward(
        ctx,
        &ups_name,
        &link,
        ErrCode::SetFailed,
        |ctx, tracking| {
            tracing::info!(
                "Set variable: {}@{} set {var} on {ups_name} to {value} (tracking ID: {})",
                ctx.session.username.as_deref().unwrap_or(""),
                ctx.session.addr,
                tracking.unwrap_or("disabled")
            );
            UpsdMsg::Set {
                var: var.to_string(),
                value: value.to_string(),
                tracking: tracking.map(str::to_string),
            }
        },
    )
}

/// Send a SET or INSTCMD to the driver, with a tracking id when the session asked for
/// them. `OK` (or `OK TRACKING <id>`) only means "handed to the driver", as in stock; a
/// driver that does not take it (its link's queue is full) gets `send_failed`, as stock's
/// failed write does.
pub(super) fn forward<'a>(
    ctx: &mut Ctx<'_, '_>,
    ups: &str,
    link: &DriverLink,
    send_failed: ErrCode,
    make: impl FnOnce(&Ctx<'_, '_>, Option<&str>) -> UpsdMsg,
) -> Result<Reply<'a>, ErrCode> {
    let tracking = ctx.session.tracking.then(new_tracking_id);
    if let Some(id) = &tracking {
        ctx.server.tracking.add(id, ctx.now);
    }
    let msg = make(ctx, tracking.as_deref());
    if !link.offer(ups, &msg) {
        return Err(send_failed);
    }
    Ok(match tracking {
        Some(id) => OkReply::Tracking(id),
        None => OkReply::Plain,
    }
    .into())
}

/// A random UUIDv4 in upper-case hex, the shape stock clients check (36 characters).
fn new_tracking_id() -> String {
    uuid::Uuid::new_v4()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;
    use nut_state::UpsdMsg;

    #[test]
    fn set_var_checks_in_stock_order_and_forwards() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("SET VAR ups ups.id", "ERR USERNAME-REQUIRED"),
            ("SET VAR nope x 1", "ERR USERNAME-REQUIRED"),
            ("SET VAR other x 1", "ERR USERNAME-REQUIRED"),
            ("USERNAME secondary", "OK"),
            ("PASSWORD pw", "OK"),
            ("SET VAR ups nope 1", "ERR ACCESS-DENIED"),
        ]);
        let mut a = rig.client();
        rig.talk_as(
            &mut a,
            &[
                ("USERNAME admin", "OK"),
                ("PASSWORD pw", "OK"),
                ("SET VAR", "ERR INVALID-ARGUMENT"),
                ("SET VAR ups ups.id", "ERR INVALID-ARGUMENT"),
                ("SET VAR nope x 1", "ERR UNKNOWN-UPS"),
                ("SET VAR other x 1", "ERR DRIVER-NOT-CONNECTED"),
                ("SET VAR ups nope 1", "ERR VAR-NOT-SUPPORTED"),
                ("SET VAR ups battery.charge 1", "ERR READONLY"),
                ("SET VAR ups ups.id 123456789", "ERR TOO-LONG"),
                ("SET VAR ups input.sensitivity LOW", "ERR INVALID-VALUE"),
                ("SET VAR ups ups.delay.shutdown 601", "ERR INVALID-VALUE"),
                ("SET VAR ups ups.delay.shutdown 60abc extra", "OK"),
                ("SET VAR ups ups.id \"a \\\"b\"", "OK"),
                ("SET TRACKING maybe", "ERR INVALID-ARGUMENT"),
                ("SET FOO bar", "ERR INVALID-ARGUMENT"),
            ],
        );
        let sent = rig.sent();
        assert_eq!(
            sent.first().map(|m| m.to_line()).as_deref(),
            Some("SET ups.delay.shutdown \"60abc\"")
        );
        assert_eq!(
            sent[1..],
            [UpsdMsg::Set {
                var: "ups.id".into(),
                value: "a \"b".into(),
                tracking: None
            }]
        );
    }

    #[test]
    fn tracking_ids_reach_the_driver_and_the_store() {
        let mut rig = Rig::new();
        let out = rig.run(&[
            "USERNAME admin",
            "PASSWORD pw",
            "SET TRACKING on",
            "GET TRACKING",
            "SET VAR ups ups.delay.shutdown 30",
        ]);
        let id = out
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("OK TRACKING "))
            .map(str::to_string);
        let id = id.unwrap_or_default();
        assert_eq!(id.len(), 36);
        assert_eq!(id, id.to_ascii_uppercase());
        assert_eq!(
            rig.sent(),
            [UpsdMsg::Set {
                var: "ups.delay.shutdown".into(),
                value: "30".into(),
                tracking: Some(id.clone())
            }]
        );
        rig.talk(&[(&format!("GET TRACKING {}", id.to_lowercase()), "PENDING")]);
        rig.server.tracking.set(&id, 0);
        rig.talk(&[(&format!("GET TRACKING {id}"), "SUCCESS")]);
    }

    #[tokio::test]
    async fn a_driver_that_does_not_read_gets_no_more_than_its_socket_and_queue_hold() {
        let mut rig = Rig::new();
        let link = rig.server.ups("ups").and_then(|u| u.link.clone()).unwrap();
        rig.run(&["USERNAME admin", "PASSWORD pw"]);
        let set = "SET VAR ups ups.delay.shutdown 30";
        let mut ok = 0;
        loop {
            match rig.run(&[set]).as_str() {
                "OK\n" => ok += 1,
                other => {
                    assert_eq!(other, "ERR SET-FAILED\n");
                    break;
                }
            }
            assert!(ok < 100_000, "the driver's socket took {ok} SETs");
        }
        assert!(ok > crate::link::LINK_QUEUE, "{ok}");
        rig.talk(&[("INSTCMD ups load.off", "ERR INSTCMD-FAILED")]);
        // The driver reads: the link's writer sends what waited, nothing lost, nothing more;
        // then SET and INSTCMD go through again.
        let writer = tokio::spawn(async move { link.drain().await });
        let mut sent = 0;
        for _ in 0..500 {
            sent += rig.sent().len();
            if sent >= ok {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(sent, ok);
        rig.talk(&[(set, "OK"), ("INSTCMD ups load.off", "OK")]);
        writer.abort();
    }
}
